//! The biometric engine behind a small trait, so the HTTP layer is testable without images:
//! extract a template from capture image bytes (or say why the capture is refused), and keep the
//! in-memory 1:N gallery (search, add, remove). [`EngineBiometrics`] (feature `engine`) is the real
//! one on top of `palmsig_vision`, `palmsig_codes` and `palmsig_index`; [`LabelBiometrics`] is a
//! transparent test double.
use palmsig_core::Hand;
use std::collections::HashMap;
use std::sync::RwLock;

#[cfg(feature = "engine")]
mod engine;
#[cfg(feature = "engine")]
pub use engine::EngineBiometrics;

/// The images of one presentation, as sent by a device (encoded PNG/JPEG/… bytes, never stored).
#[derive(Debug, Clone, Copy)]
pub struct CaptureInput<'a> {
    /// Which hand.
    pub hand: Hand,
    /// Visible-light image bytes.
    pub visible: Option<&'a [u8]>,
    /// Near-infrared image bytes.
    pub nir: Option<&'a [u8]>,
}

/// Why a capture gave no template (HTTP 422 with `code`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CaptureRejected {
    /// Stable reason, e.g. `blurred`, `no_hand`, `bad_image`.
    pub code: String,
    /// Human message a scanner can show.
    pub message: String,
}

/// Errors of the gallery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BioError {
    /// A stored or submitted template is not a valid template.
    #[error("invalid template: {0}")]
    BadTemplate(String),
    /// The gallery refused the operation.
    #[error("gallery: {0}")]
    Gallery(String),
}

/// The best gallery match of a probe above the decision threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Palm id (as given to [`Biometrics::add`]).
    pub palm_id: String,
    /// Similarity score (higher = more similar; engine-specific scale).
    pub score: f32,
}

/// What the service needs from the biometric engine. Implementations are CPU-bound and
/// synchronous; the service calls them from blocking threads.
pub trait Biometrics: Send + Sync + std::fmt::Debug {
    /// Decode, quality-gate and encode one capture into template bytes.
    fn extract(&self, capture: &CaptureInput<'_>) -> Result<Vec<u8>, CaptureRejected>;
    /// 1:N search: the best match above threshold, if any.
    fn search(&self, probe: &[u8]) -> Result<Option<Hit>, BioError>;
    /// Add (or replace) a palm with its reference templates (several captures of one hand).
    fn add(&self, palm_id: &str, references: &[Vec<u8>]) -> Result<(), BioError>;
    /// Remove a palm; `true` if it was there.
    fn remove(&self, palm_id: &str) -> bool;
    /// Number of palms in the gallery.
    fn len(&self) -> usize;
    /// Whether the gallery is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// A shard's answer: the best candidate whatever its score, and the gallery's record count
    /// (the `n` of its decision threshold). The caller decides with [`Biometrics::accepts`] at
    /// the whole gallery's size.
    fn best(&self, probe: &[u8]) -> Result<ShardBest, BioError>;
    /// Whether `score` passes the decision threshold of a gallery of `records` records (as
    /// [`Biometrics::search`] decides at its own size).
    fn accepts(&self, score: f32, records: usize) -> bool;
}

/// The best candidate of one shard of the gallery and the shard's record count.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShardBest {
    /// Best candidate, whatever its score.
    pub best: Option<Hit>,
    /// Records (reference templates) searched.
    pub records: usize,
}

/// A transparent test double: a "capture" is the UTF-8 text `palm:LABEL` in the visible image;
/// the template is `LABEL`; a probe matches a palm whose references contain the same label.
/// `palm:reject-CODE` is refused with `CODE` (as a quality gate would); anything else is
/// `bad_image`. Used by the HTTP tests, never by `palmsig serve`.
#[derive(Debug, Default)]
pub struct LabelBiometrics {
    gallery: RwLock<HashMap<String, Vec<Vec<u8>>>>,
}

impl LabelBiometrics {
    /// An empty gallery.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Biometrics for LabelBiometrics {
    fn extract(&self, c: &CaptureInput<'_>) -> Result<Vec<u8>, CaptureRejected> {
        let bytes = c.visible.or(c.nir).ok_or_else(|| CaptureRejected {
            code: "no_image".into(),
            message: "the capture has no image".into(),
        })?;
        let label = std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.strip_prefix("palm:"))
            .ok_or_else(|| CaptureRejected {
                code: "bad_image".into(),
                message: "the image could not be decoded".into(),
            })?;
        if let Some(code) = label.strip_prefix("reject-") {
            return Err(CaptureRejected {
                code: code.to_string(),
                message: format!("capture refused: {code}"),
            });
        }
        Ok(label.as_bytes().to_vec())
    }
    fn search(&self, probe: &[u8]) -> Result<Option<Hit>, BioError> {
        let g = self
            .gallery
            .read()
            .map_err(|_| BioError::Gallery("poisoned".into()))?;
        let mut best: Option<&String> = None;
        for (id, refs) in g.iter() {
            if refs.iter().any(|r| r == probe) && best.is_none_or(|b| id < b) {
                best = Some(id);
            }
        }
        Ok(best.map(|id| Hit {
            palm_id: id.clone(),
            score: 1.0,
        }))
    }
    fn add(&self, palm_id: &str, references: &[Vec<u8>]) -> Result<(), BioError> {
        if references.is_empty() {
            return Err(BioError::BadTemplate("no reference template".into()));
        }
        let mut g = self
            .gallery
            .write()
            .map_err(|_| BioError::Gallery("poisoned".into()))?;
        g.insert(palm_id.to_string(), references.to_vec());
        Ok(())
    }
    fn remove(&self, palm_id: &str) -> bool {
        self.gallery
            .write()
            .map(|mut g| g.remove(palm_id).is_some())
            .unwrap_or(false)
    }
    fn len(&self) -> usize {
        self.gallery.read().map(|g| g.len()).unwrap_or(0)
    }
    fn best(&self, probe: &[u8]) -> Result<ShardBest, BioError> {
        let records = self
            .gallery
            .read()
            .map_err(|_| BioError::Gallery("poisoned".into()))?
            .values()
            .map(Vec::len)
            .sum();
        Ok(ShardBest {
            best: self.search(probe)?,
            records,
        })
    }
    fn accepts(&self, score: f32, _records: usize) -> bool {
        score >= 1.0
    }
}

/// Reference templates of a palm as one byte string (the plaintext that gets sealed):
/// `u32 count`, then per template `u32 length` and the bytes (little endian).
pub fn pack_templates(templates: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(templates.len() as u32).to_le_bytes());
    for t in templates {
        out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        out.extend_from_slice(t);
    }
    out
}

/// Inverse of [`pack_templates`]; `None` on malformed input.
pub fn unpack_templates(mut b: &[u8]) -> Option<Vec<Vec<u8>>> {
    let take = |n: usize, b: &mut &[u8]| -> Option<Vec<u8>> {
        if b.len() < n {
            return None;
        }
        let (h, t) = b.split_at(n);
        *b = t;
        Some(h.to_vec())
    };
    let n = u32::from_le_bytes(take(4, &mut b)?.try_into().ok()?) as usize;
    if n > 64 {
        return None;
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let len = u32::from_le_bytes(take(4, &mut b)?.try_into().ok()?) as usize;
        v.push(take(len, &mut b)?);
    }
    b.is_empty().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_roundtrip_and_garbage() {
        let t = vec![b"abc".to_vec(), vec![], vec![1; 300]];
        assert_eq!(unpack_templates(&pack_templates(&t)).unwrap(), t);
        assert!(unpack_templates(&[1, 0, 0]).is_none());
        assert!(unpack_templates(&[1, 0, 0, 0, 9, 0, 0, 0, 1]).is_none());
        let mut extra = pack_templates(&t);
        extra.push(0);
        assert!(unpack_templates(&extra).is_none());
    }

    #[test]
    fn label_double_behaves() {
        let b = LabelBiometrics::new();
        let cap = |s: &'static str| CaptureInput {
            hand: Hand::Left,
            visible: Some(s.as_bytes()),
            nir: None,
        };
        assert_eq!(
            b.extract(&cap("palm:reject-blurred")).unwrap_err().code,
            "blurred"
        );
        assert_eq!(b.extract(&cap("\u{89}PNG")).unwrap_err().code, "bad_image");
        let t = b.extract(&cap("palm:alice")).unwrap();
        assert!(b.search(&t).unwrap().is_none());
        b.add("p1", std::slice::from_ref(&t)).unwrap();
        assert_eq!(b.search(&t).unwrap().unwrap().palm_id, "p1");
        assert!(b.remove("p1"));
        assert!(b.search(&t).unwrap().is_none());
    }
}
