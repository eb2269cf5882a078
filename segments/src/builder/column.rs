//! One column of a segment under construction: its values encoded (a sorted dictionary,
//! or raw in the codec that pays), its forward index and every index the table asks for,
//! as sections the builder then writes in schema order.

use super::distinct::{Encoded, FirstSeen};
use super::ColumnBuffer;
use crate::bitmap_index::{write_inverted, write_range, write_sorted};
use crate::bitpack::width_for;
use crate::error::Result;
use crate::format::{ColumnMetadata, SectionKind};
use crate::physical::{FixedKind, Physical, VarKind};
use crate::{bloom, dictionary, forward};
use cuvee_catalog::RawCodec;
use std::collections::BTreeMap;

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

/// The `forward.raw` section of a column: the values in chunks of the block codec its
/// `compressionCodec` names; without one, a single-value string column's values as hex
/// slots where one shape of hex digits holds nearly every value (`hex_strings`), else coded
/// one by one with FSST where that codes a sample at least 1/8 smaller, or else the values
/// in zstd chunks (`None` if `coded_only`). Hex slots are tried first because they are
/// never larger than FSST's codes of the same digits (4 bits a digit and no offsets,
/// against FSST's ~4.2 and an offset a doc), and compare and decode faster.
fn raw_forward(column: &ColumnBuffer, num_docs: u32, coded_only: bool) -> Option<Vec<u8>> {
    let chosen = column.indexing.raw_codec.is_some();
    if let (Physical::Var(_), true, false) = (column.physical, column.spec.single_value, chosen) {
        if let Some(hex) = crate::hex_strings::write(num_docs as usize, |doc| column.var(doc)) {
            return Some(hex);
        }
        if let Some(coded) = crate::coded_strings::write(num_docs as usize, |doc| column.var(doc)) {
            return Some(coded);
        }
    }
    if coded_only {
        return None;
    }
    let codec = column.indexing.raw_codec.unwrap_or(RawCodec::Zstd);
    let chunks =
        forward::write_raw(num_docs as usize, column.physical, !column.spec.single_value, codec, |doc, chunk| {
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
    build_column_with(column, num_docs, true)
}

/// `may_skip_sort: false` always sorts the values, as the builder did before it could
/// decide a column raw without a dictionary: the tests hold the two to the same bytes.
fn build_column_with(column: &ColumnBuffer, num_docs: u32, may_skip_sort: bool) -> Result<BuiltColumn> {
    let name = column.spec.name.as_str();
    let mut bytes: BTreeMap<String, u64> = BTreeMap::new();
    let mut sections = Vec::new();
    let mut add = |kind: SectionKind, data: Vec<u8>| {
        *bytes.entry(kind.name().to_string()).or_default() += data.len() as u64;
        sections.push((kind, data));
    };
    let single_value = column.spec.single_value;
    let seen = FirstSeen::of(column);
    // Dictionary only where it pays: a column that may be raw (no index needs its ids) is
    // stored raw when that is under the configured share of the dictionary and ids, in a
    // codec the rule allows. Only nearly unique columns are tried; the rest always pay.
    // Where raw is under that share of the least the dictionary could cost, or the column
    // has no dictionary at all, the values are never sorted.
    let rule = column.indexing.raw_if_smaller.filter(|_| seen.len() * RAW_TRY_CARDINALITY_SHARE >= num_docs as usize);
    let seen_width = width_for(seen.len().saturating_sub(1) as u32);
    // A raw column's metadata (cardinality, min, max, sorted) is read off the distinct values
    // as they are, except for BIG_DECIMAL, whose dictionary merges numerically equal spellings.
    let as_dictionary = !matches!(column.physical, Physical::Var(VarKind::BigDecimal));
    let mut tried = None;
    let raw_unsorted = match (column.indexing.dictionary, rule) {
        _ if !may_skip_sort || !as_dictionary => None,
        (false, _) => raw_forward(column, num_docs, false),
        (true, Some(rule)) => {
            let raw = raw_forward(column, num_docs, rule.coded_only);
            let bound = seen.dictionary_lower_bound(seen_width);
            match raw {
                Some(raw) if (raw.len() as f64) < rule.ratio * bound as f64 => Some(raw),
                raw => {
                    tried = Some(raw);
                    None
                }
            }
        }
        (true, None) => None,
    };
    let encoded = raw_unsorted.is_none().then(|| seen.sorted(column));
    let cardinality = encoded.as_ref().map_or(seen.len(), Encoded::cardinality);
    let (min, max) = match &encoded {
        Some(encoded) => min_max(column, encoded),
        None => seen.min_max(column),
    };
    let max_values_per_doc = if single_value {
        1
    } else {
        (0..num_docs as usize).map(|d| column.doc_range(d)).map(|(s, e)| (e - s) as u32).max().unwrap_or(0)
    };
    let is_sorted = single_value
        && match &encoded {
            Some(encoded) => encoded.ids.windows(2).all(|w| w[0] <= w[1]),
            None => seen.ascending(column),
        };
    let mut bit_width = 0;
    let ids_width = width_for(cardinality.saturating_sub(1) as u32);
    let dictionary_sections = encoded
        .as_ref()
        .filter(|_| column.indexing.dictionary)
        .map(|encoded| DictionarySections::of(column, encoded, ids_width));
    let raw = match (raw_unsorted, &dictionary_sections, column.indexing.raw_if_smaller) {
        (Some(raw), _, _) => Some(raw),
        (None, None, _) => raw_forward(column, num_docs, false),
        (None, Some(sections), Some(rule)) if cardinality * RAW_TRY_CARDINALITY_SHARE >= num_docs as usize => {
            if as_dictionary {
                debug_assert!(seen.dictionary_lower_bound(seen_width) <= sections.len(), "{}", column.spec.name);
            }
            tried
                .unwrap_or_else(|| raw_forward(column, num_docs, rule.coded_only))
                .filter(|raw| (raw.len() as f64) < rule.ratio * sections.len() as f64)
        }
        _ => None,
    };
    let dictionary_encoded = raw.is_none();

    if let (Some(dictionary_encoding), None, Some(encoded)) = (dictionary_sections, &raw, &encoded) {
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
        let hashes: Vec<u64> = match (&encoded, column.physical) {
            (None, _) => seen.bloom_hashes(column),
            (Some(encoded), Physical::Fixed(kind)) => {
                encoded.dict_keys.iter().map(|&k| bloom::hash(&native(kind, k))).collect()
            }
            (Some(encoded), Physical::Var(_)) => encoded.dict_bytes.iter().map(|b| bloom::hash(b)).collect(),
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
        add(SectionKind::Nulls, crate::null_docs::write(&column.nulls, num_docs));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::{SegmentBuilder, ValueIds};
    use crate::row::FieldValue;
    use cuvee_catalog::{Schema, Table, TableConfigJson, Value};

    const SCHEMA: &str = r#"{
      "schemaName": "t",
      "dimensionFieldSpecs": [
        {"name": "s", "dataType": "STRING"},
        {"name": "plain", "dataType": "STRING"},
        {"name": "j", "dataType": "JSON"},
        {"name": "b", "dataType": "BYTES"},
        {"name": "d", "dataType": "BIG_DECIMAL"},
        {"name": "tags", "dataType": "STRING", "singleValueField": false},
        {"name": "n", "dataType": "LONG"}
      ],
      "metricFieldSpecs": [{"name": "x", "dataType": "DOUBLE"}]
    }"#;

    /// Default rules (strings raw where FSST pays), `optimizeDictionary` (any codec), and
    /// columns without a dictionary at all.
    const CONFIGS: [&str; 3] = [
        r#"{"tableName": "t", "tableType": "OFFLINE", "segmentsConfig": {"schemaName": "t", "replication": "1"},
            "tableIndexConfig": {"bloomFilterColumns": ["s", "n"], "invertedIndexColumns": ["plain"]}}"#,
        r#"{"tableName": "t", "tableType": "OFFLINE", "segmentsConfig": {"schemaName": "t", "replication": "1"},
            "tableIndexConfig": {"optimizeDictionary": true, "bloomFilterColumns": ["b", "x"]}}"#,
        r#"{"tableName": "t", "tableType": "OFFLINE", "segmentsConfig": {"schemaName": "t", "replication": "1"},
            "tableIndexConfig": {"noDictionaryColumns": ["s", "j", "b", "d", "tags", "n", "x"], "bloomFilterColumns": ["s", "d"]}}"#,
    ];

    #[derive(Debug, Clone, Copy)]
    enum Ids {
        /// Every id used, numbered against first-seen order.
        Dense,
        /// Odd ids only, below a bound past the last.
        WithGaps,
        /// As `Dense`, with one id at the bound (the builder hashes the values instead).
        OneOutside,
    }

    /// `column` with each value's id in a dictionary of its distinct values.
    fn with_ids(column: &ColumnBuffer, ids: Ids) -> ColumnBuffer {
        let values: Vec<Vec<u8>> = match column.physical {
            Physical::Fixed(_) => column.keys.iter().map(|k| k.to_le_bytes().to_vec()).collect(),
            Physical::Var(_) => (0..column.ends.len()).map(|i| column.var(i).to_vec()).collect(),
        };
        let mut rank: std::collections::HashMap<&[u8], u32> = Default::default();
        let ranks: Vec<u32> = values
            .iter()
            .map(|v| {
                let next = rank.len() as u32;
                *rank.entry(v).or_insert(next)
            })
            .collect();
        let n = rank.len() as u32;
        let (mut given, distinct): (Vec<u32>, u32) = match ids {
            Ids::Dense | Ids::OneOutside => (ranks.iter().map(|r| n - 1 - r).collect(), n),
            Ids::WithGaps => (ranks.iter().map(|r| 2 * (n - 1 - r) + 1).collect(), 2 * n + 3),
        };
        if let (Ids::OneOutside, Some(last)) = (ids, given.last_mut()) {
            *last = distinct;
        }
        let mut out = column.clone();
        out.value_ids = Some(ValueIds { ids: given, distinct });
        out
    }

    /// Every column of random rows (few to all distinct values, some sorted) builds to the
    /// same metadata and sections whether or not its values were sorted first.
    #[test]
    fn raw_columns_build_the_same_without_sorting_their_values() {
        let mut next = crate::format::test_draws(0x2545_f491_4f6c_dd1d);
        let words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];
        let (mut raw, mut dictionary) = (0, 0);
        for config in CONFIGS {
            let table = Table::new(Schema::from_json(SCHEMA).unwrap(), TableConfigJson::from_json(config).unwrap())
                .expect("a table");
            for (docs, distinct, sorted) in [
                (1, 1, false),
                (40, 3, false),
                (700, 700, false),
                (3000, 200, true),
                (3000, 3000, true),
                (5000, 2500, false),
            ] {
                let mut builder = SegmentBuilder::new(&table);
                for doc in 0..docs {
                    let v = if sorted { doc * distinct / docs } else { next(distinct) };
                    let text = format!("{}-{}/{v:06}", words[(v % 8) as usize], words[(v / 8 % 8) as usize]);
                    let row = vec![
                        FieldValue::Single(Value::String(text.clone())),
                        FieldValue::Single(Value::String(text.clone())),
                        FieldValue::Single(Value::Json(format!(r#"{{"k":"{text}","n":{v}}}"#))),
                        FieldValue::Single(Value::Bytes(text.clone().into_bytes())),
                        FieldValue::Single(Value::BigDecimal(format!("{}.{}", v / 10, v % 10))),
                        if v % 5 == 0 {
                            FieldValue::Null
                        } else {
                            FieldValue::Multi(
                                (0..v % 3 + 1).map(|i| Value::String(words[((v + i) % 8) as usize].into())).collect(),
                            )
                        },
                        FieldValue::Single(Value::Long(v as i64 * 7 - 1000)),
                        FieldValue::Single(Value::Double(v as f64 / 3.0)),
                    ];
                    builder.push(&row).expect("a row");
                }
                for column in &builder.columns {
                    let unsorted = build_column_with(column, docs as u32, true).expect("built");
                    let sorted = build_column_with(column, docs as u32, false).expect("built");
                    let what = format!("{} of {docs} docs, {distinct} distinct, config {config}", column.spec.name);
                    assert_eq!(unsorted.metadata, sorted.metadata, "{what}");
                    assert!(unsorted.sections == sorted.sections, "{what}: sections differ");
                    // Ids that came with the values (a consuming segment's), numbered in
                    // any order, some unused, or not covering the values: the same bytes.
                    for ids in [Ids::Dense, Ids::WithGaps, Ids::OneOutside] {
                        let given = build_column_with(&with_ids(column, ids), docs as u32, true).expect("built");
                        assert_eq!(given.metadata, unsorted.metadata, "{what}, ids {ids:?}");
                        assert!(given.sections == unsorted.sections, "{what}, ids {ids:?}: sections differ");
                    }
                    if unsorted.metadata.dictionary {
                        dictionary += 1;
                    } else {
                        raw += 1;
                    }
                }
            }
        }
        assert!(raw > 20 && dictionary > 20, "{raw} raw and {dictionary} dictionary columns");
    }
}
