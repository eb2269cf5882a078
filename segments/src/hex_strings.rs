//! A raw single-value string column whose values are hex digits in one shape — trace and
//! span ids, session ids, hashes, UUIDs — stored as the bytes the digits spell (format v9,
//! codec 7 of `forward.raw`): 4 bits a digit and nothing else, where FSST spends ~4.2 bits a
//! digit on codes plus ~8 bits a doc on where they end, and every doc is a fixed-width slot,
//! so a doc decodes alone and equality compares one machine word a doc.
//!
//! A *shape* is a value's length and the bytes at its positions that are not hex digits (a
//! UUID's dashes, a `0x` prefix's `x`); its digits are all lowercase or all uppercase. The
//! column's shape is the commonest in a sample of its values. A value of another shape (the
//! `"null"` a null stands for, an id missing a leading zero, a digit of the other case) is an
//! *exception*, kept as it is beside the slots; a column with more than one exception in 64
//! docs is left to the other codecs.
//!
//! ```text
//! u32 doc count n, u32 0, u32 0, u32 codec (7),
//! u32 value length L, u32 letters (0: a–f, 1: A–F),
//! L bytes: the shape, 0 where a digit goes, else the byte every coded value has there,
//! padding to 8,
//! u32 exception count e, u32 0, e × u32 the exceptions' docs (ascending), padding to 8,
//! (e + 1) × u32 byte offsets of their values, padding to 8, the values, padding to 8,
//! n slots of W = ⌈D / 2⌉ bytes for D digit positions: a doc's digits as nibbles, the first
//! in the high nibble (so slots order as the values do); an exception's slot is zeros
//! ```

use crate::error::Malformed;
use crate::format::{cast, pad_to_8, put_u32, Cursor};
use crate::forward::{put_unchunked_header, read_unchunked_header};
use roaring::RoaringBitmap;
use std::collections::HashMap;

/// The codec word (the fourth u32) of a `forward.raw` section holding hex slots.
pub const RAW_CODEC_HEX: u32 = 7;

/// Values the shape is chosen from, spread over the column.
const SAMPLE_VALUES: usize = 4096;
/// At most one exception in this many docs.
const EXCEPTION_SHARE: usize = 64;
/// Longer values are not worth a shape (a hash is 64 digits, a UUID 36 characters).
const MAX_LENGTH: usize = 1024;
const LOWER: &[u8; 16] = b"0123456789abcdef";
const UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The letters a value's digits use.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Letters {
    None,
    Lower,
    Upper,
}

/// A value's shape (its bytes, digits replaced by 0) and letters; `None` for a value no
/// shape holds (a NUL byte, digits of both cases, too long).
fn shape_of(value: &[u8]) -> Option<(Vec<u8>, Letters)> {
    if value.len() > MAX_LENGTH {
        return None;
    }
    let mut letters = Letters::None;
    let mut shape = Vec::with_capacity(value.len());
    for &b in value {
        let (byte, case) = match b {
            0 => return None,
            b'0'..=b'9' => (0, Letters::None),
            b'a'..=b'f' => (0, Letters::Lower),
            b'A'..=b'F' => (0, Letters::Upper),
            other => (other, Letters::None),
        };
        letters = match (letters, case) {
            (l, Letters::None) => l,
            (Letters::None, c) => c,
            (l, c) if l == c => l,
            _ => return None,
        };
        shape.push(byte);
    }
    Some((shape, letters))
}

/// A column's shape, and how values pack into slots and back.
struct Shape<'a> {
    bytes: &'a [u8],
    digits: &'static [u8; 16],
    /// Positions of the digits, in order.
    positions: Vec<usize>,
    width: usize,
}

impl<'a> Shape<'a> {
    fn new(bytes: &'a [u8], upper: bool) -> Shape<'a> {
        let positions: Vec<usize> = (0..bytes.len()).filter(|&i| bytes[i] == 0).collect();
        let width = positions.len().div_ceil(2);
        Shape { bytes, digits: if upper { UPPER } else { LOWER }, positions, width }
    }

    /// Packs `value` into `slot` (`width` bytes, zeroed first); false if it has another
    /// shape.
    fn pack(&self, value: &[u8], slot: &mut [u8]) -> bool {
        if value.len() != self.bytes.len() {
            return false;
        }
        slot.fill(0);
        let mut k = 0;
        for (i, (&v, &s)) in value.iter().zip(self.bytes).enumerate() {
            if s != 0 {
                if v != s {
                    return false;
                }
                continue;
            }
            debug_assert_eq!(self.positions[k], i);
            let nibble = match v {
                b'0'..=b'9' => v - b'0',
                b'a'..=b'f' if self.digits == LOWER => v - b'a' + 10,
                b'A'..=b'F' if self.digits == UPPER => v - b'A' + 10,
                _ => return false,
            };
            slot[k / 2] |= if k % 2 == 0 { nibble << 4 } else { nibble };
            k += 1;
        }
        true
    }

    /// Appends the value `slot` spells to `out`.
    #[inline]
    fn unpack_append(&self, slot: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.extend_from_slice(self.bytes);
        let value = &mut out[start..];
        for (k, &at) in self.positions.iter().enumerate() {
            let byte = slot[k / 2];
            let nibble = if k % 2 == 0 { byte >> 4 } else { byte & 0xF };
            value[at] = self.digits[nibble as usize];
        }
    }
}

/// The `forward.raw` section for `n` docs whose values `value(doc)` gives, or `None` when
/// no shape holds all but one doc in 64, or a shape would save nothing (fewer than two
/// digits).
pub fn write<'v>(n: usize, value: impl Fn(usize) -> &'v [u8]) -> Option<Vec<u8>> {
    let step = n.div_ceil(SAMPLE_VALUES).max(1);
    // Per shape: how many sampled values have it, and how many of those use upper case.
    let mut seen: HashMap<Vec<u8>, (usize, usize, usize)> = HashMap::new();
    for doc in (0..n).step_by(step) {
        if let Some((shape, letters)) = shape_of(value(doc)) {
            let entry = seen.entry(shape).or_default();
            entry.0 += 1;
            entry.1 += usize::from(letters == Letters::Lower);
            entry.2 += usize::from(letters == Letters::Upper);
        }
    }
    let (shape, &(_, lower, upper)) = seen.iter().max_by_key(|(shape, (count, _, _))| (*count, shape.as_slice()))?;
    let shape = Shape::new(shape, upper > lower);
    if shape.positions.len() < 2 {
        return None;
    }
    let width = shape.width;
    let mut slots = vec![0u8; n.checked_mul(width)?];
    let mut exceptions: Vec<u32> = Vec::new();
    let mut exception_ends = vec![0u32];
    let mut exception_bytes = Vec::new();
    for (doc, slot) in slots.chunks_exact_mut(width).enumerate() {
        let v = value(doc);
        if !shape.pack(v, slot) {
            slot.fill(0);
            exceptions.push(u32::try_from(doc).ok()?);
            if exceptions.len() * EXCEPTION_SHARE > n {
                return None;
            }
            exception_bytes.extend_from_slice(v);
            exception_ends.push(u32::try_from(exception_bytes.len()).ok()?);
        }
    }
    let mut out = Vec::with_capacity(slots.len() + exception_bytes.len() + 64);
    put_unchunked_header(&mut out, u32::try_from(n).ok()?, RAW_CODEC_HEX);
    put_u32(&mut out, shape.bytes.len() as u32);
    put_u32(&mut out, u32::from(shape.digits == UPPER));
    out.extend_from_slice(shape.bytes);
    pad_to_8(&mut out);
    put_u32(&mut out, exceptions.len() as u32);
    put_u32(&mut out, 0);
    out.extend_from_slice(bytemuck::cast_slice(&exceptions));
    pad_to_8(&mut out);
    out.extend_from_slice(bytemuck::cast_slice(&exception_ends));
    pad_to_8(&mut out);
    out.extend_from_slice(&exception_bytes);
    pad_to_8(&mut out);
    out.extend_from_slice(&slots);
    Some(out)
}

/// The slots of a column, read in place.
pub struct HexStrings<'a> {
    pub num_docs: usize,
    shape: Shape<'a>,
    exceptions: &'a [u32],
    exception_ends: &'a [u32],
    exception_bytes: &'a [u8],
    slots: &'a [u8],
}

impl<'a> HexStrings<'a> {
    /// Opens a codec-7 `forward.raw` section. Everything a read relies on is checked here,
    /// whatever `deep` says — the exceptions are few and the slots' size is one product —
    /// so a damaged section is an error or wrong values, never a panic or a doc out of
    /// range.
    pub fn open(bytes: &'a [u8]) -> Result<HexStrings<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let num_docs = read_unchunked_header(&mut cursor, RAW_CODEC_HEX, "hex slots")?;
        let length = cursor.u32()? as usize;
        let upper = match cursor.u32()? {
            0 => false,
            1 => true,
            other => return Err(Malformed(format!("hex letters {other} are neither lower (0) nor upper (1) case"))),
        };
        if length > MAX_LENGTH {
            return Err(Malformed(format!("hex values of {length} bytes, more than {MAX_LENGTH}")));
        }
        let shape = Shape::new(cursor.take(length)?, upper);
        if shape.positions.is_empty() {
            return Err(Malformed("a hex shape without digits".into()));
        }
        cursor.align8();
        let count = cursor.u32()? as usize;
        cursor.u32()?;
        let exceptions: &[u32] = cast(cursor.take(count.checked_mul(4).ok_or_else(|| too_many(count))?)?)?;
        cursor.align8();
        let exception_ends: &[u32] = cast(cursor.take(4 * (count + 1))?)?;
        cursor.align8();
        let total = exception_ends[count] as usize;
        let exception_bytes = cursor.take(total)?;
        cursor.align8();
        if exceptions.windows(2).any(|w| w[0] >= w[1]) || exceptions.last().is_some_and(|&d| d as usize >= num_docs) {
            return Err(Malformed(format!("hex exceptions are not ascending docs below {num_docs}")));
        }
        if exception_ends.windows(2).any(|w| w[0] > w[1]) || exception_ends[0] != 0 {
            return Err(Malformed("hex exceptions' offsets go down".into()));
        }
        let slots_len = num_docs.checked_mul(shape.width).ok_or_else(|| too_many(num_docs))?;
        let slots = cursor.rest();
        if slots.len() != slots_len {
            return Err(Malformed(format!(
                "{} bytes of hex slots for {num_docs} docs of {} bytes",
                slots.len(),
                shape.width
            )));
        }
        Ok(HexStrings { num_docs, shape, exceptions, exception_ends, exception_bytes, slots })
    }

    fn slot(&self, doc: usize) -> &'a [u8] {
        &self.slots[doc * self.shape.width..(doc + 1) * self.shape.width]
    }

    fn exception(&self, at: usize) -> &'a [u8] {
        &self.exception_bytes[self.exception_ends[at] as usize..self.exception_ends[at + 1] as usize]
    }

    /// Appends doc `doc`'s value to `out`.
    pub fn append_value(&self, doc: usize, out: &mut Vec<u8>) {
        if !self.exceptions.is_empty() {
            if let Ok(at) = self.exceptions.binary_search(&(doc as u32)) {
                out.extend_from_slice(self.exception(at));
                return;
            }
        }
        self.shape.unpack_append(self.slot(doc), out);
    }

    /// Doc `doc`'s value, decoded into `out` (cleared first).
    pub fn value<'o>(&self, doc: usize, out: &'o mut Vec<u8>) -> &'o [u8] {
        out.clear();
        self.append_value(doc, out);
        out
    }

    /// Calls `f` with every doc and its value, in doc order.
    pub fn for_each(&self, mut f: impl FnMut(usize, &[u8])) {
        let mut out = Vec::with_capacity(self.shape.bytes.len());
        let mut next_exception = 0;
        for doc in 0..self.num_docs {
            out.clear();
            if self.exceptions.get(next_exception) == Some(&(doc as u32)) {
                out.extend_from_slice(self.exception(next_exception));
                next_exception += 1;
            } else {
                self.shape.unpack_append(self.slot(doc), &mut out);
            }
            f(doc, &out);
        }
    }

    /// The docs whose value is one of `values` (byte equality, any number of them): the
    /// values of the column's shape are packed and searched for in the slots (up to 8; a
    /// longer list is looked up slot by slot); the others can only be exceptions.
    pub fn docs_equal_to(&self, values: &[Vec<u8>]) -> RoaringBitmap {
        let width = self.shape.width;
        let mut packed: Vec<Vec<u8>> = Vec::new();
        let mut others: Vec<&[u8]> = Vec::new();
        for value in values {
            let mut slot = vec![0u8; width];
            if self.shape.pack(value, &mut slot) {
                packed.push(slot);
            } else {
                others.push(value);
            }
        }
        packed.sort_unstable();
        packed.dedup();
        let mut docs = RoaringBitmap::new();
        if packed.len() <= 8 {
            for literal in &packed {
                search_slots(self.slots, literal, &mut docs);
            }
        } else {
            for (doc, slot) in self.slots.chunks_exact(width).enumerate() {
                if packed.binary_search_by(|p| p.as_slice().cmp(slot)).is_ok() {
                    let _ = docs.try_push(doc as u32);
                }
            }
        }
        // An exception's slot is zeros, which a value of all zero digits also packs to.
        for (at, &doc) in self.exceptions.iter().enumerate() {
            docs.remove(doc);
            if others.contains(&self.exception(at)) {
                docs.insert(doc);
            }
        }
        docs
    }
}

fn too_many(n: usize) -> Malformed {
    Malformed(format!("{n} hex entries overflow the address space"))
}

/// Adds the docs whose slot is `literal` (a slot's width). Slots of one machine word (16
/// digits: span ids, session ids) are compared 32 at a time without a branch, and only a
/// block that holds a hit is looked at slot by slot; other widths are searched for as a
/// substring (SIMD), a hit counting where it starts a slot.
fn search_slots(slots: &[u8], literal: &[u8], docs: &mut RoaringBitmap) {
    let width = literal.len();
    if let (Ok(words), Ok(one)) = (bytemuck::try_cast_slice::<u8, u64>(slots), <[u8; 8]>::try_from(literal)) {
        let one = u64::from_le_bytes(one);
        let mut blocks = words.chunks_exact(32);
        let mut first = 0u32;
        for block in blocks.by_ref() {
            if block.iter().fold(false, |any, &w| any | (w == one)) {
                for (i, _) in block.iter().enumerate().filter(|(_, &w)| w == one) {
                    docs.insert(first + i as u32);
                }
            }
            first += 32;
        }
        for (i, &w) in blocks.remainder().iter().enumerate() {
            if w == one {
                docs.insert(first + i as u32);
            }
        }
        return;
    }
    let finder = memchr::memmem::Finder::new(literal);
    let mut at = 0;
    while let Some(found) = slots.get(at..).and_then(|rest| finder.find(rest)) {
        let position = at + found;
        if position % width == 0 {
            docs.insert((position / width) as u32);
            at = position + width;
        } else {
            at = position + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::aligned_words;

    fn section(values: &[Vec<u8>]) -> Option<(Vec<u64>, usize)> {
        let bytes = write(values.len(), |d| &values[d])?;
        Some((aligned_words(&bytes), bytes.len()))
    }

    fn open(words: &(Vec<u64>, usize)) -> HexStrings<'_> {
        HexStrings::open(&bytemuck::cast_slice(&words.0)[..words.1]).unwrap()
    }

    fn id(i: u64) -> Vec<u8> {
        format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes()
    }

    #[test]
    fn ids_with_exceptions_read_back_and_equality_finds_exactly_the_equal_docs() {
        let values: Vec<Vec<u8>> = (0..5000u64)
            .map(|i| match i {
                // The null stand-in, a short id, an upper-case id, and a value of all zero
                // digits (whose slot is an exception's zeros).
                _ if i % 101 == 0 => b"null".to_vec(),
                7 => b"abc".to_vec(),
                8 => b"ABCDEF0123456789".to_vec(),
                9 | 10 => b"0000000000000000".to_vec(),
                _ => id(i % 3001),
            })
            .collect();
        let words = section(&values).expect("one shape holds all but one doc in 64");
        // Header and shape 40 bytes, 52 exceptions' docs (8 + 208), ends (212 + 4 of padding)
        // and values (50 × "null", "abc" and 16 upper-case digits: 219 + 5), 8 bytes a doc.
        assert_eq!(words.1, 40 + 216 + 216 + 224 + 8 * 5000);
        let hex = open(&words);
        let mut out = Vec::new();
        for (doc, value) in values.iter().enumerate() {
            assert_eq!(hex.value(doc, &mut out), &value[..], "doc {doc}");
        }
        let mut seen = 0;
        hex.for_each(|doc, value| {
            assert_eq!(value, &values[doc][..]);
            seen += 1;
        });
        assert_eq!(seen, values.len());
        let probes: Vec<Vec<u8>> = vec![
            b"null".to_vec(),
            b"abc".to_vec(),
            b"ABCDEF0123456789".to_vec(),
            b"abcdef0123456789".to_vec(),
            b"0000000000000000".to_vec(),
            b"".to_vec(),
            id(12),
            id(3000),
            id(4000),
        ];
        let expected = |set: &[Vec<u8>]| -> Vec<u32> {
            values.iter().enumerate().filter(|(_, v)| set.contains(v)).map(|(d, _)| d as u32).collect()
        };
        for probe in &probes {
            let found: Vec<u32> = hex.docs_equal_to(std::slice::from_ref(probe)).iter().collect();
            assert_eq!(found, expected(std::slice::from_ref(probe)), "{:?}", String::from_utf8_lossy(probe));
        }
        // A long IN list (binary search) and a short one (linear), duplicates included.
        let many: Vec<Vec<u8>> = (0..40).map(|i| id(i * 37)).chain(probes.iter().cloned()).chain([id(37)]).collect();
        assert_eq!(hex.docs_equal_to(&many).iter().collect::<Vec<_>>(), expected(&many));
        assert_eq!(hex.docs_equal_to(&many[..3]).iter().collect::<Vec<_>>(), expected(&many[..3]));
    }

    #[test]
    fn shapes_keep_their_literal_bytes_and_case() {
        // UUIDs in upper case, an odd number of digits behind a prefix, and a width that is
        // no machine word.
        let uuids: Vec<Vec<u8>> = (0..300u64)
            .map(|i| {
                let (a, b) = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15), (i + 1000).wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
                let (a1, a2, a3, b1, b2) = (a >> 32, a >> 16 & 0xFFFF, a & 0xFFFF, b >> 48, b & 0xFFFF_FFFF_FFFF);
                format!("{a1:08X}-{a2:04X}-{a3:04X}-{b1:04X}-{b2:012X}").into_bytes()
            })
            .collect();
        let odd: Vec<Vec<u8>> = (0..300u64).map(|i| format!("0x{:07x}", i * 7919 % 0xFFF_FFFF).into_bytes()).collect();
        for (values, width) in [(&uuids, 16), (&odd, 4)] {
            let words = section(values).expect("a shape");
            let hex = open(&words);
            assert_eq!(hex.shape.width, width);
            let mut out = Vec::new();
            for (doc, value) in values.iter().enumerate() {
                assert_eq!(hex.value(doc, &mut out), &value[..]);
                assert!(hex.docs_equal_to(std::slice::from_ref(value)).contains(doc as u32));
            }
            let lower = values[5].to_ascii_lowercase();
            let found = hex.docs_equal_to(std::slice::from_ref(&lower));
            assert_eq!(found.len(), values.iter().filter(|v| **v == lower).count() as u64, "case is part of the value");
        }
    }

    #[test]
    fn columns_no_shape_holds_are_left_to_other_codecs() {
        // More than one exception in 64 docs.
        let mixed: Vec<Vec<u8>> = (0..1000u64).map(|i| if i % 50 == 0 { b"n/a".to_vec() } else { id(i) }).collect();
        assert!(section(&mixed).is_none());
        // Digits of both cases in one value, text, a single digit, no docs.
        let both: Vec<Vec<u8>> = (0..100).map(|_| b"aBcd".to_vec()).collect();
        assert!(section(&both).is_none());
        let text: Vec<Vec<u8>> = (0..100).map(|i| format!("user-{i}x").into_bytes()).collect();
        assert!(section(&text).is_none());
        let one: Vec<Vec<u8>> = (0..100).map(|i| format!("v{}", i % 10).into_bytes()).collect();
        assert!(section(&one).is_none());
        assert!(write(0, |_| &[][..]).is_none());
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let values: Vec<Vec<u8>> =
            (0..700u64).map(|i| if i % 100 == 3 { b"null".to_vec() } else { id(i % 97) }).collect();
        let bytes = write(values.len(), |d| &values[d]).unwrap();
        for at in 0..bytes.len().min(400) {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let words = aligned_words(&damaged);
                if let Ok(hex) = HexStrings::open(&bytemuck::cast_slice(&words)[..damaged.len()]) {
                    let mut out = Vec::new();
                    for doc in 0..hex.num_docs {
                        hex.value(doc, &mut out);
                    }
                    let docs = hex.docs_equal_to(&[id(5), b"null".to_vec()]);
                    assert!(docs.max().is_none_or(|d| (d as usize) < hex.num_docs));
                }
            }
        }
        for len in (0..bytes.len()).step_by(13) {
            let words = aligned_words(&bytes[..len]);
            assert!(HexStrings::open(&bytemuck::cast_slice(&words)[..len]).is_err(), "{len} bytes");
        }
    }
}
