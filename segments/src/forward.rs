//! Forward indexes: doc id → value (or dictionary id).

use crate::ascending::{self, Ascending};
use crate::bitpack::{self, BLOCK};
use crate::error::Malformed;
use crate::format::{pad_to_8, put_u32, put_u64, u32_at, u64_at, Cursor};
use crate::physical::Physical;
use cuvee_catalog::RawCodec;
use std::borrow::Cow;

/// Docs per chunk of a raw column.
pub const RAW_DOCS_PER_CHUNK_FIXED: u32 = 4096;
pub const RAW_DOCS_PER_CHUNK_VAR: u32 = 1024;
const ZSTD_LEVEL: i32 = 3;

/// The codec words of a chunked `forward.raw` section (1 is FSST, `coded_strings`): how
/// each chunk's frame is compressed.
pub const RAW_CODEC_ZSTD: u32 = 0;
pub const RAW_CODEC_LZ4: u32 = 2;
pub const RAW_CODEC_SNAPPY: u32 = 3;
pub const RAW_CODEC_NONE: u32 = 4;

/// The most a chunk may decompress to: a frame's own header says how much, and a damaged
/// one must not size an allocation.
const MAX_CHUNK_BYTES: usize = 1 << 30;

fn codec_word(codec: RawCodec) -> u32 {
    match codec {
        RawCodec::Zstd => RAW_CODEC_ZSTD,
        RawCodec::Lz4 => RAW_CODEC_LZ4,
        RawCodec::Snappy => RAW_CODEC_SNAPPY,
        RawCodec::PassThrough => RAW_CODEC_NONE,
    }
}

fn compress(codec: RawCodec, plain: Vec<u8>) -> Vec<u8> {
    match codec {
        RawCodec::Zstd => zstd::bulk::compress(&plain, ZSTD_LEVEL).unwrap_or_default(),
        RawCodec::Lz4 => lz4_flex::block::compress_prepend_size(&plain),
        RawCodec::Snappy => snap::raw::Encoder::new().compress_vec(&plain).unwrap_or_default(),
        RawCodec::PassThrough => plain,
    }
}

/// Chunk `chunk`'s frame, decompressed by the section's codec.
fn decompress(codec: u32, frame: &[u8], chunk: usize) -> Result<Vec<u8>, Malformed> {
    let damaged = |e: &dyn std::fmt::Display| Malformed(format!("chunk {chunk} does not decompress: {e}"));
    let sized = |size: usize| {
        if size > MAX_CHUNK_BYTES {
            return Err(Malformed(format!(
                "chunk {chunk} claims {size} bytes, over the {MAX_CHUNK_BYTES} a chunk may hold"
            )));
        }
        Ok(vec![0u8; size])
    };
    match codec {
        RAW_CODEC_ZSTD => {
            let capacity = zstd::bulk::Decompressor::upper_bound(frame).unwrap_or(64 << 20).min(MAX_CHUNK_BYTES);
            zstd::bulk::decompress(frame, capacity).map_err(|e| damaged(&e))
        }
        RAW_CODEC_LZ4 => {
            let (size, block) = frame.split_at_checked(4).ok_or_else(|| damaged(&"no size"))?;
            let mut plain = sized(u32_at(size, 0) as usize)?;
            let written = lz4_flex::block::decompress_into(block, &mut plain).map_err(|e| damaged(&e))?;
            if written != plain.len() {
                return Err(damaged(&format!("{written} bytes, {} announced", plain.len())));
            }
            Ok(plain)
        }
        RAW_CODEC_SNAPPY => {
            let mut plain = sized(snap::raw::decompress_len(frame).map_err(|e| damaged(&e))?)?;
            let written = snap::raw::Decoder::new().decompress(frame, &mut plain).map_err(|e| damaged(&e))?;
            plain.truncate(written);
            Ok(plain)
        }
        RAW_CODEC_NONE => Ok(frame.to_vec()),
        other => Err(Malformed(format!("unknown raw chunk codec {other}"))),
    }
}

pub fn write_ids(ids: &[u32], width: u32, out: &mut Vec<u8>) {
    put_u32(out, width);
    put_u32(out, ids.len() as u32);
    let mut packed = Vec::new();
    bitpack::pack(ids, width, &mut packed);
    out.extend_from_slice(bytemuck::cast_slice(&packed));
}

/// Format v3: u32 doc count, u32 reserved, the `doc count + 1` offsets as an `ascending`
/// sequence (a few bits per doc: deltas from each block's first offset), then the bit-packed
/// ids.
pub fn write_mv_ids(offsets: &[u32], ids: &[u32], width: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put_u32(&mut out, (offsets.len() - 1) as u32);
    put_u32(&mut out, 0);
    let offsets: Vec<u64> = offsets.iter().map(|&o| o as u64).collect();
    // u32 offsets never span 2^32 within a block, so this always encodes.
    out.extend_from_slice(&ascending::encode(&offsets).unwrap_or_default());
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
            cursor.u32()?;
            // The walk below checks every doc's offsets when `deep`.
            let sequence = Ascending::open(&mut cursor, false)?;
            if sequence.len() != num_docs + 1 {
                return Err(Malformed(format!("{} offsets for {num_docs} docs", sequence.len())));
            }
            MvOffsets::Ascending(sequence)
        };
        cursor.align8();
        let ids = PackedIds::open(&mut cursor, max_id)?;
        let mv = MvIds { num_docs, offsets, ids };
        let mut previous = 0;
        for d in (0..=num_docs).filter(|_| deep) {
            let o = mv.offset(d);
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

    fn offset(&self, doc: usize) -> usize {
        match &self.offsets {
            MvOffsets::Plain(bytes) => u32_at(bytes, 4 * doc) as usize,
            MvOffsets::Packed(packed) => packed.get(doc) as usize,
            MvOffsets::Ascending(sequence) => sequence.get(doc) as usize,
        }
    }

    pub fn range(&self, doc: usize) -> (usize, usize) {
        (self.offset(doc), self.offset(doc + 1))
    }
}

/// The values of one doc of a raw column, in physical form.
pub enum RawValues {
    Fixed(Vec<u64>),
    Var(Vec<Vec<u8>>),
}

/// Writes a raw forward index in chunks compressed by `codec`. `doc_values(d)` gives doc
/// `d`'s values (one for single-value).
pub fn write_raw(
    num_docs: usize,
    physical: Physical,
    multi_value: bool,
    codec: RawCodec,
    mut doc_values: impl FnMut(usize, &mut ChunkWriter),
) -> Vec<u8> {
    let per_chunk = match physical {
        Physical::Fixed(_) => RAW_DOCS_PER_CHUNK_FIXED,
        Physical::Var(_) => RAW_DOCS_PER_CHUNK_VAR,
    } as usize;
    let chunks = num_docs.div_ceil(per_chunk);
    let mut frames = Vec::new();
    let mut offsets = vec![0u64];
    for c in 0..chunks {
        let mut writer =
            ChunkWriter { physical, doc_offsets: vec![0], values: Vec::new(), var_offsets: vec![0], count: 0 };
        for d in c * per_chunk..((c + 1) * per_chunk).min(num_docs) {
            doc_values(d, &mut writer);
            writer.doc_offsets.push(writer.count);
        }
        let plain = writer.finish(multi_value);
        frames.extend_from_slice(&compress(codec, plain));
        offsets.push(frames.len() as u64);
    }
    let mut out = Vec::with_capacity(16 + 8 * offsets.len() + frames.len());
    put_u32(&mut out, num_docs as u32);
    put_u32(&mut out, per_chunk as u32);
    put_u32(&mut out, chunks as u32);
    put_u32(&mut out, codec_word(codec));
    for o in offsets {
        put_u64(&mut out, o);
    }
    out.extend_from_slice(&frames);
    out
}

pub struct ChunkWriter {
    physical: Physical,
    doc_offsets: Vec<u32>,
    values: Vec<u8>,
    var_offsets: Vec<u32>,
    count: u32,
}

impl ChunkWriter {
    pub fn push_key(&mut self, key: u64) {
        if let Physical::Fixed(kind) = self.physical {
            kind.write_native(key, &mut self.values);
            self.count += 1;
        }
    }

    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.values.extend_from_slice(bytes);
        self.var_offsets.push(self.values.len() as u32);
        self.count += 1;
    }

    fn finish(self, multi_value: bool) -> Vec<u8> {
        let mut out = Vec::new();
        if multi_value {
            for o in &self.doc_offsets {
                put_u32(&mut out, *o);
            }
        }
        if let Physical::Var(_) = self.physical {
            for o in &self.var_offsets {
                put_u32(&mut out, *o);
            }
        }
        out.extend_from_slice(&self.values);
        out
    }
}

/// A raw forward index, decompressed chunk by chunk on demand.
pub struct RawForward<'a> {
    pub num_docs: usize,
    per_chunk: usize,
    chunk_offsets: &'a [u8],
    frames: &'a [u8],
    physical: Physical,
    multi_value: bool,
    codec: u32,
}

/// One decompressed chunk.
pub struct RawChunk {
    pub first_doc: usize,
    doc_offsets: Vec<u32>,
    var_offsets: Vec<u32>,
    values: Vec<u8>,
    physical: Physical,
}

impl<'a> RawForward<'a> {
    pub fn open(bytes: &'a [u8], physical: Physical, multi_value: bool) -> Result<RawForward<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let num_docs = cursor.u32()? as usize;
        let per_chunk = cursor.u32()? as usize;
        let chunks = cursor.u32()? as usize;
        let codec = cursor.u32()?;
        if ![RAW_CODEC_ZSTD, RAW_CODEC_LZ4, RAW_CODEC_SNAPPY, RAW_CODEC_NONE].contains(&codec) {
            return Err(Malformed(format!("unknown raw chunk codec {codec}")));
        }
        if per_chunk == 0 || num_docs.div_ceil(per_chunk) != chunks {
            return Err(Malformed(format!("{chunks} chunks of {per_chunk} docs cannot hold {num_docs} docs")));
        }
        let chunk_offsets = cursor.take(8 * (chunks + 1))?;
        let frames = cursor.rest();
        if u64_at(chunk_offsets, 8 * chunks) as usize != frames.len() {
            return Err(Malformed("chunk table does not match the compressed data".into()));
        }
        Ok(RawForward { num_docs, per_chunk, chunk_offsets, frames, physical, multi_value, codec })
    }

    /// The chunks' codec, for size reports.
    pub fn codec_name(&self) -> &'static str {
        match self.codec {
            RAW_CODEC_LZ4 => "lz4",
            RAW_CODEC_SNAPPY => "snappy",
            RAW_CODEC_NONE => "none",
            _ => "zstd",
        }
    }

    pub fn chunk_of(&self, doc: usize) -> usize {
        doc / self.per_chunk
    }

    pub fn chunk_count(&self) -> usize {
        self.num_docs.div_ceil(self.per_chunk)
    }

    /// The docs chunk `chunk` holds.
    pub fn chunk_docs(&self, chunk: usize) -> std::ops::Range<usize> {
        chunk * self.per_chunk..((chunk + 1) * self.per_chunk).min(self.num_docs)
    }

    pub fn read_chunk(&self, chunk: usize) -> Result<RawChunk, Malformed> {
        let start = u64_at(self.chunk_offsets, 8 * chunk) as usize;
        let end = u64_at(self.chunk_offsets, 8 * (chunk + 1)) as usize;
        if start > end || end > self.frames.len() {
            return Err(Malformed(format!("chunk {chunk} offsets are out of range")));
        }
        let plain = decompress(self.codec, &self.frames[start..end], chunk)?;
        let first_doc = chunk * self.per_chunk;
        let docs = self.per_chunk.min(self.num_docs - first_doc);
        let mut cursor = Cursor::new(&plain);
        let doc_offsets: Vec<u32> = if self.multi_value {
            (0..=docs).map(|_| cursor.u32()).collect::<Result<_, _>>()?
        } else {
            (0..=docs as u32).collect()
        };
        let count = *doc_offsets.last().unwrap_or(&0) as usize;
        let var_offsets: Vec<u32> = match self.physical {
            Physical::Var(_) => (0..=count).map(|_| cursor.u32()).collect::<Result<_, _>>()?,
            Physical::Fixed(_) => Vec::new(),
        };
        let values = cursor.rest().to_vec();
        let needed = match self.physical {
            Physical::Fixed(kind) => count * kind.width(),
            Physical::Var(_) => *var_offsets.last().unwrap_or(&0) as usize,
        };
        if values.len() != needed
            || doc_offsets.windows(2).any(|w| w[0] > w[1])
            || var_offsets.windows(2).any(|w| w[0] > w[1])
        {
            return Err(Malformed(format!("chunk {chunk} holds {} value bytes, expected {needed}", values.len())));
        }
        Ok(RawChunk { first_doc, doc_offsets, var_offsets, values, physical: self.physical })
    }
}

impl RawChunk {
    /// The physical values of `doc` (which must be in this chunk).
    pub fn doc_values(&self, doc: usize) -> RawValues {
        let i = doc - self.first_doc;
        let (start, end) = (self.doc_offsets[i] as usize, self.doc_offsets[i + 1] as usize);
        match self.physical {
            Physical::Fixed(kind) => {
                RawValues::Fixed((start..end).map(|v| kind.read_native(&self.values[v * kind.width()..])).collect())
            }
            Physical::Var(_) => RawValues::Var(
                (start..end)
                    .map(|v| self.values[self.var_offsets[v] as usize..self.var_offsets[v + 1] as usize].to_vec())
                    .collect(),
            ),
        }
    }

    pub fn key(&self, doc: usize) -> u64 {
        let i = self.doc_offsets[doc - self.first_doc] as usize;
        match self.physical {
            Physical::Fixed(kind) => kind.read_native(&self.values[i * kind.width()..]),
            Physical::Var(_) => 0,
        }
    }

    pub fn bytes(&self, doc: usize) -> &[u8] {
        let i = self.doc_offsets[doc - self.first_doc] as usize;
        &self.values[self.var_offsets[i] as usize..self.var_offsets[i + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physical::{FixedKind, VarKind};

    const CODECS: [RawCodec; 4] = [RawCodec::Zstd, RawCodec::Lz4, RawCodec::Snappy, RawCodec::PassThrough];

    /// `docs` docs of 0–3 values each (one for single-value), fixed keys or bytes.
    fn raw_column(codec: RawCodec, physical: Physical, multi_value: bool, docs: usize) -> Vec<u8> {
        write_raw(docs, physical, multi_value, codec, |doc, chunk| {
            for v in 0..if multi_value { doc % 4 } else { 1 } {
                match physical {
                    Physical::Fixed(_) => chunk.push_key((doc * 31 + v) as u64),
                    Physical::Var(_) => chunk.push_bytes(format!("value {doc}/{v}").repeat(doc % 3).as_bytes()),
                }
            }
        })
    }

    /// Every block codec reads back every doc, fixed and variable width, single and
    /// multi-value, over several chunks.
    #[test]
    fn every_block_codec_reads_back_every_doc() {
        for codec in CODECS {
            for (physical, multi_value) in [
                (Physical::Fixed(FixedKind::Long), false),
                (Physical::Fixed(FixedKind::Long), true),
                (Physical::Var(VarKind::String), false),
                (Physical::Var(VarKind::String), true),
            ] {
                let docs = 9000;
                let bytes = raw_column(codec, physical, multi_value, docs);
                let raw = RawForward::open(&bytes, physical, multi_value).expect("opens");
                assert_eq!(
                    raw.codec_name(),
                    ["zstd", "lz4", "snappy", "none"][CODECS.iter().position(|c| *c == codec).unwrap()]
                );
                for chunk in 0..raw.chunk_count() {
                    let read = raw.read_chunk(chunk).expect("a chunk");
                    for doc in raw.chunk_docs(chunk) {
                        let count = if multi_value { doc % 4 } else { 1 };
                        match (read.doc_values(doc), physical) {
                            (RawValues::Fixed(keys), _) => {
                                assert_eq!(
                                    keys,
                                    (0..count).map(|v| (doc * 31 + v) as u64).collect::<Vec<_>>(),
                                    "{codec:?} doc {doc}"
                                )
                            }
                            (RawValues::Var(values), _) => {
                                let expected: Vec<Vec<u8>> = (0..count)
                                    .map(|v| format!("value {doc}/{v}").repeat(doc % 3).into_bytes())
                                    .collect();
                                assert_eq!(values, expected, "{codec:?} doc {doc}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// A damaged frame (bytes of the first chunk's frame flipped in turn, or the section
    /// cut short) is an error or values, never a panic or an allocation the frame sized.
    #[test]
    fn damaged_frames_are_errors_not_panics() {
        let physical = Physical::Var(VarKind::String);
        for codec in CODECS {
            let bytes = raw_column(codec, physical, true, 1500);
            let table_end = 16 + 8 * 3;
            let first_frame_end = table_end + u64_at(&bytes, 24) as usize;
            // Every byte of the frame's head (sizes, offsets), every 7th past it.
            let positions = (table_end..first_frame_end).filter(|at| at - table_end < 512 || at % 7 == 0);
            for at in positions {
                let flips: &[u8] = if at - table_end < 512 { &[0x01, 0x80, 0xff] } else { &[0xff] };
                for &flip in flips {
                    let mut damaged = bytes.clone();
                    damaged[at] ^= flip;
                    if let Ok(raw) = RawForward::open(&damaged, physical, true) {
                        let _ = raw.read_chunk(0);
                    }
                }
            }
            for cut in [table_end + 1, first_frame_end - 1, bytes.len() - 1] {
                if let Ok(raw) = RawForward::open(&bytes[..cut], physical, true) {
                    let _ = raw.read_chunk(0);
                    let _ = raw.read_chunk(1);
                }
            }
        }
        // A codec word this reader does not know is refused at open.
        let mut unknown = raw_column(RawCodec::Lz4, physical, false, 10);
        unknown[12] = 9;
        assert!(RawForward::open(&unknown, physical, false).is_err());
    }

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
