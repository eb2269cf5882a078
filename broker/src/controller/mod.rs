//! Pinot's controller API, served on the broker's port (embedded cuvee has one process, so
//! one port; Pinot's controller port 9000 can be given to a second listener later):
//! schemas, tables, segments, sizes and batch upload, with Pinot's request and response
//! shapes, and the consuming-table controls (pause, resume, force commit, consuming
//! segments' lag, dead letters). Errors are `{"code": <http status>, "error": "..."}` as Pinot's controller sends.

pub mod metastore;
mod realtime;
mod upload;

use crate::Broker;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use metastore::{raw_table_name, AdminError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Largest upload `ingestFromFile` takes in one request (Pinot's own limit is similar in
/// spirit: batch upload is for small files; big ones go through `cuvee import`).
pub const MAX_UPLOAD_BYTES: usize = 1 << 30;

pub fn routes() -> Router<Arc<Broker>> {
    Router::new()
        .route("/tables", get(list_tables).post(create_table))
        .route("/tables/livebrokers", get(live_brokers))
        .route("/tables/{table}", get(table_config).put(update_table).delete(delete_table))
        .route("/tables/{table}/schema", get(table_schema))
        .route("/tables/{table}/size", get(table_size))
        .route("/tables/{table}/pauseConsumption", post(realtime::pause))
        .route("/tables/{table}/resumeConsumption", post(realtime::resume))
        .route("/tables/{table}/pauseStatus", get(realtime::status))
        .route("/tables/{table}/forceCommit", post(realtime::force_commit))
        .route("/tables/{table}/consumingSegmentsInfo", get(realtime::consuming_segments_info))
        .route("/tables/{table}/deadLetters", get(realtime::dead_letters))
        .route("/schemas", get(list_schemas).post(create_schema))
        .route("/schemas/{schema}", get(schema).put(update_schema).delete(delete_schema))
        .route("/segments/{table}", get(list_segments))
        .route("/segments/{table}/{segment}", delete(delete_segment))
        .route("/ingestFromFile", post(upload::ingest_from_file).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)))
        .route("/ingestFromURI", post(upload::ingest_from_uri))
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(json!({ "code": self.status(), "error": self.to_string() }))).into_response()
    }
}

fn text(body: &Bytes) -> Result<&str, AdminError> {
    std::str::from_utf8(body).map_err(|e| AdminError::Invalid(format!("the request body is not UTF-8: {e}")))
}

fn status(message: String) -> Json<Value> {
    Json(json!({ "status": message }))
}

fn added(unrecognized: std::collections::BTreeMap<String, Value>, message: String) -> Json<Value> {
    Json(json!({ "unrecognizedProperties": unrecognized, "status": message }))
}

async fn list_tables(State(broker): State<Arc<Broker>>) -> Json<Value> {
    Json(json!({ "tables": broker.service.table_names() }))
}

async fn list_schemas(State(broker): State<Arc<Broker>>) -> Json<Value> {
    match broker.metastore() {
        Ok(metastore) => Json(json!(metastore.schema_names())),
        // A cluster broker: the schemas of the tables its servers serve.
        Err(_) => Json(json!(broker
            .service
            .table_names()
            .iter()
            .filter_map(|t| broker.service.table(t))
            .map(|t| t.schema.name().to_string())
            .collect::<Vec<_>>())),
    }
}

async fn table_config(State(broker): State<Arc<Broker>>, Path(table): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = broker
        .service
        .table(raw_table_name(&table))
        .ok_or_else(|| AdminError::NotFound(format!("Table {table} does not exist")))?;
    // Pinot answers with the config under its table type.
    Ok(Json(json!({ t.config.table_type.suffix(): t.config.to_json() })))
}

async fn table_schema(State(broker): State<Arc<Broker>>, Path(table): Path<String>) -> Result<Json<Value>, AdminError> {
    let t = broker
        .service
        .table(raw_table_name(&table))
        .ok_or_else(|| AdminError::NotFound(format!("Table {table} does not exist")))?;
    Ok(Json(t.schema.to_json()))
}

async fn schema(State(broker): State<Arc<Broker>>, Path(name): Path<String>) -> Result<Json<Value>, AdminError> {
    let schema =
        broker.metastore()?.schema(&name).ok_or_else(|| AdminError::NotFound(format!("Schema {name} not found")))?;
    Ok(Json(schema.to_json()))
}

async fn create_schema(State(broker): State<Arc<Broker>>, body: Bytes) -> Result<Json<Value>, AdminError> {
    let schema = broker.metastore()?.put_schema(text(&body)?, None)?;
    Ok(added(schema.unrecognized_properties(), format!("{} successfully added", schema.name())))
}

async fn update_schema(
    State(broker): State<Arc<Broker>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    let schema = broker.metastore()?.put_schema(text(&body)?, Some(&name))?;
    Ok(added(schema.unrecognized_properties(), format!("{} successfully added", schema.name())))
}

async fn delete_schema(State(broker): State<Arc<Broker>>, Path(name): Path<String>) -> Result<Json<Value>, AdminError> {
    broker.metastore()?.delete_schema(&name)?;
    Ok(status(format!("Schema {name} deleted")))
}

async fn create_table(State(broker): State<Arc<Broker>>, body: Bytes) -> Result<Json<Value>, AdminError> {
    let config = broker.metastore()?.put_table(text(&body)?, true, None)?;
    Ok(added(config.unrecognized_properties(), format!("Table {} successfully added", config.table_name_with_type())))
}

async fn update_table(
    State(broker): State<Arc<Broker>>,
    Path(table): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, AdminError> {
    let config = broker.metastore()?.put_table(text(&body)?, false, Some(&table))?;
    Ok(added(config.unrecognized_properties(), format!("Table config updated for {}", config.table_name_with_type())))
}

async fn delete_table(State(broker): State<Arc<Broker>>, Path(table): Path<String>) -> Result<Json<Value>, AdminError> {
    let deleted = broker.metastore()?.delete_table(&table)?;
    Ok(status(format!("Tables: [{deleted}] deleted")))
}

async fn list_segments(
    State(broker): State<Arc<Broker>>,
    Path(table): Path<String>,
) -> Result<Json<Value>, AdminError> {
    let segments = broker.metastore()?.segments(&table)?;
    let names: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
    let kind = broker.service.table(raw_table_name(&table)).map_or("OFFLINE", |t| t.config.table_type.suffix());
    Ok(Json(json!([{ kind: names }])))
}

async fn delete_segment(
    State(broker): State<Arc<Broker>>,
    Path((table, segment)): Path<(String, String)>,
) -> Result<Json<Value>, AdminError> {
    broker.metastore()?.delete_segment(&table, &segment)?;
    Ok(status(format!("Segment {segment} deleted")))
}

/// Pinot's `TableSizeReader` answer: one server (this process) reports every segment.
async fn table_size(State(broker): State<Arc<Broker>>, Path(table): Path<String>) -> Result<Json<Value>, AdminError> {
    let segments = broker.metastore()?.segments(&table)?;
    let raw = raw_table_name(&table);
    let total: u64 = segments.iter().map(|s| s.size_bytes).sum();
    let per_segment: serde_json::Map<String, Value> = segments
        .iter()
        .map(|s| {
            let size = json!({ "reportedSizeInBytes": s.size_bytes, "estimatedSizeInBytes": s.size_bytes, "serverInfo": { broker.instance_name(): { "segmentName": s.name, "diskSizeInBytes": s.size_bytes } } });
            (s.name.clone(), size)
        })
        .collect();
    let is_realtime =
        broker.service.table(raw).is_some_and(|t| t.config.table_type == cuvee_catalog::TableType::Realtime);
    let detail = json!({ "reportedSizeInBytes": total, "estimatedSizeInBytes": total, "missingSegments": 0, "segments": per_segment });
    let (offline, realtime) = if is_realtime { (Value::Null, detail) } else { (detail, Value::Null) };
    Ok(Json(json!({
        "tableName": raw,
        "reportedSizeInBytes": total,
        "estimatedSizeInBytes": total,
        "offlineSegments": offline,
        "realtimeSegments": realtime,
    })))
}

/// Every table is served by this process's broker.
async fn live_brokers(
    State(broker): State<Arc<Broker>>,
    Query(_params): Query<HashMap<String, String>>,
) -> Json<Value> {
    let (host, port) = broker.address();
    let entry = json!([{ "host": host, "port": port, "instanceName": broker.instance_name() }]);
    let map: serde_json::Map<String, Value> = broker
        .service
        .table_names()
        .into_iter()
        .filter_map(|t| broker.service.table(&t))
        .map(|t| (t.config.table_name_with_type(), entry.clone()))
        .collect();
    Json(Value::Object(map))
}
