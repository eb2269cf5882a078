//! The key map: a key → its winner (segment slot, doc, comparison value), in under 40 bytes
//! per key at any size.
//!
//! A hashbrown map keeps a power-of-two count of buckets between 7/16 and 7/8 full, and each
//! bucket holds a whole (key, winner) pair — 33 bytes with a 128-bit key, so 10 M keys
//! (2²⁴ buckets) cost 55 B/key. Here the pairs are records packed in fixed-size pages, and
//! the hash table holds a u32 record number per bucket: 5 bytes with its control byte, at
//! most 11.4 per key even just after the table doubled. A record is 24 bytes for a key held
//! exactly (an integer) and 28 for a digest, which keeps 96 of its 128 bits (two keys among
//! 10⁹ share them with odds of ~10⁻¹¹). Records of forgotten keys are reused.

use super::key::Key;
use super::state::Entry;
use hashbrown::hash_table::{Entry as Slot, HashTable};

/// Records per page: pages are allocated whole, so at most one is partly empty.
const PAGE: usize = 1 << 14;

/// One key and its winner, in 4-byte words (no padding): `K` words of key.
#[derive(Clone, Copy)]
struct Record<const K: usize> {
    key: [u32; K],
    slot: u32,
    doc: u32,
    comparison: [u32; 2],
}

impl<const K: usize> Record<K> {
    fn entry(&self) -> Entry {
        Entry {
            slot: self.slot,
            doc: self.doc,
            comparison: u64::from(self.comparison[0]) | u64::from(self.comparison[1]) << 32,
        }
    }

    fn set(&mut self, entry: Entry) {
        self.slot = entry.slot;
        self.doc = entry.doc;
        self.comparison = [entry.comparison as u32, (entry.comparison >> 32) as u32];
    }
}

/// The words of a key as a record holds them (its low `K` words).
fn words<const K: usize>(key: Key) -> [u32; K] {
    std::array::from_fn(|i| (key >> (32 * i)) as u32)
}

/// A 64-bit hash of a key's words: integer keys are often sequential, so the words are
/// mixed (a multiply, then the high bits folded down for hashbrown's bucket bits).
fn hash<const K: usize>(words: &[u32; K]) -> u64 {
    let mut h: u64 = 0;
    for &w in words {
        h = (h.rotate_left(29) ^ u64::from(w)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    h ^ (h >> 32)
}

fn at<const K: usize>(pages: &[Vec<Record<K>>], i: u32) -> &Record<K> {
    &pages[i as usize / PAGE][i as usize % PAGE]
}

struct Table<const K: usize> {
    index: HashTable<u32>,
    pages: Vec<Vec<Record<K>>>,
    /// Records in use or freed (the next new record's number).
    used: u32,
    /// Records of forgotten keys, reused first.
    free: Vec<u32>,
}

impl<const K: usize> Table<K> {
    fn new() -> Table<K> {
        Table { index: HashTable::new(), pages: Vec::new(), used: 0, free: Vec::new() }
    }

    fn get(&self, key: [u32; K]) -> Option<Entry> {
        self.index.find(hash(&key), |&i| self.record(i).key == key).map(|&i| self.record(i).entry())
    }

    fn record(&self, i: u32) -> &Record<K> {
        at(&self.pages, i)
    }

    /// Sets the key's winner; `replace: false` keeps a winner the key already has.
    fn put(&mut self, key: [u32; K], entry: Entry, replace: bool) {
        let Table { index, pages, used, free } = self;
        match index.entry(hash(&key), |&i| at(pages, i).key == key, |&i| hash(&at(pages, i).key)) {
            Slot::Occupied(occupied) => {
                if replace {
                    let i = *occupied.get();
                    pages[i as usize / PAGE][i as usize % PAGE].set(entry);
                }
            }
            Slot::Vacant(vacant) => {
                let mut record = Record { key, slot: 0, doc: 0, comparison: [0; 2] };
                record.set(entry);
                let i = match free.pop() {
                    Some(i) => {
                        pages[i as usize / PAGE][i as usize % PAGE] = record;
                        i
                    }
                    None => {
                        let i = *used;
                        if (i as usize).is_multiple_of(PAGE) {
                            pages.push(Vec::with_capacity(PAGE));
                        }
                        if let Some(page) = pages.last_mut() {
                            page.push(record);
                        }
                        *used += 1;
                        i
                    }
                };
                vacant.insert(i);
            }
        }
    }

    fn reserve(&mut self, additional: usize) {
        let Table { index, pages, .. } = self;
        index.reserve(additional, |&i| hash(&at(pages, i).key));
        pages.reserve(additional.div_ceil(PAGE));
    }

    fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        let Table { index, pages, free, .. } = self;
        index.retain(|i| {
            let kept = keep(&pages[*i as usize / PAGE][*i as usize % PAGE].entry());
            if !kept {
                free.push(*i);
            }
            kept
        });
    }

    fn for_each_mut(&mut self, mut f: impl FnMut(&mut Entry)) {
        let Table { index, pages, .. } = self;
        for &i in index.iter() {
            let record = &mut pages[i as usize / PAGE][i as usize % PAGE];
            let mut entry = record.entry();
            f(&mut entry);
            record.set(entry);
        }
    }

    /// Bytes held: the table's buckets (a u32 and a control byte each), the pages whole,
    /// and the free list.
    fn bytes(&self) -> usize {
        let buckets = if self.index.capacity() == 0 { 0 } else { (self.index.capacity() * 8 / 7).next_power_of_two() };
        buckets * (std::mem::size_of::<u32>() + 1)
            + self.pages.len() * PAGE * std::mem::size_of::<Record<K>>()
            + self.free.capacity() * std::mem::size_of::<u32>()
    }
}

/// Key → winner, for exact (integer) keys or digests.
pub(super) struct KeyMap(Keys);

enum Keys {
    Exact(Table<2>),
    Digest(Table<3>),
}

impl KeyMap {
    pub(super) fn new(exact: bool) -> KeyMap {
        KeyMap(if exact { Keys::Exact(Table::new()) } else { Keys::Digest(Table::new()) })
    }

    pub(super) fn get(&self, key: Key) -> Option<Entry> {
        match &self.0 {
            Keys::Exact(t) => t.get(words(key)),
            Keys::Digest(t) => t.get(words(key)),
        }
    }

    pub(super) fn insert(&mut self, key: Key, entry: Entry) {
        match &mut self.0 {
            Keys::Exact(t) => t.put(words(key), entry, true),
            Keys::Digest(t) => t.put(words(key), entry, true),
        }
    }

    /// Inserts unless the key is held.
    pub(super) fn insert_new(&mut self, key: Key, entry: Entry) {
        match &mut self.0 {
            Keys::Exact(t) => t.put(words(key), entry, false),
            Keys::Digest(t) => t.put(words(key), entry, false),
        }
    }

    /// Room for `additional` more keys without growing.
    pub(super) fn reserve(&mut self, additional: usize) {
        match &mut self.0 {
            Keys::Exact(t) => t.reserve(additional),
            Keys::Digest(t) => t.reserve(additional),
        }
    }

    pub(super) fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        match &mut self.0 {
            Keys::Exact(t) => t.retain(keep),
            Keys::Digest(t) => t.retain(keep),
        }
    }

    pub(super) fn for_each_mut(&mut self, f: impl FnMut(&mut Entry)) {
        match &mut self.0 {
            Keys::Exact(t) => t.for_each_mut(f),
            Keys::Digest(t) => t.for_each_mut(f),
        }
    }

    pub(super) fn len(&self) -> usize {
        match &self.0 {
            Keys::Exact(t) => t.index.len(),
            Keys::Digest(t) => t.index.len(),
        }
    }

    pub(super) fn bytes(&self) -> usize {
        match &self.0 {
            Keys::Exact(t) => t.bytes(),
            Keys::Digest(t) => t.bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entry(n: u64) -> Entry {
        Entry { slot: n as u32 % 7, doc: n as u32, comparison: n.wrapping_mul(0x1_0000_0001) }
    }

    /// Against std's map: inserts, keep-first inserts, forgetting (whose records are
    /// reused) and rewriting every winner, for both kinds of key.
    #[test]
    fn behaves_as_a_map() {
        for exact in [true, false] {
            let mut map = KeyMap::new(exact);
            let mut model: HashMap<Key, (u32, u32, u64)> = HashMap::new();
            let key = |n: u64| if exact { u128::from(n) } else { xxhash_rust::xxh3::xxh3_128(&n.to_le_bytes()) };
            let as_tuple = |e: Entry| (e.slot, e.doc, e.comparison);
            for round in 0..3u64 {
                for n in 0..40_000u64 {
                    let e = entry(n * 3 + round);
                    if n % 3 == 0 {
                        map.insert_new(key(n), e);
                        model.entry(key(n)).or_insert(as_tuple(e));
                    } else {
                        map.insert(key(n), e);
                        model.insert(key(n), as_tuple(e));
                    }
                }
                map.retain(|e| e.doc % 5 != round as u32);
                model.retain(|_, e| e.1 % 5 != round as u32);
                map.for_each_mut(|e| e.comparison ^= 1);
                model.values_mut().for_each(|e| e.2 ^= 1);
                assert_eq!(map.len(), model.len());
                for n in 0..40_000u64 {
                    assert_eq!(map.get(key(n)).map(as_tuple), model.get(&key(n)).copied(), "key {n}");
                }
            }
            // The account covers at least every record and bucket (examples/upsert_keys.rs
            // checks it against the heap at 10 M keys).
            assert!(map.bytes() >= map.len() * (if exact { 24 } else { 28 } + 5), "{}", map.bytes());
        }
    }
}
