//! The users file, one format for every door:
//!
//! ```json
//! {
//!   "postgresMethod": "scram-sha-256",
//!   "users": [
//!     {"name": "admin", "passwordEnv": "CUVEE_ADMIN_PASSWORD", "permissions": ["READ", "CREATE", "UPDATE", "DELETE"]},
//!     {"name": "grafana", "passwordFile": "/run/secrets/grafana", "tables": ["clicks"]},
//!     {"name": "ci", "tokenEnv": "CUVEE_CI_TOKEN", "tables": ["*"], "permissions": ["READ", "UPDATE"]}
//!   ]
//! }
//! ```
//!
//! A secret is given inline, by environment variable (`…Env`) or by file (`…File`, as
//! Kubernetes mounts secrets). `tables` defaults to every table (`"*"`), `permissions` to
//! `["READ"]`: a user that can change things says so. A token is a bearer secret for HTTP
//! (at least 16 characters). The Postgres door checks passwords with `postgresMethod`
//! (`scram-sha-256`, `md5` or `password`); `method` is accepted as its older name.

use crate::{constant_time_eq, AccessError, Credentials, Permission, Principal, TableScope};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

/// How the Postgres door checks a password.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum PostgresMethod {
    #[default]
    #[serde(rename = "scram-sha-256")]
    ScramSha256,
    #[serde(rename = "md5")]
    Md5,
    #[serde(rename = "password")]
    Password,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsersFile {
    #[serde(default, alias = "method")]
    pub postgres_method: PostgresMethod,
    pub users: Vec<UserEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UserEntry {
    pub name: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub token_env: Option<String>,
    #[serde(default)]
    pub token_file: Option<String>,
    #[serde(default)]
    pub tables: Option<Vec<String>>,
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

/// One configured user.
#[derive(Clone)]
pub struct User {
    pub principal: Principal,
    password: Option<String>,
    token: Option<String>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("principal", &self.principal)
            .field("password", &self.password.as_ref().map(|_| "*****"))
            .field("token", &self.token.as_ref().map(|_| "*****"))
            .finish()
    }
}

impl User {
    /// The password, for the Postgres door's exchanges (SCRAM derives from it once).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }
}

/// The users of a process.
#[derive(Debug)]
pub struct Users {
    pub postgres_method: PostgresMethod,
    users: HashMap<String, User>,
}

impl Users {
    pub fn from_file(path: &Path) -> Result<Users, AccessError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AccessError::Config(format!("reading {}: {e}", path.display())))?;
        let file: UsersFile = serde_json::from_str(&text)
            .map_err(|e| AccessError::Config(format!("{} is not a valid users file: {e}", path.display())))?;
        Users::from_entries(file, &|name| std::env::var(name).ok())
    }

    /// `environment` looks variables up (the process environment, or a test's map).
    pub fn from_entries(file: UsersFile, environment: &dyn Fn(&str) -> Option<String>) -> Result<Users, AccessError> {
        let mut users = HashMap::new();
        let mut tokens = BTreeSet::new();
        for entry in file.users {
            let name = entry.name.clone();
            let problem = |p: String| AccessError::Config(format!("user \"{name}\": {p}"));
            check_user_name(&entry.name).map_err(problem)?;
            let password = secret("password", entry.password, entry.password_env, entry.password_file, environment)
                .map_err(problem)?;
            let token =
                secret("token", entry.token, entry.token_env, entry.token_file, environment).map_err(problem)?;
            if password.is_none() && token.is_none() {
                return Err(problem("give a password or a token (inline, …Env or …File)".into()));
            }
            if let Some(token) = &token {
                if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(problem("a token is at least 16 printable characters without spaces".into()));
                }
                if !tokens.insert(token.clone()) {
                    return Err(problem("its token is another user's too".into()));
                }
            }
            let tables = match entry.tables {
                None => TableScope::All,
                Some(tables) if tables.iter().any(|t| t == "*") => TableScope::All,
                Some(tables) => TableScope::Only(tables.into_iter().collect()),
            };
            let permissions = match entry.permissions {
                None => vec![Permission::Read],
                Some(names) => names
                    .iter()
                    .map(|p| {
                        Permission::parse(p).ok_or_else(|| {
                            problem(format!("unknown permission \"{p}\" (READ, CREATE, UPDATE, DELETE)"))
                        })
                    })
                    .collect::<Result<_, _>>()?,
            };
            let user = User { principal: Principal::new(&entry.name, tables, permissions), password, token };
            if users.insert(entry.name.clone(), user).is_some() {
                return Err(problem("listed twice".into()));
            }
        }
        if users.is_empty() {
            return Err(AccessError::Config("it lists no users".into()));
        }
        Ok(Users { postgres_method: file.postgres_method, users })
    }

    pub fn get(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    /// Who `credentials` prove the caller is. Every failure reads the same, so a caller
    /// learns nothing about which names exist.
    pub fn authenticate(&self, credentials: &Credentials) -> Result<Principal, AccessError> {
        let refused = || AccessError::Unauthenticated("the user name, password or token is not valid".into());
        match credentials {
            Credentials::Basic { user, password } => {
                let found = self.users.get(user).and_then(|u| Some((u, u.password.as_deref()?)));
                match found {
                    Some((u, expected)) if constant_time_eq(expected.as_bytes(), password.as_bytes()) => {
                        Ok(u.principal.clone())
                    }
                    _ => Err(refused()),
                }
            }
            Credentials::Bearer(token) => self
                .users
                .values()
                .find(|u| u.token.as_deref().is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes())))
                .map(|u| u.principal.clone())
                .ok_or_else(refused),
        }
    }
}

/// A name that travels in Basic credentials (no `:`) and Postgres startup packets.
fn check_user_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 128 {
        return Err("a user name is 1 to 128 characters".into());
    }
    if name.contains(':') || name.chars().any(char::is_control) {
        return Err("a user name has no ':' and no control characters".into());
    }
    Ok(())
}

fn secret(
    what: &str,
    inline: Option<String>,
    env: Option<String>,
    file: Option<String>,
    environment: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let value = match (inline, env, file) {
        (None, None, None) => return Ok(None),
        (Some(value), None, None) => value,
        (None, Some(variable), None) => environment(&variable)
            .ok_or_else(|| format!("the environment variable {variable} ({what}Env) is not set"))?,
        (None, None, Some(path)) => std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {path} ({what}File): {e}"))?
            .trim_end_matches(['\n', '\r'])
            .to_string(),
        _ => return Err(format!("give at most one of {what}, {what}Env and {what}File")),
    };
    if value.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    Ok(Some(value))
}

/// Who may call a process.
#[derive(Debug, Clone)]
pub enum Access {
    /// No users configured: every caller is [`Principal::anonymous`].
    Open,
    Users(Arc<Users>),
}

impl Access {
    /// The caller, from an `Authorization` header value when there is one.
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AccessError> {
        match self {
            Access::Open => Ok(Principal::anonymous()),
            Access::Users(users) => {
                let header = authorization.ok_or_else(|| {
                    AccessError::Unauthenticated("send credentials (HTTP Basic or a Bearer token)".into())
                })?;
                users.authenticate(&Credentials::parse(header)?)
            }
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, Access::Open)
    }

    /// The principal of a Postgres login already checked by the door's password exchange.
    pub fn logged_in(&self, user: &str) -> Option<Principal> {
        match self {
            Access::Open => Some(Principal::anonymous()),
            Access::Users(users) => users.get(user).map(|u| u.principal.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(json: &str) -> Result<Users, AccessError> {
        let env = |name: &str| (name == "PW").then(|| "from-env".to_string());
        Users::from_entries(serde_json::from_str(json).unwrap(), &env)
    }

    #[test]
    fn users_authenticate_by_password_or_token_and_nothing_else() {
        let users = users(
            r#"{"users": [
                {"name": "admin", "passwordEnv": "PW", "permissions": ["READ", "CREATE", "UPDATE", "DELETE"]},
                {"name": "reader", "password": "r", "tables": ["t"]},
                {"name": "bot", "token": "0123456789abcdef0123"}
            ]}"#,
        )
        .unwrap();
        let basic = |u: &str, p: &str| Credentials::Basic { user: u.into(), password: p.into() };
        assert_eq!(users.authenticate(&basic("admin", "from-env")).unwrap().name(), "admin");
        let reader = users.authenticate(&basic("reader", "r")).unwrap();
        assert!(reader.may(Permission::Read, "t") && !reader.may(Permission::Read, "u"));
        assert!(!reader.may(Permission::Update, "t"), "READ only unless said");
        let bot = users.authenticate(&Credentials::Bearer("0123456789abcdef0123".into())).unwrap();
        assert_eq!(bot.name(), "bot");
        let wrong = users.authenticate(&basic("admin", "nope")).unwrap_err().to_string();
        let unknown = users.authenticate(&basic("nobody", "x")).unwrap_err().to_string();
        assert_eq!(wrong, unknown, "an unknown name and a wrong password read alike");
        assert!(users.authenticate(&basic("bot", "")).is_err(), "a token-only user has no password");
        assert!(users.authenticate(&Credentials::Bearer("0123456789abcdef012".into())).is_err());
    }

    #[test]
    fn bad_files_name_the_problem() {
        for (json, expected) in [
            (r#"{"users": []}"#, "no users"),
            (r#"{"users": [{"name": "a"}]}"#, "give a password or a token"),
            (r#"{"users": [{"name": "a", "passwordEnv": "NOPE"}]}"#, "NOPE"),
            (r#"{"users": [{"name": "a", "password": "x", "passwordEnv": "PW"}]}"#, "at most one"),
            (r#"{"users": [{"name": "a:b", "password": "x"}]}"#, "':'"),
            (r#"{"users": [{"name": "a", "token": "short"}]}"#, "16"),
            (r#"{"users": [{"name": "a", "password": "x", "permissions": ["ALL"]}]}"#, "unknown permission"),
            (r#"{"users": [{"name": "a", "password": "x"}, {"name": "a", "password": "y"}]}"#, "twice"),
        ] {
            let error = users(json).unwrap_err().to_string();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn an_open_process_needs_no_credentials_and_a_closed_one_does() {
        assert_eq!(Access::Open.authenticate(None).unwrap().name(), "anonymous");
        let closed = Access::Users(Arc::new(users(r#"{"users": [{"name": "a", "password": "x"}]}"#).unwrap()));
        assert!(closed.authenticate(None).is_err());
        assert!(closed.authenticate(Some("Basic YTp4")).is_ok());
        assert!(closed.authenticate(Some("Basic YTp5")).is_err());
    }
}
