use cuvee_error::{ErrorExt, ErrorKind};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AccessError {
    /// No credentials, unknown ones, or a wrong secret; the message never says which, so a
    /// caller cannot probe for user names.
    #[error("authentication required: {0}")]
    Unauthenticated(String),
    #[error("permission denied: user \"{user}\" lacks {permission} on table \"{table}\"")]
    Denied { user: String, permission: &'static str, table: String },
    /// The users file (or a secret it names) is not usable; the process does not start.
    #[error("the users file: {0}")]
    Config(String),
}

impl ErrorExt for AccessError {
    fn kind(&self) -> ErrorKind {
        match self {
            AccessError::Unauthenticated(_) => ErrorKind::Unauthenticated,
            AccessError::Denied { .. } => ErrorKind::PermissionDenied,
            AccessError::Config(_) => ErrorKind::InvalidArgument,
        }
    }
}
