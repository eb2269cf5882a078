//! One trait for every server a broker sends fragments to.

use cuvee_query::fragment;
use cuvee_query::FragmentStats;
use datafusion::common::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, SendableRecordBatchStream};
use futures::StreamExt;
use std::fmt::Debug;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// A fragment for one server: the lower half of a plan, over that server's segments.
#[derive(Clone)]
pub struct FragmentRequest {
    pub query_id: String,
    /// After this the broker stops waiting; the server should stop working too.
    pub deadline: Option<Instant>,
    pub table: String,
    pub fragment: Arc<dyn ExecutionPlan>,
    /// The query's task context (session configuration and functions, memory pool).
    pub task: Arc<TaskContext>,
}

/// A server's answer: record batches, then — once they have ended — its statistics.
pub struct FragmentAnswer {
    pub batches: SendableRecordBatchStream,
    pub stats: Arc<OnceLock<FragmentStats>>,
}

#[async_trait::async_trait]
pub trait SegmentServer: Debug + Send + Sync {
    /// How the broker names this server in routing and in `exceptions`.
    fn id(&self) -> &str;

    /// Whether the fragment runs in the broker's own process. Such a server is the query
    /// itself, not a peer that may be down: it gets the query's whole time and, when that
    /// runs out, the query times out (Pinot's 250) instead of being answered partially.
    fn in_process(&self) -> bool {
        false
    }

    /// Starts the fragment. An error here is the server's refusal or unreachability; errors
    /// while running come through the batch stream.
    async fn execute(&self, request: FragmentRequest) -> Result<FragmentAnswer>;
}

/// The server in this process: runs the fragment on the query's own task, over the
/// segments the plan already holds.
#[derive(Debug)]
pub struct LocalServer {
    id: String,
}

impl LocalServer {
    pub fn new(id: impl Into<String>) -> LocalServer {
        LocalServer { id: id.into() }
    }
}

#[async_trait::async_trait]
impl SegmentServer for LocalServer {
    fn id(&self) -> &str {
        &self.id
    }

    fn in_process(&self) -> bool {
        true
    }

    async fn execute(&self, request: FragmentRequest) -> Result<FragmentAnswer> {
        let (plan, stream) = fragment::run(request.fragment, request.task)?;
        Ok(with_stats_at_end(plan, stream))
    }
}

/// `stream`, filling the statistics of `plan` when it ends.
pub fn with_stats_at_end(plan: Arc<dyn ExecutionPlan>, stream: SendableRecordBatchStream) -> FragmentAnswer {
    let stats = Arc::new(OnceLock::new());
    let slot = Arc::clone(&stats);
    let schema = stream.schema();
    let tail = futures::stream::once(async move {
        let _ = slot.set(FragmentStats::of_plan(plan.as_ref()));
        None
    })
    .filter_map(futures::future::ready);
    FragmentAnswer { batches: Box::pin(RecordBatchStreamAdapter::new(schema, stream.chain(tail))), stats }
}
