//! Each index is actually chosen when a column has it (the model test checks results; this
//! checks that the index paths it covers are the ones taken).

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::{Access, EvalOptions, FieldValue, ImmutableSegment, Predicate, SegmentBuilder, SegmentIdentity};

fn segment(index_config: &str) -> ImmutableSegment {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"s","dataType":"STRING"},{"name":"n","dataType":"INT"}],
            "metricFieldSpecs":[{"name":"m","dataType":"LONG"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(&format!(r#"{{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{index_config}}}"#)).unwrap();
    let table = Table::new(schema, config).unwrap();
    let mut builder = SegmentBuilder::new(&table);
    for i in 0..5000i64 {
        let row = vec![
            FieldValue::Single(Value::String(format!("k{}", i % 37))),
            FieldValue::Single(Value::Int((i % 101) as i32)),
            FieldValue::Single(Value::Long(i * 7)),
        ];
        builder.push(&row).unwrap();
    }
    let bytes = builder.build(&SegmentIdentity { name: "t__0__0".into(), ..Default::default() }).unwrap();
    ImmutableSegment::from_bytes("t.cvs".into(), bytes).unwrap()
}

fn access(segment: &ImmutableSegment, predicate: &Predicate) -> (Access, u64) {
    let evaluation = segment.evaluate(predicate, EvalOptions::default()).unwrap();
    (evaluation.trace[0].access, evaluation.docs.len())
}

#[test]
fn each_index_is_used_when_present() {
    let plain = segment(r#"{"noDictionaryColumns":["m"]}"#);
    let eq = Predicate::eq("s", Value::String("k3".into()));
    let range = Predicate::between("n", Value::Int(10), Value::Int(50));
    let raw_range = Predicate::between("m", Value::Long(70), Value::Long(700));
    assert_eq!(access(&plain, &eq), (Access::ScanIds, 136));
    assert_eq!(access(&plain, &range), (Access::ScanIds, 2050));
    assert_eq!(access(&plain, &raw_range), (Access::ScanValues, 91));

    let indexed = segment(r#"{"invertedIndexColumns":["s"],"rangeIndexColumns":["n","m"],"noDictionaryColumns":["m"],"sortedColumn":[]}"#);
    assert_eq!(access(&indexed, &eq), (Access::InvertedIndex, 136));
    assert_eq!(access(&indexed, &range), (Access::RangeIndex, 2050));
    assert_eq!(access(&indexed, &raw_range), (Access::RangeIndex, 91));

    let sorted = segment(r#"{"sortedColumn":["s"]}"#);
    assert_eq!(access(&sorted, &eq), (Access::SortedIndex, 136));
    assert!(sorted.metadata().columns[0].is_sorted);
    let missing = Predicate::eq("s", Value::String("nope".into()));
    assert_eq!(access(&sorted, &missing), (Access::Dictionary, 0));
}

#[test]
fn bloom_filter_and_dictionary_skip_segments_without_false_negatives() {
    let schema = Schema::from_json(r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"id","dataType":"STRING"},{"name":"n","dataType":"LONG"}]}"#).unwrap();
    let config = TableConfigJson::from_json(
        r#"{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{"noDictionaryColumns":["id","n"],"bloomFilterColumns":["id","n"]}}"#,
    )
    .unwrap();
    let table = Table::new(schema, config).unwrap();
    let mut builder = SegmentBuilder::new(&table);
    for i in 0..10_000i64 {
        builder.push(&[FieldValue::Single(Value::String(format!("id-{i}"))), FieldValue::Single(Value::Long(i * 2))]).unwrap();
    }
    let bytes = builder.build(&SegmentIdentity { name: "t_0".into(), ..Default::default() }).unwrap();
    let segment = ImmutableSegment::from_bytes("t.cvs".into(), bytes).unwrap();
    let eq = |column: &str, value: Value| {
        let data_type = segment.schema().column(column).unwrap().data_type;
        let matcher = cuvee_segments::Matcher::compile(&cuvee_segments::Leaf::Compare(cuvee_segments::CompareOp::Eq, value), data_type).unwrap();
        segment.may_contain(column, &matcher).unwrap()
    };
    for i in (0..10_000).step_by(37) {
        assert!(eq("id", Value::String(format!("id-{i}"))), "false negative for id-{i}");
        assert!(eq("n", Value::Long(i * 2)), "false negative for {}", i * 2);
    }
    let false_positives = (0..2_000).filter(|i| eq("id", Value::String(format!("absent-{i}")))).count();
    assert!(false_positives < 200, "{false_positives} of 2000 absent ids passed a 5% bloom filter");
    // Odd numbers are absent; outside [min, max] is absent without consulting the filter.
    let false_positives = (0..2_000).filter(|i| eq("n", Value::Long(i * 2 + 1))).count();
    assert!(false_positives < 200, "{false_positives}");
    assert!(!eq("n", Value::Long(-5)));
    assert!(!eq("n", Value::Long(1_000_000)));
}
