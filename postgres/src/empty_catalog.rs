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

use datafusion::sql::sqlparser::ast::{visit_expressions, visit_relations, Expr, Query, SelectItem, SetExpr, Statement, Value};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::collections::BTreeSet;
use std::ops::ControlFlow;

/// Catalog tables that are empty for every cuvee table.
const EMPTY_FOR_CUVEE: [&str; 4] = ["pg_constraint", "pg_index", "pg_inherits", "pg_trigger"];

/// The empty-result stand-in for `sql`, if it is a catalog-only query over an always-empty table.
pub fn empty_answer(sql: &str) -> Option<String> {
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()?;
    let [Statement::Query(query)] = statements.as_slice() else { return None };
    let (only_catalog, touches_empty) = catalog_reach(&statements[0]);
    if !only_catalog || !touches_empty {
        return None;
    }
    let names = output_names(query)?;
    let mut placeholders = BTreeSet::new();
    let _ = visit_expressions(&statements[0], |expr| {
        if let Expr::Value(value) = expr {
            if let Value::Placeholder(name) = &value.value {
                if let Ok(n) = name.trim_start_matches('$').parse::<u32>() {
                    placeholders.insert(n);
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    let columns = names.iter().map(|n| format!("CAST(NULL AS TEXT) AS \"{}\"", n.replace('"', "\"\""))).collect::<Vec<_>>().join(", ");
    let keep = placeholders.iter().map(|n| format!("${n} IS NULL")).collect::<Vec<_>>();
    let condition = if keep.is_empty() { "false".to_string() } else { format!("false AND ({})", keep.join(" OR ")) };
    Some(format!("SELECT {columns} WHERE {condition}"))
}

fn catalog_reach(statement: &Statement) -> (bool, bool) {
    let (mut only_catalog, mut touches_empty) = (true, false);
    let _ = visit_relations(statement, |name| {
        let text = name.to_string().to_ascii_lowercase();
        let table = text.rsplit('.').next().unwrap_or(&text).trim_matches('"').to_string();
        only_catalog &= text.starts_with("pg_catalog.") || text.starts_with("information_schema.") || table.starts_with("pg_");
        touches_empty |= EMPTY_FOR_CUVEE.contains(&table.as_str());
        ControlFlow::<()>::Continue(())
    });
    (only_catalog, touches_empty)
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
        Expr::Function(function) => function.name.0.last().map_or_else(|| "?column?".to_string(), |p| p.to_string().trim_matches('"').to_string()),
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
