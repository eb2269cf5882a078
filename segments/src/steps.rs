//! Non-decreasing sequences as their steps (format v9): each value's difference from the
//! one before, in bit-packed blocks of 128 (`packed_blocks`), and the value at the start of
//! every block. Where the steps are small and uneven — a multi-value column's value counts,
//! 0–5 for the benchmark's tags — this costs their width (3 bits) and half a bit of start,
//! where `ascending`'s line through 1,024 values needs residuals as wide as the steps'
//! random walk strays from it (~9 bits). The price is access: value `j` is its block's start,
//! plus a checkpoint every 32 values, plus up to 31 steps summed; a reader asking in order
//! decodes a block at a time instead ([`StepsCursor`]).
//!
//! ```text
//! u32 value count n, u32 0,
//! ⌈n / 128⌉ × u64 the value at every 128th position,
//! ⌈n / 128⌉ × 3 × u32 within each block, the value at positions 32, 64 and 96 less the
//!     block's start (0 past the sequence's end),
//! blocks of the n steps (see `packed_blocks`): step j = value j + 1 − value j, the last 0
//! ```
//!
//! A reader checks the tables' sizes when it opens; a damaged step or start reads as wrong
//! values (callers check those against what they index), never a panic.

use crate::error::Malformed;
use crate::format::{cast, put_u32, Cursor};
use crate::packed_blocks::{write_blocks, Blocks, BLOCK};

/// Values between checkpoints.
const CHECKPOINT: usize = 32;
/// Checkpoints stored per block (the first is the block's start).
const CHECKPOINTS: usize = BLOCK / CHECKPOINT - 1;

/// The encoding of `values` (non-decreasing, at most `u32::MAX` of them), or `None` when
/// they go down, a step needs more than 32 bits, or there are too many.
pub fn encode(values: &[u64]) -> Option<Vec<u8>> {
    let mut steps = Vec::with_capacity(values.len());
    for w in values.windows(2) {
        steps.push(u32::try_from(w[1].checked_sub(w[0])?).ok()?);
    }
    steps.extend(values.last().map(|_| 0));
    let mut out = Vec::with_capacity(values.len() / 2 + values.len() / 8 + 64);
    put_u32(&mut out, u32::try_from(values.len()).ok()?);
    put_u32(&mut out, 0);
    for block in values.chunks(BLOCK) {
        out.extend_from_slice(&block[0].to_le_bytes());
    }
    for block in values.chunks(BLOCK) {
        for at in (CHECKPOINT..BLOCK).step_by(CHECKPOINT) {
            let above = block.get(at).map_or(Some(0), |&v| u32::try_from(v - block[0]).ok())?;
            put_u32(&mut out, above);
        }
    }
    write_blocks(&steps, &mut out)?;
    Some(out)
}

/// A sequence read in place.
pub struct Steps<'a> {
    len: usize,
    starts: &'a [u64],
    checkpoints: &'a [u32],
    steps: Blocks<'a>,
}

impl<'a> Steps<'a> {
    pub fn open(cursor: &mut Cursor<'a>) -> Result<Steps<'a>, Malformed> {
        let len = cursor.u32()? as usize;
        cursor.u32()?;
        let starts: &[u64] = cast(cursor.take(8 * len.div_ceil(BLOCK))?)?;
        let checkpoints: &[u32] = cast(cursor.take(4 * CHECKPOINTS * len.div_ceil(BLOCK))?)?;
        let steps = Blocks::open(cursor, len)?;
        Ok(Steps { len, starts, checkpoints, steps })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// A reader that decodes the block holding the value asked for and keeps it.
    pub fn cursor(&self) -> StepsCursor<'_, 'a> {
        StepsCursor { steps: self, block: usize::MAX, decoded: false, values: [0; BLOCK] }
    }

    /// Value `j` (below the length) from its checkpoint: up to 31 steps summed.
    fn get(&self, j: usize) -> Result<u64, Malformed> {
        let (b, at) = (j / BLOCK, j % BLOCK);
        let from = j - at % CHECKPOINT;
        let above = match at / CHECKPOINT {
            0 => 0,
            c => self.checkpoints[b * CHECKPOINTS + c - 1],
        };
        let mut value = self.starts[b].wrapping_add(above as u64);
        self.steps.for_each(from, j, |step| value = value.wrapping_add(step))?;
        Ok(value)
    }
}

/// Values of a [`Steps`] sequence. The first read in a block sums from a checkpoint (a
/// scattered read costs up to 31 steps); a second read in the same block decodes the whole
/// block, so reading in order costs a step's unpacking and an add a value.
pub struct StepsCursor<'s, 'a> {
    steps: &'s Steps<'a>,
    block: usize,
    decoded: bool,
    values: [u64; BLOCK],
}

impl StepsCursor<'_, '_> {
    /// Value `j` (below the sequence's length).
    pub fn get(&mut self, j: usize) -> Result<u64, Malformed> {
        if j >= self.steps.len {
            return Err(Malformed(format!("value {j} of a sequence of {}", self.steps.len)));
        }
        let b = j / BLOCK;
        if b != self.block {
            self.block = b;
            self.decoded = false;
            return self.steps.get(j);
        }
        if !self.decoded {
            let mut value = self.steps.starts[b];
            let mut i = 0;
            let end = self.steps.len.min((b + 1) * BLOCK);
            let values = &mut self.values;
            self.steps.steps.for_each(b * BLOCK, end, |step| {
                values[i] = value;
                value = value.wrapping_add(step);
                i += 1;
            })?;
            self.decoded = true;
        }
        Ok(self.values[j % BLOCK])
    }

    /// Values `j` and `j + 1` (a multi-value doc's offsets), as one read.
    pub fn pair(&mut self, j: usize) -> Result<(u64, u64), Malformed> {
        let b = j / BLOCK;
        if b == self.block || j + 1 >= self.steps.len {
            return Ok((self.get(j)?, self.get(j + 1)?));
        }
        self.block = b;
        self.decoded = false;
        let value = self.steps.get(j)?;
        let mut step = 0;
        self.steps.steps.for_each(j, j + 1, |s| step = s)?;
        Ok((value, value.wrapping_add(step)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{aligned_words, test_draws};

    #[test]
    fn sequences_read_back_in_order_and_at_random() {
        let mut next = test_draws(0x9E37_79B9_7F4A_7C15);
        for len in [0usize, 1, 2, 127, 128, 129, 1000, 5000] {
            let mut values = Vec::with_capacity(len);
            let mut v = next(1 << 40);
            for i in 0..len {
                // Steps of every width: mostly small, a few wide, runs of zeros.
                v += match i % 97 {
                    0 => next(1 << 31),
                    1..=20 => 0,
                    _ => next(6),
                };
                values.push(v);
            }
            let bytes = encode(&values).expect("encodable");
            let words = aligned_words(&bytes);
            let steps = Steps::open(&mut Cursor::new(&bytemuck::cast_slice(&words)[..bytes.len()])).unwrap();
            assert_eq!(steps.len(), len);
            let mut cursor = steps.cursor();
            for (j, &value) in values.iter().enumerate() {
                assert_eq!(cursor.get(j).unwrap(), value, "value {j} of {len}");
            }
            let mut scattered = steps.cursor();
            for _ in 0..len.min(300) {
                let j = next(len as u64) as usize;
                assert_eq!(steps.cursor().get(j).unwrap(), values[j]);
                if j + 1 < len {
                    assert_eq!(scattered.pair(j).unwrap(), (values[j], values[j + 1]), "values {j} and after");
                }
            }
            let mut in_order = steps.cursor();
            for j in 0..len.saturating_sub(1) {
                assert_eq!(in_order.pair(j).unwrap(), (values[j], values[j + 1]));
            }
            assert!(cursor.get(len).is_err());
        }
        assert!(encode(&[3, 2]).is_none(), "values that go down");
        assert!(encode(&[0, 1 << 33]).is_none(), "a step past 32 bits");
    }

    #[test]
    fn small_uneven_steps_cost_their_width() {
        // Value counts of 0–5 per doc: 3 bits a step, and per 128 a start (64 bits), three
        // checkpoints (96) and a block offset (32).
        let mut next = test_draws(0x2545_F491_4F6C_DD1D);
        let values: Vec<u64> = (0..100_000)
            .scan(0, |v, _| {
                *v += next(6);
                Some(*v)
            })
            .collect();
        let bytes = encode(&values).unwrap();
        let bits_per_value = bytes.len() as f64 * 8.0 / values.len() as f64;
        assert!(bits_per_value < 4.55, "{bits_per_value} bits a value");
        let ascending = crate::ascending::encode(&values).unwrap();
        assert!(bytes.len() * 3 < ascending.len() * 2, "{} vs ascending's {}", bytes.len(), ascending.len());
    }

    #[test]
    fn damage_is_an_error_or_wrong_values_never_a_panic() {
        let values: Vec<u64> = (0..700u64).map(|i| i * 5 + i % 5).collect();
        let bytes = encode(&values).unwrap();
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.clone();
                damaged[at] ^= flip;
                let words = aligned_words(&damaged);
                if let Ok(steps) = Steps::open(&mut Cursor::new(&bytemuck::cast_slice(&words)[..damaged.len()])) {
                    let mut cursor = steps.cursor();
                    for j in 0..steps.len() + 1 {
                        let _ = cursor.get(j);
                        let _ = steps.cursor().pair(j);
                    }
                }
            }
        }
        for len in 0..bytes.len() {
            let words = aligned_words(&bytes[..len]);
            assert!(Steps::open(&mut Cursor::new(&bytemuck::cast_slice(&words)[..len])).is_err(), "{len} bytes");
        }
    }
}
