//! Masked Hamming shift search on 32×32 multi-plane bit codes: the template matcher's hot loop.
//!
//! A code is `planes + 1` bit-planes of 32 rows, each row one `u32` (bit `x` = column `x`),
//! given plane-major: the validity mask's 32 rows first, then each plane's. The distance of code
//! A to code B at shift `(dx, dy)` compares A(x, y) with B(x + dx, y + dy):
//! `n` = jointly valid samples, `d` = differing plane bits among them.
//!
//! [`search`] does, exactly as `palmsig_codes`' scalar reference matcher:
//!
//! 1. **Coarse**: `(d, n)` at all 81 shifts `dx, dy ∈ ±`[`MAX_SHIFT`] on A's rows
//!    `2, 6, …, 30` (every [`COARSE_ROW_STEP`]-th row); a shift needs `n·4 ≥ min_overlap / 2`;
//!    ranked by [`normalised`] distance (scale 4), ties to the earlier shift (`dy` then `dx`).
//! 2. **Rigid**: the best `candidates` shifts re-scored on all rows; the best (lowest normalised
//!    distance with `n ≥ min_overlap`, ties to the better-ranked) is the rigid result.
//! 3. **Elastic**: A is cut into 4×4 blocks of 8×8 samples; each block takes, of the 9 shifts
//!    within ±[`LOCAL_SHIFT`] of the rigid one (scanned `dy` then `dx`), the one preferred by the
//!    block rule of [`SearchParams`]; the blocks' `(d, n)` are summed.
//!
//! The caller turns the integer counts into its final distance. The probe (A) side is prepared
//! once ([`ShiftProbe`]: its x-shifted copies, padded so that a y-shift is a load at an offset);
//! the gallery (B) side is read as it is.

// Plane and row indices address several arrays at once (A's, B's, the results').
#![allow(clippy::needless_range_loop)]

use super::Kernel;

#[cfg(target_arch = "x86_64")]
mod avx512;
mod generic;
#[cfg(target_arch = "x86_64")]
mod x86;

/// Rows and columns of a code.
pub const GRID: usize = 32;
/// Largest global shift searched, in samples, both axes.
pub const MAX_SHIFT: i32 = 4;
/// The coarse pass uses A's rows `COARSE_ROW_STEP / 2 + k · COARSE_ROW_STEP`.
pub const COARSE_ROW_STEP: usize = 4;
/// The elastic refinement cuts the code into `BLOCKS x BLOCKS` blocks.
pub const BLOCKS: usize = 4;
/// Each elastic block's own shift around the rigid one, in samples.
pub const LOCAL_SHIFT: i32 = 1;
/// Largest number of coarse candidates re-scored on all rows.
pub const MAX_CANDIDATES: usize = 8;

/// Shifts per axis.
const SHIFTS: usize = 2 * MAX_SHIFT as usize + 1;
/// Coarse rows per code (8: one 256-bit vector per plane).
const CROWS: usize = GRID / COARSE_ROW_STEP;
/// x-shift slots in the probe's coarse layout: 9 used plus a zero one, so that pairs of shifts
/// fill 512-bit vectors; the zero slot has no overlap and is never ranked.
const CDX: usize = SHIFTS + 1;
/// Coarse result slots: `dy_index * CDX + dx_index`, padded to a multiple of 16 lanes.
const CSLOTS: usize = 96;
/// Zero rows above and below each of the probe's shifted copies (a y-shift is an offset load).
const PAD: usize = MAX_SHIFT as usize;
/// Rows of a padded probe plane.
const PROWS: usize = GRID + 2 * PAD;
/// Zero rows above and below the gallery code's shifted copies (elastic: global + local shift).
const BPAD: usize = (MAX_SHIFT + LOCAL_SHIFT) as usize;
/// Rows of a padded gallery plane (42 used, rounded up to whole 512-bit vectors).
const BROWS: usize = 48;
/// Elastic blocks, and the local shifts each block tries.
const NBLOCKS: usize = BLOCKS * BLOCKS;
const LOCALS: usize = (2 * LOCAL_SHIFT as usize + 1) * (2 * LOCAL_SHIFT as usize + 1);
/// Entries of the generic kernel's residue rows of B: one zero row either side of 8 rows.
const RES: usize = CROWS + 2;

/// The thresholds of the search (the geometry is fixed by the constants of this module).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchParams {
    /// Coarse shifts re-scored on all rows (1..=[`MAX_CANDIDATES`]).
    pub candidates: usize,
    /// Fewest jointly valid samples for a rigid distance to count (the coarse pass asks for half
    /// of it, estimated from its sampled rows).
    pub min_overlap: u32,
    /// Overlap at which [`normalised`] is neutral.
    pub nominal_overlap: f32,
    /// Elastic block rule: a local shift with a lower distance replaces the block's current best
    /// only if it keeps at least `keep.0 / keep.1` of the best's overlap (numerator and
    /// denominator below 2^16, as for `block_gain`)…
    pub block_keep: (u32, u32),
    /// …and one with more than `gain.0 / gain.1` times the best's overlap replaces it if its
    /// distance is at most the best's plus `block_slack`.
    pub block_gain: (u32, u32),
    /// See `block_gain`.
    pub block_slack: f32,
    // Block overlaps are at most 64, so the rule's products `n · keep.1` etc. stay exact in
    // every kernel (including AVX2's signed 32-bit compares) as long as these four
    // numerators and denominators are below 2^16.
}

/// `(d, n)` at the best rigid shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RigidMatch {
    /// x-shift: A(x, y) is compared with B(x + dx, y + dy).
    pub dx: i32,
    /// y-shift.
    pub dy: i32,
    /// Differing plane bits over jointly valid samples.
    pub d: u32,
    /// Jointly valid samples.
    pub n: u32,
}

/// What [`search`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchOutcome {
    /// The best rigid shift; `None` when no candidate reached `min_overlap`.
    pub rigid: Option<RigidMatch>,
    /// Elastic refinement around it: `(d, n)` summed over the blocks (present with `rigid`).
    pub elastic: Option<(u32, u32)>,
}

/// Daugman-style normalised distance: the fraction of differing bits, pulled towards 0.5 when
/// the overlap `n · scale` is below `nominal` (less evidence, less similarity). `0.5` for `n = 0`.
#[inline(always)]
pub fn normalised(d: u32, n: u32, planes: usize, scale: f32, nominal: f32) -> f32 {
    if n == 0 {
        return 0.5;
    }
    let hd = d as f32 / (n as f32 * planes as f32);
    0.5 - (0.5 - hd) * ((n as f32 * scale) / nominal).min(1.0).sqrt()
}

/// Whether [`search`] supports codes of `planes` bit-planes (3: CompCode, Ordinal; 6: BOCV).
pub fn supports_planes(planes: usize) -> bool {
    planes == 3 || planes == 6
}

/// A probe code prepared for many searches: the coarse pass's rows of its x-shifted copies
/// (every `dx`), and the code zero-padded above and below (a y-shift is a load at an offset).
/// About 2 KiB for 3 planes.
#[derive(Clone, PartialEq, Eq)]
pub struct ShiftProbe {
    planes: usize,
    /// The coarse rows, then the padded rows:
    ///
    /// * `coarse[(k * CDX + dxi) * CROWS + j]`: plane `k` (0 = mask) of A moved so that its bit
    ///   `x + dx` holds A(x) (`dx = dxi - MAX_SHIFT`), row `COARSE_ROW_STEP / 2 + j·STEP`;
    /// * `rows[k * PROWS + PAD + y]`: plane `k`, row `y` of A, zero rows around.
    buf: Vec<u32>,
}

impl std::fmt::Debug for ShiftProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ShiftProbe({} planes)", self.planes)
    }
}

/// `w` moved so that its bit `x` lands on bit `x + s` (bits leaving the word are dropped).
#[inline(always)]
fn move_by(w: u32, s: i32) -> u32 {
    // Both shift counts are below 32; one of them is 0.
    (w << s.max(0)) >> (-s).max(0)
}

impl ShiftProbe {
    /// Prepare `code` (plane-major: 32 mask rows, then 32 rows per plane) of `planes` planes,
    /// with `kernel` (the portable one when not available here; all give the same probe).
    /// `None` when the length is not `(planes + 1) · 32` or [`supports_planes`] says no.
    pub fn new(kernel: Kernel, code: &[u32], planes: usize) -> Option<ShiftProbe> {
        if !supports_planes(planes) || code.len() != (planes + 1) * GRID {
            return None;
        }
        let w = planes + 1;
        let mut buf = vec![0u32; w * CDX * CROWS + w * PROWS];
        match kernel {
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 | Kernel::Avx2 if kernel.is_available() => {
                // Safety: AVX2 was detected just above (every AVX-512 CPU has it).
                unsafe { x86::fill_probe_avx2(code, w, &mut buf) }
            }
            _ => generic::fill_probe(code, w, &mut buf),
        }
        Some(ShiftProbe { planes, buf })
    }

    /// Bit-planes of the prepared code.
    pub fn planes(&self) -> usize {
        self.planes
    }

    #[inline(always)]
    fn coarse(&self) -> &[u32] {
        &self.buf[..(self.planes + 1) * CDX * CROWS]
    }

    #[inline(always)]
    fn rows(&self) -> &[u32] {
        &self.buf[(self.planes + 1) * CDX * CROWS..]
    }
}

/// Shift-search probe A against gallery code B (plane-major, as [`ShiftProbe::new`]) with
/// `kernel` (the portable one when `kernel` is not available on this CPU). Every kernel gives the
/// same answer.
///
/// # Panics
/// When `b` does not have `(a.planes() + 1) · 32` rows or `params.candidates` is not in
/// `1..=MAX_CANDIDATES`.
pub fn search(kernel: Kernel, params: &SearchParams, a: &ShiftProbe, b: &[u32]) -> SearchOutcome {
    assert_eq!(b.len(), (a.planes + 1) * GRID, "gallery code size");
    assert!(
        (1..=MAX_CANDIDATES).contains(&params.candidates),
        "candidates out of range"
    );
    match a.planes {
        3 => search_w::<4>(kernel, params, a, b),
        6 => search_w::<7>(kernel, params, a, b),
        _ => unreachable!("ShiftProbe::new admits 3 or 6 planes"),
    }
}

fn search_w<const W: usize>(
    kernel: Kernel,
    params: &SearchParams,
    a: &ShiftProbe,
    b: &[u32],
) -> SearchOutcome {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if kernel.is_available() => {
            // Safety: every feature `avx512::search` enables was detected just above;
            // `search` checked the lengths of `a` and `b` against `W`.
            unsafe { avx512::search::<W>(params, a, b) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 if kernel.is_available() => {
            // Safety: AVX2 and popcnt were detected just above; lengths were checked.
            unsafe { x86::search_avx2::<W>(params, a, b) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Popcnt if kernel.is_available() => {
            // Safety: popcnt was detected just above; lengths were checked.
            unsafe { x86::search_popcnt::<W>(params, a, b) }
        }
        _ => generic::search::<W>(params, a, b),
    }
}
