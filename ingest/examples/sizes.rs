//! Bytes per row of cuvee segments for Pinot's sample tables, total and per index, next to
//! the same rows written as Parquet with zstd.
//! `cargo run --release -p cuvee-ingest --example sizes [EXAMPLES_DIR]`
// A measuring tool: its output is what it is for.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions};
use cuvee_segments::{DecodeOptions, TableStore};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::path::PathBuf;

fn main() {
    let examples = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "../shared/pinot-examples".into()));
    let samples = [
        (
            "baseballStats",
            "baseballStats_schema.json",
            "baseballStats_offline_table_config.json",
            "rawdata/baseballStats.zstd.parquet",
        ),
        (
            "airlineStats",
            "airlineStats_schema.json",
            "airlineStats_offline_table_config.json",
            "rawdata/airlineStats_data.avro",
        ),
    ];
    for (name, schema, config, data) in samples {
        let folder = examples.join(name);
        let schema = Schema::from_json(&std::fs::read_to_string(folder.join(schema)).unwrap()).unwrap();
        let config_text = std::fs::read_to_string(folder.join(config)).unwrap();
        for variant in ["as configured", "every dimension inverted"] {
            let mut config = TableConfigJson::from_json(&config_text).unwrap();
            if variant != "as configured" {
                let mut ix = config.indexing();
                ix.inverted_index_columns = Some(
                    schema
                        .columns()
                        .iter()
                        .filter(|c| c.kind == cuvee_catalog::FieldKind::Dimension)
                        .map(|c| c.name.clone())
                        .collect(),
                );
                config.table_index_config = Some(ix);
            }
            let table = Table::new(schema.clone(), config).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let started = std::time::Instant::now();
            let report = import(
                &table,
                &[folder.join(data)],
                dir.path(),
                &ImportOptions { progress: false, ..Default::default() },
            )
            .unwrap();
            let import_time = started.elapsed();
            let store = TableStore::open_or_create(dir.path(), &table).unwrap();
            let (segments, _) = store.open_segments();
            let segment = &segments[0];
            let rows = segment.num_docs() as f64;
            let mut per_kind: BTreeMap<String, u64> = BTreeMap::new();
            for column in &segment.metadata().columns {
                for (kind, bytes) in &column.bytes {
                    *per_kind.entry(kind.clone()).or_default() += bytes;
                }
            }
            let columns: Vec<&str> = segment.schema().columns().iter().map(|c| c.name.as_str()).collect();
            let batch = segment.decode_all(&columns, DecodeOptions { null_handling: true }).unwrap();
            let mut parquet = Vec::new();
            let props =
                WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap())).build();
            let mut writer = ArrowWriter::try_new(&mut parquet, batch.schema(), Some(props)).unwrap();
            writer.write(&batch).unwrap();
            writer.close().unwrap();
            let total = segment.size_bytes() as f64;
            println!(
                "{name} ({variant}): {} rows, import {:.0} rows/s",
                report.rows_imported,
                rows / import_time.as_secs_f64()
            );
            println!(
                "  segment        {:>10} bytes  {:>7.1} B/row  {:.2}x parquet",
                total,
                total / rows,
                total / parquet.len() as f64
            );
            println!("  parquet+zstd3  {:>10} bytes  {:>7.1} B/row", parquet.len(), parquet.len() as f64 / rows);
            for (kind, bytes) in per_kind {
                println!(
                    "    {kind:<16} {:>10} bytes  {:>7.1} B/row  {:>5.1}%",
                    bytes,
                    bytes as f64 / rows,
                    100.0 * bytes as f64 / total
                );
            }
        }
    }
}
