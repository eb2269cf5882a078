//! JSON extraction: `jsonPath`, `jsonPathString|Long|Double|Array`, `jsonFormat`,
//! `JSON_EXTRACT_SCALAR`, `JSONEXTRACTKEY`. Paths are a JSONPath subset: `$`, `.name`,
//! `['name']`, `[n]` (negative from the end), `.*` and `[*]`. A text argument is parsed as
//! JSON first, so JSON kept as text in a column works as well as a nested input field.

use crate::error::{FunctionError, Result};
use crate::{Datum, Function, ResultType, Returns};
use serde_json::Value as Json;

macro_rules! json_function {
    ($name:literal, $min:literal, $max:literal, $strict:literal, $returns:expr, $sql:literal, $body:expr) => {
        function!($name, $min, $max, $returns, $body, strict: $strict, sql: $sql)
    };
}

pub(crate) static FUNCTIONS: &[Function] = &[
    json_function!("jsonpathstring", 2, 3, false, Returns::Text, true, json_path_typed),
    json_function!("jsonpathlong", 2, 3, false, Returns::Long, true, json_path_typed),
    json_function!("jsonpathdouble", 2, 3, false, Returns::Double, true, json_path_typed),
    json_function!("jsonpath", 2, 2, true, Returns::Any, false, |_, a| {
        Ok(first(&a[0], &a[1])?.map_or(Datum::Null, |v| Datum::from_json(&v)))
    }),
    json_function!("jsonpatharray", 2, 2, true, Returns::Any, false, |_, a| {
        Ok(Datum::List(json_path(&a[0].to_json(), &a[1].as_text())?.iter().map(Datum::from_json).collect()))
    }),
    json_function!("jsonformat", 1, 1, true, Returns::Text, true, |_, a| Ok(Datum::Text(match &a[0] {
        Datum::Text(s) => s.clone(),
        other => other.to_json().to_string(),
    }))),
    json_function!("json_extract_scalar", 3, 4, false, Returns::ByArgument, true, json_extract_scalar),
    json_function!("jsonextractscalar", 3, 4, false, Returns::ByArgument, true, json_extract_scalar),
    json_function!("jsonextractkey", 2, 2, true, Returns::TextList, true, json_extract_key),
    json_function!("json_extract_key", 2, 2, true, Returns::TextList, true, json_extract_key),
];

/// The first non-null value `path` selects in `document`.
fn first(document: &Datum, path: &Datum) -> Result<Option<Json>> {
    Ok(json_path(&document.to_json(), &path.as_text())?.into_iter().find(|v| !v.is_null()))
}

/// `jsonPathString|Long|Double(json, path[, default])`.
fn json_path_typed(name: &str, args: &[Datum]) -> Result<Datum> {
    if args[0].is_null() || args[1].is_null() {
        return Ok(args.get(2).cloned().unwrap_or(Datum::Null));
    }
    let Some(found) = first(&args[0], &args[1])? else { return Ok(args.get(2).cloned().unwrap_or(Datum::Null)) };
    let found = Datum::from_json(&found);
    Ok(match name {
        "jsonpathstring" => Datum::Text(found.as_text()),
        "jsonpathlong" => Datum::Long(found.as_long()?),
        _ => Datum::Double(found.as_double()?),
    })
}

/// A JSON document given as text or as a value.
fn document(datum: &Datum) -> Result<Json> {
    match datum {
        Datum::Text(s) => serde_json::from_str(s).map_err(|e| FunctionError::InvalidArgument(format!("not JSON: {e}"))),
        other => Ok(other.to_json()),
    }
}

/// JSON_EXTRACT_SCALAR(json, path, resultType[, default]).
fn json_extract_scalar(_: &str, args: &[Datum]) -> Result<Datum> {
    let default = args.get(3).cloned();
    let missing = || {
        default.clone().ok_or_else(|| {
            FunctionError::InvalidArgument(format!("no value at path {} and no default given", args[1].to_json()))
        })
    };
    if args[0].is_null() {
        return missing();
    }
    let found = json_path(&document(&args[0])?, &args[1].as_text())?;
    match found.into_iter().next() {
        Some(Json::Null) | None => missing(),
        Some(value) => Ok(Datum::from_json(&value)),
    }
}

/// JSON_EXTRACT_SCALAR's result type is its third argument.
pub(crate) fn extract_result_type(name: &str, type_name: Option<String>) -> Result<ResultType> {
    Ok(match type_name.map(|t| t.to_ascii_uppercase()).as_deref() {
        Some("INT") => ResultType::Int,
        Some("LONG") => ResultType::Long,
        Some("FLOAT") => ResultType::Float,
        Some("DOUBLE") => ResultType::Double,
        Some("BOOLEAN") => ResultType::Bool,
        Some("STRING") => ResultType::Text,
        other => {
            return Err(FunctionError::InvalidArgument(format!(
                "{}: the result type must be INT, LONG, FLOAT, DOUBLE, BOOLEAN or STRING, not {other:?}",
                name.to_ascii_uppercase()
            )))
        }
    })
}

/// JSONEXTRACTKEY(json, path): the paths of the values `path` selects, written as
/// `$['key']` / `$[0]`.
fn json_extract_key(_: &str, args: &[Datum]) -> Result<Datum> {
    let document = document(&args[0])?;
    let mut current = vec![("$".to_string(), &document)];
    for step in path_steps(&args[1].as_text())? {
        let mut next = Vec::new();
        for (at, value) in current {
            match (&step, value) {
                (Step::Key(k), Json::Object(map)) => next.extend(map.get(k).map(|v| (format!("{at}['{k}']"), v))),
                (Step::Index(i), Json::Array(items)) => {
                    let index = if *i < 0 { items.len() as i64 + i } else { *i };
                    next.extend(
                        usize::try_from(index).ok().and_then(|i| items.get(i)).map(|v| (format!("{at}[{index}]"), v)),
                    )
                }
                (Step::All, Json::Object(map)) => next.extend(map.iter().map(|(k, v)| (format!("{at}['{k}']"), v))),
                (Step::All, Json::Array(items)) => {
                    next.extend(items.iter().enumerate().map(|(i, v)| (format!("{at}[{i}]"), v)))
                }
                _ => {}
            }
        }
        current = next;
    }
    Ok(Datum::List(current.into_iter().map(|(at, _)| Datum::Text(at)).collect()))
}

/// The values `path` selects in `input`; a JSON string is parsed first (text that is not
/// JSON selects nothing).
pub fn json_path(input: &Json, path: &str) -> Result<Vec<Json>> {
    let parsed;
    let root = match input {
        Json::String(s) => {
            parsed = serde_json::from_str::<Json>(s).unwrap_or(Json::Null);
            &parsed
        }
        other => other,
    };
    let steps = path_steps(path)?;
    let mut current = vec![root.clone()];
    for step in steps {
        current = current
            .into_iter()
            .flat_map(|v| match (&step, v) {
                (Step::Key(k), Json::Object(mut m)) => m.remove(k).into_iter().collect::<Vec<_>>(),
                (Step::Index(i), Json::Array(a)) => {
                    let index = if *i < 0 { a.len() as i64 + i } else { *i };
                    usize::try_from(index).ok().and_then(|i| a.get(i)).cloned().into_iter().collect()
                }
                (Step::All, Json::Array(a)) => a,
                (Step::All, Json::Object(m)) => m.into_iter().map(|(_, v)| v).collect(),
                _ => Vec::new(),
            })
            .collect();
    }
    Ok(current)
}

enum Step {
    Key(String),
    Index(i64),
    All,
}

fn path_steps(path: &str) -> Result<Vec<Step>> {
    let bad = |why: &str| FunctionError::InvalidArgument(format!("JSON path \"{path}\": {why}"));
    let rest = path.trim().strip_prefix('$').ok_or_else(|| bad("must start with $"))?;
    let chars: Vec<char> = rest.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                i = start;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                if key.is_empty() {
                    return Err(bad("empty key"));
                }
                steps.push(if key == "*" { Step::All } else { Step::Key(key) });
            }
            '[' => {
                let end = chars[i..].iter().position(|&c| c == ']').ok_or_else(|| bad("missing ]"))? + i;
                let inside: String = chars[i + 1..end].iter().collect();
                let inside = inside.trim();
                steps.push(if inside == "*" {
                    Step::All
                } else if let Some(key) = inside.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
                    Step::Key(key.to_string())
                } else {
                    Step::Index(inside.parse().map_err(|_| bad("index is not a number"))?)
                });
                i = end + 1;
            }
            _ => return Err(bad("expected . or [")),
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup;
    use serde_json::json;

    fn call(name: &str, args: &[Datum]) -> Result<Datum> {
        lookup(name)?.call(args)
    }

    fn text(s: &str) -> Datum {
        Datum::Text(s.to_string())
    }

    #[test]
    fn json_path_extraction() {
        let payload = Datum::from_json(&json!({"commits": [{"url": "u"}]}));
        assert_eq!(call("jsonPathString", &[payload, text("$.commits[0].url")]).unwrap(), text("u"));
        assert_eq!(
            call("jsonPathString", &[text("{\"a\":1}"), text("$.missing"), text("none")]).unwrap(),
            text("none")
        );
        assert_eq!(call("jsonPathLong", &[text("{\"a\":\"7\"}"), text("$.a")]).unwrap(), Datum::Long(7));
        assert_eq!(call("jsonPathDouble", &[Datum::Null, text("$.a")]).unwrap(), Datum::Null);
        assert_eq!(call("jsonFormat", &[Datum::from_json(&json!({"a": [1]}))]).unwrap(), text("{\"a\":[1]}"));
        assert_eq!(json_path(&json!([1, 2, 3]), "$[-1]").unwrap(), vec![json!(3)]);
        assert!(json_path(&json!({}), "a.b").is_err());
    }

    #[test]
    fn json_extract_scalar_and_key() {
        let doc = text(r#"{"a":{"b":[1,2]},"s":"x"}"#);
        assert_eq!(call("json_extract_scalar", &[doc.clone(), text("$.a.b[1]"), text("INT")]).unwrap(), Datum::Long(2));
        let defaulted = call("json_extract_scalar", &[doc.clone(), text("$.nope"), text("STRING"), text("none")]);
        assert_eq!(defaulted.unwrap(), text("none"));
        assert!(call("json_extract_scalar", &[doc.clone(), text("$.nope"), text("STRING")]).is_err());
        let keys = |path: &str| call("jsonextractkey", &[doc.clone(), text(path)]).unwrap().to_json();
        assert_eq!(keys("$.*"), json!(["$['a']", "$['s']"]));
        assert_eq!(keys("$.a.b[*]"), json!(["$['a']['b'][0]", "$['a']['b'][1]"]));
        assert!(call("jsonextractkey", &[doc, text("a.b")]).is_err());
        assert_eq!(extract_result_type("json_extract_scalar", Some("long".into())).unwrap(), ResultType::Long);
        assert!(extract_result_type("json_extract_scalar", Some("DATE".into())).is_err());
    }
}
