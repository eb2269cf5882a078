//! SQL behaviour in sqllogictest files (`tests/slt/*.slt`), run through the broker's Pinot
//! query path (dialect, engine, response rendering) over baseballStats (two segments,
//! sorted/inverted/range/bloom/raw columns) and airlineStats (multi-value columns).
//!
//! Expected results come from DuckDB over the same rows (`tests/slt/generate.py`); the
//! runner is `slt_support` (shared with the root package's `tests/cluster_slt.rs`).
//!
//! The suite runs three times: in one process; through a cluster broker scattering to three
//! gRPC servers in this process (here); and through separate `cuvee broker` and `cuvee
//! server` processes (`tests/cluster_slt.rs`) — same files, same answers.

mod common;
mod slt_support;

use cuvee::Process as Broker;
use cuvee_broker::Discovery;
use cuvee_broker::QueryLimits;
use slt_support::{copy_tree, load_examples, run_suite, server_share, Endpoint};
use std::path::Path;
use std::sync::Arc;

/// One process: the broker's in-process server holds every segment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_logic_tests() {
    let dir = tempfile::tempdir().unwrap();
    load_examples(dir.path());
    let (broker, warnings) = Broker::open(dir.path(), QueryLimits::default()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    run_suite(Endpoint::InProcess(Arc::new(broker))).await;
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
        let server_dir = server_share(dir.path(), ordinal, 3);
        let (server, warnings) = Broker::open(&server_dir, QueryLimits::default()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        addresses.push(listener.local_addr().unwrap().to_string());
        let options = cuvee_server::ServerOptions { server_id: format!("server-{ordinal}"), memory_bytes: 1 << 30 };
        let service = cuvee_server::FragmentService::new(
            options,
            Arc::clone(server.service.tables()) as _,
            server.service.runtime_handle().unwrap(),
        );
        tokio::spawn(cuvee_server::serve_until(listener, service, None, std::future::pending()));
        servers.push(server);
    }
    let broker = Broker::cluster(QueryLimits::default(), Discovery::Static(addresses.clone())).unwrap();
    let problems = broker.refresh_routing().await;
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(broker.service.table_names(), vec!["airlineStats", "baseballStats", "starbucksStores"]);
    let broker = Arc::new(broker);
    run_suite(Endpoint::InProcess(Arc::clone(&broker))).await;
    check_plans(&broker, &addresses).await;

    // The rows come mostly sorted by player, so segments hold ranges of them: the broker
    // rules out by min/max the segments (and so the servers) that cannot hold the player.
    let response = serde_json::to_value(
        broker
            .service
            .query(
                "SELECT COUNT(*), SUM(homeRuns) FROM baseballStats WHERE playerID = 'aaronha01'",
                None,
                &cuvee_access::Principal::anonymous(),
            )
            .await,
    )
    .unwrap();
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
        let response = serde_json::to_value(
            broker.service.query(&format!("EXPLAIN PLAN FOR {sql}"), None, &cuvee_access::Principal::anonymous()).await,
        )
        .unwrap();
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
        let service = cuvee_server::FragmentService::new(
            options,
            Arc::clone(server.service.tables()) as _,
            server.service.runtime_handle().unwrap(),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        tokio::spawn(cuvee_server::serve_until(listener, service, None, async move {
            let _ = stopped.await;
        }));
        servers.push(server);
    }
    let broker = Broker::cluster(QueryLimits::default(), Discovery::Static(addresses.clone())).unwrap();
    assert!(broker.refresh_routing().await.is_empty());
    let sql =
        "SELECT teamID, SUM(homeRuns) FROM baseballStats WHERE yearID >= 2000 GROUP BY teamID ORDER BY 2 DESC LIMIT 3";
    let whole =
        serde_json::to_value(broker.service.query(sql, None, &cuvee_access::Principal::anonymous()).await).unwrap();
    assert_eq!(whole["numServersQueried"], 1, "{whole}");
    let _ = stops.remove(0).send(());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let mut failed_over = 0;
    for _ in 0..4 {
        let answer =
            serde_json::to_value(broker.service.query(sql, None, &cuvee_access::Principal::anonymous()).await).unwrap();
        assert_eq!(answer["resultTable"]["rows"], whole["resultTable"]["rows"], "{answer}");
        assert_eq!(
            (answer["partialResult"].as_bool(), answer["exceptions"].as_array().map(Vec::len)),
            (Some(false), Some(0)),
            "{answer}"
        );
        if answer["numServersQueried"] == 2 {
            assert_eq!(answer["numServersResponded"], 1, "{answer}");
            failed_over += 1;
        }
    }
    assert!(failed_over > 0, "no query was sent to the stopped server first");
}
