// The fuzz targets' bodies (see lib.rs). Included by lib.rs and by the main workspace's
// tests/fuzz_corpora.rs, so it names crates, never `crate::`.

use cuvee_catalog::{Decoder, Schema, Table, TableConfigJson, Value};
use cuvee_ingest::conform::Conformer;
use cuvee_ingest::{ImportOptions, MessageDecoder, MessageMetadata};
use cuvee_segments::{DecodeOptions, EvalOptions, ImmutableSegment, Predicate};

/// A segment file: open (footer, sections, every column's structure), then decode the
/// first docs of every column and filter every column by equality and by a pattern, which
/// reach the scans of each forward index and the indexes' look-ups. (Under `cfg(fuzzing)`
/// the checksums are not compared, so the structure checks behind them are reached.)
pub fn segment_open(data: &[u8]) {
    let Ok(segment) = ImmutableSegment::from_bytes("fuzz.cvs".into(), data.to_vec()) else { return };
    let docs: Vec<u32> = (0..segment.num_docs().min(512)).collect();
    let names: Vec<String> = segment.schema().columns().iter().map(|c| c.name.clone()).collect();
    for name in &names {
        let _ = segment.decode(&[name.as_str()], &docs, DecodeOptions { null_handling: true });
        // A hex id (a string literal is coerced to the column's type, or refused).
        let equal = Predicate::eq(name, Value::String("0123456789abcdef".into()));
        for predicate in [equal, Predicate::like(name, "%a%")] {
            let _ = segment.evaluate(&predicate, EvalOptions { null_handling: true });
        }
    }
}

const FUZZ_SCHEMA: &str = r#"{"schemaName":"fuzz",
  "dimensionFieldSpecs":[{"name":"id","dataType":"INT"},{"name":"tags","dataType":"STRING","singleValueField":false},
    {"name":"blob","dataType":"BYTES"},{"name":"doc","dataType":"JSON"}],
  "metricFieldSpecs":[{"name":"amount","dataType":"DOUBLE"},{"name":"big","dataType":"BIG_DECIMAL"}],
  "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#;

const FUZZ_AVRO: &str = r#"{"type":"record","name":"r","fields":[{"name":"id","type":"int"},
  {"name":"tags","type":{"type":"array","items":"string"}},{"name":"blob","type":["null","bytes"]},
  {"name":"amount","type":"double"},{"name":"ts","type":"long"},{"name":"doc","type":{"type":"map","values":"string"}}]}"#;

/// A Kafka message through each decoder (the first byte picks JSON, Avro or CSV), then
/// the table's conforming step (types, transforms, the filter) as the consumer runs it.
/// For a table that takes its fields as they are, the message also goes the direct way
/// (JSON and Avro straight into a row), which must give what the general way gives.
pub fn message_decoders(data: &[u8]) {
    let Some((&pick, payload)) = data.split_first() else { return };
    let Ok(schema) = Schema::from_json(FUZZ_SCHEMA) else { return };
    let decoder = match pick % 3 {
        0 => Decoder::Json,
        1 => Decoder::Avro { schema: FUZZ_AVRO.to_string() },
        _ => Decoder::Csv { delimiter: ',', header: None, multi_value_delimiter: ';' },
    };
    let Ok(decoder) = MessageDecoder::new(&decoder, &schema, pick & 4 != 0) else { return };
    let metadata = MessageMetadata { key: Some(vec![1, 2]), offset: 7, timestamp_ms: Some(1) };
    let plain = r#"{"tableName":"fuzz","tableType":"REALTIME","segmentsConfig":{"timeColumnName":"ts"}}"#;
    if let (Ok(config), Ok(schema)) = (TableConfigJson::from_json(plain), Schema::from_json(FUZZ_SCHEMA)) {
        if let Some(conformer) = Table::new(schema, config).ok().and_then(|t| Conformer::new(&t).ok()) {
            let direct = outcome(decoder.decode_row(payload, &metadata, &conformer));
            let general = outcome(decoder.decode(payload, &metadata).and_then(|r| conformer.conform(r)));
            assert_eq!(direct, general, "the direct and the general path disagree");
        }
    }
    let Ok(record) = decoder.decode(payload, &metadata) else { return };
    let config = r#"{"tableName":"fuzz","tableType":"REALTIME","segmentsConfig":{"timeColumnName":"ts"},
      "ingestionConfig":{"transformConfigs":[{"columnName":"amount","transformFunction":"plus(amount, 1)"}],
        "filterConfig":{"filterFunction":"id = 13"}}}"#;
    let (Ok(config), Ok(schema)) = (TableConfigJson::from_json(config), Schema::from_json(FUZZ_SCHEMA)) else { return };
    let Ok(table) = Table::new(schema, config) else { return };
    if let Ok(conformer) = Conformer::new(&table) {
        let _ = conformer.conform(record);
    }
}

/// A conformed message as text (a NaN is not equal to itself, its text is).
fn outcome(conformed: Result<cuvee_ingest::Conformed, cuvee_ingest::Rejected>) -> String {
    match conformed {
        Ok(cuvee_ingest::Conformed::Row(row, time)) => format!("{row:?} {time:?}"),
        Ok(cuvee_ingest::Conformed::Filtered) => "filtered".into(),
        Err(e) => e.to_string(),
    }
}

/// A file to import: the first byte's bit 0 picks Parquet (0) or JSON (1), bit 1 the
/// general path instead of the direct one (Parquet a column at a time, JSON straight into
/// rows); the rest is the file, imported into a fresh table folder as `cuvee import` and
/// `ingestFromFile` do, in segments of 64 rows at most.
pub fn file_import(data: &[u8]) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Some((&pick, file)) = data.split_first() else { return };
    let config = r#"{"tableName":"fuzz","tableType":"OFFLINE","segmentsConfig":{"timeColumnName":"ts"},
      "tableIndexConfig":{"invertedIndexColumns":["id","tags"],"sortedColumn":["ts"]}}"#;
    let (Ok(config), Ok(schema)) = (TableConfigJson::from_json(config), Schema::from_json(FUZZ_SCHEMA)) else { return };
    let Ok(table) = Table::new(schema, config) else { return };
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let work = std::env::temp_dir().join(format!("cuvee-fuzz-import-{}-{n}", std::process::id()));
    let path = work.join(if pick & 1 == 0 { "in.parquet" } else { "in.json" });
    if std::fs::create_dir_all(&work).is_ok() && std::fs::write(&path, file).is_ok() {
        let direct = pick & 2 == 0;
        let options = ImportOptions { direct, progress: false, max_rows_per_segment: 64, ..ImportOptions::default() };
        let _ = cuvee_ingest::import(&table, &[path], &work.join("table"), &options);
    }
    let _ = std::fs::remove_dir_all(&work);
}

/// A Pinot query's front end: `SET`s, `OPTION(...)`, `queryOptions`, the default limit and
/// the rewrites of Pinot's functions, on arbitrary text (split at the first NUL into the
/// statement and the `queryOptions` string).
pub fn pinot_dialect(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (sql, options) = match text.split_once('\0') {
        Some((sql, options)) => (sql, Some(options)),
        None => (text, None),
    };
    let _ = cuvee_broker::dialect::prepare(sql, options);
}

/// A schema and a table config (split at the first NUL), each parsed, then made a table.
pub fn table_definitions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (schema, config) = text.split_once('\0').unwrap_or((text, text));
    let schema = Schema::from_json(schema);
    let config = TableConfigJson::from_json(config);
    if let (Ok(schema), Ok(config)) = (schema, config) {
        let _ = config.retention();
        let _ = config.stream_configs();
        if let Ok(table) = Table::new(schema, config) {
            let _ = cuvee_ingest::conform::Conformer::new(&table);
        }
    }
}

/// The bytes a Postgres client sends on a new connection: SSL request, startup packet,
/// then messages, cut by the door's framing.
pub fn postgres_framing(data: &[u8]) {
    let _ = cuvee_postgres::framing::decode_connection(data);
}
