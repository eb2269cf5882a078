//! Pinot's geospatial functions. A shape travels as BYTES in Pinot's serialisation
//! ([`Shape::encode`]), flagged as a *geometry* (planar x/y) or a *geography* (longitude and
//! latitude in degrees on a sphere). Geography distances and areas are in metres on Pinot's
//! sphere ([`sphere`]); containment and equality are planar for both, as Pinot's (JTS's)
//! are. Names answer with and without the underscore (`ST_Point` and `stPoint`), as Pinot's
//! name matching ignores underscores.

mod encoding;
pub mod sphere;
mod text;

use crate::error::{FunctionError, Result};
use crate::{Datum, Function, Returns};
use geo::{Area, Coord, Distance, Euclidean, Geometry, Point, Relate};

/// A geometry, or a geography when `geography` is set (Pinot's SRID 4326 flag). The empty
/// point is a point of NaN coordinates, as in Pinot's serialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    pub geometry: Geometry,
    pub geography: bool,
}

impl Shape {
    /// Reads Pinot's serialisation; anything else is an error saying what is wrong.
    pub fn decode(bytes: &[u8]) -> Result<Shape> {
        encoding::decode(bytes)
    }

    pub fn encode(&self) -> Vec<u8> {
        encoding::encode(self)
    }

    /// Parses well-known text.
    pub fn from_text(text: &str, geography: bool) -> Result<Shape> {
        use std::str::FromStr;
        let parsed = wkt::Wkt::<f64>::from_str(text)
            .map_err(|e| FunctionError::InvalidArgument(format!("\"{text}\" is not well-known text: {e}")))?;
        if let wkt::Wkt::Point(point) = &parsed {
            if point.coord().is_none() {
                return Ok(Shape { geometry: Geometry::Point(Point::new(f64::NAN, f64::NAN)), geography });
            }
        }
        let geometry = Geometry::try_from(parsed)
            .map_err(|e| FunctionError::InvalidArgument(format!("\"{text}\" is not a supported shape: {e}")))?;
        Ok(Shape { geometry, geography })
    }

    /// Well-known text, as Pinot's `ST_AsText` writes it.
    pub fn to_text(&self) -> String {
        text::write(&self.geometry)
    }

    /// The coordinates of a non-empty point.
    pub fn point(&self) -> Option<Coord> {
        match &self.geometry {
            Geometry::Point(p) if !p.x().is_nan() && !p.y().is_nan() => Some(p.0),
            _ => None,
        }
    }

    /// Pinot's `ST_Distance`: metres along the sphere between two geography points, or the
    /// planar distance between two geometries (NaN when either is empty).
    pub fn distance(&self, other: &Shape) -> Result<f64> {
        if self.geography != other.geography {
            return Err("ST_Distance: both arguments must be geometries, or both geographies".into());
        }
        if self.geography {
            let (Some(a), Some(b)) = (self.point(), other.point()) else {
                return Err("ST_Distance: a geography distance is between two points".into());
            };
            return sphere::distance_m(a, b);
        }
        if is_empty(&self.geometry) || is_empty(&other.geometry) {
            return Ok(f64::NAN);
        }
        Ok(Euclidean.distance(&self.geometry, &other.geometry))
    }

    /// Pinot's `ST_Contains`: no point of `other` outside this shape, and an interior point
    /// in common (planar, for geographies too).
    pub fn contains(&self, other: &Shape) -> bool {
        !is_empty(&self.geometry) && !is_empty(&other.geometry) && self.geometry.relate(&other.geometry).is_contains()
    }

    /// Pinot's `ST_Equals`: the same point set.
    pub fn equals(&self, other: &Shape) -> bool {
        match (is_empty(&self.geometry), is_empty(&other.geometry)) {
            (true, true) => true,
            (false, false) => self.geometry.relate(&other.geometry).is_equal_topo(),
            _ => false,
        }
    }

    /// Pinot's `ST_Area`: square metres on the sphere for a geography, planar otherwise.
    pub fn area(&self) -> f64 {
        if self.geography {
            sphere::area_m2(&self.geometry)
        } else {
            self.geometry.unsigned_area()
        }
    }

    /// JTS's name of the shape's type (`Point`, `MultiPolygon`…).
    pub fn type_name(&self) -> &'static str {
        match &self.geometry {
            Geometry::Point(_) => "Point",
            Geometry::MultiPoint(_) => "MultiPoint",
            Geometry::Line(_) | Geometry::LineString(_) => "LineString",
            Geometry::MultiLineString(_) => "MultiLineString",
            Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
            Geometry::MultiPolygon(_) => "MultiPolygon",
            Geometry::GeometryCollection(_) => "GeometryCollection",
        }
    }
}

fn is_empty(geometry: &Geometry) -> bool {
    match geometry {
        Geometry::Point(p) => p.x().is_nan() || p.y().is_nan(),
        Geometry::MultiPoint(g) => g.0.is_empty(),
        Geometry::LineString(g) => g.0.is_empty(),
        Geometry::MultiLineString(g) => g.0.iter().all(|l| l.0.is_empty()),
        Geometry::Polygon(g) => g.exterior().0.is_empty(),
        Geometry::MultiPolygon(g) => g.0.iter().all(|p| p.exterior().0.is_empty()),
        Geometry::GeometryCollection(g) => g.0.iter().all(is_empty),
        Geometry::Line(_) | Geometry::Rect(_) | Geometry::Triangle(_) => false,
    }
}

/// The H3 cell of a longitude/latitude at a resolution (0–15), as Pinot's `geoToH3`.
pub fn h3_cell(lon: f64, lat: f64, resolution: i64) -> Result<u64> {
    let resolution = u8::try_from(resolution)
        .ok()
        .and_then(|r| h3o::Resolution::try_from(r).ok())
        .ok_or_else(|| FunctionError::InvalidArgument(format!("H3 resolution {resolution} is not between 0 and 15")))?;
    let point = h3o::LatLng::new(lat, lon)
        .map_err(|e| FunctionError::InvalidArgument(format!("({lon}, {lat}) is not a longitude and latitude: {e}")))?;
    Ok(u64::from(point.to_cell(resolution)))
}

macro_rules! geo {
    ($name:literal, $min:literal, $max:literal, $returns:expr, $body:expr) => {
        function!($name, $min, $max, $returns, $body, strict: true, sql: true)
    };
}

pub(crate) static FUNCTIONS: &[Function] = &[
    geo!("st_point", 2, 3, Returns::Bytes, st_point),
    geo!("stpoint", 2, 3, Returns::Bytes, st_point),
    geo!("st_polygon", 1, 1, Returns::Bytes, st_polygon),
    geo!("stpolygon", 1, 1, Returns::Bytes, st_polygon),
    geo!("st_geomfromtext", 1, 1, Returns::Bytes, |_, a| from_text(&a[0], false)),
    geo!("stgeomfromtext", 1, 1, Returns::Bytes, |_, a| from_text(&a[0], false)),
    geo!("st_geogfromtext", 1, 1, Returns::Bytes, |_, a| from_text(&a[0], true)),
    geo!("stgeogfromtext", 1, 1, Returns::Bytes, |_, a| from_text(&a[0], true)),
    geo!("st_astext", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(shape(&a[0])?.to_text()))),
    geo!("stastext", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(shape(&a[0])?.to_text()))),
    geo!("st_geometrytype", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(shape(&a[0])?.type_name().into()))),
    geo!("stgeometrytype", 1, 1, Returns::Text, |_, a| Ok(Datum::Text(shape(&a[0])?.type_name().into()))),
    geo!("tosphericalgeography", 1, 1, Returns::Bytes, |_, a| flagged(&a[0], true)),
    geo!("togeometry", 1, 1, Returns::Bytes, |_, a| flagged(&a[0], false)),
    geo!("st_distance", 2, 2, Returns::Double, |_, a| Ok(Datum::Double(shape(&a[0])?.distance(&shape(&a[1])?)?))),
    geo!("stdistance", 2, 2, Returns::Double, |_, a| Ok(Datum::Double(shape(&a[0])?.distance(&shape(&a[1])?)?))),
    geo!("st_contains", 2, 2, Returns::Long, |_, a| truth(shape(&a[0])?.contains(&shape(&a[1])?))),
    geo!("stcontains", 2, 2, Returns::Long, |_, a| truth(shape(&a[0])?.contains(&shape(&a[1])?))),
    geo!("st_within", 2, 2, Returns::Long, |_, a| truth(shape(&a[1])?.contains(&shape(&a[0])?))),
    geo!("stwithin", 2, 2, Returns::Long, |_, a| truth(shape(&a[1])?.contains(&shape(&a[0])?))),
    geo!("st_equals", 2, 2, Returns::Long, |_, a| truth(shape(&a[0])?.equals(&shape(&a[1])?))),
    geo!("stequals", 2, 2, Returns::Long, |_, a| truth(shape(&a[0])?.equals(&shape(&a[1])?))),
    geo!("st_area", 1, 1, Returns::Double, |_, a| Ok(Datum::Double(shape(&a[0])?.area()))),
    geo!("starea", 1, 1, Returns::Double, |_, a| Ok(Datum::Double(shape(&a[0])?.area()))),
    geo!("geotoh3", 2, 3, Returns::Long, geo_to_h3),
];

/// An argument as a shape: BYTES, or hex text (a BYTES value from a JSON record).
fn shape(datum: &Datum) -> Result<Shape> {
    Shape::decode(&datum.as_bytes()?)
}

/// Pinot's `ST_Contains` and kin answer 1 or 0.
fn truth(b: bool) -> Result<Datum> {
    Ok(Datum::Long(i64::from(b)))
}

fn st_point(_: &str, a: &[Datum]) -> Result<Datum> {
    let geography = match a.get(2) {
        None => false,
        Some(Datum::Bool(b)) => *b,
        Some(flag) => flag.as_long()? > 0,
    };
    let point = Point::new(a[0].as_double()?, a[1].as_double()?);
    Ok(Datum::Bytes(Shape { geometry: Geometry::Point(point), geography }.encode()))
}

fn st_polygon(_: &str, a: &[Datum]) -> Result<Datum> {
    let shape = Shape::from_text(&a[0].as_text(), false)?;
    if !matches!(shape.geometry, Geometry::Polygon(_)) {
        return Err(format!("ST_Polygon: \"{}\" is not a polygon", a[0].as_text()).into());
    }
    Ok(Datum::Bytes(shape.encode()))
}

fn from_text(text: &Datum, geography: bool) -> Result<Datum> {
    Ok(Datum::Bytes(Shape::from_text(&text.as_text(), geography)?.encode()))
}

fn flagged(datum: &Datum, geography: bool) -> Result<Datum> {
    let mut shape = shape(datum)?;
    shape.geography = geography;
    Ok(Datum::Bytes(shape.encode()))
}

/// `geoToH3(longitude, latitude, resolution)` or `geoToH3(point, resolution)`.
fn geo_to_h3(_: &str, a: &[Datum]) -> Result<Datum> {
    let (lon, lat, resolution) = match a {
        [point, resolution] => {
            let c = shape(point)?.point().ok_or("geoToH3: the shape is not a point")?;
            (c.x, c.y, resolution)
        }
        [lon, lat, resolution] => (lon.as_double()?, lat.as_double()?, resolution),
        _ => return Err("geoToH3 takes a point or a longitude and a latitude, then a resolution".into()),
    };
    let cell = h3_cell(lon, lat, resolution.as_long()?)?;
    Ok(Datum::Long(i64::try_from(cell).unwrap_or(i64::MAX)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup;

    fn call(name: &str, args: &[Datum]) -> Result<Datum> {
        lookup(name)?.call(args)
    }

    fn text(s: &str) -> Datum {
        Datum::Text(s.into())
    }

    fn bytes(datum: Result<Datum>) -> Vec<u8> {
        match datum.unwrap() {
            Datum::Bytes(b) => b,
            other => panic!("not bytes: {other:?}"),
        }
    }

    #[test]
    fn points_serialise_as_pinot_does() {
        // Pinot's bytes for toSphericalGeography(stPoint(-122.4194, 37.7749)): the type byte
        // with the geography bit, then x and y as big-endian doubles.
        let point = bytes(call(
            "toSphericalGeography",
            &[call("stPoint", &[Datum::Double(-122.4194), Datum::Double(37.7749)]).unwrap()],
        ));
        let mut expected = vec![0x80];
        expected.extend_from_slice(&(-122.4194f64).to_be_bytes());
        expected.extend_from_slice(&37.7749f64.to_be_bytes());
        assert_eq!(point, expected);
        assert_eq!(bytes(call("ST_Point", &[Datum::Long(1), Datum::Long(2), Datum::Long(1)])), {
            let mut e = vec![0x80];
            e.extend_from_slice(&1f64.to_be_bytes());
            e.extend_from_slice(&2f64.to_be_bytes());
            e
        });
        let geometry = bytes(call("toGeometry", &[Datum::Bytes(point)]));
        assert_eq!(geometry[0], 0);
        // A BYTES value from a JSON record arrives as hex.
        let hex = cuvee_catalog::value::encode_hex(&geometry);
        assert_eq!(call("ST_AsText", &[text(&hex)]).unwrap(), text("POINT (-122.4194 37.7749)"));
    }

    #[test]
    fn text_round_trips_through_pinots_bytes() {
        for wkt in [
            "POINT (1 2)",
            "POINT EMPTY",
            "MULTIPOINT ((1 2), (3 4))",
            "LINESTRING (0 0, 1 1, 2 3)",
            "LINESTRING EMPTY",
            "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))",
            "POLYGON ((0 0, 0 4, 4 4, 4 0, 0 0), (1 1, 2 1, 2 2, 1 2, 1 1))",
            "MULTIPOLYGON (((0 0, 0 1, 1 1, 1 0, 0 0)), ((5 5, 5 6, 6 6, 6 5, 5 5)))",
            "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))",
        ] {
            let serialised = call("ST_GeomFromText", &[text(wkt)]).unwrap();
            assert_eq!(call("ST_AsText", std::slice::from_ref(&serialised)).unwrap(), text(wkt), "{wkt}");
            let again = Shape::decode(&bytes(Ok(serialised.clone()))).unwrap().encode();
            assert_eq!(Datum::Bytes(again), serialised, "{wkt}: encoding is stable");
        }
        // A shell written counter-clockwise is stored clockwise, so the reader finds it.
        let ccw = call("ST_GeomFromText", &[text("POLYGON ((0 0, 4 0, 4 4, 0 4, 0 0))")]).unwrap();
        assert_eq!(call("ST_AsText", &[ccw]).unwrap(), text("POLYGON ((0 0, 0 4, 4 4, 4 0, 0 0))"));
    }

    #[test]
    fn hostile_bytes_are_errors_not_panics() {
        for bad in [
            &[][..],
            &[9][..],
            &[0, 1, 2][..],
            &[1, 0x7f, 0xff, 0xff, 0xff][..],
            &[2, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0][..],
            &[4, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0][..],
            &[6, 6][..],
        ] {
            let error = Shape::decode(bad).unwrap_err().to_string();
            assert!(error.starts_with("not a serialised geometry"), "{bad:?}: {error}");
        }
        assert!(call("ST_AsText", &[text("zz")]).unwrap_err().to_string().contains("not hex-encoded bytes"));
        assert!(call("ST_GeomFromText", &[text("POINT (1")]).unwrap_err().to_string().contains("not well-known text"));
    }

    #[test]
    fn distances_relations_and_areas() {
        let geog = |wkt: &str| call("ST_GeogFromText", &[text(wkt)]).unwrap();
        let geom = |wkt: &str| call("ST_GeomFromText", &[text(wkt)]).unwrap();
        let Datum::Double(d) = call("ST_Distance", &[geog("POINT (0 0)"), geog("POINT (0 1)")]).unwrap() else {
            panic!()
        };
        assert!((d - sphere::EARTH_RADIUS_M * 1f64.to_radians()).abs() < 1e-6);
        assert_eq!(call("ST_Distance", &[geom("POINT (0 0)"), geom("POINT (3 4)")]).unwrap(), Datum::Double(5.0));
        assert_eq!(
            call("ST_Distance", &[geom("POINT (0 0)"), geom("LINESTRING (1 -1, 1 1)")]).unwrap(),
            Datum::Double(1.0)
        );
        let mixed = call("ST_Distance", &[geom("POINT (0 0)"), geog("POINT (0 0)")]).unwrap_err();
        assert!(mixed.to_string().contains("must be geometries, or both geographies"));
        let square = geom("POLYGON ((0 0, 0 4, 4 4, 4 0, 0 0))");
        assert_eq!(call("ST_Contains", &[square.clone(), geom("POINT (1 1)")]).unwrap(), Datum::Long(1));
        assert_eq!(call("ST_Contains", &[square.clone(), geom("POINT (5 1)")]).unwrap(), Datum::Long(0));
        assert_eq!(call("ST_Contains", &[square.clone(), geom("POINT (0 1)")]).unwrap(), Datum::Long(0), "boundary");
        assert_eq!(call("ST_Within", &[geom("POINT (1 1)"), square.clone()]).unwrap(), Datum::Long(1));
        assert_eq!(
            call("ST_Equals", &[square.clone(), geom("POLYGON ((4 4, 4 0, 0 0, 0 4, 4 4))")]).unwrap(),
            Datum::Long(1)
        );
        assert_eq!(call("ST_Area", &[square]).unwrap(), Datum::Double(16.0));
        assert_eq!(call("ST_GeometryType", &[geom("MULTIPOINT ((1 2))")]).unwrap(), text("MultiPoint"));
    }

    #[test]
    fn h3_cells_match_the_reference_implementation() {
        // H3's own example: (37.3615593, -122.0553238) at resolution 7 is 87283472bffffff.
        let cell = call("geoToH3", &[Datum::Double(-122.0553238), Datum::Double(37.3615593), Datum::Long(7)]).unwrap();
        assert_eq!(cell, Datum::Long(0x0872_8347_2bff_ffff));
        let point =
            call("ST_Point", &[Datum::Double(-122.0553238), Datum::Double(37.3615593), Datum::Long(1)]).unwrap();
        assert_eq!(call("geoToH3", &[point, Datum::Long(7)]).unwrap(), cell);
        assert!(call("geoToH3", &[Datum::Long(0), Datum::Long(0), Datum::Long(16)])
            .unwrap_err()
            .to_string()
            .contains("resolution 16"));
    }
}
