//! # cuvee-http
//!
//! Answers: *how does a Pinot client reach cuvee over HTTP?* Pinot's broker API (`/query/sql`,
//! `/query`) over the broker's query service ([`query`]), and Pinot's controller API on the
//! same port ([`controller`]: schemas, tables, segments, sizes, batch upload, and the
//! consuming-table controls) over the node's tables, with Pinot's request and response
//! shapes, so `pinotdb` and Pinot-aware tools work unmodified.
//!
//! A cluster broker has no node: its controller calls answer that tables are managed on the
//! servers. Every handler that touches the disk, the deep store or a consumer runs on a
//! blocking thread, so `/health` and queries never wait behind an admin call. Errors are
//! mapped from their kind once ([`error`]).

mod controller;
mod error;
mod query;
mod realtime;
mod upload;

pub use error::ApiError;

use axum::routing::get;
use axum::Router;
use cuvee_broker::{QueryService, Routing, LOCAL_SERVER};
use cuvee_node::Node;
use std::sync::{Arc, OnceLock};

/// How the HTTP API is set up.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The largest `ingestFromFile` upload (and deep-store object for `ingestFromURI`).
    pub max_upload_bytes: u64,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions { max_upload_bytes: 1 << 30 }
    }
}

/// What one process serves over HTTP.
pub struct Api {
    pub service: Arc<QueryService>,
    pub options: ApiOptions,
    /// The tables this process holds; none on a cluster broker (its servers hold them).
    pub node: Option<Arc<Node>>,
    /// A cluster broker's view of its servers.
    pub routing: Option<Arc<Routing>>,
    address: OnceLock<(String, u16)>,
}

impl Api {
    pub fn new(
        service: Arc<QueryService>,
        node: Option<Arc<Node>>,
        routing: Option<Arc<Routing>>,
        options: ApiOptions,
    ) -> Api {
        Api { service, options, node, routing, address: OnceLock::new() }
    }

    /// The node, for the controller API; a cluster broker has none.
    pub fn node(&self) -> Result<&Arc<Node>, ApiError> {
        self.node.as_ref().ok_or(ApiError::ClusterBroker)
    }

    /// Pinot's name for this broker instance.
    pub fn instance_name(&self) -> String {
        let (host, port) = self.address();
        format!("Broker_{host}_{port}")
    }

    /// Where this API listens, once it does.
    pub fn address(&self) -> (String, u16) {
        self.address.get().cloned().unwrap_or_else(|| ("localhost".to_string(), 0))
    }

    /// The routing as operators see it (`GET /debug/routing`).
    async fn routing_report(&self) -> serde_json::Value {
        match &self.routing {
            Some(routing) => routing.report().await,
            None => {
                serde_json::json!({ "mode": "embedded", "servers": [{ "server": LOCAL_SERVER, "healthy": true, "tables": self.service.table_names() }] })
            }
        }
    }
}

/// Every route of the API.
pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .merge(query::routes())
        .route("/health", get(|| async { "OK" }))
        .route(
            "/debug/routing",
            get(|axum::extract::State(api): axum::extract::State<Arc<Api>>| async move {
                axum::Json(api.routing_report().await)
            }),
        )
        .merge(controller::routes())
        .with_state(api)
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    api: Arc<Api>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let _ = api.address.set((local.ip().to_string(), local.port()));
    tracing::info!(address = %local, "HTTP API listening");
    let served = axum::serve(listener, router(api)).with_graceful_shutdown(shutdown).await;
    match &served {
        Ok(()) => tracing::info!(address = %local, "HTTP API stopped"),
        Err(e) => tracing::error!(address = %local, error = %e, "HTTP API failed"),
    }
    served
}
