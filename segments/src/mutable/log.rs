//! Append-only slots in fixed chunks: a chunk, once allocated, never moves, and each slot is
//! written once (or, for per-value state, only by the one writer). A slot is written before
//! the length that covers it is published with release ordering, so a reader that acquired
//! the length sees every slot below it.

use parking_lot::RwLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub(super) const CHUNK: usize = 4096;

/// A write-once slot readers can read without a lock.
pub(super) trait Slot: Send + Sync {
    type Value;
    fn empty() -> Self;
    fn put(&self, v: Self::Value);
}

impl Slot for AtomicU64 {
    type Value = u64;
    fn empty() -> Self {
        AtomicU64::new(0)
    }
    fn put(&self, v: u64) {
        self.store(v, Ordering::Relaxed)
    }
}

impl<T: Send + Sync> Slot for OnceLock<T> {
    type Value = T;
    fn empty() -> Self {
        OnceLock::new()
    }
    fn put(&self, v: T) {
        let _ = self.set(v);
    }
}

/// Chunks of slots, as the writer allocated them.
pub(super) type Chunks<T> = Vec<Arc<[T]>>;

pub(super) struct Log<S: Slot> {
    chunks: RwLock<Chunks<S>>,
    pub(super) len: AtomicU32,
}

impl<S: Slot> Log<S> {
    pub(super) fn new() -> Log<S> {
        Log { chunks: RwLock::new(Vec::new()), len: AtomicU32::new(0) }
    }

    /// Single writer only (callers hold the segment's writer lock).
    pub(super) fn push(&self, value: S::Value) -> u32 {
        let index = self.len.load(Ordering::Relaxed);
        let chunk = index as usize / CHUNK;
        let mut chunks = self.chunks.write();
        if chunk == chunks.len() {
            chunks.push((0..CHUNK).map(|_| S::empty()).collect());
        }
        chunks[chunk][index as usize % CHUNK].put(value);
        drop(chunks);
        self.len.store(index + 1, Ordering::Release);
        index
    }

    /// The slot at `index`, already pushed.
    pub(super) fn with_slot<R>(&self, index: u32, f: impl FnOnce(&S) -> R) -> Option<R> {
        let chunks = self.chunks.read();
        slot(&chunks, index as usize).map(f)
    }

    /// Runs `f` over the chunks allocated so far, under one read lock: for a writer that
    /// reads many slots in one step (a hash table's probe or rehash).
    pub(super) fn with_chunks<R>(&self, f: impl FnOnce(&[Arc<[S]>]) -> R) -> R {
        f(&self.chunks.read())
    }

    pub(super) fn snapshot(&self) -> (u32, Chunks<S>) {
        let len = self.len.load(Ordering::Acquire);
        (len, self.chunks.read().clone())
    }

    pub(super) fn bytes_allocated(&self) -> usize {
        self.chunks.read().len() * CHUNK * std::mem::size_of::<S>()
    }
}

pub(super) fn slot<S>(chunks: &[Arc<[S]>], index: usize) -> Option<&S> {
    chunks.get(index / CHUNK)?.get(index % CHUNK)
}

pub(super) fn u64_at(chunks: &[Arc<[AtomicU64]>], index: usize) -> u64 {
    slot(chunks, index).map_or(0, |a| a.load(Ordering::Relaxed))
}
