//! Frames without a hand are refused as `no_hand`, never as a placement problem ("move closer"):
//! a screenshot of a desktop or a document is not a hand far away.
use palmsig_core::{GrayImage, Hand};
use palmsig_vision::{extract_roi, Capture, NoExplain};

fn fill(img: &mut GrayImage, x0: usize, y0: usize, w: usize, h: usize, v: u8) {
    for y in y0..(y0 + h).min(img.height()) {
        for x in x0..(x0 + w).min(img.width()) {
            img.set(x, y, v);
        }
    }
}

/// A light application window: a dark title bar, a sidebar, lines of text (glyph-sized dark
/// marks), two buttons.
fn screenshot(w: usize, h: usize) -> GrayImage {
    let mut img = GrayImage::new(w, h);
    fill(&mut img, 0, 0, w, h, 236);
    fill(&mut img, 0, 0, w, h / 20, 48);
    fill(&mut img, 0, h / 20, w / 6, h, 210);
    for line in 0..20 {
        let y = h / 10 + line * (h / 26);
        let mut x = w / 5;
        for word in 0..9 {
            let len = 3 + (line * 7 + word * 5) % 6;
            for _ in 0..len {
                fill(&mut img, x, y, 6, 10, 30);
                x += 9;
            }
            x += 12;
        }
    }
    fill(&mut img, w - 260, h - 70, 110, 34, 60);
    fill(&mut img, w - 140, h - 70, 110, 34, 60);
    img
}

fn reason(img: GrayImage) -> String {
    let c = Capture::hand(Hand::Right, Some(img), None);
    match extract_roi(&c, &mut NoExplain) {
        Ok(_) => "accepted".into(),
        Err(e) => e.code().to_string(),
    }
}

#[test]
fn a_screenshot_is_no_hand() {
    assert_eq!(reason(screenshot(1280, 800)), "no_hand");
    assert_eq!(reason(screenshot(768, 576)), "no_hand");
}

#[test]
fn a_blank_frame_is_no_hand() {
    let mut img = GrayImage::new(640, 480);
    fill(&mut img, 0, 0, 640, 480, 128);
    assert_eq!(reason(img), "no_hand");
}

/// A real hand far away is still told to come closer: a synthetic NIR capture shrunk to a third
/// and set in the middle of a dark frame.
#[test]
fn a_small_hand_is_too_far() {
    use palmsig_synth::{render_capture, CaptureSpec, Difficulty, Identity};
    let id = Identity::new(5, 1, Hand::Right).unwrap();
    let spec = CaptureSpec::sample(&id, Difficulty::Easy, 1, 0);
    let r = render_capture(&id, &spec, 768, 576).unwrap();
    let (w, h) = (r.nir.width(), r.nir.height());
    let mut far = GrayImage::new(w, h);
    let bg = r.nir.get(0, 0);
    fill(&mut far, 0, 0, w, h, bg);
    for y in 0..h / 3 {
        for x in 0..w / 3 {
            let mut s = 0u32;
            for dy in 0..3 {
                for dx in 0..3 {
                    s += u32::from(r.nir.get(3 * x + dx, 3 * y + dy));
                }
            }
            far.set(w / 3 + x, h / 3 + y, (s / 9) as u8);
        }
    }
    assert_eq!(reason(far), "hand_too_far");
}
