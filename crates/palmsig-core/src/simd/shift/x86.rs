//! x86 kernels without AVX-512: the generic stages compiled for `popcnt`, and the AVX2 kernel
//! (nibble-lookup byte popcounts, `vpsadbw` / `pmaddubsw` sums).

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

/// Fill a probe's buffer (zeroed, `ShiftProbe::buf` layout) from `code` of `w` rows per
/// sample, as `generic::fill_probe`: each plane's 8 coarse rows in one vector, moved by the
/// 9 x-shifts.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn fill_probe_avx2(code: &[u32], w: usize, buf: &mut [u32]) {
    let (coarse, rows) = buf.split_at_mut(w * CDX * CROWS);
    for k in 0..w {
        let src = &code[k * GRID..(k + 1) * GRID];
        rows[k * PROWS + PAD..][..GRID].copy_from_slice(src);
        let row = |j: usize| src[COARSE_ROW_STEP / 2 + j * COARSE_ROW_STEP] as i32;
        let v = _mm256_setr_epi32(
            row(0),
            row(1),
            row(2),
            row(3),
            row(4),
            row(5),
            row(6),
            row(7),
        );
        for dxi in 0..SHIFTS {
            let dx = dxi as i32 - MAX_SHIFT;
            let (right, left) = (
                _mm256_set1_epi32((-dx).max(0)),
                _mm256_set1_epi32(dx.max(0)),
            );
            store8(&mut coarse[(k * CDX + dxi) * CROWS..], mv(v, right, left));
        }
    }
}

/// The first 8 values of `s` (bounds-checked).
#[inline]
#[target_feature(enable = "avx2")]
fn load8(s: &[u32]) -> __m256i {
    let s = &s[..8];
    // Safety: `s` holds 8 `u32` (32 bytes), the size of the unaligned load.
    unsafe { _mm256_loadu_si256(s.as_ptr().cast()) }
}

/// Store 8 values at the start of `d` (bounds-checked).
#[inline]
#[target_feature(enable = "avx2")]
fn store8(d: &mut [u32], v: __m256i) {
    let d = &mut d[..8];
    // Safety: `d` holds 8 `u32` (32 bytes), the size of the unaligned store.
    unsafe { _mm256_storeu_si256(d.as_mut_ptr().cast(), v) }
}

/// The four 64-bit lanes of `v`.
#[inline]
#[target_feature(enable = "avx2")]
fn lanes64(v: __m256i) -> [u64; 4] {
    let mut out = [0u64; 4];
    // Safety: `out` is 4 `u64` (32 bytes), the size of the unaligned store.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().cast(), v) };
    out
}

/// Popcount of each byte, by nibble lookup.
#[inline]
#[target_feature(enable = "avx2")]
fn pc8(v: __m256i) -> __m256i {
    let lut = _mm256_setr_epi8(
        0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3,
        3, 4,
    );
    let low = _mm256_set1_epi8(0x0f);
    let lo = _mm256_and_si256(v, low);
    let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), low);
    _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
}

/// Byte popcounts of 8 rows: differing plane bits over the joint mask (`d`, ≤ 8 · 6 per
/// byte) and the joint mask (`n`).
#[inline]
#[target_feature(enable = "avx2")]
fn counts8<const W: usize>(a: &[__m256i; W], b: &[__m256i; W]) -> (__m256i, __m256i) {
    let m = _mm256_and_si256(a[0], b[0]);
    let mut d = _mm256_setzero_si256();
    for k in 1..W {
        d = _mm256_add_epi8(d, pc8(_mm256_and_si256(_mm256_xor_si256(a[k], b[k]), m)));
    }
    (d, pc8(m))
}

/// `(d, n)` sums of byte counts as one 64-bit lane each: `d` low, `n` high.
#[inline]
#[target_feature(enable = "avx2")]
fn sad_dn(d: __m256i, n: __m256i) -> __m256i {
    let zero = _mm256_setzero_si256();
    _mm256_or_si256(
        _mm256_sad_epu8(d, zero),
        _mm256_slli_epi64::<32>(_mm256_sad_epu8(n, zero)),
    )
}

/// Rows moved by `s` (as [`move_by`]): `right` = max(-s, 0), `left` = max(s, 0).
#[inline]
#[target_feature(enable = "avx2")]
fn mv(v: __m256i, right: __m256i, left: __m256i) -> __m256i {
    _mm256_sllv_epi32(_mm256_srlv_epi32(v, right), left)
}

/// The coarse pass: per shift, the 8 sampled rows of each plane in one vector; `vpsadbw`
/// sums, then four shifts' lanes added by one transpose.
#[inline]
#[target_feature(enable = "avx2")]
fn coarse<const W: usize>(a: &ShiftProbe, res: &generic::Residues<W>) -> [u32; CSLOTS] {
    let ac = &a.coarse()[..W * CDX * CROWS];
    let zero = _mm256_setzero_si256();
    let mut out = [0u32; CSLOTS];
    for dyi in 0..SHIFTS {
        let (r, base) = generic::residue(dyi);
        let bk: [__m256i; W] = std::array::from_fn(|k| load8(&res[k][r][base..]));
        let mut v = [zero; 12];
        for (dxi, v) in v.iter_mut().enumerate().take(SHIFTS) {
            let ak: [__m256i; W] = std::array::from_fn(|k| load8(&ac[(k * CDX + dxi) * CROWS..]));
            let (d, n) = counts8(&ak, &bk);
            *v = sad_dn(d, n);
        }
        for (g, v) in v.chunks_exact(4).enumerate() {
            // Lane i: the four 64-bit partial sums of v[i] added.
            let t01 = _mm256_add_epi64(
                _mm256_unpacklo_epi64(v[0], v[1]),
                _mm256_unpackhi_epi64(v[0], v[1]),
            );
            let t23 = _mm256_add_epi64(
                _mm256_unpacklo_epi64(v[2], v[3]),
                _mm256_unpackhi_epi64(v[2], v[3]),
            );
            let t = _mm256_add_epi64(
                _mm256_permute2x128_si256::<0x20>(t01, t23),
                _mm256_permute2x128_si256::<0x31>(t01, t23),
            );
            for (i, dn) in lanes64(t).into_iter().enumerate() {
                if 4 * g + i < SHIFTS {
                    // d < 2^16 (8 rows · 32 · 6).
                    out[dyi * CDX + 4 * g + i] = dn as u32 | ((dn >> 32) as u32) << 16;
                }
            }
        }
    }
    out
}

/// `u32::MAX` on the coarse slots that hold a shift (not the zero x-slot, not the padding).
const REAL_SLOTS: [u32; CSLOTS] = {
    let mut out = [0u32; CSLOTS];
    let mut s = 0;
    while s < CSLOTS {
        if s % CDX < SHIFTS && s < SHIFTS * CDX {
            out[s] = u32::MAX;
        }
        s += 1;
    }
    out
};

/// [`normalised`] of 8 lanes: the same IEEE operations in the same order.
#[inline]
#[target_feature(enable = "avx2")]
fn normalised8(d: __m256i, n: __m256i, planes: usize, scale: f32, nominal: f32) -> __m256 {
    let half = _mm256_set1_ps(0.5);
    let nf = _mm256_cvtepi32_ps(n);
    let hd = _mm256_div_ps(
        _mm256_cvtepi32_ps(d),
        _mm256_mul_ps(nf, _mm256_set1_ps(planes as f32)),
    );
    let w = _mm256_div_ps(
        _mm256_mul_ps(nf, _mm256_set1_ps(scale)),
        _mm256_set1_ps(nominal),
    );
    let w = _mm256_sqrt_ps(_mm256_min_ps(w, _mm256_set1_ps(1.0)));
    let v = _mm256_sub_ps(half, _mm256_mul_ps(_mm256_sub_ps(half, hd), w));
    let empty = _mm256_castsi256_ps(_mm256_cmpeq_epi32(n, _mm256_setzero_si256()));
    _mm256_blendv_ps(v, half, empty)
}

/// The best `params.candidates` coarse slots, best first: as `generic::rank`, 8 lanes at a
/// time (keys: the distances' bits; ties to the lower slot).
#[inline]
#[target_feature(enable = "avx2")]
fn rank(
    packed: &[u32; CSLOTS],
    planes: usize,
    params: &SearchParams,
    out: &mut [usize; MAX_CANDIDATES],
) -> usize {
    const V: usize = CSLOTS / 8;
    let need = _mm256_set1_epi32((params.min_overlap / 2) as i32);
    let none = _mm256_set1_epi32(-1);
    let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    let mut keys = [none; V];
    for (g, key) in keys.iter_mut().enumerate() {
        let v = load8(&packed[8 * g..]);
        let d = _mm256_and_si256(v, _mm256_set1_epi32(0xffff));
        let n = _mm256_srli_epi32::<16>(v);
        let hd = normalised8(d, n, planes, COARSE_ROW_STEP as f32, params.nominal_overlap);
        // A real slot (not the zero x-slot, not padding) with n · 4 ≥ need (n < 2^9).
        let real = load8(&REAL_SLOTS[8 * g..]);
        let enough = _mm256_andnot_si256(_mm256_cmpgt_epi32(need, _mm256_slli_epi32::<2>(n)), none);
        *key = _mm256_blendv_epi8(
            none,
            _mm256_castps_si256(hd),
            _mm256_and_si256(real, enough),
        );
    }
    let mut found = 0;
    for o in out.iter_mut().take(params.candidates) {
        let m = keys.iter().fold(none, |m, &k| _mm256_min_epu32(m, k));
        let m = _mm256_min_epu32(m, _mm256_permute2x128_si256::<0x01>(m, m));
        let m = _mm256_min_epu32(m, _mm256_shuffle_epi32::<0b01_00_11_10>(m));
        let m = _mm256_min_epu32(m, _mm256_shuffle_epi32::<0b10_11_00_01>(m));
        let min = _mm256_cvtsi256_si32(m) as u32;
        if min == u32::MAX {
            break;
        }
        let target = _mm256_set1_epi32(min as i32);
        let hits = keys.iter().enumerate().fold(0u128, |acc, (g, &k)| {
            let eq = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(k, target)));
            acc | (eq as u8 as u128) << (8 * g)
        });
        let slot = hits.trailing_zeros() as usize;
        let (g, lane) = (slot / 8, slot % 8);
        let clear = _mm256_cmpeq_epi32(iota, _mm256_set1_epi32(lane as i32));
        keys[g] = _mm256_or_si256(keys[g], clear);
        *o = slot;
        found += 1;
    }
    found
}

/// `(d, n)` on all rows at `(dx, dy)`: A's padded rows at an offset against B's rows moved
/// by `dx`.
#[inline]
#[target_feature(enable = "avx2")]
fn rigid<const W: usize>(a: &ShiftProbe, b: &[u32], dx: i32, dy: i32) -> (u32, u32) {
    let rows = &a.rows()[..W * PROWS];
    let b = &b[..W * GRID];
    let off = (PAD as i32 - dy) as usize;
    let (right, left) = (
        _mm256_set1_epi32(dx.max(0)),
        _mm256_set1_epi32((-dx).max(0)),
    );
    let (mut ds, mut ns) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    for q in 0..GRID / 8 {
        let ak: [__m256i; W] = std::array::from_fn(|k| load8(&rows[k * PROWS + off + 8 * q..]));
        let bk: [__m256i; W] =
            std::array::from_fn(|k| mv(load8(&b[k * GRID + 8 * q..]), right, left));
        let (d, n) = counts8(&ak, &bk);
        // Bytes ≤ 4 · 48 and 4 · 8.
        ds = _mm256_add_epi8(ds, d);
        ns = _mm256_add_epi8(ns, n);
    }
    let t: u64 = lanes64(sad_dn(ds, ns)).into_iter().sum();
    (t as u32, (t >> 32) as u32)
}

/// The elastic refinement around `(dx, dy)`: per local shift and block row (8 rows, one
/// vector), byte counts of both 4-row halves added, each column block's bytes gathered and
/// summed (`pshufb`, `pmaddubsw`, `pmaddwd`); then the block rule on 8 blocks per vector.
#[inline]
#[target_feature(enable = "avx2")]
fn elastic<const W: usize>(
    a: &ShiftProbe,
    b: &[u32],
    dx: i32,
    dy: i32,
    params: &SearchParams,
) -> (u32, u32) {
    let rows = &a.rows()[..W * PROWS];
    let b = &b[..W * GRID];
    // B moved so that its bit x holds B(x + sx), for the three sx, zero rows around.
    let mut sh = [[[0u32; BROWS]; W]; 3];
    for (lx, sh) in sh.iter_mut().enumerate() {
        let sx = dx + lx as i32 - LOCAL_SHIFT;
        let (right, left) = (
            _mm256_set1_epi32(sx.max(0)),
            _mm256_set1_epi32((-sx).max(0)),
        );
        for (k, plane) in sh.iter_mut().enumerate() {
            for q in 0..GRID / 8 {
                store8(
                    &mut plane[BPAD + 8 * q..],
                    mv(load8(&b[k * GRID + 8 * q..]), right, left),
                );
            }
        }
    }
    let zero = _mm256_setzero_si256();
    // Within each 128-bit lane, byte 4r + c (row pair r, column block c) to 4c + r.
    let transpose = _mm256_setr_epi8(
        0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10,
        14, 3, 7, 11, 15,
    );
    let (ones8, ones16) = (_mm256_set1_epi8(1), _mm256_set1_epi16(1));
    // Per local shift l = ly * 3 + lx: d of blocks 0–7, 8–15, then n of blocks 0–7, 8–15.
    let mut dn = [[zero; 4]; LOCALS];
    for (l, dn) in dn.iter_mut().enumerate() {
        let (ly, lx) = (l / 3, l % 3);
        let off = (BPAD as i32 + dy + ly as i32 - LOCAL_SHIFT) as usize;
        let mut o = [zero; BLOCKS];
        for (q, o) in o.iter_mut().enumerate() {
            let mut ak = [zero; W];
            let mut bk = [zero; W];
            for k in 0..W {
                ak[k] = load8(&rows[k * PROWS + PAD + 8 * q..]);
                bk[k] = load8(&sh[lx][k][off + 8 * q..]);
            }
            let (d, n) = counts8(&ak, &bk);
            // Lane 0: d of rows r and r + 4; lane 1: n (bytes ≤ 96).
            let s = _mm256_add_epi8(
                _mm256_permute2x128_si256::<0x20>(d, n),
                _mm256_permute2x128_si256::<0x31>(d, n),
            );
            let t = _mm256_shuffle_epi8(s, transpose);
            // [d of column blocks 0–3 | n of column blocks 0–3] of block row q.
            *o = _mm256_madd_epi16(_mm256_maddubs_epi16(t, ones8), ones16);
        }
        *dn = [
            _mm256_permute2x128_si256::<0x20>(o[0], o[1]),
            _mm256_permute2x128_si256::<0x20>(o[2], o[3]),
            _mm256_permute2x128_si256::<0x31>(o[0], o[1]),
            _mm256_permute2x128_si256::<0x31>(o[2], o[3]),
        ];
    }
    // The block rule, local shifts in scan order, 8 blocks per vector.
    let all = _mm256_set1_epi32(-1);
    let (kn, kd) = (params.block_keep.0 as i32, params.block_keep.1 as i32);
    let (gn, gd) = (params.block_gain.0 as i32, params.block_gain.1 as i32);
    let (kn, kd, gn, gd) = (
        _mm256_set1_epi32(kn),
        _mm256_set1_epi32(kd),
        _mm256_set1_epi32(gn),
        _mm256_set1_epi32(gd),
    );
    let slack = _mm256_set1_ps(params.block_slack);
    let (mut dt, mut nt) = (0u32, 0u32);
    for h in 0..2 {
        let mut has = zero;
        let (mut best_h, mut best_d, mut best_n) = (_mm256_setzero_ps(), zero, zero);
        for dn in &dn {
            let (d, n) = (dn[h], dn[2 + h]);
            let hd = _mm256_div_ps(_mm256_cvtepi32_ps(d), _mm256_cvtepi32_ps(n));
            // Products are small (n ≤ 64): signed compares are exact.
            let keep = _mm256_andnot_si256(
                _mm256_cmpgt_epi32(_mm256_mullo_epi32(best_n, kn), _mm256_mullo_epi32(n, kd)),
                all,
            );
            let gain =
                _mm256_cmpgt_epi32(_mm256_mullo_epi32(n, gd), _mm256_mullo_epi32(best_n, gn));
            let lower = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LT_OQ>(hd, best_h));
            let close = _mm256_castps_si256(_mm256_cmp_ps::<_CMP_LE_OQ>(
                hd,
                _mm256_add_ps(best_h, slack),
            ));
            let nonzero = _mm256_andnot_si256(_mm256_cmpeq_epi32(n, zero), all);
            let better = _mm256_and_si256(
                nonzero,
                _mm256_or_si256(
                    _mm256_andnot_si256(has, all),
                    _mm256_or_si256(_mm256_and_si256(lower, keep), _mm256_and_si256(gain, close)),
                ),
            );
            has = _mm256_or_si256(has, better);
            best_h = _mm256_blendv_ps(best_h, hd, _mm256_castsi256_ps(better));
            best_d = _mm256_blendv_epi8(best_d, d, better);
            best_n = _mm256_blendv_epi8(best_n, n, better);
        }
        let sum = |v: __m256i| {
            let v = _mm256_add_epi32(v, _mm256_srli_epi64::<32>(v));
            lanes64(v).into_iter().map(|x| x as u32).sum::<u32>()
        };
        dt += sum(best_d);
        nt += sum(best_n);
    }
    (dt, nt)
}

/// The AVX2 kernel.
///
/// # Safety
/// The CPU must support AVX2 and `popcnt`.
#[target_feature(enable = "avx2,popcnt")]
pub(super) unsafe fn search_avx2<const W: usize>(
    params: &SearchParams,
    a: &ShiftProbe,
    b: &[u32],
) -> SearchOutcome {
    let planes = W - 1;
    let packed = coarse(a, &generic::residues::<W>(b));
    let mut slots = [0usize; MAX_CANDIDATES];
    let found = rank(&packed, planes, params, &mut slots);
    let Some(best) = generic::best_rigid(params, planes, &slots[..found], |dx, dy| {
        rigid::<W>(a, b, dx, dy)
    }) else {
        return SearchOutcome {
            rigid: None,
            elastic: None,
        };
    };
    SearchOutcome {
        rigid: Some(best),
        elastic: Some(elastic::<W>(a, b, best.dx, best.dy, params)),
    }
}
