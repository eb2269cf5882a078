//! Unsigned 32-bit values in bit-packed blocks of 128, each block at the width its largest
//! value needs, read in place (posting lists' gaps and lengths, `delta_postings`; the steps
//! of non-decreasing sequences, `steps`). A block of small values packs in few bits even
//! where another block of the same sequence needs many.
//!
//! ```text
//! (⌈n / 128⌉ + 1) × u32 word offsets: block j is words[offsets[j]..offsets[j + 1]],
//! 4 × W words for W-bit values (W ≤ 32; the last block is padded to 128 values),
//! then the words: value i of a block at bits i·W .. (i + 1)·W, least significant first
//! ```
//!
//! The widths follow from the offsets, so no width is stored; a block whose words are out
//! of range or not a whole width is an error when it is read.

use crate::bitpack::width_for;
use crate::error::Malformed;
use crate::format::{cast, Cursor};

/// Values per block.
pub const BLOCK: usize = 128;

/// Appends the blocks of `values`; `None` if they need more than `u32::MAX` words.
pub(crate) fn write_blocks(values: &[u32], out: &mut Vec<u8>) -> Option<()> {
    let mut offsets = Vec::with_capacity(values.len().div_ceil(BLOCK) + 1);
    let mut words: Vec<u32> = Vec::new();
    offsets.push(0u32);
    for block in values.chunks(BLOCK) {
        let width = width_for(block.iter().copied().max().unwrap_or(0)) as usize;
        let start = words.len();
        words.resize(start + 4 * width, 0);
        let packed = &mut words[start..];
        for (i, &v) in block.iter().enumerate().filter(|_| width > 0) {
            let bit = i * width;
            let (k, shift) = (bit / 32, bit % 32);
            packed[k] |= v << shift;
            if shift + width > 32 {
                packed[k + 1] |= v >> (32 - shift);
            }
        }
        offsets.push(u32::try_from(words.len()).ok()?);
    }
    out.extend_from_slice(bytemuck::cast_slice(&offsets));
    out.extend_from_slice(bytemuck::cast_slice(&words));
    Some(())
}

/// Values in bit-packed blocks of 128, read in place.
pub(crate) struct Blocks<'a> {
    offsets: &'a [u32],
    words: &'a [u32],
}

impl<'a> Blocks<'a> {
    pub(crate) fn open(cursor: &mut Cursor<'a>, len: usize) -> Result<Blocks<'a>, Malformed> {
        let offsets: &[u32] = cast(cursor.take(4 * (len.div_ceil(BLOCK) + 1))?)?;
        let words: &[u32] = cast(cursor.take(4 * offsets[offsets.len() - 1] as usize)?)?;
        Ok(Blocks { offsets, words })
    }

    /// The words and width of block `b`, checked.
    pub(crate) fn block(&self, b: usize) -> Result<(&'a [u32], usize), Malformed> {
        let (start, end) = (self.offsets[b] as usize, self.offsets[b + 1] as usize);
        if start > end || end > self.words.len() || (end - start) % 4 != 0 || end - start > 128 {
            return Err(Malformed(format!("packed block {b} spans words {start}..{end} of {}", self.words.len())));
        }
        Ok((&self.words[start..end], (end - start) / 4))
    }

    /// Calls `f` with values `from..to` (`to` at most the values opened), in order.
    #[inline]
    pub(crate) fn for_each(&self, from: usize, to: usize, mut f: impl FnMut(u64)) -> Result<(), Malformed> {
        let mut at = from;
        while at < to {
            let b = at / BLOCK;
            let (words, width) = self.block(b)?;
            let stop = to.min((b + 1) * BLOCK);
            if width == 0 {
                (at..stop).for_each(|_| f(0));
                at = stop;
                continue;
            }
            let mask = (1u64 << width) - 1;
            let mut bit = (at % BLOCK) * width;
            for _ in at..stop {
                let (k, shift) = (bit / 32, bit % 32);
                // A block holds 128 × width bits, so a value that crosses a word has its
                // next word inside the block.
                let low = words[k] as u64;
                let high = if shift + width > 32 { words[k + 1] as u64 } else { 0 };
                f(((high << 32 | low) >> shift) & mask);
                bit += width;
            }
            at = stop;
        }
        Ok(())
    }
}
