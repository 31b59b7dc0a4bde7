//! Capture decoding, quality gate, hand segmentation and palm ROI extraction, stage by stage.
//!
//! (Being built; see the project's issues.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
