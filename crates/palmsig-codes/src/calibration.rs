//! Score calibration: distances → `-log10(estimated false-match rate)`.
//!
//! # Model
//! 1. Each modality's best-shift normalised Hamming distance `d` becomes an impostor z-score
//!    `z = (mu - d) / sigma`, with `mu`, `sigma` the mean and standard deviation of that
//!    modality's impostor distances.
//! 2. Fusion is score-level, a weighted sum of z-scores:
//!    `z_fused = (w_s z_s + w_v z_v) / sqrt(w_s² + w_v² + 2ρ w_s w_v)`, with each weight the
//!    modality's separation `d' = (mu - mean genuine distance) / sigma` and `ρ` the impostor
//!    correlation of the two z-scores for the pair's [`CodeSources`]: ~0.5 when both codes are
//!    read from one NIR image, ~0.05 from two bands (BOCV on the dev sets). The divisor keeps
//!    unit impostor variance for either kind of sensor, so one fused tail serves both.
//!    With one modality, its own z.
//! 3. Two kinds of sensor are scored by their own models ([`Calibration::same_image`]): a
//!    surface code read from the NIR image (a NIR-only scanner) is another measurement than one
//!    read from visible light; its impostors sit ~0.01 (one sigma) closer on the dev sets.
//! 4. Each of the three raw scores (surface, vein, fused) has its own [`TailModel`]: the
//!    empirical impostor survival function `S(z) = P(impostor ≥ z)` as knots of
//!    `(z, -log10 S)`, interpolated linearly, and beyond the last knot (where the data run out)
//!    extended with the straight line fitted to the last decade of knots. Impostor tails of
//!    these scores bend downwards (near-Gaussian), so the straight extension *over*-estimates the
//!    false-match rate: thresholds chosen through it are conservative.
//!
//! The calibrated score is `-log10 S(z)`: a score of 6 means "one impostor comparison in a
//! million scores this high", and [`Threshold::for_fmr`] is simply `-log10(fmr)`.
//!
//! # How the built-in tables were fitted
//! With `palmsig calibrate` (below) on the pooled real-scanner development sets, one profile
//! per algorithm, embedded as JSON (`calibration/<algorithm>.json`, each stating its source and
//! pair counts): 940 nm contactless full hands (`casia940-dev`), contact green + NIR ROIs
//! (`polyu-ms`) and contactless visible ROIs (`tongji-2s`): 67,701 surface and 49,701 vein and
//! fused impostor pairs. Synthetic hands are not pooled in: their impostors are far more alike
//! (mean best-pose distance ~0.35 against ~0.39 on every real sensor), and the product faces
//! real palms; a synthetic run that wants exact rates refits (`palmsig calibrate` on its own
//! manifest). The tables reach `S ≈ 3e-4` measured; beyond that they are extrapolated. Each
//! sensor's impostors sit a little differently (mean distance ±0.006, about half a sigma), so a
//! deployment should refit on its own impostor pairs.
//!
//! # Fitting a deployment's calibration
//! [`fit_calibration`] fits the whole model from [`PairDistances`]: each comparison's distances
//! as the matcher scores them ([`crate::Matcher::scored_distances`]: the best pose, no
//! multi-reference penalty) and whether the pair is genuine. The pose a comparison keeps
//! depends on the fusion weights, so `palmsig calibrate` fits twice: on the distances chosen
//! under the built-in weights, then on those chosen under the first fit's. `mu`, `sigma` come from the impostor distances, each weight is
//! the modality's d′ from the genuine mean, `ρ` per code sources from the impostor z-scores
//! (a group with too few pairs keeps the built-in `ρ`), and the three tails from the impostor z-scores, with
//! knots down to [`params::FIT_MIN_TAIL`] remaining impostors. A modality without any pair
//! (a visible-only sensor) keeps the built-in model. [`crate::profile::CalibrationProfile`]
//! stores the result as JSON; `palmsig calibrate` runs the whole fit on manifests, and
//! `Engine::with_calibration` / `Matcher::with_calibration` use it.
//!
//! The tables describe the matcher's final statistic: every comparison's best pose (the
//! matcher searches turned and scaled probe codes on every pair and keeps the best), so no
//! penalty applies to it; only multi-capture references keep their Bonferroni `log10(k)`.

use serde::{Deserialize, Serialize};

use crate::matcher::Comparison;
use crate::{params, Algorithm};

/// Empirical impostor tail of one raw score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TailModel {
    /// `(z, -log10 S(z))`, both strictly increasing.
    pub knots: Vec<(f32, f32)>,
    /// Slope of `-log10 S` per unit z beyond the last knot (> 0).
    pub slope: f32,
}

impl TailModel {
    /// `-log10` of the estimated impostor survival at raw score `z` (≥ 0).
    pub fn score(&self, z: f32) -> f32 {
        let k = &self.knots;
        if k.is_empty() || !z.is_finite() {
            return if z == f32::INFINITY { f32::MAX } else { 0.0 };
        }
        if z <= k[0].0 {
            // Below the first knot, fall linearly to 0 with the first segment's slope.
            let s0 = if k.len() > 1 {
                (k[1].1 - k[0].1) / (k[1].0 - k[0].0)
            } else {
                self.slope
            };
            return (k[0].1 - s0 * (k[0].0 - z)).max(0.0);
        }
        for w in k.windows(2) {
            let ((z0, l0), (z1, l1)) = (w[0], w[1]);
            if z <= z1 {
                return l0 + (l1 - l0) * (z - z0) / (z1 - z0);
            }
        }
        let (zl, ll) = k[k.len() - 1];
        ll + self.slope * (z - zl)
    }

    /// The raw score `z` at which [`TailModel::score`] reaches `score` (its inverse on the
    /// rising part): the decision threshold on the raw scale for an FMR of `10^-score`. `None`
    /// for a non-finite or negative `score` or a tail without knots.
    pub fn raw_for(&self, score: f32) -> Option<f32> {
        let k = &self.knots;
        let (&(z0, l0), &(zl, ll)) = (k.first()?, k.last()?);
        if !score.is_finite() || score < 0.0 {
            return None;
        }
        if score <= l0 {
            let s0 = if k.len() > 1 {
                (k[1].1 - k[0].1) / (k[1].0 - k[0].0)
            } else {
                self.slope
            };
            return (s0 > 0.0).then(|| z0 - (l0 - score) / s0);
        }
        for w in k.windows(2) {
            let ((za, la), (zb, lb)) = (w[0], w[1]);
            if score <= lb {
                return Some(za + (zb - za) * (score - la) / (lb - la));
            }
        }
        (self.slope > 0.0).then(|| zl + (score - ll) / self.slope)
    }

    /// Check the invariants [`TailModel::score`] relies on: 2 to [`params::PROFILE_MAX_KNOTS`]
    /// knots, `z` and `-log10 S` strictly increasing, `-log10 S ≥ 0`, a slope > 0, every number
    /// within [`params::PROFILE_MAX_MAGNITUDE`] (so every score is finite).
    /// `what` names the tail in the error.
    pub fn validate(&self, what: &str) -> Result<(), CalibrationError> {
        let bad = |why: String| CalibrationError::Invalid {
            field: format!("{what}.knots"),
            why,
        };
        let n = self.knots.len();
        if !(2..=params::PROFILE_MAX_KNOTS).contains(&n) {
            return Err(bad(format!(
                "{n} knots, 2 to {} needed",
                params::PROFILE_MAX_KNOTS
            )));
        }
        let max = params::PROFILE_MAX_MAGNITUDE;
        for (i, &(z, l)) in self.knots.iter().enumerate() {
            if !(z.abs() <= max && (0.0..=max).contains(&l)) {
                return Err(bad(format!(
                    "knot {i} ({z}, {l}) is not within |z| <= {max}, 0 <= -log10 S <= {max}"
                )));
            }
        }
        for (i, w) in self.knots.windows(2).enumerate() {
            if w[1].0 <= w[0].0 || w[1].1 <= w[0].1 {
                return Err(bad(format!(
                    "knots {i} and {} are not strictly increasing",
                    i + 1
                )));
            }
        }
        if !(self.slope > 0.0 && self.slope <= max) {
            return Err(CalibrationError::Invalid {
                field: format!("{what}.slope"),
                why: format!("{} is not in (0, {max}]", self.slope),
            });
        }
        Ok(())
    }
}

/// Per-modality impostor model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModalityModel {
    /// Mean impostor distance.
    pub mu: f32,
    /// Standard deviation of impostor distances.
    pub sigma: f32,
    /// Fusion weight (the modality's d′ on the fitting data).
    pub weight: f32,
    /// Tail of this modality's z-score alone.
    pub tail: TailModel,
}

impl ModalityModel {
    /// Impostor z-score of a distance.
    pub fn z(&self, d: f32) -> f32 {
        (self.mu - d) / self.sigma
    }

    /// Check the model: `mu` in `[0, 1]` (a mean normalised distance), `sigma` in
    /// `[params::PROFILE_MIN_SIGMA, 1]`, `weight` in `[0, params::PROFILE_MAX_MAGNITUDE]`, and
    /// its tail ([`TailModel::validate`]). `what` names it.
    pub fn validate(&self, what: &str) -> Result<(), CalibrationError> {
        let check = |name: &str, v: f32, ok: bool, range: &str| {
            if v.is_finite() && ok {
                Ok(())
            } else {
                Err(CalibrationError::Invalid {
                    field: format!("{what}.{name}"),
                    why: format!("{v} is not {range}"),
                })
            }
        };
        check("mu", self.mu, (0.0..=1.0).contains(&self.mu), "in [0, 1]")?;
        let min_sigma = params::PROFILE_MIN_SIGMA;
        check(
            "sigma",
            self.sigma,
            (min_sigma..=1.0).contains(&self.sigma),
            &format!("in [{min_sigma}, 1]"),
        )?;
        let max = params::PROFILE_MAX_MAGNITUDE;
        check(
            "weight",
            self.weight,
            (0.0..=max).contains(&self.weight),
            &format!("in [0, {max}]"),
        )?;
        self.tail.validate(&format!("{what}.tail"))
    }
}

/// Where a comparison's two codes come from, which sets how alike their impostor scores are.
///
/// A surface code read from the NIR image (no visible image: a NIR-only scanner) sees the same
/// pixels as the vein code, so an impostor pair's surface and vein distances rise and fall
/// together (correlation ~0.5 on the 940 nm dev set); codes from two bands are nearly independent
/// (~0.05 on the green + NIR set). Fusion divides by the fused score's impostor spread for the
/// pair's sources, so one fused tail fits both kinds of sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSources {
    /// Surface and vein codes from one (NIR) image.
    SameImage,
    /// Surface code from a visible image, vein code from a NIR image (or only one code).
    TwoBands,
}

impl CodeSources {
    /// The sources of a comparison whose surface codes come from `surface` (the probe's; a
    /// reference from the other band cannot match it anyway).
    pub fn of_surface(surface: Option<palmsig_core::Modality>) -> CodeSources {
        match surface {
            Some(palmsig_core::Modality::Nir) => CodeSources::SameImage,
            _ => CodeSources::TwoBands,
        }
    }
}

/// Correlation of impostor surface and vein z-scores, per [`CodeSources`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct FusionCorrelation {
    /// Both codes from one image.
    pub same_image: f32,
    /// Codes from two bands.
    pub two_bands: f32,
}

impl FusionCorrelation {
    /// The correlation for `sources`.
    pub fn of(&self, sources: CodeSources) -> f32 {
        match sources {
            CodeSources::SameImage => self.same_image,
            CodeSources::TwoBands => self.two_bands,
        }
    }
}

/// A full calibration: both modalities and their fusion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Surface model.
    pub surface: ModalityModel,
    /// Vein model.
    pub vein: ModalityModel,
    /// Impostor correlation of the two z-scores per code sources (absent in a profile: 0, both
    /// treated as independent).
    #[serde(default)]
    pub correlation: FusionCorrelation,
    /// Tail of the fused z-score.
    pub fused: TailModel,
    /// Models for comparisons whose two codes come from one image
    /// ([`CodeSources::SameImage`]: a NIR-only sensor). A surface code read from NIR is
    /// another measurement than one read from visible light (its impostors sit ~0.01 closer on
    /// the dev sets, about one sigma), so such comparisons get their own models; absent, the
    /// models above serve every comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_image: Option<SourceModels>,
}

/// The per-modality models and fused tail of one kind of sensor (see [`Calibration::same_image`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceModels {
    /// Surface model.
    pub surface: ModalityModel,
    /// Vein model.
    pub vein: ModalityModel,
    /// Tail of the fused z-score.
    pub fused: TailModel,
}

impl Calibration {
    /// The models that score a comparison of `sources`: `(surface, vein, fused tail)`.
    pub fn models(&self, sources: CodeSources) -> (&ModalityModel, &ModalityModel, &TailModel) {
        match (sources, &self.same_image) {
            (CodeSources::SameImage, Some(m)) => (&m.surface, &m.vein, &m.fused),
            _ => (&self.surface, &self.vein, &self.fused),
        }
    }

    /// Calibrated scores of a pair of best-shift distances.
    pub fn score(
        &self,
        sources: CodeSources,
        surface: Option<f32>,
        vein: Option<f32>,
    ) -> Comparison {
        let (sm, vm, fused_tail) = self.models(sources);
        let zs = surface.map(|d| sm.z(d));
        let zv = vein.map(|d| vm.z(d));
        let s = zs.map(|z| sm.tail.score(z));
        let v = zv.map(|z| vm.tail.score(z));
        let fused = match (zs, zv) {
            (Some(a), Some(b)) => fused_tail.score(self.combine(sources, a, b)),
            (Some(_), None) => s.unwrap_or(0.0),
            (None, Some(_)) => v.unwrap_or(0.0),
            (None, None) => 0.0,
        };
        Comparison {
            surface: s,
            vein: v,
            fused,
            surface_distance: surface,
            vein_distance: vein,
        }
    }

    /// `(w_s z_s + w_v z_v) / sqrt(w_s² + w_v² + 2 ρ w_s w_v)`: unit impostor variance for
    /// the sources' correlation `ρ`.
    fn combine(&self, sources: CodeSources, zs: f32, zv: f32) -> f32 {
        let (sm, vm, _) = self.models(sources);
        let (mut ws, mut wv) = (sm.weight.max(0.0), vm.weight.max(0.0));
        if ws + wv <= 0.0 {
            (ws, wv) = (1.0, 1.0);
        }
        let rho = self.correlation.of(sources).clamp(-0.9, 0.99);
        let var = ws * ws + wv * wv + 2.0 * rho * ws * wv;
        (ws * zs + wv * zv) / var.max(f32::MIN_POSITIVE).sqrt()
    }

    /// The raw score under which a comparison is ranked before the tails: the fused z of both
    /// distances, or the z of the one there is (`None` with neither).
    pub fn raw(
        &self,
        sources: CodeSources,
        surface: Option<f32>,
        vein: Option<f32>,
    ) -> Option<f32> {
        let (sm, vm, _) = self.models(sources);
        match (surface, vein) {
            (Some(s), Some(v)) => Some(self.fused_z(sources, s, v)),
            (Some(s), None) => Some(sm.z(s)),
            (None, Some(v)) => Some(vm.z(v)),
            (None, None) => None,
        }
    }

    /// Fused raw z of two distances (used when fitting).
    pub fn fused_z(&self, sources: CodeSources, surface: f32, vein: f32) -> f32 {
        let (sm, vm, _) = self.models(sources);
        self.combine(sources, sm.z(surface), vm.z(vein))
    }

    /// Check every number a score depends on ([`ModalityModel::validate`] for both modalities,
    /// [`TailModel::validate`] for the fused tail): a calibration read from a file is checked
    /// before any matcher uses it.
    pub fn validate(&self) -> Result<(), CalibrationError> {
        self.surface.validate("surface")?;
        self.vein.validate("vein")?;
        for (name, rho) in [
            ("same_image", self.correlation.same_image),
            ("two_bands", self.correlation.two_bands),
        ] {
            if !(rho.is_finite() && (-0.9..=0.99).contains(&rho)) {
                return Err(CalibrationError::Invalid {
                    field: format!("correlation.{name}"),
                    why: format!("{rho} is not in [-0.9, 0.99]"),
                });
            }
        }
        if let Some(m) = &self.same_image {
            m.surface.validate("same_image.surface")?;
            m.vein.validate("same_image.vein")?;
            m.fused.validate("same_image.fused")?;
        }
        self.fused.validate("fused")
    }

    /// The built-in calibration of an algorithm (see the module docs for how it was fitted).
    pub fn builtin(algorithm: Algorithm) -> &'static Calibration {
        static CELLS: [std::sync::OnceLock<Calibration>; 3] = [
            std::sync::OnceLock::new(),
            std::sync::OnceLock::new(),
            std::sync::OnceLock::new(),
        ];
        let i = Algorithm::ALL
            .iter()
            .position(|&a| a == algorithm)
            .unwrap_or(0);
        CELLS[i].get_or_init(|| {
            crate::profile::CalibrationProfile::embedded(algorithm)
                .calibration()
                .clone()
        })
    }
}

/// Fit a tail model to raw impostor scores (any order). Knots every quarter decade of survival
/// while at least `min_tail` scores remain above the knot; the extension slope is the
/// least-squares slope of the last decade of knots. `None` with fewer than 100 scores.
pub fn fit(scores: &[f32], min_tail: usize) -> Option<TailModel> {
    let mut s: Vec<f32> = scores.iter().copied().filter(|v| v.is_finite()).collect();
    if s.len() < 100 {
        return None;
    }
    s.sort_by(|a, b| b.total_cmp(a)); // descending
    let n = s.len() as f64;
    let mut knots: Vec<(f32, f32)> = Vec::new();
    let mut q = 0.0f64; // -log10 S
    loop {
        let count = (n * 10f64.powf(-q)).round() as usize;
        if count < min_tail.max(1) || count == 0 {
            break;
        }
        let z = s[count - 1];
        // Knot at the score exceeded (or equalled) by `count` impostors: S = count / n.
        let l = -(count as f64 / n).log10() as f32;
        if knots.last().is_none_or(|&(zl, ll)| z > zl && l > ll) {
            knots.push((z, l));
        }
        q += 0.25;
    }
    if knots.len() < 2 {
        return None;
    }
    let last = knots.last().map(|k| k.1).unwrap_or(0.0);
    let tail: Vec<&(f32, f32)> = knots.iter().filter(|k| k.1 >= last - 1.0).collect();
    let slope = if tail.len() >= 2 {
        let m = tail.len() as f32;
        let (mz, ml) = (
            tail.iter().map(|k| k.0).sum::<f32>() / m,
            tail.iter().map(|k| k.1).sum::<f32>() / m,
        );
        let cov: f32 = tail.iter().map(|k| (k.0 - mz) * (k.1 - ml)).sum();
        let var: f32 = tail.iter().map(|k| (k.0 - mz) * (k.0 - mz)).sum();
        if var > 0.0 {
            cov / var
        } else {
            1.0
        }
    } else {
        1.0
    };
    Some(TailModel {
        knots,
        slope: slope.max(0.1),
    })
}

/// Mean and standard deviation (population) of finite values.
pub fn mean_std(v: &[f32]) -> (f32, f32) {
    let f: Vec<f64> = v
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| x as f64)
        .collect();
    if f.is_empty() {
        return (0.5, 1.0);
    }
    let m = f.iter().sum::<f64>() / f.len() as f64;
    let var = f.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / f.len() as f64;
    (m as f32, var.sqrt().max(1e-6) as f32)
}

/// Why a threshold cannot be chosen, a calibration is unusable or cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// The target false-match rate is not in (0, 1].
    #[error("target false-match rate {0} is not in (0, 1]")]
    BadRate(f64),
    /// A number of a calibration is out of its range (see [`Calibration::validate`]).
    #[error("calibration {field}: {why}")]
    Invalid {
        /// Which number, e.g. `vein.tail.knots` or `surface.sigma`.
        field: String,
        /// What is wrong with it.
        why: String,
    },
    /// Too few impostor pairs to fit a score's model.
    #[error("{score}: {found} impostor pairs, at least {min} are needed to fit a calibration")]
    TooFewImpostors {
        /// `surface`, `vein`, `fused` or `any`.
        score: &'static str,
        /// Impostor pairs with that score.
        found: usize,
        /// [`params::FIT_MIN_IMPOSTORS`].
        min: usize,
    },
    /// A modality with impostor pairs but no genuine pair: its fusion weight (d′) needs the
    /// genuine mean.
    #[error("{modality}: no genuine pair, so no fusion weight can be fitted")]
    NoGenuine {
        /// `surface` or `vein`.
        modality: &'static str,
    },
    /// The impostor scores have no spread to fit a tail to (e.g. all distances equal).
    #[error("{score}: the impostor scores are degenerate (no spread), no tail can be fitted")]
    Degenerate {
        /// `surface`, `vein` or `fused`.
        score: &'static str,
    },
}

/// One comparison of a fitting set: the distances the matcher scores
/// ([`crate::Matcher::scored_distances`]) and whether the two captures are of the same palm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairDistances {
    /// Surface distance (`None`: a side without a surface code, or too little overlap).
    pub surface: Option<f32>,
    /// Vein distance.
    pub vein: Option<f32>,
    /// Where the two codes come from ([`CodeSources::of_surface`] of the probe).
    pub sources: CodeSources,
    /// Same palm (subject and hand).
    pub genuine: bool,
}

/// How many pairs a fit used, per score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PairCounts {
    /// Impostor pairs with a surface distance.
    pub impostor_surface: usize,
    /// Impostor pairs with a vein distance.
    pub impostor_vein: usize,
    /// Impostor pairs with both (the fused tail's data).
    pub impostor_fused: usize,
    /// Genuine pairs with a surface distance.
    pub genuine_surface: usize,
    /// Genuine pairs with a vein distance.
    pub genuine_vein: usize,
    /// Genuine pairs with both.
    pub genuine_fused: usize,
}

impl PairCounts {
    /// Both counts added.
    fn plus(self, o: PairCounts) -> PairCounts {
        PairCounts {
            impostor_surface: self.impostor_surface + o.impostor_surface,
            impostor_vein: self.impostor_vein + o.impostor_vein,
            impostor_fused: self.impostor_fused + o.impostor_fused,
            genuine_surface: self.genuine_surface + o.genuine_surface,
            genuine_vein: self.genuine_vein + o.genuine_vein,
            genuine_fused: self.genuine_fused + o.genuine_fused,
        }
    }
}

impl std::fmt::Display for PairCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "impostor pairs surface {} vein {} fused {}; genuine pairs surface {} vein {} fused {}",
            self.impostor_surface,
            self.impostor_vein,
            self.impostor_fused,
            self.genuine_surface,
            self.genuine_vein,
            self.genuine_fused
        )
    }
}

/// A fitted calibration with what it was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedCalibration {
    /// The calibration (valid: [`Calibration::validate`] passes).
    pub calibration: Calibration,
    /// Pairs used per score.
    pub counts: PairCounts,
    /// Scores without any pair, whose built-in model was kept (`surface`, `vein`, `fused`).
    pub builtin_kept: Vec<&'static str>,
}

/// Fit a whole calibration for `algorithm` from comparisons of a fitting set (see the module
/// docs): per modality `mu`, `sigma` of the impostor distances, weight = d′ of the genuine mean,
/// the tail of its impostor z; then the tail of the fused z of the impostor pairs with both
/// distances. A score without any pair keeps `algorithm`'s built-in model; one with fewer than
/// [`params::FIT_MIN_IMPOSTORS`] impostor pairs is refused, as is a set with no pair at all.
pub fn fit_calibration(
    algorithm: Algorithm,
    pairs: &[PairDistances],
) -> Result<FittedCalibration, CalibrationError> {
    let builtin = Calibration::builtin(algorithm);
    let group = |sources: CodeSources| -> Vec<PairDistances> {
        pairs
            .iter()
            .filter(|p| p.sources == sources)
            .copied()
            .collect()
    };
    let (two, one) = (group(CodeSources::TwoBands), group(CodeSources::SameImage));
    let any_impostor = pairs
        .iter()
        .any(|p| !p.genuine && (p.surface.is_some() || p.vein.is_some()));
    if !any_impostor {
        return Err(CalibrationError::TooFewImpostors {
            score: "any",
            found: 0,
            min: params::FIT_MIN_IMPOSTORS,
        });
    }
    let main_base = SourceModels {
        surface: builtin.surface.clone(),
        vein: builtin.vein.clone(),
        fused: builtin.fused.clone(),
    };
    let mut counts = PairCounts::default();
    let mut builtin_kept = Vec::new();
    let mut correlation = builtin.correlation;
    // Each kind of sensor without a pair keeps its built-in models.
    let main = if two.is_empty() {
        main_base.clone()
    } else {
        let g = fit_group(
            CodeSources::TwoBands,
            &two,
            &main_base,
            correlation.two_bands,
        )?;
        correlation.two_bands = g.rho;
        counts = counts.plus(g.counts);
        builtin_kept.extend(g.kept);
        g.models
    };
    let same_image = if one.is_empty() {
        builtin.same_image.clone()
    } else {
        let base = builtin.same_image.as_ref().unwrap_or(&main_base);
        let g = fit_group(CodeSources::SameImage, &one, base, correlation.same_image)?;
        correlation.same_image = g.rho;
        counts = counts.plus(g.counts);
        builtin_kept.extend(g.kept.iter().map(|k| match *k {
            "surface" => "same_image.surface",
            "vein" => "same_image.vein",
            _ => "same_image.fused",
        }));
        Some(g.models)
    };
    let calibration = Calibration {
        surface: main.surface,
        vein: main.vein,
        correlation,
        fused: main.fused,
        same_image,
    };
    calibration.validate()?;
    Ok(FittedCalibration {
        calibration,
        counts,
        builtin_kept,
    })
}

/// One kind of sensor's fit ([`fit_group`]).
struct GroupFit {
    models: SourceModels,
    rho: f32,
    counts: PairCounts,
    kept: Vec<&'static str>,
}

/// Fit the models of one kind of sensor from its pairs (all of one [`CodeSources`]): per
/// modality `mu`, `sigma`, weight and tail; the impostor correlation of the two z-scores (kept
/// from `rho` with too few pairs); the fused tail. A score without any pair keeps `base`'s.
fn fit_group(
    sources: CodeSources,
    pairs: &[PairDistances],
    base: &SourceModels,
    rho: f32,
) -> Result<GroupFit, CalibrationError> {
    let finite = |d: Option<f32>| d.filter(|v| v.is_finite());
    let distances = |genuine: bool, pick: fn(&PairDistances) -> Option<f32>| -> Vec<f32> {
        pairs
            .iter()
            .filter(|p| p.genuine == genuine)
            .filter_map(|p| finite(pick(p)))
            .collect()
    };
    let (imp_s, gen_s) = (
        distances(false, |p| p.surface),
        distances(true, |p| p.surface),
    );
    let (imp_v, gen_v) = (distances(false, |p| p.vein), distances(true, |p| p.vein));
    let both = |genuine: bool| {
        pairs
            .iter()
            .filter(move |p| p.genuine == genuine)
            .filter_map(|p| Some((finite(p.surface)?, finite(p.vein)?)))
    };
    let counts = PairCounts {
        impostor_surface: imp_s.len(),
        impostor_vein: imp_v.len(),
        impostor_fused: both(false).count(),
        genuine_surface: gen_s.len(),
        genuine_vein: gen_v.len(),
        genuine_fused: both(true).count(),
    };
    let mut kept = Vec::new();
    let mut modality = |name, imp: &[f32], gen: &[f32], base: &ModalityModel| {
        if imp.is_empty() && gen.is_empty() {
            kept.push(name);
            return Ok(base.clone());
        }
        fit_modality(name, imp, gen)
    };
    let surface = modality("surface", &imp_s, &gen_s, &base.surface)?;
    let vein = modality("vein", &imp_v, &gen_v, &base.vein)?;
    let z: Vec<(f32, f32)> = both(false)
        .map(|(s, v)| (surface.z(s), vein.z(v)))
        .collect();
    let rho = if z.len() >= params::FIT_MIN_IMPOSTORS {
        correlation(&z).clamp(-0.9, 0.99)
    } else {
        rho
    };
    // Score the fused z through a calibration holding just this group's models.
    let mut scratch = Calibration {
        surface,
        vein,
        correlation: FusionCorrelation {
            same_image: rho,
            two_bands: rho,
        },
        fused: base.fused.clone(),
        same_image: None,
    };
    let zf: Vec<f32> = both(false)
        .map(|(s, v)| scratch.fused_z(sources, s, v))
        .collect();
    if zf.is_empty() {
        kept.push("fused");
    } else {
        scratch.fused = fit_tail("fused", &zf)?;
    }
    Ok(GroupFit {
        models: SourceModels {
            surface: scratch.surface,
            vein: scratch.vein,
            fused: scratch.fused,
        },
        rho,
        counts,
        kept,
    })
}

/// Pearson correlation of pairs (0 when either side has no spread).
fn correlation(xy: &[(f32, f32)]) -> f32 {
    let n = xy.len() as f64;
    let (mx, my) = xy.iter().fold((0.0, 0.0), |(a, b), &(x, y)| {
        (a + x as f64 / n, b + y as f64 / n)
    });
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in xy {
        let (dx, dy) = (x as f64 - mx, y as f64 - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx > 0.0 && syy > 0.0 {
        (sxy / (sxx * syy).sqrt()) as f32
    } else {
        0.0
    }
}

/// One modality's model from its impostor and genuine distances.
fn fit_modality(
    name: &'static str,
    impostor: &[f32],
    genuine: &[f32],
) -> Result<ModalityModel, CalibrationError> {
    if impostor.len() < params::FIT_MIN_IMPOSTORS {
        return Err(CalibrationError::TooFewImpostors {
            score: name,
            found: impostor.len(),
            min: params::FIT_MIN_IMPOSTORS,
        });
    }
    if genuine.is_empty() {
        return Err(CalibrationError::NoGenuine { modality: name });
    }
    let (mu, sigma) = mean_std(impostor);
    let (genuine_mean, _) = mean_std(genuine);
    let z: Vec<f32> = impostor.iter().map(|&d| (mu - d) / sigma).collect();
    Ok(ModalityModel {
        mu,
        sigma,
        // A modality whose genuine pairs are no closer than its impostors carries no evidence.
        weight: ((mu - genuine_mean) / sigma).max(0.0),
        tail: fit_tail(name, &z)?,
    })
}

/// A tail fitted with [`params::FIT_MIN_TAIL`], after the minimum-count check.
fn fit_tail(name: &'static str, z: &[f32]) -> Result<TailModel, CalibrationError> {
    if z.len() < params::FIT_MIN_IMPOSTORS {
        return Err(CalibrationError::TooFewImpostors {
            score: name,
            found: z.len(),
            min: params::FIT_MIN_IMPOSTORS,
        });
    }
    let mut tail =
        fit(z, params::FIT_MIN_TAIL).ok_or(CalibrationError::Degenerate { score: name })?;
    for k in &mut tail.knots {
        // `-log10(1)` is `-0`: written as `0` in a profile.
        if k.1 == 0.0 {
            k.1 = 0.0;
        }
    }
    Ok(tail)
}

/// A decision threshold on the fused (or a per-modality) calibrated score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    score: f32,
}

impl Threshold {
    /// The threshold whose expected false-match rate (under the calibration) is `fmr`.
    pub fn for_fmr(fmr: f64) -> Result<Threshold, CalibrationError> {
        if !(fmr > 0.0 && fmr <= 1.0) {
            return Err(CalibrationError::BadRate(fmr));
        }
        Ok(Threshold {
            score: -(fmr.log10()) as f32,
        })
    }
    /// The score value.
    pub fn score(self) -> f32 {
        self.score
    }
    /// The false-match rate this threshold was chosen for.
    pub fn fmr(self) -> f64 {
        10f64.powf(-(self.score as f64))
    }
    /// Whether a score is accepted (score ≥ threshold).
    pub fn accepts(self, score: f32) -> bool {
        score >= self.score
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palmsig_core::Rng;

    #[test]
    fn threshold_is_minus_log10_fmr() {
        assert_eq!(Threshold::for_fmr(1e-6).unwrap().score(), 6.0);
        assert!(Threshold::for_fmr(0.0).is_err());
        assert!(Threshold::for_fmr(f64::NAN).is_err());
        assert!(Threshold::for_fmr(2.0).is_err());
        let t = Threshold::for_fmr(1e-3).unwrap();
        assert!(t.accepts(3.5) && !t.accepts(2.9));
        assert!((t.fmr() - 1e-3).abs() < 1e-9);
    }

    #[test]
    fn fit_recovers_gaussian_tail_conservatively() {
        let mut rng = Rng::new(5);
        let v: Vec<f32> = (0..200_000).map(|_| rng.normal() as f32).collect();
        let t = fit(&v, 20).unwrap();
        // Empirical region: S(2) = 0.02275 → 1.643.
        assert!((t.score(2.0) - 1.643).abs() < 0.05, "{}", t.score(2.0));
        // Extrapolated region: true -log10 S(5.5) = 7.72; the straight extension must not claim
        // more (conservative) but must stay in the right range.
        let e = t.score(5.5);
        assert!(e <= 7.72 && e > 5.0, "{e}");
        // Monotone.
        let mut prev = -1.0;
        for i in -40..80 {
            let s = t.score(i as f32 * 0.1);
            assert!(s >= prev);
            prev = s;
        }
        assert!(fit(&v[..50], 20).is_none());
    }

    #[test]
    fn builtin_tables_validate() {
        for a in Algorithm::ALL {
            Calibration::builtin(a).validate().unwrap();
        }
    }

    #[test]
    fn raw_for_inverts_score() {
        let t = &Calibration::builtin(Algorithm::CompCode).fused;
        for s in [0.0f32, 0.1, 1.0, 2.5, 4.0, 4.2466, 6.0, 9.0] {
            let z = t.raw_for(s).unwrap();
            assert!(
                (t.score(z) - s).abs() < 1e-3,
                "{s}: z {z} gives {}",
                t.score(z)
            );
        }
        assert!(t.raw_for(6.0).unwrap() > t.raw_for(4.0).unwrap());
        assert_eq!(t.raw_for(f32::NAN), None);
        assert_eq!(t.raw_for(-1.0), None);
    }

    /// Distances like the coders': impostors N(mu, sigma), genuine N(g, sigma).
    fn pairs(rng: &mut Rng, n_imp: usize, n_gen: usize, vein: bool) -> Vec<PairDistances> {
        let mut out = Vec::new();
        for i in 0..n_imp + n_gen {
            let genuine = i >= n_imp;
            let (ms, mv) = if genuine { (0.20, 0.22) } else { (0.40, 0.45) };
            out.push(PairDistances {
                surface: Some(ms + 0.02 * rng.normal() as f32),
                vein: vein.then(|| mv + 0.04 * rng.normal() as f32),
                sources: CodeSources::TwoBands,
                genuine,
            });
        }
        out
    }

    #[test]
    fn fit_calibration_recovers_the_model() {
        let mut rng = Rng::new(3);
        let p = pairs(&mut rng, 20_000, 300, true);
        let f = fit_calibration(Algorithm::CompCode, &p).unwrap();
        let c = &f.calibration;
        assert!((c.surface.mu - 0.40).abs() < 0.002 && (c.surface.sigma - 0.02).abs() < 0.001);
        assert!((c.vein.mu - 0.45).abs() < 0.002 && (c.vein.sigma - 0.04).abs() < 0.002);
        // d' = (mu - genuine mean) / sigma: 10 and 5.75.
        assert!(
            (c.surface.weight - 10.0).abs() < 0.5,
            "{}",
            c.surface.weight
        );
        assert!((c.vein.weight - 5.75).abs() < 0.4, "{}", c.vein.weight);
        assert!(f.builtin_kept.is_empty());
        assert!(
            c.fused.knots[0].1.is_sign_positive(),
            "{:?}",
            c.fused.knots[0]
        );
        assert_eq!(f.counts.impostor_fused, 20_000);
        assert_eq!(f.counts.genuine_vein, 300);
        // Knots stop where fewer than FIT_MIN_TAIL impostors remain: S >= 20 / 20000.
        for t in [&c.surface.tail, &c.vein.tail, &c.fused] {
            let last = t.knots.last().unwrap().1;
            assert!(last <= 3.0 + 1e-3 && last > 2.5, "{last}");
        }
        // Gaussian fused z: S(2) = 0.02275 → 1.643.
        assert!(
            (c.fused.score(2.0) - 1.643).abs() < 0.1,
            "{}",
            c.fused.score(2.0)
        );
        c.validate().unwrap();
    }

    /// Half the impostor pairs from one image (z-scores correlated at 0.6), half from two bands
    /// (independent): the fit finds both correlations, and the fused z it scores has unit
    /// variance in each group, so the pooled tail is Gaussian and holds for either sensor.
    #[test]
    fn fusion_is_normalised_by_the_sources_correlation() {
        let mut rng = Rng::new(9);
        let mut p = Vec::new();
        for i in 0..40_000 {
            let same = i % 2 == 0;
            let genuine = i % 100 < 2;
            let (a, b) = (rng.normal() as f32, rng.normal() as f32);
            let rho: f32 = if same { 0.6 } else { 0.0 };
            let zv = rho * a + (1.0 - rho * rho).sqrt() * b;
            let shift = if genuine { -0.15 } else { 0.0 };
            p.push(PairDistances {
                surface: Some(0.40 + shift + 0.02 * a),
                vein: Some(0.45 + shift + 0.02 * zv),
                sources: if same {
                    CodeSources::SameImage
                } else {
                    CodeSources::TwoBands
                },
                genuine,
            });
        }
        let c = fit_calibration(Algorithm::Bocv, &p).unwrap().calibration;
        assert!(
            (c.correlation.same_image - 0.6).abs() < 0.03,
            "{:?}",
            c.correlation
        );
        assert!(c.correlation.two_bands.abs() < 0.03, "{:?}", c.correlation);
        for sources in [CodeSources::SameImage, CodeSources::TwoBands] {
            let z: Vec<f32> = p
                .iter()
                .filter(|q| !q.genuine && q.sources == sources)
                .map(|q| c.fused_z(sources, q.surface.unwrap(), q.vein.unwrap()))
                .collect();
            let (_, sd) = mean_std(&z);
            assert!((sd - 1.0).abs() < 0.04, "{sources:?}: fused sd {sd}");
        }
        // Unnormalised, the one-image group would spread sqrt(1.6) = 1.26 times wider.
        let mut flat = c.clone();
        flat.correlation = FusionCorrelation::default();
        let z: Vec<f32> = p
            .iter()
            .filter(|q| !q.genuine && q.sources == CodeSources::SameImage)
            .map(|q| flat.fused_z(CodeSources::SameImage, q.surface.unwrap(), q.vein.unwrap()))
            .collect();
        assert!(mean_std(&z).1 > 1.2);
        assert!(
            (c.fused.score(2.0) - 1.643).abs() < 0.1,
            "{}",
            c.fused.score(2.0)
        );
        let mut bad = c.clone();
        bad.correlation.same_image = 1.5;
        assert!(matches!(
            bad.validate(),
            Err(CalibrationError::Invalid { field, .. }) if field == "correlation.same_image"
        ));
    }

    /// Impostors of a one-image sensor sit closer than a two-band sensor's: each kind gets its
    /// own models, and a comparison is scored by its kind's; a kind without pairs keeps the
    /// built-in models.
    #[test]
    fn each_kind_of_sensor_gets_its_own_models() {
        let mut rng = Rng::new(12);
        let mut p = Vec::new();
        for i in 0..8_000 {
            let same = i % 2 == 0;
            let genuine = i % 50 < 2;
            let mu = if same { 0.38 } else { 0.395 };
            let d = |rng: &mut Rng| {
                Some(mu - if genuine { 0.12 } else { 0.0 } + 0.01 * rng.normal() as f32)
            };
            p.push(PairDistances {
                surface: d(&mut rng),
                vein: d(&mut rng),
                sources: if same {
                    CodeSources::SameImage
                } else {
                    CodeSources::TwoBands
                },
                genuine,
            });
        }
        let c = fit_calibration(Algorithm::Bocv, &p).unwrap().calibration;
        let one = c.same_image.as_ref().unwrap();
        assert!((c.surface.mu - 0.395).abs() < 0.001, "{}", c.surface.mu);
        assert!((one.surface.mu - 0.38).abs() < 0.001, "{}", one.surface.mu);
        // The same distance is 1.5 sigma more surprising from a two-band sensor.
        let (a, b) = (
            c.score(CodeSources::TwoBands, Some(0.37), None).fused,
            c.score(CodeSources::SameImage, Some(0.37), None).fused,
        );
        assert!(a > b + 0.5, "{a} vs {b}");
        // Only two-band pairs: the one-image models stay the built-in ones.
        let two: Vec<PairDistances> = p
            .iter()
            .filter(|q| q.sources == CodeSources::TwoBands)
            .copied()
            .collect();
        let c2 = fit_calibration(Algorithm::Bocv, &two).unwrap().calibration;
        assert_eq!(
            c2.same_image,
            Calibration::builtin(Algorithm::Bocv).same_image
        );
    }

    #[test]
    fn fit_calibration_refuses_small_or_one_sided_sets() {
        let mut rng = Rng::new(4);
        let few = pairs(&mut rng, 999, 50, true);
        assert!(matches!(
            fit_calibration(Algorithm::CompCode, &few),
            Err(CalibrationError::TooFewImpostors { found: 999, .. })
        ));
        let no_gen = pairs(&mut rng, 2000, 0, true);
        assert!(matches!(
            fit_calibration(Algorithm::CompCode, &no_gen),
            Err(CalibrationError::NoGenuine { .. })
        ));
        assert!(matches!(
            fit_calibration(Algorithm::CompCode, &[]),
            Err(CalibrationError::TooFewImpostors { score: "any", .. })
        ));
        let flat: Vec<PairDistances> = (0..2000)
            .map(|i| PairDistances {
                surface: Some(0.4),
                vein: None,
                sources: CodeSources::TwoBands,
                genuine: i % 100 == 0,
            })
            .collect();
        assert!(matches!(
            fit_calibration(Algorithm::CompCode, &flat),
            Err(CalibrationError::Degenerate { score: "surface" })
        ));
    }

    #[test]
    fn a_modality_without_pairs_keeps_the_builtin_model() {
        let mut rng = Rng::new(6);
        let p = pairs(&mut rng, 3000, 100, false);
        let f = fit_calibration(Algorithm::Bocv, &p).unwrap();
        let b = Calibration::builtin(Algorithm::Bocv);
        assert_eq!(f.builtin_kept, vec!["vein", "fused"]);
        assert_eq!(&f.calibration.vein, &b.vein);
        assert_eq!(&f.calibration.fused, &b.fused);
        assert_ne!(&f.calibration.surface, &b.surface);
        // With 3000 impostors the knots reach S = 20/3000 at most.
        let last = f.calibration.surface.tail.knots.last().unwrap().1;
        assert!(last <= (3000.0f32 / 20.0).log10() + 1e-3, "{last}");
    }
}
