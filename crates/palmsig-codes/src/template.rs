//! [`Template`]: the versioned binary palm signature.
//!
//! Layout (little-endian), at most [`params::MAX_TEMPLATE_BYTES`]:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `PSIG` |
//! | 4 | 2 | format version (1) |
//! | 6 | 1 | algorithm id ([`Algorithm::id`]) |
//! | 7 | 1 | number of blocks (1 or 2) |
//! | 8 | 8 | parameter hash ([`Algorithm::param_hash`] at extraction) |
//! | 16 | … | blocks: `kind u8, source u8, width u8, height u8, planes u8, reserved u8 (0)`, then for each row `mask, plane 0 … plane P-1`, each `ceil(width/8)` bytes |
//! | end−4 | 4 | CRC-32 (IEEE) of everything before |
//!
//! Decoding checks every field and the canonical form (no bit beyond the width, no plane bit
//! where the mask is 0), so a decoded template always re-encodes to the same bytes.

use crate::code::{modality_from_id, modality_id, width_mask, CodeKind, FeatureCode};
use crate::{params, Algorithm};

/// Template magic bytes.
pub const MAGIC: &[u8; 4] = b"PSIG";
/// Current format version.
pub const FORMAT_VERSION: u16 = 1;
const HEADER: usize = 16;
const BLOCK_HEADER: usize = 6;

/// A palm signature: the algorithm and parameters it was made with, and one code per modality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    /// Coding scheme.
    pub algorithm: Algorithm,
    /// Parameter hash at extraction; must equal `algorithm.param_hash()` for the template to be
    /// compared.
    pub param_hash: u64,
    /// Surface (palmprint) code.
    pub surface: Option<FeatureCode>,
    /// Vein code.
    pub vein: Option<FeatureCode>,
}

/// Why bytes are not a valid template (or a template is not valid).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// Fewer bytes than the fixed header and checksum.
    #[error("template too short: {len} bytes, at least {min} needed")]
    TooShort {
        /// Bytes given.
        len: usize,
        /// Minimum.
        min: usize,
    },
    /// More bytes than the format allows.
    #[error("template too large: {len} bytes, at most {max} allowed")]
    TooLarge {
        /// Bytes given.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// Wrong magic.
    #[error("not a palmsig template (magic {found:02x?}, expected \"PSIG\")")]
    BadMagic {
        /// First four bytes.
        found: [u8; 4],
    },
    /// A format version this build cannot read.
    #[error(
        "template format version {found} not supported (this build reads version {FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// Version found.
        found: u16,
    },
    /// Algorithm id unknown.
    #[error("unknown algorithm id {found}")]
    UnknownAlgorithm {
        /// Id found.
        found: u8,
    },
    /// Block count not 1 or 2.
    #[error("template has {found} code blocks, expected 1 or 2")]
    BadBlockCount {
        /// Count found.
        found: u8,
    },
    /// Block kind id unknown.
    #[error("code block {index}: unknown kind id {found}")]
    BadBlockKind {
        /// Block index.
        index: usize,
        /// Id found.
        found: u8,
    },
    /// Two blocks of the same kind.
    #[error("code block {index}: a second {kind} block")]
    DuplicateBlock {
        /// Block index.
        index: usize,
        /// Kind repeated.
        kind: &'static str,
    },
    /// Source modality id unknown.
    #[error("code block {index}: unknown source modality id {found}")]
    BadSource {
        /// Block index.
        index: usize,
        /// Id found.
        found: u8,
    },
    /// Dimensions impossible or not those of the algorithm.
    #[error("code block {index}: {width}x{height} with {planes} planes, expected {exp_width}x{exp_height} with {exp_planes} for this algorithm")]
    BadDimensions {
        /// Block index.
        index: usize,
        /// Width found.
        width: usize,
        /// Height found.
        height: usize,
        /// Planes found.
        planes: usize,
        /// Expected width.
        exp_width: usize,
        /// Expected height.
        exp_height: usize,
        /// Expected planes.
        exp_planes: usize,
    },
    /// A reserved byte is not 0.
    #[error("code block {index}: reserved byte is {found}, must be 0")]
    Reserved {
        /// Block index.
        index: usize,
        /// Value found.
        found: u8,
    },
    /// The data ends inside a block.
    #[error("template truncated inside code block {index}")]
    Truncated {
        /// Block index.
        index: usize,
    },
    /// Bytes between the last block and the checksum.
    #[error("{count} unexpected bytes after the last code block")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// Bits outside the width or plane bits where the mask is 0.
    #[error("code block {index}: row {row} is not canonical (bits beyond the width or outside the mask)")]
    NonCanonical {
        /// Block index.
        index: usize,
        /// Row.
        row: usize,
    },
    /// Block of the wrong kind in a slot (e.g. a vein code as `surface`).
    #[error("the {slot} slot holds a {found} code")]
    WrongSlot {
        /// Slot name.
        slot: &'static str,
        /// Kind found.
        found: &'static str,
    },
    /// Neither a surface nor a vein code.
    #[error("template holds no code")]
    Empty,
    /// CRC mismatch: the bytes were corrupted.
    #[error("template checksum mismatch (stored {stored:08x}, computed {computed:08x})")]
    BadChecksum {
        /// CRC stored.
        stored: u32,
        /// CRC computed.
        computed: u32,
    },
}

impl Template {
    /// Where its codes come from (see [`crate::CodeSources`]): one image when the surface code
    /// was read from the NIR image.
    pub fn code_sources(&self) -> crate::CodeSources {
        crate::CodeSources::of_surface(self.surface.as_ref().map(|c| c.source()))
    }

    /// A template made now with `algorithm` (its current parameter hash).
    pub fn new(
        algorithm: Algorithm,
        surface: Option<FeatureCode>,
        vein: Option<FeatureCode>,
    ) -> Result<Template, TemplateError> {
        let t = Template {
            algorithm,
            param_hash: algorithm.param_hash(),
            surface,
            vein,
        };
        t.validate()?;
        Ok(t)
    }

    /// The codes present, surface first.
    pub fn codes(&self) -> impl Iterator<Item = &FeatureCode> {
        self.surface.iter().chain(self.vein.iter())
    }

    /// Check the invariants the binary format relies on: at least one code, each in its slot,
    /// with the algorithm's grid and plane count, and the encoded size within the limit.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if self.surface.is_none() && self.vein.is_none() {
            return Err(TemplateError::Empty);
        }
        for (index, (slot, code, want)) in [
            ("surface", &self.surface, CodeKind::Surface),
            ("vein", &self.vein, CodeKind::Vein),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(c) = code else { continue };
            if c.kind() != want {
                return Err(TemplateError::WrongSlot {
                    slot,
                    found: c.kind().name(),
                });
            }
            check_dims(index, self.algorithm, c.width(), c.height(), c.planes())?;
        }
        let len = self.encoded_len();
        if len > params::MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge {
                len,
                max: params::MAX_TEMPLATE_BYTES,
            });
        }
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        HEADER
            + self
                .codes()
                .map(|c| BLOCK_HEADER + c.height() * (c.planes() + 1) * c.width().div_ceil(8))
                .sum::<usize>()
            + 4
    }

    /// Encode to bytes (validating first).
    pub fn to_bytes(&self) -> Result<Vec<u8>, TemplateError> {
        self.validate()?;
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.push(self.algorithm.id());
        out.push(self.codes().count() as u8);
        out.extend_from_slice(&self.param_hash.to_le_bytes());
        for c in self.codes() {
            out.extend_from_slice(&[
                c.kind().id(),
                modality_id(c.source()),
                c.width() as u8,
                c.height() as u8,
                c.planes() as u8,
                0,
            ]);
            let rb = c.width().div_ceil(8);
            for &w in c.words() {
                out.extend_from_slice(&w.to_le_bytes()[..rb]);
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Decode bytes; every malformed input gives a typed error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Template, TemplateError> {
        let min = HEADER + 4;
        if bytes.len() < min {
            return Err(TemplateError::TooShort {
                len: bytes.len(),
                min,
            });
        }
        if bytes.len() > params::MAX_TEMPLATE_BYTES {
            return Err(TemplateError::TooLarge {
                len: bytes.len(),
                max: params::MAX_TEMPLATE_BYTES,
            });
        }
        let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
        if &magic != MAGIC {
            return Err(TemplateError::BadMagic { found: magic });
        }
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FORMAT_VERSION {
            return Err(TemplateError::UnsupportedVersion { found: version });
        }
        let (body, crc_bytes) = bytes.split_at(bytes.len() - 4);
        let stored = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
        let computed = crc32fast::hash(body);
        if stored != computed {
            return Err(TemplateError::BadChecksum { stored, computed });
        }
        let algorithm = Algorithm::from_id(body[6])
            .ok_or(TemplateError::UnknownAlgorithm { found: body[6] })?;
        let nblocks = body[7];
        if !(1..=2).contains(&nblocks) {
            return Err(TemplateError::BadBlockCount { found: nblocks });
        }
        let mut hash = [0u8; 8];
        hash.copy_from_slice(&body[8..16]);
        let param_hash = u64::from_le_bytes(hash);
        let mut t = Template {
            algorithm,
            param_hash,
            surface: None,
            vein: None,
        };
        let mut pos = HEADER;
        for index in 0..nblocks as usize {
            let Some(h) = body.get(pos..pos + BLOCK_HEADER) else {
                return Err(TemplateError::Truncated { index });
            };
            let kind = CodeKind::from_id(h[0])
                .ok_or(TemplateError::BadBlockKind { index, found: h[0] })?;
            let source =
                modality_from_id(h[1]).ok_or(TemplateError::BadSource { index, found: h[1] })?;
            let (width, height, planes) = (h[2] as usize, h[3] as usize, h[4] as usize);
            check_dims(index, algorithm, width, height, planes)?;
            if h[5] != 0 {
                return Err(TemplateError::Reserved { index, found: h[5] });
            }
            pos += BLOCK_HEADER;
            let rb = width.div_ceil(8);
            let n = height * (planes + 1);
            let Some(data) = body.get(pos..pos + n * rb) else {
                return Err(TemplateError::Truncated { index });
            };
            pos += n * rb;
            let wmask = width_mask(width);
            let mut words = Vec::with_capacity(n);
            for (i, chunk) in data.chunks_exact(rb).enumerate() {
                let mut buf = [0u8; 8];
                buf[..rb].copy_from_slice(chunk);
                let w = u64::from_le_bytes(buf);
                let row = i / (planes + 1);
                let is_mask = i % (planes + 1) == 0;
                let limit = if is_mask {
                    wmask
                } else {
                    words[row * (planes + 1)]
                };
                if w & !limit != 0 {
                    return Err(TemplateError::NonCanonical { index, row });
                }
                words.push(w);
            }
            let code = FeatureCode::from_words(kind, source, width, height, planes, words);
            let slot = match kind {
                CodeKind::Surface => &mut t.surface,
                CodeKind::Vein => &mut t.vein,
            };
            if slot.is_some() {
                return Err(TemplateError::DuplicateBlock {
                    index,
                    kind: kind.name(),
                });
            }
            *slot = Some(code);
        }
        if pos != body.len() {
            return Err(TemplateError::TrailingBytes {
                count: body.len() - pos,
            });
        }
        Ok(t)
    }
}

fn check_dims(
    index: usize,
    algorithm: Algorithm,
    width: usize,
    height: usize,
    planes: usize,
) -> Result<(), TemplateError> {
    if width != params::GRID || height != params::GRID || planes != algorithm.planes() {
        return Err(TemplateError::BadDimensions {
            index,
            width,
            height,
            planes,
            exp_width: params::GRID,
            exp_height: params::GRID,
            exp_planes: algorithm.planes(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use palmsig_core::{Modality, Rng};

    fn random_code(rng: &mut Rng, kind: CodeKind, planes: usize) -> FeatureCode {
        let g = params::GRID;
        let p: Vec<Vec<u64>> = (0..planes)
            .map(|_| (0..g).map(|_| rng.next_u64()).collect())
            .collect();
        let m: Vec<u64> = (0..g).map(|_| rng.next_u64()).collect();
        let src = if kind == CodeKind::Vein {
            Modality::Nir
        } else {
            Modality::Visible
        };
        FeatureCode::from_parts(kind, src, g, g, &p, &m).unwrap()
    }

    #[test]
    fn round_trip_every_algorithm_and_size_limit() {
        let mut rng = Rng::new(3);
        for a in Algorithm::ALL {
            for (s, v) in [(true, true), (true, false), (false, true)] {
                let t = Template::new(
                    a,
                    s.then(|| random_code(&mut rng, CodeKind::Surface, a.planes())),
                    v.then(|| random_code(&mut rng, CodeKind::Vein, a.planes())),
                )
                .unwrap();
                let b = t.to_bytes().unwrap();
                assert!(b.len() <= params::MAX_TEMPLATE_BYTES);
                assert_eq!(Template::from_bytes(&b).unwrap(), t);
            }
        }
    }

    #[test]
    fn rejects_corruption_with_typed_errors() {
        let mut rng = Rng::new(4);
        let t = Template::new(
            Algorithm::CompCode,
            Some(random_code(&mut rng, CodeKind::Surface, 3)),
            Some(random_code(&mut rng, CodeKind::Vein, 3)),
        )
        .unwrap();
        let b = t.to_bytes().unwrap();
        // Every single-bit flip is caught (CRC or a field check).
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert!(
                Template::from_bytes(&c).is_err(),
                "flip at byte {i} accepted"
            );
        }
        assert!(matches!(
            Template::from_bytes(&b[..10]),
            Err(TemplateError::TooShort { .. })
        ));
        let mut c = b.clone();
        c[0] = b'X';
        assert!(matches!(
            Template::from_bytes(&c),
            Err(TemplateError::BadMagic { .. })
        ));
        assert!(matches!(
            Template::from_bytes(&b[..b.len() - 1]),
            Err(TemplateError::BadChecksum { .. })
        ));
        // A well-checksummed but wrong block count.
        let mut c = b[..b.len() - 4].to_vec();
        c[7] = 3;
        let crc = crc32fast::hash(&c);
        c.extend_from_slice(&crc.to_le_bytes());
        assert!(matches!(
            Template::from_bytes(&c),
            Err(TemplateError::BadBlockCount { found: 3 })
        ));
        assert_eq!(
            Template {
                algorithm: Algorithm::Bocv,
                param_hash: 0,
                surface: None,
                vein: None
            }
            .validate(),
            Err(TemplateError::Empty)
        );
        // Planes of the wrong algorithm.
        let wrong = Template {
            algorithm: Algorithm::Bocv,
            param_hash: 0,
            surface: Some(random_code(&mut rng, CodeKind::Surface, 3)),
            vein: None,
        };
        assert!(matches!(
            wrong.to_bytes(),
            Err(TemplateError::BadDimensions { .. })
        ));
    }
}
