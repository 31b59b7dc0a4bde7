//! Hand geometry in the canonical frame: millimetres, right hand seen from the palm side,
//! fingers towards −y, thumb on +x, origin near the palm centre. The silhouette is a signed
//! distance function (negative inside): a convex palm polygon, tapered capsules for the fingers
//! and thumb and a forearm band, joined by a smooth union so the valleys are rounded webs.

use palmsig_core::{Point, Rng};

use crate::params;

/// One digit: a tapered capsule from `base` along `angle` (radians from −y, positive towards +x).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Digit {
    /// Base point on the palm outline (mm).
    pub base: Point,
    /// Rest direction, radians from "up" (−y), positive towards the thumb side (+x).
    pub angle: f32,
    /// Length from base to tip (mm).
    pub length: f32,
    /// Radius at the base (mm).
    pub r_base: f32,
    /// Radius at the tip (mm).
    pub r_tip: f32,
}

impl Digit {
    /// Unit direction for an extra rotation `delta` (radians).
    pub(crate) fn dir(&self, delta: f32) -> Point {
        let a = self.angle + delta;
        Point::new(a.sin(), -a.cos())
    }

    fn sdf(&self, p: Point) -> f32 {
        let d = self.dir(0.0);
        // Start a little inside the palm so the digit joins it without a seam.
        let a = Point::new(self.base.x - d.x * 4.0, self.base.y - d.y * 4.0);
        let len = self.length + 4.0;
        let t = (((p.x - a.x) * d.x + (p.y - a.y) * d.y) / len).clamp(0.0, 1.0);
        let q = Point::new(a.x + d.x * t * len, a.y + d.y * t * len);
        p.dist(q) - (self.r_base + t * (self.r_tip - self.r_base))
    }
}

/// The silhouette of one identity's hand (rest posture).
#[derive(Debug, Clone, PartialEq)]
pub struct HandShape {
    /// Palm polygon (convex, clockwise on screen), mm.
    pub palm: Vec<Point>,
    /// Fingers: index, middle, ring, little.
    pub fingers: [Digit; 4],
    /// The thumb.
    pub thumb: Digit,
    /// Forearm half-width (mm); the band runs from `wrist_y` downwards without end.
    pub forearm_half: f32,
    /// Wrist line (mm, y).
    pub wrist_y: f32,
    /// Palm width (mm).
    pub palm_width: f32,
    /// Palm length, finger bases to wrist (mm).
    pub palm_length: f32,
}

/// Per-capture posture: extra rotation of each finger (index..little), radians.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Posture {
    /// Extra rotation per finger (index, middle, ring, little), radians, positive towards +x.
    pub spread: [f32; 4],
}

/// Corner rounding of the palm polygon (mm).
const PALM_ROUNDING_MM: f32 = 6.0;

fn smin(a: f32, b: f32, k: f32) -> f32 {
    let h = (0.5 + 0.5 * (b - a) / k).clamp(0.0, 1.0);
    b + (a - b) * h - k * h * (1.0 - h)
}

fn seg_dist(p: Point, a: Point, b: Point) -> f32 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let t = (((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy).max(1e-9)).clamp(0.0, 1.0);
    p.dist(Point::new(a.x + t * dx, a.y + t * dy))
}

impl HandShape {
    /// A random adult hand.
    pub fn random(rng: &mut Rng) -> HandShape {
        let mut j = |lo: f64, hi: f64| rng.range(lo, hi) as f32;
        let g = j(0.88, 1.12);
        let pw = 84.0 * g * j(0.95, 1.05);
        let pl = 100.0 * g * j(0.95, 1.05);
        let top = -pl / 2.0;
        // Finger widths (diameters) and lengths, index..little, with identity-specific ratios.
        let widths = [
            19.0 * g * j(0.94, 1.06),
            19.5 * g * j(0.94, 1.06),
            18.0 * g * j(0.94, 1.06),
            15.5 * g * j(0.94, 1.06),
        ];
        let lengths = [
            72.0 * g * j(0.93, 1.07),
            80.0 * g * j(0.94, 1.06),
            75.0 * g * j(0.93, 1.07),
            59.0 * g * j(0.92, 1.08),
        ];
        // Rest fan, degrees from vertical: index leans to the thumb side, little away.
        let fan = [
            10.0 + j(-3.0, 3.0),
            j(-2.0, 2.0),
            -10.0 + j(-3.0, 3.0),
            -22.0 + j(-4.0, 4.0),
        ];
        // Base heights relative to the palm top (little finger sits lower).
        let drop = [j(0.0, 3.0), j(-2.0, 0.0), j(0.0, 3.0), j(7.0, 12.0)];
        let gap = j(0.5, 2.0);
        let mut fingers = [Digit {
            base: Point::default(),
            angle: 0.0,
            length: 0.0,
            r_base: 0.0,
            r_tip: 0.0,
        }; 4];
        let mut x = pw / 2.0 - j(1.0, 4.0);
        for i in 0..4 {
            let r = widths[i] / 2.0;
            x -= r;
            fingers[i] = Digit {
                base: Point::new(x, top + drop[i]),
                angle: fan[i].to_radians(),
                length: lengths[i],
                r_base: r,
                r_tip: r * j(0.78, 0.86),
            };
            x -= r + gap;
        }
        let little_x = fingers[3].base.x - fingers[3].r_base;
        let thumb_r = 11.0 * g * j(0.93, 1.07);
        let thumb = Digit {
            base: Point::new(pw / 2.0 - thumb_r * 0.6, top + pl * j(0.30, 0.40)),
            angle: j(38.0, 58.0).to_radians(),
            length: 66.0 * g * j(0.92, 1.08),
            r_base: thumb_r,
            r_tip: thumb_r * j(0.78, 0.88),
        };
        let wrist_y = pl / 2.0;
        let forearm_half = pw * j(0.33, 0.38);
        let hyp = j(0.0, 3.0);
        let palm = vec![
            Point::new(little_x.min(-pw / 2.0 + 1.0), fingers[3].base.y + 2.0),
            Point::new(fingers[2].base.x, top + drop[2] - 1.0),
            Point::new(fingers[1].base.x, top + drop[1] - 1.0),
            Point::new(
                fingers[0].base.x + fingers[0].r_base * 0.6,
                top + drop[0] + 1.0,
            ),
            Point::new(pw / 2.0 + j(2.0, 5.0), top + pl * 0.32),
            Point::new(pw / 2.0 + j(0.0, 3.0), wrist_y - pl * 0.22),
            Point::new(forearm_half + 4.0, wrist_y + 4.0),
            Point::new(-forearm_half - 4.0, wrist_y + 4.0),
            Point::new(-pw / 2.0 - hyp, wrist_y - pl * 0.28),
        ];
        // Inset the polygon so that, rounded by PALM_ROUNDING_MM, the outline stays where it was
        // along the edges but the corners become round.
        let n = palm.len() as f32;
        let cx = palm.iter().map(|p| p.x).sum::<f32>() / n;
        let cy = palm.iter().map(|p| p.y).sum::<f32>() / n;
        let palm: Vec<Point> = palm
            .into_iter()
            .map(|p| {
                let (dx, dy) = (cx - p.x, cy - p.y);
                let l = (dx * dx + dy * dy).sqrt().max(1e-3);
                let k = PALM_ROUNDING_MM * 1.15 / l;
                Point::new(p.x + dx * k, p.y + dy * k)
            })
            .collect();
        HandShape {
            palm,
            fingers,
            thumb,
            forearm_half,
            wrist_y,
            palm_width: pw,
            palm_length: pl,
        }
    }

    fn palm_sdf(&self, p: Point) -> f32 {
        self.polygon_sdf(p) - PALM_ROUNDING_MM
    }

    fn polygon_sdf(&self, p: Point) -> f32 {
        let n = self.palm.len();
        let mut dmin = f32::MAX;
        let mut inside = true;
        for i in 0..n {
            let a = self.palm[i];
            let b = self.palm[(i + 1) % n];
            dmin = dmin.min(seg_dist(p, a, b));
            // Clockwise on screen (y down): interior is on the right of a→b, cross > 0.
            let cross = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
            if cross < 0.0 {
                inside = false;
            }
        }
        if inside {
            -dmin
        } else {
            dmin
        }
    }

    /// Signed distance (mm) to the rest-posture silhouette; negative inside.
    pub fn sdf(&self, p: Point) -> f32 {
        let k = params::SMOOTH_UNION_MM;
        let mut d = self.palm_sdf(p);
        for f in &self.fingers {
            d = smin(d, f.sdf(p), k);
        }
        d = smin(d, self.thumb.sdf(p), k * 1.5);
        let fx = p.x.abs() - self.forearm_half;
        let fy = (self.wrist_y - 10.0) - p.y;
        let fore = if fx > 0.0 && fy > 0.0 {
            (fx * fx + fy * fy).sqrt()
        } else {
            fx.max(fy)
        };
        smin(d, fore, k * 2.0)
    }

    /// Bounding box (mm) of the hand above the forearm: (x0, y0, x1, y1).
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        let mut add = |p: Point, r: f32| {
            x0 = x0.min(p.x - r);
            y0 = y0.min(p.y - r);
            x1 = x1.max(p.x + r);
            y1 = y1.max(p.y + r);
        };
        for p in &self.palm {
            add(*p, 0.0);
        }
        for f in self.fingers.iter().chain(std::iter::once(&self.thumb)) {
            let d = f.dir(0.0);
            add(f.base, f.r_base);
            add(
                Point::new(f.base.x + d.x * f.length, f.base.y + d.y * f.length),
                f.r_tip,
            );
        }
        (x0, y0, x1, y1)
    }

    /// Map a point of the posed hand back to the rest posture (fingers swung back).
    #[inline]
    pub fn unspread(&self, q: Point, posture: &Posture, dirs: &[Point; 4]) -> Point {
        let mut best = f32::MAX;
        let mut pick = usize::MAX;
        let mut pick_t = 0.0;
        for (i, f) in self.fingers.iter().enumerate() {
            let d = dirs[i];
            let (rx, ry) = (q.x - f.base.x, q.y - f.base.y);
            let t = rx * d.x + ry * d.y;
            if t <= 0.0 {
                continue;
            }
            let c = (rx * d.y - ry * d.x).abs();
            if c < f.r_base + 3.0 + t * posture.spread[i].abs() && c < best {
                best = c;
                pick = i;
                pick_t = t;
            }
        }
        if pick == usize::MAX {
            return q;
        }
        // The thumb does not swing: a point nearer its axis than the picked finger's stays put
        // (otherwise a weakly abducted thumb could be carved by the index finger's swing).
        let th = &self.thumb;
        let d = th.dir(0.0);
        let (rx, ry) = (q.x - th.base.x, q.y - th.base.y);
        let t = rx * d.x + ry * d.y;
        let c = (rx * d.y - ry * d.x).abs();
        if t > -th.r_base && t < th.length + th.r_tip && c < th.r_base + 3.0 && c < best {
            return q;
        }
        let f = &self.fingers[pick];
        let ramp = (pick_t / params::SPREAD_RAMP_MM).min(1.0);
        let ramp = ramp * ramp * (3.0 - 2.0 * ramp);
        let a = -posture.spread[pick] * ramp;
        if a == 0.0 {
            return q;
        }
        // Screen rotation (y down) by `a` about the base; positive spread moves towards +x.
        let (s, c) = a.sin_cos();
        let (rx, ry) = (q.x - f.base.x, q.y - f.base.y);
        // Rotating direction (sin φ, −cos φ) by +a must give (sin(φ+a), −cos(φ+a)): that is the
        // standard matrix [c −s; s c] applied in (x, y) with y down.
        Point::new(f.base.x + c * rx - s * ry, f.base.y + s * rx + c * ry)
    }

    /// Posed finger directions for a posture.
    pub fn posed_dirs(&self, posture: &Posture) -> [Point; 4] {
        let mut d = [Point::default(); 4];
        for (i, f) in self.fingers.iter().enumerate() {
            d[i] = f.dir(posture.spread[i]);
        }
        d
    }

    /// The valleys V0 (thumb–index), V1 (index–middle), V2 (middle–ring), V3 (ring–little) of the
    /// silhouette given by `sdf` (a posed and possibly deformed version of this shape), found as
    /// the first silhouette point met when walking from the gap between two digits towards the
    /// palm along their bisector.
    pub fn valleys(&self, posture: &Posture, sdf: &dyn Fn(Point) -> f32) -> [Point; 4] {
        let dirs = self.posed_dirs(posture);
        let along = |base: Point, d: Point, t: f32| Point::new(base.x + d.x * t, base.y + d.y * t);
        let mut out = [Point::default(); 4];
        // V0: between thumb and index.
        let th = self.thumb.dir(0.0);
        let g0 = mid(
            along(self.thumb.base, th, self.thumb.length * 0.45),
            along(self.fingers[0].base, dirs[0], 22.0),
        );
        out[0] = march(g0, Point::new(0.0, 0.0), sdf);
        for i in 0..3 {
            let (a, b) = (&self.fingers[i], &self.fingers[i + 1]);
            let reach = a.length.min(b.length) * 0.45;
            let g = mid(
                along(a.base, dirs[i], reach),
                along(b.base, dirs[i + 1], reach),
            );
            let m = mid(a.base, b.base);
            let p = Point::new(m.x, m.y + 15.0);
            out[i + 1] = march(g, p, sdf);
        }
        out
    }
}

fn mid(a: Point, b: Point) -> Point {
    Point::new((a.x + b.x) / 2.0, (a.y + b.y) / 2.0)
}

/// First zero crossing (outside → inside) of `sdf` on the segment g → p, refined by bisection.
fn march(g: Point, p: Point, sdf: &dyn Fn(Point) -> f32) -> Point {
    let len = g.dist(p);
    let steps = (len / 0.2).ceil().max(1.0) as usize;
    let at = |t: f32| Point::new(g.x + (p.x - g.x) * t, g.y + (p.y - g.y) * t);
    let mut prev = 0.0f32;
    for k in 1..=steps {
        let t = k as f32 / steps as f32;
        if sdf(at(t)) < 0.0 {
            let (mut lo, mut hi) = (prev, t);
            for _ in 0..30 {
                let m = 0.5 * (lo + hi);
                if sdf(at(m)) < 0.0 {
                    hi = m;
                } else {
                    lo = m;
                }
            }
            return at(0.5 * (lo + hi));
        }
        prev = t;
    }
    at(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palm_centre_inside_and_far_point_outside() {
        for seed in 0..20 {
            let h = HandShape::random(&mut Rng::new(seed));
            assert!(h.sdf(Point::new(0.0, 0.0)) < -20.0);
            assert!(h.sdf(Point::new(0.0, -260.0)) > 50.0);
            // Forearm continues downwards.
            assert!(h.sdf(Point::new(0.0, 300.0)) < -10.0);
            // Fingertip regions inside.
            for f in &h.fingers {
                let d = f.dir(0.0);
                let p = Point::new(
                    f.base.x + d.x * f.length * 0.8,
                    f.base.y + d.y * f.length * 0.8,
                );
                assert!(h.sdf(p) < 0.0, "seed {seed}");
            }
        }
    }

    #[test]
    fn valleys_on_the_outline_between_fingers() {
        for seed in 0..20 {
            let h = HandShape::random(&mut Rng::new(seed));
            let post = Posture::default();
            let v = h.valleys(&post, &|p| h.sdf(p));
            for (i, p) in v.iter().enumerate() {
                assert!(h.sdf(*p).abs() < 0.05, "seed {seed} V{i} {p:?}");
            }
            // Order along x: V0 (thumb side) > V1 > V2 > V3.
            assert!(v[1].x > v[2].x && v[2].x > v[3].x, "{v:?}");
            let d = v[1].dist(v[3]);
            assert!(d > 25.0 && d < 55.0, "{d}");
        }
    }

    #[test]
    fn finger_swing_never_carves_the_thumb() {
        for seed in 0..40 {
            let h = HandShape::random(&mut Rng::new(seed));
            let d = 5f32.to_radians();
            for post in [
                Posture {
                    spread: [d, d, -d, -d],
                },
                Posture {
                    spread: [-d, d, d, -d],
                },
            ] {
                let dirs = h.posed_dirs(&post);
                let th = &h.thumb;
                let a = th.dir(0.0);
                for k in 1..10 {
                    let t = th.length * k as f32 / 10.0;
                    let rad = th.r_base + (th.r_tip - th.r_base) * k as f32 / 10.0;
                    for o in [-0.8, 0.0, 0.8] {
                        let off = o * rad;
                        let q = Point::new(
                            th.base.x + a.x * t - a.y * off,
                            th.base.y + a.y * t + a.x * off,
                        );
                        let r = h.unspread(q, &post, &dirs);
                        assert!(
                            h.sdf(r) < 0.0,
                            "seed {seed}: thumb point {q:?} mapped out to {r:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn unspread_inverts_a_finger_swing() {
        let h = HandShape::random(&mut Rng::new(3));
        let post = Posture {
            spread: [0.08, -0.05, 0.06, -0.07],
        };
        let dirs = h.posed_dirs(&post);
        for (i, f) in h.fingers.iter().enumerate() {
            // A point far along the posed axis maps to the rest axis.
            let t = f.length * 0.9;
            let q = Point::new(f.base.x + dirs[i].x * t, f.base.y + dirs[i].y * t);
            let r = h.unspread(q, &post, &dirs);
            let d0 = f.dir(0.0);
            let want = Point::new(f.base.x + d0.x * t, f.base.y + d0.y * t);
            assert!(r.dist(want) < 0.05, "finger {i}: {r:?} vs {want:?}");
        }
    }
}
