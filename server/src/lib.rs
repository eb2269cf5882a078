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

/// Serves `service` on `listener` until `shutdown` completes.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    service: FragmentService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    // Answers may be large record batches.
    let server = SegmentServerServer::new(service).max_encoding_message_size(256 << 20);
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

fn incoming_address(incoming: &tonic::transport::server::TcpIncoming) -> String {
    incoming.local_addr().map_or_else(|_| "?".to_string(), |a| a.to_string())
}
