//! Session tokens: what a Flight SQL handshake hands out in exchange for a password, so
//! later calls carry a random bearer token instead of the password.

use crate::{random_hex, AccessError, Principal};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Tokens issued by this process, each valid for `ttl` after its last use.
pub struct SessionTokens {
    ttl: Duration,
    max_sessions: usize,
    sessions: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl SessionTokens {
    pub fn new(ttl: Duration, max_sessions: usize) -> SessionTokens {
        SessionTokens { ttl, max_sessions, sessions: Mutex::default() }
    }

    /// A new token for `principal`. Expired sessions are dropped first; when the table is
    /// still full the oldest session is, so a flood of handshakes cannot grow memory.
    pub fn issue(&self, principal: Principal) -> Result<String, AccessError> {
        let token = random_hex(32)?;
        let now = Instant::now();
        let mut sessions = self.sessions.lock();
        sessions.retain(|_, (_, used)| now.duration_since(*used) < self.ttl);
        if sessions.len() >= self.max_sessions {
            if let Some(oldest) = sessions.iter().min_by_key(|(_, (_, used))| *used).map(|(t, _)| t.clone()) {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(token.clone(), (principal, now));
        Ok(token)
    }

    /// The principal of a live token, which is then good for another `ttl`.
    pub fn principal(&self, token: &str) -> Option<Principal> {
        let now = Instant::now();
        let mut sessions = self.sessions.lock();
        let (principal, used) = sessions.get_mut(token)?;
        if now.duration_since(*used) >= self.ttl {
            sessions.remove(token);
            return None;
        }
        *used = now;
        Some(principal.clone())
    }

    pub fn len(&self) -> usize {
        self.sessions.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_and_are_bounded() {
        let tokens = SessionTokens::new(Duration::from_millis(50), 2);
        let a = tokens.issue(Principal::anonymous()).unwrap();
        assert_eq!(a.len(), 64);
        assert_eq!(tokens.principal(&a).unwrap().name(), "anonymous");
        assert!(tokens.principal("nope").is_none());
        let b = tokens.issue(Principal::anonymous()).unwrap();
        let c = tokens.issue(Principal::anonymous()).unwrap();
        assert_eq!(tokens.len(), 2, "the oldest session made room");
        assert!(tokens.principal(&b).is_some() || tokens.principal(&a).is_some());
        std::thread::sleep(Duration::from_millis(60));
        assert!(tokens.principal(&c).is_none(), "expired");
    }
}
