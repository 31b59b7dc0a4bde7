//! Shift-tolerant masked Hamming matching, fusion, and multi-capture references.
//!
//! A comparison searches shifts of ±`MAX_SHIFT` samples with elastic blocks; one whose raw
//! fused z reaches `POSE_MIN_Z` is searched again with the probe's codes turned and scaled
//! (`POSE_ANGLES` x `POSE_SCALES`, see [`FeatureCode`]'s nearest-sample resampling) and keeps
//! its best pose: residual rotation and scale of the palm frame are absorbed. The calibration
//! describes that final statistic (its tails are fitted on it), so no penalty applies.
//!
//! Two implementations of one algorithm (see [`best_distance`] and `params`): the fast path,
//! `palmsig_core::simd::shift` (runtime-dispatched AVX-512 / AVX2 / `popcnt` / portable
//! kernels, with the probe prepared once: [`PreparedProbe`]), used for every 32×32 code of 3 or 6
//! planes, and the plain scalar reference below ([`Matcher::compare_scalar`]), used for other
//! shapes and by the tests, which check that both give the same integer counts and so the same
//! scores.

use palmsig_core::simd::shift::{self, ShiftProbe};
use palmsig_core::simd::Kernel;

use crate::calibration::{Calibration, CodeSources};
use crate::code::FeatureCode;
use crate::{params, Algorithm, ModalitySelection, Template};

/// The result of comparing two templates. Scores are calibrated: each is `-log10` of the
/// estimated false-match rate at that score (see [`crate::calibration`]), so higher = more
/// similar and `Threshold::for_fmr(1e-6)` is the score 6. A score lowered for the number of
/// references searched (a Bonferroni bound) may fall below 0: the bound on the rate
/// then exceeds 1, and the order of scores, which the error rates depend on, is kept (a floor at
/// 0 tied most impostor and some genuine enrolment scores: enrolment EER 10.7 % against 0.70 %
/// capture-to-capture on a real 2-session set).
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

/// Compares templates of one algorithm; holds the calibration and the SIMD kernel in use.
#[derive(Debug, Clone)]
pub struct Matcher {
    algorithm: Algorithm,
    calibration: Calibration,
    kernel: Kernel,
}

/// A probe template prepared for many comparisons ([`Matcher::prepare`]): each code's x-shifted,
/// zero-padded copies are computed once, so a comparison only reads the other template.
#[derive(Debug, Clone)]
pub struct PreparedProbe {
    algorithm: Algorithm,
    param_hash: u64,
    surface: Option<PreparedCode>,
    vein: Option<PreparedCode>,
    /// The probe's codes, for its poses.
    codes: (Option<FeatureCode>, Option<FeatureCode>),
    /// The probe's turned and scaled codes, prepared on first need ([`params::POSE_MIN_Z`]).
    poses: std::sync::OnceLock<Vec<(Option<PreparedCode>, Option<PreparedCode>)>>,
}

impl PreparedProbe {
    /// Where the probe's codes come from (see [`CodeSources`]).
    pub fn code_sources(&self) -> CodeSources {
        CodeSources::of_surface(self.codes.0.as_ref().map(|c| c.source()))
    }
}

#[derive(Debug, Clone)]
enum PreparedCode {
    /// A code of the shape the SIMD kernels handle, prepared for them.
    Fast(ShiftProbe),
    /// Any other shape, compared by the scalar reference.
    Reference(FeatureCode),
}

impl PreparedCode {
    fn new(kernel: Kernel, c: &FeatureCode) -> PreparedCode {
        match shift_probe(kernel, c) {
            Some(p) => PreparedCode::Fast(p),
            None => PreparedCode::Reference(c.clone()),
        }
    }

    /// (width, height, planes).
    fn shape(&self) -> (usize, usize, usize) {
        match self {
            PreparedCode::Fast(p) => (shift::GRID, shift::GRID, p.planes()),
            PreparedCode::Reference(c) => (c.width(), c.height(), c.planes()),
        }
    }
}

impl Matcher {
    /// A matcher with the built-in calibration of `algorithm` and the fastest kernel of this CPU.
    pub fn new(algorithm: Algorithm) -> Matcher {
        Matcher::with_calibration(algorithm, Calibration::builtin(algorithm).clone())
    }

    /// A matcher with a caller-fitted calibration.
    pub fn with_calibration(algorithm: Algorithm, calibration: Calibration) -> Matcher {
        Matcher {
            algorithm,
            calibration,
            kernel: Kernel::detect(),
        }
    }

    /// The same matcher using `kernel` (benchmarks, tests). A kernel this CPU lacks runs as the
    /// portable one; every kernel gives the same scores.
    pub fn with_kernel(mut self, kernel: Kernel) -> Matcher {
        self.kernel = if kernel.is_available() {
            kernel
        } else {
            Kernel::Portable
        };
        self
    }

    /// The kernel in use.
    pub fn kernel(&self) -> Kernel {
        self.kernel
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
        self.check_made_with(t.algorithm, t.param_hash)
    }

    fn check_made_with(&self, algorithm: Algorithm, param_hash: u64) -> Result<(), MatchError> {
        if algorithm != self.algorithm {
            return Err(MatchError::AlgorithmMismatch {
                found: algorithm,
                expected: self.algorithm,
            });
        }
        let expected = self.algorithm.param_hash();
        if param_hash != expected {
            return Err(MatchError::ParamMismatch {
                found: param_hash,
                expected,
            });
        }
        Ok(())
    }

    /// Prepare a probe for [`Matcher::compare_prepared`]: worth it as soon as the probe is
    /// compared more than once (1:N search, evaluation).
    pub fn prepare(&self, probe: &Template) -> Result<PreparedProbe, MatchError> {
        self.check(probe)?;
        Ok(PreparedProbe {
            algorithm: probe.algorithm,
            param_hash: probe.param_hash,
            surface: probe
                .surface
                .as_ref()
                .map(|c| PreparedCode::new(self.kernel, c)),
            vein: probe
                .vein
                .as_ref()
                .map(|c| PreparedCode::new(self.kernel, c)),
            codes: (probe.surface.clone(), probe.vein.clone()),
            poses: std::sync::OnceLock::new(),
        })
    }

    /// Compare two templates (symmetric up to the shift search's tie-breaking). Prepares `a`
    /// first: for many comparisons of one probe, [`Matcher::prepare`] it once and use
    /// [`Matcher::compare_prepared`].
    pub fn compare(&self, a: &Template, b: &Template) -> Result<Comparison, MatchError> {
        self.compare_prepared(&self.prepare(a)?, b)
    }

    /// Compare a prepared probe with a template; the same result as [`Matcher::compare`].
    pub fn compare_prepared(
        &self,
        probe: &PreparedProbe,
        b: &Template,
    ) -> Result<Comparison, MatchError> {
        let (sd, vd) = self.raw_distances(probe, b)?;
        let sources = probe.code_sources();
        let c = self.calibration.score(sources, sd, vd);
        let k = self.kernel;
        self.best_pose(sources, c, || {
            let poses = probe.poses.get_or_init(|| {
                pose_codes(&probe.codes)
                    .into_iter()
                    .map(|(s, v)| {
                        (
                            s.map(|c| PreparedCode::new(k, &c)),
                            v.map(|c| PreparedCode::new(k, &c)),
                        )
                    })
                    .collect()
            });
            poses.iter().map(move |(ps, pv)| {
                Ok((
                    prepared_distance(k, ps.as_ref(), b.surface.as_ref(), "surface")?,
                    prepared_distance(k, pv.as_ref(), b.vein.as_ref(), "vein")?,
                ))
            })
        })
    }

    /// [`Matcher::compare`] computed by the plain scalar reference implementation of the same
    /// algorithm (tens of µs): for tests and benchmarks.
    pub fn compare_scalar(&self, a: &Template, b: &Template) -> Result<Comparison, MatchError> {
        self.check(a)?;
        self.check(b)?;
        let sd = pair_distance(a.surface.as_ref(), b.surface.as_ref(), "surface")?;
        let vd = pair_distance(a.vein.as_ref(), b.vein.as_ref(), "vein")?;
        let sources = a.code_sources();
        let c = self.finish(sources, a.surface.is_some(), a.vein.is_some(), b, sd, vd)?;
        self.best_pose(sources, c, || {
            pose_codes(&(a.surface.clone(), a.vein.clone()))
                .into_iter()
                .map(move |(ps, pv)| {
                    Ok((
                        pair_distance(ps.as_ref(), b.surface.as_ref(), "surface")?,
                        pair_distance(pv.as_ref(), b.vein.as_ref(), "vein")?,
                    ))
                })
        })
    }

    fn finish(
        &self,
        sources: CodeSources,
        a_surface: bool,
        a_vein: bool,
        b: &Template,
        sd: Option<f32>,
        vd: Option<f32>,
    ) -> Result<Comparison, MatchError> {
        let common = (a_surface && b.surface.is_some()) || (a_vein && b.vein.is_some());
        if !common {
            return Err(MatchError::NoCommonModality);
        }
        Ok(self.calibration.score(sources, sd, vd))
    }

    /// The pose search shared by the fast and the reference paths: when the plain comparison
    /// `c` reaches [`params::POSE_MIN_Z`] (raw fused z, before the tails), the best of it and of
    /// every pose's (surface, vein) distances from `poses` (evaluated only then). No penalty:
    /// the calibration's tails are fitted on this statistic, the best over poses, not on the
    /// plain comparison (see [`crate::calibration`]).
    fn best_pose<I>(
        &self,
        sources: CodeSources,
        mut c: Comparison,
        poses: impl FnOnce() -> I,
    ) -> Result<Comparison, MatchError>
    where
        I: Iterator<Item = Result<(Option<f32>, Option<f32>), MatchError>>,
    {
        let raw = self
            .calibration
            .raw(sources, c.surface_distance, c.vein_distance);
        if raw.is_some_and(|z| z >= params::POSE_MIN_Z) {
            for d in poses() {
                let (sd, vd) = d?;
                let p = self.calibration.score(sources, sd, vd);
                if p.fused > c.fused {
                    c = p;
                }
            }
        }
        Ok(c)
    }

    /// Compare a probe with a multi-capture enrolment: the best-matching reference, with its
    /// scores lowered by `log10(k)` for `k` references (the Bonferroni bound: the chance that the
    /// best of `k` impostor comparisons passes a threshold is at most `k` times that of one), so
    /// the calibration stays conservative. Not floored at 0 (see [`Comparison`]): the enrolment
    /// keeps the order of its best capture-to-capture score, so it is never worse than one
    /// capture.
    pub fn compare_reference(
        &self,
        probe: &Template,
        reference: &[Template],
    ) -> Result<Comparison, MatchError> {
        self.compare_reference_prepared(&self.prepare(probe)?, reference)
    }

    /// [`Matcher::compare_reference`] with a prepared probe.
    pub fn compare_reference_prepared(
        &self,
        probe: &PreparedProbe,
        reference: &[Template],
    ) -> Result<Comparison, MatchError> {
        let mut best: Option<Comparison> = None;
        let mut best_s: Option<f32> = None;
        let mut best_v: Option<f32> = None;
        let mut last_err = None;
        for r in reference {
            match self.compare_prepared(probe, r) {
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
        c.fused -= pen;
        c.surface = best_s.map(|s| s - pen);
        c.vein = best_v.map(|v| v - pen);
        Ok(c)
    }
}

/// What a calibration is fitted on.
impl Matcher {
    /// The distances `(surface, vein)` the calibrated score of [`Matcher::compare_prepared`] is
    /// computed from: the best pose's when the pose search runs (under this matcher's fusion
    /// weights), no multi-reference penalty, no tails. The calibration's tails describe this
    /// statistic, so a deployment's calibration is fitted on it
    /// ([`crate::calibration::fit_calibration`]; fit with a matcher using the fitted weights
    /// again so the poses are chosen as the refitted matcher will choose them).
    pub fn scored_distances(
        &self,
        probe: &PreparedProbe,
        b: &Template,
    ) -> Result<(Option<f32>, Option<f32>), MatchError> {
        let c = self.compare_prepared(probe, b)?;
        Ok((c.surface_distance, c.vein_distance))
    }

    /// The plain comparison's best-shift distances `(surface, vein)` of a prepared probe and a
    /// template: the shift and elastic search only, no pose search, no multi-reference penalty,
    /// no calibration ([`Matcher::compare_prepared`] starts from them; what the pose search adds
    /// is the difference to [`Matcher::scored_distances`]). A modality is `None` when either side lacks its code or
    /// the overlap is too small.
    pub fn raw_distances(
        &self,
        probe: &PreparedProbe,
        b: &Template,
    ) -> Result<(Option<f32>, Option<f32>), MatchError> {
        self.check_made_with(probe.algorithm, probe.param_hash)?;
        self.check(b)?;
        let common = (probe.surface.is_some() && b.surface.is_some())
            || (probe.vein.is_some() && b.vein.is_some());
        if !common {
            return Err(MatchError::NoCommonModality);
        }
        let k = self.kernel;
        Ok((
            prepared_distance(k, probe.surface.as_ref(), b.surface.as_ref(), "surface")?,
            prepared_distance(k, probe.vein.as_ref(), b.vein.as_ref(), "vein")?,
        ))
    }
}

/// The probe codes in every searched pose but the identity, in a fixed order (the fast and the
/// reference paths must search the same poses in the same order).
fn pose_codes(
    codes: &(Option<FeatureCode>, Option<FeatureCode>),
) -> Vec<(Option<FeatureCode>, Option<FeatureCode>)> {
    let posed = |c: &Option<FeatureCode>| -> Vec<Option<FeatureCode>> {
        match c {
            Some(c) => pose_maps(c.width(), c.height())
                .iter()
                .map(|m| Some(c.resampled(m)))
                .collect(),
            None => vec![None; POSES_BUT_IDENTITY],
        }
    };
    posed(&codes.0).into_iter().zip(posed(&codes.1)).collect()
}

/// Poses searched besides the plain comparison.
const POSES_BUT_IDENTITY: usize = params::POSE_ANGLES.len() * params::POSE_SCALES.len() - 1;

/// The sample maps of every pose but the identity on a `w x h` grid, in [`pose_codes`]' order:
/// computed once for the `GRID x GRID` codes the engine makes, on the fly for other shapes.
fn pose_maps(w: usize, h: usize) -> std::borrow::Cow<'static, [Vec<u16>]> {
    fn maps(w: usize, h: usize) -> Vec<Vec<u16>> {
        let mut out = Vec::with_capacity(POSES_BUT_IDENTITY);
        for &angle in &params::POSE_ANGLES {
            for &scale in &params::POSE_SCALES {
                if angle != 0.0 || scale != 1.0 {
                    out.push(crate::code::pose_map(w, h, angle, scale));
                }
            }
        }
        out
    }
    static GRID_MAPS: std::sync::OnceLock<Vec<Vec<u16>>> = std::sync::OnceLock::new();
    if (w, h) == (params::GRID, params::GRID) {
        std::borrow::Cow::Borrowed(GRID_MAPS.get_or_init(|| maps(w, h)))
    } else {
        std::borrow::Cow::Owned(maps(w, h))
    }
}

fn max_opt(a: Option<f32>, b: Option<f32>) -> Option<f32> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The reference distance of a pair (`None` when either code is missing).
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

/// The distance of a prepared code to a code: the fast path for a fast-shape pair, else the
/// reference (`None` when either code is missing).
fn prepared_distance(
    kernel: Kernel,
    a: Option<&PreparedCode>,
    b: Option<&FeatureCode>,
    kind: &'static str,
) -> Result<Option<f32>, MatchError> {
    let (Some(a), Some(b)) = (a, b) else {
        return Ok(None);
    };
    if a.shape() != (b.width(), b.height(), b.planes()) {
        return Err(MatchError::ShapeMismatch { kind });
    }
    Ok(match (a, b.rows32()) {
        (PreparedCode::Fast(p), Some(rows)) => {
            finish_distance(p.planes(), shift::search(kernel, &SEARCH, p, rows))
        }
        (PreparedCode::Reference(a), _) => best_distance(a, b),
        // Same shape as a fast one: always has its `u32` rows.
        (PreparedCode::Fast(_), None) => unreachable!("a 32-wide code keeps u32 rows"),
    })
}

/// Whether the parameters are the geometry `palmsig_core::simd::shift` is written for (a change
/// of any of them sends every comparison to the scalar reference, which follows `params`).
const FAST_GEOMETRY: bool = params::GRID == shift::GRID
    && params::MAX_SHIFT == shift::MAX_SHIFT
    && params::COARSE_ROW_STEP == shift::COARSE_ROW_STEP
    && params::BLOCKS == shift::BLOCKS
    && params::LOCAL_SHIFT == shift::LOCAL_SHIFT
    && params::REFINE_CANDIDATES >= 1
    && params::REFINE_CANDIDATES <= shift::MAX_CANDIDATES;

const SEARCH: shift::SearchParams = shift::SearchParams {
    candidates: params::REFINE_CANDIDATES,
    min_overlap: params::MIN_OVERLAP,
    nominal_overlap: params::NOMINAL_OVERLAP,
    block_keep: params::BLOCK_KEEP,
    block_gain: params::BLOCK_GAIN,
    block_slack: params::BLOCK_SLACK,
};

/// Whether a code has the shape the fast path handles.
fn fast_shape(c: &FeatureCode) -> bool {
    FAST_GEOMETRY
        && c.width() == shift::GRID
        && c.height() == shift::GRID
        && shift::supports_planes(c.planes())
}

fn shift_probe(kernel: Kernel, c: &FeatureCode) -> Option<ShiftProbe> {
    if !fast_shape(c) {
        return None;
    }
    ShiftProbe::new(kernel, c.rows32()?, c.planes())
}

/// The final distance from a search's counts: the rigid distance, or the elastic one when lower
/// and its overlap is enough.
fn finish_distance(planes: usize, out: shift::SearchOutcome) -> Option<f32> {
    let r = out.rigid?;
    let rigid = normalised(r.d, r.n, planes, 1.0);
    match out.elastic {
        Some((d, n)) if n >= params::MIN_OVERLAP => Some(normalised(d, n, planes, 1.0).min(rigid)),
        _ => Some(rigid),
    }
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
/// small (Daugman's normalisation), so a small lucky overlap does not look like a match. One
/// definition, shared with the fast path.
#[inline(always)]
fn normalised(d: u32, n: u32, planes: usize, scale: f32) -> f32 {
    shift::normalised(d, n, planes, scale, params::NOMINAL_OVERLAP)
}

/// The scalar reference: best normalised distance over the shift window (coarse-to-fine);
/// `None` when no shift has enough overlap.
pub(crate) fn best_distance(a: &FeatureCode, b: &FeatureCode) -> Option<f32> {
    match a.planes() {
        3 => finish_distance(3, search::<4>(a, b)),
        6 => finish_distance(6, search::<7>(a, b)),
        _ => search_dyn(a, b),
    }
}

/// The reference search's integer outcome (what the fast kernels must reproduce exactly).
fn search<const W: usize>(a: &FeatureCode, b: &FeatureCode) -> shift::SearchOutcome {
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
    let mut best: Option<(f32, i32, i32, u32, u32)> = None;
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
            best = Some((v, dx, dy, d, n));
        }
    }
    let Some((_, dx, dy, d, n)) = best else {
        return shift::SearchOutcome {
            rigid: None,
            elastic: None,
        };
    };
    shift::SearchOutcome {
        rigid: Some(shift::RigidMatch { dx, dy, d, n }),
        elastic: (params::BLOCKS > 1).then(|| elastic::<W>(wa, wb, a.width(), h, dx, dy)),
    }
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
                            let (kn, kd) = params::BLOCK_KEEP;
                            let (gn, gd) = params::BLOCK_GAIN;
                            (hd < bh_ && n * kd >= bn * kn)
                                || (n * gd > bn * gn && hd <= bh_ + params::BLOCK_SLACK)
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
            assert_fast_equals_reference(&a, &b);
            let (q, _) = code(&mut rng, planes);
            let c = FeatureCode::from_parts(CodeKind::Surface, Modality::Visible, 32, 32, &q, &m)
                .unwrap();
            let d = best_distance(&a, &c).unwrap();
            assert!(d > 0.4 && d < 0.5, "planes {planes}: random distance {d}");
            assert_fast_equals_reference(&a, &c);
        }
    }

    #[test]
    fn enrolment_scores_keep_the_order_of_the_best_reference_below_zero() {
        let mut rng = Rng::new(33);
        let m = Matcher::new(Algorithm::CompCode);
        let mask = vec![(1u64 << 32) - 1; 32];
        let mut tpl = || {
            let (planes, _) = code(&mut rng, 3);
            let c = FeatureCode::from_parts(
                CodeKind::Surface,
                Modality::Visible,
                32,
                32,
                &planes,
                &mask,
            )
            .unwrap();
            Template::new(Algorithm::CompCode, Some(c), None).unwrap()
        };
        let refs: Vec<Template> = (0..3).map(|_| tpl()).collect();
        let mut seen = Vec::new();
        for _ in 0..20 {
            let probe = tpl();
            let best = refs
                .iter()
                .map(|r| m.compare(&probe, r).unwrap().fused)
                .fold(f32::NEG_INFINITY, f32::max);
            let e = m.compare_reference(&probe, &refs).unwrap().fused;
            assert!((e - (best - 3f32.log10())).abs() < 1e-6, "{e} vs {best}");
            seen.push(e);
        }
        // Unrelated random codes score near 0 alone, so lowered by log10(3) most fall below 0:
        // none is clamped there, and no two tie.
        assert!(seen.iter().any(|&e| e < 0.0), "{seen:?}");
        seen.sort_by(f32::total_cmp);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    }

    #[test]
    fn a_turned_and_scaled_copy_is_found_by_the_pose_search() {
        let mut rng = Rng::new(21);
        let m = Matcher::new(Algorithm::CompCode);
        let tpl = |c: FeatureCode| Template::new(Algorithm::CompCode, Some(c), None).unwrap();
        // Codes of palms are smooth (a line spans several samples): 2x2-sample blocks of
        // random bits. A white-noise code turned by 6° would be another code.
        let smooth = |rng: &mut Rng| -> Vec<Vec<u64>> {
            let (blocks, _) = code(rng, 3);
            blocks
                .iter()
                .map(|b| {
                    (0..32)
                        .map(|y| (0..32).fold(0u64, |r, x| r | (((b[y / 2] >> (x / 2)) & 1) << x)))
                        .collect()
                })
                .collect()
        };
        let mask = vec![(1u64 << 32) - 1; 32];
        let p = smooth(&mut rng);
        let a = FeatureCode::from_parts(CodeKind::Surface, Modality::Visible, 32, 32, &p, &mask)
            .unwrap();
        let q = smooth(&mut rng);
        let other =
            FeatureCode::from_parts(CodeKind::Surface, Modality::Visible, 32, 32, &q, &mask)
                .unwrap();
        let ta = tpl(a.clone());
        for (angle, scale) in [(6.0, 1.0), (-6.0, 1.08), (0.0, 0.92)] {
            let bc = a.posed(angle, scale);
            // Without the pose search, shifts and elastic blocks leave a clear distance...
            let plain = best_distance(&a, &bc).unwrap();
            assert!(plain > 0.1, "{angle}° x{scale}: {plain}");
            let b = tpl(bc);
            let c = m.compare(&ta, &b).unwrap();
            // The probe posed like B is B, sample for sample.
            assert_eq!(c.surface_distance, Some(0.0), "{angle}° x{scale}");
            let exact = m
                .calibration()
                .score(CodeSources::TwoBands, Some(0.0), None)
                .fused;
            assert!((c.fused - exact).abs() < 1e-6, "{} vs {exact}", c.fused);
            assert_eq!(m.compare_scalar(&ta, &b).unwrap(), c);
            // No pose lifts an unrelated code to a match (FMR 1e-3).
            let r = m.compare(&tpl(other.posed(angle, scale)), &b).unwrap();
            assert!(r.fused < 3.0, "impostor {}", r.fused);
        }
        // The identity pose leaves a code as it is.
        assert_eq!(a.posed(0.0, 1.0), a);
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
        assert_fast_equals_reference(&a, &b);
        assert_fast_equals_reference(&b, &a);
    }

    /// Every kernel available here (and the portable one) gives the reference's integer
    /// outcome, and so the same distance, for `a` against `b`.
    fn assert_fast_equals_reference(a: &FeatureCode, b: &FeatureCode) {
        let want = best_distance(a, b);
        let prep = shift_probe(Kernel::Portable, a);
        if !fast_shape(a) {
            assert!(prep.is_none());
            return;
        }
        let prep = prep.unwrap();
        let outcome = match a.planes() {
            3 => search::<4>(a, b),
            6 => search::<7>(a, b),
            p => unreachable!("fast shape with {p} planes"),
        };
        let bb = b.rows32().unwrap();
        for k in Kernel::available() {
            assert_eq!(
                shift_probe(k, a).as_ref(),
                Some(&prep),
                "kernel {k} prepares"
            );
            let got = shift::search(k, &SEARCH, &prep, bb);
            assert_eq!(got, outcome, "kernel {k}");
            let d = prepared_distance(k, Some(&PreparedCode::Fast(prep.clone())), Some(b), "x");
            let d = d.unwrap();
            assert_eq!(d.map(f32::to_bits), want.map(f32::to_bits), "kernel {k}");
        }
    }

    /// A random 32×32 code: plane bits from one of several textures, the mask one of several
    /// shapes (full, rectangle, disc, random speckle, sparse), so overlaps near the thresholds,
    /// ties and empty rows all occur.
    fn random_code(rng: &mut Rng, planes: usize) -> FeatureCode {
        let full = (1u64 << 32) - 1;
        let texture = rng.below(4);
        let plane_rows: Vec<Vec<u64>> = (0..planes)
            .map(|p| {
                (0..32)
                    .map(|y| match texture {
                        0 => rng.next_u64() & full,
                        1 => 0,
                        2 => (0x5555_5555u64 << ((y + p) % 2)) & full,
                        _ => {
                            let mut v = rng.next_u64() & full;
                            if rng.chance(0.5) {
                                v &= rng.next_u64();
                            }
                            v
                        }
                    })
                    .collect()
            })
            .collect();
        let shape = rng.below(5);
        let (x0, x1) = (rng.below(16) as i64, 16 + rng.below(17) as i64);
        let (y0, y1) = (rng.below(16) as i64, 16 + rng.below(17) as i64);
        let (cx, cy, r) = (
            rng.range(8.0, 24.0),
            rng.range(8.0, 24.0),
            rng.range(6.0, 22.0),
        );
        let density = rng.range(0.05, 1.0);
        let mask: Vec<u64> = (0..32i64)
            .map(|y| {
                let mut row = 0u64;
                for x in 0..32i64 {
                    let on = match shape {
                        0 => true,
                        1 => (x0..x1).contains(&x) && (y0..y1).contains(&y),
                        2 => (x as f64 - cx).hypot(y as f64 - cy) < r,
                        3 => rng.chance(density),
                        _ => rng.chance(0.3) && (x0..x1).contains(&x),
                    };
                    row |= (on as u64) << x;
                }
                row
            })
            .collect();
        FeatureCode::from_parts(
            CodeKind::Surface,
            Modality::Visible,
            32,
            32,
            &plane_rows,
            &mask,
        )
        .unwrap()
    }

    /// `a` moved by (dx, dy) with a fraction `flip` of plane bits flipped and mask bits dropped:
    /// a genuine-like partner.
    fn variant(rng: &mut Rng, a: &FeatureCode, dx: i32, dy: i32, flip: f64) -> FeatureCode {
        let full = (1u64 << 32) - 1;
        let mv = |w: u64| {
            if dx >= 0 {
                (w << dx) & full
            } else {
                w >> -dx
            }
        };
        let src = |y: i32| (0..32).contains(&(y - dy)).then(|| (y - dy) as usize);
        let mut noise = |w: u64| {
            let mut v = w;
            for x in 0..32 {
                if rng.chance(flip) {
                    v ^= 1 << x;
                }
            }
            v & full
        };
        let planes: Vec<Vec<u64>> = (0..a.planes())
            .map(|p| {
                (0..32)
                    .map(|y| src(y).map_or(0, |s| noise(mv(a.plane_row(p, s)))))
                    .collect()
            })
            .collect();
        let mask: Vec<u64> = (0..32)
            .map(|y| src(y).map_or(0, |s| mv(a.mask_row(s)) & !noise(0)))
            .collect();
        FeatureCode::from_parts(a.kind(), a.source(), 32, 32, &planes, &mask).unwrap()
    }

    #[test]
    fn fast_path_equals_reference_on_fixed_seeds() {
        eprintln!("detected kernel: {}", Kernel::detect());
        let mut rng = Rng::new(0x5eed);
        for i in 0..200 {
            let planes = if i % 3 == 0 { 6 } else { 3 };
            let a = random_code(&mut rng, planes);
            let b = random_code(&mut rng, planes);
            assert_fast_equals_reference(&a, &b);
            let (dx, dy) = (rng.below(13) as i32 - 6, rng.below(13) as i32 - 6);
            let flip = rng.range(0.0, 0.4);
            let v = variant(&mut rng, &a, dx, dy, flip);
            assert_fast_equals_reference(&a, &v);
            assert_fast_equals_reference(&v, &a);
        }
    }

    #[test]
    fn fast_path_equals_reference_at_overlap_thresholds() {
        // Overlaps exactly at (and next to) the coarse pass's and the rigid pass's minimum.
        let mut rng = Rng::new(77);
        let full = (1u64 << 32) - 1;
        for planes in [3usize, 6] {
            for c in 3..=5u32 {
                // `c` valid samples on each coarse row (2, 6, …), full rows elsewhere.
                let (p, _) = code(&mut rng, planes);
                let mask: Vec<u64> = (0..32)
                    .map(|y| if y % 4 == 2 { (1u64 << c) - 1 } else { full })
                    .collect();
                let a = FeatureCode::from_parts(CodeKind::Vein, Modality::Nir, 32, 32, &p, &mask)
                    .unwrap();
                let (q, m) = code(&mut rng, planes);
                let b =
                    FeatureCode::from_parts(CodeKind::Vein, Modality::Nir, 32, 32, &q, &m).unwrap();
                assert_fast_equals_reference(&a, &b);
                assert_fast_equals_reference(&b, &a);
            }
            for rows in 7..=9usize {
                // `rows` full rows: 224, 256 or 288 valid samples at the best shift.
                let (p, _) = code(&mut rng, planes);
                let mask: Vec<u64> = (0..32)
                    .map(|y| {
                        if (10..10 + rows).contains(&y) {
                            full
                        } else {
                            0
                        }
                    })
                    .collect();
                let a = FeatureCode::from_parts(CodeKind::Vein, Modality::Nir, 32, 32, &p, &mask)
                    .unwrap();
                let b = variant(&mut rng, &a, 0, 0, 0.0);
                let full_b = FeatureCode::from_parts(
                    CodeKind::Vein,
                    Modality::Nir,
                    32,
                    32,
                    &p,
                    &vec![full; 32],
                )
                .unwrap();
                for (x, y) in [(&a, &b), (&a, &full_b), (&full_b, &a)] {
                    assert_fast_equals_reference(x, y);
                }
            }
        }
    }

    #[test]
    fn other_shapes_take_the_reference() {
        let mut rng = Rng::new(4);
        let (p, m) = code(&mut rng, 5);
        let a =
            FeatureCode::from_parts(CodeKind::Surface, Modality::Visible, 32, 32, &p, &m).unwrap();
        assert!(shift_probe(Kernel::detect(), &a).is_none());
        let (p, _) = code(&mut rng, 3);
        let m = vec![(1u64 << 20) - 1; 24];
        let p: Vec<Vec<u64>> = p.into_iter().map(|r| r[..24].to_vec()).collect();
        let c =
            FeatureCode::from_parts(CodeKind::Surface, Modality::Visible, 20, 24, &p, &m).unwrap();
        assert!(shift_probe(Kernel::detect(), &c).is_none());
        assert_eq!(
            prepared_distance(
                Kernel::detect(),
                Some(&PreparedCode::new(Kernel::detect(), &c)),
                Some(&c),
                "x"
            )
            .unwrap()
            .map(f32::to_bits),
            best_distance(&c, &c).map(f32::to_bits)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        #[test]
        fn fast_path_equals_reference(
            seed: u64,
            six in proptest::bool::ANY,
            dx in -6i32..=6,
            dy in -6i32..=6,
            flip in 0.0f64..0.5,
        ) {
            let mut rng = Rng::new(seed);
            let planes = if six { 6 } else { 3 };
            let a = random_code(&mut rng, planes);
            let v = variant(&mut rng, &a, dx, dy, flip);
            assert_fast_equals_reference(&a, &v);
            let b = random_code(&mut rng, planes);
            assert_fast_equals_reference(&b, &v);
        }
    }
}
