//! The dataset writer: `manifest.csv` (the `docs/MANIFEST.md` contract), PNG pairs,
//! `truth.jsonl` and `contact.png`.

use std::io::Write;
use std::path::{Path, PathBuf};

use palmsig_core::{CaptureKind, GrayImage, Hand};
use rayon::prelude::*;
use serde::Serialize;

use crate::capture::CaptureSpec;
use crate::identity::Identity;
use crate::params::{self, Difficulty};
use crate::render::{render_capture, render_roi, Rendered, Truth};
use crate::SynthError;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetConfig {
    /// Number of subjects (each contributes a left and a right hand).
    pub identities: u32,
    /// Captures per hand; the first half (rounded up) are session 1, the rest session 2.
    pub captures: u32,
    /// Master seed.
    pub seed: u64,
    /// Preset.
    pub difficulty: Difficulty,
    /// Full-hand frames or ROI crops.
    pub kind: CaptureKind,
    /// Frame width (hand) or ROI side (roi), px.
    pub width: usize,
    /// Frame height (hand) or ROI side (roi; must equal `width`), px.
    pub height: usize,
}

impl DatasetConfig {
    /// Defaults: realistic full-hand 768x576 frames (the real NIR scanner's size).
    pub fn new(identities: u32, captures: u32, seed: u64) -> DatasetConfig {
        DatasetConfig {
            identities,
            captures,
            seed,
            difficulty: Difficulty::Realistic,
            kind: CaptureKind::Hand,
            width: 768,
            height: 576,
        }
    }

    /// Check the configuration; every error says what is wrong.
    pub fn validate(&self) -> Result<(), SynthError> {
        if self.identities == 0 {
            return Err(SynthError::NoIdentities);
        }
        if self.captures == 0 {
            return Err(SynthError::NoCaptures);
        }
        match self.kind {
            CaptureKind::Hand => {
                let ok = |v: usize| (params::MIN_FRAME..=params::MAX_FRAME).contains(&v);
                if !ok(self.width) || !ok(self.height) {
                    return Err(SynthError::InvalidSize {
                        width: self.width,
                        height: self.height,
                        min: params::MIN_FRAME,
                        max: params::MAX_FRAME,
                    });
                }
            }
            CaptureKind::Roi => {
                if self.width != self.height {
                    return Err(SynthError::RoiNotSquare {
                        width: self.width,
                        height: self.height,
                    });
                }
                if !(params::MIN_ROI..=params::MAX_ROI).contains(&self.width) {
                    return Err(SynthError::InvalidSize {
                        width: self.width,
                        height: self.height,
                        min: params::MIN_ROI,
                        max: params::MAX_ROI,
                    });
                }
            }
        }
        Ok(())
    }

    /// Session label of capture `k` (0-based) of a hand.
    pub fn session_of(&self, k: u32) -> u32 {
        if k < self.captures.div_ceil(2) {
            1
        } else {
            2
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetSummary {
    /// Manifest rows (captures).
    pub rows: usize,
    /// Image files written (two per row).
    pub images: usize,
    /// `DIR/manifest.csv`.
    pub manifest: PathBuf,
    /// `DIR/truth.jsonl`.
    pub truth: PathBuf,
    /// `DIR/contact.png`.
    pub contact: PathBuf,
}

struct Row {
    capture: String,
    subject: String,
    hand: Hand,
    session: u32,
    visible: String,
    nir: String,
    truth: Truth,
}

/// Encode an 8-bit gray image as PNG bytes.
pub fn encode_png(img: &GrayImage) -> Result<Vec<u8>, SynthError> {
    use image::ImageEncoder;
    let mut buf = Vec::new();
    image::codecs::png::PngEncoder::new(&mut buf)
        .write_image(
            img.as_slice(),
            img.width() as u32,
            img.height() as u32,
            image::ExtendedColorType::L8,
        )
        .map_err(|e| SynthError::Encode(e.to_string()))?;
    Ok(buf)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SynthError> {
    std::fs::write(path, bytes).map_err(|source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Render one capture of a configured data set.
pub fn render_for(
    cfg: &DatasetConfig,
    identity: &Identity,
    k: u32,
) -> Result<Rendered, SynthError> {
    let spec = CaptureSpec::sample(identity, cfg.difficulty, cfg.session_of(k), k);
    match cfg.kind {
        CaptureKind::Hand => render_capture(identity, &spec, cfg.width, cfg.height),
        CaptureKind::Roi => render_roi(identity, &spec, cfg.width),
    }
}

/// Number of (subject, hand) classes shown in the contact sheet.
const CONTACT_CLASSES: usize = 4;
/// Width of one contact-sheet tile (px).
const CONTACT_TILE: usize = 240;

fn downscale(img: &GrayImage, tw: usize) -> GrayImage {
    let f = img.width() as f32 / tw as f32;
    let th = ((img.height() as f32 / f).round() as usize).max(1);
    let mut out = GrayImage::new(tw, th);
    let k = f.ceil().max(1.0) as usize;
    for y in 0..th {
        for x in 0..tw {
            let (sx, sy) = ((x as f32 * f) as usize, (y as f32 * f) as usize);
            let (mut s, mut n) = (0u32, 0u32);
            for yy in sy..(sy + k).min(img.height()) {
                for xx in sx..(sx + k).min(img.width()) {
                    s += img.get(xx, yy) as u32;
                    n += 1;
                }
            }
            out.set(x, y, (s / n.max(1)) as u8);
        }
    }
    out
}

/// Write a whole data set under `out_dir` (created if needed): `manifest.csv`, `img/*.png`,
/// `truth.jsonl`, `contact.png`. Identities are rendered in parallel (rayon); the output is
/// byte-identical for the same configuration whatever the thread count.
pub fn write_dataset(cfg: &DatasetConfig, out_dir: &Path) -> Result<DatasetSummary, SynthError> {
    write_dataset_with(cfg, out_dir, &|| {})
}

/// [`write_dataset`], calling `hand_done` (from the rendering threads) after each hand's
/// captures are written: `2 x identities` calls in all, for a progress display.
pub fn write_dataset_with(
    cfg: &DatasetConfig,
    out_dir: &Path,
    hand_done: &(dyn Fn() + Sync),
) -> Result<DatasetSummary, SynthError> {
    cfg.validate()?;
    let img_dir = out_dir.join("img");
    std::fs::create_dir_all(&img_dir).map_err(|source| SynthError::Io {
        path: img_dir.clone(),
        source,
    })?;
    let classes: Vec<(u32, Hand)> = (1..=cfg.identities)
        .flat_map(|s| [(s, Hand::Left), (s, Hand::Right)])
        .collect();
    type Tiles = Vec<GrayImage>;
    let results: Vec<Result<(Vec<Row>, Tiles), SynthError>> = classes
        .par_iter()
        .enumerate()
        .map(|(ci, &(subject, hand))| {
            let identity = Identity::new(cfg.seed, subject, hand)?;
            let h = if hand == Hand::Left { 'l' } else { 'r' };
            let mut rows = Vec::with_capacity(cfg.captures as usize);
            let mut tiles = Vec::new();
            for k in 0..cfg.captures {
                let r = render_for(cfg, &identity, k)?;
                let capture = format!("s{subject:04}_{h}_c{}", k + 1);
                let visible = format!("img/{capture}_v.png");
                let nir = format!("img/{capture}_n.png");
                write_file(&out_dir.join(&visible), &encode_png(&r.visible)?)?;
                write_file(&out_dir.join(&nir), &encode_png(&r.nir)?)?;
                if ci < CONTACT_CLASSES && (k == 0 || k + 1 == cfg.captures) && tiles.len() < 4 {
                    let tw = CONTACT_TILE.min(r.visible.width());
                    tiles.push(downscale(&r.visible, tw));
                    tiles.push(downscale(&r.nir, tw));
                }
                rows.push(Row {
                    capture,
                    subject: format!("s{subject:04}"),
                    hand,
                    session: cfg.session_of(k),
                    visible,
                    nir,
                    truth: r.truth,
                });
            }
            hand_done();
            Ok((rows, tiles))
        })
        .collect();
    let mut rows = Vec::new();
    let mut sheet_rows: Vec<Tiles> = Vec::new();
    for r in results {
        let (rs, tiles) = r?;
        rows.extend(rs);
        if !tiles.is_empty() {
            sheet_rows.push(tiles);
        }
    }

    let kind = match cfg.kind {
        CaptureKind::Hand => "hand",
        CaptureKind::Roi => "roi",
    };
    let mut manifest = String::from("capture,subject,hand,session,kind,visible,nir\n");
    let mut truth = String::new();
    #[derive(Serialize)]
    struct Line<'a> {
        capture: &'a str,
        #[serde(flatten)]
        truth: &'a Truth,
    }
    for r in &rows {
        manifest.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            r.capture,
            r.subject,
            r.hand.as_str(),
            r.session,
            kind,
            r.visible,
            r.nir
        ));
        let line = serde_json::to_string(&Line {
            capture: &r.capture,
            truth: &r.truth,
        })
        .map_err(|e| SynthError::Encode(e.to_string()))?;
        truth.push_str(&line);
        truth.push('\n');
    }
    let manifest_path = out_dir.join("manifest.csv");
    let truth_path = out_dir.join("truth.jsonl");
    let contact_path = out_dir.join("contact.png");
    write_file(&manifest_path, manifest.as_bytes())?;
    write_file(&truth_path, truth.as_bytes())?;
    let sheet = contact_sheet(&sheet_rows);
    let mut f = std::fs::File::create(&contact_path).map_err(|source| SynthError::Io {
        path: contact_path.clone(),
        source,
    })?;
    f.write_all(&encode_png(&sheet)?)
        .map_err(|source| SynthError::Io {
            path: contact_path.clone(),
            source,
        })?;
    Ok(DatasetSummary {
        rows: rows.len(),
        images: rows.len() * 2,
        manifest: manifest_path,
        truth: truth_path,
        contact: contact_path,
    })
}

/// Tile rows of images into one sheet with 4-px gaps (mid-gray).
fn contact_sheet(rows: &[Vec<GrayImage>]) -> GrayImage {
    let gap = 4;
    let cols = rows.iter().map(|r| r.len()).max().unwrap_or(0);
    let tw = rows.iter().flatten().map(|t| t.width()).max().unwrap_or(1);
    let th = rows.iter().flatten().map(|t| t.height()).max().unwrap_or(1);
    let w = (cols * (tw + gap) + gap).max(1);
    let h = (rows.len() * (th + gap) + gap).max(1);
    let mut out =
        GrayImage::from_vec(w, h, vec![128; w * h]).unwrap_or_else(|_| GrayImage::new(w, h));
    for (ri, row) in rows.iter().enumerate() {
        for (ci, t) in row.iter().enumerate() {
            let (ox, oy) = (gap + ci * (tw + gap), gap + ri * (th + gap));
            for y in 0..t.height() {
                for x in 0..t.width() {
                    out.set(ox + x, oy + y, t.get(x, y));
                }
            }
        }
    }
    out
}
