//! The gallery: open (create, recover), enrol with a duplicate check, identify.
use crate::envelope::{self, Envelope, IndexSealer, KeyFile};
use crate::meta::Meta;
pub use crate::meta::Owner;
use crate::GalleryError;
use palmsig_codes::{Algorithm, Engine, Template};
use palmsig_core::Hand;
use palmsig_index::{CodesScorer, Decision, GalleryRead, SearchParams, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What an enrolment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// Reference captures stored.
    pub captures: usize,
    /// Reference captures of the same id and hand replaced.
    pub replaced: usize,
}

/// The answer of an identification.
#[derive(Debug, Clone, PartialEq)]
pub struct Identified {
    /// The owner of the best record at or above the threshold.
    pub owner: Option<Owner>,
    /// Best candidate's score (None on an empty gallery).
    pub score: Option<f32>,
    /// Decision threshold at this gallery size (NaN on an empty gallery).
    pub threshold: f32,
    /// Records (reference captures) searched.
    pub records: usize,
}

/// A local encrypted gallery.
pub struct Gallery {
    dir: PathBuf,
    keys: Arc<dyn Envelope>,
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

const KEY_FILE: &str = "keys.json";
const META_FILE: &str = "gallery.sealed";

impl Gallery {
    /// Open the gallery in `dir` with the keys `keys` loads from its key file; with `create`,
    /// make it (and its key) if missing, coding with `algorithm` (default:
    /// `Algorithm::default()`); scores with `profile`'s calibration when given (it must be for
    /// the gallery's algorithm), else the built-in one. Nothing is created when the profile
    /// cannot be used or, without `create`, when `dir` is not a gallery.
    pub fn open(
        dir: &Path,
        create: bool,
        algorithm: Option<Algorithm>,
        profile: Option<&Path>,
        keys: &dyn KeyFile,
    ) -> Result<Gallery, GalleryError> {
        let profile = profile
            .map(|p| {
                palmsig_codes::CalibrationProfile::open(p)
                    .map_err(|e| GalleryError::Profile(p.to_path_buf(), e))
                    .map(|c| (p, c))
            })
            .transpose()?;
        let key_path = dir.join(KEY_FILE);
        if !key_path.exists() {
            if !create {
                return Err(GalleryError::NotAGallery(dir.to_path_buf()));
            }
            std::fs::create_dir_all(dir).map_err(|e| GalleryError::Io(dir.to_path_buf(), e))?;
            restrict_dir(dir)?;
        }
        let keys = keys.load_or_create(&key_path).map_err(GalleryError::Keys)?;
        let meta_path = dir.join(META_FILE);
        let meta = if meta_path.exists() {
            read_meta(keys.as_ref(), &meta_path)?
        } else {
            Meta::new(algorithm.unwrap_or_default().name())
        };
        let alg: Algorithm = meta
            .algorithm
            .parse()
            .map_err(|e| GalleryError::Meta(format!("algorithm {:?}: {e}", meta.algorithm)))?;
        if let Some(asked) = algorithm.filter(|a| *a != alg) {
            return Err(GalleryError::BadArg(format!(
                "this gallery codes with {}, not {}",
                alg.name(),
                asked.name()
            )));
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
        let (store, _recovery) = Store::open(
            dir.join("index"),
            scorer,
            Some(Box::new(IndexSealer(keys.clone()))),
        )?;
        let mut g = Gallery {
            dir: dir.to_path_buf(),
            keys,
            store,
            meta,
            engine,
            recovered: 0,
        };
        g.remove_orphans()?;
        if create && !meta_path.exists() {
            g.save_meta()?;
        }
        Ok(g)
    }

    /// Remove the records an enrolment wrote without reaching its metadata write.
    fn remove_orphans(&mut self) -> Result<(), GalleryError> {
        for id in self.store.index().ids() {
            if !self.meta.records.contains_key(&id) {
                self.store.remove(id)?;
                self.recovered += 1;
            }
        }
        Ok(())
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
        let path = self.dir.join(META_FILE);
        let tmp = self.dir.join(format!("{META_FILE}.tmp"));
        let plain = self.meta.to_json().to_string().into_bytes();
        let io = |e| GalleryError::Io(tmp.clone(), e);
        {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp).map_err(io)?;
            f.write_all(&envelope::seal(self.keys.as_ref(), &plain, Meta::AAD))
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

    /// Enrol `templates` (one per capture, with its file for messages) as `id`'s `hand`:
    /// refused if any capture matches someone else, or if the hand is enrolled and `replace` is
    /// off.
    pub fn enroll(
        &mut self,
        id: &str,
        hand: Hand,
        templates: &[(PathBuf, Template)],
        replace: bool,
    ) -> Result<Enrolled, GalleryError> {
        check_name(id)?;
        check_hand(hand)?;
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
        let owner = Owner {
            id: id.to_string(),
            hand,
        };
        for r in &new {
            self.meta.records.insert(*r, owner.clone());
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

fn read_meta(keys: &dyn Envelope, path: &Path) -> Result<Meta, GalleryError> {
    let raw = std::fs::read(path).map_err(|e| GalleryError::Io(path.to_path_buf(), e))?;
    let plain = envelope::open(keys, &raw, Meta::AAD).map_err(GalleryError::Keys)?;
    serde_json::from_slice::<serde_json::Value>(&plain)
        .ok()
        .as_ref()
        .and_then(Meta::from_json)
        .ok_or_else(|| GalleryError::Meta(format!("{} is malformed", path.display())))
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

/// An enrolled id: 1-64 characters, no control characters.
pub fn check_name(id: &str) -> Result<(), GalleryError> {
    if id.trim().is_empty() || id.chars().count() > 64 || id.chars().any(char::is_control) {
        return Err(GalleryError::BadArg(
            "--id must be 1-64 characters without control characters".into(),
        ));
    }
    Ok(())
}

/// An enrolled hand is left or right.
pub fn check_hand(hand: Hand) -> Result<(), GalleryError> {
    match hand {
        Hand::Unknown => Err(GalleryError::BadArg("--hand must be left or right".into())),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Sealed;

    /// A stand-in envelope (XOR with a per-ring byte, tagged with the AAD): enough to test the
    /// gallery's framing and recovery; the real sealing is the caller's.
    struct Toy(u8);
    impl Envelope for Toy {
        fn seal(&self, plain: &[u8], aad: &str) -> Sealed {
            Sealed {
                kek_id: format!("toy-{}", self.0),
                wrapped: aad.as_bytes().to_vec(),
                ciphertext: plain.iter().map(|b| b ^ self.0).collect(),
            }
        }
        fn open(&self, s: &Sealed, aad: &str) -> Result<Vec<u8>, String> {
            if s.kek_id != format!("toy-{}", self.0) || s.wrapped != aad.as_bytes() {
                return Err("wrong key or kind".into());
            }
            Ok(s.ciphertext.iter().map(|b| b ^ self.0).collect())
        }
    }
    struct ToyFile(u8);
    impl KeyFile for ToyFile {
        fn load_or_create(&self, path: &Path) -> Result<Arc<dyn Envelope>, String> {
            if !path.exists() {
                std::fs::write(path, b"toy").map_err(|e| e.to_string())?;
            }
            Ok(Arc::new(Toy(self.0)))
        }
    }

    fn template(g: &Gallery, subject: u32) -> Template {
        use palmsig_synth::{render_roi, CaptureSpec, Difficulty, Identity};
        let id = Identity::new(3, subject, Hand::Right).unwrap();
        let r = render_roi(&id, &CaptureSpec::sample(&id, Difficulty::Easy, 1, 0), 128).unwrap();
        g.engine()
            .encode_roi(Some(&r.visible), Some(&r.nir))
            .unwrap()
    }

    /// An enrolment interrupted after its index writes but before its metadata write leaves
    /// records nobody owns: the next open removes them.
    #[test]
    fn orphan_records_are_recovered() {
        let d = tempfile::tempdir().unwrap();
        let g = Gallery::open(d.path(), true, None, None, &ToyFile(5)).unwrap();
        let t = template(&g, 1);
        g.store.insert(g.meta.next_record, &t).unwrap();
        assert_eq!(g.records(), 1);
        drop(g);
        let g = Gallery::open(d.path(), false, None, None, &ToyFile(5)).unwrap();
        assert_eq!((g.recovered, g.records(), g.hands()), (1, 0, 0));
        drop(g);
        let g = Gallery::open(d.path(), false, None, None, &ToyFile(5)).unwrap();
        assert_eq!((g.recovered, g.records()), (0, 0), "removal was durable");
    }

    #[test]
    fn refusals_are_typed_and_create_nothing() {
        let d = tempfile::tempdir().unwrap();
        let absent = d.path().join("absent");
        assert!(matches!(
            Gallery::open(&absent, false, None, None, &ToyFile(1)),
            Err(GalleryError::NotAGallery(_))
        ));
        assert!(!absent.exists(), "identify never creates a gallery");
        let mut g = Gallery::open(d.path(), true, None, None, &ToyFile(1)).unwrap();
        let t = template(&g, 2);
        let one = [(PathBuf::from("c1.png"), t)];
        assert!(matches!(
            g.enroll("x", Hand::Unknown, &one, false),
            Err(GalleryError::BadArg(_))
        ));
        assert!(matches!(
            g.enroll("bad\nname", Hand::Right, &one, false),
            Err(GalleryError::BadArg(_))
        ));
        assert_eq!(g.enroll("x", Hand::Right, &one, false).unwrap().captures, 1);
        assert!(matches!(
            g.enroll("x", Hand::Right, &one, false),
            Err(GalleryError::AlreadyEnrolled(..))
        ));
        drop(g);
        // Another key cannot read the metadata: a typed error.
        assert!(matches!(
            Gallery::open(d.path(), false, None, None, &ToyFile(2)),
            Err(GalleryError::Keys(_) | GalleryError::Store(_))
        ));
    }
}
