//! Partial upsert: a key's new row merged with its previous one, column by column, by
//! each column's strategy (Pinot's `partialUpsertStrategies`). The merged row is what is
//! stored, so a query reads it like any other row.

use cuvee_catalog::{MergeStrategy, Value};
use cuvee_segments::FieldValue;

pub(crate) fn merge(strategies: &[MergeStrategy], previous: Vec<FieldValue>, new: Vec<FieldValue>) -> Vec<FieldValue> {
    previous
        .into_iter()
        .zip(new)
        .zip(strategies)
        .map(|((old, new), strategy)| merge_field(*strategy, old, new))
        .collect()
}

fn merge_field(strategy: MergeStrategy, old: FieldValue, new: FieldValue) -> FieldValue {
    use FieldValue::{Multi, Null, Single};
    match (strategy, old, new) {
        (MergeStrategy::ForceOverwrite, _, new) => new,
        (_, Null, new) => new,
        (_, old, Null) => old,
        (MergeStrategy::Overwrite, _, new) => new,
        (MergeStrategy::Ignore, old, _) => old,
        (MergeStrategy::Increment, Single(a), Single(b)) => Single(add(&a, &b).unwrap_or(b)),
        (MergeStrategy::Max, Single(a), Single(b)) => Single(if number(&b) > number(&a) { b } else { a }),
        (MergeStrategy::Min, Single(a), Single(b)) => Single(if number(&b) < number(&a) { b } else { a }),
        (MergeStrategy::Append, Multi(mut a), Multi(b)) => {
            a.extend(b);
            Multi(a)
        }
        (MergeStrategy::Union, Multi(mut a), Multi(b)) => {
            for value in b {
                if !a.contains(&value) {
                    a.push(value);
                }
            }
            Multi(a)
        }
        // The plan only gives a strategy to a column of a type it fits.
        (_, _, new) => new,
    }
}

fn add(a: &Value, b: &Value) -> Option<Value> {
    Some(match (a, b) {
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_add(*y)),
        (Value::Long(x), Value::Long(y)) => Value::Long(x.wrapping_add(*y)),
        (Value::Float(x), Value::Float(y)) => Value::Float(x + y),
        (Value::Double(x), Value::Double(y)) => Value::Double(x + y),
        _ => return None,
    })
}

fn number(v: &Value) -> f64 {
    match v {
        Value::Int(x) => f64::from(*x),
        Value::Long(x) => *x as f64,
        Value::Float(x) => f64::from(*x),
        Value::Double(x) => *x,
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FieldValue::{Multi, Null, Single};

    fn s(v: &str) -> Value {
        Value::String(v.to_string())
    }

    #[test]
    fn each_strategy() {
        let strategies = [
            MergeStrategy::Overwrite,
            MergeStrategy::Ignore,
            MergeStrategy::Increment,
            MergeStrategy::Append,
            MergeStrategy::Union,
            MergeStrategy::Max,
            MergeStrategy::Min,
            MergeStrategy::ForceOverwrite,
            MergeStrategy::Overwrite,
        ];
        let old = vec![
            Single(s("a")),
            Single(s("keep")),
            Single(Value::Float(1.5)),
            Multi(vec![s("x")]),
            Multi(vec![s("x"), s("y")]),
            Single(Value::Long(5)),
            Single(Value::Long(5)),
            Single(s("old")),
            Single(s("old")),
        ];
        let new = vec![
            Single(s("b")),
            Single(s("drop")),
            Single(Value::Float(2.0)),
            Multi(vec![s("x")]),
            Multi(vec![s("y"), s("z")]),
            Single(Value::Long(3)),
            Single(Value::Long(3)),
            Null,
            Null,
        ];
        assert_eq!(
            merge(&strategies, old, new),
            vec![
                Single(s("b")),
                Single(s("keep")),
                Single(Value::Float(3.5)),
                Multi(vec![s("x"), s("x")]),
                Multi(vec![s("x"), s("y"), s("z")]),
                Single(Value::Long(5)),
                Single(Value::Long(3)),
                Null,
                Single(s("old")),
            ]
        );
    }

    #[test]
    fn ignore_takes_the_new_value_when_there_was_none() {
        assert_eq!(merge(&[MergeStrategy::Ignore], vec![Null], vec![Single(s("n"))]), vec![Single(s("n"))]);
    }
}
