//! The HTTP listener: cuvee's own accept loop rather than `axum::serve`, for what a server
//! facing untrusted clients needs and that one does not give:
//!
//! - a cap on open connections (one more gets `503` and is closed, never queued);
//! - a time limit on reading a request's headers (a client that sends one byte a minute
//!   holds nothing for long: slowloris);
//! - TLS (rustls) when the operator gives a certificate;
//! - graceful shutdown: on the signal, listening stops, each connection finishes its
//!   request in flight, and the loop returns once they have (or after a grace period).

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};

/// Limits of the listener.
#[derive(Clone)]
pub struct ListenerOptions {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub tls: Option<cuvee_access::tls::TlsAcceptor>,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions { max_connections: 1024, header_timeout: Duration::from_secs(30), tls: None }
    }
}

impl std::fmt::Debug for ListenerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerOptions")
            .field("max_connections", &self.max_connections)
            .field("header_timeout", &self.header_timeout)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

const FULL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: 78\r\n\r\n{\"code\": 503, \"error\": \"the server has too many open connections; try again\"}\n";

/// How long connections may take to finish their requests after the shutdown signal.
const GRACE: Duration = Duration::from_secs(30);

pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ListenerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors and the like: wait a little rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP API: accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(peer = %peer, limit = options.max_connections, "HTTP API: connection refused, too many open");
            tokio::spawn(async move {
                let mut socket = socket;
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.write_all(FULL)).await;
            });
            continue;
        };
        let router = router.clone();
        let options = options.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match options.tls {
                None => connection(socket, router, options.header_timeout, stopped).await,
                Some(tls) => match tokio::time::timeout(options.header_timeout, tls.accept(socket)).await {
                    Ok(Ok(stream)) => connection(stream, router, options.header_timeout, stopped).await,
                    Ok(Err(e)) => tracing::debug!(peer = %peer, error = %e, "HTTP API: TLS handshake failed"),
                    Err(_) => tracing::debug!(peer = %peer, "HTTP API: TLS handshake timed out"),
                },
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot: when all are back, all connections have ended.
    let all = options.max_connections.max(1) as u32;
    if tokio::time::timeout(GRACE, slots.acquire_many(all)).await.is_err() {
        tracing::warn!("HTTP API: connections still open after {} s of shutdown; closing them", GRACE.as_secs());
    }
    Ok(())
}

async fn connection<S>(stream: S, router: Router, header_timeout: Duration, mut stopped: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = TowerToHyperService::new(router);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(header_timeout).keep_alive(true);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(Duration::from_secs(30)));
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    // The watch's guard must not live across the shutdown's await.
    let stop = async move {
        let _ = stopped.wait_for(|s| *s).await;
    };
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = stop => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
