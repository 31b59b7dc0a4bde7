//! Shift-robust coarse code: binarised block orientation histograms.
//!
//! A feature code is a grid of `planes` bit planes (orientation bits) with a validity mask. The
//! coarse code keeps, for each plane and each block of a 6×6 lattice of overlapping blocks
//! (block side `w/4`, stride `w/8`), one bit: whether most valid samples of the block are set.
//! A block average moves little when the ROI shifts by a sample or two (overlap ≥ 56% for a
//! diagonal shift of half a stride), and averaging 64 samples suppresses capture bit noise,
//! which is what makes the code usable with a pure Hamming scan.
//!
//! Probe side: bits whose block is nearly balanced (|ones/valid − ½| < margin) or mostly invalid
//! are masked out (they flip between captures), and the probe is coded at several block-lattice
//! offsets (multi-probe) so a residual shift of up to half a stride re-aligns exactly.

/// A grid of bit planes with a validity mask (the view the coarse coder needs), by rows of at
/// most 64 samples (bit `x` of a row = column `x`).
pub trait BitGrid {
    /// Samples per row (≤ 64).
    fn width(&self) -> usize;
    /// Rows.
    fn height(&self) -> usize;
    /// Number of bit planes.
    fn planes(&self) -> usize;
    /// Row `y` of plane `p`.
    fn plane_row(&self, p: usize, y: usize) -> u64;
    /// Row `y` of the validity mask.
    fn mask_row(&self, y: usize) -> u64;
}

/// Blocks per axis.
pub const LATTICE: usize = 6;

/// Coarse bits produced per plane.
pub const BITS_PER_PLANE: usize = LATTICE * LATTICE;

/// Write the coarse bits of `g`, starting at bit `first_bit` of `code`, for the block lattice
/// displaced by `(sx, sy)` samples. When `mask` is given, reliable bits get their mask bit set
/// (valid fraction ≥ `min_valid`, |ones/valid − ½| ≥ `margin`). Returns the bits written.
#[allow(clippy::too_many_arguments)]
pub fn write_coarse(
    g: &dyn BitGrid,
    sx: i32,
    sy: i32,
    code: &mut [u64],
    mut mask: Option<&mut [u64]>,
    first_bit: usize,
    min_valid: f32,
    margin: f32,
) -> usize {
    let (w, h, planes) = (g.width().min(64), g.height(), g.planes());
    let (block, step, off) = ((w / 4).max(1), (w / 8).max(1), (w / 16) as i32);
    let (bh, sth, offh) = ((h / 4).max(1), (h / 8).max(1), (h / 16) as i32);
    // Row masks (valid ∧ plane) once per row.
    let mut rows = vec![0u64; (planes + 1) * h];
    for y in 0..h {
        let m = g.mask_row(y);
        rows[y * (planes + 1)] = m;
        for p in 0..planes {
            rows[y * (planes + 1) + 1 + p] = g.plane_row(p, y) & m;
        }
    }
    let mut bit = first_bit;
    for p in 0..planes {
        for by in 0..LATTICE {
            let y0 = (offh + sy + (by * sth) as i32).clamp(0, h as i32) as usize;
            let y1 = (y0 + bh).min(h);
            for bx in 0..LATTICE {
                let x0 = (off + sx + (bx * step) as i32).clamp(0, w as i32) as usize;
                let x1 = (x0 + block).min(w);
                let cols = if x1 - x0 >= 64 {
                    u64::MAX
                } else {
                    ((1u64 << (x1 - x0)) - 1) << x0
                };
                let (mut v, mut o) = (0u32, 0u32);
                for y in y0..y1 {
                    v += (rows[y * (planes + 1)] & cols).count_ones();
                    o += (rows[y * (planes + 1) + 1 + p] & cols).count_ones();
                }
                if 2 * o > v {
                    code[bit / 64] |= 1u64 << (bit % 64);
                }
                if let Some(m) = mask.as_deref_mut() {
                    let area = ((x1 - x0) * (y1 - y0)).max(1) as f32;
                    let reliable = v > 0
                        && v as f32 >= min_valid * area
                        && (o as f32 / v as f32 - 0.5).abs() >= margin;
                    if reliable {
                        m[bit / 64] |= 1u64 << (bit % 64);
                    }
                }
                bit += 1;
            }
        }
    }
    bit - first_bit
}
