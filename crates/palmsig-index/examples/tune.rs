//! Quick tuning run: mate recall of the coarse stage vs shortlist size on a synthetic gallery.
//! `cargo run --release -p palmsig-index --example tune -- N PROBES`
use palmsig_index::{BitScorer, CodeModel, GalleryRead, GalleryWrite, Index, SearchParams};
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n: u64 = a.get(1).and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let m: u64 = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
    let margin: f32 = a.get(3).and_then(|s| s.parse().ok()).unwrap_or(0.05);
    let offs: usize = a.get(4).and_then(|s| s.parse().ok()).unwrap_or(1);
    let lattice: usize = a.get(5).and_then(|s| s.parse().ok()).unwrap_or(8);
    let fine: f32 = a.get(6).and_then(|s| s.parse().ok()).unwrap_or(0.2);
    let model = CodeModel {
        lattice,
        fine,
        ..CodeModel::default()
    };
    let mut sc = BitScorer {
        margin,
        ..BitScorer::default()
    };
    sc.probe_offsets = match offs {
        1 => vec![(0, 0)],
        5 => vec![(0, 0), (2, 0), (-2, 0), (0, 2), (0, -2)],
        _ => {
            let mut v = vec![];
            for y in [-2, 0, 2] {
                for x in [-2, 0, 2] {
                    v.push((x, y));
                }
            }
            v
        }
    };
    let pairs: Vec<_> = (0..2000u64)
        .map(|i| {
            (
                model.capture(&model.identity(1_000_000_000 + i), 1),
                model.capture(&model.identity(2_000_000_000 + i), 2),
            )
        })
        .collect();
    let t = Instant::now();
    println!(
        "impostor model {:?} ({:?})",
        sc.calibrate(&pairs),
        t.elapsed()
    );
    if n == 0 {
        return;
    }
    let idx = Index::new(sc.clone()).unwrap();
    let t = Instant::now();
    for i in 0..n {
        idx.insert(i, &model.capture(&model.identity(i), i))
            .unwrap();
    }
    println!(
        "built {n} in {:?}, mem/hand {}",
        t.elapsed(),
        idx.memory_bytes() as f64 / n as f64
    );
    let ks = [64usize, 128, 256, 512, 1024, 2048];
    let mut hit = [0usize; 6];
    let mut gen = Vec::new();
    let mut lat = Vec::new();
    let mut ok = 0;
    let thr = palmsig_index::index::threshold_for(&sc, 1e-3, n as usize);
    for p in 0..m {
        let id = (p * 7919) % n;
        let probe = model.capture(&model.identity(id), 10_000_000 + p);
        let sl = idx.shortlist(&probe, 2048).unwrap();
        if let Some(r) = sl.iter().position(|x| x.0 == id) {
            for (j, k) in ks.iter().enumerate() {
                if r < *k {
                    hit[j] += 1;
                }
            }
        }
        let t = Instant::now();
        let r = idx.search(&probe, &SearchParams::default()).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1e3);
        if r.candidates[0].id == id && r.candidates[0].score >= thr {
            ok += 1;
        }
        gen.push(1.0 - sc.distance(&probe, &idx.get(id).unwrap().unwrap()));
    }
    lat.sort_by(f64::total_cmp);
    gen.sort_by(f64::total_cmp);
    println!(
        "thr {thr:.4} FNIR {:.4} gen score p1 {:.3} p50 {:.3}",
        1.0 - ok as f64 / m as f64,
        gen[m as usize / 100],
        gen[m as usize / 2]
    );
    for (j, k) in ks.iter().enumerate() {
        println!("K={k}: mate recall {:.4}", hit[j] as f64 / m as f64);
    }
    println!(
        "latency ms p50 {:.2} p99 {:.2}",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
}
