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
    /// only if it keeps at least `keep.0 / keep.1` of the best's overlap…
    pub block_keep: (u32, u32),
    /// …and one with more than `gain.0 / gain.1` times the best's overlap replaces it if its
    /// distance is at most the best's plus `block_slack`.
    pub block_gain: (u32, u32),
    /// See `block_gain`.
    pub block_slack: f32,
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
            // Safety: every feature `x86::search_avx512` enables was detected just above;
            // `search` checked the lengths of `a` and `b` against `W`.
            unsafe { x86::search_avx512::<W>(params, a, b) }
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

/// The stages in plain Rust, `#[inline(always)]` so that each kernel's `target_feature`
/// function compiles them with its own instruction set. Rows are handled in pairs (one `u64`:
/// row `y` low, row `y + 1` high), halving the popcounts.
mod generic {
    use super::*;

    /// Rows `i` and `i + 1` of `r` as one word.
    #[inline(always)]
    fn pair(r: &[u32], i: usize) -> u64 {
        r[i] as u64 | (r[i + 1] as u64) << 32
    }

    /// Both rows moved by `s` (as [`move_by`]).
    #[inline(always)]
    fn move_pair(v: u64, s: i32) -> u64 {
        pair(&[move_by(v as u32, s), move_by((v >> 32) as u32, s)], 0)
    }

    /// Popcount of each byte of `v` (a byte: 8 columns of one row, one elastic block).
    #[inline(always)]
    fn byte_counts(v: u64) -> u64 {
        let v = v - ((v >> 1) & 0x5555_5555_5555_5555);
        let v = (v & 0x3333_3333_3333_3333) + ((v >> 2) & 0x3333_3333_3333_3333);
        (v + (v >> 4)) & 0x0f0f_0f0f_0f0f_0f0f
    }

    /// Fill a probe's buffer (zeroed, `ShiftProbe::buf` layout) from `code` of `w` rows
    /// per sample.
    #[inline(always)]
    pub(super) fn fill_probe(code: &[u32], w: usize, buf: &mut [u32]) {
        let (coarse, rows) = buf.split_at_mut(w * CDX * CROWS);
        for k in 0..w {
            rows[k * PROWS + PAD..][..GRID].copy_from_slice(&code[k * GRID..(k + 1) * GRID]);
        }
        for dxi in 0..SHIFTS {
            let dx = dxi as i32 - MAX_SHIFT;
            for k in 0..w {
                let src = &code[k * GRID..(k + 1) * GRID];
                let dst = &mut coarse[(k * CDX + dxi) * CROWS..][..CROWS];
                for (j, o) in dst.iter_mut().enumerate() {
                    *o = move_by(src[COARSE_ROW_STEP / 2 + j * COARSE_ROW_STEP], dx);
                }
            }
        }
    }

    /// B's rows paired with A's coarse rows: `res[k][r][i]` = row `r + 4 (i - 1)` of plane `k`
    /// (0 outside the code), so the rows for a y-shift are 8 consecutive entries.
    pub(super) type Residues<const W: usize> = [[[u32; RES]; COARSE_ROW_STEP]; W];

    #[inline(always)]
    pub(super) fn residues<const W: usize>(b: &[u32]) -> Residues<W> {
        let mut res = [[[0; RES]; COARSE_ROW_STEP]; W];
        for (k, plane) in res.iter_mut().enumerate() {
            for (r, row) in plane.iter_mut().enumerate() {
                for j in 0..CROWS {
                    row[1 + j] = b[k * GRID + r + COARSE_ROW_STEP * j];
                }
            }
        }
        res
    }

    /// Residue and first entry of B's rows paired with A's coarse rows at `dy_index`.
    #[inline(always)]
    fn residue(dyi: usize) -> (usize, usize) {
        let o = (COARSE_ROW_STEP / 2) as i32 + dyi as i32 - MAX_SHIFT;
        let step = COARSE_ROW_STEP as i32;
        (
            o.rem_euclid(step) as usize,
            (o.div_euclid(step) + 1) as usize,
        )
    }

    /// `d | n << 16` at every shift, slot `dy_index * CDX + dx_index` (others 0).
    #[inline(always)]
    pub(super) fn coarse<const W: usize>(a: &ShiftProbe, res: &Residues<W>) -> [u32; CSLOTS] {
        let ac = &a.coarse()[..W * CDX * CROWS];
        let mut out = [0; CSLOTS];
        for dyi in 0..SHIFTS {
            let (r, base) = residue(dyi);
            for dxi in 0..SHIFTS {
                let (mut d, mut n) = (0u32, 0u32);
                for j in (0..CROWS).step_by(2) {
                    let at = |k: usize| (k * CDX + dxi) * CROWS + j;
                    let m = pair(ac, at(0)) & pair(&res[0][r], base + j);
                    n += m.count_ones();
                    for k in 1..W {
                        d += ((pair(ac, at(k)) ^ pair(&res[k][r], base + j)) & m).count_ones();
                    }
                }
                out[dyi * CDX + dxi] = d | n << 16;
            }
        }
        out
    }

    /// [`normalised`] without its branch (vectorisable): the same value for every `n`.
    #[inline(always)]
    fn normalised_lane(d: u32, n: u32, planes: usize, scale: f32, nominal: f32) -> f32 {
        let hd = d as f32 / (n as f32 * planes as f32);
        let v = 0.5 - (0.5 - hd) * ((n as f32 * scale) / nominal).min(1.0).sqrt();
        if n == 0 {
            0.5
        } else {
            v
        }
    }

    /// The best `params.candidates` coarse slots, best first (fewer when fewer shifts qualify):
    /// lowest normalised distance, ties to the lower slot (the earlier shift), as the
    /// reference's insertion into its top list.
    #[inline(always)]
    pub(super) fn rank(
        packed: &[u32; CSLOTS],
        planes: usize,
        params: &SearchParams,
        out: &mut [usize; MAX_CANDIDATES],
    ) -> usize {
        let step = COARSE_ROW_STEP as u32;
        let need = params.min_overlap / 2;
        // Keys: the distances' bits (non-negative floats order as their bits).
        let mut keys = [u32::MAX; CSLOTS];
        for (s, (key, &v)) in keys.iter_mut().zip(packed.iter()).enumerate() {
            let (d, n) = (v & 0xffff, v >> 16);
            let hd = normalised_lane(d, n, planes, step as f32, params.nominal_overlap);
            // Slots past the 9th dx of a row, and past the last row, hold no shift.
            let real = s % CDX < SHIFTS && s < SHIFTS * CDX;
            *key = if real && n * step >= need {
                hd.to_bits()
            } else {
                u32::MAX
            };
        }
        let mut found = 0;
        for o in out.iter_mut().take(params.candidates) {
            let min = keys.iter().copied().min().unwrap_or(u32::MAX);
            let Some(slot) = keys
                .iter()
                .position(|&k| k == min)
                .filter(|_| min != u32::MAX)
            else {
                break;
            };
            keys[slot] = u32::MAX;
            *o = slot;
            found += 1;
        }
        found
    }

    /// `(d, n)` on all rows at `(dx, dy)`: A's padded rows at an offset against B's rows moved
    /// by `dx`.
    #[inline(always)]
    pub(super) fn rigid<const W: usize>(a: &ShiftProbe, b: &[u32], dx: i32, dy: i32) -> (u32, u32) {
        let b = &b[..W * GRID];
        let rows = &a.rows()[..W * PROWS];
        let base = |k: usize| k * PROWS + (PAD as i32 - dy) as usize;
        let (mut d, mut n) = (0u32, 0u32);
        for y in (0..GRID).step_by(2) {
            let m = pair(rows, base(0) + y) & move_pair(pair(b, y), -dx);
            n += m.count_ones();
            for k in 1..W {
                let x = pair(rows, base(k) + y) ^ move_pair(pair(b, k * GRID + y), -dx);
                d += (x & m).count_ones();
            }
        }
        (d, n)
    }

    /// Best rigid shift among the ranked coarse slots (`at(dx, dy)` gives its counts).
    #[inline(always)]
    pub(super) fn best_rigid(
        params: &SearchParams,
        planes: usize,
        slots: &[usize],
        mut at: impl FnMut(i32, i32) -> (u32, u32),
    ) -> Option<RigidMatch> {
        let mut best: Option<(f32, RigidMatch)> = None;
        for &slot in slots {
            let (dy, dx) = (
                (slot / CDX) as i32 - MAX_SHIFT,
                (slot % CDX) as i32 - MAX_SHIFT,
            );
            let (d, n) = at(dx, dy);
            if n < params.min_overlap {
                continue;
            }
            let v = normalised(d, n, planes, 1.0, params.nominal_overlap);
            if best.is_none_or(|b| v < b.0) {
                best = Some((v, RigidMatch { dx, dy, d, n }));
            }
        }
        best.map(|b| b.1)
    }

    /// Per-block `(d, n)` at the 9 local shifts (`l = ly * 3 + lx`), blocks row-major.
    #[inline(always)]
    pub(super) fn blocks<const W: usize>(
        a: &ShiftProbe,
        b: &[u32],
        dx: i32,
        dy: i32,
    ) -> [[[u32; NBLOCKS]; 2]; LOCALS] {
        let rows = &a.rows()[..W * PROWS];
        let side = GRID / BLOCKS;
        let mut out = [[[0; NBLOCKS]; 2]; LOCALS];
        for lx in 0..3 {
            // B moved so that its bit x holds B(x + sx), zero rows around.
            let sx = dx + lx as i32 - LOCAL_SHIFT;
            let mut sh = [[0u32; BROWS]; W];
            for (k, plane) in sh.iter_mut().enumerate() {
                for y in 0..GRID {
                    plane[BPAD + y] = move_by(b[k * GRID + y], -sx);
                }
            }
            for ly in 0..3 {
                let off = (BPAD as i32 + dy + ly as i32 - LOCAL_SHIFT) as usize;
                let [d, n] = &mut out[ly * 3 + lx];
                for by in 0..BLOCKS {
                    // Byte c of the sums: block (by, c), rows summed in pairs (≤ 8 · 4 · 6).
                    let (mut dd, mut nn) = (0u64, 0u64);
                    for y in (by * side..(by + 1) * side).step_by(2) {
                        let m = pair(rows, PAD + y) & pair(&sh[0], off + y);
                        nn += byte_counts(m);
                        for k in 1..W {
                            let x = pair(rows, k * PROWS + PAD + y) ^ pair(&sh[k], off + y);
                            dd += byte_counts(x & m);
                        }
                    }
                    for c in 0..BLOCKS {
                        let byte = |v: u64, i: usize| ((v >> (8 * i)) & 0xff) as u32;
                        d[by * BLOCKS + c] = byte(dd, c) + byte(dd, c + 4);
                        n[by * BLOCKS + c] = byte(nn, c) + byte(nn, c + 4);
                    }
                }
            }
        }
        out
    }

    /// Each block's preferred local shift (the block rule, local shifts in scan order), summed.
    /// Written lane-wise without branches (blocks are independent) so that it vectorises.
    #[inline(always)]
    pub(super) fn elastic(params: &SearchParams, dn: &[[[u32; NBLOCKS]; 2]; LOCALS]) -> (u32, u32) {
        let (kn, kd) = params.block_keep;
        let (gn, gd) = params.block_gain;
        let mut has = [0u32; NBLOCKS];
        let mut best_h = [0f32; NBLOCKS];
        let mut best_d = [0u32; NBLOCKS];
        let mut best_n = [0u32; NBLOCKS];
        for [bd, bn] in dn {
            for i in 0..NBLOCKS {
                let (d, n) = (bd[i], bn[i]);
                let hd = d as f32 / n as f32;
                let (bh, bnn) = (best_h[i], best_n[i]);
                let lower = (hd < bh) & (n * kd >= bnn * kn);
                let close = (n * gd > bnn * gn) & (hd <= bh + params.block_slack);
                let better = (n != 0) & ((has[i] == 0) | lower | close);
                has[i] |= better as u32;
                best_h[i] = if better { hd } else { bh };
                best_d[i] = if better { d } else { best_d[i] };
                best_n[i] = if better { n } else { bnn };
            }
        }
        (best_d.iter().sum(), best_n.iter().sum())
    }

    #[inline(always)]
    pub(super) fn search<const W: usize>(
        params: &SearchParams,
        a: &ShiftProbe,
        b: &[u32],
    ) -> SearchOutcome {
        let planes = W - 1;
        let packed = coarse(a, &residues::<W>(b));
        let mut slots = [0usize; MAX_CANDIDATES];
        let found = rank(&packed, planes, params, &mut slots);
        let Some(rigid) = best_rigid(params, planes, &slots[..found], |dx, dy| {
            self::rigid::<W>(a, b, dx, dy)
        }) else {
            return SearchOutcome {
                rigid: None,
                elastic: None,
            };
        };
        let dn = blocks::<W>(a, b, rigid.dx, rigid.dy);
        SearchOutcome {
            rigid: Some(rigid),
            elastic: Some(elastic(params, &dn)),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::generic;
    use super::*;
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support `popcnt`.
    #[target_feature(enable = "popcnt")]
    pub(super) unsafe fn search_popcnt<const W: usize>(
        params: &SearchParams,
        a: &ShiftProbe,
        b: &[u32],
    ) -> SearchOutcome {
        generic::search::<W>(params, a, b)
    }

    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn fill_probe_avx2(code: &[u32], w: usize, buf: &mut [u32]) {
        generic::fill_probe(code, w, buf)
    }

    /// # Safety
    /// The CPU must support AVX2 and `popcnt`.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn search_avx2<const W: usize>(
        params: &SearchParams,
        a: &ShiftProbe,
        b: &[u32],
    ) -> SearchOutcome {
        generic::search::<W>(params, a, b)
    }

    /// The first 16 values of `s` (bounds-checked).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn load16(s: &[u32]) -> __m512i {
        let s = &s[..16];
        // Safety: `s` holds 16 `u32` (64 bytes), the size of the unaligned load.
        unsafe { _mm512_loadu_si512(s.as_ptr().cast()) }
    }

    /// A constant vector.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn vec16(v: &[i32; 16]) -> __m512i {
        // Safety: `v` is 16 `i32` (64 bytes), the size of the unaligned load.
        unsafe { _mm512_loadu_si512(v.as_ptr().cast()) }
    }

    /// Lane-wise `(a ^ b) & m`.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn xor_and(a: __m512i, b: __m512i, m: __m512i) -> __m512i {
        // Truth table of (A ^ B) & C over A = 0xf0, B = 0xcc, C = 0xaa.
        _mm512_ternarylogic_epi32::<0x28>(a, b, m)
    }

    /// 16 lane values `f(i)`.
    macro_rules! lanes {
        (|$i:ident| $e:expr) => {{
            let mut out = [0i32; 16];
            let mut $i = 0usize;
            while $i < 16 {
                out[$i] = $e as i32;
                $i += 1;
            }
            out
        }};
    }

    const IOTA: [i32; 16] = lanes!(|i| i);
    /// Even lanes of two vectors (`permutex2var`: index ≥ 16 = second vector).
    const EVEN: [i32; 16] = lanes!(|i| 2 * i);

    /// Byte `o` of the block permutation takes the popcount byte of row `r`, column block `c`
    /// with `o = (rb * 4 + c) * 8 + r % 8` (`rb = r / 8`): after it, `vpsadbw` sums each block's
    /// 8 rows into one 64-bit lane, lane `rb * 4 + c`.
    const BLOCK_BYTES: [u8; 64] = {
        let mut out = [0u8; 64];
        let mut o = 0;
        while o < 64 {
            out[o] = (4 * ((o / 32) * 8 + o % 8) + (o / 8) % 4) as u8;
            o += 1;
        }
        out
    };

    /// Coarse slots that hold a shift (not the zero x-slot, not the padding), 16 per vector.
    const REAL_SLOTS: [u16; CSLOTS / 16] = {
        let mut out = [0u16; CSLOTS / 16];
        let mut s = 0;
        while s < CSLOTS {
            if s % CDX < SHIFTS && s < SHIFTS * CDX {
                out[s / 16] |= 1 << (s % 16);
            }
            s += 1;
        }
        out
    };

    /// Rows `start + lane` (lanes 0–15) of a 32-row plane held in two vectors; 0 outside.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn rows_at(lo: __m512i, hi: __m512i, start: __m512i) -> __m512i {
        let inside = _mm512_cmplt_epu32_mask(start, _mm512_set1_epi32(GRID as i32));
        let idx = _mm512_and_si512(start, _mm512_set1_epi32(GRID as i32 - 1));
        _mm512_maskz_permutex2var_epi32(inside, lo, idx, hi)
    }

    /// Sums of the two 8-lane halves of each of 8 vectors, in slot order: lane `2 i + h` is the
    /// sum of half `h` of `x[i]`. In-lane unpacks add pairs, then quads, within 128-bit lanes;
    /// a 128-bit shuffle adds the lane pairs; a final permute restores the order.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn fold8(x: &[__m512i; 8], order: __m512i) -> __m512i {
        // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3].
        let s: [__m512i; 4] = std::array::from_fn(|i| {
            let (a, b) = (x[2 * i], x[2 * i + 1]);
            _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b))
        });
        // Per 128-bit lane: the lane's sums of x[4j], x[4j+1], x[4j+2], x[4j+3].
        let t: [__m512i; 2] = std::array::from_fn(|j| {
            let (a, b) = (s[2 * j], s[2 * j + 1]);
            _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b))
        });
        // 128-bit lanes 0+1 hold half 0, lanes 2+3 half 1: lane L = x[4(L/8) + L%4], half
        // (L/4) % 2.
        let r = _mm512_add_epi32(
            _mm512_shuffle_i64x2::<0b10_00_10_00>(t[0], t[1]),
            _mm512_shuffle_i64x2::<0b11_01_11_01>(t[0], t[1]),
        );
        _mm512_permutexvar_epi32(order, r)
    }

    /// `fold8`'s final order: output lane `2 i + h` takes lane `8 (i / 4) + 4 h + i % 4`.
    const FOLD_ORDER: [i32; 16] = lanes!(|l| 8 * (l / 8) + 4 * (l % 2) + (l / 2) % 4);

    /// The coarse pass, two x-shifts per vector (lanes 0–7 and 8–15: the 8 sampled rows), B's
    /// rows gathered from registers by a masked permute; per lane `d + (n << 16)`, then 8
    /// vectors folded into 16 sums at a time: slot `dy_index * CDX + dx_index`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    fn coarse<const W: usize>(a: &ShiftProbe, bv: &[[__m512i; 2]; W]) -> [__m512i; CSLOTS / 16] {
        const PAIRS: usize = CDX / 2;
        let ac = &a.coarse()[..W * CDX * CROWS];
        // Sampled row j = lane % 8 sits at A row STEP/2 + STEP·j.
        let step_rows =
            _mm512_slli_epi32::<2>(_mm512_and_si512(vec16(&IOTA), _mm512_set1_epi32(7)));
        let order = vec16(&FOLD_ORDER);
        // Vector `v = dyi * PAIRS + pair`: x-shifts `2 pair` and `2 pair + 1` (the last pair's
        // second is the zero slot), folded by eights into `out[v / 8]`.
        let mut out = [_mm512_setzero_si512(); CSLOTS / 16];
        let mut x = [_mm512_setzero_si512(); 8];
        for dyi in 0..SHIFTS {
            let first = (COARSE_ROW_STEP / 2) as i32 + dyi as i32 - MAX_SHIFT;
            let start = _mm512_add_epi32(step_rows, _mm512_set1_epi32(first));
            let bk: [__m512i; W] = std::array::from_fn(|k| rows_at(bv[k][0], bv[k][1], start));
            for pair in 0..PAIRS {
                let at = |k: usize| &ac[(k * CDX + 2 * pair) * CROWS..];
                let m = _mm512_and_si512(load16(at(0)), bk[0]);
                let mut v = _mm512_slli_epi32::<16>(_mm512_popcnt_epi32(m));
                for k in 1..W {
                    v = _mm512_add_epi32(v, _mm512_popcnt_epi32(xor_and(load16(at(k)), bk[k], m)));
                }
                let i = dyi * PAIRS + pair;
                x[i % 8] = v;
                if i % 8 == 7 {
                    out[i / 8] = fold8(&x, order);
                }
            }
        }
        // The last, partial group (45 vectors = 5 · 8 + 5): padding vectors are zero.
        const LAST: usize = SHIFTS * PAIRS;
        for v in x.iter_mut().skip(LAST % 8) {
            *v = _mm512_setzero_si512();
        }
        out[LAST / 8] = fold8(&x, order);
        out
    }

    /// [`normalised`] of 16 lanes: the same IEEE operations in the same order.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn normalised16(d: __m512i, n: __m512i, planes: usize, scale: f32, nominal: f32) -> __m512 {
        let half = _mm512_set1_ps(0.5);
        let nf = _mm512_cvtepi32_ps(n);
        let hd = _mm512_div_ps(
            _mm512_cvtepi32_ps(d),
            _mm512_mul_ps(nf, _mm512_set1_ps(planes as f32)),
        );
        let w = _mm512_div_ps(
            _mm512_mul_ps(nf, _mm512_set1_ps(scale)),
            _mm512_set1_ps(nominal),
        );
        let w = _mm512_sqrt_ps(_mm512_min_ps(w, _mm512_set1_ps(1.0)));
        let v = _mm512_sub_ps(half, _mm512_mul_ps(_mm512_sub_ps(half, hd), w));
        let empty = _mm512_cmpeq_epi32_mask(n, _mm512_setzero_si512());
        _mm512_mask_mov_ps(v, empty, half)
    }

    /// The best `params.candidates` coarse slots, best first: as `generic::rank`, keys being
    /// the distance's bits (non-negative floats order as their bits), ties to the lower slot.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn rank(
        packed: &[__m512i; CSLOTS / 16],
        planes: usize,
        params: &SearchParams,
        out: &mut [usize; MAX_CANDIDATES],
    ) -> usize {
        let need = _mm512_set1_epi32((params.min_overlap / 2) as i32);
        let none = _mm512_set1_epi32(-1);
        let mut keys: [__m512i; CSLOTS / 16] = std::array::from_fn(|g| {
            let v = packed[g];
            let (d, n) = (
                _mm512_and_si512(v, _mm512_set1_epi32(0xffff)),
                _mm512_srli_epi32::<16>(v),
            );
            let hd = normalised16(d, n, planes, COARSE_ROW_STEP as f32, params.nominal_overlap);
            let ok = REAL_SLOTS[g] & _mm512_cmpge_epu32_mask(_mm512_slli_epi32::<2>(n), need);
            _mm512_mask_mov_epi32(none, ok, _mm512_castps_si512(hd))
        });
        let mut found = 0;
        for o in out.iter_mut().take(params.candidates) {
            let min = keys.iter().fold(none, |m, &k| _mm512_min_epu32(m, k));
            let min = _mm512_reduce_min_epu32(min);
            if min == u32::MAX {
                break;
            }
            let target = _mm512_set1_epi32(min as i32);
            for (g, k) in keys.iter_mut().enumerate() {
                let eq = _mm512_cmpeq_epi32_mask(*k, target);
                if eq != 0 {
                    let lane = eq.trailing_zeros() as usize;
                    *k = _mm512_mask_mov_epi32(*k, 1 << lane, none);
                    *o = 16 * g + lane;
                    break;
                }
            }
            found += 1;
        }
        found
    }

    /// `(d, n)` on all rows at `(dx, dy)`: A's padded rows at an offset against B's rows moved
    /// by `dx`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512vpopcntdq")]
    fn rigid<const W: usize>(
        a: &ShiftProbe,
        bv: &[[__m512i; 2]; W],
        dx: i32,
        dy: i32,
    ) -> (u32, u32) {
        let off = (PAD as i32 - dy) as usize;
        let rows = &a.rows()[..W * PROWS];
        let at = |k: usize, h: usize| &rows[k * PROWS + off + 16 * h..];
        let (right, left) = (
            _mm512_set1_epi32(dx.max(0)),
            _mm512_set1_epi32((-dx).max(0)),
        );
        let mv = |v: __m512i| _mm512_sllv_epi32(_mm512_srlv_epi32(v, right), left);
        let mut acc = _mm512_setzero_si512();
        for h in 0..2 {
            let m = _mm512_and_si512(load16(at(0, h)), mv(bv[0][h]));
            acc = _mm512_add_epi32(acc, _mm512_slli_epi32::<16>(_mm512_popcnt_epi32(m)));
            for k in 1..W {
                let x = xor_and(load16(at(k, h)), mv(bv[k][h]), m);
                acc = _mm512_add_epi32(acc, _mm512_popcnt_epi32(x));
            }
        }
        // d ≤ 32 · 32 · 6 < 2^16: the low halves never carry into the high ones.
        let t = _mm512_reduce_add_epi32(acc) as u32;
        (t & 0xffff, t >> 16)
    }

    /// The elastic refinement around `(dx, dy)`. For each local shift (scan order `ly`, `lx`):
    /// B moved by `sx` (vector shifts) and `sy` (masked permute), byte popcounts (one byte = one
    /// row of a block) summed over planes, permuted so each block's 8 rows are adjacent, summed
    /// by `vpsadbw`; then the block rule on all 16 blocks at once (one per lane).
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512bitalg,avx512vbmi")]
    fn elastic<const W: usize>(
        a: &ShiftProbe,
        bv: &[[__m512i; 2]; W],
        dx: i32,
        dy: i32,
        params: &SearchParams,
    ) -> (u32, u32) {
        let rows = &a.rows()[..W * PROWS];
        let at = |k: usize| &rows[k * PROWS + PAD..];
        let av: [[__m512i; 2]; W] = std::array::from_fn(|k| {
            let r = at(k);
            [load16(r), load16(&r[16..])]
        });
        // Safety: `BLOCK_BYTES` is 64 bytes, the size of the unaligned load.
        let perm = unsafe { _mm512_loadu_si512(BLOCK_BYTES.as_ptr().cast()) };
        let (iota, even) = (vec16(&IOTA), vec16(&EVEN));
        let zero = _mm512_setzero_si512();
        // Per-block (d, n) of local shift l = ly * 3 + lx, blocks in lanes.
        let mut dn = [[zero; 2]; LOCALS];
        for lx in 0..3 {
            // B moved so that its bit x holds B(x + sx).
            let sx = dx + lx as i32 - LOCAL_SHIFT;
            let (right, left) = (
                _mm512_set1_epi32(sx.max(0)),
                _mm512_set1_epi32((-sx).max(0)),
            );
            let b: [[__m512i; 2]; W] = std::array::from_fn(|k| {
                bv[k].map(|v| _mm512_sllv_epi32(_mm512_srlv_epi32(v, right), left))
            });
            for ly in 0..3 {
                let sy = dy + ly as i32 - LOCAL_SHIFT;
                let mut sums = [[zero; 2]; 2];
                for (h, sum) in sums.iter_mut().enumerate() {
                    let start = _mm512_add_epi32(iota, _mm512_set1_epi32(16 * h as i32 + sy));
                    let m = _mm512_and_si512(av[0][h], rows_at(b[0][0], b[0][1], start));
                    let mut d = zero;
                    for k in 1..W {
                        let x = xor_and(av[k][h], rows_at(b[k][0], b[k][1], start), m);
                        d = _mm512_add_epi8(d, _mm512_popcnt_epi8(x));
                    }
                    // Bytes ≤ 8 · 6 = 48; block sums ≤ 384 in vpsadbw's 16 bits.
                    sum[0] = _mm512_sad_epu8(_mm512_permutexvar_epi8(perm, d), zero);
                    let n = _mm512_popcnt_epi8(m);
                    sum[1] = _mm512_sad_epu8(_mm512_permutexvar_epi8(perm, n), zero);
                }
                // Low 32 bits of each 64-bit lane: blocks 0–7 from rows 0–15, 8–15 from 16–31.
                dn[ly * 3 + lx] = [
                    _mm512_permutex2var_epi32(sums[0][0], even, sums[1][0]),
                    _mm512_permutex2var_epi32(sums[0][1], even, sums[1][1]),
                ];
            }
        }
        // The block rule, local shifts in scan order.
        let (kn, kd) = (
            _mm512_set1_epi32(params.block_keep.0 as i32),
            _mm512_set1_epi32(params.block_keep.1 as i32),
        );
        let (gn, gd) = (
            _mm512_set1_epi32(params.block_gain.0 as i32),
            _mm512_set1_epi32(params.block_gain.1 as i32),
        );
        let slack = _mm512_set1_ps(params.block_slack);
        let mut has: __mmask16 = 0;
        let (mut best_h, mut best_d, mut best_n) = (_mm512_setzero_ps(), zero, zero);
        for [d, n] in dn {
            let hd = _mm512_div_ps(_mm512_cvtepi32_ps(d), _mm512_cvtepi32_ps(n));
            let keep =
                _mm512_cmpge_epu32_mask(_mm512_mullo_epi32(n, kd), _mm512_mullo_epi32(best_n, kn));
            let gain =
                _mm512_cmpgt_epu32_mask(_mm512_mullo_epi32(n, gd), _mm512_mullo_epi32(best_n, gn));
            let lower = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(hd, best_h);
            let close = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(hd, _mm512_add_ps(best_h, slack));
            let better =
                _mm512_cmpneq_epi32_mask(n, zero) & (!has | (lower & keep) | (gain & close));
            has |= better;
            best_h = _mm512_mask_mov_ps(best_h, better, hd);
            best_d = _mm512_mask_mov_epi32(best_d, better, d);
            best_n = _mm512_mask_mov_epi32(best_n, better, n);
        }
        (
            _mm512_reduce_add_epi32(best_d) as u32,
            _mm512_reduce_add_epi32(best_n) as u32,
        )
    }

    /// # Safety
    /// The CPU must support every feature of [`Kernel::Avx512`].
    #[target_feature(
        enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,avx512bitalg,avx512vbmi,avx2,popcnt"
    )]
    pub(super) unsafe fn search_avx512<const W: usize>(
        params: &SearchParams,
        a: &ShiftProbe,
        b: &[u32],
    ) -> SearchOutcome {
        let planes = W - 1;
        let bv: [[__m512i; 2]; W] =
            std::array::from_fn(|k| [load16(&b[k * GRID..]), load16(&b[k * GRID + 16..])]);
        let packed = coarse(a, &bv);
        let mut slots = [0usize; MAX_CANDIDATES];
        let found = rank(&packed, planes, params, &mut slots);
        let Some(best) = generic::best_rigid(params, planes, &slots[..found], |dx, dy| {
            rigid::<W>(a, &bv, dx, dy)
        }) else {
            return SearchOutcome {
                rigid: None,
                elastic: None,
            };
        };
        SearchOutcome {
            rigid: Some(best),
            elastic: Some(elastic(a, &bv, best.dx, best.dy, params)),
        }
    }
}
