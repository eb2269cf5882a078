//! Names of tables, schemas and segments: they become file and object names, so they follow
//! one rule everywhere they come in (an HTTP request, a `--tables` file, a deep store
//! listing, a manifest read back, a stream segment's name) — Pinot's: letters, digits, `_`,
//! `-` and `.`; not empty, at most [`MAX_NAME_LEN`] characters, no leading dot, no `..`.
//! So no name can hold `/`, `\`, NUL, or climb out of its folder; and every path made from
//! a name goes through [`join`], which checks it again.

use std::fmt;
use std::path::{Path, PathBuf};

/// Longer names are refused (Pinot's table names are far shorter in practice; file systems
/// allow 255 bytes per component).
pub const MAX_NAME_LEN: usize = 200;

/// What a name names, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    Table,
    Schema,
    Segment,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NameKind::Table => "table",
            NameKind::Schema => "schema",
            NameKind::Segment => "segment",
        })
    }
}

/// A name that breaks the rule, and which part of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} name {name:?} is not valid: {reason} (names are letters, digits, '_', '-' and '.', at most {MAX_NAME_LEN} characters, not starting with '.' and without '..')")]
pub struct NameError {
    pub kind: NameKind,
    /// The name as given, cut to a readable length.
    pub name: String,
    pub reason: &'static str,
}

impl cuvee_error::ErrorExt for NameError {
    fn kind(&self) -> cuvee_error::ErrorKind {
        cuvee_error::ErrorKind::InvalidArgument
    }
}

/// Checks a name against the rule.
pub fn check(kind: NameKind, name: &str) -> Result<(), NameError> {
    let refuse = |reason| {
        let shown: String = name.chars().take(80).collect();
        Err(NameError { kind, name: shown, reason })
    };
    if name.is_empty() {
        return refuse("it is empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return refuse("it is too long");
    }
    if name.starts_with('.') {
        return refuse("it starts with '.'");
    }
    if name.contains("..") {
        return refuse("it contains '..'");
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))) {
        return refuse(match bad {
            '/' | '\\' => "it contains a path separator",
            '\0' => "it contains a NUL character",
            _ => "it contains a character other than letters, digits, '_', '-' and '.'",
        });
    }
    Ok(())
}

/// `dir/<name><suffix>`, for a name that follows the rule; the only way a name becomes a path.
pub fn join(dir: &Path, kind: NameKind, name: &str, suffix: &str) -> Result<PathBuf, NameError> {
    check(kind, name)?;
    Ok(dir.join(format!("{name}{suffix}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_escape_a_folder_are_refused() {
        for bad in
            ["", "../escape", "..", ".hidden", "a/b", "a\\b", "a\0b", "a..b", "tab\tle", "naïve", &"x".repeat(201)]
        {
            assert!(check(NameKind::Table, bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["baseballStats", "my_table-2", "events__3__17__20251125T1900Z", "t.v1", "A", &"x".repeat(200)] {
            assert!(check(NameKind::Table, good).is_ok(), "{good:?} is a name");
        }
        let error = check(NameKind::Schema, "../tables/t/manifest").unwrap_err().to_string();
        assert!(error.contains("schema name") && error.contains(".."), "{error}");
        assert_eq!(join(Path::new("/d"), NameKind::Segment, "s_0", ".cvs").unwrap(), PathBuf::from("/d/s_0.cvs"));
        assert!(join(Path::new("/d"), NameKind::Segment, "../s", ".cvs").is_err());
    }
}
