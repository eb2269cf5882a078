//! Pinot's scalar functions that DataFusion lacks or names differently: the date-time
//! family (`TOEPOCHSECONDS`…, `FROMEPOCHDAYS`…, `TODATETIME`, `FROMDATETIME`, `DATETRUNC`,
//! `DATETIMECONVERT`, `AGO`) and JSON extraction (`JSONPATHSTRING`…, `JSON_EXTRACT_SCALAR`,
//! `JSONEXTRACTKEY`).
//! Functions DataFusion already has with Pinot's meaning (`lower`, `abs`, `regexp_like`,
//! `concat`…) are left to DataFusion's vectorised versions.
//!
//! Each function here runs row by row over scalar values; the ones shared with ingestion
//! transforms call the very same code (`cuvee_ingest::transform`), so a value computed at
//! ingestion and at query time agree. Time zones: UTC and fixed offsets, as in the catalog.

use cuvee_catalog::{DateTimeFormatSpec, FormattedTime, Granularity, Value};
use cuvee_ingest::transform::{call_function, json_path};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use serde_json::Value as Json;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    /// A function of the ingestion-transform library, with its result type.
    Library,
    DateTrunc,
    DateTimeConvert,
    Ago,
    JsonExtractScalar,
    JsonExtractKey,
}

const LIBRARY: &[(&str, DataType)] = &[
    ("toepochseconds", DataType::Int64),
    ("toepochminutes", DataType::Int64),
    ("toepochhours", DataType::Int64),
    ("toepochdays", DataType::Int64),
    ("toepochsecondsrounded", DataType::Int64),
    ("toepochminutesrounded", DataType::Int64),
    ("toepochhoursrounded", DataType::Int64),
    ("toepochdaysrounded", DataType::Int64),
    ("toepochsecondsbucket", DataType::Int64),
    ("toepochminutesbucket", DataType::Int64),
    ("toepochhoursbucket", DataType::Int64),
    ("toepochdaysbucket", DataType::Int64),
    ("fromepochseconds", DataType::Int64),
    ("fromepochminutes", DataType::Int64),
    ("fromepochhours", DataType::Int64),
    ("fromepochdays", DataType::Int64),
    ("fromepochsecondsbucket", DataType::Int64),
    ("fromepochminutesbucket", DataType::Int64),
    ("fromepochhoursbucket", DataType::Int64),
    ("fromepochdaysbucket", DataType::Int64),
    ("todatetime", DataType::Utf8),
    ("fromdatetime", DataType::Int64),
    ("jsonpathstring", DataType::Utf8),
    ("jsonpathlong", DataType::Int64),
    ("jsonpathdouble", DataType::Float64),
    ("jsonformat", DataType::Utf8),
];

/// Registers every function of this module in a session.
pub fn register(ctx: &SessionContext) {
    for (name, _) in LIBRARY {
        ctx.register_udf(udf(name, Kind::Library));
    }
    for (name, kind) in [
        ("datetrunc", Kind::DateTrunc),
        ("datetimeconvert", Kind::DateTimeConvert),
        ("ago", Kind::Ago),
        ("json_extract_scalar", Kind::JsonExtractScalar),
        ("jsonextractscalar", Kind::JsonExtractScalar),
        ("jsonextractkey", Kind::JsonExtractKey),
        ("json_extract_key", Kind::JsonExtractKey),
    ] {
        ctx.register_udf(udf(name, kind));
    }
}

fn udf(name: &str, kind: Kind) -> ScalarUDF {
    let volatility = if kind == Kind::Ago { Volatility::Stable } else { Volatility::Immutable };
    ScalarUDF::new_from_impl(PinotScalar {
        name: name.to_string(),
        kind,
        signature: Signature::variadic_any(volatility),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PinotScalar {
    name: String,
    kind: Kind,
    signature: Signature,
}

impl ScalarUDFImpl for PinotScalar {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        plan_err!("{}: the result type depends on the arguments", self.name)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let literal = |i: usize| match args.scalar_arguments.get(i).copied().flatten() {
            Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => {
                Some(s.clone())
            }
            _ => None,
        };
        let data_type = match self.kind {
            Kind::Library => LIBRARY.iter().find(|(n, _)| *n == self.name).map(|(_, t)| t.clone()).unwrap_or(DataType::Utf8),
            Kind::DateTrunc | Kind::Ago => DataType::Int64,
            Kind::JsonExtractKey => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            Kind::DateTimeConvert => {
                let Some(format) = literal(2) else { return plan_err!("DATETIMECONVERT: the output format must be a string literal") };
                let spec = DateTimeFormatSpec::parse(&format).map_err(|e| datafusion::error::DataFusionError::Plan(format!("DATETIMECONVERT: {e}")))?;
                match spec.from_millis(0) {
                    FormattedTime::Number(_) => DataType::Int64,
                    FormattedTime::Text(_) => DataType::Utf8,
                }
            }
            Kind::JsonExtractScalar => match literal(2).map(|t| t.to_ascii_uppercase()).as_deref() {
                Some("INT") => DataType::Int32,
                Some("LONG") => DataType::Int64,
                Some("FLOAT") => DataType::Float32,
                Some("DOUBLE") => DataType::Float64,
                Some("BOOLEAN") => DataType::Boolean,
                Some("STRING") => DataType::Utf8,
                other => return plan_err!("JSON_EXTRACT_SCALAR: the result type must be INT, LONG, FLOAT, DOUBLE, BOOLEAN or STRING, not {other:?}"),
            },
        };
        Ok(Arc::new(Field::new(&self.name, data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let out_type = args.return_field.data_type().clone();
        let rows = args.number_rows;
        let arrays: Vec<_> = args.args.iter().map(|a| a.clone().into_array(rows)).collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            let values = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a, row).map(|s| to_json(&s)))
                .collect::<Result<Vec<_>>>()?;
            let result = self
                .call(&values)
                .map_err(|e| datafusion::error::DataFusionError::Execution(format!("{}: {e}", self.name)))?;
            out.push(from_json(&result, &out_type)?);
        }
        if out.is_empty() {
            return Ok(ColumnarValue::Array(datafusion::arrow::array::new_empty_array(&out_type)));
        }
        Ok(ColumnarValue::Array(ScalarValue::iter_to_array(out)?))
    }
}

impl PinotScalar {
    fn call(&self, v: &[Json]) -> Result<Json, String> {
        match self.kind {
            Kind::Library => call_function(&self.name, v),
            Kind::DateTrunc => date_trunc(v),
            Kind::DateTimeConvert => date_time_convert(v),
            Kind::Ago => ago(v),
            Kind::JsonExtractScalar => json_extract_scalar(v),
            Kind::JsonExtractKey => json_extract_key(v),
        }
    }
}

fn to_json(value: &ScalarValue) -> Json {
    if value.is_null() {
        return Json::Null;
    }
    match value {
        ScalarValue::Boolean(Some(b)) => Json::Bool(*b),
        ScalarValue::Int8(Some(v)) => Json::from(*v),
        ScalarValue::Int16(Some(v)) => Json::from(*v),
        ScalarValue::Int32(Some(v)) => Json::from(*v),
        ScalarValue::Int64(Some(v)) => Json::from(*v),
        ScalarValue::UInt8(Some(v)) => Json::from(*v),
        ScalarValue::UInt16(Some(v)) => Json::from(*v),
        ScalarValue::UInt32(Some(v)) => Json::from(*v),
        ScalarValue::UInt64(Some(v)) => Json::from(*v),
        ScalarValue::Float32(Some(v)) => serde_json::Number::from_f64(*v as f64).map_or(Json::Null, Json::Number),
        ScalarValue::Float64(Some(v)) => serde_json::Number::from_f64(*v).map_or(Json::Null, Json::Number),
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Json::String(s.clone())
        }
        ScalarValue::TimestampMillisecond(Some(v), _) => Json::from(*v),
        other => Json::String(other.to_string()),
    }
}

fn from_json(value: &Json, data_type: &DataType) -> Result<ScalarValue> {
    let number = || match value {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        Json::Bool(b) => Some(*b as i32 as f64),
        _ => None,
    };
    let integer = || match value {
        Json::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    if value.is_null() {
        return ScalarValue::try_from(data_type);
    }
    Ok(match data_type {
        DataType::Int32 => ScalarValue::Int32(integer().and_then(|i| i32::try_from(i).ok())),
        DataType::Int64 => ScalarValue::Int64(integer()),
        DataType::Float32 => ScalarValue::Float32(number().map(|f| f as f32)),
        DataType::Float64 => ScalarValue::Float64(number()),
        DataType::Boolean => ScalarValue::Boolean(match value {
            Json::Bool(b) => Some(*b),
            Json::String(s) => Some(s.eq_ignore_ascii_case("true")),
            _ => None,
        }),
        DataType::List(field) => {
            let Json::Array(items) = value else { return exec_err!("expected a list, got {value}") };
            let items = items.iter().map(|item| from_json(item, field.data_type())).collect::<Result<Vec<_>>>()?;
            ScalarValue::List(ScalarValue::new_list_nullable(&items, field.data_type()))
        }
        DataType::Utf8 => ScalarValue::Utf8(Some(match value {
            Json::String(s) => s.clone(),
            other => other.to_string(),
        })),
        other => return exec_err!("unexpected result type {other}"),
    })
}

fn text(v: &Json) -> Result<&str, String> {
    v.as_str().ok_or_else(|| format!("{v} is not a string"))
}

fn to_value(v: &Json) -> Value {
    match v {
        Json::Number(n) => n.as_i64().map_or_else(|| Value::Double(n.as_f64().unwrap_or(0.0)), Value::Long),
        Json::String(s) => Value::String(s.clone()),
        other => Value::String(other.to_string()),
    }
}

/// DATETRUNC(unit, value[, inputTimeUnit[, timeZone[, outputTimeUnit]]]), UTC.
fn date_trunc(v: &[Json]) -> Result<Json, String> {
    if v.len() < 2 || v.len() > 5 {
        return Err(format!("takes 2 to 5 arguments, got {}", v.len()));
    }
    if v.iter().any(Json::is_null) {
        return Ok(Json::Null);
    }
    let unit_ms = |name: &str| -> Result<i64, String> {
        Ok(match name.to_ascii_uppercase().trim_end_matches('S') {
            "NANOSECOND" | "MICROSECOND" | "MILLISECOND" => 1,
            "SECOND" => 1_000,
            "MINUTE" => 60_000,
            "HOUR" => 3_600_000,
            "DAY" => 86_400_000,
            other => return Err(format!("unknown time unit {other}")),
        })
    };
    let input_ms = v.get(2).map(|u| text(u).and_then(unit_ms)).transpose()?.unwrap_or(1);
    if let Some(zone) = v.get(3) {
        let zone = text(zone)?;
        if !matches!(zone.to_ascii_uppercase().as_str(), "UTC" | "GMT" | "Z" | "ETC/UTC") {
            return Err(format!("time zone {zone}: only UTC is supported"));
        }
    }
    let output_ms = v.get(4).map(|u| text(u).and_then(unit_ms)).transpose()?.unwrap_or(input_ms);
    let value =
        v[1].as_i64().or_else(|| v[1].as_f64().map(|f| f as i64)).ok_or_else(|| format!("{} is not a number", v[1]))?;
    let millis = value.checked_mul(input_ms).ok_or("the value overflows")?;
    let truncated = truncate_millis(millis, text(&v[0])?)?;
    Ok(Json::from(truncated.div_euclid(output_ms)))
}

fn truncate_millis(millis: i64, unit: &str) -> Result<i64, String> {
    use chrono::{Datelike, TimeZone, Utc};
    let fixed = |ms: i64| millis - millis.rem_euclid(ms);
    Ok(match unit.to_ascii_lowercase().as_str() {
        "millisecond" => millis,
        "second" => fixed(1_000),
        "minute" => fixed(60_000),
        "hour" => fixed(3_600_000),
        "day" => fixed(86_400_000),
        "week" | "month" | "quarter" | "year" => {
            let at = Utc.timestamp_millis_opt(millis).single().ok_or("the value is out of range")?;
            let date = at.date_naive();
            let start = match unit.to_ascii_lowercase().as_str() {
                "week" => date - chrono::Duration::days(date.weekday().num_days_from_monday() as i64),
                "month" => date.with_day(1).ok_or("bad date")?,
                "quarter" => {
                    chrono::NaiveDate::from_ymd_opt(date.year(), (date.month0() / 3) * 3 + 1, 1).ok_or("bad date")?
                }
                _ => chrono::NaiveDate::from_ymd_opt(date.year(), 1, 1).ok_or("bad date")?,
            };
            start.and_hms_opt(0, 0, 0).ok_or("bad date")?.and_utc().timestamp_millis()
        }
        other => {
            return Err(format!(
                "unknown unit {other} (millisecond, second, minute, hour, day, week, month, quarter, year)"
            ))
        }
    })
}

/// DATETIMECONVERT(value, inputFormat, outputFormat, outputGranularity).
fn date_time_convert(v: &[Json]) -> Result<Json, String> {
    if v.len() != 4 {
        return Err(format!("takes 4 arguments, got {}", v.len()));
    }
    if v[0].is_null() {
        return Ok(Json::Null);
    }
    let input = DateTimeFormatSpec::parse(text(&v[1])?).map_err(|e| e.to_string())?;
    let output = DateTimeFormatSpec::parse(text(&v[2])?).map_err(|e| e.to_string())?;
    let granularity = Granularity::parse(text(&v[3])?).map_err(|e| e.to_string())?.millis().max(1);
    let millis = input.to_millis(&to_value(&v[0])).map_err(|e| e.to_string())?;
    Ok(match output.from_millis(millis - millis.rem_euclid(granularity)) {
        FormattedTime::Number(n) => Json::from(n),
        FormattedTime::Text(t) => Json::String(t),
    })
}

/// AGO('PT1H'): now minus an ISO-8601 duration, in epoch milliseconds.
fn ago(v: &[Json]) -> Result<Json, String> {
    let [period] = v else { return Err(format!("takes 1 argument, got {}", v.len())) };
    let duration = iso_duration_ms(text(period)?)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_millis()
        as i64;
    Ok(Json::from(now - duration))
}

fn iso_duration_ms(text: &str) -> Result<i64, String> {
    let bad = || format!("\"{text}\" is not an ISO-8601 duration such as P1D or PT1H30M");
    let upper = text.trim().to_ascii_uppercase();
    let rest = upper.strip_prefix('P').ok_or_else(bad)?;
    let (days, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0f64;
    let mut parse = |part: &str, units: &[(char, f64)]| -> Result<(), String> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, ms) = units.iter().find(|(u, _)| *u == c).ok_or_else(bad)?;
            total += number.parse::<f64>().map_err(|_| bad())? * ms;
            number.clear();
        }
        if number.is_empty() {
            Ok(())
        } else {
            Err(bad())
        }
    };
    parse(days, &[('W', 604_800_000.0), ('D', 86_400_000.0)])?;
    parse(time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1_000.0)])?;
    Ok(total as i64)
}

/// JSON_EXTRACT_SCALAR(json, path, resultType[, default]).
fn json_extract_scalar(v: &[Json]) -> Result<Json, String> {
    if v.len() < 3 || v.len() > 4 {
        return Err(format!("takes 3 or 4 arguments, got {}", v.len()));
    }
    let default = v.get(3).cloned();
    let missing = || default.clone().ok_or_else(|| format!("no value at path {} and no default given", v[1]));
    let document = match &v[0] {
        Json::Null => return missing(),
        Json::String(s) => serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))?,
        other => other.clone(),
    };
    let found = json_path(&document, text(&v[1])?)?;
    match found.into_iter().next() {
        Some(Json::Null) | None => missing(),
        Some(value) => Ok(value),
    }
}

/// JSONEXTRACTKEY(json, path): the paths of the values `path` selects, written as
/// `$['key']` / `$[0]`. Paths: `$`, `.name`, `['name']`, `[n]`, `.*`, `[*]`.
fn json_extract_key(v: &[Json]) -> Result<Json, String> {
    let [document, path] = v else { return Err(format!("takes 2 arguments, got {}", v.len())) };
    let document: Json = match document {
        Json::Null => return Ok(Json::Null),
        Json::String(s) => serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))?,
        other => other.clone(),
    };
    let mut current = vec![("$".to_string(), &document)];
    for step in path_steps(text(path)?)? {
        let mut next = Vec::new();
        for (at, value) in current {
            match (&step, value) {
                (Step::Key(k), Json::Object(map)) => next.extend(map.get(k).map(|v| (format!("{at}['{k}']"), v))),
                (Step::Index(i), Json::Array(items)) => next.extend(items.get(*i).map(|v| (format!("{at}[{i}]"), v))),
                (Step::Any, Json::Object(map)) => next.extend(map.iter().map(|(k, v)| (format!("{at}['{k}']"), v))),
                (Step::Any, Json::Array(items)) => {
                    next.extend(items.iter().enumerate().map(|(i, v)| (format!("{at}[{i}]"), v)))
                }
                _ => {}
            }
        }
        current = next;
    }
    Ok(Json::Array(current.into_iter().map(|(at, _)| Json::String(at)).collect()))
}

enum Step {
    Key(String),
    Index(usize),
    Any,
}

fn path_steps(path: &str) -> Result<Vec<Step>, String> {
    let bad = || format!("JSON path {path:?} is not supported (use $, .name, ['name'], [n], .* or [*])");
    let mut rest = path.trim().strip_prefix('$').ok_or_else(bad)?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix(".*").or_else(|| rest.strip_prefix("[*]")) {
            steps.push(Step::Any);
            rest = r;
        } else if let Some(r) = rest.strip_prefix("['") {
            let end = r.find("']").ok_or_else(bad)?;
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(bad)?;
            steps.push(Step::Index(r[..end].trim().parse().map_err(|_| bad())?));
            rest = &r[end + 1..];
        } else if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad());
            }
            steps.push(Step::Key(r[..end].to_string()));
            rest = &r[end..];
        } else {
            return Err(bad());
        }
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn date_functions() {
        // 2014-01-15T13:45:30.123Z
        let ms = 1_389_793_530_123i64;
        assert_eq!(date_trunc(&[json!("hour"), json!(ms)]).unwrap(), json!(1_389_790_800_000i64));
        assert_eq!(date_trunc(&[json!("month"), json!(ms)]).unwrap(), json!(1_388_534_400_000i64));
        assert_eq!(date_trunc(&[json!("week"), json!(ms / 1000), json!("SECONDS")]).unwrap(), json!(1_389_571_200i64));
        assert!(date_trunc(&[json!("day"), json!(ms), json!("MILLISECONDS"), json!("America/New_York")]).is_err());
        let converted =
            date_time_convert(&[json!(ms), json!("1:MILLISECONDS:EPOCH"), json!("1:HOURS:EPOCH"), json!("1:HOURS")])
                .unwrap();
        assert_eq!(converted, json!(ms / 3_600_000));
        let text = date_time_convert(&[
            json!(ms),
            json!("1:MILLISECONDS:EPOCH"),
            json!("1:DAYS:SIMPLE_DATE_FORMAT:yyyy-MM-dd"),
            json!("1:DAYS"),
        ])
        .unwrap();
        assert_eq!(text, json!("2014-01-15"));
        assert_eq!(iso_duration_ms("PT1H30M").unwrap(), 5_400_000);
        assert_eq!(iso_duration_ms("P2D").unwrap(), 172_800_000);
        assert!(iso_duration_ms("1H").is_err());
    }

    #[test]
    fn json_extraction() {
        let doc = json!(r#"{"a":{"b":[1,2]},"s":"x"}"#);
        assert_eq!(json_extract_scalar(&[doc.clone(), json!("$.a.b[1]"), json!("INT")]).unwrap(), json!(2));
        assert_eq!(
            json_extract_scalar(&[doc.clone(), json!("$.nope"), json!("STRING"), json!("none")]).unwrap(),
            json!("none")
        );
        assert!(json_extract_scalar(&[doc.clone(), json!("$.nope"), json!("STRING")]).is_err());
        assert_eq!(json_extract_key(&[doc.clone(), json!("$.*")]).unwrap(), json!(["$['a']", "$['s']"]));
        assert_eq!(
            json_extract_key(&[doc.clone(), json!("$.a.b[*]")]).unwrap(),
            json!(["$['a']['b'][0]", "$['a']['b'][1]"])
        );
        assert!(json_extract_key(&[doc, json!("a.b")]).is_err());
    }
}
