//! Running one Pinot query: dialect, planning and execution through DataFusion under the
//! query's deadline and limits (on the query runtime, see [`crate::execution`]), errors
//! mapped to Pinot's codes, statistics from the scans' metrics.

use crate::dialect::{display_name, prepare, PinotQuery};
use crate::response::{result_table, BrokerResponse, ErrorCode};
use cuvee_query::{SegmentScanExec, SegmentTable};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::LogicalPlan;
use crate::execution::{bounded_task, collect_bounded, QueryLimits, QueryRuntime};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use datafusion::arrow::record_batch::RecordBatch;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Pinot's default query timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

pub struct QueryService {
    engine: Engine,
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
}

impl QueryService {
    pub fn new(limits: QueryLimits) -> std::io::Result<QueryService> {
        Ok(QueryService {
            engine: Engine { ctx: cuvee_query::session(), tables: Arc::default(), limits },
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

    fn tables(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Arc<SegmentTable>>> {
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
        self.tables().get(name).cloned()
    }

    pub fn table_names(&self) -> Vec<String> {
        self.tables().keys().cloned().collect()
    }

    /// The schema and table config of a table, by its raw name or a schema name.
    pub fn table(&self, name: &str) -> Option<cuvee_catalog::Table> {
        let tables = self.tables();
        tables.get(name).or_else(|| tables.values().find(|t| t.table().schema.name() == name)).map(|t| t.table().clone())
    }

    pub async fn query(&self, sql: &str, query_options: Option<&str>) -> BrokerResponse {
        let started = Instant::now();
        let request_id = self.requests.fetch_add(1, Ordering::Relaxed).to_string();
        let mut response = match prepare(sql, query_options) {
            Err(e) => BrokerResponse::error(ErrorCode::SqlParsing, format!("SQLParsingError: {}", e.0)),
            Ok(query) => {
                let timeout_ms = query.option("timeoutMs").and_then(|t| t.parse::<u64>().ok()).unwrap_or(DEFAULT_TIMEOUT_MS);
                let engine = self.engine.clone();
                // Dropping the future (timeout, or the client went away) aborts the query's task.
                let work = self.runtime.run(async move { engine.run(&query).await });
                match tokio::time::timeout(Duration::from_millis(timeout_ms), work).await {
                    Ok(Some(Ok(response))) => response,
                    Ok(Some(Err(e))) => {
                        let (code, message) = classify(&e);
                        BrokerResponse::error(code, message)
                    }
                    Ok(None) => BrokerResponse::error(ErrorCode::QueryExecution, "the query task stopped before answering (the broker is shutting down?)"),
                    Err(_) => BrokerResponse::error(ErrorCode::ExecutionTimeout, format!("Query timed out after {timeout_ms} ms (timeoutMs)")),
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
        let ctx = cuvee_query::session();
        for table in self.tables.read().unwrap_or_else(|e| e.into_inner()).values() {
            cuvee_query::register(&ctx, Arc::new(table.with_options(cuvee_query::ScanOptions { null_handling: true })))?;
        }
        Ok(ctx)
    }

    async fn run(&self, query: &PinotQuery) -> Result<BrokerResponse, DataFusionError> {
        let ctx = self.session_for(query)?;
        let frame = ctx.sql(&query.sql).await?;
        let tables = tables_queried(frame.logical_plan());
        let strip = |name: &str| tables.iter().fold(display_name(name).to_string(), |n, t| n.replace(&format!("{t}."), ""));
        let names: Vec<String> = frame.schema().fields().iter().map(|f| strip(f.name())).collect();
        let types: Vec<_> = frame.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        let task = bounded_task(frame.task_ctx(), &self.limits)?;
        let plan = frame.create_physical_plan().await?;
        let batches = collect_bounded(Arc::clone(&plan), task, self.limits.max_result_rows).await?;
        let (batches, truncated) = match query.option("maxRowsInResult").and_then(|m| m.parse::<usize>().ok()) {
            Some(max) => truncate(batches, max),
            None => (batches, false),
        };
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let mut response = BrokerResponse {
            result_table: Some(result_table(&names, &types, &batches)),
            num_servers_queried: 1,
            num_servers_responded: 1,
            num_rows_result_set: rows as u64,
            partial_result: truncated,
            tables_queried: tables.clone(),
            ..Default::default()
        };
        let registered = self.tables.read().unwrap_or_else(|e| e.into_inner());
        response.total_docs = tables.iter().filter_map(|t| registered.get(t)).map(|t| t.total_docs()).sum();
        drop(registered);
        add_scan_stats(plan.as_ref(), &mut response);
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

fn add_scan_stats(plan: &dyn ExecutionPlan, response: &mut BrokerResponse) {
    let any: &dyn std::any::Any = plan;
    if let Some(scan) = any.downcast_ref::<SegmentScanExec>() {
        let metrics = scan.metrics();
        let metric = |name: &str| metrics.as_ref().and_then(|m| m.sum_by_name(name)).map_or(0, |v| v.as_usize() as u64);
        response.num_segments_queried += scan.segment_count() as u64;
        response.num_segments_processed += metric("segments_scanned");
        response.num_segments_matched += metric("segments_matched");
        response.num_consuming_segments_queried += scan.consuming_count() as u64;
        response.num_consuming_segments_processed += scan.consuming_count() as u64;
        if let Some(fresh) = scan.min_consuming_freshness_ms() {
            let current = response.min_consuming_freshness_time_ms;
            response.min_consuming_freshness_time_ms = if current > 0 { current.min(fresh) } else { fresh };
        }
        response.num_docs_scanned += metric("docs_matched");
        response.num_entries_scanned_in_filter += metric("entries_scanned_in_filter");
        response.num_entries_scanned_post_filter += metric("docs_matched") * scan.column_count() as u64;
    }
    for child in plan.children() {
        add_scan_stats(child.as_ref(), response);
    }
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
