//! Pinot's controller endpoints for consuming tables: pause, resume, force commit, the
//! consuming segments' offsets and lag — plus cuvee's dead-letter listing.

use crate::controller::{allow, Caller};
use crate::error::{blocking, ApiError};
use crate::Api;
use axum::extract::{Extension, Path, Query, State};
use axum::Json;
use cuvee_access::Permission;
use cuvee_ingest::realtime::{dead_letter, ConsumerState, IngestionStatus};
use cuvee_node::raw_table_name;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn pause_status(api: &Api, table: &str) -> Result<Value, ApiError> {
    let ingestion = api.node()?.ingestion(table)?;
    Ok(json!({
        "pauseFlag": ingestion.is_paused(),
        "consumingSegments": ingestion.consuming_segments(),
        "reasonCode": "ADMINISTRATIVE",
        "timestamp": chrono::Utc::now().to_rfc3339(),
    }))
}

pub async fn pause(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Update, &table)?;
    api.node()?.ingestion(&table)?.pause();
    Ok(Json(pause_status(&api, &table)?))
}

pub async fn resume(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Update, &table)?;
    api.node()?.ingestion(&table)?.resume();
    Ok(Json(pause_status(&api, &table)?))
}

pub async fn status(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &table)?;
    Ok(Json(pause_status(&api, &table)?))
}

/// Seals every consuming segment now; the answer names the job as Pinot does.
pub async fn force_commit(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Update, &table)?;
    let ingestion = api.node()?.ingestion(&table)?;
    let segments = ingestion.consuming_segments();
    let job = ingestion.force_commit();
    Ok(Json(
        json!({ "forceCommitJobId": format!("{}_forceCommit_{job}", raw_table_name(&table)), "consumingSegmentsToBeCommitted": segments }),
    ))
}

/// Pinot's `ConsumingSegmentsInfoMap`, and cuvee's fuller per-partition report beside it
/// (`partitions`: dead letters, offset gaps, last error, rows and bytes consuming).
pub async fn consuming_segments_info(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &table)?;
    let ingestion = api.node()?.ingestion(&table)?;
    // Asking Kafka for the latest offsets blocks briefly: not on the async workers.
    let report = blocking(move || Ok(ingestion.status())).await?;
    Ok(Json(consuming_info(&api.instance_name(), &report)))
}

fn consuming_info(server: &str, report: &IngestionStatus) -> Value {
    let mut segments = Map::new();
    for p in &report.partitions {
        let Some(segment) = &p.status.consuming_segment else { continue };
        let partition = p.status.partition.to_string();
        let text = |v: Option<i64>| v.map(|v| v.to_string());
        let state = match p.status.state {
            ConsumerState::Consuming | ConsumerState::Starting | ConsumerState::Retrying => "CONSUMING",
            ConsumerState::Paused | ConsumerState::Stopped | ConsumerState::Error => "NOT_CONSUMING",
        };
        segments.insert(
            segment.clone(),
            json!([{
                "serverName": server,
                "consumerState": state,
                "lastConsumedTimestamp": p.status.last_ingest_time_ms.unwrap_or(0),
                "partitionToOffsetMap": { &partition: text(p.status.current_offset) },
                "partitionOffsetInfo": {
                    "currentOffsetsMap": { &partition: text(p.status.current_offset) },
                    "latestUpstreamOffsetMap": { &partition: text(p.latest_offset) },
                    "recordsLagMap": { &partition: text(p.records_lag) },
                    "availabilityLagMsMap": { &partition: text(p.availability_lag_ms) },
                },
            }]),
        );
    }
    json!({
        "serversFailingToRespond": 0,
        "serversUnparsableRespond": 0,
        "_segmentToConsumingInfoMap": segments,
        "topic": report.topic,
        "paused": report.paused,
        "topicError": report.topic_error,
        "partitions": report.partitions,
    })
}

/// `GET /tables/{t}/deadLetters?partition=&limit=`: messages that could not be ingested,
/// with their partition, offset, reason and raw bytes (base64), newest first.
pub async fn dead_letters(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &table)?;
    let dir = api.node()?.table_dir_of(&table)?;
    let partition = match params.get("partition") {
        None => None,
        Some(p) => Some(
            p.parse::<u32>()
                .map_err(|_| ApiError::BadRequest(format!("partition must be a partition number, got \"{p}\"")))?,
        ),
    };
    let limit = match params.get("limit") {
        None => 100,
        Some(l) => {
            l.parse::<usize>().map_err(|_| ApiError::BadRequest(format!("limit must be a count, got \"{l}\"")))?
        }
    };
    let reading = table.clone();
    let letters = blocking(move || {
        dead_letter::list(&dir, partition, limit)
            .map_err(|e| ApiError::Interrupted(format!("reading dead letters of {reading}: {e}")))
    })
    .await?;
    Ok(Json(json!({ "table": table, "deadLetters": letters })))
}
