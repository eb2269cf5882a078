//! `SegmentScanExec`: the leaf of every cuvee plan. For each segment it evaluates the pushed
//! predicate to a bitmap through the segment's indexes, then decodes only the projected
//! columns of the matching docs, batch by batch. Segments are spread over the partitions.

use crate::remote::{RemoteKind, RemoteSegment};
use crate::table::{ScanOptions, UnavailableSegment};
use cuvee_catalog::ColumnSpec;
use cuvee_segments::{
    absent_column, resolve_absent, Access, DecodeOptions, EvalOptions, ImmutableSegment, MutableSnapshot, Predicate,
    Result as SegmentResult, SegmentError, SegmentMetadata,
};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result, Statistics};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchReceiverStream;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use roaring::RoaringBitmap;
use std::fmt;
use std::sync::Arc;

/// A segment as a scan sees it: sealed, or a snapshot of the consuming one.
#[derive(Clone)]
pub enum ScanSource {
    Sealed(Arc<ImmutableSegment>),
    Consuming(Arc<MutableSnapshot>),
    /// Held by another process: planned over, never read here (see [`crate::remote`]).
    Remote(Arc<RemoteSegment>),
}

impl ScanSource {
    pub fn name(&self) -> &str {
        match self {
            ScanSource::Sealed(s) => s.name(),
            ScanSource::Consuming(s) => s.name(),
            ScanSource::Remote(r) => &r.name,
        }
    }

    pub fn is_consuming(&self) -> bool {
        match self {
            ScanSource::Sealed(_) => false,
            ScanSource::Consuming(_) => true,
            ScanSource::Remote(r) => r.is_consuming(),
        }
    }

    pub(crate) fn num_docs(&self) -> u32 {
        match self {
            ScanSource::Sealed(s) => s.num_docs(),
            ScanSource::Consuming(s) => s.num_docs(),
            ScanSource::Remote(r) => u32::try_from(r.num_docs()).unwrap_or(u32::MAX),
        }
    }

    /// The metadata of a whole sealed segment, wherever it is.
    pub(crate) fn sealed_metadata(&self) -> Option<&SegmentMetadata> {
        match self {
            ScanSource::Sealed(s) => Some(s.metadata()),
            ScanSource::Consuming(_) => None,
            ScanSource::Remote(r) => r.metadata(),
        }
    }

    /// The docs queries see when the table keeps one row per key; `None`: all of them.
    pub(crate) fn valid_docs(&self) -> Option<&Arc<cuvee_segments::ValidDocs>> {
        match self {
            ScanSource::Sealed(s) => s.valid_docs(),
            ScanSource::Consuming(s) => s.valid_docs(),
            ScanSource::Remote(_) => None,
        }
    }

    fn latest_ingestion_ms(&self) -> Option<i64> {
        match self {
            ScanSource::Sealed(_) => None,
            ScanSource::Consuming(s) => s.latest_ingestion_ms(),
            ScanSource::Remote(r) => match r.kind {
                RemoteKind::Consuming { latest_ingestion_ms, .. } => latest_ingestion_ms,
                RemoteKind::Sealed(_) => None,
            },
        }
    }

    fn not_here(&self) -> SegmentError {
        let servers = match self {
            ScanSource::Remote(r) => r.servers.join(", "),
            _ => String::new(),
        };
        SegmentError::InvalidRequest(format!(
            "segment {} is held by server(s) [{servers}], not by this process; its plan must run there",
            self.name()
        ))
    }

    fn has_column(&self, name: &str) -> bool {
        match self {
            ScanSource::Sealed(s) => s.schema().column(name).is_some(),
            ScanSource::Consuming(s) => s.has_column(name),
            ScanSource::Remote(_) => true,
        }
    }

    /// The table's spec of each requested column this segment was built without (the
    /// column was added to the schema later).
    fn absent(&self, table_schema: &cuvee_catalog::Schema, name: &str) -> Option<ColumnSpec> {
        if self.has_column(name) {
            return None;
        }
        table_schema.column(name).cloned()
    }

    /// False when segment metadata alone (dictionary, min/max, bloom filter) shows that no
    /// doc can match a top-level conjunct: the segment is skipped without being evaluated.
    /// A remote segment is judged by the min/max of its listed metadata.
    pub fn may_match(&self, predicate: &Predicate) -> SegmentResult<bool> {
        match predicate {
            Predicate::And(parts) => {
                for part in parts {
                    if !self.may_match(part)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Predicate::Leaf { column, leaf, negated: false } => match self {
                ScanSource::Sealed(segment) => {
                    let Some(spec) = segment.schema().column(column) else { return Ok(true) };
                    match cuvee_segments::Matcher::compile(leaf, spec.data_type) {
                        Ok(matcher) => segment.may_contain(column, &matcher),
                        Err(_) => Ok(true),
                    }
                }
                ScanSource::Remote(remote) => {
                    let Some(meta) = remote.metadata() else { return Ok(true) };
                    let Some(column_meta) = meta.columns.iter().find(|c| &c.name == column) else { return Ok(true) };
                    match cuvee_segments::Matcher::compile(leaf, column_meta.data_type) {
                        Ok(matcher) => Ok(meta.may_contain(column, &matcher)),
                        Err(_) => Ok(true),
                    }
                }
                ScanSource::Consuming(_) => Ok(true),
            },
            Predicate::Const(b) => Ok(*b),
            _ => Ok(true),
        }
    }

    /// The docs matching `predicate` (all docs without one), less those an upsert has
    /// superseded unless `skip_upsert`.
    pub(crate) fn matching(
        &self,
        predicate: Option<&Predicate>,
        options: EvalOptions,
        skip_upsert: bool,
    ) -> SegmentResult<(RoaringBitmap, Vec<Access>)> {
        if let ScanSource::Remote(_) = self {
            return Err(self.not_here());
        }
        let (mut docs, accesses) = match predicate {
            None => {
                let mut all = RoaringBitmap::new();
                all.insert_range(0..self.num_docs());
                (all, Vec::new())
            }
            Some(predicate) => {
                let evaluation = match self {
                    ScanSource::Sealed(s) => s.evaluate(predicate, options)?,
                    ScanSource::Consuming(s) => s.evaluate(predicate, options)?,
                    ScanSource::Remote(_) => return Err(self.not_here()),
                };
                (evaluation.docs, evaluation.trace.iter().map(|t| t.access).collect())
            }
        };
        if let (Some(valid), false) = (self.valid_docs(), skip_upsert) {
            valid.retain_valid(&mut docs);
        }
        Ok((docs, accesses))
    }

    /// Docs a query without a filter sees.
    fn visible_docs(&self, skip_upsert: bool) -> u64 {
        match (self.valid_docs(), skip_upsert) {
            (Some(valid), false) => valid.len().min(u64::from(self.num_docs())),
            _ => u64::from(self.num_docs()),
        }
    }

    fn decode(&self, columns: &[&str], docs: &[u32], options: DecodeOptions) -> SegmentResult<RecordBatch> {
        match self {
            ScanSource::Sealed(s) => s.decode(columns, docs, options),
            ScanSource::Consuming(s) => s.decode(columns, docs, options),
            ScanSource::Remote(_) => Err(self.not_here()),
        }
    }

    /// Decodes `columns` into `schema`'s shape, filling columns the segment lacks.
    pub(crate) fn decode_into(
        &self,
        schema: &SchemaRef,
        table_schema: &cuvee_catalog::Schema,
        columns: &[&str],
        docs: &[u32],
        options: DecodeOptions,
    ) -> SegmentResult<RecordBatch> {
        let present: Vec<&str> = columns.iter().copied().filter(|c| self.has_column(c)).collect();
        let decoded = self.decode(&present, docs, options)?;
        if present.len() == columns.len() {
            return Ok(decoded);
        }
        let mut arrays = Vec::with_capacity(columns.len());
        for name in columns {
            match self.absent(table_schema, name) {
                Some(spec) => arrays.push(absent_column(&spec, docs.len(), options)?),
                None => arrays.push(
                    decoded
                        .column_by_name(name)
                        .cloned()
                        .ok_or_else(|| SegmentError::InvalidRequest(format!("column {name} was not decoded")))?,
                ),
            }
        }
        let options = datafusion::arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(docs.len()));
        RecordBatch::try_new_with_options(Arc::clone(schema), arrays, &options)
            .map_err(|e| SegmentError::InvalidRequest(format!("assembling a batch: {e}")))
    }
}

/// What to scan: the table's segments, the projected columns, the pushed-down predicate.
pub struct ScanRequest {
    pub table: String,
    /// The table's schema now, which may have columns older segments lack.
    pub table_schema: cuvee_catalog::Schema,
    pub sources: Vec<ScanSource>,
    pub columns: Vec<String>,
    /// The projected schema (one field per column).
    pub schema: SchemaRef,
    pub predicate: Option<Predicate>,
    pub limit: Option<usize>,
    pub options: ScanOptions,
    /// Segments of the table that cannot be read (damaged, missing): the broker's scatter
    /// fails the query or answers it as partial, naming them. Never sent to servers.
    pub unavailable: Vec<UnavailableSegment>,
}

pub struct SegmentScanExec {
    request: ScanRequest,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for SegmentScanExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentScanExec({}, {} segments)", self.request.table, self.request.sources.len())
    }
}

impl SegmentScanExec {
    pub fn new(request: ScanRequest, target_partitions: usize) -> SegmentScanExec {
        let partitions = request.sources.len().clamp(1, target_partitions.max(1));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&request.schema)),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        SegmentScanExec { request, properties: Arc::new(properties), metrics: ExecutionPlanMetricsSet::new() }
    }

    /// The same scan over other segments (one server's share of them).
    pub fn with_sources(&self, sources: Vec<ScanSource>) -> SegmentScanExec {
        SegmentScanExec::new(self.request_over(sources), self.properties.partitioning.partition_count())
    }

    /// The same scan holding no segment and planned as it was (its partitions unchanged):
    /// what a kept physical plan stores, so it keeps no segment (nor its mapped file) alive.
    /// Never executed: a kept plan gets a fresh scan per query.
    pub fn without_sources(&self) -> SegmentScanExec {
        SegmentScanExec {
            request: self.request_over(Vec::new()),
            properties: Arc::clone(&self.properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    fn request_over(&self, sources: Vec<ScanSource>) -> ScanRequest {
        let r = &self.request;
        ScanRequest {
            table: r.table.clone(),
            table_schema: r.table_schema.clone(),
            sources,
            columns: r.columns.clone(),
            schema: Arc::clone(&r.schema),
            predicate: r.predicate.clone(),
            limit: r.limit,
            options: r.options,
            unavailable: r.unavailable.clone(),
        }
    }

    pub fn request(&self) -> &ScanRequest {
        &self.request
    }

    /// Segments this scan reads (sealed and consuming).
    pub fn segment_count(&self) -> usize {
        self.request.sources.len()
    }

    pub fn consuming_count(&self) -> usize {
        self.request.sources.iter().filter(|s| s.is_consuming()).count()
    }

    /// Pinot's `minConsumingFreshnessTimeMs`: the oldest "latest row" time among the
    /// consuming segments read (the answer includes every row up to at least then).
    pub fn min_consuming_freshness_ms(&self) -> Option<i64> {
        self.request.sources.iter().filter_map(ScanSource::latest_ingestion_ms).min()
    }

    /// Docs in all the segments this scan reads.
    pub fn total_docs(&self) -> u64 {
        self.request.sources.iter().map(|s| s.num_docs() as u64).sum()
    }

    pub fn column_count(&self) -> usize {
        self.request.columns.len()
    }

    fn partition_sources(&self, partition: usize) -> Vec<ScanSource> {
        let n = self.properties.partitioning.partition_count();
        self.request.sources.iter().enumerate().filter(|(i, _)| i % n == partition).map(|(_, s)| s.clone()).collect()
    }

    pub(crate) fn counter(&self, name: &'static str, partition: usize) -> Count {
        MetricBuilder::new(&self.metrics).counter(name, partition)
    }
}

impl DisplayAs for SegmentScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let r = &self.request;
        write!(
            f,
            "SegmentScanExec: table={}, segments={} (consuming {}), columns=[{}]",
            r.table,
            r.sources.len(),
            self.consuming_count(),
            r.columns.join(", ")
        )?;
        if let Some(p) = &r.predicate {
            write!(f, ", predicate={p:?}")?;
        }
        if let Some(l) = r.limit {
            write!(f, ", limit={l}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for SegmentScanExec {
    fn name(&self) -> &'static str {
        "SegmentScanExec"
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

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(children, ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn statistics_from_inputs(&self, _inputs: &[Arc<Statistics>], args: &StatisticsArgs) -> Result<Arc<Statistics>> {
        let sources = match args.partition() {
            Some(p) => self.partition_sources(p),
            None => self.request.sources.clone(),
        };
        let skip_upsert = self.request.options.skip_upsert;
        let docs: usize = sources.iter().map(|s| s.visible_docs(skip_upsert) as usize).sum();
        // An upsert table's metadata describes superseded rows too: no min/max from it.
        let upserted = !skip_upsert && sources.iter().any(|s| s.valid_docs().is_some());
        // Without a predicate the row count is known exactly (COUNT(*) needs no scan) —
        // unless a consuming segment is elsewhere and grows while the broker plans.
        let growing = sources.iter().any(|s| matches!(s, ScanSource::Remote(r) if r.is_consuming()));
        // Nor when a segment of the table cannot be read: an answer from the others'
        // metadata would be short with nobody told; the scan must run so the scatter can
        // fail the query (or mark it partial) naming the segment.
        let short = !self.request.unavailable.is_empty();
        let rows = match (&self.request.predicate, self.request.limit) {
            _ if growing || short => Precision::Inexact(docs),
            (None, None) => Precision::Exact(docs),
            (None, Some(l)) => Precision::Exact(docs.min(l)),
            _ => Precision::Inexact(docs),
        };
        let mut statistics = Statistics::new_unknown(&self.request.schema).with_num_rows(rows);
        // Over whole segments, each column's min, max and null count come from segment
        // metadata exactly, so MIN/MAX of a column are answered without reading it.
        if self.request.predicate.is_none() && self.request.limit.is_none() && !short && !upserted {
            for (i, field) in self.request.schema.fields().iter().enumerate() {
                statistics.column_statistics[i] = crate::scan_statistics::metadata_statistics(
                    &sources,
                    field.name(),
                    field.data_type(),
                    self.request.options.null_handling,
                );
            }
        }
        Ok(Arc::new(statistics))
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size().max(1);
        let sources = self.partition_sources(partition);
        let columns = self.request.columns.clone();
        let predicate = self.request.predicate.clone();
        let schema = Arc::clone(&self.request.schema);
        let table_schema = self.request.table_schema.clone();
        let eval_options = EvalOptions { null_handling: self.request.options.null_handling };
        let decode_options = DecodeOptions { null_handling: self.request.options.null_handling };
        let mut remaining = self.request.limit.unwrap_or(usize::MAX);
        let counters = ScanCounters::new(self, partition);
        let batches =
            sources.into_iter().flat_map(move |source| -> Box<dyn Iterator<Item = Result<RecordBatch>> + Send> {
                let none = || -> Box<dyn Iterator<Item = Result<RecordBatch>> + Send> { Box::new(std::iter::empty()) };
                let failed = |e: SegmentError| -> Box<dyn Iterator<Item = Result<RecordBatch>> + Send> {
                    Box::new(std::iter::once(Err(DataFusionError::External(Box::new(e)))))
                };
                if remaining == 0 {
                    return none();
                }
                let absent = |name: &str| source.absent(&table_schema, name);
                let predicate = predicate.as_ref().map(|p| match p.columns().iter().any(|c| absent(c).is_some()) {
                    true => resolve_absent(p, &absent, eval_options.null_handling),
                    false => p.clone(),
                });
                let docs = match counters.filter(&source, predicate.as_ref(), eval_options) {
                    Ok(Some(docs)) => docs,
                    Ok(None) => return none(),
                    Err(e) => return failed(e),
                };
                let docs = DocList::new(&docs, remaining);
                remaining -= docs.len();
                counters.docs_matched.add(docs.len());
                // Batch by batch as the consumer takes them: each stays in cache while it is
                // aggregated, instead of a whole segment decoded up front.
                let (columns, schema, table_schema) = (columns.clone(), Arc::clone(&schema), table_schema.clone());
                Box::new((0..docs.len()).step_by(batch_size).map(move |start| {
                    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
                    let chunk = docs.chunk(start, (start + batch_size).min(docs.len()));
                    source
                        .decode_into(&schema, &table_schema, &names, &chunk, decode_options)
                        .map_err(|e| DataFusionError::External(Box::new(e)))
                }))
            });
        Ok(blocking_stream(Arc::clone(&self.request.schema), batches))
    }
}

/// What a scan counts of its filtering, per partition: segments pruned, scanned and
/// matched (consuming ones too), docs, and which index or scan answered each leaf.
pub(crate) struct ScanCounters {
    segments_scanned: Count,
    segments_pruned: Count,
    segments_matched: Count,
    consuming_scanned: Count,
    consuming_matched: Count,
    docs_total: Count,
    pub(crate) docs_matched: Count,
    entries_in_filter: Count,
    by_access: Vec<(Access, Count)>,
    skip_upsert: bool,
}

/// The scan's counter of leaves answered each way (EXPLAIN ANALYZE's `leaves_by_…`).
pub const ACCESS_COUNTERS: [(Access, &str); 8] = [
    (Access::Dictionary, "leaves_by_dictionary"),
    (Access::SortedIndex, "leaves_by_sorted_index"),
    (Access::InvertedIndex, "leaves_by_inverted_index"),
    (Access::RangeIndex, "leaves_by_range_index"),
    (Access::H3Index, "leaves_by_h3_index"),
    (Access::ScanIds, "leaves_by_id_scan"),
    (Access::ScanValues, "leaves_by_value_scan"),
    (Access::NullBitmap, "leaves_by_null_bitmap"),
];

impl ScanCounters {
    pub(crate) fn new(scan: &SegmentScanExec, partition: usize) -> ScanCounters {
        let by_access = ACCESS_COUNTERS.into_iter().map(|(a, name)| (a, scan.counter(name, partition))).collect();
        ScanCounters {
            segments_scanned: scan.counter("segments_scanned", partition),
            segments_pruned: scan.counter("segments_pruned", partition),
            segments_matched: scan.counter("segments_matched", partition),
            consuming_scanned: scan.counter("consuming_segments_scanned", partition),
            consuming_matched: scan.counter("consuming_segments_matched", partition),
            docs_total: scan.counter("docs_total", partition),
            docs_matched: scan.counter("docs_matched", partition),
            entries_in_filter: scan.counter("entries_scanned_in_filter", partition),
            by_access,
            skip_upsert: scan.request.options.skip_upsert,
        }
    }

    /// The docs of `source` that match `predicate`, counted; `None` when there are none
    /// (the segment pruned by its metadata, or no doc matching). `docs_matched` is the
    /// caller's to add, as a limit may take fewer.
    pub(crate) fn filter(
        &self,
        source: &ScanSource,
        predicate: Option<&Predicate>,
        options: EvalOptions,
    ) -> SegmentResult<Option<RoaringBitmap>> {
        if let Some(p) = predicate {
            if !source.may_match(p)? {
                self.segments_pruned.add(1);
                return Ok(None);
            }
        }
        self.segments_scanned.add(1);
        if source.is_consuming() {
            self.consuming_scanned.add(1);
        }
        self.docs_total.add(source.num_docs() as usize);
        let (docs, accesses) = source.matching(predicate, options, self.skip_upsert)?;
        for access in accesses {
            if let Some((_, c)) = self.by_access.iter().find(|(a, _)| *a == access) {
                c.add(1);
            }
            // A scan reads one forward-index entry per doc; an index reads none.
            if matches!(access, Access::ScanIds | Access::ScanValues) {
                self.entries_in_filter.add(source.num_docs() as usize);
            }
        }
        if docs.is_empty() {
            return Ok(None);
        }
        self.segments_matched.add(1);
        if source.is_consuming() {
            self.consuming_matched.add(1);
        }
        Ok(Some(docs))
    }
}

/// `batches` as a stream, produced on the blocking pool: index evaluation and decoding are
/// CPU work, kept off the async workers that also serve requests. A dropped stream
/// (cancelled or timed-out query) makes the send fail, and the producer stops.
pub(crate) fn blocking_stream(
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch>> + Send + 'static,
) -> SendableRecordBatchStream {
    let mut builder = RecordBatchReceiverStream::builder(schema, 2);
    let tx = builder.tx();
    builder.spawn_blocking(move || {
        for batch in batches {
            if tx.blocking_send(batch).is_err() {
                break;
            }
        }
        Ok(())
    });
    builder.build()
}

/// The docs a segment answers with: one run (every doc of a segment, a sorted-column
/// range) is kept as its bounds, so a full scan never lists millions of doc ids.
enum DocList {
    Run { first: u32, len: usize },
    Listed(Vec<u32>),
}

impl DocList {
    fn new(docs: &RoaringBitmap, limit: usize) -> DocList {
        let len = (docs.len() as usize).min(limit);
        match (docs.min(), docs.max()) {
            (Some(first), Some(last)) if u64::from(last - first) + 1 == docs.len() => DocList::Run { first, len },
            _ => DocList::Listed(docs.iter().take(len).collect()),
        }
    }

    fn len(&self) -> usize {
        match self {
            DocList::Run { len, .. } => *len,
            DocList::Listed(docs) => docs.len(),
        }
    }

    fn chunk(&self, start: usize, end: usize) -> std::borrow::Cow<'_, [u32]> {
        match self {
            DocList::Run { first, .. } => {
                std::borrow::Cow::Owned((*first + start as u32..*first + end as u32).collect())
            }
            DocList::Listed(docs) => std::borrow::Cow::Borrowed(&docs[start..end]),
        }
    }
}
