//! Pinot's controller API over a real socket: a table made, filled, evolved and dropped
//! over HTTP, surviving a restart of the broker on the same data directory.

mod common;

use common::{multipart_file, request, request_raw};
use cuvee::Process as Broker;
use cuvee_broker::QueryLimits;
use serde_json::{json, Value as Json};
use std::sync::Arc;

async fn start(dir: &std::path::Path) -> std::net::SocketAddr {
    let (broker, warnings) = Broker::open(dir, QueryLimits::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(cuvee::serve(listener, Arc::new(broker)));
    addr
}

async fn sql(addr: std::net::SocketAddr, query: &str) -> Json {
    let (_, _, body) = request(addr, "POST", "/query/sql", &json!({ "sql": query }).to_string(), "").await;
    assert_eq!(body["exceptions"], json!([]), "{query}: {body}");
    body["resultTable"]["rows"].clone()
}

fn schema(extra_column: bool) -> String {
    let extra = if extra_column { r#",{"name":"device","dataType":"STRING"}"# } else { "" };
    format!(
        r#"{{"schemaName":"events","dimensionFieldSpecs":[{{"name":"id","dataType":"INT"}},{{"name":"country","dataType":"STRING"}}{extra}],
            "metricFieldSpecs":[{{"name":"amount","dataType":"DOUBLE"}}]}}"#
    )
}

const TABLE: &str = r#"{"tableName":"events","tableType":"OFFLINE","segmentsConfig":{"schemaName":"events","replication":"1"},
    "tableIndexConfig":{"invertedIndexColumns":["country"],"loadMode":"MMAP"},"metadata":{},"tenants":{}}"#;

async fn upload(addr: std::net::SocketAddr, name: &str, csv: &str) -> (u16, Json) {
    let (content_type, body) = multipart_file(name, csv.as_bytes());
    let path = "/ingestFromFile?tableNameWithType=events_OFFLINE&batchConfigMapStr=%7B%22inputFormat%22%3A%22csv%22%7D";
    request_raw(addr, "POST", path, &content_type, &body).await
}

#[tokio::test]
async fn a_table_is_created_filled_evolved_and_dropped_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(dir.path()).await;

    // A table needs its schema first.
    let (status, _, body) = request(addr, "POST", "/tables", TABLE, "").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("schema events does not exist"), "{body}");
    let (status, _, body) = request(addr, "POST", "/schemas", &schema(false), "").await;
    assert_eq!((status, body["status"].clone()), (200, json!("events successfully added")), "{body}");
    let (status, _, body) = request(addr, "POST", "/tables", TABLE, "").await;
    assert_eq!((status, body["status"].clone()), (200, json!("Table events_OFFLINE successfully added")), "{body}");
    assert_eq!(body["unrecognizedProperties"], json!({}));
    let (status, _, _) = request(addr, "POST", "/tables", TABLE, "").await;
    assert_eq!(status, 409, "a second create of the same table conflicts");

    // Upload two files; one has a bad row, counted and skipped.
    let (status, body) = upload(addr, "a.csv", "id,country,amount\n1,FR,10.5\n2,DE,3\n3,FR,1.5\n").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rowsImported"], json!(3));
    let (status, body) = upload(addr, "b.csv", "id,country,amount\n4,US,7\nfive,US,1\n").await;
    assert_eq!((status, body["rowsImported"].clone(), body["badRows"].clone()), (200, json!(1), json!(1)), "{body}");
    assert_eq!(
        sql(addr, "SELECT country, COUNT(*), SUM(amount) FROM events GROUP BY country ORDER BY country").await,
        json!([["DE", 1, 3.0], ["FR", 2, 12.0], ["US", 1, 7.0]])
    );

    // Adding a column is compatible; old segments read it as its default ("null").
    let (status, _, body) = request(addr, "PUT", "/schemas/events", &schema(true), "").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = upload(addr, "c.csv", "id,country,amount,device\n5,FR,2,phone\n").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        sql(addr, "SELECT device, COUNT(*) FROM events GROUP BY device ORDER BY device").await,
        json!([["null", 4], ["phone", 1]])
    );
    assert_eq!(sql(addr, "SELECT COUNT(*) FROM events WHERE device = 'null'").await, json!([[4]]));
    assert_eq!(sql(addr, "SELECT id FROM events WHERE device = 'phone'").await, json!([[5]]));
    let (_, _, body) = request(
        addr,
        "POST",
        "/query/sql",
        &json!({ "sql": "SET enableNullHandling=true; SELECT COUNT(*) FROM events WHERE device IS NULL" }).to_string(),
        "",
    )
    .await;
    assert_eq!(body["resultTable"]["rows"], json!([[4]]), "{body}");
    // Retyping or removing a column is not, and says why.
    let retyped = schema(true).replace(r#""name":"id","dataType":"INT""#, r#""name":"id","dataType":"LONG""#);
    let (status, _, body) = request(addr, "PUT", "/schemas/events", &retyped, "").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("dataType changes from INT to LONG"), "{body}");
    let (status, _, body) = request(addr, "DELETE", "/schemas/events", "", "").await;
    assert_eq!(status, 409, "a schema in use is not deleted: {body}");

    // Segments, sizes, brokers.
    let (_, _, segments) = request(addr, "GET", "/segments/events", "", "").await;
    let names: Vec<String> = serde_json::from_value(segments[0]["OFFLINE"].clone()).unwrap();
    assert_eq!(names.len(), 3, "{segments}");
    let (_, _, size) = request(addr, "GET", "/tables/events/size", "", "").await;
    assert!(size["reportedSizeInBytes"].as_u64().unwrap() > 0, "{size}");
    assert_eq!(size["offlineSegments"]["segments"].as_object().unwrap().len(), 3);
    let (_, _, brokers) = request(addr, "GET", "/tables/livebrokers", "", "").await;
    assert_eq!(brokers["events_OFFLINE"][0]["port"], json!(addr.port()));
    let (status, _, _) = request(addr, "DELETE", &format!("/segments/events/{}", names[0]), "", "").await;
    assert_eq!(status, 200);
    assert_eq!(sql(addr, "SELECT COUNT(*) FROM events").await, json!([[2]]), "the first file's 3 rows are gone");

    // A restart on the same directory serves the same table.
    let again = start(dir.path()).await;
    assert_eq!(sql(again, "SELECT SUM(amount) FROM events").await, json!([[9.0]]));
    let (_, _, schemas) = request(again, "GET", "/schemas", "", "").await;
    assert_eq!(schemas, json!(["events"]));

    // Dropping the table, then its schema.
    let (status, _, body) = request(again, "DELETE", "/tables/events?type=offline", "", "").await;
    assert_eq!((status, body["status"].clone()), (200, json!("Tables: [events_OFFLINE] deleted")));
    let (status, _, _) = request(again, "DELETE", "/schemas/events", "", "").await;
    assert_eq!(status, 200);
    let (_, _, body) =
        request(again, "POST", "/query/sql", &json!({ "sql": "SELECT * FROM events" }).to_string(), "").await;
    assert_eq!(body["exceptions"][0]["errorCode"], json!(190));
}

#[tokio::test]
async fn broken_admin_requests_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(dir.path()).await;
    let (status, _, body) = request(addr, "POST", "/schemas", "{not json", "").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().starts_with("Invalid schema"), "{body}");
    let (status, _, body) = request(
        addr,
        "POST",
        "/schemas",
        r#"{"schemaName":"x","dimensionFieldSpecs":[{"name":"a","dataType":"NOPE"}]}"#,
        "",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("NOPE"), "{body}");
    let (status, _, _) = request(addr, "DELETE", "/tables/nope", "", "").await;
    assert_eq!(status, 404);
    let (status, body) = upload(addr, "a.csv", "id\n1\n").await;
    assert_eq!(status, 404, "{body}");
    let (status, _, body) =
        request(addr, "POST", "/ingestFromURI?tableNameWithType=events_OFFLINE&sourceURIStr=http://x/y.csv", "", "")
            .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn multi_value_columns_follow_pinot_semantics() {
    let dir = tempfile::tempdir().unwrap();
    let addr = start(dir.path()).await;
    let schema = r#"{"schemaName":"posts","dimensionFieldSpecs":[{"name":"id","dataType":"INT"},
        {"name":"tags","dataType":"STRING","singleValueField":false},{"name":"scores","dataType":"INT","singleValueField":false}]}"#;
    let table = r#"{"tableName":"posts","tableType":"OFFLINE","segmentsConfig":{},"tableIndexConfig":{"invertedIndexColumns":["tags"]},"metadata":{},"tenants":{}}"#;
    assert_eq!(request(addr, "POST", "/schemas", schema, "").await.0, 200);
    assert_eq!(request(addr, "POST", "/tables", table, "").await.0, 200);
    let (content_type, body) = multipart_file(
        "p.json",
        br#"{"id":1,"tags":["a","b"],"scores":[1,5]}
{"id":2,"tags":["b"],"scores":[7]}
{"id":3,"tags":["c","a","a"],"scores":[2,2,9]}
"#,
    );
    let (status, response) =
        request_raw(addr, "POST", "/ingestFromFile?tableNameWithType=posts_OFFLINE", &content_type, &body).await;
    assert_eq!(status, 200, "{response}");
    let ids = |rows: Json| rows.as_array().unwrap().iter().map(|r| r[0].as_i64().unwrap()).collect::<Vec<_>>();
    // Any value matches…
    assert_eq!(ids(sql(addr, "SELECT id FROM posts WHERE tags = 'a' ORDER BY id").await), vec![1, 3]);
    assert_eq!(ids(sql(addr, "SELECT id FROM posts WHERE scores > 6 ORDER BY id").await), vec![2, 3]);
    assert_eq!(ids(sql(addr, "SELECT id FROM posts WHERE scores BETWEEN 3 AND 6 ORDER BY id").await), vec![1]);
    assert_eq!(
        ids(sql(addr, "SELECT id FROM posts WHERE tags IN ('c', 'zz') OR id = 2 ORDER BY id").await),
        vec![2, 3]
    );
    // …no value matches.
    assert_eq!(ids(sql(addr, "SELECT id FROM posts WHERE tags <> 'a' ORDER BY id").await), vec![2]);
    assert_eq!(ids(sql(addr, "SELECT id FROM posts WHERE tags NOT IN ('b') ORDER BY id").await), vec![3]);
    // Aggregates over every value of every row.
    let body = sql(addr, "SELECT COUNTMV(tags), DISTINCTCOUNTMV(tags), SUMMV(scores), MINMV(scores), MAXMV(scores), AVGMV(scores), PERCENTILEMV(scores, 50) FROM posts").await;
    assert_eq!(body, json!([[6, 3, 26.0, 1.0, 9.0, 26.0 / 6.0, 5.0]]));
    assert_eq!(sql(addr, "SELECT id, ARRAYLENGTH(tags) FROM posts ORDER BY id").await, json!([[1, 2], [2, 1], [3, 3]]));
}
