//! Non-decreasing `u64` sequences with random access: blockwise linear.
//!
//! Dictionary keys, the byte offsets of a string dictionary, the sorted column's doc starts,
//! multi-value offsets and the offsets of posting lists all only go up, and mostly at a
//! steady pace. Each block of 1024 values stores the line through its first and last value
//! (a `u64` intercept and a 32.32 fixed-point `u64` slope) and every value as a bit-packed
//! `u32` residual above that line (one width for the whole sequence), so value `i` is two
//! loads, a multiply and one `bitpack::get`. Strings of one length have offsets of 0 bits;
//! a sorted millisecond time column's keys take ~13 bits instead of 64. (tantivy's
//! `columnar` calls this codec blockwise linear.)
//!
//! ```text
//! u32 value count n, u32 bit width W,
//! ⌈n / 1024⌉ × (u64 intercept, u64 slope),
//! ⌈n / 1024⌉ bit-packed blocks of W × 128 bytes (see `bitpack`) holding the residuals
//! value j of a block = intercept + ⌊slope × j / 2³²⌋ + residual j   (mod 2⁶⁴)
//! ```
//!
//! A sequence whose residuals need 32 bits or more is not encodable; the writer then keeps
//! a plain layout (`encode` returns `None`).

use crate::bitpack::{self, BLOCK};
use crate::error::Malformed;
use crate::format::{cast, put_u32, put_u64, Cursor};

/// The line of a block: the value predicted at `j` (wrapping: the intercept may be
/// "negative" as two's complement, the sum is the value).
#[inline]
fn predict(intercept: u64, slope: u64, j: usize) -> u64 {
    intercept.wrapping_add(((slope as u128 * j as u128) >> 32) as u64)
}

/// The line through a block's first and last value, lowered to the value furthest below
/// it. The intercept can be below zero (by less than 2^32 when the block encodes): it is
/// kept as two's complement and `predict` wraps.
fn line(block: &[u64]) -> (u64, u64) {
    let span = block[block.len() - 1] - block[0];
    let slope = match block.len() {
        1 => 0,
        m => u64::try_from(((span as u128) << 32) / (m as u128 - 1)).unwrap_or(u64::MAX),
    };
    let lowest = block.iter().enumerate().map(|(j, &v)| v as i128 - predict(0, slope, j) as i128).min().unwrap_or(0);
    (lowest as u64, slope)
}

/// The encoding of `values` (non-decreasing), or `None` when a residual needs 32 bits or
/// more or the values go down.
pub fn encode(values: &[u64]) -> Option<Vec<u8>> {
    if values.windows(2).any(|w| w[1] < w[0]) {
        return None;
    }
    let mut lines = Vec::with_capacity(values.len().div_ceil(BLOCK));
    let mut residuals = Vec::with_capacity(values.len());
    let mut width = 0;
    for block in values.chunks(BLOCK) {
        let (intercept, slope) = line(block);
        for (j, &v) in block.iter().enumerate() {
            let residual = u32::try_from(v.wrapping_sub(predict(intercept, slope, j))).ok()?;
            width = width.max(bitpack::width_for(residual));
            residuals.push(residual);
        }
        lines.push((intercept, slope));
    }
    let mut out = Vec::with_capacity(8 + lines.len() * (16 + bitpack::block_words(width) * 4));
    put_u32(&mut out, values.len() as u32);
    put_u32(&mut out, width);
    for (intercept, slope) in lines {
        put_u64(&mut out, intercept);
        put_u64(&mut out, slope);
    }
    let mut packed = Vec::new();
    bitpack::pack(&residuals, width, &mut packed);
    out.extend_from_slice(bytemuck::cast_slice(&packed));
    Some(out)
}

/// A sequence read in place. Sections are 8-aligned in memory (the segment's backing
/// guarantees it), so bases and words are borrowed, never copied.
#[derive(Clone, Copy)]
pub struct Ascending<'a> {
    len: usize,
    width: u32,
    /// Intercept and slope of each block, interleaved.
    lines: &'a [u64],
    words: &'a [u32],
}

impl<'a> Ascending<'a> {
    /// Reads a sequence at the cursor. `deep` checks that it never goes down (done once,
    /// when the segment opens); without it only sizes are checked.
    pub fn open(cursor: &mut Cursor<'a>, deep: bool) -> Result<Ascending<'a>, Malformed> {
        let len = cursor.u32()? as usize;
        let width = cursor.u32()?;
        if width > 32 {
            return Err(Malformed(format!("bit width {width} is over 32")));
        }
        let blocks = len.div_ceil(BLOCK);
        let lines = cast(cursor.take(blocks * 16)?)?;
        let words = cast(cursor.take(blocks * bitpack::block_words(width) * 4)?)?;
        let sequence = Ascending { len, width, lines, words };
        if deep {
            sequence.check()?;
        }
        Ok(sequence)
    }

    /// Every value, as `get` computes it, is at least the one before.
    fn check(&self) -> Result<(), Malformed> {
        let mut block = [0u32; BLOCK];
        let mut previous = 0u64;
        for b in 0..self.len.div_ceil(BLOCK) {
            let (intercept, slope) = (self.lines[2 * b], self.lines[2 * b + 1]);
            let valid = self.unpack_deltas(b, &mut block);
            for (j, &residual) in block[..valid].iter().enumerate() {
                let value = predict(intercept, slope, j).wrapping_add(residual as u64);
                if value < previous {
                    return Err(Malformed(format!("values go down at value {j} of block {b}")));
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
        let b = i / BLOCK;
        predict(self.lines[2 * b], self.lines[2 * b + 1], i % BLOCK)
            .wrapping_add(bitpack::get(self.words, self.width, i) as u64)
    }

    /// The values at `ids` (each `< len`), in their order. Ascending ids (a segment's
    /// distinct ids) that crowd a block — an eighth of it or more — have it unpacked once
    /// instead of read value by value; other ids are read one by one.
    pub fn gather(&self, ids: &[u32]) -> Vec<u64> {
        let mut out = Vec::with_capacity(ids.len());
        let mut block = [0u32; BLOCK];
        let mut rest = ids;
        while let Some(&first) = rest.first() {
            let b = first as usize / BLOCK;
            let run = rest.iter().take_while(|&&id| id as usize / BLOCK == b).count();
            let (here, next) = rest.split_at(run);
            if run >= BLOCK / 8 {
                let (intercept, slope) = (self.lines[2 * b], self.lines[2 * b + 1]);
                self.unpack_deltas(b, &mut block);
                out.extend(here.iter().map(|&id| {
                    let j = id as usize % BLOCK;
                    predict(intercept, slope, j).wrapping_add(block[j] as u64)
                }));
            } else {
                out.extend(here.iter().map(|&id| self.get(id as usize)));
            }
            rest = next;
        }
        out
    }

    /// The last value, or `None` when empty.
    pub fn last(&self) -> Option<u64> {
        self.len.checked_sub(1).map(|i| self.get(i))
    }

    /// Every value, in order (one block unpack per 1024).
    pub fn decode(&self) -> Vec<u64> {
        let mut out = Vec::with_capacity(self.len);
        let mut block = [0u32; BLOCK];
        for b in 0..self.len.div_ceil(BLOCK) {
            let (intercept, slope) = (self.lines[2 * b], self.lines[2 * b + 1]);
            let valid = self.unpack_deltas(b, &mut block);
            out.extend(
                block[..valid].iter().enumerate().map(|(j, &r)| predict(intercept, slope, j).wrapping_add(r as u64)),
            );
        }
        out
    }
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
        // Every id, ascending (blocks unpacked), every other one, and out of order.
        let all: Vec<u32> = (0..values.len() as u32).collect();
        assert_eq!(sequence.gather(&all), values);
        let sparse: Vec<u32> = all.iter().copied().filter(|i| i % 97 == 3).rev().collect();
        let expected: Vec<u64> = sparse.iter().map(|&i| values[i as usize]).collect();
        assert_eq!(sequence.gather(&sparse), expected);
        let halves: Vec<u32> =
            all.iter().copied().filter(|i| i % 2 == 0).chain(all.iter().copied().filter(|i| i % 2 == 1)).collect();
        let expected: Vec<u64> = halves.iter().map(|&i| values[i as usize]).collect();
        assert_eq!(sequence.gather(&halves), expected);
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
        round_trip(&(0..3000u64).map(|i| i * 16).collect::<Vec<_>>());
        round_trip(&[0, 0, 0, 1 << 31, (1 << 31) + 5]);
        round_trip(&(0..2500u64).map(|i| (i * i) / 7).collect::<Vec<_>>());
    }

    #[test]
    fn a_steady_pace_takes_no_bits() {
        let bytes = encode(&(0..3000u64).map(|i| 1000 + i * 16).collect::<Vec<_>>()).unwrap();
        assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 0, "bit width");
    }

    #[test]
    fn refuses_what_it_cannot_hold() {
        assert!(encode(&[0, 1 << 33, 1 << 33]).is_none());
        assert!(encode(&[3, 2]).is_none());
    }

    #[test]
    fn finds_values_that_go_down() {
        let mut bytes = encode(&(0..2048u64).map(|i| 1000 + i).collect::<Vec<_>>()).unwrap();
        // The second block's intercept below the first block's last value.
        bytes[24..32].copy_from_slice(&5u64.to_le_bytes());
        let words: Vec<u64> = bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        let aligned: &[u8] = bytemuck::cast_slice(&words);
        assert!(Ascending::open(&mut Cursor::new(aligned), true).is_err());
        assert!(Ascending::open(&mut Cursor::new(aligned), false).is_ok());
    }
}
