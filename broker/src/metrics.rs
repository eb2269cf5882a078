//! What the doors' statements did, in numbers: per door, statements by outcome (with the
//! door's own error code — Pinot's number, the SQLSTATE, the Flight status), their latency
//! as a histogram, rows returned and statements running now. Recorded where a statement
//! runs (atomics; one short lock at its start and end for the list of running
//! statements); read as a [`DoorSnapshot`] when `/metrics` is scraped (rendering is the
//! HTTP door's job, `doors/http/src/metrics.rs`). A statement slower than the slow-query
//! threshold is logged when it ends, with its id, door, user and text. A running statement
//! can be cancelled by its id ([`QueryMetrics::cancel`], `DELETE /query/{id}`): each door
//! waits on [`StatementRecord::cancelled`] beside the statement and stops it.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where a statement came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Door {
    /// Pinot's HTTP query API.
    Http,
    Postgres,
    Flight,
}

impl Door {
    pub const ALL: [Door; 3] = [Door::Http, Door::Postgres, Door::Flight];

    pub fn label(self) -> &'static str {
        match self {
            Door::Http => "http",
            Door::Postgres => "postgres",
            Door::Flight => "flight",
        }
    }
}

/// Upper bounds of the latency buckets, in seconds: from an index-answered lookup
/// (sub-millisecond) to a query at the default timeout.
pub const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The bucket `elapsed` falls in: the first bound it does not pass, else `+Inf` (last).
fn bucket_of(elapsed: Duration) -> usize {
    let seconds = elapsed.as_secs_f64();
    LATENCY_BUCKETS.iter().position(|&bound| seconds <= bound).unwrap_or(LATENCY_BUCKETS.len())
}

/// Running totals of per-bucket counts, as the text format's `le` buckets are.
fn cumulative(counts: impl IntoIterator<Item = u64>) -> Vec<u64> {
    counts
        .into_iter()
        .scan(0, |total, count| {
            *total += count;
            Some(*total)
        })
        .collect()
}

/// A latency histogram: a count per bucket (not cumulative; the snapshot accumulates)
/// and the sum in microseconds.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        self.buckets[bucket_of(elapsed)].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct DoorMetrics {
    succeeded: AtomicU64,
    /// Statements whose client went away (or dropped the stream) before the end.
    abandoned: AtomicU64,
    /// Failed statements by the door's error code.
    failed: Mutex<BTreeMap<String, u64>>,
    latency: Histogram,
    rows: AtomicU64,
    running: AtomicI64,
}

/// Every door's statement metrics of this process.
#[derive(Debug, Default)]
pub struct QueryMetrics {
    doors: [DoorMetrics; 3],
    slow_after: Option<Duration>,
    next_id: AtomicU64,
    running: Mutex<BTreeMap<u64, (RunningStatement, watch::Sender<bool>)>>,
}

/// A statement running now (`GET /queries`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunningStatement {
    pub id: u64,
    pub door: Door,
    pub user: String,
    pub sql: String,
    pub started: Instant,
}

/// The most of a statement's text a slow-query log line carries.
const LOGGED_SQL_CHARS: usize = 4096;

/// One door's numbers at the moment of a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct DoorSnapshot {
    pub door: Door,
    pub succeeded: u64,
    pub abandoned: u64,
    pub failed: BTreeMap<String, u64>,
    /// Cumulative counts for each of [`LATENCY_BUCKETS`], then `+Inf` (every statement).
    pub latency_buckets: Vec<u64>,
    pub latency_sum_seconds: f64,
    pub rows: u64,
    pub running: i64,
}

impl QueryMetrics {
    /// Statements that take `slow_after` or longer are logged when they end.
    pub fn new(slow_after: Option<Duration>) -> Arc<QueryMetrics> {
        Arc::new(QueryMetrics { slow_after, ..QueryMetrics::default() })
    }

    fn door(&self, door: Door) -> &DoorMetrics {
        &self.doors[door as usize]
    }

    /// `user`'s statement `sql` starts on `door`; the record counts it when it ends (or is
    /// dropped), and it is listed as running until then.
    pub fn start(self: &Arc<Self>, door: Door, user: &str, sql: &str) -> StatementRecord {
        self.door(door).running.fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let started = Instant::now();
        let statement = RunningStatement { id, door, user: user.to_string(), sql: sql.to_string(), started };
        let (cancel, cancelled) = watch::channel(false);
        self.running.lock().insert(id, (statement, cancel));
        StatementRecord { metrics: Arc::clone(self), id, door, started, rows: 0, outcome: None, cancelled }
    }

    /// The statements running now, oldest first.
    pub fn running(&self) -> Vec<RunningStatement> {
        self.running.lock().values().map(|(statement, _)| statement.clone()).collect()
    }

    /// The running statement `id`, if there is one.
    pub fn statement(&self, id: u64) -> Option<RunningStatement> {
        self.running.lock().get(&id).map(|(statement, _)| statement.clone())
    }

    /// Asks the statement `id` to stop; false when no such statement is running.
    pub fn cancel(&self, id: u64) -> bool {
        match self.running.lock().get(&id) {
            Some((_, cancel)) => {
                cancel.send_replace(true);
                true
            }
            None => false,
        }
    }

    pub fn snapshot(&self) -> Vec<DoorSnapshot> {
        Door::ALL
            .iter()
            .map(|&door| {
                let m = self.door(door);
                let latency_buckets = cumulative(m.latency.buckets.iter().map(|c| c.load(Ordering::Relaxed)));
                DoorSnapshot {
                    door,
                    succeeded: m.succeeded.load(Ordering::Relaxed),
                    abandoned: m.abandoned.load(Ordering::Relaxed),
                    failed: m.failed.lock().clone(),
                    latency_buckets,
                    latency_sum_seconds: m.latency.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
                    rows: m.rows.load(Ordering::Relaxed),
                    running: m.running.load(Ordering::Relaxed),
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Succeeded,
    Failed(String),
}

/// One statement's place in the metrics: rows are added as they stream, the outcome set
/// when known; dropping it records the statement (as abandoned when no outcome was set —
/// the client went away or stopped reading).
#[derive(Debug)]
pub struct StatementRecord {
    metrics: Arc<QueryMetrics>,
    id: u64,
    door: Door,
    started: Instant,
    rows: u64,
    outcome: Option<Outcome>,
    cancelled: watch::Receiver<bool>,
}

impl StatementRecord {
    /// Completes when the statement is cancelled by its id (never otherwise); a door runs
    /// the statement against it.
    pub fn cancelled(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut cancelled = self.cancelled.clone();
        async move {
            if cancelled.wait_for(|c| *c).await.is_err() {
                // The record is gone, and so is the statement: nothing to cancel.
                std::future::pending::<()>().await;
            }
        }
    }

    pub fn add_rows(&mut self, rows: u64) {
        self.rows += rows;
    }

    /// The statement answered (its rows all sent).
    pub fn succeeded(&mut self) {
        self.outcome.get_or_insert(Outcome::Succeeded);
    }

    /// The statement failed with the door's `code` (a Pinot error code, a SQLSTATE, a
    /// Flight status); the first failure counts.
    pub fn failed(&mut self, code: impl Into<String>) {
        if !matches!(self.outcome, Some(Outcome::Failed(_))) {
            self.outcome = Some(Outcome::Failed(code.into()));
        }
    }

    /// The statement's id in `GET /queries` and in the slow-query log.
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for StatementRecord {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        let statement = self.metrics.running.lock().remove(&self.id).map(|(statement, _)| statement);
        if let (Some(slow_after), Some(statement)) = (self.metrics.slow_after, statement) {
            if elapsed >= slow_after {
                let outcome = match &self.outcome {
                    Some(Outcome::Succeeded) => "ok",
                    Some(Outcome::Failed(code)) => code.as_str(),
                    None => "abandoned",
                };
                let sql: String = statement.sql.chars().take(LOGGED_SQL_CHARS).collect();
                tracing::warn!(
                    query_id = self.id,
                    door = self.door.label(),
                    user = %statement.user,
                    elapsed_ms = elapsed.as_millis() as u64,
                    rows = self.rows,
                    outcome,
                    sql = %sql,
                    "slow query"
                );
            }
        }
        let m = self.metrics.door(self.door);
        m.running.fetch_sub(1, Ordering::Relaxed);
        m.latency.observe(elapsed);
        m.rows.fetch_add(self.rows, Ordering::Relaxed);
        match self.outcome.take() {
            Some(Outcome::Succeeded) => {
                m.succeeded.fetch_add(1, Ordering::Relaxed);
            }
            Some(Outcome::Failed(code)) => *m.failed.lock().entry(code).or_insert(0) += 1,
            None => {
                m.abandoned.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Fragments a cluster broker sent, per server: how each ended (ok, error, dropped — the
/// broker stopped reading: a deadline, a satisfied LIMIT, a cancel) and how long it took,
/// from sending to the last batch. One per process: the servers are found by the routing
/// wherever it runs, and `/metrics` reads them all.
#[derive(Debug, Default)]
pub struct FanOutMetrics {
    servers: Mutex<BTreeMap<String, ServerFigures>>,
}

/// One server's fragments at the moment of a scrape.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerFigures {
    pub ok: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Counts per [`LATENCY_BUCKETS`] bound then `+Inf`; cumulative in [`FanOutMetrics::snapshot`].
    pub latency_buckets: Vec<u64>,
    pub latency_sum_seconds: f64,
}

/// How a fragment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentEnd {
    Ok,
    Error,
    Dropped,
}

static FAN_OUT: std::sync::LazyLock<FanOutMetrics> = std::sync::LazyLock::new(FanOutMetrics::default);

impl FanOutMetrics {
    pub fn global() -> &'static FanOutMetrics {
        &FAN_OUT
    }

    pub fn observe(&self, server: &str, elapsed: Duration, end: FragmentEnd) {
        let mut servers = self.servers.lock();
        let figures = servers.entry(server.to_string()).or_insert_with(|| ServerFigures {
            latency_buckets: vec![0; LATENCY_BUCKETS.len() + 1],
            ..ServerFigures::default()
        });
        match end {
            FragmentEnd::Ok => figures.ok += 1,
            FragmentEnd::Error => figures.errors += 1,
            FragmentEnd::Dropped => figures.dropped += 1,
        }
        figures.latency_buckets[bucket_of(elapsed)] += 1;
        figures.latency_sum_seconds += elapsed.as_secs_f64();
    }

    /// Every server seen, by address, with cumulative buckets.
    pub fn snapshot(&self) -> Vec<(String, ServerFigures)> {
        self.servers
            .lock()
            .iter()
            .map(|(server, figures)| {
                let mut figures = figures.clone();
                figures.latency_buckets = cumulative(figures.latency_buckets);
                (server.clone(), figures)
            })
            .collect()
    }
}

/// A fragment in flight: ends as dropped unless told otherwise.
#[derive(Debug)]
pub struct FragmentTimer {
    server: String,
    started: Instant,
    end: Option<FragmentEnd>,
}

impl FragmentTimer {
    pub fn start(server: &str) -> FragmentTimer {
        FragmentTimer { server: server.to_string(), started: Instant::now(), end: None }
    }

    pub fn end(&mut self, end: FragmentEnd) {
        self.end.get_or_insert(end);
    }
}

impl Drop for FragmentTimer {
    fn drop(&mut self) {
        let end = self.end.unwrap_or(FragmentEnd::Dropped);
        FanOutMetrics::global().observe(&self.server, self.started.elapsed(), end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_running_statement_is_cancelled_by_its_id() {
        let metrics = QueryMetrics::new(None);
        let record = metrics.start(Door::Http, "alice", "SELECT 1");
        let cancelled = record.cancelled();
        let other = metrics.start(Door::Http, "bob", "SELECT 2");
        let not_cancelled = other.cancelled();
        assert!(metrics.cancel(record.id()));
        tokio::time::timeout(Duration::from_secs(5), cancelled).await.expect("the statement hears its cancel");
        let waited = tokio::time::timeout(Duration::from_millis(50), not_cancelled).await;
        assert!(waited.is_err(), "another statement is not cancelled");
        assert!(!metrics.cancel(999));
    }

    #[test]
    fn statements_are_counted_by_outcome_with_latency_and_rows() {
        let metrics = QueryMetrics::new(Some(Duration::ZERO));
        {
            let mut ok = metrics.start(Door::Postgres, "alice", "SELECT 1");
            ok.add_rows(3);
            ok.succeeded();
            let mut bad = metrics.start(Door::Postgres, "bob", "SELECT * FROM missing");
            bad.failed("42P01");
            bad.failed("XX000");
            let _gone = metrics.start(Door::Postgres, "carol", "SELECT 2");
            let running = metrics.snapshot().into_iter().find(|d| d.door == Door::Postgres).unwrap().running;
            assert_eq!(running, 3);
            let listed: Vec<_> = metrics.running().into_iter().map(|s| (s.id, s.user)).collect();
            assert_eq!(listed, [(1, "alice".to_string()), (2, "bob".to_string()), (3, "carol".to_string())]);
        }
        assert!(metrics.running().is_empty());
        assert!(!metrics.cancel(1), "a finished statement cannot be cancelled");
        let postgres = metrics.snapshot().into_iter().find(|d| d.door == Door::Postgres).unwrap();
        assert_eq!((postgres.succeeded, postgres.abandoned, postgres.rows, postgres.running), (1, 1, 3, 0));
        assert_eq!(postgres.failed, BTreeMap::from([("42P01".to_string(), 1)]));
        assert_eq!(postgres.latency_buckets.len(), LATENCY_BUCKETS.len() + 1);
        assert_eq!(*postgres.latency_buckets.last().unwrap(), 3);
        assert!(postgres.latency_buckets.windows(2).all(|w| w[0] <= w[1]));
        let http = metrics.snapshot().into_iter().find(|d| d.door == Door::Http).unwrap();
        assert_eq!(*http.latency_buckets.last().unwrap(), 0);
    }

    #[test]
    fn fragments_are_counted_per_server_by_how_they_end() {
        let fan_out = FanOutMetrics::default();
        fan_out.observe("10.0.0.1:8090", Duration::from_millis(3), FragmentEnd::Ok);
        fan_out.observe("10.0.0.1:8090", Duration::from_secs(20), FragmentEnd::Dropped);
        fan_out.observe("10.0.0.2:8090", Duration::from_millis(1), FragmentEnd::Error);
        let snapshot = fan_out.snapshot();
        let (server, first) = &snapshot[0];
        assert_eq!((server.as_str(), first.ok, first.errors, first.dropped), ("10.0.0.1:8090", 1, 0, 1));
        assert_eq!(*first.latency_buckets.last().unwrap(), 2);
        assert_eq!(first.latency_buckets[LATENCY_BUCKETS.len() - 1], 1, "20 s is past the last bound");
        assert_eq!(snapshot[1].1.errors, 1);
    }
}
