//! Releasable areas: WGS-84 polygons, and whether a position lies inside one.
//!
//! A release area is a few kilometres to a few hundred kilometres across and never spans a
//! pole or the antimeridian, so a point-in-polygon test by ray casting on latitude and
//! longitude is exact enough (edges are straight in lat/lon rather than great circles; at the
//! scale of an operations area the difference is metres). No dependency does this better.

use serde::Deserialize;

/// A closed polygon of WGS-84 vertices, each `[lat_deg, lon_deg]`; the last vertex joins the
/// first.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Area {
    /// Name of the area, for logs and the configuration's readers.
    pub name: String,
    /// Vertices `[lat_deg, lon_deg]`, at least three, in either winding order.
    pub polygon: Vec<[f64; 2]>,
}

/// Why an area cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AreaError {
    /// Fewer than three vertices.
    #[error("area {0:?}: a polygon needs at least 3 vertices")]
    TooFewVertices(String),
    /// A vertex outside [-90, 90] x [-180, 180], or not finite.
    #[error("area {0:?}: vertex {1} is not a valid [lat, lon]")]
    BadVertex(String, usize),
}

impl Area {
    /// Checks the vertices.
    pub fn validate(&self) -> Result<(), AreaError> {
        if self.polygon.len() < 3 {
            return Err(AreaError::TooFewVertices(self.name.clone()));
        }
        for (i, [lat, lon]) in self.polygon.iter().enumerate() {
            if !(lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0) {
                return Err(AreaError::BadVertex(self.name.clone(), i));
            }
        }
        Ok(())
    }

    /// Whether (`lat`, `lon`) lies inside the polygon (even-odd rule; a point exactly on an
    /// edge may fall either way). A non-finite position is never inside.
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        if !(lat.is_finite() && lon.is_finite()) {
            return false;
        }
        let v = &self.polygon;
        let mut inside = false;
        let mut j = v.len().wrapping_sub(1);
        for i in 0..v.len() {
            let ([yi, xi], [yj, xj]) = (v[i], v[j]);
            if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

/// Whether a position is inside any of `areas`.
pub fn inside_any(areas: &[Area], lat: f64, lon: f64) -> bool {
    areas.iter().any(|a| a.contains(lat, lon))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(polygon: &[[f64; 2]]) -> Area {
        Area {
            name: "a".into(),
            polygon: polygon.to_vec(),
        }
    }

    #[test]
    fn points_inside_and_outside_a_concave_polygon() {
        // An L shape: the square 49-51 N, 23-25 E without its north-east quarter.
        let l = area(&[
            [49.0, 23.0],
            [51.0, 23.0],
            [51.0, 24.0],
            [50.0, 24.0],
            [50.0, 25.0],
            [49.0, 25.0],
        ]);
        assert!(l.validate().is_ok());
        assert!(l.contains(49.5, 23.5));
        assert!(l.contains(50.5, 23.5));
        assert!(l.contains(49.5, 24.5));
        assert!(!l.contains(50.5, 24.5), "the missing quarter");
        assert!(!l.contains(48.9, 24.0));
        assert!(!l.contains(50.0, 25.1));
        assert!(!l.contains(f64::NAN, 24.0));
        // The winding order does not matter.
        let mut reversed = l.clone();
        reversed.polygon.reverse();
        assert!(reversed.contains(49.5, 24.5) && !reversed.contains(50.5, 24.5));
        assert!(inside_any(
            &[area(&[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), l],
            49.5,
            23.5
        ));
    }

    #[test]
    fn bad_polygons_are_named() {
        assert_eq!(
            area(&[[0.0, 0.0], [1.0, 1.0]]).validate(),
            Err(AreaError::TooFewVertices("a".into()))
        );
        assert_eq!(
            area(&[[0.0, 0.0], [91.0, 1.0], [0.0, 1.0]]).validate(),
            Err(AreaError::BadVertex("a".into(), 1))
        );
    }
}
