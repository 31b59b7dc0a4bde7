//! The identity model: one person's hand (left and right are separate identities), with its
//! geometry and its canonical textures (visible albedo, NIR albedo, signed distance), rendered
//! once in the canonical frame and then warped by every capture.

use palmsig_core::{GrayF32, Hand, Point, Rng};

use crate::hand::HandShape;
use crate::params::TEXELS_PER_MM;
use crate::raster::{gaussian_blur, stroke, value_noise, StrokePt};
use crate::SynthError;

/// Canonical texture of one identity: per texel `[signed distance mm, visible albedo, NIR albedo, 0]`.
#[derive(Clone)]
pub(crate) struct Texture {
    pub w: usize,
    pub h: usize,
    /// Canonical mm of texel (0, 0)'s centre.
    pub x0: f32,
    pub y0: f32,
    pub texels: Vec<[f32; 4]>,
}

impl std::fmt::Debug for Texture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Texture({}x{})", self.w, self.h)
    }
}

impl Texture {
    /// Bilinear lookup at canonical mm; below the texture (forearm) the last row repeats;
    /// elsewhere outside it returns a background texel.
    #[inline]
    pub fn sample(&self, p: Point) -> [f32; 4] {
        let u = (p.x - self.x0) * TEXELS_PER_MM;
        let mut v = (p.y - self.y0) * TEXELS_PER_MM;
        let maxu = (self.w - 1) as f32;
        let maxv = (self.h - 1) as f32;
        if !(u >= 0.0 && u < maxu && v >= 0.0) {
            return [1e3, 0.0, 0.0, 0.0];
        }
        if v >= maxv {
            v = maxv - 0.001;
        }
        let (iu, iv) = (u as usize, v as usize);
        let (fu, fv) = (u - iu as f32, v - iv as f32);
        let i = iv * self.w + iu;
        let (a, b, c, d) = (
            self.texels[i],
            self.texels[i + 1],
            self.texels[i + self.w],
            self.texels[i + self.w + 1],
        );
        let mut out = [0.0; 4];
        for k in 0..3 {
            let top = a[k] + fu * (b[k] - a[k]);
            let bot = c[k] + fu * (d[k] - c[k]);
            out[k] = top + fv * (bot - top);
        }
        out
    }
}

/// Identity features, kept for inspection and tests (mm, canonical frame).
#[derive(Debug, Clone)]
pub struct Features {
    /// Principal lines (heart, head, life), as polylines.
    pub principal: Vec<Vec<Point>>,
    /// Number of secondary creases.
    pub secondary_creases: usize,
    /// Number of vein segments drawn.
    pub vein_segments: usize,
}

/// One hand of one person: geometry plus canonical visible and NIR textures.
///
/// Left and right hands of a subject get unrelated seeds, so they are different identities
/// (not mirror copies); a left hand is built in the right-hand canonical frame and mirrored
/// at capture time.
#[derive(Debug, Clone)]
pub struct Identity {
    seed: u64,
    subject: u32,
    hand: Hand,
    pub(crate) shape: HandShape,
    pub(crate) tex: Texture,
    features: Features,
}

/// Salt separating the streams drawn from one identity seed.
mod salt {
    pub const SHAPE: u64 = 1;
    pub const LINES: u64 = 2;
    pub const CREASES: u64 = 3;
    pub const VEINS: u64 = 4;
    pub const SKIN: u64 = 5;
}

impl Identity {
    /// The identity of `subject`'s `hand` in the data set made with `seed`.
    ///
    /// Errors on `Hand::Unknown` (a synthetic hand is always a left or right one).
    pub fn new(seed: u64, subject: u32, hand: Hand) -> Result<Identity, SynthError> {
        let side = match hand {
            Hand::Left => 1,
            Hand::Right => 0,
            Hand::Unknown => return Err(SynthError::UnknownHand),
        };
        let identity_seed = Rng::derive(seed, (subject as u64) * 2 + side).next_u64();
        Ok(Self::from_seed(identity_seed, subject, hand))
    }

    /// Build from an identity seed directly (what `truth.jsonl` records as `identity_seed`).
    pub fn from_seed(identity_seed: u64, subject: u32, hand: Hand) -> Identity {
        let shape = HandShape::random(&mut Rng::derive(identity_seed, salt::SHAPE));
        let (tex, features) = build_texture(&shape, identity_seed);
        Identity {
            seed: identity_seed,
            subject,
            hand,
            shape,
            tex,
            features,
        }
    }

    /// The identity seed (unique per subject and hand).
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// Subject number.
    pub fn subject(&self) -> u32 {
        self.subject
    }
    /// Which hand.
    pub fn hand(&self) -> Hand {
        self.hand
    }
    /// Hand geometry (canonical frame, mm).
    pub fn shape(&self) -> &HandShape {
        &self.shape
    }
    /// Identity features (for inspection).
    pub fn features(&self) -> &Features {
        &self.features
    }
}

fn bezier(p: [Point; 4], t: f32) -> Point {
    let u = 1.0 - t;
    let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
    Point::new(
        a * p[0].x + b * p[1].x + c * p[2].x + d * p[3].x,
        a * p[0].y + b * p[1].y + c * p[2].y + d * p[3].y,
    )
}

/// Sample a cubic Bézier into stroke points (texel coords) with a depth profile that tapers at
/// both ends and wanders along the curve.
fn curve_stroke(
    ctl: [Point; 4],
    tex: &Texture,
    sigma_mm: f32,
    depth: f32,
    rng: &mut Rng,
) -> (Vec<StrokePt>, Vec<Point>) {
    let approx_len: f32 = ctl.windows(2).map(|w| w[0].dist(w[1])).sum();
    let n = ((approx_len / 0.4).ceil() as usize).clamp(4, 2000);
    // Depth/width wander: a few random harmonics along the curve.
    let ph: [f32; 4] = std::array::from_fn(|_| rng.range(0.0, std::f64::consts::TAU) as f32);
    let amp = rng.range(0.15, 0.35) as f32;
    let taper = rng.range(0.08, 0.25) as f32;
    let mut pts = Vec::with_capacity(n + 1);
    let mut mm = Vec::with_capacity(n + 1);
    for k in 0..=n {
        let t = k as f32 / n as f32;
        let p = bezier(ctl, t);
        let wander = 1.0 + amp * ((t * 7.0 + ph[0]).sin() * 0.6 + (t * 17.0 + ph[1]).sin() * 0.4);
        let ends = ((t / taper).min((1.0 - t) / taper)).clamp(0.0, 1.0);
        let ends = ends * ends * (3.0 - 2.0 * ends);
        let wwander = 1.0 + 0.25 * (t * 11.0 + ph[2]).sin();
        pts.push(StrokePt {
            x: (p.x - tex.x0) * TEXELS_PER_MM + 0.5,
            y: (p.y - tex.y0) * TEXELS_PER_MM + 0.5,
            sigma: (sigma_mm * wwander * (0.5 + 0.5 * ends)).max(0.15) * TEXELS_PER_MM,
            depth: (depth * wander * ends).max(0.0),
        });
        mm.push(p);
    }
    (pts, mm)
}

fn jit(rng: &mut Rng, a: f32) -> f32 {
    rng.range(-a as f64, a as f64) as f32
}

fn build_texture(shape: &HandShape, seed: u64) -> (Texture, Features) {
    let (bx0, by0, bx1, _) = shape.bounds();
    let margin = 6.0;
    let x0 = bx0 - margin;
    let y0 = by0 - margin;
    let y1 = shape.wrist_y + 45.0;
    let w = ((bx1 + margin - x0) * TEXELS_PER_MM).ceil() as usize + 1;
    let h = ((y1 - y0) * TEXELS_PER_MM).ceil() as usize + 1;
    let mut tex = Texture {
        w,
        h,
        x0,
        y0,
        texels: vec![[0.0; 4]; w * h],
    };
    let to_mm = |u: usize, v: usize| {
        Point::new(x0 + u as f32 / TEXELS_PER_MM, y0 + v as f32 / TEXELS_PER_MM)
    };

    // Signed distance: exact near the outline, interpolated from a 1-mm grid elsewhere.
    let cw = ((w as f32 / TEXELS_PER_MM).ceil() as usize) + 2;
    let ch = ((h as f32 / TEXELS_PER_MM).ceil() as usize) + 2;
    let coarse: Vec<f32> = (0..cw * ch)
        .map(|i| shape.sdf(Point::new(x0 + (i % cw) as f32, y0 + (i / cw) as f32)))
        .collect();
    let mut sdf = vec![0.0f32; w * h];
    for v in 0..h {
        for u in 0..w {
            let gx = u as f32 / TEXELS_PER_MM;
            let gy = v as f32 / TEXELS_PER_MM;
            let (ix, iy) = (gx as usize, gy as usize);
            let (fx, fy) = (gx - ix as f32, gy - iy as f32);
            let c = |i: usize, j: usize| coarse[j * cw + i];
            let a = c(ix, iy) + fx * (c(ix + 1, iy) - c(ix, iy));
            let b = c(ix, iy + 1) + fx * (c(ix + 1, iy + 1) - c(ix, iy + 1));
            let mut d = a + fy * (b - a);
            if d.abs() < 3.0 {
                d = shape.sdf(to_mm(u, v));
            }
            sdf[v * w + u] = d;
        }
    }

    let pw = shape.palm_width;
    let pl = shape.palm_length;
    let top = -pl / 2.0;
    let wy = shape.wrist_y;

    // ---- Surface lines (visible; faintly in NIR) ----
    let mut lines = GrayF32::new(w, h);
    let mut rng = Rng::derive(seed, salt::LINES);
    let r = &mut rng;
    let heart = [
        Point::new(-pw / 2.0 - 3.0, top + 0.22 * pl + jit(r, 4.0)),
        Point::new(-pw * 0.15 + jit(r, 6.0), top + 0.27 * pl + jit(r, 5.0)),
        Point::new(pw * 0.08 + jit(r, 7.0), top + 0.19 * pl + jit(r, 5.0)),
        Point::new(pw * 0.22 + jit(r, 8.0), top + 0.05 * pl + jit(r, 3.0)),
    ];
    let head = [
        Point::new(pw / 2.0 + 3.0, top + 0.31 * pl + jit(r, 3.0)),
        Point::new(pw * 0.2 + jit(r, 5.0), top + 0.37 * pl + jit(r, 5.0)),
        Point::new(-pw * 0.12 + jit(r, 6.0), top + 0.43 * pl + jit(r, 7.0)),
        Point::new(
            -pw * 0.40 * r.range(0.65, 1.1) as f32,
            top + 0.50 * pl + jit(r, 10.0),
        ),
    ];
    let life = [
        Point::new(pw / 2.0 + 2.0, top + 0.32 * pl + jit(r, 3.0)),
        Point::new(pw * 0.06 + jit(r, 6.0), top + 0.46 * pl + jit(r, 4.0)),
        Point::new(pw * 0.0 + jit(r, 7.0), top + 0.78 * pl + jit(r, 5.0)),
        Point::new(pw * 0.18 + jit(r, 5.0), wy - 1.0),
    ];
    let mut principal = Vec::new();
    for ctl in [heart, head, life] {
        let sigma = r.range(0.35, 0.6) as f32;
        let depth = r.range(0.5, 0.75) as f32;
        let (pts, mm) = curve_stroke(ctl, &tex, sigma, depth, r);
        stroke(&mut lines, &pts);
        // A few short branches leaving the principal line.
        for _ in 0..r.below(4) {
            let k = r.below(mm.len() as u64 - 1) as usize;
            let p = mm[k];
            let ang = r.range(0.0, std::f64::consts::TAU) as f32;
            let len = r.range(4.0, 12.0) as f32;
            let d = Point::new(ang.cos() * len, ang.sin() * len);
            let ctl2 = [
                p,
                Point::new(
                    p.x + d.x * 0.33 + jit(r, 1.5),
                    p.y + d.y * 0.33 + jit(r, 1.5),
                ),
                Point::new(
                    p.x + d.x * 0.66 + jit(r, 1.5),
                    p.y + d.y * 0.66 + jit(r, 1.5),
                ),
                Point::new(p.x + d.x, p.y + d.y),
            ];
            let (pts, _) = curve_stroke(ctl2, &tex, sigma * 0.6, depth * 0.45, r);
            stroke(&mut lines, &pts);
        }
        principal.push(mm);
    }
    // Optional fate line (vertical, from the wrist towards the middle finger).
    if r.chance(0.6) {
        let ctl = [
            Point::new(jit(r, 6.0), wy - 4.0 - r.range(0.0, 15.0) as f32),
            Point::new(jit(r, 6.0), top + 0.7 * pl),
            Point::new(jit(r, 6.0), top + 0.45 * pl),
            Point::new(jit(r, 8.0), top + r.range(0.2, 0.4) as f32 * pl),
        ];
        let (pts, _) = curve_stroke(
            ctl,
            &tex,
            r.range(0.25, 0.4) as f32,
            r.range(0.12, 0.3) as f32,
            r,
        );
        stroke(&mut lines, &pts);
    }
    // Flexion creases of fingers and wrist.
    let crease_line =
        |c: Point, dir: Point, half: f32, depth: f32, r: &mut Rng, lines: &mut GrayF32| {
            let n = Point::new(-dir.y, dir.x);
            let bow = jit(r, 1.2);
            let ctl = [
                Point::new(c.x - n.x * half, c.y - n.y * half),
                Point::new(
                    c.x - n.x * half * 0.33 + dir.x * bow,
                    c.y - n.y * half * 0.33 + dir.y * bow,
                ),
                Point::new(
                    c.x + n.x * half * 0.33 + dir.x * bow,
                    c.y + n.y * half * 0.33 + dir.y * bow,
                ),
                Point::new(c.x + n.x * half, c.y + n.y * half),
            ];
            let (pts, _) = curve_stroke(ctl, &tex, r.range(0.25, 0.4) as f32, depth, r);
            stroke(lines, &pts);
        };
    for f in shape.fingers.iter().chain(std::iter::once(&shape.thumb)) {
        let d = f.dir(0.0);
        let ts: &[f32] = if f.length > 62.0 && f.angle.abs() < 0.5 {
            &[0.05, 0.42, 0.70]
        } else {
            &[0.12, 0.55]
        };
        for &t in ts {
            let tt = t * f.length + jit(r, 1.5);
            let c = Point::new(f.base.x + d.x * tt, f.base.y + d.y * tt);
            let rad = f.r_base + (f.r_tip - f.r_base) * t;
            let dep = r.range(0.25, 0.45) as f32;
            crease_line(c, d, rad * 1.05, dep, r, &mut lines);
            let off = r.range(0.9, 1.6) as f32;
            crease_line(
                Point::new(c.x + d.x * off, c.y + d.y * off),
                d,
                rad,
                dep * 0.7,
                r,
                &mut lines,
            );
        }
    }
    for k in 0..2 {
        let yy = wy + 3.0 + k as f32 * r.range(4.0, 7.0) as f32;
        crease_line(
            Point::new(jit(r, 2.0), yy),
            Point::new(0.0, -1.0),
            shape.forearm_half * 1.1,
            r.range(0.15, 0.3) as f32,
            r,
            &mut lines,
        );
    }

    // ---- Secondary creases and wrinkles ----
    let mut rng = Rng::derive(seed, salt::CREASES);
    let r = &mut rng;
    let n_sec = 60 + r.below(60) as usize;
    let mut placed = 0;
    let mut tries = 0;
    while placed < n_sec && tries < n_sec * 20 {
        tries += 1;
        let p = Point::new(
            r.range(-pw as f64 * 0.6, pw as f64 * 0.6) as f32,
            r.range(top as f64, wy as f64 + 5.0) as f32,
        );
        if shape.sdf(p) > -3.0 {
            continue;
        }
        let thenar = p.x > pw * 0.12 && p.y > top + 0.45 * pl;
        let kind = r.unit();
        let ang = if thenar {
            // Thenar wrinkles: mostly along the thumb's axis.
            shape.thumb.angle + std::f32::consts::FRAC_PI_2 + jit(r, 0.6)
        } else if kind < 0.45 {
            // Near-vertical creases (the palm's longitudinal wrinkles).
            std::f32::consts::FRAC_PI_2 + jit(r, 0.45)
        } else if kind < 0.75 {
            // Near-horizontal, like the principal flexion lines.
            jit(r, 0.5)
        } else {
            r.range(0.0, std::f64::consts::PI) as f32
        };
        let len = if thenar {
            r.range(3.0, 9.0)
        } else {
            r.range(4.0, 18.0)
        } as f32;
        let d = Point::new(ang.cos() * len / 2.0, ang.sin() * len / 2.0);
        let nrm = Point::new(-d.y, d.x);
        let bow = jit(r, 0.35);
        let ctl = [
            Point::new(p.x - d.x, p.y - d.y),
            Point::new(
                p.x - d.x * 0.33 + nrm.x * bow,
                p.y - d.y * 0.33 + nrm.y * bow,
            ),
            Point::new(
                p.x + d.x * 0.33 + nrm.x * bow,
                p.y + d.y * 0.33 + nrm.y * bow,
            ),
            Point::new(p.x + d.x, p.y + d.y),
        ];
        let depth = r.range(0.08, 0.32) as f32;
        let (pts, _) = curve_stroke(ctl, &tex, r.range(0.18, 0.35) as f32, depth, r);
        stroke(&mut lines, &pts);
        placed += 1;
    }

    // ---- Veins (NIR): a branching tree grown from the wrist, independent of the creases ----
    let mut veins = GrayF32::new(w, h);
    let mut rng = Rng::derive(seed, salt::VEINS);
    let r = &mut rng;
    struct Tip {
        p: Point,
        ang: f32,
        width: f32,
        depth: f32,
        life: u32,
    }
    let mut tips: Vec<Tip> = Vec::new();
    let roots = 3 + r.below(3);
    for k in 0..roots {
        let fx = (k as f32 + 0.5) / roots as f32 - 0.5;
        tips.push(Tip {
            p: Point::new(fx * shape.forearm_half * 1.6 + jit(r, 4.0), wy + 35.0),
            ang: -std::f32::consts::FRAC_PI_2 + fx * 0.5 + jit(r, 0.25),
            width: r.range(2.4, 3.6) as f32,
            depth: r.range(0.2, 0.32) as f32,
            life: 260,
        });
    }
    // Palmar veins also enter from the palm's sides (thenar and hypothenar edges).
    for _ in 0..2 + r.below(3) {
        let left = r.chance(0.5);
        let y = r.range((top + 0.3 * pl) as f64, (wy - 10.0) as f64) as f32;
        let x = if left {
            -pw / 2.0 - 2.0
        } else {
            pw / 2.0 + 2.0
        };
        let inward = if left { 0.0 } else { std::f32::consts::PI };
        tips.push(Tip {
            p: Point::new(x, y),
            ang: inward - (r.range(0.3, 1.1) as f32) * if left { 1.0 } else { -1.0 },
            width: r.range(1.6, 2.6) as f32,
            depth: r.range(0.15, 0.28) as f32,
            life: 60 + r.below(60) as u32,
        });
    }
    let mut segments = 0usize;
    while let Some(mut t) = tips.pop() {
        let mut pts = vec![];
        let to_st = |p: Point, width: f32, depth: f32| StrokePt {
            x: (p.x - x0) * TEXELS_PER_MM + 0.5,
            y: (p.y - y0) * TEXELS_PER_MM + 0.5,
            sigma: width * 0.5 * TEXELS_PER_MM,
            depth,
        };
        pts.push(to_st(t.p, t.width, t.depth));
        while t.life > 0 {
            t.life -= 1;
            t.ang += jit(r, 0.22);
            let step = 1.5;
            t.p = Point::new(t.p.x + t.ang.cos() * step, t.p.y + t.ang.sin() * step);
            t.width *= 0.996;
            pts.push(to_st(t.p, t.width, t.depth));
            if (shape.sdf(t.p) > -3.0 && t.life < 250) || t.width < 0.9 {
                break;
            }
            if segments < 90 && r.chance(0.04) {
                let side = if r.chance(0.5) { 1.0 } else { -1.0 };
                tips.push(Tip {
                    p: t.p,
                    ang: t.ang + side * r.range(0.4, 0.9) as f32,
                    width: t.width * r.range(0.6, 0.85) as f32,
                    depth: t.depth * r.range(0.75, 1.0) as f32,
                    life: 30 + r.below(60) as u32,
                });
                segments += 1;
                t.width *= 0.92;
            }
        }
        stroke(&mut veins, &pts);
        segments += 1;
    }
    // Subcutaneous scattering: veins look broad and soft at 850–940 nm.
    gaussian_blur(&mut veins, 1.0 * TEXELS_PER_MM);

    // ---- Skin ----
    let mut rng = Rng::derive(seed, salt::SKIN);
    let r = &mut rng;
    let tone_vis = r.range(0.85, 1.05) as f32;
    let tone_nir = r.range(0.92, 1.05) as f32;
    let mottle = value_noise(w, h, 14.0 * TEXELS_PER_MM, r);
    let mottle2 = value_noise(w, h, 4.0 * TEXELS_PER_MM, r);
    let fine = value_noise(w, h, 0.45 * TEXELS_PER_MM, r);
    let mut lines_soft = lines.clone();
    gaussian_blur(&mut lines_soft, 0.7 * TEXELS_PER_MM);
    for v in 0..h {
        for u in 0..w {
            let i = v * w + u;
            let d = sdf[i];
            let p = to_mm(u, v);
            let rim_vis = 1.0 - 0.35 * (d / 4.0).min(0.0).exp();
            let rim_nir = 1.0 - 0.3 * (d / 6.0).min(0.0).exp();
            let hollow =
                1.0 - 0.06 * (-(p.x * p.x + (p.y + 5.0) * (p.y + 5.0)) / (28.0 * 28.0)).exp();
            let low = 1.0 + 0.06 * mottle.as_slice()[i] + 0.03 * mottle2.as_slice()[i];
            let vis = tone_vis
                * low
                * hollow
                * rim_vis
                * (1.0 + 0.06 * fine.as_slice()[i])
                * (1.0 - lines.as_slice()[i].min(0.85));
            let nir = tone_nir
                * (1.0 + 0.04 * mottle.as_slice()[i])
                * rim_nir
                * (1.0 - veins.as_slice()[i].min(0.6))
                * (1.0 - 0.3 * lines_soft.as_slice()[i].min(0.8))
                * (1.0 + 0.01 * fine.as_slice()[i]);
            tex.texels[i] = [d, vis, nir, 0.0];
        }
    }
    (
        tex,
        Features {
            principal,
            secondary_creases: placed,
            vein_segments: segments,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_are_deterministic_and_distinct() {
        let a = Identity::new(7, 1, Hand::Right).unwrap();
        let b = Identity::new(7, 1, Hand::Right).unwrap();
        let c = Identity::new(7, 1, Hand::Left).unwrap();
        assert_eq!(a.seed(), b.seed());
        assert_eq!(a.tex.texels, b.tex.texels);
        assert_ne!(a.seed(), c.seed());
        assert!(Identity::new(7, 1, Hand::Unknown).is_err());
        assert!(a.features().secondary_creases >= 30, "{:?}", a.features());
        assert!(a.features().vein_segments >= 5, "{:?}", a.features());
    }
}
