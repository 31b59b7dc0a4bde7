//! Shared vocabulary of palmsig: the types every other crate speaks.
//!
//! * [`GrayImage`] — an 8-bit single-channel image (row-major), the currency between stages.
//! * [`GrayF32`] — a floating-point image for filtering and coding.
//! * [`Hand`], [`Modality`], [`CaptureKind`] — what a capture is.
//! * [`Point`] and [`Affine`] — 2-D geometry for keypoints and ROI frames.
//! * [`Rng`] — a small deterministic PRNG (xoshiro256**), so generated data is byte-identical
//!   across platforms and dependency upgrades.
//! * [`CoreError`] — errors of this crate.
//! * [`simd`] — the workspace's only SIMD (and only `unsafe`) code: runtime-dispatched bit-code
//!   kernels (the index's coarse scan, the matcher's shift search) on plain integer slices.
//!
//! This crate does no I/O.
//!
//! ```
//! use palmsig_core::{GrayImage, Rng};
//! let mut rng = Rng::new(7);
//! let mut img = GrayImage::new(4, 3);
//! img.set(1, 2, rng.below(256) as u8);
//! assert_eq!(img.width(), 4);
//! assert_eq!(img.to_f32().get(0, 0), 0.0);
//! ```
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod geometry;
mod image;
mod rng;
#[allow(unsafe_code)]
pub mod simd;

pub use geometry::{Affine, Point};
pub use image::{GrayF32, GrayImage};
pub use rng::Rng;

use serde::{Deserialize, Serialize};

/// Which hand a capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Hand {
    /// The left hand.
    Left,
    /// The right hand.
    Right,
    /// Not known (manifest value `unknown`).
    Unknown,
}

impl Hand {
    /// The manifest spelling: `left`, `right`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Hand::Left => "left",
            Hand::Right => "right",
            Hand::Unknown => "unknown",
        }
    }
}

impl std::str::FromStr for Hand {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "left" => Ok(Hand::Left),
            "right" => Ok(Hand::Right),
            "unknown" => Ok(Hand::Unknown),
            other => Err(CoreError::InvalidValue {
                what: "hand",
                value: other.to_string(),
                expected: "left, right or unknown",
            }),
        }
    }
}

impl std::fmt::Display for Hand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Imaging modality of one image of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    /// Visible light: palm surface (lines, creases, texture).
    Visible,
    /// Near-infrared (~850–940 nm): subcutaneous veins, creases faintly.
    Nir,
}

/// What an image of a capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureKind {
    /// The whole hand (fingers and palm): the ROI must be found.
    Hand,
    /// Already a palm-centre crop: only normalised.
    Roi,
}

impl std::str::FromStr for CaptureKind {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hand" => Ok(CaptureKind::Hand),
            "roi" => Ok(CaptureKind::Roi),
            other => Err(CoreError::InvalidValue {
                what: "kind",
                value: other.to_string(),
                expected: "hand or roi",
            }),
        }
    }
}

/// Errors of the core types.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CoreError {
    /// A buffer's length does not match the stated dimensions.
    #[error("image buffer holds {len} values but {width}x{height} needs {expected}")]
    BufferSize {
        /// Width stated.
        width: usize,
        /// Height stated.
        height: usize,
        /// Length found.
        len: usize,
        /// Length needed.
        expected: usize,
    },
    /// A value that must come from a fixed set did not.
    #[error("invalid {what} {value:?}: expected {expected}")]
    InvalidValue {
        /// Which field.
        what: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
}
