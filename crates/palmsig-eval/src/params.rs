//! Every fixed number of the evaluation, with why it is what it is.

/// FMR (and FPIR) targets reported, as powers of ten: `1e-2` … `1e-6`. The report keys are
/// `"1e-<k>"` for these exponents (contract: `docs/MANIFEST.md`).
pub const FMR_EXPONENTS: [u32; 5] = [2, 3, 4, 5, 6];

/// FPIR targets of the open-set protocol (NIST FRVT style): `1e-2` and `1e-3`.
pub const FPIR_EXPONENTS: [u32; 2] = [2, 3];

/// "Rule of 3": an error rate of `α` is only reported when at least `3/α` trials are available
/// (with fewer, zero observed errors still leaves a 95 % upper bound above `α`). Below that the
/// value is `null`. ISO/IEC 19795-1 and the contract use the same rule.
pub const RULE_OF_N: u64 = 3;

/// DET points kept in `report.json` and drawn: the full curve has one point per distinct score
/// (millions at scale), so points are thinned to steps of this size in log10 of FMR or FNMR.
pub const DET_LOG_STEP: f64 = 0.01;

/// Default fraction of classes held out of the gallery in the open-set protocol.
pub const DEFAULT_OPEN_FRACTION: f64 = 0.1;

/// Default seed of the open-set split.
pub const DEFAULT_SEED: u64 = 1;

/// Captures compared per parallel batch in the all-pairs loop: large enough to keep every core
/// busy, small enough that the batch's scores (`f32` per pair) stay a few MiB before they are
/// streamed to `scores.txt`.
pub const ROWS_PER_BATCH: usize = 64;

/// Size of `det.png` in pixels (width, height) and of the `det.svg` view box.
pub const PLOT_SIZE: (u32, u32) = (720, 560);

/// Lowest decade drawn on either DET axis, whatever the number of trials: `1e-7` is below every
/// FMR the report states.
pub const PLOT_MIN_DECADE: i32 = -7;
