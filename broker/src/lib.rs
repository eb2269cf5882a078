//! # cuvee-broker
//!
//! Answers: *how do clients reach the data?* The front doors over the query engine. Today:
//! Pinot's broker HTTP API (`/query/sql`, `/query`) with Pinot's dialect ([`dialect`],
//! [`pinot_functions`]), request and response shapes, error codes and query options, so
//! `pinotdb` and Pinot-aware tools work; queries run on their own runtime within per-query
//! limits ([`execution`]).
//!
//! Also Pinot's controller API on the same port: schemas, tables, segments, sizes, batch
//! upload, and the consuming-table controls (pause, resume, force commit, lag, dead
//! letters) ([`controller`]), over the data directory's tables ([`Metastore`]), which also
//! runs each REALTIME table's stream ingestion.
//!
//! The Postgres door is its own crate (`cuvee-postgres`) over this broker's tables and
//! runtime ([`QueryService::table_schema`], [`QueryService::runtime_handle`]).
//!
//! Every plan is cut where partial aggregation ends and scattered to the servers holding its
//! segments ([`cluster`]): the in-process server in one process, gRPC servers in a cluster
//! ([`Broker::cluster`]). The Arrow Flight SQL door ([`flight_sql`]) serves standard SQL.

pub mod cluster;
pub mod controller;
pub mod dialect;
pub mod execution;
pub mod flight_sql;
pub mod http;
pub mod pinot_functions;
pub mod response;
pub mod service;

pub use controller::metastore::{AdminError, Metastore};
pub use execution::QueryLimits;
pub use http::router;
pub use response::{BrokerResponse, ErrorCode};
pub use service::QueryService;

use cluster::routing::Discovery;
use cluster::{Cluster, Routing};
pub use cuvee_ingest::realtime::RealtimeOptions;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// How a broker is set up; the defaults suit one process on one machine.
#[derive(Debug, Clone, Default)]
pub struct BrokerOptions {
    pub limits: QueryLimits,
    pub realtime: RealtimeOptions,
    /// Where tables are kept beyond this disk (`s3://…`, `file://…`); none by default.
    pub deep_store: Option<String>,
    /// Whose manifests this process keeps in the deep store (`server-<ordinal>` for a
    /// cluster server); `None` for one process alone.
    pub deep_store_owner: Option<String>,
}

/// One broker: the query service and the tables it serves, over one data directory.
pub struct Broker {
    pub service: Arc<QueryService>,
    /// The tables this process holds; none on a cluster broker (its servers hold them).
    metastore: Option<Arc<Metastore>>,
    routing: Option<Arc<Routing>>,
    address: OnceLock<(String, u16)>,
}

impl Broker {
    /// Opens the data directory and makes its tables queryable; returns the problems met
    /// loading it (a damaged table or segment is left out, the rest served).
    pub fn open(data_dir: &Path, limits: QueryLimits) -> Result<(Broker, Vec<String>), AdminError> {
        Broker::open_with(data_dir, BrokerOptions { limits, ..BrokerOptions::default() })
    }

    /// [`Broker::open`] with every option.
    pub fn open_with(data_dir: &Path, options: BrokerOptions) -> Result<(Broker, Vec<String>), AdminError> {
        let deep = match &options.deep_store {
            None => None,
            Some(url) => Some(Arc::new(
                cuvee_segments::DeepStore::open_as(url, options.deep_store_owner.as_deref())
                    .map_err(|e| AdminError::Invalid(e.to_string()))?,
            )),
        };
        let service = Arc::new(
            QueryService::new(options.limits)
                .map_err(|e| AdminError::Internal(format!("starting the query runtime: {e}")))?,
        );
        let (metastore, warnings) = Metastore::open(data_dir, Arc::clone(&service), options.realtime, deep)?;
        Ok((
            Broker { service, metastore: Some(Arc::new(metastore)), routing: None, address: OnceLock::new() },
            warnings,
        ))
    }

    /// A cluster broker: no tables of its own; it serves what the servers found through
    /// `discovery` list, and scatters every query to them. Call [`Broker::refresh_routing`]
    /// once before serving, and [`Broker::keep_routing`] to keep it fresh.
    pub fn cluster(limits: QueryLimits, discovery: Discovery) -> Result<Broker, AdminError> {
        let cluster = Arc::new(Cluster::remote());
        let service = Arc::new(
            QueryService::with_cluster(limits, Arc::clone(&cluster))
                .map_err(|e| AdminError::Internal(format!("starting the query runtime: {e}")))?,
        );
        let routing = Arc::new(Routing::new(cluster, Arc::clone(&service), discovery));
        Ok(Broker { service, metastore: None, routing: Some(routing), address: OnceLock::new() })
    }

    /// The tables this process holds, for the controller API; a cluster broker has none.
    pub fn metastore(&self) -> Result<&Arc<Metastore>, AdminError> {
        self.metastore.as_ref().ok_or_else(|| AdminError::Invalid("this is a cluster broker: tables, schemas and segments are managed on the servers (their controller API), and appear here from their listings".into()))
    }

    /// Asks the servers for their listings now; returns the servers that did not answer.
    pub async fn refresh_routing(&self) -> Vec<(String, String)> {
        match &self.routing {
            Some(routing) => routing.refresh().await,
            None => Vec::new(),
        }
    }

    /// The routing as operators see it (`GET /debug/routing`).
    pub async fn routing_report(&self) -> serde_json::Value {
        match &self.routing {
            Some(routing) => routing.report().await,
            None => {
                serde_json::json!({ "mode": "embedded", "servers": [{ "server": service::LOCAL_SERVER, "healthy": true, "tables": self.service.table_names() }] })
            }
        }
    }

    /// Refreshes the routing every `interval` in the background (a cluster broker).
    pub fn keep_routing(&self, interval: std::time::Duration) {
        if let Some(routing) = &self.routing {
            tokio::spawn(Arc::clone(routing).run(interval));
        }
    }

    pub fn instance_name(&self) -> String {
        let (host, port) = self.address();
        format!("Broker_{host}_{port}")
    }

    /// Where this broker listens, once it does.
    pub fn address(&self) -> (String, u16) {
        self.address.get().cloned().unwrap_or_else(|| ("localhost".to_string(), 0))
    }
}

/// Serves the HTTP API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, broker: Arc<Broker>) -> std::io::Result<()> {
    serve_until(listener, broker, std::future::pending()).await
}

/// Serves the HTTP API until `shutdown` completes, then stops realtime ingestion (sealers
/// finish the segment they build; consuming rows are consumed again at the next start).
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    broker: Arc<Broker>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let _ = broker.address.set((local.ip().to_string(), local.port()));
    axum::serve(listener, router(Arc::clone(&broker))).with_graceful_shutdown(shutdown).await?;
    let Some(metastore) = broker.metastore.clone() else { return Ok(()) };
    tokio::task::spawn_blocking(move || metastore.stop_ingestion()).await.map_err(std::io::Error::other)
}
