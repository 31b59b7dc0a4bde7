//! `palmsig compare A B`: score and decision for two templates or capture images.
//!
//! `A` and `B` are each a template file (recognised by its `PSIG` magic) or a capture image
//! (coded on the fly with `--kind`, `--hand`, `--as`, `--algorithm`; add `--a-nir` / `--b-nir`
//! for the NIR companion of an image). Prints JSON: per-modality and fused calibrated scores
//! (`-log10` of the estimated false-match rate, built-in or `--profile` calibration), the
//! distances, the threshold for `--fmr` and the decision.

use std::path::{Path, PathBuf};

use anyhow::Context;
use palmsig_codes::{Algorithm, Engine, Template, Threshold};
use palmsig_core::{CaptureKind, Hand};
use palmsig_vision::NoExplain;

/// Arguments of `palmsig compare`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// First template file or capture image.
    a: PathBuf,
    /// Second template file or capture image.
    b: PathBuf,
    /// NIR companion of image A.
    #[arg(long)]
    a_nir: Option<PathBuf>,
    /// NIR companion of image B.
    #[arg(long)]
    b_nir: Option<PathBuf>,
    /// Target false-match rate of the decision threshold.
    #[arg(long, default_value_t = 1e-6)]
    fmr: f64,
    /// What a lone image is: visible or nir.
    #[arg(long = "as", default_value = "visible")]
    as_modality: String,
    /// hand or roi (for images).
    #[arg(long, default_value = "hand")]
    kind: String,
    /// left, right or unknown (for images).
    #[arg(long, default_value = "unknown")]
    hand: String,
    /// Coding scheme for images (templates carry their own).
    #[arg(long, default_value = "bocv")]
    algorithm: String,
    /// Calibration profile (`palmsig calibrate`) to score with instead of the built-in tables.
    #[arg(long)]
    profile: Option<PathBuf>,
}

fn side(path: &Path, nir: Option<&Path>, args: &Args, engine: &Engine) -> anyhow::Result<Template> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(palmsig_codes::MAGIC) {
        if nir.is_some() {
            anyhow::bail!("{}: a template takes no NIR companion", path.display());
        }
        return Template::from_bytes(&bytes)
            .with_context(|| format!("{}: not a valid template", path.display()));
    }
    let kind: CaptureKind = args
        .kind
        .parse()
        .map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
    let hand: Hand = args
        .hand
        .parse()
        .map_err(|e| anyhow::anyhow!("--hand: {e}"))?;
    let imgs = super::extract::read_images(&[path.to_path_buf()], nir, &args.as_modality)?;
    super::extract::extract(engine, imgs, kind, hand, &mut NoExplain)
        .with_context(|| path.display().to_string())
}

/// Run `palmsig compare`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let threshold = Threshold::for_fmr(args.fmr).map_err(|e| anyhow::anyhow!("--fmr: {e}"))?;
    let algorithm: Algorithm = args.algorithm.parse()?;
    let profile = super::calibrate::load_profile(args.profile.as_deref())?;
    let engine = Engine::new(algorithm);
    let a = side(&args.a, args.a_nir.as_deref(), &args, &engine)?;
    let b = side(&args.b, args.b_nir.as_deref(), &args, &engine)?;
    // Templates carry their algorithm: compare with a matcher of theirs.
    let matcher = super::calibrate::matcher(a.algorithm, profile.as_ref())?;
    let c = matcher.compare(&a, &b)?;
    println!(
        "{}",
        serde_json::json!({
            "algorithm": a.algorithm.name(),
            "surface": c.surface,
            "vein": c.vein,
            "fused": c.fused,
            "surface_distance": c.surface_distance,
            "vein_distance": c.vein_distance,
            "fmr": args.fmr,
            "threshold": threshold.score(),
            "decision": if threshold.accepts(c.fused) { "accept" } else { "reject" },
            "calibration": args.profile.as_ref().map_or("built-in".into(), |p| p.display().to_string()),
        })
    );
    Ok(())
}
