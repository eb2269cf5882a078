//! # cuvee-proto
//!
//! Answers: *what do a broker and a server say to each other?* The messages and the tonic
//! service of `proto/cuvee.proto` (plan fragments in; Arrow IPC batches and execution
//! statistics out; segment listings; health), generated at build time with the pure-Rust
//! `protox` compiler. Knows nothing of SQL or storage: the fragment is opaque bytes here.

#![allow(clippy::all)]

pub mod v1 {
    tonic::include_proto!("cuvee.v1");
}

/// Bumped on any incompatible change to the messages or to the fragment encoding; a server
/// refuses requests of another version with `FAILED_PRECONDITION`.
pub const PROTOCOL_VERSION: u32 = 1;
