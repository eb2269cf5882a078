//! Parquet read a column at a time, and JSON documents read straight into rows, must import
//! exactly what the general path imports: the same segments (metadata with every section's
//! size, every value, every null) and the same bad rows with the same positions and
//! reasons. Each test imports one file both ways.

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray, StringViewArray, TimestampSecondArray, UInt32Array, UInt64Array,
};
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions, ImportReport, IngestError};
use cuvee_segments::{DecodeOptions, ImmutableSegment, TableStore};
use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const SCHEMA: &str = r#"{"schemaName":"mixed",
  "dimensionFieldSpecs":[
    {"name":"s","dataType":"STRING"},
    {"name":"s_large","dataType":"STRING"},
    {"name":"s_view","dataType":"STRING","maxLength":6,"maxLengthExceedStrategy":"NO_ACTION"},
    {"name":"s_trim","dataType":"STRING","maxLength":4,"maxLengthExceedStrategy":"TRIM_LENGTH"},
    {"name":"s_error","dataType":"STRING","maxLength":5,"maxLengthExceedStrategy":"ERROR"},
    {"name":"tags","dataType":"STRING","singleValueField":false},
    {"name":"tags_short","dataType":"STRING","singleValueField":false,"maxLength":2,"maxLengthExceedStrategy":"TRIM_LENGTH"},
    {"name":"n_int","dataType":"INT"},
    {"name":"small","dataType":"INT"},
    {"name":"flag","dataType":"BOOLEAN"},
    {"name":"absent","dataType":"STRING"},
    {"name":"num_text","dataType":"STRING"},
    {"name":"long_from_text","dataType":"LONG"},
    {"name":"b","dataType":"BYTES"},
    {"name":"when","dataType":"TIMESTAMP"}],
  "metricFieldSpecs":[
    {"name":"d","dataType":"DOUBLE"},
    {"name":"f","dataType":"FLOAT"},
    {"name":"f_from_int","dataType":"FLOAT"},
    {"name":"l","dataType":"LONG"},
    {"name":"u64","dataType":"LONG"}],
  "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#;

fn table(schema: &str, time_column: &str, sorted: Option<&str>) -> Table {
    let sorted = sorted.map_or(String::new(), |c| {
        format!(r#","tableIndexConfig":{{"sortedColumn":["{c}"],"invertedIndexColumns":["s"]}}"#)
    });
    let config = format!(
        r#"{{"tableName":"mixed","tableType":"OFFLINE","segmentsConfig":{{"timeColumnName":"{time_column}"}}{sorted}}}"#
    );
    Table::new(Schema::from_json(schema).unwrap(), TableConfigJson::from_json(&config).unwrap()).unwrap()
}

/// Seeded draws: the same file on every run.
struct Draws(TestRng);

impl Draws {
    fn seeded(seed: u8) -> Draws {
        Draws(TestRng::from_seed(RngAlgorithm::ChaCha, &[seed; 32]))
    }

    fn next(&mut self) -> u64 {
        self.0.next_u64()
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `Some(v)`, or `None` one time in `odds`.
    fn maybe<T>(&mut self, odds: u64, v: impl FnOnce(&mut Self) -> T) -> Option<T> {
        (self.below(odds) != 0).then(|| v(self))
    }
}

const WORDS: [&str; 8] = ["a", "bb", "ccc", "dddd", "eeeee", "ffffff", "ünï", "ééééééé"];

/// `rows` rows of every kind of cell the two paths must agree on, bad ones included.
fn mixed_batch(draws: &mut Draws, rows: usize) -> RecordBatch {
    let word = |d: &mut Draws, odds| {
        let w = WORDS[d.below(WORDS.len() as u64) as usize];
        d.maybe(odds, |_| w)
    };
    let text = |d: &mut Draws| -> Vec<Option<&str>> { (0..rows).map(|_| word(d, 9)).collect() };
    let (s, s_large, s_view, s_trim, s_error) = (text(draws), text(draws), text(draws), text(draws), text(draws));
    let lists = |d: &mut Draws| {
        let mut builder = ListBuilder::new(StringBuilder::new());
        for _ in 0..rows {
            if d.below(10) == 0 {
                builder.append(false);
                continue;
            }
            for _ in 0..d.below(4) {
                builder.values().append_option(word(d, 6));
            }
            builder.append(true);
        }
        Arc::new(builder.finish()) as ArrayRef
    };
    let (tags, tags_short) = (lists(draws), lists(draws));
    let ints: Vec<Option<i64>> = (0..rows)
        .map(|_| {
            let v = match draws.below(20) {
                0 => i64::from(i32::MAX) + 1 + draws.below(5) as i64,
                1 => i64::from(i32::MIN) - draws.below(5) as i64,
                _ => draws.below(2000) as i64 - 1000,
            };
            draws.maybe(8, |_| v)
        })
        .collect();
    let small: Vec<Option<i16>> = (0..rows).map(|_| draws.maybe(7, |draws| draws.next() as i16)).collect();
    let flags: Vec<Option<bool>> = (0..rows).map(|_| draws.maybe(5, |draws| draws.below(2) == 1)).collect();
    let num_text: Vec<Option<i32>> = (0..rows).map(|_| draws.maybe(6, |draws| draws.next() as i32)).collect();
    let long_text: Vec<Option<String>> = (0..rows)
        .map(|_| {
            let v = match draws.below(15) {
                0 => "twelve".to_string(),
                1 => format!(" {} ", draws.below(100)),
                _ => (draws.below(1 << 40) as i64 - (1 << 39)).to_string(),
            };
            draws.maybe(6, |_| v)
        })
        .collect();
    let bytes: Vec<Option<Vec<u8>>> =
        (0..rows).map(|_| draws.maybe(6, |draws| (0..draws.below(5)).map(|_| draws.next() as u8).collect())).collect();
    let when: Vec<Option<i64>> = (0..rows).map(|_| draws.maybe(6, |draws| draws.below(2_000_000_000) as i64)).collect();
    let floats: Vec<Option<f64>> = (0..rows)
        .map(|_| {
            let v = match draws.below(25) {
                0 => f64::NAN,
                1 => f64::INFINITY,
                2 => f64::NEG_INFINITY,
                3 => 1e300,
                _ => (draws.next() as i64 as f64) / 1e12,
            };
            draws.maybe(7, |_| v)
        })
        .collect();
    let f_from_int: Vec<Option<i64>> = (0..rows).map(|_| draws.maybe(7, |draws| draws.next() as i64)).collect();
    let unsigned: Vec<Option<u32>> = (0..rows).map(|_| draws.maybe(7, |draws| draws.next() as u32)).collect();
    let u64s: Vec<Option<u64>> = (0..rows)
        .map(|_| {
            draws.maybe(7, |draws| if draws.below(20) == 0 { u64::MAX - draws.below(9) } else { draws.below(1 << 50) })
        })
        .collect();
    let ts: Vec<Option<i64>> =
        (0..rows).map(|_| draws.maybe(30, |draws| 1_700_000_000_000 + draws.below(86_400_000) as i64)).collect();
    let columns: Vec<(&str, ArrayRef)> = vec![
        ("ts", Arc::new(Int64Array::from(ts))),
        ("s", Arc::new(StringArray::from(s))),
        ("s_large", Arc::new(LargeStringArray::from(s_large))),
        ("s_view", Arc::new(StringViewArray::from(s_view))),
        ("s_trim", Arc::new(StringArray::from(s_trim))),
        ("s_error", Arc::new(StringArray::from(s_error))),
        ("tags", tags),
        ("tags_short", tags_short),
        ("n_int", Arc::new(Int64Array::from(ints))),
        ("small", Arc::new(Int16Array::from(small))),
        ("flag", Arc::new(BooleanArray::from(flags))),
        ("num_text", Arc::new(Int32Array::from(num_text))),
        ("long_from_text", Arc::new(StringArray::from(long_text))),
        ("b", Arc::new(BinaryArray::from(bytes.iter().map(|b| b.as_deref()).collect::<Vec<_>>()))),
        ("when", Arc::new(TimestampSecondArray::from(when))),
        ("d", Arc::new(Float64Array::from(floats.clone()))),
        ("f", Arc::new(Float32Array::from(floats.iter().map(|f| f.map(|f| f as f32)).collect::<Vec<_>>()))),
        ("f_from_int", Arc::new(Int64Array::from(f_from_int))),
        ("l", Arc::new(UInt32Array::from(unsigned))),
        ("u64", Arc::new(UInt64Array::from(u64s))),
        // Not in the schema: ignored by both paths.
        ("extra", Arc::new(Int32Array::from(vec![Some(1); rows]))),
    ];
    RecordBatch::try_from_iter(columns).unwrap()
}

fn write_parquet(path: &Path, batches: &[RecordBatch]) {
    let file = std::fs::File::create(path).unwrap();
    let props = parquet::file::properties::WriterProperties::builder().set_max_row_group_row_count(Some(5_000)).build();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batches[0].schema(), Some(props)).unwrap();
    for batch in batches {
        writer.write(batch).unwrap();
    }
    writer.close().unwrap();
}

/// Imports `files` both ways; the reports must agree, and so must the segments.
fn import_both_ways(table: &Table, files: &[PathBuf], options: ImportOptions) -> (ImportReport, Vec<ImmutableSegment>) {
    let dir = tempfile::tempdir().unwrap();
    let mut imported = Vec::new();
    for direct in [false, true] {
        let out = dir.path().join(format!("direct-{direct}"));
        let options = ImportOptions { direct, progress: false, ..options.clone() };
        let report = import(table, files, &out, &options).unwrap();
        let (segments, errors) = TableStore::open_or_create(&out, table).unwrap().open_segments();
        assert!(errors.is_empty(), "{errors:?}");
        imported.push((report, segments));
    }
    let (direct, rows) = (imported.pop().unwrap(), imported.pop().unwrap());
    let reasons = |r: &ImportReport| r.bad_rows.iter().map(|b| b.to_string()).collect::<Vec<_>>();
    assert_eq!(reasons(&direct.0), reasons(&rows.0));
    assert_eq!(
        (direct.0.rows_read, direct.0.rows_imported, direct.0.bad_row_count, &direct.0.segments),
        (rows.0.rows_read, rows.0.rows_imported, rows.0.bad_row_count, &rows.0.segments)
    );
    assert_eq!(direct.1.len(), rows.1.len());
    for (a, b) in direct.1.iter().zip(&rows.1) {
        let mut meta = a.metadata().clone();
        meta.bounds.creation_time_ms = b.metadata().bounds.creation_time_ms;
        assert_eq!(&meta, b.metadata(), "segment {}", b.metadata().name);
        let names: Vec<&str> = table.schema.columns().iter().map(|c| c.name.as_str()).collect();
        for null_handling in [false, true] {
            let options = DecodeOptions { null_handling };
            assert_eq!(a.decode_all(&names, options).unwrap(), b.decode_all(&names, options).unwrap());
        }
    }
    direct
}

#[test]
fn every_kind_of_cell_imports_as_the_row_path_imports_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut draws = Draws::seeded(7);
    let file = dir.path().join("mixed.parquet");
    // Several row groups and record batches, cut across segments of 3,000 rows.
    let batches: Vec<RecordBatch> = [4_000, 9_000, 500].iter().map(|&n| mixed_batch(&mut draws, n)).collect();
    write_parquet(&file, &batches);
    for sorted in [None, Some("ts")] {
        let table = table(SCHEMA, "ts", sorted);
        let options = ImportOptions { max_rows_per_segment: 3_000, ..ImportOptions::default() };
        let (report, segments) = import_both_ways(&table, std::slice::from_ref(&file), options);
        // Bad rows of every kind were drawn, and most rows are good.
        let reasons = report.bad_rows.iter().map(|b| b.reason.as_str()).collect::<Vec<_>>().join("\n");
        for expected in ["column n_int", "column s_error", "column long_from_text", "column u64"] {
            assert!(reasons.contains(expected), "no bad row for {expected}: {reasons}");
        }
        assert!(report.rows_imported > 5_000 && report.bad_row_count > 500, "{report:?}");
        assert!(segments.len() >= 3);
    }
}

#[test]
fn a_text_time_column_and_its_bad_values_import_as_the_row_path_imports_them() {
    let schema = r#"{"schemaName":"days","dimensionFieldSpecs":[{"name":"name","dataType":"STRING"}],
        "dateTimeFieldSpecs":[{"name":"day","dataType":"STRING","format":"1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd","granularity":"1:DAYS"}]}"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("days.parquet");
    let days =
        StringArray::from(vec![Some("2024-01-02"), Some("not-a-date"), None, Some("2023-12-31"), Some("2024-13-01")]);
    let names = StringArray::from(vec![Some("a"), Some("b"), Some("c"), None, Some("e")]);
    let batch =
        RecordBatch::try_from_iter(vec![("day", Arc::new(days) as ArrayRef), ("name", Arc::new(names) as ArrayRef)])
            .unwrap();
    write_parquet(&file, &[batch]);
    let (report, segments) =
        import_both_ways(&table(schema, "day", None), std::slice::from_ref(&file), ImportOptions::default());
    assert_eq!((report.rows_imported, report.bad_row_count), (3, 2));
    assert_eq!(report.bad_rows[0].position, "row 2");
    assert!(report.bad_rows[0].reason.starts_with("time column day"), "{:?}", report.bad_rows);
    assert_eq!(segments[0].metadata().bounds.start_time_ms, Some(1_703_980_800_000));
}

#[test]
fn pinot_baseball_stats_imports_as_the_row_path_imports_it() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/pinot-examples/baseballStats");
    let schema = std::fs::read_to_string(examples.join("baseballStats_schema.json")).unwrap();
    let config = std::fs::read_to_string(examples.join("baseballStats_offline_table_config.json")).unwrap();
    let table = Table::new(Schema::from_json(&schema).unwrap(), TableConfigJson::from_json(&config).unwrap()).unwrap();
    let file = examples.join("rawdata/baseballStats.zstd.parquet");
    let options = ImportOptions { max_rows_per_segment: 40_000, ..ImportOptions::default() };
    let (report, segments) = import_both_ways(&table, &[file], options);
    assert_eq!((report.rows_imported, segments.len()), (97_889, 3));
}

#[test]
fn strict_import_stops_at_the_row_the_row_path_stops_at() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.parquet");
    write_parquet(&file, &[mixed_batch(&mut Draws::seeded(11), 2_000)]);
    let table = table(SCHEMA, "ts", None);
    let errors: Vec<String> = [false, true]
        .map(|direct| {
            let options = ImportOptions { strict: true, direct, progress: false, ..ImportOptions::default() };
            match import(&table, std::slice::from_ref(&file), &dir.path().join(format!("t{direct}")), &options) {
                Err(e @ IngestError::BadRow { .. }) => e.to_string(),
                other => panic!("expected a bad row, got {other:?}"),
            }
        })
        .into();
    assert_eq!(errors[0], errors[1]);
}

/// One JSON value of a random kind, as a file's author might write any column.
fn json_value(draws: &mut Draws) -> String {
    match draws.below(12) {
        0 => "null".into(),
        1 => format!("{}", draws.below(1 << 40) as i64 - (1 << 39)),
        2 => format!("{}.{}", draws.below(1000), draws.below(100)),
        3 => format!("\"{}\"", WORDS[draws.below(WORDS.len() as u64) as usize]),
        4 => format!("\" {} \"", draws.below(100)),
        5 => {
            if draws.below(2) == 0 {
                "true".into()
            } else {
                "false".into()
            }
        }
        6 => "[]".into(),
        7 => format!("[\"{}\", null, {}]", WORDS[draws.below(4) as usize], draws.below(9)),
        8 => format!("{{\"k\": {}}}", draws.below(9)),
        9 => format!("\"{:02x}{:02x}\"", draws.below(256), draws.below(256)),
        10 => format!("{}", u64::MAX - draws.below(9)),
        _ => format!("\"{}\"", 1_700_000_000_000 + draws.below(86_400_000)),
    }
}

#[test]
fn json_documents_import_as_the_general_path_imports_them() {
    let mut draws = Draws::seeded(3);
    let columns: Vec<String> = table(SCHEMA, "ts", None).schema.columns().iter().map(|c| c.name.clone()).collect();
    let mut lines = Vec::new();
    for _ in 0..3_000 {
        let line = match draws.below(40) {
            0 => "not json".to_string(),
            1 => "[1, 2]".to_string(),
            2 => "   ".to_string(),
            3 => "{\"ts\": 1, \"s\": \"unterminated".to_string(),
            4 => "{\"d\": 1e400}".to_string(),
            _ => {
                let mut fields = Vec::new();
                for c in columns.iter().filter(|_| draws.below(8) != 0).collect::<Vec<_>>() {
                    let value = match (c.as_str(), draws.below(5)) {
                        (_, 0) => json_value(&mut draws),
                        ("n_int" | "small", _) => draws.below(30_000).to_string(),
                        ("ts" | "when" | "l" | "u64" | "long_from_text", _) => {
                            (1_700_000_000_000 + draws.below(86_400_000)).to_string()
                        }
                        ("d" | "f" | "f_from_int", _) => format!("{}.5", draws.below(1000)),
                        ("flag", _) => "true".into(),
                        ("tags" | "tags_short", _) => {
                            format!("[\"{}\", \"{}\"]", WORDS[draws.below(3) as usize], WORDS[draws.below(8) as usize])
                        }
                        ("b", _) => "\"0a1b\"".into(),
                        _ => format!("\"{}\"", WORDS[draws.below(4) as usize]),
                    };
                    fields.push(format!("\"{c}\": {value}"));
                }
                if draws.below(10) == 0 {
                    // Unknown keys are skipped; a repeated key's last value is the one kept.
                    fields.push(format!("\"other\": {}, \"s\": {}", json_value(&mut draws), json_value(&mut draws)));
                }
                format!("{{{}}}", fields.join(", "))
            }
        };
        lines.push(line);
    }
    let dir = tempfile::tempdir().unwrap();
    let (lines_file, array_file) = (dir.path().join("rows.json"), dir.path().join("array.json"));
    std::fs::write(&lines_file, lines.join("\n")).unwrap();
    let elements: Vec<&String> = lines.iter().filter(|l| !l.trim().is_empty() && !l.contains("unterminated")).collect();
    std::fs::write(&array_file, format!("[{}]", elements.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",\n")))
        .unwrap();
    for file in [lines_file, array_file] {
        let options = ImportOptions { max_rows_per_segment: 700, ..ImportOptions::default() };
        let (report, _) = import_both_ways(&table(SCHEMA, "ts", Some("ts")), std::slice::from_ref(&file), options);
        let reasons = report.bad_rows.iter().map(|b| b.reason.as_str()).collect::<Vec<_>>().join("\n");
        assert!(reasons.contains("not valid JSON") && reasons.contains("expected a JSON object"), "{reasons}");
        assert!(report.rows_imported > 100 && report.bad_row_count > 100, "{report:?}");
    }
}
