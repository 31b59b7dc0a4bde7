//! The dataset manifest (contract: `docs/MANIFEST.md`).
//!
//! A CSV file, UTF-8 (a leading byte-order mark is skipped), comma-separated; the first
//! non-comment line is the header; lines starting with `#` are comments. Required columns:
//! `capture`, `subject`, `hand`, `kind`; optional: `session`, `visible`, `nir` (absent = empty);
//! unknown columns are ignored. Column names and the values of `hand`/`kind` are matched ASCII
//! case-insensitively; every field is trimmed of surrounding white space.
//!
//! Paths are relative to the manifest's folder unless absolute. A missing or undecodable image is
//! **not** a manifest error: it is a failure to acquire of that capture, found when it is read.
//!
//! Identity class = (`subject`, `hand`). A `hand` of `unknown` makes the subject one class; a
//! subject whose rows mix `unknown` with `left`/`right` is rejected, since its rows could not be
//! told apart from or matched to either hand.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use palmsig_core::{CaptureKind, Hand};

/// Errors of reading a manifest; every row-level error carries the 1-based line number in the
/// file (comment lines counted).
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The manifest file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Io {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid CSV (or not UTF-8) at this line.
    #[error("line {line}: malformed CSV: {message}")]
    Csv {
        /// 1-based line number.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// There is no header line.
    #[error("manifest is empty: a header line is required")]
    NoHeader,
    /// A required column is not in the header.
    #[error("line {line}: header lacks required column `{column}` (required: capture, subject, hand, kind)")]
    MissingColumn {
        /// 1-based line number of the header.
        line: u64,
        /// The column missing.
        column: &'static str,
    },
    /// A known column appears twice in the header.
    #[error("line {line}: column `{column}` appears twice in the header")]
    DuplicateColumn {
        /// 1-based line number of the header.
        line: u64,
        /// The column repeated.
        column: String,
    },
    /// A required field is empty.
    #[error("line {line}: `{column}` is empty")]
    EmptyField {
        /// 1-based line number.
        line: u64,
        /// The column.
        column: &'static str,
    },
    /// A field holds a value outside its set.
    #[error("line {line}: invalid {column} {value:?}: expected {expected}")]
    BadValue {
        /// 1-based line number.
        line: u64,
        /// The column.
        column: &'static str,
        /// The value found.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// Two rows share a capture id.
    #[error("line {line}: duplicate capture id {capture:?} (first on line {first_line})")]
    DuplicateCapture {
        /// 1-based line number of the second row.
        line: u64,
        /// The id.
        capture: String,
        /// Line of the first row with that id.
        first_line: u64,
    },
    /// A row names neither a visible nor a NIR image.
    #[error("line {line}: capture {capture:?} has neither `visible` nor `nir` image")]
    NoImage {
        /// 1-based line number.
        line: u64,
        /// The capture id.
        capture: String,
    },
    /// A subject mixes `unknown` with `left`/`right` hands.
    #[error("line {line}: subject {subject:?} mixes hand `unknown` with `left`/`right` (first on line {first_line}); its classes would be ambiguous")]
    MixedHands {
        /// 1-based line number of the conflicting row.
        line: u64,
        /// The subject.
        subject: String,
        /// Line of the subject's first row.
        first_line: u64,
    },
    /// The manifest has a header but no capture rows.
    #[error("manifest has no capture rows")]
    NoRows,
}

/// One identity class: (`subject`, `hand`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassKey {
    /// The subject id.
    pub subject: String,
    /// The hand (`Unknown` when the manifest does not say).
    pub hand: Hand,
}

impl ClassKey {
    /// The class name used in `scores.txt`: `escape(subject) + "/" + hand`, e.g. `s001/left`,
    /// `John%20Doe/unknown`. See [`escape_token`].
    pub fn name(&self) -> String {
        format!("{}/{}", escape_token(&self.subject), self.hand.as_str())
    }
}

/// Escape a string so that it is one white-space-free token of `scores.txt`: `%`, `/`, white
/// space, control characters and non-ASCII bytes become `%XX` (upper-case hex of each UTF-8
/// byte), like URL percent-encoding; everything else is kept.
pub fn escape_token(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b == b'%' || b == b'/' || b <= b' ' || b >= 0x7f {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// One row of the manifest: one capture.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureRecord {
    /// The capture id (unique).
    pub id: String,
    /// The subject id.
    pub subject: String,
    /// The hand.
    pub hand: Hand,
    /// The session label (empty = the one session).
    pub session: String,
    /// Whole hand or ROI crop.
    pub kind: CaptureKind,
    /// Resolved path of the visible-light image.
    pub visible: Option<PathBuf>,
    /// Resolved path of the NIR image.
    pub nir: Option<PathBuf>,
    /// Index of the row's class in [`Manifest::classes`].
    pub class: u32,
    /// 1-based line of the row in the manifest.
    pub line: u64,
}

/// A parsed manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The rows, in file order.
    pub captures: Vec<CaptureRecord>,
    /// The identity classes, in order of first appearance.
    pub classes: Vec<ClassKey>,
}

impl Manifest {
    /// Read and parse a manifest file; relative image paths are resolved against its folder.
    pub fn from_path(path: &Path) -> Result<Manifest, ManifestError> {
        let bytes = std::fs::read(path).map_err(|source| ManifestError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
        Manifest::parse(&bytes, &base)
    }

    /// Parse manifest bytes; relative image paths are resolved against `base`.
    pub fn parse(bytes: &[u8], base: &Path) -> Result<Manifest, ManifestError> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut records = logical_records(bytes).into_iter();
        let (header_line, header) = match records.next() {
            None => return Err(ManifestError::NoHeader),
            Some((line, text)) => (line, parse_record(line, text)?),
        };
        let cols = Columns::from_header(&header, header_line)?;

        let mut captures: Vec<CaptureRecord> = Vec::new();
        let mut classes: Vec<ClassKey> = Vec::new();
        let mut class_ids: HashMap<ClassKey, u32> = HashMap::new();
        let mut ids: HashMap<String, u64> = HashMap::new();
        // subject -> (first line, whether its hand is `unknown`)
        let mut subjects: HashMap<String, (u64, bool)> = HashMap::new();
        for (line, text) in records {
            let rec = parse_record(line, text)?;
            if rec.len() != header.len() {
                return Err(ManifestError::Csv {
                    line,
                    message: format!("{} fields where the header has {}", rec.len(), header.len()),
                });
            }
            let get = |i: Option<usize>| i.and_then(|i| rec.get(i)).unwrap_or("");
            let required = |i: usize, column: &'static str| {
                let v = rec.get(i).unwrap_or("");
                if v.is_empty() {
                    Err(ManifestError::EmptyField { line, column })
                } else {
                    Ok(v)
                }
            };
            let id = required(cols.capture, "capture")?.to_string();
            let subject = required(cols.subject, "subject")?.to_string();
            let hand_s = required(cols.hand, "hand")?;
            let hand: Hand =
                hand_s
                    .to_ascii_lowercase()
                    .parse()
                    .map_err(|_| ManifestError::BadValue {
                        line,
                        column: "hand",
                        value: hand_s.to_string(),
                        expected: "left, right or unknown",
                    })?;
            let kind_s = required(cols.kind, "kind")?;
            let kind: CaptureKind =
                kind_s
                    .to_ascii_lowercase()
                    .parse()
                    .map_err(|_| ManifestError::BadValue {
                        line,
                        column: "kind",
                        value: kind_s.to_string(),
                        expected: "hand or roi",
                    })?;
            let resolve = |p: &str| -> Option<PathBuf> {
                if p.is_empty() {
                    None
                } else {
                    let p = Path::new(p);
                    Some(if p.is_absolute() {
                        p.to_path_buf()
                    } else {
                        base.join(p)
                    })
                }
            };
            let visible = resolve(get(cols.visible));
            let nir = resolve(get(cols.nir));
            if visible.is_none() && nir.is_none() {
                return Err(ManifestError::NoImage { line, capture: id });
            }
            if let Some(&first_line) = ids.get(&id) {
                return Err(ManifestError::DuplicateCapture {
                    line,
                    capture: id,
                    first_line,
                });
            }
            let unknown = hand == Hand::Unknown;
            match subjects.get(&subject) {
                Some(&(first_line, u)) if u != unknown => {
                    return Err(ManifestError::MixedHands {
                        line,
                        subject,
                        first_line,
                    })
                }
                Some(_) => {}
                None => {
                    subjects.insert(subject.clone(), (line, unknown));
                }
            }
            ids.insert(id.clone(), line);
            let key = ClassKey {
                subject: subject.clone(),
                hand,
            };
            let class = *class_ids.entry(key.clone()).or_insert_with(|| {
                classes.push(key);
                (classes.len() - 1) as u32
            });
            captures.push(CaptureRecord {
                id,
                subject,
                hand,
                session: get(cols.session).to_string(),
                kind,
                visible,
                nir,
                class,
                line,
            });
        }
        if captures.is_empty() {
            return Err(ManifestError::NoRows);
        }
        Ok(Manifest { captures, classes })
    }
}

/// Split the file into CSV records with the 1-based line each starts on, dropping comment
/// lines (`#` first) and blank lines; a line break inside a quoted field continues the record.
/// (The CSV reader's own positions do not count comment lines, hence this split.)
fn logical_records(bytes: &[u8]) -> Vec<(u64, &[u8])> {
    let mut out = Vec::new();
    let mut start: Option<(u64, usize)> = None;
    let mut quotes = 0usize;
    let mut offset = 0usize;
    for (k, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let line_no = k as u64 + 1;
        let here = offset;
        offset += line.len();
        if start.is_none() {
            let body = line.strip_suffix(b"\n").unwrap_or(line);
            let body = body.strip_suffix(b"\r").unwrap_or(body);
            if line.first() == Some(&b'#') || body.is_empty() {
                continue;
            }
            start = Some((line_no, here));
        }
        quotes += line.iter().filter(|&&b| b == b'"').count();
        if quotes & 1 == 0 {
            if let Some((l, s)) = start.take() {
                out.push((l, &bytes[s..offset]));
            }
            quotes = 0;
        }
    }
    if let Some((l, s)) = start {
        out.push((l, &bytes[s..]));
    }
    out
}

/// Parse one CSV record (fields trimmed).
fn parse_record(line: u64, text: &[u8]) -> Result<csv::StringRecord, ManifestError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .trim(csv::Trim::All)
        .from_reader(text);
    let mut rec = csv::StringRecord::new();
    match rdr.read_record(&mut rec) {
        Ok(true) => Ok(rec),
        Ok(false) => Err(ManifestError::Csv {
            line,
            message: "empty record".into(),
        }),
        Err(e) => Err(ManifestError::Csv {
            line,
            message: match e.kind() {
                csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_string(),
                _ => e.to_string(),
            },
        }),
    }
}

/// Column indices found in the header.
struct Columns {
    capture: usize,
    subject: usize,
    hand: usize,
    kind: usize,
    session: Option<usize>,
    visible: Option<usize>,
    nir: Option<usize>,
}

impl Columns {
    fn from_header(header: &csv::StringRecord, line: u64) -> Result<Columns, ManifestError> {
        const KNOWN: [&str; 7] = [
            "capture", "subject", "hand", "session", "kind", "visible", "nir",
        ];
        let mut found: [Option<usize>; 7] = [None; 7];
        for (i, name) in header.iter().enumerate() {
            let name = name.to_ascii_lowercase();
            if let Some(k) = KNOWN.iter().position(|&c| c == name) {
                if found[k].is_some() {
                    return Err(ManifestError::DuplicateColumn { line, column: name });
                }
                found[k] = Some(i);
            }
        }
        let need = |k: usize| {
            found[k].ok_or(ManifestError::MissingColumn {
                line,
                column: KNOWN[k],
            })
        };
        Ok(Columns {
            capture: need(0)?,
            subject: need(1)?,
            hand: need(2)?,
            kind: need(4)?,
            session: found[3],
            visible: found[5],
            nir: found[6],
        })
    }
}

/// Numeric-aware ordering of session labels: runs of ASCII digits compare as numbers (so `2` <
/// `10` and `s2` < `s10`), everything else byte-wise; on a tie (`01` vs `1`) the plain byte
/// order decides so that the order is total.
pub fn session_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&ab[si..i]);
            let nb = trim_zeros(&bb[sj..j]);
            let o = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            let o = ab[i].cmp(&bb[j]);
            if o != Ordering::Equal {
                return o;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j)).then_with(|| ab.cmp(bb))
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let k = d.iter().position(|&c| c != b'0').unwrap_or(d.len());
    &d[k..]
}
