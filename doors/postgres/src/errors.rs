//! Every error the door sends, with its SQLSTATE: mapped once, here, from an error's kind
//! (`cuvee_query::kind_of` gives a query error its kind), so clients can tell a typo from
//! a missing table from a cancelled statement by code rather than by message.

use cuvee_error::ErrorKind;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};

pub const SYNTAX_ERROR: &str = "42601";
pub const UNDEFINED_TABLE: &str = "42P01";
pub const UNDEFINED_COLUMN: &str = "42703";
pub const UNDEFINED_FUNCTION: &str = "42883";
pub const UNDEFINED_OBJECT: &str = "42704";
pub const DATATYPE_MISMATCH: &str = "42804";
pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
pub const QUERY_CANCELED: &str = "57014";
pub const OUT_OF_MEMORY: &str = "53200";
pub const DIVISION_BY_ZERO: &str = "22012";
pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
pub const TOO_MANY_CONNECTIONS: &str = "53300";
pub const STATEMENT_TOO_COMPLEX: &str = "54001";
pub const INTERNAL_ERROR: &str = "XX000";
pub const PROTOCOL_VIOLATION: &str = "08P01";
pub const SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION: &str = "42000";
pub const DUPLICATE_OBJECT: &str = "42710";
pub const INVALID_AUTHORIZATION: &str = "28000";
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
pub const CANNOT_CONNECT_NOW: &str = "57P03";
pub const DATA_CORRUPTED: &str = "XX001";
pub const IO_ERROR: &str = "58030";

/// The SQLSTATE of a kind of failure: the one mapping the Postgres door uses.
pub fn sqlstate(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Syntax => SYNTAX_ERROR,
        ErrorKind::InvalidArgument => SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION,
        ErrorKind::TypeMismatch => DATATYPE_MISMATCH,
        ErrorKind::InvalidValue => INVALID_TEXT_REPRESENTATION,
        ErrorKind::DivisionByZero => DIVISION_BY_ZERO,
        ErrorKind::TableNotFound => UNDEFINED_TABLE,
        ErrorKind::ColumnNotFound => UNDEFINED_COLUMN,
        ErrorKind::FunctionNotFound => UNDEFINED_FUNCTION,
        ErrorKind::NotFound => UNDEFINED_OBJECT,
        ErrorKind::AlreadyExists => DUPLICATE_OBJECT,
        ErrorKind::Unsupported => FEATURE_NOT_SUPPORTED,
        ErrorKind::Unauthenticated => INVALID_AUTHORIZATION,
        ErrorKind::PermissionDenied => INSUFFICIENT_PRIVILEGE,
        ErrorKind::ResourceExhausted => OUT_OF_MEMORY,
        ErrorKind::Overloaded => TOO_MANY_CONNECTIONS,
        ErrorKind::Timeout | ErrorKind::Cancelled => QUERY_CANCELED,
        ErrorKind::Unavailable => CANNOT_CONNECT_NOW,
        ErrorKind::Corrupt | ErrorKind::Incomplete => DATA_CORRUPTED,
        ErrorKind::Storage => IO_ERROR,
        ErrorKind::Internal => INTERNAL_ERROR,
    }
}

/// An `ERROR` the client sees.
pub fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new("ERROR".to_string(), code.to_string(), message.into())))
}

/// Replaces an engine error (`ApiError`) with an `ERROR` carrying its SQLSTATE, and the
/// position in `query` where the parser stopped when it says so.
pub fn with_sqlstate(err: &mut PgWireError, query: Option<&str>) {
    let PgWireError::ApiError(source) = err else { return };
    let (code, message) = classify(source.as_ref());
    let (message, detail) = postgres_wording(code, message);
    let mut info = ErrorInfo::new("ERROR".to_string(), code.to_string(), message.clone());
    info.detail = detail;
    if code == SYNTAX_ERROR {
        info.position = query.and_then(|q| position_in(q, &message)).map(|p| p.to_string());
    }
    *err = PgWireError::UserError(Box::new(info));
}

/// The SQLSTATE `err` is (or will be, once [`with_sqlstate`] has seen it) sent with.
pub fn code_of(err: &PgWireError) -> String {
    match err {
        PgWireError::UserError(info) => info.code.clone(),
        PgWireError::ApiError(source) => classify(source.as_ref()).0.to_string(),
        _ => PROTOCOL_VIOLATION.to_string(),
    }
}

fn classify(error: &(dyn std::error::Error + 'static)) -> (&'static str, String) {
    if let Some(parser) = error.downcast_ref::<ParserError>() {
        return (SYNTAX_ERROR, parser.to_string());
    }
    let Some(df) = error.downcast_ref::<DataFusionError>() else {
        return (INTERNAL_ERROR, error.to_string());
    };
    (sqlstate(cuvee_query::kind_of(df)), df.find_root().message().to_string())
}

/// Postgres' wording for the errors tools match on text (`relation "x" does not exist`),
/// DataFusion's own message kept as the detail.
fn postgres_wording(code: &str, message: String) -> (String, Option<String>) {
    let quoted = |from: &str| {
        let rest = message.split(from).nth(1)?;
        let name = rest.split('\n').next()?.trim_end_matches('.');
        name.rsplit('.').next().map(str::to_string)
    };
    match code {
        UNDEFINED_TABLE => match message.split('\'').nth(1) {
            Some(name) => (
                format!("relation \"{}\" does not exist", name.rsplit('.').next().unwrap_or(name)),
                Some(message.clone()),
            ),
            None => (message, None),
        },
        UNDEFINED_COLUMN => match quoted("No field named ") {
            Some(name) => (format!("column {} does not exist", quote_if_bare(name.trim())), Some(message.clone())),
            None => (message, None),
        },
        _ => (message, None),
    }
}

fn quote_if_bare(name: &str) -> String {
    if name.starts_with('"') {
        name.to_string()
    } else {
        format!("\"{name}\"")
    }
}

/// The 1-based character position of sqlparser's "at Line: L, Column: C".
fn position_in(query: &str, message: &str) -> Option<usize> {
    let at = message.rfind("Line: ")?;
    let rest = &message[at + "Line: ".len()..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let line: usize = line.trim().parse().ok()?;
    let column: usize = rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()?;
    let before: usize = query.split_inclusive('\n').take(line.saturating_sub(1)).map(|l| l.chars().count()).sum();
    Some(before + column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn position_counts_characters_over_lines() {
        assert_eq!(position_in("SELEC 1", "Expected: an SQL statement, found: SELEC at Line: 1, Column: 1"), Some(1));
        assert_eq!(position_in("SELECT 1\nFROM", "x at Line: 2, Column: 5"), Some(14));
        assert_eq!(position_in("SELECT 1", "no position"), None);
    }

    #[test]
    fn missing_table_and_column_have_their_codes() {
        let table = DataFusionError::Plan("table 'cuvee.public.nope' not found".into());
        assert_eq!(classify(&table).0, UNDEFINED_TABLE);
        let function = DataFusionError::Plan("Invalid function 'nope'.\nDid you mean 'now'?".into());
        assert_eq!(classify(&function).0, UNDEFINED_FUNCTION);
        let memory = DataFusionError::Context("q".into(), Box::new(DataFusionError::ResourcesExhausted("x".into())));
        assert_eq!(classify(&memory).0, OUT_OF_MEMORY);
        assert_eq!(
            postgres_wording(UNDEFINED_TABLE, "table 'cuvee.public.nope' not found".into()).0,
            "relation \"nope\" does not exist"
        );
        assert_eq!(
            postgres_wording(UNDEFINED_COLUMN, "No field named nope.\nValid fields are x.".into()).0,
            "column \"nope\" does not exist"
        );
        assert_eq!(
            postgres_wording(UNDEFINED_COLUMN, "No field named \"t\".\"Nope\".".into()).0,
            "column \"Nope\" does not exist"
        );
    }
}
