//! End-to-end runs with a fake engine: every protocol, every output file, pairing counts.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::Ordering;

use common::{assert_well_formed_xml, write_dataset, FakeEngine};
use palmsig_eval::metrics::Verification;
use palmsig_eval::protocol::held_out_classes;
use palmsig_eval::{
    evaluate, EvalError, EvalOptions, Manifest, ModalitySelection, NoProgress, Protocol,
};
use serde_json::Value;

fn opts(protocol: Protocol, modality: ModalitySelection) -> EvalOptions {
    EvalOptions {
        protocol,
        modality,
        explain_count: 0,
        manifest_label: "test".into(),
    }
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn c2(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// Check the files every run writes and the contract keys of report.json.
fn check_outputs(out: &Path, lines_expected: u64) -> Value {
    let r = read_json(&out.join("report.json"));
    for key in [
        "protocol",
        "captures",
        "classes",
        "failures_to_acquire",
        "genuine_pairs",
        "impostor_pairs",
        "eer",
        "fnmr_at_fmr",
        "rank1",
        "fnir_at_fpir",
        "enrolment",
        "modalities",
        "extract_ms_median",
        "compare_per_s",
        "algorithm",
        "engine_version",
    ] {
        assert!(r.get(key).is_some(), "report.json lacks {key}");
    }
    let f = &r["fnmr_at_fmr"];
    for k in ["1e-2", "1e-3", "1e-4", "1e-5", "1e-6"] {
        assert!(f.get(k).is_some(), "fnmr_at_fmr lacks {k}");
    }
    assert_eq!(f.as_object().unwrap().len(), 5);
    let cal = r["calibration"]
        .as_object()
        .expect("report.json has calibration");
    assert_eq!(cal.len(), 5);
    for (k, t) in [
        ("1e-2", 2.0),
        ("1e-3", 3.0),
        ("1e-4", 4.0),
        ("1e-5", 5.0),
        ("1e-6", 6.0),
    ] {
        let p = &cal[k];
        assert_eq!(p["threshold"].as_f64(), Some(t), "{k}");
        assert!(p["fmr"].is_null() || p["fmr"].is_f64(), "{k}: {p}");
        assert!(p["fnmr"].is_null() || p["fnmr"].is_f64(), "{k}: {p}");
    }
    let fta = &r["failures_to_acquire"];
    assert!(fta["count"].is_u64() && fta["rate"].is_f64() && fta["reasons"].is_object());
    let scores = std::fs::read_to_string(out.join("scores.txt")).unwrap();
    let mut n = 0;
    for line in scores.lines() {
        let tokens: Vec<&str> = line.split(' ').collect();
        assert_eq!(tokens.len(), 4, "{line}");
        assert!(tokens[0].contains('/') && tokens[1].contains('/'));
        tokens[3].parse::<f32>().unwrap();
        n += 1;
    }
    assert_eq!(n, lines_expected);
    assert_eq!(
        r["genuine_pairs"].as_u64().unwrap() + r["impostor_pairs"].as_u64().unwrap(),
        lines_expected
    );
    let svg = std::fs::read_to_string(out.join("det.svg")).unwrap();
    assert!(svg.contains("<svg") && svg.contains("<polyline"));
    assert_well_formed_xml(&svg);
    let png = image::open(out.join("det.png")).unwrap();
    assert_eq!((png.width(), png.height()), palmsig_eval::params::PLOT_SIZE);
    let rgb = png.to_rgb8();
    let coloured = rgb
        .pixels()
        .filter(|p| p[0] != p[1] || p[1] != p[2])
        .count();
    assert!(
        coloured > 200,
        "a curve is drawn ({coloured} coloured pixels)"
    );
    let fails = std::fs::read_to_string(out.join("failures.csv")).unwrap();
    assert_eq!(
        fails.lines().count() as u64,
        1 + fta["count"].as_u64().unwrap()
    );
    r
}

#[test]
fn all_pairs_counts_failures_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 3, 2)).unwrap();
    let out = dir.path().join("out");
    let engine = FakeEngine::default();
    let rep = evaluate(
        &engine,
        &m,
        &opts(Protocol::AllPairs, ModalitySelection::Fused),
        &out,
        &NoProgress,
    )
    .unwrap();
    // 36 captures, 2 fail: 34 acquired; s0/left and s1/right keep 5, the other 4 classes 6.
    let genuine = 2 * c2(5) + 4 * c2(6);
    assert_eq!(rep.captures, 36);
    assert_eq!(rep.classes, 6);
    assert_eq!(rep.genuine_pairs, genuine);
    assert_eq!(rep.impostor_pairs, c2(34) - genuine);
    assert_eq!(rep.comparisons, c2(34));
    assert_eq!(rep.eer, Some(0.0));
    assert_eq!(rep.rank1, None);
    assert_eq!(rep.failures_to_acquire.count, 2);
    assert_eq!(rep.failures_to_acquire.rate, 2.0 / 36.0);
    let reasons: BTreeMap<String, u64> = [
        ("bad_image".to_string(), 1),
        ("file_missing".to_string(), 1),
    ]
    .into();
    assert_eq!(rep.failures_to_acquire.reasons, reasons);
    assert_eq!(rep.modalities, ["visible", "nir"]);
    assert!(rep.per_modality.contains_key("visible") && rep.per_modality.contains_key("nir"));
    // 481 impostor pairs: 1e-2 estimable, the rest null.
    assert!(rep.fnmr_at_fmr["1e-2"].is_some());
    assert_eq!(rep.fnmr_at_fmr["1e-3"], None);
    let r = check_outputs(&out, c2(34));
    assert_eq!(r["protocol"], "all-pairs");
    assert!(r["fnmr_at_fmr"]["1e-6"].is_null());
    assert!(r["enrolment"].is_null() && r["fnir_at_fpir"].is_null());
    let fails = std::fs::read_to_string(out.join("failures.csv")).unwrap();
    assert!(fails.contains("s0_left_2_0") && fails.contains("file_missing"));
}

#[test]
fn all_pairs_metrics_match_the_scores_file() {
    let dir = tempfile::tempdir().unwrap();
    // 144 captures: several batches of ROWS_PER_BATCH probes, compared while the previous one
    // is written.
    let m = Manifest::from_path(&write_dataset(dir.path(), 12, 2)).unwrap();
    assert!(m.captures.len() > 2 * palmsig_eval::params::ROWS_PER_BATCH);
    let out = dir.path().join("out");
    let engine = FakeEngine {
        overlap: 0.9,
        ..Default::default()
    };
    let rep = evaluate(
        &engine,
        &m,
        &opts(Protocol::AllPairs, ModalitySelection::Fused),
        &out,
        &NoProgress,
    )
    .unwrap();
    let (mut g, mut i) = (Vec::new(), Vec::new());
    for line in std::fs::read_to_string(out.join("scores.txt"))
        .unwrap()
        .lines()
    {
        let t: Vec<&str> = line.split(' ').collect();
        let s: f32 = t[3].parse().unwrap();
        if t[0] == t[1] {
            g.push(s)
        } else {
            i.push(s)
        }
    }
    assert_eq!(
        rep.failures_to_acquire.count, 2,
        "{:?}",
        rep.failures_to_acquire
    );
    assert_eq!(rep.comparisons, c2(142));
    assert_eq!((g.len() + i.len()) as u64, c2(142));
    // Every probe's lines are contiguous and in manifest order.
    let text = std::fs::read_to_string(out.join("scores.txt")).unwrap();
    let probes: Vec<&str> = text.lines().map(|l| l.split(' ').nth(2).unwrap()).collect();
    let mut order: Vec<&str> = probes.clone();
    order.dedup();
    let pos = |id: &str| m.captures.iter().position(|c| c.id == id).unwrap();
    assert!(order.windows(2).all(|w| pos(w[0]) < pos(w[1])));
    let v = Verification::compute(&mut g, &mut i);
    let eer = rep.eer.unwrap();
    assert!(eer > 0.0 && eer < 0.5, "overlapping classes: {eer}");
    assert_eq!(v.eer, rep.eer);
    assert_eq!(v.fnmr_at_fmr, rep.fnmr_at_fmr);
    assert_eq!(v.calibration, rep.calibration);
}

#[test]
fn cross_session_uses_the_numerically_first_session() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 3, 2)).unwrap();
    let out = dir.path().join("out");
    let engine = FakeEngine::default();
    let rep = evaluate(
        &engine,
        &m,
        &opts(Protocol::CrossSession, ModalitySelection::Fused),
        &out,
        &NoProgress,
    )
    .unwrap();
    // Gallery = session "1" (not "10"): 2 per class = 12; probes = 24 - 2 failures (session 2).
    assert_eq!(rep.split.gallery_captures, 12);
    assert_eq!(rep.split.probe_captures, 22);
    assert_eq!(rep.genuine_pairs, 22 * 2);
    assert_eq!(rep.impostor_pairs, 22 * 10);
    assert_eq!(rep.rank1, Some(1.0));
    let e = rep
        .enrolment
        .as_ref()
        .expect("2 gallery captures per class -> enrolment");
    assert_eq!(e.genuine_pairs, 22);
    assert_eq!(e.impostor_pairs, 22 * 5);
    assert_eq!(e.rank1, Some(1.0));
    assert_eq!(e.eer, Some(0.0));
    let r = check_outputs(&out, 264);
    assert!(r["enrolment"]["fnmr_at_fmr"].get("1e-2").is_some());
    // The fake engine's genuine scores (1.0) are below every calibrated threshold (2 … 6), and
    // 110 impostor pairs are too few to state an FMR of 1e-2.
    let cal = &r["enrolment"]["calibration"]["1e-2"];
    assert_eq!(
        (cal["threshold"].as_f64(), cal["fnmr"].as_f64()),
        (Some(2.0), Some(1.0))
    );
    assert!(cal["fmr"].is_null());
    let lines = std::fs::read_to_string(out.join("scores_enrolment.txt")).unwrap();
    assert_eq!(lines.lines().count(), 22 * 6);
    // Probes never come from session 1.
    let scores = std::fs::read_to_string(out.join("scores.txt")).unwrap();
    assert!(scores
        .lines()
        .all(|l| !l.split(' ').nth(2).unwrap().contains("_1_")));
}

#[test]
fn cross_session_without_multi_capture_gallery_has_no_enrolment() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 3, 1)).unwrap();
    let rep = evaluate(
        &FakeEngine::default(),
        &m,
        &opts(Protocol::CrossSession, ModalitySelection::Fused),
        &dir.path().join("o"),
        &NoProgress,
    )
    .unwrap();
    assert!(rep.enrolment.is_none());
    assert_eq!(rep.split.gallery_captures, 6);
}

#[test]
fn open_set_holds_out_a_seeded_fraction() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 3, 2)).unwrap();
    let out = dir.path().join("out");
    let o = opts(
        Protocol::OpenSet {
            fraction: 0.34,
            seed: 7,
        },
        ModalitySelection::Fused,
    );
    let rep = evaluate(&FakeEngine::default(), &m, &o, &out, &NoProgress).unwrap();
    let held = held_out_classes(6, 0.34, 7);
    assert_eq!(held.len(), 2);
    assert_eq!(rep.split.held_out_classes, 2);
    let failed = |c: usize| -> u64 {
        let k = &m.classes[c];
        u64::from(
            (k.subject == "s0" && k.hand.as_str() == "left")
                || (k.subject == "s1" && k.hand.as_str() == "right"),
        )
    };
    let nonmated: u64 = held.iter().map(|&c| 6 - failed(c as usize)).sum();
    let mated: u64 = (0..6)
        .filter(|c| !held.contains(&(*c as u32)))
        .map(|c| 4 - failed(c))
        .sum();
    let id = rep.identification.as_ref().unwrap();
    assert_eq!(id.nonmated_searches, nonmated);
    assert_eq!(id.mated_searches, mated);
    assert_eq!(rep.comparisons, (mated + nonmated) * 4);
    assert_eq!(rep.genuine_pairs, mated);
    assert_eq!(rep.rank1, Some(1.0));
    let f = rep.fnir_at_fpir.as_ref().unwrap();
    assert_eq!(f.len(), 2);
    assert_eq!(f["1e-2"], None, "fewer than 300 non-mated searches");
    // Perfect separation: no mated search below the top non-mated score.
    assert_eq!(id.fnir_at_zero_fpir.unwrap().fnmr, 0.0);
    let r = check_outputs(&out, rep.comparisons);
    assert!(r["fnir_at_fpir"].get("1e-3").is_some());
    // Same seed, same split; another seed, (here) another one.
    let rep2 = evaluate(
        &FakeEngine::default(),
        &m,
        &o,
        &dir.path().join("o2"),
        &NoProgress,
    )
    .unwrap();
    assert_eq!(rep2.identification, rep.identification);
}

#[test]
fn modality_selection_restricts_images() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 3, 2)).unwrap();
    let rep = evaluate(
        &FakeEngine::default(),
        &m,
        &opts(Protocol::AllPairs, ModalitySelection::Nir),
        &dir.path().join("n"),
        &NoProgress,
    )
    .unwrap();
    // NIR only: the missing visible file is not read, the bad NIR still fails, and the 6
    // captures of s2/right have no NIR image.
    let reasons: BTreeMap<String, u64> = [
        ("bad_image".to_string(), 1),
        ("modality_absent".to_string(), 6),
    ]
    .into();
    assert_eq!(rep.failures_to_acquire.reasons, reasons);
    assert_eq!(rep.modalities, ["nir"]);
    assert_eq!(rep.modality, "nir");
    assert!(!rep.per_modality.contains_key("visible"));
    let rep = evaluate(
        &FakeEngine::default(),
        &m,
        &opts(Protocol::AllPairs, ModalitySelection::Visible),
        &dir.path().join("v"),
        &NoProgress,
    )
    .unwrap();
    let reasons: BTreeMap<String, u64> = [("file_missing".to_string(), 1)].into();
    assert_eq!(rep.failures_to_acquire.reasons, reasons);
    assert_eq!(rep.modalities, ["visible"]);
}

#[test]
fn explain_covers_first_captures_and_failures() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 3, 2)).unwrap();
    let engine = FakeEngine::default();
    let mut o = opts(Protocol::AllPairs, ModalitySelection::Fused);
    o.explain_count = 3;
    evaluate(&engine, &m, &o, &dir.path().join("x"), &NoProgress).unwrap();
    // The 3 first captures (s0_left_2_0, the 3rd, fails: already explained) + the other
    // failure (s1_right_2_0), extracted again.
    assert_eq!(engine.explained.load(Ordering::Relaxed), 4);
    o.explain_count = 2;
    let engine = FakeEngine::default();
    evaluate(&engine, &m, &o, &dir.path().join("y"), &NoProgress).unwrap();
    assert_eq!(
        engine.explained.load(Ordering::Relaxed),
        4,
        "2 first + 2 failures"
    );
}

#[test]
fn bad_open_fraction_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 1, 1)).unwrap();
    for f in [-0.1, 1.0, f64::NAN] {
        let o = opts(
            Protocol::OpenSet {
                fraction: f,
                seed: 1,
            },
            ModalitySelection::Fused,
        );
        let e = evaluate(
            &FakeEngine::default(),
            &m,
            &o,
            &dir.path().join("o"),
            &NoProgress,
        )
        .unwrap_err();
        assert!(matches!(e, EvalError::InvalidOption(_)), "{e}");
    }
}

#[test]
fn every_capture_failing_still_writes_a_report() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.csv"),
        "capture,subject,hand,kind,visible\na,s,left,roi,nope.png\nb,t,left,roi,nope2.png\n",
    )
    .unwrap();
    let m = Manifest::from_path(&dir.path().join("m.csv")).unwrap();
    let out = dir.path().join("o");
    let rep = evaluate(
        &FakeEngine::default(),
        &m,
        &opts(Protocol::AllPairs, ModalitySelection::Fused),
        &out,
        &NoProgress,
    )
    .unwrap();
    assert_eq!(rep.failures_to_acquire.count, 2);
    assert_eq!(rep.failures_to_acquire.rate, 1.0);
    assert_eq!(rep.eer, None);
    assert_eq!(rep.compare_per_s, None);
    let r = read_json(&out.join("report.json"));
    assert!(r["eer"].is_null());
    image::open(out.join("det.png")).unwrap();
    assert_well_formed_xml(&std::fs::read_to_string(out.join("det.svg")).unwrap());
}

#[test]
fn failed_comparisons_are_counted_and_scored_lowest() {
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 3, 2)).unwrap();
    let engine = FakeEngine {
        uncomparable: Some("s2/right".into()),
        ..Default::default()
    };
    let rep = evaluate(
        &engine,
        &m,
        &opts(Protocol::AllPairs, ModalitySelection::Fused),
        &dir.path().join("o"),
        &NoProgress,
    )
    .unwrap();
    // s2/right: 6 acquired captures; pairs touching it: C(6,2) + 6 * 28 others.
    assert_eq!(rep.failed_comparisons, c2(6) + 6 * 28);
    assert_eq!(rep.comparisons, c2(34));
    // Its genuine pairs fail to match: EER > 0.
    assert!(rep.eer.unwrap() > 0.0);
}

#[test]
fn extract_all_and_map_pairs_cover_each_pair_once() {
    use palmsig_eval::{extract_all, map_pairs};
    let dir = tempfile::tempdir().unwrap();
    let m = Manifest::from_path(&write_dataset(dir.path(), 3, 2)).unwrap();
    let engine = FakeEngine::default();
    let x = extract_all(&engine, &m, ModalitySelection::Fused, 0, &NoProgress);
    assert_eq!(x.templates.len(), m.captures.len());
    assert_eq!(x.times_ms.len(), m.captures.len());
    let fta = x.failures_to_acquire();
    assert_eq!(fta.count, 2);
    assert_eq!(fta.reasons.values().sum::<u64>(), 2);
    let acquired = x.templates.iter().flatten().count() as u64;
    let pairs = map_pairs(&engine, &m, &x.templates, &NoProgress, |genuine, p, r| {
        // The flag is the truth: same class.
        assert_eq!(genuine, p.class == r.class);
        Some((genuine, p.class.clone(), r.class.clone()))
    });
    assert_eq!(pairs.len() as u64, c2(acquired));
    // 6 classes with 6 captures each, less the two failures (each in its own class).
    let genuine = pairs.iter().filter(|p| p.0).count() as u64;
    assert_eq!(genuine, 4 * c2(6) + 2 * c2(5));
    // `None` leaves a pair out.
    let none = map_pairs(&engine, &m, &x.templates, &NoProgress, |g, _, _| {
        g.then_some(())
    });
    assert_eq!(none.len() as u64, genuine);
}
