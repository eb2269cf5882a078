//! The one error type of the function library.

use cuvee_error::{ErrorExt, ErrorKind};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FunctionError {
    #[error("unknown function {0}")]
    Unknown(String),
    #[error("{name}: {reason}")]
    Unsupported { name: String, reason: &'static str },
    #[error("{name} takes {expected} arguments, got {got}")]
    Arity { name: String, expected: String, got: usize },
    /// An argument that has no answer: not a number, not a date in the format, a bad path.
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    DivisionByZero(String),
}

impl ErrorExt for FunctionError {
    fn kind(&self) -> ErrorKind {
        match self {
            FunctionError::Unknown(_) | FunctionError::Arity { .. } => ErrorKind::FunctionNotFound,
            FunctionError::Unsupported { .. } => ErrorKind::Unsupported,
            FunctionError::InvalidArgument(_) => ErrorKind::InvalidValue,
            FunctionError::DivisionByZero(_) => ErrorKind::DivisionByZero,
        }
    }
}

pub type Result<T, E = FunctionError> = std::result::Result<T, E>;

impl From<String> for FunctionError {
    fn from(reason: String) -> Self {
        FunctionError::InvalidArgument(reason)
    }
}

impl From<&str> for FunctionError {
    fn from(reason: &str) -> Self {
        FunctionError::InvalidArgument(reason.to_string())
    }
}
