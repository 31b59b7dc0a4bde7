//! Stage images for `--explain`: [`ExplainSink`], [`NoExplain`], [`DirSink`].

use std::path::{Path, PathBuf};

use palmsig_core::GrayImage;

/// Receives each stage's intermediate image.
pub trait ExplainSink {
    /// Record the image of stage `stage` (a short snake_case name such as `mask`).
    fn emit(&mut self, stage: &str, image: &GrayImage);
    /// Whether this sink keeps images at all; stages skip drawing them when it does not.
    fn enabled(&self) -> bool {
        true
    }
}

/// Discards everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoExplain;

impl ExplainSink for NoExplain {
    fn emit(&mut self, _stage: &str, _image: &GrayImage) {}
    fn enabled(&self) -> bool {
        false
    }
}

/// Keeps the stage images in memory (tests, the web UI).
#[derive(Debug, Default, Clone)]
pub struct MemorySink {
    /// `(stage, image)` in emission order.
    pub images: Vec<(String, GrayImage)>,
}

impl MemorySink {
    /// The last image emitted under `stage`.
    pub fn get(&self, stage: &str) -> Option<&GrayImage> {
        self.images
            .iter()
            .rev()
            .find(|(s, _)| s == stage)
            .map(|(_, i)| i)
    }
}

impl ExplainSink for MemorySink {
    fn emit(&mut self, stage: &str, image: &GrayImage) {
        self.images.push((stage.to_string(), image.clone()));
    }
}

/// Writes `DIR/<prefix>_<nn>_<stage>.png`, `nn` counting the images emitted under the current
/// prefix. Write failures do not interrupt extraction; the first one is kept in
/// [`DirSink::error`].
#[derive(Debug)]
pub struct DirSink {
    dir: PathBuf,
    prefix: String,
    counter: usize,
    error: Option<String>,
}

impl DirSink {
    /// A sink writing into `dir` (created if missing) with file-name prefix `prefix`.
    pub fn new(dir: impl AsRef<Path>, prefix: &str) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir.as_ref())?;
        Ok(DirSink {
            dir: dir.as_ref().to_path_buf(),
            prefix: sanitize(prefix),
            counter: 0,
            error: None,
        })
    }

    /// Switch to a new prefix (e.g. the next capture) and restart the numbering.
    pub fn set_prefix(&mut self, prefix: &str) {
        self.prefix = sanitize(prefix);
        self.counter = 0;
    }

    /// The first write error, if any.
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

fn sanitize(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if t.is_empty() {
        "capture".into()
    } else {
        t
    }
}

impl ExplainSink for DirSink {
    fn emit(&mut self, stage: &str, image: &GrayImage) {
        let path = self.dir.join(format!(
            "{}_{:02}_{}.png",
            self.prefix,
            self.counter,
            sanitize(stage)
        ));
        self.counter += 1;
        let res = image::GrayImage::from_raw(
            image.width() as u32,
            image.height() as u32,
            image.as_slice().to_vec(),
        )
        .ok_or_else(|| "image buffer size mismatch".to_string())
        .and_then(|buf| {
            buf.save_with_format(&path, image::ImageFormat::Png)
                .map_err(|e| e.to_string())
        });
        if let Err(e) = res {
            if self.error.is_none() {
                self.error = Some(format!("{}: {e}", path.display()));
            }
        }
    }
}
