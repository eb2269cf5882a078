//! Batch upload, as Pinot names it: `POST /ingestFromFile?tableNameWithType=t_OFFLINE&
//! batchConfigMapStr={"inputFormat":"csv"}` with the file as multipart field `file`, and
//! `POST /ingestFromURI?…&sourceURIStr=file:///path` for a file already on this machine.
//! Both go through the same importer as `cuvee import`: bad rows are skipped and counted
//! in the answer, never silently dropped.

use crate::controller::{allow, Caller};
use crate::error::{blocking, ApiError};
use crate::Api;
use axum::extract::{Extension, Multipart, Query, State};
use axum::Json;
use cuvee_access::Permission;
use cuvee_ingest::{FileFormat, ImportReport};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

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
    Extension(caller): Caller,
    Query(params): Query<HashMap<String, String>>,
    mut multipart: Multipart,
) -> Result<Json<Value>, ApiError> {
    let request = parse_request(&params)?;
    allow(&caller, Permission::Update, &request.table)?;
    let node = Arc::clone(api.node()?);
    // The first field is the file (Pinot sends one); anything after it is ignored.
    let Some(mut field) =
        multipart.next_field().await.map_err(|e| ApiError::BadRequest(format!("reading the multipart body: {e}")))?
    else {
        return Err(ApiError::BadRequest("the multipart body has no file".into()));
    };
    let extension = field
        .file_name()
        .and_then(|n| std::path::Path::new(n).extension())
        .and_then(|e| e.to_str())
        .filter(|e| e.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("upload")
        .to_string();
    let dir = node.upload_dir();
    tokio::fs::create_dir_all(&dir).await.map_err(|e| ApiError::Interrupted(format!("{}: {e}", dir.display())))?;
    let path = dir.join(format!("{}-{}.{extension}", std::process::id(), cuvee_node::next_upload()));
    // Streamed to disk chunk by chunk, never held whole; past the limit the upload stops.
    let written = stream_to_file(&mut field, &path, api.options.max_upload_bytes).await;
    let result = match written {
        Ok(()) => run_import(&api, &request, path.clone()).await,
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&path).await;
    result
}

async fn stream_to_file(
    field: &mut axum::extract::multipart::Field<'_>,
    path: &std::path::Path,
    max_bytes: u64,
) -> Result<(), ApiError> {
    use tokio::io::AsyncWriteExt;
    let stored = |e: std::io::Error| ApiError::Interrupted(format!("storing the upload in {}: {e}", path.display()));
    let mut file = tokio::fs::File::create(path).await.map_err(stored)?;
    let mut size = 0u64;
    while let Some(chunk) =
        field.chunk().await.map_err(|e| ApiError::BadRequest(format!("reading the uploaded file: {e}")))?
    {
        size += chunk.len() as u64;
        if size > max_bytes {
            return Err(ApiError::TooLarge(format!(
                "the upload is larger than the server's limit of {} MiB (--max-upload-mb); import big files with `cuvee import` or from the deep store",
                max_bytes >> 20
            )));
        }
        file.write_all(&chunk).await.map_err(stored)?;
    }
    file.flush().await.map_err(stored)
}

pub async fn ingest_from_uri(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let request = parse_request(&params)?;
    allow(&caller, Permission::Update, &request.table)?;
    let uri = params
        .get("sourceURIStr")
        .ok_or_else(|| ApiError::BadRequest("the query parameter sourceURIStr is missing".into()))?
        .clone();
    let node = Arc::clone(api.node()?);
    let max_bytes = api.options.max_upload_bytes;
    let (path, copied) = blocking(move || Ok(node.ingest_source(&uri, max_bytes)?)).await?;
    let result = run_import(&api, &request, path.clone()).await;
    if copied {
        let _ = tokio::fs::remove_file(&path).await;
    }
    result
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
