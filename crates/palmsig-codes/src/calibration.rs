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
                    mu: 0.31706,
                    sigma: 0.02710,
                    weight: 4.9580,
                    tail: tail(
                        &[
                            (-4.6301, 0.0),
                            (-0.0550, 0.2500),
                            (0.5303, 0.5000),
                            (0.9060, 0.7500),
                            (1.1919, 1.0000),
                            (1.4279, 1.2500),
                            (1.6322, 1.4999),
                            (1.8015, 1.7501),
                            (1.9563, 2.0000),
                            (2.1003, 2.2500),
                            (2.2382, 2.5014),
                            (2.3677, 2.7523),
                            (2.4784, 3.0010),
                        ],
                        1.9771,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.35673,
                    sigma: 0.04934,
                    weight: 4.5272,
                    tail: tail(
                        &[
                            (-3.7171, 0.0),
                            (-0.1396, 0.2500),
                            (0.4962, 0.5000),
                            (0.9241, 0.7500),
                            (1.2667, 1.0000),
                            (1.5592, 1.2500),
                            (1.8173, 1.4999),
                            (2.0626, 1.7501),
                            (2.2839, 2.0000),
                            (2.4926, 2.2500),
                            (2.6959, 2.5014),
                            (2.8374, 2.7523),
                            (2.9344, 3.0010),
                        ],
                        1.6638,
                    ),
                },
                fused: tail(
                    &[
                        (-4.7587, 0.0),
                        (-0.1191, 0.2500),
                        (0.5609, 0.5000),
                        (1.0192, 0.7500),
                        (1.3828, 1.0000),
                        (1.6729, 1.2500),
                        (1.9360, 1.4999),
                        (2.1659, 1.7501),
                        (2.4008, 2.0000),
                        (2.5769, 2.2500),
                        (2.7924, 2.5014),
                        (2.9740, 2.7523),
                        (3.1287, 3.0010),
                    ],
                    1.3558,
                ),
            },
            Algorithm::Bocv => Calibration {
                surface: ModalityModel {
                    mu: 0.35984,
                    sigma: 0.02415,
                    weight: 5.0978,
                    tail: tail(
                        &[
                            (-3.3548, 0.0),
                            (-0.1886, 0.2500),
                            (0.4953, 0.5000),
                            (0.9629, 0.7500),
                            (1.3331, 1.0000),
                            (1.6206, 1.2500),
                            (1.8782, 1.4999),
                            (2.0853, 1.7501),
                            (2.2862, 2.0000),
                            (2.4445, 2.2500),
                            (2.5991, 2.5014),
                            (2.7467, 2.7523),
                            (2.8670, 3.0010),
                        ],
                        1.7642,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.36684,
                    sigma: 0.01769,
                    weight: 9.3646,
                    tail: tail(
                        &[
                            (-3.4766, 0.0),
                            (-0.1839, 0.2500),
                            (0.4498, 0.5000),
                            (0.9203, 0.7500),
                            (1.2996, 1.0000),
                            (1.6372, 1.2500),
                            (1.9277, 1.4999),
                            (2.2050, 1.7501),
                            (2.4739, 2.0000),
                            (2.7325, 2.2500),
                            (2.9692, 2.5014),
                            (3.1760, 2.7523),
                            (3.3428, 3.0010),
                        ],
                        1.2220,
                    ),
                },
                fused: tail(
                    &[
                        (-4.0462, 0.0),
                        (-0.2095, 0.2500),
                        (0.5161, 0.5000),
                        (1.0451, 0.7500),
                        (1.4701, 1.0000),
                        (1.8202, 1.2500),
                        (2.1428, 1.4999),
                        (2.4491, 1.7501),
                        (2.6794, 2.0000),
                        (2.9138, 2.2500),
                        (3.1302, 2.5014),
                        (3.3435, 2.7523),
                        (3.5948, 3.0010),
                    ],
                    1.1080,
                ),
            },
            Algorithm::Ordinal => Calibration {
                surface: ModalityModel {
                    mu: 0.36437,
                    sigma: 0.02595,
                    weight: 4.2868,
                    tail: tail(
                        &[
                            (-3.0276, 0.0),
                            (-0.1966, 0.2500),
                            (0.4846, 0.5000),
                            (0.9675, 0.7500),
                            (1.3368, 1.0000),
                            (1.6420, 1.2500),
                            (1.8814, 1.4999),
                            (2.1143, 1.7501),
                            (2.3134, 2.0000),
                            (2.5153, 2.2500),
                            (2.6861, 2.5014),
                            (2.8368, 2.7523),
                            (2.9644, 3.0010),
                        ],
                        1.6647,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.37041,
                    sigma: 0.02039,
                    weight: 8.1105,
                    tail: tail(
                        &[
                            (-3.2811, 0.0),
                            (-0.2103, 0.2500),
                            (0.4361, 0.5000),
                            (0.9084, 0.7500),
                            (1.3134, 1.0000),
                            (1.6607, 1.2500),
                            (1.9930, 1.4999),
                            (2.2701, 1.7501),
                            (2.5689, 2.0000),
                            (2.8147, 2.2500),
                            (3.0723, 2.5014),
                            (3.2730, 2.7523),
                            (3.5653, 3.0010),
                        ],
                        1.0160,
                    ),
                },
                fused: tail(
                    &[
                        (-3.6894, 0.0),
                        (-0.2268, 0.2500),
                        (0.4876, 0.5000),
                        (1.0204, 0.7500),
                        (1.4580, 1.0000),
                        (1.8438, 1.2500),
                        (2.1763, 1.4999),
                        (2.4883, 1.7501),
                        (2.7841, 2.0000),
                        (3.0432, 2.2500),
                        (3.2767, 2.5014),
                        (3.5184, 2.7523),
                        (3.7215, 3.0010),
                    ],
                    1.0984,
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
