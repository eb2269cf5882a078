//! The one error type of the segments crate.

use cuvee_error::{ErrorExt, ErrorKind};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The file is damaged, truncated or not a segment. Names the segment and the file.
    #[error("segment {segment} ({}) is corrupt: {reason}", .file.display())]
    Corrupt { segment: String, file: PathBuf, reason: String },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// A row that does not fit the schema (wrong type, wrong arity).
    #[error("invalid row: {0}")]
    InvalidRow(String),
    /// A predicate or request that names something the segment does not have.
    #[error("{0}")]
    InvalidRequest(String),
    /// The table's mirror (its deep store) failed; the kind says how.
    #[error("{reason}")]
    Mirror { url: String, kind: ErrorKind, reason: String },
}

impl ErrorExt for SegmentError {
    fn kind(&self) -> ErrorKind {
        match self {
            SegmentError::Corrupt { .. } => ErrorKind::Corrupt,
            SegmentError::Io { .. } => ErrorKind::Storage,
            SegmentError::InvalidRow(_) | SegmentError::InvalidRequest(_) => ErrorKind::InvalidArgument,
            SegmentError::Mirror { kind, .. } => *kind,
        }
    }
}

/// What is wrong with the bytes of a section (a reader's finding); the segment that opens
/// it reports it as [`SegmentError::Corrupt`], naming the segment, file and section.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

impl From<&str> for Malformed {
    fn from(reason: &str) -> Self {
        Malformed(reason.to_string())
    }
}

impl ErrorExt for Malformed {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Corrupt
    }
}

pub type Result<T, E = SegmentError> = std::result::Result<T, E>;
