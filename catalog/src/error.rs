//! The one error type of the catalog: every problem names the JSON path it is about.

use std::fmt;

/// One thing wrong with a schema or table config, at a JSON path such as
/// `tableIndexConfig.invertedIndexColumns[2]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub reason: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Problem { path: path.into(), reason: reason.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The text is not JSON, or a value has the wrong JSON type for its field.
    #[error("{what} is not valid: {problem}")]
    Parse { what: &'static str, problem: Problem },
    /// The JSON parsed but breaks a rule; every broken rule is listed.
    #[error("{what} is not valid: {}", join(.problems))]
    Invalid { what: &'static str, problems: Vec<Problem> },
    /// A date-time format, granularity or value that cannot be understood.
    #[error("{0}")]
    DateTime(String),
}

fn join(problems: &[Problem]) -> String {
    problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
}

impl CatalogError {
    /// The problems this error carries (one for a parse error).
    pub fn problems(&self) -> Vec<Problem> {
        match self {
            CatalogError::Parse { problem, .. } => vec![problem.clone()],
            CatalogError::Invalid { problems, .. } => problems.clone(),
            CatalogError::DateTime(reason) => vec![Problem::new("", reason.clone())],
        }
    }
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// Parses `text` into `T`, turning serde's error into one that names the JSON path.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(what: &'static str, text: &str) -> Result<T> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => Ok(value),
        Err(err) => {
            let path = err.path().to_string();
            let path = if path == "." { String::new() } else { path };
            Err(CatalogError::Parse { what, problem: Problem::new(path, err.into_inner().to_string()) })
        }
    }
}

impl cuvee_error::ErrorExt for CatalogError {
    fn kind(&self) -> cuvee_error::ErrorKind {
        // Every catalog error is a definition or value the caller gave.
        cuvee_error::ErrorKind::InvalidArgument
    }
}
