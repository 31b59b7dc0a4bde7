//! The scorer abstraction the index is generic over.
use crate::error::ScorerError;

/// A probe's coarse code(s): one or more codes (multi-probe, e.g. several shifts) each with a
/// reliability mask; bits outside the mask are ignored by the scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoarseProbe {
    /// Words per code (the scorer's [`Scorer::coarse_words`]).
    pub words: usize,
    /// `codes.len() / words` codes, concatenated.
    pub codes: Vec<u64>,
    /// Masks, same layout as `codes`.
    pub masks: Vec<u64>,
}

impl CoarseProbe {
    /// Number of codes.
    pub fn count(&self) -> usize {
        self.codes.len().checked_div(self.words).unwrap_or(0)
    }
}

/// What the index needs from a biometric matcher: a compact coarse code for the scan, a
/// byte encoding for storage, an exact score for the re-rank and a calibrated threshold.
///
/// Scores: higher = more similar. `threshold_for_fmr(f)` returns the score at which a single
/// impostor comparison exceeds it with probability `f`; the index asks for
/// `f = FPIR / gallery size` (independent impostors: FPIR ≈ N·FMR).
pub trait Scorer: Send + Sync {
    /// The template type.
    type Template: Send + Sync;
    /// Words (64-bit) of the coarse code; constant for a scorer.
    fn coarse_words(&self) -> usize;
    /// A tag naming the coarse-code layout (persisted; a mismatch forces re-coding on load).
    fn coarse_tag(&self) -> u32;
    /// The gallery-side coarse code of an enrolled template (`out.len() == coarse_words()`).
    fn coarse(&self, t: &Self::Template, out: &mut [u64]) -> Result<(), ScorerError>;
    /// The probe-side coarse code(s) with reliability masks.
    fn coarse_probe(&self, t: &Self::Template) -> Result<CoarseProbe, ScorerError>;
    /// Stored form of a template (must round-trip exactly through [`Scorer::decode`]).
    fn encode(&self, t: &Self::Template) -> Result<Vec<u8>, ScorerError>;
    /// Parse a stored template; never panics on any input.
    fn decode(&self, bytes: &[u8]) -> Result<Self::Template, ScorerError>;
    /// A probe prepared for many exact scores (a search scores one probe against a whole
    /// shortlist); a scorer with nothing to prepare uses its template.
    type Probe: Send + Sync;
    /// Prepare a probe for [`Scorer::score_prepared`] and [`Scorer::score_encoded`].
    fn prepare(&self, probe: &Self::Template) -> Self::Probe;
    /// Exact similarity of a prepared probe to an enrolled template (higher = more similar);
    /// the same as [`Scorer::score`] of the unprepared probe.
    fn score_prepared(&self, probe: &Self::Probe, enrolled: &Self::Template) -> f32;
    /// Exact similarity of a probe to an enrolled template (higher = more similar).
    fn score(&self, probe: &Self::Template, enrolled: &Self::Template) -> f32 {
        self.score_prepared(&self.prepare(probe), enrolled)
    }
    /// Score threshold for a per-comparison false match rate `fmr` (in `(0, 1]`).
    fn threshold_for_fmr(&self, fmr: f64) -> f32;
    /// Score an encoded enrolled template with a prepared probe. The default decodes then
    /// scores; a scorer may override it to score the bytes in place.
    fn score_encoded(&self, probe: &Self::Probe, enrolled: &[u8]) -> Result<f32, ScorerError> {
        let t = self.decode(enrolled)?;
        Ok(self.score_prepared(probe, &t))
    }
}
