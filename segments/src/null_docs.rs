//! The `nulls` section: which docs of a column are null, in the smallest of four codecs.
//!
//! A roaring bitmap spends 16 bits on every null in an array container and 8 KB on every
//! 65,536 docs in a bitmap container — also on the last, partial one, so a 9,746-doc segment
//! pays 8 KB for a column with scattered nulls where its doc count in bits is 1.2 KB. Pinot's
//! sample tables are full of such columns (airlineStats: 39 of its columns hold nulls, most of
//! them null in nearly every doc). The writer measures roaring, the bitset and the gaps of
//! the fewer docs (nulls or the others), and keeps the smallest:
//!
//! ```text
//! roaring:          the portable serialisation (every version; a first word whose low 16
//!                   bits are roaring's cookie, 12346 or 12347)
//! from version 10:  u32 codec, u32 reserved (0), then
//!   codec 1 bitset: ⌈doc count / 8⌉ bytes, doc d at bit d % 8 of byte d / 8, bits past the
//!                   doc count 0
//!   codec 2 gaps:   the null docs as one posting list of gaps (see `delta_postings`)
//!   codec 3 gaps:   the docs that are *not* null, the same way (a column null in most docs)
//! ```
//!
//! Whatever the codec, a reader holds the nulls as a roaring bitmap, so queries do not see it;
//! every read checks each doc is below the doc count.

use crate::delta_postings::{self, DeltaPostings};
use crate::error::Malformed;
use crate::format::{put_u32, u32_at, Cursor};
use roaring::RoaringBitmap;

pub const CODEC_BITSET: u32 = 1;
pub const CODEC_GAPS: u32 = 2;
pub const CODEC_GAPS_OF_NOT_NULL: u32 = 3;

/// Roaring's portable serialisation starts with one of these in its first word's low half.
const ROARING_COOKIES: [u32; 2] = [12346, 12347];

/// The codec word of a `nulls` section, or `None` for a roaring bitmap.
pub fn codec(bytes: &[u8]) -> Option<u32> {
    let word = (bytes.len() >= 4).then(|| u32_at(bytes, 0))?;
    (!ROARING_COOKIES.contains(&(word & 0xFFFF))).then_some(word)
}

/// The codec's name, for size reports.
pub fn codec_name(bytes: &[u8]) -> &'static str {
    match codec(bytes) {
        None => "roaring",
        Some(CODEC_BITSET) => "bitset",
        Some(CODEC_GAPS) => "gaps",
        Some(CODEC_GAPS_OF_NOT_NULL) => "gaps-of-not-null",
        Some(_) => "unknown",
    }
}

/// The smallest encoding of `nulls`, the null docs of a column of `num_docs` docs.
pub fn write(nulls: &RoaringBitmap, num_docs: u32) -> Vec<u8> {
    let mut best = roaring(nulls);
    let mut keep = |candidate: Option<Vec<u8>>| {
        if let Some(candidate) = candidate.filter(|c| c.len() < best.len()) {
            best = candidate;
        }
    };
    let mut bitset = header(CODEC_BITSET);
    let start = bitset.len();
    bitset.resize(start + num_docs.div_ceil(8) as usize, 0);
    for doc in nulls {
        bitset[start + doc as usize / 8] |= 1 << (doc % 8);
    }
    keep(Some(bitset));
    // Gaps of the fewer docs, nulls or the others: the longer list is never the smaller by
    // much, and encoding it would double the seal's work on the column.
    if nulls.len() <= u64::from(num_docs) / 2 {
        keep(gaps(CODEC_GAPS, nulls.iter()));
    } else {
        let mut not_null = RoaringBitmap::new();
        not_null.insert_range(0..num_docs);
        not_null -= nulls;
        keep(gaps(CODEC_GAPS_OF_NOT_NULL, not_null.iter()));
    }
    best
}

/// What readers before version 10 read: roaring, with run containers where smaller.
fn roaring(nulls: &RoaringBitmap) -> Vec<u8> {
    let mut optimized = nulls.clone();
    optimized.optimize();
    let mut out = Vec::with_capacity(optimized.serialized_size());
    // Serialising into a Vec cannot fail.
    let _ = optimized.serialize_into(&mut out);
    out
}

fn header(codec: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put_u32(&mut out, codec);
    put_u32(&mut out, 0);
    out
}

/// A codec-2/3 section, or `None` when the list cannot be encoded.
fn gaps(codec: u32, docs: impl Iterator<Item = u32>) -> Option<Vec<u8>> {
    let docs: Vec<u32> = docs.collect();
    let list = delta_postings::encode(&[&docs])?;
    let mut out = header(codec);
    out.extend_from_slice(&list);
    Some(out)
}

/// The null docs a `nulls` section holds, each checked to be below `num_docs`. A file
/// before `version` 10 holds roaring only.
pub fn read(bytes: &[u8], num_docs: u32, version: u32) -> Result<RoaringBitmap, Malformed> {
    let nulls = match codec(bytes) {
        None => RoaringBitmap::deserialize_from(bytes).map_err(|e| Malformed(format!("null bitmap: {e}")))?,
        Some(codec) if version < 10 => {
            return Err(Malformed(format!("nulls codec {codec} in a version {version} file")))
        }
        Some(codec) => {
            let mut cursor = Cursor::new(bytes);
            cursor.take(8)?;
            match codec {
                CODEC_BITSET => bitset(cursor.rest(), num_docs)?,
                CODEC_GAPS => list(&mut cursor, num_docs)?,
                CODEC_GAPS_OF_NOT_NULL => {
                    let mut nulls = RoaringBitmap::new();
                    nulls.insert_range(0..num_docs);
                    nulls - list(&mut cursor, num_docs)?
                }
                _ => return Err(Malformed(format!("unknown nulls codec {codec}"))),
            }
        }
    };
    match nulls.max() {
        Some(doc) if doc >= num_docs => Err(Malformed(format!("null doc {doc} of {num_docs}"))),
        _ => Ok(nulls),
    }
}

fn bitset(bytes: &[u8], num_docs: u32) -> Result<RoaringBitmap, Malformed> {
    let expected = num_docs.div_ceil(8) as usize;
    if bytes.len() != expected {
        return Err(Malformed(format!("null bitset of {} bytes for {num_docs} docs", bytes.len())));
    }
    // Bits past the doc count are checked by the caller (no null doc at or past it).
    Ok(RoaringBitmap::from_lsb0_bytes(0, bytes))
}

fn list(cursor: &mut Cursor<'_>, num_docs: u32) -> Result<RoaringBitmap, Malformed> {
    let postings = DeltaPostings::open(cursor, 1, num_docs, true)?;
    let mut docs = Vec::new();
    postings.docs_into(0, &mut docs)?;
    if cursor.at != cursor.bytes.len() {
        return Err(Malformed(format!("{} bytes after the null docs", cursor.bytes.len() - cursor.at)));
    }
    // Gaps make the docs strictly ascending.
    RoaringBitmap::from_sorted_iter(docs).map_err(|e| Malformed(format!("null docs out of order: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{aligned_words, test_draws};

    fn round_trip(nulls: &RoaringBitmap, num_docs: u32) -> Option<u32> {
        let bytes = write(nulls, num_docs);
        let words = aligned_words(&bytes);
        let aligned = &bytemuck::cast_slice::<u64, u8>(&words)[..bytes.len()];
        assert_eq!(&read(aligned, num_docs, 10).unwrap(), nulls, "{num_docs} docs, codec {:?}", codec(&bytes));
        let roaring = roaring(nulls);
        assert_eq!(codec(&roaring), None);
        assert_eq!(&read(&roaring, num_docs, 9).unwrap(), nulls);
        assert!(bytes.len() <= roaring.len());
        codec(&bytes)
    }

    #[test]
    fn every_codec_round_trips_and_the_smallest_is_kept() {
        let mut draw = test_draws(7);
        let mut seen = std::collections::BTreeSet::new();
        for num_docs in [1u32, 7, 9, 100, 9_746, 70_000, 200_000] {
            for per_mille in [0u64, 1, 20, 300, 500, 980, 999, 1000] {
                let nulls: RoaringBitmap = (0..num_docs).filter(|_| draw(1000) < per_mille).collect();
                if !nulls.is_empty() {
                    seen.insert(round_trip(&nulls, num_docs));
                }
            }
            // Runs: roaring's run containers.
            let runs: RoaringBitmap = (0..num_docs).filter(|doc| doc / 5000 % 2 == 0).collect();
            seen.insert(round_trip(&runs, num_docs));
        }
        let all = [None, Some(CODEC_BITSET), Some(CODEC_GAPS), Some(CODEC_GAPS_OF_NOT_NULL)];
        assert_eq!(seen, all.into_iter().collect(), "every codec is the smallest somewhere");
    }

    #[test]
    fn a_bitset_is_smaller_than_roaring_in_a_small_segment() {
        let mut draw = test_draws(3);
        let nulls: RoaringBitmap = (0..9_746).filter(|_| draw(2) == 0).collect();
        let bytes = write(&nulls, 9_746);
        assert_eq!(codec(&bytes), Some(CODEC_BITSET));
        assert_eq!(bytes.len(), 8 + 9_746usize.div_ceil(8));
    }

    #[test]
    fn damaged_sections_are_errors() {
        let nulls: RoaringBitmap = (0..100).filter(|d| d % 3 == 0).collect();
        let mut bitset = header(CODEC_BITSET);
        bitset.extend_from_slice(&[0xFF; 13]);
        // Bits past 100 docs are set.
        assert!(read(&bitset, 100, 10).is_err());
        bitset.pop();
        assert!(read(&bitset, 100, 10).is_err(), "a byte short");
        assert!(read(&header(9), 100, 10).is_err(), "unknown codec");
        let written = write(&nulls, 100);
        assert!(codec(&written).is_some());
        let words = aligned_words(&written);
        let aligned = &bytemuck::cast_slice::<u64, u8>(&words)[..written.len()];
        assert!(read(aligned, 100, 9).is_err(), "a new codec in an old file");
        assert!(read(aligned, 50, 10).is_err(), "a doc past the count");
        let roaring = roaring(&nulls);
        assert!(read(&roaring, 99, 9).is_err(), "a roaring doc past the count");
        for cut in 0..written.len() {
            let _ = read(&aligned[..cut], 100, 10);
        }
    }
}
