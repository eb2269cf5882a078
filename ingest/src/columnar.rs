//! Arrow record batches into a segment builder a column at a time: how `import` reads
//! Parquet when the table's rows need no transform, filter or flattening. The row path
//! builds a JSON map a row and converts it cell by cell; that was two thirds of an import.
//!
//! Every cell is converted as the row path converts it — by the same functions
//! ([`cell`], [`field`]) — except where a direct copy is the same value by construction:
//! Arrow text into a STRING column within its `maxLength`, integers into the INT, LONG and
//! TIMESTAMP columns that hold them, floats and integers into FLOAT and DOUBLE columns. A
//! row with a cell that cannot be converted is not added, and its reason names the first
//! such column in schema order, as the row path's does; `tests/direct_import.rs` imports
//! files both ways and compares the segments byte for byte.

use crate::conform::{field, Conformer};
use crate::readers::parquet::{cell, integer, is_integer};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType as Arrow;
use cuvee_catalog::{ColumnSpec, DataType, MaxLengthStrategy, Value};
use cuvee_segments::error::SegmentError;
use cuvee_segments::{FieldValue, SegmentBuilder};

/// What one batch added.
#[derive(Debug, Default)]
pub(crate) struct Appended {
    /// Rows not added — (row in the batch, why) — in row order.
    pub bad: Vec<(usize, String)>,
    /// The smallest and largest time of the rows added, in epoch milliseconds.
    pub time_range: Option<(i64, i64)>,
}

/// One column's cells in a batch, ready to push.
enum Cells<'b> {
    /// The file has no such column: every doc is null.
    Missing,
    /// Text copied as it is into a STRING column; `None` is a null.
    Text(Box<dyn Fn(usize) -> Option<&'b str> + 'b>),
    /// A multi-value STRING column's texts (the list's items and its range of them),
    /// copied as they are; `None` is a null list.
    #[allow(clippy::type_complexity)]
    Texts(Box<dyn Fn(usize) -> Option<(&'b dyn Array, std::ops::Range<usize>)> + 'b>),
    /// A fixed-width value made directly; `None` is a null.
    Number(Box<dyn Fn(usize) -> Option<Value> + 'b>),
    /// Converted by the row path's function, cell by cell.
    Fields(Vec<Result<FieldValue, String>>),
}

/// Adds `batch`'s convertible rows to `builder`. An error is the builder's refusal, after
/// which it holds what it held before.
pub(crate) fn append(
    conformer: &Conformer,
    batch: &RecordBatch,
    builder: &mut SegmentBuilder,
) -> Result<Appended, SegmentError> {
    let rows = batch.num_rows();
    let columns = conformer.table().schema.columns();
    // The first reason each row cannot be added; columns are visited in schema order.
    let mut bad: Vec<Option<String>> = vec![None; rows];
    // The time of each row, when the table has a time column.
    let mut times: Vec<Option<i64>> = Vec::new();
    let mut cells = Vec::with_capacity(columns.len());
    for (c, spec) in columns.iter().enumerate() {
        // A record's map keeps the last of two fields with one name; so does this.
        let array = batch.schema().fields().iter().rposition(|f| f.name() == &spec.name).map(|i| batch.column(i));
        let is_time = conformer.time_column() == Some(c);
        let converted = match array.map(|a| a.as_ref()) {
            None => Cells::Missing,
            // The time is read from a value: a text one would be one allocation a row anyway.
            Some(array) if is_time && spec.data_type == DataType::String => Cells::Fields(fields(spec, array)),
            Some(array) => direct(spec, array).unwrap_or_else(|| Cells::Fields(fields(spec, array))),
        };
        if let Cells::Fields(values) = &converted {
            for (row, value) in values.iter().enumerate() {
                if let Err(reason) = value {
                    bad[row].get_or_insert(format!("column {}: {reason}", spec.name));
                }
            }
        }
        if let (true, Some(format)) = (is_time, &spec.time_format) {
            times = vec![None; rows];
            for (row, time) in times.iter_mut().enumerate() {
                let value = match &converted {
                    Cells::Number(number) => number(row),
                    Cells::Fields(values) => match &values[row] {
                        Ok(FieldValue::Single(v)) => Some(v.clone()),
                        _ => None,
                    },
                    Cells::Missing | Cells::Text(_) | Cells::Texts(_) => None,
                };
                match value.map(|v| format.to_millis(&v)) {
                    Some(Ok(ms)) => *time = Some(ms),
                    Some(Err(e)) => {
                        bad[row].get_or_insert(format!("time column {}: {e}", spec.name));
                    }
                    None => {}
                }
            }
        }
        cells.push(converted);
    }
    // Known only once every column has had its say: the rows that are added.
    let time_range = times
        .iter()
        .zip(&bad)
        .filter_map(|(ms, bad)| ms.filter(|_| bad.is_none()))
        .fold(None, |range: Option<(i64, i64)>, ms| Some(range.map_or((ms, ms), |(lo, hi)| (lo.min(ms), hi.max(ms)))));
    let mut next = cells.iter();
    builder.append_columns(|column| {
        let Some(cells) = next.next() else { return Ok(()) };
        for row in (0..rows).filter(|&row| bad[row].is_none()) {
            match cells {
                Cells::Missing => column.push_null()?,
                Cells::Text(text) => match text(row) {
                    Some(text) => column.push_text(text)?,
                    None => column.push_null()?,
                },
                Cells::Texts(texts) => match texts(row) {
                    Some((items, range)) => {
                        column.push_texts(range.filter(|&i| items.is_valid(i)).map(|i| text_at(items, i)))?
                    }
                    None => column.push_null()?,
                },
                Cells::Number(number) => match number(row) {
                    Some(value) => column.push_value(&value)?,
                    None => column.push_null()?,
                },
                Cells::Fields(values) => match &values[row] {
                    Ok(value) => column.push(value)?,
                    Err(reason) => return Err(SegmentError::InvalidRow(reason.clone())),
                },
            }
        }
        Ok(())
    })?;
    let bad = bad.into_iter().enumerate().filter_map(|(row, reason)| Some((row, reason?))).collect();
    Ok(Appended { bad, time_range })
}

/// The row path's conversion of each cell: the cell as JSON, then the column's value.
fn fields(spec: &ColumnSpec, array: &dyn Array) -> Vec<Result<FieldValue, String>> {
    (0..array.len()).map(|row| field(spec, &cell(array, row))).collect()
}

/// A direct copy of the column's cells, where it gives the row path's values exactly;
/// `None` where the row path must convert them.
fn direct<'b>(spec: &ColumnSpec, array: &'b dyn Array) -> Option<Cells<'b>> {
    if !spec.single_value {
        return direct_texts(spec, array);
    }
    let valid = move |row: usize| array.is_valid(row);
    match (spec.data_type, array.data_type()) {
        (DataType::String, arrow) if is_text(arrow) => {
            let text = move |row| valid(row).then(|| text_at(array, row));
            let too_long = |row| text(row).is_some_and(|t| longer_than_max(spec, t));
            let kept = spec.max_length_strategy == MaxLengthStrategy::NoAction || !(0..array.len()).any(too_long);
            kept.then(|| Cells::Text(Box::new(text)))
        }
        (DataType::Int | DataType::Long | DataType::Timestamp, _) if is_integer(array.data_type()) => {
            if spec.data_type == DataType::Int && !fits_int(array.data_type()) {
                return None;
            }
            let kind = spec.data_type;
            Some(Cells::Number(Box::new(move |row| {
                let v = integer(array, row).filter(|_| valid(row))?;
                Some(match kind {
                    DataType::Int => Value::Int(v as i32),
                    DataType::Long => Value::Long(v),
                    _ => Value::Timestamp(v),
                })
            })))
        }
        (DataType::Float | DataType::Double, Arrow::Float32 | Arrow::Float64) => {
            let double = spec.data_type == DataType::Double;
            Some(Cells::Number(Box::new(move |row| {
                let v = match array.data_type() {
                    Arrow::Float32 => array.as_primitive::<Float32Type>().value(row) as f64,
                    _ => array.as_primitive::<Float64Type>().value(row),
                };
                // JSON has no NaN or infinity: the row path reads them as nulls.
                (valid(row) && v.is_finite()).then_some(if double { Value::Double(v) } else { Value::Float(v as f32) })
            })))
        }
        (DataType::Float | DataType::Double, _) if is_integer(array.data_type()) => {
            let double = spec.data_type == DataType::Double;
            Some(Cells::Number(Box::new(move |row| {
                // Through f64 as a JSON number goes, then to f32: one rounding, the row path's.
                let v = integer(array, row).filter(|_| valid(row))? as f64;
                Some(if double { Value::Double(v) } else { Value::Float(v as f32) })
            })))
        }
        (DataType::Boolean, Arrow::Boolean) => {
            Some(Cells::Number(Box::new(move |row| valid(row).then(|| Value::Boolean(array.as_boolean().value(row))))))
        }
        _ => None,
    }
}

/// A multi-value STRING column's lists of text, where no text needs `maxLength` applied.
/// Nulls in a list are left out and a list of none is a null, as the row path does.
fn direct_texts<'b>(spec: &ColumnSpec, array: &'b dyn Array) -> Option<Cells<'b>> {
    if spec.data_type != DataType::String {
        return None;
    }
    let item = match array.data_type() {
        Arrow::List(item) | Arrow::LargeList(item) => item.data_type(),
        _ => return None,
    };
    if !is_text(item) {
        return None;
    }
    let texts = move |row: usize| -> Option<(&'b dyn Array, std::ops::Range<usize>)> {
        if !array.is_valid(row) {
            return None;
        }
        Some(match array.data_type() {
            Arrow::List(_) => {
                let (list, offsets) = (array.as_list::<i32>(), array.as_list::<i32>().value_offsets());
                (list.values().as_ref(), offsets[row] as usize..offsets[row + 1] as usize)
            }
            _ => {
                let (list, offsets) = (array.as_list::<i64>(), array.as_list::<i64>().value_offsets());
                (list.values().as_ref(), offsets[row] as usize..offsets[row + 1] as usize)
            }
        })
    };
    let too_long = |row| {
        texts(row).is_some_and(|(items, range)| {
            range.filter(|&i| items.is_valid(i)).any(|i| longer_than_max(spec, text_at(items, i)))
        })
    };
    let kept = spec.max_length_strategy == MaxLengthStrategy::NoAction || !(0..array.len()).any(too_long);
    kept.then(|| Cells::Texts(Box::new(texts)))
}

fn is_text(arrow: &Arrow) -> bool {
    matches!(arrow, Arrow::Utf8 | Arrow::LargeUtf8 | Arrow::Utf8View)
}

/// Text `i` of an array [`is_text`] accepts.
fn text_at(array: &dyn Array, i: usize) -> &str {
    match array.data_type() {
        Arrow::Utf8 => array.as_string::<i32>().value(i),
        Arrow::LargeUtf8 => array.as_string::<i64>().value(i),
        _ => array.as_string_view().value(i),
    }
}

/// Whether `maxLength` applies to `text`: it counts characters, and a text of at most
/// `maxLength` bytes has at most that many.
fn longer_than_max(spec: &ColumnSpec, text: &str) -> bool {
    let max = spec.max_length as usize;
    text.len() > max && text.chars().count() > max
}

/// Integer types whose every value is an INT (the others are range-checked by the row path).
fn fits_int(arrow: &Arrow) -> bool {
    matches!(arrow, Arrow::Int8 | Arrow::Int16 | Arrow::Int32 | Arrow::UInt8 | Arrow::UInt16)
}
