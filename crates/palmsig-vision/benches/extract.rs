//! Extraction speed: a 768x576 visible + NIR full-hand pair to ROIs, and a 600x600 ROI crop.
//! Run: `cargo bench -p palmsig-vision --bench extract`.

use criterion::{criterion_group, criterion_main, Criterion};
use palmsig_core::{GrayImage, Hand, Point};
use palmsig_vision::{decode, extract_roi, segment_hand, Capture, NoExplain};

#[path = "../tests/common/mod.rs"]
mod common;

fn bench(c: &mut Criterion) {
    let spec = common::HandSpec {
        palm: 160.0,
        centre: Point::new(384.0, 330.0),
        angle: 0.25,
        ..common::HandSpec::new(768, 576)
    };
    let img = common::draw_hand(&spec);
    let cap = Capture::hand(Hand::Right, Some(img.clone()), Some(img.clone()));
    assert!(extract_roi(&cap, &mut NoExplain).is_ok());
    c.bench_function("extract_roi hand 768x576 visible+nir", |b| {
        b.iter(|| extract_roi(std::hint::black_box(&cap), &mut NoExplain).unwrap())
    });
    c.bench_function("segment_hand 768x576", |b| {
        b.iter(|| segment_hand(std::hint::black_box(&img)).unwrap())
    });
    // Palm-like structure at a few scales (pure pixel noise would average out to a flat ROI).
    let data: Vec<u8> = (0..600 * 600)
        .map(|i| {
            let (x, y) = ((i % 600) as f32, (i / 600) as f32);
            (110.0 + 20.0 * (x / 9.0).sin() * (y / 13.0).cos() + 8.0 * (x / 3.1 + y / 4.3).sin())
                as u8
        })
        .collect();
    let roi = GrayImage::from_vec(600, 600, data).unwrap();
    let rcap = Capture::roi(Hand::Unknown, None, Some(roi));
    c.bench_function("extract_roi roi 600x600", |b| {
        b.iter(|| extract_roi(std::hint::black_box(&rcap), &mut NoExplain).unwrap())
    });
    let mut png = Vec::new();
    image::GrayImage::from_raw(768, 576, img.as_slice().to_vec())
        .unwrap()
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    c.bench_function("decode png 768x576", |b| {
        b.iter(|| decode(std::hint::black_box(&png)).unwrap())
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
