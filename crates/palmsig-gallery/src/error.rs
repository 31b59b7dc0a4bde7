//! Why a gallery operation failed.
use palmsig_core::Hand;
use std::path::PathBuf;

/// Why a gallery operation failed.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// `identify` on a directory that is not a gallery.
    #[error("{path} is not a gallery (no keys.json); enrol someone first", path = .0.display())]
    NotAGallery(PathBuf),
    /// Key file missing or malformed, or a record sealed by a key we do not hold.
    #[error("gallery key: {0}")]
    Keys(String),
    /// The template store failed (I/O, damaged snapshot, wrong key).
    #[error("gallery store: {0}")]
    Store(#[from] palmsig_index::PersistError),
    /// The metadata file is unreadable or inconsistent.
    #[error("gallery metadata: {0}")]
    Meta(String),
    /// File-system error outside the store.
    #[error("{path}: {error}", path = .0.display(), error = .1)]
    Io(PathBuf, std::io::Error),
    /// A value asked for is not acceptable (`--id`, `--hand`, image pairing, algorithm).
    #[error("{0}")]
    BadArg(String),
    /// The calibration profile cannot be used.
    #[error("--profile {path}: {error}", path = .0.display(), error = .1)]
    Profile(PathBuf, palmsig_codes::ProfileError),
    /// A capture could not be read or was refused by the quality gate.
    #[error("capture {} refused [{code}]: {message}", .file.display())]
    Capture {
        /// The image file.
        file: PathBuf,
        /// Stable reason (`bad_image`, `no_hand`, `blurred`, …).
        code: String,
        /// Human message.
        message: String,
    },
    /// This palm is already enrolled under another id.
    #[error("duplicate palm: {} matches `{existing}`, already enrolled (score {score:.3})", .file.display())]
    Duplicate {
        /// The id it is enrolled under.
        existing: String,
        /// The capture that matched.
        file: PathBuf,
        /// Its score against the gallery.
        score: f32,
    },
    /// The id already has this hand enrolled (enrol with `replace` to re-enrol it).
    #[error("`{0}` already has a {1} hand enrolled; pass --replace to re-enrol it")]
    AlreadyEnrolled(String, Hand),
}
