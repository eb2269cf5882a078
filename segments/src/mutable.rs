//! The mutable (consuming) segment: rows are appended one at a time by one writer while any
//! number of readers query it.
//!
//! Storage is append-only and chunked: a chunk, once allocated, never moves, and each slot is
//! written once. The writer fills the slots of a row, then publishes the new row count with
//! release ordering; a reader takes a [`MutableSnapshot`] — the row count and the lists of
//! chunks — and reads the first `num_docs` rows without any lock and without copying the
//! segment. Rows appended after the snapshot are invisible to it.
//!
//! Every column is dictionary-encoded while consuming (ids in arrival order, an unsorted
//! dictionary found again through a table of ids, variable-width values packed in an arena:
//! `dictionary.rs`, `arena.rs`) — except a single-value column without an inverted index
//! that is in `noDictionaryColumns` or whose first chunk says raw is smaller (nearly all
//! distinct keys, or more bytes in its docs than in its distinct values and their entries),
//! which is kept raw: fixed-width keys, or variable-width bytes end to end with per-doc
//! ends (`raw_bytes.rs`), FSST-coded after the first chunk where that pays
//! (`../symbol_table.rs`). Per-doc ids, keys and ends go in chunks that are
//! bit-packed above their minimum once full, or as steps where they never decrease
//! (`packed_log.rs`); inverted-index columns also keep each id's docs (a chain
//! of entries while it has few, a bitmap past that: `postings.rs`), H3-indexed columns
//! their docs per cell. Sealing reads the rows
//! back and hands them to the batch [`SegmentBuilder`], so a sealed segment is
//! byte-identical to one built in batch from the same rows.

use crate::bitmap_index::all_docs;
use crate::builder::{ColumnBuffer, SegmentBuilder, SegmentIdentity};
use crate::error::{Result, SegmentError};
use crate::physical::{Physical, VarKind};
use crate::predicate::Matcher;
use crate::row::FieldValue;
use cuvee_catalog::{ColumnIndexing, ColumnSpec, DataType, Table, Value};
use parking_lot::Mutex;
use roaring::RoaringBitmap;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

mod arena;
mod dictionary;
mod group;
mod leaves;
mod log;
mod measure;
mod packed_log;
mod postings;
mod raw_bytes;
mod snapshot;

use dictionary::{Dictionary, Entry};
use log::Log;
use packed_log::PackedLog;
use raw_bytes::RawBytes;

/// Docs per chunk of a consuming column's values (as a power of two) in a server.
const CHUNK_SHIFT: u32 = 12;
/// What a variable-width dictionary entry costs beyond its bytes: an 8-byte span and its
/// hash-table bucket (5 bytes at up to 7/8 load, in a table that doubles: ~7.5 on average).
const DICTIONARY_ENTRY_BYTES: usize = 16;
use postings::Postings;
use snapshot::ColumnSnapshot;
pub use snapshot::MutableSnapshot;

struct MutableColumn {
    name: String,
    data_type: DataType,
    physical: Physical,
    single_value: bool,
    default: Value,
    dictionary: Dictionary,
    /// Single-value columns: one id per doc.
    sv_ids: PackedLog,
    /// Multi-value columns: all ids flattened, and where each doc's ids end.
    mv_ids: PackedLog,
    mv_ends: PackedLog,
    /// A fixed-width single-value column's keys, once it is kept raw: from the start for
    /// `noDictionaryColumns`, or from its second chunk when nearly every value of the first
    /// was new (a time column, a measurement) — a dictionary would cost more than the keys.
    raw: OnceLock<PackedLog>,
    /// A variable-width single-value column's bytes, once it is kept raw: from the start
    /// for `noDictionaryColumns`, or from its second chunk when the first's docs held fewer
    /// bytes than a dictionary of them would (a session id).
    raw_bytes: OnceLock<RawBytes>,
    /// Whether the column may be kept raw (single value, no inverted index).
    may_go_raw: bool,
    /// Docs per chunk of values and per zone, as a power of two.
    chunk_shift: u32,
    inverted: Option<Postings>,
    /// BYTES columns of points with an H3 index: their docs by cell, as rows arrive.
    h3: Option<crate::h3_index::ConsumingH3>,
    /// Fixed-width single-value columns: the smallest and largest key of each chunk of
    /// docs, so a range skips chunks (or takes them whole) without testing each doc —
    /// time columns arrive nearly in order.
    zone_min: Log<AtomicU64>,
    zone_max: Log<AtomicU64>,
    nulls: Mutex<RoaringBitmap>,
}

pub struct MutableSegment {
    table: Table,
    name: String,
    columns: Vec<MutableColumn>,
    num_docs: AtomicU32,
    writer: Mutex<()>,
    /// Wall-clock ms of the latest row appended (0 = none): the freshness queries report.
    latest_ingestion_ms: AtomicI64,
    validity: crate::valid_docs::ValiditySlot,
}

impl MutableSegment {
    pub fn new(table: &Table, name: &str) -> MutableSegment {
        MutableSegment::with_chunk_shift(table, name, CHUNK_SHIFT)
    }

    /// A segment whose columns' values go in chunks of 2^`chunk_shift` docs (at least 8):
    /// tests use small chunks to reach what happens when a chunk fills (freezing, a column
    /// going raw) with few rows.
    pub fn with_chunk_shift(table: &Table, name: &str, chunk_shift: u32) -> MutableSegment {
        let chunk_shift = chunk_shift.clamp(3, 20);
        let columns = table
            .schema
            .columns()
            .iter()
            .zip(table.indexing())
            .map(|(spec, ix)| MutableColumn {
                name: spec.name.clone(),
                data_type: spec.data_type,
                physical: Physical::of(spec.data_type),
                single_value: spec.single_value,
                default: spec.default_null_value.clone(),
                dictionary: match Physical::of(spec.data_type) {
                    Physical::Fixed(_) => Dictionary::fixed(),
                    Physical::Var(_) => Dictionary::var(),
                },
                sv_ids: PackedLog::new(chunk_shift),
                mv_ids: PackedLog::new(chunk_shift),
                mv_ends: PackedLog::new(chunk_shift),
                // `noDictionaryColumns` are raw from the first doc; others may go raw later.
                raw: match Physical::of(spec.data_type) {
                    Physical::Fixed(_) if raw_from_start(spec, ix) => OnceLock::from(PackedLog::new(chunk_shift)),
                    _ => OnceLock::new(),
                },
                raw_bytes: match Physical::of(spec.data_type) {
                    Physical::Var(_) if raw_from_start(spec, ix) => OnceLock::from(RawBytes::new(chunk_shift)),
                    _ => OnceLock::new(),
                },
                chunk_shift,
                may_go_raw: may_go_raw(spec, ix),
                inverted: ix.inverted.then(|| Postings::new(spec.single_value, chunk_shift)),
                h3: ix
                    .h3_resolution
                    .filter(|_| spec.single_value && spec.data_type == DataType::Bytes)
                    .and_then(crate::h3_index::ConsumingH3::new),
                zone_min: Log::new(),
                zone_max: Log::new(),
                nulls: Mutex::new(RoaringBitmap::new()),
            })
            .collect();
        MutableSegment {
            table: table.clone(),
            name: name.to_string(),
            columns,
            num_docs: AtomicU32::new(0),
            writer: Mutex::new(()),
            latest_ingestion_ms: AtomicI64::new(0),
            validity: Default::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn num_docs(&self) -> u32 {
        self.num_docs.load(Ordering::Acquire)
    }

    /// Records when rows were last appended (epoch ms), for freshness reporting.
    pub fn note_ingestion(&self, epoch_ms: i64) {
        self.latest_ingestion_ms.store(epoch_ms, Ordering::Relaxed);
    }

    /// When rows were last appended (epoch ms), if ever.
    pub fn latest_ingestion_ms(&self) -> Option<i64> {
        Some(self.latest_ingestion_ms.load(Ordering::Relaxed)).filter(|&ms| ms > 0)
    }

    /// Which docs are their key's live row, when the table keeps one row per key (upsert).
    pub fn valid_docs(&self) -> Option<&Arc<crate::ValidDocs>> {
        self.validity.get()
    }

    /// Attaches the valid docs (once; false when the segment already has them).
    pub fn set_valid_docs(&self, valid: Arc<crate::ValidDocs>) -> bool {
        self.validity.set(valid)
    }

    /// Appends one row (fields in schema order). A row that does not fit the schema is
    /// refused whole: no column is changed. Returns the row's doc id.
    pub fn append(&self, row: &[FieldValue]) -> Result<u32> {
        let _writer = self.writer.lock();
        if row.len() != self.columns.len() {
            return Err(SegmentError::InvalidRow(format!(
                "row has {} fields, schema has {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        // Every field is checked before any column changes, so a refused row leaves no trace;
        // the second pass converts again (a borrow or a key computation) rather than keep
        // the converted values in per-row allocations.
        for (column, field) in self.columns.iter().zip(row) {
            column.check(field)?;
        }
        let doc = self.num_docs.load(Ordering::Relaxed);
        for (column, field) in self.columns.iter().zip(row) {
            column.append(doc, field);
        }
        self.num_docs.store(doc + 1, Ordering::Release);
        Ok(doc)
    }

    /// A consistent view of the rows appended so far.
    pub fn snapshot(self: &Arc<Self>) -> MutableSnapshot {
        let num_docs = self.num_docs();
        let columns = self
            .columns
            .iter()
            .map(|c| ColumnSnapshot {
                dictionary: c.dictionary.snapshot(),
                sv_ids: c.sv_ids.snapshot().1,
                raw: c.raw.get().map(|raw| raw.snapshot().1),
                raw_bytes: c.raw_bytes.get().map(RawBytes::snapshot),
                zone_min: c.zone_min.snapshot().1,
                zone_max: c.zone_max.snapshot().1,
                mv_ids: c.mv_ids.snapshot().1,
                mv_ends: c.mv_ends.snapshot().1,
                nulls: c.nulls.lock().clone() & all_docs(num_docs),
            })
            .collect();
        MutableSnapshot { segment: Arc::clone(self), num_docs, columns }
    }

    /// Approximate bytes held: slots allocated, dictionary look-ups and values, bitmaps.
    pub fn memory_bytes(&self) -> usize {
        self.columns.iter().map(|c| c.memory_bytes().total()).sum()
    }

    /// Where [`MutableSegment::memory_bytes`] goes, column by column.
    pub fn memory_by_column(&self) -> Vec<(String, ColumnMemory)> {
        self.columns.iter().map(|c| (c.name.clone(), c.memory_bytes())).collect()
    }

    /// Builds the immutable segment file from the rows appended so far.
    pub fn seal(self: &Arc<Self>, identity: &SegmentIdentity) -> Result<Vec<u8>> {
        self.seal_ordered(identity).map(|(bytes, _)| bytes)
    }

    /// Builds the immutable segment file, and the order its docs were written in
    /// ([`SegmentBuilder::build_ordered`]).
    pub fn seal_ordered(self: &Arc<Self>, identity: &SegmentIdentity) -> Result<(Vec<u8>, Option<Vec<u32>>)> {
        let snapshot = self.snapshot();
        let num_docs = snapshot.num_docs as usize;
        let columns: Vec<_> = self
            .columns
            .iter()
            .zip(&snapshot.columns)
            .zip(self.table.schema.columns().iter().zip(self.table.indexing()))
            .collect();
        // Columns gather their values apart, on every core, as the builder then builds them.
        let buffers = crate::parallel::on_every_core(&columns, |((column, snap), (spec, ix))| {
            column.buffer(snap, spec, ix, num_docs)
        });
        SegmentBuilder::from_buffers(&self.table, buffers).build_ordered(identity)
    }
}

impl MutableColumn {
    /// The first `num_docs` docs of this column, as the segment builder takes them: ids or
    /// keys read a chunk at a time, each id's value looked up in a table made once (a
    /// read per doc through the chunks and the dictionary's blocks was an eighth of the seal).
    fn buffer(&self, snap: &ColumnSnapshot, spec: &ColumnSpec, ix: &ColumnIndexing, num_docs: usize) -> ColumnBuffer {
        let mut buffer = ColumnBuffer::new(spec, ix);
        let values = if self.single_value {
            num_docs
        } else {
            num_docs.checked_sub(1).map_or(0, |last| snap.mv_ends.get(last) as usize)
        };
        let null = |doc: usize| snap.nulls.contains(doc as u32);
        // Values in physical form, straight from the dictionary or the raw keys: they
        // were checked against the column's type when they arrived.
        if let Some(raw) = &snap.raw_bytes {
            let mut value_bytes = 0;
            raw.for_each(num_docs, |_, bytes| value_bytes += bytes.len());
            buffer.reserve(values, value_bytes);
            raw.for_each(num_docs, |doc, bytes| {
                buffer.push_bytes(bytes);
                buffer.end_doc(null(doc));
            });
            return buffer;
        }
        if let Some(raw) = &snap.raw {
            buffer.reserve(values, 0);
            raw.for_each_chunk(num_docs, |base, keys| {
                for (i, &key) in keys.iter().enumerate() {
                    buffer.push_key(key);
                    buffer.end_doc(null(base + i));
                }
            });
            return buffer;
        }
        // The ids go along, so the builder knows the distinct values without hashing them.
        // An id outside the dictionary snapshot (never written so) reads as the empty value.
        buffer.with_value_ids(values, snap.dict_len());
        match self.physical {
            Physical::Fixed(_) => {
                let keys: Vec<u64> = (0..snap.dict_len()).map(|id| snap.key(id)).collect();
                buffer.reserve(values, 0);
                snap.for_each_doc_ids(self, num_docs, |doc, ids| {
                    for &id in ids {
                        buffer.push_key(keys.get(id as usize).copied().unwrap_or(0));
                        buffer.push_id(u32::try_from(id).unwrap_or(u32::MAX));
                    }
                    buffer.end_doc(null(doc));
                });
            }
            Physical::Var(_) => {
                let bytes: Vec<&[u8]> = (0..snap.dict_len()).map(|id| snap.bytes(id)).collect();
                let mut value_bytes = 0;
                snap.for_each_doc_ids(self, num_docs, |_, ids| {
                    value_bytes += ids.iter().map(|&id| bytes.get(id as usize).map_or(0, |b| b.len())).sum::<usize>();
                });
                buffer.reserve(values, value_bytes);
                snap.for_each_doc_ids(self, num_docs, |doc, ids| {
                    for &id in ids {
                        buffer.push_bytes(bytes.get(id as usize).copied().unwrap_or_default());
                        buffer.push_id(u32::try_from(id).unwrap_or(u32::MAX));
                    }
                    buffer.end_doc(null(doc));
                });
            }
        }
        buffer
    }

    /// The physical form of one value of this column.
    fn entry<'a>(&self, value: &'a Value) -> Result<Entry<'a>> {
        match self.physical {
            Physical::Fixed(kind) => kind.key(value).map(Entry::Key),
            Physical::Var(kind) => kind.bytes(value).map(Entry::Bytes),
        }
        .ok_or_else(|| {
            SegmentError::InvalidRow(format!(
                "column \"{}\" is {} but the value {value} is {}",
                self.name,
                self.data_type,
                value.data_type()
            ))
        })
    }

    /// The values a field stands for (the default for a null), and whether it is null.
    fn values<'a>(&'a self, field: &'a FieldValue) -> Result<(&'a [Value], bool)> {
        match field {
            FieldValue::Null => Ok((std::slice::from_ref(&self.default), true)),
            FieldValue::Single(v) => Ok((std::slice::from_ref(v), false)),
            FieldValue::Multi(_) if self.single_value => {
                Err(SegmentError::InvalidRow(format!("column \"{}\" is single-value but got a list", self.name)))
            }
            FieldValue::Multi(values) if values.is_empty() => Ok((std::slice::from_ref(&self.default), true)),
            FieldValue::Multi(values) => Ok((values, false)),
        }
    }

    /// Whether `field` fits the column.
    fn check(&self, field: &FieldValue) -> Result<()> {
        self.values(field)?.0.iter().try_for_each(|v| self.entry(v).map(drop))
    }

    /// The entry of a value [`MutableColumn::check`] accepted. A value it did not accept
    /// cannot arrive here; were one to, it reads as the type's zero rather than leave the
    /// column a doc short.
    fn checked_entry<'a>(&self, value: &'a Value) -> Entry<'a> {
        self.entry(value).unwrap_or(match self.physical {
            Physical::Fixed(_) => Entry::Key(0),
            Physical::Var(_) => Entry::Bytes(&[]),
        })
    }

    fn id_of(&self, entry: &Entry) -> u32 {
        let (id, is_new) = self.dictionary.id_of(entry);
        if let (true, Some(inverted)) = (is_new, &self.inverted) {
            inverted.add_id();
        }
        id
    }

    /// Appends a field [`MutableColumn::check`] accepted as doc `doc`.
    fn append(&self, doc: u32, field: &FieldValue) {
        let Ok((values, is_null)) = self.values(field) else { return };
        // The first value's entry (the only one of a single-value column).
        let entry = values.first().map_or(Entry::Key(0), |v| self.checked_entry(v));
        if let Some(h3) = &self.h3 {
            let value = match entry {
                Entry::Bytes(bytes) if !is_null => Some(bytes),
                _ => None,
            };
            h3.add(doc, value);
        }
        if is_null {
            self.nulls.lock().insert(doc);
        }
        if self.single_value {
            match entry {
                Entry::Key(key) => {
                    self.note_zone(doc, key);
                    if let Some(raw) = self.raw_from(doc) {
                        raw.push(key);
                        return;
                    }
                }
                Entry::Bytes(bytes) => {
                    if let Some(raw) = self.raw_bytes_from(doc) {
                        raw.push(bytes);
                        return;
                    }
                }
            }
            let id = self.id_of(&entry);
            if let Some(inverted) = &self.inverted {
                inverted.add(id, doc);
            }
            self.sv_ids.push(id.into());
        } else {
            let mut end = self.mv_ids.len.load(Ordering::Relaxed);
            for value in values {
                let id = self.id_of(&self.checked_entry(value));
                if let Some(inverted) = &self.inverted {
                    inverted.add(id, doc);
                }
                end = self.mv_ids.push(id.into()) + 1;
            }
            self.mv_ends.push(end.into());
        }
    }

    /// The raw keys `doc` goes to, if the column is kept raw (see [`MutableColumn::go_raw`]).
    fn raw_from(&self, doc: u32) -> Option<&PackedLog> {
        self.go_raw(
            &self.raw,
            doc,
            |dictionary, id, raw: &PackedLog| _ = raw.push(dictionary.key(id)),
            || PackedLog::new(self.chunk_shift),
        )
    }

    /// The raw bytes `doc` goes to, if the column is kept raw (see [`MutableColumn::go_raw`]).
    fn raw_bytes_from(&self, doc: u32) -> Option<&RawBytes> {
        self.go_raw(
            &self.raw_bytes,
            doc,
            |dictionary, id, raw: &RawBytes| raw.push(dictionary.bytes(id)),
            || RawBytes::new(self.chunk_shift),
        )
    }

    /// The raw store in `slot`, if the column is kept raw. At the first chunk's end the
    /// column may go raw ([`MutableColumn::goes_raw_at`]): a new store is made, each doc's
    /// value so far copied into it out of the dictionary (which then stops growing), and
    /// snapshots from then on read it instead of ids.
    fn go_raw<'a, R>(
        &self,
        slot: &'a OnceLock<R>,
        doc: u32,
        copy: impl Fn(&dictionary::DictSnapshot, u32, &R),
        make: impl FnOnce() -> R,
    ) -> Option<&'a R> {
        if let Some(raw) = slot.get() {
            return Some(raw);
        }
        if !self.goes_raw_at(doc) {
            return None;
        }
        let raw = make();
        let dictionary = self.dictionary.snapshot();
        let (len, ids) = self.sv_ids.snapshot();
        for d in 0..len as usize {
            copy(&dictionary, ids.get(d) as u32, &raw);
        }
        let _ = slot.set(raw);
        tracing::debug!(column = %self.name, distinct = dictionary.len(), "consuming column kept raw from here on");
        slot.get()
    }

    /// Whether a column still dictionary-encoded goes raw at `doc`: at the first chunk's
    /// end, when raw is estimated smaller than the dictionary from what that chunk held.
    ///
    /// Fixed width: when at least 7/8 of the values were distinct (a key costs about the
    /// same raw or in the dictionary, so a dictionary pays only with repeats). Variable
    /// width: when the docs' bytes are fewer than the distinct values' bytes plus
    /// [`DICTIONARY_ENTRY_BYTES`] each — a doc's end offset raw (~2 bytes packed) and its
    /// id (~2.5) cancel out. A 16-character session id with 4/5 of its values distinct
    /// goes raw (16 B a doc against 26); a country code does not.
    fn goes_raw_at(&self, doc: u32) -> bool {
        let chunk = 1usize << self.chunk_shift;
        if !self.may_go_raw || doc as usize != chunk {
            return false;
        }
        let distinct = self.dictionary.len() as usize;
        match self.physical {
            Physical::Fixed(_) => distinct * 8 >= chunk * 7,
            Physical::Var(_) => {
                let dictionary = self.dictionary.snapshot();
                let distinct_bytes: usize = (0..distinct as u32).map(|id| dictionary.bytes(id).len()).sum();
                let (len, ids) = self.sv_ids.snapshot();
                let doc_bytes: usize = (0..len as usize).map(|d| dictionary.bytes(ids.get(d) as u32).len()).sum();
                doc_bytes < distinct_bytes + distinct * DICTIONARY_ENTRY_BYTES
            }
        }
    }

    fn note_zone(&self, doc: u32, key: u64) {
        let zone = doc >> self.chunk_shift;
        if doc & ((1 << self.chunk_shift) - 1) == 0 {
            self.zone_min.push(key);
            self.zone_max.push(key);
            return;
        }
        self.zone_min.with_slot(zone, |m| m.fetch_min(key, Ordering::Relaxed));
        self.zone_max.with_slot(zone, |m| m.fetch_max(key, Ordering::Relaxed));
    }

    /// The dictionary ids of exactly the values `matcher` accepts, when it names values
    /// (equality, IN): a hash look-up instead of testing every entry. Ids past `dict_len`
    /// arrived after the snapshot and are left out.
    fn exact_ids(&self, matcher: &Matcher, dict_len: u32) -> Option<Vec<u32>> {
        let dictionary = &self.dictionary;
        let ids: Vec<u32> = match (dictionary, matcher) {
            (Dictionary::Fixed { .. }, Matcher::KeyRange(lo, hi)) if lo == hi => {
                dictionary.find_key(*lo).into_iter().collect()
            }
            (Dictionary::Fixed { .. }, Matcher::KeySet(keys)) => {
                keys.iter().filter_map(|&k| dictionary.find_key(k)).collect()
            }
            // BIG_DECIMAL compares numerically ("1.0" = "1.00"): bytes would miss equals.
            (Dictionary::Var { .. }, Matcher::BytesSet { kind, values }) if *kind != VarKind::BigDecimal => {
                values.iter().filter_map(|v| dictionary.find_bytes(v)).collect()
            }
            _ => return None,
        };
        Some(ids.into_iter().filter(|&id| id < dict_len).collect())
    }

    fn memory_bytes(&self) -> ColumnMemory {
        let dictionary = self.dictionary.memory_bytes();
        let inverted = self.inverted.as_ref().map_or(0, Postings::memory_bytes);
        let ids = self.sv_ids.bytes_allocated()
            + self.mv_ids.bytes_allocated()
            + self.mv_ends.bytes_allocated()
            + self.raw.get().map_or(0, PackedLog::bytes_allocated)
            + self.raw_bytes.get().map_or(0, RawBytes::bytes_allocated);
        let nulls = self.nulls.lock().serialized_size();
        let h3 = self.h3.as_ref().map_or(0, crate::h3_index::ConsumingH3::memory_bytes);
        ColumnMemory { dictionary, values: ids, indexes: inverted + h3 + nulls }
    }
}

/// Whether a column's values may be kept raw (keys or bytes, no ids) in a consuming
/// segment: an inverted index needs ids.
fn may_go_raw(spec: &cuvee_catalog::ColumnSpec, ix: &cuvee_catalog::ColumnIndexing) -> bool {
    spec.single_value && !ix.inverted
}

/// Whether a column is kept raw from its first doc: `noDictionaryColumns` names it.
fn raw_from_start(spec: &cuvee_catalog::ColumnSpec, ix: &cuvee_catalog::ColumnIndexing) -> bool {
    may_go_raw(spec, ix) && !ix.dictionary
}

/// A consuming column's bytes: its dictionary (values and look-up), its per-doc values (ids
/// or raw), and its indexes (inverted, H3, nulls).
#[derive(Debug, Clone, Copy, Default)]
pub struct ColumnMemory {
    pub dictionary: usize,
    pub values: usize,
    pub indexes: usize,
}

impl ColumnMemory {
    pub fn total(&self) -> usize {
        self.dictionary + self.values + self.indexes
    }
}

#[cfg(test)]
mod tests;
