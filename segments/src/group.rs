//! Aggregating a sealed segment's docs per group on dictionary ids, without decoding a
//! group value: the group of a doc is its combination of ids (mixed radix over the
//! columns' cardinalities), found in a dense slot table when the combinations are few and
//! in a hash map otherwise. Each group remembers its first doc, so its values are decoded
//! once, from that doc, by the ordinary decode path (the types and null handling stay the
//! scan's).
//!
//! Measured columns are read as ids too: a SUM adds the dictionary's value of each id (the
//! dictionary decoded once per segment, not once per doc), MIN and MAX keep the smallest
//! and largest id (id order is value order) and decode one value per group at the end.
//! Work goes a block of docs at a time and a column at a time, so each kernel is a tight
//! loop over unpacked ids.

use crate::bitpack::BLOCK;
use crate::dictionary::Dictionary;
use crate::error::Result;
use crate::forward::PackedIds;
use crate::immutable::{Forward, ImmutableSegment};
use crate::physical::{FixedKind, Physical};
use cuvee_catalog::Value;
use roaring::RoaringBitmap;
use std::collections::HashMap;

/// Group combinations looked up in a dense slot table at most (4 bytes each).
const DENSE_GROUPS: u64 = 1 << 20;

/// Counters of a measure's histograms at most (groups × dictionary ids, 4 bytes each).
pub const HISTOGRAM_CELLS: u64 = 1 << 22;

/// How a SUM adds: as wrapping 64-bit integers, or as doubles (each value cast to a
/// double, as a sum of the column cast to a double does; the order of the adds is this
/// kernel's, so the last bits may differ from another order's, as between any two plans).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SumAs {
    Integer,
    Float,
}

/// One aggregated column and what to compute of it per group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measure {
    pub column: String,
    pub sum: Option<SumAs>,
    pub min: bool,
    pub max: bool,
    /// How many docs of each group have each value (for an exact percentile).
    pub histogram: bool,
}

/// Numbers per group, typed by the column: integers (INT, LONG, TIMESTAMP) or floats.
#[derive(Debug, Clone, PartialEq)]
pub enum Numbers {
    Integers(Vec<i64>),
    Floats(Vec<f64>),
}

/// A measure's states per group, each present when asked for.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MeasureStates {
    pub sum: Option<Numbers>,
    pub min: Option<Numbers>,
    pub max: Option<Numbers>,
    pub histogram: Option<Histogram>,
}

/// Each group's distinct values (ascending) with their doc counts, groups one after another:
/// group `g`'s are `values[ends[g - 1]..ends[g]]`.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Histogram {
    pub values: Vec<f64>,
    pub counts: Vec<u64>,
    pub ends: Vec<usize>,
}

/// The groups of a segment's docs, in order of their first doc (ascending).
#[derive(Debug, Default, PartialEq)]
pub struct GroupAggregates {
    pub first_docs: Vec<u32>,
    pub counts: Vec<u64>,
    /// One per measure asked for, in its order.
    pub measures: Vec<MeasureStates>,
    /// Dictionary ids read (docs × columns).
    pub ids_read: u64,
}

impl ImmutableSegment {
    /// Whether `column` can be grouped on ids here: single-value, with a dictionary and a
    /// forward index of ids (whatever the format version wrote).
    pub fn groups_on_ids(&self, column: &str) -> bool {
        self.column(column).is_ok_and(|reader| {
            reader.meta.single_value && reader.meta.dictionary && matches!(reader.forward, Forward::Ids(_))
        })
    }

    /// Whether `column` can be measured on ids here: grouped on ids, and numeric.
    pub fn measures_on_ids(&self, column: &str) -> bool {
        self.groups_on_ids(column) && self.column(column).is_ok_and(|reader| numeric(reader.physical).is_some())
    }

    /// Whether a histogram of `measure` per combination of `columns` stays within
    /// [`HISTOGRAM_CELLS`] counters, by the columns' cardinalities.
    pub fn histogram_fits(&self, columns: &[&str], measure: &str) -> bool {
        let cardinality = |name: &str| {
            self.metadata().columns.iter().find(|c| c.name == name).map(|c| u64::from(c.cardinality.max(1)))
        };
        let mut cells = match cardinality(measure) {
            Some(c) => c,
            None => return false,
        };
        for column in columns {
            match cardinality(column).and_then(|c| cells.checked_mul(c)) {
                Some(c) => cells = c,
                None => return false,
            }
        }
        cells <= HISTOGRAM_CELLS
    }

    /// Counts `docs` per combination of `columns`' values (each one
    /// [`groups_on_ids`](Self::groups_on_ids)) and computes each measure per group (each
    /// one [`measures_on_ids`](Self::measures_on_ids), and a float column is not summed as
    /// integers); `None` when a column cannot be read so.
    pub fn aggregate_groups(
        &self,
        columns: &[&str],
        measures: &[Measure],
        docs: &RoaringBitmap,
    ) -> Result<Option<GroupAggregates>> {
        let mut keys = Vec::with_capacity(columns.len());
        let mut combinations: u64 = 1;
        for column in columns {
            if !self.groups_on_ids(column) {
                return Ok(None);
            }
            let reader = self.column(column)?;
            let Forward::Ids(ids) = reader.forward else { return Ok(None) };
            let cardinality = reader.dictionary.as_ref().map_or(0, |d| d.len()).max(1) as u64;
            keys.push(Key { column, ids, cardinality: cardinality as u32, stride: combinations });
            combinations = match combinations.checked_mul(cardinality) {
                Some(c) => c,
                None => return Ok(None),
            };
        }
        let mut measured = Vec::with_capacity(measures.len());
        for measure in measures {
            let reader = self.column(&measure.column)?;
            let (Forward::Ids(ids), Some(dictionary), Some(kind)) =
                (reader.forward, reader.dictionary, numeric(reader.physical))
            else {
                return Ok(None);
            };
            if !reader.meta.single_value {
                return Ok(None);
            }
            let values = match measure.sum {
                None => None,
                Some(SumAs::Integer) if is_float(kind) => return Ok(None),
                Some(_) => Some(numbers(&dictionary, kind, 0..dictionary.len())),
            };
            if measure.histogram && !self.histogram_fits(columns, &measure.column) {
                return Ok(None);
            }
            measured.push(Measured::new(measure, ids, dictionary, kind, values));
        }
        let slots = if combinations <= DENSE_GROUPS {
            Slots::Dense(vec![u32::MAX; combinations as usize])
        } else {
            Slots::Sparse(HashMap::new())
        };
        let mut groups = Groups {
            slots,
            first_docs: Vec::new(),
            counts: Vec::new(),
            slot_of: vec![0; BLOCK],
            combinations: vec![0; BLOCK],
        };
        let mut batch = Batch::new(keys.len(), measured.len());
        let (lo, hi) = (docs.min().unwrap_or(0) as usize, docs.max().unwrap_or(0) as usize);
        let run = !docs.is_empty() && docs.len() == (hi - lo + 1) as u64;
        if run && keys.is_empty() {
            // The sorted column's MIN and MAX over a run of docs: its first and last doc's.
            let sorted = self.metadata().sorted_column.as_deref();
            for measure in measured.iter_mut().filter(|m| sorted == Some(m.column.as_str())) {
                measure.settle_sorted(lo, hi).map_err(|column| self.corrupt_id(&column))?;
            }
        }
        if docs.is_empty() {
            // Nothing to aggregate.
        } else if run {
            // A run of docs (every doc, or a sorted column's range): unpack block by block.
            for b in lo / BLOCK..=hi / BLOCK {
                let mut real = BLOCK;
                for (key, out) in keys.iter().zip(batch.key_ids.iter_mut()) {
                    real = real.min(key.ids.unpack(b, out));
                }
                for (measure, out) in measured.iter().zip(batch.measure_ids.iter_mut()) {
                    if !measure.settled {
                        real = real.min(measure.ids.unpack(b, out));
                    }
                }
                let start = if b == lo / BLOCK { lo % BLOCK } else { 0 };
                let end = if b == hi / BLOCK { (hi % BLOCK + 1).min(real) } else { real };
                for (doc, i) in batch.docs[start..end].iter_mut().zip(start..) {
                    *doc = (b * BLOCK + i) as u32;
                }
                self.aggregate_batch(&keys, &mut measured, &mut groups, &batch, start..end)?;
            }
        } else {
            let mut n = 0;
            let flush = |batch: &mut Batch, n: usize, groups: &mut Groups, measured: &mut [Measured]| {
                for (key, out) in keys.iter().zip(batch.key_ids.iter_mut()) {
                    for (id, doc) in out.iter_mut().zip(&batch.docs[..n]) {
                        *id = key.ids.get(*doc as usize);
                    }
                }
                for (measure, out) in measured.iter().zip(batch.measure_ids.iter_mut()).filter(|(m, _)| !m.settled) {
                    for (id, doc) in out.iter_mut().zip(&batch.docs[..n]) {
                        *id = measure.ids.get(*doc as usize);
                    }
                }
                self.aggregate_batch(&keys, measured, groups, batch, 0..n)
            };
            for doc in docs {
                batch.docs[n] = doc;
                n += 1;
                if n == BLOCK {
                    flush(&mut batch, n, &mut groups, &mut measured)?;
                    n = 0;
                }
            }
            if n > 0 {
                flush(&mut batch, n, &mut groups, &mut measured)?;
            }
        }
        let read_per_doc = keys.len() + measured.iter().filter(|m| !m.settled).count();
        let settled = measured.iter().filter(|m| m.settled).count();
        let ids_read = docs.len() * read_per_doc as u64 + 2 * settled as u64;
        Ok(Some(GroupAggregates {
            first_docs: groups.first_docs,
            counts: groups.counts,
            measures: measured
                .into_iter()
                .map(Measured::finish)
                .collect::<std::result::Result<_, _>>()
                .map_err(|column| self.corrupt_id(&column))?,
            ids_read,
        }))
    }

    /// The distinct ids (ascending, so in value order) of `column` over `docs`: a grouping
    /// with nothing to aggregate (how `DISTINCT` and `COUNT(DISTINCT)` plan) needs no
    /// counts and no first docs, only a bit per dictionary id. `None` when the column
    /// cannot be grouped on ids.
    pub fn distinct_ids(&self, column: &str, docs: &RoaringBitmap) -> Result<Option<Vec<u32>>> {
        if !self.groups_on_ids(column) {
            return Ok(None);
        }
        let reader = self.column(column)?;
        let (Forward::Ids(ids), Some(dictionary)) = (&reader.forward, &reader.dictionary) else { return Ok(None) };
        let cardinality = dictionary.len();
        let mut seen = vec![0u64; cardinality.div_ceil(64)];
        let mut outside = false;
        let mut mark = |id: u32| match seen.get_mut(id as usize / 64) {
            Some(word) if (id as usize) < cardinality => *word |= 1 << (id % 64),
            _ => outside = true,
        };
        let (lo, hi) = (docs.min().unwrap_or(0) as usize, docs.max().unwrap_or(0) as usize);
        if !docs.is_empty() && docs.len() == (hi - lo + 1) as u64 {
            let mut block = [0u32; BLOCK];
            for b in lo / BLOCK..=hi / BLOCK {
                let real = ids.unpack(b, &mut block);
                let start = if b == lo / BLOCK { lo % BLOCK } else { 0 };
                let end = if b == hi / BLOCK { (hi % BLOCK + 1).min(real) } else { real };
                block[start..end].iter().for_each(|&id| mark(id));
            }
        } else {
            docs.iter().for_each(|doc| mark(ids.get(doc as usize)));
        }
        if outside {
            return Err(self.corrupt_id(column));
        }
        let mut distinct = Vec::new();
        for (w, &word) in seen.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                distinct.push((w * 64) as u32 + bits.trailing_zeros());
                bits &= bits - 1;
            }
        }
        Ok(Some(distinct))
    }

    /// Counts `docs` per combination of `columns`' values; [`aggregate_groups`](Self::aggregate_groups)
    /// without measures.
    pub fn count_groups(&self, columns: &[&str], docs: &RoaringBitmap) -> Result<Option<GroupAggregates>> {
        self.aggregate_groups(columns, &[], docs)
    }

    fn corrupt_id(&self, column: &str) -> crate::error::SegmentError {
        self.corrupt(format!("column {column}: a forward id is outside its dictionary"))
    }

    /// One batch of docs (`range` of the batch's arrays): their groups, then each measure.
    fn aggregate_batch(
        &self,
        keys: &[Key],
        measured: &mut [Measured],
        groups: &mut Groups,
        batch: &Batch,
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        if range.is_empty() {
            return Ok(());
        }
        let corrupt = |column: &str| self.corrupt_id(column);
        if keys.is_empty() {
            let slot = groups.slot(0, batch.docs[range.start]);
            groups.counts[slot] += range.len() as u64;
        } else {
            // Each doc's combination, a key column at a time, then its slot.
            let combinations = &mut groups.combinations[range.clone()];
            combinations.fill(0);
            for (key, ids) in keys.iter().zip(&batch.key_ids) {
                let ids = &ids[range.clone()];
                if ids.iter().copied().max().unwrap_or(0) >= key.cardinality {
                    return Err(corrupt(key.column));
                }
                for (combination, &id) in combinations.iter_mut().zip(ids) {
                    *combination += u64::from(id) * key.stride;
                }
            }
            groups.assign(&batch.docs[range.clone()], range.start);
        }
        for (measure, ids) in measured.iter_mut().zip(&batch.measure_ids).filter(|(m, _)| !m.settled) {
            let ids = &ids[range.clone()];
            if measure.needs_id_check() && ids.iter().copied().max().unwrap_or(0) >= measure.cardinality {
                return Err(corrupt(&measure.column));
            }
            measure.grow(groups.counts.len());
            if keys.is_empty() {
                measure.add_ungrouped(ids);
            } else {
                measure.add_grouped(ids, &groups.slot_of[range.clone()]);
            }
        }
        Ok(())
    }
}

/// The kind a measured column's dictionary holds, if a number.
fn numeric(physical: Physical) -> Option<FixedKind> {
    match physical {
        Physical::Fixed(kind) if kind != FixedKind::Boolean => Some(kind),
        _ => None,
    }
}

fn is_float(kind: FixedKind) -> bool {
    matches!(kind, FixedKind::Float | FixedKind::Double)
}

/// The values of dictionary entries `ids`, as numbers.
fn numbers(dictionary: &Dictionary, kind: FixedKind, ids: impl Iterator<Item = usize>) -> Numbers {
    let value = |id: usize| kind.value(dictionary.key(id));
    if is_float(kind) {
        Numbers::Floats(
            ids.map(|id| match value(id) {
                Value::Float(v) => f64::from(v),
                Value::Double(v) => v,
                _ => 0.0,
            })
            .collect(),
        )
    } else {
        Numbers::Integers(
            ids.map(|id| match value(id) {
                Value::Int(v) => i64::from(v),
                Value::Long(v) | Value::Timestamp(v) => v,
                _ => 0,
            })
            .collect(),
        )
    }
}

/// One group-by column as ids.
struct Key<'a> {
    column: &'a str,
    ids: PackedIds<'a>,
    cardinality: u32,
    stride: u64,
}

/// One block's worth of docs and their ids, per column.
struct Batch {
    docs: Box<[u32; BLOCK]>,
    key_ids: Vec<Box<[u32; BLOCK]>>,
    measure_ids: Vec<Box<[u32; BLOCK]>>,
}

impl Batch {
    fn new(keys: usize, measures: usize) -> Batch {
        let block = || Box::new([0u32; BLOCK]);
        Batch {
            docs: block(),
            key_ids: (0..keys).map(|_| block()).collect(),
            measure_ids: (0..measures).map(|_| block()).collect(),
        }
    }
}

/// Group combination → slot, slots numbered in order of their first doc.
enum Slots {
    Dense(Vec<u32>),
    Sparse(HashMap<u64, u32>),
}

struct Groups {
    slots: Slots,
    first_docs: Vec<u32>,
    counts: Vec<u64>,
    /// The slot and the combination of each doc of the current batch.
    slot_of: Vec<u32>,
    combinations: Vec<u64>,
}

impl Groups {
    /// The slots of the docs at `start..` of the batch, from their combinations: counted,
    /// and written to `slot_of`.
    fn assign(&mut self, docs: &[u32], start: usize) {
        let range = start..start + docs.len();
        let Groups { slots, first_docs, counts, slot_of, combinations } = self;
        let mut new = |doc: u32| {
            first_docs.push(doc);
            counts.push(0);
            (first_docs.len() - 1) as u32
        };
        match slots {
            Slots::Dense(table) => {
                for ((slot_out, &combination), &doc) in
                    slot_of[range.clone()].iter_mut().zip(&combinations[range]).zip(docs)
                {
                    let entry = &mut table[combination as usize];
                    if *entry == u32::MAX {
                        *entry = new(doc);
                    }
                    *slot_out = *entry;
                }
            }
            Slots::Sparse(map) => {
                for ((slot_out, &combination), &doc) in
                    slot_of[range.clone()].iter_mut().zip(&combinations[range]).zip(docs)
                {
                    *slot_out = *map.entry(combination).or_insert_with(|| new(doc));
                }
            }
        }
        for &slot in &slot_of[start..start + docs.len()] {
            counts[slot as usize] += 1;
        }
    }

    #[inline]
    fn slot(&mut self, combination: u64, doc: u32) -> usize {
        let next = self.first_docs.len() as u32;
        let slot = match &mut self.slots {
            Slots::Dense(table) => {
                let slot = &mut table[combination as usize];
                if *slot == u32::MAX {
                    *slot = next;
                }
                *slot
            }
            Slots::Sparse(map) => *map.entry(combination).or_insert(next),
        };
        if slot == next {
            self.first_docs.push(doc);
            self.counts.push(0);
        }
        slot as usize
    }
}

/// One measured column while its docs are read.
struct Measured<'a> {
    column: String,
    ids: PackedIds<'a>,
    cardinality: u32,
    dictionary: Dictionary<'a>,
    kind: FixedKind,
    /// The dictionary's values, when summed.
    values: Option<Numbers>,
    sum_as: Option<SumAs>,
    integer_sums: Vec<i64>,
    float_sums: Vec<f64>,
    min_ids: Option<Vec<u32>>,
    max_ids: Option<Vec<u32>>,
    /// Docs per (group, id), at `group * cardinality + id`.
    histogram: Option<Vec<u32>>,
    /// Answered without reading its docs (see [`Measured::settle_sorted`]).
    settled: bool,
    /// An id read was outside the dictionary (a corrupt forward index).
    outside: bool,
}

impl<'a> Measured<'a> {
    fn new(
        measure: &Measure,
        ids: PackedIds<'a>,
        dictionary: Dictionary<'a>,
        kind: FixedKind,
        values: Option<Numbers>,
    ) -> Measured<'a> {
        Measured {
            column: measure.column.clone(),
            cardinality: dictionary.len() as u32,
            ids,
            dictionary,
            kind,
            values,
            sum_as: measure.sum,
            integer_sums: Vec::new(),
            float_sums: Vec::new(),
            min_ids: measure.min.then(Vec::new),
            max_ids: measure.max.then(Vec::new),
            histogram: measure.histogram.then(Vec::new),
            settled: false,
            outside: false,
        }
    }

    /// Settles MIN and MAX of the segment's sorted column over the docs `lo..=hi` (one
    /// group) from the first and last doc's ids, when nothing else is asked of it; the
    /// column's name when an id is outside its dictionary.
    fn settle_sorted(&mut self, lo: usize, hi: usize) -> std::result::Result<(), String> {
        if self.sum_as.is_some() || self.histogram.is_some() {
            return Ok(());
        }
        let (first, last) = (self.ids.get(lo), self.ids.get(hi));
        if first.max(last) >= self.cardinality {
            return Err(self.column.clone());
        }
        self.min_ids = self.min_ids.take().map(|_| vec![first]);
        self.max_ids = self.max_ids.take().map(|_| vec![last]);
        self.settled = true;
        Ok(())
    }

    /// Room for `groups` groups' states.
    fn grow(&mut self, groups: usize) {
        match self.sum_as {
            Some(SumAs::Integer) => self.integer_sums.resize(groups, 0),
            Some(SumAs::Float) => self.float_sums.resize(groups, 0.0),
            None => {}
        }
        if let Some(min) = &mut self.min_ids {
            min.resize(groups, u32::MAX);
        }
        if let Some(max) = &mut self.max_ids {
            max.resize(groups, 0);
        }
        if let Some(histogram) = &mut self.histogram {
            histogram.resize(groups * self.cardinality as usize, 0);
        }
    }

    /// Whether ids must be checked against the cardinality before [`add_ungrouped`] or
    /// [`add_grouped`]: the kernels check as they go (a sum's value lookup, a histogram's
    /// cell) or [`finish`] does (the largest id), except a lone MIN.
    ///
    /// [`add_ungrouped`]: Self::add_ungrouped
    /// [`add_grouped`]: Self::add_grouped
    /// [`finish`]: Self::finish
    fn needs_id_check(&self) -> bool {
        self.sum_as.is_none() && self.histogram.is_none() && self.max_ids.is_none()
    }

    /// Every id into group 0; an id outside the dictionary sets `outside`.
    fn add_ungrouped(&mut self, ids: &[u32]) {
        match (&self.values, self.sum_as) {
            (Some(Numbers::Integers(values)), Some(SumAs::Integer)) => {
                let mut sum = 0i64;
                for &id in ids {
                    match values.get(id as usize) {
                        Some(&value) => sum = sum.wrapping_add(value),
                        None => self.outside = true,
                    }
                }
                self.integer_sums[0] = self.integer_sums[0].wrapping_add(sum);
            }
            (Some(Numbers::Integers(values)), Some(SumAs::Float)) => {
                let (sum, outside) = sum_floats(ids, |id| values.get(id as usize).map(|&v| v as f64));
                self.float_sums[0] += sum;
                self.outside |= outside;
            }
            (Some(Numbers::Floats(values)), Some(SumAs::Float)) => {
                let (sum, outside) = sum_floats(ids, |id| values.get(id as usize).copied());
                self.float_sums[0] += sum;
                self.outside |= outside;
            }
            _ => {}
        }
        if let Some(min) = &mut self.min_ids {
            min[0] = min[0].min(ids.iter().copied().min().unwrap_or(u32::MAX));
        }
        if let Some(max) = &mut self.max_ids {
            max[0] = max[0].max(ids.iter().copied().max().unwrap_or(0));
        }
        if let Some(histogram) = &mut self.histogram {
            for &id in ids {
                match histogram.get_mut(id as usize) {
                    Some(cell) => *cell += 1,
                    None => self.outside = true,
                }
            }
        }
    }

    /// Each id into its doc's group.
    fn add_grouped(&mut self, ids: &[u32], slots: &[u32]) {
        match (&self.values, self.sum_as) {
            (Some(Numbers::Integers(values)), Some(SumAs::Integer)) => {
                for (&id, &slot) in ids.iter().zip(slots) {
                    let sum = &mut self.integer_sums[slot as usize];
                    match values.get(id as usize) {
                        Some(&value) => *sum = sum.wrapping_add(value),
                        None => self.outside = true,
                    }
                }
            }
            (Some(Numbers::Integers(values)), Some(SumAs::Float)) => {
                for (&id, &slot) in ids.iter().zip(slots) {
                    match values.get(id as usize) {
                        Some(&value) => self.float_sums[slot as usize] += value as f64,
                        None => self.outside = true,
                    }
                }
            }
            (Some(Numbers::Floats(values)), Some(SumAs::Float)) => {
                for (&id, &slot) in ids.iter().zip(slots) {
                    match values.get(id as usize) {
                        Some(&value) => self.float_sums[slot as usize] += value,
                        None => self.outside = true,
                    }
                }
            }
            _ => {}
        }
        if let Some(min) = &mut self.min_ids {
            for (&id, &slot) in ids.iter().zip(slots) {
                let m = &mut min[slot as usize];
                *m = (*m).min(id);
            }
        }
        if let Some(max) = &mut self.max_ids {
            for (&id, &slot) in ids.iter().zip(slots) {
                let m = &mut max[slot as usize];
                *m = (*m).max(id);
            }
        }
        if let Some(histogram) = &mut self.histogram {
            let cardinality = self.cardinality as usize;
            for (&id, &slot) in ids.iter().zip(slots) {
                if (id as usize) < cardinality {
                    histogram[slot as usize * cardinality + id as usize] += 1;
                } else {
                    self.outside = true;
                }
            }
        }
    }

    /// The states; `Err` (the column) when an id read was outside the dictionary.
    fn finish(self) -> std::result::Result<MeasureStates, String> {
        let past_end = self.max_ids.as_ref().is_some_and(|max| max.iter().any(|&id| id >= self.cardinality));
        if self.outside || past_end {
            return Err(self.column);
        }
        let (dictionary, kind) = (self.dictionary, self.kind);
        let decode = |ids: Vec<u32>| numbers(&dictionary, kind, ids.into_iter().map(|id| id as usize));
        Ok(MeasureStates {
            sum: match self.sum_as {
                Some(SumAs::Integer) => Some(Numbers::Integers(self.integer_sums)),
                Some(SumAs::Float) => Some(Numbers::Floats(self.float_sums)),
                None => None,
            },
            min: self.min_ids.map(decode),
            max: self.max_ids.map(decode),
            histogram: self.histogram.map(|counts| histogram(&dictionary, kind, &counts, self.cardinality as usize)),
        })
    }
}

/// Per-(group, id) counters as each group's distinct values and counts, in id (value) order.
fn histogram(dictionary: &Dictionary, kind: FixedKind, counters: &[u32], cardinality: usize) -> Histogram {
    let all = match numbers(dictionary, kind, 0..cardinality) {
        Numbers::Floats(values) => values,
        Numbers::Integers(values) => values.into_iter().map(|v| v as f64).collect(),
    };
    let mut out = Histogram::default();
    for group in counters.chunks(cardinality.max(1)) {
        for (value, &count) in all.iter().zip(group) {
            if count > 0 {
                out.values.push(*value);
                out.counts.push(u64::from(count));
            }
        }
        out.ends.push(out.values.len());
    }
    out
}

/// A sum of doubles over four lanes, so the adds do not wait on each other; and whether
/// an id had no value.
#[inline]
fn sum_floats(ids: &[u32], value: impl Fn(u32) -> Option<f64>) -> (f64, bool) {
    let (mut lanes, mut outside) = ([0.0f64; 4], false);
    let chunks = ids.chunks_exact(4);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &id) in lanes.iter_mut().zip(chunk) {
            match value(id) {
                Some(v) => *lane += v,
                None => outside = true,
            }
        }
    }
    let mut tail = 0.0;
    for &id in rest {
        match value(id) {
            Some(v) => tail += v,
            None => outside = true,
        }
    }
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]) + tail, outside)
}
