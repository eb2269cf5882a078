//! One cuvee process, as each role assembles it: a node (the tables it holds) when it holds
//! any, the broker's query service over them or over a cluster's servers, and the HTTP API
//! over both.

use cuvee_broker::{Discovery, QueryLimits, QueryService, Routing};
use cuvee_error::{ErrorExt, ErrorKind};
use cuvee_http::{Api, ApiOptions};
use cuvee_node::{Node, NodeError, NodeOptions};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("starting the query runtime: {0}")]
    Runtime(std::io::Error),
    #[error(
        "this is a cluster broker: tables, schemas and segments are managed on the servers (their controller API), and appear here from their listings"
    )]
    ClusterBroker,
}

impl ErrorExt for ProcessError {
    fn kind(&self) -> ErrorKind {
        match self {
            ProcessError::Node(e) => e.kind(),
            ProcessError::Runtime(_) => ErrorKind::Internal,
            ProcessError::ClusterBroker => ErrorKind::InvalidArgument,
        }
    }
}

/// How a process is set up; the defaults suit one process on one machine.
#[derive(Debug, Clone, Default)]
pub struct ProcessOptions {
    pub limits: QueryLimits,
    pub node: NodeOptions,
    pub api: ApiOptions,
}

pub struct Process {
    pub service: Arc<QueryService>,
    /// The tables this process holds; none on a cluster broker.
    pub node: Option<Arc<Node>>,
    /// A cluster broker's view of its servers.
    pub routing: Option<Arc<Routing>>,
    api: Arc<Api>,
}

impl Process {
    /// One process over `data_dir` (`cuvee serve`, a cluster server): its tables queryable
    /// in process. Returns the problems met loading it (a damaged table or segment is left
    /// out, the rest served).
    pub fn open(data_dir: &Path, limits: QueryLimits) -> Result<(Process, Vec<String>), ProcessError> {
        Process::open_with(data_dir, ProcessOptions { limits, ..ProcessOptions::default() })
    }

    pub fn open_with(data_dir: &Path, options: ProcessOptions) -> Result<(Process, Vec<String>), ProcessError> {
        let api_options = options.api.clone();
        let retention_interval = options.node.retention_interval;
        let (node, warnings) = Node::open(data_dir, options.node)?;
        let node = Arc::new(node);
        if let Some(interval) = retention_interval {
            keep_retention(&node, interval).map_err(ProcessError::Runtime)?;
        }
        let service =
            Arc::new(QueryService::new(Arc::clone(node.tables()), options.limits).map_err(ProcessError::Runtime)?);
        // SQL over a topic of the process's Kafka (`--kafka`), on the Pinot and Postgres doors.
        if let Some(kafka) = &api_options.kafka {
            let function = Arc::new(cuvee_node::topic_function::KafkaTopic::new(kafka));
            service.register_table_function(cuvee_node::topic_function::NAME, function);
        }
        let api = Arc::new(Api::new(Arc::clone(&service), Some(Arc::clone(&node)), None, api_options));
        Ok((Process { service, node: Some(node), routing: None, api }, warnings))
    }

    /// A cluster broker: no tables of its own; it serves what the servers found through
    /// `discovery` list, and scatters every query to them. Call [`Process::refresh_routing`]
    /// once before serving, and [`Process::keep_routing`] to keep it fresh.
    pub fn cluster(limits: QueryLimits, discovery: Discovery) -> Result<Process, ProcessError> {
        Process::cluster_with_token(limits, discovery, None, ApiOptions::default())
    }

    /// [`Process::cluster`] whose calls to servers carry the cluster's shared token, with
    /// its HTTP API set up by `api`.
    pub fn cluster_with_token(
        limits: QueryLimits,
        discovery: Discovery,
        token: Option<String>,
        api: ApiOptions,
    ) -> Result<Process, ProcessError> {
        let (service, routing) = cuvee_broker::cluster(limits, discovery, token).map_err(ProcessError::Runtime)?;
        let api = Arc::new(Api::new(Arc::clone(&service), None, Some(Arc::clone(&routing)), api));
        Ok(Process { service, node: None, routing: Some(routing), api })
    }

    /// The node, for managing tables; a cluster broker has none.
    pub fn node(&self) -> Result<&Arc<Node>, ProcessError> {
        self.node.as_ref().ok_or(ProcessError::ClusterBroker)
    }

    /// The HTTP API over this process.
    pub fn api(&self) -> &Arc<Api> {
        &self.api
    }

    /// Asks the servers for their listings now; returns the servers that did not answer.
    pub async fn refresh_routing(&self) -> Vec<(String, String)> {
        match &self.routing {
            Some(routing) => routing.refresh().await,
            None => Vec::new(),
        }
    }

    /// Refreshes the routing every `interval` in the background (a cluster broker).
    pub fn keep_routing(&self, interval: std::time::Duration) {
        if let Some(routing) = &self.routing {
            tokio::spawn(Arc::clone(routing).run(interval));
        }
    }

    /// Where the HTTP API listens, once it does.
    pub fn address(&self) -> (String, u16) {
        self.api.address()
    }
}

/// Removes segments past retention every `interval` (the first pass one interval after
/// start) for as long as the node lives.
fn keep_retention(node: &Arc<Node>, interval: std::time::Duration) -> std::io::Result<()> {
    let node = Arc::downgrade(node);
    std::thread::Builder::new().name("cuvee-retention".into()).spawn(move || {
        tracing::info!(interval_ms = interval.as_millis() as u64, "retention task started");
        let tick = std::time::Duration::from_millis(200).min(interval);
        let mut waited = std::time::Duration::ZERO;
        loop {
            std::thread::sleep(tick);
            waited += tick;
            let Some(node) = node.upgrade() else { break };
            if waited < interval {
                continue;
            }
            waited = std::time::Duration::ZERO;
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let removed = node.enforce_retention(now_ms);
            if !removed.is_empty() {
                tracing::info!(segments = removed.len(), "retention pass removed segments");
            }
        }
        tracing::info!("retention task stopped");
    })?;
    Ok(())
}

/// Serves the HTTP API on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, process: Arc<Process>) -> std::io::Result<()> {
    serve_until(listener, process, std::future::pending()).await
}

/// Serves the HTTP API until `shutdown` completes, then stops realtime ingestion (sealers
/// finish the segment they build; consuming rows are consumed again at the next start).
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    process: Arc<Process>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    cuvee_http::serve_until(listener, Arc::clone(&process.api), shutdown).await?;
    let Some(node) = process.node.clone() else { return Ok(()) };
    tokio::task::spawn_blocking(move || node.stop_ingestion()).await.map_err(std::io::Error::other)
}
