//! Evaluation of a palm recognition engine on a dataset manifest (ISO/IEC 19795-1 terms).
//!
//! * [`Manifest`] — the dataset manifest (contract: `docs/MANIFEST.md`), with typed
//!   [`ManifestError`]s carrying line numbers; identity class = [`ClassKey`] (subject, hand).
//! * [`EvalEngine`] — what is evaluated: capture → template or [`Failure`] (a failure to
//!   acquire with a reason code), template × template → [`Scores`], probe × multi-capture
//!   reference → [`Scores`]. The `palmsig` binary wires `palmsig_codes::Engine` in; the tests use
//!   a fake engine.
//! * [`Protocol`] — `all-pairs`, `cross-session`, `open-set` (see [`protocol`]).
//! * [`metrics`] — FMR, FNMR, EER (interpolated crossing, tie rule), FNMR at FMR (rule of 3),
//!   DET points, rank-1, FNIR at FPIR; the formulas are in that module's docs.
//! * [`extract_all`], [`map_pairs`] — the run's extraction step and every within-manifest pair,
//!   for other consumers of a manifest (`palmsig calibrate` fits a calibration on them).
//! * [`evaluate`] — the run: writes into the output folder
//!   - `report.json` ([`Report`]; rates are fractions in `[0, 1]`, `null` where not estimable;
//!     `calibration` checks a calibrated engine's decision at each nominal FMR against the
//!     measured rates, see [`metrics`]),
//!   - `scores.txt`: one comparison per line, `claimed_class probe_class probe_capture score`
//!     (cross-session with multi-capture gallery classes adds `scores_enrolment.txt`). A class
//!     is written `subject/hand`, a capture by its id, both through [`escape_token`] (`%`, `/`,
//!     white space, control and non-ASCII bytes as `%XX`), so each line has exactly 4 tokens,
//!   - `det.svg`, `det.png`: DET curves (headline, per modality when fused, enrolment),
//!   - `failures.csv`: every failure to acquire (`capture,line,code,message`).
//!
//! # Failures to acquire
//! A capture without a template takes part in no comparison; it is counted in
//! `failures_to_acquire` (count, rate over all captures, reasons by code) and listed in
//! `failures.csv`. FMR/FNMR/EER are over the comparisons made; `generalized` in the report adds
//! the ISO/IEC 19795-1 generalized rates `GFMR = FMR(1−FTA)`, `GFNMR = FTA + FNMR(1−FTA)`.
//!
//! # Timing
//! `extract_ms_median` is the median wall time of one capture's extraction (one thread, image
//! reading included, failures included). `compare_per_s` is the comparisons made divided by the
//! wall time of the parallel comparison batches (all threads; writing `scores.txt`, which runs
//! on one thread alongside the next batch, is not counted; `compare_s` in the report is the
//! whole phase).
//!
//! ```
//! use palmsig_eval::{Manifest, metrics::Verification};
//! let m = Manifest::parse(b"capture,subject,hand,kind,nir\n# a comment\nc1,s1,left,roi,a.png\n",
//!                         std::path::Path::new("/data")).unwrap();
//! assert_eq!(m.captures[0].nir.as_deref(), Some(std::path::Path::new("/data/a.png")));
//! assert_eq!(m.classes[0].name(), "s1/left");
//!
//! let v = Verification::compute(&mut [0.6, 0.7, 0.8, 0.9], &mut [0.1, 0.2, 0.3, 0.65]);
//! assert_eq!(v.eer, Some(0.25));
//! assert_eq!(v.fnmr_at_fmr["1e-2"], None); // 4 impostor pairs < 3/1e-2
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod det;
mod engine;
pub mod manifest;
pub mod metrics;
pub mod params;
pub mod protocol;
mod run;

pub use engine::{EngineInfo, EvalEngine, Failure, NoProgress, Progress, Scores};
pub use manifest::{escape_token, CaptureRecord, ClassKey, Manifest, ManifestError};
pub use protocol::Protocol;
pub use run::{
    evaluate, extract_all, map_pairs, EvalError, EvalOptions, Extraction, FailuresToAcquire,
    Generalized, MetricsSummary, ModalitySelection, Report, Split,
};
