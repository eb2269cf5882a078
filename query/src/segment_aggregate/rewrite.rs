//! Where the plan has a partial aggregate over a segment scan that segments can answer on
//! ids, and which of its segments can.

use super::{Output, SegmentAggregateExec};
use crate::scan::{ScanSource, SegmentScanExec};
use cuvee_segments::{Measure, SumAs};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::Result;
use datafusion::physical_expr::expressions::{CastExpr, Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};
use std::sync::Arc;

/// The fragment with every partial aggregate it can compute on ids (COUNT, SUM, AVG, MIN,
/// MAX grouped by sealed dictionary columns, or not grouped; an exact distinct count)
/// computed so; anything else unchanged.
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
    let mut distinct_of = None;
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
        if function.fun().name() == crate::distinct_count::NAME {
            // Alone and ungrouped: the state is the segment's distinct values, in one list.
            let ([arg], true, 1) = (args.as_slice(), group_columns.is_empty(), aggregate.aggr_expr().len()) else {
                return None;
            };
            let column = plain_column(arg, &request.schema)?;
            if states.next()? != crate::distinct_count::state_type(column.data_type()) {
                return None;
            }
            distinct_of = Some(column.name().clone());
            outputs.push(Output::DistinctValues);
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
    // A distinct count's column is read as a group key is: its ids, each once.
    let keys: Vec<&str> = group_columns.iter().chain(&distinct_of).map(String::as_str).collect();
    let shape = Shape { keys: &keys, counted: &counted, measures: &measures, predicate_columns: &predicate_columns };
    let null_handling = request.options.null_handling;
    // A segment that cannot (a column raw or multi-value in it, nulls under null handling,
    // a column it predates) takes the plain path beside the rest: a table whose config
    // changed, or whose older segments use another format, keeps its other segments on ids.
    let mut on_ids = Vec::new();
    let mut rest = Vec::new();
    for source in &request.sources {
        let fits = match source {
            ScanSource::Sealed(segment) => shape.sealed_fits(segment, null_handling),
            ScanSource::Consuming(snapshot) => shape.consuming_fits(snapshot, null_handling),
            ScanSource::Remote(_) => return None,
        };
        if fits {
            on_ids.push(source.clone());
        } else {
            rest.push(source.clone());
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
        distinct_of,
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
