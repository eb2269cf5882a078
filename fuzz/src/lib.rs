//! The fuzz targets' bodies: each takes arbitrary bytes through one door of untrusted input
//! and must end in a value or an error — never a panic, an abort, or an allocation the
//! input did not pay for. `fuzz_targets/*.rs` hand them to libFuzzer (`cargo fuzz run`);
//! `tests/fuzz_corpora.rs` replays every saved input in the ordinary test run.

include!("targets.rs");
