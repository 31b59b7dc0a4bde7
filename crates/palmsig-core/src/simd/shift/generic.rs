//! The stages in plain Rust, `#[inline(always)]` so that each kernel's `target_feature`
//! function compiles them with its own instruction set. Rows are handled in pairs (one `u64`:
//! row `y` low, row `y + 1` high), halving the popcounts.

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
pub(super) fn residue(dyi: usize) -> (usize, usize) {
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
