//! `palmsig bench extract`: extraction and comparison speed on one thread, as JSON.
//!
//! Renders `--captures` synthetic full-hand captures (both modalities, realistic preset; not
//! timed), then times on the calling thread: `Engine::extract` per capture (vision ROI +
//! both codes), the coding alone (ROI → template), and `Matcher::compare` over all pairs of the
//! templates (repeated to at least `--comparisons`).

use std::time::Instant;

use palmsig_codes::{Algorithm, Engine, Template};
use palmsig_core::Hand;
use palmsig_synth::{render_capture, CaptureSpec, Difficulty, Identity};
use palmsig_vision::{extract_roi, Capture, NoExplain};

/// Arguments of `palmsig bench extract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Synthetic captures to time (full hand, visible + NIR, 768x576).
    #[arg(long, default_value_t = 40)]
    captures: u32,
    /// Minimum number of template comparisons to time.
    #[arg(long, default_value_t = 200_000)]
    comparisons: u64,
    /// Coding scheme.
    #[arg(long, default_value = "bocv")]
    algorithm: String,
    /// Seed of the synthetic captures.
    #[arg(long, default_value_t = 3)]
    seed: u64,
}

fn median_ms(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2] * 1e3
}

/// Run `palmsig bench extract`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let algorithm: Algorithm = args.algorithm.parse()?;
    let engine = Engine::new(algorithm);
    let mut captures = Vec::new();
    for k in 0..args.captures {
        let hand = if k % 2 == 0 { Hand::Right } else { Hand::Left };
        let id = Identity::new(args.seed, k / 2, hand)?;
        let spec = CaptureSpec::sample(&id, Difficulty::Realistic, 1 + k % 2, k);
        let r = render_capture(&id, &spec, 768, 576)?;
        captures.push(Capture::hand(hand, Some(r.visible), Some(r.nir)));
    }
    let (mut full, mut coding, mut vision) = (Vec::new(), Vec::new(), Vec::new());
    let mut full_cpu = 0f64;
    let mut templates: Vec<Template> = Vec::new();
    let mut failures = 0usize;
    for c in &captures {
        let c0 = super::thread_cpu_s();
        let t0 = Instant::now();
        let r = engine.extract(c, &mut NoExplain);
        full.push(t0.elapsed().as_secs_f64());
        // Summed, not per capture: the kernel updates the counter coarsely.
        if let (Some(a), Some(b)) = (c0, super::thread_cpu_s()) {
            full_cpu += b - a;
        }
        match r {
            Ok(t) => templates.push(t),
            Err(_) => failures += 1,
        }
        let t1 = Instant::now();
        if let Ok(roi) = extract_roi(c, &mut NoExplain) {
            vision.push(t1.elapsed().as_secs_f64());
            let t2 = Instant::now();
            let _ = engine.encode_roi(roi.visible.as_ref(), roi.nir.as_ref());
            coding.push(t2.elapsed().as_secs_f64());
        }
    }
    let matcher = engine.matcher();
    let n = templates.len();
    let (mut done, mut acc) = (0u64, 0f64);
    let c0 = super::thread_cpu_s();
    let t0 = Instant::now();
    if n >= 2 {
        while done < args.comparisons {
            for i in 0..n {
                for j in i + 1..n {
                    if let Ok(c) = matcher.compare(&templates[i], &templates[j]) {
                        acc += c.fused as f64;
                    }
                    done += 1;
                }
            }
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu_secs = match (c0, super::thread_cpu_s()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
    println!(
        "{}",
        serde_json::json!({
            "algorithm": algorithm.name(),
            "threads": 1,
            "captures": captures.len(),
            "failures_to_acquire": failures,
            "extract_median_ms": median_ms(full),
            "extract_mean_cpu_ms": 1e3 * full_cpu / captures.len().max(1) as f64,
            "vision_roi_median_ms": median_ms(vision),
            "coding_median_ms": median_ms(coding),
            "comparisons": done,
            "comparisons_per_s": if secs > 0.0 { done as f64 / secs } else { 0.0 },
            "comparisons_per_cpu_s": if cpu_secs > 0.0 { done as f64 / cpu_secs } else { 0.0 },
            "checksum": acc,
        })
    );
    Ok(())
}
