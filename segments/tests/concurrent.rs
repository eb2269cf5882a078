//! Readers query a mutable segment while one writer appends: every snapshot sees a
//! consistent prefix, and evaluations on it agree with that prefix.

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::{DecodeOptions, EvalOptions, FieldValue, MutableSegment, Predicate};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn readers_see_consistent_prefixes_while_the_writer_appends() {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"k","dataType":"INT"},{"name":"tags","dataType":"STRING","singleValueField":false}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(
        r#"{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["k","tags"]}}"#,
    )
    .unwrap();
    let table = Table::new(schema, config).unwrap();
    let segment = Arc::new(MutableSegment::new(&table, "t__0__0"));
    let done = Arc::new(AtomicBool::new(false));
    const ROWS: i32 = 60_000;
    let writer = {
        let segment = Arc::clone(&segment);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for i in 0..ROWS {
                let tags = (0..(i % 3)).map(|t| Value::String(format!("t{t}"))).collect();
                segment.append(&[FieldValue::Single(Value::Int(i % 10)), FieldValue::Multi(tags)]).unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut checks = 0;
    loop {
        let finished = done.load(Ordering::Acquire);
        let snapshot = segment.snapshot();
        let n = snapshot.num_docs();
        // Docs i with i % 10 == 3 among 0..n.
        let expected = (0..n as i32).filter(|i| i % 10 == 3).count() as u64;
        let got = snapshot.evaluate(&Predicate::eq("k", Value::Int(3)), EvalOptions::default()).unwrap().docs;
        assert_eq!(got.len(), expected, "snapshot of {n} docs");
        assert!(got.max().is_none_or(|m| m < n));
        let with_t1 =
            snapshot.evaluate(&Predicate::eq("tags", Value::String("t1".into())), EvalOptions::default()).unwrap().docs;
        assert_eq!(with_t1.len(), (0..n as i32).filter(|i| i % 3 == 2).count() as u64);
        if n > 0 {
            let last = snapshot.decode(&["k"], &[n - 1], DecodeOptions::default()).unwrap();
            assert_eq!(last.num_rows(), 1);
        }
        checks += 1;
        if finished {
            assert_eq!(n, ROWS as u32);
            break;
        }
    }
    writer.join().unwrap();
    assert!(checks > 1);
}

/// The compact layout under a concurrent writer: light ids' chains, columns going raw
/// after their first chunk (keys and bytes), chunks frozen while readers hold the open ones.
#[test]
fn chains_raw_keys_and_frozen_chunks_read_consistently_while_the_writer_appends() {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"u","dataType":"LONG"},{"name":"s","dataType":"STRING"},{"name":"id","dataType":"STRING"}],
            "dateTimeFieldSpecs":[{"name":"ts","dataType":"LONG","format":"1:MILLISECONDS:EPOCH","granularity":"1:MILLISECONDS"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(
        r#"{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["u"]}}"#,
    )
    .unwrap();
    let table = Table::new(schema, config).unwrap();
    let segment = Arc::new(MutableSegment::new(&table, "t__0__0"));
    let done = Arc::new(AtomicBool::new(false));
    const ROWS: i64 = 60_000;
    // Most user ids appear once or twice (light), a few many times (heavy).
    let user = |i: i64| if i % 4 == 0 { i % 7 } else { (i * 7_919) % 40_000 };
    let writer = {
        let segment = Arc::clone(&segment);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            for i in 0..ROWS {
                segment
                    .append(&[
                        FieldValue::Single(Value::Long(user(i))),
                        FieldValue::Single(Value::String(format!("s{}", i / 3))),
                        FieldValue::Single(Value::String(format!("id-{i:x}"))),
                        FieldValue::Single(Value::Long(1_000 + i)),
                    ])
                    .unwrap();
            }
            done.store(true, Ordering::Release);
        })
    };
    let mut checks = 0;
    loop {
        let finished = done.load(Ordering::Acquire);
        let snapshot = segment.snapshot();
        let n = i64::from(snapshot.num_docs());
        for probe in [n / 2, n - 1, 3] {
            if probe < 0 {
                continue;
            }
            let value = user(probe);
            let expected: Vec<u32> = (0..n).filter(|&i| user(i) == value).map(|i| i as u32).collect();
            let got: Vec<u32> = snapshot
                .evaluate(&Predicate::eq("u", Value::Long(value)), EvalOptions::default())
                .unwrap()
                .docs
                .iter()
                .collect();
            assert_eq!(got, expected, "u = {value} in a snapshot of {n} docs");
            let id = Predicate::eq("id", Value::String(format!("id-{probe:x}")));
            let got: Vec<u32> = snapshot.evaluate(&id, EvalOptions::default()).unwrap().docs.iter().collect();
            let expected: Vec<u32> = if probe < n { vec![probe as u32] } else { vec![] };
            assert_eq!(got, expected, "id of doc {probe} in a snapshot of {n} docs");
        }
        let (lo, hi) = (1_000 + n / 4, 1_000 + n / 2);
        let range = Predicate::Leaf {
            column: "ts".into(),
            leaf: cuvee_segments::Leaf::Between(Value::Long(lo), Value::Long(hi)),
            negated: false,
        };
        let got = snapshot.evaluate(&range, EvalOptions::default()).unwrap().docs;
        let expected = if n == 0 { 0 } else { (n / 2 - n / 4 + 1).min(n - n / 4) as u64 };
        assert_eq!(got.len(), expected, "ts range in a snapshot of {n} docs");
        if n > 0 {
            let docs = [0, (n / 2) as u32, (n - 1) as u32];
            let batch = snapshot.decode(&["ts", "s", "id"], &docs, DecodeOptions::default()).unwrap();
            let ts = batch.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
            let expected: Vec<i64> = docs.iter().map(|&d| 1_000 + i64::from(d)).collect();
            assert_eq!(ts.values().to_vec(), expected);
            let text = |c: usize| {
                let array = batch.column(c).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
                array.iter().map(|v| v.unwrap_or_default().to_string()).collect::<Vec<_>>()
            };
            assert_eq!(text(1), docs.iter().map(|d| format!("s{}", d / 3)).collect::<Vec<_>>());
            assert_eq!(text(2), docs.iter().map(|d| format!("id-{d:x}")).collect::<Vec<_>>());
        }
        checks += 1;
        if finished {
            assert_eq!(n, ROWS);
            break;
        }
    }
    writer.join().unwrap();
    assert!(checks > 1);
}
