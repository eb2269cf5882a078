//! The command line's settings, one struct per concern, shared by every role that has the
//! concern, each with the same `CUVEE_*` environment variable on every role (so a
//! Kubernetes ConfigMap means the same to a server and a broker).

use anyhow::{bail, Context, Result};
use cuvee_broker::QueryLimits;
use cuvee_deep_store::DeepStoreSettings;
use cuvee_http::ApiOptions;
use cuvee_node::{NodeOptions, RealtimeOptions};
use std::path::PathBuf;
use std::time::Duration;

/// Where a role that holds tables keeps them.
#[derive(clap::Args, Debug, Clone)]
pub struct NodeArgs {
    #[arg(long, env = "CUVEE_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
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
}

impl NodeArgs {
    /// The node's options; `owner` names whose manifests it keeps in the deep store.
    pub fn options(&self, owner: Option<String>) -> NodeOptions {
        let realtime = RealtimeOptions {
            partition_discovery_interval: Duration::from_millis(self.partition_discovery_ms.max(100)),
            // `${NAME}` in a stream config: the binary's environment, read here only.
            secrets: std::sync::Arc::new(|name: &str| std::env::var(name).ok()),
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
        }
    }

    pub fn api(&self) -> ApiOptions {
        ApiOptions { max_upload_bytes: self.max_upload_mb.saturating_mul(1 << 20) }
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
}

impl QueryArgs {
    pub fn limits(&self) -> Result<QueryLimits> {
        if self.query_memory_mb == 0 || self.max_result_rows == 0 {
            bail!("--query-memory-mb and --max-result-rows must be at least 1");
        }
        let memory_bytes = self.query_memory_mb.saturating_mul(1 << 20);
        Ok(QueryLimits { memory_bytes, max_result_rows: self.max_result_rows })
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
