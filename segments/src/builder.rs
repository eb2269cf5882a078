//! Builds an immutable segment file from rows: sort on the sorted column, dictionary-encode,
//! bit-pack, and write every configured index. The same code seals a mutable segment, so a
//! sealed segment is byte-identical to one built in batch from the same rows.

use crate::bitmap_index::{write_inverted, write_range, write_sorted};
use crate::bitpack::width_for;
use crate::error::{Result, SegmentError};
use crate::format::{
    ColumnMetadata, FileWriter, SectionKind, SegmentBounds, SegmentMetadata, FILE_EXTENSION, FORMAT_VERSION,
};
use crate::physical::{FixedKind, Physical, VarKind};
use crate::row::FieldValue;
use crate::{bloom, dictionary, forward};
use cuvee_catalog::{ColumnIndexing, ColumnSpec, Table, Value};
use roaring::RoaringBitmap;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Who a segment is: everything in its metadata that does not come from the rows.
#[derive(Debug, Clone, Default)]
pub struct SegmentIdentity {
    pub name: String,
    pub partition: Option<u32>,
    pub start_offset: Option<i64>,
    pub end_offset: Option<i64>,
    pub creation_time_ms: i64,
}

/// One column's values as they arrive, flattened, in physical form.
#[derive(Clone)]
pub(crate) struct ColumnBuffer {
    pub spec: ColumnSpec,
    pub indexing: ColumnIndexing,
    pub physical: Physical,
    /// Fixed-width values as order-preserving keys.
    pub keys: Vec<u64>,
    /// Variable-width values: concatenated bytes and the end of each value.
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
    /// Multi-value columns: the end of each doc's values in the flattened list.
    pub doc_ends: Vec<u32>,
    pub nulls: RoaringBitmap,
    pub docs: u32,
}

impl ColumnBuffer {
    pub fn new(spec: &ColumnSpec, indexing: &ColumnIndexing) -> ColumnBuffer {
        ColumnBuffer {
            spec: spec.clone(),
            indexing: indexing.clone(),
            physical: Physical::of(spec.data_type),
            keys: Vec::new(),
            bytes: Vec::new(),
            ends: Vec::new(),
            doc_ends: Vec::new(),
            nulls: RoaringBitmap::new(),
            docs: 0,
        }
    }

    /// Room for `values` values of `value_bytes` bytes in all, so a seal fills its
    /// buffers without growing them (each growth copies, and touches fresh pages).
    pub(crate) fn reserve(&mut self, values: usize, value_bytes: usize) {
        match self.physical {
            Physical::Fixed(_) => self.keys.reserve_exact(values),
            Physical::Var(_) => {
                self.ends.reserve_exact(values);
                self.bytes.reserve_exact(value_bytes);
            }
        }
    }

    fn value_count(&self) -> usize {
        match self.physical {
            Physical::Fixed(_) => self.keys.len(),
            Physical::Var(_) => self.ends.len(),
        }
    }

    fn push_value(&mut self, value: &Value) -> std::result::Result<(), String> {
        match self.physical {
            Physical::Fixed(kind) => self.keys.push(kind.key(value).ok_or_else(|| self.type_error(value))?),
            Physical::Var(kind) => {
                let bytes = kind.bytes(value).ok_or_else(|| self.type_error(value))?;
                self.bytes.extend_from_slice(bytes);
                self.ends.push(self.bytes.len());
            }
        }
        Ok(())
    }

    fn type_error(&self, value: &Value) -> String {
        format!(
            "column \"{}\" is {} but the value {value} is {}",
            self.spec.name,
            self.spec.data_type,
            value.data_type()
        )
    }

    /// Adds one doc's value; a value of the wrong type is refused (`InvalidRow`).
    pub fn push(&mut self, field: &FieldValue) -> Result<()> {
        self.push_field(field).map_err(SegmentError::InvalidRow)
    }

    fn push_field(&mut self, field: &FieldValue) -> std::result::Result<(), String> {
        let default = self.spec.default_null_value.clone();
        let before = self.value_count();
        let outcome = match (field, self.spec.single_value) {
            (FieldValue::Null, _) => {
                self.nulls.insert(self.docs);
                self.push_value(&default)
            }
            (FieldValue::Single(v), _) => self.push_value(v),
            (FieldValue::Multi(values), false) if values.is_empty() => {
                self.nulls.insert(self.docs);
                self.push_value(&default)
            }
            (FieldValue::Multi(values), false) => values.iter().try_for_each(|v| self.push_value(v)),
            (FieldValue::Multi(_), true) => {
                Err(format!("column \"{}\" is single-value but got a list", self.spec.name))
            }
        };
        if let Err(reason) = outcome {
            // Leave the column as it was before this doc.
            self.keys.truncate(before.min(self.keys.len()));
            self.ends.truncate(before.min(self.ends.len()));
            self.bytes.truncate(self.ends.last().copied().unwrap_or(0));
            self.nulls.remove(self.docs);
            return Err(reason);
        }
        if !self.spec.single_value {
            self.doc_ends.push(self.value_count() as u32);
        }
        self.docs += 1;
        Ok(())
    }

    /// Adds one value of the doc being built, already in physical form (a consuming
    /// segment's, checked against the column's type when it arrived); [`end_doc`] closes
    /// the doc. A null doc holds the column's default, as [`push`] stores it.
    ///
    /// [`end_doc`]: Self::end_doc
    /// [`push`]: Self::push
    pub(crate) fn push_key(&mut self, key: u64) {
        self.keys.push(key);
    }

    /// As [`push_key`](Self::push_key), for a variable-width value.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        self.ends.push(self.bytes.len());
    }

    /// Closes a doc whose values were added by `push_key`/`push_bytes`.
    pub(crate) fn end_doc(&mut self, is_null: bool) {
        if is_null {
            self.nulls.insert(self.docs);
        }
        if !self.spec.single_value {
            self.doc_ends.push(self.value_count() as u32);
        }
        self.docs += 1;
    }

    fn var(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn doc_range(&self, doc: usize) -> (usize, usize) {
        if self.spec.single_value {
            (doc, doc + 1)
        } else {
            (if doc == 0 { 0 } else { self.doc_ends[doc - 1] as usize }, self.doc_ends[doc] as usize)
        }
    }

    /// The same column with its docs in `order`.
    fn permute(&self, order: &[u32]) -> ColumnBuffer {
        let mut out = ColumnBuffer {
            keys: Vec::new(),
            bytes: Vec::new(),
            ends: Vec::new(),
            doc_ends: Vec::new(),
            nulls: RoaringBitmap::new(),
            ..self.clone()
        };
        for (new_doc, &old_doc) in order.iter().enumerate() {
            let (start, end) = self.doc_range(old_doc as usize);
            for i in start..end {
                match self.physical {
                    Physical::Fixed(_) => out.keys.push(self.keys[i]),
                    Physical::Var(_) => {
                        out.bytes.extend_from_slice(self.var(i));
                        out.ends.push(out.bytes.len());
                    }
                }
            }
            if !self.spec.single_value {
                out.doc_ends.push(out.value_count() as u32);
            }
            if self.nulls.contains(old_doc) {
                out.nulls.insert(new_doc as u32);
            }
        }
        out
    }
}

/// Collects rows (in schema column order) and writes them as one segment.
pub struct SegmentBuilder {
    table: Table,
    columns: Vec<ColumnBuffer>,
}

impl SegmentBuilder {
    pub fn new(table: &Table) -> SegmentBuilder {
        let columns =
            table.schema.columns().iter().zip(table.indexing()).map(|(spec, ix)| ColumnBuffer::new(spec, ix)).collect();
        SegmentBuilder { table: table.clone(), columns }
    }

    pub(crate) fn from_buffers(table: &Table, columns: Vec<ColumnBuffer>) -> SegmentBuilder {
        SegmentBuilder { table: table.clone(), columns }
    }

    pub fn num_docs(&self) -> u32 {
        self.columns.first().map_or(0, |c| c.docs)
    }

    /// Adds one row; a value of the wrong type is refused and the row is not added.
    pub fn push(&mut self, row: &[FieldValue]) -> Result<()> {
        if row.len() != self.columns.len() {
            return Err(SegmentError::InvalidRow(format!(
                "row has {} fields, schema has {} columns",
                row.len(),
                self.columns.len()
            )));
        }
        if self.num_docs() == u32::MAX - 1 {
            return Err(SegmentError::InvalidRow("segment is full (2^32 - 1 docs)".into()));
        }
        for (i, field) in row.iter().enumerate() {
            if let Err(refused) = self.columns[i].push(field) {
                // Undo the columns already written for this row.
                for column in &mut self.columns[..i] {
                    column.pop_last_doc();
                }
                return Err(refused);
            }
        }
        Ok(())
    }

    /// Builds the file's bytes.
    pub fn build(&self, identity: &SegmentIdentity) -> Result<Vec<u8>> {
        self.build_ordered(identity).map(|(bytes, _)| bytes)
    }

    /// Builds the file's bytes, and the order docs were written in when the table has a
    /// sorted column (`order[doc in file] = doc as pushed`; `None`: as pushed). Upsert keeps
    /// its valid docs across the reordering with it.
    pub fn build_ordered(&self, identity: &SegmentIdentity) -> Result<(Vec<u8>, Option<Vec<u32>>)> {
        let num_docs = self.num_docs();
        let sorted_column = self.table.sorted_column().map(str::to_string);
        let order =
            sorted_column.as_ref().and_then(|name| self.columns.iter().find(|c| &c.spec.name == name)).map(sort_order);
        let mut writer = FileWriter::new();
        let mut columns = Vec::with_capacity(self.columns.len());
        for built in self.build_columns(order.as_deref(), num_docs)? {
            for (kind, data) in &built.sections {
                writer.add(&built.metadata.name, *kind, data);
            }
            columns.push(built.metadata);
        }
        let (start_time_ms, end_time_ms) = self.time_range(&columns);
        let metadata = SegmentMetadata {
            name: identity.name.clone(),
            table: self.table.name().to_string(),
            format_version: FORMAT_VERSION,
            num_docs,
            schema: self.table.schema.to_json(),
            time_column: self.table.config.time_column().map(str::to_string),
            bounds: SegmentBounds {
                start_time_ms,
                end_time_ms,
                partition: identity.partition,
                start_offset: identity.start_offset,
                end_offset: identity.end_offset,
                creation_time_ms: identity.creation_time_ms,
            },
            sorted_column,
            columns,
            sections: Vec::new(),
        };
        let metadata = SegmentMetadata { sections: writer.sections.clone(), ..metadata };
        Ok((writer.finish(&metadata), order))
    }

    /// Every column's sections (in `order` when the table has a sorted column), built on
    /// every core (`parallel`), in schema order.
    fn build_columns(&self, order: Option<&[u32]>, num_docs: u32) -> Result<Vec<BuiltColumn>> {
        crate::parallel::on_every_core(&self.columns, |column| match order {
            Some(order) => build_column(&column.permute(order), num_docs),
            None => build_column(column, num_docs),
        })
        .into_iter()
        .collect()
    }

    /// Writes `<dir>/<name>.cvs` durably: to a temporary file, fsync, rename, fsync the folder.
    pub fn write(&self, dir: &Path, identity: &SegmentIdentity) -> Result<PathBuf> {
        let bytes = self.build(identity)?;
        let path = dir.join(format!("{}.{FILE_EXTENSION}", identity.name));
        write_durably(&path, &bytes)?;
        Ok(path)
    }

    fn time_range(&self, columns: &[ColumnMetadata]) -> (Option<i64>, Option<i64>) {
        let Some(time_column) = self.table.config.time_column() else { return (None, None) };
        let (Some(spec), Some(meta)) =
            (self.table.schema.column(time_column), columns.iter().find(|c| c.name == time_column))
        else {
            return (None, None);
        };
        let Some(format) = &spec.time_format else { return (None, None) };
        let to_ms = |json: &Option<serde_json::Value>| {
            json.as_ref().and_then(|j| spec.data_type.value_from_json(j).ok()).and_then(|v| format.to_millis(&v).ok())
        };
        (to_ms(&meta.min), to_ms(&meta.max))
    }
}

impl ColumnBuffer {
    fn pop_last_doc(&mut self) {
        if self.docs == 0 {
            return;
        }
        let doc = self.docs as usize - 1;
        let (start, _) = self.doc_range(doc);
        self.keys.truncate(start.min(self.keys.len()));
        self.ends.truncate(start.min(self.ends.len()));
        self.bytes.truncate(self.ends.last().copied().unwrap_or(0));
        if !self.spec.single_value {
            self.doc_ends.pop();
        }
        self.nulls.remove(doc as u32);
        self.docs -= 1;
    }
}

pub fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let io = |e: std::io::Error| SegmentError::Io { path: path.to_path_buf(), source: e };
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    if let Some(dir) = path.parent() {
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}

/// Doc order that sorts the (single-value) column, stable so equal values keep arrival order.
fn sort_order(column: &ColumnBuffer) -> Vec<u32> {
    let mut order: Vec<u32> = (0..column.docs).collect();
    match column.physical {
        Physical::Fixed(_) => order.sort_by_key(|&d| column.keys[d as usize]),
        Physical::Var(kind) => order.sort_by(|&a, &b| kind.compare(column.var(a as usize), column.var(b as usize))),
    }
    order
}

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
struct BuiltColumn {
    metadata: ColumnMetadata,
    sections: Vec<(SectionKind, Vec<u8>)>,
}

fn build_column(column: &ColumnBuffer, num_docs: u32) -> Result<BuiltColumn> {
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
