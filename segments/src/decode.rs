//! Decoding selected docs of selected columns to Arrow (late materialisation).
//!
//! Type mapping: INT → Int32, LONG → Int64, FLOAT → Float32, DOUBLE → Float64,
//! BOOLEAN → Boolean, TIMESTAMP → Timestamp(ms), STRING and JSON → Utf8, BYTES → Binary,
//! BIG_DECIMAL → Utf8 (its exact decimal text: Arrow decimals need a fixed scale, Pinot's
//! BigDecimal has none). Multi-value columns → List of the value type.

use crate::error::{Result, SegmentError};
use crate::forward::RawValues;
use crate::immutable::Forward;
use crate::immutable::ImmutableSegment;
use crate::physical::{self, FixedKind, Physical};
use arrow_array::builder::{BinaryBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BinaryArray, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch,
    StringArray, TimestampMillisecondArray,
};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchema, TimeUnit};
use cuvee_catalog::DataType;
use roaring::RoaringBitmap;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Return nulls as Arrow nulls; otherwise as the column's default value (Pinot's default).
    pub null_handling: bool,
}

pub fn arrow_value_type(data_type: DataType) -> ArrowType {
    match data_type {
        DataType::Int => ArrowType::Int32,
        DataType::Long => ArrowType::Int64,
        DataType::Float => ArrowType::Float32,
        DataType::Double => ArrowType::Float64,
        DataType::Boolean => ArrowType::Boolean,
        DataType::Timestamp => ArrowType::Timestamp(TimeUnit::Millisecond, None),
        DataType::String | DataType::Json | DataType::BigDecimal => ArrowType::Utf8,
        DataType::Bytes => ArrowType::Binary,
    }
}

pub fn arrow_type(data_type: DataType, single_value: bool) -> ArrowType {
    let value = arrow_value_type(data_type);
    if single_value {
        value
    } else {
        ArrowType::List(Arc::new(Field::new("item", value, false)))
    }
}

/// One column's values for a list of docs, in physical form.
#[derive(Default)]
pub(crate) struct Gathered {
    pub keys: Vec<u64>,
    pub bytes: Vec<u8>,
    pub ends: Vec<usize>,
    /// Multi-value columns: offsets of each doc's values (docs + 1 entries).
    pub doc_offsets: Option<Vec<i32>>,
}

impl Gathered {
    pub fn for_column(single_value: bool) -> Gathered {
        Gathered { doc_offsets: (!single_value).then(|| vec![0]), ..Gathered::default() }
    }

    pub fn push_key(&mut self, key: u64) {
        self.keys.push(key);
    }

    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        self.ends.push(self.bytes.len());
    }

    pub fn end_doc(&mut self) {
        let count = self.keys.len().max(self.ends.len()) as i32;
        if let Some(offsets) = &mut self.doc_offsets {
            offsets.push(count);
        }
    }
}

pub(crate) fn to_arrow(g: Gathered, data_type: DataType, validity: Option<NullBuffer>) -> Result<ArrayRef> {
    let values: ArrayRef = match Physical::of(data_type) {
        Physical::Fixed(kind) => fixed_array(kind, &g.keys),
        Physical::Var(_) => var_array(data_type, g.bytes, &g.ends)?,
    };
    match g.doc_offsets {
        None => with_validity(values, validity),
        Some(offsets) => {
            let field = Arc::new(Field::new("item", arrow_value_type(data_type), false));
            let list =
                ListArray::try_new(field, OffsetBuffer::new(offsets.into()), values, validity).map_err(arrow_err)?;
            Ok(Arc::new(list))
        }
    }
}

fn with_validity(values: ArrayRef, validity: Option<NullBuffer>) -> Result<ArrayRef> {
    Ok(match validity {
        Some(v) => arrow_array::make_array(values.to_data().into_builder().nulls(Some(v)).build().map_err(arrow_err)?),
        None => values,
    })
}

/// Numbers straight from a fixed-width dictionary (stored as native little-endian values)
/// into a typed array: one indexed load per doc. `None` for other dictionaries, or when the
/// bytes are not aligned for the type (then the generic path decodes them).
fn typed_values(dict: &crate::dictionary::Dictionary, ids: &[u32]) -> Option<ArrayRef> {
    // Dictionaries hold little-endian numbers and offsets, read here in place.
    if cfg!(target_endian = "big") {
        return None;
    }
    use crate::dictionary::{Dictionary, Keys};
    use crate::physical::{double_from_key, float_from_key, int_from_key, long_from_key};
    if let Dictionary::Var { .. } = dict {
        return typed_strings(dict, ids);
    }
    let Dictionary::Fixed { kind, keys, len } = dict else { return None };
    if ids.iter().any(|&id| id as usize >= *len) {
        return None;
    }
    let bytes = match keys {
        Keys::Native(bytes) => bytes,
        // Packed keys: each id's key (blocks unpacked where ascending ids crowd them, as a
        // segment's distinct ids do), then the key's native value.
        Keys::Packed(keys) => {
            if *kind == FixedKind::Boolean {
                return None;
            }
            let keys = keys.gather(ids).into_iter();
            return Some(match kind {
                FixedKind::Int => Arc::new(Int32Array::from_iter_values(keys.map(int_from_key))),
                FixedKind::Long => Arc::new(Int64Array::from_iter_values(keys.map(long_from_key))),
                FixedKind::Timestamp => Arc::new(TimestampMillisecondArray::from_iter_values(keys.map(long_from_key))),
                FixedKind::Float => Arc::new(Float32Array::from_iter_values(keys.map(float_from_key))),
                FixedKind::Double => Arc::new(Float64Array::from_iter_values(keys.map(double_from_key))),
                FixedKind::Boolean => return None,
            });
        }
    };
    fn gather<T: bytemuck::Pod>(bytes: &[u8], ids: &[u32]) -> Option<Vec<T>> {
        let values: &[T] = bytemuck::try_cast_slice(bytes).ok()?;
        // Ids were checked against the dictionary when the segment opened; checking again
        // (cheap) keeps a bad id on the generic path's error, never a panic.
        if ids.iter().any(|&id| id as usize >= values.len()) {
            return None;
        }
        Some(ids.iter().map(|&id| values[id as usize]).collect())
    }
    Some(match kind {
        FixedKind::Int => Arc::new(Int32Array::from(gather::<i32>(bytes, ids)?)),
        FixedKind::Long => Arc::new(Int64Array::from(gather::<i64>(bytes, ids)?)),
        FixedKind::Timestamp => Arc::new(TimestampMillisecondArray::from(gather::<i64>(bytes, ids)?)),
        FixedKind::Float => Arc::new(Float32Array::from(gather::<f32>(bytes, ids)?)),
        FixedKind::Double => Arc::new(Float64Array::from(gather::<f64>(bytes, ids)?)),
        FixedKind::Boolean => return None,
    })
}

/// Strings (or bytes) straight from a variable-width dictionary: each value copied once
/// into the array's buffer, offsets written as it goes. `None` if an id or offset is out of
/// range (the generic path then reports the damage).
fn typed_strings(dict: &crate::dictionary::Dictionary, ids: &[u32]) -> Option<ArrayRef> {
    let crate::dictionary::Dictionary::Var { kind, offsets, data, len } = dict else { return None };
    let mut ends = Vec::with_capacity(ids.len() + 1);
    ends.push(0i32);
    let mut bytes = Vec::new();
    for &id in ids {
        if id as usize >= *len {
            return None;
        }
        let (start, end) = (offsets.get(id as usize), offsets.get(id as usize + 1));
        bytes.extend_from_slice(data.get(start..end)?);
        ends.push(i32::try_from(bytes.len()).ok()?);
    }
    let kind = *kind;
    let ends = OffsetBuffer::new(ScalarBuffer::from(ends));
    if kind == crate::physical::VarKind::Bytes {
        return Some(Arc::new(BinaryArray::try_new(ends, Buffer::from_vec(bytes), None).ok()?));
    }
    Some(Arc::new(StringArray::try_new(ends, Buffer::from_vec(bytes), None).ok()?))
}

/// Strings or bytes from one buffer and the end of each value: the buffer becomes the
/// array's values as it is (one UTF-8 check for all of it, no copy per value).
fn var_array(data_type: DataType, bytes: Vec<u8>, ends: &[usize]) -> Result<ArrayRef> {
    let offsets: Option<Vec<i32>> =
        std::iter::once(Some(0)).chain(ends.iter().map(|&e| i32::try_from(e).ok())).collect();
    let Some(offsets) = offsets else { return Ok(var_array_by_value(data_type, &bytes, ends)) };
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    if data_type == DataType::Bytes {
        return Ok(Arc::new(BinaryArray::try_new(offsets, Buffer::from_vec(bytes), None).map_err(arrow_err)?));
    }
    let utf8 = std::str::from_utf8(&bytes).is_ok_and(|text| ends.iter().all(|&e| text.is_char_boundary(e)));
    if !utf8 {
        // A damaged segment: replace what is not UTF-8, value by value.
        return Ok(var_array_by_value(data_type, &bytes, ends));
    }
    Ok(Arc::new(StringArray::try_new(offsets, Buffer::from_vec(bytes), None).map_err(arrow_err)?))
}

fn var_array_by_value(data_type: DataType, bytes: &[u8], ends: &[usize]) -> ArrayRef {
    let slices = ends.iter().scan(0usize, |start, &end| {
        let s = *start;
        *start = end;
        Some(&bytes[s..end])
    });
    if data_type == DataType::Bytes {
        let mut b = BinaryBuilder::with_capacity(ends.len(), bytes.len());
        slices.for_each(|v| b.append_value(v));
        return Arc::new(b.finish());
    }
    let mut b = StringBuilder::with_capacity(ends.len(), bytes.len());
    slices.for_each(|v| b.append_value(String::from_utf8_lossy(v)));
    Arc::new(b.finish())
}

fn arrow_err(e: arrow_schema::ArrowError) -> SegmentError {
    SegmentError::InvalidRequest(format!("building Arrow arrays: {e}"))
}

fn fixed_array(kind: FixedKind, keys: &[u64]) -> ArrayRef {
    match kind {
        FixedKind::Int => Arc::new(Int32Array::from_iter_values(keys.iter().map(|&k| physical::int_from_key(k)))),
        FixedKind::Boolean => {
            Arc::new(BooleanArray::from_iter(keys.iter().map(|&k| Some(physical::int_from_key(k) != 0))))
        }
        FixedKind::Long => Arc::new(Int64Array::from_iter_values(keys.iter().map(|&k| physical::long_from_key(k)))),
        FixedKind::Timestamp => {
            Arc::new(TimestampMillisecondArray::from_iter_values(keys.iter().map(|&k| physical::long_from_key(k))))
        }
        FixedKind::Float => Arc::new(Float32Array::from_iter_values(keys.iter().map(|&k| physical::float_from_key(k)))),
        FixedKind::Double => {
            Arc::new(Float64Array::from_iter_values(keys.iter().map(|&k| physical::double_from_key(k))))
        }
    }
}

/// Validity of the selected docs, or `None` when no selected doc is null.
pub(crate) fn validity(nulls: &RoaringBitmap, docs: &[u32], options: DecodeOptions) -> Option<NullBuffer> {
    if !options.null_handling || nulls.is_empty() || !docs.iter().any(|d| nulls.contains(*d)) {
        return None;
    }
    Some(NullBuffer::from_iter(docs.iter().map(|d| !nulls.contains(*d))))
}

pub(crate) fn batch(columns: Vec<(String, ArrowType, ArrayRef)>, rows: usize) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns.iter().map(|(name, t, _)| Field::new(name, t.clone(), true)).collect();
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|(_, _, a)| a).collect();
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    RecordBatch::try_new_with_options(Arc::new(ArrowSchema::new(fields)), arrays, &options).map_err(arrow_err)
}

impl ImmutableSegment {
    /// Decodes `columns` for `docs` (ascending doc ids) into one record batch.
    pub fn decode(&self, columns: &[&str], docs: &[u32], options: DecodeOptions) -> Result<RecordBatch> {
        let mut out = Vec::with_capacity(columns.len());
        for name in columns {
            let reader = self.column(name)?;
            if let Some(&last) = docs.last() {
                if last >= self.num_docs() {
                    return Err(SegmentError::InvalidRequest(format!(
                        "doc {last} is past the end of segment {}",
                        self.name()
                    )));
                }
            }
            let mut g = Gathered::for_column(reader.meta.single_value);
            let corrupt = |e: crate::error::Malformed| self.corrupt(format!("column {name}: {e}"));
            match (&reader.forward, &reader.dictionary) {
                (Forward::Ids(ids), Some(dict)) => {
                    let ids = dictionary_ids(ids, docs);
                    if let Some(values) = typed_values(dict, &ids) {
                        let array = with_validity(values, validity(reader.nulls, docs, options))?;
                        out.push((name.to_string(), arrow_type(reader.meta.data_type, true), array));
                        continue;
                    }
                    for id in ids {
                        push_dict(&mut g, dict, id as usize);
                    }
                }
                (Forward::MvIds(mv), Some(dict)) => {
                    let mut ranges = mv.ranges();
                    for &doc in docs {
                        let (start, end) = ranges.range(doc as usize);
                        for i in start..end {
                            push_dict(&mut g, dict, mv.ids.get(i) as usize);
                        }
                        g.end_doc();
                    }
                }
                (Forward::Coded(coded), _) => {
                    for &doc in docs {
                        coded.append_value(doc as usize, &mut g.bytes);
                        g.ends.push(g.bytes.len());
                        g.end_doc();
                    }
                }
                (Forward::Hex(hex), _) => {
                    for &doc in docs {
                        hex.append_value(doc as usize, &mut g.bytes);
                        g.ends.push(g.bytes.len());
                        g.end_doc();
                    }
                }
                (Forward::Raw(raw), _) => {
                    let mut current: Option<(usize, crate::forward::RawChunk)> = None;
                    for &doc in docs {
                        let chunk_index = raw.chunk_of(doc as usize);
                        if current.as_ref().is_none_or(|(c, _)| *c != chunk_index) {
                            current = Some((chunk_index, raw.read_chunk(chunk_index).map_err(corrupt)?));
                        }
                        let Some((_, chunk)) = &current else { continue };
                        match chunk.doc_values(doc as usize) {
                            RawValues::Fixed(keys) => keys.into_iter().for_each(|k| g.push_key(k)),
                            RawValues::Var(values) => values.iter().for_each(|v| g.push_bytes(v)),
                        }
                        g.end_doc();
                    }
                }
                _ => return Err(corrupt("forward index without its dictionary".into())),
            }
            let validity = validity(reader.nulls, docs, options);
            let data_type = reader.meta.data_type;
            let array = to_arrow(g, data_type, validity)?;
            out.push((name.to_string(), arrow_type(data_type, reader.meta.single_value), array));
        }
        batch(out, docs.len())
    }

    /// Decodes entries `ids` of a single-value dictionary column straight from its
    /// dictionary (a group's value from its id, no doc read), as [`decode`](Self::decode)
    /// would type them without null handling.
    pub fn decode_ids(&self, name: &str, ids: &[u32]) -> Result<ArrayRef> {
        let reader = self.column(name)?;
        let (Some(dict), true) = (&reader.dictionary, reader.meta.single_value) else {
            return Err(SegmentError::InvalidRequest(format!(
                "column {name} of segment {} is not a single-value dictionary column",
                self.name()
            )));
        };
        if ids.iter().any(|&id| id as usize >= dict.len()) {
            return Err(self.corrupt(format!("column {name}: an id is outside its dictionary")));
        }
        if let Some(values) = typed_values(dict, ids) {
            return Ok(values);
        }
        let mut g = Gathered::for_column(true);
        for &id in ids {
            push_dict(&mut g, dict, id as usize);
        }
        to_arrow(g, reader.meta.data_type, None)
    }

    /// Decodes every doc.
    pub fn decode_all(&self, columns: &[&str], options: DecodeOptions) -> Result<RecordBatch> {
        let docs: Vec<u32> = (0..self.num_docs()).collect();
        self.decode(columns, &docs, options)
    }
}

/// The dictionary ids of `docs`: whole blocks unpacked at once when the docs are one
/// contiguous run (a scan without a selective filter), one lookup per doc otherwise.
fn dictionary_ids(ids: &crate::forward::PackedIds, docs: &[u32]) -> Vec<u32> {
    let (Some(&first), Some(&last)) = (docs.first(), docs.last()) else { return Vec::new() };
    if (last - first) as usize + 1 != docs.len() {
        return docs.iter().map(|&doc| ids.get(doc as usize)).collect();
    }
    let (first, end) = (first as usize, last as usize + 1);
    let mut out = Vec::with_capacity(docs.len());
    let mut block = [0u32; crate::bitpack::BLOCK];
    for b in first / crate::bitpack::BLOCK..end.div_ceil(crate::bitpack::BLOCK) {
        ids.unpack(b, &mut block);
        let base = b * crate::bitpack::BLOCK;
        let (from, to) = (first.max(base) - base, end.min(base + crate::bitpack::BLOCK) - base);
        out.extend_from_slice(&block[from..to]);
    }
    out
}

fn push_dict(g: &mut Gathered, dict: &crate::dictionary::Dictionary, id: usize) {
    match dict {
        crate::dictionary::Dictionary::Fixed { .. } => g.push_key(dict.key(id)),
        crate::dictionary::Dictionary::Var { .. } => g.push_bytes(dict.bytes(id)),
    }
}
