//! Indexes made of roaring bitmaps: the inverted index (one bitmap per dictionary id), the
//! bit-sliced range index (one bitmap per bit of the value), and the null bitmap.

use crate::error::Malformed;
use crate::format::{put_u32, put_u64, u64_at, Cursor};
use roaring::RoaringBitmap;

/// Writes a list of bitmaps behind an offset table (`inverted` and `range` sections).
pub fn write_bitmap_list(header: &[u8], bitmaps: &[RoaringBitmap]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut offsets = Vec::with_capacity(bitmaps.len() + 1);
    offsets.push(0u64);
    for bitmap in bitmaps {
        let mut bitmap = bitmap.clone();
        bitmap.optimize();
        bitmap.serialize_into(&mut body).unwrap_or_default();
        offsets.push(body.len() as u64);
    }
    let mut out = Vec::with_capacity(header.len() + 8 * offsets.len() + body.len());
    out.extend_from_slice(header);
    for o in offsets {
        put_u64(&mut out, o);
    }
    out.extend_from_slice(&body);
    out
}

/// A list of bitmaps read in place; each bitmap is deserialised when asked for.
pub struct BitmapList<'a> {
    pub len: usize,
    offsets: &'a [u8],
    body: &'a [u8],
}

impl<'a> BitmapList<'a> {
    /// `deep` checks every offset (done once, when the segment opens); without it only the
    /// table's size is checked, and each bitmap's bounds when it is read.
    pub fn open(cursor: &mut Cursor<'a>, len: usize, deep: bool) -> Result<BitmapList<'a>, Malformed> {
        let offsets = cursor.take(8 * (len + 1))?;
        let body = cursor.rest();
        let mut previous = 0;
        for i in (0..=len).filter(|_| deep) {
            let o = u64_at(offsets, 8 * i);
            if o < previous || o as usize > body.len() {
                return Err(Malformed(format!("bitmap offset {i} is out of order or out of range")));
            }
            previous = o;
        }
        Ok(BitmapList { len, offsets, body })
    }

    pub fn get(&self, i: usize) -> Result<RoaringBitmap, Malformed> {
        let start = u64_at(self.offsets, 8 * i) as usize;
        let end = u64_at(self.offsets, 8 * (i + 1)) as usize;
        if start > end || end > self.body.len() {
            return Err(Malformed(format!("bitmap {i} is out of range")));
        }
        RoaringBitmap::deserialize_from(&self.body[start..end])
            .map_err(|e| Malformed(format!("bitmap {i} is damaged: {e}")))
    }
}

pub fn write_inverted(bitmaps: &[RoaringBitmap]) -> Vec<u8> {
    let mut header = Vec::new();
    put_u32(&mut header, bitmaps.len() as u32);
    put_u32(&mut header, 0);
    write_bitmap_list(&header, bitmaps)
}

pub fn open_inverted(bytes: &[u8], cardinality: usize, deep: bool) -> Result<BitmapList<'_>, Malformed> {
    let mut cursor = Cursor::new(bytes);
    let len = cursor.u32()? as usize;
    cursor.u32()?;
    if len != cardinality {
        return Err(Malformed(format!("{len} bitmaps for {cardinality} dictionary ids")));
    }
    BitmapList::open(&mut cursor, len, deep)
}

/// Bit-sliced range index over unsigned values `v` (dictionary ids, or `key − base`).
pub struct RangeIndex<'a> {
    pub base: u64,
    pub slices: BitmapList<'a>,
}

pub fn write_range(values: impl Iterator<Item = u64>, base: u64, bits: u32) -> Vec<u8> {
    let mut slices = vec![RoaringBitmap::new(); bits as usize];
    for (doc, v) in values.enumerate() {
        let mut rest = v;
        while rest != 0 {
            let bit = rest.trailing_zeros();
            let _ = slices[bit as usize].try_push(doc as u32);
            rest &= rest - 1;
        }
    }
    let mut header = Vec::new();
    put_u32(&mut header, bits);
    put_u32(&mut header, 0);
    put_u64(&mut header, base);
    write_bitmap_list(&header, &slices)
}

impl<'a> RangeIndex<'a> {
    pub fn open(bytes: &'a [u8], deep: bool) -> Result<RangeIndex<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let bits = cursor.u32()? as usize;
        cursor.u32()?;
        let base = cursor.u64()?;
        if bits > 64 {
            return Err(Malformed(format!("{bits} bit slices is over 64")));
        }
        Ok(RangeIndex { base, slices: BitmapList::open(&mut cursor, bits, deep)? })
    }

    /// Docs (among `0..num_docs`) whose value is ≤ `c` (O'Neil's bit-sliced comparison).
    pub fn at_most(&self, c: u64, num_docs: u32) -> Result<RoaringBitmap, Malformed> {
        let bits = self.slices.len;
        if bits < 64 && c >> bits != 0 {
            return Ok(all_docs(num_docs));
        }
        let mut less = RoaringBitmap::new();
        let mut equal = all_docs(num_docs);
        for bit in (0..bits).rev() {
            let slice = self.slices.get(bit)?;
            if c >> bit & 1 == 1 {
                less |= &equal - &slice;
                equal &= slice;
            } else {
                equal -= slice;
            }
        }
        Ok(less | equal)
    }

    /// Docs whose value is in `lo..=hi`.
    pub fn between(&self, lo: u64, hi: u64, num_docs: u32) -> Result<RoaringBitmap, Malformed> {
        if lo > hi {
            return Ok(RoaringBitmap::new());
        }
        let upper = self.at_most(hi, num_docs)?;
        if lo == 0 {
            return Ok(upper);
        }
        Ok(upper - self.at_most(lo - 1, num_docs)?)
    }
}

pub fn all_docs(num_docs: u32) -> RoaringBitmap {
    let mut all = RoaringBitmap::new();
    all.insert_range(0..num_docs);
    all
}

pub fn write_sorted(ranges: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ranges.len() * 8);
    for &(start, end) in ranges {
        put_u32(&mut out, start);
        put_u32(&mut out, end);
    }
    out
}

/// Doc range `[start, end)` of each dictionary id of the sorted column.
pub struct SortedIndex<'a> {
    bytes: &'a [u8],
}

impl<'a> SortedIndex<'a> {
    pub fn open(bytes: &'a [u8], cardinality: usize, num_docs: u32, deep: bool) -> Result<SortedIndex<'a>, Malformed> {
        if bytes.len() != cardinality * 8 {
            return Err(Malformed(format!("{} bytes for {cardinality} doc ranges", bytes.len())));
        }
        let index = SortedIndex { bytes };
        let mut previous_end = 0;
        for id in (0..cardinality).filter(|_| deep) {
            let (start, end) = index.range(id);
            if start != previous_end || end < start || end > num_docs {
                return Err(Malformed(format!("doc range of id {id} is not contiguous with the previous one")));
            }
            previous_end = end;
        }
        Ok(index)
    }

    pub fn range(&self, id: usize) -> (u32, u32) {
        (crate::format::u32_at(self.bytes, 8 * id), crate::format::u32_at(self.bytes, 8 * id + 4))
    }

    /// Docs of ids `lo..hi`: one contiguous doc range.
    pub fn docs(&self, lo: usize, hi: usize) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        if lo < hi {
            out.insert_range(self.range(lo).0..self.range(hi - 1).1);
        }
        out
    }
}
