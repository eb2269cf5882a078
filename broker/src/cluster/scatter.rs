//! `ScatterExec`: where a distributed plan leaves the broker. Each of its output partitions
//! is one server's answer to the fragment over that server's segments; the operators above
//! it (final aggregation, merge, limit) run on the broker as planned.
//!
//! A server that fails or does not answer by the query's deadline is recorded in the
//! query's [`QueryScope`]; with partial results allowed its partition just ends (the answer
//! is flagged partial, never silently short), otherwise the query fails naming the server.

use super::server::{FragmentRequest, SegmentServer};
use cuvee_query::FragmentStats;
use cuvee_query::QueryError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{internal_err, DataFusionError, Result, Statistics};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use parking_lot::{Mutex, MutexGuard};
use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

/// Pinot's error codes for a server that could not be reached, and one that did not answer.
pub const BROKER_REQUEST_SEND_ERROR: u32 = 425;
pub const SERVER_NOT_RESPONDING_ERROR: u32 = 427;
/// Pinot's BROKER_SEGMENT_UNAVAILABLE: a segment of the table cannot be read anywhere.
pub const SEGMENT_UNAVAILABLE_ERROR: u32 = 305;

/// One query's account of its servers, carried in its task context's configuration.
#[derive(Debug)]
pub struct QueryScope {
    pub query_id: String,
    /// When the broker stops waiting for servers (a little before the query's timeout, so
    /// the rows it has can still be merged and sent).
    pub deadline: Option<Instant>,
    /// A failed server leaves the answer partial (flagged) instead of failing the query.
    pub allow_partial: bool,
    gathered: Mutex<Gathered>,
}

#[derive(Debug, Clone, Default)]
pub struct Gathered {
    pub queried: BTreeSet<String>,
    pub failures: Vec<ServerFailure>,
    /// Servers that could not be reached and whose segments a replica answered for.
    pub failed_over: Vec<String>,
    pub stats: FragmentStats,
}

impl Gathered {
    /// Servers that answered every fragment sent to them.
    pub fn responded(&self) -> usize {
        let failed: BTreeSet<&str> = self
            .failures
            .iter()
            .map(|f| f.server.as_str())
            .chain(self.failed_over.iter().map(String::as_str))
            .collect();
        self.queried.iter().filter(|s| !failed.contains(s.as_str())).count()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFailure {
    pub server: String,
    pub code: u32,
    pub message: String,
}

impl QueryScope {
    pub fn new(query_id: impl Into<String>, deadline: Option<Instant>, allow_partial: bool) -> QueryScope {
        QueryScope { query_id: query_id.into(), deadline, allow_partial, gathered: Mutex::default() }
    }

    /// How long to wait for `server`: remote servers until the deadline; the in-process
    /// server for as long as the query runs (its own timeout ends it).
    fn deadline_for(&self, server: &dyn SegmentServer) -> Option<Instant> {
        if server.in_process() {
            return None;
        }
        self.deadline
    }

    pub fn gathered(&self) -> Gathered {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Gathered> {
        self.gathered.lock()
    }

    fn queried(&self, server: &str) {
        self.lock().queried.insert(server.to_string());
    }

    fn answered(&self, stats: Option<&FragmentStats>) {
        if let Some(stats) = stats {
            self.lock().stats.add(stats);
        }
    }

    /// A server's error: the query's own (a bad cast, a memory limit) fails the query as it
    /// would in one process; an unreachable server is a failure of that server.
    fn error(&self, server: &str, code: u32, error: DataFusionError) -> Option<DataFusionError> {
        match unreachable(&error) {
            Some(why) if why.timed_out => self.failed(server, SERVER_NOT_RESPONDING_ERROR, why.to_string()),
            Some(why) => self.failed(server, code, why.to_string()),
            None => Some(error),
        }
    }

    /// Segments of `table` that no server can read: recorded for a partial answer that
    /// names them, or the error that fails the query when partial answers are not allowed.
    fn segments_unavailable(
        &self,
        table: &str,
        segments: Vec<cuvee_query::UnavailableSegment>,
    ) -> Option<DataFusionError> {
        if !self.allow_partial {
            return Some(QueryError::SegmentsUnavailable { table: table.to_string(), segments }.into());
        }
        let mut gathered = self.lock();
        for unavailable in segments {
            let message = format!(
                "segment {} of table {table} is unavailable: {} (the answer is partial)",
                unavailable.segment, unavailable.reason
            );
            if !gathered.failures.iter().any(|f| f.message == message) {
                gathered.failures.push(ServerFailure {
                    server: String::new(),
                    code: SEGMENT_UNAVAILABLE_ERROR,
                    message,
                });
            }
        }
        None
    }

    fn replaced(&self, server: &str, replica: &str) {
        let mut gathered = self.lock();
        gathered.failed_over.push(server.to_string());
        gathered.queried.insert(replica.to_string());
    }

    /// Records a failure; the error to raise unless partial results are allowed.
    fn failed(&self, server: &str, code: u32, message: String) -> Option<DataFusionError> {
        let message = format!("server {server}: {message}");
        self.lock().failures.push(ServerFailure { server: server.to_string(), code, message: message.clone() });
        (!self.allow_partial).then(|| QueryError::Remote { kind: cuvee_error::ErrorKind::Unavailable, message }.into())
    }
}

/// The error a [`SegmentServer`] raises when the server itself failed (down, unreachable,
/// gone mid-answer, out of time) rather than the query.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Unreachable {
    pub message: String,
    /// The server did not answer in time (Pinot's 427), as opposed to not being reachable.
    pub timed_out: bool,
}

fn unreachable(error: &DataFusionError) -> Option<&Unreachable> {
    match error {
        DataFusionError::External(e) => e.downcast_ref::<Unreachable>(),
        DataFusionError::Context(_, inner) => unreachable(inner),
        DataFusionError::Shared(inner) => unreachable(inner),
        _ => None,
    }
}

/// One server's share of a scatter.
#[derive(Debug, Clone)]
pub struct Target {
    pub server: Arc<dyn SegmentServer>,
    /// The fragment restricted to this server's segments.
    pub fragment: Arc<dyn ExecutionPlan>,
    /// Other servers holding every one of those segments (replicas), tried in order when
    /// `server` cannot be reached — before any row came, so nothing is read twice.
    pub replicas: Vec<Arc<dyn SegmentServer>>,
}

#[derive(Debug)]
pub struct ScatterExec {
    table: String,
    /// The whole fragment (every server's segments): what EXPLAIN shows under this node.
    fragment: Arc<dyn ExecutionPlan>,
    targets: Vec<Target>,
    properties: Arc<PlanProperties>,
    /// What each server reported of its fragment's scans, for EXPLAIN ANALYZE: the fragment
    /// under this node ran elsewhere, so its own metrics stay empty.
    metrics: ExecutionPlanMetricsSet,
}

/// Reads one statistic of a fragment.
type Statistic = fn(&FragmentStats) -> u64;

/// One server's fragment statistics as this node's metrics (its partition).
struct ServerCounters {
    counts: Vec<(Count, Statistic)>,
    leaves: Vec<(Count, usize)>,
}

impl ServerCounters {
    fn new(metrics: &ExecutionPlanMetricsSet, partition: usize) -> ServerCounters {
        let counter = |name: &'static str| MetricBuilder::new(metrics).counter(name, partition);
        let counts: Vec<(&'static str, Statistic)> = vec![
            ("segments_scanned", |s| s.segments_processed),
            ("segments_pruned", |s| s.segments_pruned),
            ("segments_matched", |s| s.segments_matched),
            ("consuming_segments_scanned", |s| s.consuming_segments_processed),
            ("docs_matched", |s| s.docs_scanned),
            ("entries_scanned_in_filter", |s| s.entries_scanned_in_filter),
        ];
        ServerCounters {
            counts: counts.into_iter().map(|(name, read)| (counter(name), read)).collect(),
            leaves: FragmentStats::default()
                .leaves_by_name()
                .enumerate()
                .map(|(i, (name, _))| (counter(name), i))
                .collect(),
        }
    }

    fn record(&self, stats: &FragmentStats) {
        for (count, read) in &self.counts {
            count.add(read(stats) as usize);
        }
        for (count, i) in &self.leaves {
            count.add(stats.leaves_by_access[*i] as usize);
        }
    }
}

impl ScatterExec {
    pub fn new(table: String, fragment: Arc<dyn ExecutionPlan>, targets: Vec<Target>) -> ScatterExec {
        // Each server merges its partitions in order, so an ordered fragment stays ordered
        // within each of this node's partitions.
        let properties = PlanProperties::new(
            fragment.equivalence_properties().clone(),
            Partitioning::UnknownPartitioning(targets.len().max(1)),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        ScatterExec { table, fragment, targets, properties: Arc::new(properties), metrics: Default::default() }
    }

    pub fn servers(&self) -> Vec<&str> {
        self.targets.iter().map(|t| t.server.id()).collect()
    }
}

impl DisplayAs for ScatterExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "ScatterExec: table={}, servers=[{}]", self.table, self.servers().join(", "))
    }
}

impl ExecutionPlan for ScatterExec {
    fn name(&self) -> &'static str {
        "ScatterExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    /// The fragment is shown as the child but never executed here.
    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.fragment]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match children.as_slice() {
            [fragment] if Arc::ptr_eq(fragment, &self.fragment) => Ok(self),
            _ => internal_err!("a scatter's fragment is fixed once the plan is distributed"),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn statistics_from_inputs(&self, inputs: &[Arc<Statistics>], args: &StatisticsArgs) -> Result<Arc<Statistics>> {
        match (args.partition(), inputs) {
            (None, [fragment]) => Ok(Arc::clone(fragment)),
            _ => Ok(Arc::new(Statistics::new_unknown(&self.schema()))),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let schema = self.schema();
        // Outside a broker query (a door that sets no scope) a server failure fails the query.
        let scope = context
            .session_config()
            .get_extension::<QueryScope>()
            .unwrap_or_else(|| Arc::new(QueryScope::new("", None, false)));
        if partition == 0 {
            let unavailable = unavailable_in(&self.fragment);
            if !unavailable.is_empty() {
                if let Some(error) = scope.segments_unavailable(&self.table, unavailable) {
                    return Err(error);
                }
            }
        }
        let Some(target) = self.targets.get(partition).cloned() else {
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::empty())));
        };
        scope.queried(target.server.id());
        let request = FragmentRequest {
            query_id: scope.query_id.clone(),
            deadline: scope.deadline,
            table: self.table.clone(),
            fragment: target.fragment,
            task: context,
        };
        let replicas: VecDeque<_> = target.replicas.into_iter().collect();
        let counters = Arc::new(ServerCounters::new(&self.metrics, partition));
        let stream = gather(target.server, replicas, request, scope, Some(counters));
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// The unreadable segments the scans of a fragment know of.
fn unavailable_in(fragment: &Arc<dyn ExecutionPlan>) -> Vec<cuvee_query::UnavailableSegment> {
    let mut out = Vec::new();
    let mut stack = vec![Arc::clone(fragment)];
    while let Some(node) = stack.pop() {
        let any: &dyn std::any::Any = node.as_ref();
        if let Some(scan) = any.downcast_ref::<cuvee_query::SegmentScanExec>() {
            out.extend(scan.request().unavailable.iter().cloned());
        }
        stack.extend(node.children().into_iter().cloned());
    }
    out
}

/// How much of a server's answer the broker holds back while a replica could still take
/// over: a server that breaks off before this much arrived is replaced as if it had never
/// answered (its rows are dropped, the replica's read instead). Past it, the rows flow and a
/// break leaves the answer partial. Partial aggregates fit easily; only long selections
/// from replicated segments outgrow it.
const REPLICA_HOLD_BYTES: usize = 32 << 20;

enum Gather {
    Start(Arc<dyn SegmentServer>, VecDeque<Arc<dyn SegmentServer>>, FragmentRequest),
    Streaming(Streaming),
    /// Held-back batches still to hand on, then the end.
    Draining(VecDeque<RecordBatch>),
}

struct Streaming {
    server: Arc<dyn SegmentServer>,
    answer: super::server::FragmentAnswer,
    /// Who can take over if `server` breaks off, and what they would be asked.
    replicas: VecDeque<Arc<dyn SegmentServer>>,
    request: FragmentRequest,
    held: VecDeque<RecordBatch>,
    held_bytes: usize,
}

impl Streaming {
    /// Whether a break now can still be mended by a replica.
    fn holding(&self) -> bool {
        !self.replicas.is_empty() && self.held_bytes <= REPLICA_HOLD_BYTES
    }
}

/// One server's batches, each awaited no later than the query's deadline; a replica's if
/// the server cannot be reached, or breaks off before the broker passed any of its rows on.
fn gather(
    server: Arc<dyn SegmentServer>,
    replicas: VecDeque<Arc<dyn SegmentServer>>,
    request: FragmentRequest,
    scope: Arc<QueryScope>,
    counters: Option<Arc<ServerCounters>>,
) -> impl futures::Stream<Item = Result<RecordBatch>> {
    futures::stream::unfold(Some(Gather::Start(server, replicas, request)), move |state| {
        let scope = Arc::clone(&scope);
        let counters = counters.clone();
        async move {
            let mut state = state?;
            loop {
                match state {
                    Gather::Start(server, mut replicas, request) => {
                        match within(scope.deadline_for(server.as_ref()), server.execute(request.clone())).await {
                            Some(Ok(answer)) => {
                                state = Gather::Streaming(Streaming {
                                    server,
                                    answer,
                                    replicas,
                                    request,
                                    held: VecDeque::new(),
                                    held_bytes: 0,
                                })
                            }
                            Some(Err(e)) if unreachable(&e).is_some() && !replicas.is_empty() => {
                                let replica = replicas.pop_front()?;
                                scope.replaced(server.id(), replica.id());
                                state = Gather::Start(replica, replicas, request);
                            }
                            Some(Err(e)) => {
                                return scope.error(server.id(), BROKER_REQUEST_SEND_ERROR, e).map(|e| (Err(e), None))
                            }
                            None => {
                                return scope
                                    .failed(
                                        server.id(),
                                        SERVER_NOT_RESPONDING_ERROR,
                                        "no answer within the query's deadline".into(),
                                    )
                                    .map(|e| (Err(e), None))
                            }
                        }
                    }
                    Gather::Streaming(mut streaming) if !streaming.holding() && !streaming.held.is_empty() => {
                        // Past the hold: what was held goes on first, in order.
                        let first = streaming.held.pop_front()?;
                        return Some((Ok(first), Some(Gather::Streaming(streaming))));
                    }
                    Gather::Streaming(mut streaming) => {
                        match within(scope.deadline_for(streaming.server.as_ref()), streaming.answer.batches.next())
                            .await
                        {
                            Some(Some(Ok(batch))) if streaming.holding() => {
                                streaming.held_bytes += batch.get_array_memory_size();
                                streaming.held.push_back(batch);
                                state = Gather::Streaming(streaming);
                            }
                            Some(Some(Ok(batch))) => return Some((Ok(batch), Some(Gather::Streaming(streaming)))),
                            Some(Some(Err(e))) if unreachable(&e).is_some() && streaming.holding() => {
                                let Streaming { server, mut replicas, request, .. } = streaming;
                                let replica = replicas.pop_front()?;
                                scope.replaced(server.id(), replica.id());
                                state = Gather::Start(replica, replicas, request);
                            }
                            Some(Some(Err(e))) => {
                                return scope
                                    .error(streaming.server.id(), SERVER_NOT_RESPONDING_ERROR, e)
                                    .map(|e| (Err(e), None))
                            }
                            Some(None) => {
                                let stats = streaming.answer.stats.get();
                                if let (Some(counters), Some(stats)) = (&counters, stats) {
                                    counters.record(stats);
                                }
                                scope.answered(stats);
                                state = Gather::Draining(streaming.held);
                            }
                            None => {
                                return scope
                                    .failed(
                                        streaming.server.id(),
                                        SERVER_NOT_RESPONDING_ERROR,
                                        "did not finish within the query's deadline".into(),
                                    )
                                    .map(|e| (Err(e), None))
                            }
                        }
                    }
                    Gather::Draining(mut held) => {
                        let batch = held.pop_front()?;
                        return Some((Ok(batch), Some(Gather::Draining(held))));
                    }
                }
            }
        }
    })
}

/// `work`'s output, or `None` once `deadline` passes.
async fn within<T>(deadline: Option<Instant>, work: impl std::future::Future<Output = T>) -> Option<T> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline.into(), work).await.ok(),
        None => Some(work.await),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
    use datafusion::physical_plan::empty::EmptyExec;

    /// Answers `rows` one batch each, then breaks off (as a killed server's stream does) if
    /// `breaks`.
    #[derive(Debug)]
    struct Scripted {
        id: String,
        rows: Vec<i64>,
        breaks: bool,
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]))
    }

    #[async_trait::async_trait]
    impl SegmentServer for Scripted {
        fn id(&self) -> &str {
            &self.id
        }

        async fn execute(&self, _: FragmentRequest) -> Result<super::super::server::FragmentAnswer> {
            let batches: Vec<Result<RecordBatch>> = self
                .rows
                .iter()
                .map(|x| Ok(RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(vec![*x]))])?))
                .collect();
            let broken = self.breaks.then(|| {
                Err(DataFusionError::External(Box::new(Unreachable {
                    message: "connection reset".into(),
                    timed_out: false,
                })))
            });
            let stream = futures::stream::iter(batches.into_iter().chain(broken));
            let stats = Arc::new(std::sync::OnceLock::new());
            let _ = stats.set(FragmentStats::default());
            Ok(super::super::server::FragmentAnswer {
                batches: Box::pin(RecordBatchStreamAdapter::new(schema(), stream)),
                stats,
            })
        }
    }

    async fn run(primary: Scripted, replicas: Vec<Scripted>) -> (Vec<i64>, Vec<String>, Gathered) {
        let scope = Arc::new(QueryScope::new("q", None, true));
        scope.queried(&primary.id);
        let request = FragmentRequest {
            query_id: "q".into(),
            deadline: None,
            table: "t".into(),
            fragment: Arc::new(EmptyExec::new(schema())),
            task: Arc::new(TaskContext::default()),
        };
        let replicas: VecDeque<Arc<dyn SegmentServer>> =
            replicas.into_iter().map(|r| Arc::new(r) as Arc<dyn SegmentServer>).collect();
        let items: Vec<Result<RecordBatch>> =
            gather(Arc::new(primary), replicas, request, Arc::clone(&scope), None).collect().await;
        let mut rows = Vec::new();
        let mut errors = Vec::new();
        for item in items {
            match item {
                Ok(batch) => {
                    rows.extend(batch.column(0).as_any().downcast_ref::<Int64Array>().unwrap().values().iter().copied())
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        (rows, errors, scope.gathered())
    }

    #[tokio::test]
    async fn a_server_breaking_off_mid_answer_is_replaced_by_its_replica() {
        let primary = Scripted { id: "a".into(), rows: vec![1, 2], breaks: true };
        let replica = Scripted { id: "b".into(), rows: vec![1, 2, 3], breaks: false };
        let (rows, errors, gathered) = run(primary, vec![replica]).await;
        assert_eq!(rows, vec![1, 2, 3], "the replica's whole answer, none of the broken one's rows");
        assert!(errors.is_empty(), "{errors:?}");
        assert!(gathered.failures.is_empty());
        assert_eq!((gathered.queried.len(), gathered.responded()), (2, 1));
    }

    #[tokio::test]
    async fn without_a_replica_a_break_leaves_the_answer_partial() {
        let primary = Scripted { id: "a".into(), rows: vec![1, 2], breaks: true };
        let (rows, _, gathered) = run(primary, vec![]).await;
        assert_eq!(rows, vec![1, 2]);
        assert_eq!(gathered.failures.len(), 1);
        assert_eq!(gathered.responded(), 0);
    }
}
