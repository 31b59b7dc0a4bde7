//! A fake engine and a synthetic manifest writer for the evaluation tests.
#![allow(dead_code)]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use palmsig_eval::{CaptureRecord, EngineInfo, EvalEngine, Failure, Scores};

/// Template of the fake engine: the class and a per-capture value in [0, 1).
#[derive(Debug, Clone)]
pub struct FakeTemplate {
    pub class: String,
    pub jitter: f32,
    pub has_visible: bool,
    pub has_nir: bool,
}

/// Fake engine: reads the image files (missing → `file_missing`, content `bad` → `bad_image`);
/// genuine scores are `1 + overlap·…`, impostor scores `overlap·…`: with `overlap` 0 the classes
/// are perfectly separated, with larger values the distributions overlap.
#[derive(Debug, Default)]
pub struct FakeEngine {
    pub overlap: f32,
    /// Comparisons involving this class fail (score -1, `failed`).
    pub uncomparable: Option<String>,
    pub explained: AtomicUsize,
}

fn hash(s: &str) -> u64 {
    // FNV-1a
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

impl EvalEngine for FakeEngine {
    type Template = FakeTemplate;
    type Probe = FakeTemplate;

    fn extract(&self, c: &CaptureRecord, explain: bool) -> Result<FakeTemplate, Failure> {
        if explain {
            self.explained.fetch_add(1, Ordering::Relaxed);
        }
        for p in c.visible.iter().chain(c.nir.iter()) {
            let bytes = std::fs::read(p)
                .map_err(|e| Failure::new("file_missing", format!("{}: {e}", p.display())))?;
            if bytes == b"bad" {
                return Err(Failure::new("bad_image", "not an image"));
            }
        }
        Ok(FakeTemplate {
            class: format!("{}/{}", c.subject, c.hand),
            jitter: (hash(&c.id) % 1000) as f32 / 1000.0,
            has_visible: c.visible.is_some(),
            has_nir: c.nir.is_some(),
        })
    }

    fn prepare(&self, t: &FakeTemplate) -> FakeTemplate {
        t.clone()
    }

    fn compare(&self, a: &FakeTemplate, b: &FakeTemplate) -> Scores {
        if let Some(u) = &self.uncomparable {
            if &a.class == u || &b.class == u {
                return Scores {
                    score: -1.0,
                    visible: None,
                    nir: None,
                    failed: true,
                };
            }
        }
        let base = if a.class == b.class {
            1.0 - self.overlap
        } else {
            0.0
        };
        let score = base + self.overlap * (a.jitter * 0.5 + b.jitter * 0.5);
        Scores {
            score,
            visible: (a.has_visible && b.has_visible).then_some(score * 0.9),
            nir: (a.has_nir && b.has_nir).then_some(score * 0.8),
            failed: false,
        }
    }

    fn compare_reference(&self, p: &FakeTemplate, refs: &[FakeTemplate]) -> Scores {
        refs.iter()
            .map(|r| self.compare(p, r))
            .max_by(|a, b| a.score.total_cmp(&b.score))
            .unwrap_or_default()
    }

    fn info(&self) -> EngineInfo {
        EngineInfo {
            algorithm: "fake".into(),
            version: "0".into(),
        }
    }
}

/// Write a dataset: `subjects` × 2 hands × sessions `["1", "2", "10"]` × `per_session`
/// captures, files in `dir/img`. Capture `s0_left_2_0`'s visible file is missing and
/// `s1_right_2_0`'s NIR file is `bad`; captures of subject 2's right hand have no NIR image.
pub fn write_dataset(dir: &Path, subjects: usize, per_session: usize) -> std::path::PathBuf {
    std::fs::create_dir_all(dir.join("img")).unwrap();
    let mut csv =
        String::from("# synthetic test set\ncapture,subject,hand,session,kind,visible,nir\n");
    for s in 0..subjects {
        for hand in ["left", "right"] {
            for session in ["1", "2", "10"] {
                for k in 0..per_session {
                    let id = format!("s{s}_{hand}_{session}_{k}");
                    let v = format!("img/{id}_v.png");
                    let n = format!("img/{id}_n.png");
                    if id != "s0_left_2_0" {
                        std::fs::write(dir.join(&v), b"ok").unwrap();
                    }
                    let nir_bytes: &[u8] = if id == "s1_right_2_0" { b"bad" } else { b"ok" };
                    std::fs::write(dir.join(&n), nir_bytes).unwrap();
                    let n = if s == 2 && hand == "right" {
                        String::new()
                    } else {
                        n
                    };
                    csv.push_str(&format!("{id},s{s},{hand},{session},hand,{v},{n}\n"));
                }
            }
        }
    }
    let p = dir.join("manifest.csv");
    std::fs::write(&p, csv).unwrap();
    p
}

/// Minimal XML well-formedness check: tags balance, quotes close, one root.
pub fn assert_well_formed_xml(s: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = s;
    let mut roots = 0;
    while let Some(i) = rest.find('<') {
        assert!(!rest[..i].contains('>'), "stray '>' in text");
        rest = &rest[i + 1..];
        let end = rest.find('>').expect("unclosed tag");
        let tag = &rest[..end];
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().expect("closing tag without opening");
            assert_eq!(open, name.trim(), "mismatched tags");
        } else if !tag.ends_with('/') {
            let name: String = tag.chars().take_while(|c| !c.is_whitespace()).collect();
            if stack.is_empty() {
                roots += 1;
            }
            stack.push(name);
        } else if stack.is_empty() {
            roots += 1;
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    assert_eq!(roots, 1, "one root element");
}
