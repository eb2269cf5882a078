//! Pinot's serialisation of a shape (`GeometrySerde`), so BYTES written by Pinot read here
//! and the other way round. Big-endian throughout:
//!
//! ```text
//! shape      = type-byte body
//! type-byte  = id | 0x80 when a geography   (0 point, 1 multipoint, 2 linestring,
//!                                            3 multilinestring, 4 polygon, 5 multipolygon,
//!                                            6 collection)
//! point      = f64 x, f64 y                 (NaN, NaN: the empty point)
//! multipoint = i32 count, count × (f64 x, f64 y)
//! lines      = i32 parts, i32 points, parts × i32 first-point index, points × (f64 x, f64 y)
//! polygons   = as lines; every ring is a part, a clockwise ring starts a polygon (its shell),
//!              a counter-clockwise one is a hole of the polygon before it
//! collection = shape*                       (to the end of the bytes)
//! ```
//!
//! Counts are checked against the bytes left before anything is allocated: hostile bytes
//! get an error, never a panic or a large allocation.

use super::Shape;
use crate::error::{FunctionError, Result};
use geo::{Coord, Geometry, LineString, MultiLineString, MultiPoint, MultiPolygon, Point, Polygon};

const POINT: u8 = 0;
const MULTI_POINT: u8 = 1;
const LINE_STRING: u8 = 2;
const MULTI_LINE_STRING: u8 = 3;
const POLYGON: u8 = 4;
const MULTI_POLYGON: u8 = 5;
const COLLECTION: u8 = 6;
const GEOGRAPHY: u8 = 0x80;

pub(super) fn encode(shape: &Shape) -> Vec<u8> {
    let mut out = Vec::with_capacity(17);
    write(&mut out, &shape.geometry, shape.geography);
    out
}

fn write(out: &mut Vec<u8>, geometry: &Geometry, geography: bool) {
    let kind = |out: &mut Vec<u8>, id: u8| out.push(if geography { id | GEOGRAPHY } else { id });
    match geometry {
        Geometry::Point(p) => {
            kind(out, POINT);
            coord(out, p.0);
        }
        Geometry::MultiPoint(points) => {
            kind(out, MULTI_POINT);
            count(out, points.0.len());
            points.0.iter().for_each(|p| coord(out, p.0));
        }
        Geometry::LineString(line) => {
            kind(out, LINE_STRING);
            let parts: Vec<&[Coord]> = if line.0.is_empty() { Vec::new() } else { vec![&line.0] };
            parts_of(out, &parts);
        }
        Geometry::Line(line) => write(out, &Geometry::LineString(LineString::from(*line)), geography),
        Geometry::MultiLineString(lines) => {
            kind(out, MULTI_LINE_STRING);
            let parts: Vec<&[Coord]> = lines.0.iter().map(|l| l.0.as_slice()).collect();
            parts_of(out, &parts);
        }
        Geometry::Polygon(polygon) => {
            kind(out, POLYGON);
            rings_of(out, std::slice::from_ref(polygon));
        }
        Geometry::Rect(rect) => write(out, &Geometry::Polygon(rect.to_polygon()), geography),
        Geometry::Triangle(triangle) => write(out, &Geometry::Polygon(triangle.to_polygon()), geography),
        Geometry::MultiPolygon(polygons) => {
            kind(out, MULTI_POLYGON);
            rings_of(out, &polygons.0);
        }
        Geometry::GeometryCollection(collection) => {
            kind(out, COLLECTION);
            collection.0.iter().for_each(|g| write(out, g, geography));
        }
    }
}

fn coord(out: &mut Vec<u8>, c: Coord) {
    out.extend_from_slice(&c.x.to_be_bytes());
    out.extend_from_slice(&c.y.to_be_bytes());
}

fn count(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(i32::try_from(n).unwrap_or(i32::MAX)).to_be_bytes());
}

fn parts_of(out: &mut Vec<u8>, parts: &[&[Coord]]) {
    count(out, parts.len());
    count(out, parts.iter().map(|p| p.len()).sum());
    let mut start = 0;
    for part in parts {
        count(out, start);
        start += part.len();
    }
    parts.iter().flat_map(|p| p.iter()).for_each(|c| coord(out, *c));
}

/// Rings of polygons, shells clockwise and holes counter-clockwise (how the reader tells
/// them apart); empty polygons are left out.
fn rings_of(out: &mut Vec<u8>, polygons: &[Polygon]) {
    let mut rings: Vec<Vec<Coord>> = Vec::new();
    for polygon in polygons.iter().filter(|p| !p.exterior().0.is_empty()) {
        rings.push(oriented(&polygon.exterior().0, true));
        rings.extend(polygon.interiors().iter().map(|hole| oriented(&hole.0, false)));
    }
    let parts: Vec<&[Coord]> = rings.iter().map(Vec::as_slice).collect();
    parts_of(out, &parts);
}

fn oriented(ring: &[Coord], clockwise: bool) -> Vec<Coord> {
    let mut ring = ring.to_vec();
    if is_clockwise(&ring) != clockwise {
        ring.reverse();
    }
    ring
}

/// The sign of the sum of (x₂ − x₁)(y₂ + y₁) over the ring's edges (closing edge included):
/// positive when the ring turns clockwise.
fn is_clockwise(ring: &[Coord]) -> bool {
    let Some(last) = ring.last() else { return false };
    let mut sum = 0.0;
    let mut previous = *last;
    for c in ring {
        sum += (c.x - previous.x) * (c.y + previous.y);
        previous = *c;
    }
    sum > 0.0
}

pub(super) fn decode(bytes: &[u8]) -> Result<Shape> {
    let mut reader = Reader { bytes, at: 0 };
    let type_byte = reader.byte()?;
    let geometry = reader.geometry(type_byte)?;
    if reader.at != bytes.len() {
        return Err(invalid(format!("{} bytes left over after the shape", bytes.len() - reader.at)));
    }
    Ok(Shape { geometry, geography: type_byte & GEOGRAPHY != 0 })
}

fn invalid(reason: impl std::fmt::Display) -> FunctionError {
    FunctionError::InvalidArgument(format!("not a serialised geometry: {reason}"))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.at + N;
        let slice = self.bytes.get(self.at..end).ok_or_else(|| invalid("truncated"))?;
        self.at = end;
        let mut out = [0; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }

    fn double(&mut self) -> Result<f64> {
        Ok(f64::from_be_bytes(self.take()?))
    }

    fn coord(&mut self) -> Result<Coord> {
        Ok(Coord { x: self.double()?, y: self.double()? })
    }

    /// A count whose items take at least `item_bytes` each, checked against the bytes left.
    fn count(&mut self, item_bytes: usize) -> Result<usize> {
        let n = i32::from_be_bytes(self.take()?);
        let n = usize::try_from(n).map_err(|_| invalid(format!("negative count {n}")))?;
        if n.saturating_mul(item_bytes) > self.bytes.len() - self.at {
            return Err(invalid(format!("a count of {n} is more than the bytes hold")));
        }
        Ok(n)
    }

    fn geometry(&mut self, type_byte: u8) -> Result<Geometry> {
        Ok(match type_byte & !GEOGRAPHY {
            POINT => Geometry::Point(Point(self.coord()?)),
            MULTI_POINT => {
                let n = self.count(16)?;
                Geometry::MultiPoint(MultiPoint((0..n).map(|_| self.coord().map(Point)).collect::<Result<_>>()?))
            }
            LINE_STRING => {
                let mut parts = self.parts()?;
                match parts.len() {
                    0 => Geometry::LineString(LineString::new(Vec::new())),
                    1 => Geometry::LineString(LineString::new(parts.remove(0))),
                    n => return Err(invalid(format!("a linestring of {n} parts"))),
                }
            }
            MULTI_LINE_STRING => {
                Geometry::MultiLineString(MultiLineString(self.parts()?.into_iter().map(LineString::new).collect()))
            }
            POLYGON => {
                let mut polygons = self.polygons()?;
                match polygons.len() {
                    0 => Geometry::Polygon(Polygon::new(LineString::new(Vec::new()), Vec::new())),
                    1 => Geometry::Polygon(polygons.remove(0)),
                    n => return Err(invalid(format!("a polygon of {n} shells"))),
                }
            }
            MULTI_POLYGON => Geometry::MultiPolygon(MultiPolygon(self.polygons()?)),
            COLLECTION => {
                let mut items = Vec::new();
                while self.at < self.bytes.len() {
                    let inner = self.byte()?;
                    if inner & !GEOGRAPHY == COLLECTION {
                        return Err(invalid("a collection inside a collection"));
                    }
                    items.push(self.geometry(inner)?);
                }
                Geometry::GeometryCollection(geo::GeometryCollection(items))
            }
            other => return Err(invalid(format!("unknown type {other}"))),
        })
    }

    /// The parts of a linestring or the rings of a polygon.
    fn parts(&mut self) -> Result<Vec<Vec<Coord>>> {
        let parts = self.count(4)?;
        if parts == 0 {
            // Pinot writes the point count even then; nothing follows it.
            if self.bytes.len() - self.at >= 4 {
                self.take::<4>()?;
            }
            return Ok(Vec::new());
        }
        let points = i32::from_be_bytes(self.take()?);
        let points = usize::try_from(points).map_err(|_| invalid(format!("negative point count {points}")))?;
        if parts.saturating_mul(4).saturating_add(points.saturating_mul(16)) > self.bytes.len() - self.at {
            return Err(invalid(format!("{parts} parts of {points} points are more than the bytes hold")));
        }
        let starts: Vec<usize> = (0..parts)
            .map(|_| self.take::<4>().map(|b| i32::from_be_bytes(b).max(-1) as isize))
            .map(|s| s.and_then(|s| usize::try_from(s).map_err(|_| invalid("negative part index"))))
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(parts);
        for (i, &start) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(points);
            if start > end || end > points || (i == 0 && start != 0) {
                return Err(invalid("part indexes out of order"));
            }
            out.push((start..end).map(|_| self.coord()).collect::<Result<Vec<_>>>()?);
        }
        Ok(out)
    }

    fn polygons(&mut self) -> Result<Vec<Polygon>> {
        let mut polygons = Vec::new();
        let mut shell: Option<(Vec<Coord>, Vec<LineString>)> = None;
        for ring in self.parts()? {
            if is_clockwise(&ring) || shell.is_none() {
                if let Some((exterior, holes)) = shell.take() {
                    polygons.push(Polygon::new(LineString::new(exterior), holes));
                }
                shell = Some((ring, Vec::new()));
            } else if let Some((_, holes)) = shell.as_mut() {
                holes.push(LineString::new(ring));
            }
        }
        if let Some((exterior, holes)) = shell {
            polygons.push(Polygon::new(LineString::new(exterior), holes));
        }
        Ok(polygons)
    }
}
