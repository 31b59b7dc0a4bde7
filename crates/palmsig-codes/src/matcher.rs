//! Shift-tolerant masked Hamming matching, fusion, and multi-capture references.

use crate::calibration::Calibration;
use crate::code::FeatureCode;
use crate::{params, Algorithm, ModalitySelection, Template};

/// The result of comparing two templates. Scores are calibrated: each is `-log10` of the
/// estimated false-match rate at that score (see [`crate::calibration`]), so higher = more
/// similar and `Threshold::for_fmr(1e-6)` is the score 6.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// Surface score, when both templates have a surface code with enough overlap.
    pub surface: Option<f32>,
    /// Vein score, when both templates have a vein code with enough overlap.
    pub vein: Option<f32>,
    /// Fused score (both modalities when present, else the one there is; 0 when none).
    pub fused: f32,
    /// Surface normalised Hamming distance at the best shift (0 = identical, ~0.5 = unrelated).
    pub surface_distance: Option<f32>,
    /// Vein normalised Hamming distance at the best shift.
    pub vein_distance: Option<f32>,
}

impl Comparison {
    /// The score used under a modality selection (`None` when that modality is missing).
    pub fn score(&self, sel: ModalitySelection) -> Option<f32> {
        match sel {
            ModalitySelection::Visible => self.surface,
            ModalitySelection::Nir => self.vein,
            ModalitySelection::Fused => {
                (self.surface.is_some() || self.vein.is_some()).then_some(self.fused)
            }
        }
    }
}

/// Why two templates cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    /// A template of another algorithm than the matcher's.
    #[error("template made with {found}, matcher expects {expected}")]
    AlgorithmMismatch {
        /// Algorithm of the template.
        found: Algorithm,
        /// Algorithm of the matcher.
        expected: Algorithm,
    },
    /// A template made with other coding parameters (another build / version of the coder).
    #[error("template parameter hash {found:016x} differs from this build's {expected:016x}: re-enrol with this version")]
    ParamMismatch {
        /// Hash in the template.
        found: u64,
        /// Hash of this build.
        expected: u64,
    },
    /// Codes of different shapes (a corrupt template built in memory).
    #[error("{kind} codes have different shapes")]
    ShapeMismatch {
        /// `surface` or `vein`.
        kind: &'static str,
    },
    /// The two templates share no modality (e.g. surface-only vs vein-only).
    #[error("the templates share no modality")]
    NoCommonModality,
    /// `compare_reference` with no reference template.
    #[error("empty reference: no enrolled template to compare with")]
    EmptyReference,
}

/// Compares templates of one algorithm; holds the calibration.
#[derive(Debug, Clone)]
pub struct Matcher {
    algorithm: Algorithm,
    calibration: Calibration,
}

impl Matcher {
    /// A matcher with the built-in calibration of `algorithm`.
    pub fn new(algorithm: Algorithm) -> Matcher {
        Matcher {
            algorithm,
            calibration: Calibration::builtin(algorithm).clone(),
        }
    }

    /// A matcher with a caller-fitted calibration.
    pub fn with_calibration(algorithm: Algorithm, calibration: Calibration) -> Matcher {
        Matcher {
            algorithm,
            calibration,
        }
    }

    /// The algorithm this matcher accepts.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The calibration in use.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    fn check(&self, t: &Template) -> Result<(), MatchError> {
        if t.algorithm != self.algorithm {
            return Err(MatchError::AlgorithmMismatch {
                found: t.algorithm,
                expected: self.algorithm,
            });
        }
        let expected = self.algorithm.param_hash();
        if t.param_hash != expected {
            return Err(MatchError::ParamMismatch {
                found: t.param_hash,
                expected,
            });
        }
        Ok(())
    }

    /// Compare two templates (symmetric up to the shift search's tie-breaking).
    pub fn compare(&self, a: &Template, b: &Template) -> Result<Comparison, MatchError> {
        self.check(a)?;
        self.check(b)?;
        let sd = pair_distance(a.surface.as_ref(), b.surface.as_ref(), "surface")?;
        let vd = pair_distance(a.vein.as_ref(), b.vein.as_ref(), "vein")?;
        let both_have = |x: bool, y: bool| x && y;
        if !both_have(a.surface.is_some(), b.surface.is_some())
            && !both_have(a.vein.is_some(), b.vein.is_some())
        {
            return Err(MatchError::NoCommonModality);
        }
        Ok(self.calibration.score(sd, vd))
    }

    /// Compare a probe with a multi-capture enrolment: the best-matching reference, with its
    /// scores lowered by `log10(k)` for `k` references (the Bonferroni bound: the chance that the
    /// best of `k` impostor comparisons passes a threshold is at most `k` times that of one), so
    /// the calibration stays conservative.
    pub fn compare_reference(
        &self,
        probe: &Template,
        reference: &[Template],
    ) -> Result<Comparison, MatchError> {
        let mut best: Option<Comparison> = None;
        let mut best_s: Option<f32> = None;
        let mut best_v: Option<f32> = None;
        let mut last_err = None;
        for r in reference {
            match self.compare(probe, r) {
                Ok(c) => {
                    best_s = max_opt(best_s, c.surface);
                    best_v = max_opt(best_v, c.vein);
                    if best.is_none_or(|b| c.fused > b.fused) {
                        best = Some(c);
                    }
                }
                Err(MatchError::NoCommonModality) => last_err = Some(MatchError::NoCommonModality),
                Err(e) => return Err(e),
            }
        }
        let Some(mut c) = best else {
            return Err(last_err.unwrap_or(MatchError::EmptyReference));
        };
        let pen = (reference.len() as f32).log10();
        c.fused = (c.fused - pen).max(0.0);
        c.surface = best_s.map(|s| (s - pen).max(0.0));
        c.vein = best_v.map(|v| (v - pen).max(0.0));
        Ok(c)
    }
}

fn max_opt(a: Option<f32>, b: Option<f32>) -> Option<f32> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn pair_distance(
    a: Option<&FeatureCode>,
    b: Option<&FeatureCode>,
    kind: &'static str,
) -> Result<Option<f32>, MatchError> {
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(None);
    };
    if a.width() != b.width() || a.height() != b.height() || a.planes() != b.planes() {
        return Err(MatchError::ShapeMismatch { kind });
    }
    Ok(best_distance(a, b))
}

#[inline(always)]
fn sh(w: u64, dx: i32) -> u64 {
    if dx >= 0 {
        w >> dx
    } else {
        w << (-dx)
    }
}

/// Raw (differing bits, jointly valid samples) at shift (dx, dy), over rows `start, start+step…`.
/// Compares A(x, y) with B(x + dx, y + dy).
#[inline(always)]
fn dist_at<const W: usize>(
    a: &[u64],
    b: &[u64],
    h: usize,
    dx: i32,
    dy: i32,
    start: usize,
    step: usize,
) -> (u32, u32) {
    let y0 = if dy < 0 { (-dy) as usize } else { 0 };
    let y1 = if dy > 0 { h - dy as usize } else { h };
    let mut y = y0 + (start + step - y0 % step) % step;
    let (mut d, mut n) = (0u32, 0u32);
    while y < y1 {
        let ra = &a[y * W..y * W + W];
        let yb = (y as i32 + dy) as usize;
        let rb = &b[yb * W..yb * W + W];
        let m = ra[0] & sh(rb[0], dx);
        n += m.count_ones();
        for p in 1..W {
            d += ((ra[p] ^ sh(rb[p], dx)) & m).count_ones();
        }
        y += step;
    }
    (d, n)
}

/// Normalised distance: fraction of differing bits, pulled towards 0.5 when the overlap is
/// small (Daugman's normalisation), so a small lucky overlap does not look like a match.
#[inline(always)]
fn normalised(d: u32, n: u32, planes: usize, scale: f32) -> f32 {
    if n == 0 {
        return 0.5;
    }
    let hd = d as f32 / (n as f32 * planes as f32);
    0.5 - (0.5 - hd)
        * ((n as f32 * scale) / params::NOMINAL_OVERLAP)
            .min(1.0)
            .sqrt()
}

/// Best normalised distance over the shift window (coarse-to-fine); `None` when no shift has
/// enough overlap.
pub(crate) fn best_distance(a: &FeatureCode, b: &FeatureCode) -> Option<f32> {
    match a.planes() {
        3 => search::<4>(a, b),
        6 => search::<7>(a, b),
        _ => search_dyn(a, b),
    }
}

fn search<const W: usize>(a: &FeatureCode, b: &FeatureCode) -> Option<f32> {
    let (wa, wb, h) = (a.words(), b.words(), a.height());
    let planes = W - 1;
    let s = params::MAX_SHIFT;
    let step = params::COARSE_ROW_STEP;
    const K: usize = params::REFINE_CANDIDATES;
    let mut top = [(f32::INFINITY, 0i32, 0i32); K];
    for dy in -s..=s {
        for dx in -s..=s {
            let (d, n) = dist_at::<W>(wa, wb, h, dx, dy, step / 2, step);
            if n * (step as u32) < params::MIN_OVERLAP / 2 {
                continue;
            }
            let hd = normalised(d, n, planes, step as f32);
            if hd < top[K - 1].0 {
                top[K - 1] = (hd, dx, dy);
                let mut i = K - 1;
                while i > 0 && top[i].0 < top[i - 1].0 {
                    top.swap(i, i - 1);
                    i -= 1;
                }
            }
        }
    }
    // Rigid distance of the best coarse candidates on all rows; then the elastic refinement
    // around the best of them only.
    let mut best: Option<(f32, i32, i32)> = None;
    for &(hd, dx, dy) in &top {
        if !hd.is_finite() {
            continue;
        }
        let (d, n) = dist_at::<W>(wa, wb, h, dx, dy, 0, 1);
        if n < params::MIN_OVERLAP {
            continue;
        }
        let v = normalised(d, n, planes, 1.0);
        if best.is_none_or(|b| v < b.0) {
            best = Some((v, dx, dy));
        }
    }
    let (rigid, dx, dy) = best?;
    if params::BLOCKS <= 1 {
        return Some(rigid);
    }
    let (d, n) = elastic::<W>(wa, wb, a.width(), h, dx, dy);
    if n < params::MIN_OVERLAP {
        return Some(rigid);
    }
    Some(normalised(d, n, planes, 1.0).min(rigid))
}

/// Elastic refinement around a global shift: the code is cut into `BLOCKS x BLOCKS` blocks and
/// each block takes its own best shift within ±`LOCAL_SHIFT` of the global one. Residual
/// rotation, scale and skin deformation move distant parts of the palm by different amounts; a
/// rigid shift can only align one part at a time.
fn elastic<const W: usize>(
    a: &[u64],
    b: &[u64],
    w: usize,
    h: usize,
    dx: i32,
    dy: i32,
) -> (u32, u32) {
    let nb = params::BLOCKS;
    let (bw, bh) = (w.div_ceil(nb), h.div_ceil(nb));
    let l = params::LOCAL_SHIFT;
    let (mut dt, mut nt) = (0u32, 0u32);
    for by in 0..nb {
        let (r0, r1) = (by * bh, ((by + 1) * bh).min(h));
        for bx in 0..nb {
            let c0 = bx * bw;
            let c1 = ((bx + 1) * bw).min(w);
            if c0 >= c1 || r0 >= r1 {
                continue;
            }
            let cols = crate::code::width_mask(c1) & !crate::code::width_mask(c0);
            let mut best: Option<(f32, u32, u32)> = None;
            for ly in -l..=l {
                for lx in -l..=l {
                    let (sx, sy) = (dx + lx, dy + ly);
                    let (mut d, mut n) = (0u32, 0u32);
                    for y in r0..r1 {
                        let yb = y as i32 + sy;
                        if yb < 0 || yb >= h as i32 {
                            continue;
                        }
                        let yb = yb as usize;
                        let ra = &a[y * W..y * W + W];
                        let rb = &b[yb * W..yb * W + W];
                        let m = ra[0] & sh(rb[0], sx) & cols;
                        n += m.count_ones();
                        for p in 1..W {
                            d += ((ra[p] ^ sh(rb[p], sx)) & m).count_ones();
                        }
                    }
                    // Each block must keep most of its overlap: a block may not escape into a
                    // sliver of lucky samples.
                    if n == 0 {
                        continue;
                    }
                    let hd = d as f32 / n as f32;
                    let better = match best {
                        None => true,
                        Some((bh_, _, bn)) => {
                            (hd < bh_ && n * 4 >= bn * 3) || (n * 3 > bn * 4 && hd <= bh_ + 0.02)
                        }
                    };
                    if better {
                        best = Some((hd, d, n));
                    }
                }
            }
            if let Some((_, d, n)) = best {
                dt += d;
                nt += n;
            }
        }
    }
    (dt, nt)
}

/// Exhaustive search for unusual plane counts (codes built by hand through `from_parts`).
fn search_dyn(a: &FeatureCode, b: &FeatureCode) -> Option<f32> {
    let w = a.planes() + 1;
    let (wa, wb, h) = (a.words(), b.words(), a.height());
    let s = params::MAX_SHIFT;
    let mut best: Option<f32> = None;
    for dy in -s..=s {
        for dx in -s..=s {
            let (mut d, mut n) = (0u32, 0u32);
            for y in 0..h {
                let yb = y as i32 + dy;
                if yb < 0 || yb >= h as i32 {
                    continue;
                }
                let (ra, rb) = (
                    &wa[y * w..y * w + w],
                    &wb[yb as usize * w..yb as usize * w + w],
                );
                let m = ra[0] & sh(rb[0], dx);
                n += m.count_ones();
                for p in 1..w {
                    d += ((ra[p] ^ sh(rb[p], dx)) & m).count_ones();
                }
            }
            if n >= params::MIN_OVERLAP {
                let v = normalised(d, n, w - 1, 1.0);
                if best.is_none_or(|b| v < b) {
                    best = Some(v);
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::CodeKind;
    use palmsig_core::{Modality, Rng};

    fn code(rng: &mut Rng, planes: usize) -> (Vec<Vec<u64>>, Vec<u64>) {
        let m = (1u64 << 32) - 1;
        (
            (0..planes)
                .map(|_| (0..32).map(|_| rng.next_u64() & m).collect())
                .collect(),
            vec![m; 32],
        )
    }

    #[test]
    fn shifted_copy_matches_random_does_not() {
        let mut rng = Rng::new(9);
        for planes in [3usize, 5, 6] {
            let (p, m) = code(&mut rng, planes);
            let a = FeatureCode::from_parts(CodeKind::Surface, Modality::Visible, 32, 32, &p, &m)
                .unwrap();
            // B(x, y) = A(x - 2, y - 1): shifted right by 2 and down by 1.
            let ps: Vec<Vec<u64>> = p
                .iter()
                .map(|rows| {
                    (0..32)
                        .map(|y| if y == 0 { 0 } else { rows[y - 1] << 2 })
                        .collect()
                })
                .collect();
            let b = FeatureCode::from_parts(CodeKind::Surface, Modality::Visible, 32, 32, &ps, &m)
                .unwrap();
            let d = best_distance(&a, &b).unwrap();
            assert!(d < 0.05, "planes {planes}: shifted copy distance {d}");
            let (q, _) = code(&mut rng, planes);
            let c = FeatureCode::from_parts(CodeKind::Surface, Modality::Visible, 32, 32, &q, &m)
                .unwrap();
            let d = best_distance(&a, &c).unwrap();
            assert!(d > 0.4 && d < 0.5, "planes {planes}: random distance {d}");
        }
    }

    #[test]
    fn too_little_overlap_gives_no_distance() {
        let mut rng = Rng::new(2);
        let (p, _) = code(&mut rng, 3);
        let small = vec![0xffu64; 32]; // 8 columns valid: 256 samples, less after any shift
        let a = FeatureCode::from_parts(CodeKind::Vein, Modality::Nir, 32, 32, &p, &small).unwrap();
        let mut few = vec![0u64; 32];
        few[0] = 0xf;
        let b = FeatureCode::from_parts(CodeKind::Vein, Modality::Nir, 32, 32, &p, &few).unwrap();
        assert_eq!(best_distance(&a, &b), None);
    }
}
