//! What the door's statement repairs share: parsing and printing statements in Postgres'
//! dialect, and the questions they ask of one — which `$n` it uses, and whether it reads
//! only the catalog (and which catalog tables).

use datafusion::sql::sqlparser::ast::{visit_expressions, visit_relations, Expr, Statement, Value, Visit};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use std::ops::ControlFlow;

pub fn parse(sql: &str) -> Option<Vec<Statement>> {
    Parser::parse_sql(&PostgreSqlDialect {}, sql).ok()
}

pub fn parse_expr(text: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {}).try_with_sql(text).and_then(|mut parser| parser.parse_expr()).ok()
}

/// The statements as SQL again, in one message.
pub fn to_sql(statements: &[Statement]) -> String {
    statements.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// `$n` if `expr` is a placeholder.
pub fn placeholder_name(expr: &Expr) -> Option<&String> {
    match expr {
        Expr::Value(value) => match &value.value {
            Value::Placeholder(name) => Some(name),
            _ => None,
        },
        _ => None,
    }
}

/// The placeholders (`$1`, `$2` …) under `node`, in the order met.
pub fn placeholders<V: Visit>(node: &V) -> Vec<String> {
    let mut found = Vec::new();
    let _ = visit_expressions(node, |expr| {
        found.extend(placeholder_name(expr).cloned());
        ControlFlow::<()>::Continue(())
    });
    found
}

/// A condition naming every one of `names` without constraining their types, for a
/// rewritten statement that must keep the parameter list the client binds by position.
pub fn naming_placeholders<S: AsRef<str>>(names: &[S]) -> Option<String> {
    (!names.is_empty())
        .then(|| names.iter().map(|n| format!("{} IS NULL", n.as_ref())).collect::<Vec<_>>().join(" OR "))
}

/// The tables `statement` reads (lowercase, unqualified) if all are catalog tables
/// (`pg_catalog.*`, `information_schema.*`, `pg_*`); `None` if it reads a user table.
pub fn catalog_tables(statement: &Statement) -> Option<Vec<String>> {
    let mut tables = Vec::new();
    let mut only_catalog = true;
    let _ = visit_relations(statement, |name| {
        let text = name.to_string().to_ascii_lowercase();
        let table = text.rsplit('.').next().unwrap_or(&text).trim_matches('"').to_string();
        only_catalog &=
            text.starts_with("pg_catalog.") || text.starts_with("information_schema.") || table.starts_with("pg_");
        tables.push(table);
        ControlFlow::<()>::Continue(())
    });
    only_catalog.then_some(tables)
}
