//! 1:N palm identification at scale: a gallery of `(enrolment id, template)` searched
//! coarse-to-fine.
//!
//! - [`Index`] — the gallery, generic over a [`Scorer`]: a compact, shift-robust coarse code per
//!   hand ([`coarse`]) scanned with a runtime-detected SIMD kernel ([`simd::Kernel`], from
//!   `palmsig_core::simd`: AVX2, `popcnt`, portable — all give identical results), the top-K
//!   shortlist re-ranked by the full matcher, and a [`Decision`] at a threshold set for a target
//!   FPIR at the current gallery size ([`calib`]). Reads ([`GalleryRead`]) run concurrently with writes ([`GalleryWrite`]: insert,
//!   upsert, replace, remove with tombstones, compaction).
//! - [`BruteForce`] — the reference every fast answer is tested against.
//! - [`Store`] — crash-safe persistence (append log + checksummed snapshot, fsync before
//!   acknowledging, torn tails detected and reported), with an optional [`Sealer`] so no
//!   plaintext template rests on disk.
//! - [`BitScorer`] / [`BitTemplate`] / [`CodeModel`] — a synthetic palm-code model (identity codes
//!   with capture noise) used for tests and million-hand benchmarks; [`CodesScorer`] adapts
//!   `palmsig_codes` templates.
//!
//! ```
//! use palmsig_index::{BitScorer, CodeModel, GalleryRead, GalleryWrite, Index, SearchParams, Decision};
//!
//! let model = CodeModel::default();
//! let index = Index::new(BitScorer::default()).unwrap();
//! for person in 0..200u64 {
//!     let id = model.identity(person);
//!     index.insert(person, &model.capture(&id, 1_000 + person)).unwrap();
//! }
//! // A new capture of person 42 is found; the decision threshold is set for FPIR = 1e-3.
//! let probe = model.capture(&model.identity(42), 99);
//! let r = index.search(&probe, &SearchParams::default()).unwrap();
//! assert_eq!(r.candidates[0].id, 42);
//! assert!(matches!(r.decision, Decision::Match { id: 42, .. }));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bitcode;
pub mod calib;
pub mod coarse;
pub mod codes_adapter;

pub mod error;
pub mod index;
pub mod model;
pub mod params;
pub mod persist;
pub mod reference;
pub mod scorer;
/// The coarse-scan kernels live in `palmsig_core::simd` (the workspace's one SIMD module);
/// re-exported here so `palmsig_index::simd::{scan_min, Kernel}` keeps working.
pub use palmsig_core::simd;

pub use bitcode::{BitScorer, BitTemplate, GridCode};
pub use codes_adapter::CodesScorer;

pub use error::{IndexError, PersistError, ScorerError};
pub use index::{
    Candidate, Decision, GalleryRead, GalleryWrite, Index, SearchParams, SearchResult,
};
pub use model::{CodeModel, FitStats};
pub use persist::{Recovery, Sealer, Store};
pub use reference::BruteForce;
pub use scorer::{CoarseProbe, Scorer};
