//! Pinot's scalar functions that DataFusion lacks or names differently, registered from the
//! function library (`cuvee-functions`, the same code ingestion transforms call): the
//! date-time family (`TOEPOCHSECONDS`…, `FROMEPOCHDAYS`…, `TODATETIME`, `FROMDATETIME`,
//! `DATETRUNC`, `DATETIMECONVERT`, `AGO`) and JSON extraction (`JSONPATHSTRING`…,
//! `JSON_EXTRACT_SCALAR`, `JSONEXTRACTKEY`) and the geospatial family (`ST_POINT`,
//! `ST_DISTANCE`, `GEOTOH3`…, shapes as BINARY). Functions DataFusion already has with Pinot's
//! meaning (`lower`, `abs`, `regexp_like`, `concat`…) are left to DataFusion.
//!
//! Values go from Arrow arrays to the library's typed [`Datum`]s and back, row by row,
//! with no detour through JSON; the time-bucketing functions over a LONG column with
//! constant arguments (`toEpochHoursBucket(ts, 4)`, `DATETRUNC('hour', ts)`) run as one
//! kernel over the whole array ([`Function::long_kernel`]).

use crate::error::QueryError;
use cuvee_functions::{Datum, Function, ResultType};
use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder,
    Int32Builder, Int64Array, Int64Builder, ListBuilder, StringBuilder,
};
use datafusion::arrow::compute::kernels::arity::try_unary;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type, TimeUnit};
use datafusion::common::{plan_datafusion_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;
use std::sync::Arc;

/// Registers every SQL function of the library in a session.
pub fn register(ctx: &SessionContext) {
    for function in cuvee_functions::sql_functions() {
        ctx.register_udf(udf(function));
    }
}

fn udf(function: &'static Function) -> ScalarUDF {
    let volatility = if function.volatile { Volatility::Stable } else { Volatility::Immutable };
    ScalarUDF::new_from_impl(PinotScalar { function, signature: Signature::variadic_any(volatility) })
}

#[derive(Debug)]
struct PinotScalar {
    function: &'static Function,
    signature: Signature,
}

impl PartialEq for PinotScalar {
    fn eq(&self, other: &Self) -> bool {
        self.function.name == other.function.name
    }
}

impl Eq for PinotScalar {}

impl std::hash::Hash for PinotScalar {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.function.name.hash(state);
    }
}

fn arrow_type(result: ResultType) -> DataType {
    match result {
        ResultType::Int => DataType::Int32,
        ResultType::Long => DataType::Int64,
        ResultType::Float => DataType::Float32,
        ResultType::Double => DataType::Float64,
        ResultType::Text => DataType::Utf8,
        ResultType::Bool => DataType::Boolean,
        ResultType::TextList => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        ResultType::Bytes => DataType::Binary,
    }
}

impl ScalarUDFImpl for PinotScalar {
    fn name(&self) -> &str {
        self.function.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        datafusion::common::plan_err!("{}: the result type depends on the arguments", self.function.name)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let literal = |i: usize| match args.scalar_arguments.get(i).copied().flatten() {
            Some(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => {
                Some(s.clone())
            }
            _ => None,
        };
        self.function.check_arity(args.arg_fields.len()).map_err(|e| plan_datafusion_err!("{e}"))?;
        let result = self.function.return_type(literal).map_err(|e| plan_datafusion_err!("{e}"))?;
        Ok(Arc::new(Field::new(self.function.name, arrow_type(result), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let out_type = args.return_field.data_type().clone();
        let rows = args.number_rows;
        if let Some(array) = self.kernel(&args.args, rows)? {
            return Ok(ColumnarValue::Array(array));
        }
        let arrays: Vec<ArrayRef> = args.args.iter().map(|a| a.clone().into_array(rows)).collect::<Result<_>>()?;
        let mut out = Output::new(&out_type, rows)?;
        let mut values = Vec::with_capacity(arrays.len());
        for row in 0..rows {
            values.clear();
            for array in &arrays {
                values.push(datum(array.as_ref(), row)?);
            }
            let result = self
                .function
                .call(&values)
                .map_err(|source| QueryError::Function { name: self.function.name, source })?;
            out.push(&result);
        }
        Ok(ColumnarValue::Array(out.finish()))
    }
}

impl PinotScalar {
    /// The whole first column in one pass, when the function is a kernel over a LONG and
    /// the other arguments are constants.
    fn kernel(&self, args: &[ColumnarValue], rows: usize) -> Result<Option<ArrayRef>> {
        // DATETRUNC's value is its second argument; every other kernel's is its first.
        let position = usize::from(self.function.name == "datetrunc");
        let Some(ColumnarValue::Array(column)) = args.get(position) else { return Ok(None) };
        let constants: Option<Vec<Option<Datum>>> = args
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                _ if i == position => Some(None),
                ColumnarValue::Scalar(s) if !s.is_null() => scalar_datum(s).map(Some),
                _ => None,
            })
            .collect();
        let Some(kernel) = constants.and_then(|c| self.function.long_kernel(&c)) else { return Ok(None) };
        let longs: Int64Array = match column.data_type() {
            DataType::Int64 => column.as_primitive::<Int64Type>().clone(),
            DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32 => {
                datafusion::arrow::compute::cast(column, &DataType::Int64)?.as_primitive::<Int64Type>().clone()
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                datafusion::arrow::compute::cast(column, &DataType::Int64)?.as_primitive::<Int64Type>().clone()
            }
            _ => return Ok(None),
        };
        debug_assert_eq!(longs.len(), rows);
        let name = self.function.name;
        let out: Int64Array = try_unary(&longs, |v| {
            kernel.apply(v).map_err(|source| {
                datafusion::arrow::error::ArrowError::ExternalError(Box::new(QueryError::Function { name, source }))
            })
        })?;
        Ok(Some(Arc::new(out)))
    }
}

/// A literal argument as the library sees it.
fn scalar_datum(value: &ScalarValue) -> Option<Datum> {
    let array = value.to_array().ok()?;
    datum(array.as_ref(), 0).ok()
}

/// One row of an Arrow array as a [`Datum`].
fn datum(array: &dyn Array, row: usize) -> Result<Datum> {
    use datafusion::arrow::datatypes::*;
    if array.is_null(row) {
        return Ok(Datum::Null);
    }
    Ok(match array.data_type() {
        DataType::Boolean => Datum::Bool(array.as_boolean().value(row)),
        DataType::Int8 => Datum::Long(i64::from(array.as_primitive::<Int8Type>().value(row))),
        DataType::Int16 => Datum::Long(i64::from(array.as_primitive::<Int16Type>().value(row))),
        DataType::Int32 => Datum::Long(i64::from(array.as_primitive::<Int32Type>().value(row))),
        DataType::Int64 => Datum::Long(array.as_primitive::<Int64Type>().value(row)),
        DataType::UInt8 => Datum::Long(i64::from(array.as_primitive::<UInt8Type>().value(row))),
        DataType::UInt16 => Datum::Long(i64::from(array.as_primitive::<UInt16Type>().value(row))),
        DataType::UInt32 => Datum::Long(i64::from(array.as_primitive::<UInt32Type>().value(row))),
        DataType::UInt64 => Datum::Long(array.as_primitive::<UInt64Type>().value(row) as i64),
        DataType::Float32 => Datum::Double(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => Datum::Double(array.as_primitive::<Float64Type>().value(row)),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            Datum::Long(array.as_primitive::<TimestampMillisecondType>().value(row))
        }
        DataType::Utf8 => Datum::Text(array.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Datum::Text(array.as_string::<i64>().value(row).to_string()),
        DataType::Utf8View => Datum::Text(array.as_string_view().value(row).to_string()),
        DataType::Binary => Datum::Bytes(array.as_binary::<i32>().value(row).to_vec()),
        DataType::LargeBinary => Datum::Bytes(array.as_binary::<i64>().value(row).to_vec()),
        DataType::BinaryView => Datum::Bytes(array.as_binary_view().value(row).to_vec()),
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(row);
            Datum::List((0..items.len()).map(|i| datum(items.as_ref(), i)).collect::<Result<_>>()?)
        }
        _ => Datum::Text(ScalarValue::try_from_array(array, row)?.to_string()),
    })
}

/// The result column being built, typed by the function's result type.
enum Output {
    Int(Int32Builder),
    Long(Int64Builder),
    Float(Float32Builder),
    Double(Float64Builder),
    Text(StringBuilder),
    Bool(BooleanBuilder),
    TextList(ListBuilder<StringBuilder>),
    Bytes(BinaryBuilder),
    /// Every row null (a result type of no value).
    Null(DataType, usize),
}

impl Output {
    fn new(data_type: &DataType, rows: usize) -> Result<Output> {
        Ok(match data_type {
            DataType::Int32 => Output::Int(Int32Builder::with_capacity(rows)),
            DataType::Int64 => Output::Long(Int64Builder::with_capacity(rows)),
            DataType::Float32 => Output::Float(Float32Builder::with_capacity(rows)),
            DataType::Float64 => Output::Double(Float64Builder::with_capacity(rows)),
            DataType::Utf8 => Output::Text(StringBuilder::with_capacity(rows, rows * 16)),
            DataType::Boolean => Output::Bool(BooleanBuilder::with_capacity(rows)),
            DataType::List(_) => Output::TextList(ListBuilder::new(StringBuilder::new())),
            DataType::Binary => Output::Bytes(BinaryBuilder::with_capacity(rows, rows * 17)),
            DataType::Null => Output::Null(DataType::Null, 0),
            other => return datafusion::common::exec_err!("unexpected result type {other}"),
        })
    }

    /// Appends one result, coerced to the column's type as Pinot's casts do (a value that
    /// cannot be coerced is null).
    fn push(&mut self, value: &Datum) {
        let integer = || match value {
            Datum::Long(i) => Some(*i),
            Datum::Double(f) => Some(*f as i64),
            Datum::Text(s) => s.trim().parse().ok(),
            _ => None,
        };
        let number = || match value {
            Datum::Bool(_) | Datum::Long(_) | Datum::Double(_) | Datum::Text(_) => value.as_double().ok(),
            _ => None,
        };
        match self {
            Output::Int(b) => b.append_option(integer().and_then(|i| i32::try_from(i).ok())),
            Output::Long(b) => b.append_option(integer()),
            Output::Float(b) => b.append_option(number().map(|f| f as f32)),
            Output::Double(b) => b.append_option(number()),
            Output::Bool(b) => b.append_option(match value {
                Datum::Bool(v) => Some(*v),
                Datum::Text(s) => Some(s.eq_ignore_ascii_case("true")),
                _ => None,
            }),
            Output::Text(b) => match value {
                Datum::Null => b.append_null(),
                Datum::Text(s) => b.append_value(s),
                other => b.append_value(other.to_json().to_string()),
            },
            Output::TextList(b) => match value {
                Datum::List(items) => {
                    for item in items {
                        match item {
                            Datum::Null => b.values().append_null(),
                            other => b.values().append_value(other.as_text()),
                        }
                    }
                    b.append(true);
                }
                _ => b.append(false),
            },
            Output::Bytes(b) => match value.as_bytes() {
                Ok(bytes) => b.append_value(bytes),
                Err(_) => b.append_null(),
            },
            Output::Null(_, rows) => *rows += 1,
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            Output::Int(mut b) => Arc::new(b.finish()),
            Output::Long(mut b) => Arc::new(b.finish()),
            Output::Float(mut b) => Arc::new(b.finish()),
            Output::Double(mut b) => Arc::new(b.finish()),
            Output::Text(mut b) => Arc::new(b.finish()),
            Output::Bool(mut b) => Arc::new(b.finish()),
            Output::TextList(mut b) => Arc::new(b.finish()),
            Output::Bytes(mut b) => Arc::new(b.finish()),
            Output::Null(data_type, rows) => new_null_array(&data_type, rows),
        }
    }
}
