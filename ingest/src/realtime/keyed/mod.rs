//! Rows by primary key, for one partition: upsert (the latest row per key is what queries
//! see) and dedup (the first row per key is the only one stored).
//!
//! The state is a key map, key → (segment slot, doc, comparison value), and per segment
//! the docs that are their key's winner. Every segment of an upsert table carries its valid
//! docs ([`ValidDocs`]), which readers AND into each filter. A new row wins over the key's
//! previous one when its comparison value is at least as large (ties go to the later row);
//! the loser's doc leaves its segment's valid docs, in whichever segment it is.
//!
//! Only the consumer thread appends; the sealer swaps a consuming segment for its sealed
//! self (whose docs are reordered by the sorted column) under the same lock.
//!
//! Exactly once: the consumer resumes after the last published segment, so the state must
//! be what it was at that offset. At each publish the winners of every published segment
//! *as of its end offset* are written ([`snapshot`]) before the manifest entry: winners
//! now, plus the docs that rows consumed since (in segments not yet published) superseded —
//! each consuming segment records what its rows superseded until it is published. A
//! restart reads that snapshot and rebuilds the key map from the winners alone; a segment
//! without one (taken from a replica) is replayed doc by doc.

mod key;
mod key_map;
mod merge;
mod snapshot;
mod state;

use crate::error::IngestError;
use cuvee_catalog::partition::PartitionFunction;
use cuvee_catalog::{DataType, DedupPlan, KeyPolicy, Table, UpsertPlan, Value};
use cuvee_segments::{row_of, FieldValue, ImmutableSegment, MutableSegment, ValidDocs};
use key::{Comparison, Key, KeyReader};
use parking_lot::Mutex;
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;
use snapshot::Snapshot;
use state::{decode, inverse, num_docs, remap, Entry, Slot, Source, State};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Docs read at a time while rebuilding the key map from a segment.
const REBUILD_CHUNK: usize = 1 << 16;

/// What became of a row offered to [`Keyed::append`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored, and (upsert) its key's latest row.
    Stored,
    /// Stored but hidden: an upsert row older than its key's latest.
    OutOfOrder,
    /// Not stored: dedup saw its key before, or an out-of-order upsert row with
    /// `dropOutOfOrderRecord`.
    Dropped,
}

pub struct Keyed {
    table: String,
    partition: u32,
    table_dir: PathBuf,
    keys: KeyReader,
    mode: Mode,
    /// Every column's name and type, for reading a previous row back (partial upsert).
    columns: Vec<(String, DataType)>,
    /// The table's partition function of a key column, to check that rows arrive in the
    /// partition their key belongs to (`segmentPartitionConfig`).
    partitioning: Option<(usize, PartitionFunction, u32)>,
    /// Rows whose key belongs to another partition (kept, but their key may be kept twice).
    off_partition: AtomicU64,
    state: Mutex<State>,
}

enum Mode {
    Upsert { plan: UpsertPlan, comparison: Comparison },
    Dedup { plan: DedupPlan, time: Option<Comparison> },
}

/// A winner's doc, key and comparison value read back from a segment.
struct Stored {
    doc: u32,
    key: Key,
    comparison: u64,
    deleted: bool,
}

impl Keyed {
    /// The partition's key state, or `None` when the table appends every row.
    pub fn new(table: &Table, partition: u32, table_dir: &Path) -> Option<Keyed> {
        let schema = &table.schema;
        let (keys, mode) = match table.key_policy() {
            KeyPolicy::Append => return None,
            KeyPolicy::Upsert(plan) => (
                KeyReader::new(schema, &plan.key_columns, plan.hash),
                Mode::Upsert { comparison: Comparison::new(schema, plan.comparison)?, plan: plan.clone() },
            ),
            KeyPolicy::Dedup(plan) => (
                KeyReader::new(schema, &plan.key_columns, plan.hash),
                Mode::Dedup { time: plan.time_column.and_then(|c| Comparison::new(schema, c)), plan: plan.clone() },
            ),
        };
        let partitioning = table.config.table_index_config.as_ref().and_then(|ix| {
            let map = &ix.segment_partition_config.as_ref()?.column_partition_map;
            keys.columns().find_map(|c| {
                let spec = map.get(&schema.columns()[c].name)?;
                Some((c, PartitionFunction::parse(&spec.function_name)?, spec.num_partitions))
            })
        });
        let exact = keys.is_exact();
        Some(Keyed {
            partitioning,
            off_partition: AtomicU64::new(0),
            table: table.name().to_string(),
            partition,
            table_dir: table_dir.to_path_buf(),
            keys,
            mode,
            columns: schema.columns().iter().map(|c| (c.name.clone(), c.data_type)).collect(),
            state: Mutex::new(State::new(exact)),
        })
    }

    fn is_upsert(&self) -> bool {
        matches!(self.mode, Mode::Upsert { .. })
    }

    /// The column whose value orders (upsert) or ages (dedup) a key's rows.
    fn comparison(&self) -> Option<&Comparison> {
        match &self.mode {
            Mode::Upsert { comparison, .. } => Some(comparison),
            Mode::Dedup { time, .. } => time.as_ref(),
        }
    }

    /// Rows that arrived in another partition than their key's (by the table's
    /// `segmentPartitionConfig`).
    pub fn rows_off_partition(&self) -> u64 {
        self.off_partition.load(Ordering::Relaxed)
    }

    fn check_partition(&self, row: &[FieldValue], segment: &str) {
        let Some((column, function, partitions)) = self.partitioning else { return };
        let Some(FieldValue::Single(value)) = row.get(column) else { return };
        let Some(expected) = function.partition(value, partitions) else { return };
        if expected != self.partition && self.off_partition.fetch_add(1, Ordering::Relaxed).is_multiple_of(10_000) {
            tracing::warn!(table = %self.table, partition = self.partition, segment, expected, function = ?function, "a row's primary key belongs to another partition: the topic is not partitioned by the key as segmentPartitionConfig says, so the key may be kept in two partitions");
        }
    }

    /// Keys held now.
    pub fn key_count(&self) -> usize {
        self.state.lock().keys.len()
    }

    /// Bytes the key map's table takes.
    pub fn key_map_bytes(&self) -> usize {
        self.state.lock().keys.bytes()
    }

    /// A consuming segment begins: it gets a slot (and, for upsert, its valid docs).
    pub fn open(&self, segment: &Arc<MutableSegment>) {
        let valid = Arc::new(ValidDocs::default());
        if self.is_upsert() {
            segment.set_valid_docs(Arc::clone(&valid));
        }
        let slot = Slot {
            name: segment.name().to_string(),
            source: Source::Consuming(Arc::clone(segment)),
            valid,
            deleted: RoaringBitmap::new(),
            superseded: Vec::new(),
        };
        self.state.lock().slots.push(Some(slot));
    }

    /// Offers a conformed row for `segment` (the open one): keyed, merged (partial upsert),
    /// appended, and made its key's winner — or dropped.
    pub fn append(&self, segment: &Arc<MutableSegment>, mut row: Vec<FieldValue>) -> Result<Appended, String> {
        let key = self.keys.key(&row)?;
        self.check_partition(&row, segment.name());
        let mut state = self.state.lock();
        state.fresh = false;
        let slot = state
            .slot_named(segment.name())
            .ok_or_else(|| format!("segment {} was not opened for keyed rows", segment.name()))?;
        let comparison = self.comparison().map_or(0, |c| c.of(row.get(c.column)));
        let previous = state.keys.get(key).filter(|e| state.alive(e.slot));
        match &self.mode {
            Mode::Dedup { plan, time } => {
                if let (Some(time), true) = (time, plan.metadata_ttl > 0.0) {
                    if state.expired(time, comparison, plan.metadata_ttl) {
                        // Older than the TTL window: no longer checked, as in Pinot.
                        segment.append(&row).map_err(|e| e.to_string())?;
                        return Ok(Appended::Stored);
                    }
                }
                if previous.is_some() {
                    return Ok(Appended::Dropped);
                }
                let doc = segment.append(&row).map_err(|e| e.to_string())?;
                state.keys.insert(key, Entry { slot, doc, comparison });
                state.see(comparison);
                Ok(Appended::Stored)
            }
            Mode::Upsert { plan, .. } => {
                let out_of_order = previous.is_some_and(|p| comparison < p.comparison);
                if out_of_order {
                    if plan.drop_out_of_order {
                        return Ok(Appended::Dropped);
                    }
                    if let Some(column) = plan.out_of_order_column {
                        row[column] = FieldValue::Single(Value::Boolean(true));
                    }
                    segment.append(&row).map_err(|e| e.to_string())?;
                    return Ok(Appended::OutOfOrder);
                }
                if let (Some(strategies), Some(previous)) = (&plan.partial, previous) {
                    // A deleted key starts afresh.
                    if !state.is_deleted(previous) {
                        let old = self.read_row(&state, previous)?;
                        row = merge::merge(strategies, old, row);
                    }
                }
                let deleted = is_true(plan.delete_column.and_then(|c| row.get(c)));
                let doc = segment.append(&row).map_err(|e| e.to_string())?;
                state.win(key, Entry { slot, doc, comparison }, deleted, previous, true);
                state.see(comparison);
                Ok(Appended::Stored)
            }
        }
    }

    /// Writes the snapshot that holds as of `consuming`'s end offset, before it is
    /// published as `sealed` (its docs in `order`).
    pub fn write_snapshot(&self, consuming: &str, sealed: &str, order: Option<&[u32]>) -> Result<(), IngestError> {
        if !self.is_upsert() {
            return Ok(());
        }
        let snapshot = {
            let state = self.state.lock();
            let Some(publishing) = state.slot_named(consuming) else {
                return Err(IngestError::Stream(format!("segment {consuming} has no key state to snapshot")));
            };
            // Winners superseded by rows past this segment's end go back in.
            let mut undo: FxHashMap<u32, RoaringBitmap> = FxHashMap::default();
            for (index, slot) in state.slots.iter().enumerate() {
                let Some(slot) = slot else { continue };
                if slot.published() || index as u32 == publishing {
                    continue;
                }
                for &(s, doc) in &slot.superseded {
                    undo.entry(s).or_default().insert(doc);
                }
            }
            let inverse = order.map(inverse);
            let mut winners = Vec::new();
            for (index, slot) in state.slots.iter().enumerate() {
                let Some(slot) = slot else { continue };
                let index = index as u32;
                if !slot.published() && index != publishing {
                    continue;
                }
                let mut docs = slot.valid.copy() | &slot.deleted;
                if let Some(extra) = undo.get(&index) {
                    docs |= extra;
                }
                if index == publishing {
                    winners.push((sealed.to_string(), remap(&docs, inverse.as_deref())));
                } else {
                    winners.push((slot.name.clone(), docs));
                }
            }
            Snapshot { through: sealed.to_string(), max_comparison: state.max_comparison, winners }
        };
        snapshot.write(&self.table_dir, self.partition)?;
        Ok(())
    }

    /// `consuming` was published as `sealed` (its docs in `order`): the key map follows the
    /// docs, the sealed segment gets the valid docs, and `swap_in` shows it to readers —
    /// all under the lock, so no row is superseded in between.
    pub fn published(
        &self,
        consuming: &str,
        sealed: &Arc<ImmutableSegment>,
        order: Option<&[u32]>,
        swap_in: impl FnOnce(),
    ) {
        let mut state = self.state.lock();
        let Some(index) = state.slot_named(consuming) else {
            swap_in();
            return;
        };
        let inverse = order.map(inverse);
        let upsert = self.is_upsert();
        if let (Some(inverse), true) = (&inverse, upsert) {
            state.keys.for_each_mut(|entry| {
                if entry.slot == index {
                    entry.doc = inverse[entry.doc as usize];
                }
            });
            for slot in state.slots.iter_mut().flatten().filter(|s| !s.published()) {
                for (s, doc) in slot.superseded.iter_mut() {
                    if *s == index {
                        *doc = inverse[*doc as usize];
                    }
                }
            }
        }
        if let Some(Some(slot)) = state.slots.get_mut(index as usize) {
            let valid = Arc::new(ValidDocs::new(remap(&slot.valid.copy(), inverse.as_deref())));
            if upsert && !sealed.set_valid_docs(Arc::clone(&valid)) {
                if let Some(existing) = sealed.valid_docs() {
                    existing.replace(valid.copy());
                }
            }
            slot.valid = sealed.valid_docs().map_or(valid, Arc::clone);
            slot.deleted = remap(&slot.deleted, inverse.as_deref());
            slot.superseded = Vec::new();
            slot.name = sealed.name().to_string();
            slot.source = Source::Sealed(Arc::clone(sealed));
        }
        self.forget_expired(&mut state);
        swap_in();
        drop(state);
        if upsert {
            Snapshot::remove_others(&self.table_dir, self.partition, sealed.name());
        }
    }

    /// Rebuilds the state from `published` (sealed segments of the partition, oldest first)
    /// and `consuming` (handed-off segments not yet published, oldest first): from the
    /// newest snapshot that holds for a prefix of `published`, then row by row.
    pub fn rebuild(&self, published: &[Arc<ImmutableSegment>], consuming: &[Arc<MutableSegment>]) {
        let started = std::time::Instant::now();
        let mut snapshot = None;
        if self.is_upsert() {
            for (i, segment) in published.iter().enumerate().rev() {
                match Snapshot::read(&self.table_dir, self.partition, segment.name()) {
                    Ok(Some(found)) => {
                        snapshot = Some((i, found));
                        break;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(table = %self.table, partition = self.partition, segment = %segment.name(), error = %e, "an upsert snapshot cannot be read; rows are replayed instead");
                    }
                }
            }
        }
        let mut state = State::new(self.keys.is_exact());
        let mut failures = Vec::new();
        if let Some((_, found)) = &snapshot {
            state.max_comparison = found.max_comparison;
            // Sized once: growing would re-read every key from its page to rehash it.
            state.keys.reserve(found.winners.iter().map(|(_, w)| w.len() as usize).sum());
        }
        // Computed into fresh bitmaps; readers' bitmaps change only at the end, together,
        // so a rebuild (a replica's segment adopted) never shows a key gone or doubled.
        let mut targets: Vec<Arc<ValidDocs>> = Vec::new();
        for (i, segment) in published.iter().enumerate() {
            targets.push(segment.valid_docs().map_or_else(|| Arc::new(ValidDocs::default()), Arc::clone));
            let valid = Arc::new(ValidDocs::default());
            let index = state.slots.len() as u32;
            state.slots.push(Some(Slot {
                name: segment.name().to_string(),
                source: Source::Sealed(Arc::clone(segment)),
                valid: Arc::clone(&valid),
                deleted: RoaringBitmap::new(),
                superseded: Vec::new(),
            }));
            let winners = snapshot.as_ref().filter(|(through, _)| i <= *through).map(|(_, s)| {
                s.winners.iter().find(|(name, _)| name == segment.name()).map(|(_, w)| w.clone()).unwrap_or_default()
            });
            let result = match winners {
                // Winners are each their key's latest: no comparisons needed.
                Some(winners) => self.read_stored(&Source::Sealed(Arc::clone(segment)), &winners).map(|rows| {
                    let mut valid_docs = RoaringBitmap::new();
                    for row in rows {
                        state.keys.insert(row.key, Entry { slot: index, doc: row.doc, comparison: row.comparison });
                        if row.deleted {
                            if let Some(Some(slot)) = state.slots.get_mut(index as usize) {
                                slot.deleted.insert(row.doc);
                            }
                        } else {
                            valid_docs.insert(row.doc);
                        }
                    }
                    valid.replace(valid_docs);
                }),
                None => self.replay(&mut state, index, false),
            };
            if let Err(e) = result {
                failures.push(format!("{}: {e}", segment.name()));
            }
        }
        for segment in consuming {
            targets.push(segment.valid_docs().map_or_else(|| Arc::new(ValidDocs::default()), Arc::clone));
            let index = state.slots.len() as u32;
            state.slots.push(Some(Slot {
                name: segment.name().to_string(),
                source: Source::Consuming(Arc::clone(segment)),
                valid: Arc::new(ValidDocs::default()),
                deleted: RoaringBitmap::new(),
                superseded: Vec::new(),
            }));
            if let Err(e) = self.replay(&mut state, index, true) {
                failures.push(format!("{}: {e}", segment.name()));
            }
        }
        for failure in &failures {
            tracing::error!(table = %self.table, partition = self.partition, error = %failure, "rows of a segment cannot be keyed; its rows are hidden");
        }
        state.fresh = true;
        let keys = state.keys.len();
        let mut current = self.state.lock();
        for (slot, target) in state.slots.iter_mut().flatten().zip(targets) {
            target.replace(slot.valid.copy());
            if self.is_upsert() {
                match &slot.source {
                    Source::Sealed(s) => s.set_valid_docs(Arc::clone(&target)),
                    Source::Consuming(m) => m.set_valid_docs(Arc::clone(&target)),
                };
            }
            slot.valid = target;
        }
        *current = state;
        drop(current);
        tracing::info!(table = %self.table, partition = self.partition, keys, segments = published.len() + consuming.len(), from_snapshot = snapshot.is_some(), millis = started.elapsed().as_millis() as u64, "key map rebuilt");
    }

    /// A published segment was removed (retention): its keys are forgotten, so a later row
    /// of one of them is new, and its older rows elsewhere stay hidden (as in Pinot).
    pub fn forget(&self, segment: &str) {
        let mut state = self.state.lock();
        let Some(index) = state.slot_named(segment) else { return };
        if !state.slots[index as usize].as_ref().is_some_and(Slot::published) {
            return;
        }
        state.slots[index as usize] = None;
        state.keys.retain(|e| e.slot != index);
    }

    /// Rebuilt and untouched since (a consumer starting now need not rebuild again).
    pub fn is_fresh(&self) -> bool {
        self.state.lock().fresh
    }

    /// The published segments and the unpublished consuming ones except `abandoned`, oldest
    /// first: what a rebuild that gives up `abandoned`'s rows starts from.
    pub fn segments_except(&self, abandoned: &str) -> (Vec<Arc<ImmutableSegment>>, Vec<Arc<MutableSegment>>) {
        let state = self.state.lock();
        let mut published = Vec::new();
        let mut consuming = Vec::new();
        for slot in state.slots.iter().flatten().filter(|s| s.name != abandoned) {
            match &slot.source {
                Source::Sealed(s) => published.push(Arc::clone(s)),
                Source::Consuming(m) => consuming.push(Arc::clone(m)),
            }
        }
        (published, consuming)
    }

    /// Every doc of slot `index` in doc order, as if its rows arrived again (stored rows are
    /// already merged, so nothing is merged again).
    fn replay(&self, state: &mut State, index: u32, track: bool) -> Result<(), String> {
        let Some(Some(slot)) = state.slots.get(index as usize) else { return Ok(()) };
        let source = slot.source.clone();
        let all: RoaringBitmap = (0..num_docs(&source)).collect();
        let rows = self.read_stored(&source, &all)?;
        for row in rows {
            let previous = state.keys.get(row.key).filter(|e| state.alive(e.slot));
            let entry = Entry { slot: index, doc: row.doc, comparison: row.comparison };
            match &self.mode {
                Mode::Dedup { .. } => {
                    state.keys.insert_new(row.key, entry);
                }
                Mode::Upsert { .. } => {
                    if previous.is_some_and(|p| row.comparison < p.comparison) {
                        continue;
                    }
                    state.win(row.key, entry, row.deleted, previous, track);
                }
            }
            state.see(row.comparison);
        }
        Ok(())
    }

    /// Key, comparison value and delete flag of `docs` of a segment.
    fn read_stored(&self, source: &Source, docs: &RoaringBitmap) -> Result<Vec<Stored>, String> {
        let mut columns: Vec<usize> = self.keys.columns().collect();
        let comparison_at = self.comparison().map(|c| {
            columns.push(c.column);
            columns.len() - 1
        });
        let delete_at = match &self.mode {
            Mode::Upsert { plan, .. } => plan.delete_column.map(|c| {
                columns.push(c);
                columns.len() - 1
            }),
            Mode::Dedup { .. } => None,
        };
        let key_len = self.keys.columns().count();
        let names: Vec<&str> = columns.iter().map(|&c| self.columns[c].0.as_str()).collect();
        let types: Vec<DataType> = columns.iter().map(|&c| self.columns[c].1).collect();
        let docs: Vec<u32> = docs.iter().collect();
        let mut out = Vec::with_capacity(docs.len());
        for chunk in docs.chunks(REBUILD_CHUNK) {
            let batch = decode(source, &names, chunk)?;
            for (i, &doc) in chunk.iter().enumerate() {
                let fields = row_of(&batch, &types, i).map_err(|e| e.to_string())?;
                let key = self.keys.key_of_fields(&fields[..key_len])?;
                let comparison = match (comparison_at, self.comparison()) {
                    (Some(at), Some(c)) => c.of(fields.get(at)),
                    _ => 0,
                };
                let deleted = is_true(delete_at.and_then(|at| fields.get(at)));
                out.push(Stored { doc, key, comparison, deleted });
            }
        }
        Ok(out)
    }

    /// The stored row of a key's winner, every column (absent ones null).
    fn read_row(&self, state: &State, entry: Entry) -> Result<Vec<FieldValue>, String> {
        let Some(Some(slot)) = state.slots.get(entry.slot as usize) else {
            return Err("the previous row's segment is gone".into());
        };
        let present: Vec<usize> = (0..self.columns.len())
            .filter(|&c| match &slot.source {
                Source::Sealed(s) => s.schema().column(&self.columns[c].0).is_some(),
                Source::Consuming(_) => true,
            })
            .collect();
        let names: Vec<&str> = present.iter().map(|&c| self.columns[c].0.as_str()).collect();
        let types: Vec<DataType> = present.iter().map(|&c| self.columns[c].1).collect();
        let batch = decode(&slot.source, &names, &[entry.doc])?;
        let fields = row_of(&batch, &types, 0).map_err(|e| e.to_string())?;
        let mut row = vec![FieldValue::Null; self.columns.len()];
        for (c, field) in present.into_iter().zip(fields) {
            row[c] = field;
        }
        Ok(row)
    }

    /// Drops keys past `metadataTTL`, and deleted keys past `deletedKeysTTL`.
    fn forget_expired(&self, state: &mut State) {
        let (ttl, deleted_ttl) = match &self.mode {
            Mode::Upsert { plan, .. } => (plan.metadata_ttl, plan.deleted_keys_ttl),
            Mode::Dedup { plan, .. } => (plan.metadata_ttl, 0.0),
        };
        let Some(comparison) = self.comparison() else { return };
        if ttl <= 0.0 && deleted_ttl <= 0.0 {
            return;
        }
        let Some(max) = state.max_comparison.map(|m| comparison.number(m)) else { return };
        let State { keys, slots, .. } = state;
        keys.retain(|entry| {
            let age = max - comparison.number(entry.comparison);
            if ttl > 0.0 && age > ttl {
                return false;
            }
            if deleted_ttl > 0.0 && age > deleted_ttl {
                if let Some(Some(slot)) = slots.get_mut(entry.slot as usize) {
                    if slot.deleted.remove(entry.doc) {
                        return false;
                    }
                }
            }
            true
        });
    }
}

fn is_true(field: Option<&FieldValue>) -> bool {
    matches!(field, Some(FieldValue::Single(Value::Boolean(true))))
}

#[cfg(test)]
mod tests;
