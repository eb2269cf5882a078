//! `cuvee serve`: every table in the data directory behind Pinot's HTTP query and
//! controller API.

use anyhow::{Context, Result};
use cuvee_broker::{Broker, QueryLimits};
use std::path::Path;
use std::sync::Arc;

pub fn run(data_dir: &Path, listen: &str, limits: QueryLimits) -> Result<()> {
    let (broker, warnings) = Broker::open(data_dir, limits)?;
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    let broker = Arc::new(broker);
    let loaded = broker.service.table_names().len();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
        println!("cuvee: {loaded} table(s) from {} — Pinot query API on http://{}/query/sql", data_dir.display(), listener.local_addr()?);
        cuvee_broker::serve(listener, broker).await?;
        Ok(())
    })
}
