//! The broker's own errors (a query's errors are DataFusion's, given their kind by
//! `cuvee_query::kind_of`): finding and listing servers.

use cuvee_error::{ErrorExt, ErrorKind};

#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// `--servers` does not name servers the way it should.
    #[error("--servers {given}: {reason}")]
    Servers { given: String, reason: &'static str },
    #[error("{address} is not a server address: {reason}")]
    Address { address: String, reason: String },
    #[error("listing segments: {0}")]
    Listing(tonic::Status),
    #[error("listing segments: no answer within {0} ms")]
    ListingTimeout(u128),
    /// A server listed a table whose definition does not read.
    #[error("a listed {what}: {source}")]
    Definition { what: &'static str, source: cuvee_catalog::CatalogError },
}

impl ErrorExt for RoutingError {
    fn kind(&self) -> ErrorKind {
        match self {
            RoutingError::Servers { .. } | RoutingError::Address { .. } => ErrorKind::InvalidArgument,
            RoutingError::Listing(status) => cuvee_proto::kind_of(status),
            RoutingError::ListingTimeout(_) => ErrorKind::Unavailable,
            RoutingError::Definition { .. } => ErrorKind::Corrupt,
        }
    }
}
