//! The built-in functions of ingestion transforms and filters, evaluated over JSON values.
//! Names and semantics follow Pinot's scalar functions; a null argument gives a null result.
//! Groovy is refused on purpose: it needs a JVM and runs arbitrary code.

use super::parse::Expr;
use cuvee_catalog::DateTimeFormatSpec;
use serde_json::{Map, Value as Json};

const UNSUPPORTED: &[(&str, &str)] = &[
    ("groovy", "Groovy transforms are not supported (they need a JVM and run arbitrary code); use built-in functions"),
    ("tosphericalgeography", "geospatial functions are not supported yet"),
    ("stpoint", "geospatial functions are not supported yet"),
];

/// (name, min args, max args)
const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("jsonpathstring", 2, 3),
    ("jsonpathlong", 2, 3),
    ("jsonpathdouble", 2, 3),
    ("jsonpath", 2, 2),
    ("jsonpatharray", 2, 2),
    ("jsonformat", 1, 1),
    ("toepochseconds", 1, 1),
    ("toepochminutes", 1, 1),
    ("toepochhours", 1, 1),
    ("toepochdays", 1, 1),
    ("toepochsecondsrounded", 2, 2),
    ("toepochminutesrounded", 2, 2),
    ("toepochhoursrounded", 2, 2),
    ("toepochdaysrounded", 2, 2),
    ("toepochsecondsbucket", 2, 2),
    ("toepochminutesbucket", 2, 2),
    ("toepochhoursbucket", 2, 2),
    ("toepochdaysbucket", 2, 2),
    ("fromepochseconds", 1, 1),
    ("fromepochminutes", 1, 1),
    ("fromepochhours", 1, 1),
    ("fromepochdays", 1, 1),
    ("fromepochsecondsbucket", 2, 2),
    ("fromepochminutesbucket", 2, 2),
    ("fromepochhoursbucket", 2, 2),
    ("fromepochdaysbucket", 2, 2),
    ("fromdatetime", 2, 3),
    ("todatetime", 2, 3),
    ("now", 0, 0),
    ("lower", 1, 1),
    ("upper", 1, 1),
    ("trim", 1, 1),
    ("ltrim", 1, 1),
    ("rtrim", 1, 1),
    ("length", 1, 1),
    ("reverse", 1, 1),
    ("concat", 2, 3),
    ("substr", 2, 3),
    ("replace", 3, 3),
    ("split", 2, 2),
    ("strpos", 2, 2),
    ("startswith", 2, 2),
    ("endswith", 2, 2),
    ("contains", 2, 2),
    ("plus", 2, 2),
    ("add", 2, 2),
    ("minus", 2, 2),
    ("sub", 2, 2),
    ("times", 2, 2),
    ("mult", 2, 2),
    ("divide", 2, 2),
    ("div", 2, 2),
    ("mod", 2, 2),
    ("abs", 1, 1),
    ("ceil", 1, 1),
    ("floor", 1, 1),
    ("round", 1, 2),
    ("sqrt", 1, 1),
    ("equals", 2, 2),
    ("notequals", 2, 2),
    ("lessthan", 2, 2),
    ("lessthanorequal", 2, 2),
    ("greaterthan", 2, 2),
    ("greaterthanorequal", 2, 2),
    ("and", 2, 2),
    ("or", 2, 2),
    ("not", 1, 1),
    ("arraylength", 1, 1),
    ("isnull", 1, 1),
    ("isnotnull", 1, 1),
];

/// Checks every call in `expr` names a known function with a valid number of arguments.
pub fn check(expr: &Expr) -> Result<(), String> {
    let Expr::Call(name, args) = expr else { return Ok(()) };
    if let Some((_, why)) = UNSUPPORTED.iter().find(|(n, _)| n == name) {
        return Err(format!("{name}: {why}"));
    }
    let Some((_, min, max)) = FUNCTIONS.iter().find(|(n, _, _)| n == name) else {
        return Err(format!("unknown function {name}"));
    };
    if args.len() < *min || args.len() > *max {
        return Err(format!(
            "{name} takes {min}{} arguments, got {}",
            if min == max { String::new() } else { format!(" to {max}") },
            args.len()
        ));
    }
    args.iter().try_for_each(check)
}

pub fn eval(expr: &Expr, record: &Map<String, Json>) -> Result<Json, String> {
    match expr {
        Expr::Column(name) => Ok(record.get(name).cloned().unwrap_or(Json::Null)),
        Expr::Text(s) => Ok(Json::String(s.clone())),
        Expr::Integer(i) => Ok(Json::from(*i)),
        Expr::Number(n) => Ok(float(*n)),
        Expr::Bool(b) => Ok(Json::Bool(*b)),
        Expr::Null => Ok(Json::Null),
        Expr::Call(name, args) => {
            // Boolean connectives see nulls; every other function returns null on a null.
            let values = args.iter().map(|a| eval(a, record)).collect::<Result<Vec<_>, _>>()?;
            if !matches!(
                name.as_str(),
                "and" | "or" | "not" | "isnull" | "isnotnull" | "jsonpathstring" | "jsonpathlong" | "jsonpathdouble"
            ) && values.iter().any(Json::is_null)
            {
                return Ok(Json::Null);
            }
            call(name, &values)
        }
    }
}

/// Calls a built-in function on values, with the same null rule as in an expression.
pub fn call_function(name: &str, values: &[Json]) -> Result<Json, String> {
    let Some((_, min, max)) = FUNCTIONS.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!("unknown function {name}"));
    };
    if values.len() < *min || values.len() > *max {
        return Err(format!("{name} takes {min} to {max} arguments, got {}", values.len()));
    }
    if !matches!(
        name,
        "and" | "or" | "not" | "isnull" | "isnotnull" | "jsonpathstring" | "jsonpathlong" | "jsonpathdouble"
    ) && values.iter().any(Json::is_null)
    {
        return Ok(Json::Null);
    }
    call(name, values)
}

fn float(f: f64) -> Json {
    serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null)
}

fn num(v: &Json) -> Result<f64, String> {
    match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a number")),
        Json::String(s) => s.trim().parse::<f64>().map_err(|_| format!("\"{s}\" is not a number")),
        Json::Bool(b) => Ok(*b as i32 as f64),
        other => Err(format!("{other} is not a number")),
    }
}

fn int(v: &Json) -> Result<i64, String> {
    match v {
        Json::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)).ok_or_else(|| format!("{n} is not an integer"))
        }
        other => num(other).map(|f| f as i64),
    }
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn truthy(v: &Json) -> Option<bool> {
    match v {
        Json::Bool(b) => Some(*b),
        Json::Null => None,
        Json::Number(n) => Some(n.as_f64().unwrap_or(0.0) != 0.0),
        Json::String(s) => Some(s.eq_ignore_ascii_case("true")),
        _ => Some(true),
    }
}

fn compare(a: &Json, b: &Json) -> std::cmp::Ordering {
    match (num(a), num(b)) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => text(a).cmp(&text(b)),
    }
}

fn date_format(pattern: &Json, zone: Option<&Json>) -> Result<DateTimeFormatSpec, String> {
    let zone = zone.map(text).unwrap_or_else(|| "UTC".into());
    DateTimeFormatSpec::parse(&format!("SIMPLE_DATE_FORMAT|{}|{zone}", text(pattern))).map_err(|e| e.to_string())
}

fn call(name: &str, v: &[Json]) -> Result<Json, String> {
    const MS: [(&str, i64); 4] = [("seconds", 1000), ("minutes", 60_000), ("hours", 3_600_000), ("days", 86_400_000)];
    let unit =
        |prefix: &str, suffix: &str| MS.iter().find(|(u, _)| name == format!("{prefix}{u}{suffix}")).map(|(_, ms)| *ms);
    if let Some(ms) = unit("toepoch", "") {
        return Ok(Json::from(int(&v[0])?.div_euclid(ms)));
    }
    if let Some(ms) = unit("toepoch", "rounded") {
        let n = int(&v[1])?.max(1);
        return Ok(Json::from(int(&v[0])?.div_euclid(ms).div_euclid(n) * n));
    }
    if let Some(ms) = unit("toepoch", "bucket") {
        return Ok(Json::from(int(&v[0])?.div_euclid(ms).div_euclid(int(&v[1])?.max(1))));
    }
    if let Some(ms) = unit("fromepoch", "") {
        return Ok(Json::from(int(&v[0])?.saturating_mul(ms)));
    }
    if let Some(ms) = unit("fromepoch", "bucket") {
        return Ok(Json::from(int(&v[0])?.saturating_mul(int(&v[1])?).saturating_mul(ms)));
    }
    Ok(match name {
        "jsonpathstring" | "jsonpathlong" | "jsonpathdouble" => {
            let found = json_path(&v[0], &text(&v[1]))?.into_iter().next().filter(|f| !f.is_null());
            match (found, v.get(2)) {
                (None, Some(default)) => default.clone(),
                (None, None) => Json::Null,
                (Some(f), _) => match name {
                    "jsonpathstring" => Json::String(text(&f)),
                    "jsonpathlong" => Json::from(int(&f)?),
                    _ => float(num(&f)?),
                },
            }
        }
        "jsonpath" => json_path(&v[0], &text(&v[1]))?.into_iter().next().unwrap_or(Json::Null),
        "jsonpatharray" => Json::Array(json_path(&v[0], &text(&v[1]))?),
        "jsonformat" => Json::String(match &v[0] {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        }),
        "fromdatetime" => Json::from(
            date_format(&v[1], v.get(2))?
                .to_millis(&cuvee_catalog::Value::String(text(&v[0])))
                .map_err(|e| e.to_string())?,
        ),
        "todatetime" => match date_format(&v[1], v.get(2))?.from_millis(int(&v[0])?) {
            cuvee_catalog::FormattedTime::Text(t) => Json::String(t),
            cuvee_catalog::FormattedTime::Number(n) => Json::from(n),
        },
        "now" => Json::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        ),
        "lower" => Json::String(text(&v[0]).to_lowercase()),
        "upper" => Json::String(text(&v[0]).to_uppercase()),
        "trim" => Json::String(text(&v[0]).trim().to_string()),
        "ltrim" => Json::String(text(&v[0]).trim_start().to_string()),
        "rtrim" => Json::String(text(&v[0]).trim_end().to_string()),
        "length" => Json::from(text(&v[0]).chars().count()),
        "reverse" => Json::String(text(&v[0]).chars().rev().collect()),
        "concat" => Json::String(format!("{}{}{}", text(&v[0]), v.get(2).map(text).unwrap_or_default(), text(&v[1]))),
        "substr" => {
            let chars: Vec<char> = text(&v[0]).chars().collect();
            let begin = (int(&v[1])?.max(0) as usize).min(chars.len());
            let end = match v.get(2).map(int).transpose()? {
                None | Some(-1) => chars.len(),
                Some(e) => (e.max(0) as usize).clamp(begin, chars.len()),
            };
            Json::String(chars[begin..end].iter().collect())
        }
        "replace" => Json::String(text(&v[0]).replace(&text(&v[1]), &text(&v[2]))),
        "split" => {
            let delimiter = text(&v[1]);
            if delimiter.is_empty() {
                return Err("split: the delimiter is empty".into());
            }
            Json::Array(text(&v[0]).split(delimiter.as_str()).map(|s| Json::String(s.to_string())).collect())
        }
        "strpos" => Json::from(text(&v[0]).find(&text(&v[1])).map(|i| i as i64).unwrap_or(-1)),
        "startswith" => Json::Bool(text(&v[0]).starts_with(&text(&v[1]))),
        "endswith" => Json::Bool(text(&v[0]).ends_with(&text(&v[1]))),
        "contains" => Json::Bool(text(&v[0]).contains(&text(&v[1]))),
        "plus" | "add" => float(num(&v[0])? + num(&v[1])?),
        "minus" | "sub" => float(num(&v[0])? - num(&v[1])?),
        "times" | "mult" => float(num(&v[0])? * num(&v[1])?),
        "divide" | "div" => {
            let d = num(&v[1])?;
            if d == 0.0 {
                return Err("division by zero".into());
            }
            float(num(&v[0])? / d)
        }
        "mod" => {
            let d = num(&v[1])?;
            if d == 0.0 {
                return Err("modulo by zero".into());
            }
            float(num(&v[0])? % d)
        }
        "abs" => float(num(&v[0])?.abs()),
        "ceil" => float(num(&v[0])?.ceil()),
        "floor" => float(num(&v[0])?.floor()),
        "round" => {
            let scale = v.get(1).map(int).transpose()?.unwrap_or(0).clamp(-15, 15) as i32;
            let factor = 10f64.powi(scale);
            float((num(&v[0])? * factor).round() / factor)
        }
        "sqrt" => float(num(&v[0])?.sqrt()),
        "equals" => Json::Bool(compare(&v[0], &v[1]).is_eq()),
        "notequals" => Json::Bool(!compare(&v[0], &v[1]).is_eq()),
        "lessthan" => Json::Bool(compare(&v[0], &v[1]).is_lt()),
        "lessthanorequal" => Json::Bool(compare(&v[0], &v[1]).is_le()),
        "greaterthan" => Json::Bool(compare(&v[0], &v[1]).is_gt()),
        "greaterthanorequal" => Json::Bool(compare(&v[0], &v[1]).is_ge()),
        "and" => match (truthy(&v[0]), truthy(&v[1])) {
            (Some(false), _) | (_, Some(false)) => Json::Bool(false),
            (Some(true), Some(true)) => Json::Bool(true),
            _ => Json::Null,
        },
        "or" => match (truthy(&v[0]), truthy(&v[1])) {
            (Some(true), _) | (_, Some(true)) => Json::Bool(true),
            (Some(false), Some(false)) => Json::Bool(false),
            _ => Json::Null,
        },
        "not" => truthy(&v[0]).map(|b| Json::Bool(!b)).unwrap_or(Json::Null),
        "isnull" => Json::Bool(v[0].is_null()),
        "isnotnull" => Json::Bool(!v[0].is_null()),
        "arraylength" => Json::from(v[0].as_array().map_or(1, |a| a.len())),
        other => return Err(format!("unknown function {other}")),
    })
}

/// A JSONPath subset: `$`, `.name`, `['name']`, `[n]`, `[*]`. A JSON string is parsed first.
pub fn json_path(input: &Json, path: &str) -> Result<Vec<Json>, String> {
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
                    a.get(index as usize).cloned().into_iter().collect()
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

fn path_steps(path: &str) -> Result<Vec<Step>, String> {
    let bad = |why: &str| format!("JSON path \"{path}\": {why}");
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
