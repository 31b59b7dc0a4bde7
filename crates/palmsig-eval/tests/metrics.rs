//! Metric functions on hand-made score sets with known answers.

use palmsig_eval::metrics::{enough_trials, median, next_up, Identification, Search, Verification};

fn approx(a: Option<f64>, b: f64) {
    let a = a.expect("value present");
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

#[test]
fn eer_exactly_at_an_operating_point() {
    // Accept iff score > cut. Cut 0.3: FMR 1/4 (0.65), FNMR 0. Cut 0.6: FMR 1/4, FNMR 1/4 (0.6):
    // FNMR = FMR exactly at an operating point.
    let v = Verification::compute(&mut [0.6, 0.7, 0.8, 0.9], &mut [0.1, 0.2, 0.3, 0.65]);
    assert_eq!(v.eer, Some(0.25));
    assert_eq!(v.genuine_pairs, 4);
    assert_eq!(v.impostor_pairs, 4);
}

#[test]
fn eer_interpolated_between_points() {
    // Points (FMR, FNMR): cut 0.1 -> (1/2, 0), cut 0.5 -> (1/2, 1/3) d=-1/6,
    // cut 0.55 -> (0, 1/3) d=+1/3: lambda = (1/6)/(1/2) = 1/3, EER = 1/2 - 1/6 = 1/3.
    let v = Verification::compute(&mut [0.5, 0.6, 0.7], &mut [0.1, 0.55]);
    approx(v.eer, 1.0 / 3.0);
    let mut g: Vec<f32> = vec![0.05, 0.35, 0.9, 0.91, 0.92];
    let mut i: Vec<f32> = vec![0.0, 0.01, 0.3, 0.4, 0.5];
    // Cut 0.3: FMR 2/5, FNMR 1/5; cut 0.35: FMR 2/5, FNMR 2/5 -> d = 0 exactly.
    let v = Verification::compute(&mut g, &mut i);
    approx(v.eer, 0.4);
}

#[test]
fn eer_tie_between_genuine_and_impostor_is_the_midpoint_of_the_step() {
    // 0.5 is both a genuine and an impostor score: the threshold cannot separate them, the
    // curve steps from (1/2, 0) to (0, 1/2) and the crossing is in the middle.
    let v = Verification::compute(&mut [0.5, 0.9], &mut [0.1, 0.5]);
    approx(v.eer, 0.25);
    // Everything tied: one step from (1, 0) to (0, 1).
    let v = Verification::compute(&mut [0.5, 0.5], &mut [0.5, 0.5, 0.5]);
    approx(v.eer, 0.5);
}

#[test]
fn eer_extremes() {
    let v = Verification::compute(&mut [0.8, 0.9], &mut [0.1, 0.2]);
    approx(v.eer, 0.0);
    let v = Verification::compute(&mut [0.1], &mut [0.9]);
    approx(v.eer, 1.0);
    let v = Verification::compute(&mut [], &mut [0.9]);
    assert_eq!(v.eer, None);
    assert!(v.det.is_empty());
    let v = Verification::compute(&mut [0.3], &mut []);
    assert_eq!(v.eer, None);
    assert!(v.fnmr_at_fmr.values().all(|x| x.is_none()));
}

fn impostors(n: usize) -> Vec<f32> {
    (0..n).map(|k| k as f32 / n as f32).collect()
}

#[test]
fn fnmr_at_fmr_rule_of_three_and_threshold_rule() {
    // 300 impostors 0, 1/300, ..., 299/300. FMR 1e-2 allows 3 above the threshold: the 4th
    // highest impostor (296/300) is the cut, accept iff score > it.
    let mut imp = impostors(300);
    let cut = imp[296];
    let mut gen: Vec<f32> = vec![0.5, cut, 0.995, 0.999, 1.5];
    let v = Verification::compute(&mut gen, &mut imp);
    // genuine <= cut: 0.5 and cut itself -> 2/5
    approx(v.fnmr_at_fmr["1e-2"], 2.0 / 5.0);
    let op = v.operating_points["1e-2"].unwrap();
    assert_eq!(op.threshold, next_up(cut));
    approx(Some(op.fmr), 3.0 / 300.0);
    // 300 < 3/1e-3: null for every lower FMR.
    for k in ["1e-3", "1e-4", "1e-5", "1e-6"] {
        assert_eq!(v.fnmr_at_fmr[k], None, "{k}");
        assert!(v.operating_points[k].is_none());
    }
    // 299 impostors: not enough for 1e-2 either.
    let v = Verification::compute(&mut [0.9], &mut impostors(299));
    assert_eq!(v.fnmr_at_fmr["1e-2"], None);
    // 3000 impostors: 1e-3 estimable.
    let v = Verification::compute(&mut [0.9999, 2.0], &mut impostors(3000));
    assert!(v.fnmr_at_fmr["1e-3"].is_some());
    assert_eq!(v.fnmr_at_fmr["1e-4"], None);
}

#[test]
fn fnmr_at_fmr_never_exceeds_target_when_impostors_tie() {
    // 300 impostors, the top 5 tied at 0.99: allowing 3 above the cut is impossible without
    // going to 0: threshold above 0.99, achieved FMR 0.
    let mut imp = impostors(300);
    for v in imp.iter_mut().rev().take(5) {
        *v = 0.99;
    }
    let mut gen = vec![0.98, 0.99, 0.995, 1.0];
    let v = Verification::compute(&mut gen, &mut imp);
    let op = v.operating_points["1e-2"].unwrap();
    assert_eq!(op.fmr, 0.0);
    assert_eq!(op.threshold, next_up(0.99));
    approx(Some(op.fnmr), 0.5);
}

#[test]
fn enough_trials_is_exact_integer_arithmetic() {
    assert!(enough_trials(300, 2));
    assert!(!enough_trials(299, 2));
    assert!(enough_trials(3_000_000, 6));
    assert!(!enough_trials(2_999_999, 6));
    assert!(!enough_trials(u64::MAX, 30));
}

#[test]
fn det_is_monotone_from_corner_to_corner() {
    let mut g: Vec<f32> = (0..500).map(|k| 0.4 + k as f32 / 800.0).collect();
    let mut i: Vec<f32> = (0..5000).map(|k| k as f32 / 9000.0).collect();
    let v = Verification::compute(&mut g, &mut i);
    let d = &v.det;
    assert_eq!((d[0].fmr, d[0].fnmr), (1.0, 0.0));
    let last = d.last().unwrap();
    assert_eq!((last.fmr, last.fnmr), (0.0, 1.0));
    for w in d.windows(2) {
        assert!(w[1].fmr <= w[0].fmr && w[1].fnmr >= w[0].fnmr);
    }
    assert!(d.len() < 5500, "thinned: {}", d.len());
}

#[test]
fn next_up_is_strictly_above() {
    for x in [-1.0f32, -0.0, 0.0, 1e-30, 0.5, 3.0e38] {
        assert!(next_up(x) > x, "{x}");
    }
    assert_eq!(next_up(f32::INFINITY), f32::INFINITY);
}

#[test]
fn rank1_ties_count_as_misses() {
    let s = [
        Search::Mated {
            mate: Some(0.9),
            best_nonmate: Some(0.5),
        },
        Search::Mated {
            mate: Some(0.5),
            best_nonmate: Some(0.5),
        },
        Search::Mated {
            mate: None,
            best_nonmate: Some(0.1),
        },
        Search::Mated {
            mate: Some(0.2),
            best_nonmate: None,
        },
    ];
    let id = Identification::compute(&s);
    approx(id.rank1, 0.5);
    assert_eq!(id.mated_searches, 4);
    assert_eq!(id.nonmated_searches, 0);
    assert_eq!(id.fnir_at_fpir["1e-2"], None);
    assert_eq!(id.fnir_at_zero_fpir, None);
}

#[test]
fn fnir_at_fpir_nist_style() {
    // 300 non-mated searches with top scores k/300; FPIR 1e-2 -> cut at the 4th highest.
    let mut s: Vec<Search> = (0..300)
        .map(|k| Search::NonMated {
            top: Some(k as f32 / 300.0),
        })
        .collect();
    let cut = 296.0f32 / 300.0;
    // Mated: a hit above the cut, a hit at the cut (rejected), a miss with a high score.
    s.push(Search::Mated {
        mate: Some(2.0),
        best_nonmate: Some(0.1),
    });
    s.push(Search::Mated {
        mate: Some(cut),
        best_nonmate: Some(0.1),
    });
    s.push(Search::Mated {
        mate: Some(3.0),
        best_nonmate: Some(3.5),
    });
    s.push(Search::Mated {
        mate: Some(1.5),
        best_nonmate: None,
    });
    let id = Identification::compute(&s);
    approx(id.fnir_at_fpir["1e-2"], 2.0 / 4.0);
    assert_eq!(id.fnir_at_fpir["1e-3"], None);
    approx(id.rank1, 3.0 / 4.0);
    let z = id.fnir_at_zero_fpir.unwrap();
    assert_eq!(z.threshold, next_up(299.0 / 300.0));
    approx(Some(z.fnmr), 2.0 / 4.0);
}

#[test]
fn median_odd_even_empty() {
    assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    assert_eq!(median(&mut []), None);
}

#[test]
fn calibration_points_measure_the_nominal_thresholds() {
    use palmsig_eval::metrics::calibration_points;
    // 300 impostor scores: 0.0, 0.01, …, 2.99 (three at ≥ 2.97 …); genuine 1.5, 2.5, 3.5, 7.
    let impostor: Vec<f32> = (0..300).map(|i| i as f32 / 100.0).collect();
    let genuine = [1.5f32, 2.5, 3.5, 7.0];
    let c = calibration_points(&genuine, &impostor);
    assert_eq!(c.len(), 5);
    let p = c["1e-2"];
    assert_eq!(p.threshold, 2.0);
    // Scores ≥ 2.0: 2.00 … 2.99 = 100 of 300 (f32 rounding of i/100 keeps 2.00 at 2.0).
    approx(p.fmr, 100.0 / 300.0);
    approx(p.fnmr, 1.0 / 4.0);
    approx(p.ratio(), 100.0 / 300.0 * 100.0);
    // 300 < 3/1e-3: no FMR stated, FNMR still is.
    let p = c["1e-3"];
    assert_eq!((p.threshold, p.fmr), (3.0, None));
    approx(p.fnmr, 2.0 / 4.0);
    assert_eq!(p.ratio(), None);
    approx(c["1e-6"].fnmr, 3.0 / 4.0);
    // No genuine pair: no FNMR.
    assert_eq!(calibration_points(&[], &impostor)["1e-2"].fnmr, None);
    // Verification carries the same points.
    let mut g = genuine.to_vec();
    let mut i = impostor.clone();
    assert_eq!(Verification::compute(&mut g, &mut i).calibration, c);
}
