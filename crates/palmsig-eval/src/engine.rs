//! What the evaluation needs from a recognition engine: [`EvalEngine`].

use serde::Serialize;

use crate::manifest::CaptureRecord;

/// Why a capture yielded no template (a failure to acquire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Stable snake_case reason, e.g. `no_hand`, `bad_image`, `file_missing`.
    pub code: String,
    /// Human explanation (written to `failures.csv`).
    pub message: String,
}

impl Failure {
    /// A failure with this code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Failure {
        Failure {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Scores of one comparison (higher = more similar).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Scores {
    /// The decision score under the engine's modality selection: the headline (`scores.txt`,
    /// EER, FNMR at FMR, rank-1, FNIR at FPIR).
    pub score: f32,
    /// Visible-light (surface) component score, when both sides had one.
    pub visible: Option<f32>,
    /// NIR (vein) component score, when both sides had one.
    pub nir: Option<f32>,
    /// The engine could not compare the two (e.g. no modality in common): `score` is then the
    /// engine's lowest score; the evaluation counts these in `failed_comparisons`.
    pub failed: bool,
}

/// Name and version of the engine under test, written to the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineInfo {
    /// Algorithm name.
    pub algorithm: String,
    /// Engine version string.
    pub version: String,
}

/// A recognition engine: capture → template, template × template → scores.
///
/// The evaluator hands `extract` a capture whose image paths are already restricted to the
/// modalities selected (`visible`, `nir` or both); it calls the methods from many threads.
/// Every probe is compared with many references, so it is [prepared](EvalEngine::prepare) once
/// and then compared.
pub trait EvalEngine: Sync {
    /// The engine's template.
    type Template: Clone + Send + Sync;
    /// A probe template prepared for many comparisons (e.g. a matcher's shifted copies of it,
    /// computed once). An engine with nothing to prepare uses its template.
    type Probe;
    /// Read the capture's images and make its template, or say why not. A missing or
    /// undecodable file is a [`Failure`] (e.g. code `file_missing`, `bad_image`), never a panic.
    /// With `explain` set, the engine may write its intermediate images (its own sink).
    fn extract(&self, capture: &CaptureRecord, explain: bool) -> Result<Self::Template, Failure>;
    /// Prepare a probe for [`EvalEngine::compare`] and [`EvalEngine::compare_reference`]. Must
    /// not change any score: `compare(&prepare(a), b)` is the comparison of `a` with `b`.
    fn prepare(&self, probe: &Self::Template) -> Self::Probe;
    /// Compare a prepared probe with one reference template.
    fn compare(&self, probe: &Self::Probe, reference: &Self::Template) -> Scores;
    /// Compare a prepared probe with a multi-capture enrolment (one class's references).
    fn compare_reference(&self, probe: &Self::Probe, references: &[Self::Template]) -> Scores;
    /// Algorithm name and version.
    fn info(&self) -> EngineInfo;
}

/// Progress reporting of a run (the binary shows a progress bar; tests use [`NoProgress`]).
pub trait Progress: Sync {
    /// A new stage begins with `total` units of work.
    fn stage(&self, name: &str, total: u64);
    /// `n` units done.
    fn inc(&self, n: u64);
    /// The stage ended.
    fn finish(&self);
}

/// Progress that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _name: &str, _total: u64) {}
    fn inc(&self, _n: u64) {}
    fn finish(&self) {}
}
