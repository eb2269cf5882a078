//! Per-doc values of a consuming column (dictionary ids, or raw fixed-width keys) in chunks
//! of 2^shift docs (4,096 in a server; tests use small chunks to reach freezing). The chunk being filled holds full 64-bit slots; when its last slot is
//! written the writer *freezes* it: frame of reference (the chunk's smallest value) and
//! bit-packing at the width of its largest offset, so a country's ids take 8 bits a doc and
//! a millisecond time column's keys ~12, instead of 32 or 64. The frozen chunk replaces the
//! open one in the list; a reader that took the open one keeps reading it (same values).

use parking_lot::RwLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// A full chunk, frozen: `CHUNK` values of `width` bits above `base`, little-endian bit
/// order in 64-bit words (plus one spare word, so a read never straddles the end).
pub(super) struct Frozen {
    base: u64,
    width: u32,
    words: Box<[u64]>,
}

impl Frozen {
    fn pack(values: &[AtomicU64]) -> Frozen {
        let (mut min, mut max) = (u64::MAX, 0u64);
        for v in values {
            let v = v.load(Ordering::Relaxed);
            min = min.min(v);
            max = max.max(v);
        }
        let base = if values.is_empty() { 0 } else { min };
        let width = 64 - (max.wrapping_sub(base)).leading_zeros();
        let mut words = vec![0u64; (values.len() * width as usize).div_ceil(64) + 1];
        if width > 0 {
            for (i, v) in values.iter().enumerate() {
                let offset = v.load(Ordering::Relaxed) - base;
                let bit = i * width as usize;
                let (word, shift) = (bit / 64, bit % 64);
                words[word] |= offset << shift;
                if shift + width as usize > 64 {
                    words[word + 1] |= offset >> (64 - shift);
                }
            }
        }
        Frozen { base, width, words: words.into_boxed_slice() }
    }

    /// The first `out.len()` values, in one pass over the words (a scan's inner loop).
    fn read_into(&self, out: &mut [u64]) {
        let width = self.width as usize;
        if width == 0 {
            out.fill(self.base);
            return;
        }
        let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
        // `pack` sized the words for every value plus a spare word, so `word + 1` is in
        // range for every value below the chunk's length.
        let words = &self.words[..];
        let count = out.len().min((words.len().saturating_sub(1) * 64) / width);
        let mut bit = 0usize;
        for o in &mut out[..count] {
            let (word, shift) = (bit >> 6, (bit & 63) as u32);
            let low = words[word] >> shift;
            let high = (words[word + 1] << 1) << (63 - shift);
            *o = self.base.wrapping_add((low | high) & mask);
            bit += width;
        }
        out[count..].fill(self.base);
    }

    fn get(&self, index: usize) -> u64 {
        if self.width == 0 {
            return self.base;
        }
        let width = self.width as usize;
        let bit = index * width;
        let (word, shift) = (bit / 64, bit % 64);
        let low = self.words.get(word).copied().unwrap_or(0) >> shift;
        let high = if shift + width > 64 { self.words.get(word + 1).copied().unwrap_or(0) << (64 - shift) } else { 0 };
        let mask = if width == 64 { u64::MAX } else { (1u64 << width) - 1 };
        self.base.wrapping_add((low | high) & mask)
    }
}

#[derive(Clone)]
pub(super) enum Chunk {
    Open(Arc<[AtomicU64]>),
    Frozen(Arc<Frozen>),
}

impl Chunk {
    pub(super) fn get(&self, index: usize) -> u64 {
        match self {
            Chunk::Open(slots) => slots.get(index).map_or(0, |s| s.load(Ordering::Relaxed)),
            Chunk::Frozen(frozen) => frozen.get(index),
        }
    }

    /// The first `out.len()` values.
    pub(super) fn read_into(&self, out: &mut [u64]) {
        match self {
            Chunk::Open(slots) => {
                for (o, s) in out.iter_mut().zip(slots.iter()) {
                    *o = s.load(Ordering::Relaxed);
                }
            }
            Chunk::Frozen(frozen) => frozen.read_into(out),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Chunk::Open(slots) => slots.len() * 8,
            Chunk::Frozen(frozen) => frozen.words.len() * 8 + std::mem::size_of::<Frozen>(),
        }
    }
}

pub(super) struct PackedLog {
    chunks: RwLock<Vec<Chunk>>,
    pub(super) len: AtomicU32,
    shift: u32,
}

impl PackedLog {
    pub(super) fn new(shift: u32) -> PackedLog {
        PackedLog { chunks: RwLock::new(Vec::new()), len: AtomicU32::new(0), shift }
    }

    /// Appends one value (single writer); freezes the chunk it completes.
    pub(super) fn push(&self, value: u64) -> u32 {
        let index = self.len.load(Ordering::Relaxed);
        let size = 1usize << self.shift;
        let (chunk, at) = (index as usize >> self.shift, index as usize & (size - 1));
        let mut chunks = self.chunks.write();
        if chunk == chunks.len() {
            chunks.push(Chunk::Open((0..size).map(|_| AtomicU64::new(0)).collect()));
        }
        if let Some(Chunk::Open(slots)) = chunks.get(chunk) {
            slots[at].store(value, Ordering::Relaxed);
            if at == size - 1 {
                let frozen = Chunk::Frozen(Arc::new(Frozen::pack(slots)));
                chunks[chunk] = frozen;
            }
        }
        drop(chunks);
        self.len.store(index + 1, Ordering::Release);
        index
    }

    pub(super) fn snapshot(&self) -> (u32, Packed) {
        let len = self.len.load(Ordering::Acquire);
        (len, Packed { shift: self.shift, chunks: self.chunks.read().clone() })
    }

    /// Values a chunk holds.
    pub(super) fn chunk_len(&self) -> usize {
        1 << self.shift
    }

    pub(super) fn bytes_allocated(&self) -> usize {
        self.chunks.read().iter().map(Chunk::bytes).sum()
    }

    /// Runs `f` with a view of the chunks under the read lock (no copy of the chunk list:
    /// for a reader that reads a few values).
    pub(super) fn with_view<R>(&self, f: impl FnOnce(PackedView<'_>) -> R) -> R {
        f(PackedView { shift: self.shift, chunks: &self.chunks.read() })
    }
}

/// A borrowed view of a [`PackedLog`]'s chunks.
pub(super) struct PackedView<'a> {
    shift: u32,
    chunks: &'a [Chunk],
}

impl PackedView<'_> {
    /// The value at `index` (0 past the end).
    pub(super) fn get(&self, index: usize) -> u64 {
        self.chunks.get(index >> self.shift).map_or(0, |c| c.get(index & ((1 << self.shift) - 1)))
    }
}

/// A reader's view of a [`PackedLog`]'s chunks.
pub(super) struct Packed {
    shift: u32,
    pub(super) chunks: Vec<Chunk>,
}

impl Packed {
    /// The value at `index` (0 past the end).
    pub(super) fn get(&self, index: usize) -> u64 {
        PackedView { shift: self.shift, chunks: &self.chunks }.get(index)
    }

    /// Values per chunk.
    pub(super) fn chunk_len(&self) -> usize {
        1 << self.shift
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_chunks_read_back_every_width() {
        const CHUNK: usize = 4096;
        for shift in [0u32, 1, 7, 13, 31, 32, 33, 63, 64] {
            let log = PackedLog::new(12);
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            let values: Vec<u64> = (0..CHUNK * 2 + 100)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let spread = if shift == 64 { x } else { x & ((1u64 << shift) - 1) };
                    // A large base, so the frame of reference matters.
                    (u64::MAX / 3).wrapping_add(spread).wrapping_add(i as u64 % 2)
                })
                .collect();
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(log.push(v), i as u32);
            }
            let (len, packed) = log.snapshot();
            assert_eq!(len as usize, values.len());
            assert!(matches!(packed.chunks[0], Chunk::Frozen(_)) && matches!(packed.chunks[2], Chunk::Open(_)));
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(packed.get(i), v, "width {shift}, value {i}");
            }
            let mut buf = vec![0u64; CHUNK];
            packed.chunks[1].read_into(&mut buf);
            assert_eq!(&buf[..], &values[CHUNK..2 * CHUNK]);
        }
    }
}
