//! Coarse-scan kernels: masked Hamming distance of every gallery code to the probe code(s).
//!
//! `out[i] = min_q popcount((gallery[i] ^ code_q) & mask_q)`. AVX2 (nibble-lookup popcount, four
//! records per step, 256-bit codes or multiples; also used for [`Kernel::Avx512`]: the scan is
//! bound by memory bandwidth, not by the popcount), scalar `popcnt`, and a portable fallback. All
//! give identical results (tested).

use super::Kernel;

/// Largest record, in 64-bit words: distances are kept in `u16`, and the AVX2 kernel's byte
/// counters hold at most `8 * words / 4` (≤ 128 at 64 words) before they are summed.
pub const MAX_SCAN_WORDS: usize = 64;

/// Scan `gallery` (records of `words` u64 each) against probe codes/masks, writing the minimum
/// masked distance per record into `out` (`out.len()` records).
///
/// Falls back to the portable kernel when `kernel` is not available on this CPU or the code
/// length does not suit it. Returns `false` (and writes nothing) on inconsistent lengths.
pub fn scan_min(
    kernel: Kernel,
    words: usize,
    gallery: &[u64],
    codes: &[u64],
    masks: &[u64],
    out: &mut [u16],
) -> bool {
    if words == 0
        || words > MAX_SCAN_WORDS
        || codes.is_empty()
        || codes.len() != masks.len()
        || !codes.len().is_multiple_of(words)
        || gallery.len() != out.len() * words
    {
        return false;
    }
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 | Kernel::Avx512 if words.is_multiple_of(4) && Kernel::Avx2.is_available() => {
            // Safety: AVX2 and popcnt were detected on this CPU just above; lengths were checked.
            unsafe { x86::scan_avx2(words, gallery, codes, masks, out) }
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Popcnt | Kernel::Avx2 | Kernel::Avx512 if Kernel::Popcnt.is_available() => {
            // Safety: popcnt was detected on this CPU just above.
            unsafe { x86::scan_popcnt(words, gallery, codes, masks, out) }
        }
        _ => scan_generic(words, gallery, codes, masks, out),
    }
    true
}

#[inline(always)]
fn scan_generic(words: usize, gallery: &[u64], codes: &[u64], masks: &[u64], out: &mut [u16]) {
    for (rec, o) in gallery.chunks_exact(words).zip(out.iter_mut()) {
        let mut best = u32::MAX;
        for (c, m) in codes.chunks_exact(words).zip(masks.chunks_exact(words)) {
            let mut d = 0u32;
            for i in 0..words {
                d += ((rec[i] ^ c[i]) & m[i]).count_ones();
            }
            best = best.min(d);
        }
        *o = best as u16;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU must support `popcnt`. Lengths are checked by the caller (`scan_min`).
    #[target_feature(enable = "popcnt")]
    pub(super) unsafe fn scan_popcnt(
        words: usize,
        gallery: &[u64],
        codes: &[u64],
        masks: &[u64],
        out: &mut [u16],
    ) {
        super::scan_generic(words, gallery, codes, masks, out)
    }

    /// Popcount of each byte of `x`.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn popcnt8(x: __m256i, lut: __m256i, low: __m256i) -> __m256i {
        let lo = _mm256_and_si256(x, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
        _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi))
    }

    /// # Safety
    /// The CPU must support AVX2 and popcnt; `words % 4 == 0`, `words <= 64` (byte counters
    /// hold at most 8·words/4 ≤ 128), `gallery.len() == out.len() * words`,
    /// `codes.len() == masks.len()`, a non-zero multiple of `words`.
    #[target_feature(enable = "avx2,popcnt")]
    pub(super) unsafe fn scan_avx2(
        words: usize,
        gallery: &[u64],
        codes: &[u64],
        masks: &[u64],
        out: &mut [u16],
    ) {
        let regs = words / 4;
        let n = out.len();
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
            3, 3, 4,
        );
        let low = _mm256_set1_epi8(0x0f);
        let zero = _mm256_setzero_si256();
        let quads = n / 4;
        for o in out.iter_mut() {
            *o = u16::MAX;
        }
        for q in 0..codes.len() / words {
            let qc = &codes[q * words..(q + 1) * words];
            let qm = &masks[q * words..(q + 1) * words];
            for b in 0..quads {
                let base = b * 4 * words;
                let mut sums = [zero; 4];
                for (r, sum) in sums.iter_mut().enumerate() {
                    let rec = base + r * words;
                    let mut acc = zero;
                    for j in 0..regs {
                        // Safety: rec + 4j + 4 <= (4b + 4) * words <= gallery.len() (b < n/4),
                        // and qc/qm hold `words` u64s; unaligned loads are allowed.
                        let (g, c, m) = unsafe {
                            (
                                _mm256_loadu_si256(
                                    gallery.as_ptr().add(rec + 4 * j) as *const __m256i
                                ),
                                _mm256_loadu_si256(qc.as_ptr().add(4 * j) as *const __m256i),
                                _mm256_loadu_si256(qm.as_ptr().add(4 * j) as *const __m256i),
                            )
                        };
                        let x = _mm256_and_si256(_mm256_xor_si256(g, c), m);
                        acc = _mm256_add_epi8(acc, popcnt8(x, lut, low));
                    }
                    // Four u64 lanes, each the count of its 8 bytes (<= 64·regs < 2^16).
                    *sum = _mm256_sad_epu8(acc, zero);
                }
                // Pack the four records' lane counts into 16-bit fields, then add the lanes.
                let t = _mm256_or_si256(
                    _mm256_or_si256(sums[0], _mm256_slli_epi64(sums[1], 16)),
                    _mm256_or_si256(
                        _mm256_slli_epi64(sums[2], 32),
                        _mm256_slli_epi64(sums[3], 48),
                    ),
                );
                let u = _mm256_add_epi64(t, _mm256_permute4x64_epi64(t, 0b01_00_11_10));
                let u = _mm256_add_epi64(u, _mm256_shuffle_epi32(u, 0b01_00_11_10));
                let v = _mm_cvtsi128_si64(_mm256_castsi256_si128(u)) as u64;
                for r in 0..4 {
                    let d = ((v >> (16 * r)) & 0xffff) as u16;
                    let o = &mut out[b * 4 + r];
                    if d < *o {
                        *o = d;
                    }
                }
            }
        }
        // Tail (n % 4 records) with the scalar kernel.
        let done = quads * 4;
        if done < n {
            super::scan_generic(
                words,
                &gallery[done * words..],
                codes,
                masks,
                &mut out[done..],
            );
        }
    }
}
