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
