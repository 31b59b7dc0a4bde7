//! Every threshold and coding parameter of the crate, with why it has its value.
//!
//! Changing anything in the "coding" group changes the codes: it must change
//! [`crate::Algorithm::param_hash`] (the hash is computed from these values, so it does so by
//! construction) and templates made with the old values are then refused, never compared.

/// Working resolution of the surface code: ROIs of any size are centre-cropped to a square and
/// resampled to this side (the vision contract's `ROI_SIZE`; real ROI crops are 128–600 px).
pub const WORK_SIZE: usize = 128;

/// Code grid: `GRID x GRID` samples (stride `WORK_SIZE / GRID` = 4 px). 32 columns fit one
/// machine word per row, so an x-shift in the matcher is a word shift.
pub const GRID: usize = 32;

/// Pixels at or below this gray level are "no data" (padding outside the frame, black
/// occluders); JPEG noise keeps true padding within a few levels of 0.
pub const INVALID_DARK: u8 = 3;
/// Pixels at or above this level are saturated (glare, overexposure): no texture survives.
pub const INVALID_BRIGHT: u8 = 252;

/// Box radius (px, at working resolution) of the local mean/std normalisation. Large compared
/// with line width (2–5 px) so lines keep their relative strength, small compared with the ROI so
/// illumination gradients and the NIR's very low contrast (std 7–10) are equalised.
pub const NORM_RADIUS: usize = 12;
/// Floor of the local standard deviation (gray levels) in the normalisation: flat regions are not
/// blown up into noise.
pub const NORM_MIN_STD: f32 = 2.0;
/// A sample whose filter support has less than this fraction of valid pixels is masked out.
pub const MIN_VALID_SUPPORT: f32 = 0.6;
/// A sample whose raw local std (gray levels) is below this is masked out: a flat patch has no
/// line to code (saturated, occluded, or out-of-focus blob). Real NIR ROIs have std ~7–10 over
/// the whole ROI, so this is kept well below that.
pub const MIN_LOCAL_STD: f32 = 0.6;

/// Occluders: radius (px at `WORK_SIZE`) of the box whose mean and std find an occluder's core:
/// small, because a box that reaches the occluder's edge sees the step and a large std.
pub const OCCLUDER_RADIUS: usize = 6;
/// Occluders: a pixel whose local mean (box of [`OCCLUDER_RADIUS`]) is below this fraction of the
/// ROI's median local mean *and* whose local std is below [`OCCLUDER_STD_FRACTION`] of the
/// median local std is covered by something (a strap, a sleeve) and is not coded. Shadows and
/// vignetting of a palm-centre ROI stay well above this level and keep their texture.
pub const OCCLUDER_MEAN_FRACTION: f32 = 0.6;
/// Occluders: see [`OCCLUDER_MEAN_FRACTION`]; inside an occluder only sensor noise remains.
pub const OCCLUDER_STD_FRACTION: f32 = 0.5;
/// Occluders: a region whose local std is below this fraction of the median local std is
/// covered whatever its level (an object about as bright as skin in this band: the level test
/// above misses it, and coding its sensor noise gives random bits), when the region covers at
/// least [`OCCLUDER_FLAT_MIN_AREA`] of the ROI.
pub const OCCLUDER_FLAT_STD_FRACTION: f32 = 0.25;
/// Occluders: a pixel is "quiet" in a band when its local std (box of [`OCCLUDER_RADIUS`]) is
/// below this multiple of its local sensor-noise level (RMS of the 4-neighbour high-pass over the
/// same box, over its white-noise gain). A region quiet in *both* bands is an object between
/// hand and camera, whatever its level: an object of about the skin's level and smoothness in
/// either band alone is not told from smooth skin there. On 500-identity synthetic sets (128 px
/// ROIs) objects give box std 1.3–1.5 times the noise level; at 1.5 no clean ROI of 100 checked
/// held a region of 5 % quiet in both bands, at 1.7 a few low-contrast ones did (up to 60 %
/// masked once grown). Cross-session EER with 1.5 on seeds 11 / 13 / 17: 0.214 → 0.191,
/// 0.303 → 0.279, 0.359 → 0.347 %.
pub const OCCLUDER_QUIET_RATIO: f32 = 1.5;
/// Occluders: smallest region quiet in both bands that is masked, as a fraction of the ROI.
pub const OCCLUDER_QUIET_MIN_AREA: f32 = 0.05;
/// Occluders: when the regions quiet in both bands cover more than this fraction of the ROI,
/// none is masked: a whole ROI that looks quiet has texture too fine (or too faint) for the
/// noise estimate, and the objects this rule is for covered at most ~40 % of synthetic ROIs.
pub const OCCLUDER_QUIET_MAX_AREA: f32 = 0.5;
/// Occluders: lowest noise level (gray levels) assumed for "quiet": the 8-bit quantisation
/// step's own noise (1/√12), so a noise-free flat region still counts.
pub const OCCLUDER_NOISE_FLOOR: f32 = 0.3;
/// Occluders: smallest texture-free region masked for flatness alone, as a fraction of the ROI
/// (skin has small smooth patches between its lines; a strap is a large one).
pub const OCCLUDER_FLAT_MIN_AREA: f32 = 0.02;
/// Occluders: the core is grown by this many pixels (at `WORK_SIZE`): the core stops
/// `OCCLUDER_RADIUS` short of the edge, and the blurred edge itself, a strong step, must not be
/// coded as a palm line. Growth is applied on the 2 px occlusion grid, so only even values
/// differ. Measured (cross-session fused EER, seeds 11 / 13 / 17): 10 px gave 0.169 / 0.247 /
/// 0.247 %, 8 px 0.155 / 0.242 / 0.213 %; 6 px (0.210 % on seed 11) leaves edge steps coded,
/// 14 px (0.270 %) masks too much palm around every object.
pub const OCCLUDER_GROW: usize = 8;

/// Surface filters: number of orientations (competitive code family standard: 6, 30° apart).
pub const ORIENTATIONS: usize = 6;
/// Surface filters: kernel radius (px at 128 px working resolution).
pub const SURFACE_RADIUS: usize = 10;
/// Surface filters: wavelength of the even Gabor (px). Principal lines and creases are 2–5 px
/// wide at 128 px; a wavelength of ~2.5 line widths gives a negative centre lobe on dark lines.
pub const SURFACE_WAVELENGTH: f32 = 10.0;
/// Surface filters: Gaussian sigma across the line direction (px).
pub const SURFACE_SIGMA_ACROSS: f32 = 3.0;
/// Surface filters: Gaussian sigma along the line direction (px); elongated for orientation
/// selectivity.
pub const SURFACE_SIGMA_ALONG: f32 = 6.0;

/// Surface: a sample whose competitive strength (max − min of the six responses) is below this
/// times the ROI's median strength is masked: on flat skin the winning orientation is decided by
/// texture and noise and does not repeat between captures.
pub const SURFACE_MIN_STRENGTH: f32 = 0.0;

/// Vein code: the NIR ROI is coded at half resolution (64 px; veins are broad and faint, and the
/// halving also averages JPEG/sensor noise), on the same 32x32 grid (stride 2).
pub const VEIN_SIZE: usize = 64;
/// Vein filters: kernel radius (px at 64 px).
pub const VEIN_RADIUS: usize = 6;
/// Vein filters: wavelength (px at 64 px): veins are 4–8 px wide at 128 px.
pub const VEIN_WAVELENGTH: f32 = 8.0;
/// Vein filters: sigma across (px at 64 px).
pub const VEIN_SIGMA_ACROSS: f32 = 2.5;
/// Vein filters: sigma along (px at 64 px).
pub const VEIN_SIGMA_ALONG: f32 = 4.0;

/// Vein: as [`SURFACE_MIN_STRENGTH`], for the vein filters (relative to the median).
pub const VEIN_MIN_STRENGTH: f32 = 0.0;

/// Matcher: largest shift searched, in grid samples (±4 samples = ±16 px at 128 px, i.e. ±12%
/// of the ROI side: the residual misregistration of a valley-based ROI).
pub const MAX_SHIFT: i32 = 4;
/// Matcher: coarse pass uses every `COARSE_ROW_STEP`-th row to rank all shifts cheaply.
pub const COARSE_ROW_STEP: usize = 4;
/// Matcher: the best `REFINE_CANDIDATES` coarse shifts are evaluated on all rows.
pub const REFINE_CANDIDATES: usize = 3;
/// Matcher: the elastic refinement cuts the code into `BLOCKS x BLOCKS` blocks (1 = rigid).
pub const BLOCKS: usize = 4;
/// Matcher: each block's own shift, in samples, around the global best shift.
pub const LOCAL_SHIFT: i32 = 1;

// The matcher geometry has its home here; the SIMD kernels below this crate
// (`palmsig_core::simd::shift`) and the 1:N index above it (`palmsig_index::bitcode`) are written
// for the same numbers. A change here that they do not follow fails to compile instead of
// silently sending every comparison to the scalar path.
const _: () = {
    use palmsig_core::simd::shift;
    assert!(
        GRID == shift::GRID,
        "GRID differs from palmsig_core::simd::shift"
    );
    assert!(
        MAX_SHIFT == shift::MAX_SHIFT,
        "MAX_SHIFT differs from the kernels"
    );
    assert!(
        COARSE_ROW_STEP == shift::COARSE_ROW_STEP,
        "COARSE_ROW_STEP differs"
    );
    assert!(BLOCKS == shift::BLOCKS, "BLOCKS differs from the kernels");
    assert!(
        LOCAL_SHIFT == shift::LOCAL_SHIFT,
        "LOCAL_SHIFT differs from the kernels"
    );
};
/// Matcher (elastic): a block's local shift with a lower distance replaces the block's current
/// best only if it keeps at least `BLOCK_KEEP.0 / BLOCK_KEEP.1` (3/4) of that best's overlap: a
/// block may not escape into a sliver of lucky samples.
pub const BLOCK_KEEP: (u32, u32) = (3, 4);
/// Matcher (elastic): a local shift with more than `BLOCK_GAIN.0 / BLOCK_GAIN.1` (4/3) times the
/// current best's overlap replaces it when its distance is at most [`BLOCK_SLACK`] higher: much
/// more evidence at a near-equal distance is the better alignment.
pub const BLOCK_GAIN: (u32, u32) = (4, 3);
/// See [`BLOCK_GAIN`]; in units of the block distance `d / n` (differing plane bits per jointly
/// valid sample).
pub const BLOCK_SLACK: f32 = 0.02;
/// Matcher: fewer jointly valid samples than this (of 1024) and a modality gives no score: a
/// distance over a sliver of overlap says nothing.
pub const MIN_OVERLAP: u32 = 256;
/// Matcher: overlap (valid samples) at which the Daugman-style normalisation of the distance is
/// neutral; a smaller overlap pulls the distance towards 0.5 (less evidence, less similarity).
pub const NOMINAL_OVERLAP: f32 = 800.0;

/// Matcher (pose search): a comparison whose raw fused z (impostor z-score of the distances,
/// before the calibration's tails) reaches this is compared again with the probe's codes turned
/// and scaled by every pose of [`POSE_ANGLES`] x [`POSE_SCALES`], and keeps the best. The palm
/// frame of a full-hand capture errs by up to ~10° and ~15 % in scale where the finger valleys
/// are hard to read, which the shift search cannot absorb; on real 940 nm captures such genuine
/// pairs score at the impostors' level before the search, so no gate above the impostor mass
/// keeps them: every comparison is searched (cross-session EER on the 940 nm development set,
/// BOCV: 0.68 % searching all, 2.0 % with a gate at z = −1, 2.5 % at 0 or 1; synthetic tails).
/// It costs about nine shift searches per comparison; the 1:N coarse scan is not affected.
pub const POSE_MIN_Z: f32 = f32::NEG_INFINITY;
/// Matcher (pose search): probe turns tried (degrees). ±6° with the elastic blocks' own ±1
/// sample covers the errors seen; a finer grid (±3/6/9°, five scales: 35 poses) gave the same
/// EER (0.090 % cross-session, seed 11) at 30 % fewer comparisons per second.
pub const POSE_ANGLES: [f32; 3] = [-6.0, 0.0, 6.0];
/// Matcher (pose search): probe scales tried (1 with angle 0 is the plain comparison).
pub const POSE_SCALES: [f32; 3] = [0.92, 1.0, 1.08];

/// Largest template accepted or produced (bytes).
pub const MAX_TEMPLATE_BYTES: usize = 4096;

/// Smallest ROI side (px) accepted for coding: below this there are fewer pixels than samples
/// times filter support, and no real scanner produces it.
pub const MIN_ROI_SIDE: usize = 32;
/// A code with fewer valid samples than this (of 1024) is dropped from the template; a template
/// with no code left is refused (`no_texture`). Equal to the matcher's minimum overlap: a code
/// that could never reach it cannot be matched.
pub const MIN_VALID_SAMPLES: u32 = MIN_OVERLAP;

/// Development only (`tuning` feature): `default`, or the value of the environment variable
/// `key`, to tune a parameter without rebuilding. Templates made this way carry the default
/// parameter hash; the feature is never enabled in a product build.
#[cfg(feature = "tuning")]
pub(crate) fn tuned(key: &str, default: f32) -> f32 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Calibration fitting: tail knots stop where fewer than this many impostor scores remain above
/// the knot. A quantile estimated from 20 exceedances has a relative standard error of about
/// `1/sqrt(20)` ≈ 22 % in the rate (0.1 in `-log10`); fewer makes the last knots, and the slope
/// extrapolated from them, follow the noise of a small real dev set (a few thousand impostor
/// pairs reach ~2 decades of knots, the straight-line extension covers the rest).
pub const FIT_MIN_TAIL: usize = 20;
/// Calibration fitting: fewest impostor pairs (per fitted modality, and for the fused score)
/// from which a calibration is fitted. With 1000 and [`FIT_MIN_TAIL`] the knots reach
/// `S = 2e-2` (seven quarter-decade knots), the least that gives the extension slope a decade of
/// support; below it a refit is noise and the built-in tables are the better guess.
pub const FIT_MIN_IMPOSTORS: usize = 1000;
/// Calibration profile (JSON file) format written and the only one read: bump on any change of
/// its fields' meaning, so an old binary refuses a new profile instead of misreading it.
pub const PROFILE_FORMAT: u32 = 1;
/// Largest calibration profile file read (bytes): a profile is a few KiB (three tails of at most
/// [`PROFILE_MAX_KNOTS`] knots); anything far larger is not one, and is refused before parsing.
pub const PROFILE_MAX_BYTES: u64 = 1 << 20;
/// Most knots in one tail of a loaded calibration: quarter-decade knots down to `S = 1e-12`
/// (a trillion impostor pairs) are 49; 256 leaves room for finer fits and still bounds the
/// work of one score lookup.
pub const PROFILE_MAX_KNOTS: usize = 256;
/// Largest magnitude of a loaded calibration's knot coordinates, tail slopes and fusion weights.
/// Fitted values are single or double digits (z of a few, `-log10 S` below 12, slopes 1–3,
/// weights 5–12); the bound keeps every score a loaded profile can produce finite (at most
/// ~1e10 with [`PROFILE_MIN_SIGMA`]), so a hostile or corrupt profile cannot make `inf`/NaN.
pub const PROFILE_MAX_MAGNITUDE: f32 = 1e4;
/// Smallest impostor standard deviation of a loaded calibration: the floor `mean_std` itself
/// applies (1e-6), so every fitted profile passes while `z = (mu - d) / sigma` stays below 1e6.
pub const PROFILE_MIN_SIGMA: f32 = 1e-6;
