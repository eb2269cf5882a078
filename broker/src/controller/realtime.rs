//! Pinot's controller endpoints for consuming tables: pause, resume, force commit, the
//! consuming segments' offsets and lag — plus cuvee's dead-letter listing.

use crate::controller::metastore::{raw_table_name, AdminError};
use crate::Broker;
use axum::extract::{Path, Query, State};
use axum::Json;
use cuvee_ingest::realtime::{dead_letter, ConsumerState, IngestionStatus};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;

fn pause_status(broker: &Broker, table: &str) -> Result<Value, AdminError> {
    let ingestion = broker.metastore()?.ingestion(table)?;
    Ok(json!({
        "pauseFlag": ingestion.is_paused(),
        "consumingSegments": ingestion.consuming_segments(),
        "reasonCode": "ADMINISTRATIVE",
        "timestamp": chrono::Utc::now().to_rfc3339(),
    }))
}

pub async fn pause(State(broker): State<Arc<Broker>>, Path(table): Path<String>) -> Result<Json<Value>, AdminError> {
    broker.metastore()?.ingestion(&table)?.pause();
    Ok(Json(pause_status(&broker, &table)?))
}

pub async fn resume(State(broker): State<Arc<Broker>>, Path(table): Path<String>) -> Result<Json<Value>, AdminError> {
    broker.metastore()?.ingestion(&table)?.resume();
    Ok(Json(pause_status(&broker, &table)?))
}

pub async fn status(State(broker): State<Arc<Broker>>, Path(table): Path<String>) -> Result<Json<Value>, AdminError> {
    Ok(Json(pause_status(&broker, &table)?))
}

/// Seals every consuming segment now; the answer names the job as Pinot does.
pub async fn force_commit(
    State(broker): State<Arc<Broker>>,
    Path(table): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let ingestion = broker.metastore()?.ingestion(&table)?;
    let segments = ingestion.consuming_segments();
    let job = ingestion.force_commit();
    Ok(Json(
        json!({ "forceCommitJobId": format!("{}_forceCommit_{job}", raw_table_name(&table)), "consumingSegmentsToBeCommitted": segments }),
    ))
}

/// Pinot's `ConsumingSegmentsInfoMap`, and cuvee's fuller per-partition report beside it
/// (`partitions`: dead letters, offset gaps, last error, rows and bytes consuming).
pub async fn consuming_segments_info(
    State(broker): State<Arc<Broker>>,
    Path(table): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let ingestion = broker.metastore()?.ingestion(&table)?;
    // Asking Kafka for the latest offsets blocks briefly: not on the async workers.
    let report = tokio::task::spawn_blocking(move || ingestion.status())
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(Json(consuming_info(&broker.instance_name(), &report)))
}

fn consuming_info(server: &str, report: &IngestionStatus) -> Value {
    let mut segments = Map::new();
    for p in &report.partitions {
        let Some(segment) = &p.status.consuming_segment else { continue };
        let partition = p.status.partition.to_string();
        let text = |v: Option<i64>| v.map(|v| v.to_string());
        let state = match p.status.state {
            ConsumerState::Consuming | ConsumerState::Starting | ConsumerState::Retrying => "CONSUMING",
            ConsumerState::Paused | ConsumerState::Stopped => "NOT_CONSUMING",
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
    State(broker): State<Arc<Broker>>,
    Path(table): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, AdminError> {
    let dir = broker.metastore()?.table_dir_of(&table)?;
    let partition = match params.get("partition") {
        None => None,
        Some(p) => Some(
            p.parse::<u32>()
                .map_err(|_| AdminError::Invalid(format!("partition must be a partition number, got \"{p}\"")))?,
        ),
    };
    let limit = match params.get("limit") {
        None => 100,
        Some(l) => {
            l.parse::<usize>().map_err(|_| AdminError::Invalid(format!("limit must be a count, got \"{l}\"")))?
        }
    };
    let letters = tokio::task::spawn_blocking(move || dead_letter::list(&dir, partition, limit))
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))?
        .map_err(|e| AdminError::Internal(format!("reading dead letters of {table}: {e}")))?;
    Ok(Json(json!({ "table": table, "deadLetters": letters })))
}
