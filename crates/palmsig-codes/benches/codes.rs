//! Criterion benches: ROI → template (both modalities) and template comparison, one thread.
use criterion::{criterion_group, criterion_main, Criterion};
use palmsig_codes::{Algorithm, Engine};
use palmsig_core::simd::Kernel;
use palmsig_core::Hand;
use palmsig_synth::{render_roi, CaptureSpec, Difficulty, Identity};

fn benches(c: &mut Criterion) {
    let engine = Engine::new(Algorithm::CompCode);
    let rois: Vec<_> = (0..4u32)
        .map(|k| {
            let id = Identity::new(9, k / 2, Hand::Right).unwrap();
            render_roi(
                &id,
                &CaptureSpec::sample(&id, Difficulty::Realistic, 1 + k % 2, k),
                128,
            )
            .unwrap()
        })
        .collect();
    c.bench_function("encode_roi_visible_nir", |b| {
        b.iter(|| {
            engine
                .encode_roi(Some(&rois[0].visible), Some(&rois[0].nir))
                .unwrap()
        })
    });
    let t: Vec<_> = rois
        .iter()
        .map(|r| engine.encode_roi(Some(&r.visible), Some(&r.nir)).unwrap())
        .collect();
    let m = engine.matcher();
    // `compare` prepares its probe on every call; 1:N search and the evaluation prepare once.
    c.bench_function("compare_genuine", |b| {
        b.iter(|| m.compare(&t[0], &t[2]).unwrap())
    });
    c.bench_function("compare_impostor", |b| {
        b.iter(|| m.compare(&t[0], &t[1]).unwrap())
    });
    let p0 = m.prepare(&t[0]).unwrap();
    c.bench_function("compare_prepared_genuine", |b| {
        b.iter(|| m.compare_prepared(&p0, &t[2]).unwrap())
    });
    c.bench_function("compare_prepared_impostor", |b| {
        b.iter(|| m.compare_prepared(&p0, &t[1]).unwrap())
    });
    c.bench_function("prepare", |b| b.iter(|| m.prepare(&t[0]).unwrap()));
    let mut g = c.benchmark_group("compare_prepared_impostor_kernel");
    for k in Kernel::available() {
        let mk = m.clone().with_kernel(k);
        g.bench_function(k.name(), |b| {
            b.iter(|| mk.compare_prepared(&p0, &t[1]).unwrap())
        });
    }
    g.bench_function("scalar_reference", |b| {
        b.iter(|| m.compare_scalar(&t[0], &t[1]).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = codes;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = benches
}
criterion_main!(codes);
