//! Every shift-search kernel gives the portable kernel's answer, for any codes and thresholds.
//! (`palmsig-codes` checks the portable kernel against its scalar reference matcher.)
use palmsig_core::simd::shift::{search, SearchParams, ShiftProbe, GRID};
use palmsig_core::simd::Kernel;
use palmsig_core::Rng;
use proptest::prelude::*;

/// A random code of `planes` planes: plane-major rows, mask first, with a mask of one of a few
/// shapes (full, rectangle, speckle, sparse rows) so that overlaps cross the thresholds.
fn code(rng: &mut Rng, planes: usize) -> Vec<u32> {
    let shape = rng.below(4);
    let (x0, x1) = (rng.below(12) as u32, 20 + rng.below(13) as u32);
    let (y0, y1) = (rng.below(12) as usize, 20 + rng.below(13) as usize);
    let mut out = Vec::with_capacity((planes + 1) * GRID);
    for y in 0..GRID {
        let rect = if (y0..y1).contains(&y) {
            (u32::MAX >> (32 - (x1 - x0))) << x0
        } else {
            0
        };
        out.push(match shape {
            0 => u32::MAX,
            1 => rect,
            2 => rng.next_u64() as u32 | rng.next_u64() as u32,
            _ => {
                if rng.chance(0.3) {
                    0
                } else {
                    rng.next_u64() as u32
                }
            }
        });
    }
    for _ in 0..planes * GRID {
        out.push(rng.next_u64() as u32);
    }
    out
}

/// `a` moved by (dx, dy) with a fraction `flip` of its plane bits flipped.
fn moved(rng: &mut Rng, a: &[u32], dx: i32, dy: i32, flip: f64) -> Vec<u32> {
    let mut out = vec![0u32; a.len()];
    for (k, plane) in out.chunks_exact_mut(GRID).enumerate() {
        for (y, row) in plane.iter_mut().enumerate() {
            let src = y as i32 - dy;
            if !(0..GRID as i32).contains(&src) {
                continue;
            }
            let v = a[k * GRID + src as usize];
            let mut v = if dx >= 0 { v << dx } else { v >> -dx };
            if k > 0 {
                for x in 0..32 {
                    if rng.chance(flip) {
                        v ^= 1 << x;
                    }
                }
            }
            *row = v;
        }
    }
    out
}

fn check(seed: u64, six: bool, params: SearchParams, dx: i32, dy: i32, flip: f64) {
    let mut rng = Rng::new(seed);
    let planes = if six { 6 } else { 3 };
    let a = code(&mut rng, planes);
    let pairs = [moved(&mut rng, &a, dx, dy, flip), code(&mut rng, planes)];
    let probe = ShiftProbe::new(Kernel::Portable, &a, planes).unwrap();
    for b in &pairs {
        let want = search(Kernel::Portable, &params, &probe, b);
        for k in Kernel::available() {
            let p = ShiftProbe::new(k, &a, planes).unwrap();
            assert_eq!(p, probe, "kernel {k} prepares");
            assert_eq!(search(k, &params, &p, b), want, "kernel {k}");
        }
    }
}

fn params(candidates: usize, min_overlap: u32, nominal: f32, slack: f32) -> SearchParams {
    SearchParams {
        candidates,
        min_overlap,
        nominal_overlap: nominal,
        block_keep: (3, 4),
        block_gain: (4, 3),
        block_slack: slack,
    }
}

#[test]
fn kernels_agree_on_fixed_cases() {
    eprintln!("detected kernel: {}", Kernel::detect());
    for seed in 0..40 {
        check(seed, seed % 3 == 0, params(3, 256, 800.0, 0.02), 2, -1, 0.1);
    }
    // Degenerate thresholds: every shift qualifies, or none.
    check(1, false, params(8, 0, 1.0, 0.0), 0, 0, 0.0);
    check(2, true, params(1, 5000, 800.0, 1.0), 1, 1, 0.2);
}

#[test]
fn wrong_shapes_are_refused() {
    assert!(ShiftProbe::new(Kernel::detect(), &[0; 4 * GRID], 3).is_some());
    assert!(ShiftProbe::new(Kernel::detect(), &[0; 4 * GRID - 1], 3).is_none());
    assert!(ShiftProbe::new(Kernel::detect(), &[0; 6 * GRID], 5).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn kernels_agree(
        seed: u64,
        six: bool,
        candidates in 1usize..=8,
        min_overlap in prop::sample::select(vec![0u32, 64, 200, 256, 400, 700]),
        nominal in prop::sample::select(vec![100.0f32, 500.0, 800.0, 1024.0]),
        slack in prop::sample::select(vec![0.0f32, 0.02, 0.1]),
        dx in -5i32..=5,
        dy in -5i32..=5,
        flip in 0.0f64..0.5,
    ) {
        check(seed, six, params(candidates, min_overlap, nominal, slack), dx, dy, flip);
    }
}
