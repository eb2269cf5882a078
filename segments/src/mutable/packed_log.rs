//! Per-doc values of a consuming column (dictionary ids, or raw fixed-width keys) in chunks
//! of 2^shift docs (4,096 in a server; tests use small chunks to reach freezing). The chunk being filled holds full 64-bit slots; when its last slot is
//! written the writer *freezes* it: frame of reference (the chunk's smallest value) and
//! bit-packing at the width of its largest offset, so a country's ids take 8 bits a doc and
//! a millisecond time column's keys ~12, instead of 32 or 64 (or as steps, for a chunk
//! that never decreases: see [`Frozen`]). The frozen chunk replaces the
//! open one in the list; a reader that took the open one keeps reading it (same values).

use crate::bitpack::{self, block_words, BLOCK};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

/// Values between two checkpoints of a delta-coded chunk.
const STRIDE: usize = 32;

/// A full chunk, frozen: `CHUNK` offsets from `base` bit-packed at the width of the
/// largest. Offsets of up to 32 bits (ids, and nearly every key) take the sealed segment's
/// FastLanes blocks ([`crate::bitpack`]), which unpack a block of 1,024 with SIMD; wider
/// ones take `width`-bit fields in little-endian bit order in 64-bit words (plus one spare
/// word, so a read never straddles the end). A chunk that never decreases (a column's
/// per-doc byte ends, a multi-value column's value ends) is delta-coded instead when that
/// is smaller, as it nearly always is: `width`-bit steps from each value to the next, and
/// every [`STRIDE`]th value's offset from `base` as a checkpoint, so a point read sums at
/// most `STRIDE - 1` steps. A session id's end then takes the ~4 bits of its length
/// instead of the ~16 of its offset in the chunk.
pub(super) struct Frozen {
    base: u64,
    width: u32,
    /// The largest value (a reader checks a chunk's ids against its dictionary once).
    max: u64,
    layout: Layout,
}

enum Layout {
    /// Offsets in whole FastLanes blocks (the last padded with zeros); width ≤ 32.
    Lanes(Box<[u32]>),
    /// Offsets, or steps when `checkpoints` is set, as sequential fields.
    Fields {
        words: Box<[u64]>,
        /// Set when delta-coded: each STRIDE-th value's offset from `base` (the step
        /// stored at its place is 0).
        checkpoints: Option<Box<[u32]>>,
    },
}

impl Frozen {
    fn pack(slots: &[AtomicU64]) -> Frozen {
        let values: Vec<u64> = slots.iter().map(|v| v.load(Ordering::Relaxed)).collect();
        let (min, max) = values.iter().fold((u64::MAX, 0u64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let base = if values.is_empty() { 0 } else { min };
        let width = bits(max.wrapping_sub(base));
        // Chosen by estimating both: steps plus 32-bit checkpoints against offsets.
        let monotone = values.windows(2).all(|w| w[0] <= w[1]);
        if monotone && max.wrapping_sub(base) <= u64::from(u32::MAX) {
            let step_width = bits(values.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0));
            let n = values.len();
            if n * step_width as usize + n.div_ceil(STRIDE) * 32 < n * width as usize {
                let steps = (0..n).map(|i| if i % STRIDE == 0 { 0 } else { values[i] - values[i - 1] });
                let checkpoints = Some(values.iter().step_by(STRIDE).map(|v| (v - base) as u32).collect());
                let words = pack_bits(steps, n, step_width);
                return Frozen { base, width: step_width, max, layout: Layout::Fields { words, checkpoints } };
            }
        }
        if width <= 32 {
            let offsets: Vec<u32> = values.iter().map(|v| (v - base) as u32).collect();
            let mut words = Vec::with_capacity(values.len().div_ceil(BLOCK) * block_words(width));
            bitpack::pack(&offsets, width, &mut words);
            return Frozen { base, width, max, layout: Layout::Lanes(words.into_boxed_slice()) };
        }
        let words = pack_bits(values.iter().map(|v| v - base), values.len(), width);
        Frozen { base, width, max, layout: Layout::Fields { words, checkpoints: None } }
    }

    /// The first `out.len()` values, in one pass over the words (a scan's inner loop).
    fn read_into(&self, out: &mut [u64]) {
        match &self.layout {
            Layout::Lanes(words) => self.read_lanes(words, out),
            Layout::Fields { words, checkpoints: None } => self.read_fields(words, out, self.base),
            Layout::Fields { words, checkpoints: Some(checkpoints) } => {
                self.read_fields(words, out, 0);
                let mut value = self.base;
                for (i, o) in out.iter_mut().enumerate() {
                    value = match i % STRIDE {
                        0 => self.base.wrapping_add(u64::from(checkpoints.get(i / STRIDE).copied().unwrap_or(0))),
                        _ => value.wrapping_add(*o),
                    };
                    *o = value;
                }
            }
        }
    }

    /// Whole blocks unpacked as the sealed segment's scans do, then widened onto `base`
    /// (0 past the blocks).
    fn read_lanes(&self, words: &[u32], out: &mut [u64]) {
        let per_block = block_words(self.width);
        let mut block = [0u32; BLOCK];
        for (b, out) in out.chunks_mut(BLOCK).enumerate() {
            match words.get(b * per_block..(b + 1) * per_block) {
                Some(packed) if self.width > 0 => {
                    bitpack::unpack_block(packed, self.width, &mut block);
                    for (o, &offset) in out.iter_mut().zip(block.iter()) {
                        *o = self.base.wrapping_add(u64::from(offset));
                    }
                }
                Some(_) => out.fill(self.base),
                None => out.fill(0),
            }
        }
    }

    /// The fields themselves (offsets or steps) of the first `out.len()` values, plus
    /// `add`: whole groups of 64 by a kernel for the width, the rest one by one.
    fn read_fields(&self, words: &[u64], out: &mut [u64], add: u64) {
        let (width, mask) = (self.width as usize, self.mask());
        if width == 0 {
            out.fill(add);
            return;
        }
        // `pack` sized the words for every value plus a spare word, so `word + 1` is in
        // range for every value below the chunk's length.
        let count = out.len().min((words.len().saturating_sub(1) * 64) / width);
        let done = unpack_groups(self.width, words, &mut out[..count], add);
        let mut bit = done * width;
        for o in &mut out[done..count] {
            let (word, shift) = (bit >> 6, (bit & 63) as u32);
            let low = words[word] >> shift;
            let high = (words[word + 1] << 1) << (63 - shift);
            *o = ((low | high) & mask).wrapping_add(add);
            bit += width;
        }
        out[count..].fill(0);
    }

    fn get(&self, index: usize) -> u64 {
        match &self.layout {
            Layout::Fields { checkpoints: Some(_), .. } => self.get_pair(index).1,
            _ => self.base.wrapping_add(self.packed(index)),
        }
    }

    /// The values at `index - 1` (0 for the first) and `index`: a delta-coded chunk sums
    /// its steps once for both (a doc's bytes run from the previous doc's end to its own).
    fn get_pair(&self, index: usize) -> (u64, u64) {
        let before = |index: usize| if index == 0 { 0 } else { self.get(index - 1) };
        let Layout::Fields { checkpoints: Some(checkpoints), .. } = &self.layout else {
            return (before(index), self.get(index));
        };
        let from = index - index % STRIDE;
        let checkpoint = self.base.wrapping_add(u64::from(checkpoints.get(from / STRIDE).copied().unwrap_or(0)));
        if index == from {
            return (before(index), checkpoint);
        }
        let previous = (from + 1..index).fold(checkpoint, |v, i| v.wrapping_add(self.packed(i)));
        (previous, previous.wrapping_add(self.packed(index)))
    }

    /// The packed field (offset or step) at `index` (0 past the words).
    fn packed(&self, index: usize) -> u64 {
        match &self.layout {
            Layout::Lanes(words) if index < words.len() / block_words(self.width).max(1) * BLOCK => {
                u64::from(bitpack::get(words, self.width, index))
            }
            Layout::Lanes(_) => 0,
            Layout::Fields { words, .. } => {
                let bit = index * self.width as usize;
                let (word, shift) = (bit >> 6, (bit & 63) as u32);
                let low = words.get(word).copied().unwrap_or(0) >> shift;
                let high = (words.get(word + 1).copied().unwrap_or(0) << 1) << (63 - shift);
                (low | high) & self.mask()
            }
        }
    }

    /// The bits of one packed field.
    fn mask(&self) -> u64 {
        match self.width {
            0 => 0,
            64 => u64::MAX,
            width => (1u64 << width) - 1,
        }
    }

    fn bytes(&self) -> usize {
        let words = match &self.layout {
            Layout::Lanes(words) => words.len() * 4,
            Layout::Fields { words, checkpoints } => words.len() * 8 + checkpoints.as_ref().map_or(0, |c| c.len() * 4),
        };
        words + std::mem::size_of::<Frozen>()
    }
}

/// Unpacks whole groups of 64 `width`-bit fields of `words` into `out` (plus `add`),
/// as many as `out` holds; returns how many values it wrote. A group is exactly `width`
/// words, and with the width a constant every field's word and shift are too, so a group
/// unrolls into shifts and masks (the consuming segment's scans and aggregates read every
/// value of a chunk this way).
fn unpack_groups(width: u32, words: &[u64], out: &mut [u64], add: u64) -> usize {
    macro_rules! widths {
        ($($w:literal)*) => {
            match width {
                $($w => unpack_groups_of::<$w>(words, out, add),)*
                _ => 0,
            }
        };
    }
    widths!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
        33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63 64)
}

fn unpack_groups_of<const W: usize>(words: &[u64], out: &mut [u64], add: u64) -> usize {
    let mask = if W == 64 { u64::MAX } else { (1u64 << W) - 1 };
    let mut done = 0;
    for (group, source) in out.chunks_exact_mut(64).zip(words.chunks_exact(W)) {
        let Ok(source) = <&[u64; W]>::try_from(source) else { break };
        for (i, o) in group.iter_mut().enumerate() {
            let (word, shift) = (i * W / 64, i * W % 64);
            let mut field = source[word] >> shift;
            if shift + W > 64 {
                field |= source[word + 1] << (64 - shift);
            }
            *o = (field & mask).wrapping_add(add);
        }
        done += 64;
    }
    done
}

/// Bits to hold `value`.
fn bits(value: u64) -> u32 {
    64 - value.leading_zeros()
}

/// `n` fields of `width` bits, little-endian bit order, plus a spare word.
fn pack_bits(fields: impl Iterator<Item = u64>, n: usize, width: u32) -> Box<[u64]> {
    let mut words = vec![0u64; (n * width as usize).div_ceil(64) + 1];
    if width > 0 {
        for (i, field) in fields.enumerate() {
            let bit = i * width as usize;
            let (word, shift) = (bit / 64, bit % 64);
            words[word] |= field << shift;
            if shift + width as usize > 64 {
                words[word + 1] |= field >> (64 - shift);
            }
        }
    }
    words.into_boxed_slice()
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

    /// The values at `index - 1` (0 for the first) and `index`.
    fn get_pair(&self, index: usize) -> (u64, u64) {
        match self {
            Chunk::Open(_) => (if index == 0 { 0 } else { self.get(index - 1) }, self.get(index)),
            Chunk::Frozen(frozen) => frozen.get_pair(index),
        }
    }

    /// The largest value of a frozen chunk (`None` while it is open).
    pub(super) fn max(&self) -> Option<u64> {
        match self {
            Chunk::Open(_) => None,
            Chunk::Frozen(frozen) => Some(frozen.max),
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
            Chunk::Frozen(frozen) => frozen.bytes(),
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

    /// The values at `index - 1` (0 for the first) and `index` (0 past the end).
    pub(super) fn get_pair(&self, index: usize) -> (u64, u64) {
        let at = index & ((1 << self.shift) - 1);
        match self.chunks.get(index >> self.shift) {
            Some(chunk) if at > 0 => chunk.get_pair(at),
            Some(chunk) => (if index == 0 { 0 } else { self.get(index - 1) }, chunk.get(0)),
            None => (if index == 0 { 0 } else { self.get(index - 1) }, 0),
        }
    }

    /// Values per chunk.
    pub(super) fn chunk_len(&self) -> usize {
        1 << self.shift
    }

    /// Calls `f` with each chunk's values among the first `count`, in order, and the index
    /// of the chunk's first value (a scan reads a chunk at a time, no per-value look-up).
    pub(super) fn for_each_chunk(&self, count: usize, mut f: impl FnMut(usize, &[u64])) {
        let size = self.chunk_len();
        let mut values = vec![0u64; size];
        for (c, chunk) in self.chunks.iter().enumerate() {
            let base = c * size;
            if base >= count {
                break;
            }
            let len = (count - base).min(size);
            chunk.read_into(&mut values[..len]);
            f(base, &values[..len]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_chunks_read_back_every_width() {
        const CHUNK: usize = 4096;
        // Every width (the group kernels are one per width), and the widths around words.
        for shift in (0u32..=64).filter(|s| *s <= 20 || s % 5 == 0 || (31..=33).contains(s) || *s >= 62) {
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
            assert!(matches!(packed.chunks[2], Chunk::Open(_)));
            let Chunk::Frozen(frozen) = &packed.chunks[0] else { panic!("the first chunk is full") };
            // Offsets of up to 32 bits take FastLanes blocks, wider ones 64-bit fields.
            assert_eq!(matches!(frozen.layout, Layout::Lanes(_)), frozen.width <= 32, "width {shift}");
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(packed.get(i), v, "width {shift}, value {i}");
            }
            let mut buf = vec![0u64; CHUNK];
            packed.chunks[1].read_into(&mut buf);
            assert_eq!(&buf[..], &values[CHUNK..2 * CHUNK]);
            // A read that ends inside a group of 64: whole groups, then one by one.
            let mut part = vec![0u64; 64 * 3 + 17];
            packed.chunks[0].read_into(&mut part);
            assert_eq!(&part[..], &values[..part.len()], "width {shift}, a partial read");
        }
    }

    #[test]
    fn constant_and_small_chunks_read_back() {
        // A constant chunk packs at width 0; chunks shorter than a block pad their one block.
        for (shift, values) in [(12, vec![7u64 << 40; 4096 + 5]), (3, (0..50u64).map(|i| 1_000 + i * i).collect())] {
            let log = PackedLog::new(shift);
            values.iter().for_each(|&v| _ = log.push(v));
            let (_, packed) = log.snapshot();
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(packed.get(i), v, "value {i}");
            }
            let size = 1 << shift;
            for (c, chunk) in packed.chunks.iter().enumerate().take(values.len() / size) {
                let mut buf = vec![0u64; size];
                chunk.read_into(&mut buf);
                assert_eq!(&buf[..], &values[c * size..(c + 1) * size], "chunk {c}");
            }
        }
    }

    #[test]
    fn chunks_that_never_decrease_are_delta_coded_when_smaller() {
        const CHUNK: usize = 4096;
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |bound: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % bound
        };
        // Ends of values 6–12 bytes long, a run of empty ones, and one huge value.
        let mut end = 1u64 << 40;
        let ends: Vec<u64> = (0..CHUNK * 2 + 77)
            .map(|i| {
                end += match i {
                    100..=140 => 0,
                    5_000 => 300_000,
                    _ => 6 + next(7),
                };
                end
            })
            .collect();
        // A step as wide as the range (deltas do not pay), and a chunk that decreases once.
        let wide: Vec<u64> = (0..CHUNK).map(|i| if i < CHUNK / 2 { 5 } else { 1 << 20 }).collect();
        let mut dips: Vec<u64> = (0..CHUNK as u64).map(|i| i * 3).collect();
        dips[2_000] = 0;
        for (values, delta) in [(&ends, true), (&wide, false), (&dips, false)] {
            let log = PackedLog::new(12);
            for &v in values.iter() {
                log.push(v);
            }
            let (_, packed) = log.snapshot();
            let Chunk::Frozen(frozen) = &packed.chunks[0] else { panic!("the first chunk is full") };
            assert_eq!(matches!(frozen.layout, Layout::Fields { checkpoints: Some(_), .. }), delta, "delta-coded");
            for (i, &v) in values.iter().enumerate() {
                assert_eq!(packed.get(i), v, "value {i}");
                assert_eq!(packed.get_pair(i), (if i == 0 { 0 } else { values[i - 1] }, v), "pair at {i}");
            }
            for (c, chunk) in packed.chunks.iter().enumerate().take(values.len() / CHUNK) {
                let mut buf = vec![0u64; CHUNK];
                chunk.read_into(&mut buf);
                assert_eq!(&buf[..], &values[c * CHUNK..(c + 1) * CHUNK], "chunk {c}");
                let mut part = vec![0u64; 45];
                chunk.read_into(&mut part);
                assert_eq!(&part[..], &values[c * CHUNK..c * CHUNK + 45], "a partial read of chunk {c}");
            }
        }
        // 4 bits a step and a checkpoint each 32 values, where offsets took 15 bits.
        let log = PackedLog::new(12);
        ends[..CHUNK].iter().for_each(|&v| _ = log.push(v));
        assert!(log.bytes_allocated() < CHUNK * 5 / 8 + 200, "{} bytes", log.bytes_allocated());
    }
}
