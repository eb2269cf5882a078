//! A raw (no-dictionary) column's forward index: its values in chunks of 1,024 docs (4,096
//! fixed-width), each chunk compressed by the block codec the column chose (`forward.raw`
//! codecs 0 and 2–6; codec 1, FSST, is `coded_strings`), decompressed one chunk at a time.
//! Codecs 5 and 6 first turn a chunk's fixed-width values into their differences (of
//! differences) as integers of the value's width, wrapping, then zstd the result: a
//! transform any bits survive, so a reader checks nothing about the values.

use crate::error::Malformed;
use crate::format::{put_u32, put_u64, u32_at, u64_at, Cursor};
use crate::physical::Physical;
use cuvee_catalog::RawCodec;

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
pub const RAW_CODEC_DELTA: u32 = 5;
pub const RAW_CODEC_DELTA_DELTA: u32 = 6;
const KNOWN_CODECS: [u32; 6] =
    [RAW_CODEC_ZSTD, RAW_CODEC_LZ4, RAW_CODEC_SNAPPY, RAW_CODEC_NONE, RAW_CODEC_DELTA, RAW_CODEC_DELTA_DELTA];

/// The most a chunk may decompress to: a frame's own header says how much, and a damaged
/// one must not size an allocation.
const MAX_CHUNK_BYTES: usize = 1 << 30;

fn codec_word(codec: RawCodec) -> u32 {
    match codec {
        RawCodec::Zstd => RAW_CODEC_ZSTD,
        RawCodec::Lz4 => RAW_CODEC_LZ4,
        RawCodec::Snappy => RAW_CODEC_SNAPPY,
        RawCodec::PassThrough => RAW_CODEC_NONE,
        RawCodec::Delta => RAW_CODEC_DELTA,
        RawCodec::DeltaDelta => RAW_CODEC_DELTA_DELTA,
    }
}

/// Starts a `forward.raw` section whose values are each stored alone (FSST codes, hex
/// slots): the doc count, no docs per chunk and no chunks, the codec.
pub(crate) fn put_unchunked_header(out: &mut Vec<u8>, num_docs: u32, codec: u32) {
    put_u32(out, num_docs);
    put_u32(out, 0);
    put_u32(out, 0);
    put_u32(out, codec);
}

/// Reads the header [`put_unchunked_header`] wrote, checking its codec (`name` says which
/// it should be); returns the doc count.
pub(crate) fn read_unchunked_header(cursor: &mut Cursor, codec: u32, name: &str) -> Result<usize, Malformed> {
    let num_docs = cursor.u32()? as usize;
    cursor.take(8)?;
    match cursor.u32()? {
        found if found == codec => Ok(num_docs),
        found => Err(Malformed(format!("raw codec {found} where {name} ({codec}) was expected"))),
    }
}

/// How many times a codec takes differences of a chunk's values before compressing.
fn delta_order(codec: u32) -> usize {
    match codec {
        RAW_CODEC_DELTA => 1,
        RAW_CODEC_DELTA_DELTA => 2,
        _ => 0,
    }
}

/// `values` (`width`-byte little-endian integers) replaced by their differences from the
/// value before, wrapping (the first kept), `order` times.
fn take_differences(values: &mut [u8], width: usize, order: usize) {
    for _ in 0..order {
        let mut before = 0u64;
        for value in values.chunks_exact_mut(width) {
            let current = read_le(value);
            write_le(value, current.wrapping_sub(before));
            before = current;
        }
    }
}

/// The inverse of [`take_differences`]: running sums, `order` times.
fn add_up_differences(values: &mut [u8], width: usize, order: usize) {
    for _ in 0..order {
        let mut sum = 0u64;
        for value in values.chunks_exact_mut(width) {
            sum = sum.wrapping_add(read_le(value));
            write_le(value, sum);
        }
    }
}

/// A little-endian integer of up to 8 bytes. Arithmetic on it in 64 bits and writing back
/// its low bytes wraps at its own width.
fn read_le(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

fn write_le(bytes: &mut [u8], value: u64) {
    let width = bytes.len();
    bytes.copy_from_slice(&value.to_le_bytes()[..width]);
}

fn compress(codec: RawCodec, plain: Vec<u8>) -> Vec<u8> {
    match codec {
        RawCodec::Zstd => zstd::bulk::compress(&plain, ZSTD_LEVEL).unwrap_or_default(),
        RawCodec::Lz4 => lz4_flex::block::compress_prepend_size(&plain),
        RawCodec::Snappy => snap::raw::Encoder::new().compress_vec(&plain).unwrap_or_default(),
        RawCodec::PassThrough => plain,
        // The differences were taken as the chunk was finished.
        RawCodec::Delta | RawCodec::DeltaDelta => zstd::bulk::compress(&plain, ZSTD_LEVEL).unwrap_or_default(),
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
        RAW_CODEC_ZSTD | RAW_CODEC_DELTA | RAW_CODEC_DELTA_DELTA => {
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
        let plain = writer.finish(multi_value, delta_order(codec_word(codec)));
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

    /// The chunk's plain frame, its fixed-width values as differences `order` times.
    fn finish(mut self, multi_value: bool, order: usize) -> Vec<u8> {
        if let Physical::Fixed(kind) = self.physical {
            take_differences(&mut self.values, kind.width(), order);
        }
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
        if !KNOWN_CODECS.contains(&codec) {
            return Err(Malformed(format!("unknown raw chunk codec {codec}")));
        }
        if delta_order(codec) > 0 && !matches!(physical, Physical::Fixed(_)) {
            return Err(Malformed(format!("raw chunk codec {codec} (differences) on variable-width values")));
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
            RAW_CODEC_DELTA => "delta",
            RAW_CODEC_DELTA_DELTA => "deltadelta",
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
        let mut values = cursor.rest().to_vec();
        if let Physical::Fixed(kind) = self.physical {
            add_up_differences(&mut values, kind.width(), delta_order(self.codec));
        }
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

    const CODECS: [RawCodec; 6] =
        [RawCodec::Zstd, RawCodec::Lz4, RawCodec::Snappy, RawCodec::PassThrough, RawCodec::Delta, RawCodec::DeltaDelta];

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
                (Physical::Fixed(FixedKind::Int), false),
                (Physical::Var(VarKind::String), false),
                (Physical::Var(VarKind::String), true),
            ] {
                let docs = 9000;
                let bytes = raw_column(codec, physical, multi_value, docs);
                let differences = delta_order(codec_word(codec)) > 0;
                if differences && matches!(physical, Physical::Var(_)) {
                    assert!(RawForward::open(&bytes, physical, multi_value).is_err(), "differences of bytes");
                    continue;
                }
                let raw = RawForward::open(&bytes, physical, multi_value).expect("opens");
                assert_eq!(
                    raw.codec_name(),
                    ["zstd", "lz4", "snappy", "none", "delta", "deltadelta"]
                        [CODECS.iter().position(|c| *c == codec).unwrap()]
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
        for codec in CODECS {
            // Two chunks of either width.
            let (physical, docs) = match delta_order(codec_word(codec)) {
                0 => (Physical::Var(VarKind::String), 1500),
                _ => (Physical::Fixed(FixedKind::Long), 5000),
            };
            let bytes = raw_column(codec, physical, true, docs);
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
        let physical = Physical::Var(VarKind::String);
        let mut unknown = raw_column(RawCodec::Lz4, physical, false, 10);
        unknown[12] = 9;
        assert!(RawForward::open(&unknown, physical, false).is_err());
    }

    /// Differences of any bits, at both widths and orders, add up to the same bits, and a
    /// time column at a steady rate is nearly all zeros after two orders.
    #[test]
    fn differences_add_up_to_any_bits() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let bytes: Vec<u8> = (0..4096 * 8 + 5)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        for width in [4, 8] {
            for order in [1, 2] {
                let mut values = bytes.clone();
                take_differences(&mut values, width, order);
                assert_ne!(values, bytes);
                add_up_differences(&mut values, width, order);
                assert_eq!(values, bytes, "width {width}, order {order}");
            }
        }
        let mut times: Vec<u8> = (0..4096i64).flat_map(|i| (1_600_000_000_000 + i * 60_000).to_le_bytes()).collect();
        take_differences(&mut times, 8, 2);
        assert!(times[16..].iter().all(|&b| b == 0), "a steady step leaves zeros past the first two values");
    }
}
