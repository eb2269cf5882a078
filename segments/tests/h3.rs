//! The H3 index answers geospatial leaves exactly: on random points (near the poles and
//! the antimeridian too), random distances and random areas, a sealed segment with the
//! index, one without it, consuming segments with and without it, and a test of every doc
//! all agree.

use cuvee_catalog::{Schema, Table, TableConfigJson, Value};
use cuvee_functions::Shape;
use cuvee_segments::geo_filter::{GeoMatcher, ShapeBytes};
use cuvee_segments::{
    Access, EvalOptions, FieldValue, ImmutableSegment, Leaf, MutableSegment, Predicate, SegmentBuilder, SegmentIdentity,
};
use geo::{Geometry, Point};
use proptest::prelude::*;
use std::sync::Arc;

fn table(h3: Option<u8>) -> Table {
    let schema =
        Schema::from_json(r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"loc","dataType":"BYTES"}]}"#).unwrap();
    let fields = match h3 {
        Some(r) => {
            format!(r#"[{{"name":"loc","encodingType":"RAW","indexType":"H3","properties":{{"resolutions":"{r}"}}}}]"#)
        }
        None => "[]".into(),
    };
    let config =
        TableConfigJson::from_json(&format!(r#"{{"tableName":"t","tableType":"OFFLINE","fieldConfigList":{fields}}}"#))
            .unwrap();
    Table::new(schema, config).unwrap()
}

fn geography(lon: f64, lat: f64) -> Vec<u8> {
    Shape { geometry: Geometry::Point(Point::new(lon, lat)), geography: true }.encode()
}

/// A row's value: mostly geography points, some nulls, geometries and non-shapes.
#[derive(Debug, Clone)]
enum Cell {
    Point(f64, f64),
    Null,
    Geometry(f64, f64),
    Junk(Vec<u8>),
}

impl Cell {
    fn field(&self) -> FieldValue {
        match self {
            Cell::Point(lon, lat) => FieldValue::Single(Value::Bytes(geography(*lon, *lat))),
            Cell::Null => FieldValue::Null,
            Cell::Geometry(x, y) => FieldValue::Single(Value::Bytes(
                Shape { geometry: Geometry::Point(Point::new(*x, *y)), geography: false }.encode(),
            )),
            Cell::Junk(bytes) => FieldValue::Single(Value::Bytes(bytes.clone())),
        }
    }
}

/// Points clustered around a centre (so queries hit), which may sit at a pole or on the
/// antimeridian.
fn cells() -> impl Strategy<Value = (f64, f64, Vec<Cell>)> {
    let centre =
        prop_oneof![(-180.0..180.0f64, -80.0..80.0f64), Just((179.9, 10.0)), Just((-122.4, 37.7)), Just((0.0, 89.9)),];
    centre.prop_flat_map(|(lon, lat)| {
        let cell = prop_oneof![
            8 => (-1.0..1.0f64, -1.0..1.0f64).prop_map(move |(dx, dy)| {
                let x = lon + dx;
                let x = if x > 180.0 { x - 360.0 } else if x < -180.0 { x + 360.0 } else { x };
                Cell::Point(x, (lat + dy).clamp(-90.0, 90.0))
            }),
            1 => Just(Cell::Null),
            1 => (-5.0..5.0f64, -5.0..5.0f64).prop_map(|(x, y)| Cell::Geometry(x, y)),
            1 => proptest::collection::vec(any::<u8>(), 0..20).prop_map(Cell::Junk),
        ];
        (Just(lon), Just(lat), proptest::collection::vec(cell, 1..400))
    })
}

fn sealed(table: &Table, rows: &[Cell]) -> ImmutableSegment {
    let mut builder = SegmentBuilder::new(table);
    for row in rows {
        builder.push(&[row.field()]).unwrap();
    }
    let bytes = builder.build(&SegmentIdentity { name: "t__0__0".into(), ..Default::default() }).unwrap();
    ImmutableSegment::from_bytes("t.cvs".into(), bytes).unwrap()
}

fn brute(rows: &[Cell], leaf: &Leaf) -> Vec<u32> {
    let matcher = match leaf {
        Leaf::WithinDistance { of, distance, inclusive } => GeoMatcher::near(&of.0, *distance, *inclusive).unwrap(),
        Leaf::Within(area) => GeoMatcher::within(&area.0).unwrap(),
        _ => unreachable!(),
    };
    let mut out = Vec::new();
    for (doc, row) in rows.iter().enumerate() {
        let value = match row.field() {
            FieldValue::Single(Value::Bytes(b)) => b,
            _ => Vec::new(),
        };
        if matcher.test(&value) {
            out.push(doc as u32);
        }
    }
    out
}

fn leaves(lon: f64, lat: f64, distance: f64, half: f64) -> Vec<Leaf> {
    let area = |geography: bool| {
        let text = format!(
            "POLYGON (({} {}, {} {}, {} {}, {} {}))",
            lon - half,
            lat - half,
            lon + half,
            lat - half / 2.0,
            lon,
            lat + half,
            lon - half,
            lat - half
        );
        Shape::from_text(&text, geography).unwrap().encode()
    };
    vec![
        Leaf::WithinDistance { of: ShapeBytes(geography(lon, lat)), distance, inclusive: false },
        Leaf::WithinDistance { of: ShapeBytes(geography(lon, lat)), distance, inclusive: true },
        Leaf::Within(ShapeBytes(area(true))),
        Leaf::Within(ShapeBytes(area(false))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn the_h3_index_agrees_with_testing_every_doc(
        (lon, lat, rows) in cells(),
        resolution in 0u8..10,
        distance in 0.0..150_000.0f64,
        half in 0.01..1.5f64,
    ) {
        let indexed = sealed(&table(Some(resolution)), &rows);
        let plain = sealed(&table(None), &rows);
        let consuming = Arc::new(MutableSegment::new(&table(None), "t__0__1"));
        let consuming_indexed = Arc::new(MutableSegment::new(&table(Some(resolution)), "t__0__2"));
        for row in &rows {
            consuming.append(&[row.field()]).unwrap();
            consuming_indexed.append(&[row.field()]).unwrap();
        }
        for leaf in leaves(lon, lat, distance, half) {
            let predicate = Predicate::Leaf { column: "loc".into(), leaf: leaf.clone(), negated: false };
            let expected = brute(&rows, &leaf);
            let with_index = indexed.evaluate(&predicate, EvalOptions::default()).unwrap();
            prop_assert_eq!(with_index.trace[0].access, Access::H3Index);
            prop_assert_eq!(with_index.docs.iter().collect::<Vec<_>>(), expected.clone(), "{:?}", leaf);
            let without = plain.evaluate(&predicate, EvalOptions::default()).unwrap();
            prop_assert_eq!(without.docs.iter().collect::<Vec<_>>(), expected.clone());
            let fresh = consuming.snapshot().evaluate(&predicate, EvalOptions::default()).unwrap();
            prop_assert_eq!(fresh.docs.iter().collect::<Vec<_>>(), expected.clone());
            let fresh_indexed = consuming_indexed.snapshot().evaluate(&predicate, EvalOptions::default()).unwrap();
            prop_assert_eq!(fresh_indexed.trace[0].access, Access::H3Index);
            prop_assert_eq!(fresh_indexed.docs.iter().collect::<Vec<_>>(), expected);
        }
    }
}

#[test]
fn whole_cells_are_taken_without_reading_values() {
    // A dense patch of points and a radius far larger than a cell: most cells are inside.
    let rows: Vec<Cell> =
        (0..2000).map(|i| Cell::Point(-122.4 + (i % 40) as f64 * 0.002, 37.7 + (i / 40) as f64 * 0.002)).collect();
    let segment = sealed(&table(Some(9)), &rows);
    let column = segment.column("loc").unwrap();
    let index = column.h3.as_ref().unwrap();
    let matcher = GeoMatcher::near(&geography(-122.36, 37.75), 3_000.0, false).unwrap();
    let shown = format!(
        "{:?}",
        Leaf::WithinDistance { of: ShapeBytes(geography(-122.36, 37.75)), distance: 3e3, inclusive: false }
    );
    assert!(shown.contains("of: geography POINT (-122.36 37.75)"), "{shown}");
    let carried = serde_json::to_string(&Leaf::Within(ShapeBytes(vec![0x80, 1]))).unwrap();
    assert_eq!(carried, r#"{"Within":"8001"}"#);
    assert_eq!(serde_json::from_str::<Leaf>(&carried).unwrap(), Leaf::Within(ShapeBytes(vec![0x80, 1])));
    let (mut whole, mut tested) = (0, 0);
    for i in 0..index.len() {
        let (cell, docs) = index.cell(i).unwrap();
        match matcher.cover(cell) {
            cuvee_segments::geo_filter::Cover::All => whole += docs.len(),
            cuvee_segments::geo_filter::Cover::Some => tested += docs.len(),
            cuvee_segments::geo_filter::Cover::None => {}
        }
    }
    // The circle holds about a third of the patch; its rim is a thin ring of cells.
    assert!(whole > 2 * tested && whole > 400, "{whole} docs taken whole, {tested} tested");
    assert!(index.unplaced().unwrap().is_empty());
}

#[test]
fn a_geospatial_leaf_on_another_type_is_refused() {
    let schema =
        Schema::from_json(r#"{"schemaName":"t","dimensionFieldSpecs":[{"name":"s","dataType":"STRING"}]}"#).unwrap();
    let table =
        Table::new(schema, TableConfigJson::from_json(r#"{"tableName":"t","tableType":"OFFLINE"}"#).unwrap()).unwrap();
    let segment = {
        let mut builder = SegmentBuilder::new(&table);
        builder.push(&[FieldValue::Single(Value::String("x".into()))]).unwrap();
        let bytes = builder.build(&SegmentIdentity { name: "t__0__0".into(), ..Default::default() }).unwrap();
        ImmutableSegment::from_bytes("t.cvs".into(), bytes).unwrap()
    };
    let leaf = Leaf::WithinDistance { of: ShapeBytes(geography(0.0, 0.0)), distance: 1.0, inclusive: false };
    let error = segment
        .evaluate(&Predicate::Leaf { column: "s".into(), leaf, negated: false }, EvalOptions::default())
        .unwrap_err();
    assert!(error.to_string().contains("needs a BYTES column, not STRING"), "{error}");
    let bad = Leaf::Within(ShapeBytes(vec![42]));
    let error =
        segment.evaluate(&Predicate::Leaf { column: "s".into(), leaf: bad, negated: false }, EvalOptions::default());
    assert!(error.is_err());
}
