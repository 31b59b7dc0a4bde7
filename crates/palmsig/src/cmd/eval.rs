//! `palmsig eval`: run the engine over a dataset manifest and write `report.json`, `scores.txt`,
//! `det.svg`, `det.png` and `failures.csv` (see `palmsig_eval` and `docs/MANIFEST.md`).

use std::path::{Path, PathBuf};

use super::progress::Bar;
use anyhow::Context as _;
use palmsig_codes::{Algorithm, Engine, MatchError, PreparedProbe, Template};
use palmsig_core::GrayImage;
use palmsig_eval::{
    CaptureRecord, EngineInfo, EvalEngine, EvalOptions, Failure, Manifest, ModalitySelection,
    Protocol, Scores,
};
use palmsig_vision::{extract_roi, Capture, DecodeError, DirSink, ExplainSink, NoExplain};

/// Arguments of `palmsig eval`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset manifest (CSV: capture, subject, hand, session, kind, visible, nir).
    #[arg(long)]
    pub manifest: PathBuf,
    /// Evaluation protocol.
    #[arg(long, value_parser = ["all-pairs", "cross-session", "open-set"], default_value = "all-pairs")]
    pub protocol: String,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Coding algorithm: compcode, bocv, ordinal.
    #[arg(long, default_value = "bocv")]
    pub algorithm: String,
    /// Images used and score judged: visible (surface), nir (vein) or fused.
    #[arg(long, value_parser = ["visible", "nir", "fused"], default_value = "fused")]
    pub modality: String,
    /// Write the pipeline's stage images of some captures into this folder.
    #[arg(long)]
    pub explain: Option<PathBuf>,
    /// With --explain: how many captures (the first ones, plus as many failures).
    #[arg(long, default_value_t = 10)]
    pub explain_count: usize,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Open-set: fraction of classes left out of the gallery.
    #[arg(long, default_value_t = palmsig_eval::params::DEFAULT_OPEN_FRACTION)]
    pub open_fraction: f64,
    /// Open-set: seed of the held-out choice.
    #[arg(long, default_value_t = palmsig_eval::params::DEFAULT_SEED)]
    pub seed: u64,
    /// Calibration profile (`palmsig calibrate`) to score with instead of the built-in tables.
    #[arg(long)]
    pub profile: Option<PathBuf>,
}

/// `palmsig_codes::Engine` (with `palmsig_vision` for decoding and the ROI) as an [`EvalEngine`]
/// (also what `palmsig calibrate` extracts and pairs with).
pub(crate) struct CodesEngine {
    pub(crate) engine: Engine,
    selection: palmsig_codes::ModalitySelection,
    explain_dir: Option<PathBuf>,
    /// How the scores are calibrated, for the report's engine version.
    calibration: String,
}

impl CodesEngine {
    /// An engine judging `selection`, writing stage images under `explain_dir` when asked.
    pub(crate) fn new(
        engine: Engine,
        selection: palmsig_codes::ModalitySelection,
        explain_dir: Option<PathBuf>,
    ) -> CodesEngine {
        CodesEngine {
            engine,
            selection,
            explain_dir,
            calibration: "built-in calibration".into(),
        }
    }
}

fn load(path: &Option<PathBuf>) -> Result<Option<GrayImage>, Failure> {
    let Some(p) = path else { return Ok(None) };
    palmsig_vision::load(p).map(Some).map_err(|e| match &e {
        DecodeError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Failure::new("file_missing", format!("{}: file not found", p.display()))
        }
        DecodeError::Io { .. } => Failure::new("file_unreadable", e.to_string()),
        _ => Failure::new("bad_image", format!("{}: {e} ({})", p.display(), e.code())),
    })
}

impl EvalEngine for CodesEngine {
    type Template = Template;
    /// A probe the matcher refused (other algorithm or parameters) keeps its error: every
    /// comparison of it then fails, as it would unprepared.
    type Probe = Result<PreparedProbe, MatchError>;

    fn extract(&self, c: &CaptureRecord, explain: bool) -> Result<Template, Failure> {
        let capture = Capture {
            kind: c.kind,
            hand: c.hand,
            visible: load(&c.visible)?,
            nir: load(&c.nir)?,
        };
        let mut sink: Box<dyn ExplainSink> = match (&self.explain_dir, explain) {
            (Some(dir), true) => match DirSink::new(dir, &c.id) {
                Ok(s) => Box::new(s),
                Err(_) => Box::new(NoExplain),
            },
            _ => Box::new(NoExplain),
        };
        let roi = extract_roi(&capture, sink.as_mut())
            .map_err(|e| Failure::new(e.code(), format!("{e} — {}", e.message())))?;
        self.engine
            .encode_roi_explained(roi.visible.as_ref(), roi.nir.as_ref(), &mut |stage, img| {
                sink.emit(stage, img)
            })
            .map_err(|e| Failure::new(e.code(), e.to_string()))
    }

    fn prepare(&self, probe: &Template) -> Self::Probe {
        self.engine.matcher().prepare(probe)
    }

    fn compare(&self, probe: &Self::Probe, reference: &Template) -> Scores {
        let m = self.engine.matcher();
        self.scores(
            probe
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|p| m.compare_prepared(p, reference)),
        )
    }

    fn compare_reference(&self, probe: &Self::Probe, references: &[Template]) -> Scores {
        let m = self.engine.matcher();
        self.scores(
            probe
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|p| m.compare_reference_prepared(p, references)),
        )
    }

    fn info(&self) -> EngineInfo {
        EngineInfo {
            algorithm: self.engine.algorithm().name().to_string(),
            version: format!(
                "palmsig {} (template format {}, {})",
                env!("CARGO_PKG_VERSION"),
                palmsig_codes::FORMAT_VERSION,
                self.calibration
            ),
        }
    }
}

impl CodesEngine {
    /// Headline score under the selection; a comparison that cannot be made scores 0, the
    /// calibrated floor ("no evidence"), and is counted as failed.
    fn scores(&self, r: Result<palmsig_codes::Comparison, palmsig_codes::MatchError>) -> Scores {
        let fused = self.selection == palmsig_codes::ModalitySelection::Fused;
        match r {
            Ok(c) => {
                let s = c.score(self.selection);
                Scores {
                    score: s.unwrap_or(0.0),
                    // Components only when fusing: under `nir` the surface code is NIR-made.
                    visible: if fused { c.surface } else { None },
                    nir: if fused { c.vein } else { None },
                    failed: s.is_none(),
                }
            }
            Err(_) => Scores {
                score: 0.0,
                visible: None,
                nir: None,
                failed: true,
            },
        }
    }
}

fn fmt_rate(v: Option<f64>) -> String {
    v.map_or("null".into(), |v| format!("{v:.5}"))
}

/// Run `palmsig eval`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let algorithm: Algorithm = args.algorithm.parse()?;
    let (modality, selection) = match args.modality.as_str() {
        "visible" => (
            ModalitySelection::Visible,
            palmsig_codes::ModalitySelection::Visible,
        ),
        "nir" => (
            ModalitySelection::Nir,
            palmsig_codes::ModalitySelection::Nir,
        ),
        _ => (
            ModalitySelection::Fused,
            palmsig_codes::ModalitySelection::Fused,
        ),
    };
    let protocol = match args.protocol.as_str() {
        "cross-session" => Protocol::CrossSession,
        "open-set" => Protocol::OpenSet {
            fraction: args.open_fraction,
            seed: args.seed,
        },
        _ => Protocol::AllPairs,
    };
    if args.threads == Some(0) {
        anyhow::bail!("--threads must be at least 1");
    }
    let manifest = Manifest::from_path(&args.manifest)
        .with_context(|| format!("manifest {}", args.manifest.display()))?;
    let profile = super::calibrate::load_profile(args.profile.as_deref())?;
    let mut engine = CodesEngine::new(
        super::calibrate::engine(algorithm, profile.as_ref())?,
        selection,
        args.explain.clone(),
    );
    if let Some(p) = &args.profile {
        engine.calibration = format!("calibration profile {}", p.display());
    }
    let opts = EvalOptions {
        protocol,
        modality,
        explain_count: if args.explain.is_some() {
            args.explain_count
        } else {
            0
        },
        manifest_label: args.manifest.display().to_string(),
    };
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(t) = args.threads {
        pool = pool.num_threads(t);
    }
    let pool = pool.build().context("starting worker threads")?;
    let bar = Bar::new();
    let report =
        pool.install(|| palmsig_eval::evaluate(&engine, &manifest, &opts, &args.out, &bar))?;
    print_summary(&report, &args.out);
    nothing_evaluated(&report)
}

/// An evaluation that made no comparison measured nothing: an error (exit status 1), not a
/// report of zeros (every image path wrong, every capture refused, a one-capture manifest).
fn nothing_evaluated(r: &palmsig_eval::Report) -> anyhow::Result<()> {
    if r.genuine_pairs + r.impostor_pairs > 0 {
        return Ok(());
    }
    let reasons: Vec<String> = r
        .failures_to_acquire
        .reasons
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    anyhow::bail!(
        "nothing could be evaluated: {} of {} captures failed to acquire ({}), no pair compared",
        r.failures_to_acquire.count,
        r.captures,
        reasons.join(", ")
    )
}

fn print_summary(r: &palmsig_eval::Report, out: &Path) {
    println!(
        "{} on {} captures, {} classes ({}, {}, {} threads)",
        r.protocol, r.captures, r.classes, r.algorithm, r.modality, r.threads
    );
    let reasons: Vec<String> = r
        .failures_to_acquire
        .reasons
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    println!(
        "failures to acquire: {} ({:.4}) {}",
        r.failures_to_acquire.count,
        r.failures_to_acquire.rate,
        reasons.join(", ")
    );
    println!(
        "genuine {} impostor {} (failed comparisons {})  EER {}",
        r.genuine_pairs,
        r.impostor_pairs,
        r.failed_comparisons,
        fmt_rate(r.eer)
    );
    let f: Vec<String> = r
        .fnmr_at_fmr
        .iter()
        .map(|(k, v)| format!("{k}: {}", fmt_rate(*v)))
        .collect();
    println!("FNMR at FMR  {}", f.join("  "));
    if r.rank1.is_some() {
        println!("rank-1 {}", fmt_rate(r.rank1));
    }
    if let Some(f) = &r.fnir_at_fpir {
        let f: Vec<String> = f
            .iter()
            .map(|(k, v)| format!("{k}: {}", fmt_rate(*v)))
            .collect();
        println!("FNIR at FPIR  {}", f.join("  "));
    }
    if let Some(id) = &r.identification {
        if let (Some(z), true) = (id.fnir_at_zero_fpir, r.fnir_at_fpir.is_some()) {
            println!(
                "FNIR at FPIR 0: {:.5} ({} mated, {} non-mated searches)",
                z.fnmr, id.mated_searches, id.nonmated_searches
            );
        }
    }
    print_calibration("calibration", &r.calibration);
    if let Some(e) = &r.enrolment {
        let f: Vec<String> = e
            .fnmr_at_fmr
            .iter()
            .map(|(k, v)| format!("{k}: {}", fmt_rate(*v)))
            .collect();
        println!(
            "enrolment: EER {}  rank-1 {}  FNMR at FMR {}",
            fmt_rate(e.eer),
            fmt_rate(e.rank1),
            f.join("  ")
        );
        print_calibration("enrolment calibration", &e.calibration);
    }
    println!(
        "extract {} ms median, {} comparisons/s",
        r.extract_ms_median
            .map_or("-".into(), |v| format!("{v:.1}")),
        r.compare_per_s.map_or("-".into(), |v| format!("{v:.0}"))
    );
    println!(
        "wrote {}/{{report.json, scores.txt, det.svg, det.png, failures.csv}}",
        out.display()
    );
}

/// One line per nominal FMR: the calibrated threshold, the FMR measured there (and its ratio
/// to the nominal one: far below 1 = pessimistic calibration, above 1 = optimistic) and FNMR.
fn print_calibration(
    title: &str,
    points: &std::collections::BTreeMap<String, palmsig_eval::metrics::CalibrationPoint>,
) {
    println!("{title} (threshold = -log10 FMR; measured FMR / nominal):");
    for (k, p) in points {
        let ratio = p.ratio().map_or("-".into(), |r| format!("{r:.3}x"));
        println!(
            "  {k}: threshold {:.1}  FMR {}  ({ratio})  FNMR {}",
            p.threshold,
            p.fmr.map_or("null".into(), |v| format!("{v:.3e}")),
            fmt_rate(p.fnmr)
        );
    }
}
