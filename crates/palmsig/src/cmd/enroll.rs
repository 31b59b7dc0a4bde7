//! `palmsig enroll`, and the local encrypted gallery it shares with `palmsig identify`.
//!
//! ```text
//! palmsig enroll --gallery DIR --id alice --hand right c1_v.png c2_v.png c3_v.png \
//!     --nir c1_n.png --nir c2_n.png --nir c3_n.png
//! palmsig identify --gallery DIR probe_v.png --nir probe_n.png
//! ```
//!
//! A gallery directory holds:
//! - `keys.json` — the key-encryption key (created mode 0600 on first use, or `PALMSIG_KEK`);
//! - `index/` — a `palmsig_index::Store` (crash-safe log + snapshot) of one record per reference
//!   capture, every record sealed (AES-256-GCM, own data key wrapped by the KEK), so no plaintext
//!   template rests on disk;
//! - `gallery.sealed` — who each record belongs to (id, hand) and the coding algorithm, sealed
//!   the same way (names are personal data too).
//!
//! Writes go index first, then metadata (atomic rename); index records the metadata does not
//! name (an enrolment interrupted between the two) are removed when the gallery is next opened.
use palmsig_codes::{Algorithm, Engine, Template};
use palmsig_core::{CaptureKind, Hand};
use palmsig_index::{CodesScorer, Decision, GalleryRead, Sealer, SearchParams, Store};
use palmsig_service::crypto::{CryptoError, Keyring, WrappedKey};
use palmsig_vision::{Capture, NoExplain};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments of `palmsig enroll`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gallery directory (created with its key on first use).
    #[arg(long)]
    pub gallery: PathBuf,
    /// Who is enrolled (1-64 characters, no control characters).
    #[arg(long)]
    pub id: String,
    /// Which hand the captures show: left or right.
    #[arg(long)]
    pub hand: String,
    /// Capture images of that hand, one per presentation (several, for a robust reference).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    /// NIR image of each presentation, in the same order as the images (repeat the flag).
    #[arg(long)]
    pub nir: Vec<PathBuf>,
    /// What the positional images are: visible or nir.
    #[arg(long = "as", default_value = "visible")]
    pub as_modality: String,
    /// hand (full-hand frame) or roi (palm-centre crop).
    #[arg(long, default_value = "hand")]
    pub kind: String,
    /// Coding scheme of a new gallery: compcode, bocv, ordinal (an existing gallery keeps its own).
    #[arg(long)]
    pub algorithm: Option<String>,
    /// Replace this id's existing enrolment of the same hand.
    #[arg(long)]
    pub replace: bool,
    /// Calibration profile (`palmsig calibrate`) for the duplicate check's scores, instead of
    /// the built-in tables.
    #[arg(long)]
    pub profile: Option<PathBuf>,
}

/// Why a gallery operation failed.
#[derive(Debug)]
pub(crate) enum GalleryError {
    /// `palmsig identify` on a directory that is not a gallery.
    NotAGallery(PathBuf),
    /// Key file missing, malformed, or a record sealed by a key we do not hold.
    Keys(CryptoError),
    /// The template store failed (I/O, damaged snapshot, wrong key).
    Store(palmsig_index::PersistError),
    /// The metadata file is unreadable or inconsistent.
    Meta(String),
    /// File-system error outside the store.
    Io(PathBuf, std::io::Error),
    /// A command-line value is not acceptable.
    BadArg(String),
    /// The calibration profile cannot be used.
    Profile(PathBuf, palmsig_codes::ProfileError),
    /// A capture could not be read or was refused by the quality gate.
    Capture {
        /// The image file.
        file: PathBuf,
        /// Stable reason (`bad_image`, `no_hand`, `blurred`, …).
        code: String,
        /// Human message.
        message: String,
    },
    /// This palm is already enrolled under another id.
    Duplicate {
        /// The id it is enrolled under.
        existing: String,
        /// The capture that matched.
        file: PathBuf,
        /// Its score against the gallery.
        score: f32,
    },
    /// The id already has this hand enrolled (use `--replace`).
    AlreadyEnrolled(String, Hand),
}

impl std::fmt::Display for GalleryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotAGallery(p) => write!(
                f,
                "{} is not a gallery (no keys.json); enrol someone first",
                p.display()
            ),
            Self::Keys(e) => write!(f, "gallery key: {e}"),
            Self::Store(e) => write!(f, "gallery store: {e}"),
            Self::Meta(m) => write!(f, "gallery metadata: {m}"),
            Self::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Self::BadArg(m) => f.write_str(m),
            Self::Profile(p, e) => write!(f, "--profile {}: {e}", p.display()),
            Self::Capture {
                file,
                code,
                message,
            } => write!(f, "capture {} refused [{code}]: {message}", file.display()),
            Self::Duplicate {
                existing,
                file,
                score,
            } => write!(
                f,
                "duplicate palm: {} matches `{existing}`, already enrolled (score {score:.3})",
                file.display()
            ),
            Self::AlreadyEnrolled(id, hand) => write!(
                f,
                "`{id}` already has a {hand} hand enrolled; pass --replace to re-enrol it"
            ),
        }
    }
}

impl std::error::Error for GalleryError {}

impl From<CryptoError> for GalleryError {
    fn from(e: CryptoError) -> Self {
        Self::Keys(e)
    }
}

impl From<palmsig_index::PersistError> for GalleryError {
    fn from(e: palmsig_index::PersistError) -> Self {
        Self::Store(e)
    }
}

/// Associated data of the sealed index records and of the metadata file (a record cannot be
/// swapped for the other kind).
const AAD_INDEX: &str = "palmsig-gallery/index";
const AAD_META: &str = "palmsig-gallery/meta";

/// `u16 kek id length | kek id | u16 wrapped length | wrapped data key | ciphertext`.
fn seal(keys: &Keyring, plain: &[u8], aad: &str) -> Vec<u8> {
    let s = keys.seal(plain, aad);
    let id = s.key.kek_id.as_bytes();
    let mut out = Vec::with_capacity(4 + id.len() + s.key.wrapped.len() + s.ciphertext.len());
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(&(s.key.wrapped.len() as u16).to_le_bytes());
    out.extend_from_slice(&s.key.wrapped);
    out.extend_from_slice(&s.ciphertext);
    out
}

fn open(keys: &Keyring, sealed: &[u8], aad: &str) -> Result<Vec<u8>, CryptoError> {
    let bad = || CryptoError::Decrypt;
    let take = |b: &mut &[u8]| -> Result<Vec<u8>, CryptoError> {
        if b.len() < 2 {
            return Err(bad());
        }
        let n = u16::from_le_bytes([b[0], b[1]]) as usize;
        if b.len() < 2 + n {
            return Err(bad());
        }
        let v = b[2..2 + n].to_vec();
        *b = &b[2 + n..];
        Ok(v)
    };
    let mut b = sealed;
    let kek_id = String::from_utf8(take(&mut b)?).map_err(|_| bad())?;
    let wrapped = take(&mut b)?;
    let plain = keys.open(b, &WrappedKey { kek_id, wrapped }, aad)?;
    Ok(plain.to_vec())
}

/// The index's [`Sealer`] over the gallery's keyring.
struct KeySealer(Keyring);

impl Sealer for KeySealer {
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        seal(&self.0, plain, AAD_INDEX)
    }
    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        open(&self.0, sealed, AAD_INDEX).map_err(|e| e.to_string())
    }
}

/// Owner of one index record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Owner {
    pub id: String,
    pub hand: Hand,
}

#[derive(Debug, Clone)]
struct Meta {
    algorithm: String,
    next_record: u64,
    records: BTreeMap<u64, Owner>,
}

impl Meta {
    const VERSION: u64 = 1;

    fn to_json(&self) -> serde_json::Value {
        let records: Vec<serde_json::Value> = self
            .records
            .iter()
            .map(|(r, o)| json!([r, o.id, o.hand.as_str()]))
            .collect();
        json!({"version": Self::VERSION, "algorithm": self.algorithm,
            "next_record": self.next_record, "records": records})
    }

    fn from_json(v: &serde_json::Value) -> Option<Meta> {
        if v["version"].as_u64()? != Self::VERSION {
            return None;
        }
        let mut records = BTreeMap::new();
        for r in v["records"].as_array()? {
            let hand: Hand = r[2].as_str()?.parse().ok()?;
            let owner = Owner {
                id: r[1].as_str()?.to_string(),
                hand,
            };
            records.insert(r[0].as_u64()?, owner);
        }
        let next_record = v["next_record"].as_u64()?;
        if records.keys().any(|r| *r >= next_record) {
            return None;
        }
        Some(Meta {
            algorithm: v["algorithm"].as_str()?.to_string(),
            next_record,
            records,
        })
    }
}

/// What an enrolment did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Enrolled {
    pub captures: usize,
    pub replaced: usize,
}

/// The answer of an identification.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Identified {
    /// The owner of the best record at or above the threshold.
    pub owner: Option<Owner>,
    /// Best candidate's score (None on an empty gallery).
    pub score: Option<f32>,
    /// Decision threshold at this gallery size.
    pub threshold: f32,
    /// Records (reference captures) searched.
    pub records: usize,
}

/// A local encrypted gallery.
pub(crate) struct Gallery {
    dir: PathBuf,
    keys: Keyring,
    store: Store<CodesScorer>,
    meta: Meta,
    engine: Engine,
    /// Orphan records removed on open.
    pub recovered: usize,
}

impl std::fmt::Debug for Gallery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gallery")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Gallery {
    /// Open the gallery in `dir`; with `create`, make it (and its key) if missing, coding with
    /// `algorithm` (default: `Algorithm::default()`); scores with `profile`'s calibration when
    /// given (it must be for the gallery's algorithm), else the built-in one.
    pub fn open(
        dir: &Path,
        create: bool,
        algorithm: Option<Algorithm>,
        profile: Option<&Path>,
    ) -> Result<Gallery, GalleryError> {
        // A bad profile is refused before anything is created.
        let profile = profile
            .map(|p| {
                palmsig_codes::CalibrationProfile::open(p)
                    .map_err(|e| GalleryError::Profile(p.to_path_buf(), e))
                    .map(|c| (p, c))
            })
            .transpose()?;
        let key_path = dir.join("keys.json");
        if !key_path.exists() {
            if !create {
                return Err(GalleryError::NotAGallery(dir.to_path_buf()));
            }
            std::fs::create_dir_all(dir).map_err(|e| GalleryError::Io(dir.to_path_buf(), e))?;
            restrict_dir(dir)?;
        }
        let keys = Keyring::load_or_create(&key_path)?;
        let meta_path = dir.join("gallery.sealed");
        let meta = if meta_path.exists() {
            let raw =
                std::fs::read(&meta_path).map_err(|e| GalleryError::Io(meta_path.clone(), e))?;
            let plain = open(&keys, &raw, AAD_META)?;
            serde_json::from_slice::<serde_json::Value>(&plain)
                .ok()
                .as_ref()
                .and_then(Meta::from_json)
                .ok_or_else(|| {
                    GalleryError::Meta(format!("{} is malformed", meta_path.display()))
                })?
        } else {
            Meta {
                algorithm: algorithm.unwrap_or_default().name().to_string(),
                next_record: 1,
                records: BTreeMap::new(),
            }
        };
        let alg: Algorithm = meta
            .algorithm
            .parse()
            .map_err(|e| GalleryError::Meta(format!("algorithm {:?}: {e}", meta.algorithm)))?;
        if let Some(asked) = algorithm {
            if asked != alg {
                return Err(GalleryError::BadArg(format!(
                    "this gallery codes with {}, not {}",
                    alg.name(),
                    asked.name()
                )));
            }
        }
        let engine = match &profile {
            Some((p, c)) => Engine::with_calibration(
                alg,
                c.calibration_for(alg)
                    .map_err(|e| GalleryError::Profile(p.to_path_buf(), e))?
                    .clone(),
            ),
            None => Engine::new(alg),
        };
        let scorer = CodesScorer::new(engine.matcher().clone());
        let (store, _recovery) = palmsig_index::Store::open(
            dir.join("index"),
            scorer,
            Some(Box::new(KeySealer(keys.clone()))),
        )?;
        let mut g = Gallery {
            dir: dir.to_path_buf(),
            keys,
            store,
            meta,
            engine,
            recovered: 0,
        };
        // Records written by an enrolment that never reached its metadata write.
        for id in g.store.index().ids() {
            if !g.meta.records.contains_key(&id) {
                g.store.remove(id)?;
                g.recovered += 1;
            }
        }
        if create && !meta_path.exists() {
            g.save_meta()?;
        }
        Ok(g)
    }

    /// The coding engine of this gallery.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Distinct enrolled (id, hand) pairs.
    pub fn hands(&self) -> usize {
        let mut v: Vec<&Owner> = self.meta.records.values().collect();
        v.sort_by(|a, b| (&a.id, a.hand).cmp(&(&b.id, b.hand)));
        v.dedup();
        v.len()
    }

    /// Reference records (captures) in the gallery.
    pub fn records(&self) -> usize {
        self.store.index().len()
    }

    fn save_meta(&self) -> Result<(), GalleryError> {
        let path = self.dir.join("gallery.sealed");
        let tmp = self.dir.join("gallery.sealed.tmp");
        let plain = self.meta.to_json().to_string().into_bytes();
        let io = |e| GalleryError::Io(tmp.clone(), e);
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&seal(&self.keys, &plain, AAD_META))
                .and_then(|_| f.sync_all())
                .map_err(io)?;
        }
        std::fs::rename(&tmp, &path).map_err(|e| GalleryError::Io(path.clone(), e))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| GalleryError::Io(self.dir.clone(), e))
    }

    /// Identify one template.
    pub fn identify(&self, probe: &Template) -> Result<Identified, GalleryError> {
        let index = self.store.index();
        if index.is_empty() {
            return Ok(Identified {
                owner: None,
                score: None,
                threshold: f32::NAN,
                records: 0,
            });
        }
        let r = index
            .search(probe, &SearchParams::default())
            .map_err(|e| GalleryError::Store(e.into()))?;
        let owner = match r.decision {
            Decision::Match { id, .. } => Some(
                self.meta
                    .records
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| GalleryError::Meta(format!("record {id} has no owner")))?,
            ),
            Decision::NoMatch => None,
        };
        Ok(Identified {
            owner,
            score: r.candidates.first().map(|c| c.score),
            threshold: r.threshold,
            records: r.gallery_size,
        })
    }

    /// Enrol `templates` (one per capture, `files` for messages) as `id`'s `hand`: refused if any
    /// capture matches someone else, or if the hand is enrolled and `replace` is off.
    pub fn enroll(
        &mut self,
        id: &str,
        hand: Hand,
        templates: &[(PathBuf, Template)],
        replace: bool,
    ) -> Result<Enrolled, GalleryError> {
        check_name(id)?;
        if hand == Hand::Unknown {
            return Err(GalleryError::BadArg("--hand must be left or right".into()));
        }
        if templates.is_empty() {
            return Err(GalleryError::BadArg("no capture to enrol".into()));
        }
        let old: Vec<u64> = self
            .meta
            .records
            .iter()
            .filter(|(_, o)| o.id == id && o.hand == hand)
            .map(|(r, _)| *r)
            .collect();
        if !old.is_empty() && !replace {
            return Err(GalleryError::AlreadyEnrolled(id.to_string(), hand));
        }
        for (file, t) in templates {
            let r = self.identify(t)?;
            if let Some(o) = r.owner.filter(|o| o.id != id) {
                return Err(GalleryError::Duplicate {
                    existing: o.id,
                    file: file.clone(),
                    score: r.score.unwrap_or(f32::NAN),
                });
            }
        }
        let mut new = Vec::new();
        for (_, t) in templates {
            let rec = self.meta.next_record;
            self.meta.next_record += 1;
            self.store.insert(rec, t)?;
            new.push(rec);
        }
        for r in &new {
            self.meta.records.insert(
                *r,
                Owner {
                    id: id.to_string(),
                    hand,
                },
            );
        }
        for r in &old {
            self.meta.records.remove(r);
        }
        self.save_meta()?;
        for r in &old {
            self.store.remove(*r)?;
        }
        Ok(Enrolled {
            captures: new.len(),
            replaced: old.len(),
        })
    }
}

/// The gallery dir holds keys and sealed data: owner-only.
fn restrict_dir(dir: &Path) -> Result<(), GalleryError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| GalleryError::Io(dir.to_path_buf(), e))?;
    }
    let _ = dir;
    Ok(())
}

fn check_name(id: &str) -> Result<(), GalleryError> {
    if id.trim().is_empty() || id.chars().count() > 64 || id.chars().any(char::is_control) {
        return Err(GalleryError::BadArg(
            "--id must be 1-64 characters without control characters".into(),
        ));
    }
    Ok(())
}

/// One presentation's files.
#[derive(Debug, Clone)]
pub(crate) struct Presentation {
    /// Visible image.
    pub visible: Option<PathBuf>,
    /// NIR image.
    pub nir: Option<PathBuf>,
}

impl Presentation {
    fn name(&self) -> PathBuf {
        self.visible
            .clone()
            .or_else(|| self.nir.clone())
            .unwrap_or_default()
    }
}

/// Pair positional images with `--nir` images (in order); `as_modality` says what positional
/// images are.
pub(crate) fn presentations(
    images: &[PathBuf],
    nir: &[PathBuf],
    as_modality: &str,
) -> Result<Vec<Presentation>, GalleryError> {
    match as_modality {
        "visible" => {
            if !nir.is_empty() && nir.len() != images.len() {
                return Err(GalleryError::BadArg(format!(
                    "{} images but {} --nir images: give one NIR image per capture, or none",
                    images.len(),
                    nir.len()
                )));
            }
            Ok(images
                .iter()
                .enumerate()
                .map(|(i, v)| Presentation {
                    visible: Some(v.clone()),
                    nir: nir.get(i).cloned(),
                })
                .collect())
        }
        "nir" => {
            if !nir.is_empty() {
                return Err(GalleryError::BadArg(
                    "--as nir: the positional images are the NIR images; drop --nir".into(),
                ));
            }
            Ok(images
                .iter()
                .map(|n| Presentation {
                    visible: None,
                    nir: Some(n.clone()),
                })
                .collect())
        }
        other => Err(GalleryError::BadArg(format!(
            "--as {other:?}: expected visible or nir"
        ))),
    }
}

/// Read and code one presentation (typed refusal with the quality gate's reason).
pub(crate) fn extract(
    engine: &Engine,
    p: &Presentation,
    kind: CaptureKind,
    hand: Hand,
) -> Result<Template, GalleryError> {
    let load = |path: &Option<PathBuf>| {
        path.as_ref()
            .map(|f| {
                palmsig_vision::load(f).map_err(|e| GalleryError::Capture {
                    file: f.clone(),
                    code: "bad_image".into(),
                    message: e.to_string(),
                })
            })
            .transpose()
    };
    let capture = Capture {
        kind,
        hand,
        visible: load(&p.visible)?,
        nir: load(&p.nir)?,
    };
    engine
        .extract(&capture, &mut NoExplain)
        .map_err(|e| GalleryError::Capture {
            file: p.name(),
            code: e.code().to_string(),
            message: match &e {
                palmsig_codes::ExtractError::Acquire(a) => a.message().to_string(),
                other => other.to_string(),
            },
        })
}

pub(crate) fn parse_kind(s: &str) -> Result<CaptureKind, GalleryError> {
    s.parse()
        .map_err(|e| GalleryError::BadArg(format!("--kind: {e}")))
}

/// `palmsig enroll` as a function: the JSON it prints.
pub(crate) fn enroll(args: &Args) -> Result<serde_json::Value, GalleryError> {
    let t0 = Instant::now();
    check_name(&args.id)?;
    let hand: Hand = args
        .hand
        .parse()
        .map_err(|e| GalleryError::BadArg(format!("--hand: {e}")))?;
    if hand == Hand::Unknown {
        return Err(GalleryError::BadArg("--hand must be left or right".into()));
    }
    let kind = parse_kind(&args.kind)?;
    let algorithm = args
        .algorithm
        .as_deref()
        .map(|a| {
            a.parse::<Algorithm>()
                .map_err(|e| GalleryError::BadArg(format!("--algorithm: {e}")))
        })
        .transpose()?;
    let pres = presentations(&args.images, &args.nir, &args.as_modality)?;
    let mut g = Gallery::open(&args.gallery, true, algorithm, args.profile.as_deref())?;
    let mut templates = Vec::with_capacity(pres.len());
    for p in &pres {
        templates.push((p.name(), extract(g.engine(), p, kind, hand)?));
    }
    let done = g.enroll(&args.id, hand, &templates, args.replace)?;
    Ok(json!({
        "enrolled": args.id,
        "hand": hand.as_str(),
        "captures": done.captures,
        "replaced_captures": done.replaced,
        "gallery_hands": g.hands(),
        "gallery_records": g.records(),
        "recovered_orphans": g.recovered,
        "latency_ms": t0.elapsed().as_secs_f64() * 1e3,
    }))
}

/// Run `palmsig enroll`.
pub fn run(args: Args) -> anyhow::Result<()> {
    println!("{}", enroll(&args)?);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(pub PathBuf);
    impl TempDir {
        pub(crate) fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!(
                "palmsig-{tag}-{}-{}",
                std::process::id(),
                palmsig_service::state::new_id("t")
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Write a synthetic capture (visible, NIR PNGs) of `subject`'s right hand; returns the paths.
    pub(crate) fn capture(
        dir: &Path,
        subject: u32,
        session: u32,
        index: u32,
    ) -> (PathBuf, PathBuf) {
        use palmsig_synth::{encode_png, render_capture, CaptureSpec, Difficulty, Identity};
        let id = Identity::new(77, subject, Hand::Right).unwrap();
        let spec = CaptureSpec::sample(&id, Difficulty::Easy, session, index);
        let r = render_capture(&id, &spec, 512, 384).unwrap();
        let v = dir.join(format!("s{subject}_{session}_{index}_v.png"));
        let n = dir.join(format!("s{subject}_{session}_{index}_n.png"));
        std::fs::write(&v, encode_png(&r.visible).unwrap()).unwrap();
        std::fs::write(&n, encode_png(&r.nir).unwrap()).unwrap();
        (v, n)
    }

    pub(crate) fn enroll_args(gallery: &Path, id: &str, caps: &[(PathBuf, PathBuf)]) -> Args {
        Args {
            gallery: gallery.to_path_buf(),
            id: id.into(),
            hand: "right".into(),
            images: caps.iter().map(|c| c.0.clone()).collect(),
            nir: caps.iter().map(|c| c.1.clone()).collect(),
            as_modality: "visible".into(),
            kind: "hand".into(),
            algorithm: None,
            replace: false,
            // Synthetic palms: scored with the generator's profile, as a deployment with its
            // sensor's (the built-in real-sensor tables pass synthetic strangers).
            profile: Some(PathBuf::from(palmsig_codes::CalibrationProfile::SYNTHETIC)),
        }
    }

    /// An enrolment interrupted after its index writes but before its metadata write leaves
    /// records nobody owns: the next open removes them.
    #[test]
    fn orphan_records_are_recovered() {
        use palmsig_synth::{render_roi, CaptureSpec, Difficulty, Identity};
        let d = TempDir::new("enroll-orphans");
        let g = Gallery::open(&d.0, true, None, None).unwrap();
        let id = Identity::new(3, 1, Hand::Right).unwrap();
        let r = render_roi(&id, &CaptureSpec::sample(&id, Difficulty::Easy, 1, 0), 128).unwrap();
        let t = g
            .engine()
            .encode_roi(Some(&r.visible), Some(&r.nir))
            .unwrap();
        g.store.insert(g.meta.next_record, &t).unwrap();
        assert_eq!(g.records(), 1);
        drop(g);
        let g = Gallery::open(&d.0, false, None, None).unwrap();
        assert_eq!((g.recovered, g.records(), g.hands()), (1, 0, 0));
        drop(g);
        let g = Gallery::open(&d.0, false, None, None).unwrap();
        assert_eq!((g.recovered, g.records()), (0, 0), "removal was durable");
    }

    #[test]
    fn sealing_roundtrip_and_tamper() {
        let keys = Keyring::new(palmsig_service::crypto::Kek::generate("k"));
        let s = seal(&keys, b"template", AAD_INDEX);
        assert_eq!(open(&keys, &s, AAD_INDEX).unwrap(), b"template");
        assert!(open(&keys, &s, AAD_META).is_err(), "bound to its kind");
        let mut bad = s.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(open(&keys, &bad, AAD_INDEX).is_err());
        for n in 0..s.len() {
            assert!(open(&keys, &s[..n], AAD_INDEX).is_err(), "truncated to {n}");
        }
    }

    #[test]
    fn argument_errors_are_typed() {
        let d = TempDir::new("enroll-args");
        let p = |s: &str| PathBuf::from(s);
        assert!(matches!(
            presentations(&[p("a"), p("b")], &[p("n")], "visible"),
            Err(GalleryError::BadArg(_))
        ));
        assert!(matches!(
            presentations(&[p("a")], &[], "thermal"),
            Err(GalleryError::BadArg(_))
        ));
        let mut a = enroll_args(&d.0.join("g"), "x", &[(p("nope.png"), p("nope_n.png"))]);
        a.hand = "unknown".into();
        assert!(matches!(enroll(&a), Err(GalleryError::BadArg(_))));
        a.hand = "right".into();
        a.id = "bad\nname".into();
        assert!(matches!(enroll(&a), Err(GalleryError::BadArg(_))));
        a.id = "x".into();
        match enroll(&a) {
            Err(GalleryError::Capture { code, .. }) => assert_eq!(code, "bad_image"),
            other => panic!("{other:?}"),
        }
        // A garbage file is a typed refusal, not a panic.
        let junk = d.0.join("junk.png");
        std::fs::write(&junk, b"\x89PNG\r\n\x1a\n not really").unwrap();
        a.images = vec![junk];
        a.nir = vec![];
        assert!(matches!(
            enroll(&a),
            Err(GalleryError::Capture { ref code, .. }) if code == "bad_image"
        ));
        // identify never creates a gallery.
        assert!(matches!(
            Gallery::open(&d.0.join("absent"), false, None, None),
            Err(GalleryError::NotAGallery(_))
        ));
        assert!(!d.0.join("absent").exists());
    }
}
