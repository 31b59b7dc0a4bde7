//! Criterion benches of the coarse-scan kernels (GB/s of gallery codes scanned).
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use palmsig_core::simd::{scan_min, Kernel};
use palmsig_core::Rng;

fn bench(c: &mut Criterion) {
    let words = 4;
    let n = 1 << 18; // 8 MiB of codes: beyond L2, the regime of a real gallery scan.
    let mut rng = Rng::new(3);
    let gallery: Vec<u64> = (0..n * words).map(|_| rng.next_u64()).collect();
    let code: Vec<u64> = (0..words).map(|_| rng.next_u64()).collect();
    let mask = vec![u64::MAX; words];
    let mut out = vec![0u16; n];
    let mut g = c.benchmark_group("coarse_scan_256bit");
    g.throughput(Throughput::Bytes((n * words * 8) as u64));
    // `Kernel::Avx512` runs the AVX2 scan (the scan is bound by memory, not by popcounts).
    for k in [Kernel::Portable, Kernel::Popcnt, Kernel::Avx2] {
        if !k.is_available() {
            continue;
        }
        g.bench_with_input(BenchmarkId::new(k.name(), n), &k, |b, &k| {
            b.iter(|| scan_min(k, words, &gallery, &code, &mask, &mut out))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
