//! The quality gate: exposure of the frame, placement and exposure of the hand, blur (hand
//! silhouette edge width, or ROI Laplacian energy), ROI contrast, palm tilt.

use palmsig_core::{GrayF32, GrayImage};

use crate::error::AcquireError;
use crate::params;
use crate::segment::HandMask;
use crate::valleys::{Outline, Valleys};

/// Gray-level statistics of a whole frame (0–255).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExposureStats {
    /// Mean.
    pub mean: f32,
    /// 1st percentile.
    pub p1: f32,
    /// 99th percentile.
    pub p99: f32,
    /// 99.9th percentile (the brightest content, even a small hand).
    pub p999: f32,
    /// Fraction of pixels at or above `params::SATURATED_LEVEL`.
    pub saturated_fraction: f32,
}

/// Statistics of a frame, without judging it.
pub fn exposure_stats(img: &GrayImage) -> ExposureStats {
    let mut hist = [0u64; 256];
    for &v in img.as_slice() {
        hist[v as usize] += 1;
    }
    let n: u64 = hist.iter().sum::<u64>().max(1);
    let pct = |q: f64| -> f32 {
        let target = (q * n as f64).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (i, &c) in hist.iter().enumerate() {
            acc += c;
            if acc >= target {
                return i as f32;
            }
        }
        255.0
    };
    let sum: u64 = hist.iter().enumerate().map(|(i, &c)| i as u64 * c).sum();
    let sat: u64 = hist[params::SATURATED_LEVEL as usize..].iter().sum();
    ExposureStats {
        mean: sum as f32 / n as f32,
        p1: pct(0.01),
        p99: pct(0.99),
        p999: pct(0.999),
        saturated_fraction: sat as f32 / n as f32,
    }
}

/// Stage `check_exposure`: refuse frames that are dark throughout (underexposed) or mostly
/// saturated (overexposed).
pub fn check_exposure(img: &GrayImage) -> Result<ExposureStats, AcquireError> {
    let s = exposure_stats(img);
    if s.p999 < params::MIN_P99_LEVEL {
        return Err(AcquireError::Underexposed(format!(
            "99.9% of the frame is below gray level {:.0} (need {:.0})",
            s.p999,
            params::MIN_P99_LEVEL
        )));
    }
    // Half the frame saturated: the hand (≤ ~40 % of a proper capture) cannot explain it.
    if s.saturated_fraction > 0.5 {
        return Err(AcquireError::Overexposed {
            saturated_fraction: s.saturated_fraction,
        });
    }
    Ok(s)
}

/// Fraction of its bounding box the mask covers (0 for an empty mask).
pub fn box_fill(m: &HandMask) -> f32 {
    let (mut x0, mut y0, mut x1, mut y1, mut n) = (usize::MAX, usize::MAX, 0, 0, 0usize);
    for (i, _) in m.mask.iter().enumerate().filter(|(_, &on)| on) {
        let (x, y) = (i % m.width, i / m.width);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    n as f32 / ((x1 - x0 + 1) * (y1 - y0 + 1)) as f32
}

/// Placement and exposure of the segmented hand: too far, too close, too dark, saturated.
pub fn check_hand_placement(m: &HandMask) -> Result<(), AcquireError> {
    if m.area_fraction < params::MIN_HAND_FRACTION {
        // "Move closer" only for something shaped like a hand: a solid block (a window's title
        // bar, a button, a sheet of paper) is no hand at any distance.
        let fill = box_fill(m);
        if fill > params::MAX_HAND_BOX_FILL {
            return Err(AcquireError::NoHand(format!(
                "the largest foreground blob is a solid block (it fills {:.0}% of its bounding box; a hand at most {:.0}%)",
                100.0 * fill,
                100.0 * params::MAX_HAND_BOX_FILL
            )));
        }
        return Err(AcquireError::HandTooFar(format!(
            "the hand covers {:.1}% of the frame (minimum {:.1}%)",
            100.0 * m.area_fraction,
            100.0 * params::MIN_HAND_FRACTION
        )));
    }
    if m.area_fraction > params::MAX_HAND_FRACTION {
        return Err(AcquireError::HandTooClose(format!(
            "the hand covers {:.1}% of the frame (maximum {:.1}%)",
            100.0 * m.area_fraction,
            100.0 * params::MAX_HAND_FRACTION
        )));
    }
    if m.foreground_mean < params::MIN_HAND_MEAN {
        return Err(AcquireError::Underexposed(format!(
            "the hand's mean gray level is {:.0} (need {:.0})",
            m.foreground_mean,
            params::MIN_HAND_MEAN
        )));
    }
    if m.saturated_fraction > params::MAX_SATURATED_FRACTION {
        return Err(AcquireError::Overexposed {
            saturated_fraction: m.saturated_fraction,
        });
    }
    Ok(())
}

/// Blur of a full-hand capture: the median width of the hand's silhouette edge (local step over
/// peak gradient, ≈ 2.5 σ for a Gaussian-blurred step), in palm radii. Scale-free.
pub(crate) fn edge_width(working: &GrayF32, o: &Outline) -> f32 {
    let (w, h) = (working.width(), working.height());
    let s = working.as_slice();
    let rad = ((0.25 * o.radius).round() as isize).max(3);
    let step = (o.contour.len() / 120).max(1);
    let mut widths = Vec::new();
    for (i, &(cx, cy)) in o.contour.iter().enumerate().step_by(step) {
        if o.cut[i] {
            continue;
        }
        let (mut lo, mut hi, mut g) = (f32::MAX, f32::MIN, 0f32);
        for dy in -rad..=rad {
            for dx in -rad..=rad {
                let (x, y) = (cx as isize + dx, cy as isize + dy);
                if x < 1 || y < 1 || x >= w as isize - 1 || y >= h as isize - 1 {
                    continue;
                }
                let j = y as usize * w + x as usize;
                lo = lo.min(s[j]);
                hi = hi.max(s[j]);
                let gx = (s[j + 1] - s[j - 1]) * 0.5;
                let gy = (s[j + w] - s[j - w]) * 0.5;
                g = g.max((gx * gx + gy * gy).sqrt());
            }
        }
        if g > 0.0 && hi > lo {
            widths.push((hi - lo) / g);
        }
    }
    if widths.is_empty() {
        return f32::INFINITY;
    }
    widths.sort_by(|a, b| a.total_cmp(b));
    widths[widths.len() / 2] / o.radius
}

/// Blur gate for a full-hand capture.
pub(crate) fn check_hand_blur(edge_width_radii: f32) -> Result<(), AcquireError> {
    if edge_width_radii > params::MAX_EDGE_WIDTH_RADII {
        return Err(AcquireError::Blurred {
            measure: edge_width_radii,
            limit: params::MAX_EDGE_WIDTH_RADII,
        });
    }
    Ok(())
}

/// Tilt proxy: `|V1−V2| / |V2−V3|`.
pub fn valley_gap_ratio(v: &Valleys) -> f32 {
    v.v1.dist(v.v2) / v.v2.dist(v.v3).max(1e-3)
}

/// Tilt gate.
pub fn check_tilt(v: &Valleys) -> Result<f32, AcquireError> {
    let r = valley_gap_ratio(v);
    let max = params::MAX_VALLEY_GAP_RATIO;
    if !(r.is_finite() && r <= max && r >= 1.0 / max) {
        return Err(AcquireError::PalmTilted { ratio: r, max });
    }
    Ok(r)
}

/// Statistics of an ROI image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoiStats {
    /// Mean gray level.
    pub mean: f32,
    /// Standard deviation of gray levels.
    pub std: f32,
    /// Laplacian variance less the quantisation floor, over gray-level variance (scale-free
    /// sharpness; see `params::MIN_ROI_SHARPNESS`).
    pub sharpness: f32,
    /// Fraction of saturated pixels.
    pub saturated_fraction: f32,
}

/// Measure an ROI.
pub fn roi_stats(roi: &GrayImage) -> RoiStats {
    let f = roi.to_f32();
    let (mean, std) = crate::imgops::mean_std(f.as_slice());
    let lap = crate::imgops::laplacian_variance(&f);
    let sat = roi
        .as_slice()
        .iter()
        .filter(|&&v| v >= params::SATURATED_LEVEL)
        .count();
    RoiStats {
        mean,
        std,
        sharpness: if std > 0.0 {
            (lap - params::QUANTISATION_LAPLACIAN_VAR).max(0.0) / (std * std)
        } else {
            0.0
        },
        saturated_fraction: sat as f32 / roi.as_slice().len().max(1) as f32,
    }
}

/// Stage `check_roi_quality`: exposure and contrast of an ROI; its sharpness too when
/// `check_blur` (ROI captures: a full-hand capture's blur is judged on the silhouette instead,
/// since soft-focus palm texture is normal there).
pub fn check_roi_quality(roi: &GrayImage, check_blur: bool) -> Result<RoiStats, AcquireError> {
    let s = roi_stats(roi);
    if s.saturated_fraction > params::MAX_SATURATED_FRACTION {
        return Err(AcquireError::Overexposed {
            saturated_fraction: s.saturated_fraction,
        });
    }
    if s.mean + 2.0 * s.std < params::MIN_P99_LEVEL {
        return Err(AcquireError::Underexposed(format!(
            "the palm region's mean is {:.0}",
            s.mean
        )));
    }
    if s.std < params::MIN_ROI_STD {
        return Err(AcquireError::LowContrast {
            std: s.std,
            min: params::MIN_ROI_STD,
        });
    }
    if check_blur && s.sharpness < params::MIN_ROI_SHARPNESS {
        return Err(AcquireError::Blurred {
            measure: s.sharpness,
            limit: params::MIN_ROI_SHARPNESS,
        });
    }
    Ok(s)
}
