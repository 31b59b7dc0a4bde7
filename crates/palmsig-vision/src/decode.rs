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

fn decode_inner(bytes: &[u8]) -> Result<GrayImage, DecodeError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
    match reader.format() {
        Some(image::ImageFormat::Png)
        | Some(image::ImageFormat::Jpeg)
        | Some(image::ImageFormat::Bmp)
        | Some(image::ImageFormat::Tiff) => {}
        _ => return Err(DecodeError::UnknownFormat),
    }
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

    #[test]
    fn garbage_is_typed() {
        assert!(matches!(decode(&[]), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"hello world, not an image"),
            Err(DecodeError::UnknownFormat)
        ));
    }
}
