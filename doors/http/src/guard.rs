//! Who is calling, and may a web page make this call? Every request but `/health` passes
//! here before its handler:
//!
//! - **Credentials**: with users configured, an `Authorization` header (HTTP Basic, as
//!   `pinotdb`'s `username`/`password` send, or a Bearer token) must name one; the
//!   [`Principal`] is handed to the handler, which checks its table permission. Without
//!   one the answer is 401 with `WWW-Authenticate`, the same for a wrong password as for an
//!   unknown user.
//! - **Cross-site requests**: a browser page on another origin can send simple `POST`s to
//!   any address, loopback included. A request whose `Origin` (or `Sec-Fetch-Site`) says
//!   it comes from another site is refused with 403 before it reaches a handler.
//! - **DNS rebinding**: with no users configured and on loopback (`ApiOptions::
//!   loopback_only`), the `Host` must be an IP address or `localhost`, so a page whose
//!   domain was rebound to 127.0.0.1 cannot reach the API under its own name.

use crate::error::ApiError;
use crate::Api;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Paths answered to anyone: liveness probes carry no credentials.
const OPEN_PATHS: [&str; 1] = ["/health"];

pub async fn guard(State(api): State<Arc<Api>>, mut request: Request, next: Next) -> Response {
    if let Err(refusal) = cross_site(request.headers(), request.method(), api.options.loopback_only) {
        return refusal.into_response();
    }
    if OPEN_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    match api.options.access.authenticate(authorization) {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => {
            tracing::info!(path = %request.uri().path(), "refused: {e}");
            ApiError::Access(e).into_response()
        }
    }
}

fn cross_site(headers: &HeaderMap, method: &Method, loopback_only: bool) -> Result<(), ApiError> {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    if loopback_only && !host.is_empty() && !is_address_or_localhost(host) {
        return Err(ApiError::CrossSite(format!(
            "the Host \"{}\" is not an IP address or localhost; a server without users answers only those (configure users to serve a host name)",
            host.chars().take(100).collect::<String>()
        )));
    }
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return Err(ApiError::CrossSite("a cross-site request from a web page is refused".into()));
    }
    if *method == Method::GET || *method == Method::HEAD || *method == Method::OPTIONS {
        return Ok(());
    }
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest).trim_end_matches('/');
        if origin == "null" || !origin_host.eq_ignore_ascii_case(host) {
            return Err(ApiError::CrossSite(format!(
                "a request from the web page at {} to {host} is refused (the Origin is not this server)",
                origin.chars().take(100).collect::<String>()
            )));
        }
    }
    Ok(())
}

/// `127.0.0.1:8099`, `[::1]:8099`, `localhost:8099`, `10.0.0.5` …
fn is_address_or_localhost(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => return rest.split(']').next().is_some_and(|ip| ip.parse::<std::net::Ipv6Addr>().is_ok()),
        None => {
            host.rsplit_once(':').map_or(host, |(name, port)| if port.parse::<u16>().is_ok() { name } else { host })
        }
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn pages_of_other_sites_cannot_drive_the_api() {
        let open = true;
        let ok = |h: &[(&'static str, &'static str)], m: Method| cross_site(&headers(h), &m, open).is_ok();
        assert!(ok(&[("host", "127.0.0.1:8099")], Method::POST), "curl sends no Origin");
        assert!(ok(&[("host", "127.0.0.1:8099"), ("origin", "http://127.0.0.1:8099")], Method::POST));
        assert!(!ok(&[("host", "127.0.0.1:8099"), ("origin", "https://evil.example")], Method::POST));
        assert!(!ok(&[("host", "127.0.0.1:8099"), ("origin", "null")], Method::DELETE));
        assert!(!ok(&[("host", "127.0.0.1:8099"), ("sec-fetch-site", "cross-site")], Method::GET));
        assert!(!ok(&[("host", "rebound.evil.example:8099")], Method::GET), "DNS rebinding");
        assert!(ok(&[("host", "localhost:8099")], Method::GET));
        assert!(ok(&[("host", "[::1]:8099")], Method::GET));
    }
}
