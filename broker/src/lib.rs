//! # cuvee-broker
//!
//! Answers: *how do clients reach the data?* The front doors over the query engine. Today:
//! Pinot's broker HTTP API (`/query/sql`) with Pinot's request and response shapes, error
//! codes, query options and default `LIMIT 10`, so `pinotdb` and Pinot-aware tools work.
//!
//! Also the read side of Pinot's controller API (`/tables`, `/tables/{t}`,
//! `/tables/{t}/schema`, `/schemas/{name}`) on the same port.
//!
//! Not yet: creating and changing tables and schemas over HTTP, Pinot's result naming and
//! aggregate types, routing and scatter-gather to servers, the Postgres and Flight SQL doors.

pub mod controller;
pub mod dialect;
pub mod http;
pub mod response;
pub mod service;

pub use http::router;
pub use response::{BrokerResponse, ErrorCode};
pub use service::QueryService;

/// Serves the HTTP API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, service: std::sync::Arc<QueryService>) -> std::io::Result<()> {
    axum::serve(listener, router(service)).await
}
