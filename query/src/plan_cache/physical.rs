//! Kept physical plans: a hit that also skips physical planning.
//!
//! Physical planning and its optimiser rules were ~75 % of a kept plan's instructions per
//! query (`benches/README.md`), and of what they decide only the scan depends on a query's
//! literals or moment: its predicate and its segments. So for a shape where that is all —
//! one table scanned once, every placeholder in a filter the scan answers exactly (no
//! `FilterExec` holds a literal) — the physical plan made by every rule but the broker's
//! cut is kept, its scan holding no segment, and a later query of the shape gets a copy
//! with a fresh scan: the query's filters translated again, the table's segments of this
//! moment (consuming ones as fresh snapshots). The cut runs per query after it, so routing
//! is as fresh as without a cache.
//!
//! What could go stale, and how it is kept from it:
//! - *Decisions made from the scan's statistics* (repartitioning a small input, row
//!   estimates): a kept plan is tied to the table's segment [`generation`] and planned
//!   again when a segment was added, sealed, removed or found unavailable. Rows arriving
//!   in a consuming segment do not change the plan's shape. A scan with a predicate
//!   reports inexact rows only, so no aggregate is answered from statistics.
//! - *State inside operators*: a TopK's dynamic filter remembers the previous run's
//!   threshold. Each copy resets every operator's state (DataFusion's `reset_state`, as
//!   its recursive queries re-run a plan), and a plan where a dynamic filter was pushed
//!   from one operator into another (a shared filter a reset could not reach) is not kept.
//! - *Joins*, whose build side is chosen from statistics: not kept.
//!
//! [`generation`]: crate::SegmentTable::generation

use crate::scan::SegmentScanExec;
use crate::table::SegmentTable;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::logical_expr::expr_rewriter::unnormalize_cols;
use datafusion::logical_expr::{LogicalPlan, TableScan};
use datafusion::physical_expr::expressions::DynamicFilterPhysicalExpr;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, ExecutionPlan, ExecutionPlanProperties, ReplaceChildrenOptions,
};
use std::collections::HashMap;
use std::sync::Arc;

/// A physical plan made by every optimiser rule but the cut, its scan holding no segment.
#[derive(Debug)]
pub(super) struct KeptPhysical {
    plan: Arc<dyn ExecutionPlan>,
    /// The table's segment generation it was planned over.
    generation: u64,
    /// The session's `target_partitions` it was planned with.
    target_partitions: usize,
}

impl KeptPhysical {
    /// Keeps `plan` (the physical plan of a bound kept plan, planned over the table at
    /// `generation`), when a copy with a fresh scan would be the plan of a later query:
    /// one segment scan with a predicate, no join, no dynamic filter shared between
    /// operators.
    pub(super) fn new(
        plan: &Arc<dyn ExecutionPlan>,
        generation: u64,
        target_partitions: usize,
    ) -> Option<KeptPhysical> {
        let mut scans = 0;
        let mut joins = false;
        // Each dynamic filter and the operators holding it.
        let mut holders: HashMap<*const (), usize> = HashMap::new();
        plan.apply(|node| {
            let any: &dyn std::any::Any = node.as_ref();
            if let Some(scan) = any.downcast_ref::<SegmentScanExec>() {
                scans += if scan.request().predicate.is_some() { 1 } else { 2 };
            }
            joins |= node.name().contains("Join");
            let mut here: Vec<*const ()> = Vec::new();
            node.apply_expressions(&mut |root| {
                root.apply(|e| {
                    if let Some(filter) = e.downcast_ref::<DynamicFilterPhysicalExpr>() {
                        here.push(filter as *const DynamicFilterPhysicalExpr as *const ());
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
            })?;
            here.sort();
            here.dedup();
            for filter in here {
                *holders.entry(filter).or_default() += 1;
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .ok()?;
        if scans != 1 || joins || holders.values().any(|&n| n > 1) {
            return None;
        }
        let plan = Arc::clone(plan)
            .transform_up(|node| {
                let any: &dyn std::any::Any = node.as_ref();
                match any.downcast_ref::<SegmentScanExec>() {
                    Some(scan) => Ok(Transformed::yes(Arc::new(scan.without_sources()) as Arc<dyn ExecutionPlan>)),
                    None => Ok(Transformed::no(node)),
                }
            })
            .ok()?
            .data;
        Some(KeptPhysical { plan, generation, target_partitions })
    }

    /// A copy for the query whose bound logical plan is `bound`, scanning `table`'s
    /// segments now; `None` when the table's segments changed since, or the fresh scan is
    /// not planned as the kept one was (the query is then planned physically).
    pub(super) fn bind(
        &self,
        bound: &LogicalPlan,
        table: &SegmentTable,
        target_partitions: usize,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        if table.generation() != self.generation || target_partitions != self.target_partitions {
            return Ok(None);
        }
        let Some(scan) = only_scan(bound) else { return Ok(None) };
        let filters = unnormalize_cols(scan.filters.iter().cloned());
        let request = table.scan_request(scan.projection.as_ref(), &filters, scan.fetch)?;
        let fresh: Arc<dyn ExecutionPlan> = Arc::new(SegmentScanExec::new(request, target_partitions));
        with_scan(&self.plan, &fresh)
    }
}

/// A copy of `node` reading `fresh` instead of its scan, every operator's state new (a
/// TopK's dynamic filter, metrics); `None` when `fresh` is not planned as the scan was.
/// Operators keep their planned properties instead of deriving them again: the scan's,
/// on which they rest, are checked equal.
fn with_scan(node: &Arc<dyn ExecutionPlan>, fresh: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let any: &dyn std::any::Any = node.as_ref();
    if let Some(kept) = any.downcast_ref::<SegmentScanExec>() {
        let same = kept.request().columns == columns_of(fresh)
            && kept.properties().partitioning.partition_count() == fresh.output_partitioning().partition_count();
        return Ok(same.then(|| Arc::clone(fresh)));
    }
    let mut children = Vec::with_capacity(node.children().len());
    for child in node.children() {
        let Some(child) = with_scan(child, fresh)? else { return Ok(None) };
        children.push(child);
    }
    let copy =
        Arc::clone(node).replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Keep))?;
    Ok(Some(copy.reset_state()?))
}

fn columns_of(scan: &Arc<dyn ExecutionPlan>) -> &[String] {
    let any: &dyn std::any::Any = scan.as_ref();
    any.downcast_ref::<SegmentScanExec>().map_or(&[], |s| s.request().columns.as_slice())
}

/// The plan's one table scan (subqueries included), if it has exactly one.
pub(super) fn only_scan(plan: &LogicalPlan) -> Option<TableScan> {
    let mut found: Vec<TableScan> = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            found.push(scan.clone());
        }
        Ok(TreeNodeRecursion::Continue)
    });
    match found.len() {
        1 => found.pop(),
        _ => None,
    }
}
