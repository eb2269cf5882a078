//! What wins, held in memory: the key map (key → the winning segment slot, doc and
//! comparison value) and, per segment slot, its valid docs and hidden (deleted) winners —
//! and how a winner changes (`State::win`), the one rule replay and appends share.

use super::key::{Comparison, Key};
use super::key_map::KeyMap;
use cuvee_segments::{DecodeOptions, ImmutableSegment, MutableSegment, ValidDocs};
use roaring::RoaringBitmap;
use std::sync::Arc;

#[derive(Clone)]
pub(super) enum Source {
    Consuming(Arc<MutableSegment>),
    Sealed(Arc<ImmutableSegment>),
}

pub(super) struct Slot {
    pub(super) name: String,
    pub(super) source: Source,
    pub(super) valid: Arc<ValidDocs>,
    /// Winners hidden by the delete column (the key's latest row says it is deleted).
    pub(super) deleted: RoaringBitmap,
    /// While unpublished: the (slot, doc) winners this segment's rows superseded, undone in
    /// a snapshot taken before this segment is published.
    pub(super) superseded: Vec<(u32, u32)>,
}

impl Slot {
    pub(super) fn published(&self) -> bool {
        matches!(self.source, Source::Sealed(_))
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    pub(super) slot: u32,
    pub(super) doc: u32,
    /// The comparison value (dedup: the time value) as an order-preserving key.
    pub(super) comparison: u64,
}

pub(super) struct State {
    /// `None`: a consuming segment given up (its range is consumed again).
    pub(super) slots: Vec<Option<Slot>>,
    pub(super) keys: KeyMap,
    pub(super) max_comparison: Option<u64>,
    /// Rebuilt and not appended to since: a consumer starting now need not rebuild.
    pub(super) fresh: bool,
}

impl State {
    pub(super) fn new(exact: bool) -> State {
        State { slots: Vec::new(), keys: KeyMap::new(exact), max_comparison: None, fresh: false }
    }

    pub(super) fn slot_named(&self, name: &str) -> Option<u32> {
        self.slots.iter().rposition(|s| s.as_ref().is_some_and(|s| s.name == name)).map(|i| i as u32)
    }

    pub(super) fn alive(&self, slot: u32) -> bool {
        matches!(self.slots.get(slot as usize), Some(Some(_)))
    }

    pub(super) fn is_deleted(&self, entry: Entry) -> bool {
        matches!(self.slots.get(entry.slot as usize), Some(Some(s)) if s.deleted.contains(entry.doc))
    }

    pub(super) fn see(&mut self, comparison: u64) {
        self.max_comparison = Some(self.max_comparison.map_or(comparison, |m| m.max(comparison)));
    }

    pub(super) fn expired(&self, column: &Comparison, value: u64, ttl: f64) -> bool {
        self.max_comparison.is_some_and(|max| column.number(max) - column.number(value) > ttl)
    }

    /// `entry` becomes its key's winner (shown, or hidden when `deleted`); the previous
    /// winner stops being one. `track`: recorded for the snapshot of an unpublished segment.
    pub(super) fn win(&mut self, key: Key, entry: Entry, deleted: bool, previous: Option<Entry>, track: bool) {
        let same_slot = previous.filter(|p| p.slot == entry.slot);
        if let Some(Some(slot)) = self.slots.get_mut(entry.slot as usize) {
            match (deleted, same_slot) {
                // One step: readers never see both versions, nor neither.
                (false, Some(p)) => slot.valid.swap(entry.doc, p.doc),
                (false, None) => slot.valid.insert(entry.doc),
                (true, _) => {
                    slot.deleted.insert(entry.doc);
                }
            }
        }
        if let Some(p) = previous {
            if let Some(Some(slot)) = self.slots.get_mut(p.slot as usize) {
                slot.valid.remove(p.doc);
                slot.deleted.remove(p.doc);
            }
            if track {
                if let Some(Some(slot)) = self.slots.get_mut(entry.slot as usize) {
                    slot.superseded.push((p.slot, p.doc));
                }
            }
        }
        self.keys.insert(key, entry);
    }
}

pub(super) fn num_docs(source: &Source) -> u32 {
    match source {
        Source::Consuming(m) => m.num_docs(),
        Source::Sealed(s) => s.num_docs(),
    }
}

pub(super) fn decode(source: &Source, names: &[&str], docs: &[u32]) -> Result<arrow_array::RecordBatch, String> {
    let options = DecodeOptions { null_handling: true };
    match source {
        Source::Consuming(m) => m.snapshot().decode(names, docs, options),
        Source::Sealed(s) => s.decode(names, docs, options),
    }
    .map_err(|e| e.to_string())
}

/// `inverse[doc as appended] = doc in the file`, from `order[doc in file] = doc as appended`.
pub(super) fn inverse(order: &[u32]) -> Vec<u32> {
    let mut out = vec![0u32; order.len()];
    for (new, &old) in order.iter().enumerate() {
        if let Some(slot) = out.get_mut(old as usize) {
            *slot = new as u32;
        }
    }
    out
}

pub(super) fn remap(docs: &RoaringBitmap, inverse: Option<&[u32]>) -> RoaringBitmap {
    match inverse {
        None => docs.clone(),
        Some(inverse) => docs.iter().filter_map(|d| inverse.get(d as usize).copied()).collect(),
    }
}
