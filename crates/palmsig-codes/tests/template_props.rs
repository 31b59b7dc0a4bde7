//! Property tests of the template format: decoding never panics, and encode/decode round-trips.
use palmsig_codes::{Algorithm, CodeKind, FeatureCode, Template, TemplateError};
use palmsig_core::Modality;
use proptest::prelude::*;

fn code(kind: CodeKind, planes: usize, words: &[u64]) -> FeatureCode {
    let src = if kind == CodeKind::Vein {
        Modality::Nir
    } else {
        Modality::Visible
    };
    let p: Vec<Vec<u64>> = (0..planes)
        .map(|k| (0..32).map(|y| words[(k * 32 + y) % words.len()]).collect())
        .collect();
    let m: Vec<u64> = (0..32)
        .map(|y| words[(y * 7 + 3) % words.len()].rotate_left(9))
        .collect();
    FeatureCode::from_parts(kind, src, 32, 32, &p, &m).unwrap()
}

fn template(algo: usize, which: u8, words: &[u64]) -> Template {
    let a = Algorithm::ALL[algo % Algorithm::ALL.len()];
    let s = (which & 1 == 1 || which & 3 == 0).then(|| code(CodeKind::Surface, a.planes(), words));
    let v = (which & 2 == 2).then(|| code(CodeKind::Vein, a.planes(), words));
    Template::new(a, s, v).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
        let _ = Template::from_bytes(&bytes);
    }

    #[test]
    fn psig_prefixed_garbage_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..2000), ver in 0u16..3) {
        let mut b = b"PSIG".to_vec();
        b.extend_from_slice(&ver.to_le_bytes());
        b.extend_from_slice(&tail);
        let _ = Template::from_bytes(&b);
        // With a correct CRC the field checks themselves are exercised.
        if b.len() >= 4 {
            let crc = crc32fast::hash(&b);
            b.extend_from_slice(&crc.to_le_bytes());
            let _ = Template::from_bytes(&b);
        }
    }

    #[test]
    fn round_trip(algo in 0usize..3, which in 0u8..4, words in proptest::collection::vec(any::<u64>(), 1..300)) {
        let t = template(algo, which, &words);
        let b = t.to_bytes().unwrap();
        prop_assert!(b.len() <= palmsig_codes::params::MAX_TEMPLATE_BYTES);
        prop_assert_eq!(Template::from_bytes(&b).unwrap(), t.clone());
        // Re-encoding is byte-identical (canonical form).
        prop_assert_eq!(Template::from_bytes(&b).unwrap().to_bytes().unwrap(), b);
    }

    #[test]
    fn mutations_are_rejected_or_valid(words in proptest::collection::vec(any::<u64>(), 1..100), pos in any::<usize>(), val in any::<u8>(), fix_crc in any::<bool>()) {
        let t = template(0, 3, &words);
        let mut b = t.to_bytes().unwrap();
        let i = pos % b.len();
        b[i] = val;
        if fix_crc {
            let n = b.len() - 4;
            let crc = crc32fast::hash(&b[..n]);
            b[n..].copy_from_slice(&crc.to_le_bytes());
        }
        match Template::from_bytes(&b) {
            Ok(d) => prop_assert_eq!(d.to_bytes().unwrap(), b),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

#[test]
fn truncations_are_typed_errors() {
    let t = template(1, 3, &[0x0123_4567_89ab_cdef, 42, 7]);
    let b = t.to_bytes().unwrap();
    for n in 0..b.len() {
        let e = Template::from_bytes(&b[..n]).unwrap_err();
        assert!(
            matches!(
                e,
                TemplateError::TooShort { .. } | TemplateError::BadChecksum { .. }
            ),
            "{n}: {e}"
        );
    }
}
