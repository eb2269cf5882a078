//! # The segment file, byte by byte (format version 10)
//!
//! One segment is one file, `<segment name>.cvs`, so that publishing it to a deep store is a
//! single object put. All integers are little-endian; cuvee refuses to build on big-endian
//! targets rather than silently writing another layout.
//!
//! ```text
//! offset 0   header   8 bytes magic "CUVEESEG", u32 format version, u32 flags (0)
//! 16         sections each starts at a multiple of 8 (zero padding between sections)
//! F          footer   UTF-8 JSON: SegmentMetadata (below), including the section directory
//! end - 32   trailer  u64 footer offset F, u64 footer length, u32 CRC32C of the footer,
//!                     u32 format version, 8 bytes magic "CUVEEEND"
//! ```
//!
//! The footer's `sections` list names, for every section, its column, kind, offset, length
//! and CRC32C. A reader checks the trailer, the footer CRC and every section's CRC when it
//! opens the file; any mismatch, truncation or out-of-range offset is an error naming the
//! segment and file. Unknown section kinds are an error too (a newer writer), and so is a
//! format version above the reader's.
//!
//! ## Section kinds
//!
//! | kind | used for | layout |
//! |---|---|---|
//! | `dictionary` | dictionary-encoded columns | u32 codec, u32 reserved, then by codec. Fixed-width types, codec 0 (plain): `count × width` native values, ascending; codec 1 (packed): the values' order-preserving keys as an `ascending` sequence. Variable-width, codec 0: u32 count, `(count + 1) ×` u32 byte offsets; codec 1: the `count + 1` offsets as an `ascending` sequence; then (either codec) padding to 8 and the bytes, entries ascending (bytes order, BIG_DECIMAL numeric). The writer packs when that is smaller. (Versions 1–2: no codec words; plain only, and no padding before the bytes.) |
//! | `forward.ids` | dictionary-encoded single-value columns (from version 3, not the sorted column: its ids are the runs of its `sorted` section) | u32 bit width `W`, u32 value count `n`, then `⌈n / 1024⌉` bit-packed blocks of `W × 128` bytes (see `bitpack`) |
//! | `forward.mv_ids` | dictionary-encoded multi-value columns | u32 doc count `d`, u32 offsets codec (reserved, 0, before version 9), the `d + 1` offsets into the flattened id list as an `ascending` sequence (codec 0) or from version 9 as `steps` (codec 1: each doc's value count in bit-packed blocks of 128 and the offset at every 128th doc; the writer takes the smaller), padding to 8, then a `forward.ids` body for the flattened ids. (Version 2: the offsets as a `forward.ids` body, width = bits for the value count; version 1: `(d + 1) ×` u32 offsets right after the doc count.) |
//! | `forward.raw` | raw (no-dictionary) columns | u32 doc count, u32 docs per chunk, u32 chunk count `c`, u32 codec. Codec 0 (zstd chunks; the only one, and the word reserved, before version 5), from version 6 codecs 2 (LZ4), 3 (Snappy) and 4 (uncompressed), and from version 7 codecs 5 and 6 (fixed-width values only: zstd chunks whose values are each value's difference from the one before, as a wrapping little-endian integer of the value's width, once for 5 and twice for 6; the first value kept): `(c + 1) ×` u64 chunk offsets relative to the end of this table, then `c` frames of that codec. A frame decompresses to: for multi-value columns `(k + 1) ×` u32 value offsets first; then fixed-width values as `m × width` native values, or variable-width values as `(m + 1) ×` u32 byte offsets and the bytes. Codec 1 (FSST, single-value variable-width columns; docs per chunk and chunk count 0): a symbol table (`symbol_table`), the `doc count + 1` offsets of each doc's codes as an `ascending` sequence, padding to 8, the codes (see `coded_strings`). From version 9 codec 7 (hex, single-value variable-width columns): the values' shape, the exceptions and their values, then each doc's digits as nibbles in a fixed-width slot (see `hex_strings`). The writer stores a string column as hex slots when one shape holds all but one doc in 64, else with FSST when that codes a sample of it at least 1/8 smaller |
//! | `inverted` | inverted index | u32 codec, u32 reserved, u32 id count `k`, u32 reserved, then codec 0 (roaring): `(k + 1) ×` u64 offsets relative to the end of this table, then one roaring bitmap (portable serialisation) per dictionary id; codec 1 (postings): the `k + 1` offsets into the doc list as an `ascending` sequence, padding to 8, then a `forward.ids` body holding every id's docs (ascending within an id), id after id; from version 8 codec 2 (gaps): every id's docs as gaps in bit-packed blocks of 128 (see `delta_postings`; a dense id's list there is empty), padding to 8, u32 dense id count `r`, u32 reserved, `r ×` u32 dense ids ascending, padding to 8, then `(r + 1) ×` u64 offsets relative to the end of that table and the dense ids' roaring bitmaps, in that order. The writer picks the smallest codec; within codec 2 a list is dense when its roaring bitmap is at most twice its gaps. (Versions 1–2: no codec words, roaring only.) |
//! | `sorted` | sorted index (the sorted column) | u32 codec (1), u32 reserved, then the first doc of every dictionary id and the doc count (`k + 1` values) as an `ascending` sequence; id `i`'s docs are `starts[i]..starts[i + 1]`. (Versions 1–2: u32 first doc, u32 end doc per id.) |
//! | `range` | range index (bit-sliced) | u32 bit count `b`, u32 reserved, u64 base, `(b + 1) ×` u64 offsets relative to the end of this table, then `b` roaring bitmaps: bitmap `i` holds the docs whose value has bit `i` set. The value is the dictionary id (dictionary columns) or `key − base` (raw fixed-width columns; `key` is the order-preserving key of `physical`) |
//! | `bloom` | bloom filter | u32 block count `m`, u32 reserved, then `m` blocks of 8 × u32 (split-block bloom filter over XXH3-64 of the value's bytes, see `bloom`) |
//! | `nulls` | null docs (written when a column has nulls) | one roaring bitmap of the docs whose value is null; from version 10 the smallest of that, a bitset of the doc count, the null docs as gaps, or the docs that are not null as gaps (see `null_docs`) |
//! | `h3` | H3 index (BYTES columns of geography points) | u32 resolution, u32 cell count `k`, `k ×` u64 H3 cell ids ascending, then `k + 2` u64 offsets relative to the end of that table and `k + 1` roaring bitmaps: each cell's docs, then the docs in no cell (not a geography point, or null) |
//!
//! An `ascending` sequence (non-decreasing u64 values, see the `ascending` module) is: u32
//! count `n`, u32 bit width `W`, `⌈n / 1024⌉` × (u64 intercept, u64 32.32 fixed-point slope),
//! then `⌈n / 1024⌉` bit-packed blocks of `W`-bit residuals; value `j` of a block is
//! `intercept + ⌊slope × j / 2³²⌋ + residual` (mod 2⁶⁴).
//!
//! Roaring bitmaps use the portable serialisation, with run containers where they are smaller
//! (`optimize()` before writing).
//!
//! ## Versioning
//!
//! A reader opens every version up to its own. A change to a section layout or a new section
//! kind that old readers cannot skip bumps the version, and a file is written at the lowest
//! version its sections need (`version_needed`; never below 3); golden files under
//! `segments/tests/golden/` (one per version) are read by the test suite so that old segments
//! keep opening.
//!
//! | version | change |
//! |---|---|
//! | 1 | first layout |
//! | 2 | `forward.mv_ids` offsets bit-packed instead of u32 (4 → ~1–2 bytes per doc per multi-value column) |
//! | 3 | codec words at the start of `dictionary`, `inverted` and `sorted`; `ascending` sequences for dictionary keys and offsets, multi-value offsets, posting-list offsets and the sorted index's doc starts; posting lists as an inverted codec; no `forward.ids` for the sorted column (the benchmark's 1 M-row segment: 77.4 → 41.7 MB) |
//! | 4 | the `h3` section |
//! | 5 | `forward.raw` codec 1: FSST codes, each value on its own (a doc decodes alone) |
//! | 6 | `forward.raw` codecs 2–4: chunks in LZ4 (the block's size as a u32, then the block), Snappy (raw format) or as they are, where a field config's `compressionCodec` names one |
//! | 7 | `forward.raw` codecs 5 and 6: differences (of differences) of fixed-width values, then zstd (`compressionCodec` `DELTA`, `DELTADELTA`) |
//! | 8 | `inverted` codec 2: posting lists as gaps in bit-packed blocks of 128, dense lists as roaring bitmaps |
//! | 9 | `forward.raw` codec 7: hex strings of one shape as the bytes their digits spell, other values beside them; `forward.mv_ids` offsets codec 1: each doc's value count (`steps`) |
//! | 10 | `nulls` codecs 1–3: a bitset, the null docs as gaps, the docs that are not null as gaps (airlineStats' nulls 13.6 → 3.6 B/row) |

use crate::error::Malformed;
use crate::error::{Result, SegmentError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[cfg(target_endian = "big")]
compile_error!("the cuvee segment format is little-endian; big-endian targets are not supported");

pub const MAGIC: &[u8; 8] = b"CUVEESEG";
pub const END_MAGIC: &[u8; 8] = b"CUVEEEND";
pub const FORMAT_VERSION: u32 = 10;
pub const HEADER_LEN: usize = 16;
pub const TRAILER_LEN: usize = 32;
pub const FILE_EXTENSION: &str = "cvs";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SectionKind {
    #[serde(rename = "dictionary")]
    Dictionary,
    #[serde(rename = "forward.ids")]
    ForwardIds,
    #[serde(rename = "forward.mv_ids")]
    ForwardMvIds,
    #[serde(rename = "forward.raw")]
    ForwardRaw,
    #[serde(rename = "inverted")]
    Inverted,
    #[serde(rename = "sorted")]
    Sorted,
    #[serde(rename = "range")]
    Range,
    #[serde(rename = "bloom")]
    Bloom,
    #[serde(rename = "nulls")]
    Nulls,
    #[serde(rename = "h3")]
    H3,
}

impl SectionKind {
    pub const ALL: [SectionKind; 10] = [
        SectionKind::Dictionary,
        SectionKind::ForwardIds,
        SectionKind::ForwardMvIds,
        SectionKind::ForwardRaw,
        SectionKind::Inverted,
        SectionKind::Sorted,
        SectionKind::Range,
        SectionKind::Bloom,
        SectionKind::Nulls,
        SectionKind::H3,
    ];

    /// The kind named `name` (as in the footer and `ColumnMetadata::bytes`).
    pub fn parse(name: &str) -> Option<SectionKind> {
        SectionKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            SectionKind::Dictionary => "dictionary",
            SectionKind::ForwardIds => "forward.ids",
            SectionKind::ForwardMvIds => "forward.mv_ids",
            SectionKind::ForwardRaw => "forward.raw",
            SectionKind::Inverted => "inverted",
            SectionKind::Sorted => "sorted",
            SectionKind::Range => "range",
            SectionKind::Bloom => "bloom",
            SectionKind::Nulls => "nulls",
            SectionKind::H3 => "h3",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionEntry {
    pub column: String,
    pub kind: SectionKind,
    pub offset: u64,
    pub length: u64,
    pub crc32c: u32,
}

/// What a segment is: the footer of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentMetadata {
    pub name: String,
    pub table: String,
    pub format_version: u32,
    pub num_docs: u32,
    /// The schema the segment was built with, so a segment describes itself.
    pub schema: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_column: Option<String>,
    #[serde(flatten)]
    pub bounds: SegmentBounds,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorted_column: Option<String>,
    pub columns: Vec<ColumnMetadata>,
    pub sections: Vec<SectionEntry>,
}

/// What a segment covers: the facts routing and pruning need without opening it, kept in
/// the segment's footer and repeated in the table manifest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentBounds {
    /// Time range of the rows in epoch milliseconds (inclusive), when there is a time column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// Stream offsets `[start, end)` of the rows, filled by stream ingestion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_offset: Option<i64>,
    pub creation_time_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnMetadata {
    pub name: String,
    pub data_type: cuvee_catalog::DataType,
    pub single_value: bool,
    pub dictionary: bool,
    /// Distinct values (the dictionary size for dictionary columns).
    pub cardinality: u32,
    /// Bits per dictionary id in the forward index (0 for raw columns).
    pub bit_width: u32,
    /// Smallest and largest stored value (nulls count as their default value, as stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<serde_json::Value>,
    pub null_count: u32,
    /// Values in the column (equals num_docs for single-value columns).
    pub total_values: u64,
    pub max_values_per_doc: u32,
    /// True when values never decrease with the doc id.
    pub is_sorted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bloom_fpp: Option<f64>,
    /// Bytes on disk per section kind.
    pub bytes: BTreeMap<String, u64>,
}

impl ColumnMetadata {
    pub fn total_bytes(&self) -> u64 {
        self.bytes.values().sum()
    }
}

/// The lowest format version whose readers read a section of `kind` holding `bytes`, as
/// the versions table above introduced them. A file is written at the highest of its
/// sections' (at least 3, the layout every section is written in), so a segment that uses
/// nothing newer still opens in the binary before: a rollback after an upgrade keeps
/// reading what the upgrade sealed, unless a table took up a newer codec.
pub fn version_needed(kind: SectionKind, bytes: &[u8]) -> u32 {
    use crate::coded_strings::RAW_CODEC_FSST;
    use crate::forward::{
        RAW_CODEC_DELTA, RAW_CODEC_DELTA_DELTA, RAW_CODEC_LZ4, RAW_CODEC_NONE, RAW_CODEC_SNAPPY, RAW_CODEC_ZSTD,
    };
    use crate::hex_strings::RAW_CODEC_HEX;
    let word = |at: usize| (bytes.len() >= at + 4).then(|| u32_at(bytes, at));
    // A codec word not listed here is taken to need this binary's version: a codec added
    // without a line here costs rollbacks, never a misread.
    match kind {
        SectionKind::H3 => 4,
        SectionKind::ForwardRaw => match word(12) {
            None | Some(RAW_CODEC_ZSTD) => 3,
            Some(RAW_CODEC_FSST) => 5,
            Some(RAW_CODEC_LZ4 | RAW_CODEC_SNAPPY | RAW_CODEC_NONE) => 6,
            Some(RAW_CODEC_DELTA | RAW_CODEC_DELTA_DELTA) => 7,
            Some(RAW_CODEC_HEX) => 9,
            Some(_) => FORMAT_VERSION,
        },
        SectionKind::Inverted => match word(0) {
            None | Some(0..=1) => 3,
            Some(2) => 8,
            Some(_) => FORMAT_VERSION,
        },
        SectionKind::ForwardMvIds => match word(4) {
            None | Some(0) => 3,
            Some(crate::forward::MV_OFFSETS_STEPS) => 9,
            Some(_) => FORMAT_VERSION,
        },
        SectionKind::Nulls => match crate::null_docs::codec(bytes) {
            None => 3,
            Some(
                crate::null_docs::CODEC_BITSET
                | crate::null_docs::CODEC_GAPS
                | crate::null_docs::CODEC_GAPS_OF_NOT_NULL,
            ) => 10,
            Some(_) => FORMAT_VERSION,
        },
        SectionKind::Dictionary | SectionKind::Sorted => match word(0) {
            None | Some(0..=1) => 3,
            Some(_) => FORMAT_VERSION,
        },
        _ => 3,
    }
}

/// Appends sections at 8-byte boundaries and records them in a directory.
pub struct FileWriter {
    pub buffer: Vec<u8>,
    pub sections: Vec<SectionEntry>,
    /// The version the file is written at: the highest its sections need.
    pub version: u32,
}

impl FileWriter {
    pub fn new() -> FileWriter {
        let mut buffer = Vec::with_capacity(1 << 20);
        buffer.extend_from_slice(MAGIC);
        // The version word is set by `finish`, once every section is known.
        buffer.extend_from_slice(&0u32.to_le_bytes());
        buffer.extend_from_slice(&0u32.to_le_bytes());
        FileWriter { buffer, sections: Vec::new(), version: 3 }
    }

    pub fn add(&mut self, column: &str, kind: SectionKind, bytes: &[u8]) -> u64 {
        pad_to_8(&mut self.buffer);
        self.version = self.version.max(version_needed(kind, bytes));
        let offset = self.buffer.len() as u64;
        self.buffer.extend_from_slice(bytes);
        self.sections.push(SectionEntry {
            column: column.to_string(),
            kind,
            offset,
            length: bytes.len() as u64,
            crc32c: crc32c::crc32c(bytes),
        });
        bytes.len() as u64
    }

    /// Writes the footer and trailer and returns the whole file, at `self.version` (the
    /// metadata's `format_version` should say the same).
    pub fn finish(mut self, metadata: &SegmentMetadata) -> Vec<u8> {
        self.buffer[8..12].copy_from_slice(&self.version.to_le_bytes());
        pad_to_8(&mut self.buffer);
        let footer = serde_json::to_vec(metadata).unwrap_or_default();
        let offset = self.buffer.len() as u64;
        self.buffer.extend_from_slice(&footer);
        self.buffer.extend_from_slice(&offset.to_le_bytes());
        self.buffer.extend_from_slice(&(footer.len() as u64).to_le_bytes());
        self.buffer.extend_from_slice(&crc32c::crc32c(&footer).to_le_bytes());
        self.buffer.extend_from_slice(&self.version.to_le_bytes());
        self.buffer.extend_from_slice(END_MAGIC);
        self.buffer
    }
}

impl Default for FileWriter {
    fn default() -> Self {
        FileWriter::new()
    }
}

pub fn pad_to_8(buffer: &mut Vec<u8>) {
    while !buffer.len().is_multiple_of(8) {
        buffer.push(0);
    }
}

/// Reads the footer of a segment file, checking header, trailer and footer checksum.
pub fn read_footer(bytes: &[u8], corrupt: &dyn Fn(String) -> SegmentError) -> Result<SegmentMetadata> {
    if bytes.len() < HEADER_LEN + TRAILER_LEN {
        return Err(corrupt(format!("file is {} bytes, too short to be a segment", bytes.len())));
    }
    if &bytes[..8] != MAGIC {
        return Err(corrupt("not a cuvee segment (bad magic at start)".into()));
    }
    let trailer = &bytes[bytes.len() - TRAILER_LEN..];
    if &trailer[24..32] != END_MAGIC {
        return Err(corrupt("truncated or damaged (bad magic at end)".into()));
    }
    let version = u32_at(trailer, 20);
    if version > FORMAT_VERSION {
        return Err(corrupt(format!("format version {version} is newer than this reader ({FORMAT_VERSION})")));
    }
    let footer_offset = u64_at(trailer, 0);
    let footer_len = u64_at(trailer, 8);
    let end = footer_offset.checked_add(footer_len).filter(|&e| e <= (bytes.len() - TRAILER_LEN) as u64);
    let Some(end) = end else {
        return Err(corrupt(format!("footer at {footer_offset}+{footer_len} is outside the file")));
    };
    let footer = &bytes[footer_offset as usize..end as usize];
    // Under the fuzzer the checksums are not compared, so that the structure checks after
    // them see arbitrary bytes (a fuzzer cannot forge a CRC); everywhere else they are.
    if !cfg!(fuzzing) && crc32c::crc32c(footer) != u32_at(trailer, 16) {
        return Err(corrupt("footer checksum mismatch".into()));
    }
    let metadata: SegmentMetadata =
        serde_json::from_slice(footer).map_err(|e| corrupt(format!("footer is not valid metadata: {e}")))?;
    for section in &metadata.sections {
        let end = section.offset.checked_add(section.length).filter(|&e| e <= footer_offset);
        if end.is_none() || section.offset < HEADER_LEN as u64 {
            return Err(corrupt(format!(
                "section {} of column {} is outside the data area",
                section.kind.name(),
                section.column
            )));
        }
        let data = &bytes[section.offset as usize..(section.offset + section.length) as usize];
        if !cfg!(fuzzing) && crc32c::crc32c(data) != section.crc32c {
            return Err(corrupt(format!(
                "checksum mismatch in section {} of column {}",
                section.kind.name(),
                section.column
            )));
        }
    }
    Ok(metadata)
}

pub fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

pub fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Starts a version-3 section that names its codec: the codec word, then a reserved word.
pub fn put_codec(out: &mut Vec<u8>, codec: u32) {
    put_u32(out, codec);
    put_u32(out, 0);
}

/// The codec word of a section that has one from version 3 (`before` for older files).
pub fn read_codec(cursor: &mut Cursor, format_version: u32, before: u32) -> std::result::Result<u32, Malformed> {
    if format_version < 3 {
        return Ok(before);
    }
    let codec = cursor.u32()?;
    cursor.u32()?;
    Ok(codec)
}

/// `bytes` of a section as `T`s in place; sections are 8-aligned in memory (the segment's
/// backing guarantees it), so this fails only on a damaged layout.
pub(crate) fn cast<T: bytemuck::Pod>(bytes: &[u8]) -> std::result::Result<&[T], Malformed> {
    bytemuck::try_cast_slice(bytes).map_err(|_| Malformed("section is not aligned in memory".into()))
}

/// Test bytes copied into 8-aligned words, as a segment's backing holds a section.
#[cfg(test)]
pub(crate) fn aligned_words(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks(8).map(|c| c.iter().rev().fold(0u64, |k, &b| k << 8 | b as u64)).collect()
}

/// Seeded draws below a bound (xorshift64; a bound of 0 draws 0), for tests' random data.
#[cfg(test)]
pub(crate) fn test_draws(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut state = seed;
    move |below| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % below.max(1)
    }
}

/// A bounds-checked cursor over a section: every read past the end is a `Corrupt` error.
pub struct Cursor<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, at: 0 }
    }

    pub fn take(&mut self, len: usize) -> std::result::Result<&'a [u8], Malformed> {
        let end = self.at.checked_add(len).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            Malformed(format!("needs {len} bytes at {} but the section has {}", self.at, self.bytes.len()))
        })?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    pub fn u32(&mut self) -> std::result::Result<u32, Malformed> {
        Ok(u32_at(self.take(4)?, 0))
    }

    pub fn u64(&mut self) -> std::result::Result<u64, Malformed> {
        Ok(u64_at(self.take(8)?, 0))
    }

    pub fn align8(&mut self) {
        self.at = (self.at.div_ceil(8) * 8).min(self.bytes.len());
    }

    pub fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at.min(self.bytes.len())..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_kind_parses_from_its_name() {
        for kind in SectionKind::ALL {
            assert_eq!(SectionKind::parse(kind.name()), Some(kind));
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, serde_json::Value::String(kind.name().into()), "the footer spells it the same");
        }
        assert_eq!(SectionKind::parse("forward"), None);
    }
}
