//! A column's distinct values: as first seen (hashed, or handed over with their ids by a
//! consuming segment), which is all a raw column needs, and sorted into a dictionary with
//! each value's id, for a column that keeps one.

use super::column::native;
use super::{ColumnBuffer, ValueIds};
use crate::bloom;
use crate::physical::{Physical, VarKind};
use rustc_hash::FxHashMap;
use std::borrow::Cow;

/// Sorted distinct values and, for each value in the column, its dictionary id.
pub(super) struct Encoded {
    pub dict_keys: Vec<u64>,
    pub dict_bytes: Vec<Vec<u8>>,
    pub ids: Vec<u32>,
}

impl Encoded {
    pub fn cardinality(&self) -> usize {
        self.dict_keys.len().max(self.dict_bytes.len())
    }
}

/// A column's distinct values in the order first seen (keys, or bytes), and each value's
/// index among them: what a dictionary costs and what a raw column's metadata needs,
/// without sorting. A nearly unique column that ends raw never sorts its values (that sort
/// was the seal's largest single cost).
pub(super) struct FirstSeen<'a> {
    keys: Vec<u64>,
    values: Vec<&'a [u8]>,
    ids: Cow<'a, [u32]>,
}

impl<'a> FirstSeen<'a> {
    pub fn of(column: &'a ColumnBuffer) -> FirstSeen<'a> {
        if let Some(seen) = column.value_ids.as_ref().and_then(|v| FirstSeen::from_ids(column, v)) {
            return seen;
        }
        match column.physical {
            Physical::Fixed(_) => {
                let mut seen: FxHashMap<u64, u32> = FxHashMap::default();
                let mut keys = Vec::new();
                let ids = column
                    .keys
                    .iter()
                    .map(|&k| {
                        *seen.entry(k).or_insert_with(|| {
                            keys.push(k);
                            keys.len() as u32 - 1
                        })
                    })
                    .collect::<Vec<u32>>();
                FirstSeen { keys, values: Vec::new(), ids: ids.into() }
            }
            Physical::Var(_) => {
                let mut seen: FxHashMap<&[u8], u32> = FxHashMap::default();
                let mut values = Vec::new();
                let ids = (0..column.ends.len())
                    .map(|i| {
                        let value = column.var(i);
                        *seen.entry(value).or_insert_with(|| {
                            values.push(value);
                            values.len() as u32 - 1
                        })
                    })
                    .collect::<Vec<u32>>();
                FirstSeen { keys: Vec::new(), values, ids: ids.into() }
            }
        }
    }

    /// From ids that came with the values (a consuming segment's dictionary): each id's
    /// first value, no hashing. Ids the docs never use (entries of later docs) are dropped
    /// and the rest renumbered. `None` when the ids do not cover the values.
    fn from_ids(column: &'a ColumnBuffer, given: &'a ValueIds) -> Option<FirstSeen<'a>> {
        let values = match column.physical {
            Physical::Fixed(_) => column.keys.len(),
            Physical::Var(_) => column.ends.len(),
        };
        if given.ids.len() != values {
            return None;
        }
        let mut first = vec![u32::MAX; given.distinct as usize];
        for (i, &id) in given.ids.iter().enumerate() {
            let slot = first.get_mut(id as usize)?;
            if *slot == u32::MAX {
                *slot = i as u32;
            }
        }
        let used: Vec<u32> = first.iter().copied().filter(|&i| i != u32::MAX).collect();
        let ids = if used.len() == first.len() {
            Cow::Borrowed(&given.ids[..])
        } else {
            let mut renumber = vec![0u32; first.len()];
            let mut next = 0;
            for (id, &i) in first.iter().enumerate() {
                if i != u32::MAX {
                    renumber[id] = next;
                    next += 1;
                }
            }
            Cow::Owned(given.ids.iter().map(|&id| renumber[id as usize]).collect())
        };
        Some(match column.physical {
            Physical::Fixed(_) => {
                FirstSeen { keys: used.iter().map(|&i| column.keys[i as usize]).collect(), values: Vec::new(), ids }
            }
            Physical::Var(_) => {
                FirstSeen { keys: Vec::new(), values: used.iter().map(|&i| column.var(i as usize)).collect(), ids }
            }
        })
    }

    pub fn len(&self) -> usize {
        self.keys.len().max(self.values.len())
    }

    /// At most the bytes the dictionary and its ids would take: the distinct values' bytes
    /// and each value's id at `ids_width` bits (offsets, headers and a fixed dictionary's
    /// keys left out).
    pub fn dictionary_lower_bound(&self, ids_width: u32) -> usize {
        let values: usize = self.values.iter().map(|v| v.len()).sum();
        values + self.ids.len() * ids_width as usize / 8
    }

    pub fn sorted(&self, column: &ColumnBuffer) -> Encoded {
        match column.physical {
            Physical::Fixed(_) => {
                let mut order: Vec<(u64, u32)> = self.keys.iter().enumerate().map(|(t, &k)| (k, t as u32)).collect();
                order.sort_unstable();
                let mut remap = vec![0u32; order.len()];
                for (id, &(_, t)) in order.iter().enumerate() {
                    remap[t as usize] = id as u32;
                }
                let dict_keys = order.into_iter().map(|(k, _)| k).collect();
                Encoded {
                    dict_keys,
                    dict_bytes: Vec::new(),
                    ids: self.ids.iter().map(|&t| remap[t as usize]).collect(),
                }
            }
            Physical::Var(kind) => {
                let distinct = &self.values;
                let mut order: Vec<u32> = (0..distinct.len() as u32).collect();
                order.sort_by(|&a, &b| {
                    kind.compare(distinct[a as usize], distinct[b as usize])
                        .then_with(|| distinct[a as usize].cmp(distinct[b as usize]))
                });
                // BIG_DECIMAL: numerically equal spellings ("1.0", "1") share one entry.
                let mut remap = vec![0u32; distinct.len()];
                let mut dict_bytes: Vec<Vec<u8>> = Vec::new();
                for &t in &order {
                    let value = distinct[t as usize];
                    let same = dict_bytes
                        .last()
                        .is_some_and(|last| kind == VarKind::BigDecimal && kind.compare(last, value).is_eq());
                    if !same {
                        dict_bytes.push(value.to_vec());
                    }
                    remap[t as usize] = dict_bytes.len() as u32 - 1;
                }
                Encoded {
                    dict_keys: Vec::new(),
                    dict_bytes,
                    ids: self.ids.iter().map(|&t| remap[t as usize]).collect(),
                }
            }
        }
    }

    /// The smallest and largest value, as the sorted dictionary's ends would give them.
    pub fn min_max(&self, column: &ColumnBuffer) -> (Option<serde_json::Value>, Option<serde_json::Value>) {
        match column.physical {
            Physical::Fixed(kind) => (
                self.keys.iter().min().map(|&k| kind.value(k).to_json()),
                self.keys.iter().max().map(|&k| kind.value(k).to_json()),
            ),
            Physical::Var(kind) => (
                self.values.iter().min().map(|b| kind.value(b).to_json()),
                self.values.iter().max().map(|b| kind.value(b).to_json()),
            ),
        }
    }

    /// Whether each value is at least the one before (ids in dictionary order would be
    /// non-decreasing).
    pub fn ascending(&self, column: &ColumnBuffer) -> bool {
        match column.physical {
            Physical::Fixed(_) => column.keys.windows(2).all(|w| w[0] <= w[1]),
            Physical::Var(_) => self.ids.windows(2).all(|w| self.values[w[0] as usize] <= self.values[w[1] as usize]),
        }
    }

    /// The bytes a bloom filter hashes for each distinct value.
    pub fn bloom_hashes(&self, column: &ColumnBuffer) -> Vec<u64> {
        match column.physical {
            Physical::Fixed(kind) => self.keys.iter().map(|&k| bloom::hash(&native(kind, k))).collect(),
            Physical::Var(_) => self.values.iter().map(|b| bloom::hash(b)).collect(),
        }
    }
}
