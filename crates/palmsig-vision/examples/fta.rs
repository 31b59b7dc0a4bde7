//! Failure to acquire, valley accuracy and extraction time on a synthetic batch.
//!
//! ```sh
//! cargo run --release -p palmsig-vision --example fta -- \
//!     --identities 50 --captures 6 --seed 11 --difficulty realistic [--unknown] [--threads 2] \
//!     [--explain DIR]
//! ```
//! Renders the same captures as `palmsig synth --identities N --captures C --seed S
//! --difficulty D --kind hand` (via `palmsig_synth::render_for`), runs `extract_roi` on each
//! visible + NIR pair, and prints FTA with a breakdown by error code, valley error against truth
//! (V1–V3, px and % of frame width), ROI corner error, hand-side accuracy and time per capture.
//! `FTA_EXPLAIN_ONLY=s0003_l_c1,…` also writes the `--explain` images of the listed captures.
//! `FTA_DUMP=1` also prints one `DUMP {json}` line per accepted capture (found valleys, tips, palm
//! centre, ROI corners, truth corners and pose) for registration-consistency analysis.

use std::collections::BTreeMap;
use std::time::Instant;

use palmsig_core::Hand;
use palmsig_synth::{render_for, DatasetConfig, Difficulty, Identity};
use palmsig_vision::{extract_roi, Capture, DirSink, NoExplain};

#[derive(Default)]
struct Acc {
    n: usize,
    fail: BTreeMap<String, Vec<String>>,
    valley_err: Vec<f32>,
    corner_err: Vec<f32>,
    side_wrong: usize,
    secs: f64,
    fail_expected: usize,
    scores: Vec<f32>,
    along_y: Vec<f32>,
    bad: Vec<String>,
    gap_radii: Vec<f32>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: &str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
            .unwrap_or_else(|| default.to_string())
    };
    let identities: u32 = get("--identities", "50").parse().expect("--identities N");
    let captures: u32 = get("--captures", "6").parse().expect("--captures N");
    let seed: u64 = get("--seed", "11").parse().expect("--seed N");
    let difficulty: Difficulty = get("--difficulty", "realistic")
        .parse()
        .expect("--difficulty");
    let threads: usize = get("--threads", "2").parse().expect("--threads N");
    let first: u32 = get("--first", "1").parse().expect("--first N");
    let unknown = args.iter().any(|a| a == "--unknown");
    let explain = args
        .iter()
        .position(|a| a == "--explain")
        .and_then(|i| args.get(i + 1).cloned());
    let mut cfg = DatasetConfig::new(identities, captures, seed);
    cfg.difficulty = difficulty;
    let subjects: Vec<u32> = (first..first + identities).collect();
    let chunks: Vec<Vec<u32>> = (0..threads)
        .map(|t| subjects.iter().copied().skip(t).step_by(threads).collect())
        .collect();
    let results: Vec<Acc> = std::thread::scope(|s| {
        let hs: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                let cfg = cfg.clone();
                let explain = explain.clone();
                s.spawn(move || {
                    let mut acc = Acc::default();
                    for &subject in chunk {
                        for hand in [Hand::Left, Hand::Right] {
                            let id = Identity::new(seed, subject, hand).expect("identity");
                            for k in 0..captures {
                                let r = render_for(&cfg, &id, k).expect("render");
                                let name = format!("s{subject:04}_{}_c{}", &hand.as_str()[..1], k + 1);
                                let label = if unknown { Hand::Unknown } else { hand };
                                let cap = Capture::hand(label, Some(r.visible), Some(r.nir));
                                let t0 = Instant::now();
                                let res = extract_roi(&cap, &mut NoExplain);
                                acc.secs += t0.elapsed().as_secs_f64();
                                acc.n += 1;
                                if acc.n % 200 == 0 {
                                    let f: usize = acc.fail.values().map(|v| v.len()).sum();
                                    eprintln!("progress: a worker has done {} captures, {f} failures", acc.n);
                                }
                                match res {
                                    Ok(pair) => {
                                        let kp = pair.quality.keypoints.expect("keypoints");
                                        let t = &r.truth.valleys;
                                        let found = [kp.valleys.v1, kp.valleys.v2, kp.valleys.v3];
                                        let mut worst = 0f32;
                                        // Signed offset along the truth frame's ŷ (towards the wrist).
                                        let (t1, t3) = (t[1], t[3]);
                                        let d = t1.dist(t3).max(1e-3);
                                        let x = ((t1.x - t3.x) / d, (t1.y - t3.y) / d);
                                        let away = (r.truth.roi_corners[3].x - r.truth.roi_corners[0].x, r.truth.roi_corners[3].y - r.truth.roi_corners[0].y);
                                        let mut y = (-x.1, x.0);
                                        if y.0 * away.0 + y.1 * away.1 < 0.0 {
                                            y = (-y.0, -y.1);
                                        }
                                        for (f, tv) in found.iter().zip(&t[1..]) {
                                            acc.valley_err.push(f.dist(*tv));
                                            acc.along_y.push((f.x - tv.x) * y.0 + (f.y - tv.y) * y.1);
                                            worst = worst.max(f.dist(*tv));
                                        }
                                        if std::env::var_os("FTA_VERBOSE").is_some() {
                                            eprintln!(
                                                "{name}: found {:?} truth {:?} score {:.2}",
                                                found.map(|p| (p.x.round(), p.y.round())),
                                                [t[1], t[2], t[3]].map(|p| (p.x.round(), p.y.round())),
                                                kp.valleys.pattern_score
                                            );
                                        }
                                        let listed = std::env::var("FTA_EXPLAIN_ONLY")
                                            .is_ok_and(|v| v.split(',').any(|n| n == name));
                                        if worst > 0.04 * cfg.width as f32 || listed {
                                            acc.bad.push(format!(
                                                "{name}: worst valley error {worst:.0} px; found {:?} truth {:?} score {:.2}",
                                                found.map(|p| (p.x.round(), p.y.round())),
                                                [t[1], t[2], t[3]].map(|p| (p.x.round(), p.y.round())),
                                                kp.valleys.pattern_score
                                            ));
                                            if let Some(dir) = &explain {
                                                if let Ok(mut sink) = DirSink::new(dir, &format!("bad_{name}")) {
                                                    let _ = extract_roi(&cap, &mut sink);
                                                }
                                            }
                                        }
                                        let ce = kp
                                            .corners
                                            .iter()
                                            .zip(&r.truth.roi_corners)
                                            .map(|(a, b)| a.dist(*b))
                                            .fold(0.0f32, f32::max);
                                        acc.corner_err.push(ce);
                                        if std::env::var_os("FTA_DUMP").is_some() {
                                            let ps = |v: &[palmsig_core::Point]| v.iter().map(|p| format!("[{:.2},{:.2}]", p.x, p.y)).collect::<Vec<_>>().join(",");
                                            println!(
                                                "DUMP {{\"name\":\"{name}\",\"v\":[{}],\"tips\":[{}],\"pc\":[{:.2},{:.2},{:.2}],\"det\":[{}],\"truth\":[{}],\"rot\":{},\"t\":[{},{}],\"ppm\":{}}}",
                                                ps(&[kp.valleys.v1, kp.valleys.v2, kp.valleys.v3]), ps(&kp.valleys.tips), kp.valleys.palm_centre.x, kp.valleys.palm_centre.y, kp.valleys.palm_radius, ps(&kp.corners), ps(&r.truth.roi_corners), r.truth.pose.rotation_deg,
                                                r.truth.pose.translation[0], r.truth.pose.translation[1], r.truth.pose.px_per_mm
                                            );
                                        }
                                        acc.scores.push(kp.valleys.pattern_score);
                                        acc.gap_radii.push(
                                            (kp.valleys.v1.dist(kp.valleys.v3) / 2.0) / kp.valleys.palm_radius,
                                        );
                                        if pair.quality.hand != hand {
                                            acc.side_wrong += 1;
                                        }
                                    }
                                    Err(e) => {
                                        if r.truth.occluded || r.truth.out_of_frame {
                                            acc.fail_expected += 1;
                                        }
                                        acc.fail.entry(e.code().to_string()).or_default().push(format!(
                                            "{name} rot {:.0} occl {} oof {}: {e}",
                                            r.truth.pose.rotation_deg, r.truth.occluded, r.truth.out_of_frame
                                        ));
                                        if let Some(dir) = &explain {
                                            if let Ok(mut sink) = DirSink::new(dir, &name) {
                                                let _ = extract_roi(&cap, &mut sink);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    acc
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("worker")).collect()
    });
    let mut all = Acc::default();
    for a in results {
        all.n += a.n;
        all.secs += a.secs;
        all.side_wrong += a.side_wrong;
        all.fail_expected += a.fail_expected;
        all.valley_err.extend(a.valley_err);
        all.corner_err.extend(a.corner_err);
        all.scores.extend(a.scores);
        all.along_y.extend(a.along_y);
        all.bad.extend(a.bad);
        all.gap_radii.extend(a.gap_radii);
        for (k, v) in a.fail {
            all.fail.entry(k).or_default().extend(v);
        }
    }
    let fails: usize = all.fail.values().map(|v| v.len()).sum();
    let width = cfg.width as f32;
    let stats = |v: &mut Vec<f32>| -> (f32, f32, f32) {
        if v.is_empty() {
            return (0.0, 0.0, 0.0);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let mean = v.iter().sum::<f32>() / v.len() as f32;
        (
            mean,
            v[(v.len() * 95 / 100).min(v.len() - 1)],
            v[v.len() - 1],
        )
    };
    println!(
        "captures {} ({} identities x 2 hands x {} captures, seed {seed}, {difficulty:?}, labels {})",
        all.n,
        identities,
        captures,
        if unknown { "unknown" } else { "given" }
    );
    println!(
        "FTA {:.2}% ({fails} failures; {} of them on captures the generator occluded or pushed out of frame)",
        100.0 * fails as f32 / all.n as f32,
        all.fail_expected
    );
    for (k, v) in &all.fail {
        println!("  {k}: {}", v.len());
        for line in v.iter().take(4) {
            println!("    {line}");
        }
    }
    let (m, p95, mx) = stats(&mut all.valley_err);
    println!(
        "valley error V1-V3 (px): mean {m:.2}, p95 {p95:.2}, max {mx:.2}  (% of frame width: mean {:.2}, max {:.2})",
        100.0 * m / width,
        100.0 * mx / width
    );
    println!(
        "accepted with a valley error > 4% of the frame width: {}",
        all.bad.len()
    );
    for line in all.bad.iter().take(8) {
        println!("    {line}");
    }
    let mut ay = all.along_y.clone();
    ay.sort_by(|a, b| a.total_cmp(b));
    if !ay.is_empty() {
        println!(
            "valley offset found-truth along the palm axis (+ = towards the wrist), px: median {:.1}, mean {:.1}",
            ay[ay.len() / 2],
            ay.iter().sum::<f32>() / ay.len() as f32
        );
    }
    let (m, p95, mx) = stats(&mut all.corner_err);
    println!("ROI corner error, worst corner (px): mean {m:.2}, p95 {p95:.2}, max {mx:.2}");
    println!("hand side wrong: {}", all.side_wrong);
    let (m, p95, mx) = stats(&mut all.scores);
    println!("finger pattern score: mean {m:.2}, p95 {p95:.2}, max {mx:.2}");
    let (m, p95, mx) = stats(&mut all.gap_radii);
    println!("valley gap / palm radius: mean {m:.2}, p95 {p95:.2}, max {mx:.2}");
    println!(
        "extract_roi time per capture (visible+NIR, one core): {:.2} ms",
        1000.0 * all.secs / all.n as f64
    );
}
