//! Golden segment files, one per format version (`tests/golden/v<N>.cvs`), all built from the
//! same rows. Every one must keep opening and answering the same after any change, and the
//! writer must reproduce the newest byte for byte. If the writer's output changes on purpose:
//! a layout change bumps `FORMAT_VERSION` and adds a file; a change that old readers can
//! still read regenerates the newest file
//! (`cargo test -p cuvee-segments --test golden -- --ignored write_golden`).

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_segments::{
    DecodeOptions, EvalOptions, FieldValue, ImmutableSegment, Predicate, SegmentBuilder, SegmentIdentity,
};
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn builder() -> SegmentBuilder {
    let schema = Schema::from_json(
        r#"{"schemaName":"golden","dimensionFieldSpecs":[
              {"name":"s","dataType":"STRING"},{"name":"i","dataType":"INT"},{"name":"b","dataType":"BOOLEAN"},
              {"name":"tags","dataType":"STRING","singleValueField":false},{"name":"j","dataType":"JSON"},
              {"name":"bytes","dataType":"BYTES"},{"name":"dec","dataType":"BIG_DECIMAL"},{"name":"f","dataType":"FLOAT"},{"name":"u","dataType":"STRING"},
              {"name":"loc","dataType":"BYTES"},{"name":"g","dataType":"STRING"},{"name":"h","dataType":"STRING"},
              {"name":"half","dataType":"INT"},{"name":"rare","dataType":"STRING"}],
            "metricFieldSpecs":[{"name":"m","dataType":"LONG"},{"name":"d","dataType":"DOUBLE"},
              {"name":"seq","dataType":"LONG"},{"name":"step","dataType":"INT"}],
            "dateTimeFieldSpecs":[{"name":"ts","dataType":"TIMESTAMP","format":"1:MILLISECONDS:TIMESTAMP","granularity":"1:SECONDS"}]}"#,
    )
    .unwrap();
    let config = TableConfigJson::from_json(
        r#"{"tableName":"golden","tableType":"OFFLINE","segmentsConfig":{"timeColumnName":"ts"},
            "tableIndexConfig":{"invertedIndexColumns":["i","tags","m","u","g"],"sortedColumn":["s"],"rangeIndexColumns":["m","ts"],
              "bloomFilterColumns":["s","j"],"noDictionaryColumns":["j","d"],
              "optimizeDictionary":true},
            "fieldConfigList":[{"name":"loc","encodingType":"RAW","indexType":"H3","properties":{"resolutions":"7"},"compressionCodec":"SNAPPY"},
              {"name":"d","encodingType":"RAW","compressionCodec":"LZ4"},
              {"name":"seq","encodingType":"RAW","compressionCodec":"DELTA"},
              {"name":"step","encodingType":"RAW","compressionCodec":"DELTADELTA"}]}"#,
    )
    .unwrap();
    let table = Table::new(schema, config).unwrap();
    let mut builder = SegmentBuilder::new(&table);
    for k in 0..2100i64 {
        let row = vec![
            FieldValue::Single(Value::String(format!("s{:02}", k % 13))),
            if k % 50 == 0 { FieldValue::Null } else { FieldValue::Single(Value::Int((k % 7) as i32 - 3)) },
            FieldValue::Single(Value::Boolean(k % 2 == 0)),
            FieldValue::Multi((0..k % 4).map(|t| Value::String(format!("t{t}"))).collect()),
            FieldValue::Single(Value::Json(format!(r#"{{"k":{k}}}"#))),
            FieldValue::Single(Value::Bytes(vec![(k % 256) as u8, 7])),
            FieldValue::Single(Value::BigDecimal(format!("{}.{}", k % 11, k % 3))),
            FieldValue::Single(Value::Float(k as f32 / 4.0)),
            FieldValue::Single(Value::String(format!("u{:05}", k * 7 % 2099))),
            if k % 100 == 0 { FieldValue::Null } else { FieldValue::Single(Value::Bytes(geography_point(k))) },
            // From version 8; a function of the sorted column, so its docs are runs.
            FieldValue::Single(Value::String(format!("g{}", k % 13 / 4))),
            // From version 9: nearly unique hex ids, nulls among them.
            if k % 100 == 0 { FieldValue::Null } else { FieldValue::Single(Value::String(hex_id(k))) },
            // From version 10: null in about half the docs (a bitset), and in nearly every doc
            // (the others as gaps; the null docs as gaps win only in larger segments).
            if half_null(k) { FieldValue::Null } else { FieldValue::Single(Value::Int(k as i32)) },
            if k % 20 == 0 { FieldValue::Single(Value::String(format!("r{k}"))) } else { FieldValue::Null },
            FieldValue::Single(Value::Long(k * 1000)),
            FieldValue::Single(Value::Double(k as f64 * 0.5)),
            FieldValue::Single(Value::Long(seq(k))),
            FieldValue::Single(Value::Int(step(k))),
            FieldValue::Single(Value::Timestamp(1_600_000_000_000 + k * 60_000)),
        ];
        builder.push(&row).unwrap();
    }
    builder
}

fn half_null(k: i64) -> bool {
    (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 63 == 1
}

fn hex_id(k: i64) -> String {
    format!("{:016x}", (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A counter with uneven steps that runs past the largest LONG (its values and differences wrap).
fn seq(k: i64) -> i64 {
    (i64::MAX - 1_000_000).wrapping_add(k * 1_000 + k % 7)
}

/// Values that go down as well as up.
fn step(k: i64) -> i32 {
    ((k * 37 % 1001) - 500) as i32
}

/// A grid of points about 1 km apart near San José, in Pinot's geography serialisation.
fn geography_point(k: i64) -> Vec<u8> {
    let (lon, lat) = (-122.0 + (k % 50) as f64 * 0.01, 37.0 + (k / 50) as f64 * 0.01);
    let mut out = vec![0x80];
    out.extend_from_slice(&lon.to_be_bytes());
    out.extend_from_slice(&lat.to_be_bytes());
    out
}

fn identity() -> SegmentIdentity {
    SegmentIdentity {
        name: "golden__0__0__20201001T0000Z".into(),
        partition: Some(0),
        start_offset: Some(0),
        end_offset: Some(2100),
        creation_time_ms: 1_600_000_000_000,
    }
}

fn newest() -> PathBuf {
    golden_dir().join(format!("v{}.cvs", cuvee_segments::format::FORMAT_VERSION))
}

#[test]
fn every_golden_segment_still_reads() {
    for version in 1..=cuvee_segments::format::FORMAT_VERSION {
        check_golden(version);
    }
}

fn check_golden(version: u32) {
    let segment = ImmutableSegment::open(&golden_dir().join(format!("v{version}.cvs"))).unwrap();
    assert_eq!(segment.num_docs(), 2100);
    assert_eq!(segment.metadata().format_version, version);
    assert_eq!(segment.metadata().bounds.end_offset, Some(2100));
    assert_eq!(segment.metadata().bounds.start_time_ms, Some(1_600_000_000_000));
    let options = EvalOptions::default();
    let count = |p: Predicate| segment.evaluate(&p, options).unwrap().docs.len();
    assert_eq!(count(Predicate::eq("s", Value::String("s03".into()))), 162);
    assert_eq!(count(Predicate::eq("i", Value::Int(0))), 294);
    assert_eq!(count(Predicate::is_null("i")), 42);
    assert_eq!(count(Predicate::eq("tags", Value::String("t2".into()))), 525);
    assert_eq!(count(Predicate::between("m", Value::Long(1000), Value::Long(5000))), 5);
    assert_eq!(count(Predicate::eq("j", Value::Json(r#"{"k":7}"#.into()))), 1);
    assert_eq!(count(Predicate::compare("dec", cuvee_segments::CompareOp::Ge, Value::BigDecimal("10".into()))), 190);
    assert_eq!(count(Predicate::like("s", "s1%")), 3 * 161);
    assert_eq!(count(Predicate::eq("m", Value::Long(7000))), 1);
    assert_eq!(count(Predicate::eq("ts", Value::Timestamp(1_600_000_000_000 + 5 * 60_000))), 1);
    let batch = segment.decode(&["s", "d", "tags", "m", "ts"], &[0, 2099], DecodeOptions::default()).unwrap();
    assert_eq!(batch.num_rows(), 2);
    if version >= 3 {
        // The newest file holds every codec the writer chooses between, but for the plain
        // posting lists: from version 8 gaps are smaller at this size (2,100 docs; plain
        // lists win only for unique values over many blocks of 1,024 docs).
        let codecs = |name: &str| {
            let column = segment.column(name).unwrap();
            (column.dictionary.map(|d| d.codec()), column.inverted.as_ref().map(|i| i.codec()))
        };
        let smallest = |before: &'static str| Some(if version >= 8 { "gaps" } else { before });
        assert_eq!(codecs("m"), (Some("packed"), smallest("postings")));
        assert_eq!(codecs("i"), (Some("plain"), smallest("roaring")));
        // Strings of one length: offsets on a line, 0 bits each.
        assert_eq!(codecs("s"), (Some("packed"), None));
        assert_eq!(codecs("u"), (Some("packed"), smallest("postings")));
        assert_eq!(codecs("tags").1, smallest("roaring"));
        if version >= 8 {
            assert_eq!(codecs("g").1, Some("roaring"));
            let in_g1 = (0..2100).filter(|k| k % 13 / 4 == 1).count() as u64;
            assert_eq!(count(Predicate::eq("g", Value::String("g1".into()))), in_g1);
            assert_eq!(count(Predicate::eq("i", Value::Int(-3))), 294);
        }
        // Nearly unique, no index needing ids, smaller raw, and optimizeDictionary: stored raw.
        assert_eq!(codecs("f"), (None, None));
        assert_eq!(count(Predicate::eq("u", Value::String("u00014".into()))), 1);
        assert!(matches!(
            segment.column("s").unwrap().sorted,
            Some(cuvee_segments::bitmap_index::SortedIndex::Starts(_))
        ));
    }
    if version >= 5 {
        // JSON text kept raw (noDictionaryColumns) is coded value by value; doubles stay in
        // zstd chunks. Both read a doc alone and answer equality.
        let raw_codec =
            |name: &str| segment.column(name).unwrap().codec(cuvee_segments::format::SectionKind::ForwardRaw);
        assert_eq!(raw_codec("j"), Some("fsst"));
        assert_eq!(raw_codec("d"), Some(if version >= 6 { "lz4" } else { "zstd" }));
        let all: Vec<u32> = (0..2100).collect();
        let batch = segment.decode(&["j"], &all, DecodeOptions::default()).unwrap();
        let json = batch.column(0).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        let mut values: Vec<&str> = json.iter().flatten().collect();
        values.sort_by_key(|v| v[5..v.len() - 1].parse::<u32>().unwrap());
        assert_eq!(values, (0..2100).map(|k| format!(r#"{{"k":{k}}}"#)).collect::<Vec<_>>());
        assert_eq!(count(Predicate::like("j", "%:20__}")), 100);
    }
    if version >= 6 {
        // The block codecs a field config names (`compressionCodec`), every doc read back.
        let raw_codec =
            |name: &str| segment.column(name).unwrap().codec(cuvee_segments::format::SectionKind::ForwardRaw);
        assert_eq!((raw_codec("d"), raw_codec("loc"), raw_codec("f")), (Some("lz4"), Some("snappy"), Some("zstd")));
        let all: Vec<u32> = (0..2100).collect();
        let batch = segment.decode(&["d", "loc"], &all, DecodeOptions::default()).unwrap();
        // Docs are in the sorted column's order: compare the values as sets.
        let d = batch.column(0).as_any().downcast_ref::<arrow_array::Float64Array>().unwrap();
        let mut halves: Vec<i64> = d.values().iter().map(|v| (v * 2.0) as i64).collect();
        halves.sort_unstable();
        assert!(halves == (0..2100).collect::<Vec<_>>(), "every double read back");
        let loc = batch.column(1).as_any().downcast_ref::<arrow_array::BinaryArray>().unwrap();
        // Without null handling a null reads as the default value, empty bytes.
        let mut points: Vec<&[u8]> = loc.iter().flatten().filter(|p| !p.is_empty()).collect();
        points.sort_unstable();
        let mut expected: Vec<Vec<u8>> = (0..2100).filter(|k| k % 100 != 0).map(geography_point).collect();
        expected.sort_unstable();
        assert!(points == expected.iter().map(Vec::as_slice).collect::<Vec<_>>(), "every point read back");
    }
    if version >= 7 {
        // Differences (DELTA) and differences of differences (DELTADELTA), every doc read back.
        let raw_codec =
            |name: &str| segment.column(name).unwrap().codec(cuvee_segments::format::SectionKind::ForwardRaw);
        assert_eq!((raw_codec("seq"), raw_codec("step")), (Some("delta"), Some("deltadelta")));
        let all: Vec<u32> = (0..2100).collect();
        let batch = segment.decode(&["seq", "step"], &all, DecodeOptions::default()).unwrap();
        let seqs = batch.column(0).as_any().downcast_ref::<arrow_array::Int64Array>().unwrap();
        let steps = batch.column(1).as_any().downcast_ref::<arrow_array::Int32Array>().unwrap();
        // Docs are in the sorted column's order: compare the (seq, step) pairs as sets.
        let mut pairs: Vec<(i64, i32)> = seqs.values().iter().copied().zip(steps.values().iter().copied()).collect();
        pairs.sort_unstable();
        let mut expected: Vec<(i64, i32)> = (0..2100).map(|k| (seq(k), step(k))).collect();
        expected.sort_unstable();
        assert!(pairs == expected, "every value read back");
        assert_eq!(count(Predicate::eq("seq", Value::Long(seq(1234)))), 1);
        let near_zero = (0..2100).filter(|&k| (-10..=10).contains(&step(k))).count() as u64;
        assert_eq!(count(Predicate::between("step", Value::Int(-10), Value::Int(10))), near_zero);
    }
    if version >= 9 {
        // Hex ids as the bytes their digits spell; a null's stand-in is an exception.
        let raw_codec =
            |name: &str| segment.column(name).unwrap().codec(cuvee_segments::format::SectionKind::ForwardRaw);
        assert_eq!(raw_codec("h"), Some("hex"));
        assert_eq!(count(Predicate::eq("h", Value::String(hex_id(1234)))), 1);
        assert_eq!(count(Predicate::is_in("h", (1..40).map(|k| Value::String(hex_id(k))).collect())), 39);
        assert_eq!(count(Predicate::eq("h", Value::String(hex_id(1234).to_uppercase()))), 0);
        assert_eq!(
            count(Predicate::like("h", "%00")),
            (1..2100).filter(|&k| k % 100 != 0 && hex_id(k).ends_with("00")).count() as u64
        );
        let all: Vec<u32> = (0..2100).collect();
        let batch = segment.decode(&["h"], &all, DecodeOptions::default()).unwrap();
        let h = batch.column(0).as_any().downcast_ref::<arrow_array::StringArray>().unwrap();
        let mut values: Vec<&str> = h.iter().flatten().collect();
        values.sort_unstable();
        let mut expected: Vec<String> =
            (0..2100).map(|k| if k % 100 == 0 { "null".into() } else { hex_id(k) }).collect();
        expected.sort_unstable();
        assert!(values == expected, "every id read back");
    }
    {
        // Nulls: roaring, from version 10 the smallest of it, a bitset and gaps (42 nulls are
        // smaller in roaring's array than in a block of 128 gaps).
        let nulls_codec = |name: &str| segment.column(name).unwrap().codec(cuvee_segments::format::SectionKind::Nulls);
        assert_eq!(nulls_codec("i"), Some("roaring"));
        if version >= 10 {
            assert_eq!(count(Predicate::is_null("loc")), 21);
            assert_eq!(nulls_codec("half"), Some("bitset"));
            assert_eq!(nulls_codec("rare"), Some("gaps-of-not-null"));
            let halves = (0..2100).filter(|&k| half_null(k)).count() as u64;
            assert_eq!(count(Predicate::is_null("half")), halves);
            assert_eq!(count(Predicate::is_not_null("half")), 2100 - halves);
            assert_eq!(count(Predicate::is_null("rare")), 2100 - 105);
            assert_eq!(count(Predicate::eq("rare", Value::String("r80".into()))), 1);
        }
    }
    if version >= 3 {
        // Multi-value offsets: residuals above a line, from version 9 each doc's value count.
        let mv_offsets = segment.column("tags").unwrap().codec(cuvee_segments::format::SectionKind::ForwardMvIds);
        assert_eq!(mv_offsets, Some(if version >= 9 { "steps" } else { "ascending" }));
        let all: Vec<u32> = (0..2100).collect();
        let batch = segment.decode(&["tags"], &all, DecodeOptions::default()).unwrap();
        let tags = batch.column(0).as_any().downcast_ref::<arrow_array::ListArray>().unwrap();
        let mut counts = [0usize; 4];
        for doc in 0..arrow_array::Array::len(tags) {
            counts[tags.value_length(doc) as usize] += 1;
        }
        // 0–3 tags a doc; an empty list is stored as the default value, as in Pinot.
        assert_eq!(counts, [0, 1050, 525, 525]);
    }
    if version >= 4 {
        // Within 3 km of a grid point, through the H3 index.
        let near = Predicate::Leaf {
            column: "loc".into(),
            leaf: cuvee_segments::Leaf::WithinDistance {
                of: cuvee_segments::geo_filter::ShapeBytes(geography_point(1010)),
                distance: 3000.0,
                inclusive: false,
            },
            negated: false,
        };
        let evaluation = segment.evaluate(&near, options).unwrap();
        assert_eq!(evaluation.trace[0].access, cuvee_segments::Access::H3Index);
        assert_eq!(evaluation.docs.len(), GOLDEN_NEAR);
    }
}

/// Docs within 3 km of point 1010 (checked by testing every doc when the file was written).
const GOLDEN_NEAR: u64 = 31;

#[test]
fn the_writer_still_produces_the_golden_bytes() {
    let golden = std::fs::read(newest()).unwrap();
    let built = builder().build(&identity()).unwrap();
    assert!(built == golden, "the segment writer's output changed: if on purpose, see this file's docs");
}

#[test]
#[ignore]
fn write_golden() {
    let bytes = builder().build(&identity()).unwrap();
    std::fs::write(newest(), bytes).unwrap();
}
