//! Imports Pinot's sample tables with their own schemas and table configs, and checks the
//! results against numbers computed by DuckDB and fastavro from the same files.

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::Array;
use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_ingest::{import, ImportOptions};
use cuvee_segments::{Access, DecodeOptions, EvalOptions, ImmutableSegment, Predicate, TableStore};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pinot-examples")
}

fn table(schema: &str, config: &str) -> Table {
    let schema = Schema::from_json(&std::fs::read_to_string(examples().join(schema)).unwrap()).unwrap();
    let config = TableConfigJson::from_json(&std::fs::read_to_string(examples().join(config)).unwrap()).unwrap();
    Table::new(schema, config).unwrap()
}

fn import_one(table: &Table, file: &str) -> (tempfile::TempDir, Vec<ImmutableSegment>, cuvee_ingest::ImportReport) {
    let dir = tempfile::tempdir().unwrap();
    let report =
        import(table, &[examples().join(file)], dir.path(), &ImportOptions { progress: false, ..Default::default() })
            .unwrap();
    let store = TableStore::open_or_create(dir.path(), table).unwrap();
    let (segments, errors) = store.open_segments();
    assert!(errors.is_empty(), "{errors:?}");
    (dir, segments, report)
}

fn count(segment: &ImmutableSegment, p: Predicate) -> (u64, Access) {
    let e = segment.evaluate(&p, EvalOptions::default()).unwrap();
    (e.docs.len(), e.trace[0].access)
}

#[test]
fn imports_baseball_stats_from_parquet() {
    let table =
        table("baseballStats/baseballStats_schema.json", "baseballStats/baseballStats_offline_table_config.json");
    let (_dir, segments, report) = import_one(&table, "baseballStats/rawdata/baseballStats.zstd.parquet");
    assert_eq!((report.rows_read, report.rows_imported, report.bad_row_count), (97_889, 97_889, 0));
    let segment = &segments[0];
    assert_eq!(segment.num_docs(), 97_889);
    assert_eq!(count(segment, Predicate::eq("teamID", Value::String("SFN".into()))), (2206, Access::InvertedIndex));
    let player = segment.metadata().columns.iter().find(|c| c.name == "playerID").unwrap();
    assert_eq!(player.cardinality, 18_107);
    let year = segment.metadata().columns.iter().find(|c| c.name == "yearID").unwrap();
    assert_eq!((year.min.clone(), year.max.clone()), (Some(serde_json::json!(1871)), Some(serde_json::json!(2013))));
    // homeRuns is null in 6,413 rows; a null metric is stored as 0, as in Pinot.
    let batch = segment.decode_all(&["homeRuns"], DecodeOptions::default()).unwrap();
    let home_runs: i64 = batch.column(0).as_primitive::<Int32Type>().values().iter().map(|&v| v as i64).sum();
    assert_eq!(home_runs, 274_578);
    assert_eq!(count(segment, Predicate::is_null("homeRuns")).0, 6413);
    // The progress bar's total comes from the Parquet footer, without reading the rows.
    let parquet = examples().join("baseballStats/rawdata/baseballStats.zstd.parquet");
    assert_eq!(cuvee_ingest::readers::row_count(&parquet, cuvee_ingest::readers::FileFormat::Parquet), Some(97_889));
    let avro = examples().join("airlineStats/rawdata/airlineStats_data.avro");
    assert_eq!(cuvee_ingest::readers::row_count(&avro, cuvee_ingest::readers::FileFormat::Avro), None);
}

#[test]
fn imports_airline_stats_from_avro_with_transforms() {
    let table = table("airlineStats/airlineStats_schema.json", "airlineStats/airlineStats_offline_table_config.json");
    let (_dir, segments, report) = import_one(&table, "airlineStats/rawdata/airlineStats_data.avro");
    assert_eq!(
        (report.rows_read, report.rows_imported, report.bad_row_count),
        (9_746, 9_746, 0),
        "{:?}",
        report.bad_rows.first()
    );
    let segment = &segments[0];
    assert_eq!(count(segment, Predicate::eq("Carrier", Value::String("AA".into()))).0, 905);
    assert_eq!(segment.metadata().bounds.start_time_ms, Some(16_071 * 86_400_000));
    assert_eq!(segment.metadata().bounds.end_time_ms, Some(16_101 * 86_400_000));
    // ts = fromEpochDays(DaysSinceEpoch), a transform from the table config.
    let days_16080 = count(segment, Predicate::eq("DaysSinceEpoch", Value::Int(16_080))).0;
    assert!(days_16080 > 0);
    assert_eq!(count(segment, Predicate::eq("ts", Value::Timestamp(16_080 * 86_400_000))).0, days_16080);
    // ArrDelay is a dimension: its 2,178 nulls are stored as Integer.MIN_VALUE, as in Pinot,
    // and come back as nulls with null handling on.
    let batch = segment.decode_all(&["ArrDelay"], DecodeOptions { null_handling: true }).unwrap();
    let delays = batch.column(0).as_primitive::<Int32Type>();
    assert_eq!(delays.null_count(), 2_178);
    assert_eq!(delays.iter().flatten().map(|v| v as i64).sum::<i64>(), 91_924);
}

#[test]
fn imports_github_events_from_json_with_date_parsing() {
    let table = table("githubEvents/githubEvents_schema.json", "githubEvents/githubEvents_offline_table_config.json");
    let (_dir, segments, report) = import_one(&table, "githubEvents/rawdata/2021-07-21-few-hours.json");
    assert_eq!(
        (report.rows_read, report.rows_imported, report.bad_row_count),
        (800, 800, 0),
        "{:?}",
        report.bad_rows.first()
    );
    let segment = &segments[0];
    assert_eq!(count(segment, Predicate::eq("type", Value::String("PushEvent".into()))).0, 425);
    assert_eq!(segment.metadata().bounds.start_time_ms, Some(1_626_847_200_000));
    assert_eq!(segment.metadata().bounds.end_time_ms, Some(1_626_858_004_000));
    // payload is a raw JSON column (noDictionaryColumns).
    assert!(!segment.metadata().columns.iter().find(|c| c.name == "payload").unwrap().dictionary);
}
