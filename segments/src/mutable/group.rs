//! Aggregating a consuming segment's docs per group on its dictionary ids: the sealed
//! segment's grouping (`crate::group`) for a segment still taking rows, with the same
//! answer ([`GroupAggregates`], groups in order of their first doc), so a query over a
//! realtime table decodes one doc per group here too instead of every doc's values.
//!
//! What differs is the dictionary: its ids are in arrival order, so they group but do not
//! order. MIN and MAX compare the values' order-preserving keys instead of ids, a SUM adds
//! each doc's value, and a percentile's value counts are sorted by value per group at the
//! end. A measured column may be kept raw (its keys per doc) or as ids; group columns must
//! have ids. Docs are read a chunk of the segment's logs at a time, each column's chunk
//! unpacked once (or, for a few docs of a chunk, read doc by doc).

use super::measure::Measuring;
use super::packed_log::Packed;
use super::snapshot::ColumnSnapshot;
use super::MutableSnapshot;
use crate::bitpack::BLOCK;
use crate::decode::{self, Gathered};
use crate::error::{Result, SegmentError};
use crate::eval::LeafSource;
use crate::group::{histogram_cells_fit, is_float, numeric, GroupAggregates, Groups, IdSet, Measure, SumAs};
use crate::physical::Physical;
use arrow_array::ArrayRef;
use roaring::RoaringBitmap;

impl MutableSnapshot {
    /// Whether `column` can be grouped on ids here: single-value and dictionary-encoded.
    pub fn groups_on_ids(&self, column: &str) -> bool {
        self.snapshot_of(column).is_some_and(|(single_value, _, snap)| single_value && snap.has_ids())
    }

    /// Whether `column` can be measured here: single-value and a number (kept raw or not).
    pub fn measures_on_ids(&self, column: &str) -> bool {
        self.snapshot_of(column).is_some_and(|(single_value, physical, _)| single_value && numeric(physical).is_some())
    }

    /// Docs of `column` marked null in this snapshot (their stored value is the default).
    pub fn null_count(&self, column: &str) -> u64 {
        self.snapshot_of(column).map_or(0, |(_, _, snap)| snap.nulls.len())
    }

    /// Whether value counts of `measure` per combination of `columns` can be kept: the
    /// measure has ids, and groups × its ids stay within [`HISTOGRAM_CELLS`](crate::group::HISTOGRAM_CELLS) counters.
    pub fn histogram_fits(&self, columns: &[&str], measure: &str) -> bool {
        let cardinality = |name: &str| self.snapshot_of(name).map(|(_, _, snap)| u64::from(snap.dict_len().max(1)));
        let measure = self.snapshot_of(measure).filter(|(_, _, snap)| snap.has_ids());
        let measured = measure.map(|(_, _, snap)| u64::from(snap.dict_len().max(1)));
        histogram_cells_fit(measured, columns.iter().map(|c| cardinality(c)))
    }

    fn snapshot_of(&self, column: &str) -> Option<(bool, Physical, &ColumnSnapshot)> {
        let index = self.segment.columns.iter().position(|c| c.name == column)?;
        let spec = &self.segment.columns[index];
        Some((spec.single_value, spec.physical, &self.columns[index]))
    }

    /// Counts `docs` per combination of `columns`' ids (each one
    /// [`groups_on_ids`](Self::groups_on_ids)) and computes each measure per group (each one
    /// [`measures_on_ids`](Self::measures_on_ids); a float column is not summed as
    /// integers; a histogram needs the column's ids and fits in [`HISTOGRAM_CELLS`](crate::group::HISTOGRAM_CELLS));
    /// `None` when a column cannot be read so.
    pub fn aggregate_groups(
        &self,
        columns: &[&str],
        measures: &[Measure],
        docs: &RoaringBitmap,
    ) -> Result<Option<GroupAggregates>> {
        let mut keys = Vec::with_capacity(columns.len());
        let mut combinations: u64 = 1;
        for &column in columns {
            let Some((true, _, snap)) = self.snapshot_of(column).filter(|(_, _, s)| s.has_ids()) else {
                return Ok(None);
            };
            let cardinality = snap.dict_len().max(1);
            keys.push(Key { column, ids: &snap.sv_ids, cardinality, stride: combinations });
            combinations = match combinations.checked_mul(u64::from(cardinality)) {
                Some(c) => c,
                None => return Ok(None),
            };
        }
        let mut measured = Vec::with_capacity(measures.len());
        for measure in measures {
            let Some((true, physical, snap)) = self.snapshot_of(&measure.column) else { return Ok(None) };
            let Some(kind) = numeric(physical) else { return Ok(None) };
            if is_float(kind) && measure.sum == Some(SumAs::Integer) {
                return Ok(None);
            }
            if measure.histogram && !self.histogram_fits(columns, &measure.column) {
                return Ok(None);
            }
            measured.push(Measuring::new(measure, snap, kind, docs.len()));
        }
        let mut groups = Groups::new(combinations);
        let chunk = self.chunk_len();
        let mut batch = Batch::new(keys.len(), measured.len(), chunk);
        let read = self.for_each_chunk_of(docs, |c, in_chunk| {
            self.aggregate_chunk(c, in_chunk, &keys, &mut measured, &mut groups, &mut batch)
        })?;
        let zoned: u64 = measured.iter().map(|m| m.zoned_docs).sum();
        let ids_read = read * (keys.len() + measured.len()) as u64 - zoned;
        let states = measured.into_iter().map(|m| m.finish(&groups.counts)).collect();
        Ok(Some(GroupAggregates { first_docs: groups.first_docs, counts: groups.counts, measures: states, ids_read }))
    }

    /// The distinct ids of `column` over `docs` (in id order, which here is arrival order):
    /// a grouping with nothing to aggregate (`DISTINCT`, `COUNT(DISTINCT)`) needs a bit
    /// per dictionary id, no counts and no first docs. `None` when the column has no ids.
    pub fn distinct_ids(&self, column: &str, docs: &RoaringBitmap) -> Result<Option<Vec<u32>>> {
        let Some((true, _, snap)) = self.snapshot_of(column).filter(|(_, _, s)| s.has_ids()) else {
            return Ok(None);
        };
        let mut seen = IdSet::new(snap.dict_len() as usize);
        let mut values = vec![0u64; self.chunk_len()];
        let mut mark = |id: u64| seen.insert(id);
        self.for_each_chunk_of(docs, |c, in_chunk| {
            let base = c * values.len();
            if in_chunk.len() * 8 >= values.len() {
                let len = (self.num_docs as usize - base).min(values.len());
                read_chunk(&snap.sv_ids, c, &mut values[..len]);
                in_chunk.iter().for_each(|&doc| mark(values[doc as usize - base]));
            } else {
                in_chunk.iter().for_each(|&doc| mark(snap.sv_ids.get(doc as usize)));
            }
            Ok(())
        })?;
        seen.ids().map(Some).ok_or_else(|| self.outside(column))
    }

    /// The values of dictionary ids `ids` of `column` (single-value, with ids).
    pub fn decode_ids(&self, column: &str, ids: &[u32]) -> Result<ArrayRef> {
        let Some((true, physical, snap)) = self.snapshot_of(column).filter(|(_, _, s)| s.has_ids()) else {
            return Err(SegmentError::InvalidRequest(format!(
                "column {column} of consuming segment {} is not a single-value column with ids",
                self.segment.name
            )));
        };
        if ids.iter().any(|&id| id >= snap.dict_len()) {
            return Err(self.outside(column));
        }
        let mut g = Gathered::for_column(true);
        for &id in ids {
            match physical {
                Physical::Fixed(_) => g.push_key(snap.key(id)),
                Physical::Var(_) => g.push_bytes(snap.bytes(id)),
            }
        }
        let (index, data_type) = self.column_type(column)?;
        debug_assert_eq!(self.segment.columns[index].name, column);
        decode::to_arrow(g, data_type, None)
    }

    /// Calls `f` with each chunk of the logs holding docs of `docs` (below the snapshot's
    /// count) and those docs, ascending; returns how many docs it passed.
    fn for_each_chunk_of(&self, docs: &RoaringBitmap, mut f: impl FnMut(usize, &[u32]) -> Result<()>) -> Result<u64> {
        let chunk = self.chunk_len();
        let mut in_chunk: Vec<u32> = Vec::with_capacity(chunk);
        let limit = self.num_docs;
        let mut read = 0;
        for c in 0..(limit as usize).div_ceil(chunk) {
            let (lo, hi) = ((c * chunk) as u32, ((c + 1) * chunk).min(limit as usize) as u32);
            let count = docs.range_cardinality(lo..hi);
            if count == 0 {
                continue;
            }
            read += count;
            in_chunk.clear();
            // A chunk of every doc (no filter, or a wide one) is not walked in the bitmap.
            if count == u64::from(hi - lo) {
                in_chunk.extend(lo..hi);
            } else {
                in_chunk.extend(docs.range(lo..hi));
            }
            f(c, &in_chunk)?;
        }
        Ok(read)
    }

    /// Values per chunk of the segment's logs (every column's are the same).
    fn chunk_len(&self) -> usize {
        self.columns.first().map_or(BLOCK, |c| c.sv_ids.chunk_len())
    }

    /// The docs `docs` (ascending) of chunk `c`, a batch of at most [`BLOCK`] at a time.
    fn aggregate_chunk(
        &self,
        c: usize,
        docs: &[u32],
        keys: &[Key],
        measured: &mut [Measuring],
        groups: &mut Groups,
        batch: &mut Batch,
    ) -> Result<()> {
        let chunk = self.chunk_len();
        let base = c * chunk;
        // Unpack whole chunks unless only a few of their docs are asked for.
        let whole = docs.len() * 8 >= chunk;
        let len = (self.num_docs as usize - base).min(chunk);
        // A frozen chunk inside the snapshot whose largest id is in the dictionary snapshot
        // needs no check per doc.
        for (key, checked) in keys.iter().zip(batch.key_checked.iter_mut()) {
            let largest = key.ids.chunks.get(c).and_then(|chunk| chunk.max());
            *checked = len == chunk && largest.is_some_and(|id| id < u64::from(key.cardinality));
        }
        // Every doc of a full chunk, ungrouped: a measure of only MIN/MAX takes the chunk's
        // zone (its smallest and largest key, complete once the chunk is full) and reads no doc.
        let every_doc = keys.is_empty() && docs.len() == chunk;
        for measure in measured.iter_mut() {
            measure.zoned = every_doc && measure.zone(c).is_some();
        }
        if whole {
            for (key, values) in keys.iter().zip(batch.key_chunks.iter_mut()) {
                read_chunk(key.ids, c, &mut values[..len]);
            }
            for (measure, values) in measured.iter().zip(batch.measure_chunks.iter_mut()) {
                if !measure.zoned {
                    read_chunk(measure.values, c, &mut values[..len]);
                }
            }
        }
        for part in docs.chunks(BLOCK) {
            let n = part.len();
            // A run of docs of an unpacked chunk reads its values in place.
            let run = (whole && part[n - 1] - part[0] + 1 == n as u32).then(|| part[0] as usize - base);
            let gather = |values: &[u64], packed: &Packed, out: &mut [u64]| {
                for (o, &doc) in out.iter_mut().zip(part) {
                    *o = if whole { values[doc as usize - base] } else { packed.get(doc as usize) };
                }
            };
            // Each doc's combination of ids, a key column at a time, then its slot.
            let combinations = &mut groups.combinations[..n];
            combinations.fill(0);
            for ((key, values), &checked) in keys.iter().zip(&batch.key_chunks).zip(&batch.key_checked) {
                let ids = match run {
                    Some(at) => &values[at..at + n],
                    None => {
                        gather(values, key.ids, &mut batch.stored[..n]);
                        &batch.stored[..n]
                    }
                };
                if !checked && ids.iter().any(|&id| id >= u64::from(key.cardinality)) {
                    return Err(self.outside(key.column));
                }
                for (combination, &id) in combinations.iter_mut().zip(ids) {
                    *combination += id * key.stride;
                }
            }
            if keys.is_empty() {
                let slot = groups.slot(0, part[0]);
                groups.slot_of[..n].fill(slot as u32);
                groups.counts[slot] += n as u64;
            } else {
                groups.assign(part, 0);
            }
            let slots = if keys.is_empty() { None } else { Some(&groups.slot_of[..n]) };
            for (measure, values) in measured.iter_mut().zip(&batch.measure_chunks) {
                measure.grow(groups.counts.len());
                if measure.zoned {
                    continue;
                }
                let stored = match run {
                    Some(at) => &values[at..at + n],
                    None => {
                        gather(values, measure.values, &mut batch.stored[..n]);
                        &batch.stored[..n]
                    }
                };
                if !measure.add(slots, stored, &mut batch.keys[..n]) {
                    return Err(self.outside(&measure.column));
                }
            }
        }
        for measure in measured.iter_mut().filter(|m| m.zoned) {
            if let Some((min, max)) = measure.zone(c) {
                measure.add_zone(min, max);
                measure.zoned_docs += docs.len() as u64;
            }
        }
        Ok(())
    }

    fn outside(&self, column: &str) -> SegmentError {
        SegmentError::InvalidRequest(format!(
            "consuming segment {}: column {column} has an id outside its dictionary snapshot",
            self.segment.name
        ))
    }
}

impl ColumnSnapshot {
    /// Whether the column's docs are dictionary ids (not kept raw).
    pub(super) fn has_ids(&self) -> bool {
        self.raw.is_none() && self.raw_bytes.is_none()
    }
}

/// Chunk `c` of `packed` into `out` (its first `out.len()` values).
fn read_chunk(packed: &Packed, c: usize, out: &mut [u64]) {
    match packed.chunks.get(c) {
        Some(chunk) => chunk.read_into(out),
        None => out.fill(0),
    }
}

/// One group-by column as ids.
struct Key<'a> {
    column: &'a str,
    ids: &'a Packed,
    cardinality: u32,
    stride: u64,
}

/// Each column's current chunk, unpacked; one measure's stored values and keys of the
/// current batch of docs.
struct Batch {
    key_chunks: Vec<Vec<u64>>,
    /// Whether each key column's ids in the current chunk are known to be in range.
    key_checked: Vec<bool>,
    measure_chunks: Vec<Vec<u64>>,
    stored: Vec<u64>,
    keys: Vec<u64>,
}

impl Batch {
    fn new(keys: usize, measures: usize, chunk: usize) -> Batch {
        Batch {
            key_chunks: vec![vec![0; chunk]; keys],
            key_checked: vec![false; keys],
            measure_chunks: vec![vec![0; chunk]; measures],
            stored: vec![0; BLOCK],
            keys: vec![0; BLOCK],
        }
    }
}
