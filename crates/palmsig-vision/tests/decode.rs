//! Decoding: PNG (8/16-bit, gray/RGB), JPEG, BMP, TIFF round trips encoded here with the
//! `image` crate; garbage and truncated bytes give typed errors; arbitrary bytes never panic.

use std::io::Cursor;

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, Rgb};
use palmsig_vision::{decode, load, DecodeError};
use proptest::prelude::*;

fn gray_pattern(w: u32, h: u32) -> Vec<u8> {
    (0..w * h)
        .map(|i| ((i % w) * 3 + (i / w) * 5) as u8)
        .collect()
}

fn encode(img: &DynamicImage, fmt: ImageFormat) -> Vec<u8> {
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), fmt).unwrap();
    out
}

#[test]
fn gray8_lossless_formats_round_trip() {
    let (w, h) = (37, 23);
    let px = gray_pattern(w, h);
    let img = DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, px.clone()).unwrap());
    for fmt in [ImageFormat::Png, ImageFormat::Bmp, ImageFormat::Tiff] {
        let g = decode(&encode(&img, fmt)).unwrap_or_else(|e| panic!("{fmt:?}: {e}"));
        assert_eq!((g.width(), g.height()), (w as usize, h as usize), "{fmt:?}");
        assert_eq!(g.as_slice(), &px[..], "{fmt:?}");
    }
}

#[test]
fn rgb8_becomes_luma() {
    let (w, h) = (16, 8);
    let mut buf = ImageBuffer::<Rgb<u8>, Vec<u8>>::new(w, h);
    for (x, _, p) in buf.enumerate_pixels_mut() {
        let v = (x * 15) as u8;
        *p = Rgb([v, v, v]); // gray content in an RGB container
    }
    let img = DynamicImage::ImageRgb8(buf);
    for fmt in [ImageFormat::Png, ImageFormat::Bmp, ImageFormat::Tiff] {
        let g = decode(&encode(&img, fmt)).unwrap();
        for x in 0..w as usize {
            assert_eq!(g.get(x, 3), (x * 15) as u8, "{fmt:?}");
        }
    }
    // Colour: pure green is brighter than pure blue in luma.
    let mut c = ImageBuffer::<Rgb<u8>, Vec<u8>>::new(2, 1);
    c.put_pixel(0, 0, Rgb([0, 255, 0]));
    c.put_pixel(1, 0, Rgb([0, 0, 255]));
    let g = decode(&encode(&DynamicImage::ImageRgb8(c), ImageFormat::Png)).unwrap();
    assert!(g.get(0, 0) > g.get(1, 0));
}

#[test]
fn sixteen_bit_uses_effective_depth() {
    let (w, h) = (20, 10);
    // Full 16-bit range: 65535 → 255.
    let full: Vec<u16> = (0..w * h)
        .map(|i| (i * 65535 / (w * h - 1)) as u16)
        .collect();
    let img = DynamicImage::ImageLuma16(ImageBuffer::<Luma<u16>, _>::from_raw(w, h, full).unwrap());
    for fmt in [ImageFormat::Png, ImageFormat::Tiff] {
        let g = decode(&encode(&img, fmt)).unwrap();
        assert_eq!(g.as_slice()[0], 0);
        assert_eq!(*g.as_slice().last().unwrap(), 255, "{fmt:?}");
    }
    // 12-bit data in a 16-bit container keeps its full range instead of collapsing to 0–15.
    let twelve: Vec<u16> = (0..w * h)
        .map(|i| (i * 4095 / (w * h - 1)) as u16)
        .collect();
    let img =
        DynamicImage::ImageLuma16(ImageBuffer::<Luma<u16>, _>::from_raw(w, h, twelve).unwrap());
    let g = decode(&encode(&img, ImageFormat::Png)).unwrap();
    assert_eq!(*g.as_slice().last().unwrap(), 255);
    assert!((g.mean() - 127.5).abs() < 2.0, "mean {}", g.mean());
    // 16-bit RGB.
    let rgb =
        DynamicImage::ImageRgb16(ImageBuffer::from_fn(
            4,
            4,
            |x, _| Rgb([x as u16 * 20000; 3]),
        ));
    let g = decode(&encode(&rgb, ImageFormat::Png)).unwrap();
    assert!(g.get(3, 0) > 200 && g.get(0, 0) == 0);
}

#[test]
fn jpeg_is_close() {
    let (w, h) = (64, 48);
    let px: Vec<u8> = (0..w * h).map(|i| (60 + (i % w)) as u8).collect();
    let img = DynamicImage::ImageLuma8(ImageBuffer::from_raw(w, h, px.clone()).unwrap());
    let g = decode(&encode(&img, ImageFormat::Jpeg)).unwrap();
    assert_eq!((g.width(), g.height()), (64, 48));
    let err: f32 = g
        .as_slice()
        .iter()
        .zip(&px)
        .map(|(&a, &b)| (a as f32 - b as f32).abs())
        .sum::<f32>()
        / px.len() as f32;
    assert!(err < 3.0, "mean abs error {err}");
}

#[test]
fn bad_bytes_are_typed_errors() {
    assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
    assert!(matches!(
        decode(b"GIF89a not supported here"),
        Err(DecodeError::UnknownFormat)
    ));
    let img =
        DynamicImage::ImageLuma8(ImageBuffer::from_raw(40, 30, gray_pattern(40, 30)).unwrap());
    for fmt in [
        ImageFormat::Png,
        ImageFormat::Jpeg,
        ImageFormat::Bmp,
        ImageFormat::Tiff,
    ] {
        let bytes = encode(&img, fmt);
        let cut = &bytes[..bytes.len() / 2];
        let e = decode(cut).expect_err("truncated image must fail");
        assert!(
            matches!(e, DecodeError::Corrupt(_) | DecodeError::Unsupported(_)),
            "{fmt:?}: {e:?}"
        );
        assert!(!e.to_string().is_empty());
    }
    let e = load("/nonexistent/palmsig/x.png").unwrap_err();
    assert_eq!(e.code(), "io");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn corrupted_png_never_panics(pos in 0usize..400, val in any::<u8>(), cut in 0usize..400) {
        let img = DynamicImage::ImageLuma8(ImageBuffer::from_raw(12, 9, gray_pattern(12, 9)).unwrap());
        let mut bytes = encode(&img, ImageFormat::Png);
        let n = bytes.len();
        bytes[pos % n] = val;
        bytes.truncate(n - cut % n);
        let _ = decode(&bytes);
    }
}
