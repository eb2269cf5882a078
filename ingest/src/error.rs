//! The one error type of the ingest crate, each variant with its kind.

use cuvee_error::{ErrorExt, ErrorKind};
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
    /// Kafka refused or did not answer; `context` says what was being done.
    #[error("{context}: {source}")]
    Kafka { context: String, source: rdkafka::error::KafkaError },
    /// The topic is not there, or has no partitions.
    #[error("{0}")]
    Topic(String),
    /// A replica's claim in the deep store that cannot be read.
    #[error("claim {file} of table {table}: {reason}")]
    Claim { table: String, file: String, reason: String },
    /// Which partitions a server consumes: an impossible share.
    #[error("{0}")]
    Share(String),
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Segment(#[from] cuvee_segments::SegmentError),
}

impl ErrorExt for IngestError {
    fn kind(&self) -> ErrorKind {
        match self {
            IngestError::Config(e) => e.kind(),
            IngestError::Io { .. } => ErrorKind::Storage,
            IngestError::Unreadable { .. }
            | IngestError::UnknownFormat(_)
            | IngestError::BadRow { .. }
            | IngestError::Stream(_)
            | IngestError::Share(_) => ErrorKind::InvalidArgument,
            IngestError::Kafka { .. } => ErrorKind::Unavailable,
            IngestError::Topic(_) => ErrorKind::NotFound,
            IngestError::Claim { .. } => ErrorKind::Corrupt,
            IngestError::Thread(_) => ErrorKind::Internal,
            IngestError::Segment(e) => e.kind(),
        }
    }
}
