//! Property tests of calibration profiles: no input panics the loader, and whatever it accepts
//! scores every distance with finite, non-negative, monotone scores.
use palmsig_codes::{Algorithm, CalibrationProfile};
use proptest::prelude::*;

/// The built-in profile of an algorithm, as a JSON value to mutate.
fn builtin_json(algo: usize) -> serde_json::Value {
    let a = Algorithm::ALL[algo % Algorithm::ALL.len()];
    serde_json::from_str(&CalibrationProfile::builtin(a).to_json().unwrap()).unwrap()
}

/// Every number's JSON pointer in a value, in document order.
fn number_pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Number(_) => out.push(at),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                number_pointers(x, format!("{at}/{i}"), out);
            }
        }
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                number_pointers(x, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// What an accepted profile must do: finite, non-negative scores, rising as distances fall.
fn scores_sanely(p: &CalibrationProfile) {
    let c = p.calibration();
    let mut prev = -1.0f32;
    for i in (0..=100).rev() {
        let d = i as f32 / 100.0;
        let s = c.score(palmsig_codes::CodeSources::TwoBands, Some(d), Some(d));
        for v in [s.fused, s.surface.unwrap(), s.vein.unwrap()] {
            assert!(v.is_finite() && v >= 0.0, "{v} at {d}");
        }
        assert!(
            s.fused >= prev - 1e-3 - 1e-5 * prev.abs(),
            "fused {} after {prev} at {d}",
            s.fused
        );
        prev = s.fused;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = CalibrationProfile::from_json(&text);
    }

    #[test]
    fn truncated_profiles_never_panic(algo in 0usize..3, cut in 0usize..10_000) {
        let text = CalibrationProfile::builtin(Algorithm::ALL[algo]).to_json().unwrap();
        let cut = cut % (text.len() + 1);
        if let Some(prefix) = text.get(..cut) {
            let r = CalibrationProfile::from_json(prefix);
            prop_assert!(cut == text.len() || r.is_err());
        }
    }

    #[test]
    fn mutated_numbers_are_refused_or_score_sanely(
        algo in 0usize..3,
        picks in proptest::collection::vec((any::<usize>(), prop_oneof![
            any::<f64>(),
            -10.0f64..10.0,
            Just(0.0),
            Just(-0.0),
            Just(1e308),
            Just(f64::MIN_POSITIVE),
        ]), 1..4),
    ) {
        let mut v = builtin_json(algo);
        let mut ptrs = Vec::new();
        number_pointers(&v, String::new(), &mut ptrs);
        for (i, x) in &picks {
            let ptr = &ptrs[i % ptrs.len()];
            if let (Some(slot), Some(n)) = (v.pointer_mut(ptr), serde_json::Number::from_f64(*x)) {
                *slot = serde_json::Value::Number(n);
            }
        }
        if let Ok(p) = CalibrationProfile::from_json(&v.to_string()) {
            scores_sanely(&p);
        }
    }

    #[test]
    fn mutated_structure_never_panics(algo in 0usize..3, i in any::<usize>(), kind in 0u8..5) {
        let mut v = builtin_json(algo);
        let mut ptrs = Vec::new();
        number_pointers(&v, String::new(), &mut ptrs);
        let ptr = ptrs[i % ptrs.len()].clone();
        let replacement = match kind {
            0 => serde_json::Value::Null,
            1 => serde_json::json!("1.0"),
            2 => serde_json::json!([]),
            3 => serde_json::json!({}),
            _ => serde_json::json!(u64::MAX),
        };
        if let Some(slot) = v.pointer_mut(&ptr) {
            *slot = replacement;
        }
        if let Ok(p) = CalibrationProfile::from_json(&v.to_string()) {
            scores_sanely(&p);
        }
    }
}
