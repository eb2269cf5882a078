//! Which server holds which segment.
//!
//! [`Cluster`] answers, for the segments a fragment reads, which servers to send it to: the
//! in-process server for local segments, one of the listed holders for remote ones. A
//! cluster broker's [`Routing`] keeps its tables and their remote segments up to date from
//! the servers' listings (every `refresh`): a server that cannot be listed keeps its last
//! listing, so queries still go to it and report it as failed rather than silently reading
//! less; a table disappears only when no server lists it.

use super::remote::RemoteServer;
use super::scatter::Target;
use super::server::SegmentServer;
use crate::error::RoutingError;
use cuvee_catalog::{Schema, Table, TableConfigJson};
use cuvee_proto::v1::{ListSegmentsResponse, TableListing};
use cuvee_query::{fragment, RemoteKind, RemoteSegment, ScanOptions, ScanSource, SegmentTable};
use cuvee_query::{Tables, UnavailableSegment};
use datafusion::common::{exec_err, Result};
use datafusion::physical_plan::ExecutionPlan;
use parking_lot::RwLock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The servers a broker sends fragments to.
#[derive(Debug, Default)]
pub struct Cluster {
    local: Option<Arc<dyn SegmentServer>>,
    remote: RwLock<BTreeMap<String, Arc<RemoteServer>>>,
    /// Servers whose last listing failed: replicas elsewhere are preferred.
    unhealthy: RwLock<BTreeSet<String>>,
    turn: AtomicUsize,
}

impl Cluster {
    /// One process: every segment is local.
    pub fn embedded(local: Arc<dyn SegmentServer>) -> Cluster {
        Cluster { local: Some(local), ..Cluster::default() }
    }

    /// A broker of remote servers only.
    pub fn remote() -> Cluster {
        Cluster::default()
    }

    pub fn add_server(&self, server: Arc<RemoteServer>) {
        self.remote.write().insert(server.id().to_string(), server);
    }

    pub fn server_ids(&self) -> Vec<String> {
        self.remote.read().keys().cloned().collect()
    }

    fn set_health(&self, id: &str, healthy: bool) {
        let mut unhealthy = self.unhealthy.write();
        if healthy {
            unhealthy.remove(id);
        } else {
            unhealthy.insert(id.to_string());
        }
    }

    /// One fragment per server holding some of `sources`, each restricted to its share.
    pub fn targets(&self, fragment: &Arc<dyn ExecutionPlan>, sources: &[ScanSource]) -> Result<Vec<Target>> {
        let turn = self.turn.fetch_add(1, Ordering::Relaxed);
        let remote = self.remote.read();
        let unhealthy = self.unhealthy.read();
        let mut shares: BTreeMap<String, (Arc<dyn SegmentServer>, BTreeSet<String>)> = BTreeMap::new();
        // Per share, the servers holding every one of its segments (replica candidates).
        let mut holders: BTreeMap<String, Option<BTreeSet<String>>> = BTreeMap::new();
        for source in sources {
            let server = match source {
                ScanSource::Remote(segment) => {
                    let healthy: Vec<&String> =
                        segment.servers.iter().filter(|s| !unhealthy.contains(*s) && remote.contains_key(*s)).collect();
                    let candidates: Vec<&String> =
                        if healthy.is_empty() { segment.servers.iter().collect() } else { healthy };
                    // Sealed copies are equal: take turns. Consuming ones differ in
                    // freshness: the freshest (listed first) unless it is unhealthy.
                    let pick = if segment.is_consuming() { 0 } else { turn % candidates.len().max(1) };
                    let Some(id) = candidates.get(pick) else {
                        return exec_err!("segment {} has no server to read it from", segment.name);
                    };
                    match remote.get(*id) {
                        Some(server) => Arc::clone(server) as Arc<dyn SegmentServer>,
                        None => {
                            return exec_err!(
                                "segment {} is on server {id}, which this broker does not know",
                                segment.name
                            )
                        }
                    }
                }
                _ => match &self.local {
                    Some(local) => Arc::clone(local),
                    None => return exec_err!("segment {} is local but this broker runs no server", source.name()),
                },
            };
            let id = server.id().to_string();
            let held_by: BTreeSet<String> = match source {
                ScanSource::Remote(segment) => segment.servers.iter().filter(|s| **s != id).cloned().collect(),
                _ => BTreeSet::new(),
            };
            let common = holders.entry(id.clone()).or_insert(None);
            *common = Some(match common.take() {
                None => held_by,
                Some(so_far) => so_far.intersection(&held_by).cloned().collect(),
            });
            shares.entry(id).or_insert_with(|| (server, BTreeSet::new())).1.insert(source.name().to_string());
        }
        let whole = shares.len() == 1;
        shares
            .into_iter()
            .map(|(id, (server, names))| {
                let fragment = if whole {
                    Arc::clone(fragment)
                } else {
                    fragment::restrict(Arc::clone(fragment), &|s: &ScanSource| names.contains(s.name()))?
                };
                let mut candidates: Vec<String> =
                    holders.remove(&id).flatten().unwrap_or_default().into_iter().collect();
                // Healthy replicas first.
                candidates.sort_by_key(|c| unhealthy.contains(c));
                let replicas = candidates
                    .iter()
                    .filter_map(|c| remote.get(c))
                    .map(|r| Arc::clone(r) as Arc<dyn SegmentServer>)
                    .collect();
                Ok(Target { server, fragment, replicas })
            })
            .collect()
    }
}

/// A cluster broker's background view of its servers.
pub struct Routing {
    cluster: Arc<Cluster>,
    tables: Arc<Tables>,
    discovery: Discovery,
    /// The cluster's shared token, for every server.
    token: Option<Arc<str>>,
    listings: tokio::sync::Mutex<BTreeMap<String, ListSegmentsResponse>>,
}

/// Where the servers are: fixed addresses, or a DNS name whose addresses are the servers
/// (a Kubernetes headless Service), looked up at every refresh.
#[derive(Debug, Clone)]
pub enum Discovery {
    Static(Vec<String>),
    Dns { name: String, port: u16 },
}

impl Discovery {
    /// `host:port,host:port` or `dns:name:port`.
    pub fn parse(text: &str) -> std::result::Result<Discovery, RoutingError> {
        let refuse = |given: &str, reason| RoutingError::Servers { given: given.to_string(), reason };
        if let Some(rest) = text.strip_prefix("dns:") {
            let (name, port) = rest.rsplit_once(':').ok_or_else(|| refuse(text, "expected dns:NAME:PORT"))?;
            let port = port.parse().map_err(|_| refuse(text, "the port is not a port number"))?;
            return Ok(Discovery::Dns { name: name.to_string(), port });
        }
        let addresses: Vec<String> =
            text.split(',').map(str::trim).filter(|a| !a.is_empty()).map(String::from).collect();
        if addresses.is_empty() {
            return Err(refuse(text, "no server address given"));
        }
        if let Some(bad) =
            addresses.iter().find(|a| a.rsplit_once(':').and_then(|(_, p)| p.parse::<u16>().ok()).is_none())
        {
            return Err(refuse(bad, "not host:port"));
        }
        Ok(Discovery::Static(addresses))
    }

    async fn addresses(&self) -> Vec<String> {
        match self {
            Discovery::Static(addresses) => addresses.clone(),
            Discovery::Dns { name, port } => match tokio::net::lookup_host((name.as_str(), *port)).await {
                Ok(found) => {
                    let mut addresses: Vec<String> = found.map(|a| a.to_string()).collect();
                    addresses.sort();
                    addresses.dedup();
                    addresses
                }
                Err(_) => Vec::new(),
            },
        }
    }
}

impl Routing {
    pub fn new(cluster: Arc<Cluster>, tables: Arc<Tables>, discovery: Discovery, token: Option<String>) -> Routing {
        Routing { cluster, tables, discovery, token: token.map(Arc::from), listings: tokio::sync::Mutex::default() }
    }

    /// Asks every server for its listing and applies them; returns the servers that did not
    /// answer, with why.
    pub async fn refresh(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut listings = self.listings.lock().await;
        for address in self.discovery.addresses().await {
            if !self.cluster.server_ids().contains(&address) {
                match RemoteServer::connect(&address, self.token.clone()) {
                    Ok(server) => self.cluster.add_server(Arc::new(server)),
                    Err(e) => {
                        problems.push((address, e.to_string()));
                        continue;
                    }
                }
            }
            let Some(server) = self.cluster.remote.read().get(&address).cloned() else {
                continue;
            };
            match server.list(Duration::from_secs(2)).await {
                Ok(listing) => {
                    self.cluster.set_health(&address, true);
                    listings.insert(address, listing);
                }
                Err(e) => {
                    self.cluster.set_health(&address, false);
                    problems.push((address, e.to_string()));
                }
            }
        }
        problems.extend(self.apply(&listings));
        problems
    }

    /// Refreshes every `interval` until the process ends.
    pub async fn run(self: Arc<Self>, interval: Duration) {
        tracing::info!(interval = ?interval, "routing refresh started");
        let mut failing = std::collections::BTreeSet::new();
        loop {
            let problems = self.refresh().await;
            // A server's failure is logged when it starts and when it ends, not every refresh.
            let now: std::collections::BTreeSet<String> = problems.iter().map(|(server, _)| server.clone()).collect();
            for (server, problem) in problems.iter().filter(|(server, _)| !failing.contains(server)) {
                tracing::warn!(server = %server, problem = %problem, "a server cannot be listed");
            }
            for server in failing.difference(&now) {
                tracing::info!(server = %server, "a server is listed again");
            }
            failing = now;
            tokio::time::sleep(interval).await;
        }
    }

    /// What this broker knows of its servers, for operators: each server's health, its
    /// tables and segment counts from its last listing.
    pub async fn report(&self) -> serde_json::Value {
        let listings = self.listings.lock().await;
        let unhealthy = self.cluster.unhealthy.read().clone();
        let servers: Vec<serde_json::Value> = self
            .cluster
            .server_ids()
            .into_iter()
            .map(|id| {
                let tables: Vec<serde_json::Value> = listings
                    .get(&id)
                    .map(|l| {
                        l.tables
                            .iter()
                            .map(|t| {
                                let name = table_of(t).map(|d| d.name().to_string()).unwrap_or_default();
                                serde_json::json!({ "table": name, "sealedSegments": t.sealed.len(), "consumingSegments": t.consuming.len() })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                serde_json::json!({ "server": id, "healthy": !unhealthy.contains(&id), "listed": listings.contains_key(&id), "tables": tables })
            })
            .collect();
        serde_json::json!({ "mode": "cluster", "servers": servers })
    }

    fn apply(&self, listings: &BTreeMap<String, ListSegmentsResponse>) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        let mut tables: BTreeMap<String, (Table, Vec<RemoteSegment>)> = BTreeMap::new();
        let mut unreadable: BTreeMap<String, Vec<UnavailableSegment>> = BTreeMap::new();
        for (server, listing) in listings {
            for table in &listing.tables {
                match table_of(table) {
                    Ok(definition) => {
                        let name = definition.name().to_string();
                        let entry = tables.entry(name.clone()).or_insert_with(|| (definition, Vec::new()));
                        entry.1.extend(segments_of(server, table, &mut problems));
                        unreadable.entry(name).or_default().extend(table.unavailable.iter().map(|u| {
                            UnavailableSegment {
                                segment: u.name.clone(),
                                reason: format!("server {server}: {}", u.reason),
                            }
                        }));
                    }
                    Err(e) => problems.push((server.clone(), e.to_string())),
                }
            }
        }
        for gone in self.tables.names().into_iter().filter(|n| !tables.contains_key(n)) {
            self.tables.remove(&gone);
        }
        for (name, (definition, segments)) in tables {
            let segments = super::replicas::reconcile(&name, segments);
            // A segment one server cannot read is unavailable only if no server lists it.
            let mut unavailable = unreadable.remove(&name).unwrap_or_default();
            unavailable.retain(|u| !segments.iter().any(|s| s.name == u.segment));
            match self.tables.get(&name) {
                Some(existing) if existing.table() == &definition => {
                    existing.set_remote(segments);
                    existing.set_unavailable(unavailable);
                }
                _ => {
                    let table = Arc::new(SegmentTable::new(definition, ScanOptions::default()));
                    table.set_remote(segments);
                    table.set_unavailable(unavailable);
                    self.tables.insert(table);
                }
            }
        }
        problems
    }
}

fn table_of(listing: &TableListing) -> std::result::Result<Table, RoutingError> {
    let definition = |what| move |source| RoutingError::Definition { what, source };
    let schema = Schema::from_json(&listing.schema_json).map_err(definition("schema"))?;
    let config = TableConfigJson::from_json(&listing.table_config_json).map_err(definition("table config"))?;
    Table::new(schema, config).map_err(definition("table"))
}

fn segments_of(server: &str, table: &TableListing, problems: &mut Vec<(String, String)>) -> Vec<RemoteSegment> {
    let mut out = Vec::new();
    for sealed in &table.sealed {
        match serde_json::from_str(&sealed.metadata_json) {
            Ok(metadata) => out.push(RemoteSegment {
                name: sealed.name.clone(),
                servers: vec![server.to_string()],
                kind: RemoteKind::Sealed(Box::new(metadata)),
            }),
            Err(e) => problems.push((server.to_string(), format!("segment {}: unreadable metadata: {e}", sealed.name))),
        }
    }
    for c in &table.consuming {
        let latest_ingestion_ms = (c.latest_ingestion_ms > 0).then_some(c.latest_ingestion_ms);
        let kind = RemoteKind::Consuming {
            partition: c.partition,
            sequence: c.sequence,
            num_docs: c.num_docs,
            latest_ingestion_ms,
        };
        out.push(RemoteSegment { name: c.name.clone(), servers: vec![server.to_string()], kind });
    }
    out
}
