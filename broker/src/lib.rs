//! # cuvee-broker
//!
//! Answers: *where does a query go, and how are the answers merged?* Pinot's dialect over
//! DataFusion ([`dialect`], [`pinot_functions`], kept per shape of a query's text: [`shapes`]), one query's run under its deadline and
//! limits on the query runtime ([`service`], [`execution`]) with Pinot's response shape
//! ([`response`]), and distribution: every plan is cut where partial aggregation ends and
//! scattered to the servers holding its segments ([`cluster`](mod@cluster)) — the in-process server
//! over a node's tables, or gRPC servers listed by a cluster broker's [`Routing`].
//!
//! It holds no tables of its own: it queries a [`cuvee_query::Tables`] that a node fills (one
//! process) or its routing fills from the servers' listings (a cluster broker). The doors
//! (`doors/http`, `doors/flight`, `doors/postgres`) sit above it.

pub mod budget;
pub mod cluster;
pub mod dialect;
pub mod error;
pub mod execution;
pub mod metrics;
pub mod pinot_functions;
pub mod response;
pub mod service;
pub mod shapes;

pub use cluster::routing::Discovery;
pub use cluster::{Cluster, Routing};
pub use cuvee_query::PlanCacheStats;
pub use error::RoutingError;
pub use execution::QueryLimits;
pub use response::{BrokerResponse, ErrorCode};
pub use service::{QueryService, LOCAL_SERVER};

use cuvee_query::Tables;
use std::sync::Arc;

/// A cluster broker's query service and routing: queries scatter to the servers that
/// `discovery` finds, over the tables their listings name, every call carrying `token` (the
/// cluster's shared secret). Call [`Routing::refresh`] once before serving and
/// [`Routing::run`] to keep it fresh.
pub fn cluster(
    limits: QueryLimits,
    discovery: Discovery,
    token: Option<String>,
) -> std::io::Result<(Arc<QueryService>, Arc<Routing>)> {
    let cluster = Arc::new(Cluster::remote());
    let tables = Tables::new();
    let service = Arc::new(QueryService::with_cluster(Arc::clone(&tables), limits, Arc::clone(&cluster))?);
    let routing = Arc::new(Routing::new(cluster, tables, discovery, token));
    Ok((service, routing))
}
