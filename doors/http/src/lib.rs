//! # cuvee-http
//!
//! Answers: *how does a Pinot client reach cuvee over HTTP?* Pinot's broker API (`/query/sql`,
//! `/query`) over the broker's query service ([`query`]), and Pinot's controller API on the
//! same port ([`controller`]: schemas, tables, segments, sizes, batch upload, and the
//! consuming-table controls) over the node's tables, with Pinot's request and response
//! shapes, so `pinotdb` and Pinot-aware tools work unmodified; and a web console at `/`
//! ([`console`]) that is a client of those same calls.
//!
//! A cluster broker has no node: its controller calls answer that tables are managed on the
//! servers. Every handler that touches the disk, the deep store or a consumer runs on a
//! blocking thread, so `/health` and queries never wait behind an admin call. Errors are
//! mapped from their kind once ([`error`]).

mod console;
mod controller;
mod error;
mod guard;
mod listener;
mod metrics;
mod query;
mod realtime;
mod topics;
mod upload;

pub use error::ApiError;
pub use listener::ListenerOptions;

use axum::extract::{Extension, State};
use axum::routing::get;
use axum::Router;
use cuvee_access::{Access, Principal};
use cuvee_broker::{QueryService, Routing, LOCAL_SERVER};
use cuvee_node::Node;
use std::sync::{Arc, OnceLock};

/// How the HTTP API is set up.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    /// The largest `ingestFromFile` upload (and deep-store object for `ingestFromURI`).
    pub max_upload_bytes: u64,
    /// Who may call (see [`guard`]).
    pub access: Access,
    /// No users and only loopback callers: then the `Host` must be an address or
    /// `localhost` (DNS rebinding). Off when the operator opened the port (`--insecure`),
    /// where callers use host names.
    pub loopback_only: bool,
    pub listener: ListenerOptions,
    /// The Kafka (host:port) `GET /topics` and topic inference look at; none: they say so.
    pub kafka: Option<String>,
}

impl Default for ApiOptions {
    fn default() -> Self {
        ApiOptions {
            max_upload_bytes: 1 << 30,
            access: Access::Open,
            loopback_only: true,
            listener: ListenerOptions::default(),
            kafka: None,
        }
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
    /// Each topic's message count when last listed, for its rate.
    topic_counts: parking_lot::Mutex<std::collections::HashMap<String, (std::time::Instant, i64)>>,
}

impl Api {
    pub fn new(
        service: Arc<QueryService>,
        node: Option<Arc<Node>>,
        routing: Option<Arc<Routing>>,
        options: ApiOptions,
    ) -> Api {
        Api { service, options, node, routing, address: OnceLock::new(), topic_counts: Default::default() }
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
        .route("/debug/routing", get(routing))
        .route("/metrics", get(metrics::metrics))
        .merge(controller::routes())
        .merge(console::routes())
        .merge(topics::routes())
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&api), guard::guard))
        .with_state(api)
}

/// The servers and their tables: for callers who may read every table.
async fn routing(State(api): State<Arc<Api>>, Extension(caller): Extension<Principal>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Err(denied) = reads_everything(&caller) {
        return denied.into_response();
    }
    axum::Json(api.routing_report().await).into_response()
}

/// Refuses callers without READ on every table: for answers that name them all.
pub(crate) fn reads_everything(caller: &Principal) -> Result<(), ApiError> {
    if caller.reads_everything() {
        return Ok(());
    }
    Err(ApiError::Access(cuvee_access::AccessError::Denied {
        user: caller.name().to_string(),
        permission: "READ",
        table: "*".into(),
    }))
}

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    api: Arc<Api>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let _ = api.address.set((local.ip().to_string(), local.port()));
    let options = api.options.listener.clone();
    tracing::info!(address = %local, tls = options.tls.is_some(), users = !api.options.access.is_open(), "HTTP API listening");
    let served = listener::serve(listener, router(api), options, shutdown).await;
    match &served {
        Ok(()) => tracing::info!(address = %local, "HTTP API stopped"),
        Err(e) => tracing::error!(address = %local, error = %e, "HTTP API failed"),
    }
    served
}
