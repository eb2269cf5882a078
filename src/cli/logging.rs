//! Logs: `tracing` events from every crate, as text or JSON lines on stderr, filtered like
//! RUST_LOG. Events carry their table, partition, segment or query as fields.

use super::options::{LogArgs, LogFormat};
use tracing_subscriber::EnvFilter;

pub fn init(args: &LogArgs) {
    let filter = match &args.log {
        Some(spec) => EnvFilter::try_new(spec),
        None => EnvFilter::try_from_default_env().or_else(|_| EnvFilter::try_new("info")),
    };
    let filter = filter.unwrap_or_else(|e| {
        // The binary's own output: a bad filter must not leave the process silent.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("warning: the log filter is not valid ({e}); logging at info");
        }
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
