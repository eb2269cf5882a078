//! Aggregation inside the scan: a fragment's `AggregateExec(Partial)` of `COUNT(*)` grouped
//! by dictionary columns, directly over a `SegmentScanExec` of sealed segments, becomes a
//! [`SegmentAggregateExec`] that counts each segment's matching docs per combination of
//! dictionary ids (`ImmutableSegment::count_groups`) and decodes each group's values once,
//! from its first doc. Its output is the partial aggregate's own (group columns, count
//! state), so the final aggregate above it — on this process or a broker — is unchanged.
//!
//! [`rewrite`] runs where fragments run ([`crate::fragment::run`]): every server executes
//! its fragment its own best way, and what crosses the wire stays the plain plan. Shapes it
//! does not know are left as they are: consuming or remote segments, multi-value or raw
//! columns, a column older segments lack, nulls under null handling (a null doc's id is
//! its column's default value's), other aggregates, a scan limit.

use crate::scan::{blocking_stream, ScanSource, SegmentScanExec};
use cuvee_segments::{DecodeOptions, EvalOptions};
use datafusion::arrow::array::{ArrayRef, Int64Array};
use datafusion::arrow::datatypes::{Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use std::fmt;
use std::sync::Arc;

pub struct SegmentAggregateExec {
    /// The scan it replaces, itself: its metrics (segments, docs, and this exec's groups,
    /// ids and decodes) are the ones `EXPLAIN ANALYZE` shows under the plan as planned.
    scan: Arc<SegmentScanExec>,
    group_columns: Vec<String>,
    /// The partial aggregate's output: the group columns, then one count state per COUNT.
    schema: SchemaRef,
    counts: usize,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for SegmentAggregateExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentAggregateExec({:?})", self.group_columns)
    }
}

impl SegmentAggregateExec {
    /// The scan whose segments this aggregates (its metrics carry the scan's statistics).
    pub fn scan(&self) -> &SegmentScanExec {
        &self.scan
    }
}

/// The fragment with every partial `COUNT(*) GROUP BY` over sealed dictionary columns
/// computed on ids; anything else unchanged.
pub fn rewrite(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        Ok(match on_ids(node.as_ref()) {
            Some(rewritten) => Transformed::yes(rewritten),
            None => Transformed::no(node),
        })
    })
    .map(|t| t.data)
}

fn on_ids(node: &dyn ExecutionPlan) -> Option<Arc<dyn ExecutionPlan>> {
    let any: &dyn std::any::Any = node;
    let aggregate = any.downcast_ref::<AggregateExec>()?;
    if *aggregate.mode() != AggregateMode::Partial || !aggregate.group_expr().is_single() {
        return None;
    }
    // The scan, under at most a round-robin spread of its batches (the exec spreads
    // segments over the same partitions itself).
    let mut input = aggregate.input();
    let any: &dyn std::any::Any = input.as_ref();
    if let Some(repartition) = any.downcast_ref::<RepartitionExec>() {
        if !matches!(repartition.partitioning(), Partitioning::RoundRobinBatch(_)) {
            return None;
        }
        input = repartition.input();
    }
    let scan_plan: Arc<SegmentScanExec> =
        (Arc::clone(input) as Arc<dyn std::any::Any + Send + Sync>).downcast().ok()?;
    let scan = scan_plan.as_ref();
    let request = scan.request();
    if request.limit.is_some() || !request.unavailable.is_empty() {
        return None;
    }
    // Group by plain columns of the scan.
    let mut group_columns = Vec::new();
    for (expr, _) in aggregate.group_expr().expr() {
        let column = (expr.as_ref() as &dyn std::any::Any).downcast_ref::<Column>()?;
        group_columns.push(request.schema.field(column.index()).name().clone());
    }
    if group_columns.is_empty() {
        return None;
    }
    // Only COUNT(*) (COUNT of a non-null literal), without DISTINCT or FILTER.
    if aggregate.filter_expr().iter().any(Option::is_some) {
        return None;
    }
    for function in aggregate.aggr_expr() {
        let args = function.expressions();
        let counts_rows = function.fun().name() == "count"
            && !function.is_distinct()
            && function.order_bys().is_empty()
            && args.len() == 1
            && (args[0].as_ref() as &dyn std::any::Any).downcast_ref::<Literal>().is_some_and(|l| !l.value().is_null());
        if !counts_rows {
            return None;
        }
    }
    let schema = aggregate.schema();
    if schema.fields().len() != group_columns.len() + aggregate.aggr_expr().len() {
        return None;
    }
    let predicate_columns = request.predicate.as_ref().map(|p| p.columns()).unwrap_or_default();
    for source in &request.sources {
        let ScanSource::Sealed(segment) = source else { return None };
        // A column an older segment lacks is the scan's to resolve.
        if predicate_columns.iter().any(|c| segment.schema().column(c).is_none()) {
            return None;
        }
        for column in &group_columns {
            if !segment.groups_on_ids(column) {
                return None;
            }
            let nulls = segment.metadata().columns.iter().find(|c| &c.name == column).map_or(0, |c| c.null_count);
            if request.options.null_handling && nulls > 0 {
                return None;
            }
        }
    }
    let exec = SegmentAggregateExec {
        scan: scan_plan,
        group_columns,
        schema,
        counts: aggregate.aggr_expr().len(),
        properties: Arc::clone(aggregate.properties()),
    };
    Some(Arc::new(exec))
}

impl DisplayAs for SegmentAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SegmentAggregateExec: count(*) by [{}] on dictionary ids, over ", self.group_columns.join(", "))?;
        self.scan().fmt_as(t, f)
    }
}

impl ExecutionPlan for SegmentAggregateExec {
    fn name(&self) -> &'static str {
        "SegmentAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(self: Arc<Self>, _: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.scan.metrics()
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let n = self.properties.partitioning.partition_count().max(1);
        let scan = self.scan();
        let sources: Vec<ScanSource> = scan
            .request()
            .sources
            .iter()
            .enumerate()
            .filter(|(i, _)| i % n == partition)
            .map(|(_, s)| s.clone())
            .collect();
        let request = scan.request();
        let predicate = request.predicate.clone();
        let eval_options = EvalOptions { null_handling: request.options.null_handling };
        let decode_options = DecodeOptions { null_handling: request.options.null_handling };
        let table_schema = request.table_schema.clone();
        let keys = self.group_columns.len();
        let group_schema: SchemaRef = Arc::new(Schema::new(self.schema.fields()[..keys].to_vec()));
        let (schema, columns, counts) = (Arc::clone(&self.schema), self.group_columns.clone(), self.counts);
        // The scan's own figures (segments, docs) go where every fragment's statistics are read.
        let scanned = scan.counter("segments_scanned", partition);
        let matched = scan.counter("segments_matched", partition);
        let docs_total = scan.counter("docs_total", partition);
        let docs_matched = scan.counter("docs_matched", partition);
        let groups = scan.counter("groups_on_ids", partition);
        let ids = scan.counter("ids_aggregated", partition);
        let decoded = scan.counter("docs_decoded", partition);
        let batches = sources.into_iter().filter_map(move |source| -> Option<Result<RecordBatch>> {
            let ScanSource::Sealed(segment) = &source else {
                return Some(Err(DataFusionError::Internal(format!("{} is not sealed", source.name()))));
            };
            let external = |e: cuvee_segments::SegmentError| DataFusionError::External(Box::new(e));
            if let Some(p) = &predicate {
                match source.may_match(p) {
                    Ok(false) => return None,
                    Ok(true) => {}
                    Err(e) => return Some(Err(external(e))),
                }
            }
            scanned.add(1);
            docs_total.add(source.num_docs() as usize);
            let docs = match source.matching(predicate.as_ref(), eval_options) {
                Ok((docs, _)) => docs,
                Err(e) => return Some(Err(external(e))),
            };
            if docs.is_empty() {
                return None;
            }
            matched.add(1);
            docs_matched.add(docs.len() as usize);
            let names: Vec<&str> = columns.iter().map(String::as_str).collect();
            let counted = match segment.count_groups(&names, &docs) {
                Ok(Some(counted)) => counted,
                Ok(None) => {
                    return Some(Err(DataFusionError::Internal(format!(
                        "segment {} cannot group {names:?} on ids",
                        segment.name()
                    ))))
                }
                Err(e) => return Some(Err(external(e))),
            };
            groups.add(counted.counts.len());
            ids.add(counted.ids_read as usize);
            decoded.add(counted.first_docs.len());
            let values =
                match source.decode_into(&group_schema, &table_schema, &names, &counted.first_docs, decode_options) {
                    Ok(values) => values,
                    Err(e) => return Some(Err(external(e))),
                };
            let count: ArrayRef = Arc::new(counted.counts.iter().map(|&c| c as i64).collect::<Int64Array>());
            let mut arrays: Vec<ArrayRef> = values.columns().to_vec();
            arrays.extend(std::iter::repeat_n(count, counts));
            Some(RecordBatch::try_new(Arc::clone(&schema), arrays).map_err(DataFusionError::from))
        });
        Ok(blocking_stream(Arc::clone(&self.schema), batches))
    }
}
