//! ISO/IEC 19795-1 verification metrics and NIST-style identification metrics.
//!
//! # Decision rule and operating points
//! A comparison is accepted ("match") when its score is `≥ t` (higher = more similar). With
//! `G` genuine and `I` impostor scores:
//!
//! * `FMR(t)  = #{impostor ≥ t} / I`, `FNMR(t) = #{genuine < t} / G`.
//! * The operating points are the thresholds just above each distinct observed score `s`
//!   (`t = next_up(s)`: accept iff score `> s`), plus `t = −∞` (FMR 1, FNMR 0). **Ties**: equal
//!   scores are never split by a threshold, so a genuine and an impostor score that tie move
//!   together and the DET curve takes one diagonal step across them.
//!
//! # EER
//! The DET curve is taken as the polyline through the operating points in threshold order;
//! `d(t) = FNMR − FMR` rises from −1 to +1 along it. The EER is the value where the polyline
//! crosses `FNMR = FMR`: at an operating point where `d = 0` exactly it is that point's rate;
//! otherwise, between the last point with `d < 0` and the first with `d > 0`, it is the linear
//! interpolation `FMR_a + λ (FMR_b − FMR_a)` with `λ = −d_a / (d_b − d_a)` (which equals the
//! interpolated FNMR there). A tie between a genuine and an impostor score straddling the
//! crossing thus gives the midpoint of the step, not either end.
//!
//! # FNMR at FMR = α (α = 10⁻ᵏ)
//! No interpolation, never optimistic: the threshold is the lowest operating point whose FMR is
//! `≤ α` — `t = next_up(s)` where `s` is the `(⌊α I⌋ + 1)`-th highest impostor score — and the
//! value is `FNMR(t)`. The FMR achieved (`≤ α`, lower when impostor scores tie at `s`) and `t` are
//! reported with it. The value is `null` when `I < 3/α` (rule of 3, [`crate::params::RULE_OF_N`]).
//!
//! # Calibration check
//! For an engine whose scores are `-log10` of its estimated FMR, the decision for FMR
//! `α = 10⁻ᵏ` is the threshold `t = k`; [`calibration_points`] states at each such `t` the
//! measured `FMR(t)` (`null` when `I < 3/α`, the rule of 3) and `FNMR(t)`. A measured FMR far
//! below `α` means the calibration is pessimistic for these data (refit it: `palmsig
//! calibrate`); above `α`, optimistic.
//!
//! # Identification (closed-set rank-1, open-set FNIR at FPIR)
//! A search compares one probe with every enrolled class (one score per class). A **mated**
//! search's mate is at rank 1 when its score is strictly above every non-mate score (a tie counts
//! as a miss). For threshold `t`:
//! `FPIR(t)` = fraction of non-mated searches whose top score is `≥ t`;
//! `FNIR(t)` = fraction of mated searches whose mate is not at rank 1 or scores `< t`.
//! FNIR at FPIR = α uses the same rule as FNMR at FMR: `t = next_up(s)` with `s` the
//! `(⌊α N⌋ + 1)`-th highest non-mated top score, `null` when the non-mated searches `N < 3/α`.
//!
//! # Failures to acquire
//! A capture that fails to acquire has no template: it takes part in no comparison and is
//! counted in `failures_to_acquire` (count, rate = count / captures, reasons by code). The
//! FMR/FNMR/EER above are therefore *comparison* rates over acquired captures. The report also
//! states ISO/IEC 19795-1's *generalized* rates for one attempt per transaction:
//! `GFMR = FMR (1 − FTA)` and `GFNMR = FTA + FNMR (1 − FTA)`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::params;

/// The next `f32` above `x` (for finite `x`; `+∞` stays `+∞`, NaN stays NaN).
pub fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        return x;
    }
    if x == 0.0 {
        return f32::from_bits(1);
    }
    let b = x.to_bits();
    f32::from_bits(if x > 0.0 { b + 1 } else { b - 1 })
}

/// Report key of `10^-k`: `"1e-k"`.
pub fn rate_key(k: u32) -> String {
    format!("1e-{k}")
}

/// Whether `n` trials are enough to state a rate of `10^-k` (rule of 3).
pub fn enough_trials(n: u64, k: u32) -> bool {
    match 10u64.checked_pow(k) {
        Some(p) => n >= params::RULE_OF_N * p,
        None => false,
    }
}

/// One operating point at a fixed false-match (or false-positive identification) rate target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OperatingPoint {
    /// Decision threshold: accept iff score `≥ threshold`.
    pub threshold: f32,
    /// False-match (or false-positive identification) rate achieved at that threshold.
    pub fmr: f64,
    /// False non-match (or false-negative identification) rate at that threshold.
    pub fnmr: f64,
}

/// One point of a DET curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DetPoint {
    /// False-match rate.
    pub fmr: f64,
    /// False non-match rate.
    pub fnmr: f64,
}

/// The decision at a nominal false-match rate checked against the rates measured, for an
/// engine whose scores are calibrated as `-log10` of the estimated FMR (palmsig's): the
/// threshold for FMR `10^-k` is the score `k`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CalibrationPoint {
    /// `-log10` of the nominal FMR (the `scores.txt` scale): accept iff score `≥ threshold`.
    pub threshold: f32,
    /// Measured fraction of impostor scores `≥ threshold` (`null` where fewer than `3/FMR`
    /// impostor pairs, as for `fnmr_at_fmr`).
    pub fmr: Option<f64>,
    /// Measured fraction of genuine scores `< threshold` (`null` without genuine pairs).
    pub fnmr: Option<f64>,
}

impl CalibrationPoint {
    /// Measured FMR over nominal FMR (`10^-threshold`): above 1 the calibration promised too
    /// little, far below 1 it is pessimistic. `None` where the FMR is not stated.
    pub fn ratio(&self) -> Option<f64> {
        self.fmr.map(|f| f * 10f64.powf(f64::from(self.threshold)))
    }
}

/// [`CalibrationPoint`]s at FMR `1e-2` … `1e-6` of score slices sorted ascending.
pub fn calibration_points(genuine: &[f32], impostor: &[f32]) -> BTreeMap<String, CalibrationPoint> {
    let below = |v: &[f32], t: f32| v.partition_point(|&x| x < t);
    params::FMR_EXPONENTS
        .iter()
        .map(|&k| {
            let threshold = k as f32;
            let (ni, ng) = (impostor.len(), genuine.len());
            let point = CalibrationPoint {
                threshold,
                fmr: enough_trials(ni as u64, k)
                    .then(|| (ni - below(impostor, threshold)) as f64 / ni as f64),
                fnmr: (ng > 0).then(|| below(genuine, threshold) as f64 / ng as f64),
            };
            (rate_key(k), point)
        })
        .collect()
}

/// Verification metrics of one set of genuine and impostor scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    /// Number of genuine comparisons.
    pub genuine_pairs: u64,
    /// Number of impostor comparisons.
    pub impostor_pairs: u64,
    /// Equal error rate (`null` without both genuine and impostor scores).
    pub eer: Option<f64>,
    /// FNMR at FMR `1e-2` … `1e-6` (`null` where too few impostor pairs).
    pub fnmr_at_fmr: BTreeMap<String, Option<f64>>,
    /// Thresholds and achieved FMR behind `fnmr_at_fmr`.
    pub operating_points: BTreeMap<String, Option<OperatingPoint>>,
    /// DET curve, thinned (see [`params::DET_LOG_STEP`]), in threshold order (FMR falling).
    pub det: Vec<DetPoint>,
    /// The calibrated decision at FMR `1e-2` … `1e-6` against the measured rates.
    pub calibration: BTreeMap<String, CalibrationPoint>,
}

/// Number of values `≤ x` in an ascending slice.
fn count_le(sorted: &[f32], x: f32) -> usize {
    sorted.partition_point(|&v| v <= x)
}

/// Sort scores ascending (total order; NaN should be mapped away by the caller).
pub fn sort_scores(v: &mut [f32]) {
    if v.len() > 100_000 {
        use rayon::slice::ParallelSliceMut;
        v.par_sort_unstable_by(|a, b| a.total_cmp(b));
    } else {
        v.sort_unstable_by(|a, b| a.total_cmp(b));
    }
}

/// Operating point at `α = 10^-k` for scores sorted ascending; `None` under the rule of 3.
/// `negatives` are the impostor (or non-mated top) scores, `positives_fail(s)` counts the
/// positives rejected when accepting only scores `> s`.
fn point_at(
    negatives: &[f32],
    positives: usize,
    k: u32,
    positives_fail: impl Fn(f32) -> usize,
) -> Option<OperatingPoint> {
    let n = negatives.len() as u64;
    if !enough_trials(n, k) || positives == 0 {
        return None;
    }
    let allowed = (n / 10u64.pow(k)) as usize;
    // (allowed + 1)-th highest negative
    let s = negatives[negatives.len() - 1 - allowed];
    let above = negatives.len() - count_le(negatives, s);
    Some(OperatingPoint {
        threshold: next_up(s),
        fmr: above as f64 / n as f64,
        fnmr: positives_fail(s) as f64 / positives as f64,
    })
}

impl Verification {
    /// Compute the metrics; both slices are sorted in place (ascending).
    pub fn compute(genuine: &mut [f32], impostor: &mut [f32]) -> Verification {
        sort_scores(genuine);
        sort_scores(impostor);
        Verification::from_sorted(genuine, impostor)
    }

    /// Compute the metrics of score slices already sorted ascending.
    pub fn from_sorted(genuine: &[f32], impostor: &[f32]) -> Verification {
        let (g, i) = (genuine.len(), impostor.len());
        let mut fnmr_at_fmr = BTreeMap::new();
        let mut operating_points = BTreeMap::new();
        for k in params::FMR_EXPONENTS {
            let p = point_at(impostor, g, k, |s| count_le(genuine, s));
            fnmr_at_fmr.insert(rate_key(k), p.map(|p| p.fnmr));
            operating_points.insert(rate_key(k), p);
        }
        let (eer, det) = if g > 0 && i > 0 {
            sweep(genuine, impostor)
        } else {
            (None, Vec::new())
        };
        Verification {
            genuine_pairs: g as u64,
            impostor_pairs: i as u64,
            eer,
            fnmr_at_fmr,
            operating_points,
            det,
            calibration: calibration_points(genuine, impostor),
        }
    }
}

/// Walk the operating points (ascending cut `s`, accept iff score `> s`) of two non-empty
/// ascending slices: the EER and the thinned DET curve.
fn sweep(genuine: &[f32], impostor: &[f32]) -> (Option<f64>, Vec<DetPoint>) {
    let (ng, ni) = (genuine.len() as f64, impostor.len() as f64);
    let (mut gi, mut ii) = (0usize, 0usize);
    let mut prev = DetPoint {
        fmr: 1.0,
        fnmr: 0.0,
    };
    let mut eer = None;
    let mut det = vec![prev];
    let lg = |x: f64| if x > 0.0 { x.log10() } else { -99.0 };
    let mut kept = prev;
    while gi < genuine.len() || ii < impostor.len() {
        let v = match (genuine.get(gi), impostor.get(ii)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while gi < genuine.len() && genuine[gi] <= v {
            gi += 1;
        }
        while ii < impostor.len() && impostor[ii] <= v {
            ii += 1;
        }
        let p = DetPoint {
            fmr: (impostor.len() - ii) as f64 / ni,
            fnmr: gi as f64 / ng,
        };
        if eer.is_none() {
            let (da, db) = (prev.fnmr - prev.fmr, p.fnmr - p.fmr);
            if db == 0.0 {
                eer = Some(p.fmr);
            } else if db > 0.0 && da < 0.0 {
                let lambda = -da / (db - da);
                eer = Some(prev.fmr + lambda * (p.fmr - prev.fmr));
            }
        }
        let last = gi == genuine.len() && ii == impostor.len();
        if last
            || (lg(p.fmr) - lg(kept.fmr)).abs() >= params::DET_LOG_STEP
            || (lg(p.fnmr) - lg(kept.fnmr)).abs() >= params::DET_LOG_STEP
        {
            det.push(p);
            kept = p;
        }
        prev = p;
    }
    (eer, det)
}

/// Outcome of one identification search against the enrolled classes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Search {
    /// The probe's class is enrolled.
    Mated {
        /// Score against its own class (`None`: the class has no usable reference).
        mate: Option<f32>,
        /// Best score against any other class (`None`: no other class).
        best_nonmate: Option<f32>,
    },
    /// The probe's class is not enrolled.
    NonMated {
        /// Best score against any class (`None`: empty gallery).
        top: Option<f32>,
    },
}

impl Search {
    /// Whether a mated search has its mate at rank 1 (strictly above every non-mate).
    pub fn rank1_hit(&self) -> bool {
        match *self {
            Search::Mated {
                mate: Some(m),
                best_nonmate,
            } => best_nonmate.is_none_or(|b| m > b),
            _ => false,
        }
    }
}

/// Identification metrics of a set of searches.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identification {
    /// Mated searches.
    pub mated_searches: u64,
    /// Non-mated searches.
    pub nonmated_searches: u64,
    /// Fraction of mated searches with the mate at rank 1 (`null` without mated searches).
    pub rank1: Option<f64>,
    /// FNIR at FPIR `1e-2`, `1e-3` (`null` where too few non-mated searches).
    pub fnir_at_fpir: BTreeMap<String, Option<f64>>,
    /// Thresholds and achieved FPIR behind `fnir_at_fpir` (`fmr` = FPIR, `fnmr` = FNIR).
    pub operating_points: BTreeMap<String, Option<OperatingPoint>>,
    /// FNIR at the lowest threshold with FPIR = 0 (just above the highest non-mated top score),
    /// stated whatever the number of non-mated searches; `null` without any.
    pub fnir_at_zero_fpir: Option<OperatingPoint>,
}

impl Identification {
    /// Compute rank-1 and FNIR at FPIR from searches.
    pub fn compute(searches: &[Search]) -> Identification {
        let mut mated: Vec<(bool, f32)> = Vec::new();
        let mut tops: Vec<f32> = Vec::new();
        for s in searches {
            match *s {
                Search::Mated { mate, .. } => {
                    mated.push((s.rank1_hit(), mate.unwrap_or(f32::NEG_INFINITY)))
                }
                Search::NonMated { top } => tops.push(top.unwrap_or(f32::NEG_INFINITY)),
            }
        }
        sort_scores(&mut tops);
        let fail = |s: f32| mated.iter().filter(|&&(hit, m)| !hit || m <= s).count();
        let hits = mated.iter().filter(|m| m.0).count();
        let mut fnir_at_fpir = BTreeMap::new();
        let mut operating_points = BTreeMap::new();
        for k in params::FPIR_EXPONENTS {
            let p = point_at(&tops, mated.len(), k, fail);
            fnir_at_fpir.insert(rate_key(k), p.map(|p| p.fnmr));
            operating_points.insert(rate_key(k), p);
        }
        let fnir_at_zero_fpir = match tops.last() {
            Some(&s) if !mated.is_empty() => Some(OperatingPoint {
                threshold: next_up(s),
                fmr: 0.0,
                fnmr: fail(s) as f64 / mated.len() as f64,
            }),
            _ => None,
        };
        Identification {
            mated_searches: mated.len() as u64,
            nonmated_searches: tops.len() as u64,
            rank1: (!mated.is_empty()).then(|| hits as f64 / mated.len() as f64),
            fnir_at_fpir,
            operating_points,
            fnir_at_zero_fpir,
        }
    }
}

/// Median of a list of durations (ms); `None` when empty. Even counts average the middle two.
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}
