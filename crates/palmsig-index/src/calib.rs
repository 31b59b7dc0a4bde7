//! Decision threshold at a target FPIR: a binomial impostor model with an extreme-value
//! correction for the shift search (Daugman's model for masked Hamming distances).
//!
//! For one alignment, the impostor fractional Hamming distance is modelled as `Binomial(n, p)/n`
//! where `n` (the effective degrees of freedom, smaller than the bit count because neighbouring
//! bits are correlated) and `p` are fitted from the mean and variance of sampled impostor
//! distances. A matcher that keeps the best of several shifts takes a minimum of `k` nearly
//! independent trials: `FMR(hd) = 1 − (1 − F(hd))^k`, with `k` fitted so that the model matches the
//! observed lower tail of shift-searched impostor distances. Against a gallery of `N` independent
//! impostors `FPIR ≈ N · FMR`, so the identification threshold is the score at `FMR = FPIR / N`:
//! it rises with the gallery size.

/// Fitted impostor model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpostorModel {
    /// Effective degrees of freedom.
    pub n: f64,
    /// Mean impostor distance at one alignment.
    pub p: f64,
    /// Effective number of independent trials of the shift search.
    pub k: f64,
}

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, 9 terms), |error| < 1e-13 for x > 0.
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return std::f64::consts::PI.ln()
            - (std::f64::consts::PI * x).sin().ln()
            - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

impl ImpostorModel {
    /// Lower-tail probability `P(HD ≤ hd)` for one alignment (binomial with real `n`, summed
    /// over integer successes with gamma-function coefficients).
    pub fn cdf_one(&self, hd: f64) -> f64 {
        let n = self.n.max(1.0);
        let kmax = (hd * n).floor();
        if kmax < 0.0 {
            return 0.0;
        }
        if kmax >= n {
            return 1.0;
        }
        let (lp, lq) = (self.p.ln(), (1.0 - self.p).ln());
        let lnc = ln_gamma(n + 1.0);
        let mut s = 0.0;
        let mut j = 0.0;
        while j <= kmax {
            s += (lnc - ln_gamma(j + 1.0) - ln_gamma(n - j + 1.0) + j * lp + (n - j) * lq).exp();
            j += 1.0;
        }
        s.min(1.0)
    }

    /// `FMR(hd)` of the shift-searched comparison.
    pub fn fmr(&self, hd: f64) -> f64 {
        let c = self.cdf_one(hd);
        // 1 − (1 − c)^k, computed stably for tiny c.
        -((-c).ln_1p() * self.k).exp_m1()
    }

    /// The largest distance whose FMR is at most `fmr` (bisection on the monotone model).
    pub fn hd_for_fmr(&self, fmr: f64) -> f64 {
        let (mut lo, mut hi) = (0.0f64, 0.5f64);
        if self.fmr(hi) <= fmr {
            return hi;
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if self.fmr(mid) <= fmr {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Fit from impostor distances at one alignment (`aligned`) and after the shift search
    /// (`searched`). Returns `None` with fewer than 10 samples of either or zero variance.
    pub fn fit(aligned: &[f64], searched: &[f64], max_trials: f64) -> Option<ImpostorModel> {
        if aligned.len() < 10 || searched.len() < 10 {
            return None;
        }
        let m = aligned.iter().sum::<f64>() / aligned.len() as f64;
        let v = aligned.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (aligned.len() - 1) as f64;
        if v <= 0.0 || !(0.0..1.0).contains(&m) {
            return None;
        }
        let n = m * (1.0 - m) / v;
        let mut s = searched.to_vec();
        s.sort_by(f64::total_cmp);
        // Match the model to the observed 1% quantile of the shift-searched distances.
        let q = 0.01f64.max(1.0 / s.len() as f64);
        let x = s[((q * s.len() as f64) as usize).min(s.len() - 1)];
        let mut best = (f64::MAX, 1.0);
        let mut k = 1.0;
        while k <= max_trials.max(1.0) {
            let model = ImpostorModel { n, p: m, k };
            let err = (model.fmr(x).ln() - q.ln()).abs();
            if err < best.0 {
                best = (err, k);
            }
            k += 0.25;
        }
        Some(ImpostorModel { n, p: m, k: best.1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_cdf_matches_exact_small_case() {
        // n = 10, p = 0.5: P(X <= 2) = (1 + 10 + 45) / 1024.
        let m = ImpostorModel {
            n: 10.0,
            p: 0.5,
            k: 1.0,
        };
        assert!((m.cdf_one(0.2) - 56.0 / 1024.0).abs() < 1e-9);
        assert!((m.cdf_one(1.0) - 1.0).abs() < 1e-12);
        assert_eq!(m.cdf_one(-0.1), 0.0);
    }

    #[test]
    fn threshold_tightens_with_smaller_fmr_and_more_trials() {
        let m = ImpostorModel {
            n: 800.0,
            p: 0.5,
            k: 1.0,
        };
        let a = m.hd_for_fmr(1e-3);
        let b = m.hd_for_fmr(1e-9);
        assert!(b < a, "{b} < {a}");
        let m2 = ImpostorModel { k: 20.0, ..m };
        assert!(m2.hd_for_fmr(1e-9) < b);
        assert!((m.fmr(a) - 1e-3).abs() / 1e-3 < 0.5);
    }
}

/// Gallery-level calibration: a Gumbel (extreme-value) fit of the best impostor score of
/// non-mated searches, the quantity the decision actually thresholds. Robust where a
/// per-comparison model's tail is wrong (correlated bits, shift search, masks): the tail that
/// matters is measured at the operating gallery size and extrapolated only in FPIR (by the fitted
/// Gumbel) and in gallery size (the location of a maximum of `N` i.i.d. scores grows by
/// `β·ln(N'/N)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpostorMax {
    /// Gumbel location at `gallery`.
    pub mu: f64,
    /// Gumbel scale.
    pub beta: f64,
    /// Gallery size of the fit.
    pub gallery: usize,
    /// Searches fitted.
    pub samples: usize,
}

impl ImpostorMax {
    /// Fit from the top scores of non-mated searches against a gallery of `gallery` hands
    /// (method of moments). `None` with fewer than 20 finite scores or zero spread.
    pub fn fit(top_scores: &[f32], gallery: usize) -> Option<ImpostorMax> {
        let s: Vec<f64> = top_scores
            .iter()
            .filter(|x| x.is_finite())
            .map(|&x| x as f64)
            .collect();
        if s.len() < 20 || gallery == 0 {
            return None;
        }
        let m = s.iter().sum::<f64>() / s.len() as f64;
        let v = s.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (s.len() - 1) as f64;
        if v <= 0.0 {
            return None;
        }
        let beta = v.sqrt() * 6f64.sqrt() / std::f64::consts::PI;
        Some(ImpostorMax {
            mu: m - 0.577_215_664_9 * beta,
            beta,
            gallery,
            samples: s.len(),
        })
    }

    /// Score threshold whose FPIR against a gallery of `n` hands is `fpir`.
    pub fn threshold(&self, fpir: f64, n: usize) -> f32 {
        let mu = self.mu + self.beta * (n.max(1) as f64 / self.gallery as f64).ln();
        // P(max > t) = 1 − exp(−exp(−(t − μ)/β)) = fpir.
        (mu - self.beta * (-(-fpir.clamp(1e-300, 1.0 - 1e-16)).ln_1p()).ln()) as f32
    }

    /// Modelled FPIR of threshold `t` against `n` hands.
    pub fn fpir(&self, t: f32, n: usize) -> f64 {
        let mu = self.mu + self.beta * (n.max(1) as f64 / self.gallery as f64).ln();
        -(-(-(t as f64 - mu) / self.beta).exp()).exp_m1()
    }
}

#[cfg(test)]
mod gumbel_tests {
    use super::*;

    #[test]
    fn gumbel_fit_recovers_parameters_and_inverts() {
        // Exact Gumbel(0.4, 0.02) quantiles as samples.
        let n = 2000;
        let s: Vec<f32> = (1..=n)
            .map(|i| {
                let u = i as f64 / (n + 1) as f64;
                (0.4 - 0.02 * (-u.ln()).ln()) as f32
            })
            .collect();
        let g = ImpostorMax::fit(&s, 1000).unwrap();
        assert!(
            (g.mu - 0.4).abs() < 2e-3 && (g.beta - 0.02).abs() < 2e-3,
            "{g:?}"
        );
        let t = g.threshold(1e-3, 1000);
        assert!((g.fpir(t, 1000) - 1e-3).abs() < 1e-6);
        assert!(g.threshold(1e-3, 100_000) > t);
        assert!(ImpostorMax::fit(&s[..5], 10).is_none());
    }
}
