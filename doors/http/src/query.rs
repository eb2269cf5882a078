//! Pinot's broker HTTP API: `POST /query/sql` (`{"sql": "...", "queryOptions": "k=v;…"}`),
//! `GET /query/sql?sql=…`, `POST /query` (Pinot's multi-stage endpoint, same engine here),
//! Errors come back as HTTP 200 with `exceptions` and
//! an `X-Pinot-Error-Code` header, or with a matching HTTP status when the client sends
//! `Pinot-Use-Http-Status-For-Errors: true`, as Pinot does.

use crate::controller::Caller;
use crate::Api;
use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use cuvee_broker::metrics::{Door, StatementRecord};
use cuvee_broker::{BrokerResponse, ErrorCode};
use serde_json::Value as Json_;
use std::collections::HashMap;
use std::sync::Arc;

pub fn routes() -> Router<Arc<Api>> {
    Router::new()
        .route("/query/sql", get(get_sql).post(post_sql))
        // Pinot's multi-stage endpoint: joins, subqueries and windows work on both here.
        .route("/query", post(post_multi_stage))
        .route("/queries", get(running_queries))
        .route("/query/{id}", delete(cancel_query))
}

/// `DELETE /query/{id}`: stops a running statement on any door (Pinot 503 on HTTP,
/// SQLSTATE 57014 on Postgres, CANCELLED on Flight). Its user may, and so may a caller
/// who can read every table.
async fn cancel_query(State(api): State<Arc<Api>>, Extension(caller): Caller, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        let message = format!("{id:?} is not a query id (GET /queries lists them)");
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "code": 400, "error": message }))).into_response();
    };
    let metrics = api.service.metrics();
    match metrics.statement(id) {
        None => {
            let message = format!("no query {id} is running");
            (StatusCode::NOT_FOUND, Json(serde_json::json!({ "code": 404, "error": message }))).into_response()
        }
        Some(statement) if !caller.reads_everything() && statement.user != caller.name() => {
            crate::error::ApiError::Access(cuvee_access::AccessError::Denied {
                user: caller.name().to_string(),
                permission: "DELETE",
                table: format!("query {id}"),
            })
            .into_response()
        }
        Some(_) => {
            metrics.cancel(id);
            Json(serde_json::json!({ "status": format!("query {id} cancelled"), "id": id.to_string() })).into_response()
        }
    }
}

/// `GET /queries`: the statements running now on every door, oldest first (id, door, user,
/// SQL, elapsed ms). A caller who cannot read every table sees only their own.
async fn running_queries(State(api): State<Arc<Api>>, Extension(caller): Caller) -> Json<Json_> {
    let everyone = caller.reads_everything();
    let running: Vec<Json_> = api
        .service
        .metrics()
        .running()
        .into_iter()
        .filter(|s| everyone || s.user == caller.name())
        .map(|s| {
            serde_json::json!({
                "id": s.id.to_string(),
                "door": s.door.label(),
                "user": s.user,
                "sql": s.sql,
                "elapsedMs": s.started.elapsed().as_millis() as u64,
            })
        })
        .collect();
    Json(serde_json::json!({ "queries": running }))
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
            let record = api.service.metrics().start(Door::Http, caller.name(), "");
            return respond(
                BrokerResponse::error(ErrorCode::QueryValidation, format!("the request body is not valid JSON: {e}")),
                headers,
                record,
            );
        }
    };
    let Some(sql) = request.get("sql").and_then(Json_::as_str) else {
        let record = api.service.metrics().start(Door::Http, caller.name(), "");
        return respond(
            BrokerResponse::error(ErrorCode::QueryValidation, "Payload is missing the query string field 'sql'"),
            headers,
            record,
        );
    };
    let options = [forced_options, request.get("queryOptions").and_then(Json_::as_str)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(";");
    let options = (!options.is_empty()).then_some(options);
    let record = api.service.metrics().start(Door::Http, caller.name(), sql);
    let cancelled = record.cancelled();
    respond(api.service.query_until(sql, options.as_deref(), caller, cancelled).await, headers, record)
}

async fn get_sql(
    State(api): State<Arc<Api>>,
    Extension(caller): Caller,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(sql) = params.get("sql") else {
        let record = api.service.metrics().start(Door::Http, caller.name(), "");
        return respond(
            BrokerResponse::error(ErrorCode::QueryValidation, "the query string parameter 'sql' is missing"),
            &headers,
            record,
        );
    };
    let record = api.service.metrics().start(Door::Http, caller.name(), sql);
    let options = params.get("queryOptions").map(String::as_str);
    let cancelled = record.cancelled();
    respond(api.service.query_until(sql, options, &caller, cancelled).await, &headers, record)
}

/// The response, with its outcome recorded (the Pinot error code when it failed).
fn respond(response: BrokerResponse, request_headers: &HeaderMap, mut record: StatementRecord) -> Response {
    let code = response.error_code();
    record.add_rows(response.num_rows_result_set);
    match code {
        Some(code) => record.failed(code.to_string()),
        None => record.succeeded(),
    }
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
