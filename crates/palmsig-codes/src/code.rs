//! [`FeatureCode`]: one modality's bit-planes and validity mask on the sample grid.

use palmsig_core::Modality;

/// What a feature code describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeKind {
    /// Palm surface: principal lines, creases (from the visible image, or NIR when no visible).
    Surface,
    /// Vein pattern (from the NIR image).
    Vein,
}

impl CodeKind {
    /// Stable id in the template format.
    pub fn id(self) -> u8 {
        match self {
            CodeKind::Surface => 1,
            CodeKind::Vein => 2,
        }
    }
    /// The kind with template id `id`.
    pub fn from_id(id: u8) -> Option<CodeKind> {
        match id {
            1 => Some(CodeKind::Surface),
            2 => Some(CodeKind::Vein),
            _ => None,
        }
    }
    /// `surface` or `vein`.
    pub fn name(self) -> &'static str {
        match self {
            CodeKind::Surface => "surface",
            CodeKind::Vein => "vein",
        }
    }
}

pub(crate) fn modality_id(m: Modality) -> u8 {
    match m {
        Modality::Visible => 1,
        Modality::Nir => 2,
    }
}

pub(crate) fn modality_from_id(id: u8) -> Option<Modality> {
    match id {
        1 => Some(Modality::Visible),
        2 => Some(Modality::Nir),
        _ => None,
    }
}

/// Why a [`FeatureCode`] could not be built from parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Width/height outside 1..=64 or planes outside 1..=8.
    #[error("feature code dimensions {width}x{height}x{planes} planes: need width and height 1..=64, planes 1..=8")]
    BadDimensions {
        /// Columns.
        width: usize,
        /// Rows.
        height: usize,
        /// Bit-planes.
        planes: usize,
    },
    /// A plane or the mask does not have one word per row.
    #[error("{what} has {len} rows, expected {expected}")]
    RowCount {
        /// Which array.
        what: &'static str,
        /// Rows given.
        len: usize,
        /// Rows expected.
        expected: usize,
    },
}

/// One modality's code: `planes` bit-planes of `width x height` samples plus a validity mask.
///
/// Row `y` of plane `p` is one `u64` whose bit `x` (LSB = column 0) is the bit of sample
/// `(x, y)`; bits at `x >= width` are always 0, and plane bits are 0 wherever the mask is 0
/// (canonical form, so equal codes have equal bytes). Internally rows are interleaved
/// `[mask, plane 0, …, plane P-1]` (the scalar reference matcher reads one cache line per row);
/// codes at most 32 wide also keep the same rows plane-major as `u32`, the form the SIMD
/// matcher reads.
#[derive(Clone, PartialEq, Eq)]
pub struct FeatureCode {
    kind: CodeKind,
    source: Modality,
    width: usize,
    height: usize,
    planes: usize,
    words: Vec<u64>,
    /// Plane-major rows `[mask rows…, plane 0 rows…, …]` when `width <= 32`, else empty (a
    /// function of `words`, so equality is unaffected).
    rows32: Vec<u32>,
}

impl std::fmt::Debug for FeatureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FeatureCode({} from {:?}, {}x{}x{}, {} valid)",
            self.kind.name(),
            self.source,
            self.width,
            self.height,
            self.planes,
            self.valid_count()
        )
    }
}

impl FeatureCode {
    /// Build a code from plane rows (`planes[p][y]`) and mask rows (`mask[y]`). Bits outside the
    /// width, and plane bits where the mask is 0, are cleared.
    pub fn from_parts(
        kind: CodeKind,
        source: Modality,
        width: usize,
        height: usize,
        planes: &[Vec<u64>],
        mask: &[u64],
    ) -> Result<FeatureCode, CodeError> {
        let np = planes.len();
        if !(1..=64).contains(&width) || !(1..=64).contains(&height) || !(1..=8).contains(&np) {
            return Err(CodeError::BadDimensions {
                width,
                height,
                planes: np,
            });
        }
        if mask.len() != height {
            return Err(CodeError::RowCount {
                what: "mask",
                len: mask.len(),
                expected: height,
            });
        }
        for p in planes {
            if p.len() != height {
                return Err(CodeError::RowCount {
                    what: "plane",
                    len: p.len(),
                    expected: height,
                });
            }
        }
        let wmask = width_mask(width);
        let mut words = Vec::with_capacity(height * (np + 1));
        for y in 0..height {
            let m = mask[y] & wmask;
            words.push(m);
            for p in planes {
                words.push(p[y] & m);
            }
        }
        Ok(FeatureCode::from_words(
            kind, source, width, height, np, words,
        ))
    }

    /// Internal constructor from interleaved words (already canonical).
    pub(crate) fn from_words(
        kind: CodeKind,
        source: Modality,
        width: usize,
        height: usize,
        planes: usize,
        words: Vec<u64>,
    ) -> FeatureCode {
        debug_assert_eq!(words.len(), height * (planes + 1));
        let mut rows32 = Vec::new();
        if width <= 32 {
            rows32 = vec![0u32; words.len()];
            for (y, row) in words.chunks_exact(planes + 1).enumerate() {
                for (k, &w) in row.iter().enumerate() {
                    // Canonical rows have no bit at or beyond the width (≤ 32).
                    rows32[k * height + y] = w as u32;
                }
            }
        }
        FeatureCode {
            kind,
            source,
            width,
            height,
            planes,
            words,
            rows32,
        }
    }

    /// Surface or vein.
    pub fn kind(&self) -> CodeKind {
        self.kind
    }
    /// The image modality the code was computed from.
    pub fn source(&self) -> Modality {
        self.source
    }
    /// Samples per row.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Rows.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Bit-planes per sample.
    pub fn planes(&self) -> usize {
        self.planes
    }
    /// Row `y` of plane `p` (bit `x` = sample `(x, y)`); 0 when out of range.
    pub fn plane_row(&self, p: usize, y: usize) -> u64 {
        if p >= self.planes || y >= self.height {
            return 0;
        }
        self.words[y * (self.planes + 1) + 1 + p]
    }
    /// Row `y` of the validity mask; 0 when out of range.
    pub fn mask_row(&self, y: usize) -> u64 {
        if y >= self.height {
            return 0;
        }
        self.words[y * (self.planes + 1)]
    }
    /// All rows of plane `p`, top to bottom (empty when `p` is out of range).
    pub fn plane_rows(&self, p: usize) -> Vec<u64> {
        if p >= self.planes {
            return Vec::new();
        }
        (0..self.height).map(|y| self.plane_row(p, y)).collect()
    }
    /// All mask rows, top to bottom.
    pub fn mask_rows(&self) -> Vec<u64> {
        (0..self.height).map(|y| self.mask_row(y)).collect()
    }
    /// Bit of plane `p` at sample `(x, y)` (false out of range).
    pub fn bit(&self, p: usize, x: usize, y: usize) -> bool {
        x < 64 && (self.plane_row(p, y) >> x) & 1 == 1
    }
    /// Whether sample `(x, y)` is valid (false out of range).
    pub fn is_valid(&self, x: usize, y: usize) -> bool {
        x < 64 && (self.mask_row(y) >> x) & 1 == 1
    }
    /// Number of valid samples.
    pub fn valid_count(&self) -> u32 {
        (0..self.height)
            .map(|y| self.mask_row(y).count_ones())
            .sum()
    }
    /// This code seen in a turned and scaled frame ([`pose_map`]); samples that land outside
    /// the grid or on an invalid one are invalid.
    #[cfg(test)]
    pub(crate) fn posed(&self, angle_deg: f32, scale: f32) -> FeatureCode {
        self.resampled(&pose_map(self.width, self.height, angle_deg, scale))
    }

    /// The code resampled by `map` (from [`pose_map`] for this code's width and height): sample
    /// `i` (row-major) takes sample `map[i]`, or is invalid where that is `u16::MAX`.
    pub(crate) fn resampled(&self, map: &[u16]) -> FeatureCode {
        let (w, h, np) = (self.width, self.height, self.planes);
        debug_assert_eq!(map.len(), w * h);
        let stride = np + 1;
        let mut words = vec![0u64; h * stride];
        for (i, &m) in map.iter().enumerate() {
            if m == u16::MAX {
                continue;
            }
            let (x, y) = (i % w, i / w);
            let (sx, sy) = (m as usize % w, m as usize / w);
            let src = &self.words[sy * stride..(sy + 1) * stride];
            if (src[0] >> sx) & 1 == 0 {
                continue;
            }
            let dst = &mut words[y * stride..(y + 1) * stride];
            dst[0] |= 1 << x;
            for p in 0..np {
                dst[1 + p] |= ((src[1 + p] >> sx) & 1) << x;
            }
        }
        FeatureCode::from_words(self.kind, self.source, w, h, np, words)
    }

    /// Interleaved rows `[mask, plane 0, …]` (row stride `planes + 1`).
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }
    /// Plane-major `u32` rows (mask first), `height` per plane; `None` when wider than 32.
    pub(crate) fn rows32(&self) -> Option<&[u32]> {
        (self.width <= 32).then_some(&self.rows32[..])
    }
}

/// The sample map of a pose on a `w x h` grid (the matcher's pose search): sample `(x, y)`
/// (row-major) takes the nearest sample to `centre + scale · R(angle) · ((x, y) − centre)`, or
/// `u16::MAX` where that lands outside the grid. Bit-planes are kept as they are when a code is
/// resampled: the poses searched turn by less than half an orientation step (30°), so a line's
/// orientation label mostly stays.
pub(crate) fn pose_map(w: usize, h: usize, angle_deg: f32, scale: f32) -> Vec<u16> {
    let a = f64::from(angle_deg).to_radians();
    let (c, s) = (a.cos(), a.sin());
    let (cx, cy) = ((w as f64 - 1.0) / 2.0, (h as f64 - 1.0) / 2.0);
    let k = f64::from(scale);
    let mut map = vec![u16::MAX; w * h];
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = ((x as f64 - cx) * k, (y as f64 - cy) * k);
            let (sx, sy) = (
                (cx + c * dx - s * dy).round(),
                (cy + s * dx + c * dy).round(),
            );
            if sx >= 0.0 && sy >= 0.0 && sx < w as f64 && sy < h as f64 {
                // At most 64 x 64 samples: the index fits.
                map[y * w + x] = (sy as usize * w + sx as usize) as u16;
            }
        }
    }
    map
}

/// The low `width` bits set.
pub(crate) fn width_mask(width: usize) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posed_samples_the_turned_and_scaled_grid() {
        let one = |x: usize, y: usize| {
            let mut rows = vec![0u64; 32];
            rows[y] = 1 << x;
            FeatureCode::from_parts(
                CodeKind::Vein,
                Modality::Nir,
                32,
                32,
                &[rows],
                &[u32::MAX as u64; 32],
            )
            .unwrap()
        };
        // A quarter turn: target (31, 0) reads (cx - dy, cy + dx) = (31, 31).
        let t = one(31, 31).posed(90.0, 1.0);
        assert!(t.bit(0, 31, 0));
        assert_eq!(
            (0..32).map(|y| t.plane_row(0, y).count_ones()).sum::<u32>(),
            1
        );
        // Half scale: targets 30 and 31 both read 23 (15.5 + (x - 15.5) / 2, rounded).
        let h = one(23, 23).posed(0.0, 0.5);
        assert_eq!(h.plane_row(0, 30), 0b11 << 30);
        assert_eq!(h.plane_row(0, 31), 0b11 << 30);
        assert_eq!(h.valid_count(), 1024);
        // Doubling reads outside the grid near the border: those samples are invalid.
        let d = one(0, 0).posed(0.0, 2.0);
        assert!(!d.is_valid(0, 0) && d.is_valid(15, 15) && d.valid_count() < 1024 / 2);
    }

    #[test]
    fn from_parts_canonicalises_and_checks() {
        let c = FeatureCode::from_parts(
            CodeKind::Surface,
            Modality::Visible,
            4,
            2,
            &[vec![0xff, 0b1010]],
            &[0b0111, 0b1111],
        )
        .unwrap();
        assert_eq!(c.plane_row(0, 0), 0b0111);
        assert_eq!(c.plane_row(0, 1), 0b1010);
        assert_eq!(c.valid_count(), 7);
        assert!(c.bit(0, 1, 1) && !c.bit(0, 0, 1));
        assert!(!c.is_valid(3, 0) && c.is_valid(3, 1));
        assert_eq!(c.plane_row(5, 0), 0);
        assert!(FeatureCode::from_parts(
            CodeKind::Vein,
            Modality::Nir,
            65,
            2,
            &[vec![0, 0]],
            &[0, 0]
        )
        .is_err());
        assert!(
            FeatureCode::from_parts(CodeKind::Vein, Modality::Nir, 4, 2, &[vec![0]], &[0, 0])
                .is_err()
        );
    }
}
