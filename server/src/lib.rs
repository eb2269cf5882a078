//! # cuvee-server
//!
//! Answers: *what do this process's segments say to a broker's fragment?* The gRPC side of
//! a server (`proto/cuvee.proto`): runs plan fragments over the segments it holds and
//! streams Arrow IPC back, then the execution statistics; lists its tables, sealed and
//! consuming segments for brokers' routing; reports health.
//!
//! The fragment runs through [`cuvee_query::fragment::run`] — the same path an embedded
//! broker's in-process server takes — on the process's query runtime, within the request's
//! deadline; a broker that goes away (a cancelled stream) stops the work.
//!
//! Does not answer: which partitions this server consumes, nor where its tables come from
//! (the process that hosts it decides both), nor SQL (brokers plan).

mod service;

pub use service::{FragmentService, ServerOptions};

use cuvee_proto::v1::segment_server_server::SegmentServerServer;
use std::future::Future;

/// Serves `service` on `listener` until `shutdown` completes. With a `token`, every call
/// must carry it (`authorization: Bearer <token>`, the cluster's shared secret); without
/// one, anyone who reaches the port is a broker.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    service: FragmentService,
    token: Option<String>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    // Answers may be large record batches.
    let server = SegmentServerServer::new(service).max_encoding_message_size(256 << 20);
    let server = tonic::service::interceptor::InterceptedService::new(server, move |request: tonic::Request<()>| {
        check_token(token.as_deref(), &request)?;
        Ok(request)
    });
    let address = incoming_address(&incoming);
    tracing::info!(address = %address, "fragment server listening");
    let served =
        tonic::transport::Server::builder().add_service(server).serve_with_incoming_shutdown(incoming, shutdown).await;
    match &served {
        Ok(()) => tracing::info!(address = %address, "fragment server stopped"),
        Err(e) => tracing::error!(address = %address, error = %e, "fragment server failed"),
    }
    served
}

/// The cluster token's check: the expected token compared in constant time.
fn check_token(expected: Option<&str>, request: &tonic::Request<()>) -> Result<(), tonic::Status> {
    let Some(expected) = expected else { return Ok(()) };
    let given = request
        .metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(cuvee_proto::status(
            cuvee_error::ErrorKind::Unauthenticated,
            "this server answers brokers of its cluster only: the call does not carry the cluster token",
        ))
    }
}

/// Equal bytes, in a time that depends on the length only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn incoming_address(incoming: &tonic::transport::server::TcpIncoming) -> String {
    incoming.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string())
}
