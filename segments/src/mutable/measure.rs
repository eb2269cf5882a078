//! One measured column of a consuming segment's grouping (`group.rs`): its stored per-doc
//! values (raw keys, or ids into the arrival-order dictionary) turned into keys, and each
//! group's SUM, MIN/MAX (on keys, which order as values do) and value counts.

use super::log::slot;
use super::packed_log::Packed;
use super::snapshot::ColumnSnapshot;
use crate::group::{decode_whole_dictionary, key_as_float, key_as_integer, sum_floats};
use crate::group::{is_float, Histogram, Measure, MeasureStates, Numbers, SumAs};
use crate::physical::FixedKind;
use std::sync::atomic::Ordering;

/// One measured column while its docs are read: its stored per-doc values (keys, or ids
/// into its dictionary), and each group's states so far.
pub(super) struct Measuring<'a> {
    pub(super) column: String,
    pub(super) values: &'a Packed,
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
    pub(super) zoned: bool,
    /// Docs whose values a zone stood in for (not read).
    pub(super) zoned_docs: u64,
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
    pub(super) fn new(measure: &Measure, snap: &'a ColumnSnapshot, kind: FixedKind, docs: u64) -> Measuring<'a> {
        let stored = match snap.has_ids() {
            false => Stored::Keys,
            true if decode_whole_dictionary(docs, snap.dict_len() as usize) => {
                Stored::IdTable((0..snap.dict_len()).map(|id| snap.key(id)).collect())
            }
            true => Stored::Ids,
        };
        let id_numbers = match (&stored, measure.sum) {
            (Stored::IdTable(keys), Some(SumAs::Float)) => {
                Some(Numbers::Floats(keys.iter().map(|&k| key_as_float(kind, k)).collect()))
            }
            (Stored::IdTable(keys), Some(SumAs::Integer)) => {
                Some(Numbers::Integers(keys.iter().map(|&k| key_as_integer(kind, k)).collect()))
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
    pub(super) fn zone(&self, c: usize) -> Option<(u64, u64)> {
        if self.sum.is_some() || self.histogram.is_some() || (self.min_keys.is_none() && self.max_keys.is_none()) {
            return None;
        }
        let min = slot(&self.snap.zone_min, c)?.load(Ordering::Relaxed);
        let max = slot(&self.snap.zone_max, c)?.load(Ordering::Relaxed);
        Some((min, max))
    }

    /// A chunk's zone into the one group's MIN/MAX.
    pub(super) fn add_zone(&mut self, min: u64, max: u64) {
        if let Some(m) = self.min_keys.as_mut().and_then(|keys| keys.first_mut()) {
            *m = (*m).min(min);
        }
        if let Some(m) = self.max_keys.as_mut().and_then(|keys| keys.first_mut()) {
            *m = (*m).max(max);
        }
    }

    pub(super) fn grow(&mut self, groups: usize) {
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
    pub(super) fn add(&mut self, slots: Option<&[u32]>, stored: &[u64], keys: &mut [u64]) -> bool {
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
                let sum = keys.iter().fold(0i64, |sum, &k| sum.wrapping_add(key_as_integer(kind, k)));
                self.integer_sums[0] = self.integer_sums[0].wrapping_add(sum);
            }
            (Some(SumAs::Integer), Some(slots)) => {
                for (&slot, &k) in slots.iter().zip(keys.iter()) {
                    let sum = &mut self.integer_sums[slot as usize];
                    *sum = sum.wrapping_add(key_as_integer(kind, k));
                }
            }
            (Some(SumAs::Float), None) => {
                self.float_sums[0] += keys.iter().map(|&k| key_as_float(kind, k)).sum::<f64>()
            }
            (Some(SumAs::Float), Some(slots)) => {
                for (&slot, &k) in slots.iter().zip(keys.iter()) {
                    self.float_sums[slot as usize] += key_as_float(kind, k);
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

    pub(super) fn finish(self, counts: &[u64]) -> MeasureStates {
        let groups = counts.len();
        let numbers = |keys: Vec<u64>| {
            if is_float(self.kind) {
                Numbers::Floats(keys.iter().map(|&k| key_as_float(self.kind, k)).collect())
            } else {
                Numbers::Integers(keys.iter().map(|&k| key_as_integer(self.kind, k)).collect())
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
                        out.values.push(key_as_float(self.kind, self.snap.key(id)));
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
