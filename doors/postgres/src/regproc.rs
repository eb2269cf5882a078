//! `typinput = 'array_in'::regproc` (DBeaver's type probe). In Postgres the `pg_type`
//! function columns are `regproc`: oids shown as names. datafusion-pg-catalog keeps them as
//! the names themselves (text), so comparing one with a `::regproc` cast made the engine cast
//! every name to an integer and fail. Compared by name instead — the same test, since a
//! regproc is equal exactly when the function named is.

use crate::sql_shape::{parse, to_sql};
use datafusion::sql::sqlparser::ast::{visit_expressions_mut, BinaryOperator, DataType, Expr, Value};
use std::ops::ControlFlow;

/// `pg_type`'s regproc columns, which the catalog holds as names.
const NAME_HELD_REGPROC_COLUMNS: [&str; 7] =
    ["typinput", "typoutput", "typreceive", "typsend", "typmodin", "typmodout", "typanalyze"];

/// `sql` with such comparisons made by name; `None` when it has none.
pub fn compare_regproc_by_name(sql: &str) -> Option<String> {
    if !sql.to_ascii_lowercase().contains("regproc") {
        return None;
    }
    let mut statements = parse(sql)?;
    let mut changed = false;
    let _ = visit_expressions_mut(&mut statements, |expr| {
        if let Expr::BinaryOp { left, op: BinaryOperator::Eq | BinaryOperator::NotEq, right } = expr {
            if is_name_held_column(left) {
                changed |= replace_by_name(right);
            } else if is_name_held_column(right) {
                changed |= replace_by_name(left);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    changed.then(|| to_sql(&statements))
}

fn replace_by_name(side: &mut Expr) -> bool {
    match regproc_literal(side) {
        Some(name) => {
            *side = Expr::value(Value::SingleQuotedString(name));
            true
        }
        None => false,
    }
}

fn is_name_held_column(expr: &Expr) -> bool {
    let name = match expr {
        Expr::Identifier(ident) => &ident.value,
        Expr::CompoundIdentifier(parts) => match parts.last() {
            Some(last) => &last.value,
            None => return false,
        },
        _ => return false,
    };
    NAME_HELD_REGPROC_COLUMNS.contains(&name.to_ascii_lowercase().as_str())
}

/// The function name of `'schema.name'::regproc`, without the schema.
fn regproc_literal(expr: &Expr) -> Option<String> {
    let Expr::Cast { expr: inner, data_type: DataType::Custom(type_name, _), .. } = expr else { return None };
    if !type_name.to_string().eq_ignore_ascii_case("regproc") {
        return None;
    }
    let Expr::Value(value) = inner.as_ref() else { return None };
    let Value::SingleQuotedString(text) = &value.value else { return None };
    Some(text.rsplit('.').next().unwrap_or(text).to_string())
}

#[cfg(test)]
mod tests {
    use super::compare_regproc_by_name;

    #[test]
    fn compares_name_held_columns_by_name_only() {
        let sql = "SELECT typinput = 'pg_catalog.array_in'::regproc AS is_array FROM pg_catalog.pg_type";
        assert_eq!(
            compare_regproc_by_name(sql).as_deref(),
            Some("SELECT typinput = 'array_in' AS is_array FROM pg_catalog.pg_type")
        );
        assert_eq!(compare_regproc_by_name("SELECT p.oid = 'array_in'::regproc FROM pg_catalog.pg_proc p"), None);
        assert_eq!(compare_regproc_by_name("SELECT 1"), None);
    }
}
