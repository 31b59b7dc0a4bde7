//! Palm signature: surface and vein feature codes, the versioned template format, matching,
//! fusion and calibration.
//!
//! * [`Algorithm`] — the coding scheme (`bocv` default, `compcode`, `ordinal`); all share one
//!   bank of six quadrature (even + odd) Gabor pairs evaluated only at the 32x32 sample grid,
//!   and code the phase-free orientation energy (robust to sub-sample misregistration).
//! * [`FeatureCode`] — one modality's bit-planes and validity mask (public row accessors: the
//!   1:N index derives its coarse code from them).
//! * [`Template`] — surface + vein codes; `to_bytes`/`from_bytes` (≤ 4 KiB, CRC-checked, every
//!   malformed input a typed [`TemplateError`]).
//! * [`Matcher`] — masked Hamming distance minimised over ±4-sample shifts (coarse-to-fine),
//!   then an elastic refinement (4x4 blocks, each ±1 sample), fused and calibrated into a
//!   [`Comparison`]; a pair that scores at least 2 is searched again over turned (±6°) and
//!   scaled (±8 %) probe codes, the best pose penalised by `log10` of the poses tried;
//!   [`Threshold::for_fmr`] picks the operating point (see [`calibration`]). The search runs on
//!   `palmsig_core::simd`'s kernels (AVX-512, AVX2, `popcnt`, portable: bit-identical to the
//!   scalar reference, [`Matcher::compare_scalar`]); a probe compared with many templates is prepared once ([`Matcher::prepare`] →
//!   [`PreparedProbe`]).
//! * [`Engine`] — ROI (and capture) → template; [`Engine::with_calibration`] for a deployment's
//!   own calibration.
//! * [`CalibrationProfile`] — a calibration fitted for one sensor ([`fit_calibration`] on
//!   [`Matcher::scored_distances`] of a dev set), as a checked JSON file (see [`profile`]).
//! * [`ModalitySelection`] — `visible | nir | fused`, for evaluation.
//!
//! ```
//! use palmsig_codes::{Algorithm, Engine, Template, Threshold};
//! use palmsig_core::GrayImage;
//!
//! // A synthetic "palm": a few dark curved lines on a textured background.
//! let mut roi = GrayImage::new(128, 128);
//! for y in 0..128 {
//!     for x in 0..128 {
//!         let (fx, fy) = (x as f32, y as f32);
//!         let line = ((fy - 40.0 - 0.004 * (fx - 64.0).powi(2)).abs() < 2.0)
//!             || ((fx - 0.5 * fy - 30.0).abs() < 2.0);
//!         roi.set(x, y, if line { 70 } else { 130 + ((x * 7 + y * 13) % 11) as u8 });
//!     }
//! }
//! let engine = Engine::new(Algorithm::CompCode);
//! let t = engine.encode_roi(Some(&roi), None).unwrap();
//! let bytes = t.to_bytes().unwrap();
//! assert!(bytes.len() <= 4096);
//! let back = Template::from_bytes(&bytes).unwrap();
//! let c = engine.matcher().compare(&t, &back).unwrap();
//! assert!(Threshold::for_fmr(1e-6).unwrap().accepts(c.fused));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod algorithm;
pub mod calibration;
mod code;
mod encode;
mod engine;
mod matcher;
pub mod params;
mod preprocess;
pub mod profile;
mod template;

pub use algorithm::{Algorithm, ModalitySelection, ParseNameError};
pub use calibration::{
    fit_calibration, Calibration, CalibrationError, CodeSources, FittedCalibration,
    FusionCorrelation, PairCounts, PairDistances, Threshold,
};
pub use code::{CodeError, CodeKind, FeatureCode};
pub use engine::{Engine, ExtractError};
pub use matcher::{Comparison, MatchError, Matcher, PreparedProbe};
pub use profile::{CalibrationProfile, ProfileError};
pub use template::{Template, TemplateError, FORMAT_VERSION, MAGIC};
