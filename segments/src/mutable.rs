//! The mutable (consuming) segment: rows are appended one at a time by one writer while any
//! number of readers query it.
//!
//! Storage is append-only and chunked: a chunk, once allocated, never moves, and each slot is
//! written once (`OnceLock`). The writer fills the slots of a row, then publishes the new row
//! count with release ordering; a reader takes a [`MutableSnapshot`] — the row count and the
//! list of chunks — and reads the first `num_docs` rows without any lock and without copying
//! the segment. Rows appended after the snapshot are invisible to it.
//!
//! Every column is dictionary-encoded while consuming (ids in arrival order, an unsorted
//! dictionary); inverted-index columns also keep one bitmap per id. Sealing reads the rows
//! back and hands them to the batch [`SegmentBuilder`], so a sealed segment is
//! byte-identical to one built in batch from the same rows.

use crate::bitmap_index::all_docs;
use crate::builder::{ColumnBuffer, SegmentBuilder, SegmentIdentity};
use crate::decode::{self, arrow_type, DecodeOptions, Gathered};
use crate::error::{Result, SegmentError};
use crate::eval::{self, Access, EvalOptions, Evaluation, LeafSource};
use crate::physical::Physical;
use crate::predicate::{Matcher, Predicate};
use crate::row::FieldValue;
use arrow_array::RecordBatch;
use cuvee_catalog::{DataType, Table, Value};
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

const CHUNK: usize = 4096;

/// Append-only storage with lock-free reads through a snapshot of its chunk list.
struct AppendLog<T> {
    chunks: RwLock<Vec<Arc<[OnceLock<T>]>>>,
    len: AtomicU32,
}

impl<T> AppendLog<T> {
    fn new() -> AppendLog<T> {
        AppendLog { chunks: RwLock::new(Vec::new()), len: AtomicU32::new(0) }
    }

    /// Single writer only (callers hold the segment's writer lock).
    fn push(&self, value: T) -> u32 {
        let index = self.len.load(Ordering::Relaxed);
        let chunk = index as usize / CHUNK;
        let mut chunks = self.chunks.write().unwrap_or_else(|e| e.into_inner());
        if chunk == chunks.len() {
            chunks.push((0..CHUNK).map(|_| OnceLock::new()).collect());
        }
        let _ = chunks[chunk][index as usize % CHUNK].set(value);
        drop(chunks);
        self.len.store(index + 1, Ordering::Release);
        index
    }

    fn snapshot(&self) -> (u32, Vec<Arc<[OnceLock<T>]>>) {
        let len = self.len.load(Ordering::Acquire);
        let chunks = self.chunks.read().unwrap_or_else(|e| e.into_inner()).clone();
        (len, chunks)
    }

    fn bytes_allocated(&self) -> usize {
        self.chunks.read().map(|c| c.len()).unwrap_or(0) * CHUNK * std::mem::size_of::<OnceLock<T>>()
    }
}

fn slot<T>(chunks: &[Arc<[OnceLock<T>]>], index: usize) -> Option<&T> {
    chunks.get(index / CHUNK)?.get(index % CHUNK)?.get()
}

/// A dictionary entry: the order-preserving key or the bytes of a value.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Entry {
    Key(u64),
    Bytes(Arc<[u8]>),
}

struct MutableColumn {
    name: String,
    data_type: DataType,
    physical: Physical,
    single_value: bool,
    default: Value,
    dictionary: AppendLog<Entry>,
    lookup: Mutex<FxHashMap<Entry, u32>>,
    /// Per doc: one id (single-value) or the doc's ids (multi-value).
    ids: AppendLog<Box<[u32]>>,
    sv_ids: AppendLog<u32>,
    inverted: Option<AppendLog<Mutex<RoaringBitmap>>>,
    nulls: Mutex<RoaringBitmap>,
    value_bytes: std::sync::atomic::AtomicUsize,
}

pub struct MutableSegment {
    table: Table,
    name: String,
    columns: Vec<MutableColumn>,
    num_docs: AtomicU32,
    writer: Mutex<()>,
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
                dictionary: AppendLog::new(),
                lookup: Mutex::new(FxHashMap::default()),
                ids: AppendLog::new(),
                sv_ids: AppendLog::new(),
                inverted: ix.inverted.then(AppendLog::new),
                nulls: Mutex::new(RoaringBitmap::new()),
                value_bytes: Default::default(),
            })
            .collect();
        MutableSegment { table: table.clone(), name: name.to_string(), columns, num_docs: AtomicU32::new(0), writer: Mutex::new(()) }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn num_docs(&self) -> u32 {
        self.num_docs.load(Ordering::Acquire)
    }

    /// Appends one row (fields in schema order). A row that does not fit the schema is
    /// refused whole: no column is changed.
    pub fn append(&self, row: &[FieldValue]) -> Result<()> {
        let _writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if row.len() != self.columns.len() {
            return Err(SegmentError::InvalidRow(format!("row has {} fields, schema has {} columns", row.len(), self.columns.len())));
        }
        // Convert every field first so that a bad one leaves the segment untouched.
        let mut converted = Vec::with_capacity(row.len());
        for (column, field) in self.columns.iter().zip(row) {
            converted.push(column.entries(field)?);
        }
        let doc = self.num_docs.load(Ordering::Relaxed);
        for (column, (entries, is_null)) in self.columns.iter().zip(converted) {
            column.append(doc, entries, is_null);
        }
        self.num_docs.store(doc + 1, Ordering::Release);
        Ok(())
    }

    /// A consistent view of the rows appended so far.
    pub fn snapshot(self: &Arc<Self>) -> MutableSnapshot {
        let num_docs = self.num_docs();
        let columns = self
            .columns
            .iter()
            .map(|c| {
                let (dict_len, dictionary) = c.dictionary.snapshot();
                ColumnSnapshot {
                    dict_len,
                    dictionary,
                    ids: c.ids.snapshot().1,
                    sv_ids: c.sv_ids.snapshot().1,
                    nulls: c.nulls.lock().map(|n| n.clone()).unwrap_or_default() & all_docs(num_docs),
                }
            })
            .collect();
        MutableSnapshot { segment: Arc::clone(self), num_docs, columns }
    }

    /// Approximate bytes held (slots allocated, dictionary values, bitmaps).
    pub fn memory_bytes(&self) -> usize {
        self.columns
            .iter()
            .map(|c| {
                let lookup = c.lookup.lock().map(|l| l.capacity() * (std::mem::size_of::<Entry>() + 8)).unwrap_or(0);
                let inverted = c.inverted.as_ref().map_or(0, |inv| {
                    let (len, chunks) = inv.snapshot();
                    inv.bytes_allocated() + (0..len as usize).filter_map(|i| slot(&chunks, i)).map(|b| b.lock().map(|b| b.serialized_size()).unwrap_or(0)).sum::<usize>()
                });
                c.dictionary.bytes_allocated() + c.ids.bytes_allocated() + c.sv_ids.bytes_allocated() + lookup + inverted + c.value_bytes.load(Ordering::Relaxed)
            })
            .sum()
    }

    /// Builds the immutable segment file from the rows appended so far.
    pub fn seal(self: &Arc<Self>, identity: &SegmentIdentity) -> Result<Vec<u8>> {
        let snapshot = self.snapshot();
        let buffers = self
            .columns
            .iter()
            .zip(&snapshot.columns)
            .zip(self.table.schema.columns().iter().zip(self.table.indexing()))
            .map(|((column, snap), (spec, ix))| {
                let mut buffer = ColumnBuffer::new(spec, ix);
                for doc in 0..snapshot.num_docs as usize {
                    let values: Vec<Value> = snap.doc_ids(column, doc).iter().map(|&id| column.value(snap, id)).collect();
                    let field = if snap.nulls.contains(doc as u32) {
                        FieldValue::Null
                    } else if column.single_value {
                        FieldValue::Single(values.into_iter().next().unwrap_or_else(|| column.default.clone()))
                    } else {
                        FieldValue::Multi(values)
                    };
                    buffer.push(&field).map_err(SegmentError::InvalidRow)?;
                }
                Ok(buffer)
            })
            .collect::<Result<Vec<_>>>()?;
        SegmentBuilder::from_buffers(&self.table, buffers).build(identity)
    }
}

impl MutableColumn {
    /// The dictionary entries of a field, and whether it is null.
    fn entries(&self, field: &FieldValue) -> Result<(Vec<Entry>, bool)> {
        let entry = |value: &Value| -> Result<Entry> {
            match self.physical {
                Physical::Fixed(kind) => kind.key(value).map(Entry::Key),
                Physical::Var(kind) => kind.bytes(value).map(|b| Entry::Bytes(b.into())),
            }
            .ok_or_else(|| SegmentError::InvalidRow(format!("column \"{}\" is {} but the value {value} is {}", self.name, self.data_type, value.data_type())))
        };
        match field {
            FieldValue::Null => Ok((vec![entry(&self.default)?], true)),
            FieldValue::Single(v) => Ok((vec![entry(v)?], false)),
            FieldValue::Multi(values) if self.single_value => {
                let _ = values;
                Err(SegmentError::InvalidRow(format!("column \"{}\" is single-value but got a list", self.name)))
            }
            FieldValue::Multi(values) if values.is_empty() => Ok((vec![entry(&self.default)?], true)),
            FieldValue::Multi(values) => Ok((values.iter().map(entry).collect::<Result<_>>()?, false)),
        }
    }

    fn append(&self, doc: u32, entries: Vec<Entry>, is_null: bool) {
        let mut lookup = self.lookup.lock().unwrap_or_else(|e| e.into_inner());
        let ids: Vec<u32> = entries
            .into_iter()
            .map(|entry| {
                if let Some(&id) = lookup.get(&entry) {
                    return id;
                }
                if let Entry::Bytes(b) = &entry {
                    self.value_bytes.fetch_add(b.len() + 16, Ordering::Relaxed);
                }
                let id = self.dictionary.push(entry.clone());
                if let Some(inverted) = &self.inverted {
                    inverted.push(Mutex::new(RoaringBitmap::new()));
                }
                lookup.insert(entry, id);
                id
            })
            .collect();
        drop(lookup);
        if let Some(inverted) = &self.inverted {
            let (_, chunks) = inverted.snapshot();
            for &id in &ids {
                if let Some(bitmap) = slot(&chunks, id as usize) {
                    let _ = bitmap.lock().map(|mut b| b.try_push(doc));
                }
            }
        }
        if is_null {
            let _ = self.nulls.lock().map(|mut n| n.insert(doc));
        }
        if self.single_value {
            self.sv_ids.push(ids[0]);
        } else {
            self.value_bytes.fetch_add(ids.len() * 4 + 16, Ordering::Relaxed);
            self.ids.push(ids.into_boxed_slice());
        }
    }

    fn value(&self, snap: &ColumnSnapshot, id: u32) -> Value {
        match (slot(&snap.dictionary, id as usize), self.physical) {
            (Some(Entry::Key(k)), Physical::Fixed(kind)) => kind.value(*k),
            (Some(Entry::Bytes(b)), Physical::Var(kind)) => kind.value(b),
            _ => self.default.clone(),
        }
    }
}

struct ColumnSnapshot {
    dict_len: u32,
    dictionary: Vec<Arc<[OnceLock<Entry>]>>,
    ids: Vec<Arc<[OnceLock<Box<[u32]>>]>>,
    sv_ids: Vec<Arc<[OnceLock<u32>]>>,
    nulls: RoaringBitmap,
}

impl ColumnSnapshot {
    fn doc_ids<'a>(&'a self, column: &MutableColumn, doc: usize) -> &'a [u32] {
        if column.single_value {
            slot(&self.sv_ids, doc).map(std::slice::from_ref).unwrap_or(&[])
        } else {
            slot(&self.ids, doc).map(|b| &b[..]).unwrap_or(&[])
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
                    return Err(SegmentError::InvalidRequest(format!("doc {doc} is past the snapshot of {} docs", self.num_docs)));
                }
                for &id in snap.doc_ids(column, doc as usize) {
                    match slot(&snap.dictionary, id as usize) {
                        Some(Entry::Key(k)) => g.push_key(*k),
                        Some(Entry::Bytes(b)) => g.push_bytes(b),
                        None => {}
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

impl LeafSource for MutableSnapshot {
    fn num_docs(&self) -> u32 {
        self.num_docs
    }

    fn column_type(&self, column: &str) -> Result<(usize, DataType)> {
        let index = self
            .segment
            .columns
            .iter()
            .position(|c| c.name == column)
            .ok_or_else(|| SegmentError::InvalidRequest(format!("segment {} has no column \"{column}\"", self.segment.name)))?;
        Ok((index, self.segment.columns[index].data_type))
    }

    fn nulls(&self, column: usize) -> RoaringBitmap {
        self.columns[column].nulls.clone()
    }

    fn any_match(&self, column: usize, matcher: &Matcher) -> Result<(RoaringBitmap, Access)> {
        let col = &self.segment.columns[column];
        let snap = &self.columns[column];
        let matching: Vec<bool> = (0..snap.dict_len as usize)
            .map(|id| match (slot(&snap.dictionary, id), col.physical) {
                (Some(Entry::Key(k)), Physical::Fixed(kind)) => matcher.test_key(*k, kind),
                (Some(Entry::Bytes(b)), Physical::Var(_)) => matcher.test_bytes(b),
                _ => false,
            })
            .collect();
        let count = matching.iter().filter(|&&m| m).count();
        if count == 0 {
            return Ok((RoaringBitmap::new(), Access::Dictionary));
        }
        if count == matching.len() {
            return Ok((all_docs(self.num_docs), Access::Dictionary));
        }
        if let Some(inverted) = &col.inverted {
            let (_, chunks) = inverted.snapshot();
            let mut out = RoaringBitmap::new();
            for (id, _) in matching.iter().enumerate().filter(|(_, m)| **m) {
                if let Some(bitmap) = slot(&chunks, id) {
                    out |= &*bitmap.lock().unwrap_or_else(|e| e.into_inner());
                }
            }
            // Bitmaps may already hold docs appended after this snapshot.
            out.remove_range(self.num_docs..);
            return Ok((out, Access::InvertedIndex));
        }
        let mut out = RoaringBitmap::new();
        for doc in 0..self.num_docs as usize {
            if snap.doc_ids(col, doc).iter().any(|&id| matching.get(id as usize).copied().unwrap_or(false)) {
                let _ = out.try_push(doc as u32);
            }
        }
        Ok((out, Access::ScanIds))
    }
}
