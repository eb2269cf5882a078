//! The web console at `/`: one page and its script, style and chart library, embedded in
//! the binary at build time (no separate UI server, works offline). The page is a client
//! of this same HTTP API, so it sees exactly what the caller may see: with users
//! configured the guard asks the browser for credentials before the page loads, and every
//! call the page makes carries them.
//!
//! The answers forbid inline script, other origins and framing (Content-Security-Policy),
//! so a value shown in the page (a string column, a dead letter) cannot run as code and
//! the pause and commit buttons cannot be clicked through another site's frame.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

const PAGE: &str = include_str!("../console/index.html");

/// `/console/{file}`: name, content type, bytes.
const ASSETS: [(&str, &str, &[u8]); 5] = [
    ("console.js", "text/javascript; charset=utf-8", include_bytes!("../console/console.js")),
    ("console.css", "text/css; charset=utf-8", include_bytes!("../console/console.css")),
    ("uPlot.iife.min.js", "text/javascript; charset=utf-8", include_bytes!("../console/vendor/uPlot.iife.min.js")),
    ("uPlot.min.css", "text/css; charset=utf-8", include_bytes!("../console/vendor/uPlot.min.css")),
    ("favicon.svg", "image/svg+xml", include_bytes!("../console/favicon.svg")),
];

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                      connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub fn routes() -> Router<Arc<crate::Api>> {
    Router::new().route("/", get(page)).route("/console/{file}", get(asset))
}

async fn page() -> Response {
    with_headers((StatusCode::OK, PAGE).into_response(), "text/html; charset=utf-8")
}

async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, bytes)) => with_headers((StatusCode::OK, *bytes).into_response(), kind),
        None => {
            (StatusCode::NOT_FOUND, format!("the console has no file {:?}", file.chars().take(100).collect::<String>()))
                .into_response()
        }
    }
}

fn with_headers(mut response: Response, kind: &'static str) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // The assets change with the binary: revalidate rather than serve a stale console.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
