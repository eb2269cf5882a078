//! The sqllogictest suite's runner, shared by the broker's tests (one process, a cluster
//! inside the test process) and the root package's `tests/cluster_slt.rs` (a cluster of
//! separate `cuvee` processes): the same files, the same data, the same rendering. The
//! including file defines a `common` module (the HTTP client).
//!
//! Values are shown as the Pinot response renders them; floats rounded to 9 decimals so
//! summation order does not matter. A query written `-- header` first also returns its
//! result names and types as a first row (`name:TYPE`), to pin Pinot's naming.

#![allow(dead_code)]

use cuvee::Process as Broker;
use cuvee_broker::QueryLimits;
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions};
use serde_json::Value as Json;
use sqllogictest::{DBOutput, DefaultColumnType};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug)]
pub struct QueryFailed(String);

impl std::fmt::Display for QueryFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for QueryFailed {}

/// Where the suite's queries go: a broker in this process, or one over HTTP.
#[derive(Clone)]
pub enum Endpoint {
    InProcess(Arc<Broker>),
    Http(SocketAddr),
}

impl Endpoint {
    async fn answer(&self, sql: &str) -> Result<Json, QueryFailed> {
        match self {
            Endpoint::InProcess(broker) => {
                serde_json::to_value(broker.service.query(sql, None, &cuvee_access::Principal::anonymous()).await)
                    .map_err(|e| QueryFailed(e.to_string()))
            }
            Endpoint::Http(addr) => {
                let body = serde_json::json!({ "sql": sql }).to_string();
                let (status, _, response) = super::common::request(*addr, "POST", "/query/sql", &body, "").await;
                if status != 200 {
                    return Err(QueryFailed(format!("HTTP {status}: {response}")));
                }
                Ok(response)
            }
        }
    }
}

struct PinotEndpoint {
    endpoint: Endpoint,
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
        let response = self.endpoint.answer(sql).await?;
        if let Some(exception) = response["exceptions"].as_array().and_then(|e| e.first()) {
            return Err(QueryFailed(format!(
                "[{}] {}",
                exception["errorCode"],
                exception["message"].as_str().unwrap_or_default()
            )));
        }
        let schema = &response["resultTable"]["dataSchema"];
        let names: Vec<&str> =
            schema["columnNames"].as_array().map(|a| a.iter().filter_map(Json::as_str).collect()).unwrap_or_default();
        let kinds: Vec<&str> = schema["columnDataTypes"]
            .as_array()
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
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
    root().join("../shared/pinot-examples")
}

/// The checkout's root (the `cuvee` package's folder), where `tests/` lives.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// baseballStats (4 segments), airlineStats (1) and starbucksStores (4, with an H3 index)
/// in a fresh data directory.
pub fn load_examples(dir: &Path) {
    let here = slt_dir();
    let baseball = examples().join("baseballStats");
    load(
        dir,
        &baseball.join("baseballStats_schema.json"),
        &here.join("baseballStats_table_config.json"),
        &[baseball.join("rawdata/baseballStats.zstd.parquet")],
        25_000,
    );
    let airline = examples().join("airlineStats");
    load(
        dir,
        &airline.join("airlineStats_schema.json"),
        &airline.join("airlineStats_offline_table_config.json"),
        &[airline.join("rawdata/airlineStats_data.avro")],
        5_000_000,
    );
    let starbucks = examples().join("starbucksStores");
    load(
        dir,
        &starbucks.join("starbucksStores_schema.json"),
        &starbucks.join("starbucksStores_offline_table_config.json"),
        &[starbucks.join("rawdata/data.csv")],
        2_000,
    );
}

pub fn slt_dir() -> PathBuf {
    root().join("tests/slt")
}

/// Server `ordinal`'s data directory under `root`: a copy of `root/tables` keeping the
/// segments `i` with `i mod servers = ordinal` (a server may hold none of a table).
pub fn server_share(root: &Path, ordinal: usize, servers: usize) -> PathBuf {
    let server_dir = root.join(format!("server-{ordinal}"));
    copy_tree(&root.join("tables"), &server_dir.join("tables"));
    let (server, warnings) = Broker::open(&server_dir, QueryLimits::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    for table in ["baseballStats", "airlineStats", "starbucksStores"] {
        let names: Vec<String> = server.node().unwrap().segments(table).unwrap().into_iter().map(|s| s.name).collect();
        for (i, name) in names.iter().enumerate() {
            if i % servers != ordinal {
                server.node().unwrap().delete_segment(table, name).unwrap();
            }
        }
    }
    server_dir
}

/// Every `.slt` file against `endpoint`; all failures reported together.
pub async fn run_suite(endpoint: Endpoint) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(slt_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .slt files in {}", slt_dir().display());
    let mut failures = Vec::new();
    for file in &files {
        let endpoint = endpoint.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let endpoint = endpoint.clone();
            async move { Ok::<_, QueryFailed>(PinotEndpoint { endpoint }) }
        });
        if let Err(e) = runner.run_file_async(file).await {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
