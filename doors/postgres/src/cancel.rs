//! Stopping a statement while its rows stream: Postgres' cancel request, and
//! `statement_timeout`.
//!
//! pgwire races a cancel request against *planning* only; the rows of a `SELECT` are
//! computed while they are sent, after that race is over. So each connection also gets a
//! [`CancelSignal`] here, bumped by the door's cancel handler, and every row stream
//! watches it (and the statement's deadline) and ends with `57014` when either fires —
//! dropping the stream drops the DataFusion plan, which stops its work.

use crate::errors::{error, QUERY_CANCELED};
use datafusion_postgres::pgwire::api::results::SendableRowStream;
use datafusion_postgres::pgwire::api::ClientInfo;
use datafusion_postgres::pgwire::error::PgWireError;
use futures::StreamExt;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What a cancel request names a connection by: its pid and secret key.
type ConnectionKey = (i32, Vec<u8>);

/// Connections by (pid, secret key), for cancel requests.
#[derive(Default)]
pub struct Connections {
    signals: Mutex<HashMap<ConnectionKey, watch::Sender<u64>>>,
}

impl Connections {
    /// Fires the cancel signal of the connection with this pid and secret; false when none matches.
    pub fn cancel(&self, pid: i32, secret: &[u8]) -> bool {
        let signals = self.signals.lock();
        match signals.get(&(pid, secret.to_vec())) {
            Some(signal) => {
                signal.send_modify(|generation| *generation += 1);
                true
            }
            None => false,
        }
    }

    /// The connection's signal, registered on first use and removed when the connection ends.
    pub fn signal_of(self: &Arc<Self>, client: &(impl ClientInfo + ?Sized)) -> Arc<CancelSignal> {
        client.session_extensions().get_or_insert_with(|| {
            let (pid, secret) = client.pid_and_secret_key();
            let key = (pid, secret.to_bytes().to_vec());
            let (sender, receiver) = watch::channel(0);
            self.signals.lock().insert(key.clone(), sender);
            CancelSignal { receiver, key, connections: Arc::clone(self) }
        })
    }
}

/// One connection's cancel signal; unregisters itself when the connection's session ends.
pub struct CancelSignal {
    receiver: watch::Receiver<u64>,
    key: ConnectionKey,
    connections: Arc<Connections>,
}

impl Drop for CancelSignal {
    fn drop(&mut self) {
        self.connections.signals.lock().remove(&self.key);
    }
}

/// Why a statement stops early.
enum Stop {
    Cancelled,
    TimedOut(Duration),
}

/// `rows`, ended with `57014` if the connection is cancelled or `timeout` passes first;
/// nothing follows an error.
pub fn watch_rows(rows: SendableRowStream, signal: &CancelSignal, timeout: Option<Duration>) -> SendableRowStream {
    let mut receiver = signal.receiver.clone();
    receiver.mark_unchanged();
    let stop = Box::pin(async move {
        let cancelled = async {
            // An error means the connection is gone; then nobody reads the rows either.
            let _ = receiver.changed().await;
        };
        match timeout {
            Some(limit) => tokio::select! {
                _ = cancelled => Stop::Cancelled,
                _ = tokio::time::sleep(limit) => Stop::TimedOut(limit),
            },
            None => {
                cancelled.await;
                Stop::Cancelled
            }
        }
    });
    Box::pin(futures::stream::unfold(Some((rows, stop)), |state| async move {
        let (mut rows, mut stop) = state?;
        let item = tokio::select! {
            biased;
            reason = &mut stop => return Some((Err(stopped(reason)), None)),
            row = rows.next() => row?,
        };
        let next = item.is_ok().then_some((rows, stop));
        Some((item, next))
    }))
}

fn stopped(reason: Stop) -> PgWireError {
    match reason {
        Stop::Cancelled => error(QUERY_CANCELED, "canceling statement due to user request"),
        Stop::TimedOut(limit) => {
            error(QUERY_CANCELED, format!("canceling statement due to statement timeout ({} ms)", limit.as_millis()))
        }
    }
}
