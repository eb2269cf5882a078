//! The `cuvee` command as a user runs it: errors name what is wrong, inspect verifies a
//! segment, import reports bad rows. (Cargo builds the real binary for this test, which
//! scripts/test.sh then reuses for the end-to-end tests.)

use std::process::Command;

fn cuvee(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_cuvee")).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn inspect_verifies_a_segment_and_names_a_damaged_one() {
    let golden = concat!(env!("CARGO_MANIFEST_DIR"), "/segments/tests/golden/v2.cvs");
    let (ok, text) = cuvee(&["segment", "inspect", golden]);
    assert!(ok, "{text}");
    assert!(text.contains("docs      2100") && text.contains("section checksums verified"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let damaged = dir.path().join("golden__0__0__20201001T0000Z.cvs");
    let mut bytes = std::fs::read(golden).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&damaged, bytes).unwrap();
    let (ok, text) = cuvee(&["segment", "inspect", damaged.to_str().unwrap()]);
    assert!(!ok);
    assert!(text.contains("is corrupt") && text.contains("golden__0__0__20201001T0000Z"), "{text}");
}

#[test]
fn import_reports_config_errors_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.json");
    let config = dir.path().join("config.json");
    std::fs::write(&schema, r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"a","dataType":"INTEGER"}]}"#).unwrap();
    std::fs::write(&config, r#"{"tableName":"t","tableType":"OFFLINE"}"#).unwrap();
    let rows = dir.path().join("rows.csv");
    std::fs::write(&rows, "a\n1\nx\n3\n").unwrap();
    let data = dir.path().join("data");
    let (ok, text) = cuvee(&[
        "import",
        "--schema",
        schema.to_str().unwrap(),
        "--table-config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        rows.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(text.contains("dimensionFieldSpecs[0].dataType"), "{text}");
    std::fs::write(&schema, r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"a","dataType":"INT"}]}"#).unwrap();
    let (ok, text) = cuvee(&[
        "import",
        "--schema",
        schema.to_str().unwrap(),
        "--table-config",
        config.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        rows.to_str().unwrap(),
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("imported 2") && text.contains("skipped 1 bad rows") && text.contains("line 3"), "{text}");
}

/// The README's first command: an embedded broker, events streaming into a realtime table,
/// the count growing, sample queries answered — and a second run over the same data folder.
#[test]
fn quickstart_streams_events_into_a_queryable_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/pinot-examples");
    for run in 0..2 {
        let (ok, text) =
            cuvee(&["quickstart", "--no-serve", "--data-dir", data.to_str().unwrap(), "--examples", examples]);
        assert!(ok, "run {run}: {text}");
        let counts: Vec<i64> = text
            .lines()
            .filter(|l| l.contains("SELECT COUNT(*) FROM clickstream  →"))
            .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
            .collect();
        assert_eq!(counts.len(), 3, "run {run}: {text}");
        assert!(counts.windows(2).all(|w| w[0] < w[1]), "the count grows: {counts:?}");
        assert!(text.contains("GROUP BY country") && text.contains("PERCENTILE(latency_ms, 99)"), "{text}");
    }
    assert!(data.join("tables/baseballStats/manifest.json").exists());
}
