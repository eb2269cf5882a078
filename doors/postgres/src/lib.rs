//! # cuvee-postgres
//!
//! Answers: *can a tool that speaks PostgreSQL query cuvee?* — the Postgres door.
//! psql, Grafana, Superset, Metabase, DBeaver and every Postgres driver connect to the
//! broker as if it were PostgreSQL 16: simple and extended protocol (named statements and
//! portals, parameters, text and binary results), `pg_catalog` and `information_schema`
//! derived from cuvee's tables, the session statements tools send, SQLSTATE error codes,
//! cancel requests, logins with SCRAM-SHA-256 / MD5 / password, and TLS.
//!
//! Built on `pgwire` and the datafusion-postgres family (`arrow-pg` encodes Arrow as
//! Postgres types, `datafusion-pg-catalog` serves the catalog and rewrites the queries
//! tools send into SQL DataFusion plans). cuvee adds the session ([`session`]), the
//! settings tools read ([`settings`]), logins ([`auth`]), SQLSTATEs ([`errors`]) and
//! cancelling a statement while its rows stream ([`cancel`]).
//!
//! Semantics are standard SQL, not Pinot's: no default `LIMIT 10`, results stream with
//! no row cap (the client reads at its pace), `statement_timeout` as in Postgres. One
//! difference from Postgres, kept on purpose: an unquoted identifier keeps its case, as on
//! the Pinot door, so `SELECT playerName FROM baseballStats` works unquoted.
//!
//! Does not answer: writes (`INSERT`, `COPY FROM`), transactions beyond accepting
//! `BEGIN`/`COMMIT`, and `current_setting()` of values a session changed (it answers the
//! server's defaults; `SHOW` answers the session's).

pub mod auth;
mod authorize;
pub mod cancel;
mod catalog_functions;
mod column_names;
mod empty_catalog;
pub mod errors;
pub mod framing;
mod handlers;
mod like_escape;
mod parameter_types;
mod read_only;
mod regproc;
mod scalar_subquery;
pub mod session;
pub mod settings;
mod sql_shape;

pub use auth::{AuthConfigError, Authentication};

use cuvee_access::Access;
use cuvee_broker::QueryService;
use datafusion_postgres::pgwire::tokio::process_socket;
use datafusion_postgres::{DfSessionService, QueryHook};
use handlers::Handlers;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::rustls;

/// Postgres' own default `max_connections` is 100; a cuvee connection costs a task and a
/// few buffers, and dashboards open many, so more.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1000;

/// How the door is set up.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Who may log in (passwords of the process's users) and read which tables.
    pub access: Access,
    /// PEM certificate chain and private key; with both, clients may ask for TLS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A statement's limit when its session sets none (`statement_timeout`); without one,
    /// the broker's longest statement (`--max-query-timeout-ms`), which also caps what a
    /// session may set.
    pub statement_timeout: Option<Duration>,
    /// Connections served at once; one more is refused with 53300, as Postgres does.
    pub max_connections: usize,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            access: Access::Open,
            tls: None,
            statement_timeout: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DoorError {
    #[error("setting up the Postgres session: {0}")]
    Session(#[from] datafusion::error::DataFusionError),
    #[error("the broker's query runtime is shut down")]
    NoRuntime,
    #[error("TLS for the Postgres door: {0}")]
    Tls(String),
    #[error(transparent)]
    Logins(#[from] AuthConfigError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Serves the Postgres protocol on `listener` until `shutdown` completes. Connections run
/// on the broker's query runtime, beside its other queries and away from its HTTP workers.
pub async fn serve_until(
    listener: TcpListener,
    service: Arc<QueryService>,
    options: PostgresOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DoorError> {
    let tables = Arc::clone(service.tables()) as Arc<dyn datafusion::catalog::SchemaProvider>;
    let ctx = Arc::new(session::postgres_session(tables, &service)?);
    let runtime = service.runtime_handle().ok_or(DoorError::NoRuntime)?;
    let tls = match &options.tls {
        None => None,
        Some((certificate, key)) => Some(tls_acceptor(certificate, key)?),
    };
    let authentication = Authentication::from_access(&options.access)?;
    // Read-only first: nothing that changes tables reaches a later hook or the planner;
    // then who may read what.
    let mut hooks: Vec<Arc<dyn QueryHook>> = vec![
        Arc::new(read_only::ReadOnly),
        Arc::new(authorize::Authorize { access: options.access.clone(), service: Arc::clone(&service) }),
        Arc::new(settings::SessionStatements),
    ];
    hooks.extend(default_hooks());
    let sessions = DfSessionService::new_with_hooks(Arc::clone(&ctx), hooks);
    let handlers =
        Arc::new(Handlers::new(ctx, sessions, authentication, options.statement_timeout, Arc::clone(&service)));
    let connections = Arc::new(tokio::sync::Semaphore::new(options.max_connections));
    let address = listener.local_addr()?;
    tracing::info!(address = %address, "Postgres door listening");
    tokio::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            _ = &mut shutdown => {
                tracing::info!(address = %address, "Postgres door stopped");
                return Ok(());
            }
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: pause rather than spin.
                    tracing::warn!("postgres door: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = socket.set_nodelay(true);
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            runtime.spawn(refuse_too_many(socket, options.max_connections));
            continue;
        };
        let handlers = Arc::clone(&handlers);
        let tls = tls.clone();
        runtime.spawn(async move {
            let _permit = permit;
            // pgwire 0.41 panics on some malformed frames (a Parse body shorter than its
            // parameter count, found by fuzz/'s postgres_framing target): that ends this
            // connection, reported, and no other.
            let served =
                futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(process_socket(socket, tls, handlers)))
                    .await;
            match served {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::info!("postgres door: connection from {peer} ended: {e}"),
                Err(panic) => tracing::warn!(
                    peer = %peer,
                    panic = %cuvee_error::panic_message(panic.as_ref()),
                    "postgres door: a malformed message ended the connection"
                ),
            }
        });
    }
}

/// Postgres' answer past `max_connections`: a FATAL ErrorResponse with SQLSTATE 53300, then
/// the socket closes. Sent before reading the startup packet, as Postgres' postmaster does.
async fn refuse_too_many(mut socket: tokio::net::TcpStream, limit: usize) {
    use tokio::io::AsyncWriteExt;
    let message = format!("sorry, too many clients already (the Postgres door serves {limit} connections at once)");
    let mut fields = Vec::new();
    for (code, value) in
        [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', errors::TOO_MANY_CONNECTIONS), (b'M', message.as_str())]
    {
        fields.push(code);
        fields.extend_from_slice(value.as_bytes());
        fields.push(0);
    }
    fields.push(0);
    let mut frame = vec![b'E'];
    frame.extend_from_slice(&(fields.len() as u32 + 4).to_be_bytes());
    frame.extend_from_slice(&fields);
    let _ = socket.write_all(&frame).await;
    let _ = socket.shutdown().await;
}

/// datafusion-postgres' own hooks (cursors, `SET`, transactions), after cuvee's.
fn default_hooks() -> Vec<Arc<dyn QueryHook>> {
    use datafusion_postgres::hooks::{
        cursor::CursorStatementHook, set_show::SetShowHook, transactions::TransactionStatementHook,
    };
    vec![Arc::new(CursorStatementHook), Arc::new(SetShowHook), Arc::new(TransactionStatementHook)]
}

fn tls_acceptor(certificate: &PathBuf, key: &PathBuf) -> Result<tokio_rustls::TlsAcceptor, DoorError> {
    let read =
        |path: &PathBuf| std::fs::read(path).map_err(|e| DoorError::Tls(format!("reading {}: {e}", path.display())));
    let chain = rustls_pemfile::certs(&mut read(certificate)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DoorError::Tls(format!("{}: {e}", certificate.display())))?;
    if chain.is_empty() {
        return Err(DoorError::Tls(format!("{} holds no PEM certificate", certificate.display())));
    }
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| DoorError::Tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| DoorError::Tls(format!("{} holds no PEM private key", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DoorError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| DoorError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
