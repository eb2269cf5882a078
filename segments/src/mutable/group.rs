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

use super::log::slot;
use super::packed_log::Packed;
use super::snapshot::ColumnSnapshot;
use super::MutableSnapshot;
use crate::bitpack::BLOCK;
use crate::decode::{self, Gathered};
use crate::error::{Result, SegmentError};
use crate::eval::LeafSource;
use crate::group::{decode_whole_dictionary, sum_floats, MeasureStates, Numbers, SumAs};
use crate::group::{histogram_cells_fit, is_float, numeric, GroupAggregates, Groups, Histogram, IdSet, Measure};
use crate::physical::{double_from_key, float_from_key, int_from_key, long_from_key, FixedKind, Physical};
use arrow_array::ArrayRef;
use roaring::RoaringBitmap;
use std::sync::atomic::Ordering;

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
    fn has_ids(&self) -> bool {
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

/// One measured column while its docs are read: its stored per-doc values (keys, or ids
/// into its dictionary), and each group's states so far.
struct Measuring<'a> {
    column: String,
    values: &'a Packed,
    snap: &'a ColumnSnapshot,
    /// How a doc's stored value becomes its key.
    stored: Stored,
    kind: FixedKind,
    sum: Option<SumAs>,
    integer_sums: Vec<i64>,
    float_sums: Vec<f64>,
    /// The smallest and largest key per group (keys order as values do).
    min_keys: Option<Vec<u64>>,
    max_keys: Option<Vec<u64>>,
    /// Docs per (group, id), at `group * cardinality + id`.
    histogram: Option<Vec<u32>>,
    cardinality: u32,
    /// Each dictionary id's number as the sum adds it, when the column's keys are a table
    /// and it has a sum.
    id_numbers: Option<Numbers>,
    /// Whether the current chunk is answered from its zone.
    zoned: bool,
    /// Docs whose values a zone stood in for (not read).
    zoned_docs: u64,
}

/// How a measured column's stored values become keys.
enum Stored {
    /// The column is raw: what is stored is the key.
    Keys,
    /// Ids, with every dictionary entry's key read once: many docs against the entries.
    IdTable(Vec<u64>),
    /// Ids, each doc's key read from the dictionary as it is added: few docs against the
    /// entries ([`decode_whole_dictionary`]).
    Ids,
}

impl<'a> Measuring<'a> {
    fn new(measure: &Measure, snap: &'a ColumnSnapshot, kind: FixedKind, docs: u64) -> Measuring<'a> {
        let stored = match snap.has_ids() {
            false => Stored::Keys,
            true if decode_whole_dictionary(docs, snap.dict_len() as usize) => {
                Stored::IdTable((0..snap.dict_len()).map(|id| snap.key(id)).collect())
            }
            true => Stored::Ids,
        };
        let id_numbers = match (&stored, measure.sum) {
            (Stored::IdTable(keys), Some(SumAs::Float)) => {
                Some(Numbers::Floats(keys.iter().map(|&k| float(kind, k)).collect()))
            }
            (Stored::IdTable(keys), Some(SumAs::Integer)) => {
                Some(Numbers::Integers(keys.iter().map(|&k| integer(kind, k)).collect()))
            }
            _ => None,
        };
        Measuring {
            column: measure.column.clone(),
            values: snap.raw.as_ref().unwrap_or(&snap.sv_ids),
            snap,
            stored,
            kind,
            sum: measure.sum,
            integer_sums: Vec::new(),
            float_sums: Vec::new(),
            min_keys: measure.min.then(Vec::new),
            max_keys: measure.max.then(Vec::new),
            histogram: measure.histogram.then(Vec::new),
            cardinality: snap.dict_len(),
            id_numbers,
            zoned: false,
            zoned_docs: 0,
        }
    }

    /// Chunk `c`'s smallest and largest key, when this measure is only a MIN and/or MAX
    /// (a sum or histogram reads every doc).
    fn zone(&self, c: usize) -> Option<(u64, u64)> {
        if self.sum.is_some() || self.histogram.is_some() || (self.min_keys.is_none() && self.max_keys.is_none()) {
            return None;
        }
        let min = slot(&self.snap.zone_min, c)?.load(Ordering::Relaxed);
        let max = slot(&self.snap.zone_max, c)?.load(Ordering::Relaxed);
        Some((min, max))
    }

    /// A chunk's zone into the one group's MIN/MAX.
    fn add_zone(&mut self, min: u64, max: u64) {
        if let Some(m) = self.min_keys.as_mut().and_then(|keys| keys.first_mut()) {
            *m = (*m).min(min);
        }
        if let Some(m) = self.max_keys.as_mut().and_then(|keys| keys.first_mut()) {
            *m = (*m).max(max);
        }
    }

    fn grow(&mut self, groups: usize) {
        match self.sum {
            Some(SumAs::Integer) => self.integer_sums.resize(groups, 0),
            Some(SumAs::Float) => self.float_sums.resize(groups, 0.0),
            None => {}
        }
        if let Some(min) = &mut self.min_keys {
            min.resize(groups, u64::MAX);
        }
        if let Some(max) = &mut self.max_keys {
            max.resize(groups, 0);
        }
        if let Some(histogram) = &mut self.histogram {
            histogram.resize(groups * self.cardinality as usize, 0);
        }
    }

    /// A batch of docs' stored values (ids or keys) into their groups (`slots`; `None`:
    /// all in group 0), their keys going through `keys`; false when an id is outside the
    /// dictionary snapshot. Each state is its own loop; one group sums in registers.
    fn add(&mut self, slots: Option<&[u32]>, stored: &[u64], keys: &mut [u64]) -> bool {
        // Ids summed alone, ungrouped: each id's number looked up once per segment, no keys.
        if let (Some(numbers), None, None, None, None) =
            (&self.id_numbers, slots, &self.min_keys, &self.max_keys, &self.histogram)
        {
            return match numbers {
                Numbers::Floats(table) => {
                    let (sum, outside) = sum_floats(stored, |id| table.get(id as usize).copied());
                    self.float_sums[0] += sum;
                    !outside
                }
                Numbers::Integers(table) => {
                    let mut sum = 0i64;
                    for &id in stored {
                        let Some(&number) = table.get(id as usize) else { return false };
                        sum = sum.wrapping_add(number);
                    }
                    self.integer_sums[0] = self.integer_sums[0].wrapping_add(sum);
                    true
                }
            };
        }
        let has_ids = match &self.stored {
            Stored::Keys => {
                keys.copy_from_slice(stored);
                false
            }
            Stored::IdTable(table) => {
                for (key, &id) in keys.iter_mut().zip(stored) {
                    match table.get(id as usize) {
                        Some(&k) => *key = k,
                        None => return false,
                    }
                }
                true
            }
            Stored::Ids => {
                for (key, &id) in keys.iter_mut().zip(stored) {
                    if id >= u64::from(self.cardinality) {
                        return false;
                    }
                    *key = self.snap.key(id as u32);
                }
                true
            }
        };
        if has_ids {
            if let Some(histogram) = &mut self.histogram {
                let width = self.cardinality as usize;
                match slots {
                    Some(slots) => {
                        for (&slot, &id) in slots.iter().zip(stored) {
                            histogram[slot as usize * width + id as usize] += 1;
                        }
                    }
                    None => stored.iter().for_each(|&id| histogram[id as usize] += 1),
                }
            }
        }
        let kind = self.kind;
        match (self.sum, slots) {
            (Some(SumAs::Integer), None) => {
                let sum = keys.iter().fold(0i64, |sum, &k| sum.wrapping_add(integer(kind, k)));
                self.integer_sums[0] = self.integer_sums[0].wrapping_add(sum);
            }
            (Some(SumAs::Integer), Some(slots)) => {
                for (&slot, &k) in slots.iter().zip(keys.iter()) {
                    let sum = &mut self.integer_sums[slot as usize];
                    *sum = sum.wrapping_add(integer(kind, k));
                }
            }
            (Some(SumAs::Float), None) => self.float_sums[0] += keys.iter().map(|&k| float(kind, k)).sum::<f64>(),
            (Some(SumAs::Float), Some(slots)) => {
                for (&slot, &k) in slots.iter().zip(keys.iter()) {
                    self.float_sums[slot as usize] += float(kind, k);
                }
            }
            (None, _) => {}
        }
        if let Some(min) = &mut self.min_keys {
            match slots {
                None => min[0] = keys.iter().fold(min[0], |m, &k| m.min(k)),
                Some(slots) => slots.iter().zip(keys.iter()).for_each(|(&s, &k)| {
                    let m = &mut min[s as usize];
                    *m = (*m).min(k);
                }),
            }
        }
        if let Some(max) = &mut self.max_keys {
            match slots {
                None => max[0] = keys.iter().fold(max[0], |m, &k| m.max(k)),
                Some(slots) => slots.iter().zip(keys.iter()).for_each(|(&s, &k)| {
                    let m = &mut max[s as usize];
                    *m = (*m).max(k);
                }),
            }
        }
        true
    }

    fn finish(self, counts: &[u64]) -> MeasureStates {
        let groups = counts.len();
        let numbers = |keys: Vec<u64>| {
            if is_float(self.kind) {
                Numbers::Floats(keys.iter().map(|&k| float(self.kind, k)).collect())
            } else {
                Numbers::Integers(keys.iter().map(|&k| integer(self.kind, k)).collect())
            }
        };
        let sum = match self.sum {
            Some(SumAs::Integer) => Some(Numbers::Integers(pad(self.integer_sums, groups, 0))),
            Some(SumAs::Float) => Some(Numbers::Floats(pad(self.float_sums, groups, 0.0))),
            None => None,
        };
        let histogram = self.histogram.as_ref().map(|cells| {
            // The dictionary's ids in value order, once; then each group's non-zero cells.
            let mut order: Vec<u32> = (0..self.cardinality).collect();
            order.sort_unstable_by_key(|&id| self.snap.key(id));
            let mut out = Histogram::default();
            let width = self.cardinality as usize;
            for group in 0..groups {
                let row = cells.get(group * width..(group + 1) * width).unwrap_or(&[]);
                for &id in &order {
                    if let Some(&count) = row.get(id as usize).filter(|&&c| c > 0) {
                        out.values.push(float(self.kind, self.snap.key(id)));
                        out.counts.push(u64::from(count));
                    }
                }
                out.ends.push(out.values.len());
            }
            out
        });
        MeasureStates {
            sum,
            min: self.min_keys.clone().map(|keys| numbers(pad(keys, groups, u64::MAX))),
            max: self.max_keys.clone().map(|keys| numbers(pad(keys, groups, 0))),
            histogram,
        }
    }
}

/// `values` with room for `groups` (a measure sees its first batch after the groups of
/// a batch are known, so its states are never longer than the counts).
fn pad<T: Clone>(mut values: Vec<T>, groups: usize, fill: T) -> Vec<T> {
    values.resize(groups, fill);
    values
}

fn integer(kind: FixedKind, key: u64) -> i64 {
    match kind {
        FixedKind::Int | FixedKind::Boolean => i64::from(int_from_key(key)),
        FixedKind::Float => float_from_key(key) as i64,
        FixedKind::Double => double_from_key(key) as i64,
        FixedKind::Long | FixedKind::Timestamp => long_from_key(key),
    }
}

fn float(kind: FixedKind, key: u64) -> f64 {
    match kind {
        FixedKind::Int | FixedKind::Boolean => f64::from(int_from_key(key)),
        FixedKind::Float => f64::from(float_from_key(key)),
        FixedKind::Double => double_from_key(key),
        FixedKind::Long | FixedKind::Timestamp => long_from_key(key) as f64,
    }
}
