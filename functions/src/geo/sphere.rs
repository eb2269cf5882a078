//! Geography on Pinot's sphere: longitude/latitude in degrees, lengths in metres on a sphere
//! of radius 6371.01 km (Pinot's `EARTH_RADIUS_KM`), so distances agree with Pinot's.

use crate::error::{FunctionError, Result};
use geo::{Coord, Geometry, LineString, Polygon};

pub const EARTH_RADIUS_M: f64 = 6_371_010.0;

/// The great-circle distance in metres (the Vincenty form of the central angle, exact for
/// near and antipodal points alike). Coordinates out of range are an error, as Pinot's.
pub fn distance_m(a: Coord, b: Coord) -> Result<f64> {
    for c in [a, b] {
        if !(-90.0..=90.0).contains(&c.y) {
            return Err(FunctionError::InvalidArgument(format!("latitude {} is not between -90 and 90", c.y)));
        }
        if !(-180.0..=180.0).contains(&c.x) {
            return Err(FunctionError::InvalidArgument(format!("longitude {} is not between -180 and 180", c.x)));
        }
    }
    Ok(central_angle(a, b) * EARTH_RADIUS_M)
}

/// The angle between two points seen from the sphere's centre, in radians.
pub fn central_angle(a: Coord, b: Coord) -> f64 {
    let (phi1, phi2) = (a.y.to_radians(), b.y.to_radians());
    // Each longitude in radians first, then the difference, as Pinot computes it.
    let delta = a.x.to_radians() - b.x.to_radians();
    let (sin1, cos1, sin2, cos2) = (phi1.sin(), phi1.cos(), phi2.sin(), phi2.cos());
    let t1 = cos2 * delta.sin();
    let t2 = cos1 * sin2 - sin1 * cos2 * delta.cos();
    let t3 = sin1 * sin2 + cos1 * cos2 * delta.cos();
    (t1 * t1 + t2 * t2).sqrt().atan2(t3)
}

/// The area in square metres of the polygons of a geography (0 for points and lines).
/// Rings are taken as the smaller of the two regions they bound, so a ring around a pole
/// is not supported (Pinot corrects for it; no Pinot example needs it).
pub fn area_m2(geometry: &Geometry) -> f64 {
    match geometry {
        Geometry::Polygon(p) => polygon_area(p),
        Geometry::MultiPolygon(ps) => ps.0.iter().map(polygon_area).sum(),
        Geometry::Rect(r) => polygon_area(&r.to_polygon()),
        Geometry::Triangle(t) => polygon_area(&t.to_polygon()),
        Geometry::GeometryCollection(items) => items.0.iter().map(area_m2).sum(),
        _ => 0.0,
    }
}

fn polygon_area(polygon: &Polygon) -> f64 {
    let holes: f64 = polygon.interiors().iter().map(ring_excess).sum();
    ((ring_excess(polygon.exterior()) - holes) * EARTH_RADIUS_M * EARTH_RADIUS_M).abs()
}

/// The spherical excess of a ring, by the sum over its edges of the signed areas between
/// each edge and the equator (the tangent half-angle form, stable for small cells).
fn ring_excess(ring: &LineString) -> f64 {
    let points = &ring.0;
    if points.len() < 3 {
        return 0.0;
    }
    let mut sum = 0.0;
    for pair in points.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let t1 = (a.y.to_radians() / 2.0).tan();
        let t2 = (b.y.to_radians() / 2.0).tan();
        let delta = (b.x - a.x).to_radians();
        sum += 2.0 * ((delta / 2.0).tan() * (t1 + t2)).atan2(1.0 + t1 * t2);
    }
    sum.abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_and_areas_on_pinots_sphere() {
        // Against the haversine formula, an independent form of the same angle.
        let (a, b): (Coord, Coord) = (Coord { x: -122.4194, y: 37.7749 }, Coord { x: -122.4089, y: 37.7833 });
        let h = ((b.y - a.y).to_radians() / 2.0).sin().powi(2)
            + a.y.to_radians().cos() * b.y.to_radians().cos() * ((b.x - a.x).to_radians() / 2.0).sin().powi(2);
        let haversine = 2.0 * h.sqrt().asin() * EARTH_RADIUS_M;
        let d = distance_m(a, b).unwrap();
        assert!((d - haversine).abs() < 1e-6 && (1_000.0..1_500.0).contains(&d), "{d} vs {haversine}");
        let quarter = distance_m(Coord { x: 0.0, y: 0.0 }, Coord { x: 90.0, y: 0.0 }).unwrap();
        assert!((quarter - std::f64::consts::FRAC_PI_2 * EARTH_RADIUS_M).abs() < 1e-6);
        assert!(distance_m(Coord { x: 0.0, y: 91.0 }, Coord { x: 0.0, y: 0.0 })
            .unwrap_err()
            .to_string()
            .contains("latitude 91"));
        // The triangle of the equator, the meridian 0 and the meridian 90 (all great
        // circles) covers one eighth of the sphere.
        let octant = Polygon::new(LineString::from(vec![(0.0, 0.0), (90.0, 0.0), (0.0, 90.0), (0.0, 0.0)]), Vec::new());
        let exact = std::f64::consts::PI * EARTH_RADIUS_M * EARTH_RADIUS_M / 2.0;
        let area = area_m2(&Geometry::Polygon(octant));
        assert!((area - exact).abs() / exact < 1e-9, "{area} vs {exact}");
    }
}
