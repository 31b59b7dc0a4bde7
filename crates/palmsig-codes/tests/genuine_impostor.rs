//! Genuine vs impostor pairs on synthetic palms (`palmsig_synth` ROI crops): score bounds.
use palmsig_codes::{Algorithm, Engine, ModalitySelection, Template, Threshold};
use palmsig_core::Hand;
use palmsig_synth::{render_roi, CaptureSpec, Difficulty, Identity};

fn capture(subject: u32, hand: Hand, session: u32, index: u32, engine: &Engine) -> Template {
    let id = Identity::new(21, subject, hand).unwrap();
    let spec = CaptureSpec::sample(&id, Difficulty::Easy, session, index);
    let r = render_roi(&id, &spec, 128).unwrap();
    engine.encode_roi(Some(&r.visible), Some(&r.nir)).unwrap()
}

#[test]
fn genuine_pairs_score_far_above_impostors() {
    let engine = Engine::new(Algorithm::CompCode);
    let m = engine.matcher();
    let a1 = capture(1, Hand::Right, 1, 0, &engine);
    let a2 = capture(1, Hand::Right, 2, 3, &engine);
    let b1 = capture(2, Hand::Right, 1, 0, &engine);
    let c1 = capture(1, Hand::Left, 1, 0, &engine);

    let g = m.compare(&a1, &a2).unwrap();
    let i1 = m.compare(&a1, &b1).unwrap();
    let i2 = m.compare(&a1, &c1).unwrap(); // the other hand of the same person is another palm
    eprintln!("genuine {g:?}\nimpostor {i1:?}\nother hand {i2:?}");
    for sel in [
        ModalitySelection::Visible,
        ModalitySelection::Nir,
        ModalitySelection::Fused,
    ] {
        let gs = g.score(sel).unwrap();
        for i in [&i1, &i2] {
            assert!(
                gs > i.score(sel).unwrap() + 2.0,
                "{sel}: genuine {gs} vs impostor {i:?}"
            );
        }
    }
    // Distances: genuine well below unrelated.
    assert!(
        g.surface_distance.unwrap() < 0.25 && g.vein_distance.unwrap() < 0.25,
        "{g:?}"
    );
    assert!(
        i1.surface_distance.unwrap() > 0.25 && i1.vein_distance.unwrap() > 0.25,
        "{i1:?}"
    );
    // Decisions at FMR 1e-4: genuine accepted, impostors rejected.
    let t = Threshold::for_fmr(1e-4).unwrap();
    assert!(t.accepts(g.fused), "{g:?}");
    assert!(!t.accepts(i1.fused) && !t.accepts(i2.fused));
    // A multi-capture reference keeps the genuine decision.
    let r = m.compare_reference(&a2, &[a1.clone(), b1.clone()]).unwrap();
    assert!(t.accepts(r.fused), "{r:?}");
    // Same capture: maximal similarity, symmetric.
    let s = m.compare(&a1, &a1).unwrap();
    assert_eq!(s.surface_distance, Some(0.0));
    let ab = m.compare(&a1, &b1).unwrap();
    let ba = m.compare(&b1, &a1).unwrap();
    assert!((ab.fused - ba.fused).abs() < 1.0);
}

#[test]
fn mismatched_templates_are_refused() {
    let engine = Engine::new(Algorithm::CompCode);
    let bocv = Engine::new(Algorithm::Bocv);
    let id = Identity::new(21, 3, Hand::Left).unwrap();
    let r = render_roi(&id, &CaptureSpec::sample(&id, Difficulty::Easy, 1, 0), 128).unwrap();
    let a = engine.encode_roi(Some(&r.visible), None).unwrap();
    let b = bocv.encode_roi(Some(&r.visible), None).unwrap();
    assert!(engine.matcher().compare(&a, &b).is_err());
    let mut stale = a.clone();
    stale.param_hash ^= 1;
    assert!(matches!(
        engine.matcher().compare(&a, &stale),
        Err(palmsig_codes::MatchError::ParamMismatch { .. })
    ));
    let vein_only = engine.encode_roi(None, Some(&r.nir)).unwrap();
    // NIR-only: the surface code is made from NIR, and a vein code exists.
    assert!(vein_only.surface.is_some() && vein_only.vein.is_some());
    assert!(engine.matcher().compare_reference(&a, &[]).is_err());
    // Bad inputs are typed errors.
    let tiny = palmsig_core::GrayImage::new(8, 8);
    assert_eq!(
        engine.encode_roi(Some(&tiny), None).unwrap_err().code(),
        "roi_too_small"
    );
    assert_eq!(
        engine.encode_roi(None, None).unwrap_err().code(),
        "no_image"
    );
    let flat = palmsig_core::GrayImage::from_vec(64, 64, vec![128; 64 * 64]).unwrap();
    assert_eq!(
        engine.encode_roi(Some(&flat), None).unwrap_err().code(),
        "no_texture"
    );
}

#[test]
fn every_kernel_scores_real_templates_as_the_scalar_reference() {
    // Pipeline templates (realistic masks, both modalities, BOCV's 6 planes too): the SIMD
    // paths must give the scalar reference's comparison bit for bit.
    for algorithm in [Algorithm::CompCode, Algorithm::Bocv] {
        let engine = Engine::new(algorithm);
        let ts: Vec<Template> = (0..6u32)
            .map(|k| {
                let hand = if k % 3 == 2 { Hand::Left } else { Hand::Right };
                let id = Identity::new(5, k / 3, hand).unwrap();
                let spec = CaptureSpec::sample(&id, Difficulty::Realistic, 1 + k % 2, k);
                let r = render_roi(&id, &spec, 128).unwrap();
                engine.encode_roi(Some(&r.visible), Some(&r.nir)).unwrap()
            })
            .collect();
        for kernel in palmsig_core::simd::Kernel::available() {
            let m = engine.matcher().clone().with_kernel(kernel);
            for a in &ts {
                let p = m.prepare(a).unwrap();
                for b in &ts {
                    let want = m.compare_scalar(a, b).unwrap();
                    let bits = |c: palmsig_codes::Comparison| {
                        [
                            c.surface.map(f32::to_bits),
                            c.vein.map(f32::to_bits),
                            Some(c.fused.to_bits()),
                            c.surface_distance.map(f32::to_bits),
                            c.vein_distance.map(f32::to_bits),
                        ]
                    };
                    assert_eq!(bits(m.compare(a, b).unwrap()), bits(want), "{kernel}");
                    assert_eq!(
                        bits(m.compare_prepared(&p, b).unwrap()),
                        bits(want),
                        "{kernel}"
                    );
                }
                let r1 = m.compare_reference(a, &ts[..3]).unwrap();
                let r2 = m.compare_reference_prepared(&p, &ts[..3]).unwrap();
                assert_eq!(r1, r2);
            }
        }
    }
}
