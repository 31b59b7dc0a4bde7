//! `palmsig identify`: who is this palm? 1:N against a local gallery made by `palmsig enroll`.
//!
//! ```text
//! palmsig identify --gallery DIR probe_v.png [--nir probe_n.png]
//! {"id":"alice","hand":"right","score":0.83,"threshold":0.41,"matched":true,...}
//! ```
//! Prints JSON: the enrolled id (or `null`), the best score, the decision threshold at this
//! gallery size (the index's default FPIR) and the latency. Exit status 0 for a match, 3 for no
//! match; a refused capture or a broken gallery is an error (status 1).
use super::enroll::{parse_kind, ServiceKeys};
use palmsig_core::Hand;
use palmsig_gallery::{extract, presentations, Gallery, GalleryError};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// Arguments of `palmsig identify`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Gallery directory made by `palmsig enroll`.
    #[arg(long)]
    pub gallery: PathBuf,
    /// The probe capture image.
    pub image: PathBuf,
    /// NIR image of the same presentation.
    #[arg(long)]
    pub nir: Option<PathBuf>,
    /// What the positional image is: visible or nir.
    #[arg(long = "as", default_value = "visible")]
    pub as_modality: String,
    /// hand (full-hand frame) or roi (palm-centre crop).
    #[arg(long, default_value = "hand")]
    pub kind: String,
    /// Which hand the probe shows, if known.
    #[arg(long, value_parser = ["left", "right", "unknown"], default_value = "unknown")]
    pub hand: String,
    /// Calibration profile (`palmsig calibrate`) to score with instead of the built-in tables.
    #[arg(long)]
    pub profile: Option<PathBuf>,
}

/// `palmsig identify` as a function: the JSON it prints.
pub(crate) fn identify(args: &Args) -> Result<serde_json::Value, GalleryError> {
    let t0 = Instant::now();
    let hand: Hand = args
        .hand
        .parse()
        .map_err(|e| GalleryError::BadArg(format!("--hand: {e}")))?;
    let kind = parse_kind(&args.kind)?;
    let nir: Vec<PathBuf> = args.nir.iter().cloned().collect();
    let pres = presentations(std::slice::from_ref(&args.image), &nir, &args.as_modality)?;
    let g = Gallery::open(
        &args.gallery,
        false,
        None,
        args.profile.as_deref(),
        &ServiceKeys,
    )?;
    let t_open = t0.elapsed();
    let t1 = Instant::now();
    let probe = extract(g.engine(), &pres[0], kind, hand)?;
    let t_extract = t1.elapsed();
    let t2 = Instant::now();
    let r = g.identify(&probe)?;
    let t_search = t2.elapsed();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    Ok(json!({
        "id": r.owner.as_ref().map(|o| o.id.clone()),
        "hand": r.owner.as_ref().map(|o| o.hand.as_str()),
        "matched": r.owner.is_some(),
        "score": r.score,
        "threshold": r.threshold.is_finite().then_some(r.threshold),
        "gallery_records": r.records,
        "gallery_hands": g.hands(),
        "latency_ms": {"open": ms(t_open), "extract": ms(t_extract), "search": ms(t_search), "total": ms(t0.elapsed())},
    }))
}

/// Run `palmsig identify`: whether the probe matched someone (no match exits with status 3).
pub fn run(args: Args) -> anyhow::Result<bool> {
    let answer = identify(&args)?;
    println!("{answer}");
    Ok(answer["matched"] == true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::enroll::tests::{capture, enroll_args, TempDir};
    use crate::cmd::enroll::{enroll, Args as EnrollArgs};
    use std::path::Path;

    fn probe(gallery: &Path, c: &(PathBuf, PathBuf)) -> Args {
        Args {
            gallery: gallery.to_path_buf(),
            image: c.0.clone(),
            nir: Some(c.1.clone()),
            as_modality: "visible".into(),
            kind: "hand".into(),
            hand: "unknown".into(),
            // Synthetic palms: scored with the generator's profile, as a deployment with its
            // sensor's (the built-in real-sensor tables pass synthetic strangers).
            profile: Some(PathBuf::from(palmsig_codes::CalibrationProfile::SYNTHETIC)),
        }
    }

    /// Enrol two people from synthetic captures, identify them from another session, refuse a
    /// duplicate, survive a reopen, and keep nothing in clear on disk.
    #[test]
    fn enroll_identify_duplicate_and_at_rest() {
        let tmp = TempDir::new("cli-gallery");
        let img = tmp.0.join("img");
        std::fs::create_dir_all(&img).unwrap();
        let gallery = tmp.0.join("gallery");
        let caps = |s: u32| -> Vec<(PathBuf, PathBuf)> {
            (0..3).map(|i| capture(&img, s, 1, i)).collect()
        };
        let (alice, bob) = (caps(1), caps(2));
        let out = enroll(&enroll_args(&gallery, "alice", &alice)).expect("enrol alice");
        assert_eq!(out["captures"], 3, "{out}");
        let out = enroll(&enroll_args(&gallery, "bob", &bob)).expect("enrol bob");
        assert_eq!(
            (
                out["gallery_hands"].as_u64(),
                out["gallery_records"].as_u64()
            ),
            (Some(2), Some(6))
        );

        // Captures of another session are identified as their owner, never as someone else.
        // (The engine still misses some mis-registered captures, see the README: of four
        // probes each, at least one must be found.)
        for (s, who) in [(1, "alice"), (2, "bob")] {
            let mut found = 0;
            for i in 0..4 {
                let r = identify(&probe(&gallery, &capture(&img, s, 2, i))).unwrap();
                assert!(r["latency_ms"]["total"].as_f64().unwrap() > 0.0);
                eprintln!("{who} probe {i}: {r}");
                if r["matched"] == true {
                    assert_eq!(r["id"], who, "{r}");
                    assert!(r["score"].as_f64().unwrap() >= r["threshold"].as_f64().unwrap());
                    found += 1;
                }
            }
            assert!(found >= 1, "{who} never identified");
        }
        let r = identify(&probe(&gallery, &capture(&img, 3, 1, 0))).unwrap();
        assert_eq!(
            (r["id"].clone(), r["matched"].clone()),
            (json!(null), json!(false)),
            "{r}"
        );
        assert!(r["score"].as_f64().unwrap() < r["threshold"].as_f64().unwrap());

        // Alice's palm under another name is refused; alice again needs --replace.
        let dup = enroll(&enroll_args(&gallery, "mallory", &alice[..1]));
        assert!(
            matches!(&dup, Err(GalleryError::Duplicate { existing, .. }) if existing == "alice"),
            "{dup:?}"
        );
        let again: EnrollArgs = enroll_args(&gallery, "alice", &alice[..2]);
        assert!(matches!(
            enroll(&again),
            Err(GalleryError::AlreadyEnrolled(..))
        ));
        let mut again = again;
        again.replace = true;
        let out = enroll(&again).unwrap();
        assert_eq!(
            (
                out["replaced_captures"].as_u64(),
                out["gallery_records"].as_u64()
            ),
            (Some(3), Some(5))
        );
        let r = identify(&probe(&gallery, &capture(&img, 1, 2, 0))).unwrap();
        assert_eq!(r["id"], "alice", "still found after re-enrolment: {r}");

        // At rest: the key file is owner-only; no template, image or name is in clear.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(gallery.join("keys.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let g = Gallery::open(&gallery, false, None, None, &ServiceKeys).unwrap();
        let t = extract(
            g.engine(),
            &presentations(&[alice[0].0.clone()], &[alice[0].1.clone()], "visible").unwrap()[0],
            palmsig_core::CaptureKind::Hand,
            Hand::Right,
        )
        .unwrap()
        .to_bytes()
        .unwrap();
        let mut disk = Vec::new();
        for entry in walk(&gallery) {
            disk.extend(std::fs::read(entry).unwrap());
        }
        let find = |n: &[u8]| disk.windows(n.len()).any(|w| w == n);
        assert!(
            !find(&t[t.len() / 2..t.len() / 2 + 32]),
            "template bytes in clear"
        );
        assert!(!find(b"alice") && !find(b"bob"), "names in clear");
        let png = std::fs::read(&alice[0].0).unwrap();
        assert!(
            !find(&png[png.len() / 2..png.len() / 2 + 32]),
            "image bytes in clear"
        );

        // Another key cannot open the gallery: a typed error, not garbage.
        std::fs::rename(gallery.join("keys.json"), tmp.0.join("keys.bak")).unwrap();
        palmsig_service::crypto::Keyring::load_or_create(&gallery.join("keys.json")).unwrap();
        let e = identify(&probe(&gallery, &capture(&img, 1, 2, 0))).unwrap_err();
        assert!(
            matches!(e, GalleryError::Keys(_) | GalleryError::Store(_)),
            "{e:?}"
        );
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                v.extend(walk(&p));
            } else {
                v.push(p);
            }
        }
        v
    }
}
