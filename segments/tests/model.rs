//! Property test: random schemas, index choices, rows and predicates; every evaluation path
//! (sorted, inverted, range, bloom, scans on ids and raw values; immutable, mutable, sealed)
//! must return exactly what a plain in-memory model returns, and decoding must give back the
//! rows. PROPTEST_CASES sets the number of cases (1,000 by default).

use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, ArrayRef};
use cuvee_catalog::value::compare_decimal;
use cuvee_catalog::{DataType, Schema, Table, TableConfigJson, Value};
use cuvee_segments::{
    CompareOp, DecodeOptions, EvalOptions, FieldValue, ImmutableSegment, Leaf, MutableSegment, Predicate,
    SegmentBuilder, SegmentIdentity,
};
use proptest::prelude::*;
use std::cmp::Ordering;
use std::sync::Arc;

const TYPES: [DataType; 10] = DataType::ALL;

#[derive(Debug, Clone)]
struct ColumnChoice {
    data_type: DataType,
    single_value: bool,
    raw: bool,
    inverted: bool,
    range: bool,
    bloom: bool,
    /// Values from ~1,000 instead of a handful: dictionaries get packed keys and offsets,
    /// inverted indexes posting lists, and a column without such an index may be stored
    /// raw because raw is smaller (the seal-time estimation) and goes raw while consuming
    /// (nearly every value of its first chunk distinct).
    wide: bool,
    /// Nulls among the values (one in seven). Without them a wide string column's values
    /// (`w` and four hex digits) are all of one hex shape, so a raw one is stored as hex
    /// slots; with them the null's stand-in is an exception too often for that.
    nullable: bool,
}

#[derive(Debug, Clone)]
struct Case {
    columns: Vec<ColumnChoice>,
    sorted: bool,
    rows: Vec<Vec<FieldValue>>,
    predicates: Vec<Predicate>,
    null_handling: bool,
    optimize_dictionary: bool,
}

fn domain(t: DataType) -> Vec<Value> {
    match t {
        DataType::Int => {
            vec![Value::Int(-3), Value::Int(-1), Value::Int(0), Value::Int(2), Value::Int(3), Value::Int(i32::MAX)]
        }
        DataType::Long => {
            vec![Value::Long(-3000), Value::Long(0), Value::Long(1000), Value::Long(2000), Value::Long(i64::MIN + 1)]
        }
        DataType::Float => {
            vec![Value::Float(-1.5), Value::Float(0.0), Value::Float(0.5), Value::Float(2.25), Value::Float(1e10)]
        }
        DataType::Double => vec![
            Value::Double(-1.5),
            Value::Double(0.0),
            Value::Double(0.1),
            Value::Double(2.25),
            Value::Double(f64::INFINITY),
        ],
        DataType::Boolean => vec![Value::Boolean(false), Value::Boolean(true)],
        DataType::Timestamp => {
            vec![Value::Timestamp(0), Value::Timestamp(1000), Value::Timestamp(5000), Value::Timestamp(-86_400_000)]
        }
        DataType::String => {
            ["", "a", "ab", "b", "ba", "é", "null", "a%b"].iter().map(|s| Value::String(s.to_string())).collect()
        }
        DataType::Json => [r#"{"a":1}"#, "[]", "null", r#""x""#].iter().map(|s| Value::Json(s.to_string())).collect(),
        DataType::Bytes => [vec![], vec![0u8], vec![0, 1], vec![1], vec![255]].into_iter().map(Value::Bytes).collect(),
        DataType::BigDecimal => {
            ["-1.5", "0", "0.5", "1", "10", "2.25", "1e3"].iter().map(|s| Value::BigDecimal(s.to_string())).collect()
        }
    }
}

/// The values a column draws from.
fn values_of(c: &ColumnChoice) -> Vec<Value> {
    if !c.wide {
        return domain(c.data_type);
    }
    let n = 0..1000i64;
    match c.data_type {
        DataType::Int => n.map(|i| Value::Int(i as i32 * 37 - 5000)).collect(),
        DataType::Long => n.map(|i| Value::Long(i * 3 - 1500)).collect(),
        DataType::Timestamp => n.map(|i| Value::Timestamp(1_600_000_000_000 + i * 13)).collect(),
        DataType::Float => n.map(|i| Value::Float(i as f32 * 0.25 - 3.0)).collect(),
        DataType::Double => n.map(|i| Value::Double(i as f64 * 1.5e-3)).collect(),
        DataType::String => n.map(|i| Value::String(format!("w{:04x}", i * 61 % 1000))).collect(),
        DataType::Bytes => n.map(|i| Value::Bytes((i * 61 % 1000).to_be_bytes()[5..].to_vec())).collect(),
        other => domain(other),
    }
}

/// Literals for predicates: the column's own values plus ones that need coercion.
fn literals_of(c: &ColumnChoice) -> Vec<Value> {
    let mut out = literals(c.data_type);
    if c.wide {
        out.extend(values_of(c).into_iter().step_by(97));
    }
    out
}

/// Literals for predicates: the column's own values plus ones that need coercion.
fn literals(t: DataType) -> Vec<Value> {
    let mut out = domain(t);
    match t {
        DataType::Int | DataType::Long | DataType::Timestamp => out.extend([
            Value::Double(0.5),
            Value::Double(-2.5),
            Value::Double(2.0),
            Value::Long(10_000_000_000),
            Value::Long(-10_000_000_000),
        ]),
        DataType::Float => {
            out.extend([Value::Double(0.1), Value::Double(2.25), Value::Int(0), Value::Double(-1.4999999)])
        }
        DataType::Double => out.extend([Value::Int(2), Value::Float(0.5)]),
        DataType::String => out.extend([Value::String("aa".into()), Value::String("c".into())]),
        DataType::BigDecimal => out.extend([Value::BigDecimal("1.000".into()), Value::BigDecimal("0.25".into())]),
        _ => {}
    }
    out
}

fn column_strategy() -> impl Strategy<Value = ColumnChoice> {
    let flags =
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>());
    (0..TYPES.len(), flags).prop_map(|(t, (mv, raw, inverted, range, bloom, wide, nullable))| {
        let data_type = TYPES[t];
        let raw = raw && !inverted;
        ColumnChoice {
            data_type,
            single_value: !mv,
            raw,
            inverted,
            range: range && (!raw || data_type.is_numeric()),
            bloom,
            wide,
            nullable,
        }
    })
}

fn field_strategy(c: &ColumnChoice) -> BoxedStrategy<FieldValue> {
    let values = values_of(c);
    let one = proptest::sample::select(values);
    let null = u32::from(c.nullable);
    if c.single_value {
        prop_oneof![null => Just(FieldValue::Null), 6 => one.prop_map(FieldValue::Single)].boxed()
    } else {
        let many = proptest::collection::vec(one, 0..4).prop_map(FieldValue::Multi);
        prop_oneof![null => Just(FieldValue::Null), 6 => many].boxed()
    }
}

fn leaf_strategy(columns: &[ColumnChoice]) -> BoxedStrategy<Predicate> {
    let leaves: Vec<BoxedStrategy<Predicate>> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let name = format!("c{i}");
            let lits = literals_of(c);
            let lit = proptest::sample::select(lits.clone());
            let ops = proptest::sample::select(vec![
                CompareOp::Eq,
                CompareOp::Lt,
                CompareOp::Le,
                CompareOp::Gt,
                CompareOp::Ge,
            ]);
            let n1 = name.clone();
            let n2 = name.clone();
            let n3 = name.clone();
            let n4 = name.clone();
            let compare = (ops, lit.clone(), any::<bool>()).prop_map(move |(op, v, neg)| Predicate::Leaf {
                column: n1.clone(),
                leaf: Leaf::Compare(op, v),
                negated: neg && op == CompareOp::Eq,
            });
            let between = (lit.clone(), lit.clone()).prop_map(move |(a, b)| Predicate::between(&n2, a, b));
            let within = (proptest::collection::vec(lit, 0..4), any::<bool>())
                .prop_map(move |(vs, neg)| Predicate::Leaf { column: n3.clone(), leaf: Leaf::In(vs), negated: neg });
            let null = any::<bool>().prop_map(move |neg| Predicate::IsNull { column: n4.clone(), negated: neg });
            if c.data_type == DataType::String {
                let n5 = name.clone();
                let n6 = name.clone();
                let like = (proptest::sample::select(vec!["a%", "%a", "_", "%", "a\\%b", "_a%"]), any::<bool>())
                    .prop_map(move |(p, neg)| Predicate::Leaf {
                        column: n5.clone(),
                        leaf: Leaf::Like(p.into()),
                        negated: neg,
                    });
                let regexp = proptest::sample::select(vec!["^a", "b", "é$", "^$"])
                    .prop_map(move |p| Predicate::regexp_like(&n6, p));
                prop_oneof![4 => compare, 2 => between, 2 => within, 1 => null, 2 => like, 1 => regexp].boxed()
            } else {
                prop_oneof![4 => compare, 2 => between, 2 => within, 1 => null].boxed()
            }
        })
        .collect();
    proptest::strategy::Union::new(leaves).boxed()
}

fn predicate_strategy(columns: &[ColumnChoice]) -> BoxedStrategy<Predicate> {
    leaf_strategy(columns)
        .prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 1..3).prop_map(Predicate::And),
                proptest::collection::vec(inner.clone(), 1..3).prop_map(Predicate::Or),
                inner.prop_map(|p| Predicate::Not(Box::new(p))),
            ]
        })
        .boxed()
}

fn case_strategy() -> impl Strategy<Value = Case> {
    (proptest::collection::vec(column_strategy(), 1..5), any::<bool>(), any::<bool>(), any::<bool>()).prop_flat_map(
        |(columns, sorted, null_handling, optimize_dictionary)| {
            let row = columns.iter().map(field_strategy).collect::<Vec<_>>();
            let rows = proptest::collection::vec(row, 0..300);
            let predicates = proptest::collection::vec(predicate_strategy(&columns), 1..6);
            (Just(columns), Just(sorted), rows, predicates, Just(null_handling)).prop_map(
                move |(columns, sorted, rows, predicates, null_handling)| Case {
                    columns,
                    sorted,
                    rows,
                    predicates,
                    null_handling,
                    optimize_dictionary,
                },
            )
        },
    )
}

fn table(case: &Case) -> Table {
    let specs: Vec<String> = case
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(r#"{{"name":"c{i}","dataType":"{}","singleValueField":{}}}"#, c.data_type.name(), c.single_value)
        })
        .collect();
    let schema =
        Schema::from_json(&format!(r#"{{"schemaName":"t","dimensionFieldSpecs":[{}]}}"#, specs.join(","))).unwrap();
    let list = |pick: &dyn Fn(&ColumnChoice) -> bool| {
        let names: Vec<String> =
            case.columns.iter().enumerate().filter(|(_, c)| pick(c)).map(|(i, _)| format!("\"c{i}\"")).collect();
        format!("[{}]", names.join(","))
    };
    let sorted = sorted_column(case).map(|i| format!("[\"c{i}\"]")).unwrap_or_else(|| "[]".into());
    // Half the cases let the builder store a dictionary column raw when that is smaller.
    let optimize = case.optimize_dictionary;
    let config = format!(
        r#"{{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{{"invertedIndexColumns":{},"rangeIndexColumns":{},"bloomFilterColumns":{},"noDictionaryColumns":{},"sortedColumn":{sorted},"optimizeDictionary":{optimize}}}}}"#,
        list(&|c| c.inverted),
        list(&|c| c.range),
        list(&|c| c.bloom),
        list(&|c| c.raw),
    );
    Table::new(schema, TableConfigJson::from_json(&config).unwrap()).unwrap()
}

fn sorted_column(case: &Case) -> Option<usize> {
    if !case.sorted {
        return None;
    }
    case.columns.iter().position(|c| c.single_value && !c.raw)
}

/// What a doc holds as stored: defaults in place of nulls, as the segment stores it.
fn stored(table: &Table, row: &[FieldValue]) -> Vec<(Vec<Value>, bool)> {
    row.iter()
        .zip(table.schema.columns())
        .map(|(f, spec)| match f {
            FieldValue::Null => (vec![spec.default_null_value.clone()], true),
            FieldValue::Single(v) => (vec![v.clone()], false),
            FieldValue::Multi(vs) if vs.is_empty() => (vec![spec.default_null_value.clone()], true),
            FieldValue::Multi(vs) => (vs.clone(), false),
        })
        .collect()
}

fn as_f64(v: &Value) -> Option<f64> {
    Some(match v {
        Value::Int(x) => *x as f64,
        Value::Long(x) | Value::Timestamp(x) => *x as f64,
        Value::Float(x) => *x as f64,
        Value::Double(x) => *x,
        Value::Boolean(b) => *b as i32 as f64,
        _ => return None,
    })
}

fn as_i128(v: &Value) -> Option<i128> {
    Some(match v {
        Value::Int(x) => *x as i128,
        Value::Long(x) | Value::Timestamp(x) => *x as i128,
        Value::Boolean(b) => *b as i128,
        _ => return None,
    })
}

fn model_cmp(stored: &Value, literal: &Value) -> Option<Ordering> {
    match stored {
        Value::String(s) | Value::Json(s) => Some(s.as_bytes().cmp(literal.to_string().as_bytes())),
        Value::Bytes(b) => match literal {
            Value::Bytes(l) => Some(b.as_slice().cmp(l)),
            _ => None,
        },
        Value::BigDecimal(s) => Some(compare_decimal(s, &literal.to_string())),
        v => match (as_i128(v), as_i128(literal)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            // Exact for the values generated here (small, or integers far from any double).
            _ => as_f64(v)?.partial_cmp(&as_f64(literal)?),
        },
    }
}

fn like(text: &[char], pattern: &[char]) -> bool {
    match pattern.first() {
        None => text.is_empty(),
        Some('%') => (0..=text.len()).any(|i| like(&text[i..], &pattern[1..])),
        Some('_') => !text.is_empty() && like(&text[1..], &pattern[1..]),
        Some('\\') if pattern.len() > 1 => text.first() == Some(&pattern[1]) && like(&text[1..], &pattern[2..]),
        Some(c) => text.first() == Some(c) && like(&text[1..], &pattern[1..]),
    }
}

fn leaf_matches(value: &Value, leaf: &Leaf) -> bool {
    match leaf {
        Leaf::Compare(op, lit) => model_cmp(value, lit).is_some_and(|o| match op {
            CompareOp::Eq => o == Ordering::Equal,
            CompareOp::Lt => o == Ordering::Less,
            CompareOp::Le => o != Ordering::Greater,
            CompareOp::Gt => o == Ordering::Greater,
            CompareOp::Ge => o != Ordering::Less,
        }),
        Leaf::Between(a, b) => {
            model_cmp(value, a).is_some_and(|o| o != Ordering::Less)
                && model_cmp(value, b).is_some_and(|o| o != Ordering::Greater)
        }
        Leaf::In(values) => values.iter().any(|l| model_cmp(value, l) == Some(Ordering::Equal)),
        Leaf::Like(p) => like(&value.to_string().chars().collect::<Vec<_>>(), &p.chars().collect::<Vec<_>>()),
        Leaf::Regexp(p) => regex::Regex::new(p).unwrap().is_match(&value.to_string()),
        // The model generates no geospatial leaves; tests/h3.rs covers them.
        Leaf::WithinDistance { .. } | Leaf::Within(_) => unreachable!("no geospatial leaves in the model"),
    }
}

// Three-valued logic: an unknown (None) does not end the fold, so try_fold would be wrong.
#[allow(clippy::manual_try_fold)]
fn model_eval(p: &Predicate, doc: &[(Vec<Value>, bool)], null_handling: bool) -> Option<bool> {
    let col = |name: &str| name[1..].parse::<usize>().unwrap();
    match p {
        Predicate::Const(b) => Some(*b),
        Predicate::IsNull { column, negated } => Some(doc[col(column)].1 != *negated),
        Predicate::Leaf { column, leaf, negated } => {
            let (values, is_null) = &doc[col(column)];
            if null_handling && *is_null {
                return None;
            }
            let any = values.iter().any(|v| leaf_matches(v, leaf));
            Some(any != *negated)
        }
        Predicate::And(ps) => {
            ps.iter().map(|p| model_eval(p, doc, null_handling)).fold(Some(true), |acc, x| match (acc, x) {
                (Some(false), _) | (_, Some(false)) => Some(false),
                (Some(true), Some(true)) => Some(true),
                _ => None,
            })
        }
        Predicate::Or(ps) => {
            ps.iter().map(|p| model_eval(p, doc, null_handling)).fold(Some(false), |acc, x| match (acc, x) {
                (Some(true), _) | (_, Some(true)) => Some(true),
                (Some(false), Some(false)) => Some(false),
                _ => None,
            })
        }
        Predicate::Not(p) => model_eval(p, doc, null_handling).map(|b| !b),
    }
}

/// Rows in segment order: stable-sorted on the sorted column, as the builder does.
fn segment_order(case: &Case, table: &Table) -> Vec<usize> {
    let mut order: Vec<usize> = (0..case.rows.len()).collect();
    if let Some(c) = sorted_column(case) {
        let key = |r: usize| stored(table, &case.rows[r])[c].0[0].clone();
        order.sort_by(|&a, &b| {
            let (x, y) = (key(a), key(b));
            match (&x, &y) {
                (Value::BigDecimal(p), Value::BigDecimal(q)) => compare_decimal(p, q),
                (Value::Float(p), Value::Float(q)) => p.total_cmp(q),
                (Value::Double(p), Value::Double(q)) => p.total_cmp(q),
                (Value::String(p), Value::String(q)) | (Value::Json(p), Value::Json(q)) => {
                    p.as_bytes().cmp(q.as_bytes())
                }
                _ => x.total_cmp(&y),
            }
        });
    }
    order
}

fn arrow_value(array: &dyn Array, i: usize, t: DataType) -> Value {
    match t {
        DataType::Int => Value::Int(array.as_primitive::<Int32Type>().value(i)),
        DataType::Long => Value::Long(array.as_primitive::<Int64Type>().value(i)),
        DataType::Float => Value::Float(array.as_primitive::<Float32Type>().value(i)),
        DataType::Double => Value::Double(array.as_primitive::<Float64Type>().value(i)),
        DataType::Boolean => Value::Boolean(array.as_boolean().value(i)),
        DataType::Timestamp => Value::Timestamp(array.as_primitive::<TimestampMillisecondType>().value(i)),
        DataType::String => Value::String(array.as_string::<i32>().value(i).to_string()),
        DataType::Json => Value::Json(array.as_string::<i32>().value(i).to_string()),
        DataType::BigDecimal => Value::BigDecimal(array.as_string::<i32>().value(i).to_string()),
        DataType::Bytes => Value::Bytes(array.as_binary::<i32>().value(i).to_vec()),
    }
}

fn decoded_field(array: &ArrayRef, i: usize, t: DataType, single_value: bool) -> FieldValue {
    if array.is_null(i) {
        return FieldValue::Null;
    }
    if single_value {
        FieldValue::Single(arrow_value(array.as_ref(), i, t))
    } else {
        let list = array.as_list::<i32>();
        let values = list.value(i);
        FieldValue::Multi((0..values.len()).map(|j| arrow_value(values.as_ref(), j, t)).collect())
    }
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    // The server's chunks (4,096 docs), and chunks of 8 docs, so that few rows reach what a
    // full chunk brings: frozen (bit-packed) values, a column going raw.
    for mutable_chunk_shift in [None, Some(3)] {
        check_with(case, mutable_chunk_shift)?;
    }
    Ok(())
}

fn check_with(case: &Case, mutable_chunk_shift: Option<u32>) -> Result<(), TestCaseError> {
    let table = table(case);
    let identity = SegmentIdentity { name: "t__0__0".into(), creation_time_ms: 1, ..Default::default() };
    let mut builder = SegmentBuilder::new(&table);
    let mutable = Arc::new(match mutable_chunk_shift {
        Some(shift) => MutableSegment::with_chunk_shift(&table, "t__0__0", shift),
        None => MutableSegment::new(&table, "t__0__0"),
    });
    for row in &case.rows {
        builder.push(row).unwrap();
        mutable.append(row).unwrap();
    }
    let bytes = builder.build(&identity).unwrap();
    let sealed = mutable.seal(&identity).unwrap();
    prop_assert!(bytes == sealed, "sealed segment differs from the batch-built one");
    let segment = ImmutableSegment::from_bytes("t__0__0.cvs".into(), bytes).unwrap();
    let snapshot = mutable.snapshot();
    let order = segment_order(case, &table);
    let options = EvalOptions { null_handling: case.null_handling };
    for predicate in &case.predicates {
        let expected_immutable: Vec<u32> = order
            .iter()
            .enumerate()
            .filter(|(_, &r)| model_eval(predicate, &stored(&table, &case.rows[r]), case.null_handling) == Some(true))
            .map(|(doc, _)| doc as u32)
            .collect();
        let got: Vec<u32> = segment.evaluate(predicate, options).unwrap().docs.iter().collect();
        prop_assert_eq!(&got, &expected_immutable, "immutable, predicate {:?}", predicate);
        let expected_mutable: Vec<u32> = (0..case.rows.len())
            .filter(|&r| model_eval(predicate, &stored(&table, &case.rows[r]), case.null_handling) == Some(true))
            .map(|r| r as u32)
            .collect();
        let got: Vec<u32> = snapshot.evaluate(predicate, options).unwrap().docs.iter().collect();
        prop_assert_eq!(&got, &expected_mutable, "mutable, predicate {:?}", predicate);
    }
    // Decoding gives back the rows (nulls as nulls with null handling, defaults without).
    let names: Vec<String> = (0..case.columns.len()).map(|i| format!("c{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let decode_options = DecodeOptions { null_handling: case.null_handling };
    let batch = segment.decode_all(&names, decode_options).unwrap();
    let docs: Vec<u32> = (0..case.rows.len() as u32).collect();
    let mutable_batch = snapshot.decode(&names, &docs, decode_options).unwrap();
    for (c, choice) in case.columns.iter().enumerate() {
        let expected = |row: &[FieldValue]| {
            let (values, is_null) = &stored(&table, row)[c];
            if *is_null && case.null_handling {
                FieldValue::Null
            } else if choice.single_value {
                FieldValue::Single(values[0].clone())
            } else {
                FieldValue::Multi(values.clone())
            }
        };
        for (doc, &r) in order.iter().enumerate() {
            prop_assert_eq!(
                decoded_field(batch.column(c), doc, choice.data_type, choice.single_value),
                expected(&case.rows[r])
            );
        }
        for (r, row) in case.rows.iter().enumerate() {
            prop_assert_eq!(
                decoded_field(mutable_batch.column(c), r, choice.data_type, choice.single_value),
                expected(row)
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1000),
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_path_agrees_with_the_model(case in case_strategy()) {
        check(&case)?;
    }
}
