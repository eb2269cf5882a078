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
    let config = TableConfigJson::from_json(&format!(
        r#"{{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{index_config}}}"#
    ))
    .unwrap();
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

    let indexed = segment(
        r#"{"invertedIndexColumns":["s"],"rangeIndexColumns":["n","m"],"noDictionaryColumns":["m"],"sortedColumn":[]}"#,
    );
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
        builder
            .push(&[FieldValue::Single(Value::String(format!("id-{i}"))), FieldValue::Single(Value::Long(i * 2))])
            .unwrap();
    }
    let bytes = builder.build(&SegmentIdentity { name: "t_0".into(), ..Default::default() }).unwrap();
    let segment = ImmutableSegment::from_bytes("t.cvs".into(), bytes).unwrap();
    let eq = |column: &str, value: Value| {
        let data_type = segment.schema().column(column).unwrap().data_type;
        let matcher = cuvee_segments::Matcher::compile(
            &cuvee_segments::Leaf::Compare(cuvee_segments::CompareOp::Eq, value),
            data_type,
        )
        .unwrap();
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

/// A consuming segment answers equality by dictionary look-up, ranges on a nearly ordered
/// time column chunk by chunk (zone maps), and narrows a conjunction to the docs its exact
/// leaf left — each path checked against a brute-force count over 20,000 rows.
#[test]
fn consuming_segment_paths_agree_with_brute_force() {
    use cuvee_segments::MutableSegment;
    use std::sync::Arc;
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"user","dataType":"LONG"},{"name":"kind","dataType":"STRING"}],
            "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#,
    )
    .unwrap();
    for index in [r#"{"invertedIndexColumns":["user","kind"]}"#, "{}"] {
        let config = TableConfigJson::from_json(&format!(
            r#"{{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{index}}}"#
        ))
        .unwrap();
        let table = Table::new(schema.clone(), config).unwrap();
        let segment = Arc::new(MutableSegment::new(&table, "t__0__0"));
        let rows: Vec<(i64, String, i64)> =
            (0..20_000i64).map(|i| (i * 7919 % 613, format!("k{}", i % 5), 1_000 * i + (i * 31 % 1_700))).collect();
        for (user, kind, ts) in &rows {
            segment
                .append(&[
                    FieldValue::Single(Value::Long(*user)),
                    FieldValue::Single(Value::String(kind.clone())),
                    FieldValue::Single(Value::Long(*ts)),
                ])
                .unwrap();
        }
        let snapshot = segment.snapshot();
        let count = |p: &Predicate| snapshot.evaluate(p, EvalOptions::default()).unwrap().docs.len();
        let brute = |f: &dyn Fn(&(i64, String, i64)) -> bool| rows.iter().filter(|r| f(r)).count() as u64;
        for (lo, hi) in [(0, 999), (5_000, 5_000_000), (4_096_500, 8_200_000), (-5, -1), (19_999_000, 40_000_000)] {
            assert_eq!(
                count(&Predicate::between("ts", Value::Long(lo), Value::Long(hi))),
                brute(&|r| lo <= r.2 && r.2 <= hi),
                "{index} ts {lo}..{hi}"
            );
        }
        for user in [0, 17, 612, 613] {
            assert_eq!(
                count(&Predicate::eq("user", Value::Long(user))),
                brute(&|r| r.0 == user),
                "{index} user {user}"
            );
            let both = Predicate::And(vec![
                Predicate::between("ts", Value::Long(3_000_000), Value::Long(15_000_000)),
                Predicate::eq("user", Value::Long(user)),
                Predicate::Leaf {
                    column: "kind".into(),
                    leaf: cuvee_segments::Leaf::Compare(cuvee_segments::CompareOp::Eq, Value::String("k2".into())),
                    negated: true,
                },
            ]);
            let expected = brute(&|r| r.0 == user && (3_000_000..=15_000_000).contains(&r.2) && r.1 != "k2");
            assert_eq!(count(&both), expected, "{index} user {user} and a range and a negation");
        }
        assert_eq!(
            count(&Predicate::is_in(
                "kind",
                vec![Value::String("k1".into()), Value::String("k4".into()), Value::String("zz".into())]
            )),
            8_000
        );
    }
}
