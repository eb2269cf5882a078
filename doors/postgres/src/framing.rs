//! How the door cuts a connection's bytes into messages: pgwire's decoder in the states a
//! connection passes through (SSL request or startup first, then regular messages), as
//! `pgwire`'s server codec drives it. Exposed so the fuzz target (`fuzz/`) and its
//! corpus replay feed it arbitrary bytes: whatever a client sends must become messages or
//! an error, never a panic or an allocation the bytes did not pay for.

use bytes::BytesMut;
use datafusion_postgres::pgwire::error::PgWireResult;
use datafusion_postgres::pgwire::messages::{DecodeContext, PgWireFrontendMessage, ProtocolVersion};

/// Decodes `input` as one connection's bytes; returns the messages it held (a trailing
/// partial message waits for more bytes, as on a socket).
pub fn decode_connection(input: &[u8]) -> PgWireResult<Vec<PgWireFrontendMessage>> {
    let mut buffer = BytesMut::from(input);
    let mut context = DecodeContext::new(ProtocolVersion::PROTOCOL3_0);
    let mut messages = Vec::new();
    while let Some(message) = PgWireFrontendMessage::decode(&mut buffer, &context)? {
        let startup_done = matches!(message, PgWireFrontendMessage::Startup(_));
        let ssl_answered = matches!(message, PgWireFrontendMessage::SslNegotiation(_));
        messages.push(message);
        if ssl_answered {
            context.awaiting_frontend_ssl = false;
        }
        if startup_done {
            context.awaiting_frontend_ssl = false;
            context.awaiting_frontend_startup = false;
        }
    }
    Ok(messages)
}
