//! Indexes over doc ids: the inverted index (per dictionary id, a roaring bitmap, a packed
//! posting list or gaps in bit-packed blocks, whichever is smallest for the column), the
//! bit-sliced range index (one bitmap per bit of the value), the sorted index, and the null
//! bitmap.

use crate::ascending::{self, Ascending};
use crate::bitpack;
use crate::delta_postings::{self, DeltaPostings};
use crate::error::Malformed;
use crate::format::{cast, pad_to_8, put_codec, put_u32, put_u64, read_codec, u64_at, Cursor};
use crate::forward::{self, PackedIds};
use roaring::RoaringBitmap;

/// Codec tags of version-3 `inverted` and `sorted` sections (the first u32; the second is
/// reserved).
const BITMAPS: u32 = 0;
const POSTINGS: u32 = 1;
/// From version 8.
const GAPS: u32 = 2;
/// A list stays a roaring bitmap in the gaps codec where that is no larger than its gaps
/// (runs, bitmap containers of most docs), or where it is at most `DENSE_WITHIN` times
/// larger and the list holds at least `LONG_LIST` docs. A roaring bitmap is read at memory
/// speed and gaps decode at 4–20 ns a doc, so a long list's decoding would show in the
/// query that reads it (a country of 0.5 % of 10 M docs: 65 µs as roaring, 1.2 ms as gaps),
/// while a short list's is within the ~20 µs an equality through the index costs anyway.
const DENSE_WITHIN: usize = 2;
const LONG_LIST: usize = 4096;
const STARTS: u32 = 1;

/// Writes a list of bitmaps behind an offset table (`inverted` and `range` sections).
/// Each bitmap is optimised (run containers where smaller) in place before it is written.
pub fn write_bitmap_list(header: &[u8], mut bitmaps: Vec<RoaringBitmap>) -> Vec<u8> {
    let mut body = Vec::new();
    let mut offsets = Vec::with_capacity(bitmaps.len() + 1);
    offsets.push(0u64);
    for bitmap in &mut bitmaps {
        bitmap.optimize();
        bitmap.serialize_into(&mut body).unwrap_or_default();
        offsets.push(body.len() as u64);
    }
    let mut out = Vec::with_capacity(header.len() + 8 * offsets.len() + body.len());
    out.extend_from_slice(header);
    for o in offsets {
        put_u64(&mut out, o);
    }
    out.extend_from_slice(&body);
    out
}

/// A list of bitmaps read in place; each bitmap is deserialised when asked for.
pub struct BitmapList<'a> {
    pub len: usize,
    offsets: &'a [u8],
    body: &'a [u8],
}

impl<'a> BitmapList<'a> {
    /// `deep` checks every offset (done once, when the segment opens); without it only the
    /// table's size is checked, and each bitmap's bounds when it is read.
    pub fn open(cursor: &mut Cursor<'a>, len: usize, deep: bool) -> Result<BitmapList<'a>, Malformed> {
        let offsets = cursor.take(8 * (len + 1))?;
        let body = cursor.rest();
        let mut previous = 0;
        for i in (0..=len).filter(|_| deep) {
            let o = u64_at(offsets, 8 * i);
            if o < previous || o as usize > body.len() {
                return Err(Malformed(format!("bitmap offset {i} is out of order or out of range")));
            }
            previous = o;
        }
        Ok(BitmapList { len, offsets, body })
    }

    pub fn get(&self, i: usize) -> Result<RoaringBitmap, Malformed> {
        let start = u64_at(self.offsets, 8 * i) as usize;
        let end = u64_at(self.offsets, 8 * (i + 1)) as usize;
        if start > end || end > self.body.len() {
            return Err(Malformed(format!("bitmap {i} is out of range")));
        }
        RoaringBitmap::deserialize_from(&self.body[start..end])
            .map_err(|e| Malformed(format!("bitmap {i} is damaged: {e}")))
    }
}

/// The inverted index of a column: per dictionary id, its docs (ascending), in whichever
/// codec is smallest, each measured exactly. Roaring pays where a value holds most docs (a
/// bitmap container is 1 bit a doc) or long runs; gaps (`delta_postings`) pay wherever a
/// value holds a smaller share — a few bits a doc where roaring's array containers spend 16;
/// a column of mostly unique values (a user id) pays ~8 bytes of container header per value
/// in roaring, and the plain posting list costs its docs' full width plus a few bits of
/// offset.
pub fn write_inverted(postings: &[Vec<u32>], num_docs: u32) -> Vec<u8> {
    let header = |codec| {
        let mut out = Vec::new();
        put_codec(&mut out, codec);
        put_u32(&mut out, postings.len() as u32);
        put_u32(&mut out, 0);
        out
    };
    let bitmaps: Vec<RoaringBitmap> = postings
        .iter()
        .map(|list| {
            let mut bitmap = RoaringBitmap::from_sorted_iter(list.iter().copied()).unwrap_or_default();
            bitmap.optimize();
            bitmap
        })
        .collect();
    let bitmap_bytes = 16 + 8 * (postings.len() + 1) + bitmaps.iter().map(|b| b.serialized_size()).sum::<usize>();
    let mut candidates = vec![(bitmap_bytes, BITMAPS)];
    let gaps = write_gaps(postings, &bitmaps);
    if let Some(gaps) = &gaps {
        candidates.push((16 + gaps.len(), GAPS));
    }
    let mut ends = Vec::with_capacity(postings.len() + 1);
    ends.push(0u64);
    for list in postings {
        ends.push(ends[ends.len() - 1] + list.len() as u64);
    }
    let total = ends[ends.len() - 1] as usize;
    let doc_width = bitpack::width_for(num_docs.saturating_sub(1));
    let packed_offsets = ascending::encode(&ends);
    if let Some(offsets) = &packed_offsets {
        let docs_bytes = 8 + total.div_ceil(bitpack::BLOCK) * bitpack::block_words(doc_width) * 4;
        candidates.push((16 + offsets.len().next_multiple_of(8) + docs_bytes, POSTINGS));
    }
    // The first of equal sizes wins: roaring reads fastest, then gaps.
    let smallest = candidates.iter().min_by_key(|(bytes, _)| *bytes).map_or(BITMAPS, |&(_, codec)| codec);
    match (smallest, gaps, packed_offsets) {
        (GAPS, Some(gaps), _) => {
            let mut out = header(GAPS);
            out.extend_from_slice(&gaps);
            out
        }
        (POSTINGS, _, Some(offsets)) => {
            let mut out = header(POSTINGS);
            out.extend_from_slice(&offsets);
            pad_to_8(&mut out);
            let docs: Vec<u32> = postings.iter().flatten().copied().collect();
            forward::write_ids(&docs, doc_width, &mut out);
            out
        }
        _ => write_bitmap_list(&header(BITMAPS), bitmaps),
    }
}

/// The gaps codec's body: the dense lists (see `DENSE_WITHIN`) as roaring bitmaps, every
/// other list as gaps (`delta_postings`).
fn write_gaps(postings: &[Vec<u32>], bitmaps: &[RoaringBitmap]) -> Option<Vec<u8>> {
    // Blocks of the list alone: a lower bound of its share of the stream's blocks.
    let gap_bytes = |list: &[u32]| {
        let gaps = list.first().into_iter().copied().chain(list.windows(2).map(|w| w[1] - w[0] - 1));
        let (mut bits, mut widest, mut in_block) = (0, 0, 0);
        for gap in gaps {
            widest = widest.max(bitpack::width_for(gap) as usize);
            in_block += 1;
            if in_block == delta_postings::BLOCK {
                (bits, widest, in_block) = (bits + widest * in_block, 0, 0);
            }
        }
        (bits + widest * in_block).div_ceil(8)
    };
    let dense: Vec<u32> = (0..postings.len())
        .filter(|&i| {
            let (roaring, gaps) = (bitmaps[i].serialized_size(), gap_bytes(&postings[i]));
            roaring <= gaps || (roaring <= DENSE_WITHIN * gaps && postings[i].len() >= LONG_LIST)
        })
        .map(|i| i as u32)
        .collect();
    let mut sparse: Vec<&[u32]> = postings.iter().map(Vec::as_slice).collect();
    for &i in &dense {
        sparse[i as usize] = &[];
    }
    let mut out = delta_postings::encode(&sparse)?;
    pad_to_8(&mut out);
    put_u32(&mut out, dense.len() as u32);
    put_u32(&mut out, 0);
    out.extend_from_slice(bytemuck::cast_slice(&dense));
    pad_to_8(&mut out);
    Some(write_bitmap_list(&out, dense.iter().map(|&i| bitmaps[i as usize].clone()).collect()))
}

/// An inverted index read in place.
pub enum InvertedIndex<'a> {
    Bitmaps(BitmapList<'a>),
    /// Docs of id `i` are `docs[offsets[i]..offsets[i + 1]]`.
    Postings {
        offsets: Ascending<'a>,
        docs: PackedIds<'a>,
    },
    /// Ids in `dense_ids` (ascending) have their docs in `dense`, at the same position;
    /// every other id's docs are gaps.
    Gaps {
        gaps: DeltaPostings<'a>,
        dense_ids: &'a [u32],
        dense: BitmapList<'a>,
    },
}

impl InvertedIndex<'_> {
    pub fn len(&self) -> usize {
        match self {
            InvertedIndex::Bitmaps(list) => list.len,
            InvertedIndex::Postings { offsets, .. } => offsets.len().saturating_sub(1),
            InvertedIndex::Gaps { gaps, .. } => gaps.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The docs of dictionary id `i`.
    pub fn get(&self, i: usize) -> Result<RoaringBitmap, Malformed> {
        match self {
            InvertedIndex::Bitmaps(list) => list.get(i),
            InvertedIndex::Postings { offsets, docs } => {
                let (start, end) = (offsets.get(i) as usize, offsets.get(i + 1) as usize);
                RoaringBitmap::from_sorted_iter((start..end).map(|at| docs.get(at)))
                    .map_err(|_| Malformed(format!("posting list {i} is not ascending")))
            }
            InvertedIndex::Gaps { gaps, dense_ids, dense } => {
                if let Ok(at) = dense_ids.binary_search(&(i as u32)) {
                    return dense.get(at);
                }
                let mut docs = Vec::new();
                gaps.docs_into(i, &mut docs)?;
                Ok(bitmap_of_ascending(&docs))
            }
        }
    }

    /// The codec the section uses, for size reports.
    pub fn codec(&self) -> &'static str {
        match self {
            InvertedIndex::Bitmaps(_) => "roaring",
            InvertedIndex::Postings { .. } => "postings",
            InvertedIndex::Gaps { .. } => "gaps",
        }
    }
}

/// A bitmap of ascending docs. Long dense lists (at least one doc in 32) set bits in a byte
/// array and build each container from it at once: inserting doc by doc costs several
/// times more there, and less where the bytes would be mostly zeros.
fn bitmap_of_ascending(docs: &[u32]) -> RoaringBitmap {
    match (docs.first(), docs.last()) {
        (Some(&first), Some(&last))
            if docs.len() >= 4096 && last < u32::MAX - 8 && (last - first) / 32 <= docs.len() as u32 =>
        {
            let base = first & !0xFFFF;
            let mut bytes = vec![0u8; ((last - base) / 8 + 1) as usize];
            for &doc in docs {
                let bit = doc - base;
                bytes[(bit / 8) as usize] |= 1 << (bit % 8);
            }
            RoaringBitmap::from_lsb0_bytes(base, &bytes)
        }
        _ => RoaringBitmap::from_sorted_iter(docs.iter().copied()).unwrap_or_default(),
    }
}

pub fn open_inverted(
    bytes: &[u8],
    cardinality: usize,
    num_docs: u32,
    format_version: u32,
    deep: bool,
) -> Result<InvertedIndex<'_>, Malformed> {
    let mut cursor = Cursor::new(bytes);
    let codec = read_codec(&mut cursor, format_version, BITMAPS)?;
    let len = cursor.u32()? as usize;
    cursor.u32()?;
    if len != cardinality {
        return Err(Malformed(format!("{len} posting lists for {cardinality} dictionary ids")));
    }
    match codec {
        BITMAPS => Ok(InvertedIndex::Bitmaps(BitmapList::open(&mut cursor, len, deep)?)),
        POSTINGS => {
            let offsets = Ascending::open(&mut cursor, deep)?;
            cursor.align8();
            let docs = PackedIds::open(&mut cursor, 0)?;
            if offsets.len() != len + 1 || offsets.get(0) != 0 || offsets.last() != Some(docs.len as u64) {
                return Err(Malformed(format!(
                    "{} posting offsets for {len} ids do not span the {} docs listed",
                    offsets.len(),
                    docs.len
                )));
            }
            if deep {
                docs.check_below(num_docs as usize)?;
            }
            Ok(InvertedIndex::Postings { offsets, docs })
        }
        GAPS if format_version >= 8 => {
            let gaps = DeltaPostings::open(&mut cursor, len, num_docs, deep)?;
            cursor.align8();
            let dense_count = cursor.u32()? as usize;
            cursor.u32()?;
            let dense_ids: &[u32] = cast(cursor.take(4 * dense_count)?)?;
            if deep
                && (dense_ids.windows(2).any(|w| w[0] >= w[1]) || dense_ids.last().is_some_and(|&i| i as usize >= len))
            {
                return Err(Malformed(format!("dense list ids are not ascending ids below {len}")));
            }
            cursor.align8();
            let dense = BitmapList::open(&mut cursor, dense_count, deep)?;
            Ok(InvertedIndex::Gaps { gaps, dense_ids, dense })
        }
        other => Err(Malformed(format!("unknown inverted index codec {other}"))),
    }
}

/// Bit-sliced range index over unsigned values `v` (dictionary ids, or `key − base`).
pub struct RangeIndex<'a> {
    pub base: u64,
    pub slices: BitmapList<'a>,
}

pub fn write_range(values: impl Iterator<Item = u64>, base: u64, bits: u32) -> Vec<u8> {
    // Per 65,536 docs (one roaring container), every slice's bits are set in plain words
    // and each slice's words become a container at once: pushing doc by doc into up to
    // 64 bitmaps was an eighth of a seal.
    const CHUNK: usize = 1 << 16;
    const WORDS: usize = CHUNK / 64;
    let mut slices = vec![RoaringBitmap::new(); bits as usize];
    let mut words = vec![0u64; bits as usize * WORDS];
    let mut values = values.fuse();
    let mut start = 0u32;
    loop {
        words.fill(0);
        let mut n = 0;
        for v in values.by_ref().take(CHUNK) {
            let mut rest = v;
            while rest != 0 {
                let bit = rest.trailing_zeros() as usize;
                if let Some(word) = words.get_mut(bit * WORDS + n / 64) {
                    *word |= 1 << (n % 64);
                }
                rest &= rest - 1;
            }
            n += 1;
        }
        for (bit, slice) in slices.iter_mut().enumerate() {
            let chunk = &words[bit * WORDS..(bit + 1) * WORDS];
            if chunk.iter().any(|&w| w != 0) {
                let bytes: &[u8] = bytemuck::cast_slice(chunk);
                *slice |= RoaringBitmap::from_lsb0_bytes(start, &bytes[..n.div_ceil(8)]);
            }
        }
        if n < CHUNK {
            break;
        }
        start = start.saturating_add(CHUNK as u32);
    }
    let mut header = Vec::new();
    put_u32(&mut header, bits);
    put_u32(&mut header, 0);
    put_u64(&mut header, base);
    write_bitmap_list(&header, slices)
}

impl<'a> RangeIndex<'a> {
    pub fn open(bytes: &'a [u8], deep: bool) -> Result<RangeIndex<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let bits = cursor.u32()? as usize;
        cursor.u32()?;
        let base = cursor.u64()?;
        if bits > 64 {
            return Err(Malformed(format!("{bits} bit slices is over 64")));
        }
        Ok(RangeIndex { base, slices: BitmapList::open(&mut cursor, bits, deep)? })
    }

    /// Docs (among `0..num_docs`) whose value is ≤ `c` (O'Neil's bit-sliced comparison).
    pub fn at_most(&self, c: u64, num_docs: u32) -> Result<RoaringBitmap, Malformed> {
        let bits = self.slices.len;
        if bits < 64 && c >> bits != 0 {
            return Ok(all_docs(num_docs));
        }
        let mut less = RoaringBitmap::new();
        let mut equal = all_docs(num_docs);
        for bit in (0..bits).rev() {
            let slice = self.slices.get(bit)?;
            if c >> bit & 1 == 1 {
                less |= &equal - &slice;
                equal &= slice;
            } else {
                equal -= slice;
            }
        }
        Ok(less | equal)
    }

    /// Docs whose value is in `lo..=hi`.
    pub fn between(&self, lo: u64, hi: u64, num_docs: u32) -> Result<RoaringBitmap, Malformed> {
        if lo > hi {
            return Ok(RoaringBitmap::new());
        }
        let upper = self.at_most(hi, num_docs)?;
        if lo == 0 {
            return Ok(upper);
        }
        Ok(upper - self.at_most(lo - 1, num_docs)?)
    }
}

pub fn all_docs(num_docs: u32) -> RoaringBitmap {
    let mut all = RoaringBitmap::new();
    all.insert_range(0..num_docs);
    all
}

/// The sorted index: the first doc of each dictionary id, then the doc count (`cardinality
/// + 1` values, packed; id `i`'s docs are `starts[i]..starts[i + 1]`).
pub fn write_sorted(starts: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    put_codec(&mut out, STARTS);
    // Doc numbers are u32, so no 1024 of them span more than 32 bits.
    out.extend_from_slice(&ascending::encode(starts).unwrap_or_default());
    out
}

/// Doc range `[start, end)` of each dictionary id of the sorted column.
pub enum SortedIndex<'a> {
    /// Format ≤ 2: u32 start and end per id.
    Pairs(&'a [u8]),
    Starts(Ascending<'a>),
}

impl<'a> SortedIndex<'a> {
    pub fn open(
        bytes: &'a [u8],
        cardinality: usize,
        num_docs: u32,
        format_version: u32,
        deep: bool,
    ) -> Result<SortedIndex<'a>, Malformed> {
        let index = if format_version >= 3 {
            let mut cursor = Cursor::new(bytes);
            let codec = read_codec(&mut cursor, format_version, STARTS)?;
            if codec != STARTS {
                return Err(Malformed(format!("unknown sorted index codec {codec}")));
            }
            let starts = Ascending::open(&mut cursor, deep)?;
            if starts.len() != cardinality + 1 || starts.get(0) != 0 || starts.last() != Some(num_docs as u64) {
                return Err(Malformed(format!(
                    "{} doc starts for {cardinality} ids do not span the {num_docs} docs",
                    starts.len()
                )));
            }
            SortedIndex::Starts(starts)
        } else {
            if bytes.len() != cardinality * 8 {
                return Err(Malformed(format!("{} bytes for {cardinality} doc ranges", bytes.len())));
            }
            SortedIndex::Pairs(bytes)
        };
        // Starts checked ascending from 0 to the doc count are contiguous ranges by
        // construction; only pairs need each range checked against the one before.
        let pairs = matches!(index, SortedIndex::Pairs(_));
        let mut previous_end = 0;
        for id in (0..cardinality).filter(|_| deep && pairs) {
            let (start, end) = index.range(id);
            if start != previous_end || end < start || end > num_docs {
                return Err(Malformed(format!("doc range of id {id} is not contiguous with the previous one")));
            }
            previous_end = end;
        }
        Ok(index)
    }

    /// The codec the section uses, for size reports.
    pub fn codec(&self) -> &'static str {
        match self {
            SortedIndex::Pairs(_) => "pairs",
            SortedIndex::Starts(_) => "starts",
        }
    }

    pub fn range(&self, id: usize) -> (u32, u32) {
        match self {
            SortedIndex::Pairs(bytes) => {
                (crate::format::u32_at(bytes, 8 * id), crate::format::u32_at(bytes, 8 * id + 4))
            }
            SortedIndex::Starts(starts) => (starts.get(id) as u32, starts.get(id + 1) as u32),
        }
    }

    /// Docs of ids `lo..hi`: one contiguous doc range.
    pub fn docs(&self, lo: usize, hi: usize) -> RoaringBitmap {
        let mut out = RoaringBitmap::new();
        if lo < hi {
            out.insert_range(self.range(lo).0..self.range(hi - 1).1);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sorted_index_a_deep_open_accepts_has_contiguous_ranges() {
        // 3,000 ids over 50,000 docs, some ids with no docs; then every byte damaged in turn.
        let mut starts = vec![0u64];
        for id in 0..3_000u64 {
            starts.push(starts[starts.len() - 1] + (id * 7919) % 31);
        }
        let (cardinality, num_docs) = (starts.len() - 1, starts[starts.len() - 1] as u32);
        let bytes = write_sorted(&starts);
        let words = crate::format::aligned_words(&bytes);
        let good = &bytemuck::cast_slice(&words)[..bytes.len()];
        let index = SortedIndex::open(good, cardinality, num_docs, 9, true).unwrap();
        assert!((0..cardinality).all(|id| index.range(id) == (starts[id] as u32, starts[id + 1] as u32)));
        assert!(SortedIndex::open(good, cardinality, num_docs - 1, 9, true).is_err());
        for at in 0..bytes.len() {
            let mut damaged = words.clone();
            bytemuck::cast_slice_mut::<u64, u8>(&mut damaged)[at] ^= 0x5A;
            let damaged = &bytemuck::cast_slice(&damaged)[..bytes.len()];
            if let Ok(index) = SortedIndex::open(damaged, cardinality, num_docs, 9, true) {
                let mut end = 0;
                for id in 0..cardinality {
                    let (start, next) = index.range(id);
                    assert!(start == end && start <= next && next <= num_docs, "byte {at}, id {id}");
                    end = next;
                }
                assert_eq!(end, num_docs, "byte {at}");
            }
        }
    }

    #[test]
    fn range_slices_across_containers_answer_as_the_values_do() {
        // Three containers and a partial fourth; values of 13 bits, some docs all zeros.
        let n = 3 * 65_536 + 1_234;
        let mut state = 11u64;
        let values: Vec<u64> = (0..n)
            .map(|doc| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if doc % 10 == 0 {
                    0
                } else {
                    (state >> 51) & 0x1fff
                }
            })
            .collect();
        let bytes = write_range(values.iter().copied(), 100, 13);
        let words = crate::format::aligned_words(&bytes);
        let index = RangeIndex::open(&bytemuck::cast_slice(&words)[..bytes.len()], true).unwrap();
        assert_eq!(index.base, 100);
        for (lo, hi) in [(0, 0), (0, 8191), (1, 5), (4000, 4100), (8190, 8191), (77, 6000)] {
            let expected: Vec<u32> = (0..n as u32).filter(|&d| (lo..=hi).contains(&values[d as usize])).collect();
            let found: Vec<u32> = index.between(lo, hi, n as u32).unwrap().iter().collect();
            assert_eq!(found, expected, "{lo}..={hi}");
        }
    }

    #[test]
    fn gaps_keep_dense_lists_as_bitmaps_and_read_every_list_back() {
        let n = 300_000u32;
        let postings: Vec<Vec<u32>> = vec![
            (0..n).filter(|d| d % 3 != 0).collect(), // long, bitmap containers within 2× of gaps
            (0..n).filter(|d| d % 30 == 1).collect(), // 5 bits a doc as gaps, 16 in roaring
            vec![],
            (70_000..80_000).filter(|d| d % 3 == 0).collect(),
            vec![5, 6, 7, n - 1],
            (0..n).filter(|d| d % 600 == 0).collect(), // within 2× of roaring, but short: gaps
            (100_000..150_000).collect(),              // a run: smaller in roaring
        ];
        let bytes = write_inverted(&postings, n);
        let words = crate::format::aligned_words(&bytes);
        let index = open_inverted(&bytemuck::cast_slice(&words)[..bytes.len()], postings.len(), n, 8, true).unwrap();
        let InvertedIndex::Gaps { dense_ids, .. } = &index else { panic!("{} chosen", index.codec()) };
        assert_eq!(*dense_ids, &[0, 6]);
        for (i, list) in postings.iter().enumerate() {
            assert_eq!(index.get(i).unwrap().iter().collect::<Vec<u32>>(), *list, "list {i}");
        }
        // Read by a version-7 reader: an unknown codec, not a misread.
        assert!(open_inverted(&bytemuck::cast_slice(&words)[..bytes.len()], postings.len(), n, 7, true).is_err());
    }
}
