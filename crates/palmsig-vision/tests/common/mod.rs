//! A simple drawn hand for tests and benches: elliptical palm, five capsule fingers, a forearm
//! running out of the frame, at any position, size, rotation and side.
#![allow(dead_code)]

use palmsig_core::{GrayImage, Point, Rng};

/// Where and how to draw the hand.
#[derive(Debug, Clone, Copy)]
pub struct HandSpec {
    pub width: usize,
    pub height: usize,
    /// Palm centre in the image.
    pub centre: Point,
    /// Palm width in pixels.
    pub palm: f32,
    /// In-plane rotation (radians, clockwise on screen); 0 = fingers up.
    pub angle: f32,
    /// Draw a left hand (the mirror image of a right hand).
    pub left: bool,
    /// Hand and background gray levels.
    pub hand_level: f32,
    pub background: f32,
    /// Gaussian noise std.
    pub noise: f32,
    pub seed: u64,
    /// Finger radius relative to the default (wider fingers close the gaps between them).
    pub finger_width: f32,
    /// Finger spread relative to the default (0: parallel fingers).
    pub spread: f32,
}

impl HandSpec {
    pub fn new(width: usize, height: usize) -> Self {
        HandSpec {
            width,
            height,
            centre: Point::new(width as f32 * 0.5, height as f32 * 0.6),
            palm: height as f32 * 0.3,
            angle: 0.0,
            left: false,
            hand_level: 110.0,
            background: 17.0,
            noise: 3.0,
            seed: 1,
            finger_width: 1.0,
            spread: 1.0,
        }
    }
}

const A: f32 = 0.5; // palm semi-axis across
const B: f32 = 0.55; // palm semi-axis along
                     // (base x, length, spread angle in degrees, radius), little → index, in palm widths.
const FINGERS: [(f32, f32, f32, f32); 4] = [
    (-0.36, 0.55, -14.0, 0.095),
    (-0.12, 0.75, -5.0, 0.1),
    (0.12, 0.8, 4.0, 0.1),
    (0.36, 0.72, 13.0, 0.1),
];

fn top(x: f32) -> f32 {
    -B * (1.0 - (x / A).powi(2)).max(0.0).sqrt()
}

fn seg_dist(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (vx, vy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * vx + (p.1 - a.1) * vy) / (vx * vx + vy * vy)).clamp(0.0, 1.0);
    ((p.0 - a.0 - t * vx).powi(2) + (p.1 - a.1 - t * vy).powi(2)).sqrt()
}

/// Is hand-frame point (u right, v down; palm widths) inside the right hand?
fn inside(s: &HandSpec, u: f32, v: f32) -> bool {
    if (u / A).powi(2) + (v / B).powi(2) <= 1.0 {
        return true;
    }
    if v >= 0.0 && u.abs() <= 0.36 {
        return true; // forearm
    }
    for &(x, len, ang, r) in &FINGERS {
        let base = (x, top(x) + 0.12);
        let a = (s.spread * ang).to_radians();
        let tip = (base.0 + len * a.sin(), base.1 - len * a.cos());
        if seg_dist((u, v), base, tip) <= s.finger_width * r {
            return true;
        }
    }
    // Thumb.
    // Thumb: its web lies well below the finger valleys, as in real hands.
    let tb = (0.42, 0.2);
    let a = 55f32.to_radians();
    let tt = (tb.0 + 0.6 * a.sin(), tb.1 - 0.6 * a.cos());
    seg_dist((u, v), tb, tt) <= 0.12
}

/// Hand-frame point → image point.
fn to_image(s: &HandSpec, u: f32, v: f32) -> Point {
    let u = if s.left { -u } else { u };
    let (sn, cs) = s.angle.sin_cos();
    let (x, y) = (u * s.palm, v * s.palm);
    Point::new(s.centre.x + cs * x - sn * y, s.centre.y + sn * x + cs * y)
}

/// The truth valleys V1, V2, V3 (image coordinates).
pub fn truth_valleys(s: &HandSpec) -> [Point; 3] {
    let mid = |i: usize| {
        let x = (FINGERS[i].0 + FINGERS[i + 1].0) / 2.0;
        to_image(s, x, top(x))
    };
    [mid(2), mid(1), mid(0)]
}

/// Render the hand (2x2 supersampled edges, mild blur from the supersampling, noise).
pub fn draw_hand(s: &HandSpec) -> GrayImage {
    let mut img = GrayImage::new(s.width, s.height);
    let mut rng = Rng::new(s.seed);
    let (sn, cs) = s.angle.sin_cos();
    for y in 0..s.height {
        for x in 0..s.width {
            let mut cover = 0.0;
            for (ox, oy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (dx, dy) = (
                    x as f32 + ox - 0.5 - s.centre.x,
                    y as f32 + oy - 0.5 - s.centre.y,
                );
                // Inverse rotation.
                let (mut u, v) = ((cs * dx + sn * dy) / s.palm, (-sn * dx + cs * dy) / s.palm);
                if s.left {
                    u = -u;
                }
                if inside(s, u, v) {
                    cover += 0.25;
                }
            }
            // A little palm texture so ROIs have contrast.
            let tex = 6.0 * ((x as f32 * 0.21).sin() * (y as f32 * 0.17).cos());
            let val = s.background
                + cover * (s.hand_level - s.background + tex)
                + s.noise * rng.normal() as f32;
            img.set(x, y, val.round().clamp(0.0, 255.0) as u8);
        }
    }
    img
}

/// Gaussian blur of an 8-bit image (for blur tests).
pub fn blur(img: &GrayImage, sigma: f32) -> GrayImage {
    let r = (3.0 * sigma).ceil() as isize;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = k.iter().sum();
    let (w, h) = (img.width() as isize, img.height() as isize);
    let mut tmp = vec![0f32; (w * h) as usize];
    for y in 0..h {
        for x in 0..w {
            let mut a = 0.0;
            for (i, kv) in k.iter().enumerate() {
                let xx = (x + i as isize - r).clamp(0, w - 1);
                a += kv * img.get(xx as usize, y as usize) as f32;
            }
            tmp[(y * w + x) as usize] = a / sum;
        }
    }
    let mut out = GrayImage::new(w as usize, h as usize);
    for y in 0..h {
        for x in 0..w {
            let mut a = 0.0;
            for (i, kv) in k.iter().enumerate() {
                let yy = (y + i as isize - r).clamp(0, h - 1);
                a += kv * tmp[(yy * w + x) as usize];
            }
            out.set(
                x as usize,
                y as usize,
                (a / sum).round().clamp(0.0, 255.0) as u8,
            );
        }
    }
    out
}
