//! The read side of Pinot's controller API, served on the broker's port: what tables exist
//! and what their schemas and configs are. pinotdb's SQLAlchemy dialect lists tables and
//! columns through these. Creating and changing tables over HTTP is not here yet.

use crate::service::QueryService;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

pub fn routes() -> Router<Arc<QueryService>> {
    Router::new()
        .route("/tables", get(list_tables))
        .route("/tables/{table}", get(table_config))
        .route("/tables/{table}/schema", get(table_schema))
        .route("/schemas", get(list_schemas))
        .route("/schemas/{schema}", get(table_schema))
}

async fn list_tables(State(service): State<Arc<QueryService>>) -> Json<serde_json::Value> {
    Json(json!({ "tables": service.table_names() }))
}

async fn list_schemas(State(service): State<Arc<QueryService>>) -> Json<serde_json::Value> {
    let names: Vec<String> = service.table_names().iter().filter_map(|t| service.table(t)).map(|t| t.schema.name().to_string()).collect();
    Json(json!(names))
}

fn not_found(what: &str, name: &str) -> Response {
    (StatusCode::NOT_FOUND, Json(json!({ "code": 404, "error": format!("{what} {name} does not exist") }))).into_response()
}

async fn table_config(State(service): State<Arc<QueryService>>, Path(table): Path<String>) -> Response {
    let raw = table.trim_end_matches("_OFFLINE").trim_end_matches("_REALTIME");
    match service.table(raw) {
        // Pinot answers with the config under its table type.
        Some(t) => Json(json!({ t.config.table_type.suffix(): t.config.to_json() })).into_response(),
        None => not_found("Table", &table),
    }
}

async fn table_schema(State(service): State<Arc<QueryService>>, Path(name): Path<String>) -> Response {
    match service.table(&name) {
        Some(t) => Json(t.schema.to_json()).into_response(),
        None => not_found("Schema", &name),
    }
}
