//! The inverted index of a consuming column: each dictionary id's docs, as rows arrive.
//!
//! A roaring bitmap per id costs ~100 bytes before its first doc, which on a user-id column
//! (most ids seen once or twice per segment) was 45 of a consuming row's 220 bytes. So an
//! id starts *light*: its docs are a chain of 8-byte posting entries (doc, previous entry),
//! newest first. When it reaches [`HEAVY`] docs it becomes *heavy*: a roaring bitmap, built
//! from its chain once, takes every later doc (a bitmap beats the chain's 8 bytes a doc from
//! about 17 docs on). A reader walks at most `HEAVY - 1` entries per light id.
//!
//! Each id has a state word: `docs (high 32) | newest entry + 1 (low 32)` while light, or
//! `HEAVY (high 32) | bitmap number (low 32)` once heavy. The writer stores it with release
//! ordering after the entries or the bitmap it names, and readers load it with acquire
//! ordering before they look at either.

use super::log::{slot, u64_at, Log};
use parking_lot::Mutex;
use roaring::RoaringBitmap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Docs from which an id keeps a bitmap instead of a chain.
pub(super) const HEAVY: u32 = 32;
const LOW: u64 = 0xFFFF_FFFF;

pub(super) struct Postings {
    states: Log<AtomicU64>,
    entries: Log<AtomicU64>,
    bitmaps: Log<OnceLock<Mutex<RoaringBitmap>>>,
    heavy: u32,
}

impl Postings {
    pub(super) fn new() -> Postings {
        Postings::with_threshold(HEAVY)
    }

    /// A threshold of its own: tests make ids heavy after a few docs.
    pub(super) fn with_threshold(heavy: u32) -> Postings {
        Postings { states: Log::new(), entries: Log::new(), bitmaps: Log::new(), heavy: heavy.max(1) }
    }

    /// A new dictionary id (ids arrive in order: the id is the number of ids before it).
    pub(super) fn add_id(&self) {
        self.states.push(0);
    }

    /// Records that `doc` holds `id`. Single writer; docs arrive in increasing order, and
    /// a doc may repeat an id (multi-value columns) — it is recorded once.
    pub(super) fn add(&self, id: u32, doc: u32) {
        let Some(state) = self.states.with_slot(id, |s| s.load(Ordering::Relaxed)) else { return };
        let count = (state >> 32) as u32;
        if count >= self.heavy {
            self.bitmaps.with_slot((state & LOW) as u32, |b| {
                if let Some(bitmap) = b.get() {
                    bitmap.lock().insert(doc);
                }
            });
            return;
        }
        let newest = state & LOW;
        if newest != 0
            && self.entries.with_slot((newest - 1) as u32, |e| e.load(Ordering::Relaxed) >> 32) == Some(doc.into())
        {
            return;
        }
        let next = if count + 1 == self.heavy {
            let mut bitmap = RoaringBitmap::new();
            self.entries.with_chunks(|chunks| {
                for d in chain(chunks, newest) {
                    bitmap.insert(d);
                }
            });
            bitmap.insert(doc);
            let number = self.bitmaps.push(Mutex::new(bitmap));
            (u64::from(self.heavy) << 32) | u64::from(number)
        } else {
            let entry = self.entries.push((u64::from(doc) << 32) | newest);
            (u64::from(count + 1) << 32) | (u64::from(entry) + 1)
        };
        self.states.with_slot(id, |s| s.store(next, Ordering::Release));
    }

    /// The docs below `num_docs` holding any of `ids`. Reads under the logs' read locks
    /// rather than cloning their chunk lists: an equality on one user id is a few entries.
    pub(super) fn docs(&self, ids: impl IntoIterator<Item = u32>, num_docs: u32) -> RoaringBitmap {
        let words: Vec<u64> = self.states.with_chunks(|states| {
            ids.into_iter().filter_map(|id| slot(states, id as usize).map(|s| s.load(Ordering::Acquire))).collect()
        });
        // Entries and bitmaps after the states: everything a state names is there.
        let mut light: Vec<u32> = self.entries.with_chunks(|entries| {
            words.iter().filter(|&&w| ((w >> 32) as u32) < self.heavy).flat_map(|&w| chain(entries, w & LOW)).collect()
        });
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
        self.states.bytes_allocated() + self.entries.bytes_allocated() + self.bitmaps.bytes_allocated() + bitmaps
    }
}

/// The docs of a light id's chain from entry `newest` (+1; 0 is the end), newest first.
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
        for heavy in [1, 2, 5, HEAVY] {
            let postings = Postings::with_threshold(heavy);
            let mut model: Vec<BTreeSet<u32>> = Vec::new();
            let mut x = 7u64;
            for doc in 0..3000u32 {
                for _ in 0..(doc % 3) {
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
