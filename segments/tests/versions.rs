//! A segment is written at the lowest format version its sections need, so the binary
//! before an upgrade still opens what the upgrade sealed unless a newer codec was taken up
//! (`format::version_needed`). Each case builds a segment using one codec and checks the
//! version its header, trailer and footer say, and that it opens and answers.

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::format::{SectionKind, SegmentMetadata, TRAILER_LEN};
use cuvee_segments::{EvalOptions, FieldValue, ImmutableSegment, Predicate, SegmentBuilder, SegmentIdentity};

fn build(index_config: &str, field_config: &str) -> ImmutableSegment {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"run","dataType":"INT"},{"name":"mixed","dataType":"INT"},
              {"name":"hex","dataType":"STRING"},{"name":"text","dataType":"STRING"}],
            "metricFieldSpecs":[{"name":"counter","dataType":"LONG"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(&format!(
        r#"{{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{index_config},"fieldConfigList":[{field_config}]}}"#
    ))
    .unwrap();
    let mut builder = SegmentBuilder::new(&Table::new(schema, config).unwrap());
    for k in 0..5000i64 {
        builder
            .push(&[
                FieldValue::Single(Value::Int((k / 1000) as i32)),
                FieldValue::Single(Value::Int((k * 7919 % 13) as i32)),
                FieldValue::Single(Value::String(format!("{:016x}", (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))),
                FieldValue::Single(Value::String(format!("user {} of {}", k * 7919 % 5000, k % 3))),
                FieldValue::Single(Value::Long(k * 3)),
            ])
            .unwrap();
    }
    let bytes = builder.build(&SegmentIdentity { name: "t_0".into(), ..Default::default() }).unwrap();
    let (header, trailer) = (u32::from_le_bytes(bytes[8..12].try_into().unwrap()), {
        let t = &bytes[bytes.len() - TRAILER_LEN..];
        u32::from_le_bytes(t[20..24].try_into().unwrap())
    });
    let segment = ImmutableSegment::from_bytes("t_0.cvs".into(), bytes).unwrap();
    let meta: &SegmentMetadata = segment.metadata();
    assert_eq!((header, trailer), (meta.format_version, meta.format_version), "header, trailer and footer agree");
    let count = |p: Predicate| segment.evaluate(&p, EvalOptions::default()).unwrap().docs.len();
    assert_eq!(count(Predicate::eq("run", Value::Int(2))), 1000);
    assert_eq!(count(Predicate::eq("mixed", Value::Int(5))), (0..5000).filter(|k| k * 7919 % 13 == 5).count() as u64);
    assert_eq!(count(Predicate::eq("counter", Value::Long(300))), 1);
    segment
}

fn version(index_config: &str, field_config: &str) -> u32 {
    build(index_config, field_config).metadata().format_version
}

#[test]
fn a_segment_is_written_at_the_lowest_version_its_sections_need() {
    // Dictionaries, forward ids, the sorted index, roaring runs and zstd chunks: version 3.
    let plain = r#"{"optimizeDictionary":false,"sortedColumn":["run"],"noDictionaryColumns":["counter"]}"#;
    assert_eq!(version(plain, ""), 3);
    assert_eq!(version(r#"{"optimizeDictionary":false,"invertedIndexColumns":["run"]}"#, ""), 3);
    // Nearly unique strings go raw in FSST codes (version 5; the hex ids keep a dictionary
    // for their inverted index)...
    let fsst = build(r#"{"noDictionaryColumns":["counter"],"invertedIndexColumns":["hex"]}"#, "");
    let raw_codec = |s: &ImmutableSegment, name: &str| s.column(name).unwrap().codec(SectionKind::ForwardRaw);
    assert_eq!((raw_codec(&fsst, "text"), raw_codec(&fsst, "hex")), (Some("fsst"), None));
    assert_eq!(fsst.metadata().format_version, 5);
    // ... and hex ids as the bytes their digits spell (version 9).
    let hex = build(r#"{"noDictionaryColumns":["counter"]}"#, "");
    assert_eq!((raw_codec(&hex, "text"), raw_codec(&hex, "hex")), (Some("fsst"), Some("hex")));
    assert_eq!(hex.metadata().format_version, 9);
    let lz4 = r#"{"name":"counter","encodingType":"RAW","compressionCodec":"LZ4"}"#;
    assert_eq!(version(r#"{"optimizeDictionary":false}"#, lz4), 6);
    let delta = r#"{"name":"counter","encodingType":"RAW","compressionCodec":"DELTA"}"#;
    assert_eq!(version(r#"{"optimizeDictionary":false}"#, delta), 7);
    // Gaps: 13 values spread over every doc.
    let gaps = build(r#"{"optimizeDictionary":false,"invertedIndexColumns":["mixed"]}"#, "");
    assert_eq!(gaps.column("mixed").unwrap().inverted.as_ref().map(|i| i.codec()), Some("gaps"));
    assert_eq!(gaps.metadata().format_version, 8);
}
