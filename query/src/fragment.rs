//! Running a plan fragment on the process that holds its segments — the one code path
//! behind both the in-process server and the gRPC one — and the statistics it reports.
//!
//! A fragment is the lower half of a physical plan, cut by the broker where partial
//! aggregation ends: scans, filters, projections, partial aggregates, per-partition sorts
//! and limits. It runs on all of this process's cores and answers as one stream; when the
//! fragment's output is ordered (a pushed-down TopK), the partitions are merged in order so
//! the broker can merge servers in order too.

use crate::scan::{ScanSource, SegmentScanExec, ACCESS_COUNTERS};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, SendableRecordBatchStream};
use std::sync::Arc;

/// What running a fragment did, in Pinot's terms; summed over servers by the broker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FragmentStats {
    pub segments_queried: u64,
    pub segments_processed: u64,
    pub segments_matched: u64,
    pub segments_pruned: u64,
    pub consuming_segments_queried: u64,
    /// Consuming segments evaluated (not pruned), and those with a matching doc.
    pub consuming_segments_processed: u64,
    pub consuming_segments_matched: u64,
    /// Pinot's `minConsumingFreshnessTimeMs`; `None` when no consuming segment was read.
    pub min_consuming_freshness_ms: Option<i64>,
    pub docs_scanned: u64,
    pub entries_scanned_in_filter: u64,
    pub entries_scanned_post_filter: u64,
    /// Filter leaves answered each way, in [`ACCESS_COUNTERS`] order (so EXPLAIN ANALYZE
    /// can say which index answered on a server it did not run on).
    pub leaves_by_access: [u64; ACCESS_COUNTERS.len()],
}

impl FragmentStats {
    pub fn add(&mut self, other: &FragmentStats) {
        self.segments_queried += other.segments_queried;
        self.segments_processed += other.segments_processed;
        self.segments_matched += other.segments_matched;
        self.segments_pruned += other.segments_pruned;
        self.consuming_segments_queried += other.consuming_segments_queried;
        self.consuming_segments_processed += other.consuming_segments_processed;
        self.consuming_segments_matched += other.consuming_segments_matched;
        self.min_consuming_freshness_ms = match (self.min_consuming_freshness_ms, other.min_consuming_freshness_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.docs_scanned += other.docs_scanned;
        self.entries_scanned_in_filter += other.entries_scanned_in_filter;
        self.entries_scanned_post_filter += other.entries_scanned_post_filter;
        for (mine, theirs) in self.leaves_by_access.iter_mut().zip(other.leaves_by_access) {
            *mine += theirs;
        }
    }

    /// The leaves answered each way, by counter name.
    pub fn leaves_by_name(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        ACCESS_COUNTERS.iter().zip(self.leaves_by_access).map(|((_, name), n)| (*name, n))
    }

    /// Sets a count of leaves by its counter name; an unknown name (a newer server's) is
    /// ignored.
    pub fn set_leaves(&mut self, name: &str, count: u64) {
        if let Some(i) = ACCESS_COUNTERS.iter().position(|(_, n)| *n == name) {
            self.leaves_by_access[i] = count;
        }
    }

    /// The statistics of every segment scan in an executed plan, from the scans' metrics.
    pub fn of_plan(plan: &dyn ExecutionPlan) -> FragmentStats {
        FragmentStats::of_plan_until(plan, &|_| false)
    }

    /// [`FragmentStats::of_plan`] leaving out the subtrees under nodes `stop` accepts
    /// (fragments that ran elsewhere and report their own).
    pub fn of_plan_until(plan: &dyn ExecutionPlan, stop: &dyn Fn(&dyn ExecutionPlan) -> bool) -> FragmentStats {
        let mut stats = FragmentStats::default();
        if stop(plan) {
            return stats;
        }
        let any: &dyn std::any::Any = plan;
        // An aggregate on ids reports through the scan it replaced.
        let scan = match any.downcast_ref::<crate::segment_aggregate::SegmentAggregateExec>() {
            Some(aggregate) => Some(aggregate.scan()),
            None => any.downcast_ref::<SegmentScanExec>(),
        };
        if let Some(scan) = scan {
            let metrics = scan.metrics();
            let metric =
                |name: &str| metrics.as_ref().and_then(|m| m.sum_by_name(name)).map_or(0, |v| v.as_usize() as u64);
            stats.segments_queried = scan.segment_count() as u64;
            stats.segments_processed = metric("segments_scanned");
            stats.segments_matched = metric("segments_matched");
            stats.segments_pruned = metric("segments_pruned");
            stats.consuming_segments_queried = scan.consuming_count() as u64;
            stats.consuming_segments_processed = metric("consuming_segments_scanned");
            stats.consuming_segments_matched = metric("consuming_segments_matched");
            stats.min_consuming_freshness_ms = scan.min_consuming_freshness_ms();
            stats.docs_scanned = metric("docs_matched");
            stats.entries_scanned_in_filter = metric("entries_scanned_in_filter");
            stats.entries_scanned_post_filter = metric("docs_matched") * scan.column_count() as u64;
            for (i, (_, name)) in ACCESS_COUNTERS.iter().enumerate() {
                stats.leaves_by_access[i] = metric(name);
            }
        }
        for child in plan.children() {
            stats.add(&FragmentStats::of_plan_until(child.as_ref(), stop));
        }
        stats
    }
}

/// The fragment as one output partition: merged in order when its output is ordered.
pub fn single_partition(fragment: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    if fragment.output_partitioning().partition_count() <= 1 {
        return fragment;
    }
    match fragment.output_ordering() {
        Some(ordering) => {
            let fetch = fragment.fetch();
            Arc::new(SortPreservingMergeExec::new(ordering.clone(), fragment).with_fetch(fetch))
        }
        None => Arc::new(CoalescePartitionsExec::new(fragment)),
    }
}

/// Starts a fragment; the caller reads its statistics with [`FragmentStats::of_plan`] on
/// the returned plan once the stream has ended.
pub fn run(
    fragment: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
) -> Result<(Arc<dyn ExecutionPlan>, SendableRecordBatchStream)> {
    let plan = single_partition(crate::segment_aggregate::rewrite(fragment)?);
    let stream = plan.execute(0, task)?;
    Ok((plan, stream))
}

/// The fragment reading only the sources `keep` accepts (the segments one server is sent).
pub fn restrict(
    fragment: Arc<dyn ExecutionPlan>,
    keep: &dyn Fn(&ScanSource) -> bool,
) -> Result<Arc<dyn ExecutionPlan>> {
    fragment
        .transform_up(|node| {
            let any: &dyn std::any::Any = node.as_ref();
            let Some(scan) = any.downcast_ref::<SegmentScanExec>() else { return Ok(Transformed::no(node)) };
            let sources: Vec<ScanSource> = scan.request().sources.iter().filter(|s| keep(s)).cloned().collect();
            Ok(Transformed::yes(Arc::new(scan.with_sources(sources)) as Arc<dyn ExecutionPlan>))
        })
        .map(|t| t.data)
}

/// The plan without the remote segments its scans' predicates rule out by metadata: a
/// broker does not ask a server to read what cannot match.
pub fn prune_remote(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let any: &dyn std::any::Any = node.as_ref();
        let Some(scan) = any.downcast_ref::<SegmentScanExec>() else { return Ok(Transformed::no(node)) };
        let Some(predicate) = &scan.request().predicate else { return Ok(Transformed::no(node)) };
        let ruled_out =
            |s: &ScanSource| matches!(s, ScanSource::Remote(_)) && matches!(s.may_match(predicate), Ok(false));
        if !scan.request().sources.iter().any(ruled_out) {
            return Ok(Transformed::no(node));
        }
        let kept = scan.request().sources.iter().filter(|s| !ruled_out(s)).cloned().collect();
        Ok(Transformed::yes(Arc::new(scan.with_sources(kept)) as Arc<dyn ExecutionPlan>))
    })
    .map(|t| t.data)
}

/// The sources of every segment scan in a plan.
pub fn sources(plan: &dyn ExecutionPlan) -> Vec<ScanSource> {
    let any: &dyn std::any::Any = plan;
    let mut out = match any.downcast_ref::<SegmentScanExec>() {
        Some(scan) => scan.request().sources.clone(),
        None => Vec::new(),
    };
    for child in plan.children() {
        out.extend(sources(child.as_ref()));
    }
    out
}

/// Whether a fragment received from the wire has only the shapes a broker cuts (see the
/// broker's `Distribute`): cuvee's segment scan under filters, projections, round-robin
/// repartitions, sorts, limits and at most a partial aggregate, merged into one partition.
/// Anything else — a file scan, a sink, a join, a foreign extension node — is refused, so a
/// server never runs a plan it was not built to run. The error is the refused operator.
pub fn check_shape(plan: &Arc<dyn ExecutionPlan>) -> std::result::Result<(), RefusedOperator> {
    use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
    use datafusion::physical_plan::filter::FilterExec;
    use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
    use datafusion::physical_plan::projection::ProjectionExec;
    use datafusion::physical_plan::repartition::RepartitionExec;
    use datafusion::physical_plan::sorts::sort::SortExec;
    use datafusion::physical_plan::Partitioning;
    let node = plan.as_ref();
    let any: &dyn std::any::Any = node;
    let children = node.children();
    if any.is::<SegmentScanExec>() {
        return if children.is_empty() { Ok(()) } else { Err(RefusedOperator(node.name().to_string())) };
    }
    let allowed = any.is::<FilterExec>()
        || any.is::<ProjectionExec>()
        || any.is::<LocalLimitExec>()
        || any.is::<GlobalLimitExec>()
        || any.is::<SortExec>()
        || any.is::<CoalescePartitionsExec>()
        || any.is::<SortPreservingMergeExec>()
        || node.name() == "CoalesceBatchesExec"
        || any
            .downcast_ref::<RepartitionExec>()
            .is_some_and(|r| matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)))
        || any.downcast_ref::<AggregateExec>().is_some_and(|a| *a.mode() == AggregateMode::Partial);
    match children.as_slice() {
        [child] if allowed => check_shape(child),
        _ => Err(RefusedOperator(node.name().to_string())),
    }
}

/// An operator a fragment may not contain, by its name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RefusedOperator(pub String);
