//! Stage `locate_valleys`: palm centre (largest inscribed circle), outline, fingertips as maxima
//! of the centre-distance profile, valleys as the deepest outline points between adjacent tips,
//! and the finger labelling (which valley is V1/V2/V3, which side is the thumb).

use palmsig_core::{GrayF32, Hand, Point};

use crate::error::AcquireError;
use crate::imgops;
use crate::params;
use crate::segment::{FineSource, HandMask};

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
    /// Fingertips of the four fingers, little finger first.
    pub tips: Vec<Point>,
    /// Centre of the largest circle inscribed in the hand (palm centre).
    pub palm_centre: Point,
    /// Its radius (original pixels).
    pub palm_radius: f32,
    /// Runs of the outline cut by the frame border (1 = just the wrist).
    pub cut_runs: usize,
    /// Implausibility of the finger pattern chosen (0 = ideal; see `locate_valleys`).
    pub pattern_score: f32,
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

/// Outline, centre-distance profile, cut runs and fingertips (contour indices).
pub(crate) struct TipScan {
    pub o: Outline,
    pub pts: Vec<Point>,
    pub prof: Vec<f32>,
    pub run_id: Vec<Option<usize>>,
    pub tips: Vec<usize>,
}

pub(crate) fn scan_tips(mask: &HandMask) -> Option<TipScan> {
    let o = outline(mask)?;
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
    // Runs of cut points: run id per contour index.
    let mut run_id: Vec<Option<usize>> = vec![None; n];
    let mut runs: Vec<Vec<usize>> = Vec::new();
    if o.cut_len < n {
        let start = (0..n).find(|&i| !o.cut[i]).unwrap_or(0);
        for k in 0..n {
            let i = (start + k) % n;
            if !o.cut[i] {
                continue;
            }
            if k > 0 && o.cut[(i + n - 1) % n] {
                let id = runs.len() - 1;
                runs[id].push(i);
                run_id[i] = Some(id);
            } else {
                runs.push(vec![i]);
                run_id[i] = Some(runs.len() - 1);
            }
        }
    }
    // Tips: local maxima over the NMS window, far enough from the centre, not cut.
    let nms = ((params::TIP_NMS_RADII * r).round() as usize).clamp(2, n / 4);
    let min_tip = params::TIP_MIN_DIST_RADII * r;
    let mut tips: Vec<usize> = Vec::new();
    for i in 0..n {
        if o.cut[i] || prof[i] < min_tip {
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
    // A finger running out of the frame: a short cut run far from the centre.
    for run in &runs {
        let mid = run[run.len() / 2];
        if (run.len() as f32) <= params::MAX_FINGER_CUT_RADII * r && prof[mid] >= min_tip {
            tips.push(mid);
        }
    }
    drop_wrist_side(&mut tips, &prof, &pts, o.centre);
    tips.sort_unstable();
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
            let has_cut = (1..len).any(|d| {
                let id = run_id[(a + d) % n];
                id.is_some() && id != run_id[a] && id != run_id[b]
            });
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
    Some(TipScan {
        o,
        pts,
        prof,
        run_id,
        tips,
    })
}

/// Drop the tips on the wrist's side of the palm. Device parts and clutter at the frame border
/// merge into the mask beside the wrist and stick out like fingers, but no finger or thumb points
/// within [`params::WRIST_CONE_DEG`] of the wrist's direction: the opposite of the fingers', taken
/// as the mean direction of the [`params::WRIST_FROM_TIPS`] tips farthest from the palm centre
/// (long fingers; clutter beside the wrist lies nearer the centre than any fingertip).
fn drop_wrist_side(tips: &mut Vec<usize>, prof: &[f32], pts: &[Point], c: Point) {
    if tips.len() <= params::WRIST_FROM_TIPS {
        return;
    }
    let dir = |i: usize| unit(Point::new(pts[i].x - c.x, pts[i].y - c.y));
    let mut far = tips.clone();
    far.sort_by(|&a, &b| prof[b].total_cmp(&prof[a]));
    let sum = far[..params::WRIST_FROM_TIPS]
        .iter()
        .fold(Point::new(0.0, 0.0), |s, &i| {
            Point::new(s.x + dir(i).x, s.y + dir(i).y)
        });
    let fingers = unit(sum);
    let cos_max = params::WRIST_CONE_DEG.to_radians().cos();
    tips.retain(|&i| -(dir(i).x * fingers.x + dir(i).y * fingers.y) < cos_max);
}

/// Find the finger valleys of the hand in `mask`.
///
/// Fingertips are the maxima of the outline's distance from the palm centre (a finger cut by
/// the frame border counts, at the middle of its cut). Every run of four adjacent tips, in both
/// directions, is a hypothesis (little, ring, middle, index); the most hand-like one wins: even
/// valley gaps, valleys nearly in line, gaps proportionate to the palm, the middle finger longest
/// and the little finger shortest, a thumb (with its wider web) beyond the index finger and
/// nothing beyond the little finger. `hand` is the label when known: it fixes the mirror sense
/// (for a right hand in palm view, `V3→V1` turns clockwise into the fingers' direction); with
/// [`Hand::Unknown`] both senses compete and [`Valleys::hand`] reports the one inferred.
pub fn locate_valleys(mask: &HandMask, hand: Hand) -> Result<Valleys, AcquireError> {
    locate_valleys_in(None, mask, hand)
}

/// [`locate_valleys`] that also reads the smoothed working image of the segmentation
/// ([`Segmentation::smooth`](crate::Segmentation)): the finger rings are then also scanned
/// with thresholds local to each ring, which separates fingers from background objects of
/// another brightness lying behind them (the mask alone merges those).
pub fn locate_valleys_in(
    smooth: Option<(&GrayF32, f32)>,
    mask: &HandMask,
    hand: Hand,
) -> Result<Valleys, AcquireError> {
    let scan =
        scan_tips(mask).ok_or_else(|| AcquireError::NoHand("the blob has no palm".into()))?;
    locate_valleys_scan(&scan, smooth, None, mask, hand)
}

/// [`locate_valleys_in`] on an outline already scanned.
pub(crate) fn locate_valleys_scan(
    scan: &TipScan,
    smooth: Option<(&GrayF32, f32)>,
    fine: Option<FineSource<'_>>,
    mask: &HandMask,
    hand: Hand,
) -> Result<Valleys, AcquireError> {
    let o = &scan.o;
    let r = o.radius;
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
    let mut best = outline_hypothesis(scan, hand);
    let (w, h) = (mask.width, mask.height);
    let in_mask = |i: usize| mask.mask[i];
    let contrast = (mask.foreground_mean - mask.background_mean).abs().max(1.0);
    let bright = mask.foreground_mean >= mask.background_mean;
    for &f in &params::RING_RADII {
        let rho = f * r;
        consider(
            &mut best,
            ring_hypothesis(&in_mask, (w, h), o.centre, r, rho, hand),
        );
        if let Some((img, t)) = &smooth {
            consider(
                &mut best,
                local_ring_hypothesis(img, *t, o.centre, r, rho, bright, contrast, hand),
            );
        }
    }
    // The finer view: gaps between touching fingers that the working resolution closes stay
    // open there. Its picks are mapped back to working coordinates (`s` fine px per working px).
    if let (Some((_, t)), Some(src)) = (smooth, fine) {
        let s = mask.scale / src.factor as f32;
        let to_fine = |p: Point| Point::new((p.x + 0.5) * s - 0.5, (p.y + 0.5) * s - 0.5);
        let rf = r * s;
        let rings = params::RING_RADII.map(|f| f * rf);
        // The largest ring's disc, its gaps' floods (one pixel beyond it), the fingers' march
        // (up to 3 radii beyond the ring) and the smoothing's reach all lie inside the crop.
        let reach = rings.iter().fold(0f32, |a, &b| a.max(b))
            + 3.0 * rf
            + 2.0
            + 3.0 * params::FINE_SMOOTH_SIGMA;
        let cf = to_fine(o.centre);
        let (img, (x0, y0)) = src.crop(cf.x, cf.y, reach);
        let c = Point::new(cf.x - x0 as f32, cf.y - y0 as f32);
        let (fw, fh) = (img.width(), img.height());
        let px = img.as_slice();
        let global = |i: usize| (px[i] > t) == bright;
        let back = |p: Pick| Some(p.shifted(x0 as f32, y0 as f32).scaled(1.0 / s));
        for rho in rings {
            let picks = [
                ring_hypothesis(&global, (fw, fh), c, rf, rho, hand),
                local_ring_hypothesis(&img, t, c, rf, rho, bright, contrast, hand),
            ];
            for p in picks.into_iter().flatten() {
                consider(&mut best, back(p));
            }
        }
    }
    let Some(pick) = best else {
        return Err(partial(&format!(
            "no four adjacent fingers with valleys between them ({} fingertip(s) on the outline)",
            scan.tips.len()
        )));
    };
    if pick.score > params::MAX_FINGER_PATTERN_SCORE {
        return Err(partial(&format!(
            "the fingers do not form a hand pattern (score {:.2})",
            pick.score
        )));
    }
    let to_o = |p: Point| mask.to_original(p);
    Ok(Valleys {
        v3: to_o(pick.valleys[0]),
        v2: to_o(pick.valleys[1]),
        v1: to_o(pick.valleys[2]),
        v0: pick.v0.map(to_o),
        hand: pick.hand,
        tips: pick.fingers.iter().map(|&p| to_o(p)).collect(),
        palm_centre: to_o(o.centre),
        palm_radius: r * mask.scale,
        cut_runs: o.cut_runs,
        pattern_score: pick.score,
    })
}

/// A finger hypothesis: four fingers (little first), their valleys V3, V2, V1, and V0.
#[derive(Debug, Clone)]
struct Pick {
    /// Implausibility of the finger pattern (lower is better).
    score: f32,
    /// What hypotheses compete by: `score` less the support of a thumb seen beyond the index.
    rank: f32,
    fingers: Vec<Point>,
    valleys: Vec<Point>,
    v0: Option<Point>,
    hand: Hand,
}

/// Keep `p` when it scores better than `best`.
fn consider(best: &mut Option<Pick>, p: Option<Pick>) {
    if let Some(p) = p {
        if best.as_ref().is_none_or(|b| p.rank < b.rank) {
            *best = Some(p);
        }
    }
}

impl Pick {
    /// The same pick moved by `(dx, dy)`.
    fn shifted(mut self, dx: f32, dy: f32) -> Pick {
        let m = |p: &mut Point| *p = Point::new(p.x + dx, p.y + dy);
        self.fingers.iter_mut().for_each(m);
        self.valleys.iter_mut().for_each(m);
        self.v0.iter_mut().for_each(m);
        self
    }

    /// The same pick in coordinates scaled by `f` about pixel centres (`(p + ½)·f − ½`).
    fn scaled(mut self, f: f32) -> Pick {
        let m = |p: &mut Point| *p = Point::new((p.x + 0.5) * f - 0.5, (p.y + 0.5) * f - 0.5);
        self.fingers.iter_mut().for_each(m);
        self.valleys.iter_mut().for_each(m);
        self.v0.iter_mut().for_each(m);
        self
    }
}

/// [`ring_hypothesis`] with a threshold local to the ring: Otsu of the ring's samples on the
/// hand's side of the global threshold `t` separates fingers from objects of another
/// brightness behind them (and vice versa). None when those samples are not two classes.
#[allow(clippy::too_many_arguments)]
fn local_ring_hypothesis(
    img: &GrayF32,
    t: f32,
    c: Point,
    r: f32,
    rho: f32,
    bright: bool,
    contrast: f32,
    hand: Hand,
) -> Option<Pick> {
    let (w, h) = (img.width(), img.height());
    let s = img.as_slice();
    let side: Vec<f32> = ring_pixels(c, rho, (w, h))
        .into_iter()
        .flatten()
        .map(|i| s[i])
        .filter(|&v| (v > t) == bright)
        .collect();
    if side.len() <= 8 {
        return None;
    }
    let (t2, sep) = imgops::otsu(&side);
    if sep <= 0.1 * contrast {
        return None;
    }
    let fg = |i: usize| (s[i] > t2) == bright;
    ring_hypothesis(&fg, (w, h), c, r, rho, hand)
}

/// The pixels (indices into a `w`×`h` image) under the ring of radius `rho` around `c`, about
/// one sample per pixel of arc (at least 64), in angle order from +x; `None` outside the frame.
fn ring_pixels(c: Point, rho: f32, (w, h): (usize, usize)) -> Vec<Option<usize>> {
    let k = ((std::f32::consts::TAU * rho).ceil() as usize).max(64);
    (0..k)
        .map(|j| {
            let a = std::f32::consts::TAU * j as f32 / k as f32;
            let (x, y) = ((c.x + rho * a.cos()).round(), (c.y + rho * a.sin()).round());
            (x >= 0.0 && y >= 0.0 && x < w as f32 && y < h as f32)
                .then(|| y as usize * w + x as usize)
        })
        .collect()
}

/// Hypothesis from the outline's fingertips.
fn outline_hypothesis(scan: &TipScan, hand: Hand) -> Option<Pick> {
    let TipScan {
        o,
        pts,
        prof,
        run_id,
        tips,
    } = scan;
    let (o, pts, prof, run_id) = (o, pts.as_slice(), prof.as_slice(), run_id.as_slice());
    let n = pts.len();
    if tips.len() < 4 {
        return None;
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
    // Valleys: the outline point deepest below the chord of two adjacent tips (None when the
    // stretch between them is cut by the frame).
    let mut valleys: Vec<Option<Point>> = Vec::new();
    for k in 0..m - 1 {
        let (a, b) = (ordered[k], ordered[k + 1]);
        let (pa, pb) = (pts[a], pts[b]);
        let len = (b + n - a) % n;
        let (ux, uy) = (pb.x - pa.x, pb.y - pa.y);
        let ul = (ux * ux + uy * uy).sqrt().max(1e-3);
        let mut best: Option<(f32, usize)> = None;
        let mut blocked = false;
        for d in 1..len {
            let i = (a + d) % n;
            if o.cut[i] {
                let id = run_id[i];
                if id != run_id[a] && id != run_id[b] {
                    blocked = true;
                }
                continue;
            }
            let p = pts[i];
            let dist = ((p.x - pa.x) * uy - (p.y - pa.y) * ux).abs() / ul;
            if best.is_none_or(|(bd, _)| dist > bd) {
                best = Some((dist, i));
            }
        }
        valleys.push(match best {
            Some((dmax, i)) if !blocked => {
                // The chord of two tips of unequal length is tilted, so its deepest point slides
                // up the longer finger's edge. Among the deep points, take the sharpest corner
                // (k-cosine): the web where the two finger edges meet.
                let kk = ((params::VALLEY_CORNER_RADII * o.radius).round() as usize).max(2);
                let mut sharp = (f32::MIN, i);
                for d in 1..len {
                    let j = (a + d) % n;
                    if o.cut[j] || d < kk || d + kk > len {
                        continue;
                    }
                    let p = pts[j];
                    let depth = ((p.x - pa.x) * uy - (p.y - pa.y) * ux).abs() / ul;
                    if depth < params::VALLEY_DEEP_FRACTION * dmax {
                        continue;
                    }
                    let (q0, q1) = (pts[(j + n - kk) % n], pts[(j + kk) % n]);
                    let (v0, v1) = (
                        unit(Point::new(q0.x - p.x, q0.y - p.y)),
                        unit(Point::new(q1.x - p.x, q1.y - p.y)),
                    );
                    let cos = v0.x * v1.x + v0.y * v1.y;
                    if cos > sharp.0 {
                        sharp = (cos, j);
                    }
                }
                Some(refine_valley(pts[sharp.1], o.centre))
            }
            _ => None,
        });
    }
    let tip_pts: Vec<Point> = ordered.iter().map(|&i| pts[i]).collect();
    let tip_d: Vec<f32> = ordered.iter().map(|&i| prof[i]).collect();
    choose_fingers(&tip_pts, &tip_d, &valleys, o.centre, o.radius, hand)
}

/// Hypothesis from a ring of radius `rho` around the palm centre: the mask's runs along the
/// ring of finger-like width are fingers; the background between two adjacent fingers, inside
/// the ring, is their gap, and its deepest point along the gap's axis is the valley. Fingertips merged
/// with objects beyond the ring do not matter.
fn ring_hypothesis(
    fg: &impl Fn(usize) -> bool,
    (w, h): (usize, usize),
    c: Point,
    r: f32,
    rho: f32,
    hand: Hand,
) -> Option<Pick> {
    // Mask at a point: Some(true/false) inside the frame, None outside.
    let at = |x: f32, y: f32| -> Option<bool> {
        let (xi, yi) = (x.round(), y.round());
        if xi < 0.0 || yi < 0.0 || xi >= w as f32 || yi >= h as f32 {
            None
        } else {
            Some(fg(yi as usize * w + xi as usize))
        }
    };
    let samples: Vec<Option<bool>> = ring_pixels(c, rho, (w, h))
        .into_iter()
        .map(|p| p.map(fg))
        .collect();
    let k = samples.len();
    if samples.iter().all(|s| *s == Some(true)) {
        return None;
    }
    // Start at a non-foreground sample so runs do not wrap.
    let start = samples.iter().position(|s| *s != Some(true))?;
    // Runs of foreground: (first, last) sample index in linear order from `start`.
    let mut runs: Vec<(usize, usize, bool)> = Vec::new(); // (a, b, touches frame edge)
    let mut j = 0;
    while j < k {
        let idx = (start + j) % k;
        if samples[idx] == Some(true) {
            let a = j;
            while j < k && samples[(start + j) % k] == Some(true) {
                j += 1;
            }
            let b = j - 1;
            let before = samples[(start + a + k - 1) % k];
            let after = samples[(start + b + 1) % k];
            runs.push((a, b, before.is_none() || after.is_none()));
        } else {
            j += 1;
        }
    }
    let step = std::f32::consts::TAU * rho / k as f32;
    let width = |run: &(usize, usize, bool)| (run.1 - run.0 + 1) as f32 * step;
    let finger_like = |run: &(usize, usize, bool)| -> bool {
        !run.2
            && width(run) >= params::FINGER_MIN_WIDTH_RADII * r
            && width(run) <= params::FINGER_MAX_WIDTH_RADII * r
    };
    // Two touching fingers: one run of about twice a finger's width.
    let finger_pair = |run: &(usize, usize, bool)| -> bool {
        !run.2
            && width(run) > params::FINGER_MAX_WIDTH_RADII * r
            && width(run) <= params::FINGER_PAIR_MAX_WIDTH_RADII * r
    };
    // Pieces: (first, last) angular sample positions (linear from `start`) of one finger, and
    // whether it touches the previous piece (no gap, so no valley between them).
    let mut best: Option<Pick> = None;
    let mut seq: Vec<(f32, f32, bool)> = Vec::new();
    let angle_of = |pos: f32| std::f32::consts::TAU * ((start as f32 + pos) % k as f32) / k as f32;
    let flush = |seq: &Vec<(f32, f32, bool)>, best: &mut Option<Pick>| {
        if seq.len() < 4 {
            return;
        }
        let fingers: Vec<Point> = seq
            .iter()
            .map(|&(a, b, _)| {
                let t = angle_of((a + b) / 2.0);
                Point::new(c.x + rho * t.cos(), c.y + rho * t.sin())
            })
            .collect();
        // Finger length: march outwards along the finger's middle until the mask ends.
        let lengths: Vec<f32> = fingers
            .iter()
            .map(|f| {
                let d = unit(Point::new(f.x - c.x, f.y - c.y));
                let mut l = rho;
                while l < rho + 3.0 * r {
                    match at(c.x + l * d.x, c.y + l * d.y) {
                        Some(true) => l += 1.0,
                        _ => break,
                    }
                }
                l
            })
            .collect();
        let valleys: Vec<Option<Point>> = seq
            .windows(2)
            .map(|p| {
                if p[1].2 {
                    return None; // touching fingers: their valley is not visible
                }
                let g = angle_of((p[0].1 + p[1].0) / 2.0);
                gap_bottom(fg, (w, h), c, rho, c.x + rho * g.cos(), c.y + rho * g.sin())
            })
            .collect();
        // Tips at the end of each finger's march: the finger axes then point along the fingers.
        let tips: Vec<Point> = fingers
            .iter()
            .zip(&lengths)
            .map(|(f, &l)| {
                let d = unit(Point::new(f.x - c.x, f.y - c.y));
                Point::new(c.x + l * d.x, c.y + l * d.y)
            })
            .collect();
        if let Some(p) = choose_fingers(&tips, &lengths, &valleys, c, r, hand) {
            if best.as_ref().is_none_or(|b| p.rank < b.rank) {
                *best = Some(p);
            }
        }
    };
    let mut prev_end: Option<usize> = None;
    for run in &runs {
        let gap_clean = prev_end
            .is_none_or(|pe| (pe + 1..run.0).all(|j| samples[(start + j) % k] == Some(false)));
        if !gap_clean || !(finger_like(run) || finger_pair(run)) {
            flush(&seq, &mut best);
            seq.clear();
        }
        let (a, b) = (run.0 as f32, run.1 as f32);
        if finger_like(run) {
            seq.push((a, b, false));
            prev_end = Some(run.1);
        } else if finger_pair(run) {
            let m = (a + b) / 2.0;
            seq.push((a, m, false));
            seq.push((m, b, true));
            prev_end = Some(run.1);
        } else {
            prev_end = None;
        }
    }
    flush(&seq, &mut best);
    best
}

/// Visited flags reused across floods: a sample is marked when it holds the current flood's
/// stamp, so starting a flood costs no clearing (gap floods run hundreds of times per capture).
#[derive(Default)]
struct Stamps {
    stamp: Vec<u32>,
    current: u32,
}

impl Stamps {
    fn reset(&mut self, len: usize) {
        if self.stamp.len() < len {
            self.stamp.resize(len, 0);
        }
        self.current = self.current.wrapping_add(1);
        if self.current == 0 {
            self.stamp.fill(0);
            self.current = 1;
        }
    }
    #[inline]
    fn mark(&mut self, i: usize) {
        self.stamp[i] = self.current;
    }
    #[inline]
    fn is_marked(&self, i: usize) -> bool {
        self.stamp[i] == self.current
    }
}

thread_local! {
    static SEEN: std::cell::RefCell<Stamps> = std::cell::RefCell::new(Stamps::default());
}

/// The deepest background pixel, along the gap's axis (the radial direction through
/// `(sx, sy)`), of the gap region reachable from `(sx, sy)` without leaving the disc of radius
/// `rho`: the bottom of the gap between two fingers.
fn gap_bottom(
    fg: &impl Fn(usize) -> bool,
    (w, h): (usize, usize),
    c: Point,
    rho: f32,
    sx: f32,
    sy: f32,
) -> Option<Point> {
    let (sx, sy) = (sx.round() as isize, sy.round() as isize);
    if sx < 0 || sy < 0 || sx >= w as isize || sy >= h as isize {
        return None;
    }
    if fg(sy as usize * w + sx as usize) {
        return None;
    }
    let r2 = (rho + 1.0) * (rho + 1.0);
    // Visited flags on the disc's bounding box only.
    let x0 = (c.x - rho - 2.0).floor().max(0.0) as usize;
    let y0 = (c.y - rho - 2.0).floor().max(0.0) as usize;
    let bw = ((c.x + rho + 2.0).ceil() as usize)
        .min(w - 1)
        .saturating_sub(x0)
        + 1;
    let bh = ((c.y + rho + 2.0).ceil() as usize)
        .min(h - 1)
        .saturating_sub(y0)
        + 1;
    let win = Window { x0, y0, bw, bh };
    SEEN.with_borrow_mut(|seen| {
        let (sxu, syu) = (sx as usize, sy as usize);
        let s0 = win.local(sxu, syu)?;
        seen.reset(bw * bh);
        seen.mark(s0);
        flood_deepest(fg, (w, h), c, r2, seen, win, (sxu, syu), (sx, sy))
    })
}

/// The disc's bounding box, where a flood keeps its visited flags.
#[derive(Clone, Copy)]
struct Window {
    x0: usize,
    y0: usize,
    bw: usize,
    bh: usize,
}

impl Window {
    /// Index of image pixel `(x, y)` in the window (pixels travel as (x, y): no division per
    /// visit).
    #[inline]
    fn local(self, x: usize, y: usize) -> Option<usize> {
        (x >= self.x0 && y >= self.y0 && x < self.x0 + self.bw && y < self.y0 + self.bh)
            .then(|| (y - self.y0) * self.bw + (x - self.x0))
    }
}

/// The flood of [`gap_bottom`] from its seed (already marked), returning the boundary point.
#[allow(clippy::too_many_arguments)]
fn flood_deepest(
    fg: &impl Fn(usize) -> bool,
    (w, h): (usize, usize),
    c: Point,
    r2: f32,
    seen: &mut Stamps,
    win: Window,
    (sxu, syu): (usize, usize),
    (sx, sy): (isize, isize),
) -> Option<Point> {
    let mut stack = vec![(sxu, syu)];
    let u = unit(Point::new(sx as f32 - c.x, sy as f32 - c.y));
    let mut best = (f32::INFINITY, (sxu, syu));
    while let Some((xu, yu)) = stack.pop() {
        // Depth along the gap's axis (the ring point's radial direction); a little of the
        // lateral offset breaks ties on a flat web floor.
        let (px, py) = (xu as f32 - c.x, yu as f32 - c.y);
        let depth = px * u.x + py * u.y + 0.1 * (px * u.y - py * u.x).abs();
        if depth < best.0 {
            best = (depth, (xu, yu));
        }
        let (xi, yi) = (xu as isize, yu as isize);
        for (dx, dy) in [(-1isize, 0isize), (1, 0), (0, -1), (0, 1)] {
            let (nx, ny) = (xi + dx, yi + dy);
            if nx < 0 || ny < 0 || nx >= w as isize || ny >= h as isize {
                // The gap reaches the frame border inside the ring: not a closed finger gap.
                return None;
            }
            if ((nx as f32 - c.x).powi(2) + (ny as f32 - c.y).powi(2)) > r2 {
                continue;
            }
            let (nxu, nyu) = (nx as usize, ny as usize);
            let Some(lj) = win.local(nxu, nyu) else {
                continue;
            };
            if seen.is_marked(lj) || fg(nyu * w + nxu) {
                continue;
            }
            seen.mark(lj);
            stack.push((nxu, nyu));
        }
    }
    let best = (best.0, best.1 .1 * w + best.1 .0);
    let p = Point::new((best.1 % w) as f32, (best.1 / w) as f32);
    // The boundary lies half a pixel towards the palm centre of the nearest background pixel.
    let d = unit(Point::new(c.x - p.x, c.y - p.y));
    Some(Point::new(p.x + 0.5 * d.x, p.y + 0.5 * d.y))
}

/// Choose the most hand-like run of four adjacent fingers (either direction) from fingers in
/// outline order, their lengths, and the valleys between neighbours (`valleys[k]` between
/// fingers `k` and `k+1`).
fn choose_fingers(
    tip_pts: &[Point],
    tip_d: &[f32],
    valleys: &[Option<Point>],
    centre: Point,
    r: f32,
    hand: Hand,
) -> Option<Pick> {
    let m = tip_pts.len();
    if m < 4 {
        return None;
    }
    let mut best: Option<Pick> = None;
    for s in 0..=m - 4 {
        for rev in [false, true] {
            // Tip indices little → index, valley indices V3, V2, V1 (valley k between tips k, k+1).
            let ti: Vec<usize> = if rev {
                (s..s + 4).rev().collect()
            } else {
                (s..s + 4).collect()
            };
            let vi: Vec<usize> = if rev {
                vec![s + 2, s + 1, s]
            } else {
                vec![s, s + 1, s + 2]
            };
            // V2 hidden between touching middle and ring fingers: it does not enter the ROI, so
            // take it midway between V1 and V3, at a penalty.
            let mut vs3: Vec<Option<Point>> = vi.iter().map(|&k| valleys[k]).collect();
            let mut interpolated = false;
            if let (Some(a), None, Some(b)) = (vs3[0], vs3[1], vs3[2]) {
                vs3[1] = Some(Point::new((a.x + b.x) / 2.0, (a.y + b.y) / 2.0));
                interpolated = true;
            }
            let Some(vs) = vs3.into_iter().collect::<Option<Vec<Point>>>() else {
                continue;
            };
            let (v3, v2, v1) = (vs[0], vs[1], vs[2]);
            let x = Point::new(v1.x - v3.x, v1.y - v3.y);
            let mid = Point::new((v1.x + v3.x) / 2.0, (v1.y + v3.y) / 2.0);
            let tm = mean(&ti.iter().map(|&k| tip_pts[k]).collect::<Vec<_>>());
            let f = Point::new(tm.x - mid.x, tm.y - mid.y);
            // Right hand, palm view, in image coordinates (y down): x̂ × fingers < 0.
            let this = if x.x * f.y - x.y * f.x < 0.0 {
                Hand::Right
            } else {
                Hand::Left
            };
            if hand != Hand::Unknown && hand != this {
                continue;
            }
            let (g1, g2) = (v1.dist(v2), v2.dist(v3));
            if g1 < 1e-3 || g2 < 1e-3 {
                continue;
            }
            let mut score = (g1 / g2).ln().abs();
            if interpolated {
                score += params::HIDDEN_V2_PENALTY;
            }
            let a1 = Point::new(v2.x - v3.x, v2.y - v3.y);
            let a2 = Point::new(v1.x - v2.x, v1.y - v2.y);
            let cosb = (a1.x * a2.x + a1.y * a2.y) / (g1 * g2);
            // Bend at V2 beyond what real hands show, radians.
            score +=
                (cosb.clamp(-1.0, 1.0).acos() - params::FREE_V2_BEND_DEG.to_radians()).max(0.0);
            score += ((g1 + g2) / 2.0 / (params::VALLEY_GAP_RADII * r))
                .ln()
                .abs();
            // The three valleys lie about equally far from the palm centre; the thumb web (or a
            // notch against clutter) lies much nearer or farther.
            let (c1, c2, c3) = (v1.dist(centre), v2.dist(centre), v3.dist(centre));
            if c2 > 1e-3 {
                score +=
                    params::VALLEY_DEPTH_WEIGHT * ((c1 / c2).ln().abs() + (c3 / c2).ln().abs());
            }
            // Finger lengths (distance from the palm centre): middle ≥ others, little shortest.
            let d: Vec<f32> = ti.iter().map(|&k| tip_d[k]).collect();
            let pen = |a: f32, b: f32| (a - b).max(0.0) / r; // want a ≤ b
            score += pen(d[0], d[1]) + pen(d[0], d[3]) + pen(d[1], d[2]) + pen(d[3], d[2]);
            // Adjacent fingers' axes (valley → tip) differ little; the thumb leaves the palm at
            // 45–90° to the index. A hypothesis that took the thumb for a finger (a real finger
            // lost against clutter or the frame border) shows it here.
            let base = [
                v3,
                Point::new((v3.x + v2.x) / 2.0, (v3.y + v2.y) / 2.0),
                Point::new((v2.x + v1.x) / 2.0, (v2.y + v1.y) / 2.0),
                v1,
            ];
            let axes: Vec<Point> = ti
                .iter()
                .zip(base)
                .map(|(&k, b)| unit(Point::new(tip_pts[k].x - b.x, tip_pts[k].y - b.y)))
                .collect();
            for w in axes.windows(2) {
                let dev = (w[0].x * w[1].x + w[0].y * w[1].y).clamp(-1.0, 1.0).acos();
                score += params::FINGER_AXIS_WEIGHT
                    * (dev - params::FINGER_AXIS_FREE_DEG.to_radians()).max(0.0);
            }
            // Fingers point away from the palm centre.
            let dir = Point::new(mid.x - centre.x, mid.y - centre.y);
            if dir.x * f.x + dir.y * f.y < 0.0 {
                score += 2.0;
            }
            // Beyond the index finger: the thumb, whose web is wider than the finger gaps.
            let thumb_k = if rev {
                s.checked_sub(1)
            } else {
                Some(s + 4).filter(|&k| k < m)
            };
            let v0 = thumb_k.and_then(|_| if rev { valleys[s - 1] } else { valleys[s + 3] });
            if let Some(v0) = v0 {
                // A wide web beyond the index finger: the thumb.
                score -= if v0.dist(v1) > 1.2 * (g1 + g2) / 2.0 {
                    0.3
                } else {
                    0.0
                };
            }
            // Any digit with a valley beyond the index (the thumb, seen by this scan) supports
            // this assignment against one from a scan that missed a finger and took the thumb
            // for the index: a tie-break between hypotheses, not plausibility, so it does not
            // count against MAX_FINGER_PATTERN_SCORE.
            let support = if v0.is_some() {
                params::THUMB_SUPPORT
            } else {
                0.0
            };
            // Beyond the little finger there should be nothing.
            let beyond_little = if rev { s + 4 < m } else { s > 0 };
            if beyond_little {
                score += 0.3;
            }
            if best.as_ref().is_none_or(|b| score - support < b.rank) {
                let fingers = ti.iter().map(|&k| tip_pts[k]).collect();
                best = Some(Pick {
                    score,
                    rank: score - support,
                    fingers,
                    valleys: vs,
                    v0,
                    hand: this,
                });
            }
        }
    }
    best
}

/// Sub-pixel valley: move the contour pixel half a pixel outwards (the boundary lies between
/// the last foreground and first background pixel), away from the palm centre.
fn refine_valley(p: Point, centre: Point) -> Point {
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
