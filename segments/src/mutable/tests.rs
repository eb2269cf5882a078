//! The consuming segment's own tests: columns going raw after their first chunk.

use super::*;
use crate::decode::DecodeOptions;
use crate::eval::{Access, EvalOptions};
use crate::predicate::{CompareOp, Leaf, Predicate};
use cuvee_catalog::{Schema, TableConfigJson};

fn table() -> Table {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"kind","dataType":"INT"}],
            "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#,
    )
    .unwrap();
    Table::new(schema, TableConfigJson::from_json(r#"{"tableName":"t","tableType":"OFFLINE"}"#).unwrap()).unwrap()
}

#[test]
fn nearly_unique_columns_go_raw_after_the_first_chunk_and_read_the_same() {
    let segment = Arc::new(MutableSegment::with_chunk_shift(&table(), "t__0__0", 3));
    let early = segment.snapshot();
    for i in 0..100i64 {
        segment
            .append(&[FieldValue::Single(Value::Int((i % 3) as i32)), FieldValue::Single(Value::Long(1_000 + i))])
            .unwrap();
    }
    assert!(segment.columns[0].raw.get().is_none(), "three values in eight docs keep their dictionary");
    assert!(segment.columns[1].raw.get().is_some(), "a distinct time per doc goes raw");
    let snapshot = segment.snapshot();
    let ts =
        |op, v: i64| Predicate::Leaf { column: "ts".into(), leaf: Leaf::Compare(op, Value::Long(v)), negated: false };
    let docs = |p: &Predicate| snapshot.evaluate(p, EvalOptions::default()).unwrap().docs.iter().collect::<Vec<_>>();
    assert_eq!(docs(&ts(CompareOp::Eq, 1_003)), vec![3]);
    assert_eq!(docs(&ts(CompareOp::Eq, 1_050)), vec![50]);
    assert_eq!(docs(&ts(CompareOp::Ge, 1_095)), (95..100).collect::<Vec<_>>());
    let not_1001 = Predicate::Leaf { column: "ts".into(), leaf: Leaf::In(vec![Value::Long(1_001)]), negated: true };
    assert_eq!(docs(&not_1001).len(), 99);
    let batch = snapshot.decode(&["ts"], &[0, 7, 8, 99], DecodeOptions::default()).unwrap();
    let column = batch.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
    assert_eq!(column.values().to_vec(), vec![1_000, 1_007, 1_008, 1_099]);
    // A snapshot from before the switch still reads (it saw no rows).
    assert_eq!(early.num_docs(), 0);
    let sealed = segment.seal(&SegmentIdentity { name: "t__0__0".into(), ..Default::default() }).unwrap();
    let mut batch_built = SegmentBuilder::new(&table());
    for i in 0..100i64 {
        batch_built
            .push(&[FieldValue::Single(Value::Int((i % 3) as i32)), FieldValue::Single(Value::Long(1_000 + i))])
            .unwrap();
    }
    let identity = SegmentIdentity { name: "t__0__0".into(), ..Default::default() };
    assert!(sealed == batch_built.build(&identity).unwrap(), "sealing a raw column gives the batch-built segment");
}

#[test]
fn nearly_unique_strings_go_raw_after_the_first_chunk_and_read_the_same() {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"tag","dataType":"STRING"},{"name":"sid","dataType":"STRING"}]}"#,
    )
    .unwrap();
    let table =
        Table::new(schema, TableConfigJson::from_json(r#"{"tableName":"t","tableType":"OFFLINE"}"#).unwrap()).unwrap();
    // Every 10th session id is null (the default, "null"), every 7th empty.
    let row = |i: usize| {
        let sid = match i {
            _ if i % 10 == 9 => FieldValue::Null,
            _ if i % 7 == 6 => FieldValue::Single(Value::String(String::new())),
            _ => FieldValue::Single(Value::String(format!("{:016x}", i * 0x9E37_79B9))),
        };
        [FieldValue::Single(Value::String(format!("a tag longer than its entry {}", i % 3))), sid]
    };
    let segment = Arc::new(MutableSegment::with_chunk_shift(&table, "t__0__0", 3));
    for i in 0..100 {
        segment.append(&row(i)).unwrap();
    }
    assert!(segment.columns[0].raw_bytes.get().is_none(), "three values in eight docs keep their dictionary");
    assert!(segment.columns[1].raw_bytes.get().is_some(), "a distinct session per doc goes raw");
    let snapshot = segment.snapshot();
    let docs = |p: &Predicate, options| snapshot.evaluate(p, options).unwrap().docs.iter().collect::<Vec<_>>();
    let sid = |leaf| Predicate::Leaf { column: "sid".into(), leaf, negated: false };
    let eq = |i: usize| sid(Leaf::Compare(CompareOp::Eq, Value::String(format!("{:016x}", i * 0x9E37_79B9))));
    assert_eq!(docs(&eq(3), EvalOptions::default()), vec![3], "a value from the first chunk");
    assert_eq!(docs(&eq(50), EvalOptions::default()), vec![50], "a value kept raw");
    let empty = sid(Leaf::Compare(CompareOp::Eq, Value::String(String::new())));
    let expected: Vec<u32> = (0..100).filter(|i| i % 10 != 9 && i % 7 == 6).collect();
    assert_eq!(docs(&empty, EvalOptions::default()), expected);
    let nulls = Predicate::is_null("sid");
    let expected: Vec<u32> = (0..100).filter(|i| i % 10 == 9).collect();
    assert_eq!(docs(&nulls, EvalOptions { null_handling: true }), expected);
    let all_docs: Vec<u32> = (0..100).collect();
    let batch = snapshot.decode(&["sid"], &all_docs, DecodeOptions::default()).unwrap();
    let column = batch.column(0).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
    for (i, value) in column.iter().enumerate() {
        let expected = match &row(i)[1] {
            FieldValue::Single(Value::String(s)) => s.clone(),
            _ => "null".to_string(),
        };
        assert_eq!(value, Some(expected.as_str()), "doc {i}");
    }
    let identity = SegmentIdentity { name: "t__0__0".into(), ..Default::default() };
    let sealed = segment.seal(&identity).unwrap();
    let mut batch_built = SegmentBuilder::new(&table);
    for i in 0..100 {
        batch_built.push(&row(i)).unwrap();
    }
    assert!(sealed == batch_built.build(&identity).unwrap(), "sealing raw bytes gives the batch-built segment");
}

/// Ungrouped MIN/MAX over every doc of a full chunk come from the chunk's zone, the rest
/// (a partial chunk, filtered docs, sums) from the docs; all agree with the rows, and a
/// snapshot never sees the zone of a chunk still filling after it was taken.
#[test]
fn min_max_from_zones_agree_with_the_rows() {
    use crate::group::{Measure, Numbers, SumAs};
    let segment = Arc::new(MutableSegment::with_chunk_shift(&table(), "t__0__0", 3));
    // `kind` keeps ids (few values); `ts` goes raw after its first chunk. Values wander so
    // that each chunk's extremes are somewhere in its middle.
    let row = |i: i64| {
        let kind = ((i * 7919) % 23 - 11) as i32;
        [FieldValue::Single(Value::Int(kind)), FieldValue::Single(Value::Long((i * 104_729) % 1_009 - 500))]
    };
    for i in 0..20 {
        segment.append(&row(i)).unwrap();
    }
    let early = segment.snapshot();
    for i in 20..100 {
        segment.append(&row(i)).unwrap();
    }
    let late = segment.snapshot();
    let measure = |column: &str, sum: Option<SumAs>| Measure {
        column: column.into(),
        sum,
        min: sum.is_none(),
        max: sum.is_none(),
        histogram: false,
    };
    let measures = [measure("ts", None), measure("kind", None), measure("kind", Some(SumAs::Integer))];
    for (snapshot, docs) in [
        (&early, (0..20).collect::<RoaringBitmap>()),
        (&late, (0..100).collect()),
        (&late, (3..70).collect()),
        (&late, (0..100).filter(|d| d % 9 != 4).collect()),
    ] {
        let aggregates = snapshot.aggregate_groups(&[], &measures, &docs).unwrap().expect("on ids");
        let rows: Vec<(i64, i64)> = docs
            .iter()
            .map(|d| {
                let [FieldValue::Single(Value::Int(kind)), FieldValue::Single(Value::Long(ts))] = row(i64::from(d))
                else {
                    unreachable!()
                };
                (i64::from(kind), ts)
            })
            .collect();
        let of = |f: fn(&(i64, i64)) -> i64| rows.iter().map(f);
        let expect = |min: i64, max: i64| (Some(Numbers::Integers(vec![min])), Some(Numbers::Integers(vec![max])));
        let states = &aggregates.measures;
        let what = format!("{} docs of {}", docs.len(), snapshot.num_docs());
        assert_eq!(
            (states[0].min.clone(), states[0].max.clone()),
            expect(of(|r| r.1).min().unwrap(), of(|r| r.1).max().unwrap()),
            "ts, {what}"
        );
        assert_eq!(
            (states[1].min.clone(), states[1].max.clone()),
            expect(of(|r| r.0).min().unwrap(), of(|r| r.0).max().unwrap()),
            "kind, {what}"
        );
        assert_eq!(states[2].sum, Some(Numbers::Integers(vec![of(|r| r.0).sum()])), "sum, {what}");
        assert_eq!(aggregates.counts, vec![docs.len()]);
    }
    // Every doc of 12 full chunks: two of the three measures read no doc there.
    let all = late.aggregate_groups(&[], &measures, &(0..100).collect()).unwrap().expect("on ids");
    assert_eq!(all.ids_read, 100 * 3 - 2 * 96);
}

/// A range on a column with ids is a set of dictionary ids: none in range reads no doc
/// (the dictionary answers), an inverted index answers with its postings, and otherwise
/// each doc's id is tested; all three give the docs of a row-by-row test.
#[test]
fn a_range_on_ids_is_answered_by_the_dictionary_the_inverted_index_or_a_scan_of_ids() {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"user","dataType":"LONG"},{"name":"kind","dataType":"INT"}]}"#,
    )
    .unwrap();
    let config = r#"{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["kind"]}}"#;
    let table = Table::new(schema, TableConfigJson::from_json(config).unwrap()).unwrap();
    let segment = Arc::new(MutableSegment::with_chunk_shift(&table, "t__0__0", 3));
    // Users repeat (so keep their ids) in an order unlike their values; kinds cycle.
    let user = |doc: i64| (doc / 2 * 7) % 23 * 10;
    for doc in 0..200i64 {
        let row = [FieldValue::Single(Value::Long(user(doc))), FieldValue::Single(Value::Int((doc % 5) as i32))];
        segment.append(&row).unwrap();
    }
    assert!(segment.columns.iter().all(|c| c.raw.get().is_none()), "both columns keep their ids");
    let snapshot = segment.snapshot();
    let between = |column: &str, lo: Value, hi: Value| Predicate::Leaf {
        column: column.into(),
        leaf: Leaf::Between(lo, hi),
        negated: false,
    };
    let answer = |p: &Predicate| {
        let evaluation = snapshot.evaluate(p, EvalOptions::default()).unwrap();
        (evaluation.docs.iter().collect::<Vec<u32>>(), evaluation.trace[0].access)
    };
    let users = |lo: i64, hi: i64| (0..200u32).filter(|&d| (lo..=hi).contains(&user(i64::from(d)))).collect::<Vec<_>>();
    assert_eq!(answer(&between("user", Value::Long(31), Value::Long(39))), (vec![], Access::Dictionary));
    assert_eq!(answer(&between("user", Value::Long(40), Value::Long(75))), (users(40, 75), Access::ScanIds));
    assert!(users(40, 75).len() > 10);
    let kinds = (0..200u32).filter(|d| (1..=2).contains(&(d % 5))).collect::<Vec<_>>();
    assert_eq!(answer(&between("kind", Value::Int(1), Value::Int(2))), (kinds, Access::InvertedIndex));
    assert_eq!(answer(&between("kind", Value::Int(7), Value::Int(9))), (vec![], Access::Dictionary));
}
