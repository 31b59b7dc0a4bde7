//! Oriented filter bank and the quantisation of its responses into bit-planes.

use crate::code::{CodeKind, FeatureCode};
use crate::preprocess::{self, Prepared};
use crate::{params, Algorithm};
use palmsig_core::{GrayImage, Modality};

const LANES: usize = 8; // 6 orientations padded to 8 lanes so the inner loop vectorises

/// Six zero-mean even Gabor kernels, interleaved per pixel: `k[pix * LANES + o]`.
#[derive(Debug, Clone)]
pub(crate) struct Bank {
    radius: usize,
    k: Vec<f32>,
}

impl Bank {
    pub(crate) fn new(radius: usize, wavelength: f32, sig_across: f32, sig_along: f32) -> Bank {
        let side = 2 * radius + 1;
        let mut k = vec![0f32; side * side * LANES];
        for o in 0..params::ORIENTATIONS {
            // Line direction theta; x' runs across the line.
            let th = o as f32 * std::f32::consts::PI / params::ORIENTATIONS as f32;
            let (s, c) = th.sin_cos();
            let mut vals = vec![0f32; side * side];
            for j in 0..side {
                for i in 0..side {
                    let (x, y) = (i as f32 - radius as f32, j as f32 - radius as f32);
                    let xa = -x * s + y * c;
                    let ya = x * c + y * s;
                    let env = (-(xa * xa) / (2.0 * sig_across * sig_across)
                        - (ya * ya) / (2.0 * sig_along * sig_along))
                        .exp();
                    vals[j * side + i] = env * (2.0 * std::f32::consts::PI * xa / wavelength).cos();
                }
            }
            // Zero mean (flat patches give 0) and unit L1 norm (comparable across orientations).
            let mean = vals.iter().sum::<f32>() / vals.len() as f32;
            vals.iter_mut().for_each(|v| *v -= mean);
            let l1: f32 = vals.iter().map(|v| v.abs()).sum();
            for (p, v) in vals.iter().enumerate() {
                k[p * LANES + o] = v / l1;
            }
        }
        Bank { radius, k }
    }

    /// Responses of the six filters at `(cx, cy)` of a zero-padded image (`pad` has side
    /// `side + 2 radius`, the original pixel (x, y) at (x + radius, y + radius)).
    fn respond(&self, pad: &[f32], pside: usize, cx: usize, cy: usize) -> [f32; LANES] {
        let side = 2 * self.radius + 1;
        let mut acc = [0f32; LANES];
        for j in 0..side {
            let row = &pad[(cy + j) * pside + cx..(cy + j) * pside + cx + side];
            let krow = &self.k[j * side * LANES..(j + 1) * side * LANES];
            for (i, &v) in row.iter().enumerate() {
                let kk = &krow[i * LANES..i * LANES + LANES];
                for o in 0..LANES {
                    acc[o] += v * kk[o];
                }
            }
        }
        acc
    }
}

/// The coder: both filter banks, built once.
#[derive(Debug, Clone)]
pub(crate) struct Coder {
    surface: Bank,
    vein: Bank,
}

/// Which image a code is made from and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Job {
    pub kind: CodeKind,
    pub source: Modality,
}

impl Coder {
    pub(crate) fn new() -> Coder {
        Coder {
            surface: Bank::new(
                params::SURFACE_RADIUS,
                params::SURFACE_WAVELENGTH,
                params::SURFACE_SIGMA_ACROSS,
                params::SURFACE_SIGMA_ALONG,
            ),
            vein: Bank::new(
                params::VEIN_RADIUS,
                params::VEIN_WAVELENGTH,
                params::VEIN_SIGMA_ACROSS,
                params::VEIN_SIGMA_ALONG,
            ),
        }
    }

    /// Code one ROI image. `explain` receives the normalised ROI and the code planes.
    pub(crate) fn encode(
        &self,
        algorithm: Algorithm,
        roi: &GrayImage,
        job: Job,
        explain: &mut dyn FnMut(&str, &GrayImage),
    ) -> FeatureCode {
        let (size, bank, nr) = match job.kind {
            CodeKind::Surface => (params::WORK_SIZE, &self.surface, params::NORM_RADIUS),
            CodeKind::Vein => (params::VEIN_SIZE, &self.vein, params::NORM_RADIUS / 2),
        };
        let (vals, valid) = preprocess::resample(roi, size);
        let prep = preprocess::normalise(&vals, &valid, size, nr);
        explain(&format!("{}_normalised", job.kind.name()), &preprocess::to_view(&prep));
        let code = code_prepared(algorithm, bank, &prep, job);
        explain(&format!("{}_code", job.kind.name()), &code_view(&code));
        code
    }
}

fn code_prepared(algorithm: Algorithm, bank: &Bank, prep: &Prepared, job: Job) -> FeatureCode {
    let r = bank.radius;
    let size = prep.size;
    let pside = size + 2 * r;
    let mut pad = vec![0f32; pside * pside];
    // Integral image of validity over the padded frame (padding counts as invalid).
    let mut vint = vec![0u32; (pside + 1) * (pside + 1)];
    for y in 0..size {
        pad[(y + r) * pside + r..(y + r) * pside + r + size]
            .copy_from_slice(&prep.norm[y * size..(y + 1) * size]);
    }
    for y in 0..pside {
        let mut acc = 0u32;
        for x in 0..pside {
            let inside = x >= r && y >= r && x < r + size && y < r + size;
            if inside && prep.valid[(y - r) * size + (x - r)] {
                acc += 1;
            }
            vint[(y + 1) * (pside + 1) + x + 1] = vint[y * (pside + 1) + x + 1] + acc;
        }
    }
    let g = params::GRID;
    let stride = size / g;
    let planes = algorithm.planes();
    let support = ((2 * r + 1) * (2 * r + 1)) as f32;
    let mut words = vec![0u64; g * (planes + 1)];
    for gy in 0..g {
        let cy = gy * stride + stride / 2;
        for gx in 0..g {
            let cx = gx * stride + stride / 2;
            let s1 = pside + 1;
            let (x0, y0, x1, y1) = (cx, cy, cx + 2 * r + 1, cy + 2 * r + 1);
            let nvalid = vint[y1 * s1 + x1] + vint[y0 * s1 + x0] - vint[y0 * s1 + x1] - vint[y1 * s1 + x0];
            let ok = prep.valid[cy * size + cx]
                && nvalid as f32 >= params::MIN_VALID_SUPPORT * support
                && prep.std[cy * size + cx] >= params::MIN_LOCAL_STD;
            if !ok {
                continue;
            }
            let resp = bank.respond(&pad, pside, cx, cy);
            let bits = quantise(algorithm, &resp);
            let base = gy * (planes + 1);
            words[base] |= 1 << gx;
            for p in 0..planes {
                if (bits >> p) & 1 == 1 {
                    words[base + 1 + p] |= 1 << gx;
                }
            }
        }
    }
    FeatureCode::from_words(job.kind, job.source, g, g, planes, words)
}

/// Bits of one sample (bit p = plane p) from the six responses (dark line → negative response).
fn quantise(algorithm: Algorithm, r: &[f32; LANES]) -> u32 {
    match algorithm {
        Algorithm::CompCode => {
            let mut k = 0;
            for o in 1..params::ORIENTATIONS {
                if r[o] < r[k] {
                    k = o;
                }
            }
            // Orientation index → 3 bits whose Hamming distance is the circular distance:
            // 0:000 1:001 2:011 3:111 4:110 5:100.
            [0b000, 0b001, 0b011, 0b111, 0b110, 0b100][k]
        }
        Algorithm::Bocv => {
            let mut b = 0;
            for (o, &v) in r.iter().enumerate().take(params::ORIENTATIONS) {
                if v < 0.0 {
                    b |= 1 << o;
                }
            }
            b
        }
        Algorithm::Ordinal => {
            let mut b = 0;
            for o in 0..3 {
                if r[o] < r[o + 3] {
                    b |= 1 << o;
                }
            }
            b
        }
    }
}

/// The code planes side by side (plane 0 … P-1, then the mask), 4 px per sample.
fn code_view(c: &FeatureCode) -> GrayImage {
    let s = 4;
    let n = c.planes() + 1;
    let (w, h) = (n * (c.width() * s + 2), c.height() * s);
    let mut img = GrayImage::new(w, h);
    for p in 0..n {
        for y in 0..c.height() {
            for x in 0..c.width() {
                let v = if p == c.planes() {
                    if c.is_valid(x, y) { 255 } else { 0 }
                } else if !c.is_valid(x, y) {
                    64
                } else if c.bit(p, x, y) {
                    255
                } else {
                    0
                };
                for dy in 0..s {
                    for dx in 0..s {
                        img.set(p * (c.width() * s + 2) + x * s + dx, y * s + dy, v);
                    }
                }
            }
        }
    }
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compcode_picks_the_line_orientation() {
        // A dark horizontal line (theta = 0) through the centre of a 128 px ROI.
        let mut img = GrayImage::new(128, 128);
        for y in 0..128 {
            for x in 0..128 {
                let d = (y as f32 - 64.0).abs();
                img.set(x, y, if d < 2.0 { 60 } else { 140 });
            }
        }
        let coder = Coder::new();
        let job = Job { kind: CodeKind::Surface, source: Modality::Visible };
        let c = coder.encode(Algorithm::CompCode, &img, job, &mut |_, _| {});
        // Sample row 16 is at y = 66: on the line; orientation 0 → bits 000.
        assert!(c.is_valid(16, 16));
        assert_eq!((0..3).map(|p| c.bit(p, 16, 16)).collect::<Vec<_>>(), [false; 3]);
        // Vertical line → orientation 3 (90°) → bits 111.
        let mut v = GrayImage::new(128, 128);
        for y in 0..128 {
            for x in 0..128 {
                v.set(x, y, if (x as f32 - 66.0).abs() < 2.0 { 60 } else { 140 });
            }
        }
        let c = coder.encode(Algorithm::CompCode, &v, job, &mut |_, _| {});
        assert_eq!((0..3).map(|p| c.bit(p, 16, 16)).collect::<Vec<_>>(), [true; 3]);
    }

    #[test]
    fn flat_or_padded_regions_are_masked() {
        let coder = Coder::new();
        let job = Job { kind: CodeKind::Vein, source: Modality::Nir };
        let flat = GrayImage::from_vec(128, 128, vec![120; 128 * 128]).unwrap();
        let c = coder.encode(Algorithm::Bocv, &flat, job, &mut |_, _| {});
        assert_eq!(c.valid_count(), 0);
        let black = GrayImage::new(128, 128);
        assert_eq!(coder.encode(Algorithm::Bocv, &black, job, &mut |_, _| {}).valid_count(), 0);
    }
}
