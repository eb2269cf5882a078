//! # cuvee-proto
//!
//! Answers: *what do a broker and a server say to each other?* The messages and the tonic
//! service of `proto/cuvee.proto` (plan fragments in; Arrow IPC batches and execution
//! statistics out; segment listings; health), generated at build time with the pure-Rust
//! `protox` compiler. Knows nothing of SQL or storage: the fragment is opaque bytes here.
//!
//! Also the gRPC side of errors ([`status`], [`kind_of`]): the one mapping from an error's
//! kind to a gRPC code, used by the fragment server and the Flight SQL door; the kind
//! itself travels in the `cuvee-error-kind` metadata, so a broker gives a server's error
//! the same kind it had there.

pub mod v1 {
    #![allow(clippy::all)]
    tonic::include_proto!("cuvee.v1");
}

use cuvee_error::ErrorKind;
use tonic::{Code, Status};

/// Bumped on any incompatible change to the messages or to the fragment encoding; a server
/// refuses requests of another version with `FAILED_PRECONDITION`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The metadata key that carries an error's kind by name.
pub const ERROR_KIND: &str = "cuvee-error-kind";

/// The gRPC (and Flight) code of a kind of failure.
pub fn code(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::Syntax
        | ErrorKind::InvalidArgument
        | ErrorKind::TypeMismatch
        | ErrorKind::InvalidValue
        | ErrorKind::DivisionByZero
        | ErrorKind::ColumnNotFound
        | ErrorKind::FunctionNotFound => Code::InvalidArgument,
        ErrorKind::TableNotFound | ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::Unsupported => Code::Unimplemented,
        ErrorKind::Unauthenticated => Code::Unauthenticated,
        ErrorKind::PermissionDenied => Code::PermissionDenied,
        ErrorKind::ResourceExhausted | ErrorKind::Overloaded => Code::ResourceExhausted,
        ErrorKind::Timeout => Code::DeadlineExceeded,
        ErrorKind::Cancelled => Code::Cancelled,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Corrupt | ErrorKind::Incomplete => Code::DataLoss,
        ErrorKind::Storage | ErrorKind::Internal => Code::Internal,
    }
}

/// A status for an error of `kind`, its kind in the metadata.
pub fn status(kind: ErrorKind, message: impl Into<String>) -> Status {
    let mut status = Status::new(code(kind), message);
    if let Ok(value) = kind.as_str().parse() {
        status.metadata_mut().insert(ERROR_KIND, value);
    }
    status
}

/// The kind of a status: the one it carries, else the nearest for its code.
pub fn kind_of(status: &Status) -> ErrorKind {
    let named = status.metadata().get(ERROR_KIND).and_then(|v| v.to_str().ok()).and_then(ErrorKind::from_name);
    named.unwrap_or(match status.code() {
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => ErrorKind::InvalidArgument,
        Code::NotFound => ErrorKind::NotFound,
        Code::AlreadyExists => ErrorKind::AlreadyExists,
        Code::PermissionDenied => ErrorKind::PermissionDenied,
        Code::Unauthenticated => ErrorKind::Unauthenticated,
        Code::ResourceExhausted => ErrorKind::ResourceExhausted,
        Code::DeadlineExceeded => ErrorKind::Timeout,
        Code::Cancelled => ErrorKind::Cancelled,
        Code::Unavailable => ErrorKind::Unavailable,
        Code::Unimplemented => ErrorKind::Unsupported,
        Code::DataLoss => ErrorKind::Corrupt,
        Code::Ok | Code::Unknown | Code::Aborted | Code::Internal => ErrorKind::Internal,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_survives_the_wire() {
        for kind in ErrorKind::ALL {
            let status = status(kind, "x");
            assert_eq!(kind_of(&status), kind);
            assert_ne!(status.code(), Code::Ok);
        }
        assert_eq!(kind_of(&Status::not_found("x")), ErrorKind::NotFound);
    }
}
