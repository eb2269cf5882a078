//! What a caller presents: an HTTP-style `Authorization` header value.

use crate::AccessError;
use base64::Engine;

/// Credentials as sent: `Basic base64(user:password)` or `Bearer token`.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic { user: String, password: String },
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Basic { user, .. } => write!(f, "Basic({user}, *****)"),
            Credentials::Bearer(_) => write!(f, "Bearer(*****)"),
        }
    }
}

impl Credentials {
    /// Parses an `Authorization` header value (scheme names are case-insensitive).
    pub fn parse(header: &str) -> Result<Credentials, AccessError> {
        let header = header.trim();
        let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
        let value = value.trim();
        if scheme.eq_ignore_ascii_case("basic") {
            basic_credentials(value)
        } else if scheme.eq_ignore_ascii_case("bearer") {
            if value.is_empty() {
                return Err(AccessError::Unauthenticated("the Bearer token is empty".into()));
            }
            Ok(Credentials::Bearer(value.to_string()))
        } else {
            Err(AccessError::Unauthenticated(format!(
                "the Authorization scheme \"{}\" is not supported (use Basic or Bearer)",
                scheme.chars().take(20).collect::<String>()
            )))
        }
    }
}

/// `base64(user:password)` of a Basic header.
pub fn basic_credentials(encoded: &str) -> Result<Credentials, AccessError> {
    let bad = || AccessError::Unauthenticated("the Basic credentials are not base64 of user:password".into());
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (user, password) = text.split_once(':').ok_or_else(bad)?;
    Ok(Credentials::Basic { user: user.to_string(), password: password.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_or_say_why_not() {
        assert_eq!(
            Credentials::parse("Basic YWRtaW46czNjcjN0OmE=").unwrap(),
            Credentials::Basic { user: "admin".into(), password: "s3cr3t:a".into() }
        );
        assert_eq!(Credentials::parse("bearer abc").unwrap(), Credentials::Bearer("abc".into()));
        for bad in ["Basic !!!", "Basic YWRtaW4=", "Digest x", "Bearer ", ""] {
            assert!(Credentials::parse(bad).is_err(), "{bad}");
        }
        let shown = format!("{:?}", Credentials::parse("Basic YWRtaW46czNjcjN0OmE=").unwrap());
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
