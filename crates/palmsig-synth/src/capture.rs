//! The capture model: how one presentation of a hand differs from another (pose, posture,
//! skin deformation, light, optics, sensor, background), drawn per session and per capture.

use palmsig_core::Rng;

use crate::hand::Posture;
use crate::identity::Identity;
use crate::params::Difficulty;

/// Everything that varies between presentations of one identity. Draw it with
/// [`CaptureSpec::sample`] (deterministic) or build it by hand (e.g. [`CaptureSpec::neutral`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSpec {
    /// Preset the spec was drawn from (decides nothing by itself once drawn).
    pub difficulty: Difficulty,
    /// Session label (1, 2, …).
    pub session: u32,
    /// Capture index within the hand (0-based, over all sessions).
    pub index: u32,
    /// In-plane rotation of the upright hand, degrees, clockwise on screen.
    pub rotation_deg: f32,
    /// Hover-distance scale relative to nominal (1.0 = nominal).
    pub scale: f32,
    /// Tilt about the hand's x and y axes, degrees (perspective foreshortening).
    pub tilt_deg: [f32; 2],
    /// Placement inside the feasible range, 0–1 per axis (0.5 = centred).
    pub place: [f32; 2],
    /// Finger spread changes.
    pub posture: Posture,
    /// Elastic skin displacement amplitude (mm) and its field's seed.
    pub elastic_mm: f32,
    /// Seed of the elastic displacement field.
    pub elastic_seed: u64,
    /// Exposure multiplier (1.0 = nominal).
    pub exposure: f32,
    /// Light centre (fraction of the frame).
    pub light_centre: [f32; 2],
    /// Light fall-off from the centre to the frame corner (fraction).
    pub light_falloff: f32,
    /// Defocus Gaussian sigma (px at a 576-px-high frame).
    pub defocus_px: f32,
    /// Motion-blur length (px at 576 high; 0 = none) and direction (radians).
    pub motion_px: f32,
    /// Motion-blur direction (radians).
    pub motion_angle: f32,
    /// Sensor read-noise sigma (gray levels).
    pub noise: f32,
    /// JPEG-like quality (1–100; 100 = no quantisation artefacts to speak of).
    pub jpeg_quality: u32,
    /// Number of clutter objects in the background.
    pub clutter: u32,
    /// Device frame parts at the borders.
    pub border_parts: bool,
    /// Glare spots (borders, and a specular spot on the palm).
    pub glare: bool,
    /// A partial occlusion of the hand.
    pub occlusion: bool,
    /// Fingertips pushed out of the frame.
    pub out_of_frame: bool,
    /// Seed of the background/glare/occlusion layout and of the sensor noise.
    pub scene_seed: u64,
    /// ROI crops only: residual misalignment shift (px of a 128-px ROI), x and y.
    pub roi_shift: [f32; 2],
    /// ROI crops only: residual rotation, degrees.
    pub roi_rotation_deg: f32,
    /// ROI crops only: residual scale (1.0 = exact).
    pub roi_scale: f32,
}

fn jit(rng: &mut Rng, a: f32) -> f32 {
    if a <= 0.0 {
        return 0.0;
    }
    rng.range(-a as f64, a as f64) as f32
}

fn between(rng: &mut Rng, r: (f32, f32)) -> f32 {
    if r.1 <= r.0 {
        return r.0;
    }
    rng.range(r.0 as f64, r.1 as f64) as f32
}

impl CaptureSpec {
    /// An upright, centred, clean capture (no tilt, blur, noise, clutter): for tests and docs.
    pub fn neutral() -> CaptureSpec {
        CaptureSpec {
            difficulty: Difficulty::Easy,
            session: 1,
            index: 0,
            rotation_deg: 0.0,
            scale: 1.0,
            tilt_deg: [0.0, 0.0],
            place: [0.5, 0.5],
            posture: Posture::default(),
            elastic_mm: 0.0,
            elastic_seed: 0,
            exposure: 1.0,
            light_centre: [0.5, 0.5],
            light_falloff: 0.0,
            defocus_px: 0.0,
            motion_px: 0.0,
            motion_angle: 0.0,
            noise: 0.0,
            jpeg_quality: 100,
            clutter: 0,
            border_parts: false,
            glare: false,
            occlusion: false,
            out_of_frame: false,
            scene_seed: 0,
            roi_shift: [0.0, 0.0],
            roi_rotation_deg: 0.0,
            roi_scale: 1.0,
        }
    }

    /// Draw capture `index` of `identity` in `session` (1-based label) for a preset.
    ///
    /// Deterministic in (identity seed, session, index). Each session has its own mean pose,
    /// light and posture (drawn once per identity and session); captures jitter around it.
    /// Sessions after the first jitter 1.5x more and deform the skin 1.5x more, as a re-presented
    /// hand a month later does.
    pub fn sample(
        identity: &Identity,
        difficulty: Difficulty,
        session: u32,
        index: u32,
    ) -> CaptureSpec {
        let p = difficulty.preset();
        let mut srng = Rng::derive(identity.seed() ^ 0x5E55_1011, session as u64);
        let s = &mut srng;
        let rot_mean = jit(s, p.session_rotation_deg);
        let scale_mean = 1.0 + jit(s, p.scale * 0.7);
        let tilt_mean = [jit(s, p.tilt_deg * 0.6), jit(s, p.tilt_deg * 0.6)];
        let place_mean = [0.5 + jit(s, 0.3), 0.5 + jit(s, 0.3)];
        let spread_mean: [f32; 4] = std::array::from_fn(|_| jit(s, p.spread_deg * 0.7));
        let light_mean = [0.5 + jit(s, 0.15), 0.5 + jit(s, 0.15)];
        let exposure_mean = 1.0 + jit(s, p.exposure * 0.6);
        let falloff_mean = between(s, p.illum_falloff);

        let mut crng = Rng::derive(
            identity.seed() ^ 0xCA97_0000,
            ((session as u64) << 32) | index as u64,
        );
        let c = &mut crng;
        let drift = if session > 1 { 1.5 } else { 1.0 };
        let rj = match difficulty {
            Difficulty::Easy => 2.0,
            Difficulty::Realistic => 4.0,
            Difficulty::Hard => 7.0,
        } * drift;
        let rotation_deg = (rot_mean + jit(c, rj)).clamp(-p.rotation_deg, p.rotation_deg);
        let scale = (scale_mean + jit(c, 0.03 * drift)).clamp(1.0 - p.scale, 1.0 + p.scale);
        let tilt_deg = [
            (tilt_mean[0] + jit(c, p.tilt_deg * 0.3 * drift)).clamp(-p.tilt_deg, p.tilt_deg),
            (tilt_mean[1] + jit(c, p.tilt_deg * 0.3 * drift)).clamp(-p.tilt_deg, p.tilt_deg),
        ];
        let place = [
            (place_mean[0] + jit(c, 0.08 * drift)).clamp(0.0, 1.0),
            (place_mean[1] + jit(c, 0.08 * drift)).clamp(0.0, 1.0),
        ];
        let spread: [f32; 4] = std::array::from_fn(|i| {
            (spread_mean[i] + jit(c, p.spread_deg * 0.4 * drift))
                .clamp(-p.spread_deg, p.spread_deg)
                .to_radians()
        });
        let elastic_mm = between(c, p.elastic_mm) * drift;
        let elastic_seed = c.next_u64();
        let exposure = (exposure_mean + jit(c, p.exposure * 0.4)).max(0.3);
        let light_centre = [light_mean[0] + jit(c, 0.04), light_mean[1] + jit(c, 0.04)];
        let light_falloff = (falloff_mean + jit(c, 0.03)).max(0.0);
        let defocus_px = between(c, p.defocus_px);
        let (motion_px, motion_angle) = if c.chance(p.motion_prob as f64) {
            (
                between(c, p.motion_px),
                c.range(0.0, std::f64::consts::PI) as f32,
            )
        } else {
            (0.0, 0.0)
        };
        let noise = between(c, p.noise);
        let jpeg_quality =
            p.jpeg_quality.0 + c.below((p.jpeg_quality.1 - p.jpeg_quality.0 + 1) as u64) as u32;
        let clutter = if p.clutter == 0 {
            0
        } else {
            c.below(p.clutter as u64 + 1) as u32
        };
        let border_parts = c.chance(p.border_parts_prob as f64);
        let glare = c.chance(p.glare_prob as f64);
        let occlusion = c.chance(p.occlusion_prob as f64);
        let out_of_frame = c.chance(p.out_of_frame_prob as f64);
        let scene_seed = c.next_u64();
        let (rs, rr, rsc) = match difficulty {
            Difficulty::Easy => (1.0, 1.0, 0.02),
            Difficulty::Realistic => (3.0, 3.0, 0.05),
            Difficulty::Hard => (6.0, 6.0, 0.08),
        };
        let roi_shift = [jit(c, rs), jit(c, rs)];
        let roi_rotation_deg = jit(c, rr);
        let roi_scale = 1.0 + jit(c, rsc);
        CaptureSpec {
            difficulty,
            session,
            index,
            rotation_deg,
            scale,
            tilt_deg,
            place,
            posture: Posture { spread },
            elastic_mm,
            elastic_seed,
            exposure,
            light_centre,
            light_falloff,
            defocus_px,
            motion_px,
            motion_angle,
            noise,
            jpeg_quality,
            clutter,
            border_parts,
            glare,
            occlusion,
            out_of_frame,
            scene_seed,
            roi_shift,
            roi_rotation_deg,
            roi_scale,
        }
    }
}
