//! The unsorted dictionary of a consuming column: values in first-seen order, found again
//! through a hash table of ids (4 bytes a bucket) whose probes compare against the values
//! themselves — fixed-width keys in a log, variable-width bytes in an [`Arena`].

use super::arena::{self, Arena, Block};
use super::log::{slot, u64_at, Chunks, Log};
use hashbrown::HashTable;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// A value in physical form, before it has an id.
pub(super) enum Entry<'a> {
    Key(u64),
    Bytes(&'a [u8]),
}

pub(super) enum Dictionary {
    Fixed { keys: Log<AtomicU64>, lookup: Mutex<HashTable<u32>> },
    Var { spans: Log<AtomicU64>, arena: Arena, lookup: Mutex<HashTable<u32>> },
}

fn hash_key(key: u64) -> u64 {
    xxh3_64(&key.to_le_bytes())
}

fn key_of(chunks: &[Arc<[AtomicU64]>], id: u32) -> u64 {
    u64_at(chunks, id as usize)
}

fn bytes_of<'a>(spans: &[Arc<[AtomicU64]>], blocks: &'a [Arc<Block>], id: u32) -> &'a [u8] {
    arena::resolve(blocks, u64_at(spans, id as usize))
}

impl Dictionary {
    pub(super) fn fixed() -> Dictionary {
        Dictionary::Fixed { keys: Log::new(), lookup: Mutex::new(HashTable::new()) }
    }

    pub(super) fn var() -> Dictionary {
        Dictionary::Var { spans: Log::new(), arena: Arena::new(), lookup: Mutex::new(HashTable::new()) }
    }

    /// The id of `entry`, added when new (then `true`). Single writer; an entry of the other
    /// kind than the dictionary's (never made: entries are converted by the column's type)
    /// reads as id 0.
    pub(super) fn id_of(&self, entry: &Entry) -> (u32, bool) {
        match (self, entry) {
            (Dictionary::Fixed { keys, lookup }, &Entry::Key(key)) => {
                let mut table = lookup.lock();
                let hash = hash_key(key);
                if let Some(&id) = keys.with_chunks(|c| table.find(hash, |&id| key_of(c, id) == key).copied()).as_ref()
                {
                    return (id, false);
                }
                let id = keys.push(key);
                keys.with_chunks(|c| table.insert_unique(hash, id, |&id| hash_key(key_of(c, id))));
                (id, true)
            }
            (Dictionary::Var { spans, arena, lookup }, &Entry::Bytes(bytes)) => {
                let mut table = lookup.lock();
                let hash = xxh3_64(bytes);
                let found = spans.with_chunks(|s| {
                    arena.with_blocks(|b| table.find(hash, |&id| bytes_of(s, b, id) == bytes).copied())
                });
                if let Some(id) = found {
                    return (id, false);
                }
                let id = spans.push(arena.push(bytes));
                spans.with_chunks(|s| {
                    arena.with_blocks(|b| table.insert_unique(hash, id, |&id| xxh3_64(bytes_of(s, b, id))))
                });
                (id, true)
            }
            _ => (0, false),
        }
    }

    /// Values so far (single writer's view).
    pub(super) fn len(&self) -> u32 {
        match self {
            Dictionary::Fixed { keys, .. } => keys.len.load(Ordering::Relaxed),
            Dictionary::Var { spans, .. } => spans.len.load(Ordering::Relaxed),
        }
    }

    /// The id of a fixed-width key, if the dictionary holds it.
    pub(super) fn find_key(&self, key: u64) -> Option<u32> {
        match self {
            Dictionary::Fixed { keys, lookup } => {
                let table = lookup.lock();
                keys.with_chunks(|c| table.find(hash_key(key), |&id| key_of(c, id) == key).copied())
            }
            Dictionary::Var { .. } => None,
        }
    }

    /// The id of a variable-width value, if the dictionary holds it.
    pub(super) fn find_bytes(&self, bytes: &[u8]) -> Option<u32> {
        match self {
            Dictionary::Var { spans, arena, lookup } => {
                let table = lookup.lock();
                spans.with_chunks(|s| {
                    arena.with_blocks(|b| table.find(xxh3_64(bytes), |&id| bytes_of(s, b, id) == bytes).copied())
                })
            }
            Dictionary::Fixed { .. } => None,
        }
    }

    pub(super) fn snapshot(&self) -> DictSnapshot {
        match self {
            Dictionary::Fixed { keys, .. } => {
                let (len, chunks) = keys.snapshot();
                DictSnapshot::Fixed(len, chunks)
            }
            Dictionary::Var { spans, arena, .. } => {
                let (len, chunks) = spans.snapshot();
                // Blocks after the spans: every span acquired names a block already there.
                DictSnapshot::Var(len, chunks, arena.snapshot())
            }
        }
    }

    pub(super) fn memory_bytes(&self) -> usize {
        // A bucket is a u32 and a control byte.
        let table = |t: &Mutex<HashTable<u32>>| t.lock().capacity() * 5;
        match self {
            Dictionary::Fixed { keys, lookup } => keys.bytes_allocated() + table(lookup),
            Dictionary::Var { spans, arena, lookup } => {
                spans.bytes_allocated() + arena.bytes_allocated() + table(lookup)
            }
        }
    }
}

/// A reader's view of a dictionary: the entries below its length.
pub(super) enum DictSnapshot {
    Fixed(u32, Chunks<AtomicU64>),
    Var(u32, Chunks<AtomicU64>, Vec<Arc<Block>>),
}

impl DictSnapshot {
    pub(super) fn len(&self) -> u32 {
        match self {
            DictSnapshot::Fixed(len, _) | DictSnapshot::Var(len, ..) => *len,
        }
    }

    pub(super) fn key(&self, id: u32) -> u64 {
        match self {
            DictSnapshot::Fixed(_, chunks) => slot(chunks, id as usize).map_or(0, |k| k.load(Ordering::Relaxed)),
            DictSnapshot::Var(..) => 0,
        }
    }

    pub(super) fn bytes(&self, id: u32) -> &[u8] {
        match self {
            DictSnapshot::Var(_, spans, blocks) => bytes_of(spans, blocks, id),
            DictSnapshot::Fixed(..) => &[],
        }
    }
}
