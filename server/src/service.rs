//! The `SegmentServer` gRPC service.

use cuvee_proto::v1::fragment_response::Item;
use cuvee_proto::v1::segment_server_server::SegmentServer;
use cuvee_proto::v1::{
    ConsumingSegment, ExecutionStats, FragmentRequest, FragmentResponse, HealthRequest, HealthResponse,
    ListSegmentsRequest, ListSegmentsResponse, SealedSegment, TableListing, UnavailableSegment,
};
use cuvee_proto::PROTOCOL_VERSION;
use cuvee_query::codec::{decode_fragment, SegmentResolver};
use cuvee_query::{fragment, FragmentStats};
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::error::DataFusionError;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::SessionState;
use futures::StreamExt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How brokers and logs name this server.
    pub server_id: String,
    /// Memory one fragment may hold in operators.
    pub memory_bytes: usize,
}

pub struct FragmentService {
    options: ServerOptions,
    tables: Arc<dyn SegmentResolver>,
    /// cuvee's functions and settings, built once: each fragment's task context starts here.
    state: SessionState,
    /// Where fragments run (the process's query runtime), not on the gRPC workers.
    runtime: tokio::runtime::Handle,
}

impl FragmentService {
    pub fn new(
        options: ServerOptions,
        tables: Arc<dyn SegmentResolver>,
        runtime: tokio::runtime::Handle,
    ) -> FragmentService {
        FragmentService { options, tables, state: cuvee_query::session().state(), runtime }
    }
}

type Answer = Pin<Box<dyn futures::Stream<Item = Result<FragmentResponse, Status>> + Send>>;

#[tonic::async_trait]
impl SegmentServer for FragmentService {
    type ExecuteFragmentStream = Answer;

    async fn execute_fragment(&self, request: Request<FragmentRequest>) -> Result<Response<Answer>, Status> {
        let request = request.into_inner();
        if request.protocol_version != PROTOCOL_VERSION {
            return Err(Status::failed_precondition(format!(
                "protocol version {} is not this server's ({PROTOCOL_VERSION}); run brokers and servers of the same release",
                request.protocol_version
            )));
        }
        if request.deadline_unix_ms <= 0 {
            return Err(Status::invalid_argument(format!(
                "query {}: a fragment must carry a deadline (deadline_unix_ms > 0)",
                request.query_id
            )));
        }
        let left = time_left(request.deadline_unix_ms).ok_or_else(|| {
            Status::deadline_exceeded(format!(
                "query {}: the deadline passed before the fragment arrived",
                request.query_id
            ))
        })?;
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(self.options.memory_bytes, 1.0)
            .build_arc()
            .map_err(|e| Status::internal(e.to_string()))?;
        let task = Arc::new(datafusion::execution::TaskContext::from(&self.state).with_runtime(runtime));
        let plan = decode_fragment(&request.fragment, &task, Arc::clone(&self.tables))
            .map_err(|e| missing_or_invalid(&request, e))?;
        // Only the shapes a broker cuts are run: no file scans, sinks or foreign nodes.
        if let Err(refused) = cuvee_query::fragment::check_shape(&plan) {
            tracing::warn!(query = %request.query_id, operator = %refused, "a fragment with a refused operator");
            return Err(Status::permission_denied(format!(
                "query {}: the fragment holds {refused}, which servers do not run (only cuvee's scans, filters, projections, partial aggregates, sorts and limits)",
                request.query_id
            )));
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<FragmentResponse, Status>>(4);
        let query_id = request.query_id.clone();
        self.runtime.spawn(async move {
            // A panic in the fragment is an error the broker sees, never a short answer.
            let work = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(answer(plan, task, tx.clone())));
            let work = async {
                work.await.unwrap_or_else(|panic| {
                    let message = cuvee_error::panic_message(panic.as_ref());
                    tracing::error!(query = %query_id, panic = %message, "a fragment panicked");
                    Err(cuvee_proto::status(
                        cuvee_error::ErrorKind::Internal,
                        format!("query {query_id}: the fragment failed (a panic: {message})"),
                    ))
                })
            };
            let outcome = match left {
                Some(left) => tokio::time::timeout(left, work).await.unwrap_or_else(|_| {
                    Err(Status::deadline_exceeded(format!(
                        "query {query_id}: the fragment did not finish by its deadline"
                    )))
                }),
                None => work.await,
            };
            if let Err(status) = outcome {
                let _ = tx.send(Err(status)).await;
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn list_segments(
        &self,
        _request: Request<ListSegmentsRequest>,
    ) -> Result<Response<ListSegmentsResponse>, Status> {
        let mut tables = Vec::new();
        for table in self.tables.tables() {
            let listing = table.listing();
            let sealed = listing
                .sealed
                .iter()
                .map(|s| SealedSegment {
                    name: s.name().to_string(),
                    metadata_json: serde_json::to_string(s.metadata()).unwrap_or_default(),
                })
                .collect();
            let consuming = listing
                .consuming
                .into_iter()
                .map(|c| ConsumingSegment {
                    name: c.name,
                    partition: c.partition,
                    sequence: c.sequence,
                    num_docs: c.num_docs,
                    latest_ingestion_ms: c.latest_ingestion_ms.unwrap_or(0),
                })
                .collect();
            let definition = table.table();
            tables.push(TableListing {
                schema_json: definition.schema.to_json().to_string(),
                // Brokers need the definition, never its secrets.
                table_config_json: definition.config.redacted().to_json().to_string(),
                sealed,
                consuming,
                unavailable: table
                    .unavailable()
                    .into_iter()
                    .map(|u| UnavailableSegment { name: u.segment, reason: u.reason })
                    .collect(),
            });
        }
        Ok(Response::new(ListSegmentsResponse { server_id: self.options.server_id.clone(), tables }))
    }

    async fn health(&self, _request: Request<HealthRequest>) -> Result<Response<HealthResponse>, Status> {
        Ok(Response::new(HealthResponse {
            server_id: self.options.server_id.clone(),
            protocol_version: PROTOCOL_VERSION,
            status: "ready".into(),
        }))
    }
}

/// Runs the fragment and sends its batches as Arrow IPC, then its statistics. Stops when
/// the broker goes away (the channel closes).
async fn answer(
    plan: Arc<dyn datafusion::physical_plan::ExecutionPlan>,
    task: Arc<datafusion::execution::TaskContext>,
    tx: tokio::sync::mpsc::Sender<Result<FragmentResponse, Status>>,
) -> Result<(), Status> {
    let (plan, mut stream) = fragment::run(plan, task).map_err(query_error)?;
    let mut writer = StreamWriter::try_new(Vec::new(), &stream.schema())
        .map_err(|e| Status::internal(format!("encoding the answer: {e}")))?;
    let send = |bytes: Vec<u8>| FragmentResponse { item: Some(Item::ArrowIpc(bytes)) };
    if tx.send(Ok(send(std::mem::take(writer.get_mut())))).await.is_err() {
        return Ok(());
    }
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(query_error)?;
        writer.write(&batch).map_err(|e| Status::internal(format!("encoding the answer: {e}")))?;
        if tx.send(Ok(send(std::mem::take(writer.get_mut())))).await.is_err() {
            return Ok(());
        }
    }
    let stats = stats_to(&FragmentStats::of_plan(plan.as_ref()));
    let _ = tx.send(Ok(FragmentResponse { item: Some(Item::Stats(stats)) })).await;
    Ok(())
}

/// The query's own error: the broker fails the query with it (and its kind), as one
/// process would.
fn query_error(error: DataFusionError) -> Status {
    cuvee_proto::status(cuvee_query::kind_of(&error), error.to_string())
}

/// A fragment naming segments this server does not hold is the routing's problem (NOT_FOUND:
/// the broker reports this server as failed); anything else undecodable is the query's.
fn missing_or_invalid(request: &FragmentRequest, error: DataFusionError) -> Status {
    let kind = cuvee_query::kind_of(&error);
    if kind == cuvee_error::ErrorKind::NotFound {
        return cuvee_proto::status(kind, format!("query {}: {error}", request.query_id));
    }
    cuvee_proto::status(kind, format!("query {}: cannot decode the fragment: {error}", request.query_id))
}

/// Time until the deadline (`None` inside: no deadline); `None` outside when it has passed.
fn time_left(deadline_unix_ms: i64) -> Option<Option<Duration>> {
    if deadline_unix_ms <= 0 {
        return Some(None);
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    (deadline_unix_ms > now).then(|| Some(Duration::from_millis((deadline_unix_ms - now) as u64)))
}

fn stats_to(s: &FragmentStats) -> ExecutionStats {
    ExecutionStats {
        segments_queried: s.segments_queried,
        segments_processed: s.segments_processed,
        segments_matched: s.segments_matched,
        segments_pruned: s.segments_pruned,
        consuming_segments_queried: s.consuming_segments_queried,
        consuming_segments_processed: s.consuming_segments_processed,
        consuming_segments_matched: s.consuming_segments_matched,
        min_consuming_freshness_ms: s.min_consuming_freshness_ms.unwrap_or(0),
        docs_scanned: s.docs_scanned,
        entries_scanned_in_filter: s.entries_scanned_in_filter,
        entries_scanned_post_filter: s.entries_scanned_post_filter,
        total_docs: 0,
        leaves_by_access: s.leaves_by_name().filter(|(_, n)| *n > 0).map(|(name, n)| (name.to_string(), n)).collect(),
    }
}
