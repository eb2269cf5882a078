//! # cuvee-error
//!
//! Answers: *what kind of failure is this?* Every crate has its own typed error; each of
//! its variants has exactly one [`ErrorKind`] ([`ErrorExt::kind`]). A door maps kinds to
//! its protocol's codes once — Pinot's query error codes and HTTP statuses, Postgres
//! SQLSTATEs, gRPC / Flight statuses — so the same failure gets the same answer on every
//! door, and no door reads an error's message to decide what it was.
//!
//! Kinds are few and stable on purpose: a door can only ever answer with one code per kind,
//! so a new kind is a decision for every door (the exhaustive matches make sure of it).

use std::fmt;

/// What went wrong, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The statement does not parse.
    Syntax,
    /// A request or statement that parses but is not valid: a bad option, config, type or
    /// argument.
    InvalidArgument,
    /// Values of types that do not go together (`'a' + 1`, a non-boolean filter).
    TypeMismatch,
    /// An operation on values that has no answer (a cast of `'x'` to a number).
    InvalidValue,
    DivisionByZero,
    /// The statement names a table that does not exist.
    TableNotFound,
    /// The statement names a column its tables do not have.
    ColumnNotFound,
    /// The statement calls a function that does not exist (or not with these arguments).
    FunctionNotFound,
    /// Any other named thing (a schema, a segment, a prepared statement) that is not there.
    NotFound,
    /// Creating something that exists already.
    AlreadyExists,
    /// A valid request this version does not do.
    Unsupported,
    /// The caller is not who they say, or said nothing.
    Unauthenticated,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// A limit was reached: memory, result rows, connections, queued queries.
    ResourceExhausted,
    /// Too much work at once: the server runs its limit of queries and none finished while
    /// this one waited its turn. Trying again later works.
    Overloaded,
    /// The request's deadline passed.
    Timeout,
    /// The caller (or an operator) cancelled the request.
    Cancelled,
    /// A server or a dependency (Kafka, the deep store) did not answer; trying again may work.
    Unavailable,
    /// Stored data is damaged (a checksum or structure check failed).
    Corrupt,
    /// Part of the data asked for cannot be read (a damaged or missing segment), so the
    /// answer would be incomplete.
    Incomplete,
    /// Reading or writing this machine's disk failed.
    Storage,
    /// A bug, or a state that should not happen.
    Internal,
}

impl ErrorKind {
    /// A short stable name, for logs and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Syntax => "syntax",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::TypeMismatch => "type_mismatch",
            ErrorKind::InvalidValue => "invalid_value",
            ErrorKind::DivisionByZero => "division_by_zero",
            ErrorKind::TableNotFound => "table_not_found",
            ErrorKind::ColumnNotFound => "column_not_found",
            ErrorKind::FunctionNotFound => "function_not_found",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::ResourceExhausted => "resource_exhausted",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Corrupt => "corrupt",
            ErrorKind::Incomplete => "incomplete",
            ErrorKind::Storage => "storage",
            ErrorKind::Internal => "internal",
        }
    }

    /// Every kind, for doors' tests that check each one is mapped.
    pub const ALL: [ErrorKind; 22] = [
        ErrorKind::Syntax,
        ErrorKind::InvalidArgument,
        ErrorKind::TypeMismatch,
        ErrorKind::InvalidValue,
        ErrorKind::DivisionByZero,
        ErrorKind::TableNotFound,
        ErrorKind::ColumnNotFound,
        ErrorKind::FunctionNotFound,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::Unsupported,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::ResourceExhausted,
        ErrorKind::Overloaded,
        ErrorKind::Timeout,
        ErrorKind::Cancelled,
        ErrorKind::Unavailable,
        ErrorKind::Corrupt,
        ErrorKind::Incomplete,
        ErrorKind::Storage,
        ErrorKind::Internal,
    ];

    /// The kind named by [`ErrorKind::as_str`] (kinds travel by name between processes).
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text a caught panic carried (`catch_unwind`'s payload), for the error that reports it.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string())
}

/// Implemented by every crate's error type: the one kind of each variant.
pub trait ErrorExt: std::error::Error {
    fn kind(&self) -> ErrorKind;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_name(kind.as_str()), Some(kind));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }
}
