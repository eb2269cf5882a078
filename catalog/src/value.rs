//! Pinot's data types and the values they hold.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// A column's logical type, spelled as in Pinot's schema JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DataType {
    Int,
    Long,
    Float,
    Double,
    BigDecimal,
    Boolean,
    Timestamp,
    String,
    Json,
    Bytes,
}

impl DataType {
    pub const ALL: [DataType; 10] = [
        DataType::Int,
        DataType::Long,
        DataType::Float,
        DataType::Double,
        DataType::BigDecimal,
        DataType::Boolean,
        DataType::Timestamp,
        DataType::String,
        DataType::Json,
        DataType::Bytes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DataType::Int => "INT",
            DataType::Long => "LONG",
            DataType::Float => "FLOAT",
            DataType::Double => "DOUBLE",
            DataType::BigDecimal => "BIG_DECIMAL",
            DataType::Boolean => "BOOLEAN",
            DataType::Timestamp => "TIMESTAMP",
            DataType::String => "STRING",
            DataType::Json => "JSON",
            DataType::Bytes => "BYTES",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, DataType::Int | DataType::Long | DataType::Float | DataType::Double | DataType::BigDecimal)
    }

    /// Types whose values have variable length (and so a `maxLength`).
    pub fn is_variable_length(self) -> bool {
        matches!(self, DataType::String | DataType::Json | DataType::Bytes | DataType::BigDecimal)
    }

    /// Parses a value of this type from JSON as it appears in configs and JSON input.
    pub fn value_from_json(self, json: &serde_json::Value) -> Result<Value, ValueError> {
        use serde_json::Value as J;
        match (self, json) {
            (_, J::String(text)) => self.value_from_str(text),
            (DataType::Int, J::Number(n)) => match n.as_i64() {
                Some(v) if i32::try_from(v).is_ok() => Ok(Value::Int(v as i32)),
                _ => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f >= i32::MIN as f64 && f <= i32::MAX as f64 => {
                        Ok(Value::Int(f as i32))
                    }
                    _ => Err(ValueError(format!("{n} is not an INT"))),
                },
            },
            (DataType::Long | DataType::Timestamp, J::Number(n)) => {
                let v = match n.as_i64() {
                    Some(v) => v,
                    None => match n.as_f64() {
                        Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => f as i64,
                        _ => return Err(ValueError(format!("{n} is not a {}", self.name()))),
                    },
                };
                Ok(if self == DataType::Long { Value::Long(v) } else { Value::Timestamp(v) })
            }
            (DataType::Float, J::Number(n)) => Ok(Value::Float(n.as_f64().unwrap_or(0.0) as f32)),
            (DataType::Double, J::Number(n)) => Ok(Value::Double(n.as_f64().unwrap_or(0.0))),
            (DataType::BigDecimal, J::Number(n)) => self.value_from_str(&n.to_string()),
            (DataType::Boolean, J::Bool(b)) => Ok(Value::Boolean(*b)),
            (DataType::Boolean, J::Number(n)) => Ok(Value::Boolean(n.as_f64().unwrap_or(0.0) != 0.0)),
            (DataType::String, J::Number(_) | J::Bool(_)) => Ok(Value::String(json.to_string())),
            (DataType::Json, other) => Ok(Value::Json(other.to_string())),
            (DataType::String, J::Object(_) | J::Array(_)) => Ok(Value::String(json.to_string())),
            (_, other) => Err(ValueError(format!("{} is not a {}", short(other), self.name()))),
        }
    }

    /// Parses a value of this type from text (CSV cells, config strings).
    pub fn value_from_str(self, text: &str) -> Result<Value, ValueError> {
        let trimmed = text.trim();
        let bad = || ValueError(format!("\"{}\" is not a {}", truncate(text, 64), self.name()));
        match self {
            DataType::Int => parse_integer(trimmed).and_then(|v| i32::try_from(v).ok()).map(Value::Int).ok_or_else(bad),
            DataType::Long => parse_integer(trimmed).map(Value::Long).ok_or_else(bad),
            DataType::Float => parse_float(trimmed).map(|f| Value::Float(f as f32)).ok_or_else(bad),
            DataType::Double => parse_float(trimmed).map(Value::Double).ok_or_else(bad),
            DataType::BigDecimal => {
                if is_decimal(trimmed) {
                    Ok(Value::BigDecimal(trimmed.to_string()))
                } else {
                    Err(bad())
                }
            }
            DataType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
                "true" | "1" => Ok(Value::Boolean(true)),
                "false" | "0" => Ok(Value::Boolean(false)),
                _ => Err(bad()),
            },
            DataType::Timestamp => match parse_integer(trimmed) {
                Some(ms) => Ok(Value::Timestamp(ms)),
                None => crate::datetime::parse_timestamp_text(trimmed).map(Value::Timestamp).ok_or_else(bad),
            },
            DataType::String => Ok(Value::String(text.to_string())),
            DataType::Json => Ok(Value::Json(text.to_string())),
            DataType::Bytes => decode_hex(trimmed).map(Value::Bytes).ok_or_else(bad),
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A value that does not fit its type (`"abc" is not a LONG`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

impl cuvee_error::ErrorExt for ValueError {
    fn kind(&self) -> cuvee_error::ErrorKind {
        cuvee_error::ErrorKind::InvalidValue
    }
}

/// One value of a column. Null is not a value: it is represented by the absence of one.
/// Serialisable so predicates can travel in plan fragments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Int(i32),
    Long(i64),
    Float(f32),
    Double(f64),
    /// Kept as its decimal text so no precision is lost; ordered numerically.
    BigDecimal(String),
    Boolean(bool),
    /// Milliseconds since the epoch, UTC.
    Timestamp(i64),
    String(String),
    /// JSON text.
    Json(String),
    Bytes(Vec<u8>),
}

impl Value {
    pub fn data_type(&self) -> DataType {
        match self {
            Value::Int(_) => DataType::Int,
            Value::Long(_) => DataType::Long,
            Value::Float(_) => DataType::Float,
            Value::Double(_) => DataType::Double,
            Value::BigDecimal(_) => DataType::BigDecimal,
            Value::Boolean(_) => DataType::Boolean,
            Value::Timestamp(_) => DataType::Timestamp,
            Value::String(_) => DataType::String,
            Value::Json(_) => DataType::Json,
            Value::Bytes(_) => DataType::Bytes,
        }
    }

    /// The value as JSON, the way Pinot writes it in configs and responses.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Int(v) => J::from(*v),
            Value::Long(v) | Value::Timestamp(v) => J::from(*v),
            Value::Float(v) => float_json(*v as f64),
            Value::Double(v) => float_json(*v),
            Value::BigDecimal(v) | Value::String(v) | Value::Json(v) => J::String(v.clone()),
            Value::Boolean(v) => J::Bool(*v),
            Value::Bytes(v) => J::String(encode_hex(v)),
        }
    }

    /// Total order within one type: numbers numerically (floats by IEEE total order),
    /// BIG_DECIMAL numerically, text and bytes by their bytes. Values of different types
    /// compare by type so that sorting mixed values never panics.
    pub fn total_cmp(&self, other: &Value) -> Ordering {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => a.cmp(b),
            (Value::Long(a), Value::Long(b)) | (Value::Timestamp(a), Value::Timestamp(b)) => a.cmp(b),
            (Value::Float(a), Value::Float(b)) => a.total_cmp(b),
            (Value::Double(a), Value::Double(b)) => a.total_cmp(b),
            (Value::BigDecimal(a), Value::BigDecimal(b)) => compare_decimal(a, b),
            (Value::Boolean(a), Value::Boolean(b)) => a.cmp(b),
            (Value::String(a), Value::String(b)) | (Value::Json(a), Value::Json(b)) => a.cmp(b),
            (Value::Bytes(a), Value::Bytes(b)) => a.cmp(b),
            (a, b) => (a.data_type() as u8).cmp(&(b.data_type() as u8)),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::String(s) | Value::Json(s) | Value::BigDecimal(s) => f.write_str(s),
            Value::Bytes(b) => f.write_str(&encode_hex(b)),
            other => write!(f, "{}", other.to_json()),
        }
    }
}

fn float_json(v: f64) -> serde_json::Value {
    // JSON has no infinities or NaN; Pinot writes them as strings.
    serde_json::Number::from_f64(v).map(serde_json::Value::Number).unwrap_or_else(|| {
        serde_json::Value::String(if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        })
    })
}

fn parse_integer(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    // "12.0" is an integer written as a float (common in CSV exports).
    let f = text.parse::<f64>().ok()?;
    (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "Infinity" | "+Infinity" | "inf" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse::<f64>().ok(),
    }
}

/// `[+-]digits[.digits][e[+-]digits]`, as Java's `BigDecimal(String)` accepts.
pub fn is_decimal(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = !(int_part.is_empty() && frac_part.is_empty()) && digits_ok(int_part) && digits_ok(frac_part);
    let exponent_ok = match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['+', '-']).unwrap_or(e);
            !e.is_empty() && e.len() < 10 && digits_ok(e)
        }
    };
    mantissa_ok && exponent_ok
}

/// Numeric comparison of two decimal strings (as accepted by [`is_decimal`]) without
/// converting to floating point, so that no two distinct values compare equal by rounding.
pub fn compare_decimal(a: &str, b: &str) -> Ordering {
    let (neg_a, digits_a, exp_a) = normalize_decimal(a);
    let (neg_b, digits_b, exp_b) = normalize_decimal(b);
    let zero_a = digits_a.is_empty();
    let zero_b = digits_b.is_empty();
    let sign = |neg: bool, zero: bool| {
        if zero {
            0
        } else if neg {
            -1
        } else {
            1
        }
    };
    let (sa, sb) = (sign(neg_a, zero_a), sign(neg_b, zero_b));
    if sa != sb || sa == 0 {
        return sa.cmp(&sb);
    }
    // Same sign, both non-zero: compare magnitudes by decimal exponent, then digits.
    let magnitude = exp_a.cmp(&exp_b).then_with(|| digits_a.cmp(&digits_b));
    if sa < 0 {
        magnitude.reverse()
    } else {
        magnitude
    }
}

/// Returns (negative, significant digits without leading/trailing zeros, exponent of the
/// first digit) so that magnitudes compare by (exponent, digits).
fn normalize_decimal(text: &str) -> (bool, String, i64) {
    let negative = text.starts_with('-');
    let body = text.trim_start_matches(['+', '-']);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().unwrap_or(0)),
        None => (body, 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all: String = format!("{int_part}{frac_part}");
    let leading = all.bytes().take_while(|&b| b == b'0').count();
    let digits = all[leading..].trim_end_matches('0').to_string();
    let first_digit_exponent = int_part.len() as i64 - leading as i64 + exponent;
    (negative, digits, first_digit_exponent)
}

pub fn encode_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

pub fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes().chunks(2).map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?)).collect()
}

fn short(json: &serde_json::Value) -> String {
    truncate(&json.to_string(), 64)
}

pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_numerically() {
        let ordered = ["-1e3", "-12.5", "-0.001", "0", "0.000", "1e-3", "0.01", "1", "1.0", "2", "10", "1.5e1", "100"];
        for pair in ordered.windows(2) {
            assert_ne!(compare_decimal(pair[0], pair[1]), Ordering::Greater, "{} vs {}", pair[0], pair[1]);
        }
        assert_eq!(compare_decimal("0", "-0.0"), Ordering::Equal);
        assert_eq!(compare_decimal("1.0", "1"), Ordering::Equal);
        assert_eq!(compare_decimal("15", "1.5e1"), Ordering::Equal);
        assert_eq!(compare_decimal("-2", "-10"), Ordering::Greater);
    }

    #[test]
    fn parses_values_by_type() {
        assert_eq!(DataType::Int.value_from_str("12.0"), Ok(Value::Int(12)));
        assert!(DataType::Int.value_from_str("3000000000").is_err());
        assert_eq!(DataType::Boolean.value_from_json(&serde_json::json!(true)), Ok(Value::Boolean(true)));
        assert_eq!(DataType::Bytes.value_from_str("0aff"), Ok(Value::Bytes(vec![10, 255])));
        assert!(DataType::BigDecimal.value_from_str("1.2.3").is_err());
        assert_eq!(DataType::Timestamp.value_from_str("1970-01-01 00:00:01"), Ok(Value::Timestamp(1000)));
        let err = DataType::Long.value_from_str("abc").unwrap_err().to_string();
        assert!(err.contains("\"abc\" is not a LONG"), "{err}");
    }
}
