//! Running one Pinot query: dialect, planning and execution through DataFusion under the
//! query's deadline and limits (on the query runtime, see [`crate::execution`]), errors
//! mapped to Pinot's codes, statistics from the scans' metrics.

use crate::cluster::{Cluster, Distribute, LocalServer, QueryScope, ScatterExec};
use crate::dialect::{display_name, prepare, PinotQuery};
use crate::execution::{bounded_task, collect_bounded, QueryLimits, QueryRuntime};
use crate::response::QueryException;
use crate::response::{result_table, BrokerResponse, ErrorCode};
use cuvee_query::codec::SegmentResolver;
use cuvee_query::{FragmentStats, SegmentTable};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Pinot's default query timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

pub struct QueryService {
    engine: Engine,
    cluster: Arc<Cluster>,
    runtime: QueryRuntime,
    broker_id: String,
    requests: AtomicU64,
}

/// What a running query needs, cheap to clone into its task.
#[derive(Clone)]
struct Engine {
    ctx: SessionContext,
    tables: Arc<RwLock<BTreeMap<String, Arc<SegmentTable>>>>,
    limits: QueryLimits,
    distribute: Arc<Distribute>,
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryService({})", self.broker_id)
    }
}

/// A server's view of this process's tables: fragments sent here resolve against them.
impl SegmentResolver for QueryService {
    fn table(&self, name: &str) -> Option<Arc<SegmentTable>> {
        self.segment_table(name)
    }

    fn tables(&self) -> Vec<Arc<SegmentTable>> {
        self.read_tables().values().cloned().collect()
    }
}

/// The id of the in-process server in `numServersQueried` and `exceptions`.
pub const LOCAL_SERVER: &str = "local";

impl QueryService {
    /// One process: queries run on this process's segments through its in-process server.
    pub fn new(limits: QueryLimits) -> std::io::Result<QueryService> {
        QueryService::with_cluster(limits, Arc::new(Cluster::embedded(Arc::new(LocalServer::new(LOCAL_SERVER)))))
    }

    /// Queries scatter to `cluster`'s servers (a cluster broker: [`Cluster::remote`]).
    pub fn with_cluster(limits: QueryLimits, cluster: Arc<Cluster>) -> std::io::Result<QueryService> {
        let distribute = Arc::new(Distribute::new(Arc::clone(&cluster)));
        Ok(QueryService {
            engine: Engine { ctx: session_with(&distribute), tables: Arc::default(), limits, distribute },
            cluster,
            runtime: QueryRuntime::new()?,
            broker_id: format!("cuvee-broker-{}", std::process::id()),
            requests: AtomicU64::new(0),
        })
    }

    /// The schema holding every queryable table (DataFusion's `public`), shared live with
    /// other doors' sessions so a table added here is visible there at once.
    pub fn table_schema(&self) -> Option<Arc<dyn datafusion::catalog::SchemaProvider>> {
        let ctx = &self.engine.ctx;
        let config = ctx.copied_config();
        let defaults = &config.options().catalog;
        ctx.catalog(&defaults.default_catalog)?.schema(&defaults.default_schema)
    }

    /// cuvee's session state with this broker's distribution rule, for other doors'
    /// sessions (they add their own runtime and catalog).
    pub fn session_state(
        &self,
        config: datafusion::prelude::SessionConfig,
    ) -> datafusion::execution::SessionStateBuilder {
        cuvee_query::session_state(config).with_physical_optimizer_rule(Arc::clone(&self.engine.distribute) as _)
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }

    /// The query runtime's handle (see [`QueryRuntime::handle`]).
    pub fn runtime_handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.handle()
    }

    /// The limits each query runs within.
    pub fn limits(&self) -> QueryLimits {
        self.engine.limits
    }

    /// Queries running now.
    pub fn running_queries(&self) -> usize {
        self.runtime.running()
    }

    fn read_tables(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<SegmentTable>>> {
        self.engine.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes a table queryable, replacing one of the same name.
    pub fn add_table(&self, table: Arc<SegmentTable>) -> Result<(), DataFusionError> {
        let name = table.table().name().to_string();
        let mut tables = self.engine.tables.write().unwrap_or_else(|e| e.into_inner());
        if tables.contains_key(&name) {
            self.engine.ctx.deregister_table(datafusion::common::TableReference::bare(name.clone()))?;
        }
        cuvee_query::register(&self.engine.ctx, Arc::clone(&table))?;
        tables.insert(name, table);
        Ok(())
    }

    pub fn remove_table(&self, name: &str) -> Result<Option<Arc<SegmentTable>>, DataFusionError> {
        let mut tables = self.engine.tables.write().unwrap_or_else(|e| e.into_inner());
        let removed = tables.remove(name);
        if removed.is_some() {
            self.engine.ctx.deregister_table(datafusion::common::TableReference::bare(name.to_string()))?;
        }
        Ok(removed)
    }

    /// The queryable table of this name.
    pub fn segment_table(&self, name: &str) -> Option<Arc<SegmentTable>> {
        self.read_tables().get(name).cloned()
    }

    pub fn table_names(&self) -> Vec<String> {
        self.read_tables().keys().cloned().collect()
    }

    /// The schema and table config of a table, by its raw name or a schema name.
    pub fn table(&self, name: &str) -> Option<cuvee_catalog::Table> {
        let tables = self.read_tables();
        tables
            .get(name)
            .or_else(|| tables.values().find(|t| t.table().schema.name() == name))
            .map(|t| t.table().clone())
    }

    pub async fn query(&self, sql: &str, query_options: Option<&str>) -> BrokerResponse {
        let started = Instant::now();
        let request_id = self.requests.fetch_add(1, Ordering::Relaxed).to_string();
        let mut response = match prepare(sql, query_options) {
            Err(e) => BrokerResponse::error(ErrorCode::SqlParsing, format!("SQLParsingError: {}", e.0)),
            Ok(query) => {
                let timeout_ms =
                    query.option("timeoutMs").and_then(|t| t.parse::<u64>().ok()).unwrap_or(DEFAULT_TIMEOUT_MS);
                let engine = self.engine.clone();
                let scope = Arc::new(QueryScope::new(
                    request_id.clone(),
                    Some(started + server_deadline(timeout_ms)),
                    !query.option("allowPartialResults").is_some_and(|v| v.eq_ignore_ascii_case("false")),
                ));
                // Dropping the future (timeout, or the client went away) aborts the query's task.
                let work = self.runtime.run(async move { engine.run(&query, scope).await });
                match tokio::time::timeout(Duration::from_millis(timeout_ms), work).await {
                    Ok(Some(Ok(response))) => response,
                    Ok(Some(Err(e))) => {
                        let (code, message) = classify(&e);
                        BrokerResponse::error(code, message)
                    }
                    Ok(None) => BrokerResponse::error(
                        ErrorCode::QueryExecution,
                        "the query task stopped before answering (the broker is shutting down?)",
                    ),
                    Err(_) => BrokerResponse::error(
                        ErrorCode::ExecutionTimeout,
                        format!("Query timed out after {timeout_ms} ms (timeoutMs)"),
                    ),
                }
            }
        };
        response.request_id = request_id;
        response.broker_id = self.broker_id.clone();
        response.time_used_ms = started.elapsed().as_millis() as u64;
        response
    }
}

impl Engine {
    /// The session a query runs in: the shared one, or — when the query asks for null
    /// handling (`enableNullHandling=true`) — one whose tables read nulls as nulls.
    fn session_for(&self, query: &PinotQuery) -> Result<SessionContext, DataFusionError> {
        if !query.flag("enableNullHandling") {
            return Ok(self.ctx.clone());
        }
        let ctx = session_with(&self.distribute);
        for table in self.tables.read().unwrap_or_else(|e| e.into_inner()).values() {
            cuvee_query::register(
                &ctx,
                Arc::new(table.with_options(cuvee_query::ScanOptions { null_handling: true })),
            )?;
        }
        Ok(ctx)
    }

    async fn run(&self, query: &PinotQuery, scope: Arc<QueryScope>) -> Result<BrokerResponse, DataFusionError> {
        let ctx = self.session_for(query)?;
        let frame = ctx.sql(&query.sql).await?;
        let tables = tables_queried(frame.logical_plan());
        let strip =
            |name: &str| tables.iter().fold(display_name(name).to_string(), |n, t| n.replace(&format!("{t}."), ""));
        let names: Vec<String> = frame.schema().fields().iter().map(|f| strip(f.name())).collect();
        let types: Vec<_> = frame.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        let task = frame.task_ctx();
        let config = task.session_config().clone().with_extension(Arc::clone(&scope));
        let task = bounded_task(task.with_session_config(config), &self.limits)?;
        let plan = frame.create_physical_plan().await?;
        let batches = collect_bounded(Arc::clone(&plan), task, self.limits.max_result_rows).await?;
        let (batches, truncated) = match query.option("maxRowsInResult").and_then(|m| m.parse::<usize>().ok()) {
            Some(max) => truncate(batches, max),
            None => (batches, false),
        };
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let gathered = scope.gathered();
        let mut response = BrokerResponse {
            result_table: Some(result_table(&names, &types, &batches)),
            num_servers_queried: gathered.queried.len() as u64,
            num_servers_responded: gathered.responded() as u64,
            num_rows_result_set: rows as u64,
            partial_result: truncated || !gathered.failures.is_empty(),
            exceptions: gathered
                .failures
                .iter()
                .map(|f| QueryException { error_code: f.code as i32, message: f.message.clone() })
                .collect(),
            tables_queried: tables.clone(),
            ..Default::default()
        };
        let registered = self.tables.read().unwrap_or_else(|e| e.into_inner());
        response.total_docs = tables.iter().filter_map(|t| registered.get(t)).map(|t| t.total_docs()).sum();
        drop(registered);
        let mut stats = gathered.stats;
        // Scatters report their servers' statistics through the scope; their fragments did not run here.
        stats.add(&FragmentStats::of_plan_until(plan.as_ref(), &|node| {
            (node as &dyn std::any::Any).is::<ScatterExec>()
        }));
        add_stats(&stats, &mut response);
        Ok(response)
    }
}

/// The first `max` rows, and whether any were cut (`maxRowsInResult`).
fn truncate(batches: Vec<RecordBatch>, max: usize) -> (Vec<RecordBatch>, bool) {
    let mut left = max;
    let mut out = Vec::new();
    let mut cut = false;
    for batch in batches {
        if batch.num_rows() <= left {
            left -= batch.num_rows();
            out.push(batch);
        } else {
            cut = true;
            if left > 0 {
                out.push(batch.slice(0, left));
                left = 0;
            }
        }
    }
    (out, cut)
}

fn tables_queried(plan: &LogicalPlan) -> Vec<String> {
    let mut out = Vec::new();
    let _ = plan.apply(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            out.push(scan.table_name.table().to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    out.sort();
    out.dedup();
    out
}

fn add_stats(stats: &FragmentStats, response: &mut BrokerResponse) {
    response.num_segments_queried += stats.segments_queried;
    response.num_segments_processed += stats.segments_processed;
    response.num_segments_matched += stats.segments_matched;
    response.num_consuming_segments_queried += stats.consuming_segments_queried;
    response.num_consuming_segments_processed += stats.consuming_segments_queried;
    response.min_consuming_freshness_time_ms = stats.min_consuming_freshness_ms.unwrap_or(0);
    response.num_docs_scanned += stats.docs_scanned;
    response.num_entries_scanned_in_filter += stats.entries_scanned_in_filter;
    response.num_entries_scanned_post_filter += stats.entries_scanned_post_filter;
}

/// When the broker stops waiting for servers: a little before the query's timeout, so the
/// rows it has can still be merged and answered as a partial result.
fn server_deadline(timeout_ms: u64) -> Duration {
    let margin = (timeout_ms / 20).min(500);
    Duration::from_millis(timeout_ms.saturating_sub(margin))
}

fn session_with(distribute: &Arc<Distribute>) -> SessionContext {
    let state = cuvee_query::session_state(datafusion::prelude::SessionConfig::new())
        .with_physical_optimizer_rule(Arc::clone(distribute) as _)
        .build();
    let ctx = SessionContext::new_with_state(state);
    cuvee_query::register_functions(&ctx);
    ctx
}

/// Pinot's error code for a DataFusion error.
fn classify(error: &DataFusionError) -> (ErrorCode, String) {
    let message = error.to_string();
    let mut root = error;
    loop {
        match root {
            DataFusionError::Diagnostic(_, inner) => root = inner,
            DataFusionError::Context(_, inner) => root = inner,
            _ => break,
        }
    }
    let code = match root {
        DataFusionError::SQL(..) => ErrorCode::SqlParsing,
        DataFusionError::SchemaError(..) => ErrorCode::UnknownColumn,
        DataFusionError::Plan(m) if m.contains("table") && m.contains("not found") => ErrorCode::TableDoesNotExist,
        DataFusionError::Plan(_) | DataFusionError::NotImplemented(_) => ErrorCode::QueryValidation,
        DataFusionError::ResourcesExhausted(_) => ErrorCode::QueryExecution,
        _ => ErrorCode::QueryExecution,
    };
    (code, message)
}
