//! The adapter for `palmsig_codes` templates: exhaustive = brute force, mates found, round trip.
use palmsig_codes::{Algorithm, Matcher};
use palmsig_index::codes_adapter::template_from_bits;
use palmsig_index::{
    BruteForce, CodeModel, CodesScorer, GalleryRead, GalleryWrite, Index, Scorer, SearchParams,
};

fn scorer() -> CodesScorer {
    CodesScorer::new(Matcher::new(Algorithm::CompCode))
}

#[test]
fn codes_templates_search_like_the_reference() {
    let m = CodeModel::default();
    let tpl = |id: u64, cap: u64| {
        template_from_bits(&m.capture(&m.identity(id), cap), Algorithm::CompCode).unwrap()
    };
    let idx = Index::new(scorer()).unwrap();
    let mut bf = BruteForce::new(scorer());
    for i in 0..60u64 {
        let t = tpl(i, i);
        idx.insert(i, &t).unwrap();
        bf.upsert(i, t);
    }
    idx.remove(5).unwrap();
    bf.remove(5);
    let s = scorer();
    let t = tpl(3, 7);
    assert_eq!(s.decode(&s.encode(&t).unwrap()).unwrap(), t);
    let mut found = 0;
    for p in 0..20u64 {
        let probe = tpl(p, 1000 + p);
        let ex = SearchParams {
            max_results: 10,
            ..SearchParams::exhaustive()
        };
        let want = bf.search(&probe, &ex).unwrap();
        assert_eq!(idx.search(&probe, &ex).unwrap(), want);
        let fast = idx
            .search(
                &probe,
                &SearchParams {
                    shortlist: 8,
                    ..SearchParams::default()
                },
            )
            .unwrap();
        if p != 5 && fast.candidates[0].id == p {
            found += 1;
        }
    }
    assert!(
        found >= 18,
        "mates found at rank 1 with an 8-candidate shortlist: {found}/19"
    );
}
