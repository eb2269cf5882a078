//! The one error type of the node: what an admin request (or opening the data directory)
//! met, each variant with its kind.

use cuvee_error::{ErrorExt, ErrorKind};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("Table {0} does not exist")]
    TableNotFound(String),
    #[error("Schema {0} not found")]
    SchemaNotFound(String),
    #[error("Segment {segment} of table {table} not found")]
    SegmentNotFound { table: String, segment: String },
    #[error("Table {0} already exists")]
    TableExists(String),
    #[error("Cannot delete schema {schema}, as it is associated with table {table}")]
    SchemaInUse { schema: String, table: String },
    /// A definition that does not parse or validate.
    #[error("Invalid {what}: {source}")]
    Definition { what: &'static str, source: cuvee_catalog::CatalogError },
    /// A request that is valid on its own but not for this table (its name, its type, its
    /// state); the message says which rule.
    #[error("{0}")]
    Invalid(String),
    /// A request the server's configuration does not allow (a file outside the folders
    /// open to ingestion); the message names the rule.
    #[error("{0}")]
    Forbidden(String),
    #[error("Ingestion into {table} failed: {source}")]
    Import { table: String, source: Box<cuvee_ingest::IngestError> },
    #[error(transparent)]
    Ingest(Box<cuvee_ingest::IngestError>),
    #[error(transparent)]
    Segment(#[from] cuvee_segments::SegmentError),
    #[error(transparent)]
    DeepStore(Box<cuvee_deep_store::DeepStoreError>),
    #[error(transparent)]
    Name(#[from] cuvee_catalog::NameError),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Internal(String),
}

impl ErrorExt for NodeError {
    fn kind(&self) -> ErrorKind {
        match self {
            NodeError::TableNotFound(_) => ErrorKind::TableNotFound,
            NodeError::SchemaNotFound(_) | NodeError::SegmentNotFound { .. } => ErrorKind::NotFound,
            NodeError::TableExists(_) | NodeError::SchemaInUse { .. } => ErrorKind::AlreadyExists,
            NodeError::Definition { .. } | NodeError::Invalid(_) | NodeError::Import { .. } => {
                ErrorKind::InvalidArgument
            }
            NodeError::Forbidden(_) => ErrorKind::PermissionDenied,
            NodeError::Ingest(e) => e.kind(),
            NodeError::Segment(e) => e.kind(),
            NodeError::DeepStore(e) => e.kind(),
            NodeError::Name(e) => e.kind(),
            NodeError::Io { .. } => ErrorKind::Storage,
            NodeError::Internal(_) => ErrorKind::Internal,
        }
    }
}

// Boxed: a Kafka or object-store error is large, and every admin call returns this.
impl From<cuvee_ingest::IngestError> for NodeError {
    fn from(e: cuvee_ingest::IngestError) -> Self {
        NodeError::Ingest(Box::new(e))
    }
}

impl From<cuvee_deep_store::DeepStoreError> for NodeError {
    fn from(e: cuvee_deep_store::DeepStoreError) -> Self {
        NodeError::DeepStore(Box::new(e))
    }
}

pub type Result<T, E = NodeError> = std::result::Result<T, E>;
