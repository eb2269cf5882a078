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
    /// A segment that cannot be read, for a reason that does not name it.
    #[error("segment {segment}: {source}")]
    Unreadable { segment: String, source: Box<SegmentError> },
    /// A table or segment name that breaks the naming rule (it would become a path).
    #[error(transparent)]
    Name(#[from] cuvee_catalog::NameError),
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
            SegmentError::Name(e) => e.kind(),
            SegmentError::Unreadable { source, .. } => source.kind(),
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

impl SegmentError {
    /// The segment this error is about, when it names one.
    pub fn segment(&self) -> Option<&str> {
        match self {
            SegmentError::Corrupt { segment, .. } | SegmentError::Unreadable { segment, .. } => Some(segment),
            _ => None,
        }
    }

    /// This error, naming `segment` if it does not already.
    pub fn of_segment(self, segment: &str) -> SegmentError {
        match self.segment() {
            Some(named) if named == segment => self,
            _ => SegmentError::Unreadable { segment: segment.to_string(), source: Box::new(self) },
        }
    }
}

pub type Result<T, E = SegmentError> = std::result::Result<T, E>;
