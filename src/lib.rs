//! # cuvee
//!
//! Answers: *how are the crates assembled into a running process?* A [`Process`] is one
//! role's assembly — a node with its tables, the broker's query service, the HTTP API — and
//! the `cuvee` binary (`src/main.rs`, `src/cli/`) starts the roles from the command line:
//! `serve` and `quickstart` (one process), `server` and `broker` (a cluster), `import` and
//! `segment inspect` (tools). The crates themselves are mapped in ARCHITECTURE.md.

mod memory;
mod process;

pub use memory::keep_freed_memory;
pub use process::{serve, serve_until, Process, ProcessError, ProcessOptions};
