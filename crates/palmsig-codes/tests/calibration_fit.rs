//! Fitting a calibration on synthetic palms (`palmsig_synth` ROI crops) through the public API:
//! scored and plain distances, the fit, the profile file, and an engine scoring with it.
use palmsig_codes::{
    fit_calibration, Algorithm, CalibrationProfile, Engine, MatchError, PairDistances, Template,
};
use palmsig_core::Hand;
use palmsig_synth::{render_roi, CaptureSpec, Difficulty, Identity};

/// `subjects` right palms x `captures` captures each, with their subject.
fn templates(engine: &Engine, subjects: u32, captures: u32) -> Vec<(u32, Template)> {
    let mut out = Vec::new();
    for s in 0..subjects {
        let id = Identity::new(31, s, Hand::Right).unwrap();
        for c in 0..captures {
            let spec = CaptureSpec::sample(&id, Difficulty::Easy, 1 + c % 2, c);
            let r = render_roi(&id, &spec, 128).unwrap();
            out.push((
                s,
                engine.encode_roi(Some(&r.visible), Some(&r.nir)).unwrap(),
            ));
        }
    }
    out
}

/// Every pair's scored distances.
fn all_pairs(engine: &Engine, t: &[(u32, Template)]) -> Vec<PairDistances> {
    let m = engine.matcher();
    let mut out = Vec::new();
    for (j, (sj, tj)) in t.iter().enumerate() {
        let probe = m.prepare(tj).unwrap();
        for (si, ti) in &t[..j] {
            let (surface, vein) = m.scored_distances(&probe, ti).unwrap();
            out.push(PairDistances {
                surface,
                vein,
                sources: tj.code_sources(),
                genuine: si == sj,
            });
        }
    }
    out
}

#[test]
fn scored_and_plain_distances() {
    let engine = Engine::new(Algorithm::CompCode);
    let m = engine.matcher();
    let t = templates(&engine, 4, 2);
    for (_, a) in &t {
        let p = m.prepare(a).unwrap();
        for (_, b) in &t {
            let raw = m.raw_distances(&p, b).unwrap();
            let c = m.compare_prepared(&p, b).unwrap();
            // The comparison keeps the best of the plain pose and the searched ones: never
            // worse than the plain distances' score; its distances are the scored ones.
            assert!(c.fused >= m.calibration().score(a.code_sources(), raw.0, raw.1).fused - 1e-6);
            let scored = m.scored_distances(&p, b).unwrap();
            assert_eq!(scored, (c.surface_distance, c.vein_distance));
            assert_eq!(
                m.calibration().score(a.code_sources(), scored.0, scored.1),
                c
            );
        }
        assert_eq!(m.raw_distances(&p, a).unwrap(), (Some(0.0), Some(0.0)));
    }
    // Templates of another algorithm are refused, as by `compare`.
    let other = Engine::new(Algorithm::Bocv);
    let bt = templates(&other, 1, 1).remove(0).1;
    let p = m.prepare(&t[0].1).unwrap();
    assert!(matches!(
        m.raw_distances(&p, &bt),
        Err(MatchError::AlgorithmMismatch { .. })
    ));
}

#[test]
fn fit_profile_and_engine_score_with_it() {
    let engine = Engine::new(Algorithm::CompCode);
    // 16 palms x 4 captures: 64 templates, 2016 pairs of which 96 genuine.
    let t = templates(&engine, 16, 4);
    let pairs = all_pairs(&engine, &t);
    assert_eq!(pairs.iter().filter(|p| p.genuine).count(), 96);
    let fitted = fit_calibration(Algorithm::CompCode, &pairs).unwrap();
    assert!(fitted.builtin_kept.is_empty());
    assert_eq!(fitted.counts.impostor_fused, 1920);
    let profile = CalibrationProfile::new(
        Algorithm::CompCode,
        fitted.calibration.clone(),
        format!("test: 16 synthetic palms; {}", fitted.counts),
    )
    .unwrap();
    let back = CalibrationProfile::from_json(&profile.to_json().unwrap()).unwrap();
    assert_eq!(back, profile);

    let tuned = Engine::with_profile(&back);
    assert_eq!(tuned.matcher().calibration(), &fitted.calibration);
    let m = tuned.matcher();
    // On its own fitting set the calibration is honest where it has data: the fraction of
    // impostor pairs scoring at least 1 (nominal 1e-1) is within a factor 2 of it.
    let mut impostor_scores = Vec::new();
    let mut genuine_min = f32::MAX;
    for p in &pairs {
        let s = m.calibration().score(p.sources, p.surface, p.vein).fused;
        if p.genuine {
            genuine_min = genuine_min.min(s);
        } else {
            impostor_scores.push(s);
        }
    }
    let above = impostor_scores.iter().filter(|&&s| s >= 1.0).count() as f64;
    let rate = above / impostor_scores.len() as f64;
    assert!(
        (0.05..=0.2).contains(&rate),
        "measured {rate} at nominal 0.1"
    );
    // Easy synthetic genuine pairs clear FMR 1e-4 under the refitted calibration too.
    assert!(genuine_min > 4.0, "{genuine_min}");
    // The profile is for CompCode only.
    assert!(back.calibration_for(Algorithm::Ordinal).is_err());
}

#[test]
fn too_few_pairs_are_refused() {
    let engine = Engine::new(Algorithm::CompCode);
    // 40 templates: 780 pairs, under the 1000 impostor pairs a fit needs.
    let t = templates(&engine, 10, 4);
    let pairs = all_pairs(&engine, &t);
    let r = fit_calibration(Algorithm::CompCode, &pairs);
    assert!(
        matches!(
            r,
            Err(palmsig_codes::CalibrationError::TooFewImpostors { .. })
        ),
        "{r:?}"
    );
}
