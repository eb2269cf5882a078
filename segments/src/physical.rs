//! How each logical type is laid out physically.
//!
//! Fixed-width types (INT, LONG, FLOAT, DOUBLE, BOOLEAN, TIMESTAMP) are handled as
//! *order-preserving keys*: a `u64` whose unsigned order is the value order. Sorting,
//! dictionary look-ups, min/max and range indexes then share one code path. On disk the
//! native little-endian value is stored (4 or 8 bytes), never the key.
//!
//! Variable-width types (STRING, JSON, BYTES, BIG_DECIMAL) are byte strings, ordered by
//! bytes except BIG_DECIMAL, which is ordered numerically.

use cuvee_catalog::value::compare_decimal;
use cuvee_catalog::{DataType, Value};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Physical {
    Fixed(FixedKind),
    Var(VarKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixedKind {
    Int,
    Long,
    Float,
    Double,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarKind {
    String,
    Json,
    Bytes,
    BigDecimal,
}

impl Physical {
    pub fn of(data_type: DataType) -> Physical {
        match data_type {
            DataType::Int => Physical::Fixed(FixedKind::Int),
            DataType::Long => Physical::Fixed(FixedKind::Long),
            DataType::Float => Physical::Fixed(FixedKind::Float),
            DataType::Double => Physical::Fixed(FixedKind::Double),
            DataType::Boolean => Physical::Fixed(FixedKind::Boolean),
            DataType::Timestamp => Physical::Fixed(FixedKind::Timestamp),
            DataType::String => Physical::Var(VarKind::String),
            DataType::Json => Physical::Var(VarKind::Json),
            DataType::Bytes => Physical::Var(VarKind::Bytes),
            DataType::BigDecimal => Physical::Var(VarKind::BigDecimal),
        }
    }
}

impl FixedKind {
    /// Bytes per value on disk.
    pub fn width(self) -> usize {
        match self {
            FixedKind::Int | FixedKind::Float | FixedKind::Boolean => 4,
            FixedKind::Long | FixedKind::Double | FixedKind::Timestamp => 8,
        }
    }

    /// The key of a value of this kind, or `None` if the value is of another type.
    pub fn key(self, value: &Value) -> Option<u64> {
        Some(match (self, value) {
            (FixedKind::Int, Value::Int(v)) => int_key(*v),
            (FixedKind::Boolean, Value::Boolean(v)) => int_key(*v as i32),
            (FixedKind::Long, Value::Long(v)) | (FixedKind::Timestamp, Value::Timestamp(v)) => long_key(*v),
            (FixedKind::Float, Value::Float(v)) => float_key(*v),
            (FixedKind::Double, Value::Double(v)) => double_key(*v),
            _ => return None,
        })
    }

    pub fn value(self, key: u64) -> Value {
        match self {
            FixedKind::Int => Value::Int(int_from_key(key)),
            FixedKind::Boolean => Value::Boolean(int_from_key(key) != 0),
            FixedKind::Long => Value::Long(long_from_key(key)),
            FixedKind::Timestamp => Value::Timestamp(long_from_key(key)),
            FixedKind::Float => Value::Float(float_from_key(key)),
            FixedKind::Double => Value::Double(double_from_key(key)),
        }
    }

    /// Writes the native little-endian value of `key`.
    pub fn write_native(self, key: u64, out: &mut Vec<u8>) {
        match self {
            FixedKind::Int | FixedKind::Boolean => out.extend_from_slice(&int_from_key(key).to_le_bytes()),
            FixedKind::Long | FixedKind::Timestamp => out.extend_from_slice(&long_from_key(key).to_le_bytes()),
            FixedKind::Float => out.extend_from_slice(&float_from_key(key).to_le_bytes()),
            FixedKind::Double => out.extend_from_slice(&double_from_key(key).to_le_bytes()),
        }
    }

    /// Reads the key of the native value at `bytes[0..width]`.
    pub fn read_native(self, bytes: &[u8]) -> u64 {
        match self {
            FixedKind::Int | FixedKind::Boolean => int_key(i32::from_le_bytes(first4(bytes))),
            FixedKind::Float => float_key(f32::from_le_bytes(first4(bytes))),
            FixedKind::Long | FixedKind::Timestamp => long_key(i64::from_le_bytes(first8(bytes))),
            FixedKind::Double => double_key(f64::from_le_bytes(first8(bytes))),
        }
    }
}

fn first4(bytes: &[u8]) -> [u8; 4] {
    let mut out = [0; 4];
    out.copy_from_slice(&bytes[..4]);
    out
}

fn first8(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0; 8];
    out.copy_from_slice(&bytes[..8]);
    out
}

impl VarKind {
    pub fn bytes(self, value: &Value) -> Option<&[u8]> {
        match (self, value) {
            (VarKind::String, Value::String(s))
            | (VarKind::Json, Value::Json(s))
            | (VarKind::BigDecimal, Value::BigDecimal(s)) => Some(s.as_bytes()),
            (VarKind::Bytes, Value::Bytes(b)) => Some(b),
            _ => None,
        }
    }

    pub fn value(self, bytes: &[u8]) -> Value {
        let text = || String::from_utf8_lossy(bytes).into_owned();
        match self {
            VarKind::String => Value::String(text()),
            VarKind::Json => Value::Json(text()),
            VarKind::BigDecimal => Value::BigDecimal(text()),
            VarKind::Bytes => Value::Bytes(bytes.to_vec()),
        }
    }

    pub fn compare(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            VarKind::BigDecimal => {
                compare_decimal(std::str::from_utf8(a).unwrap_or(""), std::str::from_utf8(b).unwrap_or(""))
            }
            _ => a.cmp(b),
        }
    }
}

pub fn int_key(v: i32) -> u64 {
    (v as u32 ^ 0x8000_0000) as u64
}

pub fn int_from_key(key: u64) -> i32 {
    (key as u32 ^ 0x8000_0000) as i32
}

pub fn long_key(v: i64) -> u64 {
    v as u64 ^ (1 << 63)
}

pub fn long_from_key(key: u64) -> i64 {
    (key ^ (1 << 63)) as i64
}

/// -0.0 is stored as 0.0 so that `= 0` finds it; NaN sorts after +Infinity.
pub fn float_key(v: f32) -> u64 {
    let v = if v == 0.0 { 0.0 } else { v };
    let bits = v.to_bits();
    (if bits >> 31 == 1 { !bits } else { bits | 0x8000_0000 }) as u64
}

pub fn float_from_key(key: u64) -> f32 {
    let bits = key as u32;
    f32::from_bits(if bits >> 31 == 1 { bits & 0x7fff_ffff } else { !bits })
}

pub fn double_key(v: f64) -> u64 {
    let v = if v == 0.0 { 0.0 } else { v };
    let bits = v.to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

pub fn double_from_key(key: u64) -> f64 {
    f64::from_bits(if key >> 63 == 1 { key & !(1 << 63) } else { !key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_preserve_order_and_round_trip() {
        let ints = [i32::MIN, -5, -1, 0, 1, 7, i32::MAX];
        for w in ints.windows(2) {
            assert!(int_key(w[0]) < int_key(w[1]));
        }
        let doubles = [f64::NEG_INFINITY, -1e300, -1.5, -0.0, 1e-300, 2.0, f64::INFINITY];
        for w in doubles.windows(2) {
            assert!(double_key(w[0]) <= double_key(w[1]), "{} {}", w[0], w[1]);
        }
        for d in doubles {
            assert_eq!(double_from_key(double_key(d)), if d == 0.0 { 0.0 } else { d });
        }
        for f in [f32::NEG_INFINITY, -2.5f32, 0.0, 3.25, f32::MAX] {
            assert_eq!(float_from_key(float_key(f)), f);
        }
        assert!(double_key(f64::NAN) > double_key(f64::INFINITY));
        for v in [i64::MIN, -1, 0, i64::MAX] {
            assert_eq!(long_from_key(long_key(v)), v);
        }
    }
}
