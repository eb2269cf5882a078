//! Well-known text, written as Pinot's `ST_AsText` writes it (JTS's `WKTWriter`): a space
//! after the type name, `EMPTY` for empty shapes, multipoints with each point in parentheses,
//! and numbers in their shortest exact decimal form.

use geo::{Coord, Geometry, LineString, Polygon};
use std::fmt::Write;

pub(super) fn write(geometry: &Geometry) -> String {
    let mut out = String::new();
    shape(&mut out, geometry);
    out
}

fn shape(out: &mut String, geometry: &Geometry) {
    match geometry {
        Geometry::Point(p) if p.x().is_nan() || p.y().is_nan() => out.push_str("POINT EMPTY"),
        Geometry::Point(p) => {
            out.push_str("POINT (");
            coord(out, p.0);
            out.push(')');
        }
        Geometry::MultiPoint(points) => {
            out.push_str("MULTIPOINT");
            list(out, &points.0, |out, p| {
                out.push('(');
                coord(out, p.0);
                out.push(')');
            });
        }
        Geometry::Line(line) => shape(out, &Geometry::LineString(LineString::from(*line))),
        Geometry::LineString(line) => {
            out.push_str("LINESTRING");
            coords(out, line);
        }
        Geometry::MultiLineString(lines) => {
            out.push_str("MULTILINESTRING");
            list(out, &lines.0, coords_bare);
        }
        Geometry::Polygon(polygon) => {
            out.push_str("POLYGON");
            rings(out, polygon);
        }
        Geometry::Rect(rect) => shape(out, &Geometry::Polygon(rect.to_polygon())),
        Geometry::Triangle(triangle) => shape(out, &Geometry::Polygon(triangle.to_polygon())),
        Geometry::MultiPolygon(polygons) => {
            out.push_str("MULTIPOLYGON");
            list(out, &polygons.0, rings_bare);
        }
        Geometry::GeometryCollection(items) => {
            out.push_str("GEOMETRYCOLLECTION");
            list(out, &items.0, shape);
        }
    }
}

/// ` (a, b, …)` or ` EMPTY`.
fn list<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    if items.is_empty() {
        out.push_str(" EMPTY");
        return;
    }
    out.push_str(" (");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        each(out, item);
    }
    out.push(')');
}

fn coords(out: &mut String, line: &LineString) {
    if line.0.is_empty() {
        out.push_str(" EMPTY");
    } else {
        out.push(' ');
        coords_bare(out, line);
    }
}

fn coords_bare(out: &mut String, line: &LineString) {
    out.push('(');
    for (i, c) in line.0.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        coord(out, *c);
    }
    out.push(')');
}

fn rings(out: &mut String, polygon: &Polygon) {
    if polygon.exterior().0.is_empty() {
        out.push_str(" EMPTY");
    } else {
        out.push(' ');
        rings_bare(out, polygon);
    }
}

fn rings_bare(out: &mut String, polygon: &Polygon) {
    out.push('(');
    coords_bare(out, polygon.exterior());
    for hole in polygon.interiors() {
        out.push_str(", ");
        coords_bare(out, hole);
    }
    out.push(')');
}

fn coord(out: &mut String, c: Coord) {
    let _ = write!(out, "{} {}", c.x, c.y);
}
