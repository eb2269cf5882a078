//! The inverted index of a consuming column: each dictionary id's docs, as rows arrive.
//!
//! A roaring bitmap per id costs ~100 bytes before its first doc, which on a user-id column
//! (most ids seen once or twice per segment) was 45 of a consuming row's 220 bytes. So an
//! id starts *light*: its docs are a chain, newest first. When it reaches [`HEAVY`] docs it
//! becomes *heavy*: a roaring bitmap, built from its chain once, takes every later doc. A
//! reader walks at most `HEAVY - 1` links per light id.
//!
//! The chain's links: in a single-value column, one per doc — the previous doc of the same
//! light id (+1; 0 for none, and for a heavy id's docs) — in a [`PackedLog`], so a full
//! chunk is bit-packed (a column whose ids all went heavy stores zeros: nothing); in a
//! multi-value column, where a doc has several ids, 8-byte entries (doc, previous entry).
//!
//! Each id has a state word: `docs (high 32) | newest doc or entry + 1 (low 32)` while
//! light, or `HEAVY (high 32) | bitmap number (low 32)` once heavy. The writer stores it with release
//! ordering after the entries or the bitmap it names, and readers load it with acquire
//! ordering before they look at either.

use super::log::{slot, u64_at, Log};
use super::packed_log::{PackedLog, PackedView};
use parking_lot::Mutex;
use roaring::RoaringBitmap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Docs from which an id keeps a bitmap instead of a chain.
pub(super) const HEAVY: u32 = 32;
const LOW: u64 = 0xFFFF_FFFF;

pub(super) struct Postings {
    states: Log<AtomicU64>,
    /// How light ids link their docs.
    links: Links,
    bitmaps: Log<OnceLock<Mutex<RoaringBitmap>>>,
    heavy: u32,
}

enum Links {
    /// Per doc: the previous doc of the same light id + 1.
    PerDoc(PackedLog),
    /// Entries `doc (high 32) | previous entry + 1 (low 32)`.
    Entries(Log<AtomicU64>),
}

impl Postings {
    /// `chunk_shift`: the segment's chunk size for per-doc links (single-value columns).
    pub(super) fn new(single_value: bool, chunk_shift: u32) -> Postings {
        Postings::with_threshold(single_value, chunk_shift, HEAVY)
    }

    /// A threshold of its own: tests make ids heavy after a few docs.
    pub(super) fn with_threshold(single_value: bool, chunk_shift: u32, heavy: u32) -> Postings {
        let links = if single_value { Links::PerDoc(PackedLog::new(chunk_shift)) } else { Links::Entries(Log::new()) };
        Postings { states: Log::new(), links, bitmaps: Log::new(), heavy: heavy.max(1) }
    }

    /// A new dictionary id (ids arrive in order: the id is the number of ids before it).
    pub(super) fn add_id(&self) {
        self.states.push(0);
    }

    /// Records that `doc` holds `id`. Single writer; docs arrive in increasing order; a
    /// single-value column records every doc exactly once, a multi-value doc may repeat an
    /// id (recorded once).
    pub(super) fn add(&self, id: u32, doc: u32) {
        let Some(state) = self.states.with_slot(id, |s| s.load(Ordering::Relaxed)) else {
            if let Links::PerDoc(links) = &self.links {
                links.push(0);
            }
            return;
        };
        let count = (state >> 32) as u32;
        if count >= self.heavy {
            if let Links::PerDoc(links) = &self.links {
                links.push(0);
            }
            self.bitmaps.with_slot((state & LOW) as u32, |b| {
                if let Some(bitmap) = b.get() {
                    bitmap.lock().insert(doc);
                }
            });
            return;
        }
        let newest = state & LOW;
        let newest_link = match &self.links {
            Links::PerDoc(links) => {
                links.push(newest);
                u64::from(doc) + 1
            }
            Links::Entries(entries) => {
                if newest != 0
                    && entries.with_slot((newest - 1) as u32, |e| e.load(Ordering::Relaxed) >> 32) == Some(doc.into())
                {
                    return;
                }
                u64::from(entries.push((u64::from(doc) << 32) | newest)) + 1
            }
        };
        let next = if count + 1 == self.heavy {
            let mut bitmap = RoaringBitmap::new();
            self.with_chain(newest_link, |docs| docs.for_each(|d| _ = bitmap.insert(d)));
            let number = self.bitmaps.push(Mutex::new(bitmap));
            (u64::from(self.heavy) << 32) | u64::from(number)
        } else {
            (u64::from(count + 1) << 32) | newest_link
        };
        self.states.with_slot(id, |s| s.store(next, Ordering::Release));
    }

    /// Runs `f` over the docs of a light id's chain from `newest` (+1), newest first.
    fn with_chain<R>(&self, newest: u64, f: impl FnOnce(&mut dyn Iterator<Item = u32>) -> R) -> R {
        match &self.links {
            Links::PerDoc(links) => links.with_view(|view| f(&mut doc_chain(&view, newest))),
            Links::Entries(entries) => entries.with_chunks(|chunks| f(&mut chain(chunks, newest))),
        }
    }

    /// The docs below `num_docs` holding any of `ids`. Reads under the logs' read locks
    /// rather than cloning their chunk lists: an equality on one user id is a few entries.
    pub(super) fn docs(&self, ids: impl IntoIterator<Item = u32>, num_docs: u32) -> RoaringBitmap {
        let words: Vec<u64> = self.states.with_chunks(|states| {
            ids.into_iter().filter_map(|id| slot(states, id as usize).map(|s| s.load(Ordering::Acquire))).collect()
        });
        // Links and bitmaps after the states: everything a state names is there.
        let light_words = words.iter().filter(|&&w| ((w >> 32) as u32) < self.heavy).map(|&w| w & LOW);
        let mut light: Vec<u32> = match &self.links {
            Links::PerDoc(links) => links.with_view(|view| light_words.flat_map(|w| doc_chain(&view, w)).collect()),
            Links::Entries(entries) => {
                entries.with_chunks(|chunks| light_words.flat_map(|w| chain(chunks, w)).collect())
            }
        };
        let mut out = self.bitmaps.with_chunks(|bitmaps| {
            let mut out = RoaringBitmap::new();
            for &word in words.iter().filter(|&&w| ((w >> 32) as u32) >= self.heavy) {
                if let Some(bitmap) = slot(bitmaps, (word & LOW) as usize).and_then(OnceLock::get) {
                    out |= &*bitmap.lock();
                }
            }
            out
        });
        // Bitmaps may already hold docs appended after the caller's snapshot.
        out.remove_range(num_docs..);
        light.retain(|&d| d < num_docs);
        light.sort_unstable();
        light.dedup();
        if out.is_empty() {
            return RoaringBitmap::from_sorted_iter(light).unwrap_or_default();
        }
        out.extend(light);
        out
    }

    pub(super) fn memory_bytes(&self) -> usize {
        let (len, chunks) = self.bitmaps.snapshot();
        let bitmaps: usize = (0..len as usize)
            .filter_map(|i| slot(&chunks, i).and_then(OnceLock::get))
            .map(|b| b.lock().serialized_size() + 48)
            .sum();
        let links = match &self.links {
            Links::PerDoc(links) => links.bytes_allocated(),
            Links::Entries(entries) => entries.bytes_allocated(),
        };
        self.states.bytes_allocated() + links + self.bitmaps.bytes_allocated() + bitmaps
    }
}

/// The docs of a single-value light id's chain from doc `newest` (+1; 0 is the end),
/// newest first.
fn doc_chain<'a>(links: &'a PackedView<'a>, newest: u64) -> impl Iterator<Item = u32> + 'a {
    let mut next = newest;
    std::iter::from_fn(move || {
        if next == 0 {
            return None;
        }
        let doc = next - 1;
        // Links only point back: a damaged link ends the walk instead of looping.
        let previous = links.get(doc as usize);
        next = if previous <= doc { previous } else { 0 };
        Some(doc as u32)
    })
}

/// The docs of a multi-value light id's chain from entry `newest` (+1; 0 is the end),
/// newest first.
fn chain(entries: &[std::sync::Arc<[AtomicU64]>], newest: u64) -> impl Iterator<Item = u32> + '_ {
    let mut next = newest;
    std::iter::from_fn(move || {
        if next == 0 {
            return None;
        }
        let entry = u64_at(entries, (next - 1) as usize);
        // Entries only point back: a damaged link ends the walk instead of looping.
        let previous = entry & LOW;
        next = if previous < next { previous } else { 0 };
        Some((entry >> 32) as u32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn light_and_heavy_ids_give_their_docs() {
        for (heavy, single_value) in [1, 2, 5, HEAVY].into_iter().flat_map(|h| [(h, false), (h, true)]) {
            let postings = Postings::with_threshold(single_value, 3, heavy);
            let mut model: Vec<BTreeSet<u32>> = Vec::new();
            let mut x = 7u64;
            for doc in 0..3000u32 {
                // A single-value column records each doc once; a multi-value doc 0-2 ids.
                for _ in 0..if single_value { 1 } else { doc % 3 } {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    // Skewed: a few ids take many docs, most take one or two.
                    let id = if x.is_multiple_of(4) { (x % 5) as u32 } else { (x % 900) as u32 };
                    while model.len() <= id as usize {
                        postings.add_id();
                        model.push(BTreeSet::new());
                    }
                    postings.add(id, doc);
                    model[id as usize].insert(doc);
                }
            }
            for num_docs in [0, 1, 1500, 3000] {
                for ids in [vec![0], vec![3, 4], vec![10, 600, 899, 0], vec![]] {
                    let expected: BTreeSet<u32> = ids
                        .iter()
                        .flat_map(|&id| model.get(id as usize).into_iter().flatten().copied())
                        .filter(|&d| d < num_docs)
                        .collect();
                    let got: BTreeSet<u32> = postings.docs(ids.iter().copied(), num_docs).iter().collect();
                    assert_eq!(got, expected, "heavy {heavy}, ids {ids:?}, {num_docs} docs");
                }
            }
        }
    }
}
