//! Questions the door's statement repairs ask of a parsed statement: which `$n` it uses,
//! and whether it reads only the catalog (and which catalog tables).

use datafusion::sql::sqlparser::ast::{visit_expressions, visit_relations, Expr, Statement, Value, Visit};
use std::ops::ControlFlow;

/// The placeholders (`$1`, `$2` …) under `node`, in the order met.
pub fn placeholders<V: Visit>(node: &V) -> Vec<String> {
    let mut found = Vec::new();
    let _ = visit_expressions(node, |expr| {
        if let Expr::Value(value) = expr {
            if let Value::Placeholder(name) = &value.value {
                found.push(name.clone());
            }
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// The tables `statement` reads (lowercase, unqualified) if all are catalog tables
/// (`pg_catalog.*`, `information_schema.*`, `pg_*`); `None` if it reads a user table.
pub fn catalog_tables(statement: &Statement) -> Option<Vec<String>> {
    let mut tables = Vec::new();
    let mut only_catalog = true;
    let _ = visit_relations(statement, |name| {
        let text = name.to_string().to_ascii_lowercase();
        let table = text.rsplit('.').next().unwrap_or(&text).trim_matches('"').to_string();
        only_catalog &= text.starts_with("pg_catalog.") || text.starts_with("information_schema.") || table.starts_with("pg_");
        tables.push(table);
        ControlFlow::<()>::Continue(())
    });
    only_catalog.then_some(tables)
}
