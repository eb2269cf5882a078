//! # cuvee-access
//!
//! Answers: *who is calling, and may they do this?* One user model for every door, after
//! Pinot's `BasicAuthAccessControlFactory`: a users file lists principals, each with a
//! password and/or a bearer token, the tables it may touch and its permissions
//! (READ, CREATE, UPDATE, DELETE). The HTTP API checks Basic or Bearer credentials, the
//! Flight SQL door trades Basic credentials for a session token at its handshake (as the
//! Flight spec does), the Postgres door takes the same users' passwords (SCRAM by
//! default); every door then checks READ on each table a statement scans, at planning.
//!
//! Without a users file the process is [`Access::Open`]: every caller is the anonymous
//! administrator. That is only allowed on loopback addresses unless the operator says
//! `--insecure` (see the binary).
//!
//! Also here, because every door needs the same: TLS server configuration from PEM files
//! ([`tls`]).

mod credentials;
mod error;
mod principal;
pub mod tls;
mod tokens;
mod users;

pub use credentials::{basic_credentials, Credentials};
pub use error::AccessError;
pub use principal::{Permission, Principal, TableScope};
pub use tokens::SessionTokens;
pub use users::{Access, PostgresMethod, User, Users, UsersFile};

/// Compares two secrets in time that depends only on their lengths, so a caller cannot
/// learn a secret byte by byte from how long a refusal takes.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `n` random bytes from the operating system, as lowercase hex.
pub fn random_hex(n: usize) -> Result<String, AccessError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| AccessError::Config(format!("the system's random source failed: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
