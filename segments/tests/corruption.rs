//! A damaged segment file is an error naming the segment and the file — never a panic,
//! never a wrong answer.

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::{FieldValue, ImmutableSegment, SegmentBuilder, SegmentError, SegmentIdentity};

fn table() -> Table {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"s","dataType":"STRING"},{"name":"tags","dataType":"STRING","singleValueField":false},
              {"name":"j","dataType":"JSON"}],
            "metricFieldSpecs":[{"name":"m","dataType":"LONG"},{"name":"d","dataType":"DOUBLE"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(
        r#"{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["s","tags"],"sortedColumn":["s"],
            "rangeIndexColumns":["m","d"],"bloomFilterColumns":["s","j"],"noDictionaryColumns":["j","d"]}}"#,
    )
    .unwrap();
    Table::new(schema, config).unwrap()
}

fn segment_bytes() -> Vec<u8> {
    let mut builder = SegmentBuilder::new(&table());
    for i in 0..3000i64 {
        let row = vec![
            if i % 17 == 0 { FieldValue::Null } else { FieldValue::Single(Value::String(format!("s{}", i % 29))) },
            FieldValue::Multi((0..i % 3).map(|t| Value::String(format!("t{t}"))).collect()),
            FieldValue::Single(Value::Json(format!(r#"{{"i":{i}}}"#))),
            FieldValue::Single(Value::Long(i)),
            FieldValue::Single(Value::Double(i as f64 / 3.0)),
        ];
        builder.push(&row).unwrap();
    }
    builder.build(&SegmentIdentity { name: "t__0__7".into(), ..Default::default() }).unwrap()
}

fn assert_corrupt(result: Result<ImmutableSegment, SegmentError>, what: &str) {
    match result {
        Err(SegmentError::Corrupt { segment, file, reason }) => {
            assert!(!reason.is_empty());
            assert!(file.ends_with("t__0__7.cvs"), "{what}: error names {}", file.display());
            assert!(segment == "t__0__7", "{what}: error names segment {segment}");
        }
        Err(other) => panic!("{what}: expected a Corrupt error, got {other}"),
        Ok(_) => panic!("{what}: a damaged segment opened"),
    }
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = segment_bytes();
    let step = (bytes.len() / 200).max(1);
    for len in (0..bytes.len()).step_by(step) {
        assert_corrupt(
            ImmutableSegment::from_bytes("t__0__7.cvs".into(), bytes[..len].to_vec()),
            &format!("truncated to {len}"),
        );
    }
}

#[test]
fn a_flipped_byte_in_any_section_is_an_error() {
    let bytes = segment_bytes();
    let good = ImmutableSegment::from_bytes("t__0__7.cvs".into(), bytes.clone()).unwrap();
    let sections = good.metadata().sections.clone();
    assert!(sections.len() >= 12, "expected many sections, got {}", sections.len());
    for section in &sections {
        for at in [section.offset, section.offset + section.length / 2, section.offset + section.length - 1] {
            let mut damaged = bytes.clone();
            damaged[at as usize] ^= 0x5a;
            let result = ImmutableSegment::from_bytes("t__0__7.cvs".into(), damaged);
            assert_corrupt(result, &format!("section {:?} of {} at {at}", section.kind, section.column));
        }
    }
    // The footer and trailer too.
    for back in [1usize, 8, 20, 40, 100] {
        let mut damaged = bytes.clone();
        let at = damaged.len() - back;
        damaged[at] ^= 0x01;
        assert_corrupt(
            ImmutableSegment::from_bytes("t__0__7.cvs".into(), damaged),
            &format!("{back} bytes from the end"),
        );
    }
}

#[test]
fn garbage_and_empty_files_are_errors() {
    assert_corrupt(ImmutableSegment::from_bytes("t__0__7.cvs".into(), Vec::new()), "empty");
    assert_corrupt(ImmutableSegment::from_bytes("t__0__7.cvs".into(), vec![0x42; 4096]), "garbage");
    let dir = tempfile::tempdir().unwrap();
    let missing = ImmutableSegment::open(&dir.path().join("nope.cvs")).unwrap_err();
    assert!(missing.to_string().contains("nope.cvs"), "{missing}");
}

#[test]
fn a_written_segment_reopens_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let builder = {
        let mut b = SegmentBuilder::new(&table());
        b.push(&[
            FieldValue::Single(Value::String("x".into())),
            FieldValue::Multi(vec![]),
            FieldValue::Null,
            FieldValue::Single(Value::Long(1)),
            FieldValue::Single(Value::Double(2.0)),
        ])
        .unwrap();
        b
    };
    let path = builder.write(dir.path(), &SegmentIdentity { name: "t__0__7".into(), ..Default::default() }).unwrap();
    let segment = ImmutableSegment::open(&path).unwrap();
    assert_eq!(segment.num_docs(), 1);
    assert_eq!(segment.metadata().columns[1].null_count, 1);
    assert!(!dir.path().join("t__0__7.tmp").exists());
}

#[test]
fn a_damaged_segment_does_not_take_the_table_down() {
    let dir = tempfile::tempdir().unwrap();
    let table = table();
    let mut store = cuvee_segments::TableStore::open_or_create(dir.path(), &table).unwrap();
    for name in ["t_0", "t_1", "t_2"] {
        let mut b = SegmentBuilder::new(&table);
        b.push(&[
            FieldValue::Single(Value::String(name.into())),
            FieldValue::Multi(vec![]),
            FieldValue::Null,
            FieldValue::Single(Value::Long(1)),
            FieldValue::Single(Value::Double(2.0)),
        ])
        .unwrap();
        store.publish(&b.build(&SegmentIdentity { name: name.into(), ..Default::default() }).unwrap()).unwrap();
    }
    // Damage the middle one on disk.
    let path = store.segment_path("t_1").unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    let reopened = cuvee_segments::TableStore::open_or_create(dir.path(), &table).unwrap();
    let (segments, errors) = reopened.open_segments();
    assert_eq!(segments.iter().map(|s| s.name().to_string()).collect::<Vec<_>>(), vec!["t_0", "t_2"]);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].to_string().contains("t_1"), "{}", errors[0]);
    // Publishing the same name twice is refused.
    let mut store = reopened;
    let mut b = SegmentBuilder::new(&table);
    b.push(&[FieldValue::Null, FieldValue::Null, FieldValue::Null, FieldValue::Null, FieldValue::Null]).unwrap();
    let again = store.publish(&b.build(&SegmentIdentity { name: "t_0".into(), ..Default::default() }).unwrap());
    assert!(again.unwrap_err().to_string().contains("already published"));
}
