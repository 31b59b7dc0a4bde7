//! End-to-end tests of the generator: determinism, manifest validity, truth coherence,
//! identity consistency (genuine vs impostor), error handling.

use std::collections::BTreeMap;
use std::path::Path;

use palmsig_core::{CaptureKind, GrayImage, Hand, Point};
use palmsig_synth::{
    render_capture, render_roi, truth_roi, write_dataset, CaptureSpec, DatasetConfig, Difficulty,
    Identity, SynthError,
};

fn small_cfg(seed: u64) -> DatasetConfig {
    DatasetConfig {
        width: 192,
        height: 144,
        ..DatasetConfig::new(2, 3, seed)
    }
}

fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in [dir.to_path_buf(), dir.join("img")] {
        for e in std::fs::read_dir(&sub).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                out.insert(
                    p.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn same_arguments_give_byte_identical_files_and_another_seed_differs() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    write_dataset(&small_cfg(7), a.path()).unwrap();
    // A different thread count must not change a byte.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| write_dataset(&small_cfg(7), b.path()))
        .unwrap();
    write_dataset(&small_cfg(8), c.path()).unwrap();
    let (fa, fb, fc) = (read_all(a.path()), read_all(b.path()), read_all(c.path()));
    assert_eq!(fa.len(), 2 * 2 * 3 * 2 + 3);
    assert_eq!(fa, fb);
    assert_eq!(fa.keys().collect::<Vec<_>>(), fc.keys().collect::<Vec<_>>());
    let differing = fa.iter().filter(|(k, v)| fc[*k] != **v).count();
    // Everything but the manifest (same names) differs with another seed.
    assert_eq!(differing, fa.len() - 1);
}

#[test]
fn manifest_follows_the_contract_and_every_path_exists() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = DatasetConfig {
        identities: 3,
        captures: 5,
        ..small_cfg(3)
    };
    let s = write_dataset(&cfg, dir.path()).unwrap();
    assert_eq!(s.rows, 3 * 2 * 5);
    let text = std::fs::read_to_string(dir.path().join("manifest.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("capture,subject,hand,session,kind,visible,nir")
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 30);
    let mut ids = std::collections::HashSet::new();
    let mut per_class: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for r in &rows {
        assert_eq!(r.len(), 7);
        assert!(
            ids.insert(r[0].to_string()),
            "duplicate capture id {}",
            r[0]
        );
        assert!(r[2] == "left" || r[2] == "right");
        assert_eq!(r[4], "hand");
        for p in [r[5], r[6]] {
            assert!(!p.is_empty() && !Path::new(p).is_absolute());
            let bytes = std::fs::read(dir.path().join(p)).unwrap();
            let img = image::load_from_memory(&bytes).unwrap();
            assert_eq!((img.width(), img.height()), (192, 144));
            assert_eq!(img.color(), image::ColorType::L8);
        }
        per_class
            .entry((r[1].to_string(), r[2].to_string()))
            .or_default()
            .push(r[3].to_string());
    }
    assert_eq!(per_class.len(), 6);
    for sessions in per_class.values() {
        // First half (rounded up) session 1, the rest session 2.
        assert_eq!(sessions, &["1", "1", "1", "2", "2"]);
    }
    let truth = std::fs::read_to_string(dir.path().join("truth.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = truth
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    for (t, r) in lines.iter().zip(&rows) {
        assert_eq!(t["capture"], r[0]);
        assert_eq!(t["hand"], r[2]);
        assert_eq!(t["valleys"].as_array().unwrap().len(), 4);
        assert_eq!(t["roi_corners"].as_array().unwrap().len(), 4);
        assert!(t["identity_seed"].is_u64());
        assert!(t["pose"]["rotation_deg"].is_number() && t["pose"]["tilt"].is_array());
    }
    assert!(dir.path().join("contact.png").is_file());
}

fn mask_at(mask: &GrayImage, p: Point) -> Option<u8> {
    let (x, y) = (p.x.floor() as i64, p.y.floor() as i64);
    if x < 0 || y < 0 || x >= mask.width() as i64 || y >= mask.height() as i64 {
        return None;
    }
    Some(mask.get(x as usize, y as usize))
}

#[test]
fn valleys_and_roi_corners_are_inside_the_hand_and_the_frame() {
    let (w, h) = (512, 384);
    let mut checked = 0;
    for subject in 1..=4 {
        for hand in [Hand::Left, Hand::Right] {
            let id = Identity::new(11, subject, hand).unwrap();
            for k in 0..3 {
                let spec = CaptureSpec::sample(&id, Difficulty::Realistic, 1 + k / 2, k);
                let r = render_capture(&id, &spec, w, h).unwrap();
                let t = &r.truth;
                assert_eq!(t.hand, hand);
                // Coverage sits in a plausible band (real: 26–37% at 768x576).
                assert!(
                    t.hand_fraction > 0.12 && t.hand_fraction < 0.5,
                    "{}",
                    t.hand_fraction
                );
                if spec.occlusion || spec.out_of_frame {
                    continue;
                }
                for (i, v) in t.valleys.iter().enumerate() {
                    // A valley lies on the outline: hand and background within 3 px.
                    let near: Vec<u8> = (-3..=3)
                        .flat_map(|dy| (-3..=3).map(move |dx| (dx, dy)))
                        .filter_map(|(dx, dy)| {
                            mask_at(&r.mask, Point::new(v.x + dx as f32, v.y + dy as f32))
                        })
                        .collect();
                    assert!(near.len() == 49, "V{i} {v:?} outside the frame");
                    assert!(near.iter().any(|&m| m > 128) && near.iter().any(|&m| m < 128), "V{i} not on the outline: {near:?} subject {subject} {hand:?} k {k} {spec:?}");
                }
                for (i, c) in t.roi_corners.iter().enumerate() {
                    assert!(
                        mask_at(&r.mask, *c).is_some_and(|m| m > 250),
                        "corner {i} {c:?} not inside the hand"
                    );
                }
                // The ROI frame: x̂ towards the thumb side, side 1.2·|V1−V3|.
                let d = t.valleys[1].dist(t.valleys[3]);
                assert!((t.roi_corners[0].dist(t.roi_corners[1]) - 1.2 * d).abs() < 1e-2);
                let to_thumb = Point::new(
                    t.valleys[0].x - t.valleys[3].x,
                    t.valleys[0].y - t.valleys[3].y,
                );
                let xh = Point::new(
                    t.roi_corners[1].x - t.roi_corners[0].x,
                    t.roi_corners[1].y - t.roi_corners[0].y,
                );
                assert!(to_thumb.x * xh.x + to_thumb.y * xh.y > 0.0);
                // V1–V3 span ≈ 2 finger widths: 30–50 mm.
                let mm = d / t.pose.px_per_mm;
                assert!(mm > 28.0 && mm < 52.0, "{mm}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 18, "{checked}");
}

/// Zero-mean, unit-norm high-pass of an image (removes illumination).
fn highpass(img: &GrayImage) -> Vec<f32> {
    let (w, h) = (img.width(), img.height());
    let f: Vec<f32> = img.as_slice().iter().map(|&v| v as f32).collect();
    let r = 4i64;
    let mut out = vec![0.0f32; w * h];
    for y in 0..h as i64 {
        for x in 0..w as i64 {
            let (mut s, mut n) = (0.0, 0.0);
            for yy in (y - r).max(0)..=(y + r).min(h as i64 - 1) {
                for xx in (x - r).max(0)..=(x + r).min(w as i64 - 1) {
                    s += f[(yy * w as i64 + xx) as usize];
                    n += 1.0;
                }
            }
            out[(y * w as i64 + x) as usize] = f[(y * w as i64 + x) as usize] - s / n;
        }
    }
    let m = out.iter().sum::<f32>() / out.len() as f32;
    out.iter_mut().for_each(|v| *v -= m);
    let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
    out.iter_mut().for_each(|v| *v /= norm);
    out
}

fn ncc(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn same_identity_correlates_across_captures_and_different_identities_do_not() {
    let ids: Vec<Identity> = [
        (1, Hand::Right),
        (1, Hand::Left),
        (2, Hand::Right),
        (3, Hand::Left),
    ]
    .iter()
    .map(|&(s, h)| Identity::new(21, s, h).unwrap())
    .collect();
    for modality in ["visible", "nir"] {
        let mut rois: Vec<(usize, Vec<f32>)> = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            for k in 0..3 {
                let spec = CaptureSpec::sample(id, Difficulty::Realistic, 1 + k / 2, k);
                let r = render_capture(id, &spec, 384, 288).unwrap();
                let img = if modality == "visible" {
                    &r.visible
                } else {
                    &r.nir
                };
                rois.push((i, highpass(&truth_roi(img, &r.truth, 64))));
            }
        }
        let (mut gen, mut imp) = (vec![], vec![]);
        for a in 0..rois.len() {
            for b in a + 1..rois.len() {
                let s = ncc(&rois[a].1, &rois[b].1);
                if rois[a].0 == rois[b].0 {
                    gen.push(s)
                } else {
                    imp.push(s)
                }
            }
        }
        let gmean = gen.iter().sum::<f32>() / gen.len() as f32;
        let imax = imp.iter().cloned().fold(f32::MIN, f32::max);
        let imean = imp.iter().sum::<f32>() / imp.len() as f32;
        println!(
            "{modality}: genuine NCC mean {gmean:.3} (n={}), impostor mean {imean:.3}, max {imax:.3} (n={})",
            gen.len(),
            imp.len()
        );
        assert!(
            gmean > imean + 0.3,
            "{modality}: genuine mean {gmean} vs impostor mean {imean}"
        );
        assert!(
            gmean > imax + 0.1,
            "{modality}: genuine mean {gmean} vs impostor max {imax}"
        );
    }
}

#[test]
fn left_hands_are_mirrored_and_not_copies_of_the_right() {
    let r = Identity::new(5, 1, Hand::Right).unwrap();
    let l = Identity::new(5, 1, Hand::Left).unwrap();
    let spec = CaptureSpec::neutral();
    let rr = render_capture(&r, &spec, 320, 240).unwrap();
    let rl = render_capture(&l, &spec, 320, 240).unwrap();
    // Upright: a right palm has the thumb (V0) right of V1, a left palm left of it.
    assert!(rr.truth.valleys[0].x > rr.truth.valleys[1].x);
    assert!(rl.truth.valleys[0].x < rl.truth.valleys[1].x);
    // Ground-truth ROIs (both in the right-hand frame) of the two hands do not match.
    let a = highpass(&truth_roi(&rr.visible, &rr.truth, 64));
    let b = highpass(&truth_roi(&rl.visible, &rl.truth, 64));
    assert!(ncc(&a, &b) < 0.3);
}

#[test]
fn roi_crops_hold_the_true_roi_with_small_misalignment() {
    let id = Identity::new(9, 2, Hand::Left).unwrap();
    for k in 0..3 {
        let spec = CaptureSpec::sample(&id, Difficulty::Realistic, 1, k);
        let r = render_roi(&id, &spec, 128).unwrap();
        assert_eq!((r.visible.width(), r.nir.height()), (128, 128));
        assert_eq!(r.truth.kind, CaptureKind::Roi);
        let roi = r.truth.roi.as_ref().unwrap();
        let want = [(0.0, 0.0), (128.0, 0.0), (128.0, 128.0), (0.0, 128.0)];
        for (c, (x, y)) in roi.corners_in_crop.iter().zip(want) {
            // ±3 px shift, ±3° rotation, ±5% scale: corners stay within ~12 px.
            assert!(
                (c.x - x).abs() < 14.0 && (c.y - y).abs() < 14.0,
                "{c:?} vs ({x},{y})"
            );
        }
        // Mostly palm.
        assert!(r.mask.mean() > 240.0);
    }
}

#[test]
fn bad_input_gives_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let id = Identity::new(1, 1, Hand::Right).unwrap();
    let spec = CaptureSpec::neutral();
    assert!(matches!(
        render_capture(&id, &spec, 0, 100),
        Err(SynthError::InvalidSize { .. })
    ));
    assert!(matches!(
        render_capture(&id, &spec, 100_000, 100),
        Err(SynthError::InvalidSize { .. })
    ));
    assert!(matches!(
        render_roi(&id, &spec, 4),
        Err(SynthError::InvalidSize { .. })
    ));
    assert!(matches!(
        Identity::new(1, 1, Hand::Unknown),
        Err(SynthError::UnknownHand)
    ));
    let zero = DatasetConfig {
        identities: 0,
        ..small_cfg(1)
    };
    assert!(matches!(
        write_dataset(&zero, dir.path()),
        Err(SynthError::NoIdentities)
    ));
    let zero = DatasetConfig {
        captures: 0,
        ..small_cfg(1)
    };
    assert!(matches!(
        write_dataset(&zero, dir.path()),
        Err(SynthError::NoCaptures)
    ));
    let roi = DatasetConfig {
        kind: CaptureKind::Roi,
        width: 128,
        height: 96,
        ..small_cfg(1)
    };
    assert!(matches!(
        roi.validate(),
        Err(SynthError::RoiNotSquare { .. })
    ));
    // Unwritable: the output "folder" is a file.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    assert!(matches!(
        write_dataset(&small_cfg(1), &file),
        Err(SynthError::Io { .. })
    ));
    assert!(matches!(
        palmsig_synth::parse_size("640by480"),
        Err(SynthError::SizeSyntax(_))
    ));
    assert_eq!(palmsig_synth::parse_size("640x480").unwrap(), (640, 480));
    assert!("medium".parse::<Difficulty>().is_err());
    assert_eq!("hard".parse::<Difficulty>().unwrap(), Difficulty::Hard);
}

#[test]
fn session_two_drifts_more_than_captures_within_a_session() {
    let (mut within, mut across, mut el1, mut el2) = (vec![], vec![], vec![], vec![]);
    for subject in 1..=4 {
        let id = Identity::new(31, subject, Hand::Right).unwrap();
        let s1: Vec<CaptureSpec> = (0..4)
            .map(|k| CaptureSpec::sample(&id, Difficulty::Realistic, 1, k))
            .collect();
        let s2: Vec<CaptureSpec> = (4..8)
            .map(|k| CaptureSpec::sample(&id, Difficulty::Realistic, 2, k))
            .collect();
        for i in 0..4 {
            for j in i + 1..4 {
                within.push((s1[i].rotation_deg - s1[j].rotation_deg).abs());
            }
            for b in &s2 {
                across.push((s1[i].rotation_deg - b.rotation_deg).abs());
            }
            el1.push(s1[i].elastic_mm);
            el2.push(s2[i].elastic_mm);
        }
        // Same arguments, same spec.
        assert_eq!(s1[0], CaptureSpec::sample(&id, Difficulty::Realistic, 1, 0));
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    assert!(
        mean(&across) > 1.5 * mean(&within),
        "{} vs {}",
        mean(&across),
        mean(&within)
    );
    assert!(mean(&el2) > mean(&el1));
}
