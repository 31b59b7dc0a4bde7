//! Protocol splits: cross-session gallery/probe with numeric labels, open-set held-out fraction.

use std::path::Path;

use palmsig_eval::protocol::{cross_session_roles, held_out_classes, open_set_roles, Role};
use palmsig_eval::Manifest;

fn manifest(rows: &[(&str, &str, &str)]) -> Manifest {
    let mut s = String::from("capture,subject,hand,session,kind,nir\n");
    for (i, (subj, hand, sess)) in rows.iter().enumerate() {
        s.push_str(&format!("c{i},{subj},{hand},{sess},roi,x.png\n"));
    }
    Manifest::parse(s.as_bytes(), Path::new("")).unwrap()
}

#[test]
fn cross_session_gallery_is_first_session_in_numeric_order() {
    let m = manifest(&[
        ("a", "left", "10"),
        ("a", "left", "2"),
        ("a", "left", "9"),
        ("a", "left", "2"),
        ("a", "right", "10"),
        ("a", "right", "11"),
        ("b", "unknown", ""),
        ("b", "unknown", "1"),
    ]);
    let roles = cross_session_roles(&m);
    use Role::*;
    assert_eq!(
        roles,
        [Probe, Gallery, Probe, Gallery, Gallery, Probe, Gallery, Probe]
    );
}

#[test]
fn held_out_fraction_is_seeded_and_rounded() {
    let h = held_out_classes(100, 0.1, 5);
    assert_eq!(h.len(), 10);
    assert!(h.windows(2).all(|w| w[0] < w[1]) && h.iter().all(|&c| c < 100));
    assert_eq!(h, held_out_classes(100, 0.1, 5), "deterministic");
    assert_ne!(h, held_out_classes(100, 0.1, 6), "seed matters");
    assert_eq!(held_out_classes(120, 0.1, 1).len(), 12);
    assert_eq!(held_out_classes(7, 0.25, 1).len(), 2);
    assert_eq!(
        held_out_classes(5, 0.01, 1).len(),
        1,
        "a positive fraction holds one out"
    );
    assert_eq!(held_out_classes(3, 0.99, 1).len(), 2, "never all classes");
    assert!(held_out_classes(10, 0.0, 1).is_empty());
    assert!(held_out_classes(1, 0.5, 1).is_empty());
}

#[test]
fn open_set_single_session_classes_split_in_halves() {
    let m = manifest(&[
        ("a", "left", ""),
        ("a", "left", ""),
        ("a", "left", ""),
        ("b", "left", "1"),
        ("b", "left", "2"),
        ("c", "left", ""),
        ("c", "left", ""),
    ]);
    // Held-out choice with fraction 0 -> every class enrolled.
    let (roles, held) = open_set_roles(&m, 0.0, 1);
    use Role::*;
    assert!(held.iter().all(|h| !h));
    assert_eq!(
        roles,
        [Gallery, Gallery, Probe, Gallery, Probe, Gallery, Probe]
    );
    // With a class held out all its captures are probes.
    let (roles, held) = open_set_roles(&m, 0.34, 3);
    assert_eq!(held.iter().filter(|&&h| h).count(), 1);
    for (c, r) in m.captures.iter().zip(&roles) {
        if held[c.class as usize] {
            assert_eq!(*r, Probe);
        }
    }
}
