//! From image files to a template: pairing visible and NIR files into presentations, reading
//! and coding one (typed refusal with the quality gate's reason).
use crate::GalleryError;
use palmsig_codes::{Engine, Template};
use palmsig_core::{CaptureKind, Hand};
use palmsig_vision::{Capture, NoExplain};
use std::path::PathBuf;

/// One presentation's files.
#[derive(Debug, Clone)]
pub struct Presentation {
    /// Visible image.
    pub visible: Option<PathBuf>,
    /// NIR image.
    pub nir: Option<PathBuf>,
}

impl Presentation {
    /// The file that names this presentation in messages.
    pub fn name(&self) -> PathBuf {
        self.visible
            .clone()
            .or_else(|| self.nir.clone())
            .unwrap_or_default()
    }
}

/// Pair `images` with `nir` images (in order); `as_modality` (`visible` or `nir`) says what
/// `images` are.
pub fn presentations(
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

/// Read and code one presentation.
pub fn extract(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_errors_are_typed() {
        let p = |s: &str| PathBuf::from(s);
        assert!(matches!(
            presentations(&[p("a"), p("b")], &[p("n")], "visible"),
            Err(GalleryError::BadArg(_))
        ));
        assert!(matches!(
            presentations(&[p("a")], &[], "thermal"),
            Err(GalleryError::BadArg(_))
        ));
        assert!(matches!(
            presentations(&[p("a")], &[p("n")], "nir"),
            Err(GalleryError::BadArg(_))
        ));
        let ok = presentations(&[p("a"), p("b")], &[p("x"), p("y")], "visible").unwrap();
        assert_eq!(ok[1].nir.as_deref(), Some(std::path::Path::new("y")));
    }
}
