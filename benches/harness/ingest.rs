//! The consumer's path for the benchmark's events, one core, no Kafka: decode (JSON and
//! Avro), conform to the schema, append to a consuming segment; then its memory per row and
//! the seal. And the imported table's bytes per row by index, next to the same rows as
//! Parquet+zstd (the generator's files).

use crate::{events, Error, Flags};
use cuvee_catalog::{Decoder, Schema, Table, TableConfigJson};
use cuvee_ingest::conform::{Conformed, Conformer};
use cuvee_ingest::message::{MessageDecoder, MessageMetadata};
use cuvee_segments::format::SectionKind;
use cuvee_segments::{MutableSegment, SegmentIdentity, TableStore};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

const AVRO_SCHEMA: &str = r#"{"type": "record", "name": "event", "fields": [
  {"name": "ts", "type": "long"}, {"name": "user_id", "type": "long"}, {"name": "session_id", "type": "string"},
  {"name": "country", "type": "string"}, {"name": "device", "type": "string"},
  {"name": "event_type", "type": "string"}, {"name": "page", "type": "string"},
  {"name": "latency_ms", "type": "int"}, {"name": "revenue", "type": "double"},
  {"name": "tags", "type": {"type": "array", "items": "string"}}]}"#;

fn table(realtime: bool) -> Result<Table, Error> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness");
    let schema = Schema::from_json(&std::fs::read_to_string(here.join("events_schema.json"))?)?;
    let config = if realtime { "events_realtime_table_config.json" } else { "events_offline_table_config.json" };
    let config = std::fs::read_to_string(here.join(config))?
        .replace("${KAFKA}", "127.0.0.1:9092")
        .replace("${TOPIC}", "events")
        .replace("${FLUSH_ROWS}", "1000000");
    Ok(Table::new(schema, TableConfigJson::from_json(&config)?)?)
}

/// Rows/s of decode + conform + append on this thread; the segment it filled.
fn consume(table: &Table, decoder: &MessageDecoder, payloads: &[Vec<u8>]) -> Result<(f64, Arc<MutableSegment>), Error> {
    let conformer = Conformer::new(table)?;
    let segment = Arc::new(MutableSegment::new(table, "bench"));
    let started = Instant::now();
    for (offset, payload) in payloads.iter().enumerate() {
        let metadata = MessageMetadata { key: None, offset: offset as i64, timestamp_ms: None };
        if let Conformed::Row(row, _) = decoder.decode_row(payload, &metadata, &conformer)? {
            segment.append(&row)?;
        }
    }
    Ok((payloads.len() as f64 / started.elapsed().as_secs_f64(), segment))
}

pub fn run(flags: &Flags) -> Result<(), Error> {
    let rows: u64 = flags.number("rows", Some(1_000_000))?;
    let vocabulary = crate::vocabulary();
    let events = events::events(&vocabulary, 0, rows);
    let values: Vec<serde_json::Value> = events.iter().map(|e| events::json(&vocabulary, e)).collect();
    drop(events);
    let realtime = table(true)?;
    let json: Vec<Vec<u8>> = values.iter().map(serde_json::to_vec).collect::<Result<_, _>>()?;
    let json_bytes = json.iter().map(Vec::len).sum::<usize>() as f64 / rows as f64;
    let (json_rate, segment) =
        consume(&realtime, &MessageDecoder::new(&Decoder::Json, &realtime.schema, false)?, &json)?;
    drop(json);
    let avro_schema = apache_avro::Schema::parse_str(AVRO_SCHEMA)?;
    let avro: Vec<Vec<u8>> = values
        .iter()
        .map(|v| -> Result<Vec<u8>, Error> {
            Ok(apache_avro::to_avro_datum(&avro_schema, apache_avro::to_value(v)?.resolve(&avro_schema)?)?)
        })
        .collect::<Result<_, _>>()?;
    let avro_bytes = avro.iter().map(Vec::len).sum::<usize>() as f64 / rows as f64;
    let (avro_rate, _) = consume(
        &realtime,
        &MessageDecoder::new(&Decoder::Avro { schema: AVRO_SCHEMA.to_string() }, &realtime.schema, false)?,
        &avro,
    )?;
    drop(avro);
    let consuming_bytes = segment.memory_bytes() as f64 / rows as f64;
    let per_row = |bytes: usize| (bytes as f64 / rows as f64 * 10.0).round() / 10.0;
    let consuming_by_column: serde_json::Map<String, serde_json::Value> = segment
        .memory_by_column()
        .into_iter()
        .map(|(name, m)| {
            let v = serde_json::json!({"dictionary": per_row(m.dictionary), "values": per_row(m.values), "indexes": per_row(m.indexes)});
            (name, v)
        })
        .collect();
    let started = Instant::now();
    let sealed = segment.seal(&SegmentIdentity { name: "bench".into(), ..Default::default() })?;
    let seal_seconds_per_million = started.elapsed().as_secs_f64() * 1e6 / rows as f64;

    let mut report = serde_json::json!({
        "rows": rows,
        "json_bytes_per_message": json_bytes, "json_rows_per_second": json_rate,
        "avro_bytes_per_message": avro_bytes, "avro_rows_per_second": avro_rate,
        "consuming_bytes_per_row": consuming_bytes,
        "consuming_bytes_per_row_by_column": consuming_by_column,
        "seal_seconds_per_million_rows": seal_seconds_per_million,
        "realtime_sealed_bytes_per_row": sealed.len() as f64 / rows as f64,
    });
    if let (Ok(data_dir), Ok(parquet_dir)) = (flags.path("data-dir"), flags.path("parquet-dir")) {
        report["imported"] = imported_sizes(&data_dir, &parquet_dir)?;
    }
    std::fs::write(flags.path("out")?, report.to_string())?;
    println!("{report}");
    Ok(())
}

/// The imported table's bytes per row, in total and by index kind, and the Parquet files'.
fn imported_sizes(data_dir: &Path, parquet_dir: &Path) -> Result<serde_json::Value, Error> {
    let offline = table(false)?;
    let store = TableStore::open_or_create(&data_dir.join("tables").join(offline.name()), &offline)?;
    let (segments, errors) = store.open_segments();
    if let Some(e) = errors.first() {
        return Err(format!("reading the imported segments: {e}").into());
    }
    let rows: f64 = segments.iter().map(|s| s.num_docs() as f64).sum();
    let total: f64 = segments.iter().map(|s| s.size_bytes() as f64).sum();
    // By section kind, and by the codec the writer chose where it had a choice.
    let mut by_kind: BTreeMap<String, f64> = BTreeMap::new();
    for segment in &segments {
        for column in &segment.metadata().columns {
            let reader = segment.column(&column.name)?;
            for (kind, bytes) in &column.bytes {
                let codec = SectionKind::parse(kind).and_then(|k| reader.codec(k));
                let label = codec.map_or_else(|| kind.clone(), |codec| format!("{kind} ({codec})"));
                *by_kind.entry(label).or_default() += *bytes as f64;
            }
        }
    }
    let mut parquet = 0.0;
    for entry in std::fs::read_dir(parquet_dir)? {
        parquet += entry?.metadata()?.len() as f64;
    }
    let by_kind: serde_json::Map<String, serde_json::Value> =
        by_kind.into_iter().map(|(k, b)| (k, serde_json::json!(b / rows))).collect();
    Ok(
        serde_json::json!({ "rows": rows, "bytes_per_row": total / rows, "parquet_zstd_bytes_per_row": parquet / rows, "by_index": by_kind }),
    )
}
