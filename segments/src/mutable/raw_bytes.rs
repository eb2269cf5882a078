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
//!
//! The first chunk's values go in plain. When it is full, a [`SymbolTable`] is trained on
//! them and kept if it codes them smaller; every later value is stored as its codes
//! (~8 bytes for a 16-hex-digit id). Readers decode a doc at a time; equality codes its
//! literals once and searches the stored bytes for them ([`RawBytesSnapshot::docs_equal_to`]).

use super::arena::{Block, FIRST_BLOCK, MAX_BLOCK};
use super::packed_log::{Packed, PackedLog};
use crate::symbol_table::{SymbolTable, SYMBOL_TABLE_BYTES};
use parking_lot::{Mutex, RwLock};
use roaring::RoaringBitmap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Blocks with their logical starts, in order.
type Blocks = Vec<(u64, Arc<Block>)>;

pub(super) struct RawBytes {
    blocks: RwLock<Blocks>,
    /// Logical end of the bytes written so far (writer only).
    end: AtomicU64,
    /// Per doc, the logical end of its bytes.
    ends: PackedLog,
    /// Decided when the first chunk is full: the table later docs are coded with, if any.
    codec: OnceLock<Option<Arc<SymbolTable>>>,
    /// The writer's buffer for a value's codes.
    codes: Mutex<Vec<u8>>,
}

impl RawBytes {
    pub(super) fn new(chunk_shift: u32) -> RawBytes {
        RawBytes {
            blocks: RwLock::new(Vec::new()),
            end: AtomicU64::new(0),
            ends: PackedLog::new(chunk_shift),
            codec: OnceLock::new(),
            codes: Mutex::new(Vec::new()),
        }
    }

    /// Appends the next doc's value (single writer: callers hold the segment's writer lock).
    pub(super) fn push(&self, value: &[u8]) {
        match self.codec.get() {
            Some(Some(table)) => {
                let mut codes = self.codes.lock();
                self.push_stored(table.encode(value, &mut codes));
            }
            _ => self.push_stored(value),
        }
        if self.codec.get().is_none() && self.ends.len.load(Ordering::Relaxed) as usize == self.plain_docs() {
            self.train();
        }
    }

    /// Docs stored plain: the first chunk (what a table is trained on).
    fn plain_docs(&self) -> usize {
        self.ends.chunk_len()
    }

    /// Trains a table on the first chunk, which decides how later docs are stored. Set
    /// before the next doc is published, so a reader that sees a coded doc sees the table.
    fn train(&self) {
        let snapshot = self.snapshot();
        let sample: Vec<&[u8]> = (0..self.plain_docs()).map(|doc| snapshot.stored(doc)).collect();
        let table = SymbolTable::train(&sample);
        tracing::debug!(coded = table.is_some(), "raw consuming column's symbol table trained");
        let _ = self.codec.set(table.map(Arc::new));
    }

    /// Appends the next doc's bytes as stored (plain or codes).
    fn push_stored(&self, value: &[u8]) {
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
        // Ends first: every end acquired lies in a block already in the list, and a coded
        // doc's table is already set.
        let (_, ends) = self.ends.snapshot();
        RawBytesSnapshot {
            plain_docs: self.plain_docs(),
            codec: self.codec.get().cloned().flatten(),
            ends,
            blocks: self.blocks.read().clone(),
        }
    }

    pub(super) fn bytes_allocated(&self) -> usize {
        let blocks = self.blocks.read();
        blocks.iter().map(|(_, b)| b.len()).sum::<usize>()
            + blocks.capacity() * std::mem::size_of::<(u64, Arc<Block>)>()
            + self.ends.bytes_allocated()
            + self.codes.lock().capacity()
            + if let Some(Some(_)) = self.codec.get() { SYMBOL_TABLE_BYTES } else { 0 }
    }
}

/// A reader's view of a [`RawBytes`]: the docs below the snapshot's length.
pub(super) struct RawBytesSnapshot {
    /// Docs from here on are stored as `codec`'s codes, when there is one.
    plain_docs: usize,
    codec: Option<Arc<SymbolTable>>,
    ends: Packed,
    blocks: Blocks,
}

impl RawBytesSnapshot {
    /// The value of `doc`, decoded into `scratch` if it is stored coded (empty past the
    /// end: a damaged offset costs an answer, never memory safety).
    pub(super) fn value<'a>(&'a self, doc: usize, scratch: &'a mut Vec<u8>) -> &'a [u8] {
        let stored = self.stored(doc);
        match &self.codec {
            Some(table) if doc >= self.plain_docs => table.decode(stored, scratch),
            _ => stored,
        }
    }

    /// The bytes stored for `doc`: its value, or its codes.
    fn stored(&self, doc: usize) -> &[u8] {
        let (previous, end) = self.ends.get_pair(doc);
        self.between(previous, end, &mut 0)
    }

    /// Each of the first `docs` docs' values, in order (decoded where stored coded).
    pub(super) fn for_each(&self, docs: usize, mut f: impl FnMut(usize, &[u8])) {
        let mut scratch = Vec::new();
        self.for_each_stored(docs, |doc, stored| match &self.codec {
            Some(table) if doc >= self.plain_docs => f(doc, table.decode(stored, &mut scratch)),
            _ => f(doc, stored),
        });
    }

    /// The first `docs` docs whose value is one of `values`. Values are stored end to end,
    /// so each value is searched for in the stored bytes (SIMD substring search: the plain
    /// value among plain docs, its codes among coded ones); an occurrence is a match when
    /// a doc's bytes start there and end with it. Nothing is decoded and no doc is visited
    /// unless its bytes hold the value.
    pub(super) fn docs_equal_to(&self, docs: usize, values: &[Vec<u8>]) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        let Some(last) = docs.checked_sub(1) else {
            return out;
        };
        let plain = self.plain_docs.min(docs);
        let coded_from = plain.checked_sub(1).map_or(0, |doc| self.ends.get(doc));
        let mut codes = Vec::new();
        for value in values {
            if value.is_empty() {
                self.for_each_stored(docs, |doc, stored| {
                    if stored.is_empty() {
                        out.insert(doc as u32);
                    }
                });
                continue;
            }
            self.find(value, 0..coded_from, 0..plain, &mut out);
            let coded = match &self.codec {
                Some(table) => table.encode(value, &mut codes),
                None => value,
            };
            self.find(coded, coded_from..self.ends.get(last), plain..docs, &mut out);
        }
        out
    }

    /// Adds to `out` each doc of `docs` whose stored bytes are `needle` (not empty), found
    /// in the stored bytes at logical offsets `range` (all published: they end at or before
    /// the last doc's end).
    fn find(&self, needle: &[u8], range: Range<u64>, docs: Range<usize>, out: &mut RoaringBitmap) {
        let finder = memchr::memmem::Finder::new(needle);
        for (start, block) in &self.blocks {
            let (lo, hi) = (range.start.max(*start), range.end.min(start + block.len() as u64));
            if lo >= hi {
                continue;
            }
            // Every occurrence, overlapping ones too: one that straddles two docs must not
            // hide a real one that begins inside it.
            let hay = block.read((lo - start) as usize, (hi - lo) as usize);
            let mut at = 0;
            while let Some(found) = finder.find(&hay[at..]) {
                let position = lo + (at + found) as u64;
                if let Some(doc) = self.doc_starting_at(position, *start, needle.len() as u64, docs.clone()) {
                    out.insert(doc as u32);
                }
                at += found + 1;
            }
        }
    }

    /// The doc of `docs` whose bytes are exactly `len` bytes from `position` (in the block
    /// starting at `block_start`), if one is.
    fn doc_starting_at(&self, position: u64, block_start: u64, len: u64, docs: Range<usize>) -> Option<usize> {
        // The first doc ending past `position`: the one holding its byte, if any.
        let (mut lo, mut hi) = (docs.start, docs.end);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.ends.get(mid) > position {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        let (previous, end) = self.ends.get_pair(lo);
        (lo < docs.end && previous.max(block_start) == position && end == position + len).then_some(lo)
    }

    /// Each of the first `docs` docs' stored bytes, in order: ends read a chunk at a time
    /// and the block found by walking forward (a scan's inner loop, no search per doc).
    fn for_each_stored(&self, docs: usize, mut f: impl FnMut(usize, &[u8])) {
        let (mut previous, mut block) = (0u64, 0usize);
        self.ends.for_each_chunk(docs, |base, ends| {
            for (i, &end) in ends.iter().enumerate() {
                f(base + i, self.between(previous, end, &mut block));
                previous = end;
            }
        });
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

    /// `snapshot` holds `values`, read one by one and in order.
    fn reads_back(snapshot: &RawBytesSnapshot, values: &[Vec<u8>], shift: u32) {
        let mut scratch = Vec::new();
        for (doc, v) in values.iter().enumerate() {
            assert_eq!(snapshot.value(doc, &mut scratch), &v[..], "doc {doc}, chunks of 2^{shift}");
        }
        let mut seen = 0;
        snapshot.for_each(values.len(), |doc, bytes| {
            assert_eq!(bytes, &values[doc][..], "doc {doc} in order");
            seen += 1;
        });
        assert_eq!(seen, values.len());
    }

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
            let mut scratch = Vec::new();
            reads_back(&snapshot, &values, shift);
            assert!(snapshot.value(values.len() + 5, &mut scratch).is_empty());
            assert!(early.value(0, &mut scratch).is_empty(), "a snapshot from before sees nothing");
        }
    }

    #[test]
    fn values_after_the_first_chunk_are_coded_and_read_and_compare_the_same() {
        for shift in [3, 12] {
            let raw = RawBytes::new(shift);
            let chunk = 1usize << shift;
            // Paths around hex ids (a table pays even on 8 of them), with an empty value, a
            // large one and bytes the table never saw after the first chunk.
            let values: Vec<Vec<u8>> = (0..chunk * 3 + 5)
                .map(|i| match i {
                    _ if i >= chunk && i % 13 == 0 => Vec::new(),
                    _ if i == chunk + 1 => (0..300_000).map(|j| (j * 7 % 251) as u8).collect(),
                    _ if i >= chunk && i % 17 == 0 => vec![0xff, 0x00, 0xfe, i as u8],
                    _ => format!("/products/{:016x}/reviews", (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
                        .into_bytes(),
                })
                .collect();
            let mut before_table = None;
            for (i, v) in values.iter().enumerate() {
                raw.push(v);
                if i + 2 == chunk {
                    before_table = Some(raw.snapshot());
                }
            }
            assert!(matches!(raw.codec.get(), Some(Some(_))), "paths pay for a table, chunks of 2^{shift}");
            let snapshot = raw.snapshot();
            let mut scratch = Vec::new();
            reads_back(&snapshot, &values, shift);
            let paths: Vec<usize> = (chunk..values.len()).filter(|&d| values[d].starts_with(b"/")).collect();
            let coded: usize = paths.iter().map(|&d| snapshot.stored(d).len()).sum();
            assert!(coded * 4 < paths.len() * 34 * 3, "{coded} bytes of codes for {} paths of 34 bytes", paths.len());
            // Equality finds a value in the plain chunk and in the coded ones, every copy of
            // the empty value, and nothing for a value never pushed.
            let wanted = |picked: &[Vec<u8>]| {
                snapshot.docs_equal_to(values.len(), picked).iter().map(|d| d as usize).collect::<Vec<_>>()
            };
            let empty: Vec<usize> = (0..values.len()).filter(|&d| values[d].is_empty()).collect();
            assert_eq!(wanted(&[values[1].clone()]), vec![1]);
            assert_eq!(wanted(&[values[chunk + 2].clone(), values[chunk + 1].clone()]), vec![chunk + 1, chunk + 2]);
            assert_eq!(wanted(&[Vec::new()]), empty);
            assert_eq!(wanted(&[b"not an id".to_vec()]), Vec::<usize>::new());
            let early = before_table.expect("a snapshot before the table");
            assert_eq!(early.value(chunk - 2, &mut scratch), &values[chunk - 2][..]);
            assert!(early.codec.is_none(), "a snapshot from before the table reads plain docs only");
        }
    }

    #[test]
    fn equality_takes_whole_values_only() {
        let raw = RawBytes::new(3);
        // Runs of one letter: every needle also occurs across docs and inside longer values.
        let values: [&[u8]; 11] = [b"a", b"aa", b"a", b"", b"aa", b"aaa", b"ba", b"ab", b"a", b"", b"aa"];
        for v in values {
            raw.push(v);
        }
        let snapshot = raw.snapshot();
        let docs = |needles: &[&[u8]], docs: usize| {
            let needles: Vec<Vec<u8>> = needles.iter().map(|n| n.to_vec()).collect();
            snapshot.docs_equal_to(docs, &needles).iter().collect::<Vec<_>>()
        };
        assert_eq!(docs(&[b"a"], 11), vec![0, 2, 8]);
        assert_eq!(docs(&[b"aa"], 11), vec![1, 4, 10]);
        assert_eq!(docs(&[b"aa"], 10), vec![1, 4], "only docs below the count asked for");
        assert_eq!(docs(&[b"aaa", b"ab"], 11), vec![5, 7]);
        assert_eq!(docs(&[b""], 11), vec![3, 9]);
        assert_eq!(docs(&[b"aaaa", b"b"], 11), Vec::<u32>::new());
        assert_eq!(docs(&[b"a"], 0), Vec::<u32>::new());
    }
}
