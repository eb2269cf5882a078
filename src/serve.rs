//! `cuvee serve`: every table in the data directory behind Pinot's HTTP query and
//! controller API.

use anyhow::{Context, Result};
use cuvee_broker::{Broker, BrokerOptions};
use std::path::Path;
use std::sync::Arc;

pub fn run(data_dir: &Path, listen: &str, options: BrokerOptions) -> Result<()> {
    let (broker, warnings) = Broker::open_with(data_dir, options)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let broker = Arc::new(broker);
    let loaded = broker.service.table_names().len();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
        println!("cuvee: {loaded} table(s) from {} — Pinot query API on http://{}/query/sql", data_dir.display(), listener.local_addr()?);
        cuvee_broker::serve_until(listener, broker, shutdown_signal()).await?;
        println!("cuvee: stopped");
        Ok(())
    })
}

/// Ctrl-C or SIGTERM (Kubernetes, systemd): stop taking requests, stop consumers cleanly.
pub async fn shutdown_signal() {
    // A signal that cannot be watched must not read as "stop now".
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
