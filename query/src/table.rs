//! `SegmentTable`: a DataFusion table over all segments of one cuvee table — sealed ones and
//! snapshots of consuming ones, taken when a query is planned.

use crate::error::QueryError;
use crate::pushdown::translate;
use crate::remote::{RemoteKind, RemoteSegment};
use crate::scan::{ScanRequest, ScanSource, SegmentScanExec};
use async_trait::async_trait;
use cuvee_catalog::Table;
use cuvee_segments::naming::parse_segment_name;
use cuvee_segments::{arrow_type, ImmutableSegment, MutableSegment, Predicate, SegmentError, SegmentHost, TableStore};
use datafusion::arrow::datatypes::{Field, Schema as ArrowSchema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::fmt;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// SQL null semantics; off = nulls read as their column's default value (Pinot's default).
    pub null_handling: bool,
    /// Every row of an upsert table, superseded versions too (Pinot's `skipUpsert`).
    pub skip_upsert: bool,
}

pub struct SegmentTable {
    table: Table,
    schema: SchemaRef,
    /// Shared with every view of this table made by [`SegmentTable::with_options`]. One
    /// lock over both lists: a consuming segment is swapped for its sealed self atomically.
    segments: Arc<RwLock<Segments>>,
    options: ScanOptions,
}

#[derive(Default)]
struct Segments {
    sealed: Vec<Arc<ImmutableSegment>>,
    consuming: Vec<Arc<MutableSegment>>,
    /// On a cluster broker: the table's segments as the servers list them.
    remote: Vec<Arc<RemoteSegment>>,
    /// Published segments that cannot be read here (and, on a broker, by any server).
    unavailable: Vec<UnavailableSegment>,
    /// Counts changes to these lists (every write access): a physical plan kept for a query
    /// shape is made again when the segments it was planned over changed.
    generation: u64,
}

/// A published segment that cannot be read: queries over its table fail or answer partial,
/// naming it — never silently short.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnavailableSegment {
    pub segment: String,
    pub reason: String,
}

/// What a server tells a broker about one table's segments.
pub struct Listing {
    pub sealed: Vec<Arc<ImmutableSegment>>,
    /// Consuming segments: name, partition, sequence, docs, latest ingestion time.
    pub consuming: Vec<ConsumingListing>,
}

pub struct ConsumingListing {
    pub name: String,
    pub partition: u32,
    pub sequence: u32,
    pub num_docs: u64,
    pub latest_ingestion_ms: Option<i64>,
}

impl fmt::Debug for SegmentTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SegmentTable({})", self.table.name())
    }
}

/// The Arrow schema of a table: every column nullable (nulls appear with null handling on).
pub fn arrow_schema(table: &Table) -> SchemaRef {
    let fields: Vec<Field> = table
        .schema
        .columns()
        .iter()
        .map(|c| Field::new(&c.name, arrow_type(c.data_type, c.single_value), true))
        .collect();
    Arc::new(ArrowSchema::new(fields))
}

impl SegmentTable {
    pub fn new(table: Table, options: ScanOptions) -> SegmentTable {
        let schema = arrow_schema(&table);
        SegmentTable { table, schema, segments: Arc::default(), options }
    }

    /// The same table (same segments, present and future) read with other options, such as
    /// a query's `enableNullHandling`.
    pub fn with_options(&self, options: ScanOptions) -> SegmentTable {
        SegmentTable {
            table: self.table.clone(),
            schema: Arc::clone(&self.schema),
            segments: Arc::clone(&self.segments),
            options,
        }
    }

    /// The same segments under a changed definition (a compatible schema or config update):
    /// segments built before it read columns they lack as null.
    pub fn with_table(&self, table: Table) -> SegmentTable {
        SegmentTable { schema: arrow_schema(&table), table, ..self.with_options(self.options) }
    }

    /// A table over every segment published in a store. A segment that cannot be read is
    /// returned as an error and kept as unavailable (queries then say so); the rest are
    /// queryable.
    pub fn open(store: &TableStore, table: Table, options: ScanOptions) -> (SegmentTable, Vec<SegmentError>) {
        let this = SegmentTable::new(table, options);
        let (segments, errors) = store.open_segments();
        for segment in segments {
            this.add_sealed(Arc::new(segment));
        }
        let unavailable = errors
            .iter()
            .filter_map(|error| {
                Some(UnavailableSegment { segment: error.segment()?.to_string(), reason: error.to_string() })
            })
            .collect();
        this.set_unavailable(unavailable);
        (this, errors)
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    fn read(&self) -> RwLockReadGuard<'_, Segments> {
        self.segments.read()
    }

    fn write(&self) -> RwLockWriteGuard<'_, Segments> {
        let mut segments = self.segments.write();
        segments.generation += 1;
        segments
    }

    /// Which version of the segment lists this is: it changes when a segment is added,
    /// sealed, removed or found unavailable (not when a consuming segment gets rows).
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Docs in every segment, consuming ones as of now.
    pub fn total_docs(&self) -> u64 {
        let segments = self.read();
        let sealed: u64 = segments.sealed.iter().map(|s| s.num_docs() as u64).sum();
        let consuming: u64 = segments.consuming.iter().map(|m| m.num_docs() as u64).sum();
        let remote: u64 = segments.remote.iter().map(|r| r.num_docs()).sum();
        sealed + consuming + remote
    }

    /// Replaces the segments other processes hold for this table (a broker's routing
    /// refresh).
    pub fn set_remote(&self, remote: Vec<Arc<RemoteSegment>>) {
        self.write().remote = remote;
    }

    /// The local segments, as a server lists them for brokers. Consuming segments whose
    /// names do not follow the stream naming (none today) are left out.
    pub fn listing(&self) -> Listing {
        let segments = self.read();
        let table = self.table.name();
        let consuming = segments
            .consuming
            .iter()
            .filter_map(|m| {
                let (partition, sequence) = parse_segment_name(table, m.name())?;
                Some(ConsumingListing {
                    name: m.name().to_string(),
                    partition,
                    sequence,
                    num_docs: m.num_docs() as u64,
                    latest_ingestion_ms: m.latest_ingestion_ms(),
                })
            })
            .collect();
        Listing { sealed: segments.sealed.clone(), consuming }
    }

    pub fn add_sealed(&self, segment: Arc<ImmutableSegment>) {
        let mut segments = self.write();
        segments.unavailable.retain(|u| u.segment != segment.name());
        segments.sealed.push(segment);
    }

    /// Replaces the list of published segments that cannot be read.
    pub fn set_unavailable(&self, unavailable: Vec<UnavailableSegment>) {
        self.write().unavailable = unavailable;
    }

    pub fn unavailable(&self) -> Vec<UnavailableSegment> {
        self.read().unavailable.clone()
    }

    /// Takes a sealed segment out of the table; queries planned from now on do not see it.
    pub fn remove_sealed(&self, name: &str) -> bool {
        let mut segments = self.write();
        let before = segments.sealed.len();
        segments.sealed.retain(|s| s.name() != name);
        segments.sealed.len() != before
    }

    pub fn add_consuming(&self, segment: Arc<MutableSegment>) {
        self.write().consuming.push(segment);
    }

    /// Names of the consuming segments, and the freshness of the stalest of them (the
    /// latest ingestion time of each, minimum over them), as Pinot reports them.
    pub fn consuming_freshness(&self) -> (usize, Option<i64>) {
        let segments = self.read();
        let remote = segments.remote.iter().filter_map(|r| match r.kind {
            RemoteKind::Consuming { latest_ingestion_ms, .. } => Some(latest_ingestion_ms),
            RemoteKind::Sealed(_) => None,
        });
        let local = segments.consuming.iter().map(|m| m.latest_ingestion_ms());
        let all: Vec<Option<i64>> = local.chain(remote).collect();
        (all.len(), all.into_iter().flatten().min())
    }

    pub fn schema_ref(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The named segments (consuming ones as fresh snapshots); a name this table does not
    /// hold is an error naming it.
    ///
    /// A consuming segment named by a broker may have sealed and rolled over since the broker
    /// listed it: it is read under its sealed self, and every later segment of its partition
    /// on this server is read too, so the rows a broker routes here are all the partition's
    /// rows from that segment on — none twice, none missed.
    pub fn sources_named(&self, sealed_names: &[String], consuming_names: &[String]) -> Result<Vec<ScanSource>> {
        let segments = self.read();
        let (sealed, consuming) = (&segments.sealed, &segments.consuming);
        let table = self.table.name();
        let mut out = Vec::with_capacity(sealed_names.len() + consuming_names.len());
        for name in sealed_names {
            match sealed.iter().find(|s| s.name() == name) {
                Some(s) => out.push(ScanSource::Sealed(Arc::clone(s))),
                None => {
                    return Err(QueryError::SegmentNotHere {
                        table: table.to_string(),
                        segment: name.clone(),
                        consuming: false,
                    }
                    .into())
                }
            }
        }
        let mut taken: Vec<&str> = Vec::new();
        for name in consuming_names {
            let Some((partition, first)) = parse_segment_name(table, name) else {
                return Err(QueryError::Fragment(format!(
                    "consuming segment {name} of table {table} does not have a stream segment name"
                ))
                .into());
            };
            let from_here = |candidate: &str| matches!(parse_segment_name(table, candidate), Some((p, s)) if p == partition && s >= first);
            let before = out.len();
            for s in sealed.iter().filter(|s| from_here(s.name())) {
                if !taken.contains(&s.name()) {
                    taken.push(s.name());
                    out.push(ScanSource::Sealed(Arc::clone(s)));
                }
            }
            for m in consuming.iter().filter(|m| from_here(m.name())) {
                if !taken.contains(&m.name()) {
                    taken.push(m.name());
                    out.push(ScanSource::Consuming(Arc::new(m.snapshot())));
                }
            }
            // Nothing new is fine when an earlier name's successors already covered this one
            // (a broker that listed both a sealing segment and the next names both).
            if out.len() == before && !taken.iter().any(|t| from_here(t)) {
                return Err(QueryError::SegmentNotHere {
                    table: table.to_string(),
                    segment: name.clone(),
                    consuming: true,
                }
                .into());
            }
        }
        Ok(out)
    }

    /// What a scan of this table reads: the projected columns of every segment now
    /// (consuming ones as fresh snapshots) under the filters it answers.
    pub fn scan_request(
        &self,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<ScanRequest> {
        let mut predicates = Vec::new();
        let mut all_exact = true;
        for filter in filters {
            match translate(filter, &self.table) {
                Some(t) => {
                    all_exact &= t.exact;
                    predicates.push(t.predicate);
                }
                None => all_exact = false,
            }
        }
        let mut predicates = crate::pushdown::merge_ranges(predicates, &self.table);
        let predicate = match predicates.len() {
            0 => None,
            1 => predicates.pop(),
            _ => Some(Predicate::And(predicates)),
        };
        let indices: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let schema = Arc::new(self.schema.project(&indices)?);
        let columns = indices.iter().map(|&i| self.schema.field(i).name().clone()).collect();
        // A limit is only safe to apply while scanning when the scan answers every filter.
        let limit = if all_exact { limit } else { None };
        Ok(ScanRequest {
            table: self.table.name().to_string(),
            table_schema: self.table.schema.clone(),
            sources: self.sources(),
            columns,
            schema,
            predicate,
            limit,
            options: self.options,
            unavailable: self.unavailable(),
        })
    }

    fn sources(&self) -> Vec<ScanSource> {
        let segments = self.read();
        segments
            .sealed
            .iter()
            .map(|s| ScanSource::Sealed(Arc::clone(s)))
            .chain(segments.consuming.iter().map(|m| ScanSource::Consuming(Arc::new(m.snapshot()))))
            .chain(segments.remote.iter().map(|r| ScanSource::Remote(Arc::clone(r))))
            .collect()
    }
}

impl SegmentHost for SegmentTable {
    fn add_consuming(&self, segment: Arc<MutableSegment>) {
        SegmentTable::add_consuming(self, segment)
    }

    fn replace_consuming(&self, name: &str, sealed: Arc<ImmutableSegment>) {
        let mut segments = self.write();
        segments.consuming.retain(|m| m.name() != name);
        segments.sealed.push(sealed);
    }

    fn remove_consuming(&self, name: &str) {
        self.write().consuming.retain(|m| m.name() != name);
    }

    fn sealed_segments(&self) -> Vec<Arc<ImmutableSegment>> {
        self.read().sealed.clone()
    }
}

#[async_trait]
impl TableProvider for SegmentTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match translate(f, &self.table) {
                Some(t) if t.exact => TableProviderFilterPushDown::Exact,
                Some(_) => TableProviderFilterPushDown::Inexact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let request = self.scan_request(projection, filters, limit)?;
        Ok(Arc::new(SegmentScanExec::new(request, state.config().target_partitions())))
    }
}
