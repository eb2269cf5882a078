//! Every input saved in `fuzz/corpus/<target>/` (seeds and what the fuzzer kept), replayed
//! through the same target bodies the fuzzer runs (`fuzz/src/targets.rs`, included here): a
//! crash the fuzzer once found stays fixed, in seconds, on the stable toolchain.

#[allow(dead_code)]
mod targets {
    include!("../fuzz/src/targets.rs");
}

fn replay(target: &str, body: fn(&[u8])) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} has no inputs", dir.display());
    for path in inputs {
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| body(&data));
        assert!(outcome.is_ok(), "{target}: {} panicked", path.display());
    }
}

#[test]
fn segment_open_corpus() {
    replay("segment_open", targets::segment_open);
}

#[test]
fn message_decoders_corpus() {
    replay("message_decoders", targets::message_decoders);
}

#[test]
fn pinot_dialect_corpus() {
    replay("pinot_dialect", targets::pinot_dialect);
}

#[test]
fn table_definitions_corpus() {
    replay("table_definitions", targets::table_definitions);
}

#[test]
fn postgres_framing_corpus() {
    replay("postgres_framing", targets::postgres_framing);
}

#[test]
fn file_import_corpus() {
    replay("file_import", targets::file_import);
}
