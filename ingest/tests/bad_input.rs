//! Bad rows are reported with file, position and reason, counted and skipped; strict mode
//! stops at the first one; broken configs and files get errors that name what is wrong.

use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_ingest::{import, ImportOptions, IngestError};
use cuvee_segments::TableStore;

fn table(config_extra: &str) -> Table {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"name","dataType":"STRING","maxLength":4},{"name":"tags","dataType":"STRING","singleValueField":false}],
            "metricFieldSpecs":[{"name":"n","dataType":"INT"}],
            "dateTimeFieldSpecs":[{"name":"day","dataType":"STRING","format":"1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd","granularity":"1:DAYS"}]}"#,
    )
    .unwrap();
    let config = format!(
        r#"{{"tableName":"t","tableType":"OFFLINE","segmentsConfig":{{"timeColumnName":"day"}}{config_extra}}}"#
    );
    Table::new(schema, TableConfigJson::from_json(&config).unwrap()).unwrap()
}

const CSV: &str = "name,tags,n,day\nalpha,a;b,1,2024-01-01\nbeta,,x,2024-01-02\ngamma,c,3,not-a-date\ndelta,d,4\nepsilon,e;f;g,5,2024-01-03\n";

#[test]
fn bad_rows_are_reported_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, CSV).unwrap();
    let out = dir.path().join("table");
    let report =
        import(&table(""), std::slice::from_ref(&file), &out, &ImportOptions { progress: false, ..Default::default() })
            .unwrap();
    assert_eq!((report.rows_read, report.rows_imported, report.bad_row_count), (5, 2, 3));
    let reasons: Vec<String> = report.bad_rows.iter().map(|b| b.to_string()).collect();
    assert!(reasons[0].contains("rows.csv, line 3: column n: \"x\" is not a INT"), "{reasons:?}");
    assert!(reasons[1].contains("line 4: time column day") && reasons[1].contains("not-a-date"), "{reasons:?}");
    assert!(reasons[2].contains("line 5: 3 fields, the header has 4"), "{reasons:?}");
    let store = TableStore::open_or_create(&out, &table("")).unwrap();
    let (segments, _) = store.open_segments();
    let segment = &segments[0];
    // maxLength 4 trims "alpha" and "epsilon"; the time range comes from the day column.
    let names = segment.decode_all(&["name"], Default::default()).unwrap();
    let names = arrow_array::cast::AsArray::as_string::<i32>(names.column(0));
    assert_eq!(names.iter().flatten().collect::<Vec<_>>(), vec!["alph", "epsi"]);
    assert_eq!(segment.metadata().bounds.start_time_ms, Some(1_704_067_200_000));
    assert_eq!(segment.metadata().bounds.end_time_ms, Some(1_704_067_200_000 + 2 * 86_400_000));
}

#[test]
fn strict_mode_stops_at_the_first_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.csv");
    std::fs::write(&file, CSV).unwrap();
    let err = import(
        &table(""),
        &[file],
        &dir.path().join("t"),
        &ImportOptions { strict: true, progress: false, ..Default::default() },
    )
    .unwrap_err();
    assert!(matches!(err, IngestError::BadRow { .. }));
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn filter_and_transforms_apply() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rows.json");
    std::fs::write(&file, "{\"raw\":\"Alpha\",\"n\":1,\"day\":\"2024-01-01\"}\nnot json\n[1]\n{\"raw\":\"Beta\",\"n\":20,\"day\":\"2024-01-01\"}\n").unwrap();
    let extra = r#","ingestionConfig":{"transformConfigs":[{"columnName":"name","transformFunction":"lower(raw)"}],"filterConfig":{"filterFunction":"n > 10"}}"#;
    let report =
        import(&table(extra), &[file], &dir.path().join("t"), &ImportOptions { progress: false, ..Default::default() })
            .unwrap();
    assert_eq!((report.rows_imported, report.rows_filtered, report.bad_row_count), (1, 1, 2));
    assert!(report.bad_rows[0].to_string().contains("line 2: not valid JSON"), "{:?}", report.bad_rows);
    assert!(report.bad_rows[1].to_string().contains("line 3: expected a JSON object, got an array"));
}

#[test]
fn broken_configs_and_files_name_the_problem() {
    let err = match cuvee_ingest::Conformer::new(&table(
        r#","ingestionConfig":{"transformConfigs":[{"columnName":"name","transformFunction":"Groovy({raw}, raw)"}]}"#,
    )) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a Groovy transform was accepted"),
    };
    assert!(err.contains("ingestionConfig.transformConfigs[0].transformFunction") && err.contains("Groovy"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.parquet");
    std::fs::write(&fake, b"definitely not parquet").unwrap();
    let err =
        import(&table(""), &[fake], &dir.path().join("t"), &ImportOptions { progress: false, ..Default::default() })
            .unwrap_err()
            .to_string();
    assert!(err.contains("fake.parquet") && err.contains("not a Parquet file"), "{err}");
    let odd = dir.path().join("rows.xlsx");
    std::fs::write(&odd, b"").unwrap();
    let err =
        import(&table(""), &[odd], &dir.path().join("t"), &ImportOptions { progress: false, ..Default::default() })
            .unwrap_err()
            .to_string();
    assert!(err.contains("cannot tell the format"), "{err}");
}

/// Damaged Parquet files (found by the `file_import` fuzzer) whose reader fails on every
/// batch without ever ending, or panics: the import reports one bad row and goes on.
#[test]
fn a_parquet_file_whose_reader_fails_or_panics_is_one_bad_row() {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"id","dataType":"INT"},{"name":"tags","dataType":"STRING","singleValueField":false},
              {"name":"doc","dataType":"JSON"}],
            "metricFieldSpecs":[{"name":"amount","dataType":"DOUBLE"}],
            "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(r#"{"tableName":"t","tableType":"OFFLINE"}"#).unwrap();
    let table = Table::new(schema, config).unwrap();
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let dir = tempfile::tempdir().unwrap();
    // The second file trips a debug assertion in parquet's reader (the fuzz build's panic);
    // with assertions off it is an error, and a panic would be one bad row as well.
    for name in ["endless_errors", "damaged_page"] {
        let file = data.join(format!("{name}.parquet"));
        for direct in [true, false] {
            let options = ImportOptions { direct, progress: false, ..Default::default() };
            let out = dir.path().join(format!("{name}-{direct}"));
            let report = import(&table, std::slice::from_ref(&file), &out, &options).unwrap();
            assert_eq!(report.bad_row_count, 1, "{report:?}");
            assert!(report.bad_rows[0].reason.contains("unreadable Parquet data"), "{report:?}");
        }
    }
}
