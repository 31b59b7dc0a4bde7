//! `palmsig extract`: capture image(s) → palm signature template file.
//!
//! ```text
//! palmsig extract VIS.png --out t.psig                 # visible image only
//! palmsig extract VIS.png NIR.png --out t.psig         # visible + NIR of one presentation
//! palmsig extract --nir NIR.png --out t.psig           # NIR only (surface code from NIR too)
//! palmsig extract IMG.png --as nir --kind roi --out t.psig
//! ```
//! Prints a JSON summary; on a failed acquisition prints the reason (`code`, message) and exits
//! with status 1.

use std::path::{Path, PathBuf};

use anyhow::Context;
use palmsig_codes::{Algorithm, Engine, Template};
use palmsig_core::{CaptureKind, GrayImage, Hand};
use palmsig_vision::{Capture, DirSink, ExplainSink, NoExplain};

/// Arguments of `palmsig extract`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Capture image(s): one image (its modality set by `--as`), or a visible then a NIR image
    /// of the same presentation.
    images: Vec<PathBuf>,
    /// NIR image of the presentation (alternative to the second positional image).
    #[arg(long)]
    nir: Option<PathBuf>,
    /// What a single positional image is: visible or nir.
    #[arg(long = "as", default_value = "visible")]
    as_modality: String,
    /// hand (full-hand frame: the ROI is found) or roi (already a palm-centre crop).
    #[arg(long, default_value = "hand")]
    kind: String,
    /// left, right or unknown (left hands are mirrored into the right-hand frame).
    #[arg(long, default_value = "unknown")]
    hand: String,
    /// Coding scheme: compcode (default), bocv, ordinal.
    #[arg(long, default_value = "bocv")]
    algorithm: String,
    /// Output template file.
    #[arg(long)]
    out: PathBuf,
    /// Write every stage's image (vision stages, normalised ROIs, code planes) as PNGs here.
    #[arg(long)]
    explain: Option<PathBuf>,
}

/// The images of one presentation, read from disk.
pub(crate) struct Images {
    pub visible: Option<GrayImage>,
    pub nir: Option<GrayImage>,
}

fn load(p: &Path) -> anyhow::Result<GrayImage> {
    palmsig_vision::load(p).with_context(|| format!("reading {}", p.display()))
}

/// Resolve the positional images, `--nir` and `--as` into visible/NIR images.
pub(crate) fn read_images(
    images: &[PathBuf],
    nir: Option<&Path>,
    as_modality: &str,
) -> anyhow::Result<Images> {
    let (mut visible, mut nir_img) = (None, None);
    match images {
        [] => {}
        [one] => match as_modality {
            "visible" => visible = Some(load(one)?),
            "nir" => nir_img = Some(load(one)?),
            other => anyhow::bail!("--as {other:?}: expected visible or nir"),
        },
        [v, n] => {
            visible = Some(load(v)?);
            nir_img = Some(load(n)?);
        }
        _ => anyhow::bail!("at most two images (visible, then NIR) per presentation"),
    }
    if let Some(p) = nir {
        if nir_img.is_some() {
            anyhow::bail!("NIR image given twice (positional and --nir)");
        }
        nir_img = Some(load(p)?);
    }
    if visible.is_none() && nir_img.is_none() {
        anyhow::bail!("no image: give a visible image, a NIR image (--nir), or both");
    }
    Ok(Images {
        visible,
        nir: nir_img,
    })
}

/// Extract a template from loaded images.
pub(crate) fn extract(
    engine: &Engine,
    imgs: Images,
    kind: CaptureKind,
    hand: Hand,
    sink: &mut dyn ExplainSink,
) -> anyhow::Result<Template> {
    let capture = Capture {
        kind,
        hand,
        visible: imgs.visible,
        nir: imgs.nir,
    };
    engine.extract(&capture, sink).map_err(|e| {
        let hint = match &e {
            palmsig_codes::ExtractError::Acquire(a) => format!(" — {}", a.message()),
            _ => String::new(),
        };
        anyhow::anyhow!("extraction failed [{}]: {e}{hint}", e.code())
    })
}

/// Run `palmsig extract`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let algorithm: Algorithm = args.algorithm.parse()?;
    let kind: CaptureKind = args
        .kind
        .parse()
        .map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
    let hand: Hand = args
        .hand
        .parse()
        .map_err(|e| anyhow::anyhow!("--hand: {e}"))?;
    let imgs = read_images(&args.images, args.nir.as_deref(), &args.as_modality)?;
    let engine = Engine::new(algorithm);
    let mut sink: Box<dyn ExplainSink> = match &args.explain {
        Some(dir) => Box::new(
            DirSink::new(dir, "extract").with_context(|| format!("creating {}", dir.display()))?,
        ),
        None => Box::new(NoExplain),
    };
    let t = extract(&engine, imgs, kind, hand, sink.as_mut())?;
    let bytes = t.to_bytes()?;
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    let code = |c: &Option<palmsig_codes::FeatureCode>| {
        c.as_ref().map(|c| {
            serde_json::json!({
                "source": format!("{:?}", c.source()).to_lowercase(),
                "valid_samples": c.valid_count(),
                "samples": c.width() * c.height(),
                "planes": c.planes(),
            })
        })
    };
    println!(
        "{}",
        serde_json::json!({
            "out": args.out.display().to_string(),
            "algorithm": algorithm.name(),
            "bytes": bytes.len(),
            "surface": code(&t.surface),
            "vein": code(&t.vein),
        })
    );
    Ok(())
}
