//! Pinot's broker HTTP API: `POST /query/sql` (`{"sql": "...", "queryOptions": "k=v;…"}`),
//! `GET /query/sql?sql=…`, `POST /query` (Pinot's multi-stage endpoint, same engine here),
//! Errors come back as HTTP 200 with `exceptions` and
//! an `X-Pinot-Error-Code` header, or with a matching HTTP status when the client sends
//! `Pinot-Use-Http-Status-For-Errors: true`, as Pinot does.

use crate::controller::Caller;
use crate::Api;
use axum::body::Bytes;
use axum::extract::{Extension, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use cuvee_broker::{BrokerResponse, ErrorCode};
use serde_json::Value as Json_;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/query/sql", get(get_sql).post(post_sql))
        // Pinot's multi-stage endpoint: joins, subqueries and windows work on both here.
        .route("/query", post(post_multi_stage))
}

async fn post_sql(State(api): State<Arc<Api>>, Extension(caller): Caller, headers: HeaderMap, body: Bytes) -> Response {
    run_posted(&api, &caller, &headers, &body, None).await
}

/// `POST /query`: as `/query/sql` with `useMultistageEngine=true` (no default LIMIT).
async fn post_multi_stage(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    run_posted(&api, &caller, &headers, &body, Some("useMultistageEngine=true")).await
}

async fn run_posted(
    api: &Api,
    caller: &cuvee_access::Principal,
    headers: &HeaderMap,
    body: &[u8],
    forced_options: Option<&str>,
) -> Response {
    let request: Json_ = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return respond(
                BrokerResponse::error(ErrorCode::QueryValidation, format!("the request body is not valid JSON: {e}")),
                headers,
            )
        }
    };
    let Some(sql) = request.get("sql").and_then(Json_::as_str) else {
        return respond(
            BrokerResponse::error(ErrorCode::QueryValidation, "Payload is missing the query string field 'sql'"),
            headers,
        );
    };
    let options = [forced_options, request.get("queryOptions").and_then(Json_::as_str)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(";");
    let options = (!options.is_empty()).then_some(options);
    respond(api.service.query(sql, options.as_deref(), caller).await, headers)
}

async fn get_sql(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(sql) = params.get("sql") else {
        return respond(
            BrokerResponse::error(ErrorCode::QueryValidation, "the query string parameter 'sql' is missing"),
            &headers,
        );
    };
    respond(api.service.query(sql, params.get("queryOptions").map(String::as_str), &caller).await, &headers)
}

fn respond(response: BrokerResponse, request_headers: &HeaderMap) -> Response {
    let code = response.error_code();
    let use_status = request_headers
        .get("Pinot-Use-Http-Status-For-Errors")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let status = match (code, use_status) {
        (Some(c), true) => StatusCode::from_u16(status_for(c)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        _ => StatusCode::OK,
    };
    let mut http = (status, Json(response)).into_response();
    if let Some(c) = code {
        if let Ok(value) = HeaderValue::from_str(&c.to_string()) {
            http.headers_mut().insert("X-Pinot-Error-Code", value);
        }
    }
    http
}

fn status_for(code: i32) -> u16 {
    ErrorCode::from_code(code).map_or(500, ErrorCode::http_status)
}
