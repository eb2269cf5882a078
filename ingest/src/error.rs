//! The one error type of the ingest crate.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{0}")]
    Config(#[from] cuvee_catalog::CatalogError),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// The file is not of the format it claims (not Avro, not Parquet…).
    #[error("{}: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("{}: cannot tell the format from the name; use .csv, .json, .jsonl, .avro or .parquet, or name the format", .0.display())]
    UnknownFormat(PathBuf),
    /// A bad row in strict mode.
    #[error("{}, {position}: {reason}", .path.display())]
    BadRow { path: PathBuf, position: String, reason: String },
    /// A realtime table's stream cannot be consumed as configured.
    #[error("{0}")]
    Stream(String),
    #[error(transparent)]
    Segment(#[from] cuvee_segments::SegmentError),
}

impl cuvee_error::ErrorExt for IngestError {
    fn kind(&self) -> cuvee_error::ErrorKind {
        use cuvee_error::ErrorKind;
        match self {
            IngestError::Config(e) => e.kind(),
            IngestError::Io { .. } => ErrorKind::Storage,
            IngestError::Unreadable { .. }
            | IngestError::UnknownFormat(_)
            | IngestError::BadRow { .. }
            | IngestError::Stream(_) => ErrorKind::InvalidArgument,
            IngestError::Segment(e) => e.kind(),
        }
    }
}
