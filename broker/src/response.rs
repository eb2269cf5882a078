//! Pinot's broker response: `resultTable` with Pinot type names and value formats, the
//! execution statistics, and `exceptions` with Pinot's error codes.

use cuvee_error::ErrorKind;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Int16Type, Int32Type, Int64Type, Int8Type, TimeUnit, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use datafusion::arrow::record_batch::RecordBatch;
use serde::Serialize;
use serde_json::{json, Value as Json};

/// Pinot's query error codes (`QueryErrorCode`), the ones cuvee answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    SqlParsing = 150,
    AccessDenied = 180,
    TableDoesNotExist = 190,
    QueryExecution = 200,
    ServerSegmentMissing = 235,
    BrokerSegmentUnavailable = 305,
    ExecutionTimeout = 250,
    BrokerRequestSend = 425,
    ServerNotResponding = 427,
    TooManyRequests = 429,
    QueryCancellation = 503,
    QueryValidation = 700,
    UnknownColumn = 710,
}

impl ErrorCode {
    /// Pinot's code for a kind of failure: the one mapping the Pinot door uses.
    pub fn of(kind: ErrorKind) -> ErrorCode {
        match kind {
            ErrorKind::Syntax => ErrorCode::SqlParsing,
            ErrorKind::TableNotFound => ErrorCode::TableDoesNotExist,
            ErrorKind::ColumnNotFound => ErrorCode::UnknownColumn,
            ErrorKind::InvalidArgument
            | ErrorKind::TypeMismatch
            | ErrorKind::FunctionNotFound
            | ErrorKind::AlreadyExists
            | ErrorKind::Unsupported => ErrorCode::QueryValidation,
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => ErrorCode::AccessDenied,
            ErrorKind::NotFound => ErrorCode::ServerSegmentMissing,
            ErrorKind::Timeout => ErrorCode::ExecutionTimeout,
            ErrorKind::Cancelled => ErrorCode::QueryCancellation,
            ErrorKind::Unavailable => ErrorCode::ServerNotResponding,
            ErrorKind::Incomplete => ErrorCode::BrokerSegmentUnavailable,
            ErrorKind::Overloaded => ErrorCode::TooManyRequests,
            // A memory or result limit is the query's execution failing, as in Pinot.
            ErrorKind::ResourceExhausted
            | ErrorKind::InvalidValue
            | ErrorKind::DivisionByZero
            | ErrorKind::Corrupt
            | ErrorKind::Storage
            | ErrorKind::Internal => ErrorCode::QueryExecution,
        }
    }

    pub fn code(self) -> i32 {
        self as i32
    }

    /// Pinot's name for the code, which starts its messages (`SQLParsingError: …`).
    pub fn pinot_name(self) -> &'static str {
        match self {
            ErrorCode::SqlParsing => "SQLParsingError",
            ErrorCode::AccessDenied => "AccessDenied",
            ErrorCode::TableDoesNotExist => "TableDoesNotExistError",
            ErrorCode::QueryExecution => "QueryExecutionError",
            ErrorCode::ServerSegmentMissing => "ServerSegmentMissing",
            ErrorCode::BrokerSegmentUnavailable => "BrokerSegmentUnavailable",
            ErrorCode::ExecutionTimeout => "ExecutionTimeoutError",
            ErrorCode::BrokerRequestSend => "BrokerRequestSend",
            ErrorCode::ServerNotResponding => "ServerNotResponding",
            ErrorCode::TooManyRequests => "TooManyRequests",
            ErrorCode::QueryCancellation => "QueryCancellationError",
            ErrorCode::QueryValidation => "QueryValidationError",
            ErrorCode::UnknownColumn => "UnknownColumnError",
        }
    }

    /// The code of this number, if it is one of cuvee's.
    pub fn from_code(code: i32) -> Option<ErrorCode> {
        use ErrorCode::*;
        [
            SqlParsing,
            AccessDenied,
            TableDoesNotExist,
            QueryExecution,
            ServerSegmentMissing,
            BrokerSegmentUnavailable,
            ExecutionTimeout,
            BrokerRequestSend,
            ServerNotResponding,
            TooManyRequests,
            QueryCancellation,
            QueryValidation,
            UnknownColumn,
        ]
        .into_iter()
        .find(|c| c.code() == code)
    }

    /// The HTTP status when the client asks for statuses (`Pinot-Use-Http-Status-For-Errors`),
    /// as Pinot's `QueryErrorCode` gives them.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::SqlParsing | ErrorCode::QueryValidation | ErrorCode::UnknownColumn => 400,
            ErrorCode::AccessDenied => 403,
            ErrorCode::TableDoesNotExist | ErrorCode::ServerSegmentMissing => 404,
            ErrorCode::ExecutionTimeout => 408,
            ErrorCode::TooManyRequests => 429,
            ErrorCode::QueryExecution => 500,
            ErrorCode::BrokerRequestSend
            | ErrorCode::ServerNotResponding
            | ErrorCode::QueryCancellation
            | ErrorCode::BrokerSegmentUnavailable => 503,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryException {
    pub error_code: i32,
    pub message: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_table: Option<Json>,
    pub exceptions: Vec<QueryException>,
    pub num_servers_queried: u64,
    pub num_servers_responded: u64,
    pub num_segments_queried: u64,
    pub num_segments_processed: u64,
    pub num_segments_matched: u64,
    pub num_consuming_segments_queried: u64,
    pub num_consuming_segments_processed: u64,
    pub num_consuming_segments_matched: u64,
    pub num_docs_scanned: u64,
    pub num_entries_scanned_in_filter: u64,
    pub num_entries_scanned_post_filter: u64,
    pub num_groups_limit_reached: bool,
    pub num_groups_warning_limit_reached: bool,
    pub total_docs: u64,
    pub time_used_ms: u64,
    pub partial_result: bool,
    pub min_consuming_freshness_time_ms: i64,
    pub num_rows_result_set: u64,
    pub request_id: String,
    pub broker_id: String,
    pub tables_queried: Vec<String>,
    pub trace_info: serde_json::Map<String, Json>,
}

impl BrokerResponse {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> BrokerResponse {
        BrokerResponse {
            exceptions: vec![QueryException { error_code: code.code(), message: message.into() }],
            ..Default::default()
        }
    }

    pub fn error_code(&self) -> Option<i32> {
        self.exceptions.first().map(|e| e.error_code)
    }
}

/// Pinot's name for a result column's type.
pub fn pinot_type(t: &DataType) -> String {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => "INT".into(),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "LONG".into(),
        DataType::Float16 | DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..) | DataType::Decimal256(..) => {
            "BIG_DECIMAL".into()
        }
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Timestamp(..) | DataType::Date32 | DataType::Date64 => "TIMESTAMP".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            "BYTES".into()
        }
        DataType::List(f) | DataType::LargeList(f) => format!("{}_ARRAY", pinot_type(f.data_type())),
        _ => "STRING".into(),
    }
}

/// `resultTable` for the batches of a result.
pub fn result_table(names: &[String], types: &[DataType], batches: &[RecordBatch]) -> Json {
    let mut rows = Vec::new();
    for batch in batches {
        for r in 0..batch.num_rows() {
            rows.push(Json::Array((0..batch.num_columns()).map(|c| cell(batch.column(c).as_ref(), r)).collect()));
        }
    }
    json!({
        "dataSchema": {
            "columnNames": names,
            "columnDataTypes": types.iter().map(pinot_type).collect::<Vec<_>>(),
        },
        "rows": rows,
    })
}

fn float(v: f64) -> Json {
    match serde_json::Number::from_f64(v) {
        Some(n) => Json::Number(n),
        None if v.is_nan() => Json::String("NaN".into()),
        None if v > 0.0 => Json::String("Infinity".into()),
        None => Json::String("-Infinity".into()),
    }
}

/// Java's `Timestamp.toString()`: `2014-01-01 00:00:00.0`, fractional digits trimmed.
fn timestamp(ms: i64) -> Json {
    let Some(t) = chrono::DateTime::from_timestamp_millis(ms) else { return Json::from(ms) };
    let millis = ms.rem_euclid(1000);
    let fraction = if millis == 0 { "0".to_string() } else { format!("{millis:03}").trim_end_matches('0').to_string() };
    Json::String(format!("{}.{fraction}", t.format("%Y-%m-%d %H:%M:%S")))
}

fn cell(array: &dyn Array, i: usize) -> Json {
    if array.is_null(i) {
        return Json::Null;
    }
    match array.data_type() {
        DataType::Int8 => Json::from(array.as_primitive::<Int8Type>().value(i)),
        DataType::Int16 => Json::from(array.as_primitive::<Int16Type>().value(i)),
        DataType::Int32 => Json::from(array.as_primitive::<Int32Type>().value(i)),
        DataType::Int64 => Json::from(array.as_primitive::<Int64Type>().value(i)),
        DataType::UInt8 => Json::from(array.as_primitive::<UInt8Type>().value(i)),
        DataType::UInt16 => Json::from(array.as_primitive::<UInt16Type>().value(i)),
        DataType::UInt32 => Json::from(array.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt64 => Json::from(array.as_primitive::<UInt64Type>().value(i)),
        DataType::Float32 => float(array.as_primitive::<datafusion::arrow::datatypes::Float32Type>().value(i) as f64),
        DataType::Float64 => float(array.as_primitive::<datafusion::arrow::datatypes::Float64Type>().value(i)),
        DataType::Boolean => Json::Bool(array.as_boolean().value(i)),
        DataType::Utf8 => Json::String(array.as_string::<i32>().value(i).to_string()),
        DataType::LargeUtf8 => Json::String(array.as_string::<i64>().value(i).to_string()),
        DataType::Utf8View => Json::String(array.as_string_view().value(i).to_string()),
        DataType::Binary => Json::String(cuvee_catalog::value::encode_hex(array.as_binary::<i32>().value(i))),
        DataType::Timestamp(unit, _) => {
            use datafusion::arrow::datatypes::{
                TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
            };
            let ms = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i).saturating_mul(1000),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i).div_euclid(1000),
                TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i).div_euclid(1_000_000),
            };
            timestamp(ms)
        }
        DataType::List(_) => {
            let values = array.as_list::<i32>().value(i);
            Json::Array((0..values.len()).map(|j| cell(values.as_ref(), j)).collect())
        }
        _ => match datafusion::arrow::util::display::array_value_to_string(array, i) {
            Ok(text) => Json::String(text),
            Err(_) => Json::Null,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_as_pinot_does() {
        assert_eq!(timestamp(1_388_534_400_000), json!("2014-01-01 00:00:00.0"));
        assert_eq!(timestamp(1_388_534_400_120), json!("2014-01-01 00:00:00.12"));
        assert_eq!(float(2174.0).to_string(), "2174.0");
        assert_eq!(float(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(
            pinot_type(&DataType::List(std::sync::Arc::new(datafusion::arrow::datatypes::Field::new(
                "item",
                DataType::Utf8,
                false
            )))),
            "STRING_ARRAY"
        );
    }
}
