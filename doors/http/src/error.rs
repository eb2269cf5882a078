//! Errors of the HTTP API, each answered with one status chosen by its kind: the one place
//! the controller's statuses come from. Bodies are `{"code": <status>, "error": "..."}`, as
//! Pinot's controller sends. (Query errors keep Pinot's broker shape: see `query`.)

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cuvee_error::{ErrorExt, ErrorKind};
use cuvee_node::NodeError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error("{0}")]
    BadRequest(String),
    #[error(
        "this is a cluster broker: tables, schemas and segments are managed on the servers (their controller API), and appear here from their listings"
    )]
    ClusterBroker,
    #[error("the request stopped before it finished: {0}")]
    Interrupted(String),
    /// A request body over the server's limit.
    #[error("{0}")]
    TooLarge(String),
    #[error(transparent)]
    Access(#[from] cuvee_access::AccessError),
    /// Kafka, a topic, or what was read from one (topics, inference).
    #[error(transparent)]
    Ingest(#[from] cuvee_ingest::IngestError),
    /// This server is not set up for the call.
    #[error("{0}")]
    Unsupported(String),
    /// A request a web page of another site made (CSRF) or under a host name a server
    /// without users does not answer to (DNS rebinding).
    #[error("{0}")]
    CrossSite(String),
}

impl ErrorExt for ApiError {
    fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Node(e) => e.kind(),
            ApiError::BadRequest(_) | ApiError::ClusterBroker => ErrorKind::InvalidArgument,
            ApiError::Interrupted(_) => ErrorKind::Internal,
            ApiError::TooLarge(_) => ErrorKind::ResourceExhausted,
            ApiError::Access(e) => e.kind(),
            ApiError::Ingest(e) => e.kind(),
            ApiError::Unsupported(_) => ErrorKind::Unsupported,
            ApiError::CrossSite(_) => ErrorKind::PermissionDenied,
        }
    }
}

/// The HTTP status of a kind of failure.
pub fn http_status(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::Syntax
        | ErrorKind::InvalidArgument
        | ErrorKind::TypeMismatch
        | ErrorKind::InvalidValue
        | ErrorKind::DivisionByZero
        | ErrorKind::ColumnNotFound
        | ErrorKind::FunctionNotFound => StatusCode::BAD_REQUEST,
        ErrorKind::TableNotFound | ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::AlreadyExists => StatusCode::CONFLICT,
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        ErrorKind::ResourceExhausted | ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
        ErrorKind::Cancelled => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Unavailable | ErrorKind::Incomplete => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Corrupt | ErrorKind::Storage | ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => http_status(self.kind()),
        };
        let mut response =
            (status, Json(json!({ "code": status.as_u16(), "error": self.to_string() }))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"cuvee\""),
            );
        }
        response
    }
}

/// Runs blocking node work (disk, deep store, stopping consumers) off the async workers.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| ApiError::Interrupted(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_status() {
        for kind in ErrorKind::ALL {
            let status = http_status(kind);
            assert!(status.is_client_error() || status.is_server_error(), "{kind}: {status}");
        }
    }
}
