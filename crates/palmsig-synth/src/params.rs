//! Every tunable number of the generator, in one place, with why it has its value.
//!
//! Geometry is in millimetres of the canonical (right-hand, palm-side, fingers-up) frame.
//! Photometric ranges are chosen so that `Difficulty::Realistic` lands near the measured figures
//! of real scanners in `shared/real-captures.md` (NIR full hand: hand mean ~93, background ~17,
//! Laplacian variance median ~18; NIR ROI mean ~103 std ~10; visible ROI mean ~124 std ~19).

use crate::SynthError;

/// Texels per millimetre of the canonical identity textures. Real full-hand frames show the
/// hand at ~2.5–3.5 px/mm, so 4 texels/mm keeps the warp a (mild) downsampling.
pub const TEXELS_PER_MM: f32 = 4.0;
/// Nominal image scale (px per mm) for a 576-px-high frame; scaled with the frame height.
/// Chosen so an average hand covers ~30% of the frame, as on the real 768x576 NIR scanner.
pub const NOMINAL_PX_PER_MM_AT_576: f32 = 3.05;
/// Virtual camera-to-palm distance (mm) used for the perspective of tilted hands.
pub const CAMERA_DISTANCE_MM: f32 = 230.0;
/// Photon (shot) noise variance per gray level of signal: sigma² = read² + this · level.
/// Small, because the real NIR ROI crops are smooth (Laplacian variance median 3.2).
pub const PHOTON_NOISE: f32 = 0.005;
/// Smooth-union radius (mm) joining fingers and palm: gives rounded, web-like valleys.
pub const SMOOTH_UNION_MM: f32 = 3.0;
/// Distance (mm) over which a finger's spread rotation ramps in above its base, so the web
/// and valley keep their shape while the finger swings.
pub const SPREAD_RAMP_MM: f32 = 14.0;
/// Smallest and largest accepted frame side for full-hand captures (px).
pub const MIN_FRAME: usize = 64;
/// Largest accepted frame side (px); beyond this a single capture needs > 100 MB of buffers.
pub const MAX_FRAME: usize = 4096;
/// Smallest accepted ROI side (px).
pub const MIN_ROI: usize = 32;
/// Largest accepted ROI side (px).
pub const MAX_ROI: usize = 1024;
/// Margin (fraction of the frame) kept between fingertips and the frame border when placing the hand.
pub const PLACE_MARGIN: f32 = 0.02;

/// How hard the captures are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    /// Clean: small pose range, little blur/noise, plain dark background.
    Easy,
    /// Near the measured real-scanner figures (default).
    Realistic,
    /// Worse than real: larger rotation/scale/tilt, strong blur, noise, clutter, occlusion.
    Hard,
}

impl Difficulty {
    /// The manifest/CLI spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Realistic => "realistic",
            Difficulty::Hard => "hard",
        }
    }

    /// The parameter ranges of this preset.
    pub fn preset(self) -> Preset {
        match self {
            Difficulty::Easy => Preset {
                rotation_deg: 8.0,
                session_rotation_deg: 4.0,
                translation_frac: 0.04,
                scale: 0.05,
                tilt_deg: 3.0,
                spread_deg: 2.0,
                elastic_mm: (0.1, 0.2),
                exposure: 0.05,
                illum_falloff: (0.05, 0.15),
                defocus_px: (0.4, 0.8),
                motion_px: (0.0, 0.0),
                motion_prob: 0.0,
                noise: (0.5, 1.0),
                jpeg_quality: (92, 98),
                clutter: 0,
                border_parts_prob: 0.2,
                glare_prob: 0.1,
                occlusion_prob: 0.0,
                out_of_frame_prob: 0.0,
            },
            Difficulty::Realistic => Preset {
                rotation_deg: 30.0,
                session_rotation_deg: 15.0,
                translation_frac: 0.08,
                scale: 0.15,
                tilt_deg: 10.0,
                spread_deg: 5.0,
                elastic_mm: (0.15, 0.4),
                exposure: 0.12,
                illum_falloff: (0.1, 0.3),
                defocus_px: (0.6, 1.2),
                motion_px: (1.0, 3.0),
                motion_prob: 0.15,
                noise: (1.0, 2.0),
                jpeg_quality: (88, 97),
                clutter: 2,
                border_parts_prob: 0.85,
                glare_prob: 0.75,
                occlusion_prob: 0.03,
                out_of_frame_prob: 0.03,
            },
            Difficulty::Hard => Preset {
                rotation_deg: 45.0,
                session_rotation_deg: 25.0,
                translation_frac: 0.12,
                scale: 0.2,
                tilt_deg: 15.0,
                spread_deg: 8.0,
                elastic_mm: (0.4, 0.8),
                exposure: 0.25,
                illum_falloff: (0.2, 0.5),
                defocus_px: (1.3, 2.6),
                motion_px: (2.0, 6.0),
                motion_prob: 0.35,
                noise: (1.5, 3.5),
                jpeg_quality: (40, 70),
                clutter: 8,
                border_parts_prob: 0.9,
                glare_prob: 0.9,
                occlusion_prob: 0.15,
                out_of_frame_prob: 0.12,
            },
        }
    }
}

impl std::str::FromStr for Difficulty {
    type Err = SynthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "easy" => Ok(Difficulty::Easy),
            "realistic" => Ok(Difficulty::Realistic),
            "hard" => Ok(Difficulty::Hard),
            other => Err(SynthError::InvalidDifficulty(other.to_string())),
        }
    }
}

impl std::fmt::Display for Difficulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parameter ranges of one [`Difficulty`] (documented in the crate overview).
///
/// `(a, b)` pairs are uniform ranges; single numbers are symmetric half-ranges (±).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    /// In-plane rotation: |session mean + capture jitter| is kept within ± this (degrees).
    pub rotation_deg: f32,
    /// Half-range of a session's mean rotation (degrees); captures jitter ±4° around it.
    pub session_rotation_deg: f32,
    /// Translation half-range as a fraction of the frame (limited by keeping the hand in frame).
    pub translation_frac: f32,
    /// Hover-distance scale half-range (0.15 = ±15%).
    pub scale: f32,
    /// Tilt (out-of-plane) half-range about each axis (degrees).
    pub tilt_deg: f32,
    /// Per-finger spread change half-range (degrees).
    pub spread_deg: f32,
    /// Elastic skin displacement amplitude range (mm); session 2 uses 1.5x.
    pub elastic_mm: (f32, f32),
    /// Exposure half-range (fraction).
    pub exposure: f32,
    /// Illumination fall-off from the light centre to the frame corner (fraction).
    pub illum_falloff: (f32, f32),
    /// Gaussian defocus sigma range (px at a 576-px-high frame).
    pub defocus_px: (f32, f32),
    /// Motion-blur length range (px), applied with probability `motion_prob`.
    pub motion_px: (f32, f32),
    /// Probability of motion blur.
    pub motion_prob: f32,
    /// Sensor read-noise sigma range (gray levels, before JPEG).
    pub noise: (f32, f32),
    /// JPEG-like quality range (DCT quantisation, 1–100).
    pub jpeg_quality: (u32, u32),
    /// Up to this many clutter objects in the background.
    pub clutter: u32,
    /// Probability of device frame parts at the borders.
    pub border_parts_prob: f32,
    /// Probability of glare spots (at the borders, and specular on the palm).
    pub glare_prob: f32,
    /// Probability of a partial occlusion of the hand.
    pub occlusion_prob: f32,
    /// Probability that fingertips leave the frame.
    pub out_of_frame_prob: f32,
}

/// Photometric targets (mean gray levels, 0–255) that the renderer maps albedo 1.0 to.
pub mod levels {
    /// Visible palm level for albedo 1 under nominal light (visible ROI mean ~124 after lines).
    pub const VIS_PALM: f32 = 138.0;
    /// NIR palm level for albedo 1 under nominal light (NIR ROI mean ~103, hand mean ~93).
    pub const NIR_PALM: f32 = 108.0;
    /// Visible background level (dark box).
    pub const VIS_BG: f32 = 22.0;
    /// NIR background level (measured 17 on the real set).
    pub const NIR_BG: f32 = 17.0;
}
