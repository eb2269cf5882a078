//! Aggregation inside the scan: a fragment's `AggregateExec(Partial)` of COUNT, SUM, AVG,
//! MIN, MAX and Pinot's PERCENTILE over numeric dictionary columns, grouped by dictionary
//! columns or not, directly over a `SegmentScanExec` of sealed segments, becomes a
//! [`SegmentAggregateExec`] that aggregates each segment's matching docs per combination of
//! dictionary ids (`ImmutableSegment::aggregate_groups`) and decodes each group's values
//! once, from its first doc. A percentile's state is each group's value counts (a
//! histogram over the dictionary), not every row's value. Its output is the partial
//! aggregate's own (group columns, then each aggregate's state in DataFusion's layout), so
//! the final aggregate above it — on this process or a broker — is unchanged.
//!
//! [`rewrite`] runs where fragments run ([`crate::fragment::run`]): every server executes
//! its fragment its own best way, and what crosses the wire stays the plain plan. A
//! realtime table's consuming segments aggregate on their ids too
//! (`MutableSnapshot::aggregate_groups`: unsorted dictionaries, so values are compared,
//! and measured columns may be kept raw); one that cannot (a group column kept raw, nulls
//! under null handling) goes through the plain partial aggregate over a scan of it alone,
//! both streams of the same partial states. Shapes it does not know are left as they are:
//! remote segments, a sealed segment's multi-value or raw columns, a column older segments
//! lack, nulls under null handling (a null doc's id is its column's default value's),
//! other aggregates, a scan limit.

use crate::percentile::Weighted;
use crate::scan::{blocking_stream, ScanCounters, ScanSource, SegmentScanExec};
use cuvee_segments::{DecodeOptions, EvalOptions};
use cuvee_segments::{GroupAggregates, Measure, Numbers, SumAs};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::expressions::{CastExpr, Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::StreamExt;
use std::fmt;
use std::sync::Arc;

pub struct SegmentAggregateExec {
    /// The scan it replaces, itself: its metrics (segments, docs, and this exec's groups,
    /// ids and decodes) are the ones `EXPLAIN ANALYZE` shows under the plan as planned.
    scan: Arc<SegmentScanExec>,
    group_columns: Vec<String>,
    /// The partial aggregate's aggregates, in order, and the columns they measure.
    outputs: Vec<Output>,
    measures: Vec<Measure>,
    /// The partial aggregate's output: the group columns, then each aggregate's state.
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    /// The plain partial aggregate over the segments not aggregated on ids (consuming
    /// ones), same output; partition `p` of it streams after partition `p` on ids.
    rest: Option<Arc<dyn ExecutionPlan>>,
}

/// One aggregate of the partial aggregate, as states computed on ids. `measure` indexes
/// the exec's measures; a state's type is the partial aggregate's own.
#[derive(Debug, Clone, Copy)]
enum Output {
    /// COUNT(*), or COUNT(column) of a column without nulls: the group's docs.
    Count,
    Sum {
        measure: usize,
    },
    /// DataFusion's average state: the count (UInt64), then the sum (Float64).
    Avg {
        measure: usize,
    },
    Min {
        measure: usize,
    },
    Max {
        measure: usize,
    },
    /// Pinot's exact percentile: each group's distinct values with their counts.
    Percentile {
        measure: usize,
    },
}

impl fmt::Debug for SegmentAggregateExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentAggregateExec({:?}, {:?})", self.group_columns, self.outputs)
    }
}

impl SegmentAggregateExec {
    /// The scan whose segments this aggregates (its metrics carry the scan's statistics).
    pub fn scan(&self) -> &SegmentScanExec {
        &self.scan
    }
}

/// The fragment with every partial aggregate it can compute on ids (COUNT, SUM, AVG, MIN,
/// MAX grouped by sealed dictionary columns, or not grouped) computed so; anything else
/// unchanged.
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
        // Not a cast: a group's value is decoded as the column's own type.
        group_columns.push(plain_column(expr, &request.schema)?.name().clone());
    }
    if aggregate.filter_expr().iter().any(Option::is_some) {
        return None;
    }
    let schema = aggregate.schema();
    let mut states = schema.fields()[group_columns.len()..].iter().map(|f| f.data_type().clone());
    let (mut outputs, mut measures, mut counted) = (Vec::new(), Vec::new(), Vec::new());
    for function in aggregate.aggr_expr() {
        if function.is_distinct() || !function.order_bys().is_empty() {
            return None;
        }
        let args = function.expressions();
        if function.fun().name() == crate::percentile::NAME {
            // The column itself; the percentile (the literal) is the final aggregate's.
            let [arg, _percent] = args.as_slice() else { return None };
            let column = plain_column(arg, &request.schema)?.name().clone();
            let (values, counts) = (states.next()?, states.next()?);
            if values != crate::percentile::values_type() || counts != crate::percentile::counts_type() {
                return None;
            }
            measures.push(Measure { column, sum: None, min: false, max: false, histogram: true });
            outputs.push(Output::Percentile { measure: measures.len() - 1 });
            continue;
        }
        let [arg] = args.try_into().ok()?;
        let mut measure = |sum: Option<SumAs>, min: bool, max: bool| -> Option<usize> {
            let column = scan_column(&arg, &request.schema)?;
            measures.push(Measure { column, sum, min, max, histogram: false });
            Some(measures.len() - 1)
        };
        let output = match function.fun().name() {
            "count" => {
                let literal = (arg.as_ref() as &dyn std::any::Any).downcast_ref::<Literal>();
                if literal.is_none_or(|l| l.value().is_null()) {
                    // COUNT(column): every doc, when the column has no nulls (checked below).
                    counted.push(scan_column(&arg, &request.schema)?);
                }
                (states.next()? == DataType::Int64).then_some(Output::Count)?
            }
            "sum" => {
                let sum_as = match states.next()? {
                    DataType::Int64 => SumAs::Integer,
                    DataType::Float64 => SumAs::Float,
                    _ => return None,
                };
                let expected = if sum_as == SumAs::Integer { DataType::Int64 } else { DataType::Float64 };
                if arg.data_type(&request.schema).ok()? != expected {
                    return None;
                }
                Output::Sum { measure: measure(Some(sum_as), false, false)? }
            }
            "avg" => {
                let (count, sum) = (states.next()?, states.next()?);
                if count != DataType::UInt64
                    || sum != DataType::Float64
                    || arg.data_type(&request.schema).ok()? != DataType::Float64
                {
                    return None;
                }
                Output::Avg { measure: measure(Some(SumAs::Float), false, false)? }
            }
            name @ ("min" | "max") => {
                // The column itself (no cast), its state its own type.
                let field = plain_column(&arg, &request.schema)?;
                let state = states.next()?;
                if state != *field.data_type() || !min_max_type(&state) {
                    return None;
                }
                let is_min = name == "min";
                let measure = measure(None, is_min, !is_min)?;
                if is_min {
                    Output::Min { measure }
                } else {
                    Output::Max { measure }
                }
            }
            _ => return None,
        };
        outputs.push(output);
    }
    if states.next().is_some() {
        return None;
    }
    let predicate_columns = request.predicate.as_ref().map(|p| p.columns()).unwrap_or_default();
    let keys: Vec<&str> = group_columns.iter().map(String::as_str).collect();
    let shape = Shape { keys: &keys, counted: &counted, measures: &measures, predicate_columns: &predicate_columns };
    let null_handling = request.options.null_handling;
    if request.sources.iter().any(|s| matches!(s, ScanSource::Remote(_))) {
        return None;
    }
    // A sealed segment that cannot declines the rewrite (it would be the bulk of the rows);
    // a consuming one that cannot (a group column gone raw, nulls) takes the plain path.
    let mut on_ids = Vec::new();
    let mut rest = Vec::new();
    for source in &request.sources {
        match source {
            ScanSource::Sealed(segment) if shape.sealed_fits(segment, null_handling) => on_ids.push(source.clone()),
            ScanSource::Consuming(snapshot) if shape.consuming_fits(snapshot, null_handling) => {
                on_ids.push(source.clone())
            }
            ScanSource::Consuming(_) => rest.push(source.clone()),
            _ => return None,
        }
    }
    if on_ids.is_empty() {
        return None;
    }
    // The rest: the plain partial aggregate over a scan of them alone.
    let (scan_plan, rest) = if rest.is_empty() {
        (scan_plan, None)
    } else {
        let rest_scan: Arc<dyn ExecutionPlan> = Arc::new(scan.with_sources(rest));
        let plain = AggregateExec::try_new(
            *aggregate.mode(),
            aggregate.group_expr().clone(),
            aggregate.aggr_expr().to_vec(),
            aggregate.filter_expr().to_vec(),
            rest_scan,
            aggregate.input_schema(),
        )
        .ok()?;
        (Arc::new(scan.with_sources(on_ids)), Some(Arc::new(plain) as Arc<dyn ExecutionPlan>))
    };
    let exec = SegmentAggregateExec {
        scan: scan_plan,
        group_columns,
        outputs,
        measures,
        schema,
        properties: Arc::clone(aggregate.properties()),
        rest,
    };
    Some(Arc::new(exec))
}

/// What the partial aggregate reads of each segment.
struct Shape<'a> {
    keys: &'a [&'a str],
    /// COUNT(column)s, which count docs only where the column has no nulls.
    counted: &'a [String],
    measures: &'a [Measure],
    predicate_columns: &'a [&'a str],
}

impl Shape<'_> {
    /// Every column read, by name.
    fn read(&self) -> impl Iterator<Item = &str> {
        let measured = self.measures.iter().map(|m| m.column.as_str());
        self.keys.iter().copied().chain(self.counted.iter().map(String::as_str)).chain(measured)
    }

    fn sealed_fits(&self, segment: &cuvee_segments::ImmutableSegment, null_handling: bool) -> bool {
        // A column an older segment lacks is the scan's to resolve.
        if self
            .predicate_columns
            .iter()
            .copied()
            .chain(self.counted.iter().map(String::as_str))
            .any(|c| segment.schema().column(c).is_none())
        {
            return false;
        }
        if !self.keys.iter().all(|c| segment.groups_on_ids(c))
            || !self.measures.iter().all(|m| segment.measures_on_ids(&m.column))
            || self.measures.iter().any(|m| m.histogram && !segment.histogram_fits(self.keys, &m.column))
        {
            return false;
        }
        // A null doc's id is its column's default value's: right without null handling,
        // wrong with it.
        let nulls =
            |column: &str| segment.metadata().columns.iter().find(|c| c.name == column).map_or(0, |c| c.null_count);
        !null_handling || self.read().all(|column| nulls(column) == 0)
    }

    /// The same for a consuming segment's snapshot (its dictionaries are unsorted, so it
    /// groups on ids and compares values: see `cuvee_segments::MutableSnapshot::aggregate_groups`).
    fn consuming_fits(&self, snapshot: &cuvee_segments::MutableSnapshot, null_handling: bool) -> bool {
        if self.predicate_columns.iter().copied().chain(self.read()).any(|c| !snapshot.has_column(c)) {
            return false;
        }
        if !self.keys.iter().all(|c| snapshot.groups_on_ids(c))
            || !self.measures.iter().all(|m| snapshot.measures_on_ids(&m.column))
            || self.measures.iter().any(|m| m.histogram && !snapshot.histogram_fits(self.keys, &m.column))
        {
            return false;
        }
        !null_handling || self.read().all(|column| snapshot.null_count(column) == 0)
    }
}

/// The scan's field `expr` is, when it is a plain column (no cast).
fn plain_column<'s>(expr: &Arc<dyn PhysicalExpr>, scan_schema: &'s Schema) -> Option<&'s Field> {
    let column = (expr.as_ref() as &dyn std::any::Any).downcast_ref::<Column>()?;
    scan_schema.fields().get(column.index()).map(AsRef::as_ref)
}

/// The scan column `expr` is (or casts), by name.
fn scan_column(expr: &Arc<dyn PhysicalExpr>, scan_schema: &Schema) -> Option<String> {
    let cast = (expr.as_ref() as &dyn std::any::Any).downcast_ref::<CastExpr>();
    Some(plain_column(cast.map_or(expr, CastExpr::expr), scan_schema)?.name().clone())
}

/// A MIN/MAX state the kernel's numbers cast to exactly.
fn min_max_type(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int32 | DataType::Int64 | DataType::Float32 | DataType::Float64 | DataType::Timestamp(_, _)
    )
}

/// Numbers as an Arrow array of `data_type`.
fn numbers_array(numbers: &Numbers, data_type: &DataType) -> Result<ArrayRef> {
    let array: ArrayRef = match numbers {
        Numbers::Integers(values) => Arc::new(Int64Array::from(values.clone())),
        Numbers::Floats(values) => Arc::new(Float64Array::from(values.clone())),
    };
    if array.data_type() == data_type {
        Ok(array)
    } else {
        Ok(cast(&array, data_type)?)
    }
}

/// What a segment read on ids, or why not: it declined (the rewrite checked it could not),
/// or failed.
fn read_on_ids<T>(read: cuvee_segments::Result<Option<T>>, segment: &str, columns: &[&str]) -> Result<T> {
    match read {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(DataFusionError::Internal(format!("segment {segment} cannot group {columns:?} on ids"))),
        Err(e) => Err(DataFusionError::External(Box::new(e))),
    }
}

/// One segment's aggregates as the partial aggregate's batch.
fn states_batch(
    schema: &SchemaRef,
    groups: Vec<ArrayRef>,
    outputs: &[Output],
    aggregated: &GroupAggregates,
) -> Result<RecordBatch> {
    let missing = || DataFusionError::Internal("an aggregate's state was not computed".into());
    let mut arrays = groups;
    let counts = || -> ArrayRef { Arc::new(aggregated.counts.iter().map(|&c| c as i64).collect::<Int64Array>()) };
    for output in outputs {
        let field = |arrays: &Vec<ArrayRef>| schema.field(arrays.len()).data_type().clone();
        let states = |measure: usize| aggregated.measures.get(measure).ok_or_else(missing);
        match *output {
            Output::Count => arrays.push(counts()),
            Output::Sum { measure } => {
                let sum = states(measure)?.sum.as_ref().ok_or_else(missing)?;
                let data_type = field(&arrays);
                arrays.push(numbers_array(sum, &data_type)?);
            }
            Output::Avg { measure } => {
                let sum = states(measure)?.sum.as_ref().ok_or_else(missing)?;
                arrays.push(Arc::new(UInt64Array::from(aggregated.counts.clone())));
                arrays.push(numbers_array(sum, &DataType::Float64)?);
            }
            Output::Percentile { measure } => {
                let histogram = states(measure)?.histogram.as_ref().ok_or_else(missing)?;
                let mut groups = Vec::with_capacity(histogram.ends.len());
                let mut start = 0;
                for &end in &histogram.ends {
                    groups.push(Weighted {
                        values: histogram.values[start..end].to_vec(),
                        counts: Some(histogram.counts[start..end].to_vec()),
                    });
                    start = end;
                }
                arrays.extend(crate::percentile::state_arrays(groups)?);
            }
            Output::Min { measure } | Output::Max { measure } => {
                let states = states(measure)?;
                let value = if matches!(output, Output::Min { .. }) { &states.min } else { &states.max };
                let data_type = field(&arrays);
                arrays.push(numbers_array(value.as_ref().ok_or_else(missing)?, &data_type)?);
            }
        }
    }
    Ok(RecordBatch::try_new(Arc::clone(schema), arrays)?)
}

impl DisplayAs for SegmentAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let aggregates: Vec<String> = self
            .outputs
            .iter()
            .map(|output| match *output {
                Output::Count => "count".to_string(),
                Output::Sum { measure } => format!("sum({})", self.measures[measure].column),
                Output::Avg { measure } => format!("avg({})", self.measures[measure].column),
                Output::Min { measure } => format!("min({})", self.measures[measure].column),
                Output::Max { measure } => format!("max({})", self.measures[measure].column),
                Output::Percentile { measure } => {
                    format!("percentile({}) from value counts", self.measures[measure].column)
                }
            })
            .collect();
        write!(
            f,
            "SegmentAggregateExec: {} by [{}] on dictionary ids, over ",
            aggregates.join(", "),
            self.group_columns.join(", ")
        )?;
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
        self.rest.iter().collect()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn replace_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        _: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.into_iter().next(), &self.rest) {
            (Some(rest), Some(_)) => Ok(Arc::new(SegmentAggregateExec {
                scan: Arc::clone(&self.scan),
                group_columns: self.group_columns.clone(),
                outputs: self.outputs.clone(),
                measures: self.measures.clone(),
                schema: Arc::clone(&self.schema),
                properties: Arc::clone(&self.properties),
                rest: Some(rest),
            })),
            _ => Ok(self),
        }
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.scan.metrics()
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let on_ids = self.execute_on_ids(partition)?;
        let Some(rest) = self.rest.as_ref().filter(|r| partition < r.properties().partitioning.partition_count())
        else {
            return Ok(on_ids);
        };
        let rest = rest.execute(partition, context)?;
        Ok(Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&self.schema), on_ids.chain(rest))))
    }
}

impl SegmentAggregateExec {
    /// Partition `partition` of the sealed segments, aggregated on ids.
    fn execute_on_ids(&self, partition: usize) -> Result<SendableRecordBatchStream> {
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
        let (schema, columns) = (Arc::clone(&self.schema), self.group_columns.clone());
        let (outputs, measures) = (self.outputs.clone(), self.measures.clone());
        // The scan's own figures (segments, docs, indexes used) go where every fragment's
        // statistics are read.
        let counters = ScanCounters::new(scan, partition);
        let groups = scan.counter("groups_on_ids", partition);
        let ids = scan.counter("ids_aggregated", partition);
        let decoded = scan.counter("docs_decoded", partition);
        let batches = sources.into_iter().filter_map(move |source| -> Option<Result<RecordBatch>> {
            let external = |e: cuvee_segments::SegmentError| DataFusionError::External(Box::new(e));
            let docs = match counters.filter(&source, predicate.as_ref(), eval_options) {
                Ok(Some(docs)) => docs,
                Ok(None) => return None,
                Err(e) => return Some(Err(external(e))),
            };
            counters.docs_matched.add(docs.len() as usize);
            let names: Vec<&str> = columns.iter().map(String::as_str).collect();
            if let ([name], true) = (names.as_slice(), outputs.is_empty()) {
                // A plain grouping of one column: its distinct ids, decoded from the dictionary.
                let distinct = match &source {
                    ScanSource::Sealed(segment) => segment.distinct_ids(name, &docs),
                    ScanSource::Consuming(snapshot) => snapshot.distinct_ids(name, &docs),
                    ScanSource::Remote(_) => Ok(None),
                };
                let distinct = match read_on_ids(distinct, source.name(), &names) {
                    Ok(distinct) => distinct,
                    Err(e) => return Some(Err(e)),
                };
                groups.add(distinct.len());
                ids.add(docs.len() as usize);
                let values = match &source {
                    ScanSource::Sealed(segment) => segment.decode_ids(name, &distinct),
                    ScanSource::Consuming(snapshot) => snapshot.decode_ids(name, &distinct),
                    ScanSource::Remote(_) => Ok(datafusion::arrow::array::new_empty_array(schema.field(0).data_type())),
                };
                let values = match values {
                    Ok(values) => values,
                    Err(e) => return Some(Err(external(e))),
                };
                let wanted = schema.field(0).data_type();
                let values = if values.data_type() == wanted { Ok(values) } else { cast(&values, wanted) };
                return Some(
                    values.and_then(|v| RecordBatch::try_new(Arc::clone(&schema), vec![v])).map_err(Into::into),
                );
            }
            let read = match &source {
                ScanSource::Sealed(segment) => segment.aggregate_groups(&names, &measures, &docs),
                ScanSource::Consuming(snapshot) => snapshot.aggregate_groups(&names, &measures, &docs),
                ScanSource::Remote(_) => Ok(None),
            };
            let aggregated = match read_on_ids(read, source.name(), &names) {
                Ok(aggregated) => aggregated,
                Err(e) => return Some(Err(e)),
            };
            groups.add(aggregated.counts.len());
            ids.add(aggregated.ids_read as usize);
            decoded.add(if keys == 0 { 0 } else { aggregated.first_docs.len() });
            let values = if keys == 0 {
                Vec::new()
            } else {
                match source.decode_into(&group_schema, &table_schema, &names, &aggregated.first_docs, decode_options) {
                    Ok(values) => values.columns().to_vec(),
                    Err(e) => return Some(Err(external(e))),
                }
            };
            Some(states_batch(&schema, values, &outputs, &aggregated))
        });
        Ok(blocking_stream(Arc::clone(&self.schema), batches))
    }
}
