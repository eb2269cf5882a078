//! A raw single-value string column coded with FSST (format v5, codec 1 of `forward.raw`):
//! one symbol table for the segment's column, each doc's value coded on its own, so one doc
//! decodes alone (a point read costs two `ascending` look-ups and a decode of ~8 bytes)
//! where a zstd chunk of 1,024 values had to be decompressed whole, and equality is a
//! substring search of the literal's codes in the stored codes, never a decode.
//!
//! ```text
//! u32 doc count n, u32 0, u32 0, u32 codec (1),
//! a symbol table (see `symbol_table`),
//! the n + 1 byte offsets of each doc's codes as an `ascending` sequence, padding to 8,
//! the codes, doc after doc
//! ```

use crate::ascending::{self, Ascending};
use crate::error::Malformed;
use crate::format::{pad_to_8, Cursor};
use crate::forward::{put_unchunked_header, read_unchunked_header};
use crate::symbol_table::{StoredSymbols, SymbolTable};
use roaring::RoaringBitmap;

/// The codec word (the fourth u32) of a `forward.raw` section holding FSST codes; zstd
/// chunks have 0 there, as every file before version 5 does.
pub const RAW_CODEC_FSST: u32 = 1;

/// Values a table is trained on: spread over the column, FSST samples 16 KB of them.
const TRAINING_VALUES: usize = 4096;

/// The `forward.raw` section for `n` docs whose values `value(doc)` gives, or `None` when
/// FSST does not code a sample of them smaller (random bytes, very short values): zstd
/// chunks are the column's codec then.
pub fn write<'v>(n: usize, value: impl Fn(usize) -> &'v [u8]) -> Option<Vec<u8>> {
    let step = n.div_ceil(TRAINING_VALUES).max(1);
    let sample: Vec<&[u8]> = (0..n).step_by(step).map(&value).collect();
    let table = SymbolTable::train(&sample)?;
    let mut codes = Vec::new();
    let mut ends = Vec::with_capacity(n + 1);
    ends.push(0u64);
    let mut coded = Vec::new();
    for doc in 0..n {
        codes.extend_from_slice(table.encode(value(doc), &mut coded));
        ends.push(codes.len() as u64);
    }
    let mut out = Vec::with_capacity(codes.len() + n / 2 + 4096);
    put_unchunked_header(&mut out, n as u32, RAW_CODEC_FSST);
    table.write(&mut out);
    // A doc's codes are at most twice its bytes, so a 1,024-doc block never spans 2^32.
    out.extend_from_slice(&ascending::encode(&ends)?);
    pad_to_8(&mut out);
    out.extend_from_slice(&codes);
    Some(out)
}

/// The codes of a column, read in place; the symbol table is copied out (2.3 KB).
pub struct CodedStrings<'a> {
    pub num_docs: usize,
    table: Box<StoredSymbols>,
    ends: Ascending<'a>,
    codes: &'a [u8],
}

impl<'a> CodedStrings<'a> {
    /// Opens a codec-1 `forward.raw` section. `deep` (once, when the segment opens) also
    /// checks that the offsets never go down and that every doc's codes decode.
    pub fn open(bytes: &'a [u8], deep: bool) -> Result<CodedStrings<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let num_docs = read_unchunked_header(&mut cursor, RAW_CODEC_FSST, "FSST codes")?;
        let table = Box::new(StoredSymbols::open(&mut cursor)?);
        let ends = Ascending::open(&mut cursor, deep)?;
        cursor.align8();
        let codes = cursor.rest();
        if ends.len() != num_docs + 1 || ends.get(0) != 0 || ends.last() != Some(codes.len() as u64) {
            return Err(Malformed(format!(
                "{} code offsets ending at {:?} for {num_docs} docs and {} bytes of codes",
                ends.len(),
                ends.last(),
                codes.len()
            )));
        }
        let coded = CodedStrings { num_docs, table, ends, codes };
        if deep {
            if let Some(doc) = (0..num_docs).find(|&doc| !coded.table.codes_are_whole(coded.codes(doc))) {
                return Err(Malformed(format!("doc {doc}'s codes do not decode")));
            }
        }
        Ok(coded)
    }

    /// Doc `doc`'s codes (offsets checked at open to end at the codes' end; a sequence
    /// opened without `deep` may go down, which reads as no codes rather than a panic).
    fn codes(&self, doc: usize) -> &'a [u8] {
        let (start, end) = (self.ends.get(doc) as usize, self.ends.get(doc + 1) as usize);
        self.codes.get(start..end).unwrap_or_default()
    }

    /// Appends doc `doc`'s value to `out`.
    pub fn append_value(&self, doc: usize, out: &mut Vec<u8>) {
        self.table.decode_append(self.codes(doc), out)
    }

    /// Doc `doc`'s value, decoded into `out` (cleared first).
    pub fn value<'o>(&self, doc: usize, out: &'o mut Vec<u8>) -> &'o [u8] {
        out.clear();
        self.append_value(doc, out);
        out
    }

    /// Calls `f` with every doc and its value, in doc order.
    pub fn for_each(&self, mut f: impl FnMut(usize, &[u8])) {
        let mut out = Vec::new();
        let mut start = 0usize;
        for doc in 0..self.num_docs {
            let end = self.ends.get(doc + 1) as usize;
            out.clear();
            self.table.decode_append(self.codes.get(start..end).unwrap_or_default(), &mut out);
            f(doc, &out);
            start = end;
        }
    }

    /// The coder of literals for [`docs_equal_to`](Self::docs_equal_to): rebuilt from the
    /// stored symbols (~0.1 ms), so a segment keeps it once built.
    pub(crate) fn coder(&self) -> Result<SymbolTable, Malformed> {
        self.table.coder()
    }

    /// The docs whose value is one of `values` (byte equality): each literal's codes are
    /// searched for in the stored codes, and an occurrence counts where a doc's codes
    /// start there and end with it.
    pub(crate) fn docs_equal_to(&self, values: &[Vec<u8>], coder: &SymbolTable) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        let mut needle = Vec::new();
        for value in values {
            if value.is_empty() {
                let mut start = 0;
                for doc in 0..self.num_docs {
                    let end = self.ends.get(doc + 1);
                    if end == start {
                        out.insert(doc as u32);
                    }
                    start = end;
                }
                continue;
            }
            let needle = coder.encode(value, &mut needle);
            let finder = memchr::memmem::Finder::new(needle);
            let mut doc = 0;
            // Every occurrence, overlapping ones too: one that straddles two docs must not
            // hide a real one that begins inside it.
            let mut at = 0;
            while let Some(found) = finder.find(&self.codes[at..]) {
                let position = (at + found) as u64;
                doc = self.first_ending_after(doc, position);
                if doc < self.num_docs
                    && self.ends.get(doc) == position
                    && self.ends.get(doc + 1) == position + needle.len() as u64
                {
                    out.insert(doc as u32);
                }
                at += found + 1;
            }
        }
        out
    }

    /// The first doc from `from` whose codes end past `position` (the one holding that
    /// byte), found by galloping: occurrences come in order, mostly far apart.
    fn first_ending_after(&self, from: usize, position: u64) -> usize {
        let ends_after = |doc: usize| self.ends.get(doc + 1) > position;
        let (mut lo, mut step) = (from, 1);
        let mut hi = loop {
            let probe = lo + step;
            if probe >= self.num_docs || ends_after(probe) {
                break probe.min(self.num_docs);
            }
            lo = probe;
            step *= 2;
        };
        if lo >= self.num_docs || ends_after(lo) {
            return lo;
        }
        // ends(lo) ≤ position < ends(hi) (or hi is the end): bisect.
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if ends_after(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        hi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A section's bytes start 8-aligned in a segment: held in words, with its length.
    struct Aligned(Vec<u64>, usize);

    impl Aligned {
        fn new(bytes: Vec<u8>) -> Aligned {
            let words = bytes.chunks(8).map(|c| c.iter().rev().fold(0u64, |k, &b| k << 8 | b as u64)).collect();
            Aligned(words, bytes.len())
        }

        fn bytes(&self) -> &[u8] {
            &bytemuck::cast_slice(&self.0)[..self.1]
        }
    }

    #[test]
    fn every_doc_decodes_alone_and_equality_finds_exactly_the_equal_docs() {
        // Values that share prefixes and suffixes, so codes of one occur inside others.
        let values: Vec<Vec<u8>> = (0..5000u64)
            .map(|i| match i % 7 {
                0 => Vec::new(),
                1 => b"ab".to_vec(),
                2 => b"abab".to_vec(),
                _ => format!("session-{:x}", i.wrapping_mul(0x9E37_79B9) % 3001).into_bytes(),
            })
            .collect();
        let section = Aligned::new(write(values.len(), |d| &values[d]).expect("a table pays"));
        let coded = CodedStrings::open(section.bytes(), true).unwrap();
        let mut out = Vec::new();
        for (doc, value) in values.iter().enumerate() {
            assert_eq!(coded.value(doc, &mut out), &value[..], "doc {doc}");
        }
        let mut seen = 0;
        coded.for_each(|doc, value| {
            assert_eq!(value, &values[doc][..]);
            seen += 1;
        });
        assert_eq!(seen, values.len());
        let coder = coded.coder().unwrap();
        for probe in [&b""[..], b"ab", b"abab", b"b", b"session-1", b"session-2a", b"nowhere", &values[12]] {
            let expected: Vec<u32> =
                values.iter().enumerate().filter(|(_, v)| &v[..] == probe).map(|(d, _)| d as u32).collect();
            let found: Vec<u32> = coded.docs_equal_to(&[probe.to_vec()], &coder).iter().collect();
            assert_eq!(found, expected, "{:?}", String::from_utf8_lossy(probe));
        }
    }

    #[test]
    fn values_fsst_cannot_shrink_are_left_to_zstd() {
        let mut state = 3u64;
        let random: Vec<Vec<u8>> = (0..3000)
            .map(|_| {
                (0..12)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (state >> 56) as u8
                    })
                    .collect()
            })
            .collect();
        assert!(write(random.len(), |d| &random[d]).is_none());
        assert!(write(0, |_| &[][..]).is_none(), "no docs, nothing to train on");
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let values: Vec<Vec<u8>> = (0..2000u32).map(|i| format!("user-{}", i % 97).into_bytes()).collect();
        let section = Aligned::new(write(values.len(), |d| &values[d]).unwrap());
        let bytes = section.bytes();
        // Any byte changed or any truncation: an error or values, never a panic; deep
        // opening catches a code naming no symbol and an escape cut off at a doc's end.
        for at in (0..bytes.len()).step_by(7) {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = bytes.to_vec();
                damaged[at] ^= flip;
                let damaged = Aligned::new(damaged);
                if let Ok(coded) = CodedStrings::open(damaged.bytes(), true) {
                    let mut out = Vec::new();
                    for doc in 0..coded.num_docs {
                        coded.value(doc, &mut out);
                    }
                    if let Ok(coder) = coded.coder() {
                        coded.docs_equal_to(&[b"user-5".to_vec()], &coder);
                    }
                }
            }
        }
        for len in (0..bytes.len()).step_by(61) {
            let truncated = Aligned::new(bytes[..len].to_vec());
            assert!(CodedStrings::open(truncated.bytes(), true).is_err(), "{len} bytes");
        }
    }
}
