//! The query mix S1–S9, each with a fixed list of parameter draws (seeded, drawn from the
//! same distributions as the data), so no system can answer from a result it memoised and
//! every system answers exactly the same statements.
//!
//! The SQL is the common subset of cuvee (Pinot's dialect), DuckDB, ClickHouse and
//! DataFusion. The one function that must differ, the percentile of S6, is written in
//! Pinot's form (`PERCENTILE(col, 99)`: the sorted value at index ⌊n · p / 100⌋) and
//! rewritten per system by the harness (benches/bench.py).

use crate::events::{Rng, Vocabulary, START_MS, STEP_US};
pub struct Query {
    /// `S1`, `S3 1%`, …
    pub id: String,
    pub what: String,
    /// Part of the S1/S2/S3 mix the QPS runs use.
    pub in_mix: bool,
    pub sql: Vec<String>,
}

impl Query {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "id": self.id, "what": self.what, "in_mix": self.in_mix, "sql": self.sql })
    }
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

pub fn queries(vocabulary: &Vocabulary, rows: u64, draws: usize) -> Vec<Query> {
    let mut rng = Rng::new(0x5EED);
    let last_ts = START_MS + (rows as i64 * STEP_US) / 1000;
    let span = last_ts - START_MS;
    let user = |rng: &mut Rng| vocabulary.user(rng);
    let mut all = Vec::new();
    let mut add = |id: &str, what: &str, in_mix: bool, sql: Vec<String>| {
        all.push(Query { id: id.into(), what: what.into(), in_mix, sql })
    };

    add(
        "S1",
        "one user's count and revenue (inverted index)",
        true,
        (0..draws)
            .map(|_| format!("SELECT COUNT(*), SUM(revenue) FROM events WHERE user_id = {}", user(&mut rng)))
            .collect(),
    );
    add("S2", "one user's last day by hour", true, (0..draws).map(|_| {
        let since = last_ts - DAY - rng.below(HOUR as u64) as i64;
        format!("SELECT ts - ts % 3600000 AS hour_ms, COUNT(*), SUM(revenue) FROM events WHERE user_id = {} AND ts >= {since} GROUP BY ts - ts % 3600000 ORDER BY hour_ms LIMIT 1000", user(&mut rng))
    }).collect());
    for (label, fraction) in [("0.1%", 0.001), ("1%", 0.01), ("10%", 0.1)] {
        let width = (span as f64 * fraction) as i64;
        add(
            &format!("S3 {label}"),
            &format!("time range over {label} of the rows (sorted column)"),
            label == "1%",
            (0..draws)
                .map(|_| {
                    let from = START_MS + rng.below((span - width).max(1) as u64) as i64;
                    format!("SELECT COUNT(*), AVG(latency_ms) FROM events WHERE ts BETWEEN {from} AND {}", from + width)
                })
                .collect(),
        );
    }
    add("S4", "one event type in five countries, top 10 pages", false, (0..draws).map(|_| {
        let kind = &vocabulary.event_type_names[rng.below(20) as usize];
        let countries: Vec<String> = (0..5).map(|_| format!("'{}'", vocabulary.country_names[rng.below(40) as usize])).collect();
        format!("SELECT page, COUNT(*) FROM events WHERE event_type = '{kind}' AND country IN ({}) GROUP BY page ORDER BY COUNT(*) DESC, page LIMIT 10", countries.join(", "))
    }).collect());
    for (label, window) in [("hour", HOUR), ("day", DAY)] {
        add(
            &format!("S5 {label}"),
            &format!("distinct users over the last {label}"),
            false,
            (0..draws)
                .map(|_| {
                    let since = last_ts - window - rng.below((window / 10) as u64) as i64;
                    format!("SELECT COUNT(DISTINCT user_id) FROM events WHERE ts >= {since}")
                })
                .collect(),
        );
    }
    add("S6", "99th percentile of latency by device", false, (0..draws).map(|_| {
        let since = START_MS + rng.below((span / 100).max(1) as u64) as i64;
        format!("SELECT device, PERCENTILE(latency_ms, 99) FROM events WHERE ts >= {since} GROUP BY device ORDER BY device LIMIT 100")
    }).collect());
    add(
        "S7",
        "full scan: SUM, AVG, MAX of three columns",
        false,
        vec!["SELECT SUM(revenue), AVG(latency_ms), MAX(ts) FROM events".to_string()],
    );
    add("S8", "group by country, device (all groups)", false, vec![
        "SELECT country, device, COUNT(*) FROM events GROUP BY country, device ORDER BY country, device LIMIT 10000".to_string(),
    ]);
    add("S9", "one user's latest 50 events", false, (0..draws).map(|_| {
        format!("SELECT ts, session_id, event_type, page, revenue FROM events WHERE user_id = {} ORDER BY ts DESC, session_id, page, event_type, revenue LIMIT 50", user(&mut rng))
    }).collect());
    all
}
