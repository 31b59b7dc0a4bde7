//! A generative model of identity codes + capture noise, to build million-hand galleries without
//! rendering a million images.
//!
//! Identity: for each modality and bit plane, a smooth random field (a `lattice`×`lattice` grid
//! of uniform values, bilinearly interpolated over a 40×40 sample canvas) plus fine i.i.d.
//! texture of relative amplitude `fine`, thresholded at zero: bits are spatially correlated like
//! orientation codes of palm lines, and different identities are independent.
//! Capture: a 32×32 window of the canvas displaced by an integer shift of up to `max_shift`
//! samples per axis (residual ROI misalignment), each bit flipped independently with a rate drawn
//! uniformly in `[flip_min, flip_max]` per capture (sensor noise, illumination, small rotations),
//! and with probability `occlusion` an invalid band of up to `max_band` rows/columns on a random
//! side (fingers, sleeve, out-of-frame).
//!
//! Fitting: the genuine distance at the best shift is ≈ the flip rate, so `flip_min/flip_max`
//! are fitted to the spread of genuine distances of real pipeline templates (`fit_flip_range`),
//! `lattice`/`fine` to the impostor spread (degrees of freedom) — see `palmsig bench identify
//! --fit-manifest`.
use crate::bitcode::{BitTemplate, GridCode, GRID, PLANES};
use palmsig_core::Rng;

/// Canvas side (grid + margins for shifts).
pub const CANVAS: usize = GRID + 8;
const MARGIN: i32 = 4;

/// Parameters of the identity + capture model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodeModel {
    /// Nodes per side of the smooth field lattice (more = less correlated bits).
    pub lattice: usize,
    /// Relative amplitude of fine i.i.d. texture added to the smooth field.
    pub fine: f32,
    /// Smallest per-capture bit flip rate.
    pub flip_min: f64,
    /// Largest per-capture bit flip rate.
    pub flip_max: f64,
    /// Largest capture displacement per axis, in samples (≤ 4).
    pub max_shift: i32,
    /// Probability of an occluded band.
    pub occlusion: f64,
    /// Widest occluded band, in samples.
    pub max_band: usize,
}

impl Default for CodeModel {
    /// Provisional parameters (see the module docs for how to refit them).
    fn default() -> Self {
        CodeModel {
            lattice: 8,
            fine: 0.2,
            flip_min: 0.08,
            flip_max: 0.28,
            max_shift: 1,
            occlusion: 0.3,
            max_band: 6,
        }
    }
}

/// An identity's bit canvases (surface planes then vein planes), rows of `CANVAS` bits.
#[derive(Debug, Clone)]
pub struct Identity {
    seed: u64,
    canvas: [[u64; CANVAS]; 2 * PLANES],
}

/// A word of 64 independent bits, each set with probability ≈ `p` (8-bit precision).
fn bernoulli_word(rng: &mut Rng, p: f64) -> u64 {
    let q = (p.clamp(0.0, 1.0) * 256.0).round() as u32;
    if q >= 256 {
        return u64::MAX;
    }
    let mut acc = 0u64;
    // Bits of q from least to most significant: acc = bit ? acc | r : acc & r.
    for i in 0..8 {
        let r = rng.next_u64();
        acc = if q >> i & 1 == 1 { acc | r } else { acc & r };
    }
    acc
}

impl CodeModel {
    /// The identity of `seed` (deterministic).
    pub fn identity(&self, seed: u64) -> Identity {
        let mut rng = Rng::derive(seed, 0x1D);
        let l = self.lattice.max(2);
        let mut canvas = [[0u64; CANVAS]; 2 * PLANES];
        let cell = (CANVAS - 1) as f32 / (l - 1) as f32;
        // Interpolation cells and weights along one axis (same for x and y).
        let mut ix = [0usize; CANVAS];
        let mut tx = [0f32; CANVAS];
        for x in 0..CANVAS {
            let f = x as f32 / cell;
            ix[x] = (f as usize).min(l - 2);
            tx[x] = f - ix[x] as f32;
        }
        let mut nodes = vec![0f32; l * l];
        let mut line = [0f32; CANVAS];
        for plane in canvas.iter_mut() {
            for v in nodes.iter_mut() {
                *v = rng.range(-1.0, 1.0) as f32;
            }
            for (y, row) in plane.iter_mut().enumerate() {
                let (iy, ty) = (ix[y], tx[y]);
                // Interpolate the lattice row pair at this y, then along x.
                let (r0, r1) = (
                    &nodes[iy * l..iy * l + l],
                    &nodes[(iy + 1) * l..(iy + 1) * l + l],
                );
                for x in 0..CANVAS {
                    let (i, t) = (ix[x], tx[x]);
                    let a = r0[i] + (r0[i + 1] - r0[i]) * t;
                    let b = r1[i] + (r1[i + 1] - r1[i]) * t;
                    line[x] = a + (b - a) * ty;
                }
                let mut bits = 0u64;
                for (k, chunk) in line.chunks(8).enumerate() {
                    let r = rng.next_u64();
                    for (j, &smooth) in chunk.iter().enumerate() {
                        // 8 bits of texture per sample: uniform in [-1, 1).
                        let u = ((r >> (8 * j)) & 0xff) as f32 / 128.0 - 1.0;
                        if smooth + self.fine * u > 0.0 {
                            bits |= 1 << (8 * k + j);
                        }
                    }
                }
                *row = bits;
            }
        }
        Identity { seed, canvas }
    }

    /// One capture of `id` (deterministic in the identity and `capture_seed`; captures of
    /// different identities with the same `capture_seed` have independent noise).
    pub fn capture(&self, id: &Identity, capture_seed: u64) -> BitTemplate {
        let mut rng = Rng::derive(
            capture_seed ^ id.seed.wrapping_mul(0xA24B_AED4_963E_E407),
            0xCA,
        );
        let s = self.max_shift.clamp(0, MARGIN);
        let dx = rng.below((2 * s + 1) as u64) as i32 - s;
        let dy = rng.below((2 * s + 1) as u64) as i32 - s;
        let flip = rng.range(self.flip_min, self.flip_max.max(self.flip_min));
        let mut mask = [u32::MAX; GRID];
        if rng.chance(self.occlusion) {
            let band = 1 + rng.below(self.max_band.max(1) as u64) as usize;
            match rng.below(4) {
                0 => mask[..band].fill(0),
                1 => mask[GRID - band..].fill(0),
                2 => mask.iter_mut().for_each(|m| *m &= u32::MAX << band),
                _ => mask.iter_mut().for_each(|m| *m &= u32::MAX >> band),
            }
        }
        let mut code = |m: usize| -> GridCode {
            let mut g = GridCode {
                planes: [[0; GRID]; PLANES],
                mask,
            };
            for (p, plane) in g.planes.iter_mut().enumerate() {
                let src = &id.canvas[m * PLANES + p];
                for pair in 0..GRID / 2 {
                    let noise = bernoulli_word(&mut rng, flip);
                    for k in 0..2 {
                        let y = 2 * pair + k;
                        let row = src[(y as i32 + MARGIN + dy) as usize] >> (MARGIN + dx);
                        plane[y] = (row as u32) ^ (noise >> (32 * k)) as u32;
                    }
                }
            }
            g
        };
        let surface = Some(code(0));
        let vein = Some(code(1));
        BitTemplate { surface, vein }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bernoulli_rate_is_close() {
        let mut rng = Rng::new(1);
        let ones: u32 = (0..2000)
            .map(|_| bernoulli_word(&mut rng, 0.2).count_ones())
            .sum();
        let rate = ones as f64 / (2000.0 * 64.0);
        assert!((rate - 0.2).abs() < 0.01, "{rate}");
    }

    #[test]
    fn captures_are_deterministic_and_differ_by_seed() {
        let m = CodeModel::default();
        let id = m.identity(7);
        assert_eq!(m.capture(&id, 1), m.capture(&id, 1));
        assert_ne!(m.capture(&id, 1), m.capture(&id, 2));
    }
}

/// Statistics of real templates the model is fitted to (distances as computed by
/// [`crate::BitScorer`]).
#[derive(Debug, Clone, Default)]
pub struct FitStats {
    /// Genuine distances at the best shift.
    pub genuine: Vec<f64>,
    /// Impostor distances at one alignment (no shift search).
    pub impostor_aligned: Vec<f64>,
}

fn quantiles(v: &[f64]) -> [f64; 3] {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |f: f64| s[((f * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)];
    [q(0.1), q(0.5), q(0.9)]
}

/// Impostor degrees of freedom `p(1−p)/σ²`, with σ from the interquartile range (robust to the
/// occasional strongly correlated pair of smooth codes).
fn dof(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |f: f64| s[((f * (s.len() - 1) as f64).round() as usize).min(s.len() - 1)];
    let m = q(0.5);
    let sd = (q(0.75) - q(0.25)) / 1.349;
    if sd > 0.0 {
        m * (1.0 - m) / (sd * sd)
    } else {
        f64::INFINITY
    }
}

impl CodeModel {
    /// Fit the flip-rate range to the genuine distance quantiles (10/50/90%) and the field
    /// smoothness (`lattice`, `fine`) to the impostor degrees of freedom; other parameters are
    /// kept from `self`. Returns `None` with fewer than 10 samples of either kind.
    pub fn fit(&self, stats: &FitStats) -> Option<CodeModel> {
        if stats.genuine.len() < 10 || stats.impostor_aligned.len() < 10 {
            return None;
        }
        // Genuine distance of two captures ≈ p1 + p2 − 2·p1·p2 with p ~ U[a, b] each.
        let want = quantiles(&stats.genuine);
        let mut best = (f64::MAX, self.flip_min, self.flip_max);
        for ia in 0..=45 {
            for ib in ia..=45 {
                let (a, b) = (ia as f64 / 100.0, ib as f64 / 100.0);
                let mut sim = Vec::with_capacity(400);
                for i in 0..20 {
                    for j in 0..20 {
                        let p1 = a + (b - a) * (i as f64 + 0.5) / 20.0;
                        let p2 = a + (b - a) * (j as f64 + 0.5) / 20.0;
                        sim.push(p1 + p2 - 2.0 * p1 * p2);
                    }
                }
                let q = quantiles(&sim);
                let e: f64 = q
                    .iter()
                    .zip(want.iter())
                    .map(|(x, y)| (x - y) * (x - y))
                    .sum();
                if e < best.0 {
                    best = (e, a, b);
                }
            }
        }
        let target = dof(&stats.impostor_aligned);
        let scorer = crate::BitScorer::default();
        let mut bestf = (f64::MAX, self.lattice, self.fine);
        for lattice in [4usize, 5, 6, 8, 10, 12, 16] {
            for fine in [0.0f32, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0] {
                let m = CodeModel {
                    lattice,
                    fine,
                    flip_min: best.1,
                    flip_max: best.2,
                    ..*self
                };
                let d: Vec<f64> = (0..400u64)
                    .filter_map(|i| {
                        let x = m.capture(&m.identity(7_000_000 + 2 * i), 1);
                        let y = m.capture(&m.identity(7_000_001 + 2 * i), 2);
                        crate::bitcode::distance_at(&x, &y, 0, 0, scorer.min_bits)
                    })
                    .collect();
                let e = (dof(&d).ln() - target.ln()).abs();
                if e < bestf.0 {
                    bestf = (e, lattice, fine);
                }
            }
        }
        Some(CodeModel {
            flip_min: best.1,
            flip_max: best.2,
            lattice: bestf.1,
            fine: bestf.2,
            ..*self
        })
    }
}

#[cfg(test)]
mod fit_tests {
    use super::*;
    use crate::bitcode::distance_at;

    #[test]
    fn fit_recovers_a_known_model() {
        let truth = CodeModel {
            lattice: 6,
            fine: 0.35,
            flip_min: 0.05,
            flip_max: 0.2,
            ..CodeModel::default()
        };
        let s = crate::BitScorer::default();
        let mut st = FitStats::default();
        for i in 0..300u64 {
            let id = truth.identity(i);
            st.genuine
                .push(s.distance(&truth.capture(&id, 1), &truth.capture(&id, 2)));
            let other = truth.capture(&truth.identity(10_000 + i), 3);
            st.impostor_aligned.extend(distance_at(
                &truth.capture(&id, 1),
                &other,
                0,
                0,
                s.min_bits,
            ));
        }
        eprintln!(
            "genuine q {:?} dof {}",
            quantiles(&st.genuine),
            dof(&st.impostor_aligned)
        );
        let f = CodeModel::default().fit(&st).unwrap();
        assert!(
            (f.flip_min - 0.05).abs() <= 0.04 && (f.flip_max - 0.2).abs() <= 0.04,
            "{f:?}"
        );
        // Smoothness: the fitted model has about the same impostor degrees of freedom.
        let d: Vec<f64> = (0..400u64)
            .filter_map(|i| {
                distance_at(
                    &f.capture(&f.identity(50_000 + 2 * i), 1),
                    &f.capture(&f.identity(50_001 + 2 * i), 2),
                    0,
                    0,
                    s.min_bits,
                )
            })
            .collect();
        let ratio = dof(&d) / dof(&st.impostor_aligned);
        assert!((0.6..1.6).contains(&ratio), "dof ratio {ratio} ({f:?})");
    }
}
