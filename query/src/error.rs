//! The query engine's own errors, and the one place a DataFusion error is given its kind.
//!
//! cuvee's errors travel inside DataFusion as `DataFusionError::External` and keep their
//! kind ([`kind_of`] finds them). DataFusion's own errors are classified by variant; its
//! planning errors are one variant for many failures (a missing table, a missing function,
//! a type error), so only here is a planner message read — no door does that itself.

use cuvee_error::{ErrorExt, ErrorKind};
use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A fragment names a table this server does not hold (the routing's problem).
    #[error("table {0} is not on this server")]
    TableNotHere(String),
    /// A fragment names a segment this server does not hold (the routing's problem).
    #[error("{kind}segment {segment} of table {table} is not on this server", kind = if *.consuming { "consuming " } else { "" })]
    SegmentNotHere { table: String, segment: String, consuming: bool },
    /// Bytes that are not a fragment this version understands.
    #[error("{0}")]
    Fragment(String),
    /// Tables change through the controller API, not by SQL.
    #[error(
        "cuvee's SQL doors are read-only: tables are created, changed and dropped through the controller API (POST /tables, DELETE /tables/{{name}}), not by SQL"
    )]
    ReadOnly,
    #[error("{name}: {source}")]
    Function { name: &'static str, source: cuvee_functions::FunctionError },
    #[error(transparent)]
    Segment(#[from] cuvee_segments::SegmentError),
    /// Published segments of the table cannot be read, and the door does not answer short.
    #[error("{count} segment(s) of table {table} are unavailable: {detail} (the answer would be incomplete)", count = .segments.len(), detail = .segments.iter().map(|s| format!("{} ({})", s.segment, s.reason)).collect::<Vec<_>>().join("; "))]
    SegmentsUnavailable { table: String, segments: Vec<crate::UnavailableSegment> },
    /// A statement refused before parsing because parsing it could run away ([`crate::complexity`]).
    #[error("the statement is too complex to parse: {0}")]
    TooComplex(String),
    /// The caller may not read a table the statement scans.
    #[error(transparent)]
    Access(#[from] cuvee_access::AccessError),
    /// An error with a kind known elsewhere (a server's answer, carried back by a broker).
    #[error("{message}")]
    Remote { kind: ErrorKind, message: String },
}

impl ErrorExt for QueryError {
    fn kind(&self) -> ErrorKind {
        match self {
            QueryError::TableNotHere(_) | QueryError::SegmentNotHere { .. } => ErrorKind::NotFound,
            QueryError::Fragment(_) => ErrorKind::InvalidArgument,
            QueryError::ReadOnly => ErrorKind::PermissionDenied,
            QueryError::TooComplex(_) => ErrorKind::InvalidArgument,
            QueryError::Function { source, .. } => source.kind(),
            QueryError::Segment(e) => e.kind(),
            QueryError::Remote { kind, .. } => *kind,
            QueryError::SegmentsUnavailable { .. } => ErrorKind::Incomplete,
            QueryError::Access(e) => e.kind(),
        }
    }
}

impl From<QueryError> for DataFusionError {
    fn from(e: QueryError) -> Self {
        DataFusionError::External(Box::new(e))
    }
}

/// The kind of any error a query can end with, on every door.
pub fn kind_of(error: &DataFusionError) -> ErrorKind {
    match error {
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => kind_of(inner),
        DataFusionError::Shared(inner) => kind_of(inner),
        DataFusionError::Collection(errors) => errors.first().map_or(ErrorKind::Internal, kind_of),
        DataFusionError::External(inner) => external_kind(inner.as_ref()),
        DataFusionError::SQL(..) => ErrorKind::Syntax,
        DataFusionError::SchemaError(e, _) => match e.as_ref() {
            datafusion::common::SchemaError::FieldNotFound { .. } => ErrorKind::ColumnNotFound,
            _ => ErrorKind::TypeMismatch,
        },
        DataFusionError::Plan(message) => plan_kind(message),
        DataFusionError::NotImplemented(_) => ErrorKind::Unsupported,
        DataFusionError::ResourcesExhausted(_) => ErrorKind::ResourceExhausted,
        DataFusionError::ArrowError(e, _) => arrow_kind(e),
        DataFusionError::Execution(message) => execution_kind(message),
        DataFusionError::ExecutionJoin(_) => ErrorKind::Internal,
        DataFusionError::Configuration(_) => ErrorKind::InvalidArgument,
        DataFusionError::IoError(_) => ErrorKind::Storage,
        DataFusionError::Substrait(_) | DataFusionError::Internal(_) => ErrorKind::Internal,
        #[allow(unreachable_patterns)]
        _ => ErrorKind::Internal,
    }
}

fn external_kind(error: &(dyn std::error::Error + Send + Sync + 'static)) -> ErrorKind {
    if let Some(e) = error.downcast_ref::<QueryError>() {
        return e.kind();
    }
    if let Some(e) = error.downcast_ref::<cuvee_segments::SegmentError>() {
        return e.kind();
    }
    if let Some(e) = error.downcast_ref::<cuvee_functions::FunctionError>() {
        return e.kind();
    }
    if let Some(e) = error.downcast_ref::<DataFusionError>() {
        return kind_of(e);
    }
    if error.downcast_ref::<datafusion::sql::sqlparser::parser::ParserError>().is_some() {
        return ErrorKind::Syntax;
    }
    if let Some(e) = error.downcast_ref::<datafusion::arrow::error::ArrowError>() {
        return arrow_kind(e);
    }
    ErrorKind::Internal
}

fn arrow_kind(error: &datafusion::arrow::error::ArrowError) -> ErrorKind {
    use datafusion::arrow::error::ArrowError;
    match error {
        ArrowError::DivideByZero => ErrorKind::DivisionByZero,
        ArrowError::CastError(_) | ArrowError::ParseError(_) | ArrowError::ArithmeticOverflow(_) => {
            ErrorKind::InvalidValue
        }
        ArrowError::ExternalError(inner) => external_kind(inner.as_ref()),
        ArrowError::MemoryError(_) => ErrorKind::ResourceExhausted,
        _ => ErrorKind::Internal,
    }
}

/// DataFusion's planner says which kind of problem only in its message.
fn plan_kind(message: &str) -> ErrorKind {
    if message.starts_with("table ") && message.contains("not found") {
        ErrorKind::TableNotFound
    } else if message.contains("No field named") {
        ErrorKind::ColumnNotFound
    } else if message.contains("Invalid function")
        || message.contains("No function matches")
        || message.contains("Unknown function")
    {
        ErrorKind::FunctionNotFound
    } else if message.contains("does not support") || message.contains("Unsupported") {
        ErrorKind::Unsupported
    } else if message.contains("Cannot") || message.contains("coerce") || message.contains("type") {
        ErrorKind::TypeMismatch
    } else {
        ErrorKind::InvalidArgument
    }
}

/// Execution errors that are a value's fault, by the message DataFusion's kernels give.
fn execution_kind(message: &str) -> ErrorKind {
    if message.contains("Cast error") || message.contains("Cannot cast") {
        ErrorKind::InvalidValue
    } else if message.contains("Divide by zero") || message.contains("division by zero") {
        ErrorKind::DivisionByZero
    } else {
        ErrorKind::Internal
    }
}

/// Refuses a plan that would change something (DDL, DML, `COPY`, session statements):
/// every SQL door reads; tables change through the controller API. Call it on the logical
/// plan before executing it — `SessionContext::sql` runs DDL while planning.
pub fn read_only(plan: &datafusion::logical_expr::LogicalPlan) -> Result<(), QueryError> {
    use datafusion::logical_expr::LogicalPlan;
    match plan {
        LogicalPlan::Ddl(_) | LogicalPlan::Dml(_) | LogicalPlan::Copy(_) | LogicalPlan::Statement(_) => {
            Err(QueryError::ReadOnly)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_found_through_wrappers() {
        let table = DataFusionError::Plan("table 'cuvee.public.nope' not found".into());
        assert_eq!(kind_of(&table), ErrorKind::TableNotFound);
        let function = DataFusionError::Plan("Invalid function 'nope'.\nDid you mean 'now'?".into());
        assert_eq!(kind_of(&function), ErrorKind::FunctionNotFound);
        let memory = DataFusionError::Context("q".into(), Box::new(DataFusionError::ResourcesExhausted("x".into())));
        assert_eq!(kind_of(&memory), ErrorKind::ResourceExhausted);
        let ours: DataFusionError = QueryError::Function {
            name: "divide",
            source: cuvee_functions::FunctionError::DivisionByZero("division by zero".into()),
        }
        .into();
        assert_eq!(kind_of(&DataFusionError::Context("x".into(), Box::new(ours))), ErrorKind::DivisionByZero);
        let remote: DataFusionError = QueryError::Remote { kind: ErrorKind::Timeout, message: "late".into() }.into();
        assert_eq!(kind_of(&remote), ErrorKind::Timeout);
        let arrow = DataFusionError::ArrowError(Box::new(datafusion::arrow::error::ArrowError::DivideByZero), None);
        assert_eq!(kind_of(&arrow), ErrorKind::DivisionByZero);
    }
}
