//! `cuvee serve`: every table in the data directory behind Pinot's HTTP query API.

use anyhow::{Context, Result};
use cuvee_broker::QueryService;
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_query::{ScanOptions, SegmentTable};
use cuvee_segments::TableStore;
use std::path::Path;
use std::sync::Arc;

/// Loads the tables under `<data_dir>/tables/`; a table that fails to load is reported and
/// skipped, and a damaged segment leaves the rest of its table queryable.
pub fn load_tables(data_dir: &Path, service: &QueryService) -> Result<usize> {
    let tables_dir = data_dir.join("tables");
    let mut loaded = 0;
    let entries = match std::fs::read_dir(&tables_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| tables_dir.display().to_string()),
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        match load_table(&dir) {
            Ok((table, errors)) => {
                for error in errors {
                    eprintln!("warning: {error}");
                }
                service.add_table(Arc::new(table)).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
                loaded += 1;
            }
            Err(e) => eprintln!("warning: table in {} not loaded: {e:#}", dir.display()),
        }
    }
    Ok(loaded)
}

fn load_table(dir: &Path) -> Result<(SegmentTable, Vec<cuvee_segments::SegmentError>)> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).with_context(|| dir.join(name).display().to_string());
    let schema = Schema::from_json(&read("schema.json")?)?;
    let config = TableConfigJson::from_json(&read("table_config.json")?)?;
    let table = Table::new(schema, config)?;
    let store = TableStore::open_or_create(dir, &table)?;
    Ok(SegmentTable::open(&store, table, ScanOptions::default()))
}

pub fn run(data_dir: &Path, listen: &str) -> Result<()> {
    let service = Arc::new(QueryService::new());
    let loaded = load_tables(data_dir, &service)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
        println!("cuvee: {loaded} table(s) from {} — Pinot query API on http://{}/query/sql", data_dir.display(), listener.local_addr()?);
        cuvee_broker::serve(listener, service).await?;
        Ok(())
    })
}
