//! `palmsig bench synth`: synthetic capture generation speed on one thread.

use palmsig_core::Hand;
use palmsig_synth::{parse_size, render_capture, CaptureSpec, Difficulty, Identity};

/// Arguments of `palmsig bench synth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Frame size WIDTHxHEIGHT.
    #[arg(long, default_value = "640x480")]
    size: String,
    /// Captures to render (after one warm-up).
    #[arg(long, default_value_t = 60)]
    count: u32,
    /// easy, realistic or hard.
    #[arg(long, default_value = "realistic")]
    difficulty: String,
}

/// Run `palmsig bench synth`: renders `count` captures (visible + NIR each) of 4 identities on
/// the calling thread and prints JSON. Identity textures are built once beforehand (as the
/// dataset writer caches them) and timed separately.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (w, h) = parse_size(&args.size)?;
    let difficulty: Difficulty = args.difficulty.parse()?;
    anyhow::ensure!(args.count > 0, "--count must be at least 1");
    let t0 = std::time::Instant::now();
    let ids: Vec<Identity> = (1..=2)
        .flat_map(|s| {
            [
                Identity::new(99, s, Hand::Left),
                Identity::new(99, s, Hand::Right),
            ]
        })
        .collect::<Result<_, _>>()?;
    let identity_ms = t0.elapsed().as_secs_f64() * 1000.0 / ids.len() as f64;
    let specs: Vec<(usize, CaptureSpec)> = (0..args.count)
        .map(|k| {
            let i = k as usize % ids.len();
            (
                i,
                CaptureSpec::sample(&ids[i], difficulty, 1 + (k / 8) % 2, k),
            )
        })
        .collect();
    render_capture(&ids[0], &specs[0].1, w, h)?;
    let cpu0 = super::thread_cpu_s();
    let t1 = std::time::Instant::now();
    let mut checksum = 0u64;
    for (i, spec) in &specs {
        let r = render_capture(&ids[*i], spec, w, h)?;
        checksum = checksum.wrapping_add(
            r.visible.as_slice()[w * h / 2] as u64 + r.nir.as_slice()[w * h / 3] as u64,
        );
    }
    let secs = t1.elapsed().as_secs_f64();
    let cpu = match (cpu0, super::thread_cpu_s()) {
        (Some(a), Some(b)) if b > a => Some(b - a),
        _ => None,
    };
    println!(
        "{}",
        serde_json::json!({
            "bench": "synth",
            "size": format!("{w}x{h}"),
            "difficulty": difficulty.as_str(),
            "threads": 1,
            "captures": args.count,
            "seconds": secs,
            "captures_per_s": args.count as f64 / secs,
            // On a shared machine wall time includes waiting for the CPU; this counts only the
            // time this thread was on a core (Linux), i.e. captures per second of one core.
            "cpu_seconds": cpu,
            "captures_per_cpu_s": cpu.map(|c| args.count as f64 / c),
            "ms_per_capture": secs * 1000.0 / args.count as f64,
            "identity_build_ms": identity_ms,
            "checksum": checksum,
        })
    );
    Ok(())
}
