//! DET plots (FNMR against FMR, both on log axes): `det.svg` as text and `det.png` drawn by our
//! own small rasteriser (anti-aliased lines and a built-in 5×7 bitmap font), encoded by `image`.
//!
//! Rates of 0 cannot sit on a log axis: they are drawn on the axis's lowest decade.

use std::fmt::Write as _;

use crate::metrics::DetPoint;
use crate::params;

/// One curve of a DET plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend label.
    pub label: String,
    /// EER shown in the legend.
    pub eer: Option<f64>,
    /// Points in threshold order.
    pub points: Vec<DetPoint>,
}

const COLOURS: [[u8; 3]; 6] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [148, 103, 189],
    [255, 127, 14],
    [23, 190, 207],
];

/// Plot geometry shared by the SVG and PNG renderers.
struct Frame {
    width: f64,
    height: f64,
    left: f64,
    top: f64,
    right: f64,
    bottom: f64,
    xmin: i32,
    ymin: i32,
}

impl Frame {
    fn new(curves: &[Curve]) -> Frame {
        let decade = |f: &dyn Fn(&DetPoint) -> f64| {
            let m = curves
                .iter()
                .flat_map(|c| c.points.iter())
                .map(f)
                .filter(|&v| v > 0.0)
                .fold(f64::INFINITY, f64::min);
            if m.is_finite() {
                (m.log10().floor() as i32).clamp(params::PLOT_MIN_DECADE, -1)
            } else {
                -3
            }
        };
        let (w, h) = params::PLOT_SIZE;
        Frame {
            width: w as f64,
            height: h as f64,
            left: 78.0,
            top: 44.0,
            right: w as f64 - 24.0,
            bottom: h as f64 - 58.0,
            xmin: decade(&|p| p.fmr),
            ymin: decade(&|p| p.fnmr),
        }
    }

    fn x(&self, fmr: f64) -> f64 {
        let l = if fmr > 0.0 {
            fmr.log10()
        } else {
            f64::NEG_INFINITY
        };
        let l = l.clamp(self.xmin as f64, 0.0);
        self.left + (l - self.xmin as f64) / (-self.xmin as f64) * (self.right - self.left)
    }

    fn y(&self, fnmr: f64) -> f64 {
        let l = if fnmr > 0.0 {
            fnmr.log10()
        } else {
            f64::NEG_INFINITY
        };
        let l = l.clamp(self.ymin as f64, 0.0);
        self.top + (-l) / (-self.ymin as f64) * (self.bottom - self.top)
    }

    /// Grid lines: (is_decade, value) for each axis.
    fn ticks(min: i32) -> Vec<(bool, f64)> {
        let mut t = Vec::new();
        for d in min..=0 {
            let base = 10f64.powi(d);
            t.push((true, base));
            if d < 0 {
                for m in 2..10 {
                    t.push((false, base * m as f64));
                }
            }
        }
        t
    }

    fn legend(c: &Curve) -> String {
        match c.eer {
            Some(e) => format!("{} EER {:.4}", c.label, e),
            None => c.label.clone(),
        }
    }
}

/// The DET plot as an SVG document.
pub fn det_svg(curves: &[Curve], title: &str) -> String {
    let f = Frame::new(curves);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="13">
<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>
<text x="{tx}" y="24" text-anchor="middle" font-size="16">{title}</text>"#,
        w = f.width,
        h = f.height,
        tx = f.width / 2.0,
        title = xml_escape(title)
    );
    for (major, v) in Frame::ticks(f.xmin) {
        let x = f.x(v);
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="{}" stroke-width="1"/>"#,
            f.top,
            f.bottom,
            if major { "#c8c8c8" } else { "#ececec" }
        );
        if major {
            let _ = writeln!(
                s,
                r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                f.bottom + 18.0,
                tick_label(v)
            );
        }
    }
    for (major, v) in Frame::ticks(f.ymin) {
        let y = f.y(v);
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="{}" stroke-width="1"/>"#,
            f.left,
            f.right,
            if major { "#c8c8c8" } else { "#ececec" }
        );
        if major {
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                f.left - 6.0,
                y + 4.0,
                tick_label(v)
            );
        }
    }
    let d = f.xmin.max(f.ymin) as f64;
    let _ = writeln!(
        s,
        r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999999" stroke-dasharray="4 4"/>"##,
        f.x(10f64.powf(d)),
        f.y(10f64.powf(d)),
        f.x(1.0),
        f.y(1.0)
    );
    let _ = writeln!(
        s,
        r#"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        f.left,
        f.top,
        f.right - f.left,
        f.bottom - f.top
    );
    for (i, c) in curves.iter().enumerate() {
        let [r, g, b] = COLOURS[i % COLOURS.len()];
        let pts: Vec<String> = c
            .points
            .iter()
            .map(|p| format!("{:.1},{:.1}", f.x(p.fmr), f.y(p.fnmr)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="rgb({r},{g},{b})" stroke-width="2" points="{}"/>"#,
            pts.join(" ")
        );
        let ly = f.top + 18.0 + 18.0 * i as f64;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="rgb({r},{g},{b})" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            f.right - 230.0,
            f.right - 205.0,
            f.right - 198.0,
            ly + 4.0,
            xml_escape(&Frame::legend(c))
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">FMR (false match rate)</text>
<text x="18" y="{}" text-anchor="middle" transform="rotate(-90 18 {})">FNMR (false non-match rate)</text>
</svg>"#,
        (f.left + f.right) / 2.0,
        f.height - 16.0,
        (f.top + f.bottom) / 2.0,
        (f.top + f.bottom) / 2.0
    );
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn tick_label(v: f64) -> String {
    let d = v.log10().round() as i32;
    if d == 0 {
        "1".to_string()
    } else {
        format!("1e{d}")
    }
}

/// A small RGB canvas with anti-aliased lines and bitmap text.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<[u8; 3]>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![[255; 3]; w * h],
        }
    }

    fn blend(&mut self, x: i64, y: i64, c: [u8; 3], a: f64) {
        if x < 0 || y < 0 || x >= self.w as i64 || y >= self.h as i64 || a <= 0.0 {
            return;
        }
        let p = &mut self.px[y as usize * self.w + x as usize];
        for k in 0..3 {
            p[k] = (p[k] as f64 * (1.0 - a) + c[k] as f64 * a).round() as u8;
        }
    }

    /// Line of `width` px; coverage from the distance of each pixel centre to the segment.
    fn line(&mut self, (x0, y0): (f64, f64), (x1, y1): (f64, f64), width: f64, c: [u8; 3]) {
        let r = width / 2.0 + 1.0;
        let (dx, dy) = (x1 - x0, y1 - y0);
        let len2 = dx * dx + dy * dy;
        let (xa, xb) = (
            (x0.min(x1) - r).floor() as i64,
            (x0.max(x1) + r).ceil() as i64,
        );
        let (ya, yb) = (
            (y0.min(y1) - r).floor() as i64,
            (y0.max(y1) + r).ceil() as i64,
        );
        for y in ya..=yb {
            for x in xa..=xb {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if len2 > 0.0 {
                    (((px - x0) * dx + (py - y0) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (qx, qy) = (x0 + t * dx - px, y0 + t * dy - py);
                let d = (qx * qx + qy * qy).sqrt();
                self.blend(x, y, c, (width / 2.0 + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// Text in the built-in font (upper-cased), `scale` px per font pixel; `anchor` 0 = left,
    /// 0.5 = centre, 1 = right of `x`; `y` is the top of the glyphs.
    fn text(&mut self, s: &str, x: f64, y: f64, scale: i64, anchor: f64, c: [u8; 3]) {
        let chars: Vec<char> = s.to_uppercase().chars().collect();
        let adv = 6 * scale;
        let total = chars.len() as i64 * adv - scale;
        let x0 = (x - anchor * total as f64).round() as i64;
        let y0 = y.round() as i64;
        for (i, ch) in chars.iter().enumerate() {
            let g = glyph(*ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (0x10 >> col) != 0 {
                        for sy in 0..scale {
                            for sx in 0..scale {
                                self.blend(
                                    x0 + i as i64 * adv + col * scale + sx,
                                    y0 + row as i64 * scale + sy,
                                    c,
                                    1.0,
                                );
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The DET plot as an RGB image.
pub fn det_png(curves: &[Curve], title: &str) -> image::RgbImage {
    let f = Frame::new(curves);
    let mut cv = Canvas::new(f.width as usize, f.height as usize);
    let black = [0, 0, 0];
    cv.text(title, f.width / 2.0, 12.0, 2, 0.5, black);
    for (major, v) in Frame::ticks(f.xmin) {
        let x = f.x(v);
        let c = if major { [200; 3] } else { [236; 3] };
        cv.line((x, f.top), (x, f.bottom), 1.0, c);
        if major {
            cv.text(&tick_label(v), x, f.bottom + 8.0, 2, 0.5, black);
        }
    }
    for (major, v) in Frame::ticks(f.ymin) {
        let y = f.y(v);
        let c = if major { [200; 3] } else { [236; 3] };
        cv.line((f.left, y), (f.right, y), 1.0, c);
        if major {
            cv.text(&tick_label(v), f.left - 8.0, y - 7.0, 2, 1.0, black);
        }
    }
    let d = 10f64.powi(f.xmin.max(f.ymin));
    cv.line((f.x(d), f.y(d)), (f.x(1.0), f.y(1.0)), 1.0, [170; 3]);
    let corners = [
        (f.left, f.top),
        (f.right, f.top),
        (f.right, f.bottom),
        (f.left, f.bottom),
        (f.left, f.top),
    ];
    for w in corners.windows(2) {
        cv.line(w[0], w[1], 1.0, black);
    }
    for (i, c) in curves.iter().enumerate() {
        let col = COLOURS[i % COLOURS.len()];
        let pts: Vec<(f64, f64)> = c.points.iter().map(|p| (f.x(p.fmr), f.y(p.fnmr))).collect();
        for w in pts.windows(2) {
            cv.line(w[0], w[1], 2.0, col);
        }
        let ly = f.top + 16.0 + 20.0 * i as f64;
        cv.line((f.right - 300.0, ly), (f.right - 276.0, ly), 3.0, col);
        cv.text(&Frame::legend(c), f.right - 268.0, ly - 7.0, 2, 0.0, black);
    }
    cv.text(
        "FMR",
        (f.left + f.right) / 2.0,
        f.height - 26.0,
        2,
        0.5,
        black,
    );
    cv.text("FNMR", 8.0, f.top - 30.0, 2, 0.0, black);
    let mut img = image::RgbImage::new(f.width as u32, f.height as u32);
    for (i, p) in cv.px.iter().enumerate() {
        img.put_pixel((i % cv.w) as u32, (i / cv.w) as u32, image::Rgb(*p));
    }
    img
}

/// 5×7 glyphs (one byte per row, bit 4 = leftmost column); unknown characters draw a box.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        ' ' => [0; 7],
        '-' => [0, 0, 0, 0x1F, 0, 0, 0],
        '_' => [0, 0, 0, 0, 0, 0, 0x1F],
        '.' => [0, 0, 0, 0, 0, 0x0C, 0x0C],
        ',' => [0, 0, 0, 0, 0x0C, 0x04, 0x08],
        ':' => [0, 0x0C, 0x0C, 0, 0x0C, 0x0C, 0],
        '=' => [0, 0, 0x1F, 0, 0x1F, 0, 0],
        '/' => [0, 0x01, 0x02, 0x04, 0x08, 0x10, 0],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        'A' => [0x0E, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'B' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        _ => [0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F],
    }
}
