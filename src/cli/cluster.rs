//! `cuvee server` and `cuvee broker`: the two roles of a cluster. A server holds tables
//! (its data directory, its share of each topic's partitions) and answers brokers over
//! gRPC, besides its own HTTP API; a broker holds nothing, learns the tables from the
//! servers' listings and scatters every query to them.

use super::options::{NodeArgs, Security};
use super::serve::{bind_http, serve_doors, Doors, FlightArgs, PostgresArgs};
use anyhow::{bail, Context, Result};
use cuvee::{Process, ProcessOptions};
use cuvee_broker::{Discovery, QueryLimits};
use cuvee_ingest::realtime::PartitionShare;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// A server's ordinal: given, or from `CUVEE_SERVER_ORDINAL`, or the `-N` ending of the
/// host name (a StatefulSet pod `cuvee-server-2` is ordinal 2).
pub fn ordinal(given: Option<u32>) -> Result<u32> {
    if let Some(ordinal) = given {
        return Ok(ordinal);
    }
    if let Ok(value) = std::env::var("CUVEE_SERVER_ORDINAL") {
        return value.trim().parse().with_context(|| format!("CUVEE_SERVER_ORDINAL={value} is not a number"));
    }
    let host = std::env::var("HOSTNAME").or_else(|_| std::fs::read_to_string("/etc/hostname")).unwrap_or_default();
    match host.trim().rsplit_once('-').and_then(|(_, n)| n.parse().ok()) {
        Some(ordinal) => Ok(ordinal),
        None => Ok(0),
    }
}

pub struct ServerRole<'a> {
    pub node: &'a NodeArgs,
    pub limits: QueryLimits,
    pub listen: &'a str,
    pub grpc_listen: &'a str,
    pub ordinal: Option<u32>,
    pub servers: u32,
    pub replicas: u32,
    /// Table definitions to apply at start.
    pub tables: Option<&'a Path>,
    /// The cluster's shared secret, which brokers must present.
    pub token: Option<String>,
    pub security: Security,
}

pub fn run_server(role: ServerRole) -> Result<()> {
    let share =
        PartitionShare::replicated(ordinal(role.ordinal)?, role.servers, role.replicas).map_err(anyhow::Error::msg)?;
    if role.replicas > 1 && role.node.deep_store.is_none() {
        bail!(
            "--replicas {}: replicas consuming one partition agree on its segments through the deep store; give --deep-store (or CUVEE_DEEP_STORE)",
            role.replicas
        );
    }
    // Each server keeps its own manifest in the shared deep store.
    let mut node = role.node.options(Some(format!("server-{}", share.ordinal)));
    node.realtime.share = share;
    let memory_bytes = role.limits.memory_bytes;
    let data_dir = &role.node.data_dir;
    let api = role.node.api(&role.security);
    let (process, warnings) = Process::open_with(data_dir, ProcessOptions { limits: role.limits, node, api })?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    if let Some(dir) = role.tables {
        let defined = super::definitions::apply(&process, dir)?;
        println!("cuvee server: applied table definitions from {}: {}", dir.display(), defined.join(", "));
    }
    let process = Arc::new(process);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let http = bind_http(role.listen, &role.security).await?;
        let grpc = TcpListener::bind(role.grpc_listen)
            .await
            .with_context(|| format!("listening for brokers on {}", role.grpc_listen))?;
        let grpc_address = grpc.local_addr()?;
        let server_id = format!("Server_{}_{}", grpc_address.ip(), grpc_address.port());
        let Some(query_runtime) = process.service.runtime_handle() else { bail!("the query runtime is not running") };
        let service = cuvee_server::FragmentService::new(
            cuvee_server::ServerOptions { server_id, memory_bytes },
            Arc::clone(process.service.tables()) as _,
            query_runtime,
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        if role.token.is_none() && !grpc_address.ip().is_loopback() {
            if !role.security.insecure {
                bail!(
                    "the gRPC port would listen on {grpc_address} with no cluster token: anyone who reaches it could run plan fragments. Give --cluster-token-file (CUVEE_CLUSTER_TOKEN_FILE), listen on 127.0.0.1, or say --insecure"
                );
            }
            tracing::warn!(address = %grpc_address, "the gRPC port takes plan fragments from any caller (--insecure)");
        }
        let grpc_task = tokio::spawn(cuvee_server::serve_until(grpc, service, role.token.clone(), async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|s| *s).await;
        }));
        println!(
            "cuvee server {} of {}: {} table(s) from {} — brokers on {grpc_address}, HTTP API on http://{}",
            share.ordinal,
            share.servers,
            process.service.table_names().len(),
            data_dir.display(),
            http.local_addr()?
        );
        serve_doors(process, http, Doors::none(&role.security)).await?;
        let _ = stop.send(true);
        grpc_task.await.context("the gRPC server's task")??;
        println!("cuvee: stopped");
        Ok(())
    })
}

pub struct BrokerRole<'a> {
    pub listen: &'a str,
    pub servers: &'a str,
    pub limits: QueryLimits,
    pub routing_refresh: Duration,
    pub postgres: &'a PostgresArgs,
    pub flight: &'a FlightArgs,
    /// The cluster's shared secret, sent on every call to a server.
    pub token: Option<String>,
    pub security: Security,
}

pub fn run_broker(role: BrokerRole) -> Result<()> {
    let discovery = Discovery::parse(role.servers)?;
    let broker = Arc::new(Process::cluster_with_token(role.limits, discovery, role.token, role.security.api())?);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        for (server, problem) in broker.refresh_routing().await {
            tracing::warn!(server = %server, "{problem}");
        }
        broker.keep_routing(role.routing_refresh);
        let http = bind_http(role.listen, &role.security).await?;
        let doors = Doors::bind(role.postgres, role.flight, &role.security).await?;
        println!(
            "cuvee broker: {} table(s) from servers {} — Pinot query API on http://{}/query/sql",
            broker.service.table_names().len(),
            role.servers,
            http.local_addr()?
        );
        doors.announce()?;
        serve_doors(broker, http, doors).await?;
        println!("cuvee: stopped");
        Ok(())
    })
}
