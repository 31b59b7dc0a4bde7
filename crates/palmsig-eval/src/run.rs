//! The evaluation run: extract every capture, compare by protocol, stream `scores.txt`, compute
//! the metrics, write `report.json`, `det.svg`, `det.png` and `failures.csv`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::det::{self, Curve};
use crate::engine::{EngineInfo, EvalEngine, Failure, Progress, Scores};
use crate::manifest::{escape_token, CaptureRecord, Manifest};
use crate::metrics::{
    self, CalibrationPoint, Identification, OperatingPoint, Search, Verification,
};
use crate::params;
use crate::protocol::{self, Protocol, Role};

/// Which images of each capture are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModalitySelection {
    /// Visible-light images only.
    Visible,
    /// NIR images only.
    Nir,
    /// Every image a capture has (visible and/or NIR), scores fused by the engine.
    Fused,
}

impl ModalitySelection {
    /// `visible`, `nir` or `fused`.
    pub fn name(self) -> &'static str {
        match self {
            ModalitySelection::Visible => "visible",
            ModalitySelection::Nir => "nir",
            ModalitySelection::Fused => "fused",
        }
    }
}

/// Options of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalOptions {
    /// The protocol.
    pub protocol: Protocol,
    /// The modality selection.
    pub modality: ModalitySelection,
    /// Number of captures extracted with `explain` set (the first ones in manifest order, plus up
    /// to as many of the captures that failed to acquire, extracted again).
    pub explain_count: usize,
    /// How the manifest is named in the report (usually its path).
    pub manifest_label: String,
}

/// Errors of a run (the manifest is already parsed; image problems are failures to acquire).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// An output file could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The PNG encoder failed.
    #[error("cannot encode {path}: {message}")]
    Encode {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Failures to acquire.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailuresToAcquire {
    /// Captures without a template.
    pub count: u64,
    /// `count / captures`.
    pub rate: f64,
    /// Count per reason code.
    pub reasons: BTreeMap<String, u64>,
}

/// Generalized rates (ISO/IEC 19795-1) at the `fnmr_at_fmr` operating points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Generalized {
    /// The failure-to-acquire rate used.
    pub fta: f64,
    /// `GFMR = FMR (1 − FTA)` at each operating point.
    pub gfmr_at_fmr: BTreeMap<String, Option<f64>>,
    /// `GFNMR = FTA + FNMR (1 − FTA)` at each operating point.
    pub gfnmr_at_fmr: BTreeMap<String, Option<f64>>,
}

/// Verification metrics of one score type (a modality component or the enrolment scores).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricsSummary {
    /// Genuine comparisons.
    pub genuine_pairs: u64,
    /// Impostor comparisons.
    pub impostor_pairs: u64,
    /// Equal error rate.
    pub eer: Option<f64>,
    /// FNMR at FMR `1e-2` … `1e-6`.
    pub fnmr_at_fmr: BTreeMap<String, Option<f64>>,
    /// Thresholds and achieved FMR.
    pub operating_points: BTreeMap<String, Option<OperatingPoint>>,
    /// The calibrated decision at each nominal FMR against the measured rates.
    pub calibration: BTreeMap<String, CalibrationPoint>,
    /// Closed-set rank-1 (enrolment only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank1: Option<f64>,
}

impl MetricsSummary {
    fn of(v: &Verification, rank1: Option<f64>) -> MetricsSummary {
        MetricsSummary {
            genuine_pairs: v.genuine_pairs,
            impostor_pairs: v.impostor_pairs,
            eer: v.eer,
            fnmr_at_fmr: v.fnmr_at_fmr.clone(),
            operating_points: v.operating_points.clone(),
            calibration: v.calibration.clone(),
            rank1,
        }
    }
}

/// How the protocol split the captures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    /// Acquired captures used as gallery (reference) captures.
    pub gallery_captures: u64,
    /// Acquired captures used as probes.
    pub probe_captures: u64,
    /// Classes held out of the gallery (open-set).
    pub held_out_classes: u64,
    /// Enrolled classes left without any acquired gallery capture (their probes can't hit).
    pub classes_without_gallery: u64,
    /// Open-set: fraction of classes held out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_fraction: Option<f64>,
    /// Open-set: seed of the split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// `report.json` (contract keys first; see `docs/MANIFEST.md`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `all-pairs`, `cross-session` or `open-set`.
    pub protocol: String,
    /// Captures in the manifest.
    pub captures: u64,
    /// Identity classes (subject, hand) in the manifest.
    pub classes: u64,
    /// Failures to acquire.
    pub failures_to_acquire: FailuresToAcquire,
    /// Genuine comparisons (headline scores).
    pub genuine_pairs: u64,
    /// Impostor comparisons (headline scores).
    pub impostor_pairs: u64,
    /// Equal error rate (headline).
    pub eer: Option<f64>,
    /// FNMR at FMR `1e-2` … `1e-6` (headline; `null` where too few impostor pairs).
    pub fnmr_at_fmr: BTreeMap<String, Option<f64>>,
    /// Rank-1 identification rate (cross-session: closed set; open-set: enrolled probes).
    pub rank1: Option<f64>,
    /// FNIR at FPIR `1e-2`, `1e-3` (open-set only).
    pub fnir_at_fpir: Option<BTreeMap<String, Option<f64>>>,
    /// Cross-session metrics with multi-capture enrolment (when a class has several gallery
    /// captures).
    pub enrolment: Option<MetricsSummary>,
    /// Modalities used: `visible`, `nir`.
    pub modalities: Vec<String>,
    /// Median time to extract one capture (ms, one thread, failures included).
    pub extract_ms_median: Option<f64>,
    /// Comparisons per second over the whole machine (all threads) in the comparison phase.
    pub compare_per_s: Option<f64>,
    /// The modality selection: `visible`, `nir` or `fused`.
    pub modality: String,
    /// Algorithm under test.
    pub algorithm: String,
    /// Engine version.
    pub engine_version: String,
    /// The manifest evaluated.
    pub manifest: String,
    /// Subjects in the manifest.
    pub subjects: u64,
    /// Distinct session labels in the manifest.
    pub sessions: u64,
    /// Thresholds (accept iff score ≥ threshold) and achieved FMR of `fnmr_at_fmr`.
    pub operating_points: BTreeMap<String, Option<OperatingPoint>>,
    /// The product's decision for each nominal FMR (threshold `-log10 FMR` on the `scores.txt`
    /// scale) with the FMR and FNMR measured there (headline scores; see
    /// [`metrics::calibration_points`]).
    pub calibration: BTreeMap<String, CalibrationPoint>,
    /// ISO/IEC 19795-1 generalized FMR/FNMR including failures to acquire.
    pub generalized: Generalized,
    /// Identification details (cross-session, open-set).
    pub identification: Option<Identification>,
    /// Per-modality component metrics (when the engine returns component scores).
    pub per_modality: BTreeMap<String, MetricsSummary>,
    /// Gallery/probe split.
    pub split: Split,
    /// Comparisons made (headline + enrolment).
    pub comparisons: u64,
    /// Comparisons the engine could not make (scored as its lowest score, still counted).
    pub failed_comparisons: u64,
    /// Worker threads.
    pub threads: u64,
    /// Wall time of the extraction phase (s).
    pub extract_s: f64,
    /// Wall time of the comparison phases, writing included (s).
    pub compare_s: f64,
    /// Headline DET curve (thinned).
    pub det: Vec<metrics::DetPoint>,
}

/// Genuine/impostor scores of a pass, per score type.
#[derive(Default)]
struct Curves {
    fused: (Vec<f32>, Vec<f32>),
    visible: (Vec<f32>, Vec<f32>),
    nir: (Vec<f32>, Vec<f32>),
}

/// NaN would break the ordering: a NaN similarity is the lowest score.
fn clean(s: f32) -> f32 {
    if s.is_nan() {
        f32::NEG_INFINITY
    } else {
        s
    }
}

impl Curves {
    fn push(&mut self, genuine: bool, s: &Scores) {
        let put = |c: &mut (Vec<f32>, Vec<f32>), v: f32| {
            if genuine {
                c.0.push(clean(v))
            } else {
                c.1.push(clean(v))
            }
        };
        put(&mut self.fused, s.score);
        if let Some(v) = s.visible {
            put(&mut self.visible, v);
        }
        if let Some(v) = s.nir {
            put(&mut self.nir, v);
        }
    }
}

/// Result of one comparison pass.
struct Pass {
    curves: Curves,
    searches: Vec<Search>,
    comparisons: u64,
    failed: u64,
    /// Wall time of the pass (comparing and writing overlap).
    wall: Duration,
    /// Wall time of the parallel comparing alone.
    compute: Duration,
}

/// Context shared by the passes.
struct Ctx<'a> {
    class_of: Vec<u32>,
    class_names: Vec<String>,
    capture_ids: Vec<String>,
    n_classes: usize,
    progress: &'a dyn Progress,
}

type Rows = Vec<Vec<(u32, Scores)>>;

/// Mutable state of a pass while rows are consumed.
struct Sink<'a> {
    w: BufWriter<File>,
    path: &'a Path,
    out: Pass,
    best: Vec<f32>,
    present: Vec<bool>,
    held: Option<&'a [bool]>,
}

impl Sink<'_> {
    /// Write a batch of rows, collect its scores and searches.
    fn consume(&mut self, ctx: &Ctx<'_>, chunk: &[u32], rows: &Rows) -> Result<(), EvalError> {
        for (&p, r) in chunk.iter().zip(rows) {
            let pc = ctx.class_of[p as usize];
            let pname = &ctx.class_names[pc as usize];
            let pid = &ctx.capture_ids[p as usize];
            for (claimed, s) in r {
                writeln!(
                    self.w,
                    "{} {} {} {}",
                    ctx.class_names[*claimed as usize], pname, pid, s.score
                )
                .map_err(io_err(self.path))?;
                self.out.curves.push(*claimed == pc, s);
                self.out.failed += u64::from(s.failed);
                if self.held.is_some() {
                    let c = *claimed as usize;
                    let v = clean(s.score);
                    if !self.present[c] || v > self.best[c] {
                        self.best[c] = v;
                    }
                    self.present[c] = true;
                }
            }
            self.out.comparisons += r.len() as u64;
            if let Some(held) = self.held {
                let mut mate = None;
                let mut other: Option<f32> = None;
                for (claimed, _) in r {
                    let c = *claimed as usize;
                    if !self.present[c] {
                        continue;
                    }
                    self.present[c] = false;
                    if c == pc as usize {
                        mate = Some(self.best[c]);
                    } else {
                        other = Some(other.map_or(self.best[c], |o| o.max(self.best[c])));
                    }
                }
                self.out.searches.push(if held[pc as usize] {
                    Search::NonMated {
                        top: match (mate, other) {
                            (Some(a), Some(b)) => Some(a.max(b)),
                            (a, b) => a.or(b),
                        },
                    }
                } else {
                    Search::Mated {
                        mate,
                        best_nonmate: other,
                    }
                });
            }
        }
        ctx.progress.inc(chunk.len() as u64);
        Ok(())
    }
}

/// Compare each probe with its targets (`row(probe)` → `(claimed class, scores)` list), stream
/// the lines to `path`, collect genuine/impostor scores and, with `searches`, one search per
/// probe (`held[class]` = class not enrolled). Batches are compared in parallel while the
/// previous batch is written.
fn pass<R>(
    ctx: &Ctx<'_>,
    probes: &[u32],
    row: R,
    path: &Path,
    searches: Option<&[bool]>,
) -> Result<Pass, EvalError>
where
    R: Fn(u32) -> Vec<(u32, Scores)> + Sync,
{
    let t0 = Instant::now();
    let file = File::create(path).map_err(io_err(path))?;
    let mut sink = Sink {
        w: BufWriter::with_capacity(1 << 20, file),
        path,
        out: Pass {
            curves: Curves::default(),
            searches: Vec::new(),
            comparisons: 0,
            failed: 0,
            wall: Duration::ZERO,
            compute: Duration::ZERO,
        },
        best: vec![f32::NEG_INFINITY; ctx.n_classes],
        present: vec![false; ctx.n_classes],
        held: searches,
    };
    let compute = |chunk: &[u32]| -> (Rows, Duration) {
        let t = Instant::now();
        let rows = chunk.par_iter().map(|&p| row(p)).collect();
        (rows, t.elapsed())
    };
    let mut chunks = probes.chunks(params::ROWS_PER_BATCH);
    let mut prev: Option<(&[u32], Rows)> = None;
    loop {
        let next = chunks.next();
        let (written, rows) = rayon::join(
            || match prev.take() {
                Some((c, r)) => sink.consume(ctx, c, &r),
                None => Ok(()),
            },
            || next.map(compute),
        );
        written?;
        match (next, rows) {
            (Some(c), Some((r, t))) => {
                sink.out.compute += t;
                prev = Some((c, r));
            }
            _ => break,
        }
    }
    sink.w.flush().map_err(io_err(path))?;
    let mut out = sink.out;
    out.wall = t0.elapsed();
    Ok(out)
}

/// The capture restricted to the selected modality, or why it has nothing to offer.
fn select(c: &CaptureRecord, m: ModalitySelection) -> Result<CaptureRecord, Failure> {
    let mut c = c.clone();
    match m {
        ModalitySelection::Visible => c.nir = None,
        ModalitySelection::Nir => c.visible = None,
        ModalitySelection::Fused => {}
    }
    if c.visible.is_none() && c.nir.is_none() {
        return Err(Failure::new(
            "modality_absent",
            format!("capture has no {} image", m.name()),
        ));
    }
    Ok(c)
}

/// Every capture of a manifest extracted ([`extract_all`]).
#[derive(Debug)]
pub struct Extraction<T> {
    /// One entry per capture, in manifest order: its template, or `None` (a failure to acquire).
    pub templates: Vec<Option<T>>,
    /// The failures to acquire: capture index and why.
    pub failures: Vec<(usize, Failure)>,
    /// Wall time of each capture's extraction (ms, one thread), in manifest order.
    pub times_ms: Vec<f64>,
    /// Wall time of the whole extraction (s, all threads).
    pub seconds: f64,
}

impl<T> Extraction<T> {
    /// Count, rate and reasons of the failures to acquire.
    pub fn failures_to_acquire(&self) -> FailuresToAcquire {
        failures_to_acquire(&self.failures, self.templates.len())
    }
}

fn failures_to_acquire(failures: &[(usize, Failure)], captures: usize) -> FailuresToAcquire {
    let mut reasons = BTreeMap::new();
    for (_, f) in failures {
        *reasons.entry(f.code.clone()).or_insert(0u64) += 1;
    }
    FailuresToAcquire {
        count: failures.len() as u64,
        rate: if captures > 0 {
            failures.len() as f64 / captures as f64
        } else {
            0.0
        },
        reasons,
    }
}

/// Extract every capture of `manifest` under a modality selection, in parallel (the current
/// rayon pool), the first `explain_count` with `explain` set. A capture that cannot be
/// extracted is a failure to acquire, never an error. This is step 1 of [`evaluate`], and what
/// a calibration fit (`palmsig calibrate`) starts from.
pub fn extract_all<E: EvalEngine>(
    engine: &E,
    manifest: &Manifest,
    modality: ModalitySelection,
    explain_count: usize,
    progress: &dyn Progress,
) -> Extraction<E::Template> {
    let t0 = Instant::now();
    let n = manifest.captures.len();
    progress.stage("extract", n as u64);
    let extracted: Vec<(Result<E::Template, Failure>, f64)> = manifest
        .captures
        .par_iter()
        .enumerate()
        .map(|(i, c)| {
            let t = Instant::now();
            let r = select(c, modality).and_then(|c| engine.extract(&c, i < explain_count));
            progress.inc(1);
            (r, t.elapsed().as_secs_f64() * 1e3)
        })
        .collect();
    progress.finish();
    let mut out = Extraction {
        templates: Vec::with_capacity(n),
        failures: Vec::new(),
        times_ms: Vec::with_capacity(n),
        seconds: t0.elapsed().as_secs_f64(),
    };
    for (i, (r, ms)) in extracted.into_iter().enumerate() {
        out.times_ms.push(ms);
        match r {
            Ok(t) => out.templates.push(Some(t)),
            Err(f) => {
                out.failures.push((i, f));
                out.templates.push(None);
            }
        }
    }
    out
}

/// `f(genuine, probe, reference)` over every unordered pair of acquired captures of one
/// manifest (each pair once, the later capture as the prepared probe), in parallel; pairs where
/// `f` gives `None` are left out. Genuine = same class (subject, hand). Pairs are only formed
/// within `templates`, i.e. within one manifest: captures of different manifests (sensors) are
/// never compared.
pub fn map_pairs<E, R, F>(
    engine: &E,
    manifest: &Manifest,
    templates: &[Option<E::Template>],
    progress: &dyn Progress,
    f: F,
) -> Vec<R>
where
    E: EvalEngine,
    R: Send,
    F: Fn(bool, &E::Probe, &E::Template) -> Option<R> + Sync,
{
    let acquired: Vec<usize> = (0..templates.len().min(manifest.captures.len()))
        .filter(|&i| templates[i].is_some())
        .collect();
    progress.stage("compare", acquired.len() as u64);
    let out = acquired
        .par_iter()
        .enumerate()
        .flat_map_iter(|(k, &j)| {
            let probe = templates[j].as_ref().map(|t| engine.prepare(t));
            let class = manifest.captures[j].class;
            let row: Vec<R> = acquired[..k]
                .iter()
                .filter_map(|&i| {
                    let (p, r) = (probe.as_ref()?, templates[i].as_ref()?);
                    f(manifest.captures[i].class == class, p, r)
                })
                .collect();
            progress.inc(1);
            row
        })
        .collect();
    progress.finish();
    out
}

/// Run an evaluation and write its files into `out` (created if needed). Never stops on a
/// capture that fails to acquire; fails only on bad options or unwritable output.
pub fn evaluate<E: EvalEngine>(
    engine: &E,
    manifest: &Manifest,
    opts: &EvalOptions,
    out: &Path,
    progress: &dyn Progress,
) -> Result<Report, EvalError> {
    if let Protocol::OpenSet { fraction, .. } = opts.protocol {
        if !(0.0..1.0).contains(&fraction) || !fraction.is_finite() {
            return Err(EvalError::InvalidOption(format!(
                "open-set fraction {fraction} must be in [0, 1)"
            )));
        }
    }
    std::fs::create_dir_all(out).map_err(io_err(out))?;
    let n = manifest.captures.len();

    // 1. Extraction.
    let Extraction {
        templates,
        failures,
        times_ms: mut times,
        seconds: extract_s,
    } = extract_all(
        engine,
        manifest,
        opts.modality,
        opts.explain_count,
        progress,
    );
    // Explain some failures too (extracted again with the explain flag).
    for (i, _) in failures
        .iter()
        .filter(|(i, _)| *i >= opts.explain_count)
        .take(opts.explain_count)
    {
        if let Ok(c) = select(&manifest.captures[*i], opts.modality) {
            let _ = engine.extract(&c, true);
        }
    }
    write_failures(&out.join("failures.csv"), manifest, &failures)?;
    let fta = failures_to_acquire(&failures, n);

    // 2. Comparisons.
    let ctx = Ctx {
        class_of: manifest.captures.iter().map(|c| c.class).collect(),
        class_names: manifest.classes.iter().map(|k| k.name()).collect(),
        capture_ids: manifest
            .captures
            .iter()
            .map(|c| escape_token(&c.id))
            .collect(),
        n_classes: manifest.classes.len(),
        progress,
    };
    let acquired: Vec<u32> = (0..n as u32)
        .filter(|&i| templates[i as usize].is_some())
        .collect();
    let t = |i: u32| templates[i as usize].as_ref().expect("acquired");
    let scores_path = out.join("scores.txt");
    let t_compare = Instant::now();
    let mut split = Split {
        gallery_captures: 0,
        probe_captures: 0,
        held_out_classes: 0,
        classes_without_gallery: 0,
        open_fraction: None,
        seed: None,
    };
    let mut enrol: Option<Pass> = None;
    let no_hold = vec![false; ctx.n_classes];
    let main = match opts.protocol {
        Protocol::AllPairs => {
            progress.stage("compare", acquired.len() as u64);
            let p = pass(
                &ctx,
                &acquired,
                |j| {
                    let k = acquired.partition_point(|&a| a < j);
                    let probe = engine.prepare(t(j));
                    acquired[..k]
                        .iter()
                        .map(|&i| (ctx.class_of[i as usize], engine.compare(&probe, t(i))))
                        .collect()
                },
                &scores_path,
                None,
            )?;
            progress.finish();
            p
        }
        Protocol::CrossSession | Protocol::OpenSet { .. } => {
            let (roles, held) = match opts.protocol {
                Protocol::OpenSet { fraction, seed } => {
                    split.open_fraction = Some(fraction);
                    split.seed = Some(seed);
                    protocol::open_set_roles(manifest, fraction, seed)
                }
                _ => (protocol::cross_session_roles(manifest), no_hold.clone()),
            };
            split.held_out_classes = held.iter().filter(|&&h| h).count() as u64;
            let gallery: Vec<u32> = acquired
                .iter()
                .copied()
                .filter(|&i| roles[i as usize] == Role::Gallery)
                .collect();
            let probes: Vec<u32> = acquired
                .iter()
                .copied()
                .filter(|&i| roles[i as usize] == Role::Probe)
                .collect();
            split.gallery_captures = gallery.len() as u64;
            split.probe_captures = probes.len() as u64;
            // Multi-capture references, one per enrolled class with an acquired gallery capture.
            let mut refs: Vec<Vec<E::Template>> = vec![Vec::new(); ctx.n_classes];
            for &g in &gallery {
                refs[ctx.class_of[g as usize] as usize].push(t(g).clone());
            }
            let mut gallery_rows = vec![0usize; ctx.n_classes];
            for (c, r) in manifest.captures.iter().zip(&roles) {
                if *r == Role::Gallery {
                    gallery_rows[c.class as usize] += 1;
                }
            }
            split.classes_without_gallery = (0..ctx.n_classes)
                .filter(|&k| !held[k] && refs[k].is_empty())
                .count() as u64;
            let enrolled: Vec<u32> = (0..ctx.n_classes as u32)
                .filter(|&k| !refs[k as usize].is_empty())
                .collect();
            let by_reference = |p: u32| -> Vec<(u32, Scores)> {
                let probe = engine.prepare(t(p));
                enrolled
                    .iter()
                    .map(|&k| (k, engine.compare_reference(&probe, &refs[k as usize])))
                    .collect()
            };
            if matches!(opts.protocol, Protocol::CrossSession) {
                progress.stage("compare", probes.len() as u64);
                let p = pass(
                    &ctx,
                    &probes,
                    |p| {
                        let probe = engine.prepare(t(p));
                        gallery
                            .iter()
                            .map(|&g| (ctx.class_of[g as usize], engine.compare(&probe, t(g))))
                            .collect()
                    },
                    &scores_path,
                    Some(&held),
                )?;
                progress.finish();
                if gallery_rows.iter().any(|&g| g >= 2) {
                    progress.stage("enrolment", probes.len() as u64);
                    enrol = Some(pass(
                        &ctx,
                        &probes,
                        by_reference,
                        &out.join("scores_enrolment.txt"),
                        Some(&held),
                    )?);
                    progress.finish();
                }
                p
            } else {
                progress.stage("search", probes.len() as u64);
                let p = pass(&ctx, &probes, by_reference, &scores_path, Some(&held))?;
                progress.finish();
                p
            }
        }
    };
    let compare_s = t_compare.elapsed().as_secs_f64();
    let comparisons = main.comparisons + enrol.as_ref().map_or(0, |e| e.comparisons);
    let compute = main.compute + enrol.as_ref().map_or(Duration::ZERO, |e| e.compute);
    let failed_comparisons = main.failed + enrol.as_ref().map_or(0, |e| e.failed);

    // 3. Metrics.
    let Pass {
        mut curves,
        searches,
        ..
    } = main;
    let headline = Verification::compute(&mut curves.fused.0, &mut curves.fused.1);
    let mut per_modality = BTreeMap::new();
    let mut curve_list = vec![Curve {
        label: opts.modality.name().to_string(),
        eer: headline.eer,
        points: headline.det.clone(),
    }];
    for (name, c) in [("visible", &mut curves.visible), ("nir", &mut curves.nir)] {
        if c.0.is_empty() && c.1.is_empty() {
            continue;
        }
        let v = Verification::compute(&mut c.0, &mut c.1);
        if opts.modality == ModalitySelection::Fused {
            curve_list.push(Curve {
                label: name.to_string(),
                eer: v.eer,
                points: v.det.clone(),
            });
        }
        per_modality.insert(name.to_string(), MetricsSummary::of(&v, None));
    }
    drop(curves);
    let identification = match opts.protocol {
        Protocol::AllPairs => None,
        _ => Some(Identification::compute(&searches)),
    };
    let enrolment = enrol.map(|e| {
        let mut c = e.curves;
        let v = Verification::compute(&mut c.fused.0, &mut c.fused.1);
        let id = Identification::compute(&e.searches);
        curve_list.push(Curve {
            label: "enrolment".to_string(),
            eer: v.eer,
            points: v.det.clone(),
        });
        MetricsSummary::of(&v, id.rank1)
    });
    let generalized = Generalized {
        fta: fta.rate,
        gfmr_at_fmr: headline
            .operating_points
            .iter()
            .map(|(k, p)| (k.clone(), p.map(|p| p.fmr * (1.0 - fta.rate))))
            .collect(),
        gfnmr_at_fmr: headline
            .operating_points
            .iter()
            .map(|(k, p)| (k.clone(), p.map(|p| fta.rate + p.fnmr * (1.0 - fta.rate))))
            .collect(),
    };
    let mut modalities = Vec::new();
    if opts.modality != ModalitySelection::Nir
        && manifest.captures.iter().any(|c| c.visible.is_some())
    {
        modalities.push("visible".to_string());
    }
    if opts.modality != ModalitySelection::Visible
        && manifest.captures.iter().any(|c| c.nir.is_some())
    {
        modalities.push("nir".to_string());
    }
    let mut sessions: Vec<&str> = manifest
        .captures
        .iter()
        .map(|c| c.session.as_str())
        .collect();
    sessions.sort_unstable();
    sessions.dedup();
    let mut subjects: Vec<&str> = manifest
        .captures
        .iter()
        .map(|c| c.subject.as_str())
        .collect();
    subjects.sort_unstable();
    subjects.dedup();
    let EngineInfo { algorithm, version } = engine.info();
    let report = Report {
        protocol: opts.protocol.name().to_string(),
        captures: n as u64,
        classes: manifest.classes.len() as u64,
        failures_to_acquire: fta,
        genuine_pairs: headline.genuine_pairs,
        impostor_pairs: headline.impostor_pairs,
        eer: headline.eer,
        fnmr_at_fmr: headline.fnmr_at_fmr.clone(),
        rank1: identification.as_ref().and_then(|i| i.rank1),
        fnir_at_fpir: match opts.protocol {
            Protocol::OpenSet { .. } => identification.as_ref().map(|i| i.fnir_at_fpir.clone()),
            _ => None,
        },
        enrolment,
        modalities,
        extract_ms_median: metrics::median(&mut times),
        compare_per_s: (comparisons > 0 && compute > Duration::ZERO)
            .then(|| comparisons as f64 / compute.as_secs_f64()),
        modality: opts.modality.name().to_string(),
        algorithm,
        engine_version: version,
        manifest: opts.manifest_label.clone(),
        subjects: subjects.len() as u64,
        sessions: sessions.len() as u64,
        operating_points: headline.operating_points.clone(),
        calibration: headline.calibration.clone(),
        generalized,
        identification,
        per_modality,
        split,
        comparisons,
        failed_comparisons,
        threads: rayon::current_num_threads() as u64,
        extract_s,
        compare_s,
        det: headline.det,
    };

    // 4. Files.
    let path = out.join("report.json");
    let json = serde_json::to_string_pretty(&report).map_err(|e| EvalError::Encode {
        path: path.clone(),
        message: e.to_string(),
    })?;
    std::fs::write(&path, json + "\n").map_err(io_err(&path))?;
    let title = format!("DET {} {}", report.protocol, report.algorithm);
    let path = out.join("det.svg");
    std::fs::write(&path, det::det_svg(&curve_list, &title)).map_err(io_err(&path))?;
    let path = out.join("det.png");
    let png = det::det_png(&curve_list, &title);
    png.save_with_format(&path, image::ImageFormat::Png)
        .map_err(|e| EvalError::Encode {
            path: path.clone(),
            message: e.to_string(),
        })?;
    Ok(report)
}

fn write_failures(
    path: &Path,
    manifest: &Manifest,
    failures: &[(usize, Failure)],
) -> Result<(), EvalError> {
    let e = |e: csv::Error| EvalError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut w = csv::Writer::from_path(path).map_err(e)?;
    w.write_record(["capture", "line", "code", "message"])
        .map_err(e)?;
    for (i, f) in failures {
        let c = &manifest.captures[*i];
        w.write_record([c.id.as_str(), &c.line.to_string(), &f.code, &f.message])
            .map_err(e)?;
    }
    w.flush().map_err(|s| EvalError::Io {
        path: path.to_path_buf(),
        source: s,
    })
}
