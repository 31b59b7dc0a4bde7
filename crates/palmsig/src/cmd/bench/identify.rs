//! `palmsig bench identify`: 1:N identification over a generated gallery, printed as JSON.
//!
//! Templates come from `palmsig_index::CodeModel` (identity codes + capture noise; see its docs
//! for the model and how its parameters are fitted), so a million-hand gallery needs no images.
//! Steps: calibrate the matcher's impostor model on pairs of non-gallery identities; generate and
//! index the gallery (timed); write it as a snapshot; reopen it from disk (load time, RAM); run
//! `--probes` mated searches (new captures of enrolled hands) and as many non-mated ones (people
//! not enrolled), one thread, timing each; re-run them on `--threads` threads for queries/s;
//! measure the coarse stage's recall against exhaustive search on `--recall-probes` mated probes;
//! FNIR and FPIR at the threshold calibrated for `--fpir`; and the scan kernel's GB/s against a
//! plain streaming read of memory.
use crate::cmd::progress::Bar;
use anyhow::Context;
use palmsig_core::simd::{scan_min, Kernel};
use palmsig_eval::Progress;
use palmsig_index::codes_adapter::template_from_bits;
use palmsig_index::{
    BitScorer, BitTemplate, CodeModel, CodesScorer, Decision, GalleryRead, GalleryWrite, Index,
    Scorer, SearchParams, Store,
};
use serde_json::json;
use std::time::Instant;

/// Arguments of `palmsig bench identify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Enrolled hands.
    #[arg(long, default_value_t = 10_000)]
    gallery: u64,
    /// Mated probes (as many non-mated probes are added).
    #[arg(long, default_value_t = 500)]
    probes: u64,
    /// Threads for the throughput run and for generating the gallery.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Coarse shortlist size (candidates re-ranked by the full matcher).
    #[arg(long, default_value_t = palmsig_index::params::DEFAULT_SHORTLIST)]
    shortlist: usize,
    /// Mated probes also searched exhaustively, for the coarse recall against exhaustive search.
    #[arg(long, default_value_t = 100)]
    recall_probes: u64,
    /// Target false-positive identification rate of the decision.
    #[arg(long, default_value_t = 1e-3)]
    fpir: f64,
    /// Timings per query; latency percentiles are reported for the first run and for the
    /// fastest of the repeats (the latter filters out preemption on a shared machine).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Directory for the on-disk gallery (default: a temporary directory, removed afterwards).
    #[arg(long)]
    dir: Option<std::path::PathBuf>,
    /// Non-mated searches (people not enrolled) used to fit the gallery-level impostor-max
    /// calibration of the decision threshold (separate from the evaluation probes).
    #[arg(long, default_value_t = 500)]
    calibration_probes: u64,
    /// Fit the template model on real pipeline templates first: a manifest (the `palmsig eval`
    /// format, e.g. written by `palmsig synth`) whose captures are extracted with
    /// `palmsig_codes::Engine` (the default algorithm); the flip-rate range is fitted to their genuine
    /// distances and the code smoothness to their impostor degrees of freedom.
    #[arg(long)]
    fit_manifest: Option<std::path::PathBuf>,
    /// Seed of the generated population.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Full matcher: `bits` (the index's shift-searching Hamming matcher with an impostor model
    /// fitted here) or `codes` (`palmsig_codes::Matcher`, CompCode, its built-in calibration or
    /// `--profile`).
    #[arg(long, default_value = "bits", value_parser = ["bits", "codes"])]
    scorer: String,
    /// With `--scorer codes`: a calibration profile (`palmsig calibrate`, CompCode) to score with
    /// instead of the built-in tables.
    #[arg(long)]
    profile: Option<std::path::PathBuf>,
}

fn pct(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1]
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat` (10 ms ticks):
/// unlike wall time, not inflated when other processes share the cores.
fn cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let f: Vec<&str> = s.rsplit_once(')')?.1.split_whitespace().collect();
    let t: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(t as f64 / 100.0)
}

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(l.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// Generate `f(i)` for `i in range` on `threads` threads, in order.
fn par_gen<T: Send>(
    range: std::ops::Range<u64>,
    threads: usize,
    f: impl Fn(u64) -> T + Sync,
) -> Vec<T> {
    let n = (range.end - range.start) as usize;
    let t = threads.max(1);
    let chunk = n.div_ceil(t).max(1);
    let mut out: Vec<Vec<T>> = Vec::new();
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..t)
            .map(|k| {
                let f = &f;
                let lo = range.start + (k * chunk) as u64;
                let hi = (lo + chunk as u64).min(range.end);
                s.spawn(move || (lo..hi).map(f).collect::<Vec<T>>())
            })
            .collect();
        out = hs
            .into_iter()
            .map(|h| h.join().expect("generator thread"))
            .collect();
    });
    out.into_iter().flatten().collect()
}

/// Best-of-5 single-thread streaming read of a `bytes` buffer, GB/s.
fn memory_bandwidth(bytes: usize) -> f64 {
    let words = bytes / 8;
    let buf: Vec<u64> = (0..words as u64).collect();
    let mut best = f64::MAX;
    let mut sink = 0u64;
    for _ in 0..5 {
        let t = Instant::now();
        let mut acc = [0u64; 8];
        for c in buf.chunks_exact(8) {
            for i in 0..8 {
                acc[i] = acc[i].wrapping_add(c[i]);
            }
        }
        sink = sink.wrapping_add(acc.iter().fold(0, |a, b| a.wrapping_add(*b)));
        best = best.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(sink);
    (words * 8) as f64 / best / 1e9
}

/// Run `palmsig bench identify`.
pub fn run(a: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        a.gallery >= 1 && a.probes >= 1,
        "--gallery and --probes must be >= 1"
    );
    anyhow::ensure!(
        a.threads >= 1 && a.repeats >= 1,
        "--threads and --repeats must be >= 1"
    );
    let (model, fit) = match &a.fit_manifest {
        Some(p) => fit_model(p, a.gallery as usize, a.fpir)?,
        None => (
            CodeModel::default(),
            json!("provisional default parameters (no --fit-manifest)"),
        ),
    };
    let outsider = |i: u64| (1u64 << 40) + i;
    anyhow::ensure!(
        a.profile.is_none() || a.scorer == "codes",
        "--profile calibrates palmsig_codes' matcher: use it with --scorer codes"
    );
    if a.scorer == "codes" {
        let alg = palmsig_codes::Algorithm::CompCode;
        let profile = crate::cmd::calibrate::load_profile(a.profile.as_deref())?;
        let scorer = CodesScorer::new(crate::cmd::calibrate::matcher(alg, profile.as_ref())?);
        let conv = move |t: BitTemplate| {
            template_from_bits(&t, alg).expect("model templates fit CompCode")
        };
        let info = match &a.profile {
            Some(p) => json!(format!("palmsig_codes calibration profile {}", p.display())),
            None => json!("palmsig_codes built-in calibration"),
        };
        return bench(a, model, fit, scorer, conv, info);
    }
    // Impostor model of the matcher, fitted on pairs of people outside the gallery.
    let mut scorer = BitScorer::default();
    let pairs: Vec<(BitTemplate, BitTemplate)> = (0..2000u64)
        .map(|i| {
            let x = model.capture(&model.identity(outsider(1_000_000 + 2 * i)), 1);
            let y = model.capture(&model.identity(outsider(1_000_001 + 2 * i)), 2);
            (x, y)
        })
        .collect();
    let imp = scorer
        .calibrate(&pairs)
        .context("calibrating the impostor model")?;
    let info = json!({"dof": imp.n, "mean": imp.p, "shift_trials": imp.k});
    bench(a, model, fit, scorer, |t| t, info)
}

/// Extract the manifest's captures with the default engine, measure genuine distances as the
/// product's matcher scores them (best shift and pose, the default calibration's weights),
/// expressed on the bit model's scale, and impostor (aligned) distances of the bit codes; fit
/// the model to them.
///
/// The bit scorer alone (3 planes, small shifts, no pose search) saw real genuine pairs as
/// nearly unrelated (940 nm set: median 0.30 against 0.50) because the product's pose search is
/// what brings them together; its FNIR at FPIR 1e-3 over a million was then 98 %. Each genuine
/// distance `d` of a modality becomes `d · m_bits / m_codes`, with `m_codes` the matcher's mean
/// impostor distance of that modality on the manifest and `m_bits` the bit scorer's mean
/// best-shift impostor distance: the same fraction of the impostor level.
fn fit_model(
    path: &std::path::Path,
    gallery: usize,
    fpir: f64,
) -> anyhow::Result<(CodeModel, serde_json::Value)> {
    use palmsig_index::bitcode::distance_at;
    use palmsig_index::codes_adapter::bits_from_template;
    let man = palmsig_eval::Manifest::from_path(path)
        .with_context(|| format!("reading manifest {}", path.display()))?;
    let engine = palmsig_codes::Engine::new(palmsig_codes::Algorithm::default());
    let (per_class, failures) = extract_classes(&engine, &man);
    let firsts: Vec<&palmsig_codes::Template> =
        per_class.iter().filter_map(|v| v.first()).collect();
    let m = engine.matcher();
    // Each probe prepared (shifted and posed copies) once, each bit code converted once.
    let prepare = |ts: &[&palmsig_codes::Template]| -> Vec<Option<palmsig_codes::PreparedProbe>> {
        ts.iter().map(|t| m.prepare(t).ok()).collect()
    };
    let scored = |p: &Option<palmsig_codes::PreparedProbe>, b: &palmsig_codes::Template| {
        p.as_ref()
            .and_then(|p| m.scored_distances(p, b).ok())
            .unwrap_or((None, None))
    };
    let first_probes = prepare(&firsts);
    let first_bits: Vec<_> = firsts.iter().map(|t| bits_from_template(t).ok()).collect();
    let mut imp_codes = [Vec::new(), Vec::new()];
    let mut imp_z = Vec::new();
    let scorer = BitScorer::default();
    let mut st = palmsig_index::FitStats::default();
    let raw_z = |p: &Option<palmsig_codes::PreparedProbe>, s: Option<f32>, v: Option<f32>| {
        let sources = p.as_ref()?.code_sources();
        m.calibration().raw(sources, s, v).map(f64::from)
    };
    'outer: for i in 0..firsts.len() {
        for j in i + 1..firsts.len() {
            let (s, v) = scored(&first_probes[i], firsts[j]);
            imp_codes[0].extend(s);
            imp_codes[1].extend(v);
            imp_z.extend(raw_z(&first_probes[i], s, v));
            if let Some(a) = &first_bits[i] {
                if let Some(b) = &first_bits[j] {
                    st.impostor_aligned
                        .extend(distance_at(a, b, 0, 0, scorer.min_bits));
                }
            }
            if st.impostor_aligned.len() >= 5000 {
                break 'outer;
            }
        }
    }
    let mean = |v: &[f32]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len().max(1) as f64;
    // Real genuine pairs as the product scores them: the fused raw z, standardised by this
    // set's impostor z (mean, sd).
    let (zm, zs) = mean_sd(&imp_z);
    let mut genuine_raw = Vec::new();
    for ts in &per_class {
        let probes = prepare(&ts.iter().collect::<Vec<_>>());
        for (i, probe) in probes.iter().enumerate() {
            for t in &ts[i + 1..] {
                let (s, v) = scored(probe, t);
                genuine_raw.extend(raw_z(probe, s, v));
            }
        }
    }
    let genuine_z: Vec<f64> = genuine_raw
        .iter()
        .map(|z| (z - zm) / zs.max(1e-9))
        .collect();
    let sources = firsts
        .first()
        .map_or(palmsig_codes::CodeSources::TwoBands, |t| t.code_sources());
    let projection = project_fnir(
        m.calibration().models(sources).2,
        &genuine_raw,
        gallery,
        fpir,
    );
    // The model must separate its genuine pairs from its impostors as the product does: a
    // genuine pair `z` impostor deviations from the impostor mean under the matcher is one at
    // `mu - z sd` under the model's own scorer (its impostor best-shift mean and sd, simulated
    // with the identity smoothness fitted to the real impostors). Distances, unlike z, do not
    // carry over: the model's 3-plane codes have other degrees of freedom than the matcher's
    // posed 6-plane distances.
    st.genuine = genuine_z.iter().map(|_| 0.3).collect();
    let shape = CodeModel::default()
        .fit(&st)
        .context("too few genuine or impostor pairs in the manifest to fit the model")?;
    let model_imp: Vec<f64> = (0..300u64)
        .map(|i| {
            let a = shape.capture(&shape.identity(9_000_000 + 2 * i), 1);
            let b = shape.capture(&shape.identity(9_000_001 + 2 * i), 2);
            scorer.distance(&a, &b)
        })
        .collect();
    let (mu_m, sd_m) = mean_sd(&model_imp);
    st.genuine = genuine_z
        .iter()
        .map(|z| (mu_m - z * sd_m).max(0.0))
        .collect();
    let fitted = shape
        .fit(&st)
        .context("too few genuine or impostor pairs in the manifest to fit the model")?;
    let mut gz = genuine_z.clone();
    gz.sort_by(f64::total_cmp);
    let mut g = st.genuine.clone();
    g.sort_by(f64::total_cmp);
    let info = json!({
        "manifest": path.display().to_string(),
        "captures": man.captures.len(),
        "failures": failures,
        "impostor_mean_codes_surface_vein": [mean(&imp_codes[0]), mean(&imp_codes[1])],
        "impostor_fused_z_mean_sd": [zm, zs],
        "genuine_fused_z_p10_p50_p90": [pct(&gz, 0.1), pct(&gz, 0.5), pct(&gz, 0.9)],
        "model_impostor_best_shift_mean_sd": [mu_m, sd_m],
        "real_projection": projection,
        "genuine_pairs": st.genuine.len(),
        "genuine_distance_p10_p50_p90": [pct(&g, 0.1), pct(&g, 0.5), pct(&g, 0.9)],
        "impostor_pairs": st.impostor_aligned.len(),
        "fitted": format!("{fitted:?}"),
    });
    Ok((fitted, info))
}

/// FNIR the real genuine pairs would have in a gallery of `gallery` hands at `fpir`, if impostor
/// scores follow the calibration's fused tail: the per-comparison false-match rate
/// `fpir / gallery` (the union bound over the gallery), its raw-z threshold through the tail
/// of the set's kind of sensor (extrapolated beyond the fitted data), and the share of genuine raw z below it. Unlike the
/// generated model, this keeps the real genuine low tail.
fn project_fnir(
    fused: &palmsig_codes::calibration::TailModel,
    genuine_raw: &[f64],
    gallery: usize,
    fpir: f64,
) -> serde_json::Value {
    let score = -(fpir / gallery.max(1) as f64).log10();
    let Some(t) = fused.raw_for(score as f32).map(f64::from) else {
        return json!(null);
    };
    let below = genuine_raw.iter().filter(|&&z| z < t).count();
    json!({
        "per_comparison_fmr": fpir / gallery.max(1) as f64,
        "threshold_raw_z": t,
        "genuine_pairs": genuine_raw.len(),
        "genuine_below": below,
        "fnir": below as f64 / genuine_raw.len().max(1) as f64,
    })
}

/// Mean and standard deviation.
fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n).sqrt(),
    )
}

/// The manifest's templates per class (default engine); captures that fail are counted.
fn extract_classes(
    engine: &palmsig_codes::Engine,
    man: &palmsig_eval::Manifest,
) -> (Vec<Vec<palmsig_codes::Template>>, usize) {
    let mut per_class: Vec<Vec<palmsig_codes::Template>> = vec![Vec::new(); man.classes.len()];
    let mut failures = 0usize;
    for c in &man.captures {
        let load =
            |p: &Option<std::path::PathBuf>| p.as_ref().map(palmsig_vision::load).transpose();
        let (Ok(visible), Ok(nir)) = (load(&c.visible), load(&c.nir)) else {
            failures += 1;
            continue;
        };
        let cap = palmsig_vision::Capture {
            kind: c.kind,
            hand: c.hand,
            visible,
            nir,
        };
        match engine.extract(&cap, &mut palmsig_vision::NoExplain) {
            Ok(t) => per_class[c.class as usize].push(t),
            Err(_) => failures += 1,
        }
    }
    (per_class, failures)
}

fn bench<S: Scorer + Clone>(
    a: Args,
    model: CodeModel,
    fit: serde_json::Value,
    scorer: S,
    conv: impl Fn(BitTemplate) -> S::Template + Sync,
    calibration: serde_json::Value,
) -> anyhow::Result<()> {
    let n = a.gallery;
    let seed = a.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let enrol_seed = |i: u64| seed ^ i;
    let probe_seed = |i: u64| seed ^ (i << 1 | 1) ^ 0xABCD_0000_0000;
    // Non-gallery identities live far above the gallery's.
    let outsider = |i: u64| (1u64 << 40) + i;

    // Progress on stderr (a terminal only): generation, insertion, probes, searches.
    let bar = Bar::new();
    // 2. Build the gallery.
    bar.stage("gallery", n);
    let t0 = Instant::now();
    let templates = par_gen(0..n, a.threads.max(2), |i| {
        let t = conv(model.capture(&model.identity(seed ^ (i * 0x1_0001)), enrol_seed(i)));
        bar.inc(1);
        t
    });
    let gen_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let index = Index::new(scorer.clone())?;
    bar.stage("insert", n);
    for (i, t) in templates.iter().enumerate() {
        index.insert(i as u64, t)?;
        bar.inc(1);
    }
    let insert_s = t1.elapsed().as_secs_f64();
    drop(templates);

    // 3. Persist, drop, reload from disk.
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp =
                std::env::temp_dir().join(format!("palmsig-bench-identify-{}", std::process::id()));
            tmp
        }
    };
    anyhow::ensure!(
        !dir.join("snapshot").exists(),
        "{} already holds a store",
        dir.display()
    );
    bar.stage("save+load", 2);
    let t2 = Instant::now();
    let store = Store::create_from(&dir, index, None)?;
    let snapshot_write_s = t2.elapsed().as_secs_f64();
    drop(store);
    let snapshot_bytes = std::fs::metadata(dir.join("snapshot"))?.len();
    let rss0 = rss_bytes();
    let c3 = cpu_s();
    let t3 = Instant::now();
    let (store, recovery) = Store::open(&dir, scorer.clone(), None)?;
    let load_s = t3.elapsed().as_secs_f64();
    let load_cpu_s = match (c3, cpu_s()) {
        (Some(a), Some(b)) => json!(b - a),
        _ => json!(null),
    };
    let rss1 = rss_bytes();
    anyhow::ensure!(
        recovery.snapshot_records as u64 == n && recovery.damage.is_empty(),
        "reload: {recovery:?}"
    );
    let index = store.index();
    let mem = index.memory_bytes();

    // 4. Probes.
    let m = a.probes;
    bar.stage("probes", 2 * m + a.calibration_probes);
    let mated_ids: Vec<u64> = (0..m)
        .map(|p| (p.wrapping_mul(0x9E37_79B9) ^ (p >> 3)) % n)
        .collect();
    let mated: Vec<S::Template> = par_gen(0..m, a.threads.max(2), |p| {
        let i = mated_ids[p as usize];
        let t = conv(model.capture(&model.identity(seed ^ (i * 0x1_0001)), probe_seed(p)));
        bar.inc(1);
        t
    });
    let nonmated: Vec<S::Template> = par_gen(0..m, a.threads.max(2), |p| {
        let t = conv(model.capture(&model.identity(outsider(p)), probe_seed(p)));
        bar.inc(1);
        t
    });
    let sp = SearchParams {
        shortlist: a.shortlist,
        fpir: a.fpir,
        ..SearchParams::default()
    };
    // Threshold: the scorer's per-comparison model at FMR = FPIR / N, then the gallery-level
    // impostor-max fit on separate non-mated searches (the decision used below).
    let model_threshold = palmsig_index::index::threshold_for(&scorer, a.fpir, n as usize);
    let calib: Vec<S::Template> = par_gen(0..a.calibration_probes, a.threads.max(2), |p| {
        let t = conv(model.capture(&model.identity(outsider(1 << 30 | p)), probe_seed(p) ^ 0x77));
        bar.inc(1);
        t
    });
    let t6 = Instant::now();
    let imax = index.calibrate_impostor_max(&calib, &sp)?;
    let calibrate_s = t6.elapsed().as_secs_f64();
    drop(calib);

    // 5. Latency, one thread.
    bar.stage("latency", 2 * m);
    let mut first = Vec::new();
    let mut best = Vec::new();
    let mut top: Vec<(u64, f32)> = Vec::new();
    let mut threshold = f32::NAN;
    for probe in mated.iter().chain(nonmated.iter()) {
        let mut b = f64::MAX;
        let mut res = None;
        for r in 0..a.repeats {
            let t = Instant::now();
            let out = index.search(probe, &sp)?;
            let dt = t.elapsed().as_secs_f64() * 1e3;
            if r == 0 {
                first.push(dt);
            }
            b = b.min(dt);
            res = Some(out);
        }
        best.push(b);
        let res = res.expect("at least one repeat");
        threshold = res.threshold;
        top.push(
            res.candidates
                .first()
                .map_or((u64::MAX, f32::NEG_INFINITY), |c| (c.id, c.score)),
        );
        if let Decision::Match { score, .. } = res.decision {
            anyhow::ensure!(score >= threshold, "decision below its threshold");
        }
        bar.inc(1);
    }
    // FNIR: mated searches whose top candidate is not the mate at or above the threshold;
    // FPIR: non-mated searches whose top candidate reaches it.
    let rates = |t: f32| {
        let m = m as usize;
        let fnir = top[..m]
            .iter()
            .zip(&mated_ids)
            .filter(|((id, s), mate)| !(*id == **mate && *s >= t))
            .count();
        let fpir = top[m..].iter().filter(|(_, s)| *s >= t).count();
        (fnir as f64 / m as f64, fpir as f64 / m as f64)
    };
    let (fnir, fpir_measured) = rates(threshold);
    let (fnir_model, fpir_model) = rates(model_threshold);
    first.sort_by(f64::total_cmp);
    best.sort_by(f64::total_cmp);

    // 6. Throughput on T threads.
    bar.stage("throughput", 1);
    let all: Vec<&S::Template> = mated.iter().chain(nonmated.iter()).collect();
    let t4 = Instant::now();
    std::thread::scope(|s| {
        for c in all.chunks(all.len().div_ceil(a.threads)) {
            let sp = &sp;
            s.spawn(move || {
                for p in c {
                    let _ = index.search(p, sp);
                }
            });
        }
    });
    let qps = all.len() as f64 / t4.elapsed().as_secs_f64();

    // 7. Coarse recall: against the mate, and against exhaustive search.
    bar.stage("recall", m + a.recall_probes.min(m));
    let mut mate_hits = 0u64;
    for (p, probe) in mated.iter().enumerate() {
        if index
            .shortlist(probe, a.shortlist)?
            .iter()
            .any(|x| x.0 == mated_ids[p])
        {
            mate_hits += 1;
        }
        bar.inc(1);
    }
    let r = a.recall_probes.min(m) as usize;
    let t5 = Instant::now();
    let agree: Vec<bool> = par_gen(0..r as u64, a.threads, |p| {
        let probe = &mated[p as usize];
        let ex = index.search(
            probe,
            &SearchParams {
                max_results: 1,
                ..SearchParams::exhaustive()
            },
        );
        let sl = index.shortlist(probe, a.shortlist);
        bar.inc(1);
        match (ex, sl) {
            (Ok(ex), Ok(sl)) => ex
                .candidates
                .first()
                .is_some_and(|c| sl.iter().any(|x| x.0 == c.id)),
            _ => false,
        }
    });
    let exhaustive_s = t5.elapsed().as_secs_f64();
    let recall_exh = agree.iter().filter(|&&x| x).count() as f64 / r.max(1) as f64;

    // 8. Scan kernel vs memory bandwidth.
    bar.stage("scan", 1);
    let words = scorer.coarse_words();
    let mut codes = Vec::with_capacity(n as usize * words);
    index.for_each_live(|_, c, _| codes.extend_from_slice(c));
    let cp = scorer.coarse_probe(&mated[0])?;
    let mut out = vec![0u16; n as usize];
    let mut kernels = serde_json::Map::new();
    for k in [Kernel::Avx2, Kernel::Popcnt, Kernel::Portable] {
        if !k.is_available() {
            continue;
        }
        let mut bt = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            scan_min(k, words, &codes, &cp.codes, &cp.masks, &mut out);
            bt = bt.min(t.elapsed().as_secs_f64());
        }
        kernels.insert(
            k.name().into(),
            json!({"ms": bt * 1e3, "gb_per_s": (codes.len() * 8) as f64 / bt / 1e9}),
        );
    }
    drop(codes);
    let bw = memory_bandwidth(1 << 30);
    let bw_same = memory_bandwidth(n as usize * words * 8);
    let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let report = json!({
        "gallery": n,
        "probes": {"mated": m, "non_mated": m},
        "threads": a.threads,
        "shortlist": a.shortlist,
        "kernel": index.kernel().name(),
        "model": format!("{model:?}"),
        "model_fit": fit,
        "scorer": a.scorer,
        "calibration": calibration,
        "build": {"generate_s": gen_s, "insert_s": insert_s, "snapshot_write_s": snapshot_write_s},
        "load": {"load_s": load_s, "load_cpu_s": load_cpu_s, "snapshot_bytes": snapshot_bytes,
                  "snapshot_bytes_per_hand": snapshot_bytes as f64 / n as f64},
        "ram": {"index_bytes_per_hand": mem as f64 / n as f64,
                 "rss_delta_bytes_per_hand": match (rss0, rss1) { (Some(x), Some(y)) => json!((y as f64 - x as f64) / n as f64), _ => json!(null) }},
        "latency_ms": {
            "first_run": {"p50": pct(&first, 0.5), "p95": pct(&first, 0.95), "p99": pct(&first, 0.99), "max": pct(&first, 1.0)},
            "best_of_repeats": {"repeats": a.repeats, "p50": pct(&best, 0.5), "p95": pct(&best, 0.95), "p99": pct(&best, 0.99), "max": pct(&best, 1.0)},
        },
        "queries_per_s": qps,
        "coarse_recall": {"mate_in_shortlist": mate_hits as f64 / m as f64,
                           "vs_exhaustive": recall_exh, "exhaustive_probes": r, "exhaustive_s": exhaustive_s},
        "decision": {"fpir_target": a.fpir,
            "impostor_max": {"threshold": threshold, "fnir": fnir, "fpir_measured": fpir_measured,
                "gumbel_mu": imax.mu, "gumbel_beta": imax.beta, "calibration_searches": imax.samples, "calibrate_s": calibrate_s},
            "scorer_fmr_model": {"threshold": model_threshold, "fnir": fnir_model, "fpir_measured": fpir_model}},
        "scan": {"bytes": n as usize * words * 8, "kernels": kernels, "memory_read_gb_per_s": {"1GiB": bw, "scan_sized": bw_same}},
        "machine": {"load_average": load_avg.trim(), "cpus": std::thread::available_parallelism().map(|x| x.get()).unwrap_or(1)},
    });
    bar.finish();
    println!("{}", serde_json::to_string_pretty(&report)?);
    drop(store);
    if a.dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}
