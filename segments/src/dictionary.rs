//! Sorted dictionaries: value ↔ dictionary id, where id order is value order.

use crate::error::Malformed;
use crate::format::{put_u32, u32_at, Cursor};
use crate::physical::{FixedKind, Physical, VarKind};
use cuvee_catalog::Value;
use std::cmp::Ordering;

pub fn write_fixed(keys: &[u64], kind: FixedKind) -> Vec<u8> {
    let mut out = Vec::with_capacity(keys.len() * kind.width());
    for &key in keys {
        kind.write_native(key, &mut out);
    }
    out
}

pub fn write_var(values: &[&[u8]]) -> Vec<u8> {
    let total: usize = values.iter().map(|v| v.len()).sum();
    let mut out = Vec::with_capacity(4 + 4 * (values.len() + 1) + total);
    put_u32(&mut out, values.len() as u32);
    let mut offset = 0u32;
    put_u32(&mut out, 0);
    for v in values {
        offset += v.len() as u32;
        put_u32(&mut out, offset);
    }
    for v in values {
        out.extend_from_slice(v);
    }
    out
}

/// A dictionary section, read in place.
#[derive(Clone, Copy)]
pub enum Dictionary<'a> {
    Fixed { kind: FixedKind, bytes: &'a [u8], len: usize },
    Var { kind: VarKind, offsets: &'a [u8], data: &'a [u8], len: usize },
}

impl<'a> Dictionary<'a> {
    /// `deep` checks every offset (done once, when the segment opens).
    pub fn open(bytes: &'a [u8], physical: Physical, deep: bool) -> Result<Dictionary<'a>, Malformed> {
        match physical {
            Physical::Fixed(kind) => {
                if !bytes.len().is_multiple_of(kind.width()) {
                    return Err(Malformed(format!(
                        "{} bytes is not a whole number of {}-byte values",
                        bytes.len(),
                        kind.width()
                    )));
                }
                Ok(Dictionary::Fixed { kind, bytes, len: bytes.len() / kind.width() })
            }
            Physical::Var(kind) => {
                let mut cursor = Cursor::new(bytes);
                let len = cursor.u32()? as usize;
                let offsets = cursor.take(4 * (len + 1))?;
                let data = cursor.rest();
                let end = u32_at(offsets, 4 * len) as usize;
                if end != data.len() {
                    return Err(Malformed(format!("dictionary data is {} bytes but offsets say {end}", data.len())));
                }
                let mut previous = 0;
                for i in (0..=len).filter(|_| deep) {
                    let offset = u32_at(offsets, 4 * i);
                    if offset < previous {
                        return Err(Malformed("dictionary offsets go backwards".into()));
                    }
                    previous = offset;
                }
                Ok(Dictionary::Var { kind, offsets, data, len })
            }
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Dictionary::Fixed { len, .. } | Dictionary::Var { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The order-preserving key of a fixed-width entry.
    pub fn key(&self, id: usize) -> u64 {
        match self {
            Dictionary::Fixed { kind, bytes, .. } => kind.read_native(&bytes[id * kind.width()..]),
            Dictionary::Var { .. } => 0,
        }
    }

    /// The bytes of a variable-width entry.
    pub fn bytes(&self, id: usize) -> &'a [u8] {
        match self {
            Dictionary::Var { offsets, data, .. } => {
                let start = u32_at(offsets, 4 * id) as usize;
                let end = u32_at(offsets, 4 * (id + 1)) as usize;
                &data[start..end]
            }
            Dictionary::Fixed { .. } => &[],
        }
    }

    pub fn value(&self, id: usize) -> Value {
        match self {
            Dictionary::Fixed { kind, .. } => kind.value(self.key(id)),
            Dictionary::Var { kind, .. } => kind.value(self.bytes(id)),
        }
    }

    /// Compares entry `id` with a probe value of the column's type.
    fn compare(&self, id: usize, probe: &Probe) -> Ordering {
        match (self, probe) {
            (Dictionary::Fixed { .. }, Probe::Key(k)) => self.key(id).cmp(k),
            (Dictionary::Var { kind, .. }, Probe::Bytes(b)) => kind.compare(self.bytes(id), b),
            _ => Ordering::Less,
        }
    }

    /// First id whose value is ≥ (or, with `strict`, >) the probe.
    pub fn lower_bound(&self, probe: &Probe, strict: bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            let ord = self.compare(mid, probe);
            let go_right = if strict { ord != Ordering::Greater } else { ord == Ordering::Less };
            if go_right {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    pub fn find(&self, probe: &Probe) -> Option<usize> {
        let id = self.lower_bound(probe, false);
        (id < self.len() && self.compare(id, probe) == Ordering::Equal).then_some(id)
    }
}

/// A value converted to the physical form of a column, ready to compare.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Key(u64),
    Bytes(Vec<u8>),
}

impl Probe {
    pub fn of(value: &Value, physical: Physical) -> Option<Probe> {
        match physical {
            Physical::Fixed(kind) => kind.key(value).map(Probe::Key),
            Physical::Var(kind) => kind.bytes(value).map(|b| Probe::Bytes(b.to_vec())),
        }
    }
}
