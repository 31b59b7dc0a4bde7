//! CPU cost of `extract_roi` on one synthetic 768x576 visible + NIR pair, repeated.
//!
//! ```sh
//! cargo build --release -p palmsig-vision --example time_extract
//! /usr/bin/time -f "%U s user" target/release/examples/time_extract 200
//! ```
//! Prints the wall time per extraction; on a busy machine compare with the process's user time
//! (rendering the capture once is included there but small next to 200 extractions).

use std::time::Instant;

use palmsig_core::Hand;
use palmsig_synth::{render_capture, CaptureSpec, Difficulty, Identity};
use palmsig_vision::{extract_roi, Capture, NoExplain};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let id = Identity::new(11, 3, Hand::Right).expect("identity");
    let spec = CaptureSpec::sample(&id, Difficulty::Realistic, 1, 0);
    let r = render_capture(&id, &spec, 768, 576).expect("render");
    let cap = Capture::hand(Hand::Right, Some(r.visible), Some(r.nir));
    let first = extract_roi(&cap, &mut NoExplain);
    println!(
        "first result: {}",
        first
            .as_ref()
            .map(|_| "ok".to_string())
            .unwrap_or_else(|e| e.to_string())
    );
    let t0 = Instant::now();
    for _ in 0..n {
        let _ = std::hint::black_box(extract_roi(std::hint::black_box(&cap), &mut NoExplain));
    }
    println!(
        "{n} extractions: {:.2} ms wall each",
        t0.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
}
