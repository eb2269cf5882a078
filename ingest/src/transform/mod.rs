//! Ingestion transforms (`ingestionConfig.transformConfigs`, field-spec `transformFunction`)
//! and the filter (`ingestionConfig.filterConfig.filterFunction`): Pinot's expression syntax
//! over the fields of an input record, calling Pinot's functions (`cuvee-functions`, the
//! same code queries call). Function names are resolved once, when the expression compiles.

mod parse;

use cuvee_functions::{Datum, Function, FunctionError};
pub use parse::Expr;
use serde_json::{Map, Value as Json};

/// Why an expression does not compile: the expression and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("\"{text}\": {reason}")]
pub struct ExpressionError {
    pub text: String,
    pub reason: String,
}

/// A parsed, checked expression.
#[derive(Debug, Clone)]
pub struct Expression {
    pub text: String,
    node: Node,
}

/// An expression with its functions resolved.
#[derive(Debug, Clone)]
enum Node {
    Column(String),
    Constant(Datum),
    Call(&'static Function, Vec<Node>),
}

impl Expression {
    /// Parses and checks an expression; the error says what is wrong with it.
    pub fn compile(text: &str) -> Result<Expression, ExpressionError> {
        let error = |reason: String| ExpressionError { text: text.to_string(), reason };
        // Groovy's body is not an expression of ours: refuse it by name before parsing.
        if text.trim_start().to_ascii_lowercase().starts_with("groovy(") {
            if let Err(refused) = cuvee_functions::lookup("groovy") {
                return Err(error(refused.to_string()));
            }
        }
        let expr = parse::parse(text).map_err(error)?;
        let node = resolve(&expr).map_err(|e| error(e.to_string()))?;
        Ok(Expression { text: text.to_string(), node })
    }

    pub fn eval(&self, record: &Map<String, Json>) -> Result<Json, FunctionError> {
        Ok(eval(&self.node, record)?.to_json())
    }

    /// The input fields the expression reads.
    pub fn columns(&self) -> Vec<String> {
        fn walk(node: &Node, out: &mut Vec<String>) {
            match node {
                Node::Column(c) => out.push(c.clone()),
                Node::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
                Node::Constant(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.node, &mut out);
        out
    }
}

fn resolve(expr: &Expr) -> Result<Node, FunctionError> {
    Ok(match expr {
        Expr::Column(name) => Node::Column(name.clone()),
        Expr::Text(s) => Node::Constant(Datum::Text(s.clone())),
        Expr::Integer(i) => Node::Constant(Datum::Long(*i)),
        Expr::Number(n) => Node::Constant(Datum::Double(*n)),
        Expr::Bool(b) => Node::Constant(Datum::Bool(*b)),
        Expr::Null => Node::Constant(Datum::Null),
        Expr::Call(name, args) => {
            let function = cuvee_functions::lookup(name)?;
            function.check_arity(args.len())?;
            Node::Call(function, args.iter().map(resolve).collect::<Result<_, _>>()?)
        }
    })
}

fn eval(node: &Node, record: &Map<String, Json>) -> Result<Datum, FunctionError> {
    match node {
        Node::Column(name) => Ok(record.get(name).map_or(Datum::Null, Datum::from_json)),
        Node::Constant(datum) => Ok(datum.clone()),
        Node::Call(function, args) => {
            let values = args.iter().map(|a| eval(a, record)).collect::<Result<Vec<_>, _>>()?;
            function.call(&values)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, record: Json) -> Result<Json, String> {
        let expression = Expression::compile(text).map_err(|e| e.to_string())?;
        expression.eval(record.as_object().unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn evaluates_pinot_transforms() {
        assert_eq!(
            eval(
                "fromDateTime(created_at, 'yyyy-MM-dd''T''HH:mm:ss''Z''')",
                json!({"created_at": "2021-07-21T06:00:00Z"})
            ),
            Ok(json!(1_626_847_200_000i64))
        );
        assert_eq!(eval("toEpochDays(\"timestamp\")", json!({"timestamp": 86_400_001})), Ok(json!(1)));
        assert_eq!(eval("fromEpochDays(DaysSinceEpoch)", json!({"DaysSinceEpoch": 2})), Ok(json!(172_800_000)));
        assert_eq!(
            eval("jsonPathString(payload, '$.commits[0].url')", json!({"payload": {"commits": [{"url": "u"}]}})),
            Ok(json!("u"))
        );
        assert_eq!(
            eval("jsonPathString(payload, '$.missing', 'none')", json!({"payload": "{\"a\":1}"})),
            Ok(json!("none"))
        );
        assert_eq!(eval("jsonFormat(payload)", json!({"payload": {"a": [1]}})), Ok(json!("{\"a\":[1]}")));
        assert_eq!(eval("lower(upper(x))", json!({"x": "AbC"})), Ok(json!("abc")));
        assert_eq!(eval("split(tags, ',')", json!({"tags": "a,b"})), Ok(json!(["a", "b"])));
        assert_eq!(eval("a * 2 + b", json!({"a": 3, "b": 1})), Ok(json!(7.0)));
        assert_eq!(eval("plus(a, missing)", json!({"a": 3})), Ok(Json::Null));
        assert_eq!(eval("a > 2 AND b = 'x'", json!({"a": 3, "b": "x"})), Ok(json!(true)));
        assert_eq!(eval("toDateTime(t, 'yyyy-MM-dd')", json!({"t": 86_400_000})), Ok(json!("1970-01-02")));
        assert_eq!(eval("1704067200000", json!({})), Ok(json!(1_704_067_200_000i64)));
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let compile = |text: &str| Expression::compile(text).unwrap_err().to_string();
        assert!(compile("Groovy({a + b}, a, b)").contains("Groovy transforms are not supported"));
        assert!(compile("frobnicate(a)").contains("unknown function frobnicate"));
        assert!(compile("lower(a, b)").contains("lower takes 1 arguments, got 2"));
        assert!(eval("a / b", json!({"a": 1, "b": 0})).unwrap_err().contains("division by zero"));
    }
}
