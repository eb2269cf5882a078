//! Forward indexes: doc id → value (or dictionary id). Dictionary ids, bit-packed, are
//! here; a raw column's chunked values and their block codecs are in `raw.rs`.

mod raw;

pub(crate) use raw::{put_unchunked_header, read_unchunked_header};
pub use raw::{
    write_raw, ChunkWriter, RawChunk, RawForward, RawValues, RAW_CODEC_DELTA, RAW_CODEC_DELTA_DELTA, RAW_CODEC_LZ4,
    RAW_CODEC_NONE, RAW_CODEC_SNAPPY, RAW_CODEC_ZSTD,
};

use crate::ascending::{self, Ascending};
use crate::bitpack::{self, BLOCK};
use crate::error::Malformed;
use crate::format::{pad_to_8, put_u32, u32_at, Cursor};
use crate::steps::{self, Steps, StepsCursor};
use std::borrow::Cow;

pub fn write_ids(ids: &[u32], width: u32, out: &mut Vec<u8>) {
    put_u32(out, width);
    put_u32(out, ids.len() as u32);
    let mut packed = Vec::new();
    bitpack::pack(ids, width, &mut packed);
    out.extend_from_slice(bytemuck::cast_slice(&packed));
}

/// Codecs of a `forward.mv_ids` section's offsets (its second word; 0 before version 9).
const MV_OFFSETS_ASCENDING: u32 = 0;
pub const MV_OFFSETS_STEPS: u32 = 1;

/// Format v3: u32 doc count, u32 codec, the `doc count + 1` offsets — as an `ascending`
/// sequence (codec 0: residuals above a line per 1,024 docs), or from version 9 as `steps`
/// (codec 1: each doc's value count, where that is smaller) — then the bit-packed ids.
pub fn write_mv_ids(offsets: &[u32], ids: &[u32], width: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put_u32(&mut out, (offsets.len() - 1) as u32);
    let offsets: Vec<u64> = offsets.iter().map(|&o| o as u64).collect();
    // u32 offsets never span 2^32 within a block, so this always encodes.
    let ascending = ascending::encode(&offsets).unwrap_or_default();
    match steps::encode(&offsets).filter(|steps| steps.len() < ascending.len()) {
        Some(steps) => {
            put_u32(&mut out, MV_OFFSETS_STEPS);
            out.extend_from_slice(&steps);
        }
        None => {
            put_u32(&mut out, MV_OFFSETS_ASCENDING);
            out.extend_from_slice(&ascending);
        }
    }
    pad_to_8(&mut out);
    write_ids(ids, width, &mut out);
    out
}

/// Dictionary ids by doc: bit-packed, read in place (copied only if the mapping is
/// misaligned), or — for the sorted column, whose ids only go up — read off the sorted
/// index's doc starts, so the column stores no forward index at all (format v3).
pub struct PackedIds<'a> {
    pub width: u32,
    pub len: usize,
    source: IdSource<'a>,
}

enum IdSource<'a> {
    Words(Cow<'a, [u32]>),
    /// Id `i` covers docs `starts[i]..starts[i + 1]`.
    Runs(Ascending<'a>),
}

impl<'a> PackedIds<'a> {
    pub fn open(cursor: &mut Cursor<'a>, max_id: usize) -> Result<PackedIds<'a>, Malformed> {
        let width = cursor.u32()?;
        let len = cursor.u32()? as usize;
        if width > 32 {
            return Err(Malformed(format!("bit width {width} is over 32")));
        }
        if max_id > 0 && (bitpack::width_for(max_id as u32 - 1)) > width && len > 0 {
            return Err(Malformed(format!("bit width {width} cannot hold {max_id} dictionary ids")));
        }
        let bytes = cursor.take(len.div_ceil(BLOCK) * bitpack::block_words(width) * 4)?;
        let words = match bytemuck::try_cast_slice::<u8, u32>(bytes) {
            Ok(words) => Cow::Borrowed(words),
            Err(_) => Cow::Owned(bytes.chunks_exact(4).map(|c| u32_at(c, 0)).collect()),
        };
        Ok(PackedIds { width, len, source: IdSource::Words(words) })
    }

    /// The ids of a sorted column from its doc starts (`cardinality + 1` values, from 0 to
    /// the doc count, checked by the sorted index when it opened).
    pub fn from_runs(starts: Ascending<'a>) -> PackedIds<'a> {
        let cardinality = starts.len().saturating_sub(1);
        PackedIds {
            width: bitpack::width_for(cardinality.saturating_sub(1) as u32),
            len: starts.last().unwrap_or(0) as usize,
            source: IdSource::Runs(starts),
        }
    }

    pub fn get(&self, index: usize) -> u32 {
        match &self.source {
            IdSource::Words(words) => bitpack::get(words, self.width, index),
            IdSource::Runs(starts) => run_of(starts, index as u64, 0) as u32,
        }
    }

    /// Unpacks block `b` (docs `b*1024 ..`); returns how many of its values are real.
    pub fn unpack(&self, b: usize, out: &mut [u32; BLOCK]) -> usize {
        let real = (self.len - b * BLOCK).min(BLOCK);
        match &self.source {
            IdSource::Words(words) => {
                let block_words = bitpack::block_words(self.width);
                if block_words == 0 {
                    out.fill(0);
                } else {
                    bitpack::unpack_block(&words[b * block_words..(b + 1) * block_words], self.width, out);
                }
            }
            IdSource::Runs(starts) => {
                let first = b * BLOCK;
                let mut id = run_of(starts, first as u64, 0);
                let mut next = starts.get(id + 1) as usize;
                for (i, slot) in out[..real].iter_mut().enumerate() {
                    while first + i >= next {
                        id += 1;
                        next = starts.get(id + 1) as usize;
                    }
                    *slot = id as u32;
                }
                out[real..].fill(0);
            }
        }
        real
    }

    pub fn blocks(&self) -> usize {
        self.len.div_ceil(BLOCK)
    }

    /// Checks that every value is below `limit` (a dictionary id must name an entry). One
    /// sequential unpack, done when a segment opens.
    pub fn check_below(&self, limit: usize) -> Result<(), Malformed> {
        let mut block = [0u32; BLOCK];
        for b in 0..self.blocks() {
            let valid = self.unpack(b, &mut block);
            if let Some(bad) = block[..valid].iter().find(|&&v| v as usize >= limit) {
                return Err(Malformed(format!("id {bad} in block {b} is past the dictionary's {limit} entries")));
            }
        }
        Ok(())
    }
}

/// The run holding `doc`: the last `i ≥ from` with `starts[i] ≤ doc` (binary search; runs
/// are non-empty, so that is the one id whose docs include `doc`).
fn run_of(starts: &Ascending, doc: u64, from: usize) -> usize {
    let (mut lo, mut hi) = (from, starts.len().saturating_sub(1));
    while lo + 1 < hi {
        let mid = (lo + hi) / 2;
        if starts.get(mid) <= doc {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Where each doc's values start in the flattened list.
enum MvOffsets<'a> {
    /// Format v1: plain u32 per doc.
    Plain(&'a [u8]),
    /// Format v2: bit-packed.
    Packed(PackedIds<'a>),
    /// Format v3: block frame-of-reference.
    Ascending(Ascending<'a>),
    /// Format v9: each doc's value count.
    Steps(Steps<'a>),
}

/// Multi-value ids: per-doc offsets into a flattened, bit-packed id list.
pub struct MvIds<'a> {
    pub num_docs: usize,
    offsets: MvOffsets<'a>,
    pub ids: PackedIds<'a>,
}

impl<'a> MvIds<'a> {
    /// `deep` checks every doc's offsets (done once, when the segment opens).
    pub fn open(bytes: &'a [u8], max_id: usize, format_version: u32, deep: bool) -> Result<MvIds<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let num_docs = cursor.u32()? as usize;
        let offsets = if format_version == 1 {
            MvOffsets::Plain(cursor.take(4 * (num_docs + 1))?)
        } else if format_version == 2 {
            cursor.u32()?;
            let packed = PackedIds::open(&mut cursor, 0)?;
            if packed.len != num_docs + 1 {
                return Err(Malformed(format!("{} offsets for {num_docs} docs", packed.len)));
            }
            MvOffsets::Packed(packed)
        } else {
            let codec = cursor.u32()?;
            // The walk below checks every doc's offsets when `deep`.
            let (offsets, len) = match codec {
                MV_OFFSETS_ASCENDING => {
                    let sequence = Ascending::open(&mut cursor, false)?;
                    let len = sequence.len();
                    (MvOffsets::Ascending(sequence), len)
                }
                MV_OFFSETS_STEPS if format_version >= 9 => {
                    let steps = Steps::open(&mut cursor)?;
                    let len = steps.len();
                    (MvOffsets::Steps(steps), len)
                }
                other => return Err(Malformed(format!("unknown multi-value offsets codec {other}"))),
            };
            if len != num_docs + 1 {
                return Err(Malformed(format!("{len} offsets for {num_docs} docs")));
            }
            offsets
        };
        cursor.align8();
        let ids = PackedIds::open(&mut cursor, max_id)?;
        let mv = MvIds { num_docs, offsets, ids };
        let mut previous = 0;
        let mut ranges = mv.ranges();
        for d in (0..=num_docs).filter(|_| deep) {
            let o = ranges.offset(d)?;
            if o < previous || o > mv.ids.len {
                return Err(Malformed(format!(
                    "value offset {o} of doc {d} is out of order or past {} values",
                    mv.ids.len
                )));
            }
            previous = o;
        }
        Ok(mv)
    }

    /// How the offsets are stored, for size reports.
    pub fn offsets_codec(&self) -> &'static str {
        match &self.offsets {
            MvOffsets::Plain(_) => "plain",
            MvOffsets::Packed(_) => "packed",
            MvOffsets::Ascending(_) => "ascending",
            MvOffsets::Steps(_) => "steps",
        }
    }

    /// A reader of docs' value ranges; fastest asked in doc order (steps are decoded a
    /// block of 128 docs at a time).
    pub fn ranges(&self) -> MvRanges<'_, 'a> {
        MvRanges { mv: self, steps: None }
    }
}

/// Docs' value ranges in a multi-value column's flattened ids.
pub struct MvRanges<'m, 'a> {
    mv: &'m MvIds<'a>,
    /// For offsets stored as steps: the cursor, made by the first read.
    steps: Option<StepsCursor<'m, 'a>>,
}

impl MvRanges<'_, '_> {
    fn offset(&mut self, doc: usize) -> Result<usize, Malformed> {
        let mv = self.mv;
        Ok(match &mv.offsets {
            MvOffsets::Plain(bytes) => u32_at(bytes, 4 * doc) as usize,
            MvOffsets::Packed(packed) => packed.get(doc) as usize,
            MvOffsets::Ascending(sequence) => sequence.get(doc) as usize,
            MvOffsets::Steps(steps) => self.steps.get_or_insert_with(|| steps.cursor()).get(doc)? as usize,
        })
    }

    /// Doc `doc`'s values are ids `start..end` of the flattened list (checked against its
    /// length when the column opened; damage that reads past it gives an empty range).
    pub fn range(&mut self, doc: usize) -> (usize, usize) {
        let mv = self.mv;
        let pair = match &mv.offsets {
            MvOffsets::Steps(steps) => {
                let cursor = self.steps.get_or_insert_with(|| steps.cursor());
                cursor.pair(doc).map(|(start, end)| (start as usize, end as usize))
            }
            _ => self.offset(doc).and_then(|start| Ok((start, self.offset(doc + 1)?))),
        };
        match pair {
            Ok((start, end)) if start <= end && end <= self.mv.ids.len => (start, end),
            _ => (0, 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_read_off_runs_equal_the_packed_ids() {
        // Id 1's run is empty: readers accept it, so the walk must step over it.
        let starts = [0u64, 3, 3, 1030, 1031, 2100, 2500];
        let ids: Vec<u32> =
            starts.windows(2).enumerate().flat_map(|(id, w)| (w[0]..w[1]).map(move |_| id as u32)).collect();
        let bytes = ascending::encode(&starts).unwrap();
        let words: Vec<u64> = bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        let aligned: &[u8] = bytemuck::cast_slice(&words);
        let runs = PackedIds::from_runs(Ascending::open(&mut Cursor::new(aligned), true).unwrap());
        assert_eq!((runs.len, runs.width), (2500, 3));
        for (doc, &id) in ids.iter().enumerate() {
            assert_eq!(runs.get(doc), id, "doc {doc}");
        }
        let mut block = [0u32; BLOCK];
        for b in 0..runs.blocks() {
            let real = runs.unpack(b, &mut block);
            assert_eq!(&block[..real], &ids[b * BLOCK..b * BLOCK + real], "block {b}");
        }
    }
}
