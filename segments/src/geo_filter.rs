//! Geospatial leaves: `ST_Distance(column, shape) < d` and `ST_Within(column, area)` on a
//! BYTES column of shapes in Pinot's serialisation. A value that is not a shape, or is of
//! the other kind (geometry against geography), does not match.
//!
//! For the H3 index ([`crate::h3_index`]) a leaf also says, cell by cell, whether *every*
//! point in the cell matches, *none* does, or the cell's docs must be tested one by one.
//! The bounds are conservative: a cell's extent is taken from its vertices with a 5 %
//! margin (H3 cells are not exact polygons in longitude/latitude), so a cell is only ever
//! wrongly sent to the doc-by-doc test, never wrongly answered whole.

use cuvee_functions::geo::sphere;
use cuvee_functions::Shape;
use geo::{Coord, Geometry, Rect, Relate};
use h3o::{CellIndex, LatLng};

/// A serialised shape in a predicate: shown as its text in EXPLAIN, carried as hex in a
/// plan fragment.
#[derive(Clone, PartialEq)]
pub struct ShapeBytes(pub Vec<u8>);

impl std::fmt::Debug for ShapeBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Shape::decode(&self.0) {
            Ok(shape) => write!(f, "{} {}", if shape.geography { "geography" } else { "geometry" }, shape.to_text()),
            Err(_) => write!(f, "bytes {}", cuvee_catalog::value::encode_hex(&self.0)),
        }
    }
}

impl serde::Serialize for ShapeBytes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&cuvee_catalog::value::encode_hex(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for ShapeBytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        cuvee_catalog::value::decode_hex(&text)
            .map(ShapeBytes)
            .ok_or_else(|| serde::de::Error::custom("a shape must be hex-encoded bytes"))
    }
}

/// How many of a cell's points a leaf accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    All,
    None,
    Some,
}

/// Share added to a cell's extent before it is compared.
const MARGIN: f64 = 0.05;

#[derive(Debug, Clone)]
pub enum GeoMatcher {
    /// `ST_Distance(value, of) < distance` (`<=` when inclusive).
    Near { of: Shape, distance: f64, inclusive: bool },
    /// `ST_Within(value, area)`: the value lies in the area's interior.
    Within { area: Shape },
}

impl GeoMatcher {
    pub fn near(of: &[u8], distance: f64, inclusive: bool) -> Result<GeoMatcher, String> {
        let of = Shape::decode(of).map_err(|e| format!("ST_Distance: {e}"))?;
        Ok(GeoMatcher::Near { of, distance, inclusive })
    }

    pub fn within(area: &[u8]) -> Result<GeoMatcher, String> {
        let area = Shape::decode(area).map_err(|e| format!("ST_Within: {e}"))?;
        Ok(GeoMatcher::Within { area })
    }

    pub fn test(&self, value: &[u8]) -> bool {
        let Ok(value) = Shape::decode(value) else { return false };
        match self {
            GeoMatcher::Near { of, distance, inclusive } => match value.distance(of) {
                Ok(d) if *inclusive => d <= *distance,
                Ok(d) => d < *distance,
                Err(_) => false,
            },
            GeoMatcher::Within { area } => area.contains(&value),
        }
    }

    /// Whether all, none or some of the geography points in `cell` match.
    pub fn cover(&self, cell: CellIndex) -> Cover {
        match self {
            GeoMatcher::Near { of, distance, .. } => {
                let Some(target) = of.point().filter(|_| of.geography) else { return Cover::None };
                let center = coord(LatLng::from(cell));
                let radius =
                    cell.boundary().iter().map(|v| sphere::central_angle(center, coord(*v))).fold(0.0, f64::max)
                        * sphere::EARTH_RADIUS_M
                        * (1.0 + MARGIN);
                let to_center = sphere::central_angle(center, target) * sphere::EARTH_RADIUS_M;
                if to_center + radius < *distance {
                    Cover::All
                } else if to_center - radius > *distance {
                    Cover::None
                } else {
                    Cover::Some
                }
            }
            GeoMatcher::Within { area } => {
                let vertices: Vec<Coord> = cell.boundary().iter().map(|v| coord(*v)).collect();
                let (mut min, mut max) = (vertices[0], vertices[0]);
                for v in &vertices {
                    (min.x, min.y, max.x, max.y) = (min.x.min(v.x), min.y.min(v.y), max.x.max(v.x), max.y.max(v.y));
                }
                if max.x - min.x > 180.0 {
                    // Across the antimeridian: no box in longitude/latitude holds it.
                    return Cover::Some;
                }
                let (dx, dy) = ((max.x - min.x) * MARGIN, (max.y - min.y) * MARGIN);
                let extent = Geometry::Rect(Rect::new(
                    Coord { x: min.x - dx, y: min.y - dy },
                    Coord { x: max.x + dx, y: max.y + dy },
                ));
                let relation = area.geometry.relate(&extent);
                if relation.is_contains_properly() {
                    Cover::All
                } else if relation.is_disjoint() {
                    Cover::None
                } else {
                    Cover::Some
                }
            }
        }
    }
}

fn coord(point: LatLng) -> Coord {
    Coord { x: point.lng(), y: point.lat() }
}
