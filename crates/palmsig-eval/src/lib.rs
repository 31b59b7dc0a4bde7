//! Evaluation: dataset manifests, protocols, ISO/IEC 19795-1 metrics, score files, DET plots, reports.
//!
//! (Being built; see the project's issues.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
