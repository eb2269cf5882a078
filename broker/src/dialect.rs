//! Pinot's SQL dialect around a query: `SET key = value;` statements before it, the legacy
//! `OPTION(key=value, …)` suffix, the request's `queryOptions` (`k=v;k2=v2`), Pinot's
//! default `LIMIT 10` for queries without one, and Pinot's functions with their result
//! types and canonical names (see [`crate::pinot_functions`]). SET wins over
//! `queryOptions`, which wins over OPTION(...).

use crate::pinot_functions;
use cuvee_error::ErrorKind;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, Expr, FunctionArguments, Ident, LimitClause, Query, SelectItem, SetExpr, Statement, Value,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::{Parser, ParserError};
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// Pinot's default row limit for selections and group-bys that have no LIMIT.
pub const DEFAULT_LIMIT: u64 = 10;

#[derive(Debug, Clone, PartialEq)]
pub struct PinotQuery {
    /// The query to plan, with Pinot's default limit applied; `None` when it was prepared
    /// from a kept shape ([`crate::shapes`]), which plans from the template (see
    /// [`PinotQuery::sql`]).
    sql: Option<String>,
    /// The request's text and options, when `sql` is not written out.
    request: Option<(String, Option<String>)>,
    /// Query options, keys as written (Pinot's are camelCase: `timeoutMs`).
    pub options: BTreeMap<String, String>,
    /// The query with its comparison literals taken out, the key to a kept plan (`None`
    /// for EXPLAIN).
    pub template: Option<cuvee_query::plan_cache::Template>,
}

impl PinotQuery {
    /// A query prepared from a kept shape: its options and template, and the request it
    /// came from (prepared in full only if its SQL text is asked for).
    pub(crate) fn from_shape(
        text: &str,
        query_options: Option<&str>,
        options: BTreeMap<String, String>,
        template: cuvee_query::plan_cache::Template,
    ) -> PinotQuery {
        let request = Some((text.to_string(), query_options.map(str::to_string)));
        PinotQuery { sql: None, request, options, template: Some(template) }
    }

    /// The query to plan from its text (Pinot's default limit applied, Pinot's functions
    /// rewritten). A query prepared from a kept shape is prepared in full here, once a kept
    /// plan does not take its literals.
    pub fn sql(&self) -> Result<std::borrow::Cow<'_, str>, DialectError> {
        match (&self.sql, &self.request) {
            (Some(sql), _) => Ok(std::borrow::Cow::Borrowed(sql)),
            (None, Some((text, options))) => {
                Ok(std::borrow::Cow::Owned(prepare(text, options.as_deref())?.sql()?.into_owned()))
            }
            (None, None) => Err(DialectError("the query has no text".into(), ErrorKind::Internal)),
        }
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, key: &str) -> bool {
        self.option(key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

/// An error in the request's SQL (the message, with the line and column when the parser
/// gives them, and its kind: a syntax error, or a statement the door does not run).
#[derive(Debug, Clone, PartialEq)]
pub struct DialectError(pub String, pub ErrorKind);

pub fn prepare(text: &str, query_options: Option<&str>) -> Result<PinotQuery, DialectError> {
    cuvee_query::check_complexity(text).map_err(|e| DialectError(e.to_string(), cuvee_error::ErrorExt::kind(&e)))?;
    let mut options = BTreeMap::new();
    let (text, option_suffix) = split_option_suffix(text);
    if let Some(suffix) = option_suffix {
        parse_pairs(&suffix, ',', &mut options);
    }
    if let Some(query_options) = query_options {
        parse_pairs(query_options, ';', &mut options);
    }
    let statements = Parser::parse_sql(&GenericDialect {}, &pinot_explain(&text)).map_err(parse_error)?;
    let mut query: Option<Statement> = None;
    for statement in statements {
        match statement {
            Statement::Set(set) => {
                let text = set.to_string();
                // `SET key = value`: keep the key as written and the value unquoted.
                if let Some((key, value)) = text.trim_start_matches("SET ").split_once('=') {
                    options
                        .insert(key.trim().to_string(), value.trim().trim_matches('\'').trim_matches('"').to_string());
                }
            }
            Statement::Query(_) | Statement::Explain { .. } if query.is_some() => {
                return Err(DialectError("only one query per request".into(), ErrorKind::InvalidArgument))
            }
            Statement::Query(_) => query = Some(statement),
            Statement::Explain { statement: ref inner, .. } if matches!(inner.as_ref(), Statement::Query(_)) => {
                query = Some(statement)
            }
            other => {
                // The SQL doors read; tables change through the controller API.
                return Err(DialectError(
                    format!("only SET statements and one query (or EXPLAIN of one) are accepted, not: {other}"),
                    ErrorKind::PermissionDenied,
                ));
            }
        }
    }
    let Some(mut statement) = query else {
        return Err(DialectError("the request has no query".into(), ErrorKind::InvalidArgument));
    };
    // Pinot's multi-stage engine has no default LIMIT.
    let default_limit =
        !options.iter().any(|(k, v)| k.eq_ignore_ascii_case("useMultistageEngine") && v.eq_ignore_ascii_case("true"));
    match &mut statement {
        Statement::Query(query) => apply_pinot_semantics(query, default_limit),
        Statement::Explain { statement: inner, .. } => {
            if let Statement::Query(query) = inner.as_mut() {
                apply_pinot_semantics(query, default_limit);
            }
        }
        _ => {}
    }
    let template = cuvee_query::plan_cache::template(&statement);
    Ok(PinotQuery { sql: Some(statement.to_string()), request: None, options, template })
}

/// Pinot's `EXPLAIN PLAN FOR <query>` is DataFusion's `EXPLAIN <query>` (its plan text, with
/// which index answered each predicate under `EXPLAIN ANALYZE`).
fn pinot_explain(text: &str) -> String {
    let trimmed = text.trim_start();
    let upper = trimmed.to_ascii_uppercase();
    let words: Vec<&str> = upper.split_whitespace().take(3).collect();
    if words == ["EXPLAIN", "PLAN", "FOR"] {
        let skip = upper.find("FOR").map_or(0, |i| i + 3);
        return format!("EXPLAIN {}", &trimmed[skip..]);
    }
    text.to_string()
}

/// Result names, Pinot functions and (single-stage) the default LIMIT.
fn apply_pinot_semantics(query: &mut Query, default_limit: bool) {
    if let SetExpr::Select(select) = query.body.as_mut() {
        for item in select.projection.iter_mut() {
            pinot_result_name(item);
        }
        name_repeated_items(&mut select.projection);
    }
    rewrite_pinot_functions(query);
    if default_limit && query.limit_clause.is_none() {
        query.limit_clause = Some(LimitClause::LimitOffset {
            limit: Some(Expr::value(Value::Number(DEFAULT_LIMIT.to_string(), false))),
            offset: None,
            limit_by: vec![],
        });
    }
}

/// Pinot's result name for a select item that is a Pinot aggregate (an alias the user
/// gave is kept); the call itself is rewritten with every other expression.
fn pinot_result_name(item: &mut SelectItem) {
    let SelectItem::UnnamedExpr(expr) = item else { return };
    let name = match &*expr {
        // Columns keep their names.
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => return,
        Expr::Function(function) => match pinot_functions::rewrite(function) {
            Some(rewrite) => rewrite.name,
            // Any other call is named as Pinot prints it: `datetrunc('DAY',ts)`.
            None if function.over.is_none() => canonical_call_name(function),
            None => return,
        },
        // Other expressions are named as written, not as they read after rewriting.
        other => other.to_string(),
    };
    *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias: Ident::with_quote('"', name) };
}

fn canonical_call_name(function: &datafusion::sql::sqlparser::ast::Function) -> String {
    let args = match &function.args {
        FunctionArguments::List(list) => list.args.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(","),
        _ => String::new(),
    };
    format!("{}({args})", function.name.to_string().to_ascii_lowercase())
}

/// Rewrites every Pinot function call in the query (select list, HAVING, ORDER BY, …).
fn rewrite_pinot_functions(query: &mut Query) {
    let _ = visit_expressions_mut(query, |expr| {
        if let Expr::Function(function) = &*expr {
            if let Some(rewrite) = pinot_functions::rewrite(function) {
                *expr = rewrite.expr;
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Marks a result column name made unique for planning; the response shows the name
/// before it. Pinot allows `SELECT a, a`; DataFusion needs distinct names.
pub const REPEAT_MARK: char = '\u{1}';

/// The column name as the response shows it.
pub fn display_name(name: &str) -> &str {
    name.split(REPEAT_MARK).next().unwrap_or(name)
}

fn name_repeated_items(items: &mut [SelectItem]) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for item in items.iter_mut() {
        let name = match item {
            SelectItem::UnnamedExpr(expr) => expr.to_string(),
            SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
            _ => continue,
        };
        let count = seen.entry(name.clone()).or_insert(0);
        *count += 1;
        if *count > 1 {
            let expr = match item {
                SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } => expr.clone(),
                _ => continue,
            };
            let shown = name.trim_matches('"').to_string();
            *item = SelectItem::ExprWithAlias {
                expr,
                alias: Ident::with_quote('"', format!("{shown}{REPEAT_MARK}{count}")),
            };
        }
    }
}

fn parse_error(e: ParserError) -> DialectError {
    match e {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => DialectError(m, ErrorKind::Syntax),
        ParserError::RecursionLimitExceeded => {
            DialectError("the query is nested too deeply".into(), ErrorKind::ResourceExhausted)
        }
    }
}

/// Splits a trailing `OPTION(...)` (case-insensitive) off the query text.
pub(crate) fn split_option_suffix(text: &str) -> (String, Option<String>) {
    let trimmed = text.trim_end().trim_end_matches(';').trim_end();
    let upper = trimmed.to_ascii_uppercase();
    if let (Some(start), true) = (upper.rfind("OPTION("), trimmed.ends_with(')')) {
        let inside = &trimmed[start + "OPTION(".len()..trimmed.len() - 1];
        if !inside.contains(')') {
            return (trimmed[..start].to_string(), Some(inside.to_string()));
        }
    }
    (text.to_string(), None)
}

fn parse_pairs(text: &str, separator: char, out: &mut BTreeMap<String, String>) {
    for pair in text.split(separator) {
        if let Some((k, v)) = pair.split_once('=') {
            out.entry(k.trim().to_string()).or_insert_with(|| v.trim().trim_matches('\'').to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_pinot_defaults_and_options() {
        let q = prepare(
            "SET timeoutMs = 500; SET enableNullHandling = true; SELECT a FROM t",
            Some("timeoutMs=9;maxRowsInResult=3"),
        )
        .unwrap();
        assert_eq!(q.sql().unwrap(), "SELECT a FROM t LIMIT 10");
        assert_eq!(q.option("timeoutMs"), Some("500"));
        assert!(q.flag("enableNullHandling"));
        assert_eq!(q.option("maxRowsInResult"), Some("3"));
        let q = prepare("SELECT a FROM t LIMIT 3 OPTION(timeoutMs=20)", None).unwrap();
        assert_eq!(q.sql().unwrap(), "SELECT a FROM t LIMIT 3");
        assert_eq!(q.option("timeoutMs"), Some("20"));
        let q = prepare("SELECT teamID, COUNT(*) FROM baseballStats GROUP BY teamID", None).unwrap();
        assert!(q.sql().unwrap().ends_with("LIMIT 10"), "{}", q.sql().unwrap());
        let q = prepare("SELECT a FROM t", Some("useMultistageEngine=true")).unwrap();
        assert_eq!(q.sql().unwrap(), "SELECT a FROM t", "no default LIMIT on the multi-stage engine");
        let q = prepare("SELECT SUM(homeRuns), max(hits) AS best, COUNT(*) FROM b", None).unwrap();
        assert_eq!(
            q.sql().unwrap(),
            r#"SELECT CAST(SUM(homeRuns) AS DOUBLE) AS "sum(homeRuns)", CAST(max(hits) AS DOUBLE) AS best, COUNT(*) AS "count(*)" FROM b LIMIT 10"#
        );
    }

    #[test]
    fn refuses_what_is_not_a_query() {
        assert!(prepare("SELEC a FROM t", None).unwrap_err().0.contains("Expected"));
        assert!(prepare("DROP TABLE t", None).unwrap_err().0.contains("only SET statements"));
        assert!(prepare("SET a = 1;", None).unwrap_err().0.contains("no query"));
    }
}
