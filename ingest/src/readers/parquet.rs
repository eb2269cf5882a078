//! Parquet files, read as Arrow record batches and turned into records row by row.

use super::{BadRecord, RawRecord, Records};
use arrow_array::cast::AsArray;
use arrow_array::types::*;
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use cuvee_catalog::value::encode_hex;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Map, Value as Json};

/// The row count a Parquet file's footer declares (for progress), without reading data.
pub fn row_count(file: std::fs::File) -> Option<u64> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
    u64::try_from(builder.metadata().file_metadata().num_rows()).ok()
}

/// Record batches (and where each starts, counted from 0) or why one could not be read.
pub type Batches = Box<dyn Iterator<Item = Result<(usize, RecordBatch), BadRecord>>>;

pub fn batches(file: std::fs::File) -> Result<Batches, String> {
    let mut reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("not a Parquet file: {e}"))?
        .with_batch_size(8192)
        .build()
        .map_err(|e| format!("cannot read Parquet: {e}"))?;
    let (mut row, mut failed) = (0usize, false);
    // The file ends at its first unreadable batch: the reader may go on failing for ever
    // (found by the `file_import` fuzzer), and what follows damage is not worth trusting. A
    // panic in the reader (the fuzzer tripped parquet's debug assertions on a damaged page)
    // is an unreadable batch too, not the end of the import.
    Ok(Box::new(std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let unreadable = |row: usize, reason: String| {
            let reason = format!("unreadable Parquet data (the rest of the file is skipped): {reason}");
            Some(Err(BadRecord { position: format!("row group after row {row}"), reason }))
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next())) {
            Ok(None) => None,
            Ok(Some(Ok(batch))) => {
                let first = row;
                row += batch.num_rows();
                Some(Ok((first, batch)))
            }
            Ok(Some(Err(e))) => {
                (row, failed) = (row + 1, true);
                unreadable(row, e.to_string())
            }
            Err(panic) => {
                (row, failed) = (row + 1, true);
                unreadable(row, format!("the reader failed: {}", cuvee_error::panic_message(panic.as_ref())))
            }
        }
    })))
}

pub fn records(file: std::fs::File) -> Result<Records, String> {
    Ok(Box::new(batches(file)?.flat_map(|batch| match batch {
        Err(bad) => vec![Err(bad)],
        Ok((first, batch)) => rows(&batch, first),
    })))
}

fn rows(batch: &RecordBatch, first: usize) -> Vec<Result<RawRecord, BadRecord>> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|r| {
            let mut fields = Map::new();
            for (c, field) in schema.fields().iter().enumerate() {
                fields.insert(field.name().clone(), cell(batch.column(c).as_ref(), r));
            }
            Ok(RawRecord { position: format!("row {}", first + r + 1), fields })
        })
        .collect()
}

fn float(f: f64) -> Json {
    serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null)
}

/// An integer-like cell (integers up to 32 bits unsigned, dates, timestamps) as the
/// integer the row path makes of it (dates and timestamps in epoch milliseconds); `None`
/// for other types. Not called on nulls.
pub(crate) fn integer(array: &dyn Array, i: usize) -> Option<i64> {
    Some(match array.data_type() {
        DataType::Int8 => array.as_primitive::<Int8Type>().value(i) as i64,
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i) as i64,
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i) as i64,
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(i) as i64,
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(i) as i64,
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(i) as i64,
        DataType::Date32 => array.as_primitive::<Date32Type>().value(i) as i64 * 86_400_000,
        DataType::Date64 => array.as_primitive::<Date64Type>().value(i),
        DataType::Timestamp(unit, _) => match unit {
            // Saturating: a hostile file's seconds past i64::MAX / 1000 must not overflow.
            TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i).saturating_mul(1000),
            TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
            TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i) / 1000,
            TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i) / 1_000_000,
        },
        _ => return None,
    })
}

/// Arrow types [`integer`] reads: the two lists must agree.
pub(crate) fn is_integer(arrow: &DataType) -> bool {
    matches!(
        arrow,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::Date32
            | DataType::Date64
            | DataType::Timestamp(_, _)
    )
}

/// One cell of an Arrow array as JSON.
pub(crate) fn cell(array: &dyn Array, i: usize) -> Json {
    if array.is_null(i) {
        return Json::Null;
    }
    if let Some(v) = integer(array, i) {
        return Json::from(v);
    }
    match array.data_type() {
        DataType::Boolean => Json::Bool(array.as_boolean().value(i)),
        DataType::UInt64 => Json::from(array.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => float(array.as_primitive::<Float32Type>().value(i) as f64),
        DataType::Float64 => float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => Json::String(array.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Json::String(array.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Json::String(array.as_string_view().value(i).to_string()),
        DataType::Binary => Json::String(encode_hex(array.as_binary::<i32>().value(i))),
        DataType::LargeBinary => Json::String(encode_hex(array.as_binary::<i64>().value(i))),
        DataType::BinaryView => Json::String(encode_hex(array.as_binary_view().value(i))),
        DataType::FixedSizeBinary(_) => Json::String(encode_hex(array.as_fixed_size_binary().value(i))),
        DataType::Decimal128(_, scale) => {
            let raw = array.as_primitive::<Decimal128Type>().value(i);
            Json::String(decimal_text(raw, *scale))
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>().value(i);
            Json::Array((0..list.len()).map(|j| cell(list.as_ref(), j)).collect())
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>().value(i);
            Json::Array((0..list.len()).map(|j| cell(list.as_ref(), j)).collect())
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            Json::Object(
                fields.iter().enumerate().map(|(c, f)| (f.name().clone(), cell(s.column(c).as_ref(), i))).collect(),
            )
        }
        DataType::Dictionary(_, _) => {
            let values = arrow_cast_dictionary(array, i);
            values.unwrap_or(Json::Null)
        }
        other => Json::String(format!("unsupported Parquet type {other}")),
    }
}

fn arrow_cast_dictionary(array: &dyn Array, i: usize) -> Option<Json> {
    let dict = array.as_any_dictionary_opt()?;
    let key = dict.normalized_keys().get(i).copied()?;
    Some(cell(dict.values().as_ref(), key))
}

fn decimal_text(raw: i128, scale: i8) -> String {
    if scale <= 0 {
        return format!("{}{}", raw, "0".repeat((-scale) as usize));
    }
    let negative = raw < 0;
    let digits = raw.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded =
        if digits.len() <= scale { format!("{}{}", "0".repeat(scale + 1 - digits.len()), digits) } else { digits };
    let (int_part, frac) = padded.split_at(padded.len() - scale);
    format!("{}{int_part}.{frac}", if negative { "-" } else { "" })
}
