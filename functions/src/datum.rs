//! The values Pinot's functions take and return.

use crate::error::FunctionError;
use serde_json::Value as Json;

/// One argument or result of a function. Numbers are LONG or DOUBLE (Pinot's functions
/// widen INT and FLOAT); `Document` is a JSON object or array read as a whole (the input of
/// the JSON functions), `List` a multi-value result (`split`), `Bytes` a BYTES value (the
/// geospatial functions' serialised shapes; hex where it meets JSON or text, as Pinot's).
#[derive(Debug, Clone, PartialEq)]
pub enum Datum {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Text(String),
    List(Vec<Datum>),
    Document(Json),
    Bytes(Vec<u8>),
}

impl Datum {
    pub fn is_null(&self) -> bool {
        matches!(self, Datum::Null)
    }

    /// A JSON value as a function sees it: numbers stay integers when they are.
    pub fn from_json(json: &Json) -> Datum {
        match json {
            Json::Null => Datum::Null,
            Json::Bool(b) => Datum::Bool(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Datum::Long(i),
                None => Datum::Double(n.as_f64().unwrap_or(f64::NAN)),
            },
            Json::String(s) => Datum::Text(s.clone()),
            Json::Array(items) => Datum::List(items.iter().map(Datum::from_json).collect()),
            Json::Object(_) => Datum::Document(json.clone()),
        }
    }

    /// The datum as JSON (a NaN or infinite double is null, as JSON has no such number).
    pub fn to_json(&self) -> Json {
        match self {
            Datum::Null => Json::Null,
            Datum::Bool(b) => Json::Bool(*b),
            Datum::Long(i) => Json::from(*i),
            Datum::Double(f) => float(*f),
            Datum::Text(s) => Json::String(s.clone()),
            Datum::List(items) => Json::Array(items.iter().map(Datum::to_json).collect()),
            Datum::Document(json) => json.clone(),
            Datum::Bytes(b) => Json::String(cuvee_catalog::value::encode_hex(b)),
        }
    }

    /// The datum as bytes: BYTES as they are, text as hex (how a BYTES value arrives in a
    /// JSON record or a SQL string literal).
    pub fn as_bytes(&self) -> Result<std::borrow::Cow<'_, [u8]>, FunctionError> {
        match self {
            Datum::Bytes(b) => Ok(std::borrow::Cow::Borrowed(b)),
            Datum::Text(s) => cuvee_catalog::value::decode_hex(s.trim())
                .map(std::borrow::Cow::Owned)
                .ok_or_else(|| FunctionError::InvalidArgument(format!("\"{s}\" is not hex-encoded bytes"))),
            other => Err(FunctionError::InvalidArgument(format!("{} is not bytes", other.to_json()))),
        }
    }

    /// The datum as a number, as Pinot's functions coerce: text is parsed, booleans are 0/1.
    pub fn as_double(&self) -> Result<f64, FunctionError> {
        match self {
            Datum::Long(i) => Ok(*i as f64),
            Datum::Double(f) => Ok(*f),
            Datum::Bool(b) => Ok(f64::from(u8::from(*b))),
            Datum::Text(s) => {
                s.trim().parse::<f64>().map_err(|_| FunctionError::InvalidArgument(format!("\"{s}\" is not a number")))
            }
            other => Err(FunctionError::InvalidArgument(format!("{} is not a number", other.to_json()))),
        }
    }

    /// The datum as an integer; a fractional number is truncated, as Pinot's casts do.
    pub fn as_long(&self) -> Result<i64, FunctionError> {
        match self {
            Datum::Long(i) => Ok(*i),
            other => other.as_double().map(|f| f as i64),
        }
    }

    /// The datum as text: text as it is, anything else as its JSON.
    pub fn as_text(&self) -> String {
        match self {
            Datum::Text(s) => s.clone(),
            other => other.to_json().to_string(),
        }
    }

    /// SQL's truth of a datum (null is unknown).
    pub fn truth(&self) -> Option<bool> {
        match self {
            Datum::Null => None,
            Datum::Bool(b) => Some(*b),
            Datum::Long(i) => Some(*i != 0),
            Datum::Double(f) => Some(*f != 0.0),
            Datum::Text(s) => Some(s.eq_ignore_ascii_case("true")),
            Datum::List(_) | Datum::Document(_) | Datum::Bytes(_) => Some(true),
        }
    }
}

/// A double as JSON; NaN and infinities are null.
pub fn float(f: f64) -> Json {
    serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)
}
