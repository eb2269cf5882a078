//! Avro object container files (the schema comes from the file's header).

use super::{BadRecord, RawRecord, Records};
use apache_avro::types::Value as Avro;
use cuvee_catalog::value::encode_hex;
use serde_json::{Map, Value as Json};

/// The most one Avro value (a string, bytes, a block, an array's declared length) may ask
/// to allocate. apache-avro trusts declared lengths up to this (512 MiB by default, once
/// per process), so a message of a few bytes claiming a huge array or string would
/// allocate that much; past this it is refused, and the message becomes a dead letter.
pub const MAX_ALLOCATION_BYTES: usize = 16 << 20;

/// Sets [`MAX_ALLOCATION_BYTES`] before any Avro is read (the first call wins, per process).
pub(crate) fn limit_allocations() {
    let limit = apache_avro::util::max_allocation_bytes(MAX_ALLOCATION_BYTES);
    if limit != MAX_ALLOCATION_BYTES {
        tracing::warn!(limit, "Avro's allocation limit was set elsewhere first");
    }
}

pub fn records(file: std::fs::File) -> Result<Records, String> {
    limit_allocations();
    let reader = apache_avro::Reader::new(std::io::BufReader::new(file))
        .map_err(|e| format!("not an Avro container file: {e}"))?;
    Ok(Box::new(reader.enumerate().map(|(i, value)| {
        let position = format!("record {}", i + 1);
        match value {
            Err(e) => Err(BadRecord { position, reason: format!("unreadable Avro record: {e}") }),
            Ok(Avro::Record(fields)) => {
                Ok(RawRecord { position, fields: fields.into_iter().map(|(k, v)| (k, to_json(v))).collect() })
            }
            Ok(other) => Err(BadRecord { position, reason: format!("expected an Avro record, got {other:?}") }),
        }
    })))
}

pub(crate) fn to_json(value: Avro) -> Json {
    match value {
        Avro::Null => Json::Null,
        Avro::Boolean(b) => Json::Bool(b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Json::from(i),
        Avro::Long(l)
        | Avro::TimeMicros(l)
        | Avro::TimestampMillis(l)
        | Avro::TimestampMicros(l)
        | Avro::LocalTimestampMillis(l)
        | Avro::LocalTimestampMicros(l) => Json::from(l),
        Avro::Float(f) => serde_json::Number::from_f64(f as f64).map(Json::Number).unwrap_or(Json::Null),
        Avro::Double(f) => serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null),
        Avro::Bytes(b) | Avro::Fixed(_, b) => Json::String(encode_hex(&b)),
        Avro::String(s) | Avro::Enum(_, s) => Json::String(s),
        Avro::Union(_, inner) => to_json(*inner),
        Avro::Array(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Avro::Map(entries) => Json::Object(entries.into_iter().map(|(k, v)| (k, to_json(v))).collect::<Map<_, _>>()),
        Avro::Record(fields) => Json::Object(fields.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        Avro::Uuid(u) => Json::String(u.to_string()),
        other => Json::String(format!("{other:?}")),
    }
}
