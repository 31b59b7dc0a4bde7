//! Stages `palm_frame` and `crop_roi` (the architecture's ROI convention), and `normalise_roi`
//! for captures that are already ROI crops.

use palmsig_core::{GrayImage, Point};

use crate::error::AcquireError;
use crate::imgops;
use crate::params;
use crate::valleys::{unit, Valleys};

/// The palm coordinate frame and ROI square, in original image coordinates.
///
/// ROI pixel `(u, v)` of an `n`-pixel ROI ↔ image point
/// `top_left + (u+0.5)/n·side·x_axis + (v+0.5)/n·side·y_axis`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PalmFrame {
    /// Top-left ROI corner.
    pub top_left: Point,
    /// Unit vector `x̂` (from V3 towards V1: the index/thumb side).
    pub x_axis: Point,
    /// Unit vector `ŷ` (perpendicular to `x̂`, away from the fingers).
    pub y_axis: Point,
    /// ROI side `s = 1.2·|V1−V3|`, in image pixels.
    pub side: f32,
}

impl PalmFrame {
    /// Build the frame from `V1`, `V3` and a point on the fingers' side of the line `V3V1`
    /// (e.g. the middle fingertip) which decides the direction of `ŷ`.
    pub fn from_valleys(
        v1: Point,
        v3: Point,
        towards_fingers: Point,
    ) -> Result<Self, AcquireError> {
        let d = v1.dist(v3);
        if !d.is_finite() || d < 1e-3 {
            return Err(AcquireError::NoValleys("valleys V1 and V3 coincide".into()));
        }
        let x = Point::new((v1.x - v3.x) / d, (v1.y - v3.y) / d);
        let m = Point::new((v1.x + v3.x) / 2.0, (v1.y + v3.y) / 2.0);
        let mut y = Point::new(-x.y, x.x);
        if (towards_fingers.x - m.x) * y.x + (towards_fingers.y - m.y) * y.y > 0.0 {
            y = Point::new(-y.x, -y.y);
        }
        let s = 1.2 * d;
        let c = Point::new(
            m.x + (0.2 * d + s / 2.0) * y.x,
            m.y + (0.2 * d + s / 2.0) * y.y,
        );
        let top_left = Point::new(
            c.x - s / 2.0 * x.x - s / 2.0 * y.x,
            c.y - s / 2.0 * x.y - s / 2.0 * y.y,
        );
        Ok(PalmFrame {
            top_left,
            x_axis: x,
            y_axis: y,
            side: s,
        })
    }

    /// Image point of ROI coordinates `(u, v)` given in ROI pixels of an `n`-pixel ROI
    /// (pixel centres at `u + 0.5`).
    pub fn to_image(&self, u: f32, v: f32, n: usize) -> Point {
        let k = self.side / n as f32;
        let (a, b) = ((u + 0.5) * k, (v + 0.5) * k);
        Point::new(
            self.top_left.x + a * self.x_axis.x + b * self.y_axis.x,
            self.top_left.y + a * self.x_axis.y + b * self.y_axis.y,
        )
    }

    /// Corners: top-left, top-right, bottom-right, bottom-left.
    pub fn corners(&self) -> [Point; 4] {
        let (s, x, y, tl) = (self.side, self.x_axis, self.y_axis, self.top_left);
        [
            tl,
            Point::new(tl.x + s * x.x, tl.y + s * x.y),
            Point::new(tl.x + s * x.x + s * y.x, tl.y + s * x.y + s * y.y),
            Point::new(tl.x + s * y.x, tl.y + s * y.y),
        ]
    }

    /// Whether the frame is mirrored relative to the image (a left hand's palm view).
    pub fn is_mirrored(&self) -> bool {
        self.x_axis.x * self.y_axis.y - self.x_axis.y * self.y_axis.x < 0.0
    }

    /// The same frame for an image scaled by `sx`, `sy` (e.g. a companion image of another size).
    pub fn scaled(&self, sx: f32, sy: f32) -> PalmFrame {
        let x = unit(Point::new(self.x_axis.x * sx, self.x_axis.y * sy));
        let y = unit(Point::new(self.y_axis.x * sx, self.y_axis.y * sy));
        let tl = Point::new(
            (self.top_left.x + 0.5) * sx - 0.5,
            (self.top_left.y + 0.5) * sy - 0.5,
        );
        PalmFrame {
            top_left: tl,
            x_axis: x,
            y_axis: y,
            side: self.side * (sx * sy).sqrt(),
        }
    }
}

/// `ln(span / (PALM_RADIUS_TO_SPAN·r))`: how the valley span `|V1−V3|` compares with the span a
/// palm of inscribed radius `r` implies (0 = as expected; the frame cues' and `check_span`'s
/// bounds are on this).
pub(crate) fn span_to_palm_log(span: f32, r: f32) -> f32 {
    (span / (params::PALM_RADIUS_TO_SPAN * r)).ln()
}

/// Stage `palm_frame`: the ROI frame of the architecture's convention from the valleys.
pub fn palm_frame(v: &Valleys) -> Result<PalmFrame, AcquireError> {
    // The ring, middle and index tips lie on the fingers' side of V3V1; without them, the side
    // opposite the palm centre does.
    let towards = if v.tips.len() >= 4 {
        let t = &v.tips[1..4];
        Point::new(
            (t[0].x + t[1].x + t[2].x) / 3.0,
            (t[0].y + t[1].y + t[2].y) / 3.0,
        )
    } else {
        Point::new(
            2.0 * v.v2.x - v.palm_centre.x,
            2.0 * v.v2.y - v.palm_centre.y,
        )
    };
    let f = PalmFrame::from_valleys(v.v1, v.v3, towards)?;
    Ok(f.steadied(v.palm_centre, v.palm_radius))
}

impl PalmFrame {
    /// The frame steadied by the palm's inscribed circle (centre `c`, radius `r`), which does
    /// not move with the fingers: the valleys do (a finger spread or pressed together shifts its
    /// web by a few percent of `|V1−V3|`, and the frame with it).
    /// - Direction: `ŷ` is the mean of the valley line's normal and the direction from the
    ///   valleys' midpoint to `c`.
    /// - Size: `|V1−V3|` alone. The circle's size used to be blended in (geometric mean with
    ///   `PALM_RADIUS_TO_SPAN·r`), which steadied synthetic hands but not real ones: there the
    ///   span-to-radius ratio sits near the fade band below, so the circle's weight, and with it
    ///   the ROI's scale, changed from capture to capture of one hand (940 nm real development
    ///   set, BOCV, pose search on every pair: cross-session EER 2.34 % blended, 0.70 % from the
    ///   span alone).
    /// - A circle somewhat too small for the span (`FRAME_CUE_FADE_SCALE_LOG` to
    ///   `MAX_FRAME_CUE_SCALE_LOG`) counts less and less in the direction.
    ///
    /// Measured on 1,184 synthetic captures (frames mapped into hand coordinates through the
    /// generator's pose): captures whose ROI corner moved by more than 10 % of the side from
    /// their hand's median frame went from 62 to 32. When the two cues disagree grossly (one of
    /// them is wrong) the valleys alone decide: a direction more than
    /// `MAX_FRAME_CUE_ANGLE_DEG` apart, a circle too small for the span
    /// (`MAX_FRAME_CUE_SCALE_LOG`: an occluder notches the palm), or one far too large
    /// (`MIN_FRAME_CUE_SCALE_LOG`; `extract_roi` refuses such valleys before they get here).
    pub fn steadied(&self, c: Point, r: f32) -> PalmFrame {
        let s = self.side;
        let d = s / 1.2;
        // Valleys' midpoint: the centre minus (0.2·d + s/2)·ŷ.
        let k = 0.2 * d + s / 2.0;
        let centre = Point::new(
            self.top_left.x + s / 2.0 * (self.x_axis.x + self.y_axis.x),
            self.top_left.y + s / 2.0 * (self.x_axis.y + self.y_axis.y),
        );
        let m = Point::new(centre.x - k * self.y_axis.x, centre.y - k * self.y_axis.y);
        let to_c = unit(Point::new(c.x - m.x, c.y - m.y));
        let cos = to_c.x * self.y_axis.x + to_c.y * self.y_axis.y;
        let scale = span_to_palm_log(d, r);
        if !(r.is_finite() && r > 0.0)
            || cos < params::MAX_FRAME_CUE_ANGLE_DEG.to_radians().cos()
            || !(-params::MIN_FRAME_CUE_SCALE_LOG..=params::MAX_FRAME_CUE_SCALE_LOG)
                .contains(&scale)
        {
            return *self;
        }
        // Weight of the circle's cues: full up to FRAME_CUE_FADE_SCALE_LOG, then fading to none
        // at MAX_FRAME_CUE_SCALE_LOG (a circle somewhat too small is already suspect).
        let (fade, max) = (
            params::FRAME_CUE_FADE_SCALE_LOG,
            params::MAX_FRAME_CUE_SCALE_LOG,
        );
        let w = if scale <= fade {
            1.0
        } else {
            ((max - scale) / (max - fade)).clamp(0.0, 1.0)
        };
        let y = unit(Point::new(
            self.y_axis.x + w * to_c.x,
            self.y_axis.y + w * to_c.y,
        ));
        // Keep the handedness of (x̂, ŷ).
        let mut x = Point::new(y.y, -y.x);
        if x.x * self.x_axis.x + x.y * self.x_axis.y < 0.0 {
            x = Point::new(-x.x, -x.y);
        }
        let c2 = Point::new(
            m.x + (0.2 * d + s / 2.0) * y.x,
            m.y + (0.2 * d + s / 2.0) * y.y,
        );
        PalmFrame {
            top_left: Point::new(c2.x - s / 2.0 * (x.x + y.x), c2.y - s / 2.0 * (x.y + y.y)),
            x_axis: x,
            y_axis: y,
            side: s,
        }
    }
}

/// Stage `crop_roi`: sample `img` in `frame` at `n`×`n` pixels (bilinear; an area prefilter when
/// the ROI is more than twice the output size). Returns the ROI and the fraction of its samples
/// that fell outside the image (filled by edge clamping).
pub fn crop_roi(img: &GrayImage, frame: &PalmFrame, n: usize) -> (GrayImage, f32) {
    let n = n.max(1);
    let ratio = frame.side / n as f32;
    let k = if ratio >= 2.0 {
        ratio.floor() as usize
    } else {
        1
    };
    // Prefilter only when shrinking by 2x or more; otherwise sample the 8-bit image directly.
    let src = (k > 1).then(|| imgops::downscale_box(img, k));
    let (w, h) = (img.width() as f32, img.height() as f32);
    let mut out = vec![0u8; n * n];
    let mut outside = 0usize;
    for v in 0..n {
        for u in 0..n {
            let p = frame.to_image(u as f32, v as f32, n);
            if p.x < -0.5 || p.y < -0.5 || p.x > w - 0.5 || p.y > h - 0.5 {
                outside += 1;
            }
            let val = match &src {
                Some(src) => {
                    let (sx, sy) = ((p.x + 0.5) / k as f32 - 0.5, (p.y + 0.5) / k as f32 - 0.5);
                    imgops::sample_clamped(src, sx, sy)
                }
                None => imgops::sample_u8(img, p.x, p.y),
            };
            out[v * n + u] = val.round().clamp(0.0, 255.0) as u8;
        }
    }
    let roi = GrayImage::from_vec(n, n, out).unwrap_or_else(|_| GrayImage::new(n, n));
    (roi, outside as f32 / (n * n) as f32)
}

/// Stage `normalise_roi` (for `roi` captures): centre-crop to a square and resize to `n`×`n`
/// with area averaging (bilinear when enlarging). Orientation is kept as given.
pub fn normalise_roi(img: &GrayImage, n: usize) -> GrayImage {
    let (w, h) = (img.width(), img.height());
    let side = w.min(h).max(1);
    let (x0, y0) = ((w - side.min(w)) / 2, (h - side.min(h)) / 2);
    let n = n.max(1);
    if side <= n {
        let f = side as f32 / n as f32;
        let mut out = vec![0u8; n * n];
        for v in 0..n {
            for u in 0..n {
                let x = x0 as f32 + (u as f32 + 0.5) * f - 0.5;
                let y = y0 as f32 + (v as f32 + 0.5) * f - 0.5;
                out[v * n + u] = imgops::sample_u8(img, x, y).round().clamp(0.0, 255.0) as u8;
            }
        }
        return GrayImage::from_vec(n, n, out).unwrap_or_else(|_| GrayImage::new(n, n));
    }
    // Area resampling, separable: weights of source pixels overlapping each output cell.
    let weights = area_weights(side, n);
    let src = img.as_slice();
    let mut tmp = vec![0f32; side * n]; // side rows x n cols
    for y in 0..side {
        let row = &src[(y0 + y) * w + x0..(y0 + y) * w + x0 + side];
        for (u, ws) in weights.iter().enumerate() {
            tmp[y * n + u] = ws.iter().map(|&(i, wt)| row[i] as f32 * wt).sum();
        }
    }
    let mut out = vec![0u8; n * n];
    for (v, ws) in weights.iter().enumerate() {
        for u in 0..n {
            let val: f32 = ws.iter().map(|&(i, wt)| tmp[i * n + u] * wt).sum();
            out[v * n + u] = val.round().clamp(0.0, 255.0) as u8;
        }
    }
    GrayImage::from_vec(n, n, out).unwrap_or_else(|_| GrayImage::new(n, n))
}

/// For each of `n` output cells over `m` source pixels: `(source index, weight)` summing to 1.
fn area_weights(m: usize, n: usize) -> Vec<Vec<(usize, f32)>> {
    let f = m as f64 / n as f64;
    (0..n)
        .map(|o| {
            let (a, b) = (o as f64 * f, (o + 1) as f64 * f);
            let mut ws = Vec::new();
            let mut i = a.floor() as usize;
            while (i as f64) < b && i < m {
                let lo = a.max(i as f64);
                let hi = b.min(i as f64 + 1.0);
                if hi > lo {
                    ws.push((i, ((hi - lo) / f) as f32));
                }
                i += 1;
            }
            ws
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steadied_frame_blends_the_palm_direction_and_keeps_the_span_size() {
        let (v3, v1) = (Point::new(100.0, 100.0), Point::new(200.0, 100.0));
        let f = PalmFrame::from_valleys(v1, v3, Point::new(150.0, 0.0)).unwrap();
        let r_agree = 100.0 / params::PALM_RADIUS_TO_SPAN;
        // Palm centre straight below the valleys, radius agreeing with the span: unchanged.
        let g = f.steadied(Point::new(150.0, 200.0), r_agree);
        for (a, b) in g.corners().iter().zip(f.corners()) {
            assert!(a.dist(b) < 1e-3, "{a:?} vs {b:?}");
        }
        // Centre 10° off the normal, a palm 21 % larger: half the turn, the span's size.
        let t = 10f32.to_radians();
        let c = Point::new(150.0 + 100.0 * t.sin(), 100.0 + 100.0 * t.cos());
        let g = f.steadied(c, r_agree * 1.21);
        let turn = g.y_axis.x.atan2(g.y_axis.y).to_degrees();
        assert!((turn - 5.0).abs() < 0.01, "turn {turn}");
        assert!((g.side - 120.0).abs() < 0.01, "side {}", g.side);
        assert!(!g.is_mirrored() && g.x_axis.x > 0.99);
        // A centre 40° off, a radius 1.6x the span's (valleys too close), or one 0.7x (an
        // occluder's notch shrinks the circle): one cue is wrong, valleys decide.
        let t = 40f32.to_radians();
        let c = Point::new(150.0 + 100.0 * t.sin(), 100.0 + 100.0 * t.cos());
        assert_eq!(f.steadied(c, r_agree), f);
        assert_eq!(f.steadied(Point::new(150.0, 200.0), 1.6 * r_agree), f);
        assert_eq!(f.steadied(Point::new(150.0, 200.0), 0.7 * r_agree), f);
        // A radius 1.4x or 0.85x the span's: the size stays the span's.
        for k in [1.4f32, 0.85] {
            let g = f.steadied(Point::new(150.0, 200.0), k * r_agree);
            assert!((g.side - 120.0).abs() < 0.01, "side {}", g.side);
        }
        // 0.78x (ln 1/0.78 = 0.248, halfway through the fade): half the turn, the span's size.
        let k = 0.78f32;
        let w = (params::MAX_FRAME_CUE_SCALE_LOG - (1.0 / k).ln())
            / (params::MAX_FRAME_CUE_SCALE_LOG - params::FRAME_CUE_FADE_SCALE_LOG);
        assert!(w > 0.3 && w < 0.7, "weight {w}");
        let g = f.steadied(Point::new(150.0, 200.0), k * r_agree);
        assert!((g.side - 120.0).abs() < 0.01, "side {}", g.side);
        let t = 10f32.to_radians();
        let c = Point::new(150.0 + 100.0 * t.sin(), 100.0 + 100.0 * t.cos());
        let g = f.steadied(c, k * r_agree);
        let turn = g.y_axis.x.atan2(g.y_axis.y).to_degrees();
        let full = (t.sin() / (1.0 + t.cos())).atan().to_degrees();
        let want = (w * t.sin()).atan2(1.0 + w * t.cos()).to_degrees();
        assert!(
            (turn - want).abs() < 0.01 && turn < full - 1.0,
            "turn {turn}"
        );
        // A mirrored (left-hand) frame stays mirrored.
        let m = PalmFrame::from_valleys(v3, v1, Point::new(150.0, 0.0)).unwrap();
        assert!(m.is_mirrored());
        let c = Point::new(150.0 + 100.0 * 0.1f32.sin(), 100.0 + 100.0 * 0.1f32.cos());
        assert!(m.steadied(c, r_agree).is_mirrored());
    }

    #[test]
    fn frame_follows_convention() {
        // Right hand, fingers up: V3 left, V1 right.
        let v3 = Point::new(100.0, 100.0);
        let v1 = Point::new(200.0, 100.0);
        let f = PalmFrame::from_valleys(v1, v3, Point::new(150.0, 0.0)).unwrap();
        assert_eq!(f.x_axis, Point::new(1.0, 0.0));
        assert_eq!(f.y_axis, Point::new(0.0, 1.0));
        assert!((f.side - 120.0).abs() < 1e-4);
        let c = f.corners();
        assert!(c[0].dist(Point::new(90.0, 120.0)) < 1e-3);
        assert!(c[2].dist(Point::new(210.0, 240.0)) < 1e-3);
        assert!(!f.is_mirrored());
        // Left hand (mirror): V1 on the left.
        let g = PalmFrame::from_valleys(v3, v1, Point::new(150.0, 0.0)).unwrap();
        assert!(g.is_mirrored());
        assert!(g.corners()[0].dist(Point::new(210.0, 120.0)) < 1e-3);
    }

    #[test]
    fn area_resize_preserves_mean() {
        let data: Vec<u8> = (0..300 * 200).map(|i| ((i * 7) % 251) as u8).collect();
        let img = GrayImage::from_vec(300, 200, data).unwrap();
        let r = normalise_roi(&img, 128);
        assert_eq!((r.width(), r.height()), (128, 128));
        let crop: Vec<u8> = (0..200)
            .flat_map(|y| (50..250).map(move |x| (y, x)))
            .map(|(y, x)| img.get(x, y))
            .collect();
        let m = crop.iter().map(|&v| v as f32).sum::<f32>() / crop.len() as f32;
        assert!((r.mean() - m).abs() < 1.0);
        let w = area_weights(200, 128);
        for ws in &w {
            assert!((ws.iter().map(|x| x.1).sum::<f32>() - 1.0).abs() < 1e-4);
        }
    }
}
