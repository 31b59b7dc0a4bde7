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

/// A grid of bit planes with a validity mask (the view the coarse coder needs).
pub trait BitGrid {
    /// Samples per row.
    fn width(&self) -> usize;
    /// Rows.
    fn height(&self) -> usize;
    /// Number of bit planes.
    fn planes(&self) -> usize;
    /// Bit of plane `p` at sample `(x, y)`.
    fn bit(&self, p: usize, x: usize, y: usize) -> bool;
    /// Whether sample `(x, y)` is valid.
    fn valid(&self, x: usize, y: usize) -> bool;
}

/// Blocks per axis.
pub const LATTICE: usize = 6;

/// Coarse bits produced per plane.
pub const BITS_PER_PLANE: usize = LATTICE * LATTICE;

/// Block-count tables of one grid: per plane, ones and valid counts of every block at every
/// lattice offset, computed from integral images.
#[derive(Debug)]
pub struct BlockCounts {
    w: usize,
    h: usize,
    planes: usize,
    ones: Vec<u32>,  // (planes) × (h+1) × (w+1) integral of valid ∧ bit
    valid: Vec<u32>, // (h+1) × (w+1) integral of valid
}

impl BlockCounts {
    /// Integral images of a grid.
    pub fn new(g: &dyn BitGrid) -> BlockCounts {
        let (w, h, planes) = (g.width(), g.height(), g.planes());
        let stride = w + 1;
        let mut ones = vec![0u32; planes * (h + 1) * stride];
        let mut valid = vec![0u32; (h + 1) * stride];
        for y in 0..h {
            let mut row_v = 0u32;
            let mut row_o = vec![0u32; planes];
            for x in 0..w {
                if g.valid(x, y) {
                    row_v += 1;
                    for (p, r) in row_o.iter_mut().enumerate() {
                        if g.bit(p, x, y) {
                            *r += 1;
                        }
                    }
                }
                let i = (y + 1) * stride + x + 1;
                valid[i] = valid[i - stride] + row_v;
                for (p, r) in row_o.iter().enumerate() {
                    let base = p * (h + 1) * stride;
                    ones[base + i] = ones[base + i - stride] + r;
                }
            }
        }
        BlockCounts {
            w,
            h,
            planes,
            ones,
            valid,
        }
    }

    fn rect(table: &[u32], stride: usize, x0: usize, y0: usize, x1: usize, y1: usize) -> u32 {
        table[y1 * stride + x1] + table[y0 * stride + x0]
            - table[y0 * stride + x1]
            - table[y1 * stride + x0]
    }

    /// Write this grid's coarse bits, starting at bit `first_bit` of `code`, for the block
    /// lattice displaced by `(sx, sy)` samples. When `mask` is given, reliable bits get their mask
    /// bit set (valid fraction ≥ `min_valid`, |ones/valid − ½| ≥ `margin`). Returns bits written.
    #[allow(clippy::too_many_arguments)]
    pub fn write(
        &self,
        sx: i32,
        sy: i32,
        code: &mut [u64],
        mut mask: Option<&mut [u64]>,
        first_bit: usize,
        min_valid: f32,
        margin: f32,
    ) -> usize {
        let block = (self.w / 4).max(1);
        let step = (self.w / 8).max(1);
        let off = (self.w / 16) as i32;
        let bh = (self.h / 4).max(1);
        let sth = (self.h / 8).max(1);
        let offh = (self.h / 16) as i32;
        let stride = self.w + 1;
        let mut bit = first_bit;
        for p in 0..self.planes {
            let ones = &self.ones[p * (self.h + 1) * stride..(p + 1) * (self.h + 1) * stride];
            for by in 0..LATTICE {
                for bx in 0..LATTICE {
                    let x0 = (off + sx + (bx * step) as i32).clamp(0, self.w as i32) as usize;
                    let y0 = (offh + sy + (by * sth) as i32).clamp(0, self.h as i32) as usize;
                    let x1 = (x0 + block).min(self.w);
                    let y1 = (y0 + bh).min(self.h);
                    let v = Self::rect(&self.valid, stride, x0, y0, x1, y1);
                    let o = Self::rect(ones, stride, x0, y0, x1, y1);
                    if 2 * o > v {
                        code[bit / 64] |= 1u64 << (bit % 64);
                    }
                    if let Some(m) = mask.as_deref_mut() {
                        let area = ((x1 - x0) * (y1 - y0)).max(1) as f32;
                        let reliable = v as f32 >= min_valid * area
                            && v > 0
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
}
