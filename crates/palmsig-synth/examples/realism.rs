//! Measure the presets against `shared/real-captures.md`:
//! `cargo run --release -p palmsig-synth --example realism -- [count] [WxH]`.
//!
//! Prints, per difficulty, the median (and p10–p90 where the real set reports them) of hand
//! coverage, NIR hand/background means, Laplacian variance, and ROI mean/std/Laplacian variance,
//! plus the single-thread render speed.
use palmsig_core::Hand;
use palmsig_synth::{parse_size, render_capture, stats, CaptureSpec, Difficulty, Identity};

fn pct(mut v: Vec<f32>, p: f32) -> f32 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f32 * p).round() as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let count: u32 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(40);
    let (w, h) = parse_size(args.get(2).map(String::as_str).unwrap_or("768x576"))?;
    let ids: Vec<Identity> = (1..=5)
        .flat_map(|s| {
            [
                Identity::new(1234, s, Hand::Left),
                Identity::new(1234, s, Hand::Right),
            ]
        })
        .collect::<Result<_, _>>()?;
    println!("real NIR full hand: coverage 0.26-0.37, hand mean 93, bg mean 17, lapvar median 18 (p10 10, p90 34)");
    println!(
        "real NIR ROI: mean 103, std 10, lapvar 3.2; visible ROI: mean 124, std 19, lapvar 29"
    );
    for d in [Difficulty::Easy, Difficulty::Realistic, Difficulty::Hard] {
        let mut all = Vec::new();
        let t0 = std::time::Instant::now();
        for k in 0..count {
            let id = &ids[k as usize % ids.len()];
            let spec = CaptureSpec::sample(id, d, 1 + (k / 10) % 2, k);
            let r = render_capture(id, &spec, w, h)?;
            all.push(stats::measure(&r));
        }
        let secs = t0.elapsed().as_secs_f64();
        let m = stats::median(&all).ok_or("no captures")?;
        let f = |g: fn(&stats::Realism) -> f32| all.iter().map(g).collect::<Vec<f32>>();
        println!(
            "{:9} coverage {:.3} (p10 {:.3}, p90 {:.3}) | NIR hand {:.1} bg {:.1} lapvar {:.1} (p10 {:.1}, p90 {:.1}) | NIR ROI mean {:.1} std {:.1} lapvar {:.1} | VIS ROI mean {:.1} std {:.1} lapvar {:.1} | vis lapvar {:.1} | {:.1} captures/s incl. measuring",
            d.as_str(),
            m.hand_fraction,
            pct(f(|r| r.hand_fraction), 0.1),
            pct(f(|r| r.hand_fraction), 0.9),
            m.nir_hand_mean,
            m.nir_bg_mean,
            m.nir_lapvar,
            pct(f(|r| r.nir_lapvar), 0.1),
            pct(f(|r| r.nir_lapvar), 0.9),
            m.nir_roi_mean,
            m.nir_roi_std,
            m.nir_roi_lapvar,
            m.vis_roi_mean,
            m.vis_roi_std,
            m.vis_roi_lapvar,
            m.vis_lapvar,
            count as f64 / secs
        );
    }
    Ok(())
}
