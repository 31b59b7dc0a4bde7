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
//! pairs of synthetic palms: `palmsig_synth` ROI crops, realistic difficulty, 10 subjects x 2
//! hands x 6 captures (2 sessions), seed 5 — never the must-show seed 11: 6,840 impostor and 300
//! genuine pairs. The example `eval_codes` regenerates them (`--fit`, see its header). Limits: the tables describe
//! the synthetic population; a real sensor's impostor distribution differs, so deployments
//! should refit on their own impostor pairs (`Matcher::with_calibration`). Below `S ≈ 5e-3`
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
    //! eval_codes -- --identities 10 --captures 6 --seed 5 --difficulty realistic --kind roi --fit` (synthetic palms, not the must-show seed 11).
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
                    mu: 0.31582,
                    sigma: 0.02987,
                    weight: 3.8432,
                    tail: tail(
                        &[
                            (-3.8068, 0.0),
                            (-0.0176, 0.2500),
                            (0.4971, 0.5000),
                            (0.8608, 0.7501),
                            (1.1485, 1.0000),
                            (1.3952, 1.2496),
                            (1.6259, 1.5006),
                            (1.8409, 1.7487),
                            (2.0026, 2.0025),
                            (2.2066, 2.2553),
                        ],
                        1.3186,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.36796,
                    sigma: 0.05269,
                    weight: 4.0795,
                    tail: tail(
                        &[
                            (-3.2862, 0.0),
                            (-0.1973, 0.2500),
                            (0.5036, 0.5000),
                            (0.9870, 0.7501),
                            (1.3625, 1.0000),
                            (1.6538, 1.2496),
                            (1.8383, 1.5006),
                            (2.0015, 1.7487),
                            (2.1373, 2.0025),
                            (2.2331, 2.2553),
                        ],
                        1.8814,
                    ),
                },
                fused: tail(
                    &[
                        (-3.6652, 0.0),
                        (-0.1130, 0.2500),
                        (0.5313, 0.5000),
                        (0.9834, 0.7501),
                        (1.3337, 1.0000),
                        (1.6357, 1.2496),
                        (1.9005, 1.5006),
                        (2.1525, 1.7487),
                        (2.3987, 2.0025),
                        (2.5876, 2.2553),
                    ],
                    1.0865,
                ),
            },
            Algorithm::Bocv => Calibration {
                surface: ModalityModel {
                    mu: 0.35835,
                    sigma: 0.02420,
                    weight: 4.8500,
                    tail: tail(
                        &[
                            (-3.2023, 0.0),
                            (-0.1516, 0.2500),
                            (0.4987, 0.5000),
                            (0.9297, 0.7501),
                            (1.3149, 1.0000),
                            (1.6014, 1.2496),
                            (1.8636, 1.5006),
                            (2.0825, 1.7487),
                            (2.2932, 2.0025),
                            (2.4591, 2.2553),
                        ],
                        1.2557,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.37017,
                    sigma: 0.01744,
                    weight: 8.5903,
                    tail: tail(
                        &[
                            (-3.1896, 0.0),
                            (-0.2053, 0.2500),
                            (0.4266, 0.5000),
                            (0.8803, 0.7501),
                            (1.2827, 1.0000),
                            (1.6490, 1.2496),
                            (1.9864, 1.5006),
                            (2.3175, 1.7487),
                            (2.6499, 2.0025),
                            (3.0539, 2.2553),
                        ],
                        0.7106,
                    ),
                },
                fused: tail(
                    &[
                        (-3.4706, 0.0),
                        (-0.2261, 0.2500),
                        (0.4664, 0.5000),
                        (0.9877, 0.7501),
                        (1.4238, 1.0000),
                        (1.8117, 1.2496),
                        (2.1634, 1.5006),
                        (2.4662, 1.7487),
                        (2.8650, 2.0025),
                        (3.2608, 2.2553),
                    ],
                    0.6797,
                ),
            },
            Algorithm::Ordinal => Calibration {
                surface: ModalityModel {
                    mu: 0.36331,
                    sigma: 0.02580,
                    weight: 4.0486,
                    tail: tail(
                        &[
                            (-2.9015, 0.0),
                            (-0.1730, 0.2500),
                            (0.4938, 0.5000),
                            (0.9187, 0.7501),
                            (1.2786, 1.0000),
                            (1.6011, 1.2496),
                            (1.9017, 1.5006),
                            (2.1582, 1.7487),
                            (2.3759, 2.0025),
                            (2.6647, 2.2553),
                        ],
                        1.0017,
                    ),
                },
                vein: ModalityModel {
                    mu: 0.37485,
                    sigma: 0.02044,
                    weight: 7.4750,
                    tail: tail(
                        &[
                            (-3.1654, 0.0),
                            (-0.2136, 0.2500),
                            (0.4005, 0.5000),
                            (0.8996, 0.7501),
                            (1.3172, 1.0000),
                            (1.7041, 1.2496),
                            (2.0672, 1.5006),
                            (2.3942, 1.7487),
                            (2.6931, 2.0025),
                            (3.0089, 2.2553),
                        ],
                        0.8057,
                    ),
                },
                fused: tail(
                    &[
                        (-3.0065, 0.0),
                        (-0.2443, 0.2500),
                        (0.4335, 0.5000),
                        (0.9546, 0.7501),
                        (1.4151, 1.0000),
                        (1.8541, 1.2496),
                        (2.2837, 1.5006),
                        (2.6909, 1.7487),
                        (2.9481, 2.0025),
                        (3.3071, 2.2553),
                    ],
                    0.7514,
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
