//! Synthetic bit-code templates and their matcher: the model of a palm template the index is
//! developed and benchmarked with (32×32 samples × 3 orientation bit planes + validity mask, per
//! modality), and [`BitScorer`], a shift-searching masked Hamming matcher over both modalities.
use crate::calib::ImpostorModel;
use crate::coarse::{write_coarse, BitGrid, BITS_PER_PLANE};
use crate::error::ScorerError;
use crate::scorer::{CoarseProbe, Scorer};

/// Samples per side of a grid code: the matcher geometry of `palmsig_codes::params`.
pub const GRID: usize = palmsig_codes::params::GRID;
// A row of a grid code is one `u32` (bit `x` = column).
const _: () = assert!(
    GRID == u32::BITS as usize,
    "a grid code row must be one u32"
);
/// Bit planes per grid code.
pub const PLANES: usize = 3;
/// Encoded size of one grid code: planes then mask, 32 rows of `u32` each.
pub const GRID_BYTES: usize = (PLANES + 1) * GRID * 4;

/// One modality's code: `PLANES` bit planes and a validity mask, rows as `u32` (bit `x` = column).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GridCode {
    /// Bit planes.
    pub planes: [[u32; GRID]; PLANES],
    /// Validity mask (1 = valid sample).
    pub mask: [u32; GRID],
}

impl BitGrid for GridCode {
    fn width(&self) -> usize {
        GRID
    }
    fn height(&self) -> usize {
        GRID
    }
    fn planes(&self) -> usize {
        PLANES
    }
    fn plane_row(&self, p: usize, y: usize) -> u64 {
        self.planes[p][y] as u64
    }
    fn mask_row(&self, y: usize) -> u64 {
        self.mask[y] as u64
    }
}

/// A template of the synthetic model: surface and/or vein grid codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitTemplate {
    /// Palm surface code.
    pub surface: Option<GridCode>,
    /// Vein code.
    pub vein: Option<GridCode>,
}

fn shifted(row: u32, dx: i32) -> u32 {
    if dx >= 0 {
        row >> dx
    } else {
        row << (-dx)
    }
}

/// Masked disagreement and valid counts of `a` against `b` displaced by `(dx, dy)`.
#[inline]
fn counts(a: &GridCode, b: &GridCode, dx: i32, dy: i32) -> (u32, u32) {
    let (mut diff, mut valid) = (0u32, 0u32);
    let y0 = (-dy).max(0) as usize;
    let y1 = (GRID as i32 - dy).min(GRID as i32) as usize;
    for y in y0..y1 {
        let yb = (y as i32 + dy) as usize;
        let m = a.mask[y] & shifted(b.mask[yb], dx);
        valid += m.count_ones();
        for p in 0..PLANES {
            diff += ((a.planes[p][y] ^ shifted(b.planes[p][yb], dx)) & m).count_ones();
        }
    }
    (diff, valid * PLANES as u32)
}

/// Fractional Hamming distance of a probe to an enrolled template at one displacement, summed
/// over the modalities both have; `None` if fewer than `min_bits` bits were compared.
pub fn distance_at(
    a: &BitTemplate,
    b: &BitTemplate,
    dx: i32,
    dy: i32,
    min_bits: u32,
) -> Option<f64> {
    let (mut d, mut v) = (0u32, 0u32);
    for (x, y) in [(&a.surface, &b.surface), (&a.vein, &b.vein)] {
        if let (Some(x), Some(y)) = (x, y) {
            let (dd, vv) = counts(x, y, dx, dy);
            d += dd;
            v += vv;
        }
    }
    (v >= min_bits.max(1)).then(|| d as f64 / v as f64)
}

/// Shift-searching masked Hamming matcher for [`BitTemplate`]s, with a coarse coder and a
/// calibrated impostor model.
#[derive(Debug, Clone)]
pub struct BitScorer {
    /// Largest displacement searched, in samples, along each axis.
    pub max_shift: i32,
    /// Fewest compared bits for a valid comparison.
    pub min_bits: u32,
    /// Block-lattice offsets at which the probe's coarse code is computed (multi-probe).
    pub probe_offsets: Vec<(i32, i32)>,
    /// Probe-side reliability margin of a coarse bit (|ones/valid − ½|).
    pub margin: f32,
    /// Fewest valid samples (fraction of the block) for a reliable coarse bit.
    pub min_valid: f32,
    /// Impostor model for thresholds.
    pub impostor: ImpostorModel,
}

impl Default for BitScorer {
    fn default() -> Self {
        BitScorer {
            max_shift: 2,
            min_bits: 600,
            probe_offsets: vec![(0, 0)],
            margin: 0.05,
            min_valid: 0.5,
            // Provisional until `calibrate` is called; fitted values of the default model.
            impostor: ImpostorModel {
                n: 1620.0,
                p: 0.5,
                k: 17.5,
            },
        }
    }
}

impl BitScorer {
    /// Best (smallest) distance over the shift search, or 1.0 if no shift compared enough bits.
    pub fn distance(&self, probe: &BitTemplate, enrolled: &BitTemplate) -> f64 {
        let mut best = 1.0f64;
        for dy in -self.max_shift..=self.max_shift {
            for dx in -self.max_shift..=self.max_shift {
                if let Some(d) = distance_at(probe, enrolled, dx, dy, self.min_bits) {
                    best = best.min(d);
                }
            }
        }
        best
    }

    /// Fit the impostor model from pairs of templates of different identities.
    pub fn calibrate(&mut self, pairs: &[(BitTemplate, BitTemplate)]) -> Option<ImpostorModel> {
        let aligned: Vec<f64> = pairs
            .iter()
            .filter_map(|(a, b)| distance_at(a, b, 0, 0, self.min_bits))
            .collect();
        let searched: Vec<f64> = pairs.iter().map(|(a, b)| self.distance(a, b)).collect();
        let trials = ((2 * self.max_shift + 1) * (2 * self.max_shift + 1)) as f64;
        let m = ImpostorModel::fit(&aligned, &searched, trials)?;
        self.impostor = m;
        Some(m)
    }

    fn write_coarse(
        &self,
        t: &BitTemplate,
        sx: i32,
        sy: i32,
        code: &mut [u64],
        mut mask: Option<&mut [u64]>,
    ) {
        let mut bit = 0;
        for g in [&t.surface, &t.vein] {
            if let Some(g) = g {
                write_coarse(
                    g,
                    sx,
                    sy,
                    code,
                    mask.as_deref_mut(),
                    bit,
                    self.min_valid,
                    self.margin,
                );
            }
            bit += PLANES * BITS_PER_PLANE;
        }
    }
}

const COARSE_WORDS: usize = (2 * PLANES * BITS_PER_PLANE).div_ceil(256) * 4;

impl Scorer for BitScorer {
    type Template = BitTemplate;
    type Probe = BitTemplate;

    fn coarse_words(&self) -> usize {
        COARSE_WORDS
    }

    fn coarse_tag(&self) -> u32 {
        0xB17C_0001
    }

    fn coarse(&self, t: &BitTemplate, out: &mut [u64]) -> Result<(), ScorerError> {
        if t.surface.is_none() && t.vein.is_none() {
            return Err(ScorerError::NotIndexable("template has no modality".into()));
        }
        out.fill(0);
        self.write_coarse(t, 0, 0, out, None);
        Ok(())
    }

    fn coarse_probe(&self, t: &BitTemplate) -> Result<CoarseProbe, ScorerError> {
        if t.surface.is_none() && t.vein.is_none() {
            return Err(ScorerError::NotIndexable("template has no modality".into()));
        }
        let w = COARSE_WORDS;
        let n = self.probe_offsets.len().max(1);
        let mut codes = vec![0u64; n * w];
        let mut masks = vec![0u64; n * w];
        for (i, &(sx, sy)) in self.probe_offsets.iter().enumerate() {
            self.write_coarse(
                t,
                sx,
                sy,
                &mut codes[i * w..(i + 1) * w],
                Some(&mut masks[i * w..(i + 1) * w]),
            );
        }
        Ok(CoarseProbe {
            words: w,
            codes,
            masks,
        })
    }

    fn encode(&self, t: &BitTemplate) -> Result<Vec<u8>, ScorerError> {
        let mut out = Vec::with_capacity(1 + 2 * GRID_BYTES);
        out.push(t.surface.is_some() as u8 | (t.vein.is_some() as u8) << 1);
        for g in [&t.surface, &t.vein].into_iter().flatten() {
            for p in &g.planes {
                for r in p {
                    out.extend_from_slice(&r.to_le_bytes());
                }
            }
            for r in &g.mask {
                out.extend_from_slice(&r.to_le_bytes());
            }
        }
        Ok(out)
    }

    fn decode(&self, bytes: &[u8]) -> Result<BitTemplate, ScorerError> {
        let Some((&flags, mut rest)) = bytes.split_first() else {
            return Err(ScorerError::Malformed("empty".into()));
        };
        if flags & !3 != 0 {
            return Err(ScorerError::Malformed(format!("unknown flags {flags:#x}")));
        }
        let want = (flags.count_ones() as usize) * GRID_BYTES;
        if rest.len() != want {
            return Err(ScorerError::Malformed(format!(
                "expected {want} code bytes, got {}",
                rest.len()
            )));
        }
        let mut read = |present: bool| -> Option<GridCode> {
            if !present {
                return None;
            }
            let mut g = GridCode {
                planes: [[0; GRID]; PLANES],
                mask: [0; GRID],
            };
            for row in g.planes.iter_mut().flatten().chain(g.mask.iter_mut()) {
                let (h, t) = rest.split_at(4);
                *row = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                rest = t;
            }
            Some(g)
        };
        let surface = read(flags & 1 != 0);
        let vein = read(flags & 2 != 0);
        Ok(BitTemplate { surface, vein })
    }

    fn prepare(&self, probe: &BitTemplate) -> BitTemplate {
        *probe
    }

    fn score_prepared(&self, probe: &BitTemplate, enrolled: &BitTemplate) -> f32 {
        (1.0 - self.distance(probe, enrolled)) as f32
    }

    fn threshold_for_fmr(&self, fmr: f64) -> f32 {
        (1.0 - self.impostor.hd_for_fmr(fmr.clamp(1e-300, 1.0))) as f32
    }
}
