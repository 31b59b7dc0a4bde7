//! [`CodesScorer`]: the index's [`Scorer`] for `palmsig_codes` templates.
//!
//! Coarse code: the block histograms of [`crate::coarse`] computed on each `FeatureCode`'s bit
//! planes and mask (surface first, then vein; up to [`MAX_PLANES`] planes each). Full score: the
//! codes crate's calibrated fused score (`Matcher::compare_prepared(..).fused` with the probe
//! prepared once per search, higher = more similar);
//! threshold: `Threshold::for_fmr`. Stored form: `Template::to_bytes` (CRC-checked).
use crate::coarse::{write_coarse, BitGrid, BITS_PER_PLANE};
use crate::error::ScorerError;
use crate::scorer::{CoarseProbe, Scorer};
use palmsig_codes::{FeatureCode, MatchError, Matcher, PreparedProbe, Template, Threshold};

/// Planes per modality used by the coarse code.
pub const MAX_PLANES: usize = 3;

const WORDS: usize = (2 * MAX_PLANES * BITS_PER_PLANE).div_ceil(256) * 4;

struct View<'a>(&'a FeatureCode);

impl BitGrid for View<'_> {
    fn width(&self) -> usize {
        self.0.width()
    }
    fn height(&self) -> usize {
        self.0.height()
    }
    fn planes(&self) -> usize {
        self.0.planes().min(MAX_PLANES)
    }
    fn plane_row(&self, p: usize, y: usize) -> u64 {
        self.0.plane_row(p, y)
    }
    fn mask_row(&self, y: usize) -> u64 {
        self.0.mask_row(y)
    }
}

/// Scorer over `palmsig_codes::Template`.
#[derive(Debug, Clone)]
pub struct CodesScorer {
    matcher: Matcher,
    /// Block-lattice offsets at which a probe's coarse code is computed (multi-probe).
    pub probe_offsets: Vec<(i32, i32)>,
    /// Probe-side reliability margin of a coarse bit.
    pub margin: f32,
    /// Fewest valid samples (fraction of the block) for a reliable coarse bit.
    pub min_valid: f32,
}

impl CodesScorer {
    /// A scorer using `matcher` for the full comparison.
    pub fn new(matcher: Matcher) -> CodesScorer {
        CodesScorer {
            matcher,
            probe_offsets: vec![(0, 0)],
            margin: 0.05,
            min_valid: 0.5,
        }
    }

    fn write(
        &self,
        t: &Template,
        sx: i32,
        sy: i32,
        code: &mut [u64],
        mut mask: Option<&mut [u64]>,
    ) -> Result<(), ScorerError> {
        if t.surface.is_none() && t.vein.is_none() {
            return Err(ScorerError::NotIndexable("template has no code".into()));
        }
        let mut bit = 0;
        for c in [&t.surface, &t.vein] {
            if let Some(c) = c {
                let v = View(c);
                if v.width() < 8 || v.height() < 8 {
                    return Err(ScorerError::NotIndexable(format!(
                        "code grid {}x{} too small for the coarse lattice",
                        v.width(),
                        v.height()
                    )));
                }
                write_coarse(
                    &v,
                    sx,
                    sy,
                    code,
                    mask.as_deref_mut(),
                    bit,
                    self.min_valid,
                    self.margin,
                );
            }
            bit += MAX_PLANES * BITS_PER_PLANE;
        }
        Ok(())
    }
}

impl Scorer for CodesScorer {
    type Template = Template;
    /// The matcher's prepared probe (shifted copies computed once per search); a probe the
    /// matcher refuses keeps its error and scores `-inf` against everything.
    type Probe = Result<PreparedProbe, MatchError>;

    fn coarse_words(&self) -> usize {
        WORDS
    }

    fn coarse_tag(&self) -> u32 {
        0xC0DE_0001
    }

    fn coarse(&self, t: &Template, out: &mut [u64]) -> Result<(), ScorerError> {
        out.fill(0);
        self.write(t, 0, 0, out, None)
    }

    fn coarse_probe(&self, t: &Template) -> Result<CoarseProbe, ScorerError> {
        let n = self.probe_offsets.len().max(1);
        let mut codes = vec![0u64; n * WORDS];
        let mut masks = vec![0u64; n * WORDS];
        let offs = if self.probe_offsets.is_empty() {
            vec![(0, 0)]
        } else {
            self.probe_offsets.clone()
        };
        for (i, (sx, sy)) in offs.into_iter().enumerate() {
            let r = i * WORDS..(i + 1) * WORDS;
            self.write(t, sx, sy, &mut codes[r.clone()], Some(&mut masks[r]))?;
        }
        Ok(CoarseProbe {
            words: WORDS,
            codes,
            masks,
        })
    }

    fn encode(&self, t: &Template) -> Result<Vec<u8>, ScorerError> {
        t.to_bytes()
            .map_err(|e| ScorerError::NotIndexable(e.to_string()))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Template, ScorerError> {
        Template::from_bytes(bytes).map_err(|e| ScorerError::Malformed(e.to_string()))
    }

    fn prepare(&self, probe: &Template) -> Self::Probe {
        self.matcher.prepare(probe)
    }

    fn score_prepared(&self, probe: &Self::Probe, enrolled: &Template) -> f32 {
        // An incomparable pair (other algorithm, no common modality) can never match.
        probe
            .as_ref()
            .ok()
            .and_then(|p| self.matcher.compare_prepared(p, enrolled).ok())
            .map_or(f32::NEG_INFINITY, |c| c.fused)
    }

    fn threshold_for_fmr(&self, fmr: f64) -> f32 {
        Threshold::for_fmr(fmr.clamp(f64::MIN_POSITIVE, 1.0)).map_or(f32::INFINITY, |t| t.score())
    }
}

/// Convert a synthetic [`crate::BitTemplate`] into a `palmsig_codes::Template` of `algorithm`
/// (which must use [`crate::bitcode::PLANES`] planes on the 32×32 grid), so the codes
/// matcher can be benchmarked on model-generated galleries.
pub fn template_from_bits(
    t: &crate::BitTemplate,
    algorithm: palmsig_codes::Algorithm,
) -> Result<Template, ScorerError> {
    use palmsig_codes::CodeKind;
    use palmsig_core::Modality;
    let conv = |g: &crate::GridCode, kind: CodeKind, src: Modality| {
        let planes: Vec<Vec<u64>> = g
            .planes
            .iter()
            .map(|p| p.iter().map(|&r| r as u64).collect())
            .collect();
        let mask: Vec<u64> = g.mask.iter().map(|&r| r as u64).collect();
        FeatureCode::from_parts(
            kind,
            src,
            crate::bitcode::GRID,
            crate::bitcode::GRID,
            &planes,
            &mask,
        )
        .map_err(|e| ScorerError::NotIndexable(e.to_string()))
    };
    let surface = t
        .surface
        .as_ref()
        .map(|g| conv(g, CodeKind::Surface, Modality::Visible))
        .transpose()?;
    let vein = t
        .vein
        .as_ref()
        .map(|g| conv(g, CodeKind::Vein, Modality::Nir))
        .transpose()?;
    Template::new(algorithm, surface, vein).map_err(|e| ScorerError::NotIndexable(e.to_string()))
}

/// Convert a `palmsig_codes` template back into a [`crate::BitTemplate`] (32×32 grid, first
/// [`crate::bitcode::PLANES`] planes), to fit the [`crate::CodeModel`] on real pipeline templates.
pub fn bits_from_template(t: &Template) -> Result<crate::BitTemplate, ScorerError> {
    use crate::bitcode::{GRID, PLANES};
    let conv = |c: &FeatureCode| -> Result<crate::GridCode, ScorerError> {
        if c.width() != GRID || c.height() != GRID || c.planes() < PLANES {
            return Err(ScorerError::NotIndexable(format!(
                "code {}x{}x{} is not {GRID}x{GRID}x{PLANES}+",
                c.width(),
                c.height(),
                c.planes()
            )));
        }
        let mut g = crate::GridCode {
            planes: [[0; GRID]; PLANES],
            mask: [0; GRID],
        };
        for y in 0..GRID {
            g.mask[y] = c.mask_row(y) as u32;
            for p in 0..PLANES {
                g.planes[p][y] = c.plane_row(p, y) as u32;
            }
        }
        Ok(g)
    };
    Ok(crate::BitTemplate {
        surface: t.surface.as_ref().map(conv).transpose()?,
        vein: t.vein.as_ref().map(conv).transpose()?,
    })
}
