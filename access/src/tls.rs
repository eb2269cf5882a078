//! TLS for the doors: a rustls server configuration from PEM files, the same for HTTP,
//! Flight SQL and Postgres.

use crate::AccessError;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;

pub use tokio_rustls::TlsAcceptor;

/// A server configuration from a PEM certificate chain and a PEM private key, offering
/// `alpn` protocols (`h2` for gRPC, `http/1.1` for the HTTP API, none for Postgres).
pub fn server_config(certificate: &Path, key: &Path, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, AccessError> {
    let tls = |message: String| AccessError::Config(format!("TLS: {message}"));
    let read = |path: &Path| std::fs::read(path).map_err(|e| tls(format!("reading {}: {e}", path.display())));
    let chain = rustls_pemfile::certs(&mut read(certificate)?.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls(format!("{}: {e}", certificate.display())))?;
    if chain.is_empty() {
        return Err(tls(format!("{} holds no PEM certificate", certificate.display())));
    }
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(|e| tls(format!("{}: {e}", key.display())))?
        .ok_or_else(|| tls(format!("{} holds no PEM private key", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| tls(e.to_string()))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// An acceptor for [`server_config`].
pub fn acceptor(certificate: &Path, key: &Path, alpn: &[&[u8]]) -> Result<TlsAcceptor, AccessError> {
    Ok(TlsAcceptor::from(Arc::new(server_config(certificate, key, alpn)?)))
}
