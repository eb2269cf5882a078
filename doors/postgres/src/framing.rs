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

#[cfg(test)]
mod tests {
    use super::*;

    fn startup() -> Vec<u8> {
        let params = b"user\0e2e\0database\0cuvee\0\0";
        let mut bytes = ((8 + params.len()) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&196_608u32.to_be_bytes());
        bytes.extend_from_slice(params);
        bytes
    }

    #[test]
    fn bodies_shorter_than_their_fields_are_errors_not_panics() {
        // Parse declaring 3 parameter types and sending none (pgwire 0.41.1 panicked here);
        // Bind declaring a 1 GiB parameter in a 12-byte body; a length below its own 4 bytes.
        for message in [&b"P\0\0\0\x08\0\0\0\x03"[..], b"B\0\0\0\x10\0\0\0\0\0\x01\x40\0\0\0\0\0", b"Q\0\0\0\x02"] {
            let mut input = startup();
            input.extend_from_slice(message);
            assert!(decode_connection(&input).is_err(), "{message:?}");
        }
    }

    #[test]
    fn a_body_is_read_from_its_own_bytes_only() {
        // An Execute whose body is one byte short of its max-rows field must not borrow the
        // next message's bytes.
        let mut input = startup();
        input.extend_from_slice(b"E\0\0\0\x08\0\0\0\0");
        input.extend_from_slice(b"S\0\0\0\x04");
        assert!(decode_connection(&input).is_err());
        let mut input = startup();
        input.extend_from_slice(b"Q\0\0\0\x0dSELECT 1\0S\0\0\0\x04");
        let messages = decode_connection(&input).expect("a query and a sync");
        let names: Vec<String> = messages.iter().map(|m| format!("{m:?}")).collect();
        assert!(names.len() == 4 && names[2].starts_with("Query") && names[3].starts_with("Sync"), "{names:?}");
    }
}
