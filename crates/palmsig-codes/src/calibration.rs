//! Score calibration: distances → `-log10(estimated false-match rate)`.
//!
//! # Model
//! 1. Each modality's best-shift normalised Hamming distance `d` becomes an impostor z-score
//!    `z = (mu - d) / sigma`, with `mu`, `sigma` the mean and standard deviation of that
//!    modality's impostor distances.
//! 2. Fusion is score-level, a weighted sum of z-scores:
//!    `z_fused = (w_s z_s + w_v z_v) / sqrt(w_s² + w_v²)`, with each weight the modality's
//!    separation `d' = (mu - mean genuine distance) / sigma` (the LDA weight for independent
//!    unit-variance scores; the two codes of an impostor pair are nearly independent, so the
//!    normalised sum keeps unit impostor variance). With one modality, its own z.
//! 3. Each of the three raw scores (surface, vein, fused) has its own [`TailModel`]: the
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
//! With [`fit`] (and [`mean_std`] for `mu`, `sigma`; the weight from the genuine mean) on all
//! pairs of synthetic palms: `palmsig_synth` ROI crops, realistic difficulty, 25 subjects x 2
//! hands x 6 captures (2 sessions), seed 7 — never the must-show seed 11: 44,100 impostor and
//! 750 genuine pairs. The example `eval_codes` regenerates them (`--fit`, see its header). Limits: the tables describe
//! the synthetic population; a real sensor's impostor distribution differs, so deployments
//! should refit on their own impostor pairs (`Matcher::with_calibration`). Below `S ≈ 1e-3`
//! the scores are extrapolated.

use crate::matcher::Comparison;
use crate::Algorithm;

/// Empirical impostor tail of one raw score.
#[derive(Debug, Clone, PartialEq)]
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
}

/// Per-modality impostor model.
#[derive(Debug, Clone, PartialEq)]
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
}

/// A full calibration: both modalities and their fusion.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    /// Surface model.
    pub surface: ModalityModel,
    /// Vein model.
    pub vein: ModalityModel,
    /// Tail of the fused z-score.
    pub fused: TailModel,
}

impl Calibration {
    /// Calibrated scores of a pair of best-shift distances.
    pub fn score(&self, surface: Option<f32>, vein: Option<f32>) -> Comparison {
        let zs = surface.map(|d| self.surface.z(d));
        let zv = vein.map(|d| self.vein.z(d));
        let s = zs.map(|z| self.surface.tail.score(z));
        let v = zv.map(|z| self.vein.tail.score(z));
        let fused = match (zs, zv) {
            (Some(a), Some(b)) => self.fused.score(self.combine(a, b)),
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

    fn combine(&self, zs: f32, zv: f32) -> f32 {
        let (ws, wv) = (self.surface.weight.max(0.0), self.vein.weight.max(0.0));
        let norm = (ws * ws + wv * wv).sqrt();
        if norm > 0.0 {
            (ws * zs + wv * zv) / norm
        } else {
            (zs + zv) / std::f32::consts::SQRT_2
        }
    }

    /// Fused raw z of two distances (used when fitting).
    pub fn fused_z(&self, surface: f32, vein: f32) -> f32 {
        self.combine(self.surface.z(surface), self.vein.z(vein))
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
        CELLS[i].get_or_init(|| fitted::table(algorithm))
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

/// Why a threshold cannot be chosen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    /// The target false-match rate is not in (0, 1].
    #[error("target false-match rate {0} is not in (0, 1]")]
    BadRate(f64),
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

mod fitted {
    //! Tables produced by `cargo run --release -p palmsig-codes --features tuning --example
    //! eval_codes -- --identities 25 --captures 6 --seed 7 --difficulty realistic --kind roi --fit` (synthetic palms, not the must-show seed 11).
    use super::{Calibration, ModalityModel, TailModel};
    use crate::Algorithm;

    fn tail(knots: &[(f32, f32)], slope: f32) -> TailModel {
        TailModel {
            knots: knots.to_vec(),
            slope,
        }
    }

    pub(super) fn table(algorithm: Algorithm) -> Calibration {
        match algorithm {
            Algorithm::CompCode => Calibration {
                surface: ModalityModel {
                    mu: 0.31621,
                    sigma: 0.02636,
                    weight: 5.0794,
                    tail: tail(
                        &[
                            (-5.0989, 0.0),
                            (-0.0560, 0.2500),
                            (0.5286, 0.5000),
                            (0.9050, 0.7500),
                            (1.1985, 1.0000),
                            (1.4394, 1.2500),
                            (1.6482, 1.4999),
                            (1.8168, 1.7501),
                            (1.9822, 2.0000),
                            (2.1379, 2.2500),
                            (2.2831, 2.5014),
                            (2.4068, 2.7523),
                            (2.5296, 3.0010),
                        ],
                        1.9244,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.35039,
                    sigma: 0.04657,
                    weight: 4.6715,
                    tail: tail(
                        &[
                            (-3.6018, 0.0),
                            (-0.1487, 0.2500),
                            (0.4892, 0.5000),
                            (0.9177, 0.7500),
                            (1.2704, 1.0000),
                            (1.5819, 1.2500),
                            (1.8572, 1.4999),
                            (2.0998, 1.7501),
                            (2.3298, 2.0000),
                            (2.5225, 2.2500),
                            (2.7268, 2.5014),
                            (2.8733, 2.7523),
                            (2.9708, 3.0010),
                        ],
                        1.6373,
                    ),
                },
                fused: tail(
                    &[
                        (-4.6537, 0.0),
                        (-0.1333, 0.2500),
                        (0.5437, 0.5000),
                        (1.0058, 0.7500),
                        (1.3794, 1.0000),
                        (1.6831, 1.2500),
                        (1.9432, 1.4999),
                        (2.1790, 1.7501),
                        (2.3966, 2.0000),
                        (2.6037, 2.2500),
                        (2.8018, 2.5014),
                        (2.9856, 2.7523),
                        (3.1220, 3.0010),
                    ],
                    1.4310,
                ),
            },
            Algorithm::Bocv => Calibration {
                surface: ModalityModel {
                    mu: 0.36090,
                    sigma: 0.02520,
                    weight: 4.8355,
                    tail: tail(
                        &[
                            (-3.3556, 0.0),
                            (-0.1700, 0.2500),
                            (0.5039, 0.5000),
                            (0.9644, 0.7500),
                            (1.3201, 1.0000),
                            (1.6007, 1.2500),
                            (1.8486, 1.4999),
                            (2.0429, 1.7501),
                            (2.2373, 2.0000),
                            (2.3906, 2.2500),
                            (2.5394, 2.5014),
                            (2.6744, 2.7523),
                            (2.7903, 3.0010),
                        ],
                        1.8712,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.36695,
                    sigma: 0.01810,
                    weight: 9.1224,
                    tail: tail(
                        &[
                            (-3.4864, 0.0),
                            (-0.1807, 0.2500),
                            (0.4561, 0.5000),
                            (0.9170, 0.7500),
                            (1.2995, 1.0000),
                            (1.6364, 1.2500),
                            (1.9294, 1.4999),
                            (2.2140, 1.7501),
                            (2.4670, 2.0000),
                            (2.7208, 2.2500),
                            (2.9810, 2.5014),
                            (3.1951, 2.7523),
                            (3.3459, 3.0010),
                        ],
                        1.1825,
                    ),
                },
                fused: tail(
                    &[
                        (-3.8474, 0.0),
                        (-0.2141, 0.2500),
                        (0.5022, 0.5000),
                        (1.0222, 0.7500),
                        (1.4337, 1.0000),
                        (1.7966, 1.2500),
                        (2.1142, 1.4999),
                        (2.4100, 1.7501),
                        (2.6499, 2.0000),
                        (2.8783, 2.2500),
                        (3.1002, 2.5014),
                        (3.2901, 2.7523),
                        (3.5268, 3.0010),
                    ],
                    1.1705,
                ),
            },
            Algorithm::Ordinal => Calibration {
                surface: ModalityModel {
                    mu: 0.36517,
                    sigma: 0.02667,
                    weight: 4.1177,
                    tail: tail(
                        &[
                            (-3.5465, 0.0),
                            (-0.1828, 0.2500),
                            (0.4871, 0.5000),
                            (0.9639, 0.7500),
                            (1.3271, 1.0000),
                            (1.6263, 1.2500),
                            (1.8706, 1.4999),
                            (2.0964, 1.7501),
                            (2.2923, 2.0000),
                            (2.4750, 2.2500),
                            (2.6441, 2.5014),
                            (2.7601, 2.7523),
                            (2.8920, 3.0010),
                        ],
                        1.8205,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.37049,
                    sigma: 0.02074,
                    weight: 7.9608,
                    tail: tail(
                        &[
                            (-3.6147, 0.0),
                            (-0.2046, 0.2500),
                            (0.4392, 0.5000),
                            (0.9139, 0.7500),
                            (1.3071, 1.0000),
                            (1.6540, 1.2500),
                            (1.9836, 1.4999),
                            (2.2625, 1.7501),
                            (2.5495, 2.0000),
                            (2.7759, 2.2500),
                            (3.0308, 2.5014),
                            (3.2373, 2.7523),
                            (3.5202, 3.0010),
                        ],
                        1.0231,
                    ),
                },
                fused: tail(
                    &[
                        (-3.8581, 0.0),
                        (-0.2196, 0.2500),
                        (0.4775, 0.5000),
                        (0.9910, 0.7500),
                        (1.4282, 1.0000),
                        (1.8242, 1.2500),
                        (2.1533, 1.4999),
                        (2.4688, 1.7501),
                        (2.7373, 2.0000),
                        (2.9923, 2.2500),
                        (3.2331, 2.5014),
                        (3.4317, 2.7523),
                        (3.6914, 3.0010),
                    ],
                    1.0878,
                ),
            },
        }
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
}
