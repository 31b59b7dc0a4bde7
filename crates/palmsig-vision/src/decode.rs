//! Capture decoding: PNG, JPEG, BMP, TIFF; 8- or 16-bit; gray, gray+alpha, RGB or RGBA → 8-bit
//! gray.
//!
//! Colour is reduced to luma (Rec. 709 weights, as the `image` crate does). 16-bit samples are
//! mapped to 8 bits by their *effective* bit depth: many sensors store 10–14-bit data in 16-bit
//! containers, so we shift right by `bits(max) − 8` rather than by 8 (a 12-bit frame keeps its
//! full range instead of collapsing to 0–15). The mapping stays linear, so exposure checks remain
//! meaningful relative to the sensor's range.

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageError, ImageReader, Limits};
use palmsig_core::GrayImage;

use crate::error::DecodeError;
use crate::params;

/// Decode an encoded image (PNG, JPEG, BMP or TIFF) into an 8-bit gray image.
///
/// Never panics: any malformed input gives a [`DecodeError`].
pub fn decode(bytes: &[u8]) -> Result<GrayImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    // Decoders are fuzzed upstream, but a panic inside one must still become a typed error.
    match std::panic::catch_unwind(|| decode_inner(bytes)) {
        Ok(r) => r,
        Err(_) => Err(DecodeError::Corrupt(
            "decoder failed on malformed data".into(),
        )),
    }
}

/// Read and decode an image file (see [`decode`]).
pub fn load(path: impl AsRef<Path>) -> Result<GrayImage, DecodeError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| DecodeError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    decode(&bytes)
}

/// A reader over `bytes` for one of the accepted formats.
fn reader(bytes: &[u8]) -> Result<ImageReader<Cursor<&[u8]>>, DecodeError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Png)
        | Some(image::ImageFormat::Jpeg)
        | Some(image::ImageFormat::Bmp)
        | Some(image::ImageFormat::Tiff) => Ok(reader),
        _ => Err(DecodeError::UnknownFormat),
    }
}

/// Refuse an image whose header declares more than [`params::MAX_IMAGE_SIDE`] per side or
/// [`params::MAX_IMAGE_PIXELS`] in all; only the header is read, nothing is allocated.
fn check_declared_size(bytes: &[u8]) -> Result<(), DecodeError> {
    let (w, h) = reader(bytes)?.into_dimensions().map_err(map_err)?;
    let side = params::MAX_IMAGE_SIDE;
    if w > side || h > side || u64::from(w) * u64::from(h) > params::MAX_IMAGE_PIXELS {
        return Err(DecodeError::TooLarge(format!(
            "{w}x{h} declared; at most {side} per side and {} pixels",
            params::MAX_IMAGE_PIXELS
        )));
    }
    Ok(())
}

fn decode_inner(bytes: &[u8]) -> Result<GrayImage, DecodeError> {
    check_declared_size(bytes)?;
    let mut reader = reader(bytes)?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(params::MAX_IMAGE_SIDE);
    limits.max_image_height = Some(params::MAX_IMAGE_SIDE);
    limits.max_alloc = Some(params::MAX_DECODE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(map_err)?;
    if img.width() == 0 || img.height() == 0 {
        return Err(DecodeError::NoPixels {
            width: img.width(),
            height: img.height(),
        });
    }
    Ok(to_gray8(img))
}

fn map_err(e: ImageError) -> DecodeError {
    match e {
        ImageError::Unsupported(u) => DecodeError::Unsupported(u.to_string()),
        ImageError::Limits(l) => DecodeError::TooLarge(l.to_string()),
        ImageError::Decoding(d) => DecodeError::Corrupt(d.to_string()),
        ImageError::IoError(io) => DecodeError::Corrupt(io.to_string()),
        other => DecodeError::Corrupt(other.to_string()),
    }
}

/// Reduce any decoded image to 8-bit gray (see the module docs for the 16-bit rule).
fn to_gray8(img: DynamicImage) -> GrayImage {
    let (w, h) = (img.width() as usize, img.height() as usize);
    match img {
        DynamicImage::ImageLuma8(g) => gray_from(w, h, g.into_raw()),
        DynamicImage::ImageLumaA8(_) | DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => {
            gray_from(w, h, img.to_luma8().into_raw())
        }
        DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA16(_)
        | DynamicImage::ImageRgb16(_)
        | DynamicImage::ImageRgba16(_) => {
            let g16 = img.to_luma16().into_raw();
            gray_from(w, h, sixteen_to_eight(&g16))
        }
        other => {
            // Float images: 0.0–1.0 nominal range.
            let f = other.to_luma32f().into_raw();
            let data = f
                .iter()
                .map(|&v| {
                    if v.is_finite() {
                        (v * 255.0).round().clamp(0.0, 255.0) as u8
                    } else {
                        0
                    }
                })
                .collect();
            gray_from(w, h, data)
        }
    }
}

fn gray_from(w: usize, h: usize, data: Vec<u8>) -> GrayImage {
    // Sizes come from the decoder, so the buffer always matches; fall back to black otherwise.
    GrayImage::from_vec(w, h, data).unwrap_or_else(|_| GrayImage::new(w, h))
}

/// Map 16-bit samples to 8 bits by their effective bit depth (at least 8 bits).
pub(crate) fn sixteen_to_eight(g16: &[u16]) -> Vec<u8> {
    let max = g16.iter().copied().max().unwrap_or(0);
    let bits = (16 - max.leading_zeros()).max(8);
    let shift = bits - 8;
    g16.iter().map(|&v| (v >> shift) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_depth() {
        assert_eq!(sixteen_to_eight(&[0, 4095]), vec![0, 255]);
        assert_eq!(sixteen_to_eight(&[0, 65535]), vec![0, 255]);
        assert_eq!(sixteen_to_eight(&[0, 200]), vec![0, 200]);
        assert_eq!(sixteen_to_eight(&[0, 256, 511]), vec![0, 128, 255]);
    }

    /// A PNG that is only a header (and 4 bytes of data): 8-bit gray, `w`×`h` (a decompression bomb's first bytes).
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut c = !0u32;
            for &b in bytes {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 == 1 {
                        (c >> 1) ^ 0xEDB8_8320
                    } else {
                        c >> 1
                    };
                }
            }
            !c
        }
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 0]); // depth 8, gray, deflate, no filter, no interlace
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(13u32.to_be_bytes());
        out.extend(&ihdr);
        out.extend(crc32(&ihdr).to_be_bytes());
        // One IDAT with the start of a zlib stream (decoders read the header up to here).
        let idat = b"IDAT\x78\x9c\x01\x00";
        out.extend(4u32.to_be_bytes());
        out.extend(idat);
        out.extend(crc32(idat).to_be_bytes());
        out.extend(0u32.to_be_bytes());
        out.extend(b"IEND");
        out.extend(crc32(b"IEND").to_be_bytes());
        out
    }

    #[test]
    fn declared_size_refused_before_decoding() {
        // 16000x16000 gray is 256 MB: within the decoder's allocation limit, but no capture is
        // that large; it must be refused from the header, before any pixel buffer exists.
        let t = std::time::Instant::now();
        let e = decode(&png_header(16_000, 16_000)).unwrap_err();
        assert!(matches!(e, DecodeError::TooLarge(_)), "{e:?}");
        assert_eq!(e.code(), "too_large");
        // Over the pixel budget with both sides allowed.
        let side = params::MAX_IMAGE_SIDE;
        let e = decode(&png_header(side, side)).unwrap_err();
        assert!(matches!(e, DecodeError::TooLarge(_)), "{e:?}");
        assert!(
            t.elapsed() < std::time::Duration::from_secs(1),
            "{:?}",
            t.elapsed()
        );
        // A plausible size passes the size check (and fails later: there are no pixel data).
        let e = decode(&png_header(640, 480)).unwrap_err();
        assert!(!matches!(e, DecodeError::TooLarge(_)), "{e:?}");
    }

    #[test]
    fn garbage_is_typed() {
        assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"hello world, not an image"),
            Err(DecodeError::UnknownFormat)
        ));
    }
}
