//! `palmsig synth`: write a synthetic palm data set (manifest, visible + NIR PNGs, truth, contact sheet).

use std::path::PathBuf;

use super::progress::Bar;
use anyhow::Context;
use palmsig_core::CaptureKind;
use palmsig_eval::Progress;
use palmsig_synth::{parse_size, write_dataset_with, DatasetConfig, Difficulty};

/// Arguments of `palmsig synth`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of subjects (each gives a left and a right hand).
    #[arg(long)]
    identities: u32,
    /// Captures per hand (first half session 1, the rest session 2).
    #[arg(long)]
    captures: u32,
    /// Master seed: the same arguments give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// easy, realistic or hard.
    #[arg(long, default_value = "realistic")]
    difficulty: String,
    /// hand (full frames) or roi (palm-centre crops).
    #[arg(long, default_value = "hand")]
    kind: String,
    /// WIDTHxHEIGHT: frame size (hand; default 768x576) or ROI side (roi, square; default 160x160).
    #[arg(long)]
    size: Option<String>,
}

/// Run `palmsig synth`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let difficulty: Difficulty = args.difficulty.parse()?;
    let kind: CaptureKind = args
        .kind
        .parse()
        .map_err(|e| anyhow::anyhow!("--kind: {e}"))?;
    let default = if kind == CaptureKind::Roi {
        "160x160"
    } else {
        "768x576"
    };
    let (width, height) = parse_size(args.size.as_deref().unwrap_or(default)).context("--size")?;
    let cfg = DatasetConfig {
        identities: args.identities,
        captures: args.captures,
        seed: args.seed,
        difficulty,
        kind,
        width,
        height,
    };
    cfg.validate()?;
    let t0 = std::time::Instant::now();
    let bar = Bar::new();
    bar.stage("hands", 2 * u64::from(cfg.identities));
    let summary = write_dataset_with(&cfg, &args.out, &|| bar.inc(1))
        .with_context(|| format!("writing the data set to {}", args.out.display()))?;
    bar.finish();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "rows": summary.rows,
            "images": summary.images,
            "manifest": summary.manifest,
            "truth": summary.truth,
            "contact": summary.contact,
            "seconds": (secs * 100.0).round() / 100.0,
        })
    );
    Ok(())
}
