use crate::CoreError;

/// An 8-bit grayscale image, row-major, `width * height` bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct GrayImage {
    width: usize,
    height: usize,
    data: Vec<u8>,
}

impl std::fmt::Debug for GrayImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrayImage({}x{})", self.width, self.height)
    }
}

impl GrayImage {
    /// A black image.
    pub fn new(width: usize, height: usize) -> Self {
        GrayImage {
            width,
            height,
            data: vec![0; width * height],
        }
    }

    /// Wrap a buffer; its length must be `width * height`.
    pub fn from_vec(width: usize, height: usize, data: Vec<u8>) -> Result<Self, CoreError> {
        let expected = width * height;
        if data.len() != expected {
            return Err(CoreError::BufferSize {
                width,
                height,
                len: data.len(),
                expected,
            });
        }
        Ok(GrayImage {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Pixels, row-major.
    pub fn as_slice(&self) -> &[u8] {
        &self.data
    }
    /// Pixels, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.data
    }
    /// Consume into the pixel buffer.
    pub fn into_vec(self) -> Vec<u8> {
        self.data
    }
    /// Pixel at (x, y); panics when out of bounds (callers index inside known sizes).
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> u8 {
        self.data[y * self.width + x]
    }
    /// Set pixel (x, y).
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, v: u8) {
        self.data[y * self.width + x] = v;
    }
    /// Convert to floating point (same values, 0–255).
    pub fn to_f32(&self) -> GrayF32 {
        GrayF32 {
            width: self.width,
            height: self.height,
            data: self.data.iter().map(|&v| v as f32).collect(),
        }
    }
    /// Mean gray level (0 for an empty image).
    pub fn mean(&self) -> f32 {
        if self.data.is_empty() {
            return 0.0;
        }
        self.data.iter().map(|&v| v as u64).sum::<u64>() as f32 / self.data.len() as f32
    }
}

/// A floating-point grayscale image, row-major.
#[derive(Clone, PartialEq)]
pub struct GrayF32 {
    width: usize,
    height: usize,
    data: Vec<f32>,
}

impl std::fmt::Debug for GrayF32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GrayF32({}x{})", self.width, self.height)
    }
}

impl GrayF32 {
    /// An all-zero image.
    pub fn new(width: usize, height: usize) -> Self {
        GrayF32 {
            width,
            height,
            data: vec![0.0; width * height],
        }
    }
    /// Wrap a buffer; its length must be `width * height`.
    pub fn from_vec(width: usize, height: usize, data: Vec<f32>) -> Result<Self, CoreError> {
        let expected = width * height;
        if data.len() != expected {
            return Err(CoreError::BufferSize {
                width,
                height,
                len: data.len(),
                expected,
            });
        }
        Ok(GrayF32 {
            width,
            height,
            data,
        })
    }
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }
    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }
    /// Values, row-major.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }
    /// Values, row-major, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        &mut self.data
    }
    /// Value at (x, y).
    #[inline]
    pub fn get(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }
    /// Set value at (x, y).
    #[inline]
    pub fn set(&mut self, x: usize, y: usize, v: f32) {
        self.data[y * self.width + x] = v;
    }
    /// Bilinear sample at real coordinates; `fill` outside the image.
    pub fn sample(&self, x: f32, y: f32, fill: f32) -> f32 {
        if !(x >= 0.0 && y >= 0.0) || x > (self.width - 1) as f32 || y > (self.height - 1) as f32 {
            return fill;
        }
        let x0 = x.floor() as usize;
        let y0 = y.floor() as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let fx = x - x0 as f32;
        let fy = y - y0 as f32;
        let a = self.get(x0, y0) * (1.0 - fx) + self.get(x1, y0) * fx;
        let b = self.get(x0, y1) * (1.0 - fx) + self.get(x1, y1) * fx;
        a * (1.0 - fy) + b * fy
    }
    /// Round and clamp to 0–255.
    pub fn to_u8(&self) -> GrayImage {
        GrayImage {
            width: self.width,
            height: self.height,
            data: self
                .data
                .iter()
                .map(|&v| v.round().clamp(0.0, 255.0) as u8)
                .collect(),
        }
    }
    /// Linearly stretch min..max to 0..255 (for viewing intermediate stages).
    pub fn to_u8_stretched(&self) -> GrayImage {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in &self.data {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        let scale = if hi > lo { 255.0 / (hi - lo) } else { 0.0 };
        GrayImage {
            width: self.width,
            height: self.height,
            data: self
                .data
                .iter()
                .map(|&v| {
                    if v.is_finite() {
                        ((v - lo) * scale).round() as u8
                    } else {
                        0
                    }
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_vec_checks_size() {
        assert!(GrayImage::from_vec(2, 2, vec![0; 3]).is_err());
        assert!(GrayF32::from_vec(2, 2, vec![0.0; 4]).is_ok());
    }

    #[test]
    fn bilinear_sample() {
        let img = GrayF32::from_vec(2, 2, vec![0.0, 10.0, 20.0, 30.0]).unwrap();
        assert_eq!(img.sample(0.5, 0.5, -1.0), 15.0);
        assert_eq!(img.sample(-0.1, 0.0, -1.0), -1.0);
        assert_eq!(img.sample(1.0, 1.0, -1.0), 30.0);
        assert_eq!(img.to_u8_stretched().as_slice(), &[0, 85, 170, 255]);
    }
}
