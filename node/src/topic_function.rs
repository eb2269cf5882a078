//! `kafka_topic(…)`: SQL over a topic of the node's Kafka (`--kafka`) without a table, for
//! looking at events before deciding on one. A bounded read of the topic, decoded as JSON
//! objects (flattened as a proposed table would be), typed by the same inference that
//! proposes tables (`cuvee_ingest::infer`), as an in-memory table:
//!
//! - `kafka_topic('orders')`: the newest 100 messages;
//! - `kafka_topic('orders', 1000)`: the newest 1,000 (at most 100,000);
//! - `kafka_topic('orders', '2026-12-04 10:00:00')`: everything produced since then;
//! - `kafka_topic('orders', 2, 500)` / `kafka_topic('orders', 2, 500, 600)`: partition 2
//!   from offset 500 (to 600, exclusive).
//!
//! Beside the message's fields come `__partition`, `__offset`, `__timestamp`, `__key` and
//! `__value` (the message as text, for messages that are not JSON objects). The read is
//! bounded by count, 256 MiB and 10 s. Topic data is guarded by no table's permission, so
//! the doors let only callers who may read every table name this function
//! (`cuvee_query::authorize_statement`).

use cuvee_catalog::{DataType as Pinot, Value};
use cuvee_ingest::infer::{decode, propose_decoded, SampleFormat};
use cuvee_ingest::realtime::topics::{Budget, Explorer, Range, Sampled};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, Int64Array, ListArray, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::catalog::{TableFunctionImpl, TableProvider};
use datafusion::common::{plan_err, DataFusionError, ScalarValue};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Expr;
use serde_json::Value as Json;
use std::sync::Arc;
use std::time::Duration;

/// The function's SQL name (the doors guard it by this name).
pub use cuvee_query::TOPIC_FUNCTION as NAME;
const DEFAULT_LAST: u64 = 100;
const MAX_MESSAGES: u64 = 100_000;
const MAX_BYTES: usize = 256 << 20;

#[derive(Debug)]
pub struct KafkaTopic {
    kafka: String,
}

impl KafkaTopic {
    pub fn new(kafka: &str) -> KafkaTopic {
        KafkaTopic { kafka: kafka.to_string() }
    }

    fn read(&self, topic: &str, range: Range) -> Result<Vec<Sampled>, DataFusionError> {
        let max_messages = match range {
            Range::Last(n) => n as usize,
            _ => MAX_MESSAGES as usize,
        };
        let budget = Budget { max_messages, max_bytes: MAX_BYTES, deadline: Duration::from_secs(10) };
        let read = || Explorer::connect(&self.kafka)?.read(topic, range, budget);
        // Kafka answers on its own threads; a planning worker waits without starving the others.
        let result = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(read)
            }
            _ => read(),
        };
        let messages = result.map_err(kinded)?;
        // A range cut short would answer as if it were whole: say so instead.
        let bytes: usize = messages.iter().map(|m| m.payload.len()).sum();
        if !matches!(range, Range::Last(_)) && (messages.len() >= MAX_MESSAGES as usize || bytes >= MAX_BYTES) {
            return plan_err!(
                "{topic}: the range holds more than {MAX_MESSAGES} messages or {} MiB; narrow it (offsets, a later time) or read the newest N with kafka_topic('{topic}', N)",
                MAX_BYTES >> 20
            );
        }
        Ok(messages)
    }
}

/// An ingestion error as the doors classify it: its kind (a bad topic name is the caller's
/// mistake, an unknown topic is not found, Kafka not answering is unavailable) rides along.
fn kinded(error: cuvee_ingest::IngestError) -> DataFusionError {
    use cuvee_error::ErrorExt;
    let kind = error.kind();
    DataFusionError::External(Box::new(cuvee_query::QueryError::Remote { kind, message: error.to_string() }))
}

fn literal(arg: &Expr) -> Option<&ScalarValue> {
    match arg {
        Expr::Literal(value, _) => Some(value),
        _ => None,
    }
}

fn text(arg: &Expr) -> Option<String> {
    match literal(arg)? {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            Some(s.clone())
        }
        _ => None,
    }
}

fn integer(arg: &Expr) -> Option<i64> {
    match literal(arg)? {
        ScalarValue::Int64(Some(n)) => Some(*n),
        ScalarValue::Int32(Some(n)) => Some(i64::from(*n)),
        ScalarValue::UInt64(Some(n)) => i64::try_from(*n).ok(),
        _ => None,
    }
}

const USAGE: &str = "kafka_topic('topic'[, last | 'since time' | partition, from_offset[, to_offset]])";

/// The topic and which of its messages the arguments name.
fn arguments(args: &[Expr]) -> Result<(String, Range), DataFusionError> {
    let Some(topic) = args.first().and_then(text) else {
        return plan_err!("{USAGE}: the first argument is the topic's name, as text");
    };
    let range = match &args[1..] {
        [] => Range::Last(DEFAULT_LAST),
        [one] => match (integer(one), text(one)) {
            (Some(n), _) if (1..=MAX_MESSAGES as i64).contains(&n) => Range::Last(n as u64),
            (Some(n), _) => return plan_err!("{USAGE}: last must be 1 to {MAX_MESSAGES} messages, got {n}"),
            (None, Some(since)) => match Pinot::Timestamp.value_from_str(&since) {
                Ok(Value::Timestamp(ms)) => Range::Since(ms),
                _ => return plan_err!("{USAGE}: {since:?} is not a time (e.g. '2026-12-04 10:00:00')"),
            },
            _ => return plan_err!("{USAGE}: the second argument is a count of messages or a time"),
        },
        [partition, start, rest @ ..] if rest.len() <= 1 => {
            let (Some(partition), Some(start)) = (integer(partition), integer(start)) else {
                return plan_err!("{USAGE}: a partition and an offset are numbers");
            };
            let end = match rest.first() {
                None => None,
                Some(end) => match integer(end) {
                    Some(end) => Some(end),
                    None => return plan_err!("{USAGE}: to_offset is a number"),
                },
            };
            let Ok(partition) = u32::try_from(partition) else {
                return plan_err!("{USAGE}: {partition} is not a partition");
            };
            if start < 0 || end.is_some_and(|end| end < start) {
                return plan_err!("{USAGE}: offsets run from 0 upwards, from before to");
            }
            Range::Offsets { partition: Some(partition), start, end }
        }
        _ => return plan_err!("{USAGE}: too many arguments"),
    };
    Ok((topic, range))
}

impl TableFunctionImpl for KafkaTopic {
    fn call(&self, args: &[Expr]) -> datafusion::error::Result<Arc<dyn TableProvider>> {
        let (topic, range) = arguments(args)?;
        let messages = self.read(&topic, range)?;
        let batch = to_batch(&topic, &self.kafka, &messages)?;
        tracing::info!(topic = %topic, rows = batch.num_rows(), "read a topic for SQL");
        Ok(Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]])?))
    }
}

/// The messages as rows: Kafka's facts, then the inferred columns.
fn to_batch(topic: &str, kafka: &str, messages: &[Sampled]) -> Result<RecordBatch, DataFusionError> {
    let payloads: Vec<&[u8]> = messages.iter().map(|m| m.payload.as_slice()).collect();
    // Decoded once: the same records are typed by the proposal and become the columns.
    let decoded = decode(&SampleFormat::Json, &payloads).map_err(kinded)?;
    let records = &decoded.records;
    // No message is a JSON object (or there are none): Kafka's facts and the text only.
    let columns = propose_decoded(topic, kafka, &SampleFormat::Json, &decoded).map(|p| p.columns).unwrap_or_default();

    let mut fields = vec![
        Field::new("__partition", DataType::Int32, false),
        Field::new("__offset", DataType::Int64, false),
        Field::new("__timestamp", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        Field::new("__key", DataType::Utf8, true),
        Field::new("__value", DataType::Utf8, true),
    ];
    let lossy = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(messages.iter().map(|m| m.partition as i32).collect::<Int32Array>()),
        Arc::new(messages.iter().map(|m| m.offset).collect::<Int64Array>()),
        Arc::new(messages.iter().map(|m| m.timestamp_ms).collect::<TimestampMillisecondArray>()),
        Arc::new(messages.iter().map(|m| m.key.as_deref().map(lossy)).collect::<StringArray>()),
        Arc::new(messages.iter().map(|m| Some(lossy(&m.payload))).collect::<StringArray>()),
    ];
    for column in &columns {
        if column.name.starts_with("__") {
            continue;
        }
        let values: Vec<Option<&Json>> =
            records.iter().map(|r| r.as_ref().and_then(|m| m.get(&column.name)).filter(|v| !v.is_null())).collect();
        let (field, array) = if column.multi_value {
            list_of(&column.name, column.data_type, &values)?
        } else {
            let array = array_of(column.data_type, &values);
            (Field::new(&column.name, array.data_type().clone(), true), array)
        };
        fields.push(field);
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// Values of one Pinot type as an Arrow array; a value that does not fit is null.
fn array_of(data_type: &str, values: &[Option<&Json>]) -> ArrayRef {
    match data_type {
        "INT" => Arc::new(
            values.iter().map(|v| v.and_then(Json::as_i64).and_then(|i| i32::try_from(i).ok())).collect::<Int32Array>(),
        ),
        "LONG" => Arc::new(values.iter().map(|v| v.and_then(Json::as_i64)).collect::<Int64Array>()),
        "FLOAT" | "DOUBLE" => Arc::new(values.iter().map(|v| v.and_then(Json::as_f64)).collect::<Float64Array>()),
        "BOOLEAN" => Arc::new(values.iter().map(|v| v.and_then(Json::as_bool)).collect::<BooleanArray>()),
        "TIMESTAMP" => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Some(Json::Number(n)) => n.as_i64(),
                    Some(Json::String(s)) => match Pinot::Timestamp.value_from_str(s) {
                        Ok(Value::Timestamp(ms)) => Some(ms),
                        _ => None,
                    },
                    _ => None,
                })
                .collect::<TimestampMillisecondArray>(),
        ),
        _ => Arc::new(
            values
                .iter()
                .map(|v| match v {
                    Some(Json::String(s)) => Some(s.clone()),
                    Some(other) => Some(other.to_string()),
                    None => None,
                })
                .collect::<StringArray>(),
        ),
    }
}

/// A multi-value column: each record's list, its elements typed as `data_type`.
fn list_of(name: &str, data_type: &str, values: &[Option<&Json>]) -> Result<(Field, ArrayRef), DataFusionError> {
    let mut offsets = vec![0i32];
    let mut elements: Vec<Option<&Json>> = Vec::new();
    let mut valid = Vec::with_capacity(values.len());
    for value in values {
        match value {
            Some(Json::Array(items)) => {
                elements.extend(items.iter().map(|i| (!i.is_null()).then_some(i)));
                valid.push(true);
            }
            Some(single) => {
                elements.push(Some(*single));
                valid.push(true);
            }
            None => valid.push(false),
        }
        let end = i32::try_from(elements.len())
            .map_err(|_| DataFusionError::Execution(format!("column {name}: too many list elements")))?;
        offsets.push(end);
    }
    let items = array_of(data_type, &elements);
    let item = Arc::new(Field::new_list_field(items.data_type().clone(), true));
    let list =
        ListArray::try_new(Arc::clone(&item), OffsetBuffer::new(offsets.into()), items, Some(NullBuffer::from(valid)))?;
    Ok((Field::new(name, DataType::List(item), true), Arc::new(list)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::logical_expr::lit;

    #[test]
    fn arguments_name_a_range_or_say_what_is_wrong() {
        let topic = lit("orders");
        assert_eq!(arguments(std::slice::from_ref(&topic)).ok().map(|a| a.1), Some(Range::Last(100)));
        assert_eq!(arguments(&[topic.clone(), lit(5i64)]).ok().map(|a| a.1), Some(Range::Last(5)));
        assert_eq!(
            arguments(&[topic.clone(), lit(2i64), lit(10i64), lit(20i64)]).ok().map(|a| a.1),
            Some(Range::Offsets { partition: Some(2), start: 10, end: Some(20) })
        );
        assert!(matches!(
            arguments(&[topic.clone(), lit("2026-12-04 10:00:00")]).ok().map(|a| a.1),
            Some(Range::Since(_))
        ));
        for bad in [
            vec![],
            vec![lit(1i64)],
            vec![topic.clone(), lit(0i64)],
            vec![topic.clone(), lit("soon")],
            vec![topic.clone(), lit(1i64), lit(-1i64)],
        ] {
            let error = arguments(&bad).expect_err("refused").to_string();
            assert!(error.contains("kafka_topic('topic'"), "{error}");
        }
    }

    #[test]
    fn messages_become_typed_rows() {
        let sampled = |offset: i64, payload: &str| Sampled {
            partition: 0,
            offset,
            timestamp_ms: Some(1_700_000_000_000 + offset),
            key: None,
            payload: payload.as_bytes().to_vec(),
        };
        let messages = [
            sampled(0, r#"{"id": 1, "user": {"name": "ann"}, "tags": ["a", "b"], "score": 1.5}"#),
            sampled(1, r#"{"id": 2, "user": {"name": "bob"}, "tags": [], "score": 2}"#),
            sampled(2, "not json"),
        ];
        let batch = to_batch("t", "k:1", &messages).expect("a batch");
        assert_eq!(batch.num_rows(), 3);
        let schema = batch.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["__partition", "__offset", "__timestamp", "__key", "__value", "id", "score", "tags", "user.name"]
        );
        assert_eq!(schema.field_with_name("id").map(|f| f.data_type().clone()).ok(), Some(DataType::Int32));
        assert!(matches!(schema.field_with_name("tags").map(|f| f.data_type().clone()), Ok(DataType::List(_))));
        assert_eq!(batch.column(5).null_count(), 1, "the message that is not JSON has no fields");
    }
}
