//! Posting lists as gaps in bit-packed blocks of 128 (the `inverted` section's codec 2,
//! from format version 8).
//!
//! A roaring array container spends 16 bits on every doc, and the plain posting list spends
//! the doc id's full width (20 bits in a 1 M-doc segment). A value held by a fraction `p` of
//! the docs needs only about `log2(1 / p) + 1` bits per doc as the gap to its previous doc —
//! the model is tantivy's block postings. All lists are laid end to end as one stream of
//! elements (a list's first doc as it is, then each doc's gap to the one before, minus one)
//! and cut into blocks of 128 elements, each packed at the width its largest element needs,
//! so a dense stretch packs in few bits and a block of list starts in the doc width.
//!
//! Where each list starts is stored the same way: the lists' lengths in blocks of 128, and
//! each block's first element. A column of mostly unique values with a few very common
//! ones (users under a Zipf law) has lengths of 1–3 and a few of thousands: a block width
//! keeps those thousands in their block, where one width for the whole sequence (`ascending`)
//! spent 14 bits on every list of the benchmark's `user_id`.
//!
//! ```text
//! u32 list count k, u32 element count m,
//! ⌈k / 128⌉ × u32 the first element of every 128th list,
//! blocks of the k list lengths, blocks of the m elements (see `packed_blocks`)
//! ```
//!
//! Every read checks what it relies on — a block's words in range, a width of at most 32, a list inside the elements,
//! each doc below the doc count — so a damaged section is an error, never a panic or a doc
//! out of range. A list's start costs up to 127 lengths summed.

use crate::error::Malformed;
use crate::format::{cast, put_u32, Cursor};
pub use crate::packed_blocks::BLOCK;
use crate::packed_blocks::{write_blocks, Blocks};

/// The encoding of `postings` (each list ascending), or `None` when it cannot be encoded
/// (more than `u32::MAX` lists, elements or words).
pub fn encode(postings: &[&[u32]]) -> Option<Vec<u8>> {
    let mut lengths = Vec::with_capacity(postings.len());
    let mut starts = Vec::with_capacity(postings.len().div_ceil(BLOCK));
    let mut elements = Vec::with_capacity(postings.iter().map(|list| list.len()).sum());
    for (i, &list) in postings.iter().enumerate() {
        if i % BLOCK == 0 {
            starts.push(u32::try_from(elements.len()).ok()?);
        }
        lengths.push(u32::try_from(list.len()).ok()?);
        let mut previous: Option<u32> = None;
        for &doc in list.iter() {
            elements.push(match previous {
                None => doc,
                Some(p) => doc.checked_sub(p)?.checked_sub(1)?,
            });
            previous = Some(doc);
        }
    }
    let mut out = Vec::new();
    put_u32(&mut out, u32::try_from(postings.len()).ok()?);
    put_u32(&mut out, u32::try_from(elements.len()).ok()?);
    out.extend_from_slice(bytemuck::cast_slice(&starts));
    write_blocks(&lengths, &mut out)?;
    write_blocks(&elements, &mut out)?;
    Some(out)
}

/// Posting lists read in place.
pub struct DeltaPostings<'a> {
    lists: usize,
    num_docs: u32,
    elements: usize,
    starts: &'a [u32],
    lengths: Blocks<'a>,
    gaps: Blocks<'a>,
}

impl<'a> DeltaPostings<'a> {
    /// Reads `lists` posting lists at the cursor (4-aligned). `deep` checks that the lists
    /// tile the elements and decodes every list once, checking each doc is below `num_docs`
    /// (done once, when the segment opens); without it only the tables' sizes are checked,
    /// and each list when it is read.
    pub fn open(
        cursor: &mut Cursor<'a>,
        lists: usize,
        num_docs: u32,
        deep: bool,
    ) -> Result<DeltaPostings<'a>, Malformed> {
        let count = cursor.u32()? as usize;
        let elements = cursor.u32()? as usize;
        if count != lists {
            return Err(Malformed(format!("{count} posting lists for {lists} ids")));
        }
        let starts: &[u32] = cast(cursor.take(4 * lists.div_ceil(BLOCK))?)?;
        let lengths = Blocks::open(cursor, lists)?;
        let gaps = Blocks::open(cursor, elements)?;
        let postings = DeltaPostings { lists, num_docs, elements, starts, lengths, gaps };
        if deep {
            let mut lengths = Vec::with_capacity(lists);
            let mut total = 0u64;
            for (b, &start) in starts.iter().enumerate() {
                if start as u64 != total {
                    let first = b * BLOCK;
                    return Err(Malformed(format!("posting lists {first}.. start at element {start}, not {total}")));
                }
                postings.lengths.for_each(b * BLOCK, lists.min((b + 1) * BLOCK), |n| {
                    total += n;
                    lengths.push(n);
                })?;
            }
            if total != elements as u64 {
                return Err(Malformed(format!("posting lists hold {total} elements, not {elements}")));
            }
            postings.check_docs(&lengths)?;
        }
        Ok(postings)
    }

    /// Every list's docs below the doc count, in one pass over the gaps: the lists' elements
    /// follow each other (the starts were checked against the lengths), so a list's docs
    /// start where the one before it ended. Reading each list by itself would sum up to 127
    /// lengths to find it — that was half of a segment's open.
    fn check_docs(&self, lengths: &[u64]) -> Result<(), Malformed> {
        let mut lists = lengths.iter().enumerate().filter(|(_, &n)| n > 0);
        let (mut list, mut left) = lists.next().map_or((0, 0), |(i, &n)| (i, n));
        let (mut next_doc, mut past_end) = (0u64, None);
        self.gaps.for_each(0, self.elements, |gap| {
            // A list's first element is its first doc: next_doc is 0 there.
            let doc = next_doc + gap;
            if doc >= u64::from(self.num_docs) && past_end.is_none() {
                past_end = Some((list, doc));
            }
            next_doc = doc + 1;
            left = left.saturating_sub(1);
            if left == 0 {
                (list, left) = lists.next().map_or((list, 0), |(i, &n)| (i, n));
                next_doc = 0;
            }
        })?;
        match past_end {
            Some((list, doc)) => Err(Malformed(format!("posting list {list} holds doc {doc} of {}", self.num_docs))),
            None => Ok(()),
        }
    }

    pub fn len(&self) -> usize {
        self.lists
    }

    pub fn is_empty(&self) -> bool {
        self.lists == 0
    }

    /// The elements of list `i`, checked to lie inside the elements.
    fn range(&self, i: usize) -> Result<(usize, usize), Malformed> {
        if i >= self.lists {
            return Err(Malformed(format!("posting list {i} of {}", self.lists)));
        }
        let block_start = i / BLOCK * BLOCK;
        let mut start = self.starts[i / BLOCK] as u64;
        let mut length = 0;
        let mut at = block_start;
        self.lengths.for_each(block_start, i + 1, |n| {
            if at < i {
                start += n;
            } else {
                length = n;
            }
            at += 1;
        })?;
        let end = start + length;
        if end > self.elements as u64 {
            return Err(Malformed(format!("posting list {i} spans elements {start}..{end} of {}", self.elements)));
        }
        Ok((start as usize, end as usize))
    }

    /// Replaces `out` with the docs of list `i` (ascending), each checked to be below the
    /// doc count.
    pub fn docs_into(&self, i: usize, out: &mut Vec<u32>) -> Result<(), Malformed> {
        let num_docs = self.num_docs;
        out.clear();
        let (start, end) = self.range(i)?;
        out.reserve(end - start);
        let mut next_doc = 0u64;
        self.gaps.for_each(start, end, |element| {
            // The first element is the doc itself: next_doc is 0 there.
            let doc = next_doc + element;
            out.push(doc as u32);
            next_doc = doc + 1;
        })?;
        if next_doc > num_docs as u64 {
            return Err(Malformed(format!("posting list {i} holds doc {} of {num_docs}", next_doc - 1)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::aligned_words as aligned;

    fn round_trip(postings: &[Vec<u32>], num_docs: u32) {
        let lists: Vec<&[u32]> = postings.iter().map(Vec::as_slice).collect();
        let bytes = encode(&lists).expect("encodable");
        let words = aligned(&bytes);
        let mut cursor = Cursor::new(&bytemuck::cast_slice(&words)[..bytes.len()]);
        let read = DeltaPostings::open(&mut cursor, postings.len(), num_docs, true).unwrap();
        assert_eq!(read.len(), postings.len());
        let mut docs = Vec::new();
        for (i, list) in postings.iter().enumerate() {
            read.docs_into(i, &mut docs).unwrap();
            assert_eq!(&docs, list, "list {i}");
        }
    }

    #[test]
    fn lists_of_every_shape_read_back() {
        let mut next = crate::format::test_draws(0x9E37_79B9_7F4A_7C15);
        round_trip(&[], 10);
        round_trip(&[vec![], vec![0], vec![]], 1);
        round_trip(&[(0..1000).collect(), vec![], vec![1000, 1001, u32::MAX - 1]], u32::MAX);
        round_trip(&[vec![u32::MAX - 1], vec![0, u32::MAX - 1]], u32::MAX);
        // Random lists of random density, crossing blocks at every offset and every width.
        for round in 0..40 {
            let num_docs = 1 + next(1 << (round % 32)) as u32;
            let lists: Vec<Vec<u32>> = (0..1 + next(300))
                .map(|_| {
                    let share = 1 + next(400);
                    let gap = 1 + next(1 + num_docs as u64 / share);
                    let mut list = Vec::new();
                    let mut doc = next(gap);
                    while doc < num_docs as u64 && list.len() < 400 {
                        list.push(doc as u32);
                        doc += 1 + next(gap);
                    }
                    list
                })
                .collect();
            round_trip(&lists, num_docs);
        }
    }

    #[test]
    fn damaged_lists_are_errors() {
        let postings = [(0..300).map(|d| d * 3).collect::<Vec<u32>>(), vec![5, 900]];
        let bytes = encode(&[&postings[0], &postings[1]]).unwrap();
        let words = aligned(&bytes);
        let good = &bytemuck::cast_slice(&words)[..bytes.len()];
        // A doc past the doc count.
        assert!(DeltaPostings::open(&mut Cursor::new(good), 2, 899, true).is_err());
        // Every byte damaged in turn: an error or lists of docs below the doc count, never a
        // panic.
        for at in 0..bytes.len() {
            let mut damaged = words.clone();
            bytemuck::cast_slice_mut::<u64, u8>(&mut damaged)[at] ^= 0xA5;
            let damaged = &bytemuck::cast_slice(&damaged)[..bytes.len()];
            let shallow = DeltaPostings::open(&mut Cursor::new(damaged), 2, 1000, false);
            let mut lists_read = 0;
            if let Ok(read) = shallow {
                let mut docs = Vec::new();
                for i in 0..2 {
                    if read.docs_into(i, &mut docs).is_ok() {
                        assert!(docs.iter().all(|&d| d < 1000) && docs.windows(2).all(|w| w[0] < w[1]));
                        lists_read += 1;
                    }
                }
            }
            // What a deep open accepts reads whole.
            if DeltaPostings::open(&mut Cursor::new(damaged), 2, 1000, true).is_ok() {
                assert_eq!(lists_read, 2, "byte {at}");
            }
        }
    }
}
