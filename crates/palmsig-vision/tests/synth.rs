//! The pipeline on synthetic captures from `palmsig-synth`: rotated, mirrored and scaled hands
//! against ground truth, golden per-stage measures, and failure to acquire on a realistic batch.

use palmsig_core::{CaptureKind, GrayImage, Hand};
use palmsig_synth::{
    render_capture, render_for, render_roi, CaptureSpec, DatasetConfig, Difficulty, Identity,
    Rendered,
};
use palmsig_vision::{extract_roi, params, Capture, MemorySink, NoExplain, RoiPair};

fn extract(r: &Rendered, label: Hand) -> Result<RoiPair, palmsig_vision::AcquireError> {
    let cap = Capture::hand(label, Some(r.visible.clone()), Some(r.nir.clone()));
    extract_roi(&cap, &mut NoExplain)
}

fn worst_valley_error(pair: &RoiPair, r: &Rendered) -> f32 {
    let kp = pair.quality.keypoints.as_ref().unwrap();
    let t = &r.truth.valleys;
    [kp.valleys.v1, kp.valleys.v2, kp.valleys.v3]
        .iter()
        .zip(&t[1..])
        .map(|(a, b)| a.dist(*b))
        .fold(0.0, f32::max)
}

#[test]
fn rotated_mirrored_scaled_hands_are_found() {
    let (w, h) = (512, 384);
    let mut checked = 0;
    for (i, &rot) in [-120.0f32, -60.0, -30.0, 0.0, 30.0, 75.0, 180.0]
        .iter()
        .enumerate()
    {
        for hand in [Hand::Left, Hand::Right] {
            let id = Identity::new(5, 10 + i as u32, hand).unwrap();
            let mut spec = CaptureSpec::sample(&id, Difficulty::Easy, 1, 0);
            spec.rotation_deg = rot;
            spec.scale = if i % 2 == 0 { 0.85 } else { 1.05 };
            let r = render_capture(&id, &spec, w, h).unwrap();
            for label in [hand, Hand::Unknown] {
                let pair = extract(&r, label)
                    .unwrap_or_else(|e| panic!("rot {rot} {hand:?} label {label:?}: {e}"));
                let err = worst_valley_error(&pair, &r);
                assert!(
                    err <= 0.04 * w as f32,
                    "rot {rot} {hand:?} label {label:?}: valley error {err}"
                );
                assert_eq!(pair.quality.hand, hand, "rot {rot} label {label:?}");
                let kp = pair.quality.keypoints.unwrap();
                assert_eq!(kp.frame.is_mirrored(), hand == Hand::Left);
                let corner = kp
                    .corners
                    .iter()
                    .zip(&r.truth.roi_corners)
                    .map(|(a, b)| a.dist(*b))
                    .fold(0.0f32, f32::max);
                assert!(
                    corner <= 0.07 * w as f32,
                    "rot {rot} {hand:?}: corner error {corner}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 28);
}

/// A clean capture whose little finger lies low and spread: the larger finger rings pass
/// above its tip and see ring, middle, index and the (high, abducted) thumb as four fingers,
/// a row that scores as well as the true one seen by the smaller rings. The thumb seen beyond
/// the index there breaks the tie (`params::THUMB_SUPPORT`); without it the frame turned 22°.
#[test]
fn a_missed_little_finger_does_not_shift_the_row_onto_the_thumb() {
    // Seed 11 (the evaluation set), subject 222, right hand, first capture.
    let cfg = DatasetConfig::new(500, 6, 11);
    let id = Identity::new(cfg.seed, 222, Hand::Right).unwrap();
    let r = render_for(&cfg, &id, 0).unwrap();
    let pair = extract(&r, Hand::Right).unwrap();
    let err = worst_valley_error(&pair, &r);
    assert!(err <= 0.02 * cfg.width as f32, "valley error {err} px");
}

fn mask_iou(ours: &GrayImage, truth: &GrayImage) -> f32 {
    // Compare at our working resolution: sample the truth mask at working pixel centres.
    let k = truth.width() as f32 / ours.width() as f32;
    let (mut inter, mut union) = (0usize, 0usize);
    for y in 0..ours.height() {
        for x in 0..ours.width() {
            let tx = (((x as f32 + 0.5) * k) as usize).min(truth.width() - 1);
            let ty = (((y as f32 + 0.5) * k) as usize).min(truth.height() - 1);
            let a = ours.get(x, y) > 127;
            let b = truth.get(tx, ty) > 127;
            inter += (a && b) as usize;
            union += (a || b) as usize;
        }
    }
    inter as f32 / union.max(1) as f32
}

#[test]
fn golden_stages_on_a_fixed_capture() {
    let id = Identity::new(11, 3, Hand::Right).unwrap();
    let spec = CaptureSpec::sample(&id, Difficulty::Easy, 1, 0);
    let r = render_capture(&id, &spec, 768, 576).unwrap();
    let mut sink = MemorySink::default();
    let cap = Capture::hand(Hand::Right, Some(r.visible.clone()), Some(r.nir.clone()));
    let pair = extract_roi(&cap, &mut sink).unwrap();
    // Stage 1: the mask matches the generator's coverage.
    let mask = sink.get("mask").unwrap();
    let iou = mask_iou(mask, &r.mask);
    assert!(iou > 0.9, "mask IoU {iou}");
    let frac = pair.quality.hand_fraction.unwrap();
    assert!(
        (frac - r.truth.hand_fraction).abs() < 0.04,
        "{frac} vs {}",
        r.truth.hand_fraction
    );
    // Stage 2: valleys within 2.5 % of the frame width.
    let err = worst_valley_error(&pair, &r);
    assert!(err < 0.025 * 768.0, "valley error {err}");
    // Stage 3: ROIs of the contract size, same geometry for both modalities, not flat.
    for roi in [pair.visible.as_ref().unwrap(), pair.nir.as_ref().unwrap()] {
        assert_eq!(
            (roi.width(), roi.height()),
            (params::ROI_SIZE, params::ROI_SIZE)
        );
    }
    let q = pair.quality;
    assert!(
        q.nir.unwrap().std > params::MIN_ROI_STD && q.visible.unwrap().std > params::MIN_ROI_STD
    );
    assert!(q.edge_width.unwrap() < params::MAX_EDGE_WIDTH_RADII);
    for stage in ["working", "mask", "keypoints", "roi_visible", "roi_nir"] {
        assert!(sink.get(stage).is_some(), "stage {stage}");
    }
}

#[test]
fn nir_only_and_visible_only_captures() {
    let id = Identity::new(2, 7, Hand::Left).unwrap();
    let spec = CaptureSpec::sample(&id, Difficulty::Easy, 1, 1);
    let r = render_capture(&id, &spec, 512, 384).unwrap();
    let nir = extract_roi(
        &Capture::hand(Hand::Left, None, Some(r.nir.clone())),
        &mut NoExplain,
    )
    .unwrap();
    assert!(nir.visible.is_none() && nir.nir.is_some());
    let vis = extract_roi(
        &Capture::hand(Hand::Left, Some(r.visible.clone()), None),
        &mut NoExplain,
    );
    // Visible-only segmentation works too (the hand is lit against a darker background).
    let vis = vis.unwrap();
    assert!(vis.visible.is_some() && vis.nir.is_none());
    let a = nir.quality.keypoints.unwrap().valleys.v2;
    let b = vis.quality.keypoints.unwrap().valleys.v2;
    assert!(a.dist(b) < 0.03 * 512.0, "{a:?} vs {b:?}");
}

#[test]
fn roi_captures_are_only_normalised() {
    let id = Identity::new(4, 1, Hand::Right).unwrap();
    let spec = CaptureSpec::sample(&id, Difficulty::Realistic, 1, 0);
    for side in [128usize, 150, 266] {
        let r = render_roi(&id, &spec, side).unwrap();
        assert_eq!(r.truth.kind, CaptureKind::Roi);
        let cap = Capture::roi(Hand::Right, Some(r.visible.clone()), Some(r.nir.clone()));
        let pair = extract_roi(&cap, &mut NoExplain).unwrap();
        let v = pair.visible.unwrap();
        assert_eq!((v.width(), v.height()), (128, 128));
        // Area averaging keeps the mean.
        assert!((v.mean() - r.visible.mean()).abs() < 2.0);
    }
}

#[test]
fn realistic_batch_failure_to_acquire() {
    // 10 subjects x 2 hands x 2 captures (one per session) at a reduced frame size for speed;
    // `examples/fta.rs` measures the full 768x576 batches.
    let (w, h) = (512, 384);
    let (mut n, mut fail, mut errs) = (0, Vec::new(), Vec::new());
    for subject in 1..=10 {
        for hand in [Hand::Left, Hand::Right] {
            let id = Identity::new(11, subject, hand).unwrap();
            for (session, index) in [(1, 0), (2, 3)] {
                let spec = CaptureSpec::sample(&id, Difficulty::Realistic, session, index);
                let r = render_capture(&id, &spec, w, h).unwrap();
                n += 1;
                match extract(&r, hand) {
                    Ok(pair) => errs.push(worst_valley_error(&pair, &r)),
                    Err(e) => fail.push(format!("s{subject} {hand:?} {index}: {e}")),
                }
            }
        }
    }
    let fta = fail.len() as f32 / n as f32;
    assert!(fta <= 0.10, "FTA {fta}: {fail:?}");
    errs.sort_by(|a, b| a.total_cmp(b));
    let median = errs[errs.len() / 2];
    assert!(median < 0.02 * w as f32, "median valley error {median}");
}
