//! The crate graph as a test: each workspace crate may depend only on the crates the design
//! allows (ARCHITECTURE.md's map), and the storage and query crates never pull in what they
//! must not build (a Kafka client in the query engine, an object store or async runtime in
//! the file format). A new edge is a design decision: change the table here and the map in
//! ARCHITECTURE.md together. (DataFusion keeps its graph the same way, core/tests/depcheck.rs.)

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Each crate and the workspace crates it may use (normal dependencies; tests may use more).
const ALLOWED: &[(&str, &[&str])] = &[
    ("cuvee-error", &[]),
    ("cuvee-access", &["cuvee-error"]),
    ("cuvee-catalog", &["cuvee-error"]),
    ("cuvee-functions", &["cuvee-error", "cuvee-catalog"]),
    ("cuvee-segments", &["cuvee-error", "cuvee-catalog", "cuvee-functions"]),
    ("cuvee-deep-store", &["cuvee-error", "cuvee-catalog", "cuvee-segments"]),
    ("cuvee-ingest", &["cuvee-error", "cuvee-catalog", "cuvee-functions", "cuvee-segments"]),
    ("cuvee-query", &["cuvee-error", "cuvee-access", "cuvee-catalog", "cuvee-functions", "cuvee-segments"]),
    ("cuvee-proto", &["cuvee-error"]),
    (
        "cuvee-node",
        &["cuvee-error", "cuvee-catalog", "cuvee-segments", "cuvee-deep-store", "cuvee-ingest", "cuvee-query"],
    ),
    ("cuvee-broker", &["cuvee-error", "cuvee-access", "cuvee-catalog", "cuvee-segments", "cuvee-query", "cuvee-proto"]),
    ("cuvee-server", &["cuvee-error", "cuvee-query", "cuvee-proto"]),
    ("cuvee-http", &["cuvee-error", "cuvee-access", "cuvee-catalog", "cuvee-ingest", "cuvee-node", "cuvee-broker"]),
    ("cuvee-flight", &["cuvee-error", "cuvee-access", "cuvee-broker", "cuvee-query", "cuvee-proto"]),
    ("cuvee-postgres", &["cuvee-error", "cuvee-access", "cuvee-broker", "cuvee-query"]),
];

/// External crates a workspace crate must not reach through any chain of normal
/// dependencies when built alone (as `cargo tree -p` resolves it), and why. (DataFusion
/// itself depends on `object_store`, so the query crates reach it whatever we do.)
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    ("cuvee-catalog", &["arrow-array", "tokio", "datafusion"], "the catalog is definitions only"),
    ("cuvee-access", &["datafusion", "arrow-array", "rdkafka"], "who may call is decided before any engine runs"),
    ("cuvee-functions", &["arrow-array", "datafusion", "tokio"], "the function library is a leaf over plain values"),
    (
        "cuvee-segments",
        &["object_store", "tokio", "datafusion", "rdkafka"],
        "the file format does no I/O beyond its files",
    ),
    (
        "cuvee-ingest",
        &["datafusion", "object_store"],
        "ingestion never plans SQL, and reaches the deep store through a Mirror",
    ),
    (
        "cuvee-query",
        &["rdkafka", "rdkafka-sys", "apache-avro", "parquet"],
        "the query engine reads segments, not streams or files",
    ),
    (
        "cuvee-broker",
        &["rdkafka", "rdkafka-sys", "apache-avro", "parquet", "axum"],
        "the broker routes and merges; it holds no tables and serves no door",
    ),
    ("cuvee-server", &["rdkafka", "rdkafka-sys", "apache-avro", "parquet"], "a fragment server reads segments"),
];

struct Graph {
    /// package name → its normal and build dependencies (all packages, by name).
    deps: BTreeMap<String, BTreeSet<String>>,
    workspace: BTreeSet<String>,
}

fn graph() -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This machine's platform only: other platforms' dependencies are not downloaded.
    let rustc = std::process::Command::new("rustc").arg("-vV").output().expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc names its host");
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline", "--filter-platform", &host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(output.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&output.stderr));
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata answers JSON");
    let name_of: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().unwrap_or_default(), p["name"].as_str().unwrap_or_default()))
        .collect();
    let workspace: BTreeSet<String> = metadata["workspace_members"]
        .as_array()
        .expect("workspace members")
        .iter()
        .filter_map(|id| name_of.get(id.as_str().unwrap_or_default()).map(|n| n.to_string()))
        .collect();
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for node in metadata["resolve"]["nodes"].as_array().expect("a resolved graph") {
        let name = name_of[node["id"].as_str().unwrap_or_default()].to_string();
        let entry = deps.entry(name).or_default();
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal =
                dep["dep_kinds"].as_array().into_iter().flatten().any(|k| k["kind"].is_null() || k["kind"] == "build");
            if normal {
                entry.insert(name_of[dep["pkg"].as_str().unwrap_or_default()].to_string());
            }
        }
    }
    Graph { deps, workspace }
}

fn reachable(graph: &Graph, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(next) = stack.pop() {
        for dep in graph.deps.get(&next).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                stack.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn workspace_crates_depend_only_on_what_the_design_allows() {
    let graph = graph();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for name in &graph.workspace {
        // The binary, its roles and the bench tools assemble everything.
        if name == "cuvee" || name == "cuvee-bench" {
            continue;
        }
        let Some(allowed) = allowed.get(name.as_str()) else {
            problems.push(format!("{name} is not in the design's table (tests/depcheck.rs, ARCHITECTURE.md)"));
            continue;
        };
        for dep in graph.deps.get(name).into_iter().flatten().filter(|d| graph.workspace.contains(*d)) {
            if !allowed.contains(&dep.as_str()) {
                problems.push(format!("{name} depends on {dep}, which the design does not allow"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every package `package` reaches through normal dependencies when built alone.
fn built_alone(package: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args(["tree", "-p", package, "-e", "normal", "--prefix", "none", "--format", "{p}", "--locked", "--offline"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree -p {package}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next().map(str::to_string))
        .filter(|name| name != package)
        .collect()
}

#[test]
fn lower_crates_do_not_reach_what_they_must_not_build() {
    let mut problems = Vec::new();
    for (name, forbidden, why) in FORBIDDEN {
        let reached = built_alone(name);
        for crate_name in forbidden.iter().filter(|c| reached.contains(**c)) {
            problems.push(format!("{name} reaches {crate_name}: {why}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_graph_has_no_cycles_between_workspace_crates() {
    let graph = graph();
    for name in &graph.workspace {
        assert!(!reachable(&graph, name).contains(name), "{name} depends on itself through others");
    }
}
