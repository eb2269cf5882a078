//! What a measured column computes per group, on ids: a SUM adds the dictionary's value
//! of each id (the dictionary decoded once per segment, not once per doc), MIN and MAX keep
//! the smallest and largest id (id order is value order) and decode one value per group at
//! the end, a histogram counts docs per (group, id) for an exact percentile. Each kernel
//! takes one batch's ids of one column.

use crate::dictionary::Dictionary;
use crate::forward::PackedIds;
use crate::physical::{double_from_key, float_from_key, int_from_key, long_from_key, FixedKind, Physical};

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

/// The kind a measured column's dictionary holds, if a number.
pub(crate) fn numeric(physical: Physical) -> Option<FixedKind> {
    match physical {
        Physical::Fixed(kind) if kind != FixedKind::Boolean => Some(kind),
        _ => None,
    }
}

pub(crate) fn is_float(kind: FixedKind) -> bool {
    matches!(kind, FixedKind::Float | FixedKind::Double)
}

/// The values of dictionary entries `ids`, as numbers.
pub(super) fn numbers(dictionary: &Dictionary, kind: FixedKind, ids: impl Iterator<Item = usize>) -> Numbers {
    if is_float(kind) {
        Numbers::Floats(ids.map(|id| key_as_float(kind, dictionary.key(id))).collect())
    } else {
        Numbers::Integers(ids.map(|id| key_as_integer(kind, dictionary.key(id))).collect())
    }
}

/// A fixed-width key's value as an integer sum adds it (a float truncated).
pub(crate) fn key_as_integer(kind: FixedKind, key: u64) -> i64 {
    match kind {
        FixedKind::Int | FixedKind::Boolean => i64::from(int_from_key(key)),
        FixedKind::Float => float_from_key(key) as i64,
        FixedKind::Double => double_from_key(key) as i64,
        FixedKind::Long | FixedKind::Timestamp => long_from_key(key),
    }
}

/// A fixed-width key's value as a float sum adds it (an integer cast).
pub(crate) fn key_as_float(kind: FixedKind, key: u64) -> f64 {
    match kind {
        FixedKind::Int | FixedKind::Boolean => f64::from(int_from_key(key)),
        FixedKind::Float => f64::from(float_from_key(key)),
        FixedKind::Double => double_from_key(key),
        FixedKind::Long | FixedKind::Timestamp => long_from_key(key) as f64,
    }
}

/// Whether a SUM decodes its column's whole dictionary up front rather than each summed
/// doc's value as it is read: only when the docs are at least a quarter as many as the
/// entries. A selective filter over a nearly unique column (a metric, a price) sums a
/// few thousand docs of a dictionary of a few hundred thousand entries; decoding them
/// all was 40 % of such a query's time (`benches/README.md`, "A sum reads only the
/// entries it adds").
pub(crate) fn decode_whole_dictionary(docs: u64, entries: usize) -> bool {
    docs.saturating_mul(4) >= entries as u64
}

/// One measured column while its docs are read.
pub(super) struct Measured<'a> {
    pub(super) column: String,
    pub(super) ids: PackedIds<'a>,
    pub(super) cardinality: u32,
    dictionary: Dictionary<'a>,
    kind: FixedKind,
    /// The dictionary's values, when summed and decoded up front (see
    /// [`decode_whole_dictionary`]); a sum without them reads each id's value as it adds it.
    values: Option<Numbers>,
    sum_as: Option<SumAs>,
    integer_sums: Vec<i64>,
    float_sums: Vec<f64>,
    min_ids: Option<Vec<u32>>,
    max_ids: Option<Vec<u32>>,
    /// Docs per (group, id), at `group * cardinality + id`.
    histogram: Option<Vec<u32>>,
    /// Answered without reading its docs (see [`Measured::settle_sorted`]).
    pub(super) settled: bool,
    /// An id read was outside the dictionary (a corrupt forward index).
    outside: bool,
}

impl<'a> Measured<'a> {
    pub(super) fn new(
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
    pub(super) fn settle_sorted(&mut self, lo: usize, hi: usize) -> std::result::Result<(), String> {
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

    /// Id `id`'s value as an integer sum adds it; `None` outside the dictionary.
    fn integer_at(&self, id: u32) -> Option<i64> {
        (id < self.cardinality).then(|| key_as_integer(self.kind, self.dictionary.key(id as usize)))
    }

    /// Id `id`'s value as a float sum adds it; `None` outside the dictionary.
    fn float_at(&self, id: u32) -> Option<f64> {
        (id < self.cardinality).then(|| key_as_float(self.kind, self.dictionary.key(id as usize)))
    }

    /// Room for `groups` groups' states.
    pub(super) fn grow(&mut self, groups: usize) {
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
    pub(super) fn needs_id_check(&self) -> bool {
        self.sum_as.is_none() && self.histogram.is_none() && self.max_ids.is_none()
    }

    /// Every id into group 0; an id outside the dictionary sets `outside`.
    pub(super) fn add_ungrouped(&mut self, ids: &[u32]) {
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
            (None, Some(SumAs::Integer)) => {
                let mut sum = 0i64;
                for &id in ids {
                    match self.integer_at(id) {
                        Some(value) => sum = sum.wrapping_add(value),
                        None => self.outside = true,
                    }
                }
                self.integer_sums[0] = self.integer_sums[0].wrapping_add(sum);
            }
            (None, Some(SumAs::Float)) => {
                let (sum, outside) = sum_floats(ids, |id| self.float_at(id));
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
    pub(super) fn add_grouped(&mut self, ids: &[u32], slots: &[u32]) {
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
            (None, Some(SumAs::Integer)) => {
                for (&id, &slot) in ids.iter().zip(slots) {
                    match self.integer_at(id) {
                        Some(value) => {
                            let sum = &mut self.integer_sums[slot as usize];
                            *sum = sum.wrapping_add(value);
                        }
                        None => self.outside = true,
                    }
                }
            }
            (None, Some(SumAs::Float)) => {
                for (&id, &slot) in ids.iter().zip(slots) {
                    match self.float_at(id) {
                        Some(value) => self.float_sums[slot as usize] += value,
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
    pub(super) fn finish(self) -> std::result::Result<MeasureStates, String> {
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
pub(crate) fn sum_floats<Id: Copy>(ids: &[Id], value: impl Fn(Id) -> Option<f64>) -> (f64, bool) {
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
