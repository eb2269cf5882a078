//! Constraint and index look-ups that DataFusion cannot plan, answered with no rows.
//!
//! cuvee tables have no primary keys, foreign keys, unique constraints or Postgres indexes
//! (their indexes are inside segments), so `pg_constraint` and `pg_index` hold nothing for
//! them, and every question a tool asks of those tables has the empty answer. Some such
//! questions cannot be planned at all — SQLAlchemy's `get_pk_constraint` / `get_indexes`
//! unnest `int2vector` columns and call `generate_subscripts` — so when a statement that reads
//! only the catalog and touches one of these tables fails to plan, the door answers it with
//! an empty result of the same column names instead.
//!
//! The stand-in keeps every `$n` the statement had (in a condition never evaluated for a
//! row), so the client's Bind, which supplies parameters by position, still fits.

use crate::sql_shape::{catalog_tables, naming_placeholders, parse, placeholders};
use datafusion::sql::sqlparser::ast::{Expr, Query, SelectItem, SetExpr, Statement};
use std::collections::BTreeSet;

/// Catalog tables that are empty for every cuvee table.
const EMPTY_FOR_CUVEE: [&str; 4] = ["pg_constraint", "pg_index", "pg_inherits", "pg_trigger"];

/// The empty-result stand-in for `sql`, if it is a catalog-only query over an always-empty table.
pub fn empty_answer(sql: &str) -> Option<String> {
    let statements = parse(sql)?;
    let [Statement::Query(query)] = statements.as_slice() else { return None };
    let tables = catalog_tables(&statements[0])?;
    if !tables.iter().any(|t| EMPTY_FOR_CUVEE.contains(&t.as_str())) {
        return None;
    }
    let names = output_names(query)?;
    let placeholders: BTreeSet<u32> =
        placeholders(&statements[0]).iter().filter_map(|p| p.trim_start_matches('$').parse().ok()).collect();
    let columns = names
        .iter()
        .map(|n| format!("CAST(NULL AS TEXT) AS \"{}\"", n.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let names: Vec<String> = placeholders.iter().map(|n| format!("${n}")).collect();
    let condition =
        naming_placeholders(&names).map_or_else(|| "false".to_string(), |named| format!("false AND ({named})"));
    Some(format!("SELECT {columns} WHERE {condition}"))
}

/// The outermost select's column names, as Postgres would name them; `None` for `*`.
fn output_names(query: &Query) -> Option<Vec<String>> {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::Select(select) => return select.projection.iter().map(item_name).collect(),
            SetExpr::Query(inner) => body = inner.body.as_ref(),
            SetExpr::SetOperation { left, .. } => body = left.as_ref(),
            _ => return None,
        }
    }
}

fn item_name(item: &SelectItem) -> Option<String> {
    match item {
        SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.clone()),
        SelectItem::UnnamedExpr(expr) => Some(expr_name(expr)),
        _ => None,
    }
}

fn expr_name(expr: &Expr) -> String {
    match expr {
        Expr::Identifier(ident) => ident.value.clone(),
        Expr::CompoundIdentifier(parts) => parts.last().map_or_else(|| "?column?".to_string(), |p| p.value.clone()),
        Expr::Function(function) => function
            .name
            .0
            .last()
            .map_or_else(|| "?column?".to_string(), |p| p.to_string().trim_matches('"').to_string()),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => expr_name(expr),
        _ => "?column?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_constraint_lookups_keeping_parameters() {
        let sql = "SELECT attr.conrelid, array_agg(attr.attname) AS cols, attr.conname FROM (SELECT con.conrelid, unnest(con.conkey) AS k FROM pg_catalog.pg_constraint con WHERE con.contype = $2 AND con.conrelid IN ($3)) AS attr GROUP BY attr.conrelid, attr.conname";
        let answer = empty_answer(sql).expect("a stand-in");
        assert_eq!(answer, "SELECT CAST(NULL AS TEXT) AS \"conrelid\", CAST(NULL AS TEXT) AS \"cols\", CAST(NULL AS TEXT) AS \"conname\" WHERE false AND ($2 IS NULL OR $3 IS NULL)");
    }

    #[test]
    fn leaves_user_tables_and_other_catalog_tables_alone() {
        assert_eq!(empty_answer("SELECT * FROM pg_catalog.pg_index"), None);
        assert_eq!(empty_answer("SELECT c.relname FROM pg_catalog.pg_class c"), None);
        assert_eq!(empty_answer("SELECT x FROM t JOIN pg_catalog.pg_index i ON true"), None);
    }
}
