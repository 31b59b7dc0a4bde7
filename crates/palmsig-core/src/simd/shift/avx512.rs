//! The AVX-512 kernel (F, BW, VL, VPOPCNTDQ, BITALG, VBMI): see [`search`].

use super::*;
use std::arch::x86_64::*;

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
    let step_rows = _mm512_slli_epi32::<2>(_mm512_and_si512(vec16(&IOTA), _mm512_set1_epi32(7)));
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
fn rigid<const W: usize>(a: &ShiftProbe, bv: &[[__m512i; 2]; W], dx: i32, dy: i32) -> (u32, u32) {
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
    // Per-block (d, n) of local shift l = ly * 3 + lx, blocks in lanes. Left uninitialised:
    // zeroing it would cost a 1 KiB memset call per search.
    let mut dn = [std::mem::MaybeUninit::<[__m512i; 2]>::uninit(); LOCALS];
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
            dn[ly * 3 + lx].write([
                _mm512_permutex2var_epi32(sums[0][0], even, sums[1][0]),
                _mm512_permutex2var_epi32(sums[0][1], even, sums[1][1]),
            ]);
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
    for dn in dn {
        // Safety: the loops above wrote every entry (each l = ly * 3 + lx once).
        let [d, n] = unsafe { dn.assume_init() };
        let hd = _mm512_div_ps(_mm512_cvtepi32_ps(d), _mm512_cvtepi32_ps(n));
        let keep =
            _mm512_cmpge_epu32_mask(_mm512_mullo_epi32(n, kd), _mm512_mullo_epi32(best_n, kn));
        let gain =
            _mm512_cmpgt_epu32_mask(_mm512_mullo_epi32(n, gd), _mm512_mullo_epi32(best_n, gn));
        let lower = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(hd, best_h);
        let close = _mm512_cmp_ps_mask::<_CMP_LE_OQ>(hd, _mm512_add_ps(best_h, slack));
        let better = _mm512_cmpneq_epi32_mask(n, zero) & (!has | (lower & keep) | (gain & close));
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
pub(super) unsafe fn search<const W: usize>(
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
