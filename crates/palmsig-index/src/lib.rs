//! 1:N gallery index: SIMD coarse scan, exact re-rank, brute-force reference, crash-safe persistence.
//!
//! (Being built; see the project's issues.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
