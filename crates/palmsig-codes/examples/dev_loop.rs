//! Development loop for engine changes (not a product command: `palmsig eval` is): extracts every
//! capture of a manifest (the shared contract's columns) with each algorithm asked for and prints,
//! per protocol split, FTA, EER and FNMR at FMR 1e-2 / 1e-3 of the surface, vein and fused scores,
//! with the measured FMR at the calibrated thresholds. It depends only on vision and codes, so it
//! rebuilds in seconds after a coding change.
//!
//! ```text
//! cargo run --release -p palmsig-codes --example dev_loop -- MANIFEST [compcode,bocv] [--all-pairs]
//! ```
//! With `--fails N` it also lists the N weakest genuine pairs (capture ids and scores).
use palmsig_codes::{Algorithm, Comparison, Engine, ModalitySelection, Template};
use palmsig_core::{CaptureKind, Hand};
use palmsig_vision::{load, Capture, NoExplain};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

struct Row {
    id: String,
    class: String,
    session: String,
    kind: CaptureKind,
    hand: Hand,
    visible: Option<PathBuf>,
    nir: Option<PathBuf>,
}

fn rows(manifest: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(manifest).expect("manifest");
    let dir = manifest.parent().unwrap_or(Path::new("."));
    let mut lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty());
    let head: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| head.iter().position(|h| *h == n).expect(n);
    let (c, s, h, se, k, v, n) = (
        col("capture"),
        col("subject"),
        col("hand"),
        col("session"),
        col("kind"),
        col("visible"),
        col("nir"),
    );
    let path = |p: &str| (!p.is_empty()).then(|| dir.join(p));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let hand = match f[h] {
                "left" => Hand::Left,
                "right" => Hand::Right,
                _ => Hand::Unknown,
            };
            Row {
                id: f[c].into(),
                class: format!("{}/{}", f[s], f[h]),
                session: f[se].into(),
                kind: if f[k] == "roi" {
                    CaptureKind::Roi
                } else {
                    CaptureKind::Hand
                },
                hand,
                visible: path(f[v]),
                nir: path(f[n]),
            }
        })
        .collect()
}

/// The row's capture, an unreadable image left out (extraction then says why).
fn capture(r: &Row) -> Capture {
    let img = |p: &Option<PathBuf>| p.as_ref().and_then(|p| load(p).ok());
    Capture {
        kind: r.kind,
        hand: r.hand,
        visible: img(&r.visible),
        nir: img(&r.nir),
    }
}

fn extract(e: &Engine, r: &Row) -> Result<Template, String> {
    let img = |p: &Option<PathBuf>| p.as_ref().map(|p| load(p).map_err(|e| e.to_string()));
    let capture = Capture {
        kind: r.kind,
        hand: r.hand,
        visible: img(&r.visible).transpose()?,
        nir: img(&r.nir).transpose()?,
    };
    e.extract(&capture, &mut NoExplain)
        .map_err(|e| e.code().to_string())
}

/// EER and FNMR at the given FMRs of (genuine, impostor) scores (higher = more similar).
fn rates(gen: &[f32], imp: &[f32], fmrs: &[f64]) -> (f64, Vec<Option<f64>>) {
    let mut imp = imp.to_vec();
    imp.sort_by(|a, b| b.total_cmp(a));
    let fnmr_at = |t: f32| gen.iter().filter(|&&g| g < t).count() as f64 / gen.len() as f64;
    let fmr_at = |t: f32| imp.iter().filter(|&&s| s >= t).count() as f64 / imp.len() as f64;
    let mut cands: Vec<f32> = gen.iter().chain(imp.iter()).copied().collect();
    cands.sort_by(f32::total_cmp);
    cands.dedup();
    let mut eer = 1.0f64;
    for &t in &cands {
        let (a, b) = (fmr_at(t), fnmr_at(t));
        eer = eer.min(a.max(b));
    }
    let at = fmrs
        .iter()
        .map(|&f| {
            let k = (f * imp.len() as f64).floor() as usize;
            (imp.len() as f64 * f >= 3.0).then(|| {
                // Smallest threshold with at most k impostors at or above it.
                let t = if k == 0 {
                    imp[0] + 1e-6
                } else {
                    let t = imp[k - 1];
                    if k < imp.len() && imp[k] == t {
                        t + 1e-6
                    } else {
                        t
                    }
                };
                fnmr_at(t)
            })
        })
        .collect();
    (eer, at)
}

fn pct(v: Option<f64>) -> String {
    v.map_or("  -  ".into(), |v| format!("{:5.2}%", 100.0 * v))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let manifest = PathBuf::from(&args[0]);
    let algs: Vec<Algorithm> = args
        .get(1)
        .filter(|a| !a.starts_with("--"))
        .map_or("bocv", |s| s.as_str())
        .split(',')
        .map(|a| a.parse().expect("algorithm"))
        .collect();
    let all_pairs = args.iter().any(|a| a == "--all-pairs");
    let fails: usize = args
        .iter()
        .position(|a| a == "--fails")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rows = rows(&manifest);
    if let Some(i) = args.iter().position(|a| a == "--explain-fails") {
        let dir = PathBuf::from(&args[i + 1]);
        let e = Engine::new(Algorithm::Bocv);
        for r in &rows {
            if extract(&e, r).is_err() {
                let mut sink = palmsig_vision::DirSink::new(&dir, &r.id).expect("dir");
                let c = capture(r);
                println!("{}: {:?}", r.id, e.extract(&c, &mut sink).err());
            }
        }
        return;
    }
    if args.iter().any(|a| a == "--time") {
        time(&rows);
        return;
    }
    if args.iter().any(|a| a == "--geom") {
        geom(&rows);
        return;
    }
    for alg in algs {
        let e = Engine::new(alg);
        let t0 = std::time::Instant::now();
        let ts: Vec<Result<Template, String>> = rows.par_iter().map(|r| extract(&e, r)).collect();
        let secs = t0.elapsed().as_secs_f64();
        let mut why: BTreeMap<String, usize> = BTreeMap::new();
        for t in ts.iter().filter_map(|t| t.as_ref().err()) {
            *why.entry(t.clone()).or_default() += 1;
        }
        let nfail: usize = why.values().sum();
        let first: BTreeMap<&str, &str> = rows.iter().fold(BTreeMap::new(), |mut m, r| {
            let s = m.entry(r.class.as_str()).or_insert(r.session.as_str());
            if r.session.as_str() < *s {
                *s = r.session.as_str();
            }
            m
        });
        let m = e.matcher();
        // Pairs (i, j): cross-session = i a probe (not first session), j a gallery capture.
        let pairs: Vec<(usize, usize)> = (0..rows.len())
            .flat_map(|i| (0..rows.len()).map(move |j| (i, j)))
            .filter(|&(i, j)| {
                if all_pairs {
                    i < j
                } else {
                    rows[i].session != first[rows[i].class.as_str()]
                        && rows[j].session == first[rows[j].class.as_str()]
                }
            })
            .collect();
        let scored: Vec<(bool, usize, usize, Comparison)> = pairs
            .par_iter()
            .filter_map(|&(i, j)| {
                let (a, b) = (ts[i].as_ref().ok()?, ts[j].as_ref().ok()?);
                let c = m.compare(a, b).ok()?;
                Some((rows[i].class == rows[j].class, i, j, c))
            })
            .collect();
        println!(
            "{alg}: {} captures, FTA {} ({why:?}), extract {:.1} ms/capture (2 threads)",
            rows.len(),
            pct(Some(nfail as f64 / rows.len() as f64)),
            1000.0 * secs * 2.0 / rows.len() as f64
        );
        for (name, sel) in [
            ("surface", ModalitySelection::Visible),
            ("vein", ModalitySelection::Nir),
            ("fused", ModalitySelection::Fused),
        ] {
            let (mut g, mut im) = (vec![], vec![]);
            for (gen, _, _, c) in &scored {
                let s = match sel {
                    ModalitySelection::Visible => c.surface,
                    ModalitySelection::Nir => c.vein,
                    ModalitySelection::Fused => Some(c.fused),
                };
                if let Some(s) = s {
                    if *gen {
                        g.push(s)
                    } else {
                        im.push(s)
                    }
                }
            }
            if g.is_empty() || im.is_empty() {
                continue;
            }
            let (eer, at) = rates(&g, &im, &[1e-2, 1e-3]);
            let cal: Vec<String> = [2.0f32, 3.0]
                .iter()
                .map(|&t| {
                    let n = im.iter().filter(|&&s| s >= t).count();
                    format!("{:.1e}", n as f64 / im.len() as f64)
                })
                .collect();
            println!(
                "  {name:<8} EER {}  FNMR@1e-2 {}  @1e-3 {}  (gen {}, imp {}; FMR at score 2/3: {})",
                pct(Some(eer)),
                pct(at[0]),
                pct(at[1]),
                g.len(),
                im.len(),
                cal.join(" / ")
            );
        }
        if args.iter().any(|a| a == "--bits") {
            bits_study(&ts, &scored);
        }
        for (name, pick) in [("surface", 0usize), ("vein", 1)] {
            let (mut g, mut im) = (vec![], vec![]);
            for (gen, _, _, c) in &scored {
                let d = if pick == 0 {
                    c.surface_distance
                } else {
                    c.vein_distance
                };
                if let Some(d) = d {
                    if *gen {
                        g.push(d as f64)
                    } else {
                        im.push(d as f64)
                    }
                }
            }
            if im.len() < 2 {
                continue;
            }
            let ms = |v: &[f64]| {
                let m = v.iter().sum::<f64>() / v.len() as f64;
                (
                    m,
                    (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt(),
                )
            };
            let ((mi, si), (mg, _)) = (ms(&im), ms(&g));
            im.sort_by(f64::total_cmp);
            let q = |f: f64| (mi - im[((f * im.len() as f64) as usize).min(im.len() - 1)]) / si;
            println!(
                "  {name} distances: impostor mean {mi:.4} sd {si:.4}, genuine mean {mg:.4}; impostor z at FMR 1e-1/1e-2/1e-3: {:.2} {:.2} {:.2}",
                q(1e-1), q(1e-2), q(1e-3)
            );
        }
        let both: Vec<(f64, f64)> = scored
            .iter()
            .filter(|s| !s.0)
            .filter_map(|(_, _, _, c)| Some((c.surface_distance? as f64, c.vein_distance? as f64)))
            .collect();
        if both.len() > 2 {
            let n = both.len() as f64;
            let (ma, mb) = (
                both.iter().map(|p| p.0).sum::<f64>() / n,
                both.iter().map(|p| p.1).sum::<f64>() / n,
            );
            let cov = both.iter().map(|p| (p.0 - ma) * (p.1 - mb)).sum::<f64>() / n;
            let va = both.iter().map(|p| (p.0 - ma).powi(2)).sum::<f64>() / n;
            let vb = both.iter().map(|p| (p.1 - mb).powi(2)).sum::<f64>() / n;
            println!(
                "  impostor surface/vein distance correlation {:.3}",
                cov / (va * vb).sqrt()
            );
        }
        if fails > 0 {
            let mut gen: Vec<_> = scored.iter().filter(|s| s.0).collect();
            gen.sort_by(|a, b| a.3.fused.total_cmp(&b.3.fused));
            for (_, i, j, c) in gen.iter().take(fails) {
                println!(
                    "    {} vs {}: fused {:.2} surface {:?} vein {:?}",
                    rows[*i].id, rows[*j].id, c.fused, c.surface, c.vein
                );
            }
        }
    }
}

/// Per capture: valley span, palm radius, frame side and angle (tab-separated, for analysis).
fn geom(rows: &[Row]) {
    let out: Vec<String> = rows
        .par_iter()
        .map(|r| {
            let c = capture(r);
            match palmsig_vision::extract_roi(&c, &mut NoExplain) {
                Ok(p) => match p.quality.keypoints {
                    Some(k) => {
                        let v = &k.valleys;
                        format!(
                            "{}\t{}\t{}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}\t{:.1}",
                            r.id,
                            r.class,
                            r.session,
                            v.v1.dist(v.v3),
                            v.palm_radius,
                            k.frame.side,
                            k.frame.y_axis.y.atan2(k.frame.y_axis.x).to_degrees(),
                            v.palm_centre.x,
                            v.palm_centre.y
                        )
                    }
                    None => format!("{}\t{}\t{}\troi", r.id, r.class, r.session),
                },
                Err(e) => format!("{}\t{}\t{}\tfail\t{}", r.id, r.class, r.session, e.code()),
            }
        })
        .collect();
    for l in out {
        println!("{l}");
    }
}

/// Median time per capture on this thread (images decoded beforehand): ROI extraction, coding.
fn time(rows: &[Row]) {
    let e = Engine::new(Algorithm::default());
    let (mut roi_ms, mut code_ms) = (vec![], vec![]);
    for r in rows {
        let c = capture(r);
        let t0 = std::time::Instant::now();
        let Ok(p) = palmsig_vision::extract_roi(&c, &mut NoExplain) else {
            continue;
        };
        let t1 = std::time::Instant::now();
        let _ = e.encode_roi(p.visible.as_ref(), p.nir.as_ref());
        roi_ms.push((t1 - t0).as_secs_f64() * 1e3);
        code_ms.push(t1.elapsed().as_secs_f64() * 1e3);
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "median per capture, one thread: ROI {:.1} ms, coding {:.1} ms ({} captures)",
        med(&mut roi_ms),
        med(&mut code_ms),
        roi_ms.len()
    );
}

/// Per code: the fraction of ones per plane over valid samples, and the mean lag-1 (x, y)
/// correlation of its ±1 bits.
fn code_stats(c: &palmsig_codes::FeatureCode) -> (Vec<f64>, f64) {
    let (w, h, np) = (c.width(), c.height(), c.planes());
    let mut p = vec![0.0; np];
    let mut n: f64 = 0.0;
    let (mut corr, mut nc): (f64, f64) = (0.0, 0.0);
    for y in 0..h {
        for x in 0..w {
            if !c.is_valid(x, y) {
                continue;
            }
            n += 1.0;
            for (k, pk) in p.iter_mut().enumerate() {
                if c.bit(k, x, y) {
                    *pk += 1.0;
                }
            }
        }
    }
    for pk in &mut p {
        *pk /= n.max(1.0);
    }
    for y in 0..h {
        for x in 0..w {
            for (dx, dy) in [(1usize, 0usize), (0, 1)] {
                let (x2, y2) = (x + dx, y + dy);
                if x2 >= w || y2 >= h || !c.is_valid(x, y) || !c.is_valid(x2, y2) {
                    continue;
                }
                for (k, &pk) in p.iter().enumerate() {
                    let a = if c.bit(k, x, y) { 1.0 } else { 0.0 } - pk;
                    let b = if c.bit(k, x2, y2) { 1.0 } else { 0.0 } - pk;
                    let v = pk * (1.0 - pk);
                    if v > 0.0 {
                        corr += a * b / v;
                        nc += 1.0;
                    }
                }
            }
        }
    }
    (p, corr / nc.max(1.0))
}

/// How well a code's own statistics predict its impostor distances (surface and vein).
fn bits_study(ts: &[Result<Template, String>], scored: &[(bool, usize, usize, Comparison)]) {
    for kind in 0..2 {
        let stats: Vec<Option<(Vec<f64>, f64)>> = ts
            .iter()
            .map(|t| {
                let t = t.as_ref().ok()?;
                let c = if kind == 0 {
                    t.surface.as_ref()
                } else {
                    t.vein.as_ref()
                }?;
                Some(code_stats(c))
            })
            .collect();
        let (mut pred, mut obs, mut r1) = (vec![], vec![], vec![]);
        for (gen, i, j, c) in scored {
            let d = if kind == 0 {
                c.surface_distance
            } else {
                c.vein_distance
            };
            let (Some(d), Some(a), Some(b)) = (d, &stats[*i], &stats[*j]) else {
                continue;
            };
            if *gen {
                continue;
            }
            let base: f64 =
                a.0.iter()
                    .zip(&b.0)
                    .map(|(pa, pb)| pa * (1.0 - pb) + pb * (1.0 - pa))
                    .sum::<f64>()
                    / a.0.len() as f64;
            pred.push(base);
            obs.push(d as f64);
            r1.push(a.1 * b.1);
        }
        if pred.len() < 10 {
            continue;
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let corr = |x: &[f64], y: &[f64]| {
            let (mx, my) = (mean(x), mean(y));
            let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
            for (a, b) in x.iter().zip(y) {
                sxy += (a - mx) * (b - my);
                sxx += (a - mx) * (a - mx);
                syy += (b - my) * (b - my);
            }
            sxy / (sxx * syy).sqrt()
        };
        let sd = |v: &[f64]| {
            let m = mean(v);
            (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64).sqrt()
        };
        let planes: Vec<f64> = stats
            .iter()
            .flatten()
            .map(|s| s.0.iter().sum::<f64>() / s.0.len() as f64)
            .collect();
        let lag: Vec<f64> = stats.iter().flatten().map(|s| s.1).collect();
        // Per-template mean impostor distance: how much of the impostor spread is the template's
        // own (a template close to everyone) rather than the pair's.
        let mut per: Vec<(f64, f64)> = vec![(0.0, 0.0); ts.len()];
        for (gen, i, j, c) in scored {
            let d = if kind == 0 {
                c.surface_distance
            } else {
                c.vein_distance
            };
            if let (false, Some(d)) = (*gen, d) {
                for k in [*i, *j] {
                    per[k].0 += d as f64;
                    per[k].1 += 1.0;
                }
            }
        }
        let tm: Vec<f64> = per
            .iter()
            .filter(|p| p.1 > 0.0)
            .map(|p| p.0 / p.1)
            .collect();
        println!(
            "  per-template mean impostor distance: sd {:.4} across {} templates (pair sd {:.4})",
            sd(&tm),
            tm.len(),
            sd(&obs)
        );
        println!(
            "  bits {}: ones {:.3} (sd {:.3}), lag-1 corr {:.3} (sd {:.3}); impostor pairs: base {:.4} sd {:.4}, observed {:.4} sd {:.4}, corr(base, d) {:.3}, corr(r1a*r1b, d) {:.3}",
            if kind == 0 { "surface" } else { "vein" },
            mean(&planes), sd(&planes), mean(&lag), sd(&lag),
            mean(&pred), sd(&pred), mean(&obs), sd(&obs), corr(&pred, &obs), corr(&r1, &obs)
        );
    }
}
