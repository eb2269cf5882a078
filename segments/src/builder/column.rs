//! One column of a segment under construction: its values encoded (a sorted dictionary,
//! or raw in the codec that pays), its forward index and every index the table asks for,
//! as sections the builder then writes in schema order.

use super::ColumnBuffer;
use crate::bitmap_index::{write_inverted, write_range, write_sorted};
use crate::bitpack::width_for;
use crate::error::{Result, SegmentError};
use crate::format::{ColumnMetadata, SectionKind};
use crate::physical::{FixedKind, Physical, VarKind};
use crate::{bloom, dictionary, forward};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
/// Sorted distinct values and, for each value in the column, its dictionary id.
struct Encoded {
    dict_keys: Vec<u64>,
    dict_bytes: Vec<Vec<u8>>,
    ids: Vec<u32>,
}

impl Encoded {
    fn cardinality(&self) -> usize {
        self.dict_keys.len().max(self.dict_bytes.len())
    }
}

fn encode(column: &ColumnBuffer) -> Encoded {
    match column.physical {
        Physical::Fixed(_) => {
            let mut first_seen: FxHashMap<u64, u32> = FxHashMap::default();
            let temp_ids: Vec<u32> = column
                .keys
                .iter()
                .map(|&k| {
                    let next = first_seen.len() as u32;
                    *first_seen.entry(k).or_insert(next)
                })
                .collect();
            let mut dict_keys: Vec<u64> = first_seen.keys().copied().collect();
            dict_keys.sort_unstable();
            let mut remap = vec![0u32; dict_keys.len()];
            for (id, key) in dict_keys.iter().enumerate() {
                remap[first_seen[key] as usize] = id as u32;
            }
            Encoded { dict_keys, dict_bytes: Vec::new(), ids: temp_ids.iter().map(|&t| remap[t as usize]).collect() }
        }
        Physical::Var(kind) => {
            let mut first_seen: FxHashMap<&[u8], u32> = FxHashMap::default();
            let mut distinct: Vec<&[u8]> = Vec::new();
            let temp_ids: Vec<u32> = (0..column.ends.len())
                .map(|i| {
                    let value = column.var(i);
                    *first_seen.entry(value).or_insert_with(|| {
                        distinct.push(value);
                        distinct.len() as u32 - 1
                    })
                })
                .collect();
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
            Encoded { dict_keys: Vec::new(), dict_bytes, ids: temp_ids.iter().map(|&t| remap[t as usize]).collect() }
        }
    }
}

/// A column may be tried raw only when it has at least one distinct value per this many docs.
const RAW_TRY_CARDINALITY_SHARE: usize = 16;

/// A dictionary-encoded column's dictionary and forward index, built before deciding whether
/// the column is stored that way.
struct DictionarySections {
    dictionary: Vec<u8>,
    forward_kind: SectionKind,
    forward: Vec<u8>,
}

impl DictionarySections {
    fn of(column: &ColumnBuffer, encoded: &Encoded, ids_width: u32) -> DictionarySections {
        let dictionary = match column.physical {
            Physical::Fixed(kind) => dictionary::write_fixed(&encoded.dict_keys, kind),
            Physical::Var(_) => {
                dictionary::write_var(&encoded.dict_bytes.iter().map(Vec::as_slice).collect::<Vec<_>>())
            }
        };
        if column.spec.single_value {
            let mut forward = Vec::new();
            forward::write_ids(&encoded.ids, ids_width, &mut forward);
            return DictionarySections { dictionary, forward_kind: SectionKind::ForwardIds, forward };
        }
        let mut offsets = Vec::with_capacity(column.doc_ends.len() + 1);
        offsets.push(0);
        offsets.extend_from_slice(&column.doc_ends);
        let forward = forward::write_mv_ids(&offsets, &encoded.ids, ids_width);
        DictionarySections { dictionary, forward_kind: SectionKind::ForwardMvIds, forward }
    }

    fn len(&self) -> usize {
        self.dictionary.len() + self.forward.len()
    }
}

/// The `forward.raw` section of a column: a single-value string column's values coded one
/// by one with FSST where that codes a sample at least 1/8 smaller, or else the values in
/// zstd chunks (`None` if `coded_only`).
fn raw_forward(column: &ColumnBuffer, num_docs: u32, coded_only: bool) -> Option<Vec<u8>> {
    if let (Physical::Var(_), true) = (column.physical, column.spec.single_value) {
        if let Some(coded) = crate::coded_strings::write(num_docs as usize, |doc| column.var(doc)) {
            return Some(coded);
        }
    }
    if coded_only {
        return None;
    }
    let chunks = forward::write_raw(num_docs as usize, column.physical, !column.spec.single_value, |doc, chunk| {
        let (start, end) = column.doc_range(doc);
        for i in start..end {
            match column.physical {
                Physical::Fixed(_) => chunk.push_key(column.keys[i]),
                Physical::Var(_) => chunk.push_bytes(column.var(i)),
            }
        }
    });
    Some(chunks)
}

/// One column's metadata and sections, built apart from the file so that columns can be
/// built on separate threads and still be written in schema order.
pub(super) struct BuiltColumn {
    pub metadata: ColumnMetadata,
    pub sections: Vec<(SectionKind, Vec<u8>)>,
}

pub(super) fn build_column(column: &ColumnBuffer, num_docs: u32) -> Result<BuiltColumn> {
    let name = column.spec.name.as_str();
    let mut bytes: BTreeMap<String, u64> = BTreeMap::new();
    let mut sections = Vec::new();
    let mut add = |kind: SectionKind, data: Vec<u8>| {
        *bytes.entry(kind.name().to_string()).or_default() += data.len() as u64;
        sections.push((kind, data));
    };
    let single_value = column.spec.single_value;
    let encoded = encode(column);
    let cardinality = encoded.cardinality();
    let (min, max) = min_max(column, &encoded);
    let max_values_per_doc = if single_value {
        1
    } else {
        (0..num_docs as usize).map(|d| column.doc_range(d)).map(|(s, e)| (e - s) as u32).max().unwrap_or(0)
    };
    let is_sorted = single_value && encoded.ids.windows(2).all(|w| w[0] <= w[1]);
    let mut bit_width = 0;
    let ids_width = width_for(cardinality.saturating_sub(1) as u32);
    let dictionary_sections = column.indexing.dictionary.then(|| DictionarySections::of(column, &encoded, ids_width));
    // Dictionary only where it pays: a column that may be raw (no index needs its ids) is
    // stored raw when that is under the configured share of the dictionary and ids, in a
    // codec the rule allows. Only nearly unique columns are tried; the rest always pay.
    let raw = match (&dictionary_sections, column.indexing.raw_if_smaller) {
        (None, _) => raw_forward(column, num_docs, false),
        (Some(sections), Some(rule)) if cardinality * RAW_TRY_CARDINALITY_SHARE >= num_docs as usize => {
            raw_forward(column, num_docs, rule.coded_only)
                .filter(|raw| (raw.len() as f64) < rule.ratio * sections.len() as f64)
        }
        _ => None,
    };
    let dictionary_encoded = raw.is_none();

    if let (Some(dictionary_encoding), None) = (dictionary_sections, &raw) {
        bit_width = ids_width;
        add(SectionKind::Dictionary, dictionary_encoding.dictionary);
        // The sorted column's ids are read off its sorted index; it stores no forward index.
        let sorted_index = column.indexing.sorted && is_sorted;
        if !sorted_index {
            add(dictionary_encoding.forward_kind, dictionary_encoding.forward);
        }
        if column.indexing.inverted {
            let mut postings = vec![Vec::new(); cardinality];
            for doc in 0..num_docs as usize {
                let (start, end) = column.doc_range(doc);
                for &id in &encoded.ids[start..end] {
                    // A multi-value doc may list a value twice; its posting lists it once.
                    let list: &mut Vec<u32> = &mut postings[id as usize];
                    if list.last() != Some(&(doc as u32)) {
                        list.push(doc as u32);
                    }
                }
            }
            add(SectionKind::Inverted, write_inverted(&postings, num_docs));
        }
        if sorted_index {
            let mut starts = Vec::with_capacity(cardinality + 1);
            let mut doc = 0usize;
            for id in 0..cardinality {
                starts.push(doc as u64);
                while doc < encoded.ids.len() && encoded.ids[doc] == id as u32 {
                    doc += 1;
                }
            }
            starts.push(doc as u64);
            add(SectionKind::Sorted, write_sorted(&starts));
        }
        if column.indexing.range && single_value {
            let data = write_range(encoded.ids.iter().map(|&id| id as u64), 0, bit_width);
            add(SectionKind::Range, data);
        }
    }
    if let Some(data) = raw {
        add(SectionKind::ForwardRaw, data);
        if let (true, true, Physical::Fixed(_)) = (column.indexing.range, single_value, column.physical) {
            let base = column.keys.iter().copied().min().unwrap_or(0);
            let top = column.keys.iter().copied().max().unwrap_or(0) - base;
            let bits = 64 - top.leading_zeros();
            add(SectionKind::Range, write_range(column.keys.iter().map(|k| k - base), base, bits));
        }
    }
    if let Some(fpp) = column.indexing.bloom_fpp {
        let hashes: Vec<u64> = match column.physical {
            Physical::Fixed(kind) => encoded.dict_keys.iter().map(|&k| bloom::hash(&native(kind, k))).collect(),
            Physical::Var(_) => encoded.dict_bytes.iter().map(|b| bloom::hash(b)).collect(),
        };
        add(SectionKind::Bloom, bloom::write(hashes.iter().copied(), bloom::blocks_for(hashes.len(), fpp)));
    }
    if let (Some(resolution), true) = (column.indexing.h3_resolution, single_value) {
        let values = (0..num_docs as usize).map(|doc| {
            let (start, end) = column.doc_range(doc);
            (start < end && !column.nulls.contains(doc as u32) && matches!(column.physical, Physical::Var(_)))
                .then(|| column.var(start))
        });
        add(SectionKind::H3, crate::h3_index::write_h3(resolution, values));
    }
    if !column.nulls.is_empty() {
        let mut data = Vec::new();
        let mut nulls = column.nulls.clone();
        nulls.optimize();
        nulls.serialize_into(&mut data).map_err(|e| SegmentError::InvalidRow(e.to_string()))?;
        add(SectionKind::Nulls, data);
    }
    let metadata = ColumnMetadata {
        name: name.to_string(),
        data_type: column.spec.data_type,
        single_value,
        dictionary: dictionary_encoded,
        cardinality: cardinality as u32,
        bit_width,
        min,
        max,
        null_count: column.nulls.len() as u32,
        total_values: column.value_count() as u64,
        max_values_per_doc,
        is_sorted,
        bloom_fpp: column.indexing.bloom_fpp,
        bytes,
    };
    Ok(BuiltColumn { metadata, sections })
}

/// The bytes a bloom filter hashes for a fixed-width value: its native little-endian form.
pub(crate) fn native(kind: FixedKind, key: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    kind.write_native(key, &mut out);
    out
}

fn min_max(column: &ColumnBuffer, encoded: &Encoded) -> (Option<serde_json::Value>, Option<serde_json::Value>) {
    match column.physical {
        Physical::Fixed(kind) => (
            encoded.dict_keys.first().map(|&k| kind.value(k).to_json()),
            encoded.dict_keys.last().map(|&k| kind.value(k).to_json()),
        ),
        Physical::Var(kind) => (
            encoded.dict_bytes.first().map(|b| kind.value(b).to_json()),
            encoded.dict_bytes.last().map(|b| kind.value(b).to_json()),
        ),
    }
}
