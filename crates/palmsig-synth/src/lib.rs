//! Synthetic hands: identity-consistent palm creases and vein networks, captures with pose, lighting, blur and noise; paired visible and NIR images with ground truth.
//!
//! (Being built; see the project's issues.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
