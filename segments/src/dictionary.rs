//! Sorted dictionaries: value ↔ dictionary id, where id order is value order.

use crate::ascending::{self, Ascending};
use crate::error::Malformed;
use crate::format::{pad_to_8, put_codec, put_u32, read_codec, u32_at, Cursor};
use crate::physical::{FixedKind, Physical, VarKind};
use cuvee_catalog::Value;
use std::cmp::Ordering;

/// Codec tags of a version-3 dictionary section (its first u32; the second is reserved).
const PLAIN: u32 = 0;
const PACKED: u32 = 1;

/// A fixed-width dictionary: keys frame-of-reference packed when that is smaller (sorted
/// keys are close, so it nearly always is), native values otherwise.
pub fn write_fixed(keys: &[u64], kind: FixedKind) -> Vec<u8> {
    let packed = ascending::encode(keys).filter(|p| p.len() < keys.len() * kind.width());
    let mut out = Vec::with_capacity(8 + packed.as_ref().map_or(keys.len() * kind.width(), Vec::len));
    put_codec(&mut out, if packed.is_some() { PACKED } else { PLAIN });
    match packed {
        Some(packed) => out.extend_from_slice(&packed),
        None => keys.iter().for_each(|&key| kind.write_native(key, &mut out)),
    }
    out
}

/// A variable-width dictionary: the byte offsets packed (they only go up), then the bytes.
pub fn write_var(values: &[&[u8]]) -> Vec<u8> {
    let mut ends = Vec::with_capacity(values.len() + 1);
    ends.push(0u64);
    for v in values {
        ends.push(ends[ends.len() - 1] + v.len() as u64);
    }
    let total = ends[ends.len() - 1] as usize;
    let mut out = Vec::new();
    match ascending::encode(&ends).filter(|p| p.len() < 4 * ends.len() + 4) {
        Some(packed) => {
            put_codec(&mut out, PACKED);
            out.extend_from_slice(&packed);
        }
        None => {
            put_codec(&mut out, PLAIN);
            put_u32(&mut out, values.len() as u32);
            ends.iter().for_each(|&e| put_u32(&mut out, e as u32));
        }
    }
    out.reserve(total);
    pad_to_8(&mut out);
    for v in values {
        out.extend_from_slice(v);
    }
    out
}

/// The keys of a fixed-width dictionary.
#[derive(Clone, Copy)]
pub enum Keys<'a> {
    /// Native little-endian values (format ≤ 2, or when packing does not pay).
    Native(&'a [u8]),
    Packed(Ascending<'a>),
}

/// Where each entry of a variable-width dictionary starts (`len + 1` offsets).
#[derive(Clone, Copy)]
pub enum Offsets<'a> {
    /// u32 each.
    Plain(&'a [u8]),
    Packed(Ascending<'a>),
}

impl Offsets<'_> {
    #[inline]
    pub fn get(&self, i: usize) -> usize {
        match self {
            Offsets::Plain(bytes) => u32_at(bytes, 4 * i) as usize,
            Offsets::Packed(sequence) => sequence.get(i) as usize,
        }
    }
}

/// A dictionary section, read in place.
#[derive(Clone, Copy)]
pub enum Dictionary<'a> {
    Fixed { kind: FixedKind, keys: Keys<'a>, len: usize },
    Var { kind: VarKind, offsets: Offsets<'a>, data: &'a [u8], len: usize },
}

impl<'a> Dictionary<'a> {
    /// `deep` checks every offset and that keys ascend (done once, when the segment opens).
    pub fn open(
        bytes: &'a [u8],
        physical: Physical,
        format_version: u32,
        deep: bool,
    ) -> Result<Dictionary<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let codec = read_codec(&mut cursor, format_version, PLAIN)?;
        if codec > PACKED {
            return Err(Malformed(format!("unknown dictionary codec {codec}")));
        }
        match physical {
            Physical::Fixed(kind) if codec == PACKED => {
                let keys = Ascending::open(&mut cursor, deep)?;
                if !cursor.rest().is_empty() {
                    return Err(Malformed(format!("{} bytes after the packed keys", cursor.rest().len())));
                }
                Ok(Dictionary::Fixed { kind, keys: Keys::Packed(keys), len: keys.len() })
            }
            Physical::Fixed(kind) => {
                let bytes = cursor.rest();
                if !bytes.len().is_multiple_of(kind.width()) {
                    return Err(Malformed(format!(
                        "{} bytes is not a whole number of {}-byte values",
                        bytes.len(),
                        kind.width()
                    )));
                }
                Ok(Dictionary::Fixed { kind, keys: Keys::Native(bytes), len: bytes.len() / kind.width() })
            }
            Physical::Var(kind) => {
                let (offsets, len) = if codec == PACKED {
                    let sequence = Ascending::open(&mut cursor, deep)?;
                    if sequence.is_empty() || sequence.get(0) != 0 {
                        return Err(Malformed("dictionary offsets do not start at 0".into()));
                    }
                    (Offsets::Packed(sequence), sequence.len() - 1)
                } else {
                    let len = cursor.u32()? as usize;
                    let offsets = cursor.take(4 * (len + 1))?;
                    let mut previous = 0;
                    for i in (0..=len).filter(|_| deep) {
                        let offset = u32_at(offsets, 4 * i);
                        if offset < previous {
                            return Err(Malformed("dictionary offsets go backwards".into()));
                        }
                        previous = offset;
                    }
                    (Offsets::Plain(offsets), len)
                };
                if format_version >= 3 {
                    cursor.align8();
                }
                let data = cursor.rest();
                let end = offsets.get(len);
                if end != data.len() {
                    return Err(Malformed(format!("dictionary data is {} bytes but offsets say {end}", data.len())));
                }
                Ok(Dictionary::Var { kind, offsets, data, len })
            }
        }
    }

    /// The codec the section uses, for size reports.
    pub fn codec(&self) -> &'static str {
        match self {
            Dictionary::Fixed { keys: Keys::Native(_), .. } | Dictionary::Var { offsets: Offsets::Plain(_), .. } => {
                "plain"
            }
            Dictionary::Fixed { keys: Keys::Packed(_), .. } | Dictionary::Var { offsets: Offsets::Packed(_), .. } => {
                "packed"
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
            Dictionary::Fixed { kind, keys: Keys::Native(bytes), .. } => kind.read_native(&bytes[id * kind.width()..]),
            Dictionary::Fixed { keys: Keys::Packed(keys), .. } => keys.get(id),
            Dictionary::Var { .. } => 0,
        }
    }

    /// The bytes of a variable-width entry.
    pub fn bytes(&self, id: usize) -> &'a [u8] {
        match self {
            Dictionary::Var { offsets, data, .. } => &data[offsets.get(id)..offsets.get(id + 1)],
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
