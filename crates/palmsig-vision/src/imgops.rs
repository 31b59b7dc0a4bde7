//! Small image operations used by the stages: area downscaling, Gaussian smoothing, Otsu,
//! binary morphology, connected components, hole filling, distance transform, contour tracing,
//! bilinear warping. Binary masks are `Vec<bool>` row-major with explicit width/height.

use palmsig_core::{GrayF32, GrayImage, Point};

/// Downscale by the integer factor `k` with area averaging (output `floor(w/k) x floor(h/k)`,
/// at least 1x1). Working pixel (x, y) covers original pixels `[k·x, k·x+k)`.
pub fn downscale_box(img: &GrayImage, k: usize) -> GrayF32 {
    let k = k.max(1);
    let (ow, oh) = ((img.width() / k).max(1), (img.height() / k).max(1));
    downscale_box_region(img, k, (0, 0, ow, oh))
}

/// [`downscale_box`] of a region only: output pixels `x0..x0+ow`, `y0..y0+oh` of the full
/// downscaled image (clipped to it), as an `ow x oh` image (pixels beyond the image stay 0).
pub fn downscale_box_region(
    img: &GrayImage,
    k: usize,
    (x0, y0, ow, oh): (usize, usize, usize, usize),
) -> GrayF32 {
    let k = k.max(1);
    let (w, h) = (img.width(), img.height());
    let mut out = vec![0f32; ow * oh];
    let src = img.as_slice();
    if k == 1 {
        // A plain copy of the clipped region.
        let cw = ow.min(w.saturating_sub(x0));
        let rows = if cw == 0 {
            0
        } else {
            oh.min(h.saturating_sub(y0))
        };
        for oy in 0..rows {
            let line = &src[(y0 + oy) * w + x0..(y0 + oy) * w + x0 + cw];
            for (d, &v) in out[oy * ow..oy * ow + cw].iter_mut().zip(line) {
                *d = v as f32;
            }
        }
        return GrayF32::from_vec(ow, oh, out).unwrap_or_else(|_| GrayF32::new(ow, oh));
    }
    let mut row = vec![0u32; ow];
    for oy in 0..oh {
        row.iter_mut().for_each(|v| *v = 0);
        let mut n_rows = 0u32;
        for y in (y0 + oy) * k..((y0 + oy + 1) * k).min(h) {
            n_rows += 1;
            let line = &src[y * w..(y + 1) * w];
            for (ox, acc) in row.iter_mut().enumerate() {
                let xa = ((x0 + ox) * k).min(w);
                let xb = (xa + k).min(w);
                *acc += line[xa..xb].iter().map(|&v| v as u32).sum::<u32>();
            }
        }
        for ox in 0..ow {
            let xa = ((x0 + ox) * k).min(w);
            let n_cols = (xa + k).min(w) - xa;
            let n = (n_rows * n_cols as u32).max(1);
            out[oy * ow + ox] = row[ox] as f32 / n as f32;
        }
    }
    GrayF32::from_vec(ow, oh, out).unwrap_or_else(|_| GrayF32::new(ow, oh))
}

/// Separable Gaussian blur with edge clamping.
pub fn gaussian(img: &GrayF32, sigma: f32) -> GrayF32 {
    if sigma <= 0.0 {
        return img.clone();
    }
    let r = (sigma * 3.0).ceil() as isize;
    let kernel: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let sum: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|v| v / sum).collect();
    let (w, h) = (img.width(), img.height());
    let src = img.as_slice();
    let mut tmp = vec![0f32; w * h];
    // Each row padded with its edge values, so the inner loop needs no clamping.
    let ru = r as usize;
    let mut padded = vec![0f32; w + 2 * ru];
    for y in 0..h {
        let line = &src[y * w..(y + 1) * w];
        padded[..ru].fill(line[0]);
        padded[ru..ru + w].copy_from_slice(line);
        padded[ru + w..].fill(line[w - 1]);
        // Tap by tap over the whole row (vectorises; same summation order as per pixel).
        let dst = &mut tmp[y * w..(y + 1) * w];
        for (i, kv) in kernel.iter().enumerate() {
            for (d, s) in dst.iter_mut().zip(&padded[i..i + w]) {
                *d += kv * s;
            }
        }
    }
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        for (i, kv) in kernel.iter().enumerate() {
            let yy = (y as isize + i as isize - r).clamp(0, h as isize - 1) as usize;
            let src_row = &tmp[yy * w..(yy + 1) * w];
            let dst = &mut out[y * w..(y + 1) * w];
            for (d, s) in dst.iter_mut().zip(src_row) {
                *d += kv * s;
            }
        }
    }
    GrayF32::from_vec(w, h, out).unwrap_or_else(|_| GrayF32::new(w, h))
}

/// Otsu's threshold over values in 0–255 (256 bins). Returns `(threshold, separation)` where
/// `separation` is the distance between the two class means (0–255).
pub fn otsu(values: &[f32]) -> (f32, f32) {
    let mut hist = [0u64; 256];
    for &v in values {
        hist[v.clamp(0.0, 255.0) as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return (128.0, 0.0);
    }
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut w0, mut sum0) = (0u64, 0f64);
    let (mut best, mut best_t, mut best_sep) = (-1.0f64, 128usize, 0.0f64);
    for (t, &count) in hist.iter().enumerate().take(255) {
        w0 += count;
        sum0 += t as f64 * count as f64;
        let w1 = total - w0;
        if w0 == 0 || w1 == 0 {
            continue;
        }
        let m0 = sum0 / w0 as f64;
        let m1 = (sum_all - sum0) / w1 as f64;
        let between = w0 as f64 * w1 as f64 * (m0 - m1) * (m0 - m1);
        if between > best {
            best = between;
            best_t = t;
            best_sep = m1 - m0;
        }
    }
    (best_t as f32 + 0.5, best_sep as f32)
}

/// Morphological opening with a Euclidean disc of radius `r` (via two distance transforms, so
/// the cost does not grow with `r`). Out-of-frame counts as foreground, so blobs running out of
/// the frame (the wrist) are not eaten from the border.
pub fn open_disc(mask: &[bool], w: usize, h: usize, r: f32) -> Vec<bool> {
    open_disc_with(&distance_transform(mask, w, h), w, h, r)
}

/// [`open_disc`] given the mask's distance transform.
pub fn open_disc_with(dt: &[f32], w: usize, h: usize, r: f32) -> Vec<bool> {
    let eroded: Vec<bool> = dt.iter().map(|&d| d > r).collect();
    if !eroded.iter().any(|&e| e) {
        return eroded;
    }
    let inv: Vec<bool> = eroded.iter().map(|&e| !e).collect();
    let dt2 = distance_transform(&inv, w, h);
    dt2.iter().map(|&d| d <= r).collect()
}

/// One 8-connected component.
#[derive(Debug, Clone)]
pub struct Component {
    /// Label in the label image (1-based).
    pub label: u32,
    /// Pixel count.
    pub area: usize,
}

/// 8-connected component labelling. Returns the label image (0 = background) and the
/// components sorted by decreasing area.
pub fn components(mask: &[bool], w: usize, h: usize) -> (Vec<u32>, Vec<Component>) {
    let mut labels = vec![0u32; w * h];
    let mut comps = Vec::new();
    let mut stack = Vec::new();
    let mut next = 1u32;
    for start in 0..w * h {
        if !mask[start] || labels[start] != 0 {
            continue;
        }
        let mut area = 0usize;
        labels[start] = next;
        stack.push(start);
        while let Some(i) = stack.pop() {
            area += 1;
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            for dy in -1..=1isize {
                for dx in -1..=1isize {
                    let (xx, yy) = (x + dx, y + dy);
                    if xx < 0 || yy < 0 || xx >= w as isize || yy >= h as isize {
                        continue;
                    }
                    let j = yy as usize * w + xx as usize;
                    if mask[j] && labels[j] == 0 {
                        labels[j] = next;
                        stack.push(j);
                    }
                }
            }
        }
        comps.push(Component { label: next, area });
        next += 1;
    }
    comps.sort_by(|a, b| b.area.cmp(&a.area).then(a.label.cmp(&b.label)));
    (labels, comps)
}

/// Fill holes: background pixels not 4-connected to the frame border become foreground.
pub fn fill_holes(mask: &mut [bool], w: usize, h: usize) {
    let mut outside = vec![false; w * h];
    let mut stack = Vec::new();
    for x in 0..w {
        for y in [0, h - 1] {
            let i = y * w + x;
            if !mask[i] && !outside[i] {
                outside[i] = true;
                stack.push(i);
            }
        }
    }
    for y in 0..h {
        for x in [0, w - 1] {
            let i = y * w + x;
            if !mask[i] && !outside[i] {
                outside[i] = true;
                stack.push(i);
            }
        }
    }
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        let mut visit = |j: usize| {
            if !mask[j] && !outside[j] {
                outside[j] = true;
                stack.push(j);
            }
        };
        if x > 0 {
            visit(i - 1);
        }
        if x + 1 < w {
            visit(i + 1);
        }
        if y > 0 {
            visit(i - w);
        }
        if y + 1 < h {
            visit(i + w);
        }
    }
    for (m, o) in mask.iter_mut().zip(&outside) {
        if !*o {
            *m = true;
        }
    }
}

/// Euclidean distance transform of the foreground (distance to the nearest background pixel;
/// pixels outside the frame count as foreground, so a blob cut by the border is not "thin"
/// there). Exact, Felzenszwalb–Huttenlocher, in pixels.
pub fn distance_transform(mask: &[bool], w: usize, h: usize) -> Vec<f32> {
    const INF: f32 = 1e12;
    let mut f = vec![0f32; w.max(h)];
    let mut d = vec![0f32; w.max(h)];
    let mut v = vec![0usize; w.max(h)];
    let mut z = vec![0f32; w.max(h) + 1];
    let mut grid = vec![INF; w * h];
    let mut edt1d = |f: &[f32], n: usize, d: &mut [f32]| {
        let mut k = 0usize;
        v[0] = 0;
        z[0] = -INF;
        z[1] = INF;
        for q in 1..n {
            loop {
                let p = v[k];
                let s = ((f[q] + (q * q) as f32) - (f[p] + (p * p) as f32))
                    / (2.0 * q as f32 - 2.0 * p as f32);
                if s <= z[k] && k > 0 {
                    k -= 1;
                    continue;
                }
                if s <= z[k] {
                    // k == 0: replace
                    v[0] = q;
                    z[0] = -INF;
                    z[1] = INF;
                    break;
                }
                k += 1;
                v[k] = q;
                z[k] = s;
                z[k + 1] = INF;
                break;
            }
        }
        k = 0;
        for (q, dq) in d.iter_mut().enumerate().take(n) {
            while z[k + 1] < q as f32 {
                k += 1;
            }
            let p = v[k];
            *dq = (q as f32 - p as f32).powi(2) + f[p];
        }
    };
    column_distances(mask, w, h, &mut grid);
    for y in 0..h {
        let row = &mut grid[y * w..(y + 1) * w];
        // Samples left of the first non-zero and right of the last are background (0, their
        // own answer), and past them only the nearest background samples can be the closest:
        // the envelope runs on the span from one before the first to one after the last.
        let Some(first) = row.iter().position(|&v| v != 0.0) else {
            continue;
        };
        let last = row.iter().rposition(|&v| v != 0.0).unwrap_or(first);
        let (a, b) = (first.saturating_sub(1), (last + 2).min(w));
        let n = b - a;
        f[..n].copy_from_slice(&row[a..b]);
        edt1d(&f, n, &mut d);
        row[a..b].copy_from_slice(&d[..n]);
    }
    grid.iter()
        .map(|&v| if v >= INF * 0.5 { INF.sqrt() } else { v.sqrt() })
        .collect()
}

/// The first pass of [`distance_transform`]: each sample's squared distance to the nearest
/// background sample in its own column (`grid` keeps its `INF` where a column has none). On a
/// binary input this is two running counts, row by row (cache-friendly and vectorisable), and
/// equals the parabola envelope's result there.
fn column_distances(mask: &[bool], w: usize, h: usize, grid: &mut [f32]) {
    const FAR: u32 = u32::MAX / 2;
    let mut run = vec![FAR; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            run[i] = if !mask[i] {
                0
            } else if y > 0 {
                run[i - w].saturating_add(1).min(FAR)
            } else {
                FAR
            };
        }
    }
    for y in (0..h.saturating_sub(1)).rev() {
        for x in 0..w {
            let i = y * w + x;
            run[i] = run[i].min(run[i + w].saturating_add(1));
        }
    }
    for (g, &r) in grid.iter_mut().zip(&run) {
        if r < FAR / 2 {
            *g = (r as f32) * (r as f32);
        }
    }
}

/// Outer boundary of the blob containing `start` (its topmost-leftmost pixel), traced with
/// Moore-neighbour tracing, clockwise on screen. Returns pixel coordinates.
pub fn trace_contour(mask: &[bool], w: usize, h: usize) -> Vec<(usize, usize)> {
    let Some(start) = mask.iter().position(|&m| m) else {
        return Vec::new();
    };
    let at = |x: isize, y: isize| -> bool {
        x >= 0 && y >= 0 && x < w as isize && y < h as isize && mask[y as usize * w + x as usize]
    };
    // Neighbours in clockwise order (screen coordinates, y down), starting West.
    const DIRS: [(isize, isize); 8] = [
        (-1, 0),
        (-1, -1),
        (0, -1),
        (1, -1),
        (1, 0),
        (1, 1),
        (0, 1),
        (-1, 1),
    ];
    let s = ((start % w) as isize, (start / w) as isize);
    let dir_of = |from: (isize, isize), to: (isize, isize)| -> usize {
        let d = (to.0 - from.0, to.1 - from.1);
        DIRS.iter().position(|&q| q == d).unwrap_or(0)
    };
    let mut out = vec![(s.0 as usize, s.1 as usize)];
    // The start is the first foreground pixel in raster order, so its west neighbour is
    // background: that is the initial backtrack pixel.
    let b0 = (s.0 - 1, s.1);
    let (mut cur, mut b) = (s, b0);
    let mut first: Option<((isize, isize), (isize, isize))> = None;
    let max_steps = 4 * w * h + 8;
    for _ in 0..max_steps {
        let bi = dir_of(cur, b);
        let mut moved = false;
        for i in 1..=8 {
            let di = (bi + i) % 8;
            let c = (cur.0 + DIRS[di].0, cur.1 + DIRS[di].1);
            if at(c.0, c.1) {
                let pb = (bi + i - 1) % 8;
                b = (cur.0 + DIRS[pb].0, cur.1 + DIRS[pb].1);
                cur = c;
                moved = true;
                break;
            }
        }
        if !moved {
            return out; // isolated pixel
        }
        // The tracing state (pixel, backtrack) is deterministic: when the state after the first
        // move comes back, the whole outline has been walked.
        match first {
            None => first = Some((cur, b)),
            Some(f) if f == (cur, b) => {
                out.pop(); // the start, pushed again on arrival
                return out;
            }
            Some(_) => {}
        }
        out.push((cur.0 as usize, cur.1 as usize));
    }
    out
}

/// Bilinear sample with edge clamping (coordinates clamped into the image).
#[inline]
pub fn sample_clamped(img: &GrayF32, x: f32, y: f32) -> f32 {
    let xc = x.clamp(0.0, (img.width() - 1) as f32);
    let yc = y.clamp(0.0, (img.height() - 1) as f32);
    img.sample(xc, yc, 0.0)
}

/// Bilinear sample of an 8-bit image with edge clamping.
#[inline]
pub fn sample_u8(img: &GrayImage, x: f32, y: f32) -> f32 {
    let (w, h) = (img.width(), img.height());
    let xc = x.clamp(0.0, (w - 1) as f32);
    let yc = y.clamp(0.0, (h - 1) as f32);
    let x0 = xc.floor() as usize;
    let y0 = yc.floor() as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = xc - x0 as f32;
    let fy = yc - y0 as f32;
    let s = img.as_slice();
    let a = s[y0 * w + x0] as f32 * (1.0 - fx) + s[y0 * w + x1] as f32 * fx;
    let b = s[y1 * w + x0] as f32 * (1.0 - fx) + s[y1 * w + x1] as f32 * fx;
    a * (1.0 - fy) + b * fy
}

/// Variance of the 4-neighbour Laplacian (interior pixels).
pub fn laplacian_variance(img: &GrayF32) -> f32 {
    let (w, h) = (img.width(), img.height());
    if w < 3 || h < 3 {
        return 0.0;
    }
    let s = img.as_slice();
    let (mut sum, mut sum2, mut n) = (0f64, 0f64, 0f64);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            let l = (s[i - 1] + s[i + 1] + s[i - w] + s[i + w] - 4.0 * s[i]) as f64;
            sum += l;
            sum2 += l * l;
            n += 1.0;
        }
    }
    ((sum2 / n) - (sum / n).powi(2)).max(0.0) as f32
}

/// Mean and standard deviation.
pub fn mean_std(values: &[f32]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let m = values.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = values.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / n;
    (m as f32, var.sqrt() as f32)
}

/// Draw a filled disc (for explain images).
pub fn draw_disc(img: &mut GrayImage, c: Point, r: f32, v: u8) {
    let (w, h) = (img.width() as isize, img.height() as isize);
    let ri = r.ceil() as isize;
    for dy in -ri..=ri {
        for dx in -ri..=ri {
            if (dx * dx + dy * dy) as f32 > r * r {
                continue;
            }
            let (x, y) = (c.x.round() as isize + dx, c.y.round() as isize + dy);
            if x >= 0 && y >= 0 && x < w && y < h {
                img.set(x as usize, y as usize, v);
            }
        }
    }
}

/// Draw a line segment (for explain images).
pub fn draw_line(img: &mut GrayImage, a: Point, b: Point, v: u8) {
    let n = (a.dist(b).ceil() as usize).clamp(1, 100_000);
    for i in 0..=n {
        let t = i as f32 / n as f32;
        let p = Point::new(a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t);
        let (x, y) = (p.x.round() as isize, p.y.round() as isize);
        if x >= 0 && y >= 0 && (x as usize) < img.width() && (y as usize) < img.height() {
            img.set(x as usize, y as usize, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_downscaled_region_is_that_part_of_the_downscaled_image() {
        let (w, h) = (37usize, 29usize);
        let data: Vec<u8> = (0..w * h).map(|i| ((i * 7919) % 251) as u8).collect();
        let img = GrayImage::from_vec(w, h, data).unwrap();
        for k in [1usize, 2, 3] {
            let full = downscale_box(&img, k);
            let (fw, fh) = (full.width(), full.height());
            for (x0, y0, rw, rh) in [(0, 0, fw, fh), (3, 2, 5, 4), (fw - 2, fh - 3, 2, 3)] {
                let part = downscale_box_region(&img, k, (x0, y0, rw, rh));
                for y in 0..rh {
                    for x in 0..rw {
                        let (a, b) = (
                            part.as_slice()[y * rw + x],
                            full.as_slice()[(y0 + y) * fw + x0 + x],
                        );
                        assert!((a - b).abs() < 1e-4, "k {k} ({x},{y}) {a} vs {b}");
                    }
                }
            }
            // A region reaching past the image keeps zeros there and never panics.
            let past = downscale_box_region(&img, k, (fw - 1, fh - 1, 4, 4));
            assert_eq!(past.as_slice()[3 * 4 + 3], 0.0);
        }
    }

    fn rect_mask(w: usize, h: usize, x0: usize, y0: usize, x1: usize, y1: usize) -> Vec<bool> {
        (0..w * h)
            .map(|i| (x0..x1).contains(&(i % w)) && (y0..y1).contains(&(i / w)))
            .collect()
    }

    #[test]
    fn contour_of_rectangle() {
        let m = rect_mask(10, 8, 2, 3, 6, 6);
        let c = trace_contour(&m, 10, 8);
        // 4x3 rectangle: perimeter pixels = 2*4 + 2*3 - 4 = 10.
        assert_eq!(c.len(), 10, "{c:?}");
        assert_eq!(c[0], (2, 3));
        assert!(c.iter().all(|&(x, y)| m[y * 10 + x]));
        let single = rect_mask(5, 5, 2, 2, 3, 3);
        assert_eq!(trace_contour(&single, 5, 5), vec![(2, 2)]);
    }

    #[test]
    fn distance_transform_of_square() {
        let m = rect_mask(11, 11, 1, 1, 10, 10);
        let d = distance_transform(&m, 11, 11);
        assert_eq!(d[5 * 11 + 5], 5.0);
        assert_eq!(d[0], 0.0);
        assert_eq!(d[11 + 1], 1.0);
    }

    /// The two-pass transform equals the brute-force nearest-background distance (and the
    /// no-background sentinel) on random masks of several shapes and densities.
    #[test]
    fn distance_transform_equals_brute_force() {
        let mut rng = palmsig_core::Rng::new(5);
        for (w, h, density) in [
            (17, 9, 0.9),
            (9, 23, 0.6),
            (31, 31, 0.97),
            (8, 8, 1.0),
            (1, 12, 0.5),
        ] {
            let m: Vec<bool> = (0..w * h).map(|_| rng.chance(density)).collect();
            let d = distance_transform(&m, w, h);
            for y in 0..h {
                for x in 0..w {
                    let mut best = f32::INFINITY;
                    for yy in 0..h {
                        for xx in 0..w {
                            if !m[yy * w + xx] {
                                let (dx, dy) = (x as f32 - xx as f32, y as f32 - yy as f32);
                                best = best.min((dx * dx + dy * dy).sqrt());
                            }
                        }
                    }
                    let got = d[y * w + x];
                    if best.is_finite() {
                        assert!(
                            (got - best).abs() < 1e-3,
                            "{w}x{h} ({x},{y}): {got} vs {best}"
                        );
                    } else {
                        assert_eq!(got, 1e6, "{w}x{h} ({x},{y}) has no background");
                    }
                }
            }
        }
    }

    #[test]
    fn holes_and_components() {
        let mut m = rect_mask(10, 10, 1, 1, 9, 9);
        m[5 * 10 + 5] = false;
        fill_holes(&mut m, 10, 10);
        assert!(m[55]);
        let mut two = rect_mask(10, 10, 0, 0, 3, 3);
        two[9 * 10 + 9] = true;
        let (_, comps) = components(&two, 10, 10);
        assert_eq!(comps.len(), 2);
        assert_eq!(comps[0].area, 9);
    }

    #[test]
    fn otsu_bimodal() {
        let mut v = vec![20.0; 500];
        v.extend(vec![100.0; 300]);
        let (t, sep) = otsu(&v);
        assert!(t > 20.0 && t < 100.0);
        assert!((sep - 80.0).abs() < 1.0);
    }

    #[test]
    fn box_downscale_averages() {
        let img = GrayImage::from_vec(4, 2, vec![0, 10, 20, 30, 40, 50, 60, 70]).unwrap();
        let d = downscale_box(&img, 2);
        assert_eq!(d.as_slice(), &[25.0, 45.0]);
    }
}
