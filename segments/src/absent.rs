//! Columns a segment does not have: a column added to the schema after the segment was
//! built. Every doc of such a segment holds null for it — its default value when null
//! handling is off, as Pinot's segment reload does — without rewriting the segment.

use crate::decode::{to_arrow, DecodeOptions, Gathered};
use crate::error::{Result, SegmentError};
use crate::physical::Physical;
use crate::predicate::{Matcher, Predicate};
use arrow_array::ArrayRef;
use arrow_buffer::NullBuffer;
use cuvee_catalog::ColumnSpec;

/// `rows` docs of a column the segment lacks: all null, read as the default value unless
/// null handling is on.
pub fn absent_column(spec: &ColumnSpec, rows: usize, options: DecodeOptions) -> Result<ArrayRef> {
    let mut gathered = Gathered::for_column(spec.single_value);
    let physical = Physical::of(spec.data_type);
    let unusable = || {
        SegmentError::InvalidRequest(format!(
            "column {}: default value {} does not fit its type",
            spec.name, spec.default_null_value
        ))
    };
    for _ in 0..rows {
        match physical {
            Physical::Fixed(kind) => gathered.push_key(kind.key(&spec.default_null_value).ok_or_else(unusable)?),
            Physical::Var(kind) => gathered.push_bytes(kind.bytes(&spec.default_null_value).ok_or_else(unusable)?),
        }
        gathered.end_doc();
    }
    let validity = options.null_handling.then(|| NullBuffer::new_null(rows));
    to_arrow(gathered, spec.data_type, validity)
}

/// `predicate` with every test on an absent column replaced by its constant outcome, so the
/// rest is evaluated by the segment's indexes as usual.
///
/// Without null handling an absent column reads as its default value, so each leaf is just
/// tested against it. With null handling each leaf is *unknown*; a doc matches only where the
/// whole predicate is true, so an unknown leaf becomes `false` where it counts positively and
/// `true` under an odd number of NOTs (NOT unknown is unknown, never true).
pub fn resolve_absent(
    predicate: &Predicate,
    spec_of_absent: &dyn Fn(&str) -> Option<ColumnSpec>,
    null_handling: bool,
) -> Predicate {
    resolve(predicate, spec_of_absent, null_handling, true)
}

fn resolve(
    predicate: &Predicate,
    absent: &dyn Fn(&str) -> Option<ColumnSpec>,
    null_handling: bool,
    positive: bool,
) -> Predicate {
    match predicate {
        Predicate::And(parts) => {
            Predicate::And(parts.iter().map(|p| resolve(p, absent, null_handling, positive)).collect())
        }
        Predicate::Or(parts) => {
            Predicate::Or(parts.iter().map(|p| resolve(p, absent, null_handling, positive)).collect())
        }
        Predicate::Not(inner) => Predicate::Not(Box::new(resolve(inner, absent, null_handling, !positive))),
        Predicate::IsNull { column, negated } => match absent(column) {
            Some(_) => Predicate::Const(!negated),
            None => predicate.clone(),
        },
        Predicate::Leaf { column, leaf, negated } => {
            let Some(spec) = absent(column) else { return predicate.clone() };
            if null_handling {
                return Predicate::Const(!positive);
            }
            let matches = Matcher::compile(leaf, spec.data_type).is_ok_and(|m| match Physical::of(spec.data_type) {
                Physical::Fixed(kind) => kind.key(&spec.default_null_value).is_some_and(|k| m.test_key(k, kind)),
                Physical::Var(kind) => kind.bytes(&spec.default_null_value).is_some_and(|b| m.test_bytes(b)),
            });
            Predicate::Const(matches != *negated)
        }
        Predicate::Const(_) => predicate.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuvee_catalog::{Schema, Value};

    fn spec() -> ColumnSpec {
        let schema =
            Schema::from_json(r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"added","dataType":"INT"}]}"#)
                .expect("schema");
        schema.column("added").cloned().expect("column")
    }

    #[test]
    fn absent_column_tests_against_its_default_or_is_unknown() {
        let absent = |c: &str| (c == "added").then(spec);
        let default = Value::Int(i32::MIN);
        let eq_default = Predicate::eq("added", default);
        assert_eq!(resolve_absent(&eq_default, &absent, false), Predicate::Const(true));
        assert_eq!(resolve_absent(&Predicate::not_eq("added", Value::Int(3)), &absent, false), Predicate::Const(true));
        assert_eq!(resolve_absent(&Predicate::eq("added", Value::Int(3)), &absent, false), Predicate::Const(false));
        // NOT (added = 3) with nulls: NOT unknown is unknown, so nothing matches.
        let not = Predicate::Not(Box::new(Predicate::eq("added", Value::Int(3))));
        assert_eq!(resolve_absent(&not, &absent, true), Predicate::Not(Box::new(Predicate::Const(true))));
        assert_eq!(resolve_absent(&Predicate::is_null("added"), &absent, true), Predicate::Const(true));
        let other = Predicate::eq("present", Value::Int(1));
        assert_eq!(resolve_absent(&other, &absent, true), other);
    }

    #[test]
    fn absent_column_decodes_as_default_or_null() {
        let plain = absent_column(&spec(), 3, DecodeOptions { null_handling: false }).expect("array");
        assert_eq!(plain.null_count(), 0);
        assert_eq!(plain.len(), 3);
        let nulls = absent_column(&spec(), 3, DecodeOptions { null_handling: true }).expect("array");
        assert_eq!(nulls.null_count(), 3);
    }
}
