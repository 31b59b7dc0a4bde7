//! `palmsig enroll`: enrol a person's palm into a local encrypted gallery
//! (`palmsig_gallery`), which `palmsig identify` searches.
//!
//! ```text
//! palmsig enroll --gallery DIR --id alice --hand right c1_v.png c2_v.png c3_v.png \
//!     --nir c1_n.png --nir c2_n.png --nir c3_n.png
//! palmsig identify --gallery DIR probe_v.png --nir probe_n.png
//! ```
//!
//! The gallery seals with the service's envelope keyring ([`ServiceKeys`]): the same key file
//! format, and `PALMSIG_KEK`.
use palmsig_codes::Algorithm;
use palmsig_core::{CaptureKind, Hand};
use palmsig_gallery::{
    check_hand, check_name, extract, presentations, Envelope, Gallery, GalleryError, KeyFile,
    Sealed,
};
use palmsig_service::crypto::{Keyring, WrappedKey};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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
    /// Which hand the captures show.
    #[arg(long, value_parser = ["left", "right"])]
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

/// The gallery's keys: the service's [`Keyring`] (key file created 0600, `PALMSIG_KEK`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceKeys;

impl KeyFile for ServiceKeys {
    fn load_or_create(&self, path: &Path) -> Result<Arc<dyn Envelope>, String> {
        Keyring::load_or_create(path)
            .map(|k| Arc::new(RingEnvelope(k)) as Arc<dyn Envelope>)
            .map_err(|e| e.to_string())
    }
}

/// A [`Keyring`] as the gallery's [`Envelope`].
struct RingEnvelope(Keyring);

impl Envelope for RingEnvelope {
    fn seal(&self, plain: &[u8], aad: &str) -> Sealed {
        let s = self.0.seal(plain, aad);
        Sealed {
            kek_id: s.key.kek_id,
            wrapped: s.key.wrapped,
            ciphertext: s.ciphertext,
        }
    }
    fn open(&self, s: &Sealed, aad: &str) -> Result<Vec<u8>, String> {
        let key = WrappedKey {
            kek_id: s.kek_id.clone(),
            wrapped: s.wrapped.clone(),
        };
        self.0
            .open(&s.ciphertext, &key, aad)
            .map(|p| p.to_vec())
            .map_err(|e| e.to_string())
    }
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
    check_hand(hand)?;
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
    let mut g = Gallery::open(
        &args.gallery,
        true,
        algorithm,
        args.profile.as_deref(),
        &ServiceKeys,
    )?;
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

    /// The keyring envelope binds each blob to its kind (associated data) and refuses tampering.
    #[test]
    fn ring_envelope_binds_kind_and_refuses_tamper() {
        let keys = RingEnvelope(Keyring::new(palmsig_service::crypto::Kek::generate("k")));
        let s = keys.seal(b"template", "palmsig-gallery/index");
        assert_eq!(keys.open(&s, "palmsig-gallery/index").unwrap(), b"template");
        assert!(
            keys.open(&s, "palmsig-gallery/meta").is_err(),
            "bound to its kind"
        );
        let mut bad = s.clone();
        let last = bad.ciphertext.len() - 1;
        bad.ciphertext[last] ^= 1;
        assert!(keys.open(&bad, "palmsig-gallery/index").is_err());
        let mut other = s.clone();
        other.kek_id = "unknown".into();
        assert!(keys.open(&other, "palmsig-gallery/index").is_err());
    }

    #[test]
    fn argument_errors_are_typed() {
        let d = TempDir::new("enroll-args");
        let p = |s: &str| PathBuf::from(s);
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
    }
}
