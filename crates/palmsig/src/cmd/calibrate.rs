//! `palmsig calibrate`: fit a calibration profile (score → false-match rate) for a sensor.
//!
//! ```text
//! palmsig calibrate --manifest dev/manifest.csv [--manifest synth/manifest.csv …] \
//!     [--algorithm compcode|bocv|ordinal] --out profile.json [--threads N]
//! ```
//! Extracts every capture of every manifest as `palmsig eval` does (failures to acquire are
//! counted, never fatal), compares every pair of acquired captures *within* each manifest
//! (never across manifests: different sensors) by the distances the matcher scores
//! (`Matcher::scored_distances`: the best pose), fits `palmsig_codes::fit_calibration` on all
//! pairs pooled, then compares and fits again with the first fit's fusion weights (they decide
//! which pose a comparison keeps), writes the profile and prints a summary. `--profile FILE` on `eval`, `compare`, `enroll`,
//! `identify`, `bench identify` and `serve` then scores with it (see [`load_profile`]).

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use palmsig_codes::{
    fit_calibration, Algorithm, CalibrationProfile, CodeSources, Engine, FittedCalibration,
    Matcher, PairDistances,
};
use palmsig_eval::{FailuresToAcquire, Manifest, ModalitySelection};

use super::eval::CodesEngine;
use super::progress::Bar;

/// Arguments of `palmsig calibrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dataset manifest (the `palmsig eval` format); repeat to pool several sets. Pairs are
    /// formed only within each manifest.
    #[arg(long = "manifest", required = true)]
    pub manifests: Vec<PathBuf>,
    /// Coding algorithm the profile is fitted for: compcode, bocv, ordinal (default: the
    /// engine's default, as for `eval`).
    #[arg(long, default_value_t = Algorithm::default())]
    pub algorithm: Algorithm,
    /// Where the profile (JSON) is written.
    #[arg(long)]
    pub out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<NonZeroUsize>,
}

/// What one manifest contributed.
#[derive(Debug)]
struct ManifestFit {
    path: PathBuf,
    captures: usize,
    fta: FailuresToAcquire,
    pairs: usize,
    genuine: usize,
    /// Pairs the matcher could not compare (no common modality).
    uncompared: usize,
}

/// Read a `--profile` file (checked: format, parameter hash, numbers), if one is given.
pub(crate) fn load_profile(path: Option<&Path>) -> anyhow::Result<Option<CalibrationProfile>> {
    path.map(|p| CalibrationProfile::open(p).with_context(|| format!("--profile {}", p.display())))
        .transpose()
}

/// A matcher for `algorithm` scoring with the profile's calibration, or the built-in one.
pub(crate) fn matcher(
    algorithm: Algorithm,
    profile: Option<&CalibrationProfile>,
) -> anyhow::Result<Matcher> {
    Ok(engine(algorithm, profile)?.matcher().clone())
}

/// An engine for `algorithm` scoring with the profile's calibration, or the built-in one.
pub(crate) fn engine(
    algorithm: Algorithm,
    profile: Option<&CalibrationProfile>,
) -> anyhow::Result<Engine> {
    Ok(match profile {
        Some(p) => Engine::with_calibration(algorithm, p.calibration_for(algorithm)?.clone()),
        None => Engine::new(algorithm),
    })
}

/// One manifest, extracted.
struct Extracted {
    manifest: Manifest,
    templates: Vec<Option<palmsig_codes::Template>>,
    fit: ManifestFit,
}

/// Read and extract one manifest (failures to acquire are counted).
fn extract(codes: &CodesEngine, path: &Path, bar: &Bar) -> anyhow::Result<Extracted> {
    let manifest =
        Manifest::from_path(path).with_context(|| format!("manifest {}", path.display()))?;
    let x = palmsig_eval::extract_all(codes, &manifest, ModalitySelection::Fused, 0, bar);
    let fit = ManifestFit {
        path: path.to_path_buf(),
        captures: x.templates.len(),
        fta: x.failures_to_acquire(),
        pairs: 0,
        genuine: 0,
        uncompared: 0,
    };
    Ok(Extracted {
        manifest,
        templates: x.templates,
        fit,
    })
}

/// The scored distances of every pair within one manifest, under `codes`' matcher; records the
/// counts in `set.fit`.
fn pair_up(codes: &CodesEngine, set: &mut Extracted, bar: &Bar) -> Vec<PairDistances> {
    let matcher = codes.engine.matcher();
    let found = palmsig_eval::map_pairs(
        codes,
        &set.manifest,
        &set.templates,
        bar,
        |genuine, p, t| {
            let p = p.as_ref().ok()?;
            let (surface, vein) = matcher.scored_distances(p, t).ok()?;
            Some(PairDistances {
                surface,
                vein,
                sources: p.code_sources(),
                genuine,
            })
        },
    );
    let acquired = set.templates.iter().flatten().count();
    set.fit.pairs = found.len();
    set.fit.genuine = found.iter().filter(|p| p.genuine).count();
    set.fit.uncompared = acquired * acquired.saturating_sub(1) / 2 - found.len();
    found
}

/// Fit on every manifest's pairs, scored by `codes`' matcher.
fn fit_pass(
    algorithm: Algorithm,
    codes: &CodesEngine,
    sets: &mut [Extracted],
    bar: &Bar,
) -> anyhow::Result<FittedCalibration> {
    let mut pairs = Vec::new();
    for set in sets.iter_mut() {
        pairs.extend(pair_up(codes, set, bar));
    }
    fit_calibration(algorithm, &pairs).context("fitting the calibration")
}

/// The profile's `source` text: what it was fitted on.
fn source(algorithm: Algorithm, sets: &[&ManifestFit], fitted: &FittedCalibration) -> String {
    let sets: Vec<String> = sets
        .iter()
        .map(|s| {
            format!(
                "{} ({} captures, {} failed to acquire, {} pairs of which {} genuine)",
                s.path.display(),
                s.captures,
                s.fta.count,
                s.pairs,
                s.genuine
            )
        })
        .collect();
    let kept = if fitted.builtin_kept.is_empty() {
        String::new()
    } else {
        format!(
            "; built-in model kept for {}",
            fitted.builtin_kept.join(", ")
        )
    };
    format!(
        "palmsig {} calibrate, {}: {}; {}{kept}",
        env!("CARGO_PKG_VERSION"),
        algorithm.name(),
        sets.join(", "),
        fitted.counts
    )
}

/// Run `palmsig calibrate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(t) = args.threads {
        pool = pool.num_threads(t.get());
    }
    let pool = pool.build().context("starting worker threads")?;
    let codes = CodesEngine::new(
        Engine::new(args.algorithm),
        palmsig_codes::ModalitySelection::Fused,
        None,
    );
    let bar = Bar::new();
    let mut sets = Vec::new();
    for path in &args.manifests {
        sets.push(pool.install(|| extract(&codes, path, &bar))?);
    }
    // The matcher keeps each pair's best pose under its fusion weights: fit on the poses the
    // built-in weights choose, then again on those the fitted weights choose (what a matcher
    // with the profile will score).
    let first = pool.install(|| fit_pass(args.algorithm, &codes, &mut sets, &bar))?;
    let codes = CodesEngine::new(
        Engine::with_calibration(args.algorithm, first.calibration),
        palmsig_codes::ModalitySelection::Fused,
        None,
    );
    let fitted = pool.install(|| fit_pass(args.algorithm, &codes, &mut sets, &bar))?;
    let sets: Vec<&ManifestFit> = sets.iter().map(|s| &s.fit).collect();
    let profile = CalibrationProfile::new(
        args.algorithm,
        fitted.calibration.clone(),
        source(args.algorithm, &sets, &fitted),
    )?;
    profile
        .save(&args.out)
        .with_context(|| format!("writing {}", args.out.display()))?;
    print_summary(args.algorithm, &sets, &fitted, &args.out);
    Ok(())
}

fn print_summary(algorithm: Algorithm, sets: &[&ManifestFit], f: &FittedCalibration, out: &Path) {
    println!(
        "calibration for {} fitted on {} manifest(s)",
        algorithm,
        sets.len()
    );
    for s in sets {
        let reasons: Vec<String> = s
            .fta
            .reasons
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        println!(
            "  {}: {} captures, failures to acquire {} ({:.4}) {}; {} pairs ({} genuine, {} impostor, {} not comparable)",
            s.path.display(),
            s.captures,
            s.fta.count,
            s.fta.rate,
            reasons.join(", "),
            s.pairs,
            s.genuine,
            s.pairs - s.genuine,
            s.uncompared
        );
    }
    println!("{}", f.counts);
    let c = &f.calibration;
    if !f.builtin_kept.is_empty() {
        println!(
            "built-in model kept (no pairs): {}",
            f.builtin_kept.join(", ")
        );
    }
    for (label, sources) in [
        ("two-band sensors (visible surface)", CodeSources::TwoBands),
        (
            "one-image sensors (surface read from NIR)",
            CodeSources::SameImage,
        ),
    ] {
        print_models(c, label, sources);
    }
    println!("wrote {}", out.display());
}

/// One kind of sensor's models and its thresholds on the raw fused z.
fn print_models(c: &palmsig_codes::Calibration, label: &str, sources: CodeSources) {
    let (sm, vm, fused) = c.models(sources);
    println!(
        "{label}: impostor correlation of the two z-scores {:.3}",
        c.correlation.of(sources)
    );
    for (name, m) in [("surface", sm), ("vein", vm)] {
        println!(
            "  {name}: impostor mu {:.5} sigma {:.5}, weight (d') {:.3}, {} knots to -log10 S {:.2}",
            m.mu,
            m.sigma,
            m.weight,
            m.tail.knots.len(),
            m.tail.knots.last().map_or(0.0, |k| k.1)
        );
    }
    let measured = fused.knots.last().map_or(0.0, |k| k.1);
    println!("  thresholds on the raw fused z (accept iff z >= threshold):");
    for k in palmsig_eval::params::FMR_EXPONENTS {
        let score = k as f32;
        let z = fused
            .raw_for(score)
            .map_or("-".to_string(), |z| format!("{z:.3}"));
        let how = if score > measured {
            "extrapolated"
        } else {
            "measured"
        };
        println!("    FMR 1e-{k}: z >= {z} ({how})");
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::enroll::tests::TempDir;
    use clap::Parser as _;
    use palmsig_codes::{Algorithm, CalibrationProfile};
    use std::path::Path;

    /// Run `palmsig ARGS…` as the binary would.
    fn palmsig(args: &[&str]) -> anyhow::Result<()> {
        crate::run(crate::Cli::try_parse_from(
            std::iter::once("palmsig").chain(args.iter().copied()),
        )?)
        .map(|_| ())
    }

    fn s(p: &Path) -> &str {
        p.to_str().unwrap()
    }

    /// A small synthetic set: `identities` x 2 hands x `captures` palm ROI crops.
    fn synth(dir: &Path, identities: u32, captures: u32, seed: u64) -> std::path::PathBuf {
        let (i, c, sd) = (
            identities.to_string(),
            captures.to_string(),
            seed.to_string(),
        );
        palmsig(&[
            "synth",
            "--identities",
            &i,
            "--captures",
            &c,
            "--seed",
            &sd,
            "--difficulty",
            "easy",
            "--kind",
            "roi",
            "--size",
            "128x128",
            "--out",
            s(dir),
        ])
        .unwrap();
        dir.join("manifest.csv")
    }

    /// Fit on two pooled manifests, then evaluate with the profile: the report says which
    /// calibration scored it and states the measured rates at the nominal thresholds.
    #[test]
    fn calibrate_pools_manifests_and_eval_uses_the_profile() {
        let tmp = TempDir::new("calibrate");
        // 5 x 2 x 4 = 40 captures each: 780 pairs, too few alone, 1560 pooled (never across).
        let m1 = synth(&tmp.0.join("a"), 5, 4, 3);
        let m2 = synth(&tmp.0.join("b"), 5, 4, 4);
        let profile = tmp.0.join("profile.json");
        let alone = palmsig(&["calibrate", "--manifest", s(&m1), "--out", s(&profile)]);
        let e = format!("{:#}", alone.unwrap_err());
        assert!(e.contains("impostor pairs"), "{e}");
        assert!(!profile.exists());
        palmsig(&[
            "calibrate",
            "--manifest",
            s(&m1),
            "--manifest",
            s(&m2),
            "--out",
            s(&profile),
            "--threads",
            "2",
        ])
        .unwrap();
        let p = CalibrationProfile::load(&profile).unwrap();
        assert_eq!(p.algorithm(), Algorithm::default());
        assert!(p.source().contains("manifest.csv") && p.source().contains("impostor pairs"));
        // Pairs within each manifest only: 2 x C(acquired, 2), at most 2 x 780.
        let counts = p.source().split("fused ").nth(1).unwrap();
        let fused: usize = counts.split(';').next().unwrap().trim().parse().unwrap();
        assert!((1000..=2 * 780).contains(&fused), "{}", p.source());

        let out = tmp.0.join("eval");
        palmsig(&[
            "eval",
            "--manifest",
            s(&m1),
            "--out",
            s(&out),
            "--profile",
            s(&profile),
        ])
        .unwrap();
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap())
                .unwrap();
        assert!(
            r["engine_version"]
                .as_str()
                .unwrap()
                .contains("profile.json"),
            "{r}"
        );
        assert_eq!(r["calibration"]["1e-2"]["threshold"], 2.0);
        assert!(r["calibration"]["1e-2"]["fnmr"].is_f64());
        // On data it was fitted on, the profile's decision at FMR 1e-2 is near its promise (the
        // scores are the matcher's, best pose included); ~700 impostor pairs: ~7 expected.
        let fmr = r["calibration"]["1e-2"]["fmr"].as_f64().unwrap();
        assert!((0.002..=0.03).contains(&fmr), "{}", r["calibration"]);
        // A profile of another algorithm is refused.
        let other = palmsig(&[
            "eval",
            "--manifest",
            s(&m1),
            "--out",
            s(&out),
            "--profile",
            s(&profile),
            "--algorithm",
            "ordinal",
        ]);
        assert!(format!("{:#}", other.unwrap_err()).contains("not ordinal"));
    }

    /// A damaged profile stops every command that takes one, with the file named, and `serve`
    /// before it creates its data directory.
    #[test]
    fn a_bad_profile_is_refused_before_anything_is_made() {
        let tmp = TempDir::new("calibrate-bad");
        let bad = tmp.0.join("bad.json");
        let mut v: serde_json::Value = serde_json::from_str(
            &CalibrationProfile::builtin(Algorithm::CompCode)
                .to_json()
                .unwrap(),
        )
        .unwrap();
        v["calibration"]["vein"]["sigma"] = 0.0.into();
        std::fs::write(&bad, v.to_string()).unwrap();
        let data = tmp.0.join("data");
        let e = palmsig(&["serve", "--data", s(&data), "--profile", s(&bad)]).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("bad.json") && msg.contains("vein.sigma"),
            "{msg}"
        );
        assert!(!data.exists());
        let gallery = tmp.0.join("gallery");
        let img = tmp.0.join("x.png");
        let e = palmsig(&[
            "enroll",
            "--gallery",
            s(&gallery),
            "--id",
            "a",
            "--hand",
            "right",
            s(&img),
            "--profile",
            s(&bad),
        ])
        .unwrap_err();
        assert!(format!("{e:#}").contains("vein.sigma"), "{e:#}");
        assert!(!gallery.exists());
        let e = palmsig(&["compare", s(&img), s(&img), "--profile", s(&bad)]).unwrap_err();
        assert!(format!("{e:#}").contains("vein.sigma"), "{e:#}");
    }
}
