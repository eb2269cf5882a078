//! Segments held by another process. A cluster broker plans over them exactly as over local
//! ones — the row counts and per-column min/max in their metadata feed DataFusion's
//! statistics, so `COUNT(*)`, `MIN` and `MAX` over whole segments are still answered without
//! a scan — but never reads them: the broker cuts the plan above the scan and sends the lower
//! half to a server that holds them. Executing a scan of a remote segment is an error.

use cuvee_segments::SegmentMetadata;

/// A segment known from a server's listing.
#[derive(Debug, Clone)]
pub struct RemoteSegment {
    pub name: String,
    /// Ids of the servers holding it (replicas); the broker reads it from one of them.
    pub servers: Vec<String>,
    pub kind: RemoteKind,
}

#[derive(Debug, Clone)]
pub enum RemoteKind {
    /// Immutable: its metadata holds for good.
    Sealed(Box<SegmentMetadata>),
    /// Still growing: its row count is a lower bound, and a server reading it also reads
    /// every later segment of the same partition (it may have sealed and rolled over since
    /// the listing).
    Consuming { partition: u32, sequence: u32, num_docs: u64, latest_ingestion_ms: Option<i64> },
}

impl RemoteSegment {
    pub fn num_docs(&self) -> u64 {
        match &self.kind {
            RemoteKind::Sealed(meta) => meta.num_docs as u64,
            RemoteKind::Consuming { num_docs, .. } => *num_docs,
        }
    }

    pub fn is_consuming(&self) -> bool {
        matches!(self.kind, RemoteKind::Consuming { .. })
    }

    pub fn metadata(&self) -> Option<&SegmentMetadata> {
        match &self.kind {
            RemoteKind::Sealed(meta) => Some(meta),
            RemoteKind::Consuming { .. } => None,
        }
    }
}
