//! Development evaluation of the coding schemes on synthetic palms (not a product command:
//! `palmsig eval` is). Renders captures with `palmsig_synth` (cached under the cache dir), runs
//! vision's ROI extraction for full-hand captures, codes them with every algorithm, and prints
//! EER and FNMR at FMR 1e-3 / 1e-4 per modality and fused, for the all-pairs and cross-session
//! protocols; with `--fit`, also prints the calibration tables (Rust source) fitted on this run
//! (`palmsig_codes::fit_calibration` on the distances the matcher scored; `palmsig calibrate`
//! fits the same on any manifest, twice to settle the pose choice, and writes a loadable profile).
//!
//! ```text
//! cargo run --release -p palmsig-codes --example eval_codes -- \
//!     --identities 100 --captures 6 --seed 5 --difficulty realistic --kind hand [--fit]
//! ```
use palmsig_codes::calibration::{mean_std, Calibration, ModalityModel};
use palmsig_codes::{fit_calibration, CodeSources, PairDistances};
use palmsig_codes::{Algorithm, Engine, Matcher, Template};
use palmsig_core::{CaptureKind, GrayImage, Hand};
use palmsig_synth::{render_for, DatasetConfig, Difficulty, Identity};
use palmsig_vision::{Capture, NoExplain};
use rayon::prelude::*;
use std::io::{Read, Write};

struct Sample {
    class: u32,
    session: u32,
    vis: Option<GrayImage>,
    nir: Option<GrayImage>,
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn write_img(w: &mut impl Write, img: &Option<GrayImage>) {
    match img {
        None => w.write_all(&[0u8; 4]).unwrap(),
        Some(i) => {
            w.write_all(&(i.width() as u16).to_le_bytes()).unwrap();
            w.write_all(&(i.height() as u16).to_le_bytes()).unwrap();
            w.write_all(i.as_slice()).unwrap();
        }
    }
}

fn read_img(r: &mut impl Read) -> Option<GrayImage> {
    let mut h = [0u8; 4];
    r.read_exact(&mut h).unwrap();
    let (w, hh) = (
        u16::from_le_bytes([h[0], h[1]]) as usize,
        u16::from_le_bytes([h[2], h[3]]) as usize,
    );
    if w == 0 {
        return None;
    }
    let mut buf = vec![0u8; w * hh];
    r.read_exact(&mut buf).unwrap();
    GrayImage::from_vec(w, hh, buf).ok()
}

/// ROIs of every capture (None = failure to acquire), cached.
fn load_rois(cfg: &DatasetConfig, cache: &std::path::Path) -> (Vec<Sample>, usize) {
    if let Ok(bytes) = std::fs::read(cache) {
        let mut r = &bytes[..];
        let mut n = [0u8; 8];
        r.read_exact(&mut n).unwrap();
        let (count, fta) = (
            u32::from_le_bytes([n[0], n[1], n[2], n[3]]),
            u32::from_le_bytes([n[4], n[5], n[6], n[7]]),
        );
        let mut out = Vec::new();
        for _ in 0..count {
            let mut m = [0u8; 8];
            r.read_exact(&mut m).unwrap();
            let class = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
            let session = u32::from_le_bytes([m[4], m[5], m[6], m[7]]);
            let vis = read_img(&mut r);
            let nir = read_img(&mut r);
            out.push(Sample {
                class,
                session,
                vis,
                nir,
            });
        }
        return (out, fta as usize);
    }
    let jobs: Vec<(u32, Hand, u32)> = (0..cfg.identities)
        .flat_map(|s| [Hand::Left, Hand::Right].map(move |h| (s, h)))
        .flat_map(|(s, h)| (0..cfg.captures).map(move |k| (s, h, k)))
        .collect();
    let res: Vec<Option<Sample>> = jobs
        .par_iter()
        .map(|&(s, h, k)| {
            let id = Identity::new(cfg.seed, s, h).unwrap();
            let r = render_for(cfg, &id, k).unwrap();
            let class = s * 2 + (h == Hand::Right) as u32;
            let cap = Capture {
                kind: cfg.kind,
                hand: h,
                visible: Some(r.visible),
                nir: Some(r.nir),
            };
            match palmsig_vision::extract_roi(&cap, &mut NoExplain) {
                Ok(p) => Some(Sample {
                    class,
                    session: cfg.session_of(k),
                    vis: p.visible,
                    nir: p.nir,
                }),
                Err(e) => {
                    eprintln!("FTA subject {s} {h} capture {k}: {}", e.code());
                    None
                }
            }
        })
        .collect();
    let fta = res.iter().filter(|r| r.is_none()).count();
    let samples: Vec<Sample> = res.into_iter().flatten().collect();
    let mut f = Vec::new();
    f.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    f.extend_from_slice(&(fta as u32).to_le_bytes());
    for s in &samples {
        f.extend_from_slice(&s.class.to_le_bytes());
        f.extend_from_slice(&s.session.to_le_bytes());
        write_img(&mut f, &s.vis);
        write_img(&mut f, &s.nir);
    }
    std::fs::write(cache, f).unwrap();
    (samples, fta)
}

/// (EER, FNMR at FMR 1e-3, FNMR at FMR 1e-4); higher score = more similar.
fn metrics(gen: &[f32], imp: &[f32]) -> (f64, f64, f64) {
    let mut g = gen.to_vec();
    let mut i = imp.to_vec();
    g.sort_by(f32::total_cmp);
    i.sort_by(|a, b| b.total_cmp(a)); // descending
    let fnmr_at = |fmr: f64| {
        // Threshold: accept score > t where at most fmr·N impostors are above t.
        let k = (fmr * i.len() as f64).floor() as usize;
        let t = if k < i.len() { i[k] } else { f32::NEG_INFINITY };
        g.partition_point(|&x| x <= t) as f64 / g.len() as f64
    };
    // EER: sweep thresholds over all scores.
    let mut all: Vec<f32> = g.iter().chain(i.iter()).copied().collect();
    all.sort_by(f32::total_cmp);
    let mut best = (f64::INFINITY, 0.0);
    let ia: Vec<f32> = {
        let mut v = i.clone();
        v.sort_by(f32::total_cmp);
        v
    };
    for (j, &t) in all.iter().enumerate() {
        if j % 7 != 0 && j + 1 != all.len() {
            continue;
        }
        let fnmr = g.partition_point(|&x| x < t) as f64 / g.len() as f64;
        let fmr = (ia.len() - ia.partition_point(|&x| x < t)) as f64 / ia.len() as f64;
        if (fnmr - fmr).abs() < best.0 {
            best = ((fnmr - fmr).abs(), (fnmr + fmr) / 2.0);
        }
    }
    (best.1, fnmr_at(1e-3), fnmr_at(1e-4))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut cfg = DatasetConfig::new(
        arg(&args, "--identities", 50),
        arg(&args, "--captures", 6),
        arg(&args, "--seed", 5),
    );
    cfg.difficulty = match arg(&args, "--difficulty", "realistic".to_string()).as_str() {
        "easy" => Difficulty::Easy,
        "hard" => Difficulty::Hard,
        _ => Difficulty::Realistic,
    };
    let kind: String = arg(&args, "--kind", "hand".to_string());
    if kind == "roi" {
        cfg.kind = CaptureKind::Roi;
        cfg.width = 128;
        cfg.height = 128;
    }
    let algos: Vec<Algorithm> = match args.iter().position(|a| a == "--algorithm") {
        Some(i) => vec![args[i + 1].parse().unwrap()],
        None => Algorithm::ALL.to_vec(),
    };
    let do_fit = args.iter().any(|a| a == "--fit");
    let cache_dir = std::path::PathBuf::from(arg(
        &args,
        "--cache",
        "/work/tgt/codes/evalcache".to_string(),
    ));
    std::fs::create_dir_all(&cache_dir).unwrap();
    let cache = cache_dir.join(format!(
        "{}-{}-{}-{}-{}.bin",
        kind,
        cfg.identities,
        cfg.captures,
        cfg.seed,
        cfg.difficulty.as_str()
    ));
    let t0 = std::time::Instant::now();
    let (samples, fta) = load_rois(&cfg, &cache);
    let total = samples.len() + fta;
    println!(
        "# {} {} ids x2 hands x{} captures seed {}: {} captures, FTA {} ({:.2}%), rois in {:.1}s",
        kind,
        cfg.identities,
        cfg.captures,
        cfg.seed,
        total,
        fta,
        100.0 * fta as f64 / total as f64,
        t0.elapsed().as_secs_f32()
    );
    if let Some(i) = args.iter().position(|a| a == "--dump") {
        let dir = &args[i + 1];
        let mut sink = palmsig_vision::DirSink::new(dir, "x").unwrap();
        for class in 0..4u32 {
            let mut m = GrayImage::new(6 * 130, 2 * 130);
            for (j, s) in samples
                .iter()
                .filter(|s| s.class == class)
                .take(6)
                .enumerate()
            {
                for (row, img) in [&s.vis, &s.nir].into_iter().enumerate() {
                    if let Some(img) = img {
                        for y in 0..128 {
                            for x in 0..128 {
                                m.set(j * 130 + x, row * 130 + y, img.get(x, y));
                            }
                        }
                    }
                }
            }
            use palmsig_vision::ExplainSink;
            sink.set_prefix(&format!("montage{class}"));
            sink.emit("m", &m);
        }
        for (j, s) in samples.iter().take(12).enumerate() {
            sink.set_prefix(&format!("c{}_s{}_{}", s.class, s.session, j));
            use palmsig_vision::ExplainSink;
            if let Some(v) = &s.vis {
                sink.emit("roi_vis", v);
            }
            if let Some(v) = &s.nir {
                sink.emit("roi_nir", v);
            }
            let _ = Engine::new(Algorithm::CompCode).encode_roi_with_sink(
                s.vis.as_ref(),
                s.nir.as_ref(),
                &mut sink,
            );
        }
    }
    if args.iter().any(|a| a == "--selftest") {
        let e = Engine::new(Algorithm::CompCode);
        let m = Matcher::new(Algorithm::CompCode);
        let src = samples[12].vis.clone().unwrap();
        let base = e.encode_roi(Some(&src), None).unwrap();
        for (dx, dy, noise) in [
            (0i32, 0i32, 0.0f64),
            (4, 0, 0.0),
            (0, 4, 0.0),
            (2, 3, 0.0),
            (0, 0, 2.0),
            (4, 4, 2.0),
        ] {
            let mut img = GrayImage::new(128, 128);
            let mut rng = palmsig_core::Rng::new(1);
            for y in 0..128i32 {
                for x in 0..128i32 {
                    let v = src.get(
                        (x - dx).clamp(0, 127) as usize,
                        (y - dy).clamp(0, 127) as usize,
                    ) as f64
                        + noise * rng.normal();
                    img.set(x as usize, y as usize, v.round().clamp(0.0, 255.0) as u8);
                }
            }
            let t = e.encode_roi(Some(&img), None).unwrap();
            let c = m.compare(&base, &t).unwrap();
            println!(
                "selftest shift ({dx},{dy}) noise {noise}: surface d {:?} valid {} vs {}",
                c.surface_distance,
                base.surface.as_ref().unwrap().valid_count(),
                t.surface.as_ref().unwrap().valid_count()
            );
        }
    }
    if args.iter().any(|a| a == "--timing") {
        // Single-thread CPU time (Linux schedstat, ns) of coding and comparison.
        let cpu = || -> f64 {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
                .unwrap_or(f64::NAN)
                * 1e-9
        };
        for &algo in &algos {
            let e = Engine::new(algo);
            let mut ts = Vec::new();
            let c0 = cpu();
            let w0 = std::time::Instant::now();
            for s in samples.iter().take(60) {
                if let Ok(t) = e.encode_roi(s.vis.as_ref(), s.nir.as_ref()) {
                    ts.push(t);
                }
            }
            let n_enc = samples.len().min(60) as f64;
            let enc_cpu = (cpu() - c0) / n_enc;
            let enc_wall = w0.elapsed().as_secs_f64() / n_enc;
            let m = e.matcher();
            let c0 = cpu();
            let mut k = 0u64;
            let mut acc = 0f32;
            while k < 100_000 {
                for i in 0..ts.len() {
                    for j in i + 1..ts.len() {
                        acc += m.compare(&ts[i], &ts[j]).map(|c| c.fused).unwrap_or(0.0);
                        k += 1;
                    }
                }
            }
            let dt = cpu() - c0;
            println!(
                "TIMING {algo}: coding (ROI -> template, both modalities) mean {:.3} ms CPU ({:.3} ms wall); {:.0} comparisons per CPU-second (1 thread) [{acc:.0}]",
                enc_cpu * 1e3,
                enc_wall * 1e3,
                k as f64 / dt
            );
        }
    }
    for algo in algos {
        let engine = Engine::new(algo);
        let t1 = std::time::Instant::now();
        let tpl: Vec<Option<Template>> = samples
            .par_iter()
            .map(|s| engine.encode_roi(s.vis.as_ref(), s.nir.as_ref()).ok())
            .collect();
        let enc_s = t1.elapsed().as_secs_f64();
        let fte = tpl.iter().filter(|t| t.is_none()).count();
        let matcher = Matcher::new(algo);
        // Distances for all pairs.
        let n = samples.len();
        let t2 = std::time::Instant::now();
        let pairs: Vec<(bool, bool, Option<f32>, Option<f32>)> = (0..n)
            .into_par_iter()
            .flat_map_iter(|a| {
                let tpl = &tpl;
                let samples = &samples;
                let matcher = &matcher;
                (a + 1..n).filter_map(move |b| {
                    let (ta, tb) = (tpl[a].as_ref()?, tpl[b].as_ref()?);
                    let c = matcher.compare(ta, tb).ok()?;
                    let genuine = samples[a].class == samples[b].class;
                    let cross = samples[a].session != samples[b].session;
                    Some((genuine, cross, c.surface_distance, c.vein_distance))
                })
            })
            .collect();
        let cmp_s = t2.elapsed().as_secs_f64();
        if args.iter().any(|a| a == "--debug") {
            for class in [1u32, 2] {
                let idx: Vec<usize> = (0..n).filter(|&i| samples[i].class == class).collect();
                for &a in &idx {
                    let row: Vec<String> = idx
                        .iter()
                        .map(|&b| match (&tpl[a], &tpl[b]) {
                            (Some(x), Some(y)) => {
                                let c = matcher.compare(x, y).unwrap();
                                format!(
                                    "{:.2}/{:.2}",
                                    c.surface_distance.unwrap_or(9.0),
                                    c.vein_distance.unwrap_or(9.0)
                                )
                            }
                            _ => "-".into(),
                        })
                        .collect();
                    println!("class {class} s{}: {}", samples[a].session, row.join(" "));
                }
            }
            let q = |v: &mut Vec<f32>| {
                v.sort_by(f32::total_cmp);
                let n = v.len();
                if n == 0 {
                    return String::new();
                }
                format!(
                    "p5 {:.3} p25 {:.3} p50 {:.3} p75 {:.3} p95 {:.3}",
                    v[n / 20],
                    v[n / 4],
                    v[n / 2],
                    v[3 * n / 4],
                    v[(19 * n) / 20]
                )
            };
            for (name, gsel) in [("genuine", true), ("impostor", false)] {
                let mut s: Vec<f32> = pairs
                    .iter()
                    .filter(|p| p.0 == gsel)
                    .filter_map(|p| p.2)
                    .collect();
                let mut v: Vec<f32> = pairs
                    .iter()
                    .filter(|p| p.0 == gsel)
                    .filter_map(|p| p.3)
                    .collect();
                println!("{name} surface {} | vein {}", q(&mut s), q(&mut v));
            }
        }
        // Synthetic captures come in both bands.
        let sources = CodeSources::TwoBands;
        // Fit z-normalisation on impostors of this run.
        let imp_s: Vec<f32> = pairs.iter().filter(|p| !p.0).filter_map(|p| p.2).collect();
        let imp_v: Vec<f32> = pairs.iter().filter(|p| !p.0).filter_map(|p| p.3).collect();
        let (ms, ss) = mean_std(&imp_s);
        let (mv, sv) = mean_std(&imp_v);
        let base = Calibration::builtin(algo).clone();
        let gen_s: Vec<f32> = pairs.iter().filter(|p| p.0).filter_map(|p| p.2).collect();
        let gen_v: Vec<f32> = pairs.iter().filter(|p| p.0).filter_map(|p| p.3).collect();
        let (gms, _) = mean_std(&gen_s);
        let (gmv, _) = mean_std(&gen_v);
        let (ws, wv) = ((ms - gms) / ss, (mv - gmv) / sv);
        let cal = Calibration {
            surface: ModalityModel {
                mu: ms,
                sigma: ss,
                weight: ws,
                tail: base.surface.tail.clone(),
            },
            vein: ModalityModel {
                mu: mv,
                sigma: sv,
                weight: wv,
                tail: base.vein.tail.clone(),
            },
            correlation: base.correlation,
            fused: base.fused.clone(),
            same_image: None,
        };
        let big = -1e9f32;
        let raw = |p: &(bool, bool, Option<f32>, Option<f32>)| -> (f32, f32, f32) {
            let zs = p.2.map(|d| cal.surface.z(d)).unwrap_or(big);
            let zv = p.3.map(|d| cal.vein.z(d)).unwrap_or(big);
            let f = match (p.2, p.3) {
                (Some(a), Some(b)) => cal.fused_z(sources, a, b),
                (Some(_), None) => zs,
                (None, Some(_)) => zv,
                _ => big,
            };
            (zs, zv, f)
        };
        println!(
            "## {algo}: FTE {fte}, encode {:.2} ms/capture ({} threads), {} pairs in {:.1}s ({:.2} us/pair/thread); impostor surface mu {ms:.4} sd {ss:.4}, vein mu {mv:.4} sd {sv:.4}",
            1000.0 * enc_s * rayon::current_num_threads() as f64 / samples.len() as f64,
            rayon::current_num_threads(),
            pairs.len(),
            cmp_s,
            1e6 * cmp_s * rayon::current_num_threads() as f64 / pairs.len() as f64
        );
        for (proto, filt) in [("all-pairs", 0), ("cross-session", 1)] {
            let sel: Vec<&(bool, bool, Option<f32>, Option<f32>)> =
                pairs.iter().filter(|p| filt == 0 || p.1).collect();
            let mut line = format!("{proto:>13}:");
            for (mi, mname) in ["surface", "vein", "fused"].iter().enumerate() {
                let pick = |p: &&(bool, bool, Option<f32>, Option<f32>)| {
                    let r = raw(p);
                    [r.0, r.1, r.2][mi]
                };
                let g: Vec<f32> = sel.iter().filter(|p| p.0).map(pick).collect();
                let i: Vec<f32> = sel.iter().filter(|p| !p.0).map(pick).collect();
                let (eer, f3, f4) = metrics(&g, &i);
                line += &format!(
                    "  {mname}: EER {:.3}% FNMR@1e-3 {:.3}% @1e-4 {:.3}%",
                    100.0 * eer,
                    100.0 * f3,
                    100.0 * f4
                );
                if proto == "all-pairs" && mi == 2 {
                    line += &format!(" (gen {} imp {})", g.len(), i.len());
                }
            }
            println!("{line}");
        }
        if do_fit {
            // The tails describe the statistic the matcher scores (the best pose): fit on the
            // distances `compare` kept, as `palmsig calibrate` does.
            let fit_pairs: Vec<PairDistances> = pairs
                .iter()
                .map(|p| PairDistances {
                    surface: p.2,
                    vein: p.3,
                    sources,
                    genuine: p.0,
                })
                .collect();
            let fitted = match fit_calibration(algo, &fit_pairs) {
                Ok(f) => f,
                Err(e) => {
                    println!("FIT {algo}: {e}");
                    continue;
                }
            };
            let c = &fitted.calibration;
            let show = |name: &str, t: &palmsig_codes::calibration::TailModel| {
                let ks: Vec<String> = t
                    .knots
                    .iter()
                    .map(|k| format!("({:.4}, {:.4})", k.0, k.1))
                    .collect();
                println!(
                    "FIT {algo} {name}: knots &[{}], slope {:.4}",
                    ks.join(", "),
                    t.slope
                );
            };
            println!(
                "FIT {algo} mu/sigma/weight: surface ({:.5}, {:.5}, {:.4}) vein ({:.5}, {:.5}, {:.4}); {}",
                c.surface.mu,
                c.surface.sigma,
                c.surface.weight,
                c.vein.mu,
                c.vein.sigma,
                c.vein.weight,
                fitted.counts
            );
            show("surface", &c.surface.tail);
            show("vein", &c.vein.tail);
            show("fused", &c.fused);
        }
    }
}
