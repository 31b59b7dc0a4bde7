//! Rendering one capture: warp the identity's canonical textures by the capture's pose
//! (homography with perspective tilt, finger spread, elastic skin), light it, put it on a
//! background, then blur, add sensor noise and JPEG-like artefacts. Both modalities share the
//! geometry, so the visible and NIR images are pixel-aligned.

use palmsig_core::{CaptureKind, GrayF32, GrayImage, Hand, Point, Rng};
use serde::Serialize;

use crate::capture::CaptureSpec;
use crate::hand::HandShape;
use crate::identity::Identity;
use crate::params::{self, levels, Difficulty};
use crate::raster::{fast_normal, gaussian_blur, jpeg_like, motion_blur, value_noise};
use crate::SynthError;

/// A rendered capture: pixel-aligned visible and NIR images, the hand mask, and ground truth.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Visible-light (surface) image, 8-bit gray.
    pub visible: GrayImage,
    /// Near-infrared (vein) image, 8-bit gray, pixel-aligned with `visible`.
    pub nir: GrayImage,
    /// Hand coverage (255 = hand, 0 = background), not counting occluders: what a perfect
    /// segmentation would return.
    pub mask: GrayImage,
    /// Ground truth.
    pub truth: Truth,
}

/// The pose of the hand in a capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoseTruth {
    /// In-plane rotation of the upright hand (fingers up, wrist down), degrees, clockwise on screen.
    pub rotation_deg: f32,
    /// Image position (px) of the canonical palm centre.
    pub translation: [f32; 2],
    /// Hover-distance scale relative to nominal.
    pub scale: f32,
    /// Image pixels per millimetre of palm at the palm centre.
    pub px_per_mm: f32,
    /// Tilt about the hand's x and y axes, degrees.
    pub tilt: [f32; 2],
    /// Finger spread changes (index, middle, ring, little), degrees.
    pub spread_deg: [f32; 4],
}

/// Photometric conditions of a capture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhotoTruth {
    /// Exposure multiplier.
    pub exposure: f32,
    /// Defocus sigma in px of this image.
    pub defocus_px: f32,
    /// Motion-blur length in px of this image (0 = none).
    pub motion_px: f32,
    /// Read-noise sigma (gray levels).
    pub noise: f32,
    /// JPEG-like quality.
    pub jpeg_quality: u32,
}

/// For ROI crops: where the exact ROI (ARCHITECTURE.md convention) lies in the crop, and the
/// residual misalignment applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoiTruth {
    /// Crop side (px).
    pub size: usize,
    /// Source frame the crop was taken from (width, height).
    pub source_size: [usize; 2],
    /// Misalignment shift, px of the crop, along the ROI's x and y axes.
    pub shift_px: [f32; 2],
    /// Misalignment rotation, degrees.
    pub rotation_deg: f32,
    /// Misalignment scale (crop side / exact ROI side).
    pub scale: f32,
    /// Corners of the exact ROI in crop pixel coordinates (TL, TR, BR, BL).
    pub corners_in_crop: [Point; 4],
}

/// Ground truth of one capture (written to `truth.jsonl`).
///
/// Coordinates are continuous image coordinates: pixel (x, y) covers [x, x+1) × [y, y+1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Truth {
    /// Subject number.
    pub subject: u32,
    /// Which hand.
    pub hand: Hand,
    /// Session label.
    pub session: u32,
    /// Capture index within the hand.
    pub capture_index: u32,
    /// What the images show.
    pub kind: CaptureKind,
    /// Identity seed (regenerates the identity with `Identity::from_seed`).
    pub identity_seed: u64,
    /// Frame width of the full-hand capture (px).
    pub width: usize,
    /// Frame height of the full-hand capture (px).
    pub height: usize,
    /// Pose.
    pub pose: PoseTruth,
    /// Finger valleys V0 (thumb–index), V1 (index–middle), V2 (middle–ring), V3 (ring–little),
    /// image px of the full frame.
    pub valleys: [Point; 4],
    /// Palm ROI corners (TL, TR, BR, BL) per the ARCHITECTURE.md convention, image px of the full frame.
    pub roi_corners: [Point; 4],
    /// Fraction of the frame covered by the (unoccluded) hand.
    pub hand_fraction: f32,
    /// A partial occluder covers part of the hand.
    pub occluded: bool,
    /// Fingertips were pushed out of the frame.
    pub out_of_frame: bool,
    /// Photometric conditions.
    pub photo: PhotoTruth,
    /// ROI crops only.
    pub roi: Option<RoiTruth>,
}

/// A projective map (row-major 3x3).
#[derive(Debug, Clone, Copy)]
struct Homography([f32; 9]);

impl Homography {
    fn mul(&self, o: &Homography) -> Homography {
        let (a, b) = (&self.0, &o.0);
        let mut m = [0.0; 9];
        for r in 0..3 {
            for c in 0..3 {
                m[r * 3 + c] = (0..3).map(|k| a[r * 3 + k] * b[k * 3 + c]).sum();
            }
        }
        Homography(m)
    }
    fn apply(&self, p: Point) -> Point {
        let m = &self.0;
        let w = m[6] * p.x + m[7] * p.y + m[8];
        Point::new(
            (m[0] * p.x + m[1] * p.y + m[2]) / w,
            (m[3] * p.x + m[4] * p.y + m[5]) / w,
        )
    }
    fn inverse(&self) -> Option<Homography> {
        let m = &self.0;
        let c00 = m[4] * m[8] - m[5] * m[7];
        let c01 = m[5] * m[6] - m[3] * m[8];
        let c02 = m[3] * m[7] - m[4] * m[6];
        let det = m[0] * c00 + m[1] * c01 + m[2] * c02;
        if det.abs() < 1e-12 {
            return None;
        }
        let inv = [
            c00,
            m[2] * m[7] - m[1] * m[8],
            m[1] * m[5] - m[2] * m[4],
            c01,
            m[0] * m[8] - m[2] * m[6],
            m[2] * m[3] - m[0] * m[5],
            c02,
            m[1] * m[6] - m[0] * m[7],
            m[0] * m[4] - m[1] * m[3],
        ];
        Some(Homography(inv.map(|v| v / det)))
    }
}

/// Smooth random displacement field on a coarse grid (mm).
struct Elastic {
    x0: f32,
    y0: f32,
    cell: f32,
    nx: usize,
    ny: usize,
    d: Vec<[f32; 2]>,
}

impl Elastic {
    fn new(x0: f32, y0: f32, x1: f32, y1: f32, amp: f32, seed: u64) -> Elastic {
        let cell = 16.0;
        let nx = ((x1 - x0) / cell).ceil() as usize + 3;
        let ny = ((y1 - y0) / cell).ceil() as usize + 3;
        let mut rng = Rng::new(seed);
        let d = (0..nx * ny)
            .map(|_| [amp * rng.normal() as f32, amp * rng.normal() as f32])
            .collect();
        Elastic {
            x0: x0 - cell,
            y0: y0 - cell,
            cell,
            nx,
            ny,
            d,
        }
    }
    #[inline]
    fn apply(&self, p: Point) -> Point {
        let gx = ((p.x - self.x0) / self.cell).clamp(0.0, (self.nx - 2) as f32);
        let gy = ((p.y - self.y0) / self.cell).clamp(0.0, (self.ny - 2) as f32);
        let (ix, iy) = (
            (gx as usize).min(self.nx - 2),
            (gy as usize).min(self.ny - 2),
        );
        let (fx, fy) = (gx - ix as f32, gy - iy as f32);
        let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
        let i = iy * self.nx + ix;
        let (a, b, c, d) = (
            self.d[i],
            self.d[i + 1],
            self.d[i + self.nx],
            self.d[i + self.nx + 1],
        );
        let mut out = [0.0; 2];
        for k in 0..2 {
            let t = a[k] + sx * (b[k] - a[k]);
            let u = c[k] + sx * (d[k] - c[k]);
            out[k] = t + sy * (u - t);
        }
        Point::new(p.x + out[0], p.y + out[1])
    }
}

/// The geometric part of a capture, shared by both modalities.
struct Geometry {
    /// Canonical (posed, right-hand) mm → image px.
    h: Homography,
    hinv: Homography,
    px_per_mm: f32,
    translation: Point,
    elastic: Elastic,
    dirs: [Point; 4],
    finger_zone_y: f32,
}

fn tilt_homography(tx_deg: f32, ty_deg: f32) -> Homography {
    let (sa, ca) = tx_deg.to_radians().sin_cos();
    let (sb, cb) = ty_deg.to_radians().sin_cos();
    // R = Ry(b) · Rx(a); only the first two columns matter for the plane z = 0.
    let r11 = cb;
    let r12 = sb * sa;
    let r21 = 0.0;
    let r22 = ca;
    let r31 = -sb;
    let r32 = cb * sa;
    let d = params::CAMERA_DISTANCE_MM;
    Homography([r11, r12, 0.0, r21, r22, 0.0, r31 / d, r32 / d, 1.0])
}

fn geometry(
    identity: &Identity,
    spec: &CaptureSpec,
    w: usize,
    h: usize,
) -> Result<Geometry, SynthError> {
    let shape = &identity.shape;
    let frame = (w as f32 * 0.75).min(h as f32);
    let ppm = params::NOMINAL_PX_PER_MM_AT_576 * frame / 576.0 * spec.scale;
    let mirror = if identity.hand() == Hand::Left {
        -1.0
    } else {
        1.0
    };
    let m = Homography([mirror, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let t = tilt_homography(spec.tilt_deg[0], spec.tilt_deg[1]);
    let (sn, cs) = spec.rotation_deg.to_radians().sin_cos();
    let sim = |tx: f32, ty: f32| {
        Homography([
            ppm * cs,
            -ppm * sn,
            tx,
            ppm * sn,
            ppm * cs,
            ty,
            0.0,
            0.0,
            1.0,
        ])
    };
    let h0 = sim(0.0, 0.0).mul(&t).mul(&m);
    // Extent of the hand (without the forearm) at zero translation.
    let dirs = shape.posed_dirs(&spec.posture);
    let mut pts: Vec<Point> = shape.palm.clone();
    for (i, f) in shape.fingers.iter().enumerate() {
        let tip = Point::new(
            f.base.x + dirs[i].x * f.length,
            f.base.y + dirs[i].y * f.length,
        );
        for (dx, dy) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
            pts.push(Point::new(tip.x + dx * f.r_tip, tip.y + dy * f.r_tip));
        }
    }
    let th = shape.thumb.dir(0.0);
    let ttip = Point::new(
        shape.thumb.base.x + th.x * shape.thumb.length,
        shape.thumb.base.y + th.y * shape.thumb.length,
    );
    for (dx, dy) in [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.0), (0.0, -1.0)] {
        pts.push(Point::new(
            ttip.x + dx * shape.thumb.r_tip,
            ttip.y + dy * shape.thumb.r_tip,
        ));
    }
    let (mut bx0, mut by0, mut bx1, mut by1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in &pts {
        let q = h0.apply(*p);
        bx0 = bx0.min(q.x);
        by0 = by0.min(q.y);
        bx1 = bx1.max(q.x);
        by1 = by1.max(q.y);
    }
    let preset = spec.difficulty.preset();
    let place = |lo_edge: f32, hi_edge: f32, size: f32, p: f32| {
        let margin = params::PLACE_MARGIN * size;
        let lo = margin - lo_edge;
        let hi = size - margin - hi_edge;
        let mid = 0.5 * (lo + hi);
        let span = (hi - lo).max(0.0).min(2.0 * preset.translation_frac * size);
        mid + (p - 0.5) * span
    };
    let mut tx = place(bx0, bx1, w as f32, spec.place[0]);
    let mut ty = place(by0, by1, h as f32, spec.place[1]);
    if spec.out_of_frame {
        // Push along the fingers' direction so the fingertips leave the frame.
        let up = Point::new(sn, -cs);
        let push = 0.12 * frame;
        tx += up.x * push;
        ty += up.y * push;
    }
    let hm = sim(tx, ty).mul(&t).mul(&m);
    let hinv = hm
        .inverse()
        .ok_or(SynthError::Degenerate("pose homography is singular"))?;
    let (ex0, ey0, ex1, _) = shape.bounds();
    let elastic = Elastic::new(
        ex0,
        ey0,
        ex1,
        shape.wrist_y + 60.0,
        spec.elastic_mm,
        spec.elastic_seed,
    );
    let finger_zone_y = shape
        .fingers
        .iter()
        .map(|f| f.base.y)
        .fold(f32::MIN, f32::max)
        + 1.0;
    Ok(Geometry {
        h: hm,
        hinv,
        px_per_mm: ppm,
        translation: hm.apply(Point::new(0.0, 0.0)),
        elastic,
        dirs,
        finger_zone_y,
    })
}

impl Geometry {
    /// Posed canonical point → rest canonical point (texture lookup position).
    #[inline]
    fn to_rest(&self, shape: &HandShape, spec: &CaptureSpec, q: Point) -> Point {
        let r = if q.y < self.finger_zone_y {
            shape.unspread(q, &spec.posture, &self.dirs)
        } else {
            q
        };
        self.elastic.apply(r)
    }
}

/// ROI corners from V1 and V3 per the ARCHITECTURE.md convention; `right_frame_sign` is +1
/// when x̂ turned +90° (screen) points away from the fingers, −1 otherwise.
pub(crate) fn roi_from_valleys(
    v1: Point,
    v3: Point,
    away: Point,
) -> ([Point; 4], Point, Point, f32) {
    let d = v1.dist(v3).max(1e-6);
    let xh = Point::new((v1.x - v3.x) / d, (v1.y - v3.y) / d);
    let mut yh = Point::new(-xh.y, xh.x);
    if yh.x * away.x + yh.y * away.y < 0.0 {
        yh = Point::new(-yh.x, -yh.y);
    }
    let s = 1.2 * d;
    let m = Point::new((v1.x + v3.x) / 2.0, (v1.y + v3.y) / 2.0);
    let c = Point::new(
        m.x + (0.2 * d + s / 2.0) * yh.x,
        m.y + (0.2 * d + s / 2.0) * yh.y,
    );
    let corner = |a: f32, b: f32| {
        Point::new(
            c.x + a * s / 2.0 * xh.x + b * s / 2.0 * yh.x,
            c.y + a * s / 2.0 * xh.y + b * s / 2.0 * yh.y,
        )
    };
    (
        [
            corner(-1.0, -1.0),
            corner(1.0, -1.0),
            corner(1.0, 1.0),
            corner(-1.0, 1.0),
        ],
        xh,
        yh,
        s,
    )
}

fn check_frame(w: usize, h: usize) -> Result<(), SynthError> {
    if w < params::MIN_FRAME
        || h < params::MIN_FRAME
        || w > params::MAX_FRAME
        || h > params::MAX_FRAME
    {
        return Err(SynthError::InvalidSize {
            width: w,
            height: h,
            min: params::MIN_FRAME,
            max: params::MAX_FRAME,
        });
    }
    Ok(())
}

/// Render a full-hand capture of `identity` under `spec` at `width`x`height`.
///
/// Errors only on an unsupported frame size (each side 64–4096 px) or a degenerate pose.
pub fn render_capture(
    identity: &Identity,
    spec: &CaptureSpec,
    width: usize,
    height: usize,
) -> Result<Rendered, SynthError> {
    check_frame(width, height)?;
    let (w, h) = (width, height);
    let shape = &identity.shape;
    let g = geometry(identity, spec, w, h)?;
    let n = w * h;
    let frame = (w as f32 * 0.75).min(h as f32);
    let res = frame / 576.0;

    // ---- Geometry pass: coverage and albedos per pixel ----
    let mut cov = vec![0.0f32; n];
    let mut avis = vec![0.0f32; n];
    let mut anir = vec![0.0f32; n];
    let hi = &g.hinv.0;
    // Canonical box outside which nothing of the hand can appear (texture extent plus room for
    // finger swing and skin displacement).
    let tex = &identity.tex;
    let room = 12.0 + 3.0 * spec.elastic_mm;
    let qx0 = tex.x0 - room;
    let qx1 = tex.x0 + tex.w as f32 / params::TEXELS_PER_MM + room;
    let qy0 = tex.y0 - room;
    for y in 0..h {
        let py = y as f32 + 0.5;
        for x in 0..w {
            let px = x as f32 + 0.5;
            let wq = hi[6] * px + hi[7] * py + hi[8];
            let q = Point::new(
                (hi[0] * px + hi[1] * py + hi[2]) / wq,
                (hi[3] * px + hi[4] * py + hi[5]) / wq,
            );
            if q.x < qx0 || q.x > qx1 || q.y < qy0 {
                // Far from the hand: background (cov, albedos stay 0).
                continue;
            }
            let c = g.to_rest(shape, spec, q);
            let t = identity.tex.sample(c);
            let a = (0.5 - t[0] * g.px_per_mm).clamp(0.0, 1.0);
            let i = y * w + x;
            cov[i] = a;
            avis[i] = t[1];
            anir[i] = t[2];
        }
    }

    // ---- Truth geometry ----
    let sdf_posed = |q: Point| shape.sdf(g.to_rest(shape, spec, q));
    let vc = shape.valleys(&spec.posture, &sdf_posed);
    let valleys = vc.map(|p| g.h.apply(p));
    let wrist = g.h.apply(Point::new(0.0, shape.wrist_y));
    let away = Point::new(wrist.x - g.translation.x, wrist.y - g.translation.y);
    let (roi_corners, _, _, _) = roi_from_valleys(valleys[1], valleys[3], away);

    // ---- Scene: background, occluder, glare ----
    let mut rng = Rng::new(spec.scene_seed);
    let mut bg_vis = vec![0.0f32; n];
    let mut bg_nir = vec![0.0f32; n];
    let (cx, cy) = (
        spec.light_centre[0] * w as f32,
        spec.light_centre[1] * h as f32,
    );
    let r2 = ((w * w + h * h) as f32) / 4.0;
    for y in 0..h {
        for x in 0..w {
            let d2 = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)) / r2;
            let vig = 1.0 - 0.5 * d2.min(1.5);
            bg_vis[y * w + x] = levels::VIS_BG * vig;
            bg_nir[y * w + x] = levels::NIR_BG * vig;
        }
    }
    let mut shapes: Vec<(f32, f32, f32, f32, f32, f32, bool)> = Vec::new();
    for _ in 0..spec.clutter {
        let (mut ex, mut ey) = (
            rng.range(0.0, w as f64) as f32,
            rng.range(0.0, h as f64) as f32,
        );
        let (mut rx, mut ry) = (
            rng.range(0.05, 0.25) as f32 * frame,
            rng.range(0.03, 0.2) as f32 * frame,
        );
        if spec.difficulty != Difficulty::Hard {
            // Real dark-box scanners show their clutter (device frame parts, cables, glare) at
            // the frame's borders, not floating over the hand: straddle one border and reach at
            // most ~8% of the frame inwards. The hard preset keeps free-floating objects.
            let depth = rng.range(0.02, 0.08) as f32 * frame;
            match rng.below(4) {
                0 => (ey, ry) = (0.0, depth),
                1 => (ey, ry) = (h as f32, depth),
                2 => (ex, rx) = (0.0, depth),
                _ => (ex, rx) = (w as f32, depth),
            }
        }
        let lv = rng.range(30.0, 200.0) as f32;
        let ln = rng.range(20.0, 150.0) as f32;
        shapes.push((ex, ey, rx, ry, lv, ln, rng.chance(0.5)));
    }
    if spec.border_parts {
        // Device housing: bright bands along one or two borders.
        let sides = 1 + rng.below(2);
        for _ in 0..sides {
            let side = rng.below(4);
            let depth = rng.range(0.02, 0.07) as f32 * frame;
            let along0 = rng.range(0.0, 0.5) as f32;
            let along1 = along0 + rng.range(0.3, 0.5) as f32;
            let lv = rng.range(40.0, 110.0) as f32;
            let ln = rng.range(40.0, 120.0) as f32;
            let (ex, ey, rx, ry) = match side {
                0 => (
                    (along0 + along1) / 2.0 * w as f32,
                    0.0,
                    (along1 - along0) / 2.0 * w as f32,
                    depth,
                ),
                1 => (
                    (along0 + along1) / 2.0 * w as f32,
                    h as f32,
                    (along1 - along0) / 2.0 * w as f32,
                    depth,
                ),
                2 => (
                    0.0,
                    (along0 + along1) / 2.0 * h as f32,
                    depth,
                    (along1 - along0) / 2.0 * h as f32,
                ),
                _ => (
                    w as f32,
                    (along0 + along1) / 2.0 * h as f32,
                    depth,
                    (along1 - along0) / 2.0 * h as f32,
                ),
            };
            shapes.push((ex, ey, rx, ry, lv, ln, true));
        }
    }
    // A mottled texture shared by clutter objects (only built when there are some).
    let mottle = if shapes.is_empty() {
        GrayF32::new(0, 0)
    } else {
        value_noise(
            w,
            h,
            18.0 * res,
            &mut Rng::new(spec.scene_seed ^ 0x0030_771E),
        )
    };
    for (ex, ey, rx, ry, lv, ln, rect) in shapes {
        let x0 = ((ex - rx).floor().max(0.0)) as usize;
        let x1 = ((ex + rx).ceil().min(w as f32)) as usize;
        let y0 = ((ey - ry).floor().max(0.0)) as usize;
        let y1 = ((ey + ry).ceil().min(h as f32)) as usize;
        for y in y0..y1 {
            for x in x0..x1 {
                let dx = (x as f32 + 0.5 - ex) / rx;
                let dy = (y as f32 + 0.5 - ey) / ry;
                let inside = if rect {
                    1.0 - dx.abs().max(dy.abs())
                } else {
                    1.0 - (dx * dx + dy * dy).sqrt()
                };
                if inside <= 0.0 {
                    continue;
                }
                let a = (inside * 8.0).min(1.0);
                let i = y * w + x;
                let m = 1.0 + 0.15 * mottle.as_slice()[i];
                bg_vis[i] += a * (lv * m - bg_vis[i]);
                bg_nir[i] += a * (ln * m - bg_nir[i]);
            }
        }
    }
    let mut glare_spots: Vec<(f32, f32, f32, f32, f32)> = Vec::new();
    if spec.glare {
        // LED reflections near the borders.
        for _ in 0..1 + rng.below(3) {
            let edge = rng.below(4);
            let t = rng.unit() as f32;
            let inset = rng.range(0.0, 0.08) as f32;
            let (gx, gy) = match edge {
                0 => (t * w as f32, inset * h as f32),
                1 => (t * w as f32, (1.0 - inset) * h as f32),
                2 => (inset * w as f32, t * h as f32),
                _ => ((1.0 - inset) * w as f32, t * h as f32),
            };
            let rad = rng.range(4.0, 14.0) as f32 * res;
            glare_spots.push((
                gx,
                gy,
                rad,
                rng.range(60.0, 180.0) as f32,
                rng.range(100.0, 240.0) as f32,
            ));
        }
    }
    for &(gx, gy, rad, pv, pn) in &glare_spots {
        add_spot(&mut bg_vis, w, h, gx, gy, rad, pv);
        add_spot(&mut bg_nir, w, h, gx, gy, rad, pn);
    }

    // ---- Light the hand and composite ----
    let mut vis = GrayF32::new(w, h);
    let mut nir = GrayF32::new(w, h);
    let grad = (rng.range(-0.08, 0.08) as f32, rng.range(-0.08, 0.08) as f32);
    let nir_exposure = spec.exposure * (1.0 + rng.range(-0.05, 0.05) as f32);
    {
        let (vs, ns) = (vis.as_mut_slice(), nir.as_mut_slice());
        for y in 0..h {
            for x in 0..w {
                let i = y * w + x;
                let a = cov[i];
                let d2 = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)) / r2;
                let light = (1.0 - spec.light_falloff * d2.min(1.5))
                    * (1.0
                        + grad.0 * (x as f32 / w as f32 - 0.5)
                        + grad.1 * (y as f32 / h as f32 - 0.5));
                let hv = levels::VIS_PALM * avis[i] * light * spec.exposure;
                let hn = levels::NIR_PALM * anir[i] * light * nir_exposure;
                vs[i] = bg_vis[i] + a * (hv - bg_vis[i]);
                ns[i] = bg_nir[i] + a * (hn - bg_nir[i]);
            }
        }
    }
    if spec.glare {
        // A specular spot on the palm (skin oil), stronger in visible light.
        let p = Point::new(rng.range(-20.0, 20.0) as f32, rng.range(-25.0, 25.0) as f32);
        let q = g.h.apply(p);
        let rad = rng.range(6.0, 14.0) as f32 * g.px_per_mm;
        let amp = rng.range(25.0, 70.0) as f32;
        add_spot_masked(vis.as_mut_slice(), &cov, w, h, q.x, q.y, rad, amp);
        add_spot_masked(nir.as_mut_slice(), &cov, w, h, q.x, q.y, rad, amp * 0.4);
    }
    let mut mask_f = cov.clone();
    if spec.occlusion {
        // Something between hand and camera (a strap, a sleeve, another object).
        let p = Point::new(rng.range(-35.0, 35.0) as f32, rng.range(-60.0, 30.0) as f32);
        let q = g.h.apply(p);
        let rx = rng.range(12.0, 30.0) as f32 * g.px_per_mm;
        let ry = rng.range(8.0, 20.0) as f32 * g.px_per_mm;
        let (lv, ln) = (rng.range(10.0, 90.0) as f32, rng.range(5.0, 70.0) as f32);
        let (vs, ns) = (vis.as_mut_slice(), nir.as_mut_slice());
        for y in 0..h {
            for x in 0..w {
                let dx = (x as f32 + 0.5 - q.x) / rx;
                let dy = (y as f32 + 0.5 - q.y) / ry;
                let inside = 1.0 - (dx * dx + dy * dy).sqrt();
                if inside > 0.0 {
                    let a = (inside * 10.0).min(1.0);
                    let i = y * w + x;
                    vs[i] += a * (lv - vs[i]);
                    ns[i] += a * (ln - ns[i]);
                    mask_f[i] *= 1.0 - a;
                }
            }
        }
    }

    // ---- Optics and sensor ----
    let defocus = spec.defocus_px * res;
    let motion = spec.motion_px * res;
    for img in [&mut vis, &mut nir] {
        gaussian_blur(img, defocus);
        if motion >= 2.0 {
            motion_blur(img, motion, spec.motion_angle);
        }
    }
    let mut nrng = Rng::new(spec.scene_seed ^ 0x9015E);
    for img in [&mut vis, &mut nir] {
        if spec.noise > 0.0 {
            let read2 = spec.noise * spec.noise;
            for v in img.as_mut_slice() {
                // Read noise plus photon noise growing with the signal.
                let sigma = (read2 + params::PHOTON_NOISE * v.max(0.0)).sqrt();
                *v += sigma * fast_normal(nrng.next_u64());
            }
        }
        if spec.jpeg_quality < 100 {
            jpeg_like(img, spec.jpeg_quality);
        }
    }

    let hand_fraction = cov.iter().sum::<f32>() / n as f32;
    let mask = GrayImage::from_vec(
        w,
        h,
        mask_f.iter().map(|&a| (a * 255.0).round() as u8).collect(),
    )
    .map_err(|_| SynthError::Degenerate("mask size"))?;
    let up = g.h.apply(Point::new(0.0, -10.0));
    let rotation_deg = (up.x - g.translation.x)
        .atan2(-(up.y - g.translation.y))
        .to_degrees();
    let truth = Truth {
        subject: identity.subject(),
        hand: identity.hand(),
        session: spec.session,
        capture_index: spec.index,
        kind: CaptureKind::Hand,
        identity_seed: identity.seed(),
        width: w,
        height: h,
        pose: PoseTruth {
            rotation_deg,
            translation: [g.translation.x, g.translation.y],
            scale: spec.scale,
            px_per_mm: g.px_per_mm,
            tilt: spec.tilt_deg,
            spread_deg: spec.posture.spread.map(f32::to_degrees),
        },
        valleys,
        roi_corners,
        hand_fraction,
        occluded: spec.occlusion,
        out_of_frame: spec.out_of_frame,
        photo: PhotoTruth {
            exposure: spec.exposure,
            defocus_px: defocus,
            motion_px: if motion >= 2.0 { motion } else { 0.0 },
            noise: spec.noise,
            jpeg_quality: spec.jpeg_quality,
        },
        roi: None,
    };
    Ok(Rendered {
        visible: vis.to_u8(),
        nir: nir.to_u8(),
        mask,
        truth,
    })
}

fn add_spot(buf: &mut [f32], w: usize, h: usize, gx: f32, gy: f32, rad: f32, peak: f32) {
    let reach = rad * 3.0;
    let x0 = (gx - reach).floor().max(0.0) as usize;
    let x1 = (gx + reach).ceil().clamp(0.0, w as f32) as usize;
    let y0 = (gy - reach).floor().max(0.0) as usize;
    let y1 = (gy + reach).ceil().clamp(0.0, h as f32) as usize;
    for y in y0..y1 {
        for x in x0..x1 {
            let d2 = (x as f32 + 0.5 - gx).powi(2) + (y as f32 + 0.5 - gy).powi(2);
            let v = &mut buf[y * w + x];
            *v = v.max(peak * (-d2 / (2.0 * rad * rad)).exp());
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn add_spot_masked(
    buf: &mut [f32],
    cov: &[f32],
    w: usize,
    h: usize,
    gx: f32,
    gy: f32,
    rad: f32,
    amp: f32,
) {
    let reach = rad * 3.0;
    let x0 = (gx - reach).floor().max(0.0) as usize;
    let x1 = (gx + reach).ceil().clamp(0.0, w as f32) as usize;
    let y0 = (gy - reach).floor().max(0.0) as usize;
    let y1 = (gy + reach).ceil().clamp(0.0, h as f32) as usize;
    for y in y0..y1 {
        for x in x0..x1 {
            let d2 = (x as f32 + 0.5 - gx).powi(2) + (y as f32 + 0.5 - gy).powi(2);
            let i = y * w + x;
            buf[i] += cov[i] * amp * (-d2 / (2.0 * rad * rad)).exp();
        }
    }
}

/// Bilinear sample of an 8-bit image at continuous coordinates (pixel centres at +0.5).
fn sample_u8(img: &GrayImage, x: f32, y: f32) -> f32 {
    let (w, h) = (img.width(), img.height());
    let fx = (x - 0.5).clamp(0.0, (w - 1) as f32);
    let fy = (y - 0.5).clamp(0.0, (h - 1) as f32);
    let (ix, iy) = (fx as usize, fy as usize);
    let (ix1, iy1) = ((ix + 1).min(w - 1), (iy + 1).min(h - 1));
    let (ax, ay) = (fx - ix as f32, fy - iy as f32);
    let g = |x: usize, y: usize| img.get(x, y) as f32;
    let top = g(ix, iy) + ax * (g(ix1, iy) - g(ix, iy));
    let bot = g(ix, iy1) + ax * (g(ix1, iy1) - g(ix, iy1));
    top + ay * (bot - top)
}

/// The source frame used for ROI crops (the real NIR scanner's 768x576).
pub const ROI_SOURCE: (usize, usize) = (768, 576);

/// Render a palm-centre ROI crop (`size`x`size`) of a capture: the full frame is rendered at
/// 768x576, then the ROI (ARCHITECTURE.md convention, left hands mirrored into the right-hand
/// frame, fingers up) is sampled with the spec's residual misalignment (shift, rotation, scale).
pub fn render_roi(
    identity: &Identity,
    spec: &CaptureSpec,
    size: usize,
) -> Result<Rendered, SynthError> {
    if !(params::MIN_ROI..=params::MAX_ROI).contains(&size) {
        return Err(SynthError::InvalidSize {
            width: size,
            height: size,
            min: params::MIN_ROI,
            max: params::MAX_ROI,
        });
    }
    let full = render_capture(identity, spec, ROI_SOURCE.0, ROI_SOURCE.1)?;
    let t = &full.truth;
    let v1 = t.valleys[1];
    let v3 = t.valleys[3];
    let tr = Point::new(t.pose.translation[0], t.pose.translation[1]);
    let c = t.roi_corners;
    let centre = Point::new((c[0].x + c[2].x) / 2.0, (c[0].y + c[2].y) / 2.0);
    let away = Point::new(
        centre.x - (v1.x + v3.x) / 2.0,
        centre.y - (v1.y + v3.y) / 2.0,
    );
    let _ = tr;
    let (_, xh, yh, s) = roi_from_valleys(v1, v3, away);
    // Misaligned frame.
    let (sn, cs) = spec.roi_rotation_deg.to_radians().sin_cos();
    let rot = |v: Point| Point::new(cs * v.x - sn * v.y, sn * v.x + cs * v.y);
    let (xm, ym) = (rot(xh), rot(yh));
    let s2 = s * spec.roi_scale;
    let k = s / 128.0;
    let c2 = Point::new(
        centre.x + (spec.roi_shift[0] * xh.x + spec.roi_shift[1] * yh.x) * k,
        centre.y + (spec.roi_shift[0] * xh.y + spec.roi_shift[1] * yh.y) * k,
    );
    let tl = Point::new(
        c2.x - s2 / 2.0 * (xm.x + ym.x),
        c2.y - s2 / 2.0 * (xm.y + ym.y),
    );
    let crop = |img: &GrayImage| {
        let mut out = GrayImage::new(size, size);
        for v in 0..size {
            for u in 0..size {
                let a = (u as f32 + 0.5) / size as f32 * s2;
                let b = (v as f32 + 0.5) / size as f32 * s2;
                let p = Point::new(tl.x + a * xm.x + b * ym.x, tl.y + a * xm.y + b * ym.y);
                out.set(
                    u,
                    v,
                    sample_u8(img, p.x, p.y).round().clamp(0.0, 255.0) as u8,
                );
            }
        }
        out
    };
    // Exact corners in crop coordinates: invert p = tl + (a xm + b ym), a = u·s2/size.
    let to_crop = |p: Point| {
        let d = Point::new(p.x - tl.x, p.y - tl.y);
        let a = d.x * xm.x + d.y * xm.y;
        let b = d.x * ym.x + d.y * ym.y;
        Point::new(a / s2 * size as f32, b / s2 * size as f32)
    };
    let corners_in_crop = c.map(to_crop);
    let mut truth = full.truth.clone();
    truth.kind = CaptureKind::Roi;
    truth.roi = Some(RoiTruth {
        size,
        source_size: [ROI_SOURCE.0, ROI_SOURCE.1],
        shift_px: [
            spec.roi_shift[0] * size as f32 / 128.0,
            spec.roi_shift[1] * size as f32 / 128.0,
        ],
        rotation_deg: spec.roi_rotation_deg,
        scale: spec.roi_scale,
        corners_in_crop,
    });
    Ok(Rendered {
        visible: crop(&full.visible),
        nir: crop(&full.nir),
        mask: crop(&full.mask),
        truth,
    })
}

/// Sample the exact (ground-truth) ROI of a full-frame image at `size` px, per the
/// ARCHITECTURE.md convention: what a perfect ROI extractor would return.
pub fn truth_roi(img: &GrayImage, truth: &Truth, size: usize) -> GrayImage {
    let c = truth.roi_corners;
    let mut out = GrayImage::new(size, size);
    let xs = Point::new(c[1].x - c[0].x, c[1].y - c[0].y);
    let ys = Point::new(c[3].x - c[0].x, c[3].y - c[0].y);
    for v in 0..size {
        for u in 0..size {
            let a = (u as f32 + 0.5) / size as f32;
            let b = (v as f32 + 0.5) / size as f32;
            let p = Point::new(c[0].x + a * xs.x + b * ys.x, c[0].y + a * xs.y + b * ys.y);
            out.set(
                u,
                v,
                sample_u8(img, p.x, p.y).round().clamp(0.0, 255.0) as u8,
            );
        }
    }
    out
}
