//! Development analysis of the score tails (not a product command: `palmsig eval` is). Reads a
//! `palmsig synth` folder (`manifest.csv`, and `truth.jsonl` when present for the occluder and
//! out-of-frame flags), extracts every capture, compares cross-session (session-1 gallery vs
//! later probes) and all pairs, and prints EER / FNMR per modality, then the worst genuine pairs
//! and the best impostor pairs with the captures' names and flags: where the errors come from.
//!
//! Each capture's flags also show its frame geometry: `pat` (finger-pattern implausibility),
//! `ang` (degrees between the valley line's normal and the direction to the palm centre), `sc`
//! (log of the valley span over the span the palm's radius implies), `u`/`w` (ROI centre from
//! the palm centre along x̂/ŷ, in palm radii), `tl` (the farthest fingertip from the palm centre,
//! in palm radii). `TAILS_GEO=1` prints them for every capture.
//!
//! Against the generator's truth: `<verr>` is the farthest of V1–V3 from its true place, in
//! spans of the true V1–V3; `{reg dx dy dθ ds}` places the ROI in the true valley frame, less
//! the median over its class (a wrong finger row shows as a turn of 10–25°; spread and tilt move
//! true valleys too, so a few degrees are normal); `(val)` is the fewer valid samples of the two
//! codes (occluders masked). `TAILS_REG=1` prints the registration of every capture.
//!
//! ```text
//! cargo run --release -p palmsig-codes --example tails -- DATASET_DIR [--worst 40] [--algorithm compcode]
//! ```
use palmsig_codes::{Algorithm, Engine, Template};
use palmsig_core::{CaptureKind, Hand};
use palmsig_vision::{Capture, NoExplain};
use rayon::prelude::*;
use std::path::Path;

struct Row {
    /// Engine ROI in the true valley frame: centre x, y (valley spans), angle (deg), side/span.
    reg: Option<[f32; 4]>,
    id: String,
    class: String,
    session: String,
    flags: String,
    tpl: Result<Template, String>,
}

fn parse_manifest(dir: &Path) -> Vec<(String, String, String, String, String, String)> {
    let text = std::fs::read_to_string(dir.join("manifest.csv")).expect("manifest.csv");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (c, s, h, se, v, n) = (
        col("capture"),
        col("subject"),
        col("hand"),
        col("session"),
        col("visible"),
        col("nir"),
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[c].to_string(),
                format!("{}_{}", f[s], f[h]),
                f[h].to_string(),
                f[se].to_string(),
                f[v].to_string(),
                f[n].to_string(),
            )
        })
        .collect()
}

/// The lines of truth.jsonl with their capture ids (none when the file is absent).
fn truth_lines(dir: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(dir.join("truth.jsonl")) else {
        return Vec::new();
    };
    text.lines()
        .map(|l| {
            let id = l
                .split("\"capture\":\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("")
                .to_string();
            (id, l.to_string())
        })
        .collect()
}

/// Flags per capture id from truth.jsonl (occluded, out of frame), by plain text search.
fn truth_flags(dir: &Path) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::new();
    for (id, l) in truth_lines(dir) {
        let mut f = String::new();
        if l.contains("\"occluded\":true") {
            f.push_str("OCC ");
        }
        if l.contains("\"out_of_frame\":true") {
            f.push_str("OOF ");
        }
        m.insert(id, f);
    }
    m
}

/// True valleys V0–V3 per capture id from truth.jsonl (V1 and V3 are the generator's ROI base).
fn truth_valleys(dir: &Path) -> std::collections::HashMap<String, [(f32, f32); 4]> {
    let mut m = std::collections::HashMap::new();
    for (id, l) in truth_lines(dir) {
        let Some(v) = l
            .split("\"valleys\":[")
            .nth(1)
            .and_then(|r| r.split(']').next())
        else {
            continue;
        };
        let nums: Vec<f32> = v
            .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e'))
            .filter_map(|t| t.parse().ok())
            .collect();
        if nums.len() >= 8 {
            m.insert(
                id,
                [
                    (nums[0], nums[1]),
                    (nums[2], nums[3]),
                    (nums[4], nums[5]),
                    (nums[6], nums[7]),
                ],
            );
        }
    }
    m
}

fn eer(gen: &[f32], imp: &[f32]) -> (f64, f64, f64, f32) {
    let mut g = gen.to_vec();
    let mut i = imp.to_vec();
    g.sort_by(f32::total_cmp);
    i.sort_by(f32::total_cmp);
    let fnmr = |t: f32| g.partition_point(|&x| x < t) as f64 / g.len() as f64;
    let fmr = |t: f32| (i.len() - i.partition_point(|&x| x < t)) as f64 / i.len() as f64;
    // Bisection on the threshold over the score range.
    let (mut lo, mut hi) = (-1.0f32, 400.0f32);
    for _ in 0..60 {
        let m = 0.5 * (lo + hi);
        if fnmr(m) < fmr(m) {
            lo = m
        } else {
            hi = m
        }
    }
    let e = 0.5 * (fnmr(hi) + fmr(hi));
    let at = |r: f64| {
        let k = ((1.0 - r) * i.len() as f64).ceil() as usize;
        let t = i[k.min(i.len() - 1)];
        g.partition_point(|&x| x <= t) as f64 / g.len() as f64
    };
    (e, at(1e-3), at(1e-4), hi)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(&args[1]);
    let opt = |n: &str| {
        args.iter()
            .position(|a| a == n)
            .map(|i| args[i + 1].clone())
    };
    let worst: usize = opt("--worst").and_then(|v| v.parse().ok()).unwrap_or(40);
    let algo: Algorithm = opt("--algorithm")
        .and_then(|v| v.parse().ok())
        .unwrap_or_default();
    let flags = truth_flags(dir);
    let tv = truth_valleys(dir);
    let engine = Engine::new(algo);
    let t0 = std::time::Instant::now();
    let rows: Vec<Row> = parse_manifest(dir)
        .into_par_iter()
        .map(|(id, class, hand, session, v, n)| {
            let load =
                |p: &str| (!p.is_empty()).then(|| palmsig_vision::load(dir.join(p)).unwrap());
            let cap = Capture {
                kind: CaptureKind::Hand,
                hand: hand.parse().unwrap_or(Hand::Unknown),
                visible: load(&v),
                nir: load(&n),
            };
            let mut geo = String::new();
            let mut reg = None;
            let tpl = palmsig_vision::extract_roi(&cap, &mut NoExplain)
                .map_err(|e| e.code().to_string())
                .and_then(|roi| {
                    if let Some(k) = &roi.quality.keypoints {
                        let v = &k.valleys;
                        // Angle between the valley line's normal and the direction to the palm
                        // centre; log ratio of the span to the palm radius cue.
                        let x = unit(palmsig_core::Point::new(v.v1.x - v.v3.x, v.v1.y - v.v3.y));
                        let m = palmsig_core::Point::new(
                            (v.v1.x + v.v3.x) / 2.0,
                            (v.v1.y + v.v3.y) / 2.0,
                        );
                        let c = unit(palmsig_core::Point::new(
                            v.palm_centre.x - m.x,
                            v.palm_centre.y - m.y,
                        ));
                        let ang = (x.x * c.x + x.y * c.y).abs().asin().to_degrees();
                        let sc = (v.v1.dist(v.v3) / (0.94 * v.palm_radius)).ln();
                        // ROI centre relative to the palm centre, in the ROI frame, in palm radii.
                        let f = &k.frame;
                        let s2 = f.side / 2.0;
                        let rc = palmsig_core::Point::new(
                            f.top_left.x + s2 * (f.x_axis.x + f.y_axis.x),
                            f.top_left.y + s2 * (f.x_axis.y + f.y_axis.y),
                        );
                        let d = palmsig_core::Point::new(
                            rc.x - v.palm_centre.x,
                            rc.y - v.palm_centre.y,
                        );
                        let (u, w) = (
                            (d.x * f.x_axis.x + d.y * f.x_axis.y) / v.palm_radius,
                            (d.x * f.y_axis.x + d.y * f.y_axis.y) / v.palm_radius,
                        );
                        if let Some([_, a, tv2, b]) = tv.get(&id) {
                            // Valley error: the farthest of V1..V3 from its true place, in spans.
                            let span = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
                            let e = [(v.v1, a), (v.v2, tv2), (v.v3, b)]
                                .iter()
                                .map(|(p, t)| ((p.x - t.0).powi(2) + (p.y - t.1).powi(2)).sqrt())
                                .fold(0f32, f32::max)
                                / span;
                            geo.push_str(&format!("<verr {e:.2}> "));
                            let mut tx = unit(palmsig_core::Point::new(b.0 - a.0, b.1 - a.1));
                            if tx.x * f.x_axis.x + tx.y * f.x_axis.y < 0.0 {
                                tx = palmsig_core::Point::new(-tx.x, -tx.y);
                            }
                            let mut ty = palmsig_core::Point::new(-tx.y, tx.x);
                            if ty.x * f.y_axis.x + ty.y * f.y_axis.y < 0.0 {
                                ty = palmsig_core::Point::new(-ty.x, -ty.y);
                            }
                            let span = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
                            let o = palmsig_core::Point::new(
                                rc.x - 0.5 * (a.0 + b.0),
                                rc.y - 0.5 * (a.1 + b.1),
                            );
                            let ang = (f.x_axis.x * ty.x + f.x_axis.y * ty.y)
                                .atan2(f.x_axis.x * tx.x + f.x_axis.y * tx.y)
                                .to_degrees();
                            reg = Some([
                                (o.x * tx.x + o.y * tx.y) / span,
                                (o.x * ty.x + o.y * ty.y) / span,
                                ang,
                                f.side / span,
                            ]);
                        }
                        let tl = v
                            .tips
                            .iter()
                            .map(|t| t.dist(v.palm_centre))
                            .fold(0f32, f32::max)
                            / v.palm_radius;
                        geo += &format!(
                            "[pat {:.2} ang {:.0} sc {:+.2} u {:+.2} w {:+.2} tl {:.2}] ",
                            v.pattern_score, ang, sc, u, w, tl
                        );
                    }
                    engine
                        .encode_roi(roi.visible.as_ref(), roi.nir.as_ref())
                        .map_err(|e| e.code().to_string())
                });
            if let Ok(t) = &tpl {
                let v = t.codes().map(|c| c.valid_count()).min().unwrap_or(0);
                geo += &format!("(val {v}) ");
            }
            Row {
                reg,
                flags: format!("{}{}", flags.get(&id).cloned().unwrap_or_default(), geo),
                id,
                class,
                session,
                tpl,
            }
        })
        .collect();
    let mut rows = rows;
    // Registration error: each capture's engine ROI against its class's median, in true terms.
    {
        let mut by = std::collections::HashMap::<String, Vec<[f32; 4]>>::new();
        for r in &rows {
            if let Some(g) = r.reg {
                by.entry(r.class.clone()).or_default().push(g);
            }
        }
        let med: std::collections::HashMap<String, [f32; 4]> = by
            .into_iter()
            .map(|(k, v)| {
                let mut m = [0f32; 4];
                for (j, mj) in m.iter_mut().enumerate() {
                    let mut c: Vec<f32> = v.iter().map(|g| g[j]).collect();
                    c.sort_by(f32::total_cmp);
                    *mj = c[c.len() / 2];
                }
                (k, m)
            })
            .collect();
        for r in &mut rows {
            if let (Some(g), Some(m)) = (r.reg, med.get(&r.class)) {
                r.flags.push_str(&format!(
                    "{{reg {:+.2} {:+.2} {:+.0}d {:+.2}}} ",
                    g[0] - m[0],
                    g[1] - m[1],
                    g[2] - m[2],
                    (g[3] / m[3]).ln()
                ));
            }
        }
        if std::env::var("TAILS_REG").is_ok() {
            for r in rows.iter().filter(|r| r.reg.is_some()) {
                let g = r.reg.unwrap();
                let m = med[&r.class];
                println!(
                    "REG {} {:.4} {:.4} {:.2} {:.4} {}",
                    r.id,
                    g[0] - m[0],
                    g[1] - m[1],
                    g[2] - m[2],
                    (g[3] / m[3]).ln(),
                    r.flags
                );
            }
        }
    }
    let fta: Vec<&Row> = rows.iter().filter(|r| r.tpl.is_err()).collect();
    println!(
        "# {} captures, FTA {} ({:.2}%), extracted in {:.1}s",
        rows.len(),
        fta.len(),
        100.0 * fta.len() as f64 / rows.len() as f64,
        t0.elapsed().as_secs_f32()
    );
    for r in &fta {
        println!("FTA {} {} {}", r.id, r.flags, r.tpl.as_ref().err().unwrap());
    }
    if std::env::var("TAILS_GEO").is_ok() {
        for r in rows.iter().filter(|r| r.tpl.is_ok()) {
            println!("GEO {} {}", r.id, r.flags);
        }
    }
    let m = engine.matcher();
    let ok: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].tpl.is_ok()).collect();
    // Gallery = captures of each class's first session (by label).
    let mut first = std::collections::HashMap::<&str, &str>::new();
    for r in &rows {
        let e = first.entry(&r.class).or_insert(&r.session);
        if r.session.as_str() < *e {
            *e = &r.session;
        }
    }
    let gal: Vec<bool> = rows
        .iter()
        .map(|r| first[r.class.as_str()] == r.session)
        .collect();
    type Pair = (
        usize,
        usize,
        bool,
        f32,
        Option<f32>,
        Option<f32>,
        Option<f32>,
        Option<f32>,
    );
    for protocol in ["cross-session", "all-pairs"] {
        let pairs: Vec<Pair> = ok
            .par_iter()
            .flat_map_iter(|&a| {
                let p = m.prepare(rows[a].tpl.as_ref().unwrap()).unwrap();
                let (rows, ok, m, gal) = (&rows, &ok, &m, &gal);
                ok.iter().filter_map(move |&b| {
                    let keep = if protocol == "all-pairs" {
                        b > a
                    } else {
                        // a: probe (later session), b: gallery (its class's first session).
                        !gal[a] && gal[b]
                    };
                    if !keep {
                        return None;
                    }
                    let c = m.compare_prepared(&p, rows[b].tpl.as_ref().unwrap()).ok()?;
                    Some((
                        a,
                        b,
                        rows[a].class == rows[b].class,
                        c.fused,
                        c.surface,
                        c.vein,
                        c.surface_distance,
                        c.vein_distance,
                    ))
                })
            })
            .collect();
        let gen: Vec<&Pair> = pairs.iter().filter(|p| p.2).collect();
        let imp: Vec<&Pair> = pairs.iter().filter(|p| !p.2).collect();
        println!(
            "\n## {protocol}: {} genuine, {} impostor",
            gen.len(),
            imp.len()
        );
        for (name, sel) in [("fused", 0), ("surface", 1), ("vein", 2)] {
            let pick = |p: &&Pair| match sel {
                0 => Some(p.3),
                1 => p.4,
                _ => p.5,
            };
            let g: Vec<f32> = gen.iter().filter_map(pick).collect();
            let i: Vec<f32> = imp.iter().filter_map(pick).collect();
            let (e, f3, f4, t) = eer(&g, &i);
            println!(
                "{name:8} EER {:.3}% (thr {t:.2}) FNMR@1e-3 {:.3}% FNMR@1e-4 {:.3}%",
                100.0 * e,
                100.0 * f3,
                100.0 * f4
            );
        }
        let mut g = gen.clone();
        g.sort_by(|a, b| a.3.total_cmp(&b.3));
        println!("worst genuine (fused, surface, vein scores; distances):");
        let show = |p: &Pair, flags: bool| {
            let f = |i: usize| if flags { rows[i].flags.as_str() } else { "" };
            println!(
                "  {:7.2} s {:6.2} v {:6.2} | ds {:.3} dv {:.3} | {} {}| {} {}",
                p.3,
                p.4.unwrap_or(-1.0),
                p.5.unwrap_or(-1.0),
                p.6.unwrap_or(-1.0),
                p.7.unwrap_or(-1.0),
                rows[p.0].id,
                f(p.0),
                rows[p.1].id,
                f(p.1)
            );
        };
        for p in g.iter().take(worst) {
            show(p, true);
        }
        // Captures in the worst genuine pairs.
        let mut count = std::collections::HashMap::<usize, usize>::new();
        for p in g.iter().take(worst) {
            *count.entry(p.0).or_default() += 1;
            *count.entry(p.1).or_default() += 1;
        }
        let mut c: Vec<_> = count.into_iter().filter(|x| x.1 >= 2).collect();
        c.sort_by_key(|x| std::cmp::Reverse(x.1));
        println!(
            "captures in >=2 of them: {}",
            c.iter()
                .map(|(i, n)| format!("{}x{} {}", rows[*i].id, n, rows[*i].flags))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let mut im = imp.clone();
        im.sort_by(|a, b| b.3.total_cmp(&a.3));
        println!("best impostors:");
        for p in im.iter().take(10) {
            show(p, false);
        }
    }
}

fn unit(p: palmsig_core::Point) -> palmsig_core::Point {
    let n = (p.x * p.x + p.y * p.y).sqrt().max(1e-6);
    palmsig_core::Point::new(p.x / n, p.y / n)
}
