//! Plan fragments on the wire: a datafusion-proto extension codec for `SegmentScanExec`, so
//! the cluster's broker can cut a physical plan at partial aggregation and ship the lower
//! half to the servers holding the segments.
//!
//! A scan travels as *what to read*, not the data: the table, the names of its sealed and
//! consuming segments, the projected columns, the pushed-down predicate (the segments' IR,
//! as JSON), the limit and the null-handling mode. The receiving side resolves the names
//! against its own segments ([`SegmentResolver`]); a segment it does not hold is an error
//! that names it. Consuming segments are snapshotted when the fragment is decoded, so a
//! server answers with its freshest rows; a consuming segment that sealed and rolled over
//! since the broker listed it is read with its successors ([`SegmentTable::sources_named`]).
//!
//! Functions travel by name: cuvee's UDFs (`pinot_mv_any`, the Pinot scalars) are in every
//! session ([`crate::session`]), so the default name lookup finds them on the other side.

use crate::error::QueryError;
use crate::scan::{ScanRequest, ScanSource, SegmentScanExec};

use crate::table::{ScanOptions, SegmentTable};
use cuvee_segments::Predicate;
use datafusion::common::{exec_err, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::sync::Arc;

/// Bumped when the fragment layout changes incompatibly; a server refuses other versions.
pub const FRAGMENT_VERSION: u32 = 2;

/// Finds a table's segments on the side that decodes a fragment.
pub trait SegmentResolver: Debug + Send + Sync {
    fn table(&self, name: &str) -> Option<Arc<SegmentTable>>;
    /// Every table held here (what a server lists for brokers).
    fn tables(&self) -> Vec<Arc<SegmentTable>>;
}

/// A fragment as bytes for the wire (datafusion-proto with [`CuveeCodec`]).
pub fn encode_fragment(fragment: Arc<dyn ExecutionPlan>) -> Result<Vec<u8>> {
    let codec = CuveeCodec::new(Arc::new(NoTables));
    datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec(fragment, &codec).map(|b| b.to_vec())
}

/// A fragment from the wire, its scans resolved against `resolver`'s segments.
pub fn decode_fragment(
    bytes: &[u8],
    task: &TaskContext,
    resolver: Arc<dyn SegmentResolver>,
) -> Result<Arc<dyn ExecutionPlan>> {
    datafusion_proto::bytes::physical_plan_from_bytes_with_extension_codec(bytes, task, &CuveeCodec::new(resolver))
}

/// Encoding never resolves names.
#[derive(Debug)]
struct NoTables;

impl SegmentResolver for NoTables {
    fn table(&self, _name: &str) -> Option<Arc<SegmentTable>> {
        None
    }

    fn tables(&self) -> Vec<Arc<SegmentTable>> {
        Vec::new()
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct ScanFragment {
    version: u32,
    table: String,
    sealed: Vec<String>,
    consuming: Vec<String>,
    columns: Vec<String>,
    predicate: Option<Predicate>,
    limit: Option<usize>,
    null_handling: bool,
    #[serde(default)]
    skip_upsert: bool,
}

#[derive(Debug)]
pub struct CuveeCodec {
    resolver: Arc<dyn SegmentResolver>,
}

impl CuveeCodec {
    pub fn new(resolver: Arc<dyn SegmentResolver>) -> CuveeCodec {
        CuveeCodec { resolver }
    }
}

impl PhysicalExtensionCodec for CuveeCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        _converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !inputs.is_empty() {
            return exec_err!("a segment scan has no inputs, the fragment gives {}", inputs.len());
        }
        let fragment: ScanFragment =
            serde_json::from_slice(buf).map_err(|e| QueryError::Fragment(format!("not a cuvee scan fragment: {e}")))?;
        if fragment.version != FRAGMENT_VERSION {
            return exec_err!(
                "scan fragment version {} is not this server's version {FRAGMENT_VERSION}",
                fragment.version
            );
        }
        let Some(table) = self.resolver.table(&fragment.table) else {
            return Err(QueryError::TableNotHere(fragment.table.clone()).into());
        };
        let sources = table.sources_named(&fragment.sealed, &fragment.consuming)?;
        let full = table.schema_ref();
        let indices = fragment
            .columns
            .iter()
            .map(|c| {
                full.index_of(c).map_err(|_| {
                    datafusion::error::DataFusionError::Execution(format!("table {} has no column {c}", fragment.table))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let request = ScanRequest {
            table: fragment.table,
            table_schema: table.table().schema.clone(),
            sources,
            columns: fragment.columns,
            schema: Arc::new(full.project(&indices)?),
            predicate: fragment.predicate,
            limit: fragment.limit,
            options: ScanOptions { null_handling: fragment.null_handling, skip_upsert: fragment.skip_upsert },
            // The broker decided what to do about unreadable segments before sending this.
            unavailable: Vec::new(),
        };
        Ok(Arc::new(SegmentScanExec::new(request, ctx.session_config().target_partitions())))
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        _converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let any: &dyn std::any::Any = node.as_ref();
        let Some(scan) = any.downcast_ref::<SegmentScanExec>() else {
            return exec_err!("cuvee's codec cannot encode {}", node.name());
        };
        let request = scan.request();
        let name_of = |s: &ScanSource| (!s.is_consuming(), s.name().to_string());
        let (sealed, consuming): (Vec<_>, Vec<_>) =
            request.sources.iter().map(name_of).partition(|(sealed, _)| *sealed);
        let fragment = ScanFragment {
            version: FRAGMENT_VERSION,
            table: request.table.clone(),
            sealed: sealed.into_iter().map(|(_, n)| n).collect(),
            consuming: consuming.into_iter().map(|(_, n)| n).collect(),
            columns: request.columns.clone(),
            predicate: request.predicate.clone(),
            limit: request.limit,
            null_handling: request.options.null_handling,
            skip_upsert: request.options.skip_upsert,
        };
        serde_json::to_writer(buf, &fragment)
            .map_err(|e| datafusion::error::DataFusionError::Execution(format!("encoding a scan fragment: {e}")))
    }
}
