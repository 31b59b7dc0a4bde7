//! ROI normalisation before coding: square crop, resampling to the working size, validity, and
//! local mean/std contrast normalisation (the NIR ROIs of real scanners have std 7–10).

use crate::params;
use palmsig_core::{GrayF32, GrayImage};

/// A ROI ready for filtering.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// Side in pixels.
    pub size: usize,
    /// Locally normalised values (0 at invalid pixels).
    pub norm: Vec<f32>,
    /// Raw local standard deviation (gray levels).
    pub std: Vec<f32>,
    /// Validity of each pixel.
    pub valid: Vec<bool>,
}

/// Centre-crop `img` to a square and resample it to `size x size` (area average when shrinking,
/// bilinear when enlarging). Returns values and validity (a pixel is invalid when most of its
/// source footprint is padding or saturated).
pub(crate) fn resample(img: &GrayImage, size: usize) -> (Vec<f32>, Vec<bool>) {
    let (w, h) = (img.width(), img.height());
    let side = w.min(h);
    let (ox, oy) = ((w - side) / 2, (h - side) / 2);
    let px = img.as_slice();
    let ok = |v: u8| v > params::INVALID_DARK && v < params::INVALID_BRIGHT;
    let mut vals = vec![0f32; size * size];
    let mut valid = vec![false; size * size];
    let k = side as f32 / size as f32;
    if k >= 1.0 {
        // Integral images of valid values and valid counts over the crop.
        let s1 = side + 1;
        let mut sum = vec![0f64; s1 * s1];
        let mut cnt = vec![0u32; s1 * s1];
        for y in 0..side {
            let mut rs = 0f64;
            let mut rc = 0u32;
            let row = &px[(oy + y) * w + ox..(oy + y) * w + ox + side];
            for (x, &v) in row.iter().enumerate() {
                if ok(v) {
                    rs += v as f64;
                    rc += 1;
                }
                sum[(y + 1) * s1 + x + 1] = sum[y * s1 + x + 1] + rs;
                cnt[(y + 1) * s1 + x + 1] = cnt[y * s1 + x + 1] + rc;
            }
        }
        for v in 0..size {
            let y0 = ((v as f32 * k) as usize).min(side - 1);
            let y1 = (((v + 1) as f32 * k).ceil() as usize).clamp(y0 + 1, side);
            for u in 0..size {
                let x0 = ((u as f32 * k) as usize).min(side - 1);
                let x1 = (((u + 1) as f32 * k).ceil() as usize).clamp(x0 + 1, side);
                let area = ((y1 - y0) * (x1 - x0)) as u32;
                let c =
                    cnt[y1 * s1 + x1] + cnt[y0 * s1 + x0] - cnt[y0 * s1 + x1] - cnt[y1 * s1 + x0];
                let s =
                    sum[y1 * s1 + x1] + sum[y0 * s1 + x0] - sum[y0 * s1 + x1] - sum[y1 * s1 + x0];
                if c * 2 > area {
                    vals[v * size + u] = (s / c as f64) as f32;
                    valid[v * size + u] = true;
                }
            }
        }
    } else {
        for v in 0..size {
            let sy = ((v as f32 + 0.5) * k - 0.5).clamp(0.0, (side - 1) as f32);
            for u in 0..size {
                let sx = ((u as f32 + 0.5) * k - 0.5).clamp(0.0, (side - 1) as f32);
                let (x0, y0) = (sx as usize, sy as usize);
                let (x1, y1) = ((x0 + 1).min(side - 1), (y0 + 1).min(side - 1));
                let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
                let g = |x: usize, y: usize| px[(oy + y) * w + ox + x];
                let corners = [g(x0, y0), g(x1, y0), g(x0, y1), g(x1, y1)];
                if corners.iter().all(|&c| ok(c)) {
                    let [a, b, c, d] = corners.map(|c| c as f32);
                    vals[v * size + u] =
                        (a * (1.0 - fx) + b * fx) * (1.0 - fy) + (c * (1.0 - fx) + d * fx) * fy;
                    valid[v * size + u] = true;
                }
            }
        }
    }
    (vals, valid)
}

/// Local mean and standard deviation over a `(2r+1)²` box restricted to valid pixels (0 at
/// invalid pixels).
fn box_stats(vals: &[f32], valid: &[bool], size: usize, r: usize) -> (Vec<f32>, Vec<f32>) {
    let s1 = size + 1;
    let mut s = vec![0f64; s1 * s1];
    let mut s2 = vec![0f64; s1 * s1];
    let mut c = vec![0u32; s1 * s1];
    for y in 0..size {
        let (mut a, mut b, mut n) = (0f64, 0f64, 0u32);
        for x in 0..size {
            if valid[y * size + x] {
                let v = vals[y * size + x] as f64;
                a += v;
                b += v * v;
                n += 1;
            }
            let i = (y + 1) * s1 + x + 1;
            s[i] = s[i - s1] + a;
            s2[i] = s2[i - s1] + b;
            c[i] = c[i - s1] + n;
        }
    }
    let mut mean = vec![0f32; size * size];
    let mut std = vec![0f32; size * size];
    for y in 0..size {
        let (y0, y1) = (y.saturating_sub(r), (y + r + 1).min(size));
        for x in 0..size {
            if !valid[y * size + x] {
                continue;
            }
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(size));
            let bx =
                |t: &[f64]| t[y1 * s1 + x1] + t[y0 * s1 + x0] - t[y0 * s1 + x1] - t[y1 * s1 + x0];
            let n = (c[y1 * s1 + x1] + c[y0 * s1 + x0] - c[y0 * s1 + x1] - c[y1 * s1 + x0]) as f64;
            let m = bx(&s) / n;
            mean[y * size + x] = m as f32;
            std[y * size + x] = (bx(&s2) / n - m * m).max(0.0).sqrt() as f32;
        }
    }
    (mean, std)
}

fn median_of(v: impl Iterator<Item = f32>) -> Option<f32> {
    let mut v: Vec<f32> = v.collect();
    if v.is_empty() {
        return None;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    Some(*m)
}

/// Side of an [`Occlusion`] map: ROI-relative cells, shared by ROIs of any size.
pub(crate) const OCCLUSION_GRID: usize = 64;

/// Where a ROI is covered, on an `OCCLUSION_GRID²` grid of ROI-relative cells. The visible and
/// NIR ROIs of a capture are the same frame, so an occluder found in either is masked in both:
/// an object can have the skin's level in one band and stand out only in the other.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Occlusion(Vec<bool>);

impl Occlusion {
    /// Nothing covered.
    pub(crate) fn none() -> Occlusion {
        Occlusion(vec![false; OCCLUSION_GRID * OCCLUSION_GRID])
    }

    /// Cells covered in either map.
    pub(crate) fn union(&self, o: &Occlusion) -> Occlusion {
        Occlusion(self.0.iter().zip(&o.0).map(|(a, b)| *a || *b).collect())
    }

    /// Clears `valid` at the pixels (of a `size`-pixel ROI) in covered cells.
    pub(crate) fn apply(&self, valid: &mut [bool], size: usize) {
        let g = OCCLUSION_GRID;
        for y in 0..size {
            for x in 0..size {
                if self.0[(y * g / size) * g + x * g / size] {
                    valid[y * size + x] = false;
                }
            }
        }
    }
}

/// Finds occluders: pixels whose neighbourhood is both much darker than the ROI's median level
/// and nearly texture-free (a strap, a sleeve, an object between hand and camera), grown by
/// [`params::OCCLUDER_GROW`] so their edge is not coded as a palm line. Skin, even in a shadow,
/// keeps its lines and creases; a dark but textured region is not an occluder.
pub(crate) fn find_occluders(
    vals: &[f32],
    valid: &[bool],
    size: usize,
    textured: bool,
) -> Occlusion {
    let (fm, fs, rad, grow) = occluder_params();
    let r = (rad * size).div_ceil(params::WORK_SIZE).max(1);
    let (mean, std) = box_stats(vals, valid, size, r);
    let on = |i: &usize| valid[*i];
    let (Some(mm), Some(ms)) = (
        median_of((0..size * size).filter(on).map(|i| mean[i])),
        median_of((0..size * size).filter(on).map(|i| std[i])),
    ) else {
        return Occlusion::none();
    };
    let mut occ: Vec<bool> = (0..size * size)
        .map(|i| valid[i] && mean[i] < fm * mm && std[i] < fs * ms)
        .collect();
    // Nearly texture-free at any level (an object of about the skin's brightness in this band):
    // only as a sizeable region, since skin has small smooth patches between its lines, and
    // only in a band where skin is `textured` everywhere (visible light; NIR skin between the
    // veins is as smooth as a strap).
    if textured {
        let cut = flat_fraction() * ms;
        let flat: Vec<bool> = (0..size * size).map(|i| valid[i] && std[i] < cut).collect();
        large_regions(&flat, size, params::OCCLUDER_FLAT_MIN_AREA, &mut occ);
    }
    grow_cells(&occ, size, grow)
}

/// Occluders seen in both bands together: regions of at least [`params::OCCLUDER_QUIET_MIN_AREA`]
/// of the ROI where the visible and the NIR ROI (both `size`-pixel, same frame) each hold only
/// sensor noise ([`quiet`]), grown like [`find_occluders`]' cores. Skin is quiet in one band at
/// a time (smooth visible skin between creases still carries veins in NIR, and NIR skin between
/// veins carries creases in visible light); an object between hand and camera is quiet in both.
pub(crate) fn find_quiet_occluders(
    visible: (&[f32], &[bool]),
    nir: (&[f32], &[bool]),
    size: usize,
) -> Occlusion {
    let (_, _, rad, grow) = occluder_params();
    let r = (rad * size).div_ceil(params::WORK_SIZE).max(1);
    let (qv, qn) = (
        quiet(visible.0, visible.1, size, r),
        quiet(nir.0, nir.1, size, r),
    );
    let both: Vec<bool> = qv.iter().zip(&qn).map(|(a, b)| *a && *b).collect();
    let mut occ = vec![false; size * size];
    let total = large_regions(&both, size, params::OCCLUDER_QUIET_MIN_AREA, &mut occ);
    // Quiet over most of the ROI: that is the ROI's own texture (too fine or too faint for the
    // noise estimate to tell apart), not an object over part of it.
    if total as f32 > params::OCCLUDER_QUIET_MAX_AREA * (size * size) as f32 {
        return Occlusion::none();
    }
    grow_cells(&occ, size, grow)
}

/// Pixels whose `(2r+1)²` box std is below [`params::OCCLUDER_QUIET_RATIO`] times the box's
/// sensor-noise level: the RMS of the 4-neighbour high-pass over the same box (pixels whose
/// neighbours are all valid), over its white-noise gain √1.25, at least
/// [`params::OCCLUDER_NOISE_FLOOR`].
fn quiet(vals: &[f32], valid: &[bool], size: usize, r: usize) -> Vec<bool> {
    let mut hp2 = vec![0f32; size * size];
    let mut has = vec![false; size * size];
    for y in 1..size.saturating_sub(1) {
        for x in 1..size - 1 {
            let i = y * size + x;
            let n = [i - 1, i + 1, i - size, i + size];
            if valid[i] && n.iter().all(|&j| valid[j]) {
                let h = vals[i] - n.iter().map(|&j| vals[j]).sum::<f32>() / 4.0;
                hp2[i] = h * h;
                has[i] = true;
            }
        }
    }
    let (hp, _) = box_stats(&hp2, &has, size, r);
    let (_, std) = box_stats(vals, valid, size, r);
    let ratio = quiet_ratio();
    (0..size * size)
        .map(|i| {
            let noise = (hp[i] / 1.25).sqrt().max(params::OCCLUDER_NOISE_FLOOR);
            has[i] && std[i] < ratio * noise
        })
        .collect()
}

fn quiet_ratio() -> f32 {
    #[cfg(feature = "tuning")]
    {
        return params::tuned("PSIG_OQ", params::OCCLUDER_QUIET_RATIO);
    }
    #[allow(unreachable_code)]
    params::OCCLUDER_QUIET_RATIO
}

/// Covered cells: the pixels of `occ` (a `size`-pixel ROI) grown by a square of radius `grow`
/// (px at `WORK_SIZE`), directly on the cell grid.
fn grow_cells(occ: &[bool], size: usize, grow: usize) -> Occlusion {
    if !occ.iter().any(|&o| o) {
        return Occlusion::none();
    }
    let g = OCCLUSION_GRID;
    let mut cells = vec![false; g * g];
    let gr = (grow * g).div_ceil(params::WORK_SIZE) as isize;
    for y in 0..size {
        for x in 0..size {
            if !occ[y * size + x] {
                continue;
            }
            let (cx, cy) = ((x * g / size) as isize, (y * g / size) as isize);
            for yy in (cy - gr).max(0)..=(cy + gr).min(g as isize - 1) {
                for xx in (cx - gr).max(0)..=(cx + gr).min(g as isize - 1) {
                    cells[yy as usize * g + xx as usize] = true;
                }
            }
        }
    }
    Occlusion(cells)
}

/// Marks in `occ` the 4-connected regions of `mask` (a `size`×`size` image) covering at least
/// `min_fraction` of it; returns how many pixels they hold.
fn large_regions(mask: &[bool], size: usize, min_fraction: f32, occ: &mut [bool]) -> usize {
    let min_area = (min_fraction * (size * size) as f32) as usize;
    let mut total = 0;
    for region in regions(mask, size) {
        if region.len() >= min_area {
            total += region.len();
            for i in region {
                occ[i] = true;
            }
        }
    }
    total
}

/// 4-connected regions of `mask` (a `size`×`size` image), as pixel index lists.
fn regions(mask: &[bool], size: usize) -> Vec<Vec<usize>> {
    let mut seen = vec![false; mask.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut region = Vec::new();
        while let Some(i) = stack.pop() {
            region.push(i);
            let (x, y) = (i % size, i / size);
            let mut visit = |j: usize| {
                if mask[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < size {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - size);
            }
            if y + 1 < size {
                visit(i + size);
            }
        }
        out.push(region);
    }
    out
}

fn flat_fraction() -> f32 {
    #[cfg(feature = "tuning")]
    {
        return params::tuned("PSIG_OF", params::OCCLUDER_FLAT_STD_FRACTION);
    }
    #[allow(unreachable_code)]
    params::OCCLUDER_FLAT_STD_FRACTION
}

fn occluder_params() -> (f32, f32, usize, usize) {
    #[cfg(feature = "tuning")]
    {
        let g = params::tuned;
        return (
            g("PSIG_OM", params::OCCLUDER_MEAN_FRACTION),
            g("PSIG_OS", params::OCCLUDER_STD_FRACTION),
            g("PSIG_OR", params::OCCLUDER_RADIUS as f32) as usize,
            g("PSIG_OG", params::OCCLUDER_GROW as f32) as usize,
        );
    }
    #[allow(unreachable_code)]
    (
        params::OCCLUDER_MEAN_FRACTION,
        params::OCCLUDER_STD_FRACTION,
        params::OCCLUDER_RADIUS,
        params::OCCLUDER_GROW,
    )
}

/// Local mean removal over a `(2r+1)²` box restricted to valid pixels, and one contrast gain
/// for the ROI; also the raw local standard deviation.
pub(crate) fn normalise(vals: &[f32], valid: &[bool], size: usize, r: usize) -> Prepared {
    let (mean, std) = box_stats(vals, valid, size, r);
    let mut norm = vec![0f32; size * size];
    let (mut acc, mut cnt) = (0f64, 0usize);
    for i in 0..size * size {
        if !valid[i] {
            continue;
        }
        let d = vals[i] - mean[i];
        norm[i] = d;
        acc += (d * d) as f64;
        cnt += 1;
    }
    // One gain for the whole ROI (its high-pass RMS): contrast is equalised between captures
    // and sensors, while flat skin stays flat relative to the lines of the same ROI (a local
    // gain would blow skin texture and noise up to the strength of a principal line).
    let rms = if cnt > 0 {
        (acc / cnt as f64).sqrt() as f32
    } else {
        0.0
    };
    let g = 1.0 / rms.max(params::NORM_MIN_STD);
    norm.iter_mut().for_each(|v| *v *= g);
    Prepared {
        size,
        norm,
        std,
        valid: valid.to_vec(),
    }
}

/// The normalised ROI as a viewable image (invalid pixels black).
pub(crate) fn to_view(p: &Prepared) -> GrayImage {
    let data: Vec<f32> = p
        .norm
        .iter()
        .zip(&p.valid)
        .map(|(&v, &ok)| {
            if ok {
                (128.0 + 40.0 * v).clamp(1.0, 255.0)
            } else {
                0.0
            }
        })
        .collect();
    GrayF32::from_vec(p.size, p.size, data)
        .map(|g| g.to_u8())
        .unwrap_or_else(|_| GrayImage::new(p.size, p.size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resample_shrinks_and_marks_padding() {
        let mut img = GrayImage::new(256, 300);
        for y in 0..300 {
            for x in 0..256 {
                img.set(x, y, if x < 128 { 0 } else { 100 });
            }
        }
        let (v, ok) = resample(&img, 128);
        assert!(!ok[10 * 128 + 10] && ok[10 * 128 + 100]);
        assert!((v[10 * 128 + 100] - 100.0).abs() < 1e-3);
        let (v2, ok2) = resample(&GrayImage::from_vec(2, 2, vec![50, 50, 50, 50]).unwrap(), 8);
        assert!(ok2.iter().all(|&b| b) && v2.iter().all(|&x| (x - 50.0).abs() < 1e-3));
    }

    #[test]
    fn flat_dark_occluder_is_masked_but_dark_texture_is_not() {
        let size = 128;
        // Skin at 150 with lines every 12 px; a flat disc at 50 (radius 30) at (40, 64); a dark
        // but textured patch (lines at 70 ± 20) around (100, 64).
        let mut vals = vec![0f32; size * size];
        for y in 0..size {
            for x in 0..size {
                let line = if (x + 2 * y) % 12 < 3 { -25.0 } else { 0.0 };
                let (dx, dy) = (x as f32 - 40.0, y as f32 - 64.0);
                vals[y * size + x] = if dx * dx + dy * dy < 900.0 {
                    50.0 + ((x * 7 + y * 13) % 3) as f32 // sensor noise only
                } else if (x as f32 - 100.0).abs() < 15.0 && (y as f32 - 64.0).abs() < 15.0 {
                    70.0 + 0.8 * line
                } else {
                    150.0 + line
                };
            }
        }
        let mut valid = vec![true; size * size];
        find_occluders(&vals, &valid, size, false).apply(&mut valid, size);
        let at = |x: usize, y: usize| valid[y * size + x];
        assert!(
            !at(40, 64) && !at(40 + 25, 64),
            "disc centre and rim masked"
        );
        // The step at radius 30 and the first skin pixel beyond it are masked.
        assert!(
            !at(40 + 30, 64) && !at(40 + 31, 64),
            "the edge just outside the disc is masked too"
        );
        assert!(at(100, 64), "dark textured skin stays");
        assert!(at(100, 20) && at(10, 120), "skin stays");
        let masked = valid.iter().filter(|v| !**v).count() as f32;
        let disc = std::f32::consts::PI * 900.0;
        assert!(masked > disc && masked < 2.2 * disc, "masked {masked} px");
    }

    #[test]
    fn skin_level_flat_region_is_masked_only_in_a_textured_band() {
        // Textured skin (lines every 6 px) with a flat patch of the same mean level, 36 px
        // square (8 % of the ROI), and a small flat patch (3x3 px) that must stay.
        let size = 128;
        let mut vals = vec![0f32; size * size];
        for y in 0..size {
            for x in 0..size {
                let line = if (x + y) % 6 < 2 { -12.0 } else { 6.0 };
                let big = (30..66).contains(&x) && (40..76).contains(&y);
                let small = (100..103).contains(&x) && (100..103).contains(&y);
                vals[y * size + x] = if big || small {
                    150.0 + ((x * 7 + y * 13) % 2) as f32
                } else {
                    150.0 + line
                };
            }
        }
        let masked = |textured: bool| {
            let mut valid = vec![true; size * size];
            find_occluders(&vals, &valid, size, textured).apply(&mut valid, size);
            valid
        };
        let v = masked(true);
        let at = |x: usize, y: usize| v[y * size + x];
        assert!(!at(48, 58), "flat patch centre masked");
        assert!(
            at(101, 101) && at(110, 20),
            "small smooth spot and skin stay"
        );
        // NIR: skin between veins is as smooth, so flatness alone masks nothing there.
        assert!(masked(false).iter().all(|&ok| ok));
    }

    #[test]
    fn a_region_quiet_in_both_bands_is_masked_one_quiet_in_a_single_band_is_not() {
        // Both bands: white noise (std 1.5) everywhere, plus texture (a smooth grating, period
        // ~11 px, amplitude 6: coarser than a pixel, as palm lines are) except where a band is
        // "quiet". Visible is quiet over A (a 40 px square, 10 % of the ROI) and B; NIR over A
        // and C. Only A is quiet in both.
        let size = 128;
        let mut rng = palmsig_core::Rng::new(5);
        let a = |x: usize, y: usize| (20..60).contains(&x) && (20..60).contains(&y);
        let b = |x: usize, y: usize| (70..110).contains(&x) && (20..60).contains(&y);
        let c = |x: usize, y: usize| (20..60).contains(&x) && (70..110).contains(&y);
        let band = |quiet: &dyn Fn(usize, usize) -> bool, rng: &mut palmsig_core::Rng| {
            let mut v = vec![0f32; size * size];
            for y in 0..size {
                for x in 0..size {
                    let phase = std::f32::consts::TAU * (2 * x + y) as f32 / 24.0;
                    let tex = if quiet(x, y) { 0.0 } else { 6.0 * phase.sin() };
                    v[y * size + x] = 120.0 + tex + 1.5 * rng.normal() as f32;
                }
            }
            v
        };
        let vis = band(&|x, y| a(x, y) || b(x, y), &mut rng);
        let nir = band(&|x, y| a(x, y) || c(x, y), &mut rng);
        let ok = vec![true; size * size];
        let mut valid = ok.clone();
        find_quiet_occluders((&vis, &ok), (&nir, &ok), size).apply(&mut valid, size);
        let at = |x: usize, y: usize| valid[y * size + x];
        assert!(!at(40, 40), "quiet in both: masked");
        assert!(at(90, 40) && at(40, 90), "quiet in one band only: kept");
        assert!(at(100, 100), "textured skin: kept");
        // Textured everywhere in both bands, or quiet everywhere in both (no object covers a
        // whole ROI; that is the ROI's own texture): nothing is masked.
        for quiet in [false, true] {
            let (tv, tn) = (band(&|_, _| quiet, &mut rng), band(&|_, _| quiet, &mut rng));
            let mut all = ok.clone();
            find_quiet_occluders((&tv, &ok), (&tn, &ok), size).apply(&mut all, size);
            assert!(all.iter().all(|&v| v), "quiet everywhere: {quiet}");
        }
    }

    #[test]
    fn normalisation_equalises_contrast() {
        let size = 64;
        let vals: Vec<f32> = (0..size * size)
            .map(|i| 100.0 + if (i % size) % 8 < 4 { 5.0 } else { -5.0 })
            .collect();
        let p = normalise(&vals, &vec![true; size * size], size, 8);
        let rms = (p.norm.iter().map(|v| v * v).sum::<f32>() / p.norm.len() as f32).sqrt();
        assert!((rms - 1.0).abs() < 0.05, "rms {rms}");
        // A 10x weaker copy normalises to the same values.
        let weak: Vec<f32> = vals.iter().map(|v| 100.0 + (v - 100.0) * 0.5).collect();
        let q = normalise(&weak, &vec![true; size * size], size, 8);
        assert!(p
            .norm
            .iter()
            .zip(&q.norm)
            .all(|(a, b)| (a - b).abs() < 1e-3));
    }
}
