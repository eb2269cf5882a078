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
//! `dictionary.rs`, `arena.rs`); inverted-index columns also keep each id's docs (a chain
//! of entries while it has few, a bitmap past that: `postings.rs`), H3-indexed columns
//! their docs per cell. Sealing reads the rows
//! back and hands them to the batch [`SegmentBuilder`], so a sealed segment is
//! byte-identical to one built in batch from the same rows.

use crate::bitmap_index::all_docs;
use crate::builder::{ColumnBuffer, SegmentBuilder, SegmentIdentity};
use crate::decode::{self, arrow_type, DecodeOptions, Gathered};
use crate::error::{Result, SegmentError};
use crate::eval::{self, EvalOptions, Evaluation, LeafSource};
use crate::physical::{Physical, VarKind};
use crate::predicate::{Matcher, Predicate};
use crate::row::FieldValue;
use arrow_array::RecordBatch;
use cuvee_catalog::{DataType, Table, Value};
use parking_lot::Mutex;
use roaring::RoaringBitmap;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

mod arena;
mod dictionary;
mod leaves;
mod log;
mod postings;

use dictionary::{DictSnapshot, Dictionary, Entry};
use log::{u32_at, Log, CHUNK};
use postings::Postings;

struct MutableColumn {
    name: String,
    data_type: DataType,
    physical: Physical,
    single_value: bool,
    default: Value,
    dictionary: Dictionary,
    /// Single-value columns: one id per doc.
    sv_ids: Log<AtomicU32>,
    /// Multi-value columns: all ids flattened, and where each doc's ids end.
    mv_ids: Log<AtomicU32>,
    mv_ends: Log<AtomicU32>,
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
                sv_ids: Log::new(),
                mv_ids: Log::new(),
                mv_ends: Log::new(),
                inverted: ix.inverted.then(Postings::new),
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
        let mut converted = Vec::with_capacity(row.len());
        for (column, field) in self.columns.iter().zip(row) {
            converted.push(column.entries(field)?);
        }
        let doc = self.num_docs.load(Ordering::Relaxed);
        for (column, (entries, is_null)) in self.columns.iter().zip(converted) {
            column.append(doc, entries, is_null);
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
        let mut buffers = Vec::with_capacity(self.columns.len());
        for ((column, snap), (spec, ix)) in self
            .columns
            .iter()
            .zip(&snapshot.columns)
            .zip(self.table.schema.columns().iter().zip(self.table.indexing()))
        {
            let mut buffer = ColumnBuffer::new(spec, ix);
            for doc in 0..snapshot.num_docs as usize {
                let values: Vec<Value> = snap.doc_ids(column, doc).map(|id| snap.value(column, id)).collect();
                let field = if snap.nulls.contains(doc as u32) {
                    FieldValue::Null
                } else if column.single_value {
                    FieldValue::Single(values.into_iter().next().unwrap_or_else(|| column.default.clone()))
                } else {
                    FieldValue::Multi(values)
                };
                buffer.push(&field)?;
            }
            buffers.push(buffer);
        }
        SegmentBuilder::from_buffers(&self.table, buffers).build_ordered(identity)
    }
}

impl MutableColumn {
    /// The dictionary entries of a field, and whether it is null.
    fn entries<'a>(&'a self, field: &'a FieldValue) -> Result<(Vec<Entry<'a>>, bool)> {
        let entry = |value: &'a Value| -> Result<Entry<'a>> {
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
        };
        match field {
            FieldValue::Null => Ok((vec![entry(&self.default)?], true)),
            FieldValue::Single(v) => Ok((vec![entry(v)?], false)),
            FieldValue::Multi(_) if self.single_value => {
                Err(SegmentError::InvalidRow(format!("column \"{}\" is single-value but got a list", self.name)))
            }
            FieldValue::Multi(values) if values.is_empty() => Ok((vec![entry(&self.default)?], true)),
            FieldValue::Multi(values) => Ok((values.iter().map(entry).collect::<Result<_>>()?, false)),
        }
    }

    fn id_of(&self, entry: &Entry) -> u32 {
        let (id, is_new) = self.dictionary.id_of(entry);
        if let (true, Some(inverted)) = (is_new, &self.inverted) {
            inverted.add_id();
        }
        id
    }

    fn append(&self, doc: u32, entries: Vec<Entry>, is_null: bool) {
        let first_key = match entries.first() {
            Some(Entry::Key(key)) => Some(*key),
            _ => None,
        };
        if let Some(h3) = &self.h3 {
            let value = match entries.first() {
                Some(Entry::Bytes(bytes)) if !is_null => Some(&bytes[..]),
                _ => None,
            };
            h3.add(doc, value);
        }
        let ids: Vec<u32> = entries.iter().map(|e| self.id_of(e)).collect();
        if let Some(inverted) = &self.inverted {
            for &id in &ids {
                inverted.add(id, doc);
            }
        }
        if is_null {
            self.nulls.lock().insert(doc);
        }
        if self.single_value {
            if let Some(key) = first_key {
                self.note_zone(doc, key);
            }
            self.sv_ids.push(ids[0]);
        } else {
            let mut end = self.mv_ids.len.load(Ordering::Relaxed);
            for id in ids {
                end = self.mv_ids.push(id) + 1;
            }
            self.mv_ends.push(end);
        }
    }

    fn note_zone(&self, doc: u32, key: u64) {
        let zone = doc / CHUNK as u32;
        if (doc as usize).is_multiple_of(CHUNK) {
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
        let ids = self.sv_ids.bytes_allocated() + self.mv_ids.bytes_allocated() + self.mv_ends.bytes_allocated();
        let nulls = self.nulls.lock().serialized_size();
        let h3 = self.h3.as_ref().map_or(0, crate::h3_index::ConsumingH3::memory_bytes);
        ColumnMemory { dictionary, values: ids, indexes: inverted + h3 + nulls }
    }
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

struct ColumnSnapshot {
    dictionary: DictSnapshot,
    sv_ids: Vec<Arc<[AtomicU32]>>,
    zone_min: Vec<Arc<[AtomicU64]>>,
    zone_max: Vec<Arc<[AtomicU64]>>,
    mv_ids: Vec<Arc<[AtomicU32]>>,
    mv_ends: Vec<Arc<[AtomicU32]>>,
    nulls: RoaringBitmap,
}

impl ColumnSnapshot {
    fn doc_ids<'a>(&'a self, column: &MutableColumn, doc: usize) -> impl Iterator<Item = u32> + 'a {
        let (start, end) = if column.single_value {
            (doc, doc + 1)
        } else {
            let start = if doc == 0 { 0 } else { u32_at(&self.mv_ends, doc - 1) as usize };
            (start, u32_at(&self.mv_ends, doc) as usize)
        };
        let single_value = column.single_value;
        (start..end).map(move |i| if single_value { u32_at(&self.sv_ids, i) } else { u32_at(&self.mv_ids, i) })
    }

    fn dict_len(&self) -> u32 {
        self.dictionary.len()
    }

    fn key(&self, id: u32) -> u64 {
        self.dictionary.key(id)
    }

    fn bytes(&self, id: u32) -> &[u8] {
        self.dictionary.bytes(id)
    }

    fn value(&self, column: &MutableColumn, id: u32) -> Value {
        match column.physical {
            Physical::Fixed(kind) => kind.value(self.key(id)),
            Physical::Var(kind) => kind.value(self.bytes(id)),
        }
    }

    fn matches(&self, column: &MutableColumn, matcher: &Matcher, id: u32) -> bool {
        match column.physical {
            Physical::Fixed(kind) => matcher.test_key(self.key(id), kind),
            Physical::Var(_) => matcher.test_bytes(self.bytes(id)),
        }
    }
}

/// A consistent prefix of a mutable segment: the first `num_docs` rows.
pub struct MutableSnapshot {
    segment: Arc<MutableSegment>,
    num_docs: u32,
    columns: Vec<ColumnSnapshot>,
}

impl MutableSnapshot {
    pub fn num_docs(&self) -> u32 {
        self.num_docs
    }

    pub fn name(&self) -> &str {
        &self.segment.name
    }

    /// When the segment last took a row (epoch ms): how fresh a query over it is.
    pub fn latest_ingestion_ms(&self) -> Option<i64> {
        self.segment.latest_ingestion_ms()
    }

    pub fn valid_docs(&self) -> Option<&Arc<crate::ValidDocs>> {
        self.segment.valid_docs()
    }

    pub fn has_column(&self, name: &str) -> bool {
        self.segment.columns.iter().any(|c| c.name == name)
    }

    pub fn evaluate(&self, predicate: &Predicate, options: EvalOptions) -> Result<Evaluation> {
        eval::evaluate(self, predicate, options)
    }

    pub fn decode(&self, columns: &[&str], docs: &[u32], options: DecodeOptions) -> Result<RecordBatch> {
        let mut out = Vec::with_capacity(columns.len());
        for name in columns {
            let (index, _) = self.column_type(name)?;
            let column = &self.segment.columns[index];
            let snap = &self.columns[index];
            let mut g = Gathered::for_column(column.single_value);
            for &doc in docs {
                if doc >= self.num_docs {
                    return Err(SegmentError::InvalidRequest(format!(
                        "doc {doc} is past the snapshot of {} docs",
                        self.num_docs
                    )));
                }
                for id in snap.doc_ids(column, doc as usize) {
                    match column.physical {
                        Physical::Fixed(_) => g.push_key(snap.key(id)),
                        Physical::Var(_) => g.push_bytes(snap.bytes(id)),
                    }
                }
                g.end_doc();
            }
            let validity = decode::validity(&snap.nulls, docs, options);
            let array = decode::to_arrow(g, column.data_type, validity)?;
            out.push((name.to_string(), arrow_type(column.data_type, column.single_value), array));
        }
        decode::batch(out, docs.len())
    }
}
