//! The server's Kafka (`--kafka`) before there is a table: `GET /topics` lists its topics
//! with partitions, offsets and message rate, and `POST /topics/{topic}/infer` samples a
//! topic and proposes `{"schema", "tableConfig"}` that can be POSTed to `/schemas` and
//! `/tables` as they are (`cuvee_ingest::infer`).
//!
//! Topic data is not guarded by any table's permissions, so only callers who may read every
//! table may look. Callers name topics, never brokers: the server only ever contacts the
//! Kafka its operator gave it.

use crate::controller::Caller;
use crate::error::{blocking, ApiError};
use crate::{reads_everything, Api};
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use cuvee_ingest::infer::{propose, SampleFormat};
use cuvee_ingest::realtime::topics::{Budget, Explorer, Range};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const KAFKA_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages sampled for a proposal unless the request says otherwise, and at most.
const DEFAULT_SAMPLE: u64 = 500;
const MAX_SAMPLE: u64 = 10_000;

pub fn routes() -> Router<Arc<Api>> {
    Router::new().route("/topics", get(list)).route("/topics/{topic}/infer", post(infer))
}

fn kafka_of(api: &Api) -> Result<String, ApiError> {
    api.options.kafka.clone().ok_or_else(|| {
        ApiError::Unsupported(
            "this server has no Kafka to look at: start it with --kafka HOST:PORT (CUVEE_KAFKA); the quickstart sets its own"
                .into(),
        )
    })
}

async fn list(State(api): State<Arc<Api>>, Extension(caller): Caller) -> Result<Json<Value>, ApiError> {
    reads_everything(&caller)?;
    let kafka = kafka_of(&api)?;
    let listing = kafka.clone();
    let topics = blocking(move || Ok(Explorer::connect(&listing)?.topics(KAFKA_TIMEOUT)?)).await?;
    let now = Instant::now();
    let mut seen = api.topic_counts.lock();
    let listed: Vec<Value> = topics
        .iter()
        .map(|t| {
            let written: i64 = t.partitions.iter().map(|p| p.latest).sum();
            let before = seen.get(&t.topic).copied();
            let rate = before.and_then(|(then, count)| {
                let seconds = now.duration_since(then).as_secs_f64();
                (seconds >= 0.5).then(|| (written - count).max(0) as f64 / seconds)
            });
            if before.is_none_or(|(then, _)| now.duration_since(then) >= Duration::from_secs(1)) {
                seen.insert(t.topic.clone(), (now, written));
            }
            let mut value = json!(t);
            value["ratePerSecond"] = json!(rate.map(|r| (r * 10.0).round() / 10.0));
            value
        })
        .collect();
    seen.retain(|name, _| topics.iter().any(|t| &t.topic == name));
    Ok(Json(json!({ "kafka": kafka, "topics": listed })))
}

/// `POST /topics/{topic}/infer` with an optional body `{"messages": N, "avroSchema": {…},
/// "tableName": "…"}`: samples the newest N messages (500 by default, at most 10,000).
async fn infer(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(topic): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    reads_everything(&caller)?;
    let kafka = kafka_of(&api)?;
    let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("the request body is not JSON: {e}")))?
    };
    let Value::Object(request) = request else {
        return Err(ApiError::BadRequest("the request body must be a JSON object".into()));
    };
    for key in request.keys() {
        if !["messages", "avroSchema", "tableName"].contains(&key.as_str()) {
            return Err(ApiError::BadRequest(format!(
                "unknown field \"{key}\" (expected messages, avroSchema or tableName)"
            )));
        }
    }
    let messages = match request.get("messages") {
        None => DEFAULT_SAMPLE,
        Some(n) => n
            .as_u64()
            .filter(|n| (1..=MAX_SAMPLE).contains(n))
            .ok_or_else(|| ApiError::BadRequest(format!("messages must be a count from 1 to {MAX_SAMPLE}, got {n}")))?,
    };
    let format = match request.get("avroSchema") {
        None | Some(Value::Null) => SampleFormat::Json,
        Some(Value::String(text)) => SampleFormat::Avro { schema: text.clone() },
        Some(schema @ Value::Object(_)) => SampleFormat::Avro { schema: schema.to_string() },
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "avroSchema must be an Avro schema (object or text), got {other}"
            )))
        }
    };
    let table_name = match request.get("tableName") {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => return Err(ApiError::BadRequest(format!("tableName must be text, got {other}"))),
    };
    let reading = topic.clone();
    let proposal = blocking(move || {
        let explorer = Explorer::connect(&kafka)?;
        let budget = Budget { max_messages: messages as usize, max_bytes: 64 << 20, deadline: Duration::from_secs(10) };
        let sampled = explorer.read(&reading, Range::Last(messages), budget)?;
        let payloads: Vec<&[u8]> = sampled.iter().map(|m| m.payload.as_slice()).collect();
        Ok(propose(&reading, &kafka, &format, &payloads)?)
    })
    .await?;
    tracing::info!(topic = %topic, sampled = proposal.sample.messages, "proposed a table for a topic");
    let mut answer = json!(proposal);
    if let Some(name) = table_name {
        answer["schema"]["schemaName"] = json!(name);
        answer["tableConfig"]["tableName"] = json!(name);
        answer["tableConfig"]["segmentsConfig"]["schemaName"] = json!(name);
    }
    Ok(Json(answer))
}
