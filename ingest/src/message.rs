//! One stream message → one record of named fields, the same shape the file readers give
//! (so transforms, the filter and conforming are shared with batch import). JSON objects,
//! Avro binary datums with the writer schema from the stream config, and CSV lines.
//! A message that cannot be decoded gives a reason naming what is wrong; it is never
//! half-decoded.

use crate::avro_row::AvroRows;
use crate::conform::{Conformed, Conformer, Rejected};
use crate::error::IngestError;
use crate::readers::json::kind;
use cuvee_catalog::{Decoder, Schema};
use serde_json::{Map, Value as Json};

/// What Kafka says about a message, for tables that ask for it
/// (`stream.kafka.metadata.populate`).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageMetadata {
    pub key: Option<Vec<u8>>,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
}

pub struct MessageDecoder {
    format: Format,
    populate_metadata: bool,
    /// Avro records straight into rows of the table the decoder was made for.
    avro_rows: Option<AvroRows>,
}

enum Format {
    Json,
    Avro(Box<apache_avro::Schema>),
    Csv { delimiter: u8, header: Vec<String>, multi_value: Vec<bool>, multi_value_delimiter: char },
}

impl MessageDecoder {
    /// A decoder for a table's stream; an unusable Avro schema is an error naming it.
    pub fn new(decoder: &Decoder, schema: &Schema, populate_metadata: bool) -> Result<MessageDecoder, IngestError> {
        let format = match decoder {
            Decoder::Json => Format::Json,
            Decoder::Avro { schema } => {
                crate::readers::avro::limit_allocations();
                Format::Avro(Box::new(apache_avro::Schema::parse_str(schema).map_err(|e| {
                    IngestError::Stream(format!("stream.kafka.decoder.prop.schema is not a usable Avro schema: {e}"))
                })?))
            }
            Decoder::Csv { delimiter, header, multi_value_delimiter } => {
                let header: Vec<String> =
                    header.clone().unwrap_or_else(|| schema.columns().iter().map(|c| c.name.clone()).collect());
                let multi_value = header.iter().map(|h| schema.column(h).is_some_and(|c| !c.single_value)).collect();
                let delimiter = u8::try_from(*delimiter)
                    .map_err(|_| IngestError::Stream(format!("CSV delimiter {delimiter:?} must be one byte")))?;
                Format::Csv { delimiter, header, multi_value, multi_value_delimiter: *multi_value_delimiter }
            }
        };
        let avro_rows = match &format {
            Format::Avro(avro) => AvroRows::new(avro, schema),
            _ => None,
        };
        Ok(MessageDecoder { format, populate_metadata, avro_rows })
    }

    /// One message decoded and conformed to a row of the conformer's table. JSON and Avro messages
    /// go straight into the row when the record itself is not needed (no transforms,
    /// filter, flattening or metadata fields); the answer is the same either way.
    pub fn decode_row(
        &self,
        payload: &[u8],
        metadata: &MessageMetadata,
        conformer: &Conformer,
    ) -> Result<Conformed, Rejected> {
        if !self.populate_metadata && conformer.takes_fields_as_they_are() {
            let direct = match &self.format {
                Format::Json => conformer.json_row(payload),
                Format::Avro(avro) => self.avro_rows.as_ref().and_then(|rows| rows.row(avro, conformer, payload)),
                Format::Csv { .. } => None,
            };
            if let Some(row) = direct {
                return row;
            }
        }
        self.decode(payload, metadata).and_then(|record| conformer.conform(record))
    }

    pub fn decode(&self, payload: &[u8], metadata: &MessageMetadata) -> Result<Map<String, Json>, Rejected> {
        let mut fields = match &self.format {
            Format::Json => match serde_json::from_slice::<Json>(payload) {
                Ok(Json::Object(fields)) => fields,
                Ok(other) => {
                    return Err(Rejected::Undecodable(format!("expected a JSON object, got {}", kind(&other))))
                }
                Err(e) => return Err(Rejected::Undecodable(format!("not JSON: {e}"))),
            },
            Format::Avro(schema) => {
                let mut reader = payload;
                match apache_avro::from_avro_datum(schema, &mut reader, None) {
                    Ok(apache_avro::types::Value::Record(fields)) if reader.is_empty() => {
                        fields.into_iter().map(|(k, v)| (k, crate::readers::avro::to_json(v))).collect()
                    }
                    Ok(apache_avro::types::Value::Record(_)) => {
                        return Err(Rejected::Undecodable(format!(
                            "{} bytes left after the Avro record (a different writer schema?)",
                            reader.len()
                        )))
                    }
                    Ok(other) => return Err(Rejected::Undecodable(format!("expected an Avro record, got {other:?}"))),
                    Err(e) => {
                        return Err(Rejected::Undecodable(format!("not an Avro datum of the configured schema: {e}")))
                    }
                }
            }
            Format::Csv { delimiter, header, multi_value, multi_value_delimiter } => {
                let mut reader =
                    ::csv::ReaderBuilder::new().has_headers(false).delimiter(*delimiter).from_reader(payload);
                let record = match reader.records().next() {
                    Some(Ok(record)) => record,
                    Some(Err(e)) => return Err(Rejected::Undecodable(format!("not a CSV line: {e}"))),
                    None => return Err(Rejected::Undecodable("empty message".into())),
                };
                if record.len() != header.len() {
                    return Err(Rejected::Undecodable(format!(
                        "{} fields, the header has {}",
                        record.len(),
                        header.len()
                    )));
                }
                let mut fields = Map::new();
                for ((name, cell), multi) in header.iter().zip(record.iter()).zip(multi_value) {
                    let value = match (cell.is_empty(), multi) {
                        (true, _) => Json::Null,
                        (false, true) => Json::Array(
                            cell.split(*multi_value_delimiter).map(|v| Json::String(v.to_string())).collect(),
                        ),
                        (false, false) => Json::String(cell.to_string()),
                    };
                    fields.insert(name.clone(), value);
                }
                fields
            }
        };
        if self.populate_metadata {
            let key =
                metadata.key.as_ref().map_or(Json::Null, |k| Json::String(String::from_utf8_lossy(k).into_owned()));
            fields.insert("__key".into(), key);
            fields.insert("__metadata$offset".into(), Json::from(metadata.offset));
            fields.insert("__metadata$recordTimestamp".into(), metadata.timestamp_ms.map_or(Json::Null, Json::from));
        }
        Ok(fields)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Schema {
        Schema::from_json(r#"{"schemaName":"e","dimensionFieldSpecs":[{"name":"id","dataType":"INT"},{"name":"tags","dataType":"STRING","singleValueField":false}]}"#).unwrap()
    }

    const META: MessageMetadata = MessageMetadata { key: None, offset: 42, timestamp_ms: Some(1_000) };

    #[test]
    fn json_messages() {
        let decoder = MessageDecoder::new(&Decoder::Json, &schema(), true).unwrap();
        let fields = decoder.decode(br#"{"id": 1, "tags": ["a"]}"#, &META).unwrap();
        assert_eq!(fields["id"], json!(1));
        assert_eq!((fields["__metadata$offset"].clone(), fields["__key"].clone()), (json!(42), Json::Null));
        assert!(decoder
            .decode(b"[1, 2]", &META)
            .unwrap_err()
            .to_string()
            .contains("expected a JSON object, got an array"));
        assert!(decoder.decode(b"{\"id\": ", &META).unwrap_err().to_string().starts_with("not JSON"));
    }

    #[test]
    fn avro_datums_with_the_configured_schema() {
        let text = r#"{"type":"record","name":"e","fields":[{"name":"id","type":"int"},{"name":"tags","type":{"type":"array","items":"string"}}]}"#;
        let avro_schema = apache_avro::Schema::parse_str(text).unwrap();
        let record = apache_avro::types::Value::Record(vec![
            ("id".into(), apache_avro::types::Value::Int(7)),
            ("tags".into(), apache_avro::types::Value::Array(vec![apache_avro::types::Value::String("x".into())])),
        ]);
        let bytes = apache_avro::to_avro_datum(&avro_schema, record).unwrap();
        let decoder = MessageDecoder::new(&Decoder::Avro { schema: text.into() }, &schema(), false).unwrap();
        assert_eq!(Json::Object(decoder.decode(&bytes, &META).unwrap()), json!({"id": 7, "tags": ["x"]}));
        assert!(decoder.decode(&bytes[..1], &META).unwrap_err().to_string().contains("not an Avro datum"));
        assert!(MessageDecoder::new(&Decoder::Avro { schema: "{".into() }, &schema(), false).is_err());
    }

    #[test]
    fn avro_lengths_past_the_allocation_limit_are_dead_letters_not_aborts() {
        let text = r#"{"type":"record","name":"e","fields":[{"name":"id","type":"int"},{"name":"tags","type":{"type":"array","items":"string"}}]}"#;
        let decoder = MessageDecoder::new(&Decoder::Avro { schema: text.into() }, &schema(), false).unwrap();
        // id = 1, then an array block claiming 2^40 items, then a string claiming 2^40 bytes.
        let zigzag = |n: i64| {
            let mut v = ((n << 1) ^ (n >> 63)) as u64;
            let mut out = Vec::new();
            while v >= 0x80 {
                out.push((v as u8) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
            out
        };
        for claim in [1i64 << 40, 1 << 30] {
            let mut bytes = zigzag(1);
            bytes.extend(zigzag(claim));
            assert!(decoder.decode(&bytes, &META).is_err(), "an array of {claim}");
            let mut bytes = zigzag(1);
            bytes.extend(zigzag(1));
            bytes.extend(zigzag(claim));
            assert!(decoder.decode(&bytes, &META).is_err(), "a string of {claim} bytes");
        }
    }

    #[test]
    fn csv_lines_by_header_or_schema_order() {
        let decoder = MessageDecoder::new(
            &Decoder::Csv { delimiter: ',', header: None, multi_value_delimiter: ';' },
            &schema(),
            false,
        )
        .unwrap();
        assert_eq!(Json::Object(decoder.decode(b"3,a;b", &META).unwrap()), json!({"id": "3", "tags": ["a", "b"]}));
        assert!(decoder.decode(b"3", &META).unwrap_err().to_string().contains("1 fields, the header has 2"));
        let header = Some(vec!["tags".to_string(), "id".to_string()]);
        let decoder =
            MessageDecoder::new(&Decoder::Csv { delimiter: '|', header, multi_value_delimiter: ';' }, &schema(), false)
                .unwrap();
        assert_eq!(Json::Object(decoder.decode(b"a|9", &META).unwrap()), json!({"id": "9", "tags": ["a"]}));
    }
}
