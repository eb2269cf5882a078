//! Non-decreasing `u64` sequences with random access: block frame-of-reference.
//!
//! Dictionary keys, the byte offsets of a string dictionary, the sorted column's doc starts
//! and the offsets of posting lists all only go up, and neighbours are close. Each block of
//! 1024 values stores its first value as a `u64` base and every value as a bit-packed `u32`
//! delta from that base (one width for the whole sequence, so value `i` is one indexed load
//! of the base plus one `bitpack::get`). A sorted millisecond time column's keys take
//! ~17 bits instead of 64, a string dictionary's offsets ~15 instead of 32.
//!
//! ```text
//! u32 value count n, u32 bit width W,
//! ⌈n / 1024⌉ × u64 block bases,
//! ⌈n / 1024⌉ bit-packed blocks of W × 128 bytes (see `bitpack`) holding value − base
//! ```
//!
//! A sequence whose block spans a value range of 2³² or more is not encodable; the writer
//! then keeps the plain layout (`encode` returns `None`).

use crate::bitpack::{self, BLOCK};
use crate::error::Malformed;
use crate::format::{put_u32, put_u64, Cursor};

/// The encoding of `values` (non-decreasing), or `None` when a block's span needs over 32
/// bits or the values go down.
pub fn encode(values: &[u64]) -> Option<Vec<u8>> {
    if values.windows(2).any(|w| w[1] < w[0]) {
        return None;
    }
    let mut width = 0;
    for block in values.chunks(BLOCK) {
        let span = block[block.len() - 1] - block[0];
        width = width.max(bitpack::width_for(u32::try_from(span).ok()?));
    }
    let mut out = Vec::with_capacity(8 + values.len().div_ceil(BLOCK) * (8 + bitpack::block_words(width) * 4));
    put_u32(&mut out, values.len() as u32);
    put_u32(&mut out, width);
    for block in values.chunks(BLOCK) {
        put_u64(&mut out, block[0]);
    }
    let deltas: Vec<u32> =
        values.chunks(BLOCK).flat_map(|block| block.iter().map(move |&v| (v - block[0]) as u32)).collect();
    let mut packed = Vec::new();
    bitpack::pack(&deltas, width, &mut packed);
    out.extend_from_slice(bytemuck::cast_slice(&packed));
    Some(out)
}

/// A sequence read in place. Sections are 8-aligned in memory (the segment's backing
/// guarantees it), so bases and words are borrowed, never copied.
#[derive(Clone, Copy)]
pub struct Ascending<'a> {
    len: usize,
    width: u32,
    bases: &'a [u64],
    words: &'a [u32],
}

impl<'a> Ascending<'a> {
    /// Reads a sequence at the cursor. `deep` checks that it never goes down and never
    /// overflows (done once, when the segment opens); without it only sizes are checked.
    pub fn open(cursor: &mut Cursor<'a>, deep: bool) -> Result<Ascending<'a>, Malformed> {
        let len = cursor.u32()? as usize;
        let width = cursor.u32()?;
        if width > 32 {
            return Err(Malformed(format!("bit width {width} is over 32")));
        }
        let blocks = len.div_ceil(BLOCK);
        let bases = cast(cursor.take(blocks * 8)?)?;
        let words = cast(cursor.take(blocks * bitpack::block_words(width) * 4)?)?;
        let sequence = Ascending { len, width, bases, words };
        if deep {
            sequence.check()?;
        }
        Ok(sequence)
    }

    fn check(&self) -> Result<(), Malformed> {
        let mut block = [0u32; BLOCK];
        let mut previous = 0u64;
        for (b, &base) in self.bases.iter().enumerate() {
            let valid = self.unpack_deltas(b, &mut block);
            for &delta in &block[..valid] {
                let value = base
                    .checked_add(delta as u64)
                    .ok_or_else(|| Malformed(format!("value in block {b} overflows 64 bits")))?;
                if value < previous {
                    return Err(Malformed(format!("values go down in block {b}")));
                }
                previous = value;
            }
        }
        Ok(())
    }

    fn unpack_deltas(&self, b: usize, out: &mut [u32; BLOCK]) -> usize {
        let words = bitpack::block_words(self.width);
        if words == 0 {
            out.fill(0);
        } else {
            bitpack::unpack_block(&self.words[b * words..(b + 1) * words], self.width, out);
        }
        (self.len - b * BLOCK).min(BLOCK)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Value `i` (`i < len`).
    #[inline]
    pub fn get(&self, i: usize) -> u64 {
        self.bases[i / BLOCK].wrapping_add(bitpack::get(self.words, self.width, i) as u64)
    }

    /// The last value, or `None` when empty.
    pub fn last(&self) -> Option<u64> {
        self.len.checked_sub(1).map(|i| self.get(i))
    }

    /// Every value, in order (one block unpack per 1024).
    pub fn decode(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.len);
        let mut block = [0u32; BLOCK];
        for (b, &base) in self.bases.iter().enumerate() {
            let valid = self.unpack_deltas(b, &mut block);
            out.extend(block[..valid].iter().map(|&d| base.wrapping_add(d as u64)));
        }
        out
    }
}

fn cast<T: bytemuck::Pod>(bytes: &[u8]) -> Result<&[T], Malformed> {
    bytemuck::try_cast_slice(bytes).map_err(|_| Malformed("section is not 8-aligned in memory".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[u64]) {
        let bytes = encode(values).expect("encodable");
        let words: Vec<u64> = bytes
            .chunks(8)
            .map(|c| {
                let mut w = [0u8; 8];
                w[..c.len()].copy_from_slice(c);
                u64::from_le_bytes(w)
            })
            .collect();
        let aligned: &[u8] = &bytemuck::cast_slice(&words)[..bytes.len()];
        let mut cursor = Cursor::new(aligned);
        let sequence = Ascending::open(&mut cursor, true).unwrap();
        assert!(cursor.rest().is_empty());
        assert_eq!(sequence.len(), values.len());
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(sequence.get(i), v, "value {i}");
        }
        assert_eq!(sequence.decode(), values);
        assert_eq!(sequence.last(), values.last().copied());
    }

    #[test]
    fn round_trips() {
        round_trip(&[]);
        round_trip(&[7]);
        round_trip(&[5, 5, 5]);
        round_trip(&(0..5000u64).map(|i| 1_767_225_600_000 + i * 87 + i % 5).collect::<Vec<_>>());
        round_trip(&(0..3000u64).map(|i| u64::MAX - 3000 + i).collect::<Vec<_>>());
        let wide: Vec<u64> = (0..2048u64).map(|i| i << 20).collect();
        round_trip(&wide);
    }

    #[test]
    fn refuses_what_it_cannot_hold() {
        assert!(encode(&[0, 1 << 33]).is_none());
        assert!(encode(&[3, 2]).is_none());
    }

    #[test]
    fn finds_values_that_go_down() {
        let mut bytes = encode(&(0..2048u64).map(|i| 1000 + i).collect::<Vec<_>>()).unwrap();
        // The second block's base below the first block's last value.
        bytes[16..24].copy_from_slice(&5u64.to_le_bytes());
        let words: Vec<u64> = bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        let aligned: &[u8] = bytemuck::cast_slice(&words);
        assert!(Ascending::open(&mut Cursor::new(aligned), true).is_err());
        assert!(Ascending::open(&mut Cursor::new(aligned), false).is_ok());
    }
}
