//! Catalog queries that DataFusion cannot plan as written: a correlated scalar subquery
//! that is not aggregated (`(SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE
//! adrelid = a.attrelid …)`, SQLAlchemy's column reflection). Postgres runs them and fails
//! only if one returns two rows; DataFusion requires an aggregate to be sure of one row.
//!
//! When planning fails for either reason, the door retries once with each such subquery's
//! single output wrapped in `max(…)`: the same answer whenever the subquery returns at most
//! one row, which is what the statement already relies on.
//!
//! A scalar subquery inside a `CASE` branch DataFusion cannot decorrelate at all. In a
//! statement that reads only the catalog, such branches are guarded by conditions that are
//! false for every cuvee column (`atthasdef`, `attidentity <> ''`, a non-default
//! collation) and read tables that are empty here (`pg_attrdef`, `pg_sequence`), so
//! [`null_case_subqueries`] answers them NULL — exactly what they would return.

use crate::sql_shape::{catalog_tables, naming_placeholders, parse, parse_expr, placeholders, to_sql};
use datafusion::sql::sqlparser::ast::{visit_expressions_mut, Expr, GroupByExpr, Query, SelectItem, SetExpr, Value};
use std::ops::ControlFlow;

/// DataFusion's messages for the cases this handles.
pub fn is_unplannable_subquery_error(message: &str) -> bool {
    message.contains("Correlated scalar subquery must be aggregated")
        || message.contains("does not support logical expression ScalarSubquery")
}

/// `sql` rewritten by both rules below; `None` if neither changes it.
pub fn plannable_subqueries(sql: &str) -> Option<String> {
    let nulled = null_case_subqueries(sql);
    let base = nulled.as_deref().unwrap_or(sql);
    aggregate_scalar_subqueries(base).or(nulled)
}

/// `sql` with its unaggregated scalar subqueries aggregated; `None` if there is nothing to change.
pub fn aggregate_scalar_subqueries(sql: &str) -> Option<String> {
    let mut statements = parse(sql)?;
    let mut changed = false;
    let _ = visit_expressions_mut(&mut statements, |expr| {
        if let Expr::Subquery(query) = expr {
            changed |= aggregate_single_output(query);
        }
        ControlFlow::<()>::Continue(())
    });
    changed.then(|| to_sql(&statements))
}

/// For a statement over catalog tables only: its scalar subqueries in `CASE` branches
/// replaced by NULL (see the module docs); `None` if it has none or reads user tables.
pub fn null_case_subqueries(sql: &str) -> Option<String> {
    if !sql.to_ascii_lowercase().contains("case") {
        return None;
    }
    let mut statements = parse(sql)?;
    if !statements.iter().all(|s| catalog_tables(s).is_some()) {
        return None;
    }
    let mut changed = false;
    let _ = visit_expressions_mut(&mut statements, |expr| {
        if let Expr::Case { conditions, else_result, .. } = expr {
            let branches =
                conditions.iter_mut().map(|when| &mut when.result).chain(else_result.iter_mut().map(|e| e.as_mut()));
            for branch in branches {
                if matches!(branch, Expr::Subquery(_)) {
                    *branch = null_keeping_placeholders(branch);
                    changed = true;
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    changed.then(|| to_sql(&statements))
}

/// NULL, still naming the subquery's parameters (`$n`) so the statement's parameter list
/// — which the client binds by position — keeps its length.
fn null_keeping_placeholders(subquery: &Expr) -> Expr {
    naming_placeholders(&placeholders(subquery))
        .and_then(|named| parse_expr(&format!("CASE WHEN false AND ({named}) THEN NULL END")))
        .unwrap_or_else(|| Expr::value(Value::Null))
}

fn aggregate_single_output(query: &mut Query) -> bool {
    let SetExpr::Select(select) = query.body.as_mut() else { return false };
    let ungrouped = matches!(&select.group_by, GroupByExpr::Expressions(keys, _) if keys.is_empty());
    if select.projection.len() != 1 || !ungrouped {
        return false;
    }
    let (SelectItem::UnnamedExpr(output) | SelectItem::ExprWithAlias { expr: output, .. }) = &mut select.projection[0]
    else {
        return false;
    };
    if is_aggregate(output) {
        return false;
    }
    let Some(wrapped) = parse_expr(&format!("max({output})")) else { return false };
    *output = wrapped;
    true
}

fn is_aggregate(expr: &Expr) -> bool {
    const AGGREGATES: [&str; 10] =
        ["count", "sum", "min", "max", "avg", "array_agg", "string_agg", "bool_and", "bool_or", "json_agg"];
    match expr {
        Expr::Function(function) => {
            let name = function.name.to_string().to_ascii_lowercase();
            AGGREGATES.contains(&name.rsplit('.').next().unwrap_or(&name))
        }
        Expr::Nested(inner) | Expr::Cast { expr: inner, .. } => is_aggregate(inner),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_only_unaggregated_scalar_subqueries() {
        let sql = "SELECT a.x, (SELECT d.y FROM d WHERE d.k = a.k) AS y, (SELECT count(*) FROM d) AS n FROM a";
        let rewritten = aggregate_scalar_subqueries(sql).expect("one subquery to wrap");
        assert!(rewritten.contains("(SELECT max(d.y) FROM d WHERE d.k = a.k) AS y"), "{rewritten}");
        assert!(rewritten.contains("(SELECT count(*) FROM d) AS n"), "{rewritten}");
        assert_eq!(aggregate_scalar_subqueries("SELECT 1"), None);
    }

    #[test]
    fn nulls_case_subqueries_of_catalog_statements_only() {
        let catalog = "SELECT a.attname, CASE WHEN a.atthasdef THEN (SELECT d.adbin FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid) ELSE NULL END AS x FROM pg_catalog.pg_attribute a";
        let rewritten = null_case_subqueries(catalog).expect("a subquery to replace");
        assert!(rewritten.contains("THEN NULL ELSE NULL END AS x"), "{rewritten}");
        let user = "SELECT CASE WHEN t.a THEN (SELECT max(b) FROM t2 WHERE t2.k = t.k) END FROM t";
        assert_eq!(null_case_subqueries(user), None);
    }
}
