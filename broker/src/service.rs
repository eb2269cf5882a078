//! Running one Pinot query: dialect, planning and execution through DataFusion under the
//! query's deadline and limits (on the query runtime, see [`crate::execution`]), errors
//! mapped to Pinot's codes, statistics from the scans' metrics.

use crate::budget::{Admission, Admitted, MemoryBudget, Overloaded};
use crate::cluster::{Cluster, Distribute, LocalServer, QueryScope, ScatterExec};
use crate::dialect::{display_name, PinotQuery};
use crate::execution::{bounded_task, collect_bounded, QueryLimits, QueryRuntime, TaskEnd};
use crate::metrics::QueryMetrics;
use crate::response::QueryException;
use crate::response::{result_table, BrokerResponse, ErrorCode};
use crate::shapes::Shapes;
use cuvee_access::Principal;
use cuvee_query::plan_cache::{with_placeholders_as_values, Bound, Cached, CachedPlan, Outcome, Template};
use cuvee_query::{FragmentStats, PlanCache, PlanCacheStats, SegmentTable, Tables};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableFunctionImpl;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::error::DataFusionError;
use datafusion::execution::{SessionState, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pinot's default query timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

pub struct QueryService {
    engine: Engine,
    cluster: Arc<Cluster>,
    runtime: QueryRuntime,
    admission: Admission,
    metrics: Arc<QueryMetrics>,
    broker_id: String,
    requests: AtomicU64,
    /// The dialect's work kept per shape of a query's text.
    shapes: Shapes,
}

/// A table function and its SQL name.
pub type NamedTableFunction = (String, Arc<dyn TableFunctionImpl>);

/// What a running query needs, cheap to clone into its task.
#[derive(Clone)]
struct Engine {
    ctx: SessionContext,
    tables: Arc<Tables>,
    limits: QueryLimits,
    budget: Arc<MemoryBudget>,
    distribute: Arc<Distribute>,
    /// Table functions the process added (`kafka_topic`), in every session made here.
    table_functions: Arc<parking_lot::RwLock<Vec<NamedTableFunction>>>,
    /// Plans of the shared session's queries, kept by template.
    plans: Arc<PlanCache>,
    /// The shared session's state, for the physical planning of a kept plan: a copy of it
    /// per query (~300 functions by name) cost as much as the rest of a hit's binding. A
    /// kept plan calls no function that reads the query's start time (see
    /// [`cuvee_query::plan_cache`]), the one thing a fresh copy would set. Without the
    /// cut: a physical plan is kept from before it, and the cut runs per query.
    kept_state: Arc<parking_lot::RwLock<Arc<SessionState>>>,
}

/// A query's optimised logical plan and the tables it reads.
struct Planned {
    plan: LogicalPlan,
    tables: Vec<String>,
    /// The kept plan a hit bound, which may also keep its physical plan.
    kept: Option<Arc<CachedPlan>>,
}

impl std::fmt::Debug for QueryService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "QueryService({})", self.broker_id)
    }
}

/// The id of the in-process server in `numServersQueried` and `exceptions`.
pub const LOCAL_SERVER: &str = "local";

impl QueryService {
    /// One process: queries run over `tables` (a node's) through the in-process server.
    pub fn new(tables: Arc<Tables>, limits: QueryLimits) -> std::io::Result<QueryService> {
        let cluster = Arc::new(Cluster::embedded(Arc::new(LocalServer::new(LOCAL_SERVER))));
        QueryService::with_cluster(tables, limits, cluster)
    }

    /// Queries scatter to `cluster`'s servers (a cluster broker: [`Cluster::remote`], whose
    /// routing keeps `tables` to what the servers list).
    pub fn with_cluster(
        tables: Arc<Tables>,
        limits: QueryLimits,
        cluster: Arc<Cluster>,
    ) -> std::io::Result<QueryService> {
        let distribute = Arc::new(Distribute::new(Arc::clone(&cluster)));
        let ctx = session_with(&distribute, Arc::clone(&tables) as _).map_err(std::io::Error::other)?;
        let budget = MemoryBudget::new(limits.total_memory_bytes.max(limits.memory_bytes));
        Ok(QueryService {
            engine: Engine {
                tables,
                limits,
                budget,
                distribute,
                table_functions: Default::default(),
                plans: Arc::new(PlanCache::new(limits.plan_cache_entries)),
                kept_state: Arc::new(parking_lot::RwLock::new(Arc::new(without_the_cut(&ctx)))),
                ctx,
            },
            cluster,
            runtime: QueryRuntime::new()?,
            admission: Admission::new(limits.max_concurrent_queries, limits.queue_timeout),
            metrics: QueryMetrics::new(limits.slow_query),
            broker_id: format!("cuvee-broker-{}", std::process::id()),
            requests: AtomicU64::new(0),
            shapes: Shapes::new(limits.plan_cache_entries),
        })
    }

    /// Every queryable table, shared live with other doors' sessions (their `public`
    /// schema) so a table added here is visible there at once.
    pub fn tables(&self) -> &Arc<Tables> {
        &self.engine.tables
    }

    /// cuvee's session state with this broker's distribution rule, for other doors'
    /// sessions (they add their own runtime and catalog).
    pub fn session_state(
        &self,
        config: datafusion::prelude::SessionConfig,
    ) -> datafusion::execution::SessionStateBuilder {
        cuvee_query::session_state(config).with_physical_optimizer_rule(Arc::clone(&self.engine.distribute) as _)
    }

    /// Adds a table function to the Pinot door's sessions (and to [`Self::table_functions`]
    /// for other doors' sessions).
    pub fn register_table_function(&self, name: &str, function: Arc<dyn TableFunctionImpl>) {
        self.engine.ctx.register_udtf(name, Arc::clone(&function));
        *self.engine.kept_state.write() = Arc::new(without_the_cut(&self.engine.ctx));
        self.engine.table_functions.write().push((name.to_string(), function));
    }

    /// The table functions the process added.
    pub fn table_functions(&self) -> Vec<NamedTableFunction> {
        self.engine.table_functions.read().clone()
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

    /// The plan cache's hits, misses and size.
    pub fn plan_cache_stats(&self) -> PlanCacheStats {
        PlanCacheStats { text_shape_hits: self.shapes.hits(), ..self.engine.plans.stats() }
    }

    /// Queries running now.
    pub fn running_queries(&self) -> usize {
        self.runtime.running()
    }

    /// Waits for a place among the statements running at once (every door passes here
    /// before planning); refused when none frees up in the queue time.
    pub async fn admit(&self) -> Result<Admitted, Overloaded> {
        self.admission.admit().await
    }

    /// Every door's statement metrics (doors record; `/metrics` reads).
    pub fn metrics(&self) -> &Arc<QueryMetrics> {
        &self.metrics
    }

    /// The process's query memory budget.
    pub fn memory_budget(&self) -> &Arc<MemoryBudget> {
        &self.engine.budget
    }

    /// One query's task context: `task` with a memory pool of the per-query limit, drawing
    /// on the process's budget.
    pub fn bounded_task(
        &self,
        task: datafusion::execution::TaskContext,
    ) -> Result<Arc<datafusion::execution::TaskContext>, DataFusionError> {
        bounded_task(task, &self.engine.limits, &self.engine.budget)
    }

    /// The queryable table of this name.
    pub fn segment_table(&self, name: &str) -> Option<Arc<SegmentTable>> {
        self.engine.tables.get(name)
    }

    pub fn table_names(&self) -> Vec<String> {
        self.engine.tables.names()
    }

    /// The schema and table config of a table, by its raw name or a schema name.
    pub fn table(&self, name: &str) -> Option<cuvee_catalog::Table> {
        self.engine.tables.definition(name)
    }

    /// Runs a Pinot query as `principal`, who must be able to read every table it scans.
    pub async fn query(&self, sql: &str, query_options: Option<&str>, principal: &Principal) -> BrokerResponse {
        self.query_until(sql, query_options, principal, std::future::pending()).await
    }

    /// As [`QueryService::query`], stopped with Pinot's 503 (QueryCancellation) when
    /// `cancelled` completes first (`DELETE /query/{id}`).
    pub async fn query_until(
        &self,
        sql: &str,
        query_options: Option<&str>,
        principal: &Principal,
        cancelled: impl std::future::Future<Output = ()> + Send,
    ) -> BrokerResponse {
        let started = Instant::now();
        let request_id = self.requests.fetch_add(1, Ordering::Relaxed).to_string();
        let mut response = match self.shapes.prepare(sql, query_options) {
            Err(e) => {
                let code = ErrorCode::of(e.1);
                BrokerResponse::error(code, format!("{}: {}", code.pinot_name(), e.0))
            }
            Ok(query) => 'answer: {
                let timeout_ms = match query.option("timeoutMs") {
                    None => DEFAULT_TIMEOUT_MS.min(self.engine.limits.max_timeout.as_millis() as u64),
                    Some(given) => match given.trim().parse::<u64>() {
                        Ok(ms) if ms > 0 && u128::from(ms) <= self.engine.limits.max_timeout.as_millis() => ms,
                        _ => {
                            break 'answer BrokerResponse::error(
                                ErrorCode::QueryValidation,
                                format!(
                                    "timeoutMs={given} is not a number of milliseconds from 1 to {} (the server's limit, --max-query-timeout-ms)",
                                    self.engine.limits.max_timeout.as_millis()
                                ),
                            )
                        }
                    },
                };
                let _admitted = match self.admission.admit().await {
                    Ok(admitted) => admitted,
                    Err(e) => {
                        break 'answer BrokerResponse::error(
                            ErrorCode::of(cuvee_error::ErrorExt::kind(&e)),
                            e.to_string(),
                        )
                    }
                };
                let engine = self.engine.clone();
                let principal = principal.clone();
                let scope = Arc::new(QueryScope::new(
                    request_id.clone(),
                    Some(started + server_deadline(timeout_ms)),
                    !query.option("allowPartialResults").is_some_and(|v| v.eq_ignore_ascii_case("false")),
                ));
                // Dropping the future (timeout, or the client went away) aborts the query's task.
                let work = self.runtime.run(async move { engine.run(&query, scope, &principal).await });
                let finished = tokio::select! {
                    finished = tokio::time::timeout(Duration::from_millis(timeout_ms), work) => finished,
                    () = cancelled => break 'answer BrokerResponse::error(
                        ErrorCode::QueryCancellation,
                        format!("query {request_id} was cancelled (DELETE /query/{{id}})"),
                    ),
                };
                match finished {
                    Ok(Ok(Ok(response))) => response,
                    Ok(Ok(Err(e))) => {
                        let (code, message) = classify(&e);
                        BrokerResponse::error(code, message)
                    }
                    Ok(Err(TaskEnd::ShutDown)) => BrokerResponse::error(
                        ErrorCode::QueryExecution,
                        "the query task stopped before answering (the broker is shutting down?)",
                    ),
                    Ok(Err(TaskEnd::Panicked(message))) => {
                        tracing::error!(query = %request_id, sql = %sql, panic = %message, "a query panicked");
                        BrokerResponse::error(
                            ErrorCode::QueryExecution,
                            format!("query {request_id} failed with an internal error (a panic: {message}); the server goes on serving"),
                        )
                    }
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
    /// handling (`enableNullHandling=true`) or every version of upserted rows
    /// (`skipUpsert=true`) — one whose tables read that way.
    fn session_for(&self, query: &PinotQuery) -> Result<SessionContext, DataFusionError> {
        let options = cuvee_query::ScanOptions {
            null_handling: query.flag("enableNullHandling"),
            skip_upsert: query.flag("skipUpsert"),
        };
        if options == cuvee_query::ScanOptions::default() {
            return Ok(self.ctx.clone());
        }
        let ctx = session_with(&self.distribute, self.tables.with_options(options))?;
        for (name, function) in self.table_functions.read().iter() {
            ctx.register_udtf(name, Arc::clone(function));
        }
        Ok(ctx)
    }

    /// The template of a query the plan cache answers: one the shared session runs (a
    /// query with `enableNullHandling` or `skipUpsert` plans from its text).
    fn template_of<'q>(&self, ctx: &SessionContext, query: &'q PinotQuery) -> Option<&'q Template> {
        let shared = ctx.session_id() == self.ctx.session_id();
        query.template.as_ref().filter(|_| shared && self.limits.plan_cache_entries > 0)
    }

    /// The query's literals bound into the plan kept for its template, when there is one
    /// that takes them. Needs no session state: a hit copies none.
    fn bind_kept(&self, template: &Template, principal: &Principal) -> Result<Lookup, DataFusionError> {
        match self.plans.get(&template.key) {
            Some(Cached::Plan(kept)) => match kept.bind(&template.literals, &self.tables)? {
                Bound::Plan(plan) => {
                    self.plans.record(Outcome::Hit);
                    cuvee_query::authorize(&plan, principal)?;
                    Ok(Lookup::Hit(Planned { plan, tables: kept.tables(), kept: Some(kept) }))
                }
                Bound::Stale => {
                    self.plans.remove(&template.key);
                    Ok(Lookup::Absent)
                }
                Bound::Unfit => Ok(Lookup::FromText),
            },
            Some(Cached::Uncacheable) => Ok(Lookup::FromText),
            None => Ok(Lookup::Absent),
        }
    }

    /// The optimised plan of a query no kept plan answered: its template planned and kept
    /// (`Absent`), else the query planned from its text.
    async fn plan(
        &self,
        state: &SessionState,
        query: &PinotQuery,
        template: Option<(&Template, Lookup)>,
        principal: &Principal,
    ) -> Result<Planned, DataFusionError> {
        let Some((template, lookup)) = template else { return plan_text(state, &sql_of(query)?, principal).await };
        if matches!(lookup, Lookup::Absent) {
            if let Some((kept, Bound::Plan(plan))) = self.keep(state, template, principal).await? {
                self.plans.record(Outcome::Miss);
                cuvee_query::authorize(&plan, principal)?;
                return Ok(Planned { plan, tables: kept.tables(), kept: None });
            }
        }
        self.plans.record(Outcome::FromText);
        plan_text(state, &sql_of(query)?, principal).await
    }

    /// Plans a template and keeps it (or remembers that it cannot be kept); the kept plan
    /// with this query's literals bound. `None`: plan the query from its text.
    async fn keep(
        &self,
        state: &SessionState,
        template: &Template,
        principal: &Principal,
    ) -> Result<Option<(Arc<CachedPlan>, Bound)>, DataFusionError> {
        let statement = datafusion::sql::parser::Statement::Statement(Box::new((*template.statement).clone()));
        cuvee_query::authorize_statement(&statement, principal)?;
        // A template that does not plan (a query in error, most often) is planned from its
        // text, which names the error as the query was written.
        let Ok(analysed) = state.statement_to_plan(statement).await else { return Ok(None) };
        cuvee_query::read_only(&analysed)?;
        let Ok(optimized) = with_placeholders_as_values(|| state.optimize(&analysed)) else { return Ok(None) };
        let Some(kept) = CachedPlan::new(&analysed, optimized, template, &self.tables).map(Arc::new) else {
            self.plans.insert(template.key.clone(), Cached::Uncacheable);
            return Ok(None);
        };
        self.plans.insert(template.key.clone(), Cached::Plan(Arc::clone(&kept)));
        let bound = kept.bind(&template.literals, &self.tables)?;
        Ok(Some((kept, bound)))
    }

    async fn run(
        &self,
        query: &PinotQuery,
        scope: Arc<QueryScope>,
        principal: &Principal,
    ) -> Result<BrokerResponse, DataFusionError> {
        let ctx = self.session_for(query)?;
        let template = self.template_of(&ctx, query);
        let lookup = template.map(|t| self.bind_kept(t, principal)).transpose()?;
        let (Planned { plan: logical, tables, kept }, state) = match lookup {
            Some(Lookup::Hit(planned)) => (planned, Arc::clone(&self.kept_state.read())),
            lookup => {
                let state = Arc::new(ctx.state());
                (self.plan(&state, query, template.zip(lookup), principal).await?, state)
            }
        };
        let strip =
            |name: &str| tables.iter().fold(display_name(name).to_string(), |n, t| n.replace(&format!("{t}."), ""));
        let names: Vec<String> = logical.schema().fields().iter().map(|f| strip(f.name())).collect();
        let types: Vec<_> = logical.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        let config = state.config().clone().with_extension(Arc::clone(&scope));
        let task = bounded_task(task_context(&state, config), &self.limits, &self.budget)?;
        let plan = match &kept {
            Some(kept) => self.physical_plan_of_hit(kept, &logical, &state).await?,
            None => state.query_planner().create_physical_plan(&logical, state.as_ref()).await?,
        };
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
        response.total_docs = tables.iter().filter_map(|t| self.tables.get(t)).map(|t| t.total_docs()).sum();
        let mut stats = gathered.stats;
        // Scatters report their servers' statistics through the scope; their fragments did not run here.
        stats.add(&FragmentStats::of_plan_until(plan.as_ref(), &|node| {
            (node as &dyn std::any::Any).is::<ScatterExec>()
        }));
        add_stats(&stats, &mut response);
        Ok(response)
    }
}

impl Engine {
    /// A hit's physical plan: the kept one with a fresh scan when it fits, else planned
    /// (and kept when later hits can re-use it); then the cut, per query.
    async fn physical_plan_of_hit(
        &self,
        kept: &CachedPlan,
        logical: &LogicalPlan,
        state: &SessionState,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        let partitions = state.config().target_partitions();
        let plan = match kept.physical(logical, partitions)? {
            Some(plan) => {
                self.plans.record_physical_hit();
                plan
            }
            None => {
                let generation = kept.generation();
                let plan = state.query_planner().create_physical_plan(logical, state).await?;
                kept.keep_physical(&plan, generation, partitions);
                plan
            }
        };
        self.distribute.optimize(plan, state.config().options())
    }
}

/// The session's state without the broker's cut (see `Engine::kept_state`).
fn without_the_cut(ctx: &SessionContext) -> SessionState {
    let state = ctx.state();
    let rules = state.physical_optimizers().iter().filter(|r| r.name() != Distribute::NAME).cloned().collect();
    datafusion::execution::SessionStateBuilder::new_from_existing(state).with_physical_optimizer_rules(rules).build()
}

/// What the plan cache holds for a query's template.
#[allow(clippy::large_enum_variant, reason = "one per query, matched at once, never stored")]
enum Lookup {
    /// A kept plan, the query's literals bound.
    Hit(Planned),
    /// No plan kept: plan the template and keep it.
    Absent,
    /// A kept plan that does not take these literals, or a template that keeps none: plan
    /// the query from its text.
    FromText,
}

/// A query's task: the session's configuration and runtime, without the session's function
/// registries. Execution never looks a function up by name (a plan holds its functions;
/// servers decode fragments with their own registries), and copying ~300 of them per
/// query was a tenth of a kept plan's cost.
fn task_context(state: &SessionState, config: datafusion::prelude::SessionConfig) -> TaskContext {
    use std::collections::HashMap;
    let session = state.session_id().to_string();
    let runtime = state.runtime_env().clone();
    TaskContext::new(None, session, config, HashMap::new(), HashMap::new(), HashMap::new(), HashMap::new(), runtime)
}

/// The query's SQL text to plan (written out in full for a query prepared from a shape).
fn sql_of(query: &PinotQuery) -> Result<std::borrow::Cow<'_, str>, DataFusionError> {
    query.sql().map_err(|e| DataFusionError::Plan(e.0))
}

/// A query planned from its text: parsed, checked, planned and optimised.
async fn plan_text(state: &SessionState, sql: &str, principal: &Principal) -> Result<Planned, DataFusionError> {
    // Planned and checked before it runs (`SessionContext::sql` runs DDL while planning);
    // the dialect already refused every statement but a query.
    let statement = state.sql_to_statement(sql, &state.config().options().sql_parser.dialect)?;
    cuvee_query::authorize_statement(&statement, principal)?;
    let plan = state.statement_to_plan(statement).await?;
    cuvee_query::read_only(&plan)?;
    cuvee_query::authorize(&plan, principal)?;
    let tables = tables_queried(&plan);
    Ok(Planned { plan: state.optimize(&plan)?, tables, kept: None })
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
    response.num_consuming_segments_processed += stats.consuming_segments_processed;
    response.num_consuming_segments_matched += stats.consuming_segments_matched;
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

fn session_with(
    distribute: &Arc<Distribute>,
    tables: Arc<dyn datafusion::catalog::SchemaProvider>,
) -> Result<SessionContext, DataFusionError> {
    let state = cuvee_query::session_state(datafusion::prelude::SessionConfig::new())
        .with_physical_optimizer_rule(Arc::clone(distribute) as _)
        .build();
    let ctx = SessionContext::new_with_state(state);
    cuvee_query::register_functions(&ctx);
    cuvee_query::use_tables(&ctx, tables)?;
    Ok(ctx)
}

/// Pinot's error code for a query's error, by its kind.
fn classify(error: &DataFusionError) -> (ErrorCode, String) {
    (ErrorCode::of(cuvee_query::kind_of(error)), error.to_string())
}
