//! Builds an immutable segment file from rows: sort on the sorted column, dictionary-encode,
//! bit-pack, and write every configured index. The same code seals a mutable segment, so a
//! sealed segment is byte-identical to one built in batch from the same rows. Each column is
//! built on its own (`builder/column.rs`), on every core.

use crate::error::{Result, SegmentError};
use crate::format::{ColumnMetadata, FileWriter, SegmentBounds, SegmentMetadata, FILE_EXTENSION};
use crate::physical::Physical;
use crate::row::FieldValue;
use cuvee_catalog::{ColumnIndexing, ColumnSpec, Table, Value};
use roaring::RoaringBitmap;
use std::path::{Path, PathBuf};

mod column;
mod distinct;

pub(crate) use column::native;
use column::{build_column, BuiltColumn};

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
    /// Each value's id in a dictionary of distinct values that came with them (a consuming
    /// segment's, in arrival order): equal values share an id, unequal ones never do, so
    /// the column's distinct values are known without hashing them again. Trusted only
    /// when there is an id per value (rows pushed without ids fall back to hashing).
    pub value_ids: Option<ValueIds>,
}

/// See [`ColumnBuffer::value_ids`].
#[derive(Clone, Default)]
pub(crate) struct ValueIds {
    pub ids: Vec<u32>,
    /// Ids are below this.
    pub distinct: u32,
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
            value_ids: None,
        }
    }

    /// From now on each value comes with its id below `distinct` ([`push_id`](Self::push_id)).
    pub(crate) fn with_value_ids(&mut self, values: usize, distinct: u32) {
        debug_assert_eq!(self.value_count(), 0);
        self.value_ids = Some(ValueIds { ids: Vec::with_capacity(values), distinct });
    }

    /// The id of the value just pushed.
    pub(crate) fn push_id(&mut self, id: u32) {
        if let Some(value_ids) = &mut self.value_ids {
            value_ids.ids.push(id);
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
        let before = self.value_count();
        let outcome = match (field, self.spec.single_value) {
            (FieldValue::Null, _) => self.push_default(),
            (FieldValue::Single(v), _) => self.push_value(v),
            (FieldValue::Multi(values), false) if values.is_empty() => self.push_default(),
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

    /// A null doc's value: the column's default, and the doc marked null.
    fn push_default(&mut self) -> std::result::Result<(), String> {
        self.nulls.insert(self.docs);
        // Taken out for the call rather than cloned: a STRING default would be a copy a doc.
        let default = std::mem::replace(&mut self.spec.default_null_value, Value::Boolean(false));
        let pushed = self.push_value(&default);
        self.spec.default_null_value = default;
        pushed
    }

    /// One doc holding `text`, a STRING column's value, copied without making a `Value`;
    /// any other column converts it as [`push`](Self::push) would `Value::String(text)`.
    fn push_text(&mut self, text: &str) -> std::result::Result<(), String> {
        if self.physical != Physical::Var(crate::physical::VarKind::String) {
            return self.push_field(&FieldValue::Single(Value::String(text.to_string())));
        }
        self.push_bytes(text.as_bytes());
        self.end_doc(false);
        Ok(())
    }

    /// Cuts the column back to its first `docs` docs.
    fn truncate_docs(&mut self, docs: u32) {
        if docs >= self.docs {
            return;
        }
        let values = if self.spec.single_value {
            docs as usize
        } else {
            self.doc_ends.truncate(docs as usize);
            self.doc_ends.last().map_or(0, |&end| end as usize)
        };
        self.keys.truncate(values.min(self.keys.len()));
        self.ends.truncate(values.min(self.ends.len()));
        self.bytes.truncate(self.ends.last().copied().unwrap_or(0));
        if let Some(value_ids) = &mut self.value_ids {
            value_ids.ids.truncate(values);
        }
        self.nulls.remove_range(docs..);
        self.docs = docs;
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
        // Built field by field: `..self.clone()` would copy every value only to drop them.
        let mut out = ColumnBuffer {
            spec: self.spec.clone(),
            indexing: self.indexing.clone(),
            physical: self.physical,
            keys: Vec::with_capacity(self.keys.len()),
            bytes: Vec::with_capacity(self.bytes.len()),
            ends: Vec::with_capacity(self.ends.len()),
            doc_ends: Vec::with_capacity(self.doc_ends.len()),
            nulls: RoaringBitmap::new(),
            docs: self.docs,
            value_ids: self
                .value_ids
                .as_ref()
                .map(|v| ValueIds { ids: Vec::with_capacity(v.ids.len()), distinct: v.distinct }),
        };
        if self.spec.single_value {
            // One value a doc: a gather per buffer (the benchmark's seal spent 5 % here).
            match self.physical {
                Physical::Fixed(_) => out.keys.extend(order.iter().map(|&doc| self.keys[doc as usize])),
                Physical::Var(_) => {
                    for &doc in order {
                        out.bytes.extend_from_slice(self.var(doc as usize));
                        out.ends.push(out.bytes.len());
                    }
                }
            }
            if let (Some(from), Some(to)) = (&self.value_ids, &mut out.value_ids) {
                to.ids.extend(order.iter().map(|&doc| from.ids[doc as usize]));
            }
        } else {
            for &old_doc in order {
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
                if let (Some(from), Some(to)) = (&self.value_ids, &mut out.value_ids) {
                    to.ids.extend_from_slice(&from.ids[start..end]);
                }
                out.doc_ends.push(out.value_count() as u32);
            }
        }
        if !self.nulls.is_empty() {
            for (new_doc, &old_doc) in order.iter().enumerate() {
                if self.nulls.contains(old_doc) {
                    out.nulls.insert(new_doc as u32);
                }
            }
        }
        out
    }
}

/// One column of a [`SegmentBuilder::append_columns`] call: each `push` adds one doc.
pub struct ColumnAppender<'a> {
    column: &'a mut ColumnBuffer,
}

impl ColumnAppender<'_> {
    pub fn spec(&self) -> &ColumnSpec {
        &self.column.spec
    }

    /// A doc's field, as [`SegmentBuilder::push`] takes it in a row.
    pub fn push(&mut self, field: &FieldValue) -> Result<()> {
        self.column.push(field)
    }

    /// A doc holding one value.
    pub fn push_value(&mut self, value: &Value) -> Result<()> {
        self.column.push_value(value).map_err(SegmentError::InvalidRow)?;
        self.column.end_doc(false);
        Ok(())
    }

    /// A doc holding the text `text`: a STRING column copies its bytes, any other converts
    /// `Value::String` as [`push`](Self::push) would.
    pub fn push_text(&mut self, text: &str) -> Result<()> {
        self.column.push_text(text).map_err(SegmentError::InvalidRow)
    }

    /// A multi-value STRING column's doc holding `texts`, copied without making `Value`s;
    /// no texts make a null doc, as an empty list does in [`push`](Self::push).
    pub fn push_texts<'t>(&mut self, texts: impl IntoIterator<Item = &'t str>) -> Result<()> {
        let column = &mut *self.column;
        if column.spec.single_value || column.physical != Physical::Var(crate::physical::VarKind::String) {
            return Err(SegmentError::InvalidRow(format!(
                "column \"{}\" is not a multi-value STRING column",
                column.spec.name
            )));
        }
        let before = column.value_count();
        texts.into_iter().for_each(|text| column.push_bytes(text.as_bytes()));
        if column.value_count() == before {
            return self.push_null();
        }
        column.end_doc(false);
        Ok(())
    }

    /// A null doc: the column's default value, marked null.
    pub fn push_null(&mut self) -> Result<()> {
        self.column.push(&FieldValue::Null)
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
                let docs = self.columns[i].docs;
                for column in &mut self.columns[..i] {
                    column.truncate_docs(docs);
                }
                return Err(refused);
            }
        }
        Ok(())
    }

    /// Adds docs a column at a time, as a columnar reader holds them: `fill` is called once
    /// per column, in schema order, and must add the same number of docs to each. Should a
    /// call fail, or add another number of docs than the first, every column is cut back to
    /// what it held before and the error returned. Returns the number of docs added.
    pub fn append_columns(&mut self, mut fill: impl FnMut(&mut ColumnAppender<'_>) -> Result<()>) -> Result<u32> {
        let before = self.num_docs();
        let mut added = None;
        let mut outcome = Ok(());
        for column in &mut self.columns {
            outcome = fill(&mut ColumnAppender { column });
            let now = column.docs - before;
            match (&outcome, added) {
                (Err(_), _) => break,
                (Ok(()), None) => added = Some(now),
                (Ok(()), Some(first)) if first != now => {
                    outcome = Err(SegmentError::InvalidRow(format!(
                        "column \"{}\" was given {now} docs where the columns before it had {first}",
                        column.spec.name
                    )));
                    break;
                }
                (Ok(()), Some(_)) => {}
            }
        }
        let added = added.unwrap_or(0);
        if outcome.is_ok() && u64::from(before) + u64::from(added) >= u64::from(u32::MAX - 1) {
            outcome = Err(SegmentError::InvalidRow("segment is full (2^32 - 1 docs)".into()));
        }
        if let Err(refused) = outcome {
            for column in &mut self.columns {
                column.truncate_docs(before);
            }
            return Err(refused);
        }
        Ok(added)
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
            format_version: writer.version,
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
