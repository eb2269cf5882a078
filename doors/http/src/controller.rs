//! Pinot's controller API, served on the broker's port (embedded cuvee has one process, so
//! one port; Pinot's controller port 9000 can be given to a second listener later):
//! schemas, tables, segments, sizes and batch upload, with Pinot's request and response
//! shapes, and the consuming-table controls (pause, resume, force commit, consuming
//! segments' lag, dead letters). Errors are `{"code": <http status>, "error": "..."}` as
//! Pinot's controller sends.

use crate::error::{blocking, ApiError};
use crate::{realtime, upload, Api};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use cuvee_access::{Permission, Principal};
use cuvee_node::raw_table_name;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Api>> {
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
        .route("/segments/{table}/metadata", get(segments_metadata))
        .route("/segments/{table}/{segment}", delete(delete_segment))
        // The upload streams to disk under its own limit (`ApiOptions::max_upload_bytes`);
        // every other body keeps axum's default limit (2 MB).
        .route("/ingestFromFile", post(upload::ingest_from_file).layer(DefaultBodyLimit::disable()))
        .route("/ingestFromURI", post(upload::ingest_from_uri))
}

/// The caller, as the guard found it.
pub type Caller = Extension<Principal>;

/// `principal` may do `permission` to `table`, or the request is refused naming both.
pub fn allow(principal: &Principal, permission: Permission, table: &str) -> Result<(), ApiError> {
    principal.check(permission, table).map_err(ApiError::Access)
}

/// The `field` of a JSON body (a table or schema name), to check permission on before the
/// body is applied.
/// CREATE on the table or schema a request body names. A caller who may create anything
/// is not asked for a name, so a malformed body gets the parser's own error.
fn allow_creating(caller: &Principal, body: &str, field: &str) -> Result<(), ApiError> {
    if caller.may_everywhere(Permission::Create) {
        return Ok(());
    }
    allow(caller, Permission::Create, &named_in(body, field)?)
}

fn named_in(body: &str, field: &str) -> Result<String, ApiError> {
    let value: Value =
        serde_json::from_str(body).map_err(|e| ApiError::BadRequest(format!("the request body is not JSON: {e}")))?;
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| ApiError::BadRequest(format!("the request body has no \"{field}\"")))
}

fn text(body: Bytes) -> Result<String, ApiError> {
    String::from_utf8(body.to_vec()).map_err(|e| ApiError::BadRequest(format!("the request body is not UTF-8: {e}")))
}

fn status(message: String) -> Json<Value> {
    Json(json!({ "status": message }))
}

fn added(unrecognized: std::collections::BTreeMap<String, Value>, message: String) -> Json<Value> {
    Json(json!({ "unrecognizedProperties": unrecognized, "status": message }))
}

async fn list_tables(State(api): State<Arc<Api>>, Extension(caller): Caller) -> Json<Value> {
    let tables: Vec<String> =
        api.service.table_names().into_iter().filter(|t| caller.may(Permission::Read, t)).collect();
    Json(json!({ "tables": tables }))
}

async fn list_schemas(State(api): State<Arc<Api>>, Extension(caller): Caller) -> Json<Value> {
    match api.node() {
        Ok(node) => {
            Json(json!(node.schema_names().into_iter().filter(|s| caller.may(Permission::Read, s)).collect::<Vec<_>>()))
        }
        // A cluster broker: the schemas of the tables its servers serve.
        Err(_) => Json(json!(api
            .service
            .table_names()
            .iter()
            .filter_map(|t| api.service.table(t))
            .map(|t| t.schema.name().to_string())
            .filter(|s| caller.may(Permission::Read, s))
            .collect::<Vec<_>>())),
    }
}

async fn table_config(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &table)?;
    let t =
        api.service.table(raw_table_name(&table)).ok_or_else(|| cuvee_node::NodeError::TableNotFound(table.clone()))?;
    // Pinot answers with the config under its table type.
    // Secrets (Kafka passwords) are never answered; `${NAME}` references are.
    Ok(Json(json!({ t.config.table_type.suffix(): t.config.redacted().to_json() })))
}

async fn table_schema(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &table)?;
    let t =
        api.service.table(raw_table_name(&table)).ok_or_else(|| cuvee_node::NodeError::TableNotFound(table.clone()))?;
    Ok(Json(t.schema.to_json()))
}

async fn schema(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &name)?;
    let schema = api.node()?.schema(&name).ok_or(cuvee_node::NodeError::SchemaNotFound(name))?;
    Ok(Json(schema.to_json()))
}

async fn create_schema(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let node = Arc::clone(api.node()?);
    let body = text(body)?;
    allow_creating(&caller, &body, "schemaName")?;
    let schema = blocking(move || Ok(node.put_schema(&body, None)?)).await?;
    Ok(added(schema.unrecognized_properties(), format!("{} successfully added", schema.name())))
}

async fn update_schema(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Update, &name)?;
    let node = Arc::clone(api.node()?);
    let body = text(body)?;
    let schema = blocking(move || Ok(node.put_schema(&body, Some(&name))?)).await?;
    Ok(added(schema.unrecognized_properties(), format!("{} successfully added", schema.name())))
}

async fn delete_schema(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Delete, &name)?;
    let node = Arc::clone(api.node()?);
    let deleting = name.clone();
    blocking(move || Ok(node.delete_schema(&deleting)?)).await?;
    Ok(status(format!("Schema {name} deleted")))
}

async fn create_table(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let node = Arc::clone(api.node()?);
    let body = text(body)?;
    allow_creating(&caller, &body, "tableName")?;
    let config = blocking(move || Ok(node.put_table(&body, true, None)?)).await?;
    Ok(added(config.unrecognized_properties(), format!("Table {} successfully added", config.table_name_with_type())))
}

async fn update_table(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Update, &table)?;
    let node = Arc::clone(api.node()?);
    let body = text(body)?;
    let config = blocking(move || Ok(node.put_table(&body, false, Some(&table))?)).await?;
    Ok(added(config.unrecognized_properties(), format!("Table config updated for {}", config.table_name_with_type())))
}

async fn delete_table(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Delete, &table)?;
    let node = Arc::clone(api.node()?);
    let deleted = blocking(move || Ok(node.delete_table(&table)?)).await?;
    Ok(status(format!("Tables: [{deleted}] deleted")))
}

async fn list_segments(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &table)?;
    let node = Arc::clone(api.node()?);
    let listed = table.clone();
    let segments = blocking(move || Ok(node.segments(&listed)?)).await?;
    let names: Vec<&str> = segments.iter().map(|s| s.name.as_str()).collect();
    let kind = api.service.table(raw_table_name(&table)).map_or("OFFLINE", |t| t.config.table_type.suffix());
    // Published segments this server cannot read are listed as Pinot lists them, and
    // again with their state and reason (queries over the table say so too).
    let unavailable: Vec<Value> = api
        .service
        .segment_table(raw_table_name(&table))
        .map(|t| t.unavailable())
        .unwrap_or_default()
        .into_iter()
        .map(|u| json!({ "segmentName": u.segment, "state": "ERROR", "reason": u.reason }))
        .collect();
    Ok(Json(json!([{ kind: names, "segmentsInError": unavailable }])))
}

/// `GET /segments/{table}/metadata` (Pinot's path): every segment this process holds, sealed
/// ones with their docs, time range, offsets, size and each column's indexes and bytes, and
/// the consuming ones with their docs and newest row, as the console's segment browser shows
/// them.
async fn segments_metadata(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &table)?;
    let raw = raw_table_name(&table);
    let segments = api.service.segment_table(raw).ok_or_else(|| cuvee_node::NodeError::TableNotFound(table.clone()))?;
    let listing = segments.listing();
    let mut answer: Vec<Value> = listing
        .sealed
        .iter()
        .map(|s| {
            let meta = s.metadata();
            let columns: Vec<Value> = meta
                .columns
                .iter()
                .map(|c| {
                    json!({
                        "name": c.name, "dataType": c.data_type.name(), "singleValue": c.single_value,
                        "dictionary": c.dictionary, "cardinality": c.cardinality, "sorted": c.is_sorted,
                        "min": c.min, "max": c.max, "nullCount": c.null_count,
                        "totalBytes": c.total_bytes(), "indexes": c.bytes,
                    })
                })
                .collect();
            json!({
                "segmentName": meta.name, "state": "ONLINE", "totalDocs": meta.num_docs,
                "sizeBytes": s.size_bytes(), "formatVersion": meta.format_version,
                "timeColumn": meta.time_column, "startTimeMs": meta.bounds.start_time_ms, "endTimeMs": meta.bounds.end_time_ms,
                "partition": meta.bounds.partition, "startOffset": meta.bounds.start_offset, "endOffset": meta.bounds.end_offset,
                "creationTimeMs": meta.bounds.creation_time_ms, "sortedColumn": meta.sorted_column, "columns": columns,
            })
        })
        .collect();
    answer.extend(listing.consuming.iter().map(|c| {
        json!({
            "segmentName": c.name, "state": "CONSUMING", "totalDocs": c.num_docs, "partition": c.partition,
            "latestIngestionMs": c.latest_ingestion_ms,
        })
    }));
    answer.extend(
        segments
            .unavailable()
            .into_iter()
            .map(|u| json!({ "segmentName": u.segment, "state": "ERROR", "reason": u.reason })),
    );
    Ok(Json(json!({ "table": raw, "segments": answer })))
}

async fn delete_segment(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path((table, segment)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Delete, &table)?;
    let node = Arc::clone(api.node()?);
    let deleting = segment.clone();
    blocking(move || Ok(node.delete_segment(&table, &deleting)?)).await?;
    Ok(status(format!("Segment {segment} deleted")))
}

/// Pinot's `TableSizeReader` answer: one server (this process) reports every segment.
async fn table_size(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Path(table): Path<String>,
) -> Result<Json<Value>, ApiError> {
    allow(&caller, Permission::Read, &table)?;
    let node = Arc::clone(api.node()?);
    let listed = table.clone();
    let segments = blocking(move || Ok(node.segments(&listed)?)).await?;
    let raw = raw_table_name(&table);
    let total: u64 = segments.iter().map(|s| s.size_bytes).sum();
    let per_segment: serde_json::Map<String, Value> = segments
        .iter()
        .map(|s| {
            let size = json!({ "reportedSizeInBytes": s.size_bytes, "estimatedSizeInBytes": s.size_bytes, "serverInfo": { api.instance_name(): { "segmentName": s.name, "diskSizeInBytes": s.size_bytes } } });
            (s.name.clone(), size)
        })
        .collect();
    let is_realtime = api.service.table(raw).is_some_and(|t| t.config.table_type == cuvee_catalog::TableType::Realtime);
    let missing = api.service.segment_table(raw).map_or(0, |t| t.unavailable().len());
    let detail = json!({ "reportedSizeInBytes": total, "estimatedSizeInBytes": total, "missingSegments": missing, "segments": per_segment });
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
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Query(_params): Query<HashMap<String, String>>,
) -> Json<Value> {
    let (host, port) = api.address();
    let entry = json!([{ "host": host, "port": port, "instanceName": api.instance_name() }]);
    let map: serde_json::Map<String, Value> = api
        .service
        .table_names()
        .into_iter()
        .filter(|t| caller.may(Permission::Read, t))
        .filter_map(|t| api.service.table(&t))
        .map(|t| (t.config.table_name_with_type(), entry.clone()))
        .collect();
    Json(Value::Object(map))
}
