//! Ingestion transforms (`ingestionConfig.transformConfigs`, field-spec `transformFunction`)
//! and the filter (`ingestionConfig.filterConfig.filterFunction`): Pinot's expression syntax
//! over the fields of an input record.

mod functions;
mod parse;

pub use functions::{call_function, json_path};
pub use parse::Expr;
use serde_json::{Map, Value as Json};

/// A parsed, checked expression.
#[derive(Debug, Clone)]
pub struct Expression {
    pub text: String,
    expr: Expr,
}

impl Expression {
    /// Parses and checks an expression; the error says what is wrong with it.
    pub fn compile(text: &str) -> Result<Expression, String> {
        if text.trim_start().to_ascii_lowercase().starts_with("groovy(") {
            return Err(format!("\"{}\": Groovy transforms are not supported (they need a JVM and run arbitrary code); use built-in functions", text));
        }
        let expr = parse::parse(text).map_err(|e| format!("\"{text}\": {e}"))?;
        functions::check(&expr).map_err(|e| format!("\"{text}\": {e}"))?;
        Ok(Expression { text: text.to_string(), expr })
    }

    pub fn eval(&self, record: &Map<String, Json>) -> Result<Json, String> {
        functions::eval(&self.expr, record)
    }

    /// The input fields the expression reads.
    pub fn columns(&self) -> Vec<String> {
        fn walk(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::Column(c) => out.push(c.clone()),
                Expr::Call(_, args) => args.iter().for_each(|a| walk(a, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.expr, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(text: &str, record: Json) -> Result<Json, String> {
        Expression::compile(text)?.eval(record.as_object().unwrap())
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
        assert!(Expression::compile("Groovy({a + b}, a, b)")
            .unwrap_err()
            .contains("Groovy transforms are not supported"));
        assert!(Expression::compile("frobnicate(a)").unwrap_err().contains("unknown function frobnicate"));
        assert!(Expression::compile("lower(a, b)").unwrap_err().contains("lower takes 1 arguments, got 2"));
        assert!(eval("a / b", json!({"a": 1, "b": 0})).unwrap_err().contains("division by zero"));
    }
}
