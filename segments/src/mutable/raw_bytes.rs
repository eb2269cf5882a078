//! A variable-width column kept raw while consuming (no dictionary): a nearly unique string
//! such as a session id costs its bytes and ~2 bytes of offset a doc, where a dictionary
//! would add a hash-table bucket, a span and an id (and a cache miss per probe).
//!
//! The bytes go end to end in blocks that never move (4 KiB growing to 256 KiB, a larger
//! value in a block of its own). Each block has a *logical* start — the previous block's
//! start plus its length — and each doc records the logical end of its bytes in a
//! [`PackedLog`], so a full chunk of ends bit-packs to ~17 bits a doc. A value never
//! straddles blocks: one that does not fit the last block's tail starts the next block,
//! leaving the tail unused. A doc's bytes therefore run from the later of the previous doc's
//! end and the start of the block holding its last byte, to its own end.

use super::arena::{Block, FIRST_BLOCK, MAX_BLOCK};
use super::packed_log::{Packed, PackedLog};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Blocks with their logical starts, in order.
type Blocks = Vec<(u64, Arc<Block>)>;

pub(super) struct RawBytes {
    blocks: RwLock<Blocks>,
    /// Logical end of the bytes written so far (writer only).
    end: AtomicU64,
    /// Per doc, the logical end of its bytes.
    ends: PackedLog,
}

impl RawBytes {
    pub(super) fn new(chunk_shift: u32) -> RawBytes {
        RawBytes { blocks: RwLock::new(Vec::new()), end: AtomicU64::new(0), ends: PackedLog::new(chunk_shift) }
    }

    /// Appends the next doc's value (single writer: callers hold the segment's writer lock).
    pub(super) fn push(&self, value: &[u8]) {
        let mut end = self.end.load(Ordering::Relaxed);
        if !value.is_empty() {
            let mut blocks = self.blocks.write();
            let fits = blocks.last().is_some_and(|(start, b)| end + value.len() as u64 <= start + b.len() as u64);
            if !fits {
                let (start, size) = match blocks.last() {
                    Some((start, b)) => (start + b.len() as u64, (b.len() * 2).clamp(FIRST_BLOCK, MAX_BLOCK)),
                    None => (0, FIRST_BLOCK),
                };
                blocks.push((start, Arc::new(Block::new(size.max(value.len())))));
                end = start;
            }
            if let Some((start, block)) = blocks.last() {
                // SAFETY: `end` is past every published doc's bytes (the writer's own tail),
                // and no reader looks there until the doc's end is published below.
                unsafe { block.write_unpublished((end - start) as usize, value) };
            }
            end += value.len() as u64;
            self.end.store(end, Ordering::Relaxed);
        }
        // Publishes the doc (release): its bytes and block are visible to a reader that
        // acquires the new length.
        self.ends.push(end);
    }

    pub(super) fn snapshot(&self) -> RawBytesSnapshot {
        // Ends first: every end acquired lies in a block already in the list.
        let (_, ends) = self.ends.snapshot();
        RawBytesSnapshot { ends, blocks: self.blocks.read().clone() }
    }

    pub(super) fn bytes_allocated(&self) -> usize {
        let blocks = self.blocks.read();
        blocks.iter().map(|(_, b)| b.len()).sum::<usize>()
            + blocks.capacity() * std::mem::size_of::<(u64, Arc<Block>)>()
            + self.ends.bytes_allocated()
    }
}

/// A reader's view of a [`RawBytes`]: the docs below the snapshot's length.
pub(super) struct RawBytesSnapshot {
    ends: Packed,
    blocks: Blocks,
}

impl RawBytesSnapshot {
    /// The bytes of `doc` (empty past the end: a damaged offset costs an answer, never
    /// memory safety).
    pub(super) fn bytes(&self, doc: usize) -> &[u8] {
        let end = self.ends.get(doc);
        let previous = if doc == 0 { 0 } else { self.ends.get(doc - 1) };
        self.between(previous, end, &mut 0)
    }

    /// Each of the first `docs` docs' bytes, in order: ends read a chunk at a time and the
    /// block found by walking forward (a scan's inner loop, no search per doc).
    pub(super) fn for_each(&self, docs: usize, mut f: impl FnMut(usize, &[u8])) {
        let size = self.ends.chunk_len();
        let mut ends = vec![0u64; size];
        let (mut previous, mut block) = (0u64, 0usize);
        for (c, chunk) in self.ends.chunks.iter().enumerate() {
            let base = c * size;
            if base >= docs {
                break;
            }
            let len = (docs - base).min(size);
            chunk.read_into(&mut ends[..len]);
            for (i, &end) in ends[..len].iter().enumerate() {
                f(base + i, self.between(previous, end, &mut block));
                previous = end;
            }
        }
    }

    /// The bytes from `previous` to `end` (logical offsets), skipping the unused tail of a
    /// block when they start the next. `hint` is a block index at or before the one holding
    /// them; it is moved to that block.
    fn between(&self, previous: u64, end: u64, hint: &mut usize) -> &[u8] {
        if end <= previous {
            return &[];
        }
        let last = end - 1;
        let within = |i: usize| self.blocks.get(i).is_some_and(|(s, b)| *s <= last && last < s + b.len() as u64);
        if !within(*hint) {
            *hint = self.blocks.partition_point(|(s, _)| *s <= last).saturating_sub(1);
        }
        match self.blocks.get(*hint) {
            Some((start, block)) if within(*hint) => {
                let from = previous.max(*start);
                block.read((from - start) as usize, (end - from) as usize)
            }
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_every_size_come_back_one_by_one_and_in_order() {
        for shift in [3, 12] {
            let raw = RawBytes::new(shift);
            let values: Vec<Vec<u8>> = (0..1_200usize)
                .map(|i| {
                    let len = match i % 11 {
                        0 => 0,
                        1 if i % 7 == 1 => 300_000 + i,
                        2 => MAX_BLOCK,
                        3 => FIRST_BLOCK - 1,
                        _ => i % 97,
                    };
                    (0..len).map(|j| (i * 31 + j) as u8).collect()
                })
                .collect();
            let early = raw.snapshot();
            for v in &values {
                raw.push(v);
            }
            let snapshot = raw.snapshot();
            for (doc, v) in values.iter().enumerate() {
                assert_eq!(snapshot.bytes(doc), &v[..], "doc {doc}, chunks of 2^{shift}");
            }
            let mut seen = 0;
            snapshot.for_each(values.len(), |doc, bytes| {
                assert_eq!(bytes, &values[doc][..], "doc {doc} in order");
                seen += 1;
            });
            assert_eq!(seen, values.len());
            assert!(snapshot.bytes(values.len() + 5).is_empty());
            assert!(early.bytes(0).is_empty(), "a snapshot from before sees nothing");
        }
    }
}
