//! The reader's side of a consuming segment: a [`MutableSnapshot`] is the first
//! `num_docs` rows as they were when it was taken, read without a lock; decoding here,
//! leaf evaluation in `leaves.rs`.

use super::dictionary::{DictSnapshot, Entry};
use super::packed_log::Packed;
use super::raw_bytes::RawBytesSnapshot;
use super::{MutableColumn, MutableSegment};
use crate::decode::{self, arrow_type, DecodeOptions, Gathered};
use crate::error::{Result, SegmentError};
use crate::eval::{self, EvalOptions, Evaluation, LeafSource};
use crate::physical::Physical;
use crate::predicate::{Matcher, Predicate};
use arrow_array::RecordBatch;
use roaring::RoaringBitmap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// A column as a snapshot sees it.
pub(super) struct ColumnSnapshot {
    pub(super) dictionary: DictSnapshot,
    pub(super) sv_ids: Packed,
    /// The keys of a column kept raw (then `sv_ids` and the dictionary are not read).
    pub(super) raw: Option<Packed>,
    /// The bytes of a variable-width column kept raw (the same).
    pub(super) raw_bytes: Option<RawBytesSnapshot>,
    pub(super) zone_min: Vec<Arc<[AtomicU64]>>,
    pub(super) zone_max: Vec<Arc<[AtomicU64]>>,
    pub(super) mv_ids: Packed,
    pub(super) mv_ends: Packed,
    pub(super) nulls: RoaringBitmap,
}

impl ColumnSnapshot {
    pub(super) fn doc_ids<'a>(&'a self, column: &MutableColumn, doc: usize) -> impl Iterator<Item = u32> + 'a {
        let (start, end) = if column.single_value {
            (doc, doc + 1)
        } else {
            let (start, end) = self.mv_ends.get_pair(doc);
            (start as usize, end as usize)
        };
        let single_value = column.single_value;
        (start..end).map(move |i| if single_value { &self.sv_ids } else { &self.mv_ids }.get(i) as u32)
    }

    /// Each of the first `docs` docs' ids, in doc order, read a chunk at a time (a
    /// multi-value column's ends and ids side by side): for a reader of every doc.
    pub(super) fn for_each_doc_ids(&self, column: &MutableColumn, docs: usize, mut f: impl FnMut(usize, &[u64])) {
        if column.single_value {
            self.sv_ids.for_each_chunk(docs, |base, ids| {
                ids.iter().enumerate().for_each(|(i, id)| f(base + i, std::slice::from_ref(id)));
            });
            return;
        }
        let mut ids = vec![0u64; self.mv_ids.chunk_len()];
        let (shift, mut loaded) = (self.mv_ids.chunk_len().trailing_zeros(), usize::MAX);
        let (mut value, mut doc_ids) = (0usize, Vec::new());
        self.mv_ends.for_each_chunk(docs, |base, ends| {
            for (i, &end) in ends.iter().enumerate() {
                doc_ids.clear();
                while value < end as usize {
                    if value >> shift != loaded {
                        match self.mv_ids.chunks.get(value >> shift) {
                            Some(chunk) => chunk.read_into(&mut ids),
                            // Ends past the ids (never written so): the doc has no more.
                            None => break,
                        }
                        loaded = value >> shift;
                    }
                    doc_ids.push(ids[value & (ids.len() - 1)]);
                    value += 1;
                }
                f(base + i, &doc_ids);
            }
        });
    }

    pub(super) fn dict_len(&self) -> u32 {
        self.dictionary.len()
    }

    pub(super) fn key(&self, id: u32) -> u64 {
        self.dictionary.key(id)
    }

    pub(super) fn bytes(&self, id: u32) -> &[u8] {
        self.dictionary.bytes(id)
    }

    /// Each value of `doc` in physical form: its raw key or bytes (decoded into `scratch`
    /// where stored coded), or its ids' dictionary values.
    pub(super) fn for_each_value(
        &self,
        column: &MutableColumn,
        doc: usize,
        scratch: &mut Vec<u8>,
        mut f: impl FnMut(Entry<'_>),
    ) {
        if let Some(raw) = &self.raw {
            return f(Entry::Key(raw.get(doc)));
        }
        if let Some(raw) = &self.raw_bytes {
            return f(Entry::Bytes(raw.value(doc, scratch)));
        }
        for id in self.doc_ids(column, doc) {
            f(match column.physical {
                Physical::Fixed(_) => Entry::Key(self.key(id)),
                Physical::Var(_) => Entry::Bytes(self.bytes(id)),
            });
        }
    }

    /// Whether `doc` has a value `matcher` accepts (`scratch` holds a coded value decoded).
    pub(super) fn doc_matches(
        &self,
        column: &MutableColumn,
        matcher: &Matcher,
        doc: usize,
        scratch: &mut Vec<u8>,
    ) -> bool {
        match (&self.raw, &self.raw_bytes, column.physical) {
            (Some(raw), _, Physical::Fixed(kind)) => matcher.test_key(raw.get(doc), kind),
            (_, Some(raw), Physical::Var(_)) => matcher.test_bytes(raw.value(doc, scratch)),
            _ => self.doc_ids(column, doc).any(|id| self.matches(column, matcher, id)),
        }
    }

    pub(super) fn matches(&self, column: &MutableColumn, matcher: &Matcher, id: u32) -> bool {
        match column.physical {
            Physical::Fixed(kind) => matcher.test_key(self.key(id), kind),
            Physical::Var(_) => matcher.test_bytes(self.bytes(id)),
        }
    }
}

/// A consistent prefix of a mutable segment: the first `num_docs` rows.
pub struct MutableSnapshot {
    pub(super) segment: Arc<MutableSegment>,
    pub(super) num_docs: u32,
    pub(super) columns: Vec<ColumnSnapshot>,
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
            let mut scratch = Vec::new();
            for &doc in docs {
                if doc >= self.num_docs {
                    return Err(SegmentError::InvalidRequest(format!(
                        "doc {doc} is past the snapshot of {} docs",
                        self.num_docs
                    )));
                }
                snap.for_each_value(column, doc as usize, &mut scratch, |v| match v {
                    Entry::Key(key) => g.push_key(key),
                    Entry::Bytes(bytes) => g.push_bytes(bytes),
                });
                g.end_doc();
            }
            let validity = decode::validity(&snap.nulls, docs, options);
            let array = decode::to_arrow(g, column.data_type, validity)?;
            out.push((name.to_string(), arrow_type(column.data_type, column.single_value), array));
        }
        decode::batch(out, docs.len())
    }
}
