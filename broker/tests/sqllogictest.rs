//! SQL behaviour in sqllogictest files (`tests/slt/*.slt`), run through the broker's Pinot
//! query path (dialect, engine, response rendering) over baseballStats (two segments,
//! sorted/inverted/range/bloom/raw columns) and airlineStats (multi-value columns).
//!
//! Values are shown as the Pinot response renders them; floats rounded to 9 decimals so
//! summation order does not matter. A query written `-- header` first also returns its
//! result names and types as a first row (`name:TYPE`), to pin Pinot's naming.
//! Expected results come from DuckDB over the same rows (`tests/slt/generate.py`).

use cuvee_broker::{Broker, QueryLimits};
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions};
use serde_json::Value as Json;
use sqllogictest::{DBOutput, DefaultColumnType};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
struct QueryFailed(String);

impl std::fmt::Display for QueryFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryFailed {}

struct PinotEndpoint {
    broker: Arc<Broker>,
}

#[async_trait::async_trait]
impl sqllogictest::AsyncDB for PinotEndpoint {
    type Error = QueryFailed;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, QueryFailed> {
        let (header, sql) = match sql.trim_start().strip_prefix("-- header") {
            Some(rest) => (true, rest),
            None => (false, sql),
        };
        let response = serde_json::to_value(self.broker.service.query(sql, None).await).map_err(|e| QueryFailed(e.to_string()))?;
        if let Some(exception) = response["exceptions"].as_array().and_then(|e| e.first()) {
            return Err(QueryFailed(format!("[{}] {}", exception["errorCode"], exception["message"].as_str().unwrap_or_default())));
        }
        let schema = &response["resultTable"]["dataSchema"];
        let names: Vec<&str> = schema["columnNames"].as_array().map(|a| a.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
        let kinds: Vec<&str> = schema["columnDataTypes"].as_array().map(|a| a.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
        let types = kinds
            .iter()
            .map(|k| match *k {
                "INT" | "LONG" => DefaultColumnType::Integer,
                "FLOAT" | "DOUBLE" => DefaultColumnType::FloatingPoint,
                _ => DefaultColumnType::Text,
            })
            .collect();
        let mut rows: Vec<Vec<String>> = Vec::new();
        if header {
            rows.push(names.iter().zip(&kinds).map(|(n, k)| format!("{n}:{k}")).collect());
        }
        for row in response["resultTable"]["rows"].as_array().into_iter().flatten() {
            rows.push(row.as_array().into_iter().flatten().map(render).collect());
        }
        Ok(DBOutput::Rows { types, rows })
    }

    async fn shutdown(&mut self) {}
}

fn render(value: &Json) -> String {
    match value {
        Json::Null => "NULL".into(),
        Json::String(s) if s.is_empty() => "(empty)".into(),
        Json::String(s) => s.clone(),
        Json::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.1}")
            } else {
                let text = format!("{f:.9}");
                text.trim_end_matches('0').to_string()
            }
        }
        other => other.to_string(),
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pinot-examples")
}

fn load(dir: &Path, schema: &Path, config: &Path, files: &[PathBuf], rows_per_segment: usize) {
    let table = Table::new(
        Schema::from_json(&std::fs::read_to_string(schema).unwrap()).unwrap(),
        TableConfigJson::from_json(&std::fs::read_to_string(config).unwrap()).unwrap(),
    )
    .unwrap();
    let options = ImportOptions { progress: false, max_rows_per_segment: rows_per_segment, ..Default::default() };
    let report = import(&table, files, &dir.join("tables").join(table.name()), &options).unwrap();
    assert_eq!(report.bad_row_count, 0, "{:?}", report.bad_rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests() {
    let dir = tempfile::tempdir().unwrap();
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let baseball = examples().join("baseballStats");
    load(dir.path(), &baseball.join("baseballStats_schema.json"), &here.join("baseballStats_table_config.json"), &[baseball.join("rawdata/baseballStats.zstd.parquet")], 50_000);
    let airline = examples().join("airlineStats");
    load(dir.path(), &airline.join("airlineStats_schema.json"), &airline.join("airlineStats_offline_table_config.json"), &[airline.join("rawdata/airlineStats_data.avro")], 5_000_000);
    let (broker, warnings) = Broker::open(dir.path(), QueryLimits::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let broker = Arc::new(broker);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&here).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "slt")).collect();
    files.sort();
    assert!(!files.is_empty());
    let mut failures = Vec::new();
    for file in &files {
        let broker = Arc::clone(&broker);
        let mut runner = sqllogictest::Runner::new(move || {
            let broker = Arc::clone(&broker);
            async move { Ok::<_, QueryFailed>(PinotEndpoint { broker }) }
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
