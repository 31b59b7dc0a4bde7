//! Realism measurements: the same figures `shared/real-captures.md` reports for real scanners
//! (hand coverage, hand/background means, variance of the 4-neighbour Laplacian, ROI mean/std),
//! so the presets can be checked against them.

use palmsig_core::GrayImage;
use serde::Serialize;

use crate::render::{truth_roi, Rendered};

/// Variance of the 4-neighbour Laplacian over the interior of `img` (focus measure).
pub fn laplacian_variance(img: &GrayImage) -> f32 {
    let (w, h) = (img.width(), img.height());
    if w < 3 || h < 3 {
        return 0.0;
    }
    let d = img.as_slice();
    let (mut s, mut s2, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let l = d[i - 1] as f64 + d[i + 1] as f64 + d[i - w] as f64 + d[i + w] as f64
                - 4.0 * d[i] as f64;
            s += l;
            s2 += l * l;
            n += 1.0;
        }
    }
    let m = s / n;
    (s2 / n - m * m) as f32
}

/// Mean and standard deviation of all pixels.
pub fn mean_std(img: &GrayImage) -> (f32, f32) {
    let d = img.as_slice();
    if d.is_empty() {
        return (0.0, 0.0);
    }
    let n = d.len() as f64;
    let m = d.iter().map(|&v| v as f64).sum::<f64>() / n;
    let v = d.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n;
    (m as f32, v.sqrt() as f32)
}

/// Figures of one full-hand capture, comparable with `shared/real-captures.md`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Realism {
    /// Fraction of the frame covered by the hand.
    pub hand_fraction: f32,
    /// NIR mean over hand pixels (mask > 50%).
    pub nir_hand_mean: f32,
    /// NIR mean over background pixels.
    pub nir_bg_mean: f32,
    /// NIR Laplacian variance over the whole frame.
    pub nir_lapvar: f32,
    /// Visible Laplacian variance over the whole frame.
    pub vis_lapvar: f32,
    /// NIR ground-truth ROI (at native resolution): mean.
    pub nir_roi_mean: f32,
    /// NIR ROI standard deviation.
    pub nir_roi_std: f32,
    /// NIR ROI Laplacian variance.
    pub nir_roi_lapvar: f32,
    /// Visible ROI mean.
    pub vis_roi_mean: f32,
    /// Visible ROI standard deviation.
    pub vis_roi_std: f32,
    /// Visible ROI Laplacian variance.
    pub vis_roi_lapvar: f32,
}

/// Measure a full-hand capture (the ROI is taken at its native pixel size from the truth).
pub fn measure(r: &Rendered) -> Realism {
    let (mut hs, mut hn, mut bs, mut bn) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&m, &v) in r.mask.as_slice().iter().zip(r.nir.as_slice()) {
        if m > 127 {
            hs += v as f64;
            hn += 1.0;
        } else {
            bs += v as f64;
            bn += 1.0;
        }
    }
    let c = r.truth.roi_corners;
    let side = c[0].dist(c[1]).round().clamp(16.0, 1024.0) as usize;
    let nroi = truth_roi(&r.nir, &r.truth, side);
    let vroi = truth_roi(&r.visible, &r.truth, side);
    let (nm, ns) = mean_std(&nroi);
    let (vm, vs) = mean_std(&vroi);
    Realism {
        hand_fraction: r.truth.hand_fraction,
        nir_hand_mean: (hs / hn.max(1.0)) as f32,
        nir_bg_mean: (bs / bn.max(1.0)) as f32,
        nir_lapvar: laplacian_variance(&r.nir),
        vis_lapvar: laplacian_variance(&r.visible),
        nir_roi_mean: nm,
        nir_roi_std: ns,
        nir_roi_lapvar: laplacian_variance(&nroi),
        vis_roi_mean: vm,
        vis_roi_std: vs,
        vis_roi_lapvar: laplacian_variance(&vroi),
    }
}

/// Median of each field over several captures.
pub fn median(all: &[Realism]) -> Option<Realism> {
    if all.is_empty() {
        return None;
    }
    let med = |f: &dyn Fn(&Realism) -> f32| {
        let mut v: Vec<f32> = all.iter().map(f).collect();
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    Some(Realism {
        hand_fraction: med(&|r| r.hand_fraction),
        nir_hand_mean: med(&|r| r.nir_hand_mean),
        nir_bg_mean: med(&|r| r.nir_bg_mean),
        nir_lapvar: med(&|r| r.nir_lapvar),
        vis_lapvar: med(&|r| r.vis_lapvar),
        nir_roi_mean: med(&|r| r.nir_roi_mean),
        nir_roi_std: med(&|r| r.nir_roi_std),
        nir_roi_lapvar: med(&|r| r.nir_roi_lapvar),
        vis_roi_mean: med(&|r| r.vis_roi_mean),
        vis_roi_std: med(&|r| r.vis_roi_std),
        vis_roi_lapvar: med(&|r| r.vis_roi_lapvar),
    })
}
