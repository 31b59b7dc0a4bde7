//! The 1:N gallery as the use cases see it. [`LocalGallery`] is the embedded default: the
//! whole gallery in this process's [`Biometrics`]. A cluster (crate `palmsig-cluster`) puts the
//! gallery in matcher shards behind the same trait: API nodes then hold no templates, and the
//! database's change stream (not these calls) is what updates the shards.
use crate::biometrics::{BioError, Biometrics, Hit};
use crate::error::ApiError;
use axum::http::StatusCode;
use std::sync::Arc;

/// Why the gallery could not answer.
#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    /// Some part of the gallery has no live matcher (or did not answer in time): answering
    /// "no match" would be a lie (HTTP 503 `gallery_unavailable`).
    #[error("gallery unavailable: {0}")]
    Unavailable(String),
    /// The engine refused the probe or the gallery failed.
    #[error(transparent)]
    Bio(#[from] BioError),
}

impl From<GalleryError> for ApiError {
    fn from(e: GalleryError) -> Self {
        match e {
            GalleryError::Unavailable(why) => {
                tracing::warn!(%why, "gallery unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "gallery_unavailable",
                    "the palm gallery is temporarily unavailable; retry shortly",
                )
            }
            GalleryError::Bio(b) => b.into(),
        }
    }
}

/// Held while a use case checks for duplicates and stores a palm; dropping it lets the next
/// enrolment (on any node sharing the gallery) check.
pub type EnrolGuard = Box<dyn Send>;

/// What the use cases need from the gallery.
#[async_trait::async_trait]
pub trait Gallery: Send + Sync + std::fmt::Debug {
    /// 1:N search: the best match above the threshold for the whole gallery's size. `fresh`:
    /// the answer must reflect every palm committed before the call (duplicate checks).
    async fn search(&self, probe: &[u8], fresh: bool) -> Result<Option<Hit>, GalleryError>;
    /// Exclusive right to "check duplicates, then store" across everything sharing the gallery.
    async fn enrol_guard(&self) -> Result<EnrolGuard, GalleryError>;
    /// A palm was committed to the database with these reference templates.
    async fn stored(&self, palm_id: &str, templates: &[Vec<u8>]) -> Result<(), GalleryError>;
    /// A palm was deleted from the database.
    async fn removed(&self, palm_id: &str);
    /// The in-process gallery to load from the database at start, if this process holds one.
    fn embedded(&self) -> Option<&Arc<dyn Biometrics>>;
}

/// The embedded gallery: this process's engine holds every palm.
#[derive(Debug)]
pub struct LocalGallery {
    bio: Arc<dyn Biometrics>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl LocalGallery {
    /// The gallery of `bio`.
    pub fn new(bio: Arc<dyn Biometrics>) -> Self {
        Self {
            bio,
            lock: Arc::default(),
        }
    }
}

#[async_trait::async_trait]
impl Gallery for LocalGallery {
    async fn search(&self, probe: &[u8], _fresh: bool) -> Result<Option<Hit>, GalleryError> {
        let (bio, probe) = (self.bio.clone(), probe.to_vec());
        tokio::task::spawn_blocking(move || bio.search(&probe))
            .await
            .map_err(|e| GalleryError::Bio(BioError::Gallery(e.to_string())))?
            .map_err(GalleryError::Bio)
    }
    async fn enrol_guard(&self) -> Result<EnrolGuard, GalleryError> {
        Ok(Box::new(self.lock.clone().lock_owned().await))
    }
    async fn stored(&self, palm_id: &str, templates: &[Vec<u8>]) -> Result<(), GalleryError> {
        Ok(self.bio.add(palm_id, templates)?)
    }
    async fn removed(&self, palm_id: &str) {
        self.bio.remove(palm_id);
    }
    fn embedded(&self) -> Option<&Arc<dyn Biometrics>> {
        Some(&self.bio)
    }
}
