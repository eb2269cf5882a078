//! What an upsert partition's key map costs: bytes per key at 10 M keys for a LONG key held
//! exactly, a STRING key hashed (MURMUR3) and a composite key, and the time a restart takes
//! to rebuild the map from the published segments and their snapshot.
//! `cargo run --release -p cuvee-ingest --example upsert_keys [KEYS]`
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_ingest::realtime::keyed::Keyed;
use cuvee_segments::{FieldValue, ImmutableSegment, MutableSegment, SegmentIdentity};
use std::sync::Arc;
use std::time::Instant;

#[path = "common/counting.rs"]
mod counting;

/// The key map's own account of its size is checked against what a rebuild really holds.
#[global_allocator]
static HEAP: counting::Counting = counting::Counting;

const SCHEMA: &str = r#"{"schemaName":"keys",
  "dimensionFieldSpecs":[{"name":"id","dataType":"LONG"},{"name":"name","dataType":"STRING"}],
  "metricFieldSpecs":[{"name":"value","dataType":"LONG"}],
  "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}],
  "primaryKeyColumns":[KEYS]}"#;

const SEGMENT_ROWS: u64 = 1_000_000;

fn main() {
    let keys: u64 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(10_000_000);
    // A fifth of the keys are updated once more, in the last segments.
    let rows = keys + keys / 5;
    println!("| key | hash | keys | rows | key map (B/key) | heap held by a rebuild (B/key) | ingest (rows/s) | restart: rebuild (s) |");
    println!("|---|---|---|---|---|---|---|---|");
    for (label, key_columns, hash) in
        [("LONG", r#""id""#, "NONE"), ("STRING", r#""name""#, "MURMUR3"), ("LONG + STRING", r#""id","name""#, "NONE")]
    {
        let schema = Schema::from_json(&SCHEMA.replace("KEYS", key_columns)).unwrap();
        let config = format!(
            r#"{{"tableName":"keys","tableType":"REALTIME","segmentsConfig":{{"timeColumnName":"ts"}},
              "tableIndexConfig":{{"streamConfigs":{{"streamType":"kafka","stream.kafka.topic.name":"t",
              "stream.kafka.broker.list":"localhost:9092"}}}},
              "upsertConfig":{{"mode":"FULL","hashFunction":"{hash}"}}}}"#
        );
        let table = Table::new(schema, TableConfigJson::from_json(&config).unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let keyed = Keyed::new(&table, 0, dir.path()).unwrap();
        let mut published = Vec::new();
        let mut open = Arc::new(MutableSegment::new(&table, "keys__0__0__20261204T0000Z"));
        keyed.open(&open);
        let started = Instant::now();
        for i in 0..rows {
            let id = i % keys;
            let row = vec![
                FieldValue::Single(Value::Long(id as i64)),
                FieldValue::Single(Value::String(format!("user-{id:012}"))),
                FieldValue::Single(Value::Long(i as i64)),
                FieldValue::Single(Value::Long(i as i64)),
            ];
            keyed.append(&open, row).unwrap();
            if (i + 1) % SEGMENT_ROWS == 0 || i + 1 == rows {
                let name = open.name().to_string();
                let identity = SegmentIdentity {
                    name: name.clone(),
                    partition: Some(0),
                    start_offset: Some((i + 1 - u64::from(open.num_docs())) as i64),
                    end_offset: Some(i as i64 + 1),
                    creation_time_ms: 0,
                };
                let (bytes, order) = open.seal_ordered(&identity).unwrap();
                let path = dir.path().join(format!("{name}.cvs"));
                std::fs::write(&path, bytes).unwrap();
                let sealed = Arc::new(ImmutableSegment::open(&path).unwrap());
                keyed.write_snapshot(&name, &name, order.as_deref()).unwrap();
                keyed.published(&name, &sealed, order.as_deref(), || {});
                published.push(sealed);
                open = Arc::new(MutableSegment::new(&table, &format!("keys__0__{}__20261204T0000Z", published.len())));
                keyed.open(&open);
            }
        }
        let ingest = rows as f64 / started.elapsed().as_secs_f64();
        let per_key = keyed.key_map_bytes() as f64 / keyed.key_count() as f64;
        assert_eq!(keyed.key_count() as u64, keys);
        // A restart: segments reopened, the map rebuilt from the last snapshot.
        let reopened: Vec<Arc<ImmutableSegment>> =
            published.iter().map(|s| Arc::new(ImmutableSegment::open(s.path()).unwrap())).collect();
        // The segments' own pages are mapped files, not heap: what a rebuild leaves on the
        // heap is the key map and the valid-docs bitmaps.
        drop(keyed);
        let before = counting::live();
        let restarted = Keyed::new(&table, 0, dir.path()).unwrap();
        let started = Instant::now();
        restarted.rebuild(&reopened, &[]);
        let rebuild = started.elapsed().as_secs_f64();
        let held = counting::live().saturating_sub(before) as f64 / keys as f64;
        assert_eq!(restarted.key_count() as u64, keys);
        let valid: u64 = reopened.iter().map(|s| s.valid_docs().map_or(0, |v| v.len())).sum();
        assert_eq!(valid, keys);
        println!("| {label} | {hash} | {keys} | {rows} | {per_key:.1} | {held:.1} | {ingest:.0} | {rebuild:.2} |");
    }
}
