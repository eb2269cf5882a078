//! Filter and decode latency on a consuming segment of a million clickstream rows: an
//! inverted user id (mostly light ids), an inverted country (heavy ids), a 1 % time range,
//! a latency range without an index, and decoding 10,000 docs. Median of 31 runs each.
//! `cargo run --release -p cuvee-segments --example consuming_queries [ROWS]`
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::{CompareOp, DecodeOptions, EvalOptions, FieldValue, Leaf, MutableSegment, Predicate};
use std::sync::Arc;
use std::time::Instant;

fn main() {
    let rows: usize = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(1_000_000);
    let schema = Schema::from_json(
        r#"{"schemaName":"events","dimensionFieldSpecs":[{"name":"user","dataType":"LONG"},{"name":"country","dataType":"STRING"},
              {"name":"session","dataType":"STRING"}],
            "metricFieldSpecs":[{"name":"latency","dataType":"INT"}],
            "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#,
    )
    .expect("schema");
    let config = TableConfigJson::from_json(
        r#"{"tableName":"events","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["user","country"],"rangeIndexColumns":["latency"]}}"#,
    )
    .expect("config");
    let table = Table::new(schema, config).expect("table");
    let segment = Arc::new(MutableSegment::new(&table, "events__0__0"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        segment
            .append(&[
                FieldValue::Single(Value::Long((x % 500_000) as i64)),
                FieldValue::Single(Value::String(format!("c{}", (x >> 20) % 200))),
                FieldValue::Single(Value::String(format!("{:016x}", (x >> 8) % (rows as u64 / 2)))),
                FieldValue::Single(Value::Int(((x >> 32) % 5_000) as i32)),
                FieldValue::Single(Value::Long(1_700_000_000_000 + i as i64)),
            ])
            .expect("appends");
    }
    let snapshot = segment.snapshot();
    let leaf = |column: &str, leaf: Leaf| Predicate::Leaf { column: column.into(), leaf, negated: false };
    let first_ts = 1_700_000_000_000i64 + rows as i64 / 2;
    let cases = [
        ("user = one id (light)", leaf("user", Leaf::Compare(CompareOp::Eq, Value::Long(4_242)))),
        ("country = one of 200 (heavy)", leaf("country", Leaf::Compare(CompareOp::Eq, Value::String("c7".into())))),
        (
            "ts in 1 % of the rows (raw, zones)",
            leaf("ts", Leaf::Between(Value::Long(first_ts), Value::Long(first_ts + rows as i64 / 100))),
        ),
        ("latency < 50 (1 %, ids)", leaf("latency", Leaf::Compare(CompareOp::Lt, Value::Int(50)))),
    ];
    let median = |f: &mut dyn FnMut()| {
        let mut times: Vec<f64> = (0..31)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[times.len() / 2]
    };
    println!("{rows} rows, {:.1} B/row", segment.memory_bytes() as f64 / rows as f64);
    for (name, predicate) in &cases {
        let mut matched = 0;
        let ms = median(&mut || {
            matched = snapshot.evaluate(predicate, EvalOptions::default()).expect("evaluates").docs.len()
        });
        println!("{name:<36} {ms:>8.3} ms  ({matched} docs)");
    }
    let docs: Vec<u32> = (0..rows as u32).step_by(100).collect();
    let ms = median(&mut || {
        snapshot.decode(&["ts", "country", "session", "latency"], &docs, DecodeOptions::default()).expect("decodes");
    });
    println!("{:<36} {ms:>8.3} ms", format!("decode 4 columns of {} docs", docs.len()));
}
