//! A row's primary key as the key map holds it, and its comparison value.
//!
//! Keys are 128-bit: one INT/LONG/TIMESTAMP key column with `hashFunction: NONE` is held
//! exactly; any other key is its XXH3-128 digest over a typed encoding of its values, of
//! which the key map keeps 96 bits (a collision is likely only near 2⁴⁸ keys; at 10⁹ keys
//! its odds are ~10⁻¹¹). Pinot's MD5 and MURMUR3 land here too: the digest never
//! leaves the process, so only its width matters.

use cuvee_catalog::{ColumnSpec, DataType, KeyHash, Schema, Value};
use cuvee_segments::physical::{FixedKind, Physical};
use cuvee_segments::FieldValue;

pub type Key = u128;

pub(crate) struct KeyReader {
    columns: Vec<(usize, String)>,
    exact: bool,
}

impl KeyReader {
    pub fn new(schema: &Schema, columns: &[usize], hash: KeyHash) -> KeyReader {
        let specs: Vec<&ColumnSpec> = columns.iter().map(|&c| &schema.columns()[c]).collect();
        let exact = hash == KeyHash::None
            && specs.len() == 1
            && matches!(specs[0].data_type, DataType::Int | DataType::Long | DataType::Timestamp);
        KeyReader { columns: columns.iter().map(|&c| (c, schema.columns()[c].name.clone())).collect(), exact }
    }

    /// Whether keys are integers held exactly (they fit 64 bits).
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Schema indexes of the key columns.
    pub fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.columns.iter().map(|(c, _)| *c)
    }

    /// The key of `row` (fields in schema order), or why it has none.
    pub fn key(&self, row: &[FieldValue]) -> Result<Key, String> {
        self.key_of(|i| row.get(i))
    }

    /// The key from the key columns' fields, in key order.
    pub fn key_of_fields(&self, fields: &[FieldValue]) -> Result<Key, String> {
        let position = |i: usize| self.columns.iter().position(|(c, _)| *c == i);
        self.key_of(|i| position(i).and_then(|p| fields.get(p)))
    }

    fn key_of<'r>(&self, field: impl Fn(usize) -> Option<&'r FieldValue>) -> Result<Key, String> {
        let mut bytes = Vec::with_capacity(16);
        for (column, name) in &self.columns {
            let value = match field(*column) {
                Some(FieldValue::Single(v)) => v,
                Some(FieldValue::Multi(_)) => return Err(format!("primary key column {name} has several values")),
                _ => return Err(format!("primary key column {name} is null")),
            };
            if self.exact {
                if let Value::Int(v) = value {
                    return Ok(*v as i64 as u64 as u128);
                }
                if let Value::Long(v) | Value::Timestamp(v) = value {
                    return Ok(*v as u64 as u128);
                }
            }
            encode(value, &mut bytes);
        }
        Ok(xxhash_rust::xxh3::xxh3_128(&bytes))
    }
}

/// A typed, self-delimiting encoding: equal keys and only equal keys encode the same.
fn encode(value: &Value, out: &mut Vec<u8>) {
    let (tag, payload): (u8, std::borrow::Cow<[u8]>) = match value {
        Value::Int(v) => (1, (*v as i64).to_le_bytes().to_vec().into()),
        Value::Long(v) => (1, v.to_le_bytes().to_vec().into()),
        Value::Timestamp(v) => (1, v.to_le_bytes().to_vec().into()),
        Value::Boolean(v) => (1, (*v as i64).to_le_bytes().to_vec().into()),
        Value::Float(v) => (2, f64::from(*v).to_bits().to_le_bytes().to_vec().into()),
        Value::Double(v) => (2, v.to_bits().to_le_bytes().to_vec().into()),
        Value::String(s) | Value::Json(s) | Value::BigDecimal(s) => (3, s.as_bytes().into()),
        Value::Bytes(b) => (4, b.as_slice().into()),
    };
    out.push(tag);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&payload);
}

/// Reads a row's comparison value as an order-preserving `u64` (a null reads as the
/// column's default value, as the segment stores it).
pub(crate) struct Comparison {
    pub column: usize,
    kind: FixedKind,
    default: Value,
}

impl Comparison {
    pub fn new(schema: &Schema, column: usize) -> Option<Comparison> {
        let spec = &schema.columns()[column];
        let Physical::Fixed(kind) = Physical::of(spec.data_type) else { return None };
        Some(Comparison { column, kind, default: spec.default_null_value.clone() })
    }

    pub fn of(&self, field: Option<&FieldValue>) -> u64 {
        let value = match field {
            Some(FieldValue::Single(v)) => v,
            _ => &self.default,
        };
        self.kind.key(value).or_else(|| self.kind.key(&self.default)).unwrap_or(0)
    }

    /// The value of a key as a number, for TTLs measured in the column's units.
    pub fn number(&self, key: u64) -> f64 {
        match self.kind.value(key) {
            Value::Int(v) => f64::from(v),
            Value::Long(v) | Value::Timestamp(v) => v as f64,
            Value::Float(v) => f64::from(v),
            Value::Double(v) => v,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::from_json(
            r#"{"schemaName":"s","dimensionFieldSpecs":[{"name":"id","dataType":"LONG"},{"name":"k","dataType":"STRING"}],
                "primaryKeyColumns":["id"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn integer_keys_are_exact_and_others_digested() {
        let s = schema();
        let exact = KeyReader::new(&s, &[0], KeyHash::None);
        let row = vec![FieldValue::Single(Value::Long(-7)), FieldValue::Null];
        assert_eq!(exact.key(&row).unwrap(), (-7i64) as u64 as u128);
        let hashed = KeyReader::new(&s, &[0], KeyHash::Murmur3);
        assert_ne!(hashed.key(&row).unwrap(), (-7i64) as u64 as u128);
        let pair = KeyReader::new(&s, &[0, 1], KeyHash::None);
        let a = vec![FieldValue::Single(Value::Long(1)), FieldValue::Single(Value::String("2".into()))];
        let b = vec![FieldValue::Single(Value::Long(1)), FieldValue::Single(Value::String("3".into()))];
        assert_ne!(pair.key(&a).unwrap(), pair.key(&b).unwrap());
        assert_eq!(pair.key(&a).unwrap(), pair.key_of_fields(&a).unwrap());
        assert_eq!(
            pair.key(&[FieldValue::Single(Value::Long(1)), FieldValue::Null]).unwrap_err(),
            "primary key column k is null"
        );
    }
}
