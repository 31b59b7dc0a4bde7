//! [`Engine`]: ROI images (and, through vision, captures) → [`Template`].

use crate::calibration::Calibration;
use crate::code::CodeKind;
use crate::encode::{Coder, Job};
use crate::{params, Algorithm, CalibrationProfile, Matcher, Template, TemplateError};
use palmsig_core::{GrayImage, Modality};
use palmsig_vision::{extract_roi, AcquireError, Capture, ExplainSink, NoExplain};

/// Why no template could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExtractError {
    /// Neither a visible nor a NIR image.
    #[error("no image to code: a capture needs a visible or a NIR image")]
    NoImage,
    /// A ROI smaller than [`params::MIN_ROI_SIDE`].
    #[error("{modality} ROI is {width}x{height}, at least {min}x{min} px needed")]
    RoiTooSmall {
        /// `visible` or `nir`.
        modality: &'static str,
        /// Width.
        width: usize,
        /// Height.
        height: usize,
        /// Minimum side.
        min: usize,
    },
    /// Every code had too few valid samples (flat, saturated or padded ROI).
    #[error("no usable texture: the palm ROI is flat, saturated or mostly outside the image")]
    NoTexture,
    /// The capture gave no palm ROI (no hand, blurred, tilted, …).
    #[error("{0}")]
    Acquire(#[from] AcquireError),
    /// The template could not be assembled (an internal invariant; reported, not panicked).
    #[error("template: {0}")]
    Template(#[from] TemplateError),
}

impl ExtractError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            ExtractError::Acquire(e) => e.code(),
            ExtractError::NoImage => "no_image",
            ExtractError::RoiTooSmall { .. } => "roi_too_small",
            ExtractError::NoTexture => "no_texture",
            ExtractError::Template(_) => "template_invalid",
        }
    }
}

/// Capture → template, for one algorithm. Cheap to share across threads (`&self` methods).
#[derive(Debug, Clone)]
pub struct Engine {
    algorithm: Algorithm,
    coder: Coder,
    matcher: Matcher,
}

impl Engine {
    /// An engine for `algorithm` with its built-in calibration.
    pub fn new(algorithm: Algorithm) -> Engine {
        Engine::with_calibration(algorithm, Calibration::builtin(algorithm).clone())
    }

    /// An engine for `algorithm` whose matcher scores with `calibration` (a deployment's own,
    /// e.g. from a [`CalibrationProfile`]); coding is the same as [`Engine::new`]'s.
    pub fn with_calibration(algorithm: Algorithm, calibration: Calibration) -> Engine {
        Engine {
            algorithm,
            coder: Coder::new(),
            matcher: Matcher::with_calibration(algorithm, calibration),
        }
    }

    /// An engine for a profile's algorithm with its calibration.
    pub fn with_profile(profile: &CalibrationProfile) -> Engine {
        Engine::with_calibration(profile.algorithm(), profile.calibration().clone())
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The matcher for this engine's templates.
    pub fn matcher(&self) -> &Matcher {
        &self.matcher
    }

    /// Capture → template: vision's [`extract_roi`] then coding. `sink` receives vision's stage
    /// images, then `surface_normalised`, `surface_code`, `vein_normalised`, `vein_code` (the
    /// locally normalised ROIs, and the code planes side by side followed by the validity mask,
    /// 4 px per sample, gray = masked).
    pub fn extract(
        &self,
        capture: &Capture,
        sink: &mut dyn ExplainSink,
    ) -> Result<Template, ExtractError> {
        let roi = extract_roi(capture, sink)?;
        self.encode_roi_with_sink(roi.visible.as_ref(), roi.nir.as_ref(), sink)
    }

    /// Code palm ROIs (any size ≥ 32 px; non-square ones are centre-cropped; in the right-hand
    /// palm frame, fingers up). The surface code comes from the visible ROI, or from the NIR ROI
    /// when there is no visible one; the vein code from the NIR ROI.
    pub fn encode_roi(
        &self,
        visible: Option<&GrayImage>,
        nir: Option<&GrayImage>,
    ) -> Result<Template, ExtractError> {
        self.encode_roi_with_sink(visible, nir, &mut NoExplain)
    }

    /// [`Engine::encode_roi`], handing each intermediate image (`surface_normalised`,
    /// `surface_code`, `vein_normalised`, `vein_code`) to `explain`.
    pub fn encode_roi_explained(
        &self,
        visible: Option<&GrayImage>,
        nir: Option<&GrayImage>,
        explain: &mut dyn FnMut(&str, &GrayImage),
    ) -> Result<Template, ExtractError> {
        struct Fn<'a>(&'a mut dyn FnMut(&str, &GrayImage));
        impl ExplainSink for Fn<'_> {
            fn emit(&mut self, stage: &str, image: &GrayImage) {
                (self.0)(stage, image)
            }
        }
        self.encode_roi_with_sink(visible, nir, &mut Fn(explain))
    }

    /// [`Engine::encode_roi`], emitting each intermediate image (`surface_normalised`,
    /// `surface_code`, `vein_normalised`, `vein_code`) to `sink` (skipped when the sink is
    /// disabled).
    pub fn encode_roi_with_sink(
        &self,
        visible: Option<&GrayImage>,
        nir: Option<&GrayImage>,
        sink: &mut dyn ExplainSink,
    ) -> Result<Template, ExtractError> {
        for (name, img) in [("visible", visible), ("nir", nir)] {
            if let Some(i) = img {
                if i.width() < params::MIN_ROI_SIDE || i.height() < params::MIN_ROI_SIDE {
                    return Err(ExtractError::RoiTooSmall {
                        modality: name,
                        width: i.width(),
                        height: i.height(),
                        min: params::MIN_ROI_SIDE,
                    });
                }
            }
        }
        let surface_src = match (visible, nir) {
            (Some(v), _) => Some((v, Modality::Visible)),
            (None, Some(n)) => Some((n, Modality::Nir)),
            (None, None) => return Err(ExtractError::NoImage),
        };
        let keep =
            |c: crate::FeatureCode| (c.valid_count() >= params::MIN_VALID_SAMPLES).then_some(c);
        // Both ROIs are the same frame: an occluder seen in either band is masked in both.
        let surface_roi = surface_src
            .map(|(img, source)| (self.coder.load(img, CodeKind::Surface, source), source));
        let vein_roi = nir.map(|img| self.coder.load(img, CodeKind::Vein, Modality::Nir));
        let occlusion = match (&surface_roi, &vein_roi) {
            (Some((s, Modality::Visible)), Some(v)) => {
                // Both bands: also what is quiet in both (a vein ROI means a NIR image).
                let o = s.occlusion.union(&v.occlusion);
                match nir {
                    Some(n) => o.union(&self.coder.quiet_occluders(s, n)),
                    None => o,
                }
            }
            (Some((s, _)), Some(v)) => s.occlusion.union(&v.occlusion),
            (Some((s, _)), None) => s.occlusion.clone(),
            (None, Some(v)) => v.occlusion.clone(),
            (None, None) => return Err(ExtractError::NoImage),
        };
        let surface = surface_roi.and_then(|(roi, source)| {
            keep(self.coder.encode(
                self.algorithm,
                roi,
                &occlusion,
                Job {
                    kind: CodeKind::Surface,
                    source,
                },
                sink,
            ))
        });
        let vein = vein_roi.and_then(|roi| {
            keep(self.coder.encode(
                self.algorithm,
                roi,
                &occlusion,
                Job {
                    kind: CodeKind::Vein,
                    source: Modality::Nir,
                },
                sink,
            ))
        });
        if surface.is_none() && vein.is_none() {
            return Err(ExtractError::NoTexture);
        }
        Ok(Template::new(self.algorithm, surface, vein)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines every 12 px on skin at 150; with `disc`, a flat region at 50 of radius 30 px.
    fn roi(disc: bool) -> GrayImage {
        let mut img = GrayImage::new(128, 128);
        for y in 0..128usize {
            for x in 0..128usize {
                let line = if (x + 2 * y) % 12 < 3 { 110 } else { 150 };
                let (dx, dy) = (x as f32 - 44.0, y as f32 - 64.0);
                let v = if disc && dx * dx + dy * dy < 900.0 {
                    50 + ((x * 7 + y * 13) % 3) as u8
                } else {
                    line
                };
                img.set(x, y, v);
            }
        }
        img
    }

    #[test]
    fn an_occluder_seen_in_one_band_is_masked_in_both() {
        let e = Engine::new(Algorithm::CompCode);
        let clean = e.encode_roi(Some(&roi(false)), Some(&roi(false))).unwrap();
        let t = e.encode_roi(Some(&roi(true)), Some(&roi(false))).unwrap();
        let (sv, vv) = (
            t.surface.as_ref().unwrap().valid_count(),
            t.vein.as_ref().unwrap().valid_count(),
        );
        let full = clean.vein.as_ref().unwrap().valid_count();
        // The disc covers ~17 % of the ROI; with its edge, a quarter or more is masked.
        assert!(vv < full * 4 / 5, "vein kept {vv} of {full} samples");
        assert!(sv < full * 4 / 5, "surface kept {sv} samples");
        assert!(vv > full / 3 && sv > full / 3);
    }
}
