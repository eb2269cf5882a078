//! Checksums catch accidental damage; this test goes past them. It damages section bytes and
//! then *recomputes* every checksum, so only the reader's structural checks stand between the
//! damage and a panic or a read out of bounds. Opening may fail (with a Corrupt error) or
//! succeed; evaluating and decoding every column must then return results or errors — never
//! panic.

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::format::{SegmentMetadata, TRAILER_LEN};
use cuvee_segments::{
    DecodeOptions, EvalOptions, FieldValue, ImmutableSegment, Predicate, SegmentBuilder, SegmentIdentity,
};

fn segment_bytes() -> Vec<u8> {
    let schema = Schema::from_json(
        r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"s","dataType":"STRING"},{"name":"tags","dataType":"STRING","singleValueField":false},
              {"name":"j","dataType":"JSON"},{"name":"i","dataType":"INT"},{"name":"u","dataType":"STRING"},
              {"name":"l4","dataType":"STRING"},{"name":"pt","dataType":"STRING","singleValueField":false},
              {"name":"r","dataType":"STRING"},{"name":"h","dataType":"STRING"},
              {"name":"hn","dataType":"INT"},{"name":"rn","dataType":"STRING"},{"name":"fn","dataType":"INT"},
              {"name":"gn","dataType":"INT"}],
            "metricFieldSpecs":[{"name":"m","dataType":"LONG"},{"name":"v","dataType":"LONG"},{"name":"sn","dataType":"DOUBLE"},
              {"name":"dl","dataType":"LONG"},{"name":"dd","dataType":"INT"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(
        r#"{"tableName":"t","tableType":"OFFLINE","tableIndexConfig":{"invertedIndexColumns":["s","tags","u","v","r"],"sortedColumn":["i"],
            "rangeIndexColumns":["m","i"],"bloomFilterColumns":["j"],"noDictionaryColumns":["j","m","h"]},
            "fieldConfigList":[{"name":"l4","encodingType":"RAW","compressionCodec":"LZ4"},
              {"name":"pt","encodingType":"RAW","compressionCodec":"PASS_THROUGH"},
              {"name":"sn","encodingType":"RAW","compressionCodec":"SNAPPY"},
              {"name":"dl","encodingType":"RAW","compressionCodec":"DELTA"},
              {"name":"dd","encodingType":"RAW","compressionCodec":"DELTADELTA"}]}"#,
    )
    .unwrap();
    let mut builder = SegmentBuilder::new(&Table::new(schema, config).unwrap());
    for k in 0..3000i64 {
        builder
            .push(&[
                FieldValue::Single(Value::String(format!("s{}", k % 31))),
                // Uneven value counts: offsets stored as steps.
                FieldValue::Multi(
                    (0..((k * 2_654_435_761) >> 13) % 4).map(|t| Value::String(format!("t{t}"))).collect(),
                ),
                if k % 7 == 0 { FieldValue::Null } else { FieldValue::Single(Value::Json(format!("{{\"k\":{k}}}"))) },
                FieldValue::Single(Value::Int((k / 100) as i32)),
                // Nearly unique: packed dictionaries and posting lists.
                FieldValue::Single(Value::String(format!("u{:05}", k * 7 % 2999))),
                FieldValue::Single(Value::String(format!("l{}", k % 97))),
                FieldValue::Multi((0..k % 4).map(|t| Value::String(format!("p{}", (k + t) % 13))).collect()),
                // Runs of the sorted column: roaring's run containers.
                FieldValue::Single(Value::String(format!("r{}", k / 300))),
                // Hex ids, a few exceptions among them.
                FieldValue::Single(Value::String(if k % 200 == 0 {
                    "none".into()
                } else {
                    format!("{:012x}", k * 7919)
                })),
                // Nulls in about half the docs (a bitset), in nearly all (the others as
                // gaps), in a few (roaring's array), in a twelfth (gaps).
                if (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 63 == 1 {
                    FieldValue::Null
                } else {
                    FieldValue::Single(Value::Int(k as i32))
                },
                if k % 20 == 0 { FieldValue::Single(Value::String(format!("n{k}"))) } else { FieldValue::Null },
                if k % 300 == 1 { FieldValue::Null } else { FieldValue::Single(Value::Int(k as i32 % 5)) },
                if k % 12 == 5 { FieldValue::Null } else { FieldValue::Single(Value::Int(k as i32 % 9)) },
                FieldValue::Single(Value::Long(k * 3)),
                FieldValue::Single(Value::Long(1_600_000_000_000 + k * 997 % 2993)),
                FieldValue::Single(Value::Double(k as f64 / 8.0)),
                FieldValue::Single(Value::Long(k * 1_000 + k % 17)),
                FieldValue::Single(Value::Int((k * 7 % 1000) as i32 - 500)),
            ])
            .unwrap();
    }
    builder.build(&SegmentIdentity { name: "t_0".into(), ..Default::default() }).unwrap()
}

/// Rewrites every section checksum and the footer checksum so the damage passes them.
fn reseal(bytes: &mut Vec<u8>) {
    let n = bytes.len();
    let footer_offset = u64::from_le_bytes(bytes[n - TRAILER_LEN..n - TRAILER_LEN + 8].try_into().unwrap()) as usize;
    let footer_len = u64::from_le_bytes(bytes[n - TRAILER_LEN + 8..n - TRAILER_LEN + 16].try_into().unwrap()) as usize;
    let mut meta: SegmentMetadata = serde_json::from_slice(&bytes[footer_offset..footer_offset + footer_len]).unwrap();
    for section in &mut meta.sections {
        section.crc32c = crc32c::crc32c(&bytes[section.offset as usize..(section.offset + section.length) as usize]);
    }
    let footer = serde_json::to_vec(&meta).unwrap();
    let mut out = bytes[..footer_offset].to_vec();
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer_offset as u64).to_le_bytes());
    out.extend_from_slice(&(footer.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&footer).to_le_bytes());
    out.extend_from_slice(&bytes[n - 12..]);
    *bytes = out;
}

const COLUMNS: &[&str] = &["s", "tags", "j", "i", "m", "u", "v", "l4", "pt", "sn", "r", "h", "hn", "rn", "fn", "gn"];

fn exercise(segment: &ImmutableSegment) {
    let predicates = [
        Predicate::eq("s", Value::String("s3".into())),
        Predicate::eq("tags", Value::String("t1".into())),
        Predicate::not_eq("tags", Value::String("t0".into())),
        Predicate::between("i", Value::Int(3), Value::Int(17)),
        Predicate::between("m", Value::Long(30), Value::Long(3000)),
        Predicate::eq("j", Value::Json("{\"k\":5}".into())),
        Predicate::like("s", "s1%"),
        Predicate::is_null("j"),
        Predicate::like("j", "%:7%"),
        Predicate::eq("u", Value::String("u00070".into())),
        Predicate::like("u", "u001%"),
        Predicate::is_in("v", vec![Value::Long(1_600_000_000_997), Value::Long(1_600_000_001_994)]),
        Predicate::between("v", Value::Long(1_600_000_000_100), Value::Long(1_600_000_000_200)),
        Predicate::eq("l4", Value::String("l7".into())),
        Predicate::eq("pt", Value::String("p3".into())),
        Predicate::between("sn", Value::Double(10.0), Value::Double(20.0)),
        Predicate::eq("r", Value::String("r4".into())),
        Predicate::eq("h", Value::String(format!("{:012x}", 77 * 7919))),
        Predicate::is_in("h", vec![Value::String("none".into()), Value::String(format!("{:012x}", 7919))]),
        Predicate::like("h", "%7"),
        Predicate::is_null("hn"),
        Predicate::is_not_null("rn"),
        Predicate::eq("fn", Value::Int(3)),
        Predicate::is_null("gn"),
    ];
    for p in &predicates {
        for null_handling in [false, true] {
            if let Ok(e) = segment.evaluate(p, EvalOptions { null_handling }) {
                let docs: Vec<u32> = e.docs.iter().take(50).collect();
                let _ = segment.decode(COLUMNS, &docs, DecodeOptions { null_handling });
            }
        }
    }
    let _ = segment.decode_all(COLUMNS, DecodeOptions::default());
    let _ = segment.may_contain(
        "j",
        &cuvee_segments::Matcher::compile(
            &cuvee_segments::Leaf::Compare(cuvee_segments::CompareOp::Eq, Value::Json("x".into())),
            cuvee_catalog::DataType::Json,
        )
        .unwrap(),
    );
}

#[test]
fn damage_behind_valid_checksums_never_panics() {
    let good = segment_bytes();
    let intact = ImmutableSegment::from_bytes("t_0.cvs".into(), good.clone()).unwrap();
    let raw_codec = |name: &str| intact.column(name).unwrap().codec(cuvee_segments::format::SectionKind::ForwardRaw);
    let codecs = ["j", "m", "l4", "pt", "sn", "dl", "dd", "h"].map(raw_codec);
    let all = ["fsst", "zstd", "lz4", "none", "snappy", "delta", "deltadelta", "hex"].map(Some);
    assert_eq!(codecs, all, "every raw codec is damaged");
    let inverted = ["s", "u", "r"].map(|name| intact.column(name).unwrap().inverted.as_ref().map(|i| i.codec()));
    assert_eq!(inverted, ["gaps", "postings", "roaring"].map(Some), "every inverted codec is damaged");
    let mv_offsets = intact.column("tags").unwrap().codec(cuvee_segments::format::SectionKind::ForwardMvIds);
    assert_eq!(mv_offsets, Some("steps"), "multi-value offsets as steps are damaged");
    let nulls = ["fn", "hn", "gn", "rn"]
        .map(|name| intact.column(name).unwrap().codec(cuvee_segments::format::SectionKind::Nulls));
    assert_eq!(nulls, ["roaring", "bitset", "gaps", "gaps-of-not-null"].map(Some), "every nulls codec is damaged");
    let meta = intact.metadata().clone();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut opened, mut refused) = (0, 0);
    let rounds: usize = std::env::var("CUVEE_DAMAGE_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(600);
    for round in 0..rounds {
        let mut bytes = good.clone();
        let section = &meta.sections[round % meta.sections.len()];
        // Damage a few bytes, biased to the start of the section where headers and offset tables live.
        for _ in 0..1 + next() % 3 {
            let span = if next() % 2 == 0 { section.length.min(64) } else { section.length };
            let at = section.offset + next() % span.max(1);
            bytes[at as usize] = next() as u8;
        }
        reseal(&mut bytes);
        match ImmutableSegment::from_bytes("t_0.cvs".into(), bytes) {
            Ok(segment) => {
                opened += 1;
                exercise(&segment);
            }
            Err(_) => refused += 1,
        }
    }
    assert!(opened > 0 && refused > 0, "opened {opened}, refused {refused}");
}
