//! A JSON message straight into a row. A visitor walks the message's bytes once and
//! converts each column's value as it meets it: no map of the record, no key strings, no
//! `serde_json::Value` for scalars, and keys not in the schema are skipped unparsed.
//!
//! It applies when nothing needs the whole record first (no transforms, no filter, no
//! flattening; the consumer adds no metadata fields). Then it gives what
//! [`MessageDecoder::decode`](crate::MessageDecoder::decode) followed by
//! [`Conformer::conform`] gives; the conversions are the same functions. A message it cannot
//! take whole (not an object, not JSON) goes the general way, which names what is wrong.

use crate::conform::{field, field_from_str, multi_value_item, Conformed, Conformer, Rejected};
use cuvee_catalog::ColumnSpec;
use cuvee_segments::FieldValue;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A column's value as read: converted, or why it could not be.
type Converted = Result<FieldValue, String>;

/// The name table, and the order keys came in; the columns themselves are the conformer's
/// schema's.
pub(crate) struct JsonRows {
    positions: HashMap<Box<str>, usize>,
    /// For each column (and, last, the start of a message), the column whose key followed it
    /// in the last message: producers write every message's keys in one order, which is
    /// seldom the schema's (a serialised map's is alphabetical), so a key is compared with
    /// one name where hashing it would cost more. Shared by the threads of a table's
    /// consumers; a stale guess costs a hash look-up, never a wrong column.
    follows: Box<[AtomicUsize]>,
}

impl JsonRows {
    pub(crate) fn new(specs: &[ColumnSpec]) -> JsonRows {
        let positions = specs.iter().enumerate().map(|(i, s)| (s.name.as_str().into(), i)).collect();
        // Until messages say otherwise, keys are taken to come in schema order.
        let n = specs.len();
        let follows = (0..=n).map(|i| AtomicUsize::new(if i + 1 < n { i + 1 } else { 0 })).collect();
        JsonRows { positions, follows }
    }

    /// The row of one message, or `None` when the message is not one well-formed JSON
    /// object (the general path then names the fault).
    pub(crate) fn row(&self, conformer: &Conformer, payload: &[u8]) -> Option<Result<Conformed, Rejected>> {
        let specs = conformer.table().schema.columns();
        let mut row: Vec<FieldValue> = Vec::with_capacity(specs.len());
        row.resize_with(specs.len(), || FieldValue::Null);
        let mut errors = Vec::new();
        let mut deserializer = serde_json::Deserializer::from_slice(payload);
        Record { rows: self, specs, row: &mut row, errors: &mut errors }.deserialize(&mut deserializer).ok()?;
        deserializer.end().ok()?;
        // The first column in schema order that could not be converted, as the general
        // path reports it.
        let error = errors.into_iter().min_by_key(|(column, _)| *column);
        Some(conformer.finish(row, error))
    }
}

/// The top-level object: each key's value into its column's place in the row.
struct Record<'a> {
    rows: &'a JsonRows,
    specs: &'a [ColumnSpec],
    row: &'a mut [FieldValue],
    /// Columns whose value could not be converted (at most one entry a column).
    errors: &'a mut Vec<(usize, String)>,
}

impl<'de> DeserializeSeed<'de> for Record<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Record<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let follows = &self.rows.follows;
        let mut previous = self.specs.len();
        loop {
            let guess = follows[previous].load(Ordering::Relaxed);
            let key = Key { positions: &self.rows.positions, specs: self.specs, guess };
            let Some(position) = map.next_key_seed(key)? else { break };
            let Some(i) = position else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if i != guess {
                follows[previous].store(i, Ordering::Relaxed);
            }
            previous = i;
            // A repeated key keeps its last value, as a map of the record would.
            if !self.errors.is_empty() {
                self.errors.retain(|(column, _)| *column != i);
            }
            match map.next_value_seed(Column { spec: &self.specs[i] })? {
                Ok(value) => self.row[i] = value,
                Err(reason) => self.errors.push((i, reason)),
            }
        }
        Ok(())
    }
}

/// A key → the column it names, if any; no allocation for keys without escapes.
struct Key<'a> {
    positions: &'a HashMap<Box<str>, usize>,
    specs: &'a [ColumnSpec],
    /// The column this key most likely names.
    guess: usize,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        if self.specs.get(self.guess).is_some_and(|s| s.name == key) {
            return Ok(Some(self.guess));
        }
        Ok(self.positions.get(key).copied())
    }
}

/// One column's value, converted as the general path converts it.
struct Column<'a> {
    spec: &'a ColumnSpec,
}

impl<'de> DeserializeSeed<'de> for Column<'_> {
    type Value = Converted;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Converted, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Column<'_> {
    type Value = Converted;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Converted, E> {
        Ok(Ok(FieldValue::Null))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Converted, E> {
        Ok(field(self.spec, &Json::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Converted, E> {
        Ok(field(self.spec, &Json::Number(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Converted, E> {
        Ok(field(self.spec, &Json::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Converted, E> {
        // As serde_json's own `Value` takes it: a float that is not a JSON number is null.
        Ok(field(self.spec, &serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Converted, E> {
        Ok(field_from_str(self.spec, v))
    }

    // Lists and objects are rarer and their conversions involve the whole value (a
    // single-value column takes a one-item list; JSON columns keep the text): they are
    // read as values and converted by the general path's function.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Converted, A::Error> {
        if !self.spec.single_value {
            // A multi-value column's list, item by item as `field` converts a list (nulls
            // left out), a text item moved into its value rather than copied.
            let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
            let mut failed = None;
            while let Some(item) = seq.next_element::<Json>()? {
                if failed.is_none() {
                    match multi_value_item(self.spec, std::borrow::Cow::Owned(item)) {
                        Ok(Some(value)) => values.push(value),
                        Ok(None) => {}
                        Err(reason) => failed = Some(reason),
                    }
                }
            }
            return Ok(failed.map_or(Ok(FieldValue::Multi(values)), Err));
        }
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item);
        }
        Ok(field(self.spec, &Json::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Converted, A::Error> {
        let object = serde::Deserialize::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(field(self.spec, &Json::Object(object)))
    }
}

#[cfg(test)]
mod tests {
    use crate::conform::{Conformed, Conformer};
    use crate::message::{MessageDecoder, MessageMetadata};
    use cuvee_catalog::{Decoder, Schema, Table, TableConfigJson};
    use proptest::prelude::*;

    const SCHEMA: &str = r#"{"schemaName": "t",
      "dimensionFieldSpecs": [
        {"name": "s", "dataType": "STRING", "maxLength": 4, "maxLengthExceedStrategy": "TRIM_LENGTH"},
        {"name": "i", "dataType": "INT"}, {"name": "b", "dataType": "BOOLEAN"},
        {"name": "tags", "dataType": "STRING", "singleValueField": false},
        {"name": "ns", "dataType": "LONG", "singleValueField": false},
        {"name": "j", "dataType": "JSON"}, {"name": "by", "dataType": "BYTES"}],
      "metricFieldSpecs": [{"name": "d", "dataType": "DOUBLE"}, {"name": "f", "dataType": "FLOAT"}],
      "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

    fn table() -> Table {
        let config = r#"{"tableName": "t", "tableType": "OFFLINE", "segmentsConfig": {"timeColumnName": "ts"}}"#;
        Table::new(Schema::from_json(SCHEMA).unwrap(), TableConfigJson::from_json(config).unwrap()).unwrap()
    }

    /// What the general path gives: decode to a map, then conform.
    fn general(decoder: &MessageDecoder, conformer: &Conformer, payload: &[u8]) -> Result<Conformed, String> {
        let metadata = MessageMetadata { key: None, offset: 0, timestamp_ms: None };
        decoder.decode(payload, &metadata).and_then(|r| conformer.conform(r)).map_err(|e| e.to_string())
    }

    fn direct(decoder: &MessageDecoder, conformer: &Conformer, payload: &[u8]) -> Result<Conformed, String> {
        let metadata = MessageMetadata { key: None, offset: 0, timestamp_ms: None };
        decoder.decode_row(payload, &metadata, conformer).map_err(|e| e.to_string())
    }

    fn same(payload: &str) {
        let table = table();
        let decoder = MessageDecoder::new(&Decoder::Json, &table.schema, false).unwrap();
        let conformer = Conformer::new(&table).unwrap();
        // Every well-formed object takes the direct path; the rest go the general way.
        let object = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(payload).is_ok();
        assert_eq!(conformer.json_row(payload.as_bytes()).is_some(), object, "{payload}");
        let (a, b) =
            (general(&decoder, &conformer, payload.as_bytes()), direct(&decoder, &conformer, payload.as_bytes()));
        match (&a, &b) {
            // Compared as text: a NaN is not equal to itself.
            (Ok(Conformed::Row(ra, ta)), Ok(Conformed::Row(rb, tb))) => {
                assert_eq!(format!("{ra:?} {ta:?}"), format!("{rb:?} {tb:?}"), "{payload}")
            }
            (Err(ea), Err(eb)) => assert_eq!(ea, eb, "{payload}"),
            _ => panic!("{payload}: general {:?}, direct {:?}", a.is_ok(), b.is_ok()),
        }
    }

    #[test]
    fn the_direct_path_gives_what_the_general_path_gives() {
        for payload in [
            r#"{"s": "abcdef", "i": 7, "b": true, "tags": ["x", null, "y"], "ns": [1, "2"], "d": 1.5, "f": 2, "ts": 1700000000000}"#,
            r#"{"ts": "1700000000000", "i": "12", "s": 42, "j": {"a": [1, {"b": null}]}, "by": "00ff"}"#,
            r#"{"i": [5], "s": [], "tags": "one", "b": 1, "ts": 1.7e12, "unknown": {"deep": [[[]]]}}"#,
            r#"{"i": [1, 2], "ts": 1}"#,
            r#"{"i": 2147483648, "ts": 1}"#,
            r#"{"i": 1, "i": "x", "ts": 1}"#,
            r#"{"i": "x", "i": 3, "ts": 1}"#,
            r#"{"d": "NaN", "f": -0.0, "ts": -5, "s": "\u00e9\"\\n"}"#,
            r#"{"ts": "yesterday"}"#,
            r#"{"j": [1, "a"], "s": {"k": 1}, "ts": 1}"#,
            r#"{"ts": 18446744073709551615}"#,
            r#"{"ts": 1} trailing"#,
            r#"{"ts": 1"#,
            r#"[1, 2]"#,
            r#""text""#,
            "",
            r#"{"ts": 1, "s": "\ud800"}"#,
        ] {
            same(payload);
        }
    }

    /// The time column's format fault and another column's conversion fault: the earlier
    /// in schema order is the one reported, both ways.
    #[test]
    fn the_first_fault_in_schema_order_is_reported() {
        let schema = r#"{"schemaName": "t", "dimensionFieldSpecs": [{"name": "s", "dataType": "INT"}],
          "dateTimeFieldSpecs": [
            {"name": "day", "dataType": "STRING", "format": "1:DAYS:SIMPLE_DATE_FORMAT:yyyyMMdd", "granularity": "1:DAYS"},
            {"name": "n", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;
        let config = r#"{"tableName": "t", "tableType": "OFFLINE", "segmentsConfig": {"timeColumnName": "day"}}"#;
        let table =
            Table::new(Schema::from_json(schema).unwrap(), TableConfigJson::from_json(config).unwrap()).unwrap();
        let decoder = MessageDecoder::new(&Decoder::Json, &table.schema, false).unwrap();
        let conformer = Conformer::new(&table).unwrap();
        let outcome = |payload: &str| {
            let (a, b) =
                (general(&decoder, &conformer, payload.as_bytes()), direct(&decoder, &conformer, payload.as_bytes()));
            let text = |r: &Result<Conformed, String>| match r {
                Ok(Conformed::Row(row, time)) => format!("{row:?} {time:?}"),
                Ok(Conformed::Filtered) => "filtered".into(),
                Err(e) => e.clone(),
            };
            assert_eq!(text(&a), text(&b), "{payload}");
            text(&a)
        };
        assert!(outcome(r#"{"n": "x", "day": "someday"}"#).starts_with("time column day"));
        assert!(outcome(r#"{"day": "20240101", "n": "x"}"#).starts_with("column n"));
        assert!(outcome(r#"{"day": "someday", "s": "x"}"#).starts_with("column s"));
        assert!(outcome(r#"{"n": "x", "s": 1, "day": "20240101", "n": 5}"#).contains("Some(1704067200000)"));
    }

    proptest! {
        /// Random records of random shapes: every column's value any of the JSON kinds, in
        /// any key order, with keys the schema does not have.
        #[test]
        fn random_records(fields in proptest::collection::vec((
            prop::sample::select(vec!["s", "i", "b", "tags", "ns", "j", "by", "d", "f", "ts", "other"]),
            prop_oneof![
                Just("null".to_string()), Just("true".to_string()),
                any::<i64>().prop_map(|v| v.to_string()), any::<u64>().prop_map(|v| v.to_string()),
                any::<f64>().prop_filter("finite", |v| v.is_finite()).prop_map(|v| v.to_string()),
                "[a-z0-9 ]{0,6}".prop_map(|v| format!("{v:?}")),
                Just("[]".to_string()), Just(r#"["a", 1, null]"#.to_string()), Just("[7]".to_string()),
                Just(r#"{"k": [1]}"#.to_string()),
            ],
        ), 0..12)) {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
            same(&format!("{{{}}}", body.join(", ")));
        }
    }
}
