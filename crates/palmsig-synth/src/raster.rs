//! Small raster helpers: curve strokes with a Gaussian cross-profile, separable blurs,
//! value noise, cheap Gaussian noise and a JPEG-like DCT quantiser.

use palmsig_core::{GrayF32, Rng};

/// A point of a stroke: position (texels), cross-profile sigma (texels) and depth (0–1).
#[derive(Debug, Clone, Copy)]
pub(crate) struct StrokePt {
    pub x: f32,
    pub y: f32,
    pub sigma: f32,
    pub depth: f32,
}

/// Add a curve's darkening to `acc`: each texel gets `max` over the curve's segments of
/// `depth * exp(-d²/2σ²)` (so a curve never darkens itself twice), then that is added to `acc`.
pub(crate) fn stroke(acc: &mut GrayF32, pts: &[StrokePt]) {
    if pts.len() < 2 {
        return;
    }
    let (w, h) = (acc.width() as i64, acc.height() as i64);
    let reach = pts.iter().map(|p| p.sigma).fold(0.0f32, f32::max) * 3.0 + 1.0;
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in pts {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    let bx0 = ((x0 - reach).floor() as i64).clamp(0, w);
    let by0 = ((y0 - reach).floor() as i64).clamp(0, h);
    let bx1 = ((x1 + reach).ceil() as i64 + 1).clamp(0, w);
    let by1 = ((y1 + reach).ceil() as i64 + 1).clamp(0, h);
    if bx1 <= bx0 || by1 <= by0 {
        return;
    }
    let bw = (bx1 - bx0) as usize;
    let bh = (by1 - by0) as usize;
    let mut scratch = vec![0.0f32; bw * bh];
    for seg in pts.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        let r = a.sigma.max(b.sigma) * 3.0 + 1.0;
        let sx0 = ((a.x.min(b.x) - r).floor() as i64).clamp(bx0, bx1);
        let sx1 = ((a.x.max(b.x) + r).ceil() as i64 + 1).clamp(bx0, bx1);
        let sy0 = ((a.y.min(b.y) - r).floor() as i64).clamp(by0, by1);
        let sy1 = ((a.y.max(b.y) + r).ceil() as i64 + 1).clamp(by0, by1);
        let (dx, dy) = (b.x - a.x, b.y - a.y);
        let len2 = (dx * dx + dy * dy).max(1e-9);
        for y in sy0..sy1 {
            let py = y as f32 + 0.5;
            let row = (y - by0) as usize * bw;
            for x in sx0..sx1 {
                let px = x as f32 + 0.5;
                let t = (((px - a.x) * dx + (py - a.y) * dy) / len2).clamp(0.0, 1.0);
                let (qx, qy) = (a.x + t * dx - px, a.y + t * dy - py);
                let d2 = qx * qx + qy * qy;
                let sigma = a.sigma + t * (b.sigma - a.sigma);
                let depth = a.depth + t * (b.depth - a.depth);
                let v = depth * (-d2 / (2.0 * sigma * sigma)).exp();
                let cell = &mut scratch[row + (x - bx0) as usize];
                if v > *cell {
                    *cell = v;
                }
            }
        }
    }
    let data = acc.as_mut_slice();
    for y in 0..bh {
        let dst = (by0 as usize + y) * w as usize + bx0 as usize;
        for (d, s) in data[dst..dst + bw]
            .iter_mut()
            .zip(&scratch[y * bw..(y + 1) * bw])
        {
            *d += *s;
        }
    }
}

/// Separable Gaussian blur in place (no-op for sigma < 0.2). Borders are clamped.
pub(crate) fn gaussian_blur(img: &mut GrayF32, sigma: f32) {
    if sigma < 0.2 {
        return;
    }
    let r = (sigma * 2.5).ceil() as usize;
    let mut k: Vec<f32> = (0..=2 * r)
        .map(|i| (-((i as f32 - r as f32).powi(2)) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= s);
    convolve_sep(img, &k);
}

/// Separable convolution with a symmetric odd kernel; clamped borders.
fn convolve_sep(img: &mut GrayF32, k: &[f32]) {
    let (w, h) = (img.width(), img.height());
    if w == 0 || h == 0 {
        return;
    }
    let r = k.len() / 2;
    let data = img.as_mut_slice();
    // Horizontal pass through a padded row.
    let mut pad = vec![0.0f32; w + 2 * r];
    for y in 0..h {
        let row = &mut data[y * w..(y + 1) * w];
        pad[r..r + w].copy_from_slice(row);
        let (first, last) = (row[0], row[w - 1]);
        pad[..r].fill(first);
        pad[r + w..].fill(last);
        for (x, out) in row.iter_mut().enumerate() {
            let win = &pad[x..x + k.len()];
            *out = win.iter().zip(k).map(|(a, b)| a * b).sum();
        }
    }
    // Vertical pass, row-vectorised: out_row = sum_j k[j] * in_row(y + j - r).
    let src = data.to_vec();
    let mut acc = vec![0.0f32; w];
    for y in 0..h {
        acc.fill(0.0);
        for (j, &kj) in k.iter().enumerate() {
            let yy = (y + j).saturating_sub(r).min(h - 1);
            for (a, s) in acc.iter_mut().zip(&src[yy * w..(yy + 1) * w]) {
                *a += kj * s;
            }
        }
        data[y * w..(y + 1) * w].copy_from_slice(&acc);
    }
}

/// Motion blur: mean of `n` copies shifted along (dx, dy) per step (nearest-pixel shifts).
pub(crate) fn motion_blur(img: &mut GrayF32, length: f32, angle: f32) {
    let n = length.round() as i64;
    if n < 2 {
        return;
    }
    let (w, h) = (img.width() as i64, img.height() as i64);
    let src = img.as_slice().to_vec();
    let (s, c) = angle.sin_cos();
    let offs: Vec<(i64, i64)> = (0..n)
        .map(|i| {
            let t = i as f32 - (n - 1) as f32 / 2.0;
            ((t * c).round() as i64, (t * s).round() as i64)
        })
        .collect();
    let inv = 1.0 / n as f32;
    let data = img.as_mut_slice();
    for y in 0..h {
        for x in 0..w {
            let mut sum = 0.0;
            for &(ox, oy) in &offs {
                let xx = (x + ox).clamp(0, w - 1);
                let yy = (y + oy).clamp(0, h - 1);
                sum += src[(yy * w + xx) as usize];
            }
            data[(y * w + x) as usize] = sum * inv;
        }
    }
}

/// Smooth value noise in [-1, 1]: random values on a grid of `cell` texels, smoothstep-interpolated.
pub(crate) fn value_noise(w: usize, h: usize, cell: f32, rng: &mut Rng) -> GrayF32 {
    let gw = (w as f32 / cell).ceil() as usize + 2;
    let gh = (h as f32 / cell).ceil() as usize + 2;
    let grid: Vec<f32> = (0..gw * gh).map(|_| rng.range(-1.0, 1.0) as f32).collect();
    let mut out = GrayF32::new(w, h);
    let data = out.as_mut_slice();
    for y in 0..h {
        let gy = y as f32 / cell;
        let iy = gy as usize;
        let fy = gy - iy as f32;
        let sy = fy * fy * (3.0 - 2.0 * fy);
        for x in 0..w {
            let gx = x as f32 / cell;
            let ix = gx as usize;
            let fx = gx - ix as f32;
            let sx = fx * fx * (3.0 - 2.0 * fx);
            let g = |i: usize, j: usize| grid[j * gw + i];
            let a = g(ix, iy) + sx * (g(ix + 1, iy) - g(ix, iy));
            let b = g(ix, iy + 1) + sx * (g(ix + 1, iy + 1) - g(ix, iy + 1));
            data[y * w + x] = a + sy * (b - a);
        }
    }
    out
}

/// Approximately standard-normal value from one 64-bit draw (Irwin–Hall of four 16-bit
/// uniforms): far cheaper than Box–Muller per pixel, and plenty for sensor noise.
#[inline]
pub(crate) fn fast_normal(bits: u64) -> f32 {
    let s = (bits & 0xFFFF) + ((bits >> 16) & 0xFFFF) + ((bits >> 32) & 0xFFFF) + (bits >> 48);
    // Sum of 4 U(0,1): mean 2, variance 1/3.
    (s as f32 / 65535.0 - 2.0) * 1.732_050_8
}

/// The JPEG luminance quantisation table (Annex K), row-major.
const JPEG_Q: [f32; 64] = [
    16., 11., 10., 16., 24., 40., 51., 61., 12., 12., 14., 19., 26., 58., 60., 55., 14., 13., 16.,
    24., 40., 57., 69., 56., 14., 17., 22., 29., 51., 87., 80., 62., 18., 22., 37., 56., 68., 109.,
    103., 77., 24., 35., 55., 64., 81., 104., 113., 92., 49., 64., 78., 87., 103., 121., 120.,
    101., 72., 92., 95., 98., 112., 100., 103., 99.,
];

/// JPEG-like compression artefacts: 8x8 DCT, quantisation with the standard luminance table
/// scaled for `quality` (1–100), inverse DCT. Values are 0–255 floats; partial edge blocks are
/// left untouched.
pub(crate) fn jpeg_like(img: &mut GrayF32, quality: u32) {
    let q = quality.clamp(1, 100) as f32;
    let scale = if q < 50.0 {
        50.0 / q
    } else {
        (200.0 - 2.0 * q) / 100.0
    };
    let qt: Vec<f32> = JPEG_Q
        .iter()
        .map(|&v| (v * scale).clamp(1.0, 255.0))
        .collect();
    let mut cos = [[0.0f32; 8]; 8];
    for (u, row) in cos.iter_mut().enumerate() {
        let cu = if u == 0 {
            (1.0f32 / 8.0).sqrt()
        } else {
            (2.0f32 / 8.0).sqrt()
        };
        for (x, c) in row.iter_mut().enumerate() {
            *c = cu * ((2 * x + 1) as f32 * u as f32 * std::f32::consts::PI / 16.0).cos();
        }
    }
    let (w, h) = (img.width(), img.height());
    let data = img.as_mut_slice();
    let mut blk = [0.0f32; 64];
    let mut tmp = [0.0f32; 64];
    for by in (0..h / 8 * 8).step_by(8) {
        for bx in (0..w / 8 * 8).step_by(8) {
            for y in 0..8 {
                for x in 0..8 {
                    blk[y * 8 + x] = data[(by + y) * w + bx + x] - 128.0;
                }
            }
            // Rows: tmp[y][u] = sum_x C[u][x] blk[y][x]; cols: blk[v][u] = sum_y C[v][y] tmp[y][u].
            for y in 0..8 {
                for u in 0..8 {
                    tmp[y * 8 + u] = (0..8).map(|x| cos[u][x] * blk[y * 8 + x]).sum();
                }
            }
            for v in 0..8 {
                for u in 0..8 {
                    let c: f32 = (0..8).map(|y| cos[v][y] * tmp[y * 8 + u]).sum();
                    let qv = qt[v * 8 + u];
                    blk[v * 8 + u] = (c / qv).round() * qv;
                }
            }
            // Inverse.
            for y in 0..8 {
                for u in 0..8 {
                    tmp[y * 8 + u] = (0..8).map(|v| cos[v][y] * blk[v * 8 + u]).sum();
                }
            }
            for y in 0..8 {
                for x in 0..8 {
                    let s: f32 = (0..8).map(|u| cos[u][x] * tmp[y * 8 + u]).sum();
                    data[(by + y) * w + bx + x] = s + 128.0;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blur_preserves_mean_and_smooths() {
        let mut img = GrayF32::new(32, 32);
        img.set(16, 16, 100.0);
        gaussian_blur(&mut img, 2.0);
        let sum: f32 = img.as_slice().iter().sum();
        assert!((sum - 100.0).abs() < 0.5, "{sum}");
        assert!(img.get(16, 16) < 10.0 && img.get(18, 16) > 1.0);
    }

    #[test]
    fn jpeg_like_keeps_flat_blocks_and_changes_texture_a_little() {
        let mut flat = GrayF32::from_vec(16, 16, vec![77.0; 256]).unwrap();
        jpeg_like(&mut flat, 50);
        assert!(
            flat.as_slice().iter().all(|&v| (v - 77.0).abs() <= 1.01),
            "DC error is at most q/16"
        );
        let mut rng = Rng::new(1);
        let vals: Vec<f32> = (0..256).map(|_| rng.range(0.0, 255.0) as f32).collect();
        let mut tex = GrayF32::from_vec(16, 16, vals.clone()).unwrap();
        jpeg_like(&mut tex, 90);
        let err: f32 = tex
            .as_slice()
            .iter()
            .zip(&vals)
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / 256.0;
        assert!(err > 0.5 && err < 40.0, "{err}");
    }

    #[test]
    fn fast_normal_moments() {
        let mut rng = Rng::new(5);
        let n = 20000;
        let xs: Vec<f32> = (0..n).map(|_| fast_normal(rng.next_u64())).collect();
        let m = xs.iter().sum::<f32>() / n as f32;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / n as f32;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "{m} {v}");
    }

    #[test]
    fn stroke_darkens_along_the_curve_only() {
        let mut acc = GrayF32::new(40, 40);
        let p = |x, y| StrokePt {
            x,
            y,
            sigma: 1.0,
            depth: 0.5,
        };
        stroke(&mut acc, &[p(5.0, 20.0), p(20.0, 20.0), p(35.0, 20.0)]);
        assert!((acc.get(20, 19) - 0.5).abs() < 0.1);
        assert!(acc.get(20, 5) < 1e-3);
    }
}
