//! Pinot's HTTP query API over a real socket on 127.0.0.1, with baseballStats loaded.

use cuvee::Process as Broker;
use cuvee_broker::QueryLimits;
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions};
use serde_json::{json, Value as Json};
use std::path::Path;
use std::sync::Arc;

mod common;
use common::request;

async fn start() -> (tempfile::TempDir, std::net::SocketAddr) {
    let (dir, addr, _) = start_with(QueryLimits::default()).await;
    (dir, addr)
}

async fn start_with(limits: QueryLimits) -> (tempfile::TempDir, std::net::SocketAddr, Arc<Broker>) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pinot-examples/baseballStats");
    let schema =
        Schema::from_json(&std::fs::read_to_string(examples.join("baseballStats_schema.json")).unwrap()).unwrap();
    let config = TableConfigJson::from_json(
        &std::fs::read_to_string(examples.join("baseballStats_offline_table_config.json")).unwrap(),
    )
    .unwrap();
    let table = Table::new(schema, config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let table_dir = dir.path().join("tables").join("baseballStats");
    import(
        &table,
        &[examples.join("rawdata/baseballStats.zstd.parquet")],
        &table_dir,
        &ImportOptions { progress: false, ..Default::default() },
    )
    .unwrap();
    let (broker, warnings) = Broker::open(dir.path(), limits).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let broker = Arc::new(broker);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(cuvee::serve(listener, Arc::clone(&broker)));
    (dir, addr, broker)
}

async fn sql(addr: std::net::SocketAddr, query: &str) -> Json {
    let (status, _, body) = request(addr, "POST", "/query/sql", &json!({ "sql": query }).to_string(), "").await;
    assert_eq!(status, 200);
    body
}

#[tokio::test]
async fn answers_in_pinots_response_format() {
    let (_dir, addr) = start().await;
    let body = sql(addr, "SELECT teamID, COUNT(*) AS n FROM baseballStats WHERE teamID IN ('SFN', 'NYA') GROUP BY teamID ORDER BY teamID").await;
    assert_eq!(body["exceptions"], json!([]));
    assert_eq!(body["resultTable"]["dataSchema"]["columnNames"], json!(["teamID", "n"]));
    assert_eq!(body["resultTable"]["dataSchema"]["columnDataTypes"], json!(["STRING", "LONG"]));
    assert_eq!(body["resultTable"]["rows"], json!([["NYA", 4069], ["SFN", 2206]]));
    assert_eq!(body["numDocsScanned"], json!(4069 + 2206));
    assert_eq!(body["totalDocs"], json!(97_889));
    assert_eq!((body["numSegmentsQueried"].clone(), body["numSegmentsMatched"].clone()), (json!(1), json!(1)));
    assert_eq!(body["numEntriesScannedInFilter"], json!(0), "the inverted index answered, no entries scanned");
    assert_eq!(body["numRowsResultSet"], json!(2));
    assert_eq!(body["tablesQueried"], json!(["baseballStats"]));
    assert_eq!(body["numServersQueried"], body["numServersResponded"]);
    // Pinot's default LIMIT 10 for a selection without one.
    let body = sql(addr, "SELECT playerID FROM baseballStats").await;
    assert_eq!(body["resultTable"]["rows"].as_array().unwrap().len(), 10);
    // GET with the query in the URL, and queryOptions.
    let (status, _, body) =
        request(addr, "GET", "/query/sql?sql=SELECT%20COUNT(*)%20FROM%20baseballStats", "", "").await;
    assert_eq!((status, body["resultTable"]["rows"].clone()), (200, json!([[97_889]])));
    // Pinot's multi-stage endpoint takes the same body.
    let (_, _, body) = request(addr, "POST", "/query", &json!({ "sql": "SELECT COUNT(*) FROM baseballStats b JOIN (SELECT DISTINCT teamID FROM baseballStats WHERE teamID = 'SFN') t ON b.teamID = t.teamID" }).to_string(), "").await;
    assert_eq!(body["resultTable"]["rows"], json!([[2206]]), "{body}");
    let (_, _, health) = request(addr, "GET", "/health", "", "").await;
    assert_eq!(health, json!("OK"));
    // The controller API's read side, as pinotdb's SQLAlchemy dialect uses it.
    let (_, _, tables) = request(addr, "GET", "/tables", "", "").await;
    assert_eq!(tables, json!({ "tables": ["baseballStats"] }));
    let (_, _, schema) = request(addr, "GET", "/tables/baseballStats/schema", "", "").await;
    assert_eq!(schema["schemaName"], json!("baseballStats"));
    assert_eq!(schema["dimensionFieldSpecs"][0], json!({ "dataType": "STRING", "name": "playerID" }));
    let (_, _, config) = request(addr, "GET", "/tables/baseballStats_OFFLINE", "", "").await;
    assert_eq!(config["OFFLINE"]["tableIndexConfig"]["invertedIndexColumns"], json!(["playerID", "teamID"]));
    let (status, _, missing) = request(addr, "GET", "/schemas/nope", "", "").await;
    assert_eq!((status, missing["code"].clone()), (404, json!(404)));
}

#[tokio::test]
async fn null_handling_is_a_query_option() {
    let (_dir, addr) = start().await;
    let rows = |body: Json| body["resultTable"]["rows"].clone();
    // homeRuns is null in 6,413 rows. Pinot's default reads them as the metric default 0.
    let query = "SELECT COUNT(homeRuns), SUM(homeRuns), COUNT(*) FROM baseballStats";
    let default = sql(addr, query).await;
    // Pinot's result types and names: SUM is a DOUBLE named sum(homeRuns).
    assert_eq!(default["resultTable"]["dataSchema"]["columnDataTypes"], json!(["LONG", "DOUBLE", "LONG"]));
    assert_eq!(
        default["resultTable"]["dataSchema"]["columnNames"],
        json!(["count(homeRuns)", "sum(homeRuns)", "count(*)"])
    );
    assert_eq!(rows(default), json!([[97_889, 274_578.0, 97_889]]));
    let with_nulls = sql(addr, &format!("SET enableNullHandling = true; {query}")).await;
    assert_eq!(rows(with_nulls), json!([[91_476, 274_578.0, 97_889]]));
    let (_, _, body) = request(addr, "POST", "/query/sql", &json!({ "sql": "SELECT COUNT(*) FROM baseballStats WHERE homeRuns <> 0", "queryOptions": "enableNullHandling=true" }).to_string(), "").await;
    let without = sql(addr, "SELECT COUNT(*) FROM baseballStats WHERE homeRuns <> 0").await;
    // With null handling a null is neither 0 nor not 0; without it a null is 0.
    assert_eq!(rows(body), rows(without));
    let null_is_zero = sql(addr, "SELECT COUNT(*) FROM baseballStats WHERE homeRuns = 0").await;
    let null_is_null =
        sql(addr, "SET enableNullHandling = true; SELECT COUNT(*) FROM baseballStats WHERE homeRuns = 0").await;
    assert_eq!(rows(null_is_zero)[0][0].as_i64().unwrap() - rows(null_is_null)[0][0].as_i64().unwrap(), 6413);
}

#[tokio::test]
async fn bad_input_gets_pinot_error_codes_and_the_server_keeps_serving() {
    let (_dir, addr) = start().await;
    for (body, code, needle) in [
        ("{not json", 700, "not valid JSON"),
        ("{\"query\": \"SELECT 1\"}", 700, "missing the query string field 'sql'"),
        ("{\"sql\": \"SELEC * FROM baseballStats\"}", 150, "SQLParsingError"),
        ("{\"sql\": \"SELECT * FROM nope\"}", 190, "nope"),
        ("{\"sql\": \"SELECT nope FROM baseballStats\"}", 710, "nope"),
        ("{\"sql\": \"SELECT 1/0 FROM baseballStats\"}", 200, "Divide by zero"),
        ("{\"sql\": \"SELECT PERCENTILE(homeRuns, 101) FROM baseballStats\"}", 700, "not 101"),
    ] {
        let (status, head, response) = request(addr, "POST", "/query/sql", body, "").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(response["exceptions"][0]["errorCode"], json!(code), "{body}: {response}");
        assert!(response["exceptions"][0]["message"].as_str().unwrap().contains(needle), "{body}: {response}");
        assert!(head.contains(&format!("x-pinot-error-code: {code}")), "{body}: {head}");
    }
    let (status, _, _) = request(
        addr,
        "POST",
        "/query/sql",
        "{\"sql\": \"SELECT * FROM nope\"}",
        "Pinot-Use-Http-Status-For-Errors: true\r\n",
    )
    .await;
    assert_eq!(status, 404);
    // A query over its time limit ends with code 250.
    let slow = "SET timeoutMs = 1; SELECT COUNT(DISTINCT a.playerID) FROM baseballStats a JOIN baseballStats b ON a.yearID = b.yearID";
    let response = sql(addr, slow).await;
    assert_eq!(response["exceptions"][0]["errorCode"], json!(250), "{response}");
    // Still serving.
    assert_eq!(
        sql(addr, "SELECT COUNT(*) FROM baseballStats WHERE teamID = 'SFN'").await["resultTable"]["rows"],
        json!([[2206]])
    );
}

#[tokio::test]
async fn pinot_aggregate_functions_with_pinot_names_and_types() {
    let (_dir, addr) = start().await;
    let schema = |body: &Json| {
        (
            body["resultTable"]["dataSchema"]["columnNames"].clone(),
            body["resultTable"]["dataSchema"]["columnDataTypes"].clone(),
        )
    };
    // Reference numbers: DuckDB on the same Parquet file (homeRuns nulls read as 0).
    let body = sql(addr, "SELECT DISTINCTCOUNT(playerID), COUNT(DISTINCT teamID), DISTINCTCOUNTBITMAP(teamID), MINMAXRANGE(homeRuns) FROM baseballStats").await;
    assert_eq!(body["exceptions"], json!([]), "{body}");
    assert_eq!(
        schema(&body),
        (
            json!([
                "distinctcount(playerID)",
                "distinctcount(teamID)",
                "distinctcountbitmap(teamID)",
                "minmaxrange(homeRuns)"
            ]),
            json!(["INT", "INT", "INT", "DOUBLE"])
        )
    );
    assert_eq!(body["resultTable"]["rows"], json!([[18107, 149, 149, 73.0]]));
    // Exact percentiles by Pinot's rule: the sorted value at index floor(n * p / 100).
    let body = sql(addr, "SELECT PERCENTILE(homeRuns, 50), PERCENTILE(homeRuns, 90), PERCENTILE90(homeRuns), PERCENTILE(homeRuns, 99.9), PERCENTILE(homeRuns, 100) FROM baseballStats").await;
    assert_eq!(body["exceptions"], json!([]), "{body}");
    assert_eq!(body["resultTable"]["dataSchema"]["columnNames"][0], json!("percentile(homeRuns, 50.0)"));
    assert_eq!(body["resultTable"]["dataSchema"]["columnNames"][2], json!("percentile90(homeRuns)"));
    assert_eq!(body["resultTable"]["rows"], json!([[0.0, 9.0, 9.0, 46.0, 73.0]]));
    // Estimates are estimates: HyperLogLog within 2 %, t-digest near the exact value.
    // Grouped, the percentile runs one vector per group (a GroupsAccumulator): each group's
    // answer must equal the ungrouped answer over that group's rows, filtered or not.
    let grouped = sql(addr, "SELECT teamID, PERCENTILE(homeRuns, 90), PERCENTILE(homeRuns, 50) FILTER (WHERE yearID > 1990) FROM baseballStats GROUP BY teamID ORDER BY teamID LIMIT 40").await;
    assert_eq!(grouped["exceptions"], json!([]), "{grouped}");
    for row in grouped["resultTable"]["rows"].as_array().unwrap() {
        let team = row[0].as_str().unwrap();
        let alone =
            sql(addr, &format!("SELECT PERCENTILE(homeRuns, 90) FROM baseballStats WHERE teamID = '{team}'")).await;
        let recent = sql(
            addr,
            &format!("SELECT PERCENTILE(homeRuns, 50) FROM baseballStats WHERE teamID = '{team}' AND yearID > 1990"),
        )
        .await;
        assert_eq!(row[1], alone["resultTable"]["rows"][0][0], "{team}");
        assert_eq!(row[2], recent["resultTable"]["rows"][0][0], "{team}");
    }
    let body = sql(addr, "SELECT DISTINCTCOUNTHLL(playerID), PERCENTILEEST(homeRuns, 90), PERCENTILETDIGEST(homeRuns, 90) FROM baseballStats").await;
    assert_eq!(schema(&body).1, json!(["LONG", "LONG", "DOUBLE"]), "{body}");
    let row = &body["resultTable"]["rows"][0];
    assert!((row[0].as_f64().unwrap() - 18107.0).abs() < 18107.0 * 0.02, "{row}");
    assert!((row[2].as_f64().unwrap() - 9.0).abs() <= 1.0, "{row}");
    // In GROUP BY and ORDER BY, with an alias.
    let body = sql(addr, "SELECT teamID, DISTINCTCOUNT(playerID) AS players FROM baseballStats GROUP BY teamID ORDER BY DISTINCTCOUNT(playerID) DESC, teamID LIMIT 3").await;
    assert_eq!(body["exceptions"], json!([]), "{body}");
    assert_eq!(body["resultTable"]["dataSchema"]["columnNames"], json!(["teamID", "players"]));
    assert_eq!(body["resultTable"]["rows"], json!([["CHN", 1958], ["PHI", 1934], ["SLN", 1899]]));
}

#[tokio::test]
async fn pinot_scalar_functions_and_their_result_names() {
    let (_dir, addr) = start().await;
    let body = sql(
        addr,
        "SELECT toEpochDays(1389793530123), DATETRUNC('DAY', 1389793530123), JSON_EXTRACT_SCALAR('{\"a\":{\"b\":7}}', '$.a.b', 'LONG'), \
         DATETIMECONVERT(yearID, '1:DAYS:EPOCH', '1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd', '1:DAYS') AS d \
         FROM baseballStats WHERE playerID = 'aardsda01' ORDER BY yearID LIMIT 1",
    )
    .await;
    assert_eq!(body["exceptions"], json!([]), "{body}");
    assert_eq!(
        body["resultTable"]["dataSchema"]["columnNames"],
        json!([
            "toepochdays(1389793530123)",
            "datetrunc('DAY',1389793530123)",
            "json_extract_scalar('{\"a\":{\"b\":7}}','$.a.b','LONG')",
            "d"
        ])
    );
    assert_eq!(body["resultTable"]["dataSchema"]["columnDataTypes"], json!(["LONG", "LONG", "LONG", "STRING"]));
    // aardsda01 first played in 2004, read here as day 2004 after the epoch.
    assert_eq!(body["resultTable"]["rows"], json!([[16085, 1_389_744_000_000i64, 7, "1975-06-28"]]));
    // NOW() and AGO() are epoch milliseconds, as in Pinot.
    let body = sql(addr, "SELECT now() > 1700000000000, AGO('PT1H') < now(), now() - AGO('P1D') BETWEEN 86399000 AND 86401000 FROM baseballStats LIMIT 1").await;
    assert_eq!(body["resultTable"]["rows"], json!([[true, true, true]]), "{body}");
    assert_eq!(body["resultTable"]["dataSchema"]["columnNames"][0], json!("now() > 1700000000000"), "{body}");
    // A wrong argument is a query error that names the function, not a crash.
    let body = sql(addr, "SELECT DATETRUNC('fortnight', 0) FROM baseballStats LIMIT 1").await;
    assert_eq!(body["exceptions"][0]["errorCode"], json!(200), "{body}");
    assert!(body["exceptions"][0]["message"].as_str().unwrap().contains("datetrunc: unknown unit fortnight"), "{body}");
}

#[tokio::test]
async fn limits_hold_under_abuse() {
    let (_dir, addr, broker) =
        start_with(QueryLimits { memory_bytes: 256 << 10, max_result_rows: 50_000, ..QueryLimits::default() }).await;
    // A join whose hash table cannot fit the per-query memory: a clear error, no OOM.
    let body = sql(addr, "SELECT COUNT(*) FROM baseballStats a JOIN baseballStats b ON a.playerID = b.playerID").await;
    assert_eq!(body["exceptions"][0]["errorCode"], json!(200), "{body}");
    assert!(body["exceptions"][0]["message"].as_str().unwrap().contains("Resources exhausted"), "{body}");
    // A result past the broker's row limit fails and says how to narrow it.
    let body = sql(addr, "SELECT playerID FROM baseballStats LIMIT 60000").await;
    assert!(body["exceptions"][0]["message"].as_str().unwrap().contains("more than 50000 rows"), "{body}");
    // maxRowsInResult cuts the result and says so.
    let body = sql(addr, "SET maxRowsInResult = 3; SELECT playerID FROM baseballStats LIMIT 100").await;
    assert_eq!((body["numRowsResultSet"].clone(), body["partialResult"].clone()), (json!(3), json!(true)), "{body}");
    // A client that goes away cancels its query (billions of joined rows) long before its timeout.
    let slow = json!({ "sql": "SET timeoutMs = 60000; SELECT COUNT(DISTINCT a.yearID + b.yearID) FROM baseballStats a JOIN baseballStats b ON a.league = b.league" }).to_string();
    let (_dir2, addr2, broker2) = start_with(QueryLimits::default()).await;
    let mut stream = tokio::net::TcpStream::connect(addr2).await.unwrap();
    let request = format!(
        "POST /query/sql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{slow}",
        slow.len()
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    while broker2.service.running_queries() == 0 && started.elapsed() < std::time::Duration::from_secs(5) {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(broker2.service.running_queries(), 1, "the slow query started");
    drop(stream);
    let dropped = std::time::Instant::now();
    while broker2.service.running_queries() > 0 && dropped.elapsed() < std::time::Duration::from_secs(10) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(broker2.service.running_queries(), 0, "the query was cancelled when its client left");
    assert!(dropped.elapsed() < std::time::Duration::from_secs(5), "cancelled in {:?}", dropped.elapsed());
    assert_eq!(broker.service.running_queries(), 0);
}

#[tokio::test]
async fn explain_shows_which_index_answered() {
    let (_dir, addr) = start().await;
    let plan = |body: &Json| {
        body["resultTable"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[1].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let body = sql(addr, "EXPLAIN PLAN FOR SELECT COUNT(*) FROM baseballStats WHERE teamID = 'SFN'").await;
    assert_eq!(body["exceptions"], json!([]), "{body}");
    assert!(plan(&body).contains("SegmentScanExec: table=baseballStats"), "{}", plan(&body));
    let body =
        sql(addr, "EXPLAIN ANALYZE SELECT COUNT(*) FROM baseballStats WHERE teamID = 'SFN' AND yearID > 2000").await;
    let text = plan(&body);
    for needle in [
        "leaves_by_inverted_index=1",
        "leaves_by_id_scan=1",
        "docs_matched=574",
        "segments_scanned=1",
        "segments_pruned=0",
    ] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
}
