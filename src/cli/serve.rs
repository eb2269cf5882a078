//! `cuvee serve`: every table in the data directory behind Pinot's HTTP query and
//! controller API and the Postgres door, until Ctrl-C or SIGTERM.

use super::options::Security;
use anyhow::{bail, Context, Result};
use cuvee::{Process, ProcessOptions};
use cuvee_postgres::PostgresOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// The Postgres door's address when none is given: Postgres' own port, on loopback.
pub const DEFAULT_POSTGRES_LISTEN: &str = "127.0.0.1:5432";
/// The Flight SQL door's address when none is given (the port Arrow's examples use).
pub const DEFAULT_FLIGHT_LISTEN: &str = "127.0.0.1:8815";

/// The Arrow Flight SQL door's command-line settings.
#[derive(clap::Args, Debug, Clone)]
pub struct FlightArgs {
    /// Where the Arrow Flight SQL door listens (`off` for nowhere). If the default port is
    /// taken, another free port is used and printed.
    #[arg(long, env = "CUVEE_FLIGHT_LISTEN")]
    pub flight_listen: Option<String>,
}

impl FlightArgs {
    pub async fn bind(&self) -> Result<Option<TcpListener>> {
        bind_door("Flight SQL", "--flight-listen", self.flight_listen.as_deref(), DEFAULT_FLIGHT_LISTEN).await
    }
}

/// A door's listener: none when `off`; on the default address unless it is taken, then on
/// a free port (printed); an address asked for that cannot be had is an error.
async fn bind_door(door: &str, flag: &str, requested: Option<&str>, default: &str) -> Result<Option<TcpListener>> {
    if requested == Some("off") {
        return Ok(None);
    }
    let address = requested.unwrap_or(default);
    match TcpListener::bind(address).await {
        Ok(listener) => Ok(Some(listener)),
        Err(e) if requested.is_none() && e.kind() == std::io::ErrorKind::AddrInUse => {
            let listener =
                TcpListener::bind("127.0.0.1:0").await.with_context(|| format!("listening for the {door} door"))?;
            eprintln!(
                "note: {address} is taken; the {door} door listens on {} instead ({flag} chooses)",
                listener.local_addr()?
            );
            Ok(Some(listener))
        }
        Err(e) => bail!("the {door} door cannot listen on {address}: {e} ({flag} chooses another address, or off)"),
    }
}

/// The HTTP API's listener, refused beyond loopback without users.
pub async fn bind_http(listen: &str, security: &Security) -> Result<TcpListener> {
    let listener = TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    security.check_exposure("HTTP API", listener.local_addr()?)?;
    Ok(listener)
}

/// The doors besides the HTTP API.
pub struct Doors {
    pub postgres: Option<(TcpListener, PostgresOptions)>,
    pub flight: Option<TcpListener>,
    pub security: Security,
}

impl Doors {
    /// No doors besides the HTTP API (a cluster server).
    pub fn none(security: &Security) -> Doors {
        Doors { postgres: None, flight: None, security: security.clone() }
    }

    pub async fn bind(postgres: &PostgresArgs, flight: &FlightArgs, security: &Security) -> Result<Doors> {
        let options = postgres.options(security)?;
        let pg = postgres.bind().await?;
        if let Some(listener) = &pg {
            security.check_exposure("Postgres door", listener.local_addr()?)?;
        }
        let flight = flight.bind().await?;
        if let Some(listener) = &flight {
            security.check_exposure("Flight SQL door", listener.local_addr()?)?;
        }
        Ok(Doors { postgres: pg.map(|l| (l, options)), flight, security: security.clone() })
    }

    /// Prints where each door listens.
    pub fn announce(&self) -> Result<()> {
        if let Some((pg, _)) = &self.postgres {
            println!(
                "cuvee: Postgres door on {} (psql -h {} -p {} -d cuvee)",
                pg.local_addr()?,
                pg.local_addr()?.ip(),
                pg.local_addr()?.port()
            );
        }
        if let Some(flight) = &self.flight {
            let scheme = if self.security.tls.is_some() { "grpc+tls" } else { "grpc" };
            println!("cuvee: Arrow Flight SQL door on {scheme}://{}", flight.local_addr()?);
        }
        Ok(())
    }
}

/// The Postgres door's command-line settings.
#[derive(clap::Args, Debug, Clone)]
pub struct PostgresArgs {
    /// Where the Postgres door listens (`off` for nowhere). If the default port is taken
    /// (a local PostgreSQL), another free port is used and printed.
    #[arg(long, env = "CUVEE_PG_LISTEN")]
    pub pg_listen: Option<String>,
    /// PEM certificate chain for TLS on the Postgres door (with --pg-tls-key; default:
    /// --tls-cert's).
    #[arg(long, env = "CUVEE_PG_TLS_CERT", requires = "pg_tls_key")]
    pub pg_tls_cert: Option<PathBuf>,
    #[arg(long, env = "CUVEE_PG_TLS_KEY", requires = "pg_tls_cert")]
    pub pg_tls_key: Option<PathBuf>,
    /// A statement's time limit on the Postgres door when its session sets none, in ms
    /// (0: --max-query-timeout-ms, which also caps what a session sets).
    #[arg(long, env = "CUVEE_PG_STATEMENT_TIMEOUT_MS", default_value_t = 0)]
    pub pg_statement_timeout_ms: u64,
    /// Connections the Postgres door serves at once (one more is refused with SQLSTATE 53300).
    #[arg(long, env = "CUVEE_PG_MAX_CONNECTIONS", default_value_t = cuvee_postgres::DEFAULT_MAX_CONNECTIONS)]
    pub pg_max_connections: usize,
}

impl PostgresArgs {
    pub fn options(&self, security: &Security) -> Result<PostgresOptions> {
        let tls = self.pg_tls_cert.clone().zip(self.pg_tls_key.clone()).or_else(|| security.tls.clone());
        let statement_timeout =
            (self.pg_statement_timeout_ms > 0).then(|| Duration::from_millis(self.pg_statement_timeout_ms));
        if self.pg_max_connections == 0 {
            bail!("--pg-max-connections must be at least 1 (use --pg-listen off to close the door)");
        }
        Ok(PostgresOptions {
            access: security.access.clone(),
            tls,
            statement_timeout,
            max_connections: self.pg_max_connections,
        })
    }

    /// The door's listener, or none when it is `off`.
    pub async fn bind(&self) -> Result<Option<TcpListener>> {
        let address = self.pg_listen.as_deref();
        let listener = bind_door("Postgres", "--pg-listen", address, DEFAULT_POSTGRES_LISTEN).await?;
        Ok(listener)
    }
}

pub fn run(
    data_dir: &Path,
    listen: &str,
    options: ProcessOptions,
    postgres: &PostgresArgs,
    flight: &FlightArgs,
    security: &Security,
) -> Result<()> {
    let (process, warnings) = Process::open_with(data_dir, options)?;
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    let process = Arc::new(process);
    let loaded = process.service.table_names().len();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listener = bind_http(listen, security).await?;
        let doors = Doors::bind(postgres, flight, security).await?;
        println!(
            "cuvee: {loaded} table(s) from {} — Pinot query API on http://{}/query/sql",
            data_dir.display(),
            listener.local_addr()?
        );
        doors.announce()?;
        serve_doors(process, listener, doors).await?;
        println!("cuvee: stopped");
        Ok(())
    })
}

/// Serves the HTTP API and the other doors given, until Ctrl-C or SIGTERM; then all stop
/// taking connections and realtime ingestion stops.
pub async fn serve_doors(process: Arc<Process>, http: TcpListener, doors: Doors) -> Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    let flight_door = match doors.flight {
        None => None,
        Some(listener) => {
            let door = cuvee_flight::FlightSqlDoor::new(Arc::clone(&process.service), doors.security.access.clone())
                .context("starting the Flight SQL door")?;
            let tls = doors.security.tls.clone();
            Some(tokio::spawn(cuvee_flight::serve_until(listener, door, tls, until_stopped(stopped.clone()))))
        }
    };
    let pg_door = match doors.postgres {
        None => None,
        Some((listener, options)) => {
            let door = cuvee_postgres::serve_until(
                listener,
                Arc::clone(&process.service),
                options,
                until_stopped(stopped.clone()),
            );
            Some(tokio::spawn(door))
        }
    };
    cuvee::serve_until(http, process, until_stopped(stopped)).await?;
    if let Some(door) = pg_door {
        door.await.context("the Postgres door's task")??;
    }
    if let Some(door) = flight_door {
        door.await.context("the Flight SQL door's task")??;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM (Kubernetes, systemd): stop taking requests, stop consumers cleanly.
pub async fn shutdown_signal() {
    // A signal that cannot be watched must not read as "stop now".
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
