//! Oriented filter bank and the quantisation of its responses into bit-planes.

use crate::code::{CodeKind, FeatureCode};
use crate::preprocess::{self, Occlusion, Prepared};
use crate::{params, Algorithm};
use palmsig_core::{GrayImage, Modality};
use palmsig_vision::ExplainSink;

// 6 even kernels in lanes 0..6 and 6 odd (quadrature) kernels in lanes 8..14, padded to 16
// lanes so the inner loop vectorises.
const LANES: usize = 16;
const ODD: usize = 8;
#[cfg_attr(feature = "tuning", allow(dead_code))]
const PHASE_FREE: bool = true;

/// Six zero-mean even Gabor kernels and their odd (quadrature) partners, interleaved per pixel:
/// `k[pix * LANES + lane]`.
#[derive(Debug, Clone)]
pub(crate) struct Bank {
    radius: usize,
    k: Vec<f32>,
    /// Samples whose competitive strength (max − min response) is below this are masked.
    min_strength: f32,
}

impl Bank {
    pub(crate) fn new(
        radius: usize,
        wavelength: f32,
        sig_across: f32,
        sig_along: f32,
        min_strength: f32,
    ) -> Bank {
        let side = 2 * radius + 1;
        let mut k = vec![0f32; side * side * LANES];
        for o in 0..params::ORIENTATIONS {
            // Line direction theta; x' runs across the line.
            let th = o as f32 * std::f32::consts::PI / params::ORIENTATIONS as f32;
            let (s, c) = th.sin_cos();
            let mut vals = vec![0f32; side * side];
            let mut odd = vec![0f32; side * side];
            for j in 0..side {
                for i in 0..side {
                    let (x, y) = (i as f32 - radius as f32, j as f32 - radius as f32);
                    let xa = -x * s + y * c;
                    let ya = x * c + y * s;
                    let env = (-(xa * xa) / (2.0 * sig_across * sig_across)
                        - (ya * ya) / (2.0 * sig_along * sig_along))
                        .exp();
                    let ph = 2.0 * std::f32::consts::PI * xa / wavelength;
                    vals[j * side + i] = env * ph.cos();
                    odd[j * side + i] = env * ph.sin();
                }
            }
            // Zero mean (flat patches give 0) and unit L1 norm (comparable across orientations).
            let mean = vals.iter().sum::<f32>() / vals.len() as f32;
            vals.iter_mut().for_each(|v| *v -= mean);
            let l1: f32 = vals.iter().map(|v| v.abs()).sum();
            for (p, v) in vals.iter().enumerate() {
                k[p * LANES + o] = v / l1;
            }
            // The odd kernel is antisymmetric (zero mean already); same L1 normalisation so
            // even² + odd² is the local energy of the orientation, independent of phase.
            let l1o: f32 = odd.iter().map(|v| v.abs()).sum();
            for (p, v) in odd.iter().enumerate() {
                k[p * LANES + ODD + o] = v / l1o.max(1e-12);
            }
        }
        Bank {
            radius,
            k,
            min_strength,
        }
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
        #[cfg(feature = "tuning")]
        {
            // Development only: filter parameters from the environment (see `params::tuned`).
            let g = params::tuned;
            return Coder {
                surface: Bank::new(
                    g("PSIG_SR", params::SURFACE_RADIUS as f32) as usize,
                    g("PSIG_SW", params::SURFACE_WAVELENGTH),
                    g("PSIG_SA", params::SURFACE_SIGMA_ACROSS),
                    g("PSIG_SL", params::SURFACE_SIGMA_ALONG),
                    g("PSIG_ST", params::SURFACE_MIN_STRENGTH),
                ),
                vein: Bank::new(
                    g("PSIG_VR", params::VEIN_RADIUS as f32) as usize,
                    g("PSIG_VW", params::VEIN_WAVELENGTH),
                    g("PSIG_VA", params::VEIN_SIGMA_ACROSS),
                    g("PSIG_VL", params::VEIN_SIGMA_ALONG),
                    g("PSIG_VT", params::VEIN_MIN_STRENGTH),
                ),
            };
        }
        #[allow(unreachable_code)]
        Coder {
            surface: Bank::new(
                params::SURFACE_RADIUS,
                params::SURFACE_WAVELENGTH,
                params::SURFACE_SIGMA_ACROSS,
                params::SURFACE_SIGMA_ALONG,
                params::SURFACE_MIN_STRENGTH,
            ),
            vein: Bank::new(
                params::VEIN_RADIUS,
                params::VEIN_WAVELENGTH,
                params::VEIN_SIGMA_ACROSS,
                params::VEIN_SIGMA_ALONG,
                params::VEIN_MIN_STRENGTH,
            ),
        }
    }

    /// Resample one ROI image to the working size of `kind` (values, validity) and find its
    /// occluders (`source`: the band of the image; only visible-light skin is textured enough
    /// everywhere for a texture-free region alone to mark an occluder).
    pub(crate) fn load(&self, roi: &GrayImage, kind: CodeKind, source: Modality) -> Loaded {
        let size = match kind {
            CodeKind::Surface => params::WORK_SIZE,
            CodeKind::Vein => params::VEIN_SIZE,
        };
        let (vals, valid) = preprocess::resample(roi, size);
        let occlusion =
            preprocess::find_occluders(&vals, &valid, size, source == Modality::Visible);
        Loaded {
            size,
            vals,
            valid,
            occlusion,
        }
    }

    /// Occluders quiet in both bands: the loaded visible surface ROI and the NIR ROI image
    /// (resampled here to the surface's working size).
    pub(crate) fn quiet_occluders(&self, visible: &Loaded, nir: &GrayImage) -> Occlusion {
        let (nv, nvalid) = preprocess::resample(nir, visible.size);
        preprocess::find_quiet_occluders(
            (&visible.vals, &visible.valid),
            (&nv, &nvalid),
            visible.size,
        )
    }

    /// Code one loaded ROI with `occlusion` (its own, or the union with the other band's)
    /// masked. `sink` receives the normalised ROI and the code planes.
    pub(crate) fn encode(
        &self,
        algorithm: Algorithm,
        roi: Loaded,
        occlusion: &Occlusion,
        job: Job,
        sink: &mut dyn ExplainSink,
    ) -> FeatureCode {
        let (bank, nr) = match job.kind {
            CodeKind::Surface => (&self.surface, params::NORM_RADIUS),
            CodeKind::Vein => (&self.vein, params::NORM_RADIUS / 2),
        };
        let Loaded {
            size,
            vals,
            mut valid,
            ..
        } = roi;
        occlusion.apply(&mut valid, size);
        let prep = preprocess::normalise(&vals, &valid, size, nr);
        if sink.enabled() {
            sink.emit(
                &format!("{}_normalised", job.kind.name()),
                &preprocess::to_view(&prep),
            );
        }
        let code = code_prepared(algorithm, bank, &prep, job);
        if sink.enabled() {
            sink.emit(&format!("{}_code", job.kind.name()), &code_view(&code));
        }
        code
    }
}

/// A ROI resampled to its working size, with its occluders found.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    size: usize,
    vals: Vec<f32>,
    valid: Vec<bool>,
    /// Where this ROI is covered.
    pub occlusion: Occlusion,
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
    // Pass 1: responses and competitive strength at every usable sample.
    let mut resp: Vec<Option<([f32; LANES], f32)>> = vec![None; g * g];
    let mut strengths = Vec::with_capacity(g * g);
    for gy in 0..g {
        let cy = gy * stride + stride / 2;
        for gx in 0..g {
            let cx = gx * stride + stride / 2;
            let s1 = pside + 1;
            let (x0, y0, x1, y1) = (cx, cy, cx + 2 * r + 1, cy + 2 * r + 1);
            let nvalid =
                vint[y1 * s1 + x1] + vint[y0 * s1 + x0] - vint[y0 * s1 + x1] - vint[y1 * s1 + x0];
            let ok = prep.valid[cy * size + cx]
                && nvalid as f32 >= params::MIN_VALID_SUPPORT * support
                && prep.std[cy * size + cx] >= params::MIN_LOCAL_STD;
            if !ok {
                continue;
            }
            let mut rr = bank.respond(&pad, pside, cx, cy);
            // Lanes 8..14 become the phase-free orientation energies.
            let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
            for o in 0..params::ORIENTATIONS {
                let e = (rr[o] * rr[o] + rr[ODD + o] * rr[ODD + o]).sqrt();
                rr[ODD + o] = e;
                lo = lo.min(e);
                hi = hi.max(e);
            }
            resp[gy * g + gx] = Some((rr, hi - lo));
            strengths.push(hi - lo);
        }
    }
    // Fragile samples: strength below `min_strength` times the ROI's median strength (relative,
    // so it does not depend on the sensor's contrast).
    let cut = if strengths.is_empty() {
        0.0
    } else {
        let mid = strengths.len() / 2;
        let (_, m, _) = strengths.select_nth_unstable_by(mid, f32::total_cmp);
        *m * bank.min_strength
    };
    let mut words = vec![0u64; g * (planes + 1)];
    for gy in 0..g {
        for gx in 0..g {
            let Some((rr, st)) = resp[gy * g + gx] else {
                continue;
            };
            if st < cut {
                continue;
            }
            let bits = quantise(algorithm, &rr);
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

/// Bits of one sample (bit p = plane p) from the six even responses (lanes 0..6; dark line →
/// negative) and the six orientation energies (lanes 8..14).
fn quantise(algorithm: Algorithm, r: &[f32; LANES]) -> u32 {
    let e = &r[ODD..ODD + params::ORIENTATIONS];
    match algorithm {
        Algorithm::CompCode => {
            let mut k = 0;
            for o in 1..params::ORIENTATIONS {
                if compcode_key(r, e, o) < compcode_key(r, e, k) {
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

/// CompCode's competition: by default the classic dark-line (even) response; with phase-free
/// energy the orientation of maximum energy.
#[inline]
fn compcode_key(r: &[f32; LANES], e: &[f32], o: usize) -> f32 {
    #[cfg(feature = "tuning")]
    let pf = PHASE_FREE_get();
    #[cfg(not(feature = "tuning"))]
    let pf = PHASE_FREE;
    if pf {
        -e[o]
    } else {
        r[o]
    }
}

#[cfg(feature = "tuning")]
static PHASE_FREE_CELL: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
#[cfg(feature = "tuning")]
#[allow(non_snake_case)]
fn PHASE_FREE_get() -> bool {
    *PHASE_FREE_CELL.get_or_init(|| {
        std::env::var("PSIG_PF")
            .map(|v| v == "1")
            .unwrap_or(PHASE_FREE)
    })
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
                    if c.is_valid(x, y) {
                        255
                    } else {
                        0
                    }
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

    fn enc(coder: &Coder, algorithm: Algorithm, img: &GrayImage, job: Job) -> FeatureCode {
        let roi = coder.load(img, job.kind, job.source);
        let occ = roi.occlusion.clone();
        coder.encode(algorithm, roi, &occ, job, &mut palmsig_vision::NoExplain)
    }

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
        let job = Job {
            kind: CodeKind::Surface,
            source: Modality::Visible,
        };
        let c = enc(&coder, Algorithm::CompCode, &img, job);
        // Sample row 16 is at y = 66: on the line; orientation 0 → bits 000.
        assert!(c.is_valid(16, 16));
        assert_eq!(
            (0..3).map(|p| c.bit(p, 16, 16)).collect::<Vec<_>>(),
            [false; 3]
        );
        // Vertical line → orientation 3 (90°) → bits 111.
        let mut v = GrayImage::new(128, 128);
        for y in 0..128 {
            for x in 0..128 {
                v.set(
                    x,
                    y,
                    if (x as f32 - 66.0).abs() < 2.0 {
                        60
                    } else {
                        140
                    },
                );
            }
        }
        let c = enc(&coder, Algorithm::CompCode, &v, job);
        assert_eq!(
            (0..3).map(|p| c.bit(p, 16, 16)).collect::<Vec<_>>(),
            [true; 3]
        );
    }

    #[test]
    fn flat_or_padded_regions_are_masked() {
        let coder = Coder::new();
        let job = Job {
            kind: CodeKind::Vein,
            source: Modality::Nir,
        };
        let flat = GrayImage::from_vec(128, 128, vec![120; 128 * 128]).unwrap();
        let c = enc(&coder, Algorithm::Bocv, &flat, job);
        assert_eq!(c.valid_count(), 0);
        let black = GrayImage::new(128, 128);
        assert_eq!(enc(&coder, Algorithm::Bocv, &black, job).valid_count(), 0);
    }
}
