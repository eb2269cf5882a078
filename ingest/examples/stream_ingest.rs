//! What one partition's consumer costs per message, without Kafka: decode → transforms →
//! consuming segment, for ~200-byte JSON and Avro clickstream events with an inverted, a
//! sorted and a range index (the quickstart table); then memory per consuming row and the
//! time to seal a million rows.
//!
//! `cargo run --release -p cuvee-ingest --example stream_ingest [rows]`
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::conform::{Conformed, Conformer};
use cuvee_ingest::message::{MessageDecoder, MessageMetadata};
use cuvee_segments::{MutableSegment, SegmentIdentity};
use std::sync::Arc;
use std::time::Instant;

#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static HEAP: counting::Counting = counting::Counting;

const AVRO_SCHEMA: &str = r#"{"type": "record", "name": "click", "fields": [
  {"name": "user_id", "type": "long"}, {"name": "session_id", "type": "string"},
  {"name": "country", "type": "string"}, {"name": "device", "type": "string"},
  {"name": "event_type", "type": "string"}, {"name": "page", "type": "string"},
  {"name": "tags", "type": {"type": "array", "items": "string"}},
  {"name": "latency_ms", "type": "int"}, {"name": "revenue", "type": "double"}, {"name": "ts", "type": "long"}]}"#;

fn table() -> Table {
    let schema = Schema::from_json(include_str!("../../quickstart/clickstream_schema.json")).expect("schema");
    let config = TableConfigJson::from_json(
        &include_str!("../../quickstart/clickstream_realtime_table_config.json").replace("${KAFKA}", "127.0.0.1:9092"),
    )
    .expect("config");
    Table::new(schema, config).expect("table")
}

fn events(n: usize) -> Vec<serde_json::Value> {
    let countries = ["US", "IN", "BR", "DE", "FR", "GB", "JP", "ID", "MX", "NG", "CA", "KR"];
    let kinds = ["page_view", "click", "add_to_cart", "purchase"];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    (0..n)
        .map(|i| {
            let user = (next() % 1_000_000) as i64;
            let device = ["mobile", "desktop", "tablet"][(next() % 3) as usize];
            serde_json::json!({
                "user_id": user, "session_id": format!("s-{user}-{}", i / 50),
                "country": countries[(next() % 12) as usize], "device": device,
                "event_type": kinds[(next() % 4) as usize], "page": format!("/p/{}", next() % 10_000),
                "tags": if i % 3 == 0 { vec!["sale", "new"] } else { vec![] },
                "latency_ms": (next() % 500) as i64, "revenue": (next() % 10_000) as f64 / 100.0, "ts": 1_764_000_000_000i64 + i as i64,
            })
        })
        .collect()
}

fn ingest(label: &str, table: &Table, decoder: &MessageDecoder, payloads: &[Vec<u8>]) -> Arc<MutableSegment> {
    let conformer = Conformer::new(table).expect("conformer");
    let segment = Arc::new(MutableSegment::new(table, "bench"));
    let started = Instant::now();
    for (offset, payload) in payloads.iter().enumerate() {
        let record = decoder
            .decode(payload, &MessageMetadata { key: None, offset: offset as i64, timestamp_ms: None })
            .expect("decodes");
        match conformer.conform(record).expect("conforms") {
            Conformed::Row(row, _) => {
                segment.append(&row).expect("appends");
            }
            Conformed::Filtered => {}
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let bytes: usize = payloads.iter().map(Vec::len).sum();
    println!(
        "{label:<5} {:>9} msgs, {:>5.0} B/msg: {:>9.0} rows/s on one thread ({:.2} s)",
        payloads.len(),
        bytes as f64 / payloads.len() as f64,
        payloads.len() as f64 / seconds,
        seconds
    );
    segment
}

fn main() {
    let rows: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let table = table();
    let events = events(rows);
    let json: Vec<Vec<u8>> = events.iter().map(|e| serde_json::to_vec(e).expect("json")).collect();
    let json_decoder = MessageDecoder::new(&cuvee_catalog::Decoder::Json, &table.schema, false).expect("decoder");
    let before = counting::live();
    let segment = ingest("JSON", &table, &json_decoder, &json);
    let held = counting::live().saturating_sub(before);

    let avro_schema = apache_avro::Schema::parse_str(AVRO_SCHEMA).expect("avro schema");
    let avro: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            let value = apache_avro::to_value(e).expect("to avro value").resolve(&avro_schema).expect("resolves");
            apache_avro::to_avro_datum(&avro_schema, value).expect("datum")
        })
        .collect();
    let avro_decoder =
        MessageDecoder::new(&cuvee_catalog::Decoder::Avro { schema: AVRO_SCHEMA.to_string() }, &table.schema, false)
            .expect("decoder");
    ingest("Avro", &table, &avro_decoder, &avro);

    let memory = segment.memory_bytes();
    println!(
        "consuming segment: {memory} bytes for {rows} rows = {:.1} B/row by its account; heap held {:.1} B/row",
        memory as f64 / rows as f64,
        held as f64 / rows as f64
    );
    // The best of three seals of the same rows: one seal varies by a third run to run here.
    let mut seconds = f64::MAX;
    let mut bytes = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        bytes = segment.seal(&SegmentIdentity { name: "bench".into(), ..Default::default() }).expect("seals");
        seconds = seconds.min(started.elapsed().as_secs_f64());
    }
    println!(
        "seal (sort on user_id, dictionaries, inverted/range/bloom indexes; best of 3): {:.2} s = {:.2} s per million rows; sealed {} bytes = {:.1} B/row",
        seconds,
        seconds * 1e6 / rows as f64,
        bytes.len(),
        bytes.len() as f64 / rows as f64
    );
}
