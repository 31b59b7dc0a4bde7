//! Capture decoding, quality gate, hand segmentation and palm ROI extraction, stage by stage.
//!
//! Main types and functions:
//! * [`decode`] / [`load`] — PNG, JPEG, BMP, TIFF (8/16-bit, gray or colour) → 8-bit gray
//!   [`GrayImage`], or a typed [`DecodeError`].
//! * [`Capture`] — one presentation: its kind (full hand or ROI crop), the hand label, and a
//!   visible and/or NIR image.
//! * [`extract_roi`] — the straight-line pipeline: `check_exposure` → [`segment_hand`] →
//!   [`locate_valleys`] → [`palm_frame`] → [`crop_roi`] → [`check_roi_quality`], giving a
//!   [`RoiPair`] (128-px ROIs in the right-hand palm frame, with a [`QualityReport`]) or an
//!   [`AcquireError`] whose [`code`](AcquireError::code) is stable and whose
//!   [`message`](AcquireError::message) a scanner can show.
//! * [`ExplainSink`] — receives each stage's image; [`NoExplain`], [`MemorySink`], [`DirSink`].
//! * [`params`] — every threshold, with the reason for its value.
//!
//! ```
//! use palmsig_core::{CaptureKind, GrayImage, Hand};
//! use palmsig_vision::{extract_roi, AcquireError, Capture, NoExplain, params};
//!
//! // An already-cropped palm ROI is only normalised to 128 px.
//! let data: Vec<u8> = (0..200 * 200).map(|i| (60 + (i * 37 % 101)) as u8).collect();
//! let roi = GrayImage::from_vec(200, 200, data).unwrap();
//! let cap = Capture { kind: CaptureKind::Roi, hand: Hand::Unknown, visible: Some(roi), nir: None };
//! let pair = extract_roi(&cap, &mut NoExplain).unwrap();
//! assert_eq!(pair.visible.unwrap().width(), params::ROI_SIZE);
//!
//! // A black frame is refused with a reason.
//! let black = Capture::hand(Hand::Right, None, Some(GrayImage::new(320, 240)));
//! let err = extract_roi(&black, &mut NoExplain).unwrap_err();
//! assert_eq!(err.code(), "underexposed");
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod decode;
mod error;
mod explain;
mod frame;
mod imgops;
pub mod params;
mod quality;
mod segment;
mod valleys;

pub use decode::{decode, load};
pub use error::{AcquireError, DecodeError};
pub use explain::{DirSink, ExplainSink, MemorySink, NoExplain};
pub use frame::{crop_roi, normalise_roi, palm_frame, PalmFrame};
pub use quality::{
    check_exposure, check_hand_placement, check_roi_quality, check_tilt, exposure_stats, roi_stats,
    valley_gap_ratio, ExposureStats, RoiStats,
};
pub use segment::{segment_hand, working_factor, HandMask, Segmentation};
pub use valleys::{locate_valleys, locate_valleys_in, Valleys};

use palmsig_core::{CaptureKind, GrayImage, Hand, Point};

/// One presentation of a hand: a visible and/or a NIR image of the same moment (pixel-aligned or
/// nearly so; a companion image of another size is mapped proportionally).
#[derive(Debug, Clone)]
pub struct Capture {
    /// Full hand (ROI must be found) or an ROI crop (only normalised).
    pub kind: CaptureKind,
    /// The hand label, or [`Hand::Unknown`].
    pub hand: Hand,
    /// Visible-light image.
    pub visible: Option<GrayImage>,
    /// Near-infrared image.
    pub nir: Option<GrayImage>,
}

impl Capture {
    /// A full-hand capture.
    pub fn hand(hand: Hand, visible: Option<GrayImage>, nir: Option<GrayImage>) -> Self {
        Capture {
            kind: CaptureKind::Hand,
            hand,
            visible,
            nir,
        }
    }
    /// An ROI-crop capture.
    pub fn roi(hand: Hand, visible: Option<GrayImage>, nir: Option<GrayImage>) -> Self {
        Capture {
            kind: CaptureKind::Roi,
            hand,
            visible,
            nir,
        }
    }
}

/// Landmarks found on a full-hand capture, in the coordinates of the image segmented (the NIR
/// image when present, else the visible one).
#[derive(Debug, Clone, PartialEq)]
pub struct Keypoints {
    /// Finger valleys (V0 optional).
    pub valleys: Valleys,
    /// The ROI frame.
    pub frame: PalmFrame,
    /// ROI corners: top-left, top-right, bottom-right, bottom-left.
    pub corners: [Point; 4],
}

/// Quality measures of an accepted capture.
#[derive(Debug, Clone, PartialEq)]
pub struct QualityReport {
    /// Kind of the capture.
    pub kind: CaptureKind,
    /// The hand: the label given, or the side inferred from the thumb (full-hand captures).
    pub hand: Hand,
    /// Exposure of the frame used for segmentation (or of the ROI input).
    pub exposure: ExposureStats,
    /// Fraction of the frame covered by the hand (full-hand captures).
    pub hand_fraction: Option<f32>,
    /// Silhouette edge width in palm radii (full-hand captures; lower is sharper).
    pub edge_width: Option<f32>,
    /// Tilt proxy `|V1−V2| / |V2−V3|` (full-hand captures).
    pub valley_gap_ratio: Option<f32>,
    /// Statistics of the visible ROI.
    pub visible: Option<RoiStats>,
    /// Statistics of the NIR ROI.
    pub nir: Option<RoiStats>,
    /// Landmarks (full-hand captures).
    pub keypoints: Option<Keypoints>,
}

/// The normalised ROIs of a capture (`params::ROI_SIZE` square, right-hand palm frame, fingers
/// towards the top, not contrast-enhanced) and its quality report.
#[derive(Debug, Clone)]
pub struct RoiPair {
    /// Visible ROI, when the capture had a visible image.
    pub visible: Option<GrayImage>,
    /// NIR ROI, when the capture had a NIR image.
    pub nir: Option<GrayImage>,
    /// Quality measures.
    pub quality: QualityReport,
}

fn check_capture(c: &Capture) -> Result<&GrayImage, AcquireError> {
    let primary = match (&c.nir, &c.visible) {
        (Some(n), _) => n,
        (None, Some(v)) => v,
        (None, None) => return Err(AcquireError::BadImage("the capture has no image".into())),
    };
    for (name, img) in [("visible", &c.visible), ("nir", &c.nir)] {
        if let Some(i) = img {
            if i.width() < params::MIN_IMAGE_SIDE || i.height() < params::MIN_IMAGE_SIDE {
                return Err(AcquireError::BadImage(format!(
                    "{name} image {}x{} is smaller than {m}x{m}",
                    i.width(),
                    i.height(),
                    m = params::MIN_IMAGE_SIDE
                )));
            }
            if i.as_slice().len() != i.width() * i.height() {
                return Err(AcquireError::BadImage(format!(
                    "{name} image buffer size mismatch"
                )));
            }
        }
    }
    if let (Some(v), Some(n)) = (&c.visible, &c.nir) {
        // Companion images must show the same field of view: same aspect ratio within 2 %.
        let ar_v = v.width() as f32 / v.height() as f32;
        let ar_n = n.width() as f32 / n.height() as f32;
        if (ar_v / ar_n - 1.0).abs() > 0.02 {
            return Err(AcquireError::BadImage(format!(
                "visible {}x{} and NIR {}x{} images have different aspect ratios",
                v.width(),
                v.height(),
                n.width(),
                n.height()
            )));
        }
    }
    Ok(primary)
}

/// Extract the palm ROI(s) of a capture, stage by stage, emitting each stage's image to `sink`.
///
/// Full-hand captures are segmented on the NIR image when present (dark-box illumination gives
/// the cleanest silhouette), else on the visible one; the same geometry cuts both images.
/// ROI captures are only normalised (centre square, area-resized to `params::ROI_SIZE`).
pub fn extract_roi(c: &Capture, sink: &mut dyn ExplainSink) -> Result<RoiPair, AcquireError> {
    let primary = check_capture(c)?;
    match c.kind {
        CaptureKind::Roi => extract_from_roi(c, sink),
        CaptureKind::Hand => extract_from_hand(c, primary, sink),
    }
}

fn extract_from_roi(c: &Capture, sink: &mut dyn ExplainSink) -> Result<RoiPair, AcquireError> {
    let n = params::ROI_SIZE;
    let mut out = [None, None];
    let mut stats = [None, None];
    let mut exposure = None;
    for (k, (img, stage)) in [(&c.visible, "roi_visible"), (&c.nir, "roi_nir")]
        .into_iter()
        .enumerate()
    {
        let Some(img) = img else { continue };
        let e = quality::exposure_stats(img);
        if exposure.is_none() || k == 1 {
            exposure = Some(e);
        }
        let roi = normalise_roi(img, n);
        if sink.enabled() {
            sink.emit(stage, &roi);
        }
        stats[k] = Some(check_roi_quality(&roi, true)?);
        out[k] = Some(roi);
    }
    let [visible, nir] = out;
    let exposure =
        exposure.ok_or_else(|| AcquireError::BadImage("the capture has no image".into()))?;
    Ok(RoiPair {
        visible,
        nir,
        quality: QualityReport {
            kind: CaptureKind::Roi,
            hand: c.hand,
            exposure,
            hand_fraction: None,
            edge_width: None,
            valley_gap_ratio: None,
            visible: stats[0],
            nir: stats[1],
            keypoints: None,
        },
    })
}

fn extract_from_hand(
    c: &Capture,
    primary: &GrayImage,
    sink: &mut dyn ExplainSink,
) -> Result<RoiPair, AcquireError> {
    let exposure = check_exposure(primary)?;
    let seg = segment_hand(primary)?;
    if sink.enabled() {
        sink.emit("working", &seg.working.to_u8());
    }
    // The largest blob may be device clutter: take the first candidate with a valid placement
    // and finger valleys; otherwise report why the largest one failed.
    let mut first_err = None;
    let mut found = None;
    let fine = segment::FineSource::new(primary);
    'search: for cand in &seg.candidates {
        match hand_candidate(cand, &seg, fine, c.hand) {
            Ok((v, ew)) => {
                found = Some((cand.clone(), v, ew));
                break;
            }
            Err(e) => {
                // Fingers unreadable: maybe a background object touches them; try to split it
                // off. Placement and exposure failures are final.
                if matches!(
                    e,
                    AcquireError::NoValleys(_)
                        | AcquireError::PartialHand(_)
                        | AcquireError::PalmTilted { .. }
                ) {
                    for alt in segment::refine_candidate(&seg, cand) {
                        if let Ok((v, ew)) = hand_candidate(&alt, &seg, fine, c.hand) {
                            found = Some((alt, v, ew));
                            break 'search;
                        }
                    }
                }
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    let Some((mask, valleys, ew)) = found else {
        if sink.enabled() {
            let cand = &seg.candidates[0];
            sink.emit("mask", &cand.to_image());
            sink.emit("tips", &draw_tips(&seg.working.to_u8(), cand));
        }
        return Err(first_err.unwrap_or_else(|| AcquireError::NoHand("no hand candidate".into())));
    };
    if sink.enabled() {
        sink.emit("mask", &mask.to_image());
    }
    let frame = palm_frame(&valleys)?;
    if sink.enabled() {
        sink.emit(
            "keypoints",
            &draw_keypoints(&seg.working.to_u8(), &mask, &valleys, &frame),
        );
    }
    let ratio = quality::valley_gap_ratio(&valleys);
    if valleys.v1.dist(valleys.v3) < params::MIN_VALLEY_SPAN_PX {
        return Err(AcquireError::HandTooFar(format!(
            "the finger valleys span {:.0} px (minimum {:.0})",
            valleys.v1.dist(valleys.v3),
            params::MIN_VALLEY_SPAN_PX
        )));
    }
    let n = params::ROI_SIZE;
    let mut rois = [None, None];
    let mut stats = [None, None];
    for (k, (img, stage)) in [(&c.visible, "roi_visible"), (&c.nir, "roi_nir")]
        .into_iter()
        .enumerate()
    {
        let Some(img) = img else { continue };
        let f = if img.width() == primary.width() && img.height() == primary.height() {
            frame
        } else {
            frame.scaled(
                img.width() as f32 / primary.width() as f32,
                img.height() as f32 / primary.height() as f32,
            )
        };
        let (roi, outside) = crop_roi(img, &f, n);
        if sink.enabled() {
            sink.emit(stage, &roi);
        }
        if outside > params::MAX_ROI_OUTSIDE {
            return Err(AcquireError::PartialHand(format!(
                "{:.0}% of the palm region is outside the frame",
                outside * 100.0
            )));
        }
        stats[k] = Some(check_roi_quality(&roi, false)?);
        rois[k] = Some(roi);
    }
    let [visible, nir] = rois;
    let corners = frame.corners();
    Ok(RoiPair {
        visible,
        nir,
        quality: QualityReport {
            kind: CaptureKind::Hand,
            hand: valleys.hand,
            exposure,
            hand_fraction: Some(mask.area_fraction),
            edge_width: Some(ew),
            valley_gap_ratio: Some(ratio),
            visible: stats[0],
            nir: stats[1],
            keypoints: Some(Keypoints {
                valleys,
                frame,
                corners,
            }),
        },
    })
}

/// Placement, blur and valleys of one hand candidate. When the valleys cannot be found on a
/// blurred silhouette, blur is the reason reported.
fn hand_candidate(
    cand: &HandMask,
    seg: &Segmentation,
    fine: segment::FineSource<'_>,
    hand: Hand,
) -> Result<(Valleys, f32), AcquireError> {
    let (working, smooth, threshold) = (&seg.working, &seg.smooth, seg.threshold);
    check_hand_placement(cand)?;
    let scan = valleys::scan_tips(cand)
        .ok_or_else(|| AcquireError::NoHand("the blob has no palm".into()))?;
    let o = &scan.o;
    let ew = quality::edge_width(working, o);
    let blur = quality::check_hand_blur(ew);
    // A palm this large relative to the frame pushes the fingers out of view.
    let palm = o.radius / cand.width.min(cand.height) as f32;
    if palm > params::MAX_PALM_RADIUS_FRACTION {
        return Err(AcquireError::HandTooClose(format!(
            "the palm's radius is {:.0}% of the frame's short side (maximum {:.0}%)",
            100.0 * palm,
            100.0 * params::MAX_PALM_RADIUS_FRACTION
        )));
    }
    let v = match valleys::locate_valleys_scan(
        &scan,
        Some((smooth, threshold)),
        Some(fine),
        cand,
        hand,
    ) {
        Ok(v) => v,
        Err(e) => return Err(blur.err().unwrap_or(e)),
    };
    blur?;
    check_tilt(&v)?;
    check_span(&v)?;
    Ok((v, ew))
}

/// Valleys far too close together for the palm (`ln(|V1−V3| / (PALM_RADIUS_TO_SPAN·r))` below
/// `-MIN_FRAME_CUE_SCALE_LOG`) belong to a misread hand: fingers merged with a device part at
/// the frame border, or a finger hidden so that a notch was taken for a web. Refused, so that
/// the other hand candidates and refined masks are tried.
fn check_span(v: &Valleys) -> Result<(), AcquireError> {
    let log = frame::span_to_palm_log(v.v1.dist(v.v3), v.palm_radius);
    if log < -params::MIN_FRAME_CUE_SCALE_LOG {
        return Err(AcquireError::NoValleys(format!(
            "the finger valleys span {:.0}% of what the palm's size implies",
            100.0 * log.exp()
        )));
    }
    Ok(())
}

/// The outline (cut parts brighter) and fingertips found, for failed captures.
fn draw_tips(work: &GrayImage, mask: &HandMask) -> GrayImage {
    let mut img = work.clone();
    for p in img.as_mut_slice() {
        *p /= 2;
    }
    if let Some(t) = valleys::scan_tips(mask) {
        for (i, &(x, y)) in t.o.contour.iter().enumerate() {
            img.set(x, y, if t.o.cut[i] { 255 } else { 160 });
        }
        for &i in &t.tips {
            imgops::draw_disc(&mut img, t.pts[i], 2.5, 255);
        }
        imgops::draw_disc(&mut img, t.o.centre, t.o.radius.min(3.0), 255);
    }
    img
}

/// The working image dimmed, the mask outline, tips, valleys and the ROI square drawn on it.
fn draw_keypoints(work: &GrayImage, mask: &HandMask, v: &Valleys, frame: &PalmFrame) -> GrayImage {
    let mut img = work.clone();
    for p in img.as_mut_slice() {
        *p /= 2;
    }
    for (x, y) in imgops::trace_contour(&mask.mask, mask.width, mask.height) {
        img.set(x, y, 160);
    }
    let w = |p: Point| mask.to_working(p);
    let c = frame.corners();
    for i in 0..4 {
        imgops::draw_line(&mut img, w(c[i]), w(c[(i + 1) % 4]), 255);
    }
    for t in &v.tips {
        imgops::draw_disc(&mut img, w(*t), 2.0, 200);
    }
    for p in [Some(v.v1), Some(v.v2), Some(v.v3), v.v0]
        .into_iter()
        .flatten()
    {
        imgops::draw_disc(&mut img, w(p), 2.5, 255);
    }
    imgops::draw_disc(&mut img, w(v.palm_centre), 2.0, 255);
    img
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valleys(span: f32, palm_radius: f32) -> Valleys {
        Valleys {
            v0: None,
            v1: Point::new(100.0 + span, 100.0),
            v2: Point::new(100.0 + span / 2.0, 95.0),
            v3: Point::new(100.0, 100.0),
            hand: Hand::Right,
            tips: Vec::new(),
            palm_centre: Point::new(100.0 + span / 2.0, 200.0),
            palm_radius,
            cut_runs: 1,
            pattern_score: 0.5,
        }
    }

    #[test]
    fn valleys_far_too_close_for_the_palm_are_refused() {
        let r = 100.0;
        let typical = params::PALM_RADIUS_TO_SPAN * r;
        assert!(check_span(&valleys(typical, r)).is_ok());
        assert!(check_span(&valleys(0.75 * typical, r)).is_ok());
        // A wider span than the palm implies is the circle's problem (occluder), not refused.
        assert!(check_span(&valleys(1.6 * typical, r)).is_ok());
        let e = check_span(&valleys(0.6 * typical, r)).unwrap_err();
        assert_eq!(e.code(), "no_valleys");
        assert!(e.to_string().contains("60%"), "{e}");
    }
}
