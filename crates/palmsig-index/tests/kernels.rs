//! The SIMD, popcnt and portable scan kernels give identical distances.
use palmsig_core::simd::{scan_min, Kernel};
use palmsig_core::Rng;
use proptest::prelude::*;

fn reference(words: usize, g: &[u64], c: &[u64], m: &[u64]) -> Vec<u16> {
    g.chunks(words)
        .map(|r| {
            c.chunks(words)
                .zip(m.chunks(words))
                .map(|(c, m)| {
                    (0..words)
                        .map(|i| ((r[i] ^ c[i]) & m[i]).count_ones())
                        .sum::<u32>()
                })
                .min()
                .unwrap() as u16
        })
        .collect()
}

fn check(words: usize, n: usize, q: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let g: Vec<u64> = (0..n * words).map(|_| rng.next_u64()).collect();
    let c: Vec<u64> = (0..q * words).map(|_| rng.next_u64()).collect();
    let m: Vec<u64> = (0..q * words)
        .map(|_| rng.next_u64() | rng.next_u64())
        .collect();
    let want = reference(words, &g, &c, &m);
    for k in Kernel::ALL {
        let mut out = vec![7u16; n];
        assert!(scan_min(k, words, &g, &c, &m, &mut out));
        assert_eq!(out, want, "kernel {} words {words} n {n} q {q}", k.name());
    }
}

#[test]
fn kernels_agree_on_fixed_shapes() {
    eprintln!("detected kernel: {}", Kernel::detect().name());
    for (words, n, q) in [
        (4, 1000, 1),
        (4, 1003, 5),
        (8, 257, 2),
        (3, 99, 1),
        (64, 13, 3),
        (4, 0, 1),
    ] {
        check(words, n, q, 11 + n as u64);
    }
}

#[test]
fn extreme_codes_give_extreme_distances() {
    let words = 4;
    let g = vec![u64::MAX; 8 * words];
    let c = vec![0u64; words];
    let m = vec![u64::MAX; words];
    for k in Kernel::ALL {
        let mut out = vec![0u16; 8];
        assert!(scan_min(k, words, &g, &c, &m, &mut out));
        assert!(out.iter().all(|&d| d == 256), "{}", k.name());
    }
}

#[test]
fn inconsistent_lengths_are_rejected() {
    let mut out = vec![0u16; 2];
    assert!(!scan_min(
        Kernel::detect(),
        4,
        &[0; 7],
        &[0; 4],
        &[0; 4],
        &mut out
    ));
    assert!(!scan_min(
        Kernel::detect(),
        4,
        &[0; 8],
        &[0; 4],
        &[0; 3],
        &mut out
    ));
    assert!(!scan_min(Kernel::detect(), 0, &[], &[], &[], &mut []));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn kernels_agree(words in prop::sample::select(vec![1usize, 2, 4, 5, 8, 12]), n in 0usize..300, q in 1usize..4, seed: u64) {
        check(words, n, q, seed);
    }
}
