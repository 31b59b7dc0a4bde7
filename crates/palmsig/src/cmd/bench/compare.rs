//! `palmsig bench compare`: template comparison throughput on one thread, per kernel, as JSON.
//!
//! Renders `--captures` synthetic full-hand captures (both modalities, realistic preset) and
//! extracts their templates (not timed), then times on the calling thread, for every matcher
//! kernel this CPU has (`palmsig_core::simd::Kernel`):
//!
//! * `prepared` — `Matcher::compare_prepared` of prepared probes against every other template
//!   (how 1:N search and the evaluation compare: the probe is prepared once);
//! * `prepared_impostor` — the same over the pairs of different hands only: a 1:N search
//!   compares almost only impostors, and the matcher's pose search (a second look at pairs that
//!   already score ≥ 2) costs mostly on the genuine pairs of the full cycle (24 of 552);
//! * `unprepared` — `Matcher::compare`, which prepares its probe on every call;
//!
//! and `Matcher::compare_scalar` (the plain scalar reference of the same algorithm). A pass
//! cycles over all ordered pairs for at least `--min-ms`; `--repeats` passes give the best and
//! median rate, both per wall-clock second and per CPU second of the thread (on a shared
//! machine wall time includes waiting for a core; CPU time does not). Every path must give the
//! same checksum (sum of the fused scores of one cycle): the kernels are exact.

use std::time::{Duration, Instant};

use crate::cmd::progress::Bar;
use palmsig_codes::{Algorithm, Engine, Matcher, Template};
use palmsig_core::simd::Kernel;
use palmsig_core::Hand;
use palmsig_eval::Progress;
use palmsig_synth::{render_capture, CaptureSpec, Difficulty, Identity};
use palmsig_vision::{Capture, NoExplain};
use serde_json::{json, Value};

/// Arguments of `palmsig bench compare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Synthetic captures (full hand, visible + NIR, 768x576; two per hand).
    #[arg(long, default_value_t = 24)]
    captures: u32,
    /// Minimum duration of each timed pass, in ms (whole cycles over all ordered pairs).
    #[arg(long, default_value_t = 300)]
    min_ms: u64,
    /// Timed passes per path (best and median reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Only this kernel (portable, popcnt, avx2, avx512); default: every available one.
    #[arg(long)]
    kernel: Option<String>,
    /// Coding scheme.
    #[arg(long, default_value = "bocv")]
    algorithm: String,
    /// Seed of the synthetic captures.
    #[arg(long, default_value_t = 3)]
    seed: u64,
}

/// Time `passes` runs of `cycle` (one run of it returns its comparison count), each repeated
/// for at least `min`: best and median comparisons per wall second and per CPU second.
fn timed(passes: usize, min: Duration, mut cycle: impl FnMut() -> u64) -> Value {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..passes.max(1) {
        let c0 = super::thread_cpu_s();
        let t0 = Instant::now();
        let mut n = 0u64;
        while n == 0 || t0.elapsed() < min {
            n += cycle();
        }
        let secs = t0.elapsed().as_secs_f64();
        if let (Some(a), Some(b)) = (c0, super::thread_cpu_s()) {
            if b > a {
                cpu.push(n as f64 / (b - a));
            }
        }
        wall.push(n as f64 / secs);
    }
    let stats = |mut v: Vec<f64>| {
        if v.is_empty() {
            return json!(null);
        }
        v.sort_by(f64::total_cmp);
        json!({ "best": v[v.len() - 1].round(), "median": v[v.len() / 2].round() })
    };
    json!({ "per_wall_s": stats(wall), "per_cpu_s": stats(cpu) })
}

/// Run `palmsig bench compare`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let algorithm: Algorithm = args.algorithm.parse()?;
    let engine = Engine::new(algorithm);
    let mut templates: Vec<Template> = Vec::new();
    // Which hand each template is of (two captures per hand).
    let mut hand_of: Vec<u32> = Vec::new();
    // Progress on stderr (a terminal only): extraction, then each kernel's timing passes.
    let bar = Bar::new();
    bar.stage("extract", u64::from(args.captures));
    for k in 0..args.captures {
        let hand = if (k / 2) % 2 == 0 {
            Hand::Right
        } else {
            Hand::Left
        };
        let id = Identity::new(args.seed, k / 4, hand)?;
        let spec = CaptureSpec::sample(&id, Difficulty::Realistic, 1 + k % 2, k);
        let r = render_capture(&id, &spec, 768, 576)?;
        let capture = Capture::hand(hand, Some(r.visible), Some(r.nir));
        if let Ok(t) = engine.extract(&capture, &mut NoExplain) {
            templates.push(t);
            hand_of.push(k / 2);
        }
        bar.inc(1);
    }
    let n = templates.len();
    anyhow::ensure!(n >= 2, "fewer than two templates extracted ({n})");
    let kernels: Vec<Kernel> = match &args.kernel {
        Some(name) => {
            let k = Kernel::from_name(name)
                .ok_or_else(|| anyhow::anyhow!("unknown kernel {name:?}"))?;
            anyhow::ensure!(
                k.is_available(),
                "kernel {name} is not available on this CPU"
            );
            vec![k]
        }
        None => Kernel::available(),
    };
    let min = Duration::from_millis(args.min_ms);
    // One cycle over the ordered pairs (i, j) that `keep` accepts; returns its comparisons and
    // score sum.
    let pairs = |keep: &dyn Fn(usize, usize) -> bool, f: &mut dyn FnMut(usize, usize) -> f32| {
        let (mut done, mut sum) = (0u64, 0f64);
        for i in 0..n {
            for j in (0..n).filter(|&j| keep(i, j)) {
                sum += f(i, j) as f64;
                done += 1;
            }
        }
        (done, sum)
    };
    // Every ordered pair, i ≠ j.
    let cycle = |f: &mut dyn FnMut(usize, usize) -> f32| pairs(&|i, j| i != j, f);
    // The pairs of different hands only.
    let impostor_cycle =
        |f: &mut dyn FnMut(usize, usize) -> f32| pairs(&|i, j| hand_of[i] != hand_of[j], f);
    let score = |c: Result<palmsig_codes::Comparison, _>| c.map_or(-1.0, |c| c.fused);
    let mut per_kernel = serde_json::Map::new();
    let mut checksums = Vec::new();
    bar.stage("kernels", kernels.len() as u64 + 1);
    for &k in &kernels {
        let m: Matcher = engine.matcher().clone().with_kernel(k);
        let prepared: Vec<_> = templates
            .iter()
            .map(|t| m.prepare(t))
            .collect::<Result<_, _>>()?;
        let prepared_cycle =
            || cycle(&mut |i, j| score(m.compare_prepared(&prepared[i], &templates[j])));
        let unprepared_cycle = || cycle(&mut |i, j| score(m.compare(&templates[i], &templates[j])));
        checksums.push(prepared_cycle().1);
        checksums.push(unprepared_cycle().1);
        let prepared_rate = timed(args.repeats, min, || prepared_cycle().0);
        let impostor_rate = timed(args.repeats, min, || {
            impostor_cycle(&mut |i, j| score(m.compare_prepared(&prepared[i], &templates[j]))).0
        });
        let unprepared_rate = timed(args.repeats, min, || unprepared_cycle().0);
        let prepare_rate = timed(args.repeats, min, || {
            for t in &templates {
                let _ = std::hint::black_box(m.prepare(t));
            }
            n as u64
        });
        per_kernel.insert(
            k.name().to_string(),
            json!({
                "prepared_comparisons": prepared_rate,
                "prepared_impostor_comparisons": impostor_rate,
                "unprepared_comparisons": unprepared_rate,
                "prepares": prepare_rate,
            }),
        );
        bar.inc(1);
    }
    let m = engine.matcher();
    let reference_cycle =
        || cycle(&mut |i, j| score(m.compare_scalar(&templates[i], &templates[j])));
    checksums.push(reference_cycle().1);
    let reference_rate = timed(args.repeats.min(3), min, || reference_cycle().0);
    bar.finish();
    let consistent = checksums
        .windows(2)
        .all(|w| w[0].to_bits() == w[1].to_bits());
    println!(
        "{}",
        json!({
            "algorithm": algorithm.name(),
            "threads": 1,
            "templates": n,
            "comparisons_per_cycle": n * (n - 1),
            "min_ms_per_pass": args.min_ms,
            "repeats": args.repeats,
            "kernel_chosen": Kernel::detect().name(),
            "kernels": Value::Object(per_kernel),
            "scalar_reference": { "comparisons": reference_rate },
            "checksums_identical": consistent,
            "checksum": checksums.first().copied().unwrap_or(0.0),
            "load_average": std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|s| s.split_whitespace().next().map(str::to_string)),
        })
    );
    anyhow::ensure!(consistent, "kernels disagree: checksums {checksums:?}");
    Ok(())
}
