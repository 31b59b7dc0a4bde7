//! Stage `locate_valleys`: palm centre (largest inscribed circle), outline, fingertips as maxima
//! of the centre-distance profile, valleys as the deepest outline points between adjacent tips,
//! and the finger labelling (which valley is V1/V2/V3, which side is the thumb).

use palmsig_core::{Hand, Point};

use crate::error::AcquireError;
use crate::imgops;
use crate::params;
use crate::segment::HandMask;

/// Finger valleys and related landmarks, in original image coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Valleys {
    /// Thumb–index valley, when found.
    pub v0: Option<Point>,
    /// Index–middle valley.
    pub v1: Point,
    /// Middle–ring valley.
    pub v2: Point,
    /// Ring–little valley.
    pub v3: Point,
    /// Which hand this is: the given label, or the side inferred from the thumb position.
    pub hand: Hand,
    /// Fingertips found, little finger first.
    pub tips: Vec<Point>,
    /// Centre of the largest circle inscribed in the hand (palm centre).
    pub palm_centre: Point,
    /// Its radius (original pixels).
    pub palm_radius: f32,
    /// Runs of the outline cut by the frame border (1 = just the wrist).
    pub cut_runs: usize,
}

/// Outline analysis shared by [`locate_valleys`] and the partial-hand diagnosis.
#[derive(Debug, Clone)]
pub(crate) struct Outline {
    pub contour: Vec<(usize, usize)>,
    pub cut: Vec<bool>,
    pub centre: Point,
    pub radius: f32,
    pub cut_runs: usize,
    pub cut_len: usize,
}

pub(crate) fn outline(m: &HandMask) -> Option<Outline> {
    let (w, h) = (m.width, m.height);
    // Distance transform with the outside of the frame as background, so the palm centre is not
    // pulled towards a forearm cut by the border.
    let (pw, ph) = (w + 2, h + 2);
    let mut padded = vec![false; pw * ph];
    for y in 0..h {
        padded[(y + 1) * pw + 1..(y + 1) * pw + 1 + w].copy_from_slice(&m.mask[y * w..(y + 1) * w]);
    }
    let dt = imgops::distance_transform(&padded, pw, ph);
    let (mut best, mut bi) = (0f32, 0usize);
    for (i, &d) in dt.iter().enumerate() {
        if d > best {
            best = d;
            bi = i;
        }
    }
    if best < 2.0 {
        return None;
    }
    let centre = Point::new((bi % pw) as f32 - 1.0, (bi / pw) as f32 - 1.0);
    let contour = imgops::trace_contour(&m.mask, w, h);
    if contour.len() < 16 {
        return None;
    }
    let bm = params::BORDER_MARGIN;
    let cut: Vec<bool> = contour
        .iter()
        .map(|&(x, y)| x < bm || y < bm || x + bm >= w || y + bm >= h)
        .collect();
    let n = cut.len();
    let cut_len = cut.iter().filter(|&&c| c).count();
    let cut_runs = if cut_len == n {
        1
    } else {
        (0..n).filter(|&i| cut[i] && !cut[(i + n - 1) % n]).count()
    };
    Some(Outline {
        contour,
        cut,
        centre,
        radius: best,
        cut_runs,
        cut_len,
    })
}

/// Find the finger valleys of the hand in `mask`.
///
/// `hand` is the label when known: it decides which end of the finger row is the thumb. With
/// [`Hand::Unknown`] the thumb side is inferred (the thumb–index web lies much farther from the
/// other valleys than they lie from each other), and [`Valleys::hand`] reports the inferred side.
pub fn locate_valleys(mask: &HandMask, hand: Hand) -> Result<Valleys, AcquireError> {
    let o = outline(mask).ok_or_else(|| AcquireError::NoHand("the blob has no palm".into()))?;
    let r = o.radius;
    let pts: Vec<Point> = o
        .contour
        .iter()
        .map(|&(x, y)| Point::new(x as f32, y as f32))
        .collect();
    let n = pts.len();
    // Centre-distance profile, smoothed circularly.
    let raw: Vec<f32> = pts.iter().map(|p| p.dist(o.centre)).collect();
    let hw = ((params::PROFILE_SMOOTH_RADII * r).round() as usize).max(1);
    let prof: Vec<f32> = (0..n)
        .map(|i| {
            let mut s = 0.0;
            for d in 0..=2 * hw {
                s += raw[(i + n + d - hw) % n];
            }
            s / (2 * hw + 1) as f32
        })
        .collect();
    // Tips: local maxima over the NMS window, far enough from the centre, not cut.
    let nms = ((params::TIP_NMS_RADII * r).round() as usize).clamp(2, n / 4);
    let mut tips: Vec<usize> = Vec::new();
    for i in 0..n {
        if o.cut[i] || prof[i] < params::TIP_MIN_DIST_RADII * r {
            continue;
        }
        let mut is_max = true;
        for d in 1..=nms {
            let (a, b) = (prof[(i + n - d) % n], prof[(i + d) % n]);
            // Strict on one side so a plateau yields one tip.
            if a >= prof[i] || b > prof[i] || o.cut[(i + d) % n] || o.cut[(i + n - d) % n] {
                is_max = false;
                break;
            }
        }
        if is_max {
            tips.push(i);
        }
    }
    // Prominence: merge tips not separated by a deep enough dip.
    let prom = params::TIP_MIN_PROMINENCE_RADII * r;
    loop {
        if tips.len() < 2 {
            break;
        }
        let m = tips.len();
        let mut merged = false;
        for k in 0..m {
            let (a, b) = (tips[k], tips[(k + 1) % m]);
            let len = (b + n - a) % n;
            let len = if len == 0 { n } else { len };
            let dip = (0..=len)
                .map(|d| prof[(a + d) % n])
                .fold(f32::INFINITY, f32::min);
            let has_cut = (0..=len).any(|d| o.cut[(a + d) % n]);
            if !has_cut && dip > prof[a].min(prof[b]) - prom {
                let drop = if prof[a] < prof[b] { k } else { (k + 1) % m };
                tips.remove(drop);
                merged = true;
                break;
            }
        }
        if !merged {
            break;
        }
    }
    let partial = |what: &str| -> AcquireError {
        if o.cut_runs >= 2 || o.cut_len as f32 > 3.0 * r {
            AcquireError::PartialHand(format!(
                "{what}; the hand outline is cut by the frame in {} place(s)",
                o.cut_runs
            ))
        } else {
            AcquireError::NoValleys(what.to_string())
        }
    };
    if tips.len() < 4 {
        return Err(partial(&format!(
            "found {} fingertip(s), need at least 4",
            tips.len()
        )));
    }
    // Order the tips along the outline starting after the widest gap (the wrist side).
    let m = tips.len();
    let mut widest = (0usize, 0usize);
    for k in 0..m {
        let gap = (tips[(k + 1) % m] + n - tips[k]) % n;
        if gap > widest.0 {
            widest = (gap, (k + 1) % m);
        }
    }
    let ordered: Vec<usize> = (0..m).map(|k| tips[(widest.1 + k) % m]).collect();
    // Keep the best run of at most 5 consecutive tips (extra tips come from the wrist region).
    let ordered = if ordered.len() > 5 {
        let mut best = (f32::MIN, 0usize);
        for s in 0..=ordered.len() - 5 {
            let score: f32 = ordered[s..s + 5].iter().map(|&i| prof[i]).sum();
            if score > best.0 {
                best = (score, s);
            }
        }
        ordered[best.1..best.1 + 5].to_vec()
    } else {
        ordered
    };
    // Valleys: the outline point deepest below the chord of two adjacent tips.
    let mut valleys = Vec::new();
    for k in 0..ordered.len() - 1 {
        let (a, b) = (ordered[k], ordered[k + 1]);
        let (pa, pb) = (pts[a], pts[b]);
        let len = (b + n - a) % n;
        let (ux, uy) = (pb.x - pa.x, pb.y - pa.y);
        let ul = (ux * ux + uy * uy).sqrt().max(1e-3);
        let mut best = (f32::MIN, a);
        for d in 1..len {
            let i = (a + d) % n;
            if o.cut[i] {
                continue;
            }
            let p = pts[i];
            // Distance from the chord line (sign-free), ties broken by depth towards the centre.
            let dist = ((p.x - pa.x) * uy - (p.y - pa.y) * ux).abs() / ul;
            if dist > best.0 {
                best = (dist, i);
            }
        }
        if best.0 < 0.0 {
            return Err(partial("a finger valley lies on the frame border"));
        }
        valleys.push(best.1);
    }
    let tip_pts: Vec<Point> = ordered.iter().map(|&i| pts[i]).collect();
    let val_pts: Vec<Point> = valleys
        .iter()
        .map(|&i| refine_valley(mask, pts[i], o.centre))
        .collect();
    // Which end is the little finger?
    let mean_tip = mean(&tip_pts);
    let f = unit(Point::new(mean_tip.x - o.centre.x, mean_tip.y - o.centre.y));
    let right_dir = Point::new(-f.y, f.x); // image-right when the fingers point up
    let proj = |p: Point| (p.x - o.centre.x) * right_dir.x + (p.y - o.centre.y) * right_dir.y;
    let first_is_right = proj(tip_pts[0]) > proj(tip_pts[tip_pts.len() - 1]);
    let gap = |a: Point, b: Point| a.dist(b);
    let nv = val_pts.len();
    let gap_first = gap(val_pts[0], val_pts[1]);
    let gap_last = gap(val_pts[nv - 1], val_pts[nv - 2]);
    // `little_first`: is tip 0 the little finger?
    let (little_first, used_hand) = match hand {
        Hand::Right | Hand::Left => {
            // Right hand, palm view, fingers up: the thumb is on the image right.
            let thumb_right = hand == Hand::Right;
            (first_is_right != thumb_right, hand)
        }
        Hand::Unknown => {
            let thumb_last = if ordered.len() == 5
                || gap_first.max(gap_last) > params::THUMB_GAP_RATIO * gap_first.min(gap_last)
            {
                gap_last > gap_first
            } else {
                // Four tips, no thumb-like gap: the little finger is the shorter end finger.
                prof[ordered[0]] > prof[ordered[ordered.len() - 1]]
            };
            let little_first = thumb_last;
            let thumb_right = if little_first {
                !first_is_right
            } else {
                first_is_right
            };
            (
                little_first,
                if thumb_right { Hand::Right } else { Hand::Left },
            )
        }
    };
    let (tips_lf, vals_lf): (Vec<Point>, Vec<Point>) = if little_first {
        (tip_pts.clone(), val_pts.clone())
    } else {
        (
            tip_pts.iter().rev().copied().collect(),
            val_pts.iter().rev().copied().collect(),
        )
    };
    // With four tips, one end finger is missing: if it is the little finger (the gap next to the
    // little end looks like the thumb web), V3 cannot be found.
    if tips_lf.len() == 4 {
        let g_little = gap(vals_lf[0], vals_lf[1]);
        let g_thumb = gap(vals_lf[1], vals_lf[2]);
        if g_little > 1.6 * g_thumb {
            return Err(partial("the little finger was not found"));
        }
    }
    let to_o = |p: Point| mask.to_original(p);
    Ok(Valleys {
        v3: to_o(vals_lf[0]),
        v2: to_o(vals_lf[1]),
        v1: to_o(vals_lf[2]),
        v0: vals_lf.get(3).map(|&p| to_o(p)),
        hand: used_hand,
        tips: tips_lf.iter().map(|&p| to_o(p)).collect(),
        palm_centre: to_o(o.centre),
        palm_radius: r * mask.scale,
        cut_runs: o.cut_runs,
    })
}

/// Sub-pixel valley: move the contour pixel half a pixel outwards (the boundary lies between
/// the last foreground and first background pixel), away from the palm centre.
fn refine_valley(_mask: &HandMask, p: Point, centre: Point) -> Point {
    let d = unit(Point::new(p.x - centre.x, p.y - centre.y));
    Point::new(p.x + 0.5 * d.x, p.y + 0.5 * d.y)
}

fn mean(p: &[Point]) -> Point {
    let n = p.len().max(1) as f32;
    Point::new(
        p.iter().map(|q| q.x).sum::<f32>() / n,
        p.iter().map(|q| q.y).sum::<f32>() / n,
    )
}

pub(crate) fn unit(p: Point) -> Point {
    let l = (p.x * p.x + p.y * p.y).sqrt();
    if l > 1e-9 {
        Point::new(p.x / l, p.y / l)
    } else {
        Point::new(0.0, -1.0)
    }
}
