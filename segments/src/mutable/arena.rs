//! Variable-width values of a consuming column, packed end to end in blocks that never move,
//! instead of one heap allocation per value: a value costs its bytes and an 8-byte span.
//!
//! A span is `block (28 bits) | offset (18) | length (18)`. Blocks grow from 4 KiB to
//! 256 KiB, so a small table's segment stays small; a value of 256 KiB or more gets a block
//! of its own at offset 0, and its span's length field reads `BIG` (the length is the
//! block's). One writer appends; readers read the bytes of spans published to them.

use parking_lot::RwLock;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub(super) const FIRST_BLOCK: usize = 4 << 10;
pub(super) const MAX_BLOCK: usize = 1 << OFFSET_BITS;
const OFFSET_BITS: u32 = 18;
const LEN_BITS: u32 = 18;
const BIG: u64 = (1 << LEN_BITS) - 1;
const MAX_BLOCKS: usize = 1 << 28;

/// Bytes written once by the writer before any reader may look at them.
pub(super) struct Block {
    bytes: Box<[UnsafeCell<u8>]>,
}

// SAFETY: a byte is written only by the one writer (which holds the segment's writer lock),
// and only in the block's unused tail, before the span naming it is published with release
// ordering; readers read only bytes of spans they acquired. No byte is ever written twice,
// so a read never races a write.
unsafe impl Sync for Block {}
// SAFETY: as above; the block owns plain bytes.
unsafe impl Send for Block {}

impl Block {
    pub(super) fn new(len: usize) -> Block {
        // Zeroed memory from the allocator (pages are touched only as bytes arrive).
        let zeroed: Box<[u8]> = vec![0u8; len].into_boxed_slice();
        // SAFETY: `UnsafeCell<u8>` is `repr(transparent)` over `u8`, so the slice's layout
        // and the allocation's are the same.
        let bytes = unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [UnsafeCell<u8>]) };
        Block { bytes }
    }

    /// The bytes `offset..offset + len`, or empty when out of range (a span from a damaged
    /// snapshot can cost an answer, never memory safety).
    pub(super) fn read(&self, offset: usize, len: usize) -> &[u8] {
        match self.bytes.get(offset..offset.saturating_add(len)) {
            Some(cells) => {
                // SAFETY: the cells were written before their span was published (see the
                // `Sync` impl), and `UnsafeCell<u8>` has the layout of `u8`.
                unsafe { std::slice::from_raw_parts(UnsafeCell::raw_get(cells.as_ptr()).cast_const(), cells.len()) }
            }
            None => &[],
        }
    }

    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Copies `value` in at `offset`.
    ///
    /// # Safety
    /// Only the one writer calls this, and only on bytes no published span or offset
    /// names yet (the block's unused tail), so no reader looks at them while they change.
    /// Panics if `offset + value.len()` is past the block.
    pub(super) unsafe fn write_unpublished(&self, offset: usize, value: &[u8]) {
        let cells = &self.bytes[offset..offset + value.len()];
        // SAFETY: the caller guarantees no reader looks at these cells yet; `UnsafeCell<u8>`
        // has the layout of `u8`.
        unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), UnsafeCell::raw_get(cells.as_ptr()), value.len()) };
    }
}

pub(super) struct Arena {
    blocks: RwLock<Vec<Arc<Block>>>,
    /// Bytes used in the last block (writer only).
    used: AtomicUsize,
    allocated: AtomicUsize,
}

impl Arena {
    pub(super) fn new() -> Arena {
        Arena { blocks: RwLock::new(Vec::new()), used: AtomicUsize::new(0), allocated: AtomicUsize::new(0) }
    }

    /// Copies `value` in and returns its span. Single writer only.
    pub(super) fn push(&self, value: &[u8]) -> u64 {
        let mut blocks = self.blocks.write();
        let big = value.len() as u64 >= BIG;
        let used = self.used.load(Ordering::Relaxed);
        let fits = blocks.last().is_some_and(|b| used + value.len() <= b.bytes.len());
        if big || !fits {
            let size = if big {
                value.len()
            } else {
                let grown = blocks.last().map_or(FIRST_BLOCK, |b| (b.bytes.len() * 2).clamp(FIRST_BLOCK, MAX_BLOCK));
                grown.max(value.len())
            };
            blocks.push(Arc::new(Block::new(size)));
            self.allocated.fetch_add(size, Ordering::Relaxed);
            self.used.store(0, Ordering::Relaxed);
        }
        let block_index = blocks.len() - 1;
        let offset = self.used.load(Ordering::Relaxed);
        let block = &blocks[block_index];
        // SAFETY: these bytes are past every published span (the writer's own tail), so no
        // reader looks at them until the span returned here is published.
        unsafe { block.write_unpublished(offset, value) };
        self.used.store(if big { block.bytes.len() } else { offset + value.len() }, Ordering::Relaxed);
        debug_assert!(blocks.len() <= MAX_BLOCKS);
        let len = if big { BIG } else { value.len() as u64 };
        ((block_index as u64) << (OFFSET_BITS + LEN_BITS)) | ((offset as u64) << LEN_BITS) | len
    }

    /// The blocks so far, for a reader to resolve spans without a lock.
    pub(super) fn snapshot(&self) -> Vec<Arc<Block>> {
        self.blocks.read().clone()
    }

    /// Runs `f` with the blocks under one read lock (the writer's hash probes).
    pub(super) fn with_blocks<R>(&self, f: impl FnOnce(&[Arc<Block>]) -> R) -> R {
        f(&self.blocks.read())
    }

    pub(super) fn bytes_allocated(&self) -> usize {
        self.allocated.load(Ordering::Relaxed) + self.blocks.read().capacity() * std::mem::size_of::<Arc<Block>>()
    }
}

/// The bytes a span names within `blocks`.
pub(super) fn resolve(blocks: &[Arc<Block>], span: u64) -> &[u8] {
    let block = (span >> (OFFSET_BITS + LEN_BITS)) as usize;
    let offset = ((span >> LEN_BITS) & ((1 << OFFSET_BITS) - 1)) as usize;
    let len = span & BIG;
    match blocks.get(block) {
        Some(b) if len == BIG => b.read(0, b.bytes.len()),
        Some(b) => b.read(offset, len as usize),
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_every_size_come_back() {
        let arena = Arena::new();
        let values: Vec<Vec<u8>> = (0..300usize)
            .map(|i| {
                let len = match i % 7 {
                    0 => 0,
                    1 => 300_000 + i,
                    2 => BIG as usize,
                    3 => BIG as usize - 1,
                    _ => i % 5000,
                };
                (0..len).map(|j| (i * 31 + j) as u8).collect()
            })
            .collect();
        let spans: Vec<u64> = values.iter().map(|v| arena.push(v)).collect();
        let blocks = arena.snapshot();
        for (value, span) in values.iter().zip(spans) {
            assert_eq!(resolve(&blocks, span), &value[..]);
        }
        assert!(resolve(&blocks, u64::MAX).is_empty());
    }
}
