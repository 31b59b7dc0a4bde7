//! Scale check of the evaluator's own cost (not the engine's): `IDENTITIES` × 2 hands × 6
//! captures (default 500 → 6000 captures, 18M all-pairs comparisons) with a trivial fake engine
//! that reads no image, so what is measured is pairing, score bookkeeping, `scores.txt`
//! streaming, sorting and the metrics.
//!
//! `cargo run --release -p palmsig-eval --example scale -- [IDENTITIES] [OUT_DIR]`
//! (run it under `/usr/bin/time -v` for the peak memory).
use std::path::PathBuf;

use palmsig_eval::{
    evaluate, CaptureRecord, EngineInfo, EvalEngine, EvalOptions, Failure, Manifest,
    ModalitySelection, NoProgress, Protocol, Scores,
};

#[derive(Clone)]
struct T(u32, f32);

struct Fast;

impl EvalEngine for Fast {
    type Template = T;
    type Probe = T;
    fn extract(&self, c: &CaptureRecord, _: bool) -> Result<T, Failure> {
        let h =
            c.id.bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
        Ok(T(c.class, (h % 1000) as f32 / 1000.0))
    }
    fn prepare(&self, t: &T) -> T {
        t.clone()
    }
    fn compare(&self, a: &T, b: &T) -> Scores {
        let s = if a.0 == b.0 { 0.6 } else { 0.0 } + 0.5 * (a.1 * b.1);
        Scores {
            score: s,
            visible: Some(s * 0.9),
            nir: Some(s * 0.8),
            failed: false,
        }
    }
    fn compare_reference(&self, p: &T, r: &[T]) -> Scores {
        r.iter()
            .map(|t| self.compare(p, t))
            .fold(
                Scores::default(),
                |a, b| {
                    if b.score > a.score {
                        b
                    } else {
                        a
                    }
                },
            )
    }
    fn info(&self) -> EngineInfo {
        EngineInfo {
            algorithm: "fast-fake".into(),
            version: "0".into(),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let identities: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(500);
    let out: PathBuf = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("palmsig-eval-scale"));
    let mut csv = String::from("capture,subject,hand,session,kind,visible,nir\n");
    for s in 0..identities {
        for h in ["left", "right"] {
            for k in 0..6 {
                csv.push_str(&format!(
                    "s{s}_{h}_{k},s{s},{h},{},hand,v.png,n.png\n",
                    1 + k / 3
                ));
            }
        }
    }
    let m = Manifest::parse(csv.as_bytes(), std::path::Path::new("/nonexistent")).unwrap();
    let t = std::time::Instant::now();
    let opts = EvalOptions {
        protocol: Protocol::AllPairs,
        modality: ModalitySelection::Fused,
        explain_count: 0,
        manifest_label: "scale".into(),
    };
    let r = evaluate(&Fast, &m, &opts, &out, &NoProgress).unwrap();
    println!(
        "captures {} comparisons {} genuine {} impostor {} threads {} compare_per_s {:.0} \
         compare_s {:.1} total_s {:.1} out {}",
        r.captures,
        r.comparisons,
        r.genuine_pairs,
        r.impostor_pairs,
        r.threads,
        r.compare_per_s.unwrap_or(0.0),
        r.compare_s,
        t.elapsed().as_secs_f64(),
        out.display()
    );
}
