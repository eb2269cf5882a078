//! The command line's settings, one struct per concern, shared by every role that has the
//! concern, each with the same `CUVEE_*` environment variable on every role (so a
//! Kubernetes ConfigMap means the same to a server and a broker).

use anyhow::{bail, Context, Result};
use cuvee_access::{Access, Users};
use cuvee_broker::QueryLimits;
use cuvee_deep_store::DeepStoreSettings;
use cuvee_http::{ApiOptions, ListenerOptions};
use cuvee_node::{NodeOptions, RealtimeOptions};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where a role that holds tables keeps them.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    #[arg(long, env = "CUVEE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// The Kafka (host:port) the console and `GET /topics` look at, and where a table
    /// proposed from a topic reads (`POST /topics/{topic}/infer`). The quickstart uses it
    /// instead of its embedded broker. Tables name their own brokers in their configs.
    #[arg(long, env = "CUVEE_KAFKA")]
    pub kafka: Option<String>,
    /// Keep tables in this deep store too (s3://bucket/prefix, file:///dir); tables it has
    /// and the data directory lacks are restored from it. S3 settings: AWS_* environment.
    #[arg(long, env = "CUVEE_DEEP_STORE")]
    pub deep_store: Option<String>,
    /// How often realtime tables look for partitions added to their topic, in ms.
    #[arg(long, env = "CUVEE_PARTITION_DISCOVERY_MS", default_value_t = 5_000)]
    pub partition_discovery_ms: u64,
    /// A folder `ingestFromURI` may read files from (repeatable; none by default: then it
    /// reads only objects of the deep store).
    #[arg(long = "ingest-allow", env = "CUVEE_INGEST_ALLOW", value_delimiter = ',')]
    pub ingest_allow: Vec<PathBuf>,
    /// The largest upload `ingestFromFile` takes (and deep-store object `ingestFromURI`
    /// copies), in MiB; uploads stream to disk, never whole into memory.
    #[arg(long, env = "CUVEE_MAX_UPLOAD_MB", default_value_t = 1024)]
    pub max_upload_mb: u64,
    /// Partitions of one realtime table this process consumes at most (a topic with more
    /// reports it in the table's status).
    #[arg(long, env = "CUVEE_MAX_PARTITIONS_PER_TABLE", default_value_t = 1024)]
    pub max_partitions_per_table: u32,
    /// Disk one partition's dead letters may take, in MiB; the oldest are dropped past it
    /// (counted as deadLettersDropped).
    #[arg(long, env = "CUVEE_DEAD_LETTER_MB", default_value_t = 64)]
    pub dead_letter_mb: u64,
    /// How often segments past their table's retention (segmentsConfig.retentionTimeUnit
    /// and retentionTimeValue) are removed, in ms (Pinot's retention manager runs every 6 h).
    #[arg(long, env = "CUVEE_RETENTION_CHECK_MS", default_value_t = 6 * 3600 * 1000)]
    pub retention_check_ms: u64,
}

impl NodeArgs {
    /// The node's options; `owner` names whose manifests it keeps in the deep store.
    pub fn options(&self, owner: Option<String>) -> NodeOptions {
        let realtime = RealtimeOptions {
            partition_discovery_interval: Duration::from_millis(self.partition_discovery_ms.max(100)),
            // `${NAME}` in a stream config: the binary's environment, read here only.
            secrets: std::sync::Arc::new(|name: &str| std::env::var(name).ok()),
            max_partitions: self.max_partitions_per_table.max(1),
            dead_letter_bytes: self.dead_letter_mb.max(1).saturating_mul(1 << 20),
            ..RealtimeOptions::default()
        };
        // The binary reads the environment; libraries are told.
        let options =
            std::env::vars().filter(|(k, _)| k.starts_with("AWS_")).map(|(k, v)| (k.to_ascii_lowercase(), v)).collect();
        NodeOptions {
            realtime,
            deep_store: self.deep_store.clone(),
            deep_store_settings: DeepStoreSettings { owner, options },
            ingest_roots: self.ingest_allow.clone(),
            retention_interval: Some(Duration::from_millis(self.retention_check_ms.max(1000))),
        }
    }

    /// The HTTP API's options for a role that holds tables.
    pub fn api(&self, security: &Security) -> ApiOptions {
        ApiOptions {
            max_upload_bytes: self.max_upload_mb.saturating_mul(1 << 20),
            kafka: self.kafka.clone(),
            ..security.api()
        }
    }
}

/// Who may call the process's doors, on every role.
#[derive(clap::Args, Debug, Clone)]
pub struct AccessArgs {
    /// The users file: who may call the HTTP API, Flight SQL and Postgres doors, on which
    /// tables, with which permissions (README, "Security"). Without one every caller is
    /// the anonymous administrator, so the doors listen only on loopback unless --insecure.
    #[arg(long, env = "CUVEE_USERS", alias = "pg-users")]
    pub users: Option<PathBuf>,
    /// Let doors without users listen beyond loopback (only behind a network you trust).
    #[arg(long, env = "CUVEE_INSECURE")]
    pub insecure: bool,
    /// PEM certificate chain for TLS on the HTTP API and the Flight SQL door (and the
    /// Postgres door unless --pg-tls-cert says otherwise); with --tls-key.
    #[arg(long, env = "CUVEE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    #[arg(long, env = "CUVEE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Connections the HTTP API serves at once; one more is answered 503 and closed.
    #[arg(long, env = "CUVEE_HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub http_max_connections: usize,
    /// How long a connection may wait for a request's headers, in ms — an idle keep-alive
    /// connection too (hyper's clock starts when it waits for the next request); Jetty's
    /// idle timeout, which Pinot runs with, is the same 30 s.
    #[arg(long, env = "CUVEE_HTTP_HEADER_TIMEOUT_MS", default_value_t = 30_000)]
    pub http_header_timeout_ms: u64,
}

/// The access settings, read and checked once at start.
#[derive(Debug, Clone)]
pub struct Security {
    pub access: Access,
    pub insecure: bool,
    pub tls: Option<(PathBuf, PathBuf)>,
    listener: ListenerOptions,
}

impl AccessArgs {
    pub fn security(&self) -> Result<Security> {
        let access = match &self.users {
            None => Access::Open,
            Some(path) => Access::Users(std::sync::Arc::new(Users::from_file(path)?)),
        };
        if self.http_max_connections == 0 {
            bail!("--http-max-connections must be at least 1");
        }
        let tls = self.tls_cert.clone().zip(self.tls_key.clone());
        let acceptor = match &tls {
            None => None,
            Some((cert, key)) => Some(
                cuvee_access::tls::acceptor(cert, key, &[b"h2", b"http/1.1"])
                    .map_err(|e| anyhow::anyhow!("TLS for the HTTP API: {e}"))?,
            ),
        };
        let listener = ListenerOptions {
            max_connections: self.http_max_connections,
            header_timeout: Duration::from_millis(self.http_header_timeout_ms.max(100)),
            tls: acceptor,
        };
        Ok(Security { access, insecure: self.insecure, tls, listener })
    }
}

impl Security {
    /// The HTTP API's options (a role without tables keeps the default upload limit).
    pub fn api(&self) -> ApiOptions {
        ApiOptions {
            access: self.access.clone(),
            loopback_only: self.access.is_open() && !self.insecure,
            listener: self.listener.clone(),
            ..ApiOptions::default()
        }
    }

    /// Refuses to open a door beyond loopback that anyone could walk through: without
    /// users every caller is the administrator.
    pub fn check_exposure(&self, door: &str, address: SocketAddr) -> Result<()> {
        if self.access.is_open() && !self.insecure && !address.ip().is_loopback() {
            bail!(
                "the {door} would listen on {address} with no users file: anyone who reaches it could read and change every table. Give --users FILE (CUVEE_USERS), listen on 127.0.0.1, or say --insecure"
            );
        }
        if self.access.is_open() && !address.ip().is_loopback() {
            tracing::warn!(address = %address, door, "no users file: every caller is the administrator (--insecure)");
        }
        Ok(())
    }
}

/// What one query may use, on every role that answers queries.
#[derive(clap::Args, Debug, Clone)]
pub struct QueryArgs {
    /// Memory one query may use, in MiB (operators spill or fail past it).
    #[arg(long, env = "CUVEE_QUERY_MEMORY_MB", default_value_t = 4096)]
    pub query_memory_mb: usize,
    /// Rows one result may have.
    #[arg(long, env = "CUVEE_MAX_RESULT_ROWS", default_value_t = 1_000_000)]
    pub max_result_rows: usize,
    /// Memory all queries together may use, in MiB (the one that would cross it spills or fails).
    #[arg(long, env = "CUVEE_TOTAL_QUERY_MEMORY_MB", default_value_t = 8192)]
    pub total_query_memory_mb: usize,
    /// Statements running at once on all doors together; more wait --query-queue-ms, then
    /// are refused (Pinot 429, SQLSTATE 53300, RESOURCE_EXHAUSTED).
    #[arg(long, env = "CUVEE_MAX_CONCURRENT_QUERIES", default_value_t = 64)]
    pub max_concurrent_queries: usize,
    /// How long a statement waits for its turn, in ms.
    #[arg(long, env = "CUVEE_QUERY_QUEUE_MS", default_value_t = 5_000)]
    pub query_queue_ms: u64,
    /// The longest a statement may run, in ms: the timeout of the Postgres and Flight SQL
    /// doors when the client sets none, and the largest `timeoutMs` the Pinot API takes.
    #[arg(long, env = "CUVEE_MAX_QUERY_TIMEOUT_MS", default_value_t = 300_000)]
    pub max_query_timeout_ms: u64,
    /// Statements that run this long or longer, in ms, are logged as `slow query` when they
    /// end (with id, door, user and text); 0 logs none.
    #[arg(long, env = "CUVEE_SLOW_QUERY_MS", default_value_t = 1_000)]
    pub slow_query_ms: u64,
    /// Query plans kept for later queries of the same shape with other literals (parsing,
    /// planning and optimising skipped); 0 plans every query from its text.
    #[arg(long, env = "CUVEE_PLAN_CACHE_ENTRIES", default_value_t = cuvee_query::plan_cache::DEFAULT_CAPACITY)]
    pub plan_cache_entries: usize,
}

impl QueryArgs {
    pub fn limits(&self) -> Result<QueryLimits> {
        if self.query_memory_mb == 0 || self.max_result_rows == 0 || self.total_query_memory_mb == 0 {
            bail!("--query-memory-mb, --total-query-memory-mb and --max-result-rows must be at least 1");
        }
        if self.max_concurrent_queries == 0 || self.max_query_timeout_ms == 0 {
            bail!("--max-concurrent-queries and --max-query-timeout-ms must be at least 1");
        }
        Ok(QueryLimits {
            memory_bytes: self.query_memory_mb.saturating_mul(1 << 20),
            max_result_rows: self.max_result_rows,
            total_memory_bytes: self.total_query_memory_mb.saturating_mul(1 << 20),
            max_concurrent_queries: self.max_concurrent_queries,
            queue_timeout: Duration::from_millis(self.query_queue_ms),
            max_timeout: Duration::from_millis(self.max_query_timeout_ms),
            slow_query: (self.slow_query_ms > 0).then(|| Duration::from_millis(self.slow_query_ms)),
            plan_cache_entries: self.plan_cache_entries,
        })
    }
}

/// How a cluster's servers know their brokers.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// A file holding the cluster's shared secret: brokers send it on every call, servers
    /// refuse calls without it. Without it a server answers any caller that reaches its
    /// gRPC port, so keep that port on a private network.
    #[arg(long, env = "CUVEE_CLUSTER_TOKEN_FILE")]
    pub cluster_token_file: Option<PathBuf>,
}

impl ClusterArgs {
    pub fn token(&self) -> Result<Option<String>> {
        let Some(path) = &self.cluster_token_file else { return Ok(None) };
        let token = std::fs::read_to_string(path)
            .with_context(|| format!("reading the cluster token from {}", path.display()))?;
        let token = token.trim();
        if token.len() < 16 {
            bail!("the cluster token in {} is shorter than 16 characters; use a long random secret", path.display());
        }
        if !token.bytes().all(|b| b.is_ascii_graphic()) {
            bail!(
                "the cluster token in {} must be printable ASCII without spaces (it travels as gRPC metadata)",
                path.display()
            );
        }
        Ok(Some(token.to_string()))
    }
}

/// How the process logs.
#[derive(clap::Args, Debug, Clone)]
pub struct LogArgs {
    /// `text` for people, `json` for log collectors (one object per line).
    #[arg(long, env = "CUVEE_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Which events to log, as RUST_LOG: `info`, `cuvee_ingest=debug,info`, … (default:
    /// RUST_LOG, else info).
    #[arg(long, env = "CUVEE_LOG", global = true)]
    pub log: Option<String>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}
