//! Retention: a table's segments whose newest row is older than `retentionTimeValue`
//! `retentionTimeUnit` leave the manifest, the queries and the disk; the rest stay, and a
//! restart on the same data directory sees the same.

use cuvee::{Process, ProcessOptions};
use cuvee_access::Principal;
use serde_json::{json, Value};

const SCHEMA: &str = r#"{"schemaName":"events","dimensionFieldSpecs":[{"name":"id","dataType":"INT"}],
    "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#;

fn table(unit: &str, value: &str) -> String {
    format!(
        r#"{{"tableName":"events","tableType":"OFFLINE","segmentsConfig":{{"timeColumnName":"ts","retentionTimeUnit":"{unit}","retentionTimeValue":"{value}"}}}}"#
    )
}

const DAY_MS: i64 = 86_400_000;

async fn count(process: &Process) -> Value {
    let answer = process.service.query("SELECT COUNT(*) FROM events", None, &Principal::anonymous()).await;
    let answer = serde_json::to_value(answer).unwrap();
    assert_eq!(answer["exceptions"], json!([]), "{answer}");
    answer["resultTable"]["rows"][0][0].clone()
}

#[tokio::test]
async fn segments_past_retention_are_removed_everywhere_and_the_rest_stay() {
    let dir = tempfile::tempdir().unwrap();
    let now = 1_800_000_000_000i64;
    let (process, _) = Process::open_with(dir.path(), ProcessOptions::default()).unwrap();
    let node = process.node().unwrap();
    node.put_schema(SCHEMA, None).unwrap();
    node.put_table(&table("DAYS", "30"), true, None).unwrap();
    let files = tempfile::tempdir().unwrap();
    for (name, ts) in [("old.csv", now - 40 * DAY_MS), ("recent.csv", now - DAY_MS)] {
        let path = files.path().join(name);
        std::fs::write(&path, format!("id,ts\n1,{ts}\n2,{}\n3,{}\n", ts - 1000, ts - 2000)).unwrap();
        node.import("events", &[path], None).unwrap();
    }
    assert_eq!(count(&process).await, json!(6));
    let before = node.segments("events").unwrap();
    assert_eq!(before.len(), 2);

    assert!(node.enforce_retention(now - 20 * DAY_MS).is_empty(), "nothing is 30 days old yet");
    let removed = node.enforce_retention(now);
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(count(&process).await, json!(3));
    let after = node.segments("events").unwrap();
    assert_eq!(after.len(), 1);
    let segment_files = std::fs::read_dir(dir.path().join("tables/events/segments")).unwrap().count();
    assert_eq!(segment_files, 1, "the expired segment's file is gone");
    assert!(node.enforce_retention(now).is_empty(), "a second pass finds nothing");
    drop(process);

    let (again, warnings) = Process::open_with(dir.path(), ProcessOptions::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(count(&again).await, json!(3));
}

#[test]
fn a_retention_pinot_would_refuse_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let (process, _) = Process::open_with(dir.path(), ProcessOptions::default()).unwrap();
    let node = process.node().unwrap();
    node.put_schema(SCHEMA, None).unwrap();
    for (unit, value, expected) in [("WEEKS", "2", "WEEKS"), ("DAYS", "-1", "-1"), ("DAYS", "soon", "soon")] {
        let error = node.put_table(&table(unit, value), true, None).unwrap_err().to_string();
        assert!(error.contains("retention") && error.contains(expected), "{error}");
    }
}
