//! SQL behaviour in sqllogictest files (`tests/slt/*.slt`), run through the broker's Pinot
//! query path (dialect, engine, response rendering) over baseballStats (two segments,
//! sorted/inverted/range/bloom/raw columns) and airlineStats (multi-value columns).
//!
//! Values are shown as the Pinot response renders them; floats rounded to 9 decimals so
//! summation order does not matter. A query written `-- header` first also returns its
//! result names and types as a first row (`name:TYPE`), to pin Pinot's naming.
//! Expected results come from DuckDB over the same rows (`tests/slt/generate.py`).
//!
//! The suite runs twice: in one process, and through a cluster broker scattering to three
//! gRPC servers — same files, same answers.

use cuvee_broker::cluster::routing::Discovery;
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

/// baseballStats (4 segments) and airlineStats (1) in a fresh data directory.
fn load_examples(dir: &Path) {
    let here = slt_dir();
    let baseball = examples().join("baseballStats");
    load(dir, &baseball.join("baseballStats_schema.json"), &here.join("baseballStats_table_config.json"), &[baseball.join("rawdata/baseballStats.zstd.parquet")], 25_000);
    let airline = examples().join("airlineStats");
    load(dir, &airline.join("airlineStats_schema.json"), &airline.join("airlineStats_offline_table_config.json"), &[airline.join("rawdata/airlineStats_data.avro")], 5_000_000);
}

fn slt_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt")
}

async fn run_suite(broker: Arc<Broker>) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(slt_dir()).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "slt")).collect();
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

/// One process: the broker's in-process server holds every segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests() {
    let dir = tempfile::tempdir().unwrap();
    load_examples(dir.path());
    let (broker, warnings) = Broker::open(dir.path(), QueryLimits::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    run_suite(Arc::new(broker)).await;
}

/// The same files through a cluster broker over three gRPC servers on 127.0.0.1, each
/// holding some of the segments (the third none), and snapshots of the distributed plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests_through_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    load_examples(dir.path());
    let mut addresses = Vec::new();
    let mut servers = Vec::new();
    for ordinal in 0..3 {
        let server_dir = dir.path().join(format!("server-{ordinal}"));
        copy_tree(&dir.path().join("tables"), &server_dir.join("tables"));
        let (server, warnings) = Broker::open(&server_dir, QueryLimits::default()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        for table in ["baseballStats", "airlineStats"] {
            let names: Vec<String> = server.metastore().unwrap().segments(table).unwrap().into_iter().map(|s| s.name).collect();
            for (i, name) in names.iter().enumerate() {
                if i % 3 != ordinal {
                    server.metastore().unwrap().delete_segment(table, name).unwrap();
                }
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap().to_string());
        let options = cuvee_server::ServerOptions { server_id: format!("server-{ordinal}"), memory_bytes: 1 << 30 };
        let service = cuvee_server::FragmentService::new(options, Arc::clone(&server.service) as _, server.service.runtime_handle().unwrap());
        tokio::spawn(cuvee_server::serve_until(listener, service, std::future::pending()));
        servers.push(server);
    }
    let broker = Broker::cluster(QueryLimits::default(), Discovery::Static(addresses.clone())).unwrap();
    let problems = broker.refresh_routing().await;
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(broker.service.table_names(), vec!["airlineStats", "baseballStats"]);
    let broker = Arc::new(broker);
    run_suite(Arc::clone(&broker)).await;
    check_plans(&broker, &addresses).await;

    // The rows come mostly sorted by player, so segments hold ranges of them: the broker
    // rules out by min/max the segments (and so the servers) that cannot hold the player.
    let response = serde_json::to_value(broker.service.query("SELECT COUNT(*), SUM(homeRuns) FROM baseballStats WHERE playerID = 'aaronha01'", None).await).unwrap();
    assert_eq!(response["resultTable"]["rows"], serde_json::json!([[23, 755.0]]), "{response}");
    assert_eq!(response["numServersQueried"].as_u64(), Some(1), "{response}");
    assert!(response["numSegmentsQueried"].as_u64() < Some(4), "{response}");
}

/// EXPLAIN of the distributed plans, against `tests/plans/*.txt` (`UPDATE_PLANS=1` rewrites
/// them): where the cut falls, what ships, what the broker merges.
async fn check_plans(broker: &Broker, addresses: &[String]) {
    let queries = [
        ("group_by_top_k", "SELECT teamID, SUM(homeRuns) FROM baseballStats WHERE yearID >= 2000 GROUP BY teamID ORDER BY 2 DESC LIMIT 5"),
        ("distinct_count", "SELECT DISTINCTCOUNT(playerID) FROM baseballStats WHERE league = 'NL'"),
        ("filtered_top_rows", "SELECT playerName, homeRuns FROM baseballStats WHERE teamID = 'SFN' ORDER BY homeRuns DESC LIMIT 3"),
        ("plain_limit", "SELECT playerID FROM baseballStats LIMIT 7"),
        ("join", "SELECT a.teamID, COUNT(*) FROM baseballStats a JOIN baseballStats b ON a.playerID = b.playerID AND a.yearID = b.yearID WHERE a.yearID = 2000 GROUP BY a.teamID ORDER BY 2 DESC LIMIT 2"),
    ];
    let plans = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans");
    let mut mismatches = Vec::new();
    for (name, sql) in queries {
        let response = serde_json::to_value(broker.service.query(&format!("EXPLAIN PLAN FOR {sql}"), None).await).unwrap();
        assert_eq!(response["exceptions"], serde_json::json!([]), "{name}: {response}");
        let rows = response["resultTable"]["rows"].as_array().unwrap();
        let physical = rows.iter().find(|r| r[0] == "physical_plan").unwrap()[1].as_str().unwrap().to_string();
        let mut plan = physical;
        for (i, address) in addresses.iter().enumerate() {
            plan = plan.replace(address, &format!("server-{i}"));
        }
        let plan = sorted_server_lists(&plan);
        let path = plans.join(format!("{name}.txt"));
        let text = format!("-- {sql}\n{plan}\n");
        if std::env::var_os("UPDATE_PLANS").is_some() {
            std::fs::create_dir_all(&plans).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).unwrap_or_default() != text {
            mismatches.push(format!("{}:\n{text}", path.display()));
        }
    }
    assert!(mismatches.is_empty(), "distributed plans changed (UPDATE_PLANS=1 to accept):\n{}", mismatches.join("\n"));
}

/// `servers=[b, a]` as `servers=[a, b]`: the broker lists servers by address, and the
/// test's ports are the system's choice.
fn sorted_server_lists(plan: &str) -> String {
    plan.lines()
        .map(|line| match line.split_once("servers=[") {
            Some((head, rest)) => {
                let (list, tail) = rest.split_once(']').unwrap_or((rest, ""));
                let mut servers: Vec<&str> = list.split(", ").collect();
                servers.sort();
                format!("{head}servers=[{}]{tail}", servers.join(", "))
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn copy_tree(from: &Path, to: &Path) {
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

/// Two servers holding the same segments: with one of them down, every answer is still
/// whole — the broker sends that server's share to the replica — and says so truthfully
/// (the dead server counted as queried, not as responded; no partial flag, no exception).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_answers_for_a_server_that_is_down() {
    let dir = tempfile::tempdir().unwrap();
    load_examples(dir.path());
    let mut addresses = Vec::new();
    let mut stops = Vec::new();
    let mut servers = Vec::new();
    for ordinal in 0..2 {
        let server_dir = dir.path().join(format!("replica-{ordinal}"));
        copy_tree(&dir.path().join("tables"), &server_dir.join("tables"));
        let (server, _) = Broker::open(&server_dir, QueryLimits::default()).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap().to_string());
        let options = cuvee_server::ServerOptions { server_id: format!("replica-{ordinal}"), memory_bytes: 1 << 30 };
        let service = cuvee_server::FragmentService::new(options, Arc::clone(&server.service) as _, server.service.runtime_handle().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(cuvee_server::serve_until(listener, service, async move {
            let _ = stopped.await;
        }));
        servers.push(server);
    }
    let broker = Broker::cluster(QueryLimits::default(), Discovery::Static(addresses.clone())).unwrap();
    assert!(broker.refresh_routing().await.is_empty());
    let sql = "SELECT teamID, SUM(homeRuns) FROM baseballStats WHERE yearID >= 2000 GROUP BY teamID ORDER BY 2 DESC LIMIT 3";
    let whole = serde_json::to_value(broker.service.query(sql, None).await).unwrap();
    assert_eq!(whole["numServersQueried"], 1, "{whole}");
    let _ = stops.remove(0).send(());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut failed_over = 0;
    for _ in 0..4 {
        let answer = serde_json::to_value(broker.service.query(sql, None).await).unwrap();
        assert_eq!(answer["resultTable"]["rows"], whole["resultTable"]["rows"], "{answer}");
        assert_eq!((answer["partialResult"].as_bool(), answer["exceptions"].as_array().map(Vec::len)), (Some(false), Some(0)), "{answer}");
        if answer["numServersQueried"] == 2 {
            assert_eq!(answer["numServersResponded"], 1, "{answer}");
            failed_over += 1;
        }
    }
    assert!(failed_over > 0, "no query was sent to the stopped server first");
}
