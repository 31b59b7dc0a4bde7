//! Segmentation, valleys and ROI on simple drawn hands (ellipse palm + capsule fingers) at
//! several rotations, scales and both sides; the quality gate on bad frames.

mod common;

use common::{blur, draw_hand, truth_valleys, HandSpec};
use palmsig_core::{GrayImage, Hand, Point};
use palmsig_vision::{extract_roi, params, Capture, MemorySink, NoExplain};

fn run(
    spec: &HandSpec,
    label: Hand,
) -> Result<palmsig_vision::RoiPair, palmsig_vision::AcquireError> {
    let img = draw_hand(spec);
    extract_roi(&Capture::hand(label, None, Some(img)), &mut NoExplain)
}

fn check_valleys(spec: &HandSpec, label: Hand) {
    let pair = run(spec, label).unwrap_or_else(|e| panic!("{spec:?} {label:?}: {e}"));
    let kp = pair.quality.keypoints.expect("keypoints");
    let truth = truth_valleys(spec);
    let found = [kp.valleys.v1, kp.valleys.v2, kp.valleys.v3];
    let tol = 0.04 * spec.width as f32;
    for (i, (f, t)) in found.iter().zip(&truth).enumerate() {
        assert!(
            f.dist(*t) <= tol,
            "{spec:?} {label:?}: V{} at {f:?}, truth {t:?}",
            i + 1
        );
    }
    let expect = if spec.left { Hand::Left } else { Hand::Right };
    assert_eq!(pair.quality.hand, expect, "{spec:?} {label:?}");
    assert_eq!(kp.frame.is_mirrored(), spec.left);
    let roi = pair.nir.unwrap();
    assert_eq!(
        (roi.width(), roi.height()),
        (params::ROI_SIZE, params::ROI_SIZE)
    );
}

#[test]
fn rotations_sides_and_scales() {
    for &angle in &[0.0f32, 30.0, -30.0, 75.0, -100.0, 180.0] {
        for &left in &[false, true] {
            let mut s = HandSpec::new(480, 360);
            s.angle = angle.to_radians();
            s.left = left;
            s.palm = 95.0;
            s.centre = Point::new(240.0, 190.0);
            check_valleys(&s, if left { Hand::Left } else { Hand::Right });
            check_valleys(&s, Hand::Unknown);
        }
    }
}

/// Parallel fingers one or two pixels apart: the working resolution merges all four into one
/// blob (without the finer view of the finger rings, a 1 px gap is a failure to acquire).
#[test]
fn fingers_a_pixel_apart_are_told_apart() {
    for &(gap_px, angle) in &[(1.0f32, 0.0f32), (1.0, 40.0), (1.0, -20.0), (2.0, 40.0)] {
        let mut s = HandSpec::new(768, 576);
        s.palm = 300.0;
        s.centre = Point::new(384.0, 380.0);
        s.spread = 0.0;
        s.angle = angle.to_radians();
        // Adjacent finger axes are 0.24 palm widths apart; radius 0.1 palm widths by default.
        s.finger_width = (0.24 - gap_px / s.palm) / 2.0 / 0.1;
        check_valleys(&s, Hand::Right);
    }
}

#[test]
fn scales_and_frame_sizes() {
    for &(w, h, palm) in &[
        (320usize, 240usize, 62.0f32),
        (768, 576, 150.0),
        (1200, 900, 200.0),
    ] {
        let mut s = HandSpec::new(w, h);
        s.palm = palm;
        s.centre = Point::new(w as f32 * 0.5, h as f32 * 0.55);
        s.angle = 0.3;
        check_valleys(&s, Hand::Right);
    }
}

#[test]
fn explain_stages_are_emitted() {
    let s = HandSpec::new(384, 288);
    let img = draw_hand(&HandSpec {
        palm: 75.0,
        centre: Point::new(192.0, 160.0),
        ..s
    });
    let mut sink = MemorySink::default();
    let pair = extract_roi(
        &Capture::hand(Hand::Right, Some(img.clone()), Some(img)),
        &mut sink,
    )
    .unwrap();
    for stage in ["working", "mask", "keypoints", "roi_visible", "roi_nir"] {
        assert!(sink.get(stage).is_some(), "missing stage {stage}");
    }
    // Golden measures of the mask stage: the drawn hand covers a known share of the frame.
    let mask = sink.get("mask").unwrap();
    let frac =
        mask.as_slice().iter().filter(|&&v| v > 0).count() as f32 / mask.as_slice().len() as f32;
    let hf = pair.quality.hand_fraction.unwrap();
    assert!((frac - hf).abs() < 1e-6);
    assert!((0.08..0.45).contains(&frac), "mask fraction {frac}");
    // Same geometry on both images of the pair.
    assert_eq!(pair.visible, pair.nir);
}

fn code_of(img: GrayImage) -> String {
    match extract_roi(&Capture::hand(Hand::Right, None, Some(img)), &mut NoExplain) {
        Ok(_) => "ok".into(),
        Err(e) => e.code().into(),
    }
}

#[test]
fn quality_gate_reasons() {
    let base = HandSpec {
        palm: 95.0,
        centre: Point::new(240.0, 190.0),
        ..HandSpec::new(480, 360)
    };
    assert_eq!(code_of(draw_hand(&base)), "ok");
    // Black frame.
    assert_eq!(code_of(GrayImage::new(480, 360)), "underexposed");
    // Uniform mid-gray frame: nothing to segment.
    let gray = GrayImage::from_vec(480, 360, vec![120; 480 * 360]).unwrap();
    assert_eq!(code_of(gray), "no_hand");
    // Saturated.
    let white = GrayImage::from_vec(480, 360, vec![255; 480 * 360]).unwrap();
    assert_eq!(code_of(white), "overexposed");
    let hot = HandSpec {
        hand_level: 255.0,
        noise: 0.0,
        ..base
    };
    assert_eq!(code_of(draw_hand(&hot)), "overexposed");
    // Heavily blurred.
    assert_eq!(code_of(blur(&draw_hand(&base), 14.0)), "blurred");
    // Tiny and huge hands.
    let tiny = HandSpec {
        palm: 22.0,
        centre: Point::new(240.0, 300.0),
        ..base
    };
    assert_eq!(code_of(draw_hand(&tiny)), "hand_too_far");
    let huge = HandSpec {
        palm: 330.0,
        centre: Point::new(240.0, 300.0),
        ..base
    };
    assert_eq!(code_of(draw_hand(&huge)), "hand_too_close");
    // Fingertips cut by the top of the frame: the valleys and palm are still in view.
    let tips_cut = HandSpec {
        centre: Point::new(240.0, 110.0),
        ..base
    };
    assert_eq!(code_of(draw_hand(&tips_cut)), "ok");
    // Fingers and part of the palm out of the frame.
    let cut = HandSpec {
        centre: Point::new(240.0, 40.0),
        ..base
    };
    assert_eq!(code_of(draw_hand(&cut)), "partial_hand");
    // Palm half out at the side.
    let side = HandSpec {
        centre: Point::new(10.0, 200.0),
        ..base
    };
    assert_eq!(code_of(draw_hand(&side)), "partial_hand");
    // Too small to be a capture.
    assert_eq!(code_of(GrayImage::new(16, 16)), "bad_image");
}

#[test]
fn bright_clutter_at_the_border_is_not_the_hand() {
    let s = HandSpec {
        palm: 85.0,
        centre: Point::new(230.0, 200.0),
        ..HandSpec::new(480, 360)
    };
    let mut img = draw_hand(&s);
    // A bright device bar along the right edge and glare spots.
    for y in 0..360 {
        for x in 440..480 {
            img.set(x, y, 200);
        }
    }
    for (cx, cy) in [(20usize, 20usize), (30, 330)] {
        for y in cy - 8..cy + 8 {
            for x in cx - 8..cx + 8 {
                img.set(x, y, 250);
            }
        }
    }
    let pair = extract_roi(&Capture::hand(Hand::Right, None, Some(img)), &mut NoExplain).unwrap();
    let kp = pair.quality.keypoints.unwrap();
    let t = truth_valleys(&s);
    assert!(kp.valleys.v1.dist(t[0]) < 0.04 * 480.0);
}

fn roi_code(img: GrayImage) -> String {
    match extract_roi(
        &Capture::roi(Hand::Unknown, None, Some(img)),
        &mut NoExplain,
    ) {
        Ok(p) => {
            assert_eq!(p.nir.unwrap().width(), params::ROI_SIZE);
            "ok".into()
        }
        Err(e) => e.code().into(),
    }
}

#[test]
fn roi_quality_reasons() {
    // A textured palm-like crop of an unusual size.
    let (w, h) = (150usize, 170usize);
    let mut rng = palmsig_core::Rng::new(3);
    let data: Vec<u8> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32, (i / w) as f32);
            let line = if ((x * 0.3 + y * 0.7) as usize) % 23 < 3 {
                -60.0
            } else {
                0.0
            };
            (110.0 + line + 6.0 * rng.normal() as f32).clamp(0.0, 255.0) as u8
        })
        .collect();
    let roi = GrayImage::from_vec(w, h, data).unwrap();
    assert_eq!(roi_code(roi.clone()), "ok");
    // Mild blur is tolerated (real crops are soft); heavy blur is refused.
    assert_eq!(roi_code(blur(&roi, 2.0)), "ok");
    assert_eq!(roi_code(blur(&roi, 9.0)), "blurred");
    assert_eq!(
        roi_code(GrayImage::from_vec(w, h, vec![110; w * h]).unwrap()),
        "low_contrast"
    );
    assert_eq!(
        roi_code(GrayImage::from_vec(w, h, vec![255; w * h]).unwrap()),
        "overexposed"
    );
    assert_eq!(roi_code(GrayImage::new(w, h)), "underexposed");
    assert_eq!(roi_code(GrayImage::new(20, 20)), "bad_image");
    // No image at all.
    let none = Capture::roi(Hand::Unknown, None, None);
    assert_eq!(
        extract_roi(&none, &mut NoExplain).unwrap_err().code(),
        "bad_image"
    );
    // Mismatched companion images.
    let c = Capture::hand(
        Hand::Right,
        Some(GrayImage::new(100, 100)),
        Some(GrayImage::new(200, 100)),
    );
    assert_eq!(
        extract_roi(&c, &mut NoExplain).unwrap_err().code(),
        "bad_image"
    );
}

#[test]
fn dir_sink_writes_numbered_pngs() {
    let dir = tempfile::tempdir().unwrap();
    let s = HandSpec {
        palm: 75.0,
        centre: Point::new(192.0, 160.0),
        ..HandSpec::new(384, 288)
    };
    let img = draw_hand(&s);
    let mut sink = palmsig_vision::DirSink::new(dir.path(), "cap 1").unwrap();
    extract_roi(&Capture::hand(Hand::Right, None, Some(img)), &mut sink).unwrap();
    assert!(sink.error().is_none());
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "cap_1_00_working.png",
            "cap_1_01_mask.png",
            "cap_1_02_keypoints.png",
            "cap_1_03_roi_nir.png"
        ]
    );
    let roi = palmsig_vision::load(dir.path().join("cap_1_03_roi_nir.png")).unwrap();
    assert_eq!(roi.width(), params::ROI_SIZE);
}
