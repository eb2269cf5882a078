//! cuvee in process: the broker's Pinot query path over the imported table, no HTTP. Each
//! statement of every query is answered once (the answers the harness cross-checks, and the
//! warm-up), then `--runs` timed runs cycle through the statements.

use crate::{percentile, Error, Flags};
use cuvee::Process as Broker;
use cuvee_broker::QueryLimits;
use std::time::{Duration, Instant};

/// A query stops being timed after this long if it has at least `MIN_RUNS` runs.
const TIME_CAP: Duration = Duration::from_secs(20);
const MIN_RUNS: usize = 10;

pub fn run(flags: &Flags) -> Result<(), Error> {
    let data_dir = flags.path("data-dir")?;
    let queries: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(flags.path("queries")?)?)?;
    let runs: usize = flags.number("runs", Some(50))?;
    let out = flags.path("out")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (broker, warnings) = Broker::open(&data_dir, QueryLimits::default())?;
    if !warnings.is_empty() {
        return Err(format!("opening {}: {warnings:?}", data_dir.display()).into());
    }
    let mut results = serde_json::Map::new();
    for query in &queries {
        let id = query["id"].as_str().ok_or("a query without an id")?;
        let statements: Vec<&str> =
            query["sql"].as_array().ok_or("a query without sql")?.iter().filter_map(|s| s.as_str()).collect();
        let mut answers = Vec::new();
        let mut error = None;
        for sql in &statements {
            let response = runtime.block_on(broker.service.query(sql, None, &cuvee_access::Principal::anonymous()));
            if let Some(e) = response.exceptions.first() {
                error.get_or_insert_with(|| format!("{sql}: {} {}", e.error_code, e.message));
            }
            answers.push(serde_json::to_value(&response)?["resultTable"]["rows"].clone());
        }
        let mut times = Vec::with_capacity(runs);
        let started = Instant::now();
        for run in 0..runs {
            if run >= MIN_RUNS && started.elapsed() > TIME_CAP {
                break;
            }
            let sql = statements[run % statements.len()];
            let began = Instant::now();
            runtime.block_on(broker.service.query(sql, None, &cuvee_access::Principal::anonymous()));
            times.push(began.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        results.insert(
            id.to_string(),
            serde_json::json!({ "p50_ms": percentile(&times, 0.5), "p99_ms": percentile(&times, 0.99), "runs": times.len(), "answers": answers, "error": error }),
        );
        eprintln!("embedded {id}: p50 {:.3} ms", percentile(&times, 0.5));
    }
    std::fs::write(out, serde_json::to_string(&results)?)?;
    Ok(())
}
