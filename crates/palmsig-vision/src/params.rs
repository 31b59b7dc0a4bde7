//! Every threshold of the vision pipeline, with the reason for its value.
//!
//! All thresholds are *relative* (fractions of the frame, of the palm size, of the gray-level
//! range) so that they hold for any image size, hand size and background; none is tied to the
//! synthetic generator's sizes.

/// Side of the square ROI handed to coding, in pixels (the architecture's contract).
pub const ROI_SIZE: usize = 128;

// ---------------------------------------------------------------- decoding

/// Largest accepted image, in pixels per side, read from the header and refused before any
/// allocation: a scanner frame is at most a few thousand pixels, and a few hundred bytes of PNG
/// can claim 16000×16000 (a decompression bomb).
pub const MAX_IMAGE_SIDE: u32 = 8_192;
/// Largest accepted image area (pixels), also checked from the header: 40 MP is above any palm
/// sensor or phone camera frame, and bounds one decode (an 8-bit RGB frame: 120 MB, plus 40 MB
/// of gray output).
pub const MAX_IMAGE_PIXELS: u64 = 40_000_000;
/// Largest accepted decoder allocation in bytes (bounds memory on hostile input).
pub const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;
/// Smallest image side we can work with: below this there is no palm detail to code.
pub const MIN_IMAGE_SIDE: usize = 32;

// ---------------------------------------------------------------- segmentation

/// Longest side of the working image for segmentation and valleys. Hand shape needs ~200–300 px
/// (a finger is then ≥ 8 px wide); more only costs time.
pub const WORK_MAX_SIDE: usize = 300;
/// Longest side of the finer view the finger rings are also read in. At working resolution two
/// fingers a few pixels apart merge (the box average and the smoothing fill the gap); at up to
/// 1024 px they stay apart, and only the rings' samples and the gaps' floods are computed there.
pub const FINE_MAX_SIDE: usize = 1024;
/// Gaussian smoothing of the finer view, in its pixels: sensor noise off, gaps kept.
pub const FINE_SMOOTH_SIGMA: f32 = 1.0;
/// Gaussian smoothing before Otsu, in working pixels: removes sensor noise and palm texture so
/// the histogram is bimodal (hand vs background).
pub const SEGMENT_SMOOTH_SIGMA: f32 = 1.2;
/// Smallest radius (working px) of the morphological opening: removes specks and one-pixel
/// bridges even when the palm is small.
pub const SEGMENT_OPEN_RADIUS: f32 = 1.5;
/// Second, scale-aware opening: a disc of this fraction of the palm radius. Fingers are ~0.45
/// radii wide and survive; thinner device parts and clutter touching them are cut off.
pub const SEGMENT_OPEN_PALM_FRACTION: f32 = 0.14;
/// Stronger opening tried when the fingers of a blob cannot be read (clutter touching them).
pub const SEGMENT_STRONG_OPEN_PALM_FRACTION: f32 = 0.2;
/// A second Otsu split inside the hand blob is tried when its two classes differ by at least
/// this fraction of the hand/background contrast (a background object of another brightness
/// merged with the hand; the hand's own shading spreads less).
pub const SPLIT_MIN_SEPARATION: f32 = 0.25;
/// A blob smaller than this fraction of the frame is never a hand candidate.
pub const MIN_CANDIDATE_FRACTION: f32 = 0.01;
/// How many of the largest blobs are tried as the hand (the largest may be device clutter).
pub const MAX_HAND_CANDIDATES: usize = 3;
/// Minimum Otsu between-class separation, as a fraction of the full gray range, for the frame
/// to contain a foreground at all (a uniform frame has none: `no_hand`).
pub const MIN_CLASS_SEPARATION: f32 = 0.06;

// ---------------------------------------------------------------- hand placement gate

/// Hand mask smaller than this fraction of the frame → "hand too far". Real full-hand captures
/// cover 26–37 % (p10–p90); a third of the low end still leaves fingers ≥ ~8 px at working size.
pub const MIN_HAND_FRACTION: f32 = 0.06;
/// A blob too small for a hand that fills more than this fraction of its bounding box is refused
/// as `no_hand`, not `hand_too_far`: a hand's outline with its fingers leaves gaps in its box
/// (about 0.4-0.7 open or closed), a window bar, a button or a sheet of paper does not.
pub const MAX_HAND_BOX_FILL: f32 = 0.85;
/// Hand mask larger than this fraction of the frame → "hand too close" (fingers or palm edges
/// then leave the frame; real captures stay below ~40 %).
pub const MAX_HAND_FRACTION: f32 = 0.70;

/// When the palm's inscribed radius exceeds this fraction of the frame's short side, the hand is
/// too close (real and synthetic captures: ~0.15–0.22; at 0.3 the palm alone fills most of the
/// frame and the fingers leave it).
pub const MAX_PALM_RADIUS_FRACTION: f32 = 0.3;

// ---------------------------------------------------------------- valleys

/// A fingertip is a contour point at least this many palm radii from the palm centre (the palm
/// centre is the maximum of the distance transform; its value is the palm radius). Real tips lie
/// 1.9–3 radii away; the thumb tip ~1.8.
pub const TIP_MIN_DIST_RADII: f32 = 1.35;
/// A fingertip must rise this many palm radii above the valleys on both sides (prominence), so
/// that bumps of the palm outline are not taken for fingers.
pub const TIP_MIN_PROMINENCE_RADII: f32 = 0.35;
/// Non-maximum suppression window along the contour, in palm radii: adjacent fingertips are
/// ≥ ~2 finger lengths (≥ 2 radii) apart along the outline.
pub const TIP_NMS_RADII: f32 = 0.8;
/// Smoothing of the centre-distance profile along the contour, in palm radii.
pub const PROFILE_SMOOTH_RADII: f32 = 0.08;
/// Contour points closer than this (working px) to the frame border are "cut" and can be neither
/// tips nor valleys (the wrist/forearm leaves the frame there).
pub const BORDER_MARGIN: usize = 2;
/// A cut run of the outline no longer than this many palm radii, far from the palm centre, is a
/// finger running out of the frame (a finger is ~0.45 radii wide; the wrist is ~1.5).
pub const MAX_FINGER_CUT_RADII: f32 = 1.0;
/// The fingers' direction (whose opposite is the wrist's) is the mean direction of this many
/// tips farthest from the palm centre: three of index, middle, ring and little finger.
pub const WRIST_FROM_TIPS: usize = 3;
/// No fingertip lies within this angle (degrees, seen from the palm centre) of the direction to
/// the wrist: the thumb, the finger nearest the wrist, points 80–130° away from it. What sticks
/// out there is device frame or clutter at the border merged into the mask: on the 940 nm real
/// development set that was half of the failures to acquire (a bogus "finger" beside the wrist
/// breaks the finger row).
pub const WRIST_CONE_DEG: f32 = 60.0;
/// Radii (in palm radii) of the rings around the palm centre scanned for fingers: between the
/// finger bases (~1.2) and the shortest fingertip (~2).
pub const RING_RADII: [f32; 3] = [1.45, 1.65, 1.85];
/// A run of the mask along a ring is a finger when its width is within these bounds, in palm
/// radii (a finger is ~0.45 radii wide; two touching fingers ~0.9; the wrist ~1.5).
pub const FINGER_MIN_WIDTH_RADII: f32 = 0.18;
/// See [`FINGER_MIN_WIDTH_RADII`].
pub const FINGER_MAX_WIDTH_RADII: f32 = 0.75;
/// Weight of the valley-depth term of a finger hypothesis: `|ln(|V1−C|/|V2−C|)| +
/// |ln(|V3−C|/|V2−C|)|` with C the palm centre. V1–V3 sit at similar distances from the palm
/// centre; the thumb web sits much nearer, so a row shifted onto the thumb scores badly.
pub const VALLEY_DEPTH_WEIGHT: f32 = 2.0;
/// Arm of the k-cosine corner measure that places a valley on the outline, in palm radii (about
/// half a finger width).
pub const VALLEY_CORNER_RADII: f32 = 0.2;
/// Outline points at least this fraction as deep (below the tips' chord) as the deepest one
/// compete for the valley by corner sharpness.
pub const VALLEY_DEEP_FRACTION: f32 = 0.75;
/// A run along a ring up to this wide (palm radii) is taken as two touching fingers.
pub const FINGER_PAIR_MAX_WIDTH_RADII: f32 = 1.3;
/// The valleys V3, V2, V1 bend at V2 by up to this much (degrees) without penalty: synthetic
/// hands keep them nearly in line, but real hands with spread fingers bend them by 30–45° (the
/// middle finger's valley lies deeper in the palm): on the 940 nm real development set three
/// of eight failures to acquire were clean hands refused for that bend alone.
pub const FREE_V2_BEND_DEG: f32 = 25.0;
/// Penalty of a finger hypothesis whose V2 is hidden between touching fingers (interpolated
/// midway between V1 and V3; V2 does not enter the ROI).
pub const HIDDEN_V2_PENALTY: f32 = 0.4;
/// Typical gap between adjacent finger valleys, in palm radii (hand proportions: a finger base
/// is about a quarter of the palm width, i.e. half a radius).
pub const VALLEY_GAP_RADII: f32 = 0.5;
/// How much a digit seen with its valley beyond the index finger (the thumb) favours a finger
/// hypothesis over the others, as a tie-break only (it is not subtracted from the pattern score
/// that [`MAX_FINGER_PATTERN_SCORE`] limits). A scan that misses the little finger (a ring
/// passing above its tip) can take ring–middle–index–thumb for little–ring–middle–index and
/// score as well as the true row seen by another scan. On seed 11 this turned one such clean
/// capture (22° off) right and cut cross-session EER 0.192 → 0.169 %; seeds 13 and 17 were
/// unchanged, and 0.1 / 0.2 / 0.3 measured the same on all three.
pub const THUMB_SUPPORT: f32 = 0.2;
/// The axes (valley → tip) of two adjacent fingers may differ this much without penalty: spread
/// fingers fan out by up to ~30–35° between neighbours (the little finger most). The thumb leaves
/// the palm at 45–90° to the index, so a hypothesis that took it for a finger is penalised.
pub const FINGER_AXIS_FREE_DEG: f32 = 35.0;
/// Penalty per radian of adjacent-axis difference beyond [`FINGER_AXIS_FREE_DEG`] (measured on
/// synthetic captures where clutter hid a finger: the thumb-as-index hypothesis then differs by
/// 50–70°, and this weight lifts it past [`MAX_FINGER_PATTERN_SCORE`] together with its other
/// terms).
pub const FINGER_AXIS_WEIGHT: f32 = 4.0;
/// Largest plausibility penalty of the chosen finger hypothesis (sum of log gap ratio, bend at
/// V2 in radians, log gap/palm ratio and finger-length order terms; a clean hand scores < 0.8).
/// Since the finger rings are also read in the finer view, picks above 1.4 are rare (≤ 0.2 % of
/// synthetic captures) and mostly hands with something over the finger bases, read wrong: from
/// 2.0 to 1.7 cost 2–4 more failures to acquire per 6000 captures and lowered cross-session EER
/// on seeds 13 / 17 (0.28 → 0.25 %, 0.35 → 0.25 %; seed 11 unchanged). 1.5 turned good picks
/// into other, wrong ones from refined masks (seed 13 0.28 → 0.30 %).
pub const MAX_FINGER_PATTERN_SCORE: f32 = 1.7;

// ---------------------------------------------------------------- ROI and quality

/// Largest fraction of ROI samples allowed to fall outside the image before the capture is a
/// partial hand (a few percent at a corner is filled by clamping).
pub const MAX_ROI_OUTSIDE: f32 = 0.03;
/// Smallest valley spacing `|V1−V3|`, in pixels of the original image, that still gives a
/// usable ROI (below, the palm is too small: hand too far).
pub const MIN_VALLEY_SPAN_PX: f32 = 24.0;
/// Saturated gray level (of 255): at or above it a pixel carries no texture.
pub const SATURATED_LEVEL: u8 = 250;
/// More than this fraction of saturated hand (or ROI) pixels → overexposed.
pub const MAX_SATURATED_FRACTION: f32 = 0.25;
/// Frame whose 99.9th percentile (or ROI whose mean + 2 std) is below this gray level is
/// underexposed: nothing in it reaches ~a tenth of the range (real NIR hands average ~93,
/// background ~17). The 99.9th percentile still sees a small, distant hand.
pub const MIN_P99_LEVEL: f32 = 28.0;
/// Hand whose mean is below this gray level is underexposed (too dark to code).
pub const MIN_HAND_MEAN: f32 = 24.0;
/// Blur of a full-hand capture: width of the hand's silhouette edge (contrast over the peak
/// gradient) in palm radii. Soft real focus gives ~0.05–0.1; a capture blurred past ~0.35 palm
/// radii has lost creases and veins entirely.
pub const MAX_EDGE_WIDTH_RADII: f32 = 0.35;
/// Blur of an ROI capture (no silhouette to measure): Laplacian variance, less the 8-bit
/// quantisation floor (20/12 gray levels²), over gray-level variance, after normalisation to
/// 128 px. Kept lenient because real ROI crops are soft (contactless NIR: Laplacian variance 3.2
/// at std 10) and we estimate them at ≥ ~0.04; only a crop with nothing finer than ~25 px left
/// (a Gaussian blur of σ ≳ 8 px) falls below.
pub const MIN_ROI_SHARPNESS: f32 = 0.005;
/// Laplacian variance of uniform 8-bit quantisation noise (4-neighbour kernel: 20 × 1/12).
pub const QUANTISATION_LAPLACIAN_VAR: f32 = 20.0 / 12.0;
/// ROI whose gray-level standard deviation is below this has no usable contrast (real NIR ROI
/// crops have std ~6–10; a flat patch has < 1).
pub const MIN_ROI_STD: f32 = 1.5;
/// Tilt proxy: the ratio of the two valley gaps `|V1−V2| / |V2−V3|`. Natural hands give
/// 0.7–1.4; a palm turned strongly out of plane foreshortens one side. Outside [1/x, x] →
/// tilted. Kept wide: tilts within ±10° barely move it, and V2 does not enter the ROI.
pub const MAX_VALLEY_GAP_RATIO: f32 = 3.0;

/// Palm frame: typical `|V1−V3| / r` (valley span over the palm's inscribed radius; 0.94 on the
/// synthetic hands, median 1.09 (p10–p90 0.99–1.21) on the 940 nm real development set). It
/// only sets where the circle's direction cue fades ([`crate::PalmFrame::steadied`]) and which
/// spans are far too short for the palm (`check_span`).
pub const PALM_RADIUS_TO_SPAN: f32 = 0.94;
/// Palm frame: the inscribed-circle cues are ignored when the direction to the palm centre
/// differs from the valley line's normal by more than this (one of the two is wrong).
pub const MAX_FRAME_CUE_ANGLE_DEG: f32 = 25.0;
/// Palm frame: … or when `ln(|V1−V3| / (PALM_RADIUS_TO_SPAN·r))` is above this: the inscribed
/// circle is too small for the valleys, because something covering the palm (a strap, a sleeve)
/// notches the mask and shrinks and moves the circle. On synthetic captures the ratio's p0.5–
/// p99.5 is −0.14…+0.18 and captures above +0.2 had an occluder over the palm. 0.3, not 0.2,
/// leaves room for real hands, whose span-to-radius ratio may sit above the synthetic 0.94.
pub const MAX_FRAME_CUE_SCALE_LOG: f32 = 0.3;
/// Palm frame: from this `ln(|V1−V3| / (PALM_RADIUS_TO_SPAN·r))` up to
/// [`MAX_FRAME_CUE_SCALE_LOG`] the circle's cues fade linearly from full weight to none, instead
/// of counting fully right up to the limit: an occluder's notch that shrinks the circle less
/// than the limit also moves its centre. Cross-session / all-pairs fused EER on seeds 11 / 13 /
/// 17 / 19 (500 ids): 0.155 / 0.155, 0.242 / 0.236, 0.213 / 0.195, 0.429 / 0.453 % without the
/// fade; 0.135 / 0.142, 0.225 / 0.215, 0.208 / 0.193, 0.417 / 0.419 % with it. A fade from 0.15
/// measured the same except seed 17 (0.236 %).
pub const FRAME_CUE_FADE_SCALE_LOG: f32 = 0.2;
/// Valleys: … and below minus this the valleys themselves are refused (`check_span`): a span
/// that short for the palm means fingers merged with a device part or a notch taken for a web.
/// At 500 synthetic identities (seed 11) the 4 captures below −0.4 all failed against all
/// their mates.
pub const MIN_FRAME_CUE_SCALE_LOG: f32 = 0.4;
