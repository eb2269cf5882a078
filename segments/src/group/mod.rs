//! Aggregating a sealed segment's docs per group on dictionary ids, without decoding a
//! group value: the group of a doc is its combination of ids (mixed radix over the
//! columns' cardinalities), found in a dense slot table when the combinations are few and
//! in a hash map otherwise. Each group remembers its first doc, so its values are decoded
//! once, from that doc, by the ordinary decode path (the types and null handling stay the
//! scan's). Work goes a block of docs at a time and a column at a time, so each kernel is
//! a tight loop over unpacked ids; what a measured column computes per group is
//! [`measure`]'s.

mod measure;

pub(crate) use measure::{decode_whole_dictionary, key_as_float, key_as_integer, sum_floats};
pub use measure::{Histogram, Measure, MeasureStates, Numbers, SumAs, HISTOGRAM_CELLS};

use crate::bitpack::BLOCK;
use crate::error::Result;
use crate::forward::PackedIds;
use crate::immutable::{ColumnReader, Forward, ImmutableSegment};
pub(crate) use measure::{is_float, numeric};
use measure::{numbers, Measured};
use roaring::RoaringBitmap;
use std::collections::HashMap;

/// Group combinations looked up in a dense slot table at most (4 bytes each).
const DENSE_GROUPS: u64 = 1 << 20;

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
        self.column_on_ids(column).is_some()
    }

    /// Whether `column` can be measured on ids here: grouped on ids, and numeric.
    pub fn measures_on_ids(&self, column: &str) -> bool {
        self.column_on_ids(column).is_some_and(|reader| numeric(reader.physical).is_some())
    }

    /// `column`'s reader, opened once, when it can be grouped on ids.
    fn column_on_ids(&self, column: &str) -> Option<ColumnReader<'_>> {
        self.column(column).ok().filter(|reader| {
            reader.meta.single_value && reader.meta.dictionary && matches!(reader.forward, Forward::Ids(_))
        })
    }

    /// Whether a histogram of `measure` per combination of `columns` stays within
    /// [`HISTOGRAM_CELLS`] counters, by the columns' cardinalities.
    pub fn histogram_fits(&self, columns: &[&str], measure: &str) -> bool {
        let cardinality = |name: &str| {
            self.metadata().columns.iter().find(|c| c.name == name).map(|c| u64::from(c.cardinality.max(1)))
        };
        histogram_cells_fit(cardinality(measure), columns.iter().map(|c| cardinality(c)))
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
            let Some(reader) = self.column_on_ids(column) else { return Ok(None) };
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
                Some(_) if decode_whole_dictionary(docs.len(), dictionary.len()) => {
                    Some(numbers(&dictionary, kind, 0..dictionary.len()))
                }
                Some(_) => None,
            };
            if measure.histogram && !self.histogram_fits(columns, &measure.column) {
                return Ok(None);
            }
            measured.push(Measured::new(measure, ids, dictionary, kind, values));
        }
        let mut groups = Groups::new(combinations);
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
        let Some(reader) = self.column_on_ids(column) else { return Ok(None) };
        let (Forward::Ids(ids), Some(dictionary)) = (&reader.forward, &reader.dictionary) else { return Ok(None) };
        let mut seen = IdSet::new(dictionary.len());
        let mut mark = |id: u32| seen.insert(u64::from(id));
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
        seen.ids().map(Some).ok_or_else(|| self.corrupt_id(column))
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

/// Whether a histogram over a measure of `measure` distinct ids per combination of group
/// columns of `groups` distinct ids each stays within [`HISTOGRAM_CELLS`] counters (`None`:
/// a column that cannot be counted so).
pub(crate) fn histogram_cells_fit(measure: Option<u64>, groups: impl IntoIterator<Item = Option<u64>>) -> bool {
    let mut cells = match measure {
        Some(c) => c,
        None => return false,
    };
    for group in groups {
        match group.and_then(|c| cells.checked_mul(c)) {
            Some(c) => cells = c,
            None => return false,
        }
    }
    cells <= HISTOGRAM_CELLS
}

/// The dictionary ids seen among a column's docs: a bit per id (what a one-column grouping
/// with nothing to aggregate needs, on sealed and consuming segments alike).
pub(crate) struct IdSet {
    words: Vec<u64>,
    cardinality: usize,
    /// An id at or past the cardinality was inserted (a damaged column).
    outside: bool,
}

impl IdSet {
    pub(crate) fn new(cardinality: usize) -> IdSet {
        IdSet { words: vec![0; cardinality.div_ceil(64)], cardinality, outside: false }
    }

    #[inline]
    pub(crate) fn insert(&mut self, id: u64) {
        match self.words.get_mut(id as usize / 64) {
            Some(word) if (id as usize) < self.cardinality => *word |= 1 << (id % 64),
            _ => self.outside = true,
        }
    }

    #[inline]
    pub(crate) fn contains(&self, id: u64) -> bool {
        self.words.get(id as usize / 64).is_some_and(|word| word >> (id % 64) & 1 == 1)
    }

    pub(crate) fn len(&self) -> usize {
        self.words.iter().map(|word| word.count_ones() as usize).sum()
    }

    /// The ids in the set, ascending.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &word)| {
            let mut bits = word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let id = (w * 64) as u32 + bits.trailing_zeros();
                    bits &= bits - 1;
                    id
                })
            })
        })
    }

    /// The ids seen, ascending; `None` when one was outside the cardinality.
    pub(crate) fn ids(self) -> Option<Vec<u32>> {
        if self.outside {
            return None;
        }
        Some(self.iter().collect())
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

/// The groups found so far, and the current batch's docs' combinations and slots (a
/// batch is at most [`BLOCK`] docs). Shared with the consuming segment's grouping.
pub(crate) struct Groups {
    slots: Slots,
    pub(crate) first_docs: Vec<u32>,
    pub(crate) counts: Vec<u64>,
    /// The slot and the combination of each doc of the current batch.
    pub(crate) slot_of: Vec<u32>,
    pub(crate) combinations: Vec<u64>,
}

impl Groups {
    /// Groups over `combinations` possible combinations of ids: a dense slot table when
    /// they are few, a hash map otherwise.
    pub(crate) fn new(combinations: u64) -> Groups {
        let slots = if combinations <= DENSE_GROUPS {
            Slots::Dense(vec![u32::MAX; combinations as usize])
        } else {
            Slots::Sparse(HashMap::new())
        };
        Groups {
            slots,
            first_docs: Vec::new(),
            counts: Vec::new(),
            slot_of: vec![0; BLOCK],
            combinations: vec![0; BLOCK],
        }
    }

    /// The slots of the docs at `start..` of the batch, from their combinations: counted,
    /// and written to `slot_of`.
    pub(crate) fn assign(&mut self, docs: &[u32], start: usize) {
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
    pub(crate) fn slot(&mut self, combination: u64, doc: u32) -> usize {
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
