//! An Avro message straight into a row. apache-avro decodes the datum with the stream's
//! schema, whose record's fields come in one order in every message: which column each
//! field fills is worked out once, where the general path builds a map of the record (a
//! `String` key and a tree node a field) and looks every column up in it.
//!
//! It applies when the record itself is not needed (no transforms, no filter, no
//! flattening, no metadata fields), as the JSON path does. Each value converts through the
//! general path's own functions (`to_json`, `field`, `Conformer::finish`), so rows and
//! errors are equal by construction (a property test checks); a datum that is not one whole
//! record takes the general path, which names the fault.

use crate::conform::{field, Conformed, Conformer, Rejected};
use crate::readers::avro::to_json;
use apache_avro::types::Value as Avro;
use cuvee_catalog::Schema;
use cuvee_segments::FieldValue;

/// The column each field of the stream's record fills, for the table it was made for.
pub(crate) struct AvroRows {
    /// Per field of the Avro record, in order: its column, if the table has one.
    columns: Vec<Option<usize>>,
    /// The table's column names it was worked out for: a conformer of another table (a
    /// changed schema) takes the general path.
    names: Vec<String>,
}

impl AvroRows {
    /// `None` when the stream's schema is not a record, or two of its fields would fill one
    /// column (the general path's map keeps the last; not worth a second rule here).
    pub(crate) fn new(avro: &apache_avro::Schema, schema: &Schema) -> Option<AvroRows> {
        let apache_avro::Schema::Record(record) = avro else { return None };
        let columns: Vec<Option<usize>> = record.fields.iter().map(|f| schema.column_index(&f.name)).collect();
        let mut filled: Vec<usize> = columns.iter().flatten().copied().collect();
        filled.sort_unstable();
        if filled.windows(2).any(|pair| pair[0] == pair[1]) {
            return None;
        }
        let names = schema.columns().iter().map(|c| c.name.clone()).collect();
        Some(AvroRows { columns, names })
    }

    /// The row of one datum, or `None` when the general path must take it.
    pub(crate) fn row(
        &self,
        avro: &apache_avro::Schema,
        conformer: &Conformer,
        payload: &[u8],
    ) -> Option<Result<Conformed, Rejected>> {
        let specs = conformer.table().schema.columns();
        if specs.len() != self.names.len() || specs.iter().zip(&self.names).any(|(spec, name)| spec.name != *name) {
            return None;
        }
        let mut reader = payload;
        let Ok(Avro::Record(fields)) = apache_avro::from_avro_datum(avro, &mut reader, None) else { return None };
        if !reader.is_empty() || fields.len() != self.columns.len() {
            return None;
        }
        let mut row: Vec<FieldValue> = Vec::with_capacity(specs.len());
        row.resize_with(specs.len(), || FieldValue::Null);
        // The first column in schema order that could not be converted, as the general
        // path reports it.
        let mut error: Option<(usize, String)> = None;
        for ((_, value), column) in fields.into_iter().zip(&self.columns) {
            let Some(i) = *column else { continue };
            match field(&specs[i], &to_json(value)) {
                Ok(value) => row[i] = value,
                Err(reason) => {
                    if error.as_ref().is_none_or(|(first, _)| i < *first) {
                        error = Some((i, reason));
                    }
                }
            }
        }
        Some(conformer.finish(row, error))
    }
}

#[cfg(test)]
mod tests {
    use crate::conform::{Conformed, Conformer};
    use crate::message::{MessageDecoder, MessageMetadata};
    use apache_avro::types::Value as Avro;
    use cuvee_catalog::{Decoder, Schema, Table, TableConfigJson};
    use proptest::prelude::*;

    const AVRO: &str = r#"{"type": "record", "name": "e", "fields": [
        {"name": "extra", "type": "long"},
        {"name": "tags", "type": {"type": "array", "items": ["null", "string"]}},
        {"name": "id", "type": "int"},
        {"name": "name", "type": "string"},
        {"name": "score", "type": ["null", "double"]},
        {"name": "flag", "type": "boolean"},
        {"name": "data", "type": "bytes"},
        {"name": "kind", "type": {"type": "enum", "name": "k", "symbols": ["a", "bb"]}},
        {"name": "small", "type": "long"},
        {"name": "ts", "type": "string"}]}"#;

    const SCHEMA: &str = r#"{"schemaName": "t",
      "dimensionFieldSpecs": [
        {"name": "name", "dataType": "STRING", "maxLength": 4, "maxLengthExceedStrategy": "ERROR"},
        {"name": "tags", "dataType": "STRING", "singleValueField": false},
        {"name": "id", "dataType": "INT"}, {"name": "flag", "dataType": "BOOLEAN"},
        {"name": "data", "dataType": "BYTES"}, {"name": "kind", "dataType": "STRING"},
        {"name": "small", "dataType": "INT"}, {"name": "missing", "dataType": "LONG"}],
      "metricFieldSpecs": [{"name": "score", "dataType": "FLOAT"}],
      "dateTimeFieldSpecs": [{"name": "ts", "dataType": "LONG", "format": "1:MILLISECONDS:EPOCH", "granularity": "1:MILLISECONDS"}]}"#;

    fn table(schema: &str) -> Table {
        let config = r#"{"tableName": "t", "tableType": "OFFLINE", "segmentsConfig": {"timeColumnName": "ts"}}"#;
        Table::new(Schema::from_json(schema).unwrap(), TableConfigJson::from_json(config).unwrap()).unwrap()
    }

    #[test]
    fn a_whole_record_of_the_table_it_was_made_for_goes_straight_in() {
        let avro = apache_avro::Schema::parse_str(AVRO).unwrap();
        let events = table(SCHEMA);
        let rows = super::AvroRows::new(&avro, &events.schema).unwrap();
        let conformer = Conformer::new(&events).unwrap();
        let record = Avro::Record(vec![
            ("extra".into(), Avro::Long(1)),
            ("tags".into(), Avro::Array(vec![Avro::Union(1, Box::new(Avro::String("x".into())))])),
            ("id".into(), Avro::Int(7)),
            ("name".into(), Avro::String("ann".into())),
            ("score".into(), Avro::Union(0, Box::new(Avro::Null))),
            ("flag".into(), Avro::Boolean(true)),
            ("data".into(), Avro::Bytes(vec![1])),
            ("kind".into(), Avro::Enum(1, "bb".into())),
            ("small".into(), Avro::Long(3)),
            ("ts".into(), Avro::String("1700000000000".into())),
        ]);
        let mut payload = apache_avro::to_avro_datum(&avro, record).unwrap();
        let Some(Ok(Conformed::Row(row, time))) = rows.row(&avro, &conformer, &payload) else { panic!("not direct") };
        assert_eq!((format!("{:?}", row[0]), time), ("Single(String(\"ann\"))".to_string(), Some(1_700_000_000_000)));
        // A conformer of another table (a changed schema) and trailing bytes go the general way.
        let other = table(&SCHEMA.replace(r#""name": "missing""#, r#""name": "renamed""#));
        assert!(rows.row(&avro, &Conformer::new(&other).unwrap(), &payload).is_none());
        payload.push(0);
        assert!(rows.row(&avro, &conformer, &payload).is_none());
        // Not a record: no direct path.
        assert!(super::AvroRows::new(&apache_avro::Schema::parse_str(r#""long""#).unwrap(), &events.schema).is_none());
    }

    /// A conformed message as text: a NaN is not equal to itself, its text is.
    fn text(conformed: Result<Conformed, crate::conform::Rejected>) -> String {
        match conformed {
            Ok(Conformed::Row(row, time)) => format!("{row:?} {time:?}"),
            Ok(Conformed::Filtered) => "filtered".into(),
            Err(e) => e.to_string(),
        }
    }

    const METADATA: MessageMetadata = MessageMetadata { key: None, offset: 0, timestamp_ms: None };

    fn outcome(decoder: &MessageDecoder, conformer: &Conformer, payload: &[u8]) -> String {
        text(decoder.decode_row(payload, &METADATA, conformer))
    }

    fn general(decoder: &MessageDecoder, conformer: &Conformer, payload: &[u8]) -> String {
        text(decoder.decode(payload, &METADATA).and_then(|r| conformer.conform(r)))
    }

    proptest! {
        /// Random datums: every field of the record any value of its type, nulls among
        /// them; values too long, out of range or not a time; trailing and missing bytes.
        #[test]
        fn the_direct_path_gives_what_the_general_path_gives(
            extra in any::<i64>(),
            tags in proptest::collection::vec(proptest::option::of("[a-z]{0,3}"), 0..4),
            id in any::<i32>(),
            name in "[a-zé]{0,6}",
            score in proptest::option::of(prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(1e300)]),
            flag in any::<bool>(),
            data in proptest::collection::vec(any::<u8>(), 0..4),
            kind in 0u32..2,
            small in prop_oneof![any::<i64>(), -5i64..5],
            ts in prop_oneof!["[0-9]{1,13}", "[a-z0-9]{0,4}"],
            cut in 0usize..3,
        ) {
            let avro = apache_avro::Schema::parse_str(AVRO).unwrap();
            let table = table(SCHEMA);
            let decoder = MessageDecoder::new(&Decoder::Avro { schema: AVRO.into() }, &table.schema, false).unwrap();
            let conformer = Conformer::new(&table).unwrap();
            let tags = tags.into_iter().map(|t| match t {
                Some(t) => Avro::Union(1, Box::new(Avro::String(t))),
                None => Avro::Union(0, Box::new(Avro::Null)),
            });
            let record = Avro::Record(vec![
                ("extra".into(), Avro::Long(extra)),
                ("tags".into(), Avro::Array(tags.collect())),
                ("id".into(), Avro::Int(id)),
                ("name".into(), Avro::String(name)),
                ("score".into(), match score {
                    Some(s) => Avro::Union(1, Box::new(Avro::Double(s))),
                    None => Avro::Union(0, Box::new(Avro::Null)),
                }),
                ("flag".into(), Avro::Boolean(flag)),
                ("data".into(), Avro::Bytes(data)),
                ("kind".into(), Avro::Enum(kind, ["a", "bb"][kind as usize].into())),
                ("small".into(), Avro::Long(small)),
                ("ts".into(), Avro::String(ts)),
            ]);
            let mut payload = apache_avro::to_avro_datum(&avro, record).unwrap();
            match cut {
                1 => payload.push(0),
                2 => { payload.pop(); }
                _ => {}
            }
            prop_assert_eq!(outcome(&decoder, &conformer, &payload), general(&decoder, &conformer, &payload));
        }
    }
}
