//! Memory per row of a consuming (mutable) segment, against the sealed segment's bytes per row.
//! `cargo run --release -p cuvee-segments --example mutable_memory [ROWS]`
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::{FieldValue, MutableSegment, SegmentIdentity};
use std::sync::Arc;

fn main() {
    let rows: usize = std::env::args().nth(1).and_then(|r| r.parse().ok()).unwrap_or(1_000_000);
    let schema = Schema::from_json(
        r#"{"schemaName":"events","dimensionFieldSpecs":[{"name":"user","dataType":"INT"},{"name":"country","dataType":"STRING"},
              {"name":"tags","dataType":"STRING","singleValueField":false}],
            "metricFieldSpecs":[{"name":"latency","dataType":"LONG"}],
            "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(r#"{"tableName":"events","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["user","country"]}}"#).unwrap();
    let table = Table::new(schema, config).unwrap();
    let segment = Arc::new(MutableSegment::new(&table, "events__0__0"));
    let started = std::time::Instant::now();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let tags = (0..(x % 3)).map(|t| Value::String(format!("t{}", (x >> (8 * t)) % 100))).collect();
        segment
            .append(&[
                FieldValue::Single(Value::Int((x % 100_000) as i32)),
                FieldValue::Single(Value::String(format!("c{}", (x >> 20) % 200))),
                FieldValue::Multi(tags),
                FieldValue::Single(Value::Long(((x >> 32) % 5_000) as i64)),
                FieldValue::Single(Value::Long(1_700_000_000_000 + i as i64)),
            ])
            .unwrap();
    }
    let append = started.elapsed();
    let memory = segment.memory_bytes();
    let sealed = segment.seal(&SegmentIdentity { name: "events__0__0".into(), ..Default::default() }).unwrap();
    println!("rows                      {rows}");
    println!("append                    {:.0} rows/s", rows as f64 / append.as_secs_f64());
    println!("mutable memory            {memory} bytes, {:.1} bytes/row", memory as f64 / rows as f64);
    println!("sealed segment            {} bytes, {:.1} bytes/row", sealed.len(), sealed.len() as f64 / rows as f64);
}
