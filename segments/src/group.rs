//! Counting a sealed segment's docs per group on dictionary ids, without decoding a value:
//! the group of a doc is its combination of ids (mixed radix over the columns'
//! cardinalities), counted in a dense array when the combinations are few and in a hash
//! map otherwise. Each group remembers its first doc, so its values are decoded once, from
//! that doc, by the ordinary decode path (the types and null handling stay the scan's).

use crate::bitpack::BLOCK;
use crate::error::Result;
use crate::forward::PackedIds;
use crate::immutable::{Forward, ImmutableSegment};
use roaring::RoaringBitmap;
use std::collections::HashMap;

/// Group combinations counted in a dense array at most (8 bytes each).
const DENSE_GROUPS: u64 = 1 << 20;

/// The groups of a segment's docs: each group's first doc (ascending) and its doc count.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    pub first_docs: Vec<u32>,
    pub counts: Vec<u64>,
    /// Dictionary ids read (docs × columns).
    pub ids_read: u64,
}

/// One group-by column as ids.
struct Key<'a> {
    ids: &'a PackedIds<'a>,
    cardinality: u32,
    stride: u64,
}

impl ImmutableSegment {
    /// Whether `column` can be grouped on ids here: single-value, with a dictionary and a
    /// forward index of ids (whatever the format version wrote).
    pub fn groups_on_ids(&self, column: &str) -> bool {
        self.column(column).is_ok_and(|reader| {
            reader.meta.single_value && reader.meta.dictionary && matches!(reader.forward, Forward::Ids(_))
        })
    }

    /// Counts `docs` per combination of `columns`' values (each one
    /// [`groups_on_ids`](Self::groups_on_ids)); `None` when a column cannot be grouped on ids.
    pub fn count_groups(&self, columns: &[&str], docs: &RoaringBitmap) -> Result<Option<GroupCounts>> {
        let mut readers = Vec::with_capacity(columns.len());
        for column in columns {
            if !self.groups_on_ids(column) {
                return Ok(None);
            }
            readers.push(self.column(column)?);
        }
        let mut keys = Vec::with_capacity(readers.len());
        let mut combinations: u64 = 1;
        for reader in &readers {
            let Forward::Ids(ids) = &reader.forward else { return Ok(None) };
            let cardinality = reader.dictionary.as_ref().map_or(0, |d| d.len()) as u64;
            keys.push(Key { ids, cardinality: cardinality.max(1) as u32, stride: combinations });
            combinations = match combinations.checked_mul(cardinality.max(1)) {
                Some(c) => c,
                None => return Ok(None),
            };
        }
        let mut counter = if combinations <= DENSE_GROUPS {
            Counter::Dense { counts: vec![0; combinations as usize], first: vec![u32::MAX; combinations as usize] }
        } else {
            Counter::Sparse(HashMap::new())
        };
        let corrupt = |column: &str| self.corrupt(format!("column {column}: a forward id is outside its dictionary"));
        if docs.len() == u64::from(self.num_docs()) {
            // Every doc: unpack block by block, as the scan kernels do.
            let mut blocks: Vec<Box<[u32; BLOCK]>> = keys.iter().map(|_| Box::new([0u32; BLOCK])).collect();
            let block_count = keys.first().map_or(0, |k| k.ids.blocks());
            for b in 0..block_count {
                let mut real = BLOCK;
                for (key, block) in keys.iter().zip(blocks.iter_mut()) {
                    real = real.min(key.ids.unpack(b, block));
                }
                for i in 0..real {
                    let mut combination = 0u64;
                    for (c, (key, block)) in keys.iter().zip(&blocks).enumerate() {
                        let id = block[i];
                        if id >= key.cardinality {
                            return Err(corrupt(columns[c]));
                        }
                        combination += u64::from(id) * key.stride;
                    }
                    counter.add(combination, (b * BLOCK + i) as u32);
                }
            }
        } else {
            for doc in docs {
                let mut combination = 0u64;
                for (c, key) in keys.iter().enumerate() {
                    let id = key.ids.get(doc as usize);
                    if id >= key.cardinality {
                        return Err(corrupt(columns[c]));
                    }
                    combination += u64::from(id) * key.stride;
                }
                counter.add(combination, doc);
            }
        }
        let mut groups = counter.groups();
        groups.sort_unstable_by_key(|(first, _)| *first);
        let ids_read = docs.len() * keys.len() as u64;
        Ok(Some(GroupCounts {
            first_docs: groups.iter().map(|(first, _)| *first).collect(),
            counts: groups.iter().map(|(_, count)| *count).collect(),
            ids_read,
        }))
    }
}

enum Counter {
    Dense { counts: Vec<u32>, first: Vec<u32> },
    Sparse(HashMap<u64, (u32, u32)>),
}

impl Counter {
    #[inline]
    fn add(&mut self, combination: u64, doc: u32) {
        match self {
            Counter::Dense { counts, first } => {
                let slot = combination as usize;
                if counts[slot] == 0 {
                    first[slot] = doc;
                }
                counts[slot] += 1;
            }
            Counter::Sparse(map) => map.entry(combination).or_insert((doc, 0)).1 += 1,
        }
    }

    /// (first doc, count) of every group with a doc.
    fn groups(self) -> Vec<(u32, u64)> {
        match self {
            Counter::Dense { counts, first } => counts
                .iter()
                .zip(&first)
                .filter(|(count, _)| **count > 0)
                .map(|(count, first)| (*first, u64::from(*count)))
                .collect(),
            Counter::Sparse(map) => map.into_values().map(|(first, count)| (first, u64::from(count))).collect(),
        }
    }
}
