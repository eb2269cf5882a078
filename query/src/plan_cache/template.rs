//! A query's template: its statement with the literals compared with a column in a
//! `WHERE` clause taken out as placeholders, and the key kept plans are found by.

use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    visit_expressions, visit_expressions_mut, BinaryOperator, Expr as SqlExpr, SetExpr, Statement, UnaryOperator, Value,
};
use std::ops::ControlFlow;
use std::sync::Arc;

/// A statement with its comparison literals taken out.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    /// The template's text and its literals' kinds: equal keys plan alike.
    pub key: String,
    /// The statement with placeholders `$1…$n`.
    pub statement: Arc<Statement>,
    /// The literals, in placeholder order, typed as DataFusion types a literal.
    pub literals: Vec<ScalarValue>,
    /// Where each literal was in the parsed text (empty when the literals did not come from
    /// a parse: the broker's text shapes fill them in).
    pub origins: Vec<LiteralAt>,
}

/// Where a literal a template took out was written: its token's line and column (in
/// characters, from 1, as sqlparser counts them), and whether a minus sign before it was
/// taken with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiteralAt {
    pub line: u64,
    pub column: u64,
    pub negated: bool,
}

/// The longest template kept, in bytes of its text. A kept plan's size follows its text's,
/// and a client may send statements as long as the door's body limit (2 MiB over HTTP):
/// 256 of those could hold gigabytes. Dashboards' statements are a few KiB; longer ones plan
/// from their text each time.
pub const MAX_TEMPLATE_BYTES: usize = 8 << 10;

/// The template of a query (`None` for other statements, for queries that already hold
/// placeholders, and for templates longer than [`MAX_TEMPLATE_BYTES`]).
pub fn template(statement: &Statement) -> Option<Template> {
    let Statement::Query(query) = statement else { return None };
    let has_placeholders = visit_expressions(statement, |expr| match expr {
        SqlExpr::Value(v) if matches!(v.value, Value::Placeholder(_)) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    if has_placeholders.is_break() {
        return None;
    }
    let mut query = query.clone();
    let mut taken = Taken::default();
    take_literals(&mut query.body, &mut taken);
    let statement = Statement::Query(query);
    let kinds: String =
        taken.literals.iter().map(|l| if matches!(l, ScalarValue::Utf8(_)) { 's' } else { 'n' }).collect();
    let key = format!("{statement}\u{0}{kinds}");
    (key.len() <= MAX_TEMPLATE_BYTES).then(|| Template {
        key,
        statement: Arc::new(statement),
        literals: taken.literals,
        origins: taken.origins,
    })
}

/// The literals taken out so far, and where each was.
#[derive(Default)]
struct Taken {
    literals: Vec<ScalarValue>,
    origins: Vec<LiteralAt>,
}

/// Takes the literals out of the `WHERE` clauses of a query body (and of set operations).
fn take_literals(body: &mut SetExpr, literals: &mut Taken) {
    match body {
        SetExpr::Select(select) => {
            if let Some(selection) = select.selection.as_mut() {
                let _ = visit_expressions_mut(selection, |expr| {
                    take_from(expr, literals);
                    ControlFlow::<()>::Continue(())
                });
            }
        }
        SetExpr::Query(query) => take_literals(&mut query.body, literals),
        SetExpr::SetOperation { left, right, .. } => {
            take_literals(left, literals);
            take_literals(right, literals);
        }
        _ => {}
    }
}

fn take_from(expr: &mut SqlExpr, literals: &mut Taken) {
    let is_column = |e: &SqlExpr| matches!(e, SqlExpr::Identifier(_) | SqlExpr::CompoundIdentifier(_));
    match expr {
        SqlExpr::BinaryOp {
            left,
            op:
                BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq,
            right,
        } => {
            if is_column(left) {
                take(right, literals);
            } else if is_column(right) {
                take(left, literals);
            }
        }
        SqlExpr::InList { expr, list, .. } if is_column(expr) => {
            list.iter_mut().for_each(|item| take(item, literals));
        }
        SqlExpr::Between { expr, low, high, .. } if is_column(expr) => {
            take(low, literals);
            take(high, literals);
        }
        _ => {}
    }
}

/// Replaces a literal DataFusion would type as Int64, Float64 or Utf8 — or the negation of
/// such a number, which DataFusion types as the number — with the next placeholder.
fn take(expr: &mut SqlExpr, taken: &mut Taken) {
    let at = |value: &datafusion::sql::sqlparser::ast::ValueWithSpan, negated: bool| LiteralAt {
        line: value.span.start.line,
        column: value.span.start.column,
        negated,
    };
    let (scalar, origin) = match &*expr {
        SqlExpr::Value(value) => match &value.value {
            Value::SingleQuotedString(s) => (ScalarValue::Utf8(Some(s.clone())), at(value, false)),
            Value::Number(n, false) => match number(n) {
                Some(scalar) => (scalar, at(value, false)),
                None => return,
            },
            _ => return,
        },
        SqlExpr::UnaryOp { op: UnaryOperator::Minus, expr: negated } => match &**negated {
            SqlExpr::Value(value) => match &value.value {
                Value::Number(n, false) => match number(n).and_then(negate) {
                    Some(scalar) => (scalar, at(value, true)),
                    None => return,
                },
                _ => return,
            },
            _ => return,
        },
        _ => return,
    };
    taken.literals.push(scalar);
    taken.origins.push(origin);
    *expr = SqlExpr::Value(Value::Placeholder(format!("${}", taken.literals.len())).into());
}

/// A number literal's negation, as a minus sign before it makes it (`None` for anything
/// [`number`] does not give).
pub fn negate(value: ScalarValue) -> Option<ScalarValue> {
    match value {
        ScalarValue::Int64(Some(i)) => Some(ScalarValue::Int64(Some(-i))),
        ScalarValue::Float64(Some(f)) => Some(ScalarValue::Float64(Some(-f))),
        _ => None,
    }
}

/// A number as DataFusion types it: Int64 if it fits, else Float64 if it has a point or an
/// exponent and is finite (`None` otherwise: an integer past Int64 is typed otherwise).
/// Negating either never overflows (`-i64::MAX` fits).
pub fn number(n: &str) -> Option<ScalarValue> {
    match n.parse::<i64>() {
        Ok(i) => Some(ScalarValue::Int64(Some(i))),
        Err(_) if n.contains(['.', 'e', 'E']) => match n.parse::<f64>() {
            Ok(f) if f.is_finite() => Some(ScalarValue::Float64(Some(f))),
            _ => None,
        },
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::GenericDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&GenericDialect {}, sql).unwrap().remove(0)
    }

    #[test]
    fn comparison_literals_in_where_become_placeholders() {
        let t = template(&parse(
            "SELECT a, x = 7 FROM t WHERE x = 5 AND 'a' <> y AND y IN ('a', 'b') AND z BETWEEN 1.5 AND 2 AND f(w) = 3 AND w > -1 AND v < -2.5 AND u > -(3) LIMIT 10",
        ))
        .unwrap();
        assert_eq!(
            t.statement.to_string(),
            "SELECT a, x = 7 FROM t WHERE x = $1 AND $2 <> y AND y IN ($3, $4) AND z BETWEEN $5 AND $6 AND f(w) = 3 AND w > $7 AND v < $8 AND u > -(3) LIMIT 10"
        );
        assert_eq!(
            t.literals,
            vec![
                ScalarValue::Int64(Some(5)),
                ScalarValue::Utf8(Some("a".into())),
                ScalarValue::Utf8(Some("a".into())),
                ScalarValue::Utf8(Some("b".into())),
                ScalarValue::Float64(Some(1.5)),
                ScalarValue::Int64(Some(2)),
                ScalarValue::Int64(Some(-1)),
                ScalarValue::Float64(Some(-2.5)),
            ]
        );
    }

    #[test]
    fn equal_shapes_share_a_key_and_kinds_split_it() {
        let key = |sql: &str| template(&parse(sql)).unwrap().key;
        assert_eq!(key("SELECT * FROM t WHERE x = 5"), key("SELECT * FROM t WHERE x = 99999"));
        assert_eq!(key("SELECT * FROM t WHERE x = 5"), key("SELECT * FROM t WHERE x = 5.5"));
        assert_eq!(key("SELECT * FROM t WHERE x = 5"), key("SELECT * FROM t WHERE x = -5"));
        // Past Int64 a number is typed otherwise, negated or not: it stays in the text.
        assert_ne!(key("SELECT * FROM t WHERE x = 5"), key("SELECT * FROM t WHERE x = -9223372036854775808"));
        assert_ne!(key("SELECT * FROM t WHERE x = 5"), key("SELECT * FROM t WHERE x = '5'"));
        assert_ne!(key("SELECT * FROM t WHERE x = 5"), key("SELECT * FROM t WHERE x = 5 LIMIT 3"));
        assert_ne!(key("SELECT * FROM t WHERE x IN (1)"), key("SELECT * FROM t WHERE x IN (1, 2)"));
        // Literals in a subquery of the WHERE clause, and in both sides of a UNION.
        let t = template(&parse(
            "SELECT a FROM t WHERE a IN (SELECT a FROM u WHERE b = 1) UNION ALL SELECT a FROM t WHERE a = 2",
        ))
        .unwrap();
        assert_eq!(t.literals, vec![ScalarValue::Int64(Some(1)), ScalarValue::Int64(Some(2))]);
    }

    #[test]
    fn statements_that_are_not_plain_queries_have_no_template() {
        assert!(template(&parse("EXPLAIN SELECT * FROM t WHERE x = 1")).is_none());
        assert!(template(&parse("SELECT * FROM t WHERE x = $1")).is_none());
        assert!(template(&parse("SELECT * FROM t WHERE x = 1 AND y = $1")).is_none());
        // A statement too long to keep (its literals do not count: they are taken out).
        let list = |n: usize, item: &str| vec![item; n].join(", ");
        let literals = format!(
            "SELECT * FROM t WHERE x IN ({})",
            list(300, "'a literal value long enough to make the text pass the bound'")
        );
        assert!(template(&parse(&literals)).is_some());
        let columns = format!("SELECT {} FROM t WHERE x = 1", list(MAX_TEMPLATE_BYTES / 4, "abc"));
        assert!(template(&parse(&columns)).is_none());
    }
}
