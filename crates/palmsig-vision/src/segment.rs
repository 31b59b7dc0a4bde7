//! Stage `segment_hand`: working-resolution image, Otsu on the smoothed image, opening, largest
//! blobs, hole filling.

use palmsig_core::{GrayF32, GrayImage, Point};

use crate::error::AcquireError;
use crate::imgops;
use crate::params;

/// A binary hand mask at working resolution, with the mapping back to the original image.
#[derive(Debug, Clone)]
pub struct HandMask {
    /// Working width.
    pub width: usize,
    /// Working height.
    pub height: usize,
    /// Original pixels per working pixel (an integer factor ≥ 1).
    pub scale: f32,
    /// Foreground, row-major, `width * height`.
    pub mask: Vec<bool>,
    /// Fraction of the frame covered by the mask.
    pub area_fraction: f32,
    /// Mean gray level (0–255) of the mask's pixels in the working image.
    pub foreground_mean: f32,
    /// Mean gray level of everything outside the mask.
    pub background_mean: f32,
    /// Fraction of the mask's pixels at or above `params::SATURATED_LEVEL`.
    pub saturated_fraction: f32,
}

impl HandMask {
    /// Map a working-resolution point to original image coordinates (pixel centres align).
    pub fn to_original(&self, p: Point) -> Point {
        Point::new(
            (p.x + 0.5) * self.scale - 0.5,
            (p.y + 0.5) * self.scale - 0.5,
        )
    }

    /// Map an original image point to working coordinates.
    pub fn to_working(&self, p: Point) -> Point {
        Point::new(
            (p.x + 0.5) / self.scale - 0.5,
            (p.y + 0.5) / self.scale - 0.5,
        )
    }

    /// The mask as a 0/255 image (for explain output and tests).
    pub fn to_image(&self) -> GrayImage {
        let data = self.mask.iter().map(|&m| if m { 255 } else { 0 }).collect();
        GrayImage::from_vec(self.width, self.height, data)
            .unwrap_or_else(|_| GrayImage::new(self.width, self.height))
    }
}

/// Result of [`segment_hand`]: the working image and hand candidates, largest first.
#[derive(Debug, Clone)]
pub struct Segmentation {
    /// The area-downscaled working image (not smoothed).
    pub working: GrayF32,
    /// The smoothed working image the threshold applies to.
    pub smooth: GrayF32,
    /// Otsu threshold used (0–255, on the smoothed working image).
    pub threshold: f32,
    /// Hand candidates (largest blobs), largest first; never empty.
    pub candidates: Vec<HandMask>,
}

/// The integer downscale factor that brings the longest side to at most `params::WORK_MAX_SIDE`.
pub fn working_factor(width: usize, height: usize) -> usize {
    width.max(height).div_ceil(params::WORK_MAX_SIDE).max(1)
}

/// Segment the hand: foreground blobs that could be the hand, largest first.
///
/// The foreground polarity is chosen so that the frame border is mostly background (a hand in a
/// dark box is bright; on a bright background it would be dark).
pub fn segment_hand(img: &GrayImage) -> Result<Segmentation, AcquireError> {
    let (w0, h0) = (img.width(), img.height());
    if w0 < params::MIN_IMAGE_SIDE || h0 < params::MIN_IMAGE_SIDE {
        return Err(AcquireError::BadImage(format!(
            "image {w0}x{h0} is smaller than {m}x{m}",
            m = params::MIN_IMAGE_SIDE
        )));
    }
    let k = working_factor(w0, h0);
    let working = imgops::downscale_box(img, k);
    let (w, h) = (working.width(), working.height());
    let smooth = imgops::gaussian(&working, params::SEGMENT_SMOOTH_SIGMA);
    let (t, sep) = imgops::otsu(smooth.as_slice());
    if sep < params::MIN_CLASS_SEPARATION * 255.0 {
        return Err(AcquireError::NoHand(format!(
            "the frame is nearly uniform (class separation {sep:.1} gray levels)"
        )));
    }
    let s = smooth.as_slice();
    let mut border_bright = 0usize;
    let mut border_n = 0usize;
    for x in 0..w {
        for y in [0, h - 1] {
            border_n += 1;
            border_bright += (s[y * w + x] > t) as usize;
        }
    }
    for y in 0..h {
        for x in [0, w - 1] {
            border_n += 1;
            border_bright += (s[y * w + x] > t) as usize;
        }
    }
    let bright_fg = border_bright * 2 <= border_n;
    let raw: Vec<bool> = s.iter().map(|&v| (v > t) == bright_fg).collect();
    // Scale-aware opening: a disc a fraction of the palm radius detaches thin device parts and
    // clutter touching the fingers while keeping the fingers. The palm radius is the largest
    // distance-to-background inside the largest blob (one distance transform serves both).
    let dt = imgops::distance_transform(&raw, w, h);
    let (mut labels, mut comps) = imgops::components(&raw, w, h);
    if let Some(first) = comps.first() {
        let radius = labels
            .iter()
            .zip(&dt)
            .filter(|(&l, _)| l == first.label)
            .fold(0f32, |m, (_, &d)| m.max(d));
        let r = (params::SEGMENT_OPEN_PALM_FRACTION * radius).max(params::SEGMENT_OPEN_RADIUS);
        let opened = imgops::open_disc_with(&dt, w, h, r);
        (labels, comps) = imgops::components(&opened, w, h);
    }
    let min_area = ((w * h) as f32 * params::MIN_CANDIDATE_FRACTION).max(16.0) as usize;
    let mut candidates = Vec::new();
    for c in comps
        .iter()
        .filter(|c| c.area >= min_area)
        .take(params::MAX_HAND_CANDIDATES)
    {
        let mut mask: Vec<bool> = labels.iter().map(|&l| l == c.label).collect();
        imgops::fill_holes(&mut mask, w, h);
        candidates.push(hand_mask(&working, mask, k as f32));
    }
    if candidates.is_empty() {
        // Only specks: report the largest one's size so "too far" can be told from "no hand".
        let largest = comps
            .first()
            .map(|c| c.area as f32 / (w * h) as f32)
            .unwrap_or(0.0);
        if largest > 0.002 {
            return Err(AcquireError::HandTooFar(format!(
                "the largest bright blob covers only {:.2}% of the frame",
                100.0 * largest
            )));
        }
        return Err(AcquireError::NoHand(
            "no foreground blob large enough for a hand".into(),
        ));
    }
    Ok(Segmentation {
        working,
        smooth,
        threshold: t,
        candidates,
    })
}

/// The finer view of a capture for the finger rings: the image area-downscaled by the factor
/// that brings its longest side to at most `params::FINE_MAX_SIDE`, lightly smoothed.
#[derive(Debug, Clone, Copy)]
pub struct FineSource<'a> {
    /// The original image.
    pub image: &'a GrayImage,
    /// Original px per fine px.
    pub factor: usize,
}

impl<'a> FineSource<'a> {
    /// The view's factor for `image`.
    pub fn new(image: &'a GrayImage) -> Self {
        let factor = image
            .width()
            .max(image.height())
            .div_ceil(params::FINE_MAX_SIDE)
            .max(1);
        FineSource { image, factor }
    }

    /// The view of the fine-pixel square around `(cx, cy)` with half-side `half` (clipped to
    /// the image), with its top-left corner in fine pixels. Only this part is computed: the
    /// rings and their gaps never leave it.
    pub fn crop(&self, cx: f32, cy: f32, half: f32) -> (GrayF32, (usize, usize)) {
        let (fw, fh) = (
            (self.image.width() / self.factor).max(1),
            (self.image.height() / self.factor).max(1),
        );
        let x0 = (cx - half).floor().clamp(0.0, fw as f32 - 1.0) as usize;
        let y0 = (cy - half).floor().clamp(0.0, fh as f32 - 1.0) as usize;
        let x1 = ((cx + half).ceil().max(0.0) as usize + 1).clamp(x0 + 1, fw);
        let y1 = ((cy + half).ceil().max(0.0) as usize + 1).clamp(y0 + 1, fh);
        let region =
            imgops::downscale_box_region(self.image, self.factor, (x0, y0, x1 - x0, y1 - y0));
        (
            imgops::gaussian(&region, params::FINE_SMOOTH_SIGMA),
            (x0, y0),
        )
    }
}

/// Alternative masks for a candidate whose fingers could not be read: background objects of
/// another brightness touching the hand (device parts, clutter behind the fingers) are split off
/// by a second Otsu threshold inside the blob, keeping the class that holds the palm centre; the
/// same with a stronger opening. Each is the component holding the palm centre, holes filled.
pub fn refine_candidate(seg: &Segmentation, cand: &HandMask) -> Vec<HandMask> {
    let (w, h) = (cand.width, cand.height);
    let s = seg.smooth.as_slice();
    let Some((centre, radius)) = palm_centre(&cand.mask, w, h) else {
        return Vec::new();
    };
    let inside: Vec<f32> = cand
        .mask
        .iter()
        .zip(s)
        .filter(|(&m, _)| m)
        .map(|(_, &v)| v)
        .collect();
    let (t2, sep) = imgops::otsu(&inside);
    let contrast = (cand.foreground_mean - cand.background_mean).abs().max(1.0);
    let mut out = Vec::new();
    let palm_bright = s[centre] > t2;
    let mut variants: Vec<(Vec<bool>, f32)> = Vec::new();
    if sep > params::SPLIT_MIN_SEPARATION * contrast {
        let split: Vec<bool> = cand
            .mask
            .iter()
            .zip(s)
            .map(|(&m, &v)| m && ((v > t2) == palm_bright))
            .collect();
        variants.push((split.clone(), params::SEGMENT_OPEN_PALM_FRACTION));
        variants.push((split, params::SEGMENT_STRONG_OPEN_PALM_FRACTION));
    }
    variants.push((cand.mask.clone(), params::SEGMENT_STRONG_OPEN_PALM_FRACTION));
    for (m, frac) in variants {
        let opened = imgops::open_disc(&m, w, h, frac * radius);
        let (labels, _) = imgops::components(&opened, w, h);
        let l = labels[centre];
        if l == 0 {
            continue;
        }
        let mut mask: Vec<bool> = labels.iter().map(|&x| x == l).collect();
        imgops::fill_holes(&mut mask, w, h);
        let area = mask.iter().filter(|&&v| v).count();
        if (area as f32) < 0.3 * cand.area_fraction * (w * h) as f32 {
            continue;
        }
        out.push(hand_mask(&seg.working, mask, cand.scale));
    }
    out
}

/// Index and radius of the largest disc inside the mask (outside the frame is background).
fn palm_centre(mask: &[bool], w: usize, h: usize) -> Option<(usize, f32)> {
    let (pw, ph) = (w + 2, h + 2);
    let mut padded = vec![false; pw * ph];
    for y in 0..h {
        padded[(y + 1) * pw + 1..(y + 1) * pw + 1 + w].copy_from_slice(&mask[y * w..(y + 1) * w]);
    }
    let dt = imgops::distance_transform(&padded, pw, ph);
    let (mut best, mut bi) = (0f32, None);
    for (i, &d) in dt.iter().enumerate() {
        if d > best {
            best = d;
            bi = Some(i);
        }
    }
    bi.map(|i| ((i / pw - 1) * w + (i % pw - 1), best))
}

fn hand_mask(working: &GrayF32, mask: Vec<bool>, scale: f32) -> HandMask {
    let (w, h) = (working.width(), working.height());
    let (mut fs, mut fn_, mut bs, mut bn, mut sat) = (0f64, 0usize, 0f64, 0usize, 0usize);
    for (&m, &v) in mask.iter().zip(working.as_slice()) {
        if m {
            fs += v as f64;
            fn_ += 1;
            sat += (v >= params::SATURATED_LEVEL as f32) as usize;
        } else {
            bs += v as f64;
            bn += 1;
        }
    }
    HandMask {
        width: w,
        height: h,
        scale,
        area_fraction: fn_ as f32 / (w * h) as f32,
        foreground_mean: if fn_ > 0 {
            (fs / fn_ as f64) as f32
        } else {
            0.0
        },
        background_mean: if bn > 0 { (bs / bn as f64) as f32 } else { 0.0 },
        saturated_fraction: if fn_ > 0 {
            sat as f32 / fn_ as f32
        } else {
            0.0
        },
        mask,
    }
}
