//! Capture rendering speed (visible + NIR, one thread). Goal: ≥ 20 captures/s at 640x480.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use palmsig_core::Hand;
use palmsig_synth::{render_capture, CaptureSpec, Difficulty, Identity};

fn bench(c: &mut Criterion) {
    let id = Identity::new(3, 1, Hand::Right).unwrap();
    let specs: Vec<CaptureSpec> = (0..8)
        .map(|k| CaptureSpec::sample(&id, Difficulty::Realistic, 1 + k / 4, k))
        .collect();
    let mut g = c.benchmark_group("synth");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1));
    let mut k = 0;
    g.bench_function("render_capture_640x480", |b| {
        b.iter(|| {
            k = (k + 1) % specs.len();
            render_capture(&id, &specs[k], 640, 480).unwrap()
        })
    });
    g.bench_function("identity_build", |b| {
        b.iter(|| Identity::new(3, 2, Hand::Left).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
