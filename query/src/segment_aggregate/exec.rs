//! Running the aggregate: each segment's states on ids, then the plain partial aggregate
//! over the rest.

use super::{Output, SegmentAggregateExec};
use crate::percentile::Weighted;
use crate::scan::{blocking_stream, ScanCounters, ScanSource};
use cuvee_segments::{DecodeOptions, EvalOptions};
use cuvee_segments::{GroupAggregates, Numbers};
use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, UInt64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, ReplaceChildrenOptions,
    SendableRecordBatchStream,
};
use futures::StreamExt;
use roaring::RoaringBitmap;
use std::fmt;
use std::sync::Arc;

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

/// The distinct values of `column` over `docs`, from the ids they use, as `wanted`.
fn distinct_values(source: &ScanSource, column: &str, docs: &RoaringBitmap, wanted: &DataType) -> Result<ArrayRef> {
    let distinct = match source {
        ScanSource::Sealed(segment) => segment.distinct_ids(column, docs),
        ScanSource::Consuming(snapshot) => snapshot.distinct_ids(column, docs),
        ScanSource::Remote(_) => Ok(None),
    };
    let distinct = read_on_ids(distinct, source.name(), &[column])?;
    let values = match source {
        ScanSource::Sealed(segment) => segment.decode_ids(column, &distinct),
        ScanSource::Consuming(snapshot) => snapshot.decode_ids(column, &distinct),
        ScanSource::Remote(_) => Ok(datafusion::arrow::array::new_empty_array(wanted)),
    }
    .map_err(|e| DataFusionError::External(Box::new(e)))?;
    if values.data_type() == wanted {
        Ok(values)
    } else {
        Ok(cast(&values, wanted)?)
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
            // Built per segment before any group aggregate (see `execute_on_ids`).
            Output::DistinctValues => return Err(missing()),
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
                Output::DistinctValues => {
                    format!("distinct values of {}", self.distinct_of.as_deref().unwrap_or_default())
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
                distinct_of: self.distinct_of.clone(),
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
        let distinct_of = self.distinct_of.clone();
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
            let distinct = |name: &str, wanted: &DataType| {
                let values = distinct_values(&source, name, &docs, wanted)?;
                groups.add(values.len());
                ids.add(docs.len() as usize);
                Ok(values)
            };
            if let ([name], true) = (names.as_slice(), outputs.is_empty()) {
                // A plain grouping of one column: its distinct ids, decoded from the dictionary.
                let values = distinct(name, schema.field(0).data_type());
                return Some(values.and_then(|v| Ok(RecordBatch::try_new(Arc::clone(&schema), vec![v])?)));
            }
            if let Some(name) = distinct_of.as_deref() {
                // An exact distinct count: the same values, as its state's one list.
                let DataType::List(item) = schema.field(0).data_type() else {
                    return Some(Err(DataFusionError::Internal("a distinct count's state is not a list".into())));
                };
                let state = distinct(name, item.data_type()).and_then(crate::distinct_count::state_row);
                return Some(state.and_then(|s| Ok(RecordBatch::try_new(Arc::clone(&schema), vec![s])?)));
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
