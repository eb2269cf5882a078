//! Which schema changes a table with data can take. Segments already written keep the
//! columns they were built with, so an update may add columns (old segments read them as
//! null, i.e. their default value) and change attributes that only affect new rows
//! (`maxLength`, transforms), but never remove a column or change what its stored values
//! mean — Pinot's `isBackwardCompatibleWith`.

use crate::schema::{ColumnSpec, Schema};

/// Every reason `next` cannot replace `current`, empty when it can.
pub fn incompatibilities(current: &Schema, next: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    if current.name() != next.name() {
        problems.push(format!("schemaName changes from \"{}\" to \"{}\"", current.name(), next.name()));
    }
    for old in current.columns() {
        let Some(new) = next.column(&old.name) else {
            problems.push(format!(
                "column \"{}\" is removed; existing segments hold it (drop the table or keep the column)",
                old.name
            ));
            continue;
        };
        problems.extend(changes(old, new).into_iter().map(|c| {
            format!("column \"{}\": {c}; existing segments hold the old form (add a new column instead)", old.name)
        }));
    }
    problems
}

fn changes(old: &ColumnSpec, new: &ColumnSpec) -> Vec<String> {
    let mut out = Vec::new();
    if old.data_type != new.data_type {
        out.push(format!("dataType changes from {} to {}", old.data_type, new.data_type));
    }
    if old.single_value != new.single_value {
        let form = |sv: bool| if sv { "single-value" } else { "multi-value" };
        out.push(format!("changes from {} to {}", form(old.single_value), form(new.single_value)));
    }
    if old.kind != new.kind {
        out.push(format!("field kind changes from {:?} to {:?}", old.kind, new.kind));
    }
    // A new type has a new default; the type change is the one to report.
    if old.data_type == new.data_type && old.default_null_value != new.default_null_value {
        out.push(format!("defaultNullValue changes from {} to {}", old.default_null_value, new.default_null_value));
    }
    if old.time_format != new.time_format {
        out.push("the date-time format changes".to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(columns: &str) -> Schema {
        Schema::from_json(&format!(r#"{{"schemaName":"s","dimensionFieldSpecs":[{columns}]}}"#)).expect("schema")
    }

    #[test]
    fn adding_a_column_is_compatible() {
        let a = schema(r#"{"name":"a","dataType":"INT"}"#);
        let b = schema(r#"{"name":"a","dataType":"INT"},{"name":"b","dataType":"STRING"}"#);
        assert!(incompatibilities(&a, &b).is_empty());
    }

    #[test]
    fn removing_or_retyping_a_column_is_not() {
        let a = schema(r#"{"name":"a","dataType":"INT"},{"name":"b","dataType":"STRING"}"#);
        let b = schema(r#"{"name":"a","dataType":"LONG"}"#);
        let problems = incompatibilities(&a, &b);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("dataType changes from INT to LONG"), "{problems:?}");
        assert!(problems[1].contains("\"b\" is removed"), "{problems:?}");
    }
}
