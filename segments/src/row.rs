//! A row as segments take it: one field per schema column, in schema order — and the way
//! back, from decoded Arrow columns to rows (upsert reads a key's previous row to merge).

use crate::error::{Result, SegmentError};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, TimestampMillisecondType};
use arrow_array::{Array, RecordBatch};
use cuvee_catalog::{DataType, Value};

#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Null,
    Single(Value),
    /// A multi-value field; an empty list is a null.
    Multi(Vec<Value>),
}

pub type Row = Vec<FieldValue>;

/// Row `row` of `batch` (decoded with null handling, columns of `types` in order).
pub fn row_of(batch: &RecordBatch, types: &[DataType], row: usize) -> Result<Row> {
    batch
        .columns()
        .iter()
        .zip(types)
        .map(|(array, &data_type)| {
            if array.is_null(row) {
                return Ok(FieldValue::Null);
            }
            match array.as_list_opt::<i32>() {
                Some(list) => {
                    let values = list.value(row);
                    let out: Result<Vec<Value>> = (0..values.len()).map(|i| value_of(&values, data_type, i)).collect();
                    Ok(FieldValue::Multi(out?))
                }
                None => value_of(array, data_type, row).map(FieldValue::Single),
            }
        })
        .collect()
}

fn value_of(array: &dyn Array, data_type: DataType, i: usize) -> Result<Value> {
    let mismatch =
        || SegmentError::InvalidRequest(format!("a {data_type:?} column decoded as Arrow {}", array.data_type()));
    Ok(match data_type {
        DataType::Int => Value::Int(array.as_primitive_opt::<Int32Type>().ok_or_else(mismatch)?.value(i)),
        DataType::Long => Value::Long(array.as_primitive_opt::<Int64Type>().ok_or_else(mismatch)?.value(i)),
        DataType::Float => Value::Float(array.as_primitive_opt::<Float32Type>().ok_or_else(mismatch)?.value(i)),
        DataType::Double => Value::Double(array.as_primitive_opt::<Float64Type>().ok_or_else(mismatch)?.value(i)),
        DataType::Timestamp => {
            Value::Timestamp(array.as_primitive_opt::<TimestampMillisecondType>().ok_or_else(mismatch)?.value(i))
        }
        DataType::Boolean => Value::Boolean(array.as_boolean_opt().ok_or_else(mismatch)?.value(i)),
        DataType::String => Value::String(array.as_string_opt::<i32>().ok_or_else(mismatch)?.value(i).to_string()),
        DataType::Json => Value::Json(array.as_string_opt::<i32>().ok_or_else(mismatch)?.value(i).to_string()),
        DataType::BigDecimal => {
            Value::BigDecimal(array.as_string_opt::<i32>().ok_or_else(mismatch)?.value(i).to_string())
        }
        DataType::Bytes => Value::Bytes(array.as_binary_opt::<i32>().ok_or_else(mismatch)?.value(i).to_vec()),
    })
}
