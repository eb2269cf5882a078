//! Kept plans (`cuvee_query::plan_cache`) answer exactly as plans made from the query's
//! text: the same statements, with many literals each, through a broker that keeps plans
//! and one that keeps none, over the same segments. Then what a kept plan must not hide:
//! rows that arrive after it was made, a table replaced under it, and who may read what.

mod common;
mod slt_support;

use cuvee::Process as Broker;
use cuvee_access::{Permission, Principal, TableScope};
use cuvee_broker::{QueryLimits, QueryService};
use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_query::{ScanOptions, SegmentTable, Tables};
use cuvee_segments::{FieldValue, MutableSegment};
use serde_json::Value as Json;
use slt_support::{copy_tree, load_examples};
use std::sync::Arc;

/// The result table, or the error codes, of a query as the Pinot API would answer it.
async fn answer(service: &QueryService, sql: &str, principal: &Principal) -> Json {
    let response = service.query(sql, None, principal).await;
    let json = serde_json::to_value(&response).unwrap();
    if json["exceptions"].as_array().is_some_and(|e| !e.is_empty()) {
        let codes: Vec<Json> = json["exceptions"].as_array().unwrap().iter().map(|e| e["errorCode"].clone()).collect();
        return Json::Array(codes);
    }
    json["resultTable"].clone()
}

/// Statement shapes, each with the literals it is run with. Some keep one plan for all
/// values; some bind only some values (a fraction against an INT column); some cannot be
/// kept (a string against a number, a number against a TIMESTAMP, a multi-value column).
fn shapes() -> Vec<(&'static str, Vec<String>)> {
    let teams = ["'SFN'", "'BOS'", "'NYA'", "'XXX'", "''", "'O''Neil'"];
    let numbers = ["0", "5", "30", "73", "-1", "-7", "-2.5", "-1e1", "2.0", "5.5", "1e1", "99999999999"];
    let each = |values: &[&str], f: &dyn Fn(&str) -> String| values.iter().map(|v| f(v)).collect::<Vec<_>>();
    vec![
        ("SELECT COUNT(*), SUM(homeRuns) FROM baseballStats WHERE teamID = {}", each(&teams, &|v| v.to_string())),
        ("SELECT COUNT(*) FROM baseballStats WHERE homeRuns > {}", each(&numbers, &|v| v.to_string())),
        ("SELECT COUNT(*) FROM baseballStats WHERE hits >= {}", each(&numbers, &|v| v.to_string())),
        (
            "SELECT yearID, COUNT(*) FROM baseballStats WHERE yearID BETWEEN {} GROUP BY yearID ORDER BY yearID",
            each(&["2000 AND 2003", "1871 AND 1871", "2013 AND 1999", "1990.5 AND 1992", "'1990' AND 1991"], &|v| {
                v.to_string()
            }),
        ),
        (
            "SELECT playerName, homeRuns FROM baseballStats WHERE teamID IN ({}) AND yearID = 2000 ORDER BY homeRuns DESC, playerName LIMIT 5",
            each(&["'SFN', 'BOS'", "'NYA', 'XXX'", "'LAN', 'SFN'"], &|v| v.to_string()),
        ),
        (
            "SELECT teamID, MAX(homeRuns) FROM baseballStats WHERE league = {} AND homeRuns < 40 GROUP BY teamID ORDER BY teamID LIMIT 3",
            each(&["'NL'", "'AL'", "'XX'"], &|v| v.to_string()),
        ),
        ("SELECT COUNT(*) FROM baseballStats WHERE teamID = {}", each(&["5", "0"], &|v| v.to_string())),
        ("SELECT COUNT(*) FROM baseballStats WHERE yearID > {}", each(&["'2000'", "'x'"], &|v| v.to_string())),
        ("SELECT COUNT(*) FROM airlineStats WHERE Origin = {} OR Dest = 'SFO'", each(&["'LAX'", "'JFK'"], &|v| v.to_string())),
        ("SELECT COUNT(*) FROM airlineStats WHERE DivAirports = {}", each(&["'SFO'", "'LAX'"], &|v| v.to_string())),
        (
            "SELECT COUNT(*) FROM airlineStats WHERE ts > {}",
            each(&["1388534400000", "0", "'2014-01-05 00:00:00'"], &|v| v.to_string()),
        ),
        (
            "SELECT COUNT(*) FROM baseballStats WHERE teamID = {} AND playerID IN (SELECT playerID FROM baseballStats WHERE homeRuns > 50)",
            each(&["'SFN'", "'NYA'"], &|v| v.to_string()),
        ),
        ("SELECT COUNT(*) FROM baseballStats WHERE teamID = 'SFN' AND nope = {}", each(&["1", "2"], &|v| v.to_string())),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_plans_answer_as_plans_made_from_the_text() {
    let dir = tempfile::tempdir().unwrap();
    load_examples(dir.path());
    let plain_dir = tempfile::tempdir().unwrap();
    copy_tree(&dir.path().join("tables"), &plain_dir.path().join("tables"));
    let (kept, warnings) = Broker::open(dir.path(), QueryLimits::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let (plain, warnings) =
        Broker::open(plain_dir.path(), QueryLimits { plan_cache_entries: 0, ..QueryLimits::default() }).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let anyone = Principal::anonymous();
    let mut failures = Vec::new();
    // Twice over, so the second round answers every shape from what the first one kept.
    for _ in 0..2 {
        for (shape, values) in shapes() {
            for value in values {
                let sql = shape.replace("{}", &value);
                let (a, b) = (answer(&kept.service, &sql, &anyone).await, answer(&plain.service, &sql, &anyone).await);
                if a != b {
                    failures.push(format!("{sql}\n  kept:  {a}\n  plain: {b}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let stats = kept.service.plan_cache_stats();
    assert_eq!(plain.service.plan_cache_stats().entries, 0);
    // Every query counts once; most bind into a kept plan, some cannot (see `shapes`).
    let queries: u64 = shapes().iter().map(|(_, v)| v.len() as u64 * 2).sum();
    assert_eq!(stats.hits + stats.misses + stats.from_text, queries, "{stats:?}");
    assert!(stats.hits >= queries / 2 && stats.from_text >= 10, "{stats:?}");
    // Most hits also re-use a kept physical plan (the first hit of a shape plans and keeps
    // it; shapes with a filter the scan does not answer exactly keep none).
    assert!(stats.physical_hits >= stats.hits / 2, "{stats:?}");
    // Most queries repeat a text shape (the same text but for its literals): their dialect
    // step reads the literals into the kept template, unparsed.
    assert!(stats.text_shape_hits >= queries / 2, "{stats:?}");
}

/// `events(kind STRING, n <metric type>)`.
fn events(metric_type: &str) -> Table {
    let schema = Schema::from_json(&format!(
        r#"{{"schemaName":"events","dimensionFieldSpecs":[{{"name":"kind","dataType":"STRING"}}],
            "metricFieldSpecs":[{{"name":"n","dataType":"{metric_type}"}}]}}"#
    ))
    .unwrap();
    let config = r#"{"tableName":"events","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["kind"]}}"#;
    Table::new(schema, TableConfigJson::from_json(config).unwrap()).unwrap()
}

fn consuming(table: &Table, name: &str, rows: &[(&str, Value)]) -> Arc<MutableSegment> {
    let segment = Arc::new(MutableSegment::new(table, name));
    for (kind, n) in rows {
        segment.append(&[FieldValue::Single(Value::String(kind.to_string())), FieldValue::Single(n.clone())]).unwrap();
    }
    segment
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_plans_see_new_rows_replaced_tables_and_check_access() {
    let tables = Tables::new();
    let table = events("LONG");
    let provider = Arc::new(SegmentTable::new(table.clone(), ScanOptions::default()));
    let first = consuming(&table, "events__0__0", &[("click", Value::Long(1)), ("view", Value::Long(2))]);
    provider.add_consuming(Arc::clone(&first));
    tables.insert(Arc::clone(&provider));
    let service = QueryService::new(Arc::clone(&tables), QueryLimits::default()).unwrap();
    let anyone = Principal::anonymous();
    let rows = |json: Json| json["rows"].clone();
    let sum = |kind: &'static str| format!("SELECT COUNT(*), SUM(n) FROM events WHERE kind = '{kind}'");

    assert_eq!(rows(answer(&service, &sum("click"), &anyone).await), serde_json::json!([[1, 1.0]]));
    // Rows appended after the plan was kept are in the next answer.
    first.append(&[FieldValue::Single(Value::String("click".into())), FieldValue::Single(Value::Long(10))]).unwrap();
    assert_eq!(rows(answer(&service, &sum("click"), &anyone).await), serde_json::json!([[2, 11.0]]));
    assert_eq!(rows(answer(&service, &sum("view"), &anyone).await), serde_json::json!([[1, 2.0]]));
    // So are segments added to the table.
    provider.add_consuming(consuming(&table, "events__1__0", &[("view", Value::Long(5))]));
    assert_eq!(rows(answer(&service, &sum("view"), &anyone).await), serde_json::json!([[2, 7.0]]));
    let before = service.plan_cache_stats();
    assert_eq!((before.hits, before.misses, before.from_text), (3, 1, 0), "{before:?}");
    // The first hit kept the physical plan and the second re-used it (with fresh rows);
    // the new segment made it stale, so the third planned it again.
    assert_eq!(before.physical_hits, 1, "{before:?}");
    first.append(&[FieldValue::Single(Value::String("view".into())), FieldValue::Single(Value::Long(1))]).unwrap();
    assert_eq!(rows(answer(&service, &sum("view"), &anyone).await), serde_json::json!([[3, 8.0]]));
    assert_eq!(rows(answer(&service, &sum("nothing"), &anyone).await), serde_json::json!([[0, null]]));
    assert_eq!(service.plan_cache_stats().physical_hits, 3);

    // A table replaced under the same name (a new definition, other segments): the kept
    // plan is stale, and the query is planned again over the new table.
    let doubles = events("DOUBLE");
    let replaced = Arc::new(SegmentTable::new(doubles.clone(), ScanOptions::default()));
    replaced.add_consuming(consuming(&doubles, "events__0__1", &[("view", Value::Double(0.5))]));
    tables.insert(replaced);
    assert_eq!(rows(answer(&service, &sum("view"), &anyone).await), serde_json::json!([[1, 0.5]]));
    assert_eq!(rows(answer(&service, &sum("click"), &anyone).await)[0][0], 0);
    // Kept plans hold no table: the replaced one (and its segments' mapped files) is freed.
    assert_eq!(Arc::strong_count(&provider), 1);
    drop(provider);
    assert_eq!(Arc::strong_count(&first), 1, "a kept physical plan holds a segment");
    // A dropped table is not found, kept plan or not.
    tables.remove("events");
    assert_eq!(answer(&service, &sum("view"), &anyone).await, serde_json::json!([190]));

    // Access is checked on every query: a plan kept for one caller answers no other that
    // may not read the table.
    let other = Arc::new(SegmentTable::new(table.clone(), ScanOptions::default()));
    other.add_consuming(consuming(&table, "events__0__2", &[("view", Value::Long(1))]));
    tables.insert(other);
    assert_eq!(rows(answer(&service, &sum("view"), &anyone).await), serde_json::json!([[1, 1.0]]));
    let stranger = Principal::new("stranger", TableScope::Only(["elsewhere".to_string()].into()), [Permission::Read]);
    let refused = answer(&service, &sum("view"), &stranger).await;
    assert_eq!(refused, serde_json::json!([180]), "{refused}");
}

/// `now()` and `ago()` are one value per query, which the optimiser folds into the plan: a
/// plan kept with them would answer every later query as of the moment it was kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_plans_do_not_freeze_the_time() {
    let tables = Tables::new();
    let table = events("LONG");
    let provider = Arc::new(SegmentTable::new(table.clone(), ScanOptions::default()));
    let soon = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64 + 300;
    let rows = [("click", Value::Long(soon)), ("view", Value::Long(soon))];
    provider.add_consuming(consuming(&table, "events__0__0", &rows));
    tables.insert(provider);
    let service = QueryService::new(Arc::clone(&tables), QueryLimits::default()).unwrap();
    let anyone = Principal::anonymous();
    let past = |kind: &str| format!("SELECT COUNT(*) FROM events WHERE kind = '{kind}' AND n < ago('PT0S')");
    let clock = |kind: &str| format!("SELECT ago('PT0S') FROM events WHERE kind = '{kind}'");

    assert_eq!(answer(&service, &past("click"), &anyone).await["rows"], serde_json::json!([[0]]));
    let before = answer(&service, &clock("click"), &anyone).await["rows"][0][0].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    // The same shapes with other literals: a kept plan would still see the first query's time.
    assert_eq!(answer(&service, &past("view"), &anyone).await["rows"], serde_json::json!([[1]]));
    let after = answer(&service, &clock("view"), &anyone).await["rows"][0][0].as_i64().unwrap();
    assert!(after >= before + 400, "ago('PT0S') was {before}, then {after} 400 ms later");
    let stats = service.plan_cache_stats();
    assert_eq!((stats.hits, stats.misses, stats.from_text), (0, 0, 4), "{stats:?}");
}
