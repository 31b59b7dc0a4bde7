//! Typed errors: [`DecodeError`] for bytes and files, [`AcquireError`] for the quality gate and
//! the hand/ROI stages.

use std::path::PathBuf;

/// Why bytes (or a file) could not be turned into a gray image.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// No bytes at all.
    #[error("empty input: no image bytes")]
    Empty,
    /// The bytes are not a PNG, JPEG, BMP or TIFF image.
    #[error("unrecognised image format (expected PNG, JPEG, BMP or TIFF)")]
    UnknownFormat,
    /// A recognised format, but a variant we cannot decode (e.g. an exotic TIFF compression).
    #[error("unsupported image: {0}")]
    Unsupported(String),
    /// The bytes are damaged or truncated.
    #[error("corrupt or truncated image: {0}")]
    Corrupt(String),
    /// The image is larger than `params::MAX_IMAGE_SIDE` or needs too much memory.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// The image has no pixels.
    #[error("image has no pixels ({width}x{height})")]
    NoPixels {
        /// Width found.
        width: u32,
        /// Height found.
        height: u32,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl DecodeError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::UnknownFormat => "unknown_format",
            DecodeError::Unsupported(_) => "unsupported",
            DecodeError::Corrupt(_) => "corrupt",
            DecodeError::TooLarge(_) => "too_large",
            DecodeError::NoPixels { .. } => "no_pixels",
            DecodeError::Io { .. } => "io",
        }
    }
}

/// Why a capture did not yield a usable palm ROI. [`AcquireError::code`] is a stable snake_case
/// string; [`AcquireError::message`] is a sentence a scanner can show to the person.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AcquireError {
    /// The capture itself is unusable (no image, mismatched sizes, too small).
    #[error("bad image: {0}")]
    BadImage(String),
    /// No hand-like foreground in the frame.
    #[error("no hand found: {0}")]
    NoHand(String),
    /// The hand is too small in the frame.
    #[error("hand too far: {0}")]
    HandTooFar(String),
    /// The hand is too large in the frame.
    #[error("hand too close: {0}")]
    HandTooClose(String),
    /// Part of the hand (fingers or the palm region) is outside the frame.
    #[error("partial hand: {0}")]
    PartialHand(String),
    /// The image is too blurred.
    #[error("blurred: sharpness {measure:.4} beyond limit {limit:.4}")]
    Blurred {
        /// The blur measure (meaning depends on capture kind; see `params`).
        measure: f32,
        /// The limit it crossed.
        limit: f32,
    },
    /// Too much of the hand is saturated.
    #[error("overexposed: {saturated_fraction:.3} of the pixels are saturated")]
    Overexposed {
        /// Fraction of saturated pixels.
        saturated_fraction: f32,
    },
    /// The image is too dark.
    #[error("underexposed: {0}")]
    Underexposed(String),
    /// The palm is tilted out of the image plane.
    #[error("palm tilted: valley gap ratio {ratio:.2} (accepted 1/{max:.2}..{max:.2})")]
    PalmTilted {
        /// The ratio `|V1−V2| / |V2−V3|`.
        ratio: f32,
        /// The accepted bound.
        max: f32,
    },
    /// A hand was found, but not the finger valleys (fingers closed or out of view).
    #[error("finger valleys not found: {0}")]
    NoValleys(String),
    /// The ROI has no usable contrast.
    #[error("low contrast: ROI standard deviation {std:.2} below {min:.2}")]
    LowContrast {
        /// Measured standard deviation.
        std: f32,
        /// The minimum accepted.
        min: f32,
    },
}

impl AcquireError {
    /// Stable snake_case code of the failure.
    pub fn code(&self) -> &'static str {
        match self {
            AcquireError::BadImage(_) => "bad_image",
            AcquireError::NoHand(_) => "no_hand",
            AcquireError::HandTooFar(_) => "hand_too_far",
            AcquireError::HandTooClose(_) => "hand_too_close",
            AcquireError::PartialHand(_) => "partial_hand",
            AcquireError::Blurred { .. } => "blurred",
            AcquireError::Overexposed { .. } => "overexposed",
            AcquireError::Underexposed(_) => "underexposed",
            AcquireError::PalmTilted { .. } => "palm_tilted",
            AcquireError::NoValleys(_) => "no_valleys",
            AcquireError::LowContrast { .. } => "low_contrast",
        }
    }

    /// A short instruction a scanner can show to the person presenting the hand.
    pub fn message(&self) -> &'static str {
        match self {
            AcquireError::BadImage(_) => "The scanner image could not be used. Please try again.",
            AcquireError::NoHand(_) => "No hand detected. Hold your open hand over the scanner.",
            AcquireError::HandTooFar(_) => "Hand too far. Move your hand closer to the scanner.",
            AcquireError::HandTooClose(_) => {
                "Hand too close. Move your hand a little away from the scanner."
            }
            AcquireError::PartialHand(_) => {
                "Part of your hand is outside the view. Centre your whole hand over the scanner."
            }
            AcquireError::Blurred { .. } => "Image blurred. Hold your hand still.",
            AcquireError::Overexposed { .. } => {
                "Too bright. Move your hand a little away from the light or the scanner."
            }
            AcquireError::Underexposed(_) => "Too dark. Move your hand closer to the scanner.",
            AcquireError::PalmTilted { .. } => "Hold your palm flat, facing the scanner.",
            AcquireError::NoValleys(_) => "Spread your fingers slightly and hold your hand open.",
            AcquireError::LowContrast { .. } => {
                "The palm is not clearly visible. Hold your palm flat, facing the scanner."
            }
        }
    }
}
