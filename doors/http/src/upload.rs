//! Batch upload, as Pinot names it: `POST /ingestFromFile?tableNameWithType=t_OFFLINE&
//! batchConfigMapStr={"inputFormat":"csv"}` with the file as multipart field `file`, and
//! `POST /ingestFromURI?…&sourceURIStr=file:///path` for a file already on this machine.
//! Both go through the same importer as `cuvee import`: bad rows are skipped and counted
//! in the answer, never silently dropped.

use crate::error::{blocking, ApiError};
use crate::Api;
use axum::extract::{Multipart, Query, State};
use axum::Json;
use cuvee_ingest::{FileFormat, ImportReport};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

static UPLOADS: AtomicU64 = AtomicU64::new(0);

struct UploadRequest {
    table: String,
    format: Option<FileFormat>,
}

fn parse_request(params: &HashMap<String, String>) -> Result<UploadRequest, ApiError> {
    let table = params
        .get("tableNameWithType")
        .or_else(|| params.get("tableName"))
        .ok_or_else(|| ApiError::BadRequest("the query parameter tableNameWithType is missing".into()))?
        .clone();
    let mut format = None;
    if let Some(config) = params.get("batchConfigMapStr") {
        let map: HashMap<String, Value> = serde_json::from_str(config)
            .map_err(|e| ApiError::BadRequest(format!("batchConfigMapStr is not a JSON object: {e}")))?;
        if let Some(name) = map.get("inputFormat").and_then(Value::as_str) {
            format = Some(FileFormat::parse(name).ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "batchConfigMapStr.inputFormat \"{name}\" is not one of csv, json, avro, parquet"
                ))
            })?);
        }
    }
    Ok(UploadRequest { table, format })
}

pub async fn ingest_from_file(
    State(api): State<Arc<Api>>,
    Query(params): Query<HashMap<String, String>>,
    mut multipart: Multipart,
) -> Result<Json<Value>, ApiError> {
    let request = parse_request(&params)?;
    // The first field is the file (Pinot sends one); anything after it is ignored.
    let mut upload = None;
    if let Some(field) =
        multipart.next_field().await.map_err(|e| ApiError::BadRequest(format!("reading the multipart body: {e}")))?
    {
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| ApiError::BadRequest(format!("reading the uploaded file: {e}")))?;
        upload = Some((file_name, bytes));
    }
    let (file_name, bytes) = upload.ok_or_else(|| ApiError::BadRequest("the multipart body has no file".into()))?;
    let extension = file_name
        .as_deref()
        .and_then(|n| std::path::Path::new(n).extension())
        .and_then(|e| e.to_str())
        .unwrap_or("upload")
        .to_string();
    let dir = api.node()?.upload_dir();
    let path = dir.join(format!("{}-{}.{extension}", std::process::id(), UPLOADS.fetch_add(1, Ordering::Relaxed)));
    let written = path.clone();
    blocking(move || {
        std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&written, &bytes))
            .map_err(|e| ApiError::Interrupted(format!("storing the upload in {}: {e}", written.display())))
    })
    .await?;
    let result = run_import(&api, &request, path.clone()).await;
    let _ = std::fs::remove_file(&path);
    result
}

pub async fn ingest_from_uri(
    State(api): State<Arc<Api>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let request = parse_request(&params)?;
    let uri = params
        .get("sourceURIStr")
        .ok_or_else(|| ApiError::BadRequest("the query parameter sourceURIStr is missing".into()))?;
    let Some(path) = uri.strip_prefix("file://") else {
        return Err(ApiError::BadRequest(format!("sourceURIStr {uri}: only file:// URIs are supported")));
    };
    run_import(&api, &request, PathBuf::from(path)).await
}

async fn run_import(api: &Api, request: &UploadRequest, path: PathBuf) -> Result<Json<Value>, ApiError> {
    let node = Arc::clone(api.node()?);
    let table = request.table.clone();
    let format = request.format;
    let report: ImportReport = blocking(move || Ok(node.import(&table, &[path], format)?)).await?;
    let bad: Vec<String> = report.bad_rows.iter().take(10).map(|b| b.to_string()).collect();
    Ok(Json(json!({
        "status": format!("Successfully ingested file into table: {} as segment: {}", request.table, report.segments.join(", ")),
        "rowsRead": report.rows_read,
        "rowsImported": report.rows_imported,
        "rowsFiltered": report.rows_filtered,
        "badRows": report.bad_row_count,
        "firstBadRows": bad,
    })))
}
