//! Palm signature: surface and vein feature codes, versioned template format, matching, fusion, calibration.
//!
//! (Being built; see the project's issues.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
