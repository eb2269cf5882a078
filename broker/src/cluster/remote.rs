//! A server in another process, over gRPC (`proto/cuvee.proto`).
//!
//! The fragment travels as datafusion-proto bytes with cuvee's codec; the answer comes
//! back as Arrow IPC messages and ends with the server's statistics. A server that cannot
//! be reached, refuses the protocol version, lacks a segment or breaks off mid-answer is
//! [`Unreachable`] (a server failure, reported per server); an error of the query itself
//! (`INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED` from the server) fails the query as it would in
//! one process.

use super::scatter::Unreachable;
use super::server::{FragmentAnswer, FragmentRequest, SegmentServer};
use crate::error::RoutingError;
use crate::metrics::{FragmentEnd, FragmentTimer};
use cuvee_proto::v1::fragment_response::Item;
use cuvee_proto::v1::segment_server_client::SegmentServerClient;
use cuvee_proto::v1::{ExecutionStats, ListSegmentsRequest, ListSegmentsResponse};
use cuvee_query::QueryError;
use cuvee_query::{codec, fragment, FragmentStats};
use datafusion::arrow::buffer::Buffer;
use datafusion::arrow::ipc::reader::StreamDecoder;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DataFusionError, Result};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(3);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(5);

/// A fragment's deadline when its statement has none (a Postgres or Flight SQL statement
/// without a timeout): an hour.
const DEFAULT_FRAGMENT_TIME: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct RemoteServer {
    id: String,
    client: SegmentServerClient<Channel>,
    /// The cluster's shared token, sent with every call (servers refuse calls without it
    /// when they have one).
    token: Option<Arc<str>>,
}

impl RemoteServer {
    /// A server at `host:port`; connects on first use and reconnects after failures.
    pub fn connect(address: &str, token: Option<Arc<str>>) -> std::result::Result<RemoteServer, RoutingError> {
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|e| RoutingError::Address { address: address.to_string(), reason: e.to_string() })?;
        // HTTP/2 pings find a server that stopped answering (a hung process, a partition)
        // while a statement waits on it with no deadline of its own (Postgres and Flight
        // SQL statements without a timeout): the stream then fails as a server failure
        // instead of waiting forever. A busy server still answers pings (its gRPC runtime is
        // not the query runtime).
        let channel = endpoint
            .connect_timeout(Duration::from_secs(1))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(KEEP_ALIVE_INTERVAL)
            .keep_alive_timeout(KEEP_ALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .connect_lazy();
        // Plan fragments are small; answers are record batches, which may be large.
        let client = SegmentServerClient::new(channel).max_decoding_message_size(256 << 20);
        Ok(RemoteServer { id: address.to_string(), client, token })
    }

    /// A request carrying the cluster token.
    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Some(token) = &self.token {
            if let Ok(value) = format!("Bearer {token}").parse() {
                request.metadata_mut().insert("authorization", value);
            }
        }
        request
    }

    /// The server's tables and segments.
    pub async fn list(&self, timeout: Duration) -> std::result::Result<ListSegmentsResponse, RoutingError> {
        let mut request = self.request(ListSegmentsRequest {});
        request.set_timeout(timeout);
        match tokio::time::timeout(timeout, self.client.clone().list_segments(request)).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(RoutingError::Listing(status)),
            Err(_) => Err(RoutingError::ListingTimeout(timeout.as_millis())),
        }
    }
}

#[async_trait::async_trait]
impl SegmentServer for RemoteServer {
    fn id(&self) -> &str {
        &self.id
    }

    async fn execute(&self, request: FragmentRequest) -> Result<FragmentAnswer> {
        let schema = request.fragment.schema();
        let segments = fragment::sources(request.fragment.as_ref()).iter().map(|s| s.name().to_string()).collect();
        let bytes = codec::encode_fragment(request.fragment)?;
        // Every fragment carries a deadline (servers refuse one without): the query's, else
        // the longest a statement may run.
        let deadline = request.deadline.unwrap_or_else(|| Instant::now() + DEFAULT_FRAGMENT_TIME);
        let deadline_unix_ms = unix_ms(SystemTime::now() + deadline.saturating_duration_since(Instant::now()));
        let message = cuvee_proto::v1::FragmentRequest {
            protocol_version: cuvee_proto::PROTOCOL_VERSION,
            query_id: request.query_id,
            deadline_unix_ms,
            table: request.table,
            segments,
            fragment: bytes,
        };
        let mut grpc = self.request(message);
        grpc.set_timeout(deadline.saturating_duration_since(Instant::now()));
        // Timed from here to the last batch, per server (`/metrics`); a fragment the
        // broker stops reading counts as dropped.
        let mut timer = FragmentTimer::start(&self.id);
        let answer = match self.client.clone().execute_fragment(grpc).await {
            Ok(answer) => answer.into_inner(),
            Err(status) => {
                timer.end(FragmentEnd::Error);
                return Err(from_status(status));
            }
        };
        let stats = Arc::new(OnceLock::new());
        let reader =
            Reader { answer, decoder: StreamDecoder::new(), pending: VecDeque::new(), stats: Arc::clone(&stats) };
        let batches = futures::stream::unfold(Some((reader, timer)), |state| async move {
            let (mut reader, mut timer) = state?;
            match reader.next().await {
                Ok(Some(batch)) => Some((Ok(batch), Some((reader, timer)))),
                Ok(None) => {
                    timer.end(FragmentEnd::Ok);
                    None
                }
                Err(e) => {
                    timer.end(FragmentEnd::Error);
                    Some((Err(e), None))
                }
            }
        });
        Ok(FragmentAnswer { batches: Box::pin(RecordBatchStreamAdapter::new(schema, batches)), stats })
    }
}

struct Reader {
    answer: tonic::Streaming<cuvee_proto::v1::FragmentResponse>,
    decoder: StreamDecoder,
    pending: VecDeque<RecordBatch>,
    stats: Arc<OnceLock<FragmentStats>>,
}

impl Reader {
    async fn next(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            if let Some(batch) = self.pending.pop_front() {
                return Ok(Some(batch));
            }
            let Some(message) = self.answer.message().await.map_err(from_status)? else {
                if self.stats.get().is_none() {
                    return Err(unreachable(
                        "the answer ended without its statistics (the server stopped mid-answer?)".into(),
                    ));
                }
                return Ok(None);
            };
            match message.item {
                Some(Item::ArrowIpc(bytes)) => {
                    let mut buffer = Buffer::from(bytes);
                    while !buffer.is_empty() {
                        match self.decoder.decode(&mut buffer) {
                            Ok(Some(batch)) => self.pending.push_back(batch),
                            Ok(None) => {}
                            Err(e) => return Err(unreachable(format!("undecodable Arrow IPC in the answer: {e}"))),
                        }
                    }
                }
                Some(Item::Stats(stats)) => {
                    let _ = self.stats.set(stats_from(&stats));
                }
                None => {}
            }
        }
    }
}

fn unreachable(message: String) -> DataFusionError {
    DataFusionError::External(Box::new(Unreachable { message, timed_out: false }))
}

/// The query's own errors stay query errors, with the kind they had on the server;
/// everything else is the server's failure.
fn from_status(status: Status) -> DataFusionError {
    match status.code() {
        Code::InvalidArgument | Code::ResourceExhausted | Code::Unimplemented | Code::PermissionDenied => {
            QueryError::Remote { kind: cuvee_proto::kind_of(&status), message: status.message().to_string() }.into()
        }
        Code::Unavailable => unreachable(format!("unreachable: {}", status.message())),
        // The request's deadline passed: the server did not answer in time.
        Code::DeadlineExceeded | Code::Cancelled => DataFusionError::External(Box::new(Unreachable {
            message: format!("no answer in time: {}", status.message()),
            timed_out: true,
        })),
        _ => unreachable(status.message().to_string()),
    }
}

fn stats_from(s: &ExecutionStats) -> FragmentStats {
    let mut stats = FragmentStats {
        segments_queried: s.segments_queried,
        segments_processed: s.segments_processed,
        segments_matched: s.segments_matched,
        segments_pruned: s.segments_pruned,
        consuming_segments_queried: s.consuming_segments_queried,
        consuming_segments_processed: s.consuming_segments_processed,
        consuming_segments_matched: s.consuming_segments_matched,
        min_consuming_freshness_ms: (s.min_consuming_freshness_ms > 0).then_some(s.min_consuming_freshness_ms),
        docs_scanned: s.docs_scanned,
        entries_scanned_in_filter: s.entries_scanned_in_filter,
        entries_scanned_post_filter: s.entries_scanned_post_filter,
        ..FragmentStats::default()
    };
    for (name, count) in &s.leaves_by_access {
        stats.set_leaves(name, *count);
    }
    stats
}

fn unix_ms(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
