//! The cut: a physical optimizer rule, run after all of DataFusion's, that replaces each
//! maximal subtree a server can run alone with a [`ScatterExec`] over the servers holding
//! its segments.
//!
//! A subtree ships when it is a segment scan under only row-local operators (filters,
//! projections, batch coalescing, round-robin repartitioning, per-partition sorts and
//! limits) and at most one partial aggregation, at its top. So the broker keeps the final
//! aggregation, the merges, joins and windows; servers send partial aggregate states (for
//! exact `COUNT(DISTINCT)` and percentiles these are the values themselves, as
//! `array_agg` lists — exact, and as large as the distinct values per group), or, for a
//! TopK or LIMIT, at most that many rows each.
//!
//! When the subtree had one output partition (a global sort with a fetch, a single-segment
//! scan), the servers' answers are merged back into one — in order, keeping the fetch —
//! so the operators above see what they were planned for.

use super::routing::Cluster;
use super::scatter::ScatterExec;
use cuvee_query::{fragment, SegmentScanExec};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::limit::LocalLimitExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, Partitioning};
use std::sync::Arc;

#[derive(Debug)]
pub struct Distribute {
    cluster: Arc<Cluster>,
}

impl Distribute {
    /// The rule's name among the session's physical optimiser rules.
    pub const NAME: &'static str = "cuvee_distribute";

    pub fn new(cluster: Arc<Cluster>) -> Distribute {
        Distribute { cluster }
    }
}

impl PhysicalOptimizerRule for Distribute {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_down(|node| {
            let Some(Shape { table, .. }) = shippable(node.as_ref()) else { return Ok(Transformed::no(node)) };
            let node = fragment::prune_remote(node)?;
            let sources = fragment::sources(node.as_ref());
            // Nothing to read: the empty scan runs here, with no server to ask.
            if sources.is_empty() {
                return Ok(Transformed::new(node, true, TreeNodeRecursion::Jump));
            }
            let targets = self.cluster.targets(&node, &sources)?;
            let scatter: Arc<dyn ExecutionPlan> = Arc::new(ScatterExec::new(table, Arc::clone(&node), targets));
            Ok(Transformed::new(merged_like(scatter, node.as_ref()), true, TreeNodeRecursion::Jump))
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        Distribute::NAME
    }

    fn schema_check(&self) -> bool {
        true
    }
}

struct Shape {
    table: String,
    aggregated: bool,
}

/// The table a subtree reads, when the whole subtree can run on the servers.
fn shippable(node: &dyn ExecutionPlan) -> Option<Shape> {
    let any: &dyn std::any::Any = node;
    if let Some(scan) = any.downcast_ref::<SegmentScanExec>() {
        return Some(Shape { table: scan.request().table.clone(), aggregated: false });
    }
    let children = node.children();
    let [child] = children.as_slice() else { return None };
    let below = shippable(child.as_ref())?;
    if below.aggregated {
        return None;
    }
    let row_local = any.is::<FilterExec>()
        || any.is::<ProjectionExec>()
        || any.is::<LocalLimitExec>()
        || any.is::<SortExec>()
        || any
            .downcast_ref::<RepartitionExec>()
            .is_some_and(|r| matches!(r.partitioning(), Partitioning::RoundRobinBatch(_)))
        || node.name() == "CoalesceBatchesExec";
    if row_local {
        return Some(below);
    }
    match any.downcast_ref::<AggregateExec>() {
        Some(aggregate) if *aggregate.mode() == AggregateMode::Partial => Some(Shape { aggregated: true, ..below }),
        _ => None,
    }
}

/// The scatter shaped as the subtree it replaces: one partition if that had one.
fn merged_like(scatter: Arc<dyn ExecutionPlan>, replaced: &dyn ExecutionPlan) -> Arc<dyn ExecutionPlan> {
    if replaced.output_partitioning().partition_count() > 1 || scatter.output_partitioning().partition_count() <= 1 {
        return scatter;
    }
    match replaced.output_ordering() {
        Some(ordering) => {
            Arc::new(SortPreservingMergeExec::new(ordering.clone(), scatter).with_fetch(replaced.fetch()))
        }
        None => Arc::new(CoalescePartitionsExec::new(scatter)),
    }
}
