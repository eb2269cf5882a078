//! # cuvee-broker
//!
//! Answers: *how do clients reach the data?* The front doors over the query engine. Today:
//! Pinot's broker HTTP API (`/query/sql`) with Pinot's request and response shapes, error
//! codes, query options and default `LIMIT 10`, so `pinotdb` and Pinot-aware tools work.
//!
//! Not yet: the controller API (schemas, tables, segments), Pinot's result naming and
//! aggregate types, routing and scatter-gather to servers, the Postgres and Flight SQL doors.

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
