//! Every tunable threshold of the index, with why it has its value.

/// Default shortlist size (coarse candidates re-ranked by the full matcher). The mate must rank
/// within this many of up to ~1M impostors on the coarse distance: with the synthetic code model
/// the mate was within the top 64 of 200k for every probe tested, and within 256 of 1M for all
/// 1,000 probes of `palmsig bench identify --gallery 1000000`; 256 exact re-ranks cost ~1 ms.
pub const DEFAULT_SHORTLIST: usize = 256;

/// Default number of ranked candidates returned to the caller after re-ranking.
pub const DEFAULT_MAX_RESULTS: usize = 5;

/// Default target false-positive identification rate of the decision (per non-mated search).
pub const DEFAULT_FPIR: f64 = 1e-3;

/// Records per storage segment. Bounds how much a single append may reallocate while holding the
/// write lock (readers wait at most for one segment's growth, never for the whole gallery).
pub const SEGMENT_RECORDS: usize = 1 << 16;

/// Records scanned per chunk by the coarse stage (distance buffer of 8 KiB stays in L1).
pub const SCAN_CHUNK: usize = 4096;

/// Largest encoded template accepted (the codes contract says a template is at most 4 KiB; a
/// little slack for sealing overhead and future versions).
pub const MAX_TEMPLATE_BYTES: usize = 16 * 1024;

/// Largest coarse code, in 64-bit words: the scan kernel's limit (it keeps distances in `u16`
/// and counts bytes in 8-bit lanes).
pub const MAX_COARSE_WORDS: usize = palmsig_core::simd::MAX_SCAN_WORDS;

/// Largest log record body accepted on replay: a length field above it is treated as corruption
/// rather than an allocation request.
pub const MAX_LOG_RECORD: usize = 1 << 20;

/// Records per snapshot block (each block checksummed and sealed as a unit: one seal per block
/// keeps loading 1M hands within a few seconds).
pub const SNAPSHOT_BLOCK_RECORDS: usize = 1 << 14;
