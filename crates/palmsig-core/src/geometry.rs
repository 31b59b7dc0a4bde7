use serde::{Deserialize, Serialize};

/// A point in image coordinates (x right, y down, pixels).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal coordinate.
    pub x: f32,
    /// Vertical coordinate.
    pub y: f32,
}

impl Point {
    /// A point at (x, y).
    pub const fn new(x: f32, y: f32) -> Self {
        Point { x, y }
    }
    /// Euclidean distance to `o`.
    pub fn dist(self, o: Point) -> f32 {
        ((self.x - o.x).powi(2) + (self.y - o.y).powi(2)).sqrt()
    }
}

/// A 2-D affine map `p' = [a b; c d] p + [tx ty]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// Row-major 2x3 matrix: `[a, b, tx, c, d, ty]`.
    pub m: [f32; 6],
}

impl Affine {
    /// The identity map.
    pub const IDENTITY: Affine = Affine {
        m: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    };

    /// Rotation by `angle` radians (counter-clockwise in a y-up frame, i.e. clockwise on screen),
    /// then scaling by `scale`, then translation.
    pub fn similarity(angle: f32, scale: f32, tx: f32, ty: f32) -> Self {
        let (s, c) = angle.sin_cos();
        Affine {
            m: [scale * c, -scale * s, tx, scale * s, scale * c, ty],
        }
    }

    /// Apply to a point.
    pub fn apply(&self, p: Point) -> Point {
        let m = &self.m;
        Point::new(
            m[0] * p.x + m[1] * p.y + m[2],
            m[3] * p.x + m[4] * p.y + m[5],
        )
    }

    /// `self ∘ other` (apply `other` first).
    pub fn then_after(&self, other: &Affine) -> Affine {
        let a = &self.m;
        let b = &other.m;
        Affine {
            m: [
                a[0] * b[0] + a[1] * b[3],
                a[0] * b[1] + a[1] * b[4],
                a[0] * b[2] + a[1] * b[5] + a[2],
                a[3] * b[0] + a[4] * b[3],
                a[3] * b[1] + a[4] * b[4],
                a[3] * b[2] + a[4] * b[5] + a[5],
            ],
        }
    }

    /// The inverse map, or `None` when singular.
    pub fn inverse(&self) -> Option<Affine> {
        let m = &self.m;
        let det = m[0] * m[4] - m[1] * m[3];
        if det.abs() < 1e-12 {
            return None;
        }
        let (a, b, c, d) = (m[4] / det, -m[1] / det, -m[3] / det, m[0] / det);
        Some(Affine {
            m: [a, b, -(a * m[2] + b * m[5]), c, d, -(c * m[2] + d * m[5])],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_round_trip() {
        let t = Affine::similarity(0.7, 1.3, 10.0, -4.0);
        let p = Point::new(3.0, 5.0);
        let q = t.inverse().unwrap().apply(t.apply(p));
        assert!(p.dist(q) < 1e-4);
        let id = t.then_after(&t.inverse().unwrap());
        assert!(id.apply(p).dist(p) < 1e-4);
    }
}
