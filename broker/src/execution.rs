//! Where and within what bounds a query runs.
//!
//! - Its own runtime: planning and execution (scans, joins, aggregation) run on a tokio
//!   runtime of their own (`cuvee-query-*` threads, one per core), so a heavy query never
//!   starves the HTTP workers that accept requests, answer `/health`, or ingest.
//! - Cancellation: the query is a task on that runtime, aborted when its caller goes away —
//!   a timeout, or a client that disconnects (the HTTP handler future is dropped).
//! - Memory: each query gets a memory pool of its own (`QueryLimits::memory_bytes`);
//!   operators that can spill do, the others fail the query with a clear error instead of
//!   the process running out of memory.
//! - Result size: at most `QueryLimits::max_result_rows` rows are gathered; past that the
//!   query fails and says how to narrow it.

use crate::budget::MemoryBudget;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::{execute_stream, ExecutionPlan};
use futures::StreamExt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Memory one query may hold in operators (hash tables, sorts, buffers).
    pub memory_bytes: usize,
    /// Rows a result may have.
    pub max_result_rows: usize,
    /// Memory all queries together may hold (see [`crate::budget`]).
    pub total_memory_bytes: usize,
    /// Statements running at once, on all doors together; more wait `queue_timeout`.
    pub max_concurrent_queries: usize,
    pub queue_timeout: Duration,
    /// The longest any statement may run: `timeoutMs` above it is refused, and it is the
    /// statement timeout of doors whose client sets none (Postgres, Flight SQL).
    pub max_timeout: Duration,
    /// Statements that take this long or longer are logged when they end (none: no log).
    pub slow_query: Option<Duration>,
    /// Query plans kept for reuse by later queries of the same shape (see
    /// `cuvee_query::plan_cache`); 0 plans every query from its text.
    pub plan_cache_entries: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        QueryLimits {
            memory_bytes: 4 << 30,
            max_result_rows: 1_000_000,
            total_memory_bytes: 8 << 30,
            max_concurrent_queries: 64,
            queue_timeout: Duration::from_secs(5),
            max_timeout: Duration::from_secs(300),
            slow_query: Some(Duration::from_secs(1)),
            plan_cache_entries: cuvee_query::plan_cache::DEFAULT_CAPACITY,
        }
    }
}

/// The runtime queries run on.
pub struct QueryRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    running: Arc<AtomicUsize>,
}

impl QueryRuntime {
    pub fn new() -> std::io::Result<QueryRuntime> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("cuvee-query")
            .enable_all()
            .build()?;
        Ok(QueryRuntime { runtime: Some(runtime), running: Arc::default() })
    }

    /// Where work that should not compete with the HTTP workers is spawned (the Postgres
    /// door runs its connections here); none once the runtime is shut down.
    pub fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|runtime| runtime.handle().clone())
    }

    /// Queries running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// Runs `work` on the query runtime; dropping the returned future aborts it. A panic in
    /// the work ends only this query: it comes back as [`TaskEnd::Panicked`].
    pub async fn run<T: Send + 'static>(&self, work: impl Future<Output = T> + Send + 'static) -> Result<T, TaskEnd> {
        let Some(runtime) = self.runtime.as_ref() else { return Err(TaskEnd::ShutDown) };
        let running = Arc::clone(&self.running);
        let task = runtime.spawn(async move {
            let _counted = Counted::new(running);
            work.await
        });
        let mut guard = AbortOnDrop(task);
        match (&mut guard.0).await {
            Ok(value) => Ok(value),
            Err(e) if e.is_panic() => Err(TaskEnd::Panicked(cuvee_error::panic_message(e.into_panic().as_ref()))),
            Err(_) => Err(TaskEnd::ShutDown),
        }
    }
}

/// Why a query's task ended without its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskEnd {
    /// The runtime is shutting down.
    ShutDown,
    /// The work panicked (a bug); the message is the panic's.
    Panicked(String),
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        // Dropping a runtime from async code would block; let its threads wind down alone.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn new(count: Arc<AtomicUsize>) -> Counted {
        count.fetch_add(1, Ordering::Relaxed);
        Counted(count)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The task context of one query: the session's, with a memory pool of its own drawing on
/// the process's budget.
pub fn bounded_task(
    task: TaskContext,
    limits: &QueryLimits,
    budget: &Arc<MemoryBudget>,
) -> Result<Arc<TaskContext>, DataFusionError> {
    let runtime = RuntimeEnvBuilder::new().with_memory_pool(budget.pool(limits.memory_bytes)).build_arc()?;
    Ok(Arc::new(task.with_runtime(runtime)))
}

/// Runs a plan and gathers its result, failing once it passes `max_rows`.
pub async fn collect_bounded(
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
    max_rows: usize,
) -> Result<Vec<RecordBatch>, DataFusionError> {
    let mut stream = execute_stream(plan, task)?;
    let mut batches = Vec::new();
    let mut rows = 0usize;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows();
        if rows > max_rows {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "the result has more than {max_rows} rows (the broker's limit); add a LIMIT or narrow the query"
            )));
        }
        batches.push(batch);
    }
    Ok(batches)
}
