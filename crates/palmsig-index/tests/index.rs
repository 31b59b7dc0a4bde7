//! The fast index against the brute-force reference, write semantics, concurrency, recall.
use palmsig_index::{
    BitScorer, BitTemplate, BruteForce, CodeModel, Decision, GalleryRead, GalleryWrite, Index,
    IndexError, SearchParams,
};
use proptest::prelude::*;
use std::sync::OnceLock;

fn model() -> CodeModel {
    CodeModel::default()
}

/// A small pool of templates: 40 identities × 3 captures (generated once).
fn pool() -> &'static Vec<BitTemplate> {
    static P: OnceLock<Vec<BitTemplate>> = OnceLock::new();
    P.get_or_init(|| {
        let m = model();
        (0..120u64)
            .map(|i| m.capture(&m.identity(i / 3), 500 + i))
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u64, usize),
    Upsert(u64, usize),
    Replace(u64, usize),
    Remove(u64),
    Compact,
    Search(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..30, 0usize..120).prop_map(|(i, t)| Op::Insert(i, t)),
        1 => (0u64..30, 0usize..120).prop_map(|(i, t)| Op::Upsert(i, t)),
        1 => (0u64..30, 0usize..120).prop_map(|(i, t)| Op::Replace(i, t)),
        2 => (0u64..30).prop_map(Op::Remove),
        1 => Just(Op::Compact),
        2 => (0usize..120).prop_map(Op::Search),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// With exhaustive settings (and with a shortlist covering the gallery) the index returns
    /// exactly the reference answer after any sequence of writes.
    #[test]
    fn exhaustive_index_equals_brute_force(ops in prop::collection::vec(op(), 1..60)) {
        let idx = Index::new(BitScorer::default()).unwrap();
        let mut bf = BruteForce::new(BitScorer::default());
        let mut present = std::collections::HashSet::new();
        let p = pool();
        for o in ops {
            match o {
                Op::Insert(i, t) => {
                    let r = idx.insert(i, &p[t]);
                    if present.insert(i) {
                        prop_assert!(r.is_ok());
                        bf.upsert(i, p[t]);
                    } else {
                        prop_assert!(matches!(r, Err(IndexError::DuplicateId(x)) if x == i));
                    }
                }
                Op::Upsert(i, t) => {
                    idx.upsert(i, &p[t]).unwrap();
                    present.insert(i);
                    bf.upsert(i, p[t]);
                }
                Op::Replace(i, t) => {
                    let r = idx.replace(i, &p[t]);
                    if present.contains(&i) {
                        prop_assert!(r.is_ok());
                        bf.upsert(i, p[t]);
                    } else {
                        prop_assert!(matches!(r, Err(IndexError::UnknownId(_))));
                    }
                }
                Op::Remove(i) => {
                    prop_assert_eq!(idx.remove(i).unwrap(), present.remove(&i));
                    bf.remove(i);
                }
                Op::Compact => {
                    idx.compact();
                    prop_assert_eq!(idx.tombstones(), 0);
                }
                Op::Search(t) => {
                    let sp = SearchParams { max_results: 50, ..SearchParams::exhaustive() };
                    let want = bf.search(&p[t], &sp).unwrap();
                    prop_assert_eq!(&idx.search(&p[t], &sp).unwrap(), &want);
                    let wide = SearchParams { shortlist: 1000, max_results: 50, ..SearchParams::default() };
                    prop_assert_eq!(&idx.search(&p[t], &wide).unwrap(), &want);
                }
            }
            prop_assert_eq!(idx.len(), bf.len());
        }
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let idx = Index::new(BitScorer::default()).unwrap();
    let t = pool()[0];
    for sp in [
        SearchParams {
            shortlist: 0,
            ..SearchParams::default()
        },
        SearchParams {
            max_results: 0,
            ..SearchParams::default()
        },
        SearchParams {
            fpir: 0.0,
            ..SearchParams::default()
        },
        SearchParams {
            fpir: f64::NAN,
            ..SearchParams::default()
        },
    ] {
        assert!(
            matches!(idx.search(&t, &sp), Err(IndexError::BadParam(_))),
            "{sp:?}"
        );
    }
    let empty = BitTemplate {
        surface: None,
        vein: None,
    };
    assert!(matches!(idx.insert(1, &empty), Err(IndexError::Scorer(_))));
    // An empty gallery answers "no match".
    let r = idx.search(&t, &SearchParams::default()).unwrap();
    assert_eq!(r.decision, Decision::NoMatch);
    assert!(r.candidates.is_empty());
}

#[test]
fn threshold_rises_with_gallery_size() {
    let s = BitScorer::default();
    let t = |n| palmsig_index::index::threshold_for(&s, 1e-3, n);
    assert!(t(10_000) < t(100_000) && t(100_000) < t(1_000_000));
}

/// Coarse-stage recall at default settings (mates within the default shortlist) on a 3,000-hand
/// gallery with the model's capture noise: measured and printed; must stay high.
#[test]
fn coarse_recall_at_default_settings() {
    let m = model();
    let idx = Index::new(BitScorer::default()).unwrap();
    let n = 3000u64;
    for i in 0..n {
        idx.insert(i, &m.capture(&m.identity(i), i)).unwrap();
    }
    let k = 32; // scaled with the gallery (512 of 1M is 0.05%; 32 of 3k is 1%)
    let probes = 200u64;
    let mut hit = 0;
    let mut top1 = 0;
    for p in 0..probes {
        let id = (p * 37) % n;
        let probe = m.capture(&m.identity(id), 1_000_000 + p);
        if idx.shortlist(&probe, k).unwrap().iter().any(|x| x.0 == id) {
            hit += 1;
        }
        let r = idx
            .search(
                &probe,
                &SearchParams {
                    shortlist: k,
                    ..SearchParams::default()
                },
            )
            .unwrap();
        if r.candidates[0].id == id {
            top1 += 1;
        }
    }
    let recall = hit as f64 / probes as f64;
    eprintln!(
        "coarse recall at K={k} of {n}: {recall:.4}; rank-1 {:.4}",
        top1 as f64 / probes as f64
    );
    assert!(recall >= 0.98, "coarse recall {recall}");
}

/// Searches proceed while another thread writes; every search sees a consistent gallery.
#[test]
fn concurrent_reads_while_writing() {
    let m = model();
    let idx = Index::new(BitScorer::default()).unwrap();
    for i in 0..200u64 {
        idx.insert(i, &m.capture(&m.identity(i), i)).unwrap();
    }
    let probe = m.capture(&m.identity(7), 999);
    std::thread::scope(|s| {
        let w = s.spawn(|| {
            for i in 200..600u64 {
                idx.insert(i, &m.capture(&m.identity(i), i)).unwrap();
                if i % 3 == 0 {
                    idx.remove(i - 100).unwrap();
                }
                if i % 97 == 0 {
                    idx.compact();
                }
            }
        });
        let mut searches = 0;
        while !w.is_finished() || searches < 10 {
            let r = idx.search(&probe, &SearchParams::default()).unwrap();
            assert_eq!(r.candidates[0].id, 7);
            searches += 1;
        }
    });
    let live = 600 - (200..600).filter(|i| i % 3 == 0).count();
    assert_eq!(idx.len(), live);
}
