//! Who may connect: the process's users (`cuvee_access`, the one users file of every
//! door) that have a password, checked with SCRAM-SHA-256 (the default, as in Postgres
//! 14+), MD5 or a cleartext password as the file's `postgresMethod` says; with no users
//! the door trusts every login (allowed only on loopback unless `--insecure`).
//!
//! SCRAM secrets are derived once at start (4,096 rounds, a random salt per user), so a
//! login costs no hashing here. What a logged-in user may read is checked per statement
//! ([`crate::authorize`]).

use crate::settings::startup_parameters;
use async_trait::async_trait;
use cuvee_access::{Access, PostgresMethod};
use datafusion_postgres::pgwire::api::auth::cleartext::CleartextPasswordAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::md5pass::{hash_md5_password, Md5PasswordAuthStartupHandler};
use datafusion_postgres::pgwire::api::auth::sasl::scram::{gen_salted_password, ScramAuth};
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::{
    finish_authentication, protocol_negotiation, save_startup_parameters_to_metadata, AuthSource,
    DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use datafusion_postgres::pgwire::api::{
    ClientInfo, ConnectionManager, PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use datafusion_postgres::pgwire::error::{PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

const SCRAM_ITERATIONS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("the users file lists no user with a password, so nobody could log in to the Postgres door")]
    NoPasswords,
}

/// The door's login policy.
#[derive(Debug, Clone)]
pub enum Authentication {
    /// Anyone, under any name (no users file: loopback only, or `--insecure`).
    Trust,
    Users {
        method: PostgresMethod,
        users: Arc<UserPasswords>,
    },
}

impl Authentication {
    /// The logins of `access`: its users that have a password (a token-only user is for
    /// HTTP and Flight SQL).
    pub fn from_access(access: &Access) -> Result<Authentication, AuthConfigError> {
        let Access::Users(configured) = access else { return Ok(Authentication::Trust) };
        let method = configured.postgres_method;
        let mut users = HashMap::new();
        for user in configured.iter() {
            let Some(password) = user.password() else { continue };
            let salt = random_bytes::<16>().to_vec();
            let scram = gen_salted_password(password, &salt, SCRAM_ITERATIONS);
            users.insert(user.principal.name().to_string(), Secret { password: password.to_string(), salt, scram });
        }
        if users.is_empty() {
            return Err(AuthConfigError::NoPasswords);
        }
        Ok(Authentication::Users { method, users: Arc::new(UserPasswords { method, users }) })
    }

    /// A fresh login handler for one connection.
    pub fn handler(&self, manager: Arc<ConnectionManager>) -> Login {
        let parameters = startup_parameters();
        match self {
            Authentication::Trust => {
                Login::Trust(TrustLogin { parameters, manager, pids: RandomPidSecretKeyGenerator::default() })
            }
            Authentication::Users { method: PostgresMethod::ScramSha256, users } => {
                let mut scram = ScramAuth::new(Arc::clone(users) as Arc<dyn AuthSource>);
                scram.set_iterations(SCRAM_ITERATIONS);
                Login::Scram(Box::new(
                    SASLAuthStartupHandler::new(Arc::new(parameters))
                        .with_scram(scram)
                        .with_connection_manager(manager),
                ))
            }
            Authentication::Users { method: PostgresMethod::Md5, users } => Login::Md5(
                Md5PasswordAuthStartupHandler::new(Arc::clone(users), Arc::new(parameters))
                    .with_connection_manager(manager),
            ),
            Authentication::Users { method: PostgresMethod::Password, users } => Login::Password(
                CleartextPasswordAuthStartupHandler::new(SharedUsers(Arc::clone(users)), parameters)
                    .with_connection_manager(manager),
            ),
        }
    }
}

struct Secret {
    password: String,
    salt: Vec<u8>,
    scram: Vec<u8>,
}

/// The configured users, answering pgwire's password look-ups for the chosen method.
pub struct UserPasswords {
    method: PostgresMethod,
    users: HashMap<String, Secret>,
}

impl Debug for UserPasswords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPasswords")
            .field("method", &self.method)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait]
impl AuthSource for UserPasswords {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        // An unknown user fails exactly like a wrong password: no probing for names.
        let Some(secret) = self.users.get(user) else {
            return Err(PgWireError::InvalidPassword(user.to_string()));
        };
        Ok(match self.method {
            PostgresMethod::ScramSha256 => Password::new(Some(secret.salt.clone()), secret.scram.clone()),
            PostgresMethod::Md5 => {
                let salt = random_bytes::<4>().to_vec();
                let hashed = hash_md5_password(user, &secret.password, &salt);
                Password::new(Some(salt), hashed.into_bytes())
            }
            PostgresMethod::Password => Password::new(None, secret.password.as_bytes().to_vec()),
        })
    }
}

/// pgwire's cleartext handler takes its source by value.
#[derive(Debug)]
pub struct SharedUsers(Arc<UserPasswords>);

#[async_trait]
impl AuthSource for SharedUsers {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        self.0.get_password(login).await
    }
}

/// Salts need to differ, not to be secret; the standard library's per-process random hasher
/// keys are enough and spare a dependency.
fn random_bytes<const N: usize>() -> [u8; N] {
    use std::hash::{BuildHasher, Hasher};
    let mut out = [0u8; N];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_usize(i);
        hasher
            .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        let bytes = hasher.finish().to_le_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
    out
}

/// One connection's login.
pub enum Login {
    Trust(TrustLogin),
    Scram(Box<SASLAuthStartupHandler<DefaultServerParameterProvider>>),
    Md5(Md5PasswordAuthStartupHandler<UserPasswords, DefaultServerParameterProvider>),
    Password(CleartextPasswordAuthStartupHandler<SharedUsers, DefaultServerParameterProvider>),
}

#[async_trait]
impl StartupHandler for Login {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Login::Trust(login) => login.on_startup(client, message).await,
            Login::Scram(login) => login.on_startup(client, message).await,
            Login::Md5(login) => login.on_startup(client, message).await,
            Login::Password(login) => login.on_startup(client, message).await,
        }
    }
}

/// No password; pgwire's own no-op login cannot be given cuvee's startup parameters.
pub struct TrustLogin {
    parameters: DefaultServerParameterProvider,
    manager: Arc<ConnectionManager>,
    pids: RandomPidSecretKeyGenerator,
}

impl TrustLogin {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + futures::Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as futures::Sink<PgWireBackendMessage>>::Error>,
    {
        let PgWireFrontendMessage::Startup(ref startup) = message else { return Ok(()) };
        protocol_negotiation(client, startup).await?;
        save_startup_parameters_to_metadata(client, startup);
        let (pid, secret_key) = self.pids.generate(client);
        client.set_pid_and_secret_key(pid, secret_key.clone());
        let (handle, guard) = self.manager.register(pid, secret_key);
        client.session_extensions().insert(handle);
        client.session_extensions().insert(guard);
        finish_authentication(client, &self.parameters).await
    }
}
