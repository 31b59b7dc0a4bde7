//! Synthetic hands for palmsig: identity-consistent palm creases and vein networks, rendered
//! as pixel-aligned visible + near-infrared captures with ground truth.
//!
//! We may not commit real people's palms, so development, test and scale data come from here.
//! Nothing is tuned to a synthetic-only shortcut: hands come at any rotation, on dark or
//! cluttered backgrounds, with glare, blur, noise and JPEG artefacts, and the `realistic` preset
//! is measured against the real-scanner figures of `shared/real-captures.md`
//! (see [`stats::measure`] and `examples/realism.rs`). Measured medians of 40 `realistic`
//! 768x576 captures (real figures in brackets): hand coverage 0.29, p10–p90 0.25–0.35
//! [0.26–0.37]; NIR hand mean 93 [93], background 17 [17], Laplacian variance 16.7, p10–p90
//! 9.9–37 [18, 10–34]; NIR ROI mean 103 [103], std 9.0 [10], Laplacian variance 8.0 [3.2: our
//! ROI is noisier than real]; visible ROI mean 124 [124], std 17.6 [19], Laplacian variance
//! 28 [29].
//!
//! # Main types
//! * [`Identity`] — one hand of one person (`Identity::new(seed, subject, hand)`): geometry
//!   ([`HandShape`]: palm, four tapered fingers, thumb, forearm; sizes and ratios per person),
//!   three principal lines (heart, head, life: cubic curves with person-specific shape, depth and
//!   width, with short branches), an optional fate line, finger and wrist flexion creases,
//!   40–90 secondary creases and wrinkles, fine skin texture, and a branching subcutaneous
//!   vein tree (grown from the wrist, blurred, low contrast, independent of the creases; the
//!   creases remain faintly visible in NIR). Left and right hands get unrelated seeds: they are
//!   different identities, not mirror copies. All of it is rendered once into canonical
//!   textures (4 texels/mm) that every capture warps.
//! * [`CaptureSpec`] — one presentation: in-plane rotation, translation, hover scale, tilt
//!   (perspective), finger spread, elastic skin deformation, light, exposure, defocus and motion
//!   blur, sensor noise, JPEG-like quantisation, background clutter, device parts and glare at
//!   the borders, optional occlusion or fingers out of frame. [`CaptureSpec::sample`] draws it
//!   deterministically from (identity, session, index); each session has its own mean pose and
//!   light, and session 2 drifts and deforms 1.5x more, like a re-presentation a month later.
//! * [`render_capture`] → [`Rendered`] `{ visible, nir, mask, truth }`; [`render_roi`] renders a
//!   palm-centre crop with a small residual misalignment; [`Truth`] holds pose, the finger
//!   valleys V0–V3 and the ROI corners (ARCHITECTURE.md convention).
//! * [`write_dataset`] with a [`DatasetConfig`] writes `manifest.csv` (the
//!   `docs/MANIFEST.md` contract), PNGs, `truth.jsonl` and `contact.png`.
//! * [`Difficulty`] / [`Preset`] — `easy`, `realistic`, `hard`.
//! * [`SynthError`] — every error, with what was wrong.
//!
//! # Presets
//! Ranges are uniform; ± are half-ranges. Rotation is the session mean (± session range) plus a
//! per-capture jitter (±2°/±4°/±7°, x1.5 in session 2), clamped to the rotation range.
//!
//! | parameter | easy | realistic | hard |
//! |---|---|---|---|
//! | in-plane rotation (deg) | ±8 (session ±4) | ±30 (session ±15) | ±45 (session ±25) |
//! | translation (frame fraction) | ±4% | ±8% | ±12% |
//! | hover scale | ±5% | ±15% | ±20% |
//! | tilt about x and y (deg) | ±3 | ±10 | ±15 |
//! | finger spread change (deg) | ±2 | ±5 | ±8 |
//! | elastic skin displacement (mm, per 16-mm grid node) | 0.1–0.2 | 0.15–0.4 | 0.4–0.8 |
//! | exposure | ±5% | ±12% | ±25% |
//! | light fall-off to corner | 5–15% | 10–30% | 20–50% |
//! | defocus sigma (px at 576 high) | 0.4–0.8 | 0.6–1.2 | 1.3–2.6 |
//! | motion blur (px, probability) | none | 1–3, 15% | 2–6, 35% |
//! | read noise sigma (gray levels, plus photon noise) | 0.5–1.0 | 1.0–2.0 | 1.5–3.5 |
//! | JPEG-like quality | 92–98 | 88–97 | 40–70 |
//! | background clutter objects (realistic: straddling a border, as real devices show them) | 0 | 0–2 | 0–8 |
//! | device parts at borders / glare (probability) | 20% / 10% | 85% / 75% | 90% / 90% |
//! | occlusion / fingertips out of frame | 0 / 0 | 3% / 3% | 15% / 12% |
//! | ROI crop misalignment (shift px @128, rot deg, scale) | ±1, ±1, ±2% | ±3, ±3, ±5% | ±6, ±6, ±8% |
//!
//! Geometry per identity (all presets): palm width 84 mm and length 100 mm times a size factor
//! 0.88–1.12 (±5% each), finger lengths and widths ±6–8% around adult proportions, a rest
//! finger fan of about +10/0/−10/−22° (±3–4°), thumb abduction 38–58°.
//! The nominal image scale is 3.05 px/mm at a 576-px-high frame (hand ≈ 30% of a 768x576
//! frame); hands are upright (fingers up, wrist at the bottom edge) before rotation.
//!
//! # Example
//! ```
//! use palmsig_core::Hand;
//! use palmsig_synth::{render_capture, CaptureSpec, Difficulty, Identity};
//!
//! let id = Identity::new(7, 1, Hand::Right).unwrap();
//! let spec = CaptureSpec::sample(&id, Difficulty::Realistic, 1, 0);
//! let r = render_capture(&id, &spec, 320, 240).unwrap();
//! assert_eq!((r.visible.width(), r.nir.height()), (320, 240));
//! // The ROI corners lie inside the frame.
//! assert!(r.truth.roi_corners.iter().all(|p| p.x > 0.0 && p.x < 320.0 && p.y > 0.0 && p.y < 240.0));
//! assert!(render_capture(&id, &spec, 10, 10).is_err());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod capture;
mod dataset;
mod hand;
mod identity;
pub mod params;
mod raster;
mod render;
pub mod stats;

pub use capture::CaptureSpec;
pub use dataset::{
    encode_png, render_for, write_dataset, write_dataset_with, DatasetConfig, DatasetSummary,
};
pub use hand::{Digit, HandShape, Posture};
pub use identity::{Features, Identity};
pub use params::{Difficulty, Preset};
pub use render::{
    render_capture, render_roi, truth_roi, PhotoTruth, PoseTruth, Rendered, RoiTruth, Truth,
    ROI_SOURCE,
};

use std::path::PathBuf;

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A frame or ROI size outside the supported range.
    #[error("unsupported size {width}x{height}: each side must be {min}–{max} px")]
    InvalidSize {
        /// Width asked for.
        width: usize,
        /// Height asked for.
        height: usize,
        /// Smallest side accepted.
        min: usize,
        /// Largest side accepted.
        max: usize,
    },
    /// A size string that is not `WxH`.
    #[error("invalid size {0:?}: expected WIDTHxHEIGHT, e.g. 768x576")]
    SizeSyntax(String),
    /// ROI crops are square.
    #[error("ROI crops are square, got {width}x{height}")]
    RoiNotSquare {
        /// Width asked for.
        width: usize,
        /// Height asked for.
        height: usize,
    },
    /// Zero identities asked for.
    #[error("at least one identity is needed")]
    NoIdentities,
    /// Zero captures asked for.
    #[error("at least one capture per hand is needed")]
    NoCaptures,
    /// `Hand::Unknown` given where a left or right hand is needed.
    #[error("a synthetic hand is left or right, not unknown")]
    UnknownHand,
    /// Unknown difficulty name.
    #[error("unknown difficulty {0:?}: expected easy, realistic or hard")]
    InvalidDifficulty(String),
    /// A file or folder could not be written.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// PNG or JSON encoding failed.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// A degenerate geometric configuration (should not happen with sampled specs).
    #[error("degenerate configuration: {0}")]
    Degenerate(&'static str),
}

/// Parse `WIDTHxHEIGHT` (e.g. `768x576`).
pub fn parse_size(s: &str) -> Result<(usize, usize), SynthError> {
    let err = || SynthError::SizeSyntax(s.to_string());
    let (a, b) = s.trim().split_once(['x', 'X']).ok_or_else(err)?;
    let w: usize = a.trim().parse().map_err(|_| err())?;
    let h: usize = b.trim().parse().map_err(|_| err())?;
    Ok((w, h))
}
