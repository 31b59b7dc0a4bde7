//! The shared state of the service ([`AppState`]) and what every use case needs from it: audit,
//! sealing palms, rebuilding the in-memory gallery from the database, key rotation. The use
//! cases themselves live in [`crate::ops`].
use crate::biometrics::{pack_templates, unpack_templates, Biometrics};
use crate::clock::Clock;
use crate::crypto::{Keyring, WrappedKey};
use crate::error::ApiError;
use crate::gallery::{Gallery, LocalGallery};
use crate::metrics::Metrics;
use crate::otp::OtpSender;
use crate::payments::PaymentProcessor;
use crate::store::{AuditRow, DataKeyRow, DynStore, PalmRow, StoreError};
use palmsig_core::Hand;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Settings of a service instance.
#[derive(Debug, Clone)]
pub struct Config {
    /// Palm data unused for this long is deleted (ms).
    pub retention_ms: i64,
    /// An enrolment not completed within this time expires (ms); what it stored is removed.
    pub enrolment_ttl_ms: i64,
    /// Bearer token of the operator (admin API).
    pub admin_token: String,
    /// Expose `GET /v1/dev/outbox` (local development only).
    pub dev_outbox: bool,
    /// Dev mode (`--dev`, loopback only): webhook URLs may be `http` and point at this machine
    /// or the LAN (a local receiver). Otherwise `https` to public addresses only.
    pub dev_webhooks: bool,
    /// Add `Secure` to the portal cookie (behind TLS).
    pub secure_cookies: bool,
    /// First webhook retry delay (ms).
    pub webhook_backoff_ms: u64,
    /// Webhook attempts per event and endpoint.
    pub webhook_max_attempts: u32,
    /// Rate limit: burst.
    pub rate_burst: f64,
    /// Rate limit: refill per second.
    pub rate_per_s: f64,
    /// Captures decoded and coded at once (each holds a decoded frame in memory); default: the
    /// number of cores.
    pub extract_concurrency: usize,
    /// How long a capture waits for a slot before 503 `busy` (ms).
    pub extract_wait_ms: u64,
    /// How the biometric engine's scores are calibrated (`built-in`, or the profile file and
    /// what it was fitted on), shown to the operator.
    pub calibration: String,
}

impl Config {
    /// Defaults from [`crate::params`] with the given operator token.
    pub fn new(admin_token: impl Into<String>) -> Self {
        use crate::params::*;
        Self {
            retention_ms: DEFAULT_RETENTION_MS,
            enrolment_ttl_ms: ENROLMENT_TTL_MS,
            admin_token: admin_token.into(),
            dev_outbox: false,
            dev_webhooks: false,
            secure_cookies: false,
            webhook_backoff_ms: WEBHOOK_BACKOFF_MS,
            webhook_max_attempts: WEBHOOK_MAX_ATTEMPTS,
            rate_burst: RATE_LIMIT_BURST,
            rate_per_s: RATE_LIMIT_PER_S,
            calibration: "built-in".into(),
            extract_concurrency: std::thread::available_parallelism().map_or(1, |n| n.get()),
            extract_wait_ms: EXTRACT_WAIT_MS,
        }
    }
}

/// An enrolment in progress at a device. Templates live only here (memory) until completion.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// Id.
    pub id: String,
    /// Device that started it.
    pub device_id: String,
    /// Tenant of that device.
    pub tenant_id: String,
    /// Phone (E.164).
    pub phone: String,
    /// Set once the phone code was confirmed.
    pub person_id: Option<String>,
    /// Whether confirming the phone created the person (an abandoned enrolment removes them).
    pub new_person: bool,
    /// Templates per hand.
    pub templates: HashMap<Hand, Vec<Vec<u8>>>,
    /// Expiry (ms).
    pub expires_ms: i64,
}

/// Per-client token buckets.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<String, (f64, i64)>>,
}

impl RateLimiter {
    /// Take one token for `client`; `Err(retry_after_s)` if empty.
    pub fn check(&self, client: &str, now_ms: i64, burst: f64, per_s: f64) -> Result<(), u64> {
        let mut b = self.buckets.lock().map_err(|_| 1u64)?;
        let (tokens, last) = b.entry(client.to_string()).or_insert((burst, now_ms));
        let elapsed = (now_ms - *last).max(0) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * per_s).min(burst);
        *last = now_ms;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_s).ceil().max(1.0) as u64)
        }
    }
}

/// Bounds how many captures are extracted at once, so concurrent large images cannot take all
/// memory and cores; a request that finds no slot within the wait gets [`Busy`].
#[derive(Debug)]
pub struct ExtractLimiter {
    slots: Arc<tokio::sync::Semaphore>,
    size: usize,
}

/// No extraction slot became free in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("all extraction slots are busy")]
pub struct Busy;

impl From<Busy> for ApiError {
    fn from(_: Busy) -> Self {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "too many captures in progress; retry shortly",
        )
    }
}

impl ExtractLimiter {
    /// `size` slots (at least one).
    pub fn new(size: usize) -> Self {
        let size = size.max(1);
        Self {
            slots: Arc::new(tokio::sync::Semaphore::new(size)),
            size,
        }
    }
    /// Number of slots.
    pub fn size(&self) -> usize {
        self.size
    }
    /// Slots free now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
    /// Take a slot, waiting at most `wait`; released when the permit is dropped (move it into
    /// the blocking task, which outlives a cancelled request).
    pub async fn acquire(
        &self,
        wait: std::time::Duration,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, Busy> {
        match tokio::time::timeout(wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Busy),
        }
    }
}

/// Everything a request handler needs; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(pub Arc<Inner>);

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Inner {
    /// The system of record.
    pub store: DynStore,
    /// Key-encryption keys.
    pub keys: Keyring,
    /// The biometric engine (extraction; in the embedded default also the gallery).
    pub bio: Arc<dyn Biometrics>,
    /// The 1:N gallery the use cases search and update (embedded, or matcher shards).
    pub gallery: Arc<dyn Gallery>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// OTP delivery.
    pub sender: Arc<dyn OtpSender>,
    /// Payment processor.
    pub processor: Arc<dyn PaymentProcessor>,
    /// Settings.
    pub config: Config,
    /// Metrics registry.
    pub metrics: Metrics,
    /// Enrolments in progress.
    pub enrolments: Mutex<HashMap<String, Enrolment>>,
    /// Rate limits.
    pub limiter: RateLimiter,
    /// Concurrent capture extractions.
    pub extract_slots: ExtractLimiter,
    /// Webhook delivery tasks still running (tests wait on them).
    pub webhook_tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Errors of the maintenance operations.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Keys.
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    /// Engine.
    #[error(transparent)]
    Bio(#[from] crate::biometrics::BioError),
    /// A stored palm record is inconsistent.
    #[error("palm {0}: {1}")]
    Corrupt(String, String),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        ApiError::internal(e)
    }
}

impl AppState {
    /// Assemble a state. Call [`AppState::rebuild_index`] before serving.
    pub fn new(
        store: DynStore,
        keys: Keyring,
        bio: Arc<dyn Biometrics>,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn OtpSender>,
        processor: Arc<dyn PaymentProcessor>,
        config: Config,
    ) -> Self {
        Self(Arc::new(Inner {
            store,
            keys,
            gallery: Arc::new(LocalGallery::new(bio.clone())),
            bio,
            clock,
            sender,
            processor,
            metrics: Metrics::default(),
            enrolments: Mutex::new(HashMap::new()),
            limiter: RateLimiter::default(),
            extract_slots: ExtractLimiter::new(config.extract_concurrency),
            webhook_tasks: Mutex::new(Vec::new()),
            config,
        }))
    }

    /// Use `gallery` instead of the embedded one (a cluster's matcher shards). Call right after
    /// [`AppState::new`], before the state is cloned.
    pub fn with_gallery(mut self, gallery: Arc<dyn Gallery>) -> Self {
        Arc::get_mut(&mut self.0)
            .expect("with_gallery is called before the state is shared")
            .gallery = gallery;
        self
    }

    /// Now (ms).
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Append to the audit log.
    pub async fn audit(
        &self,
        actor: &str,
        tenant: Option<&str>,
        action: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.store
            .insert_audit(&AuditRow {
                id: new_id("aud"),
                ts_ms: self.now(),
                actor: actor.to_string(),
                tenant_id: tenant.map(str::to_string),
                action: action.to_string(),
                subject: subject.to_string(),
                detail: detail.to_string(),
            })
            .await
    }

    /// Seal reference templates as a new palm of `person_id` and store them (replacing the same
    /// hand); returns (new palm id, replaced palm id).
    pub async fn store_palm(
        &self,
        person_id: &str,
        hand: Hand,
        templates: &[Vec<u8>],
    ) -> Result<(String, Option<String>), ServiceError> {
        let id = new_id("palm");
        let sealed = self.keys.seal(&pack_templates(templates), &id);
        let now = self.now();
        let row = PalmRow {
            id: id.clone(),
            person_id: person_id.to_string(),
            hand: hand.as_str().to_string(),
            ciphertext: sealed.ciphertext,
            created_ms: now,
            last_used_ms: now,
        };
        let key = DataKeyRow {
            id: id.clone(),
            kek_id: sealed.key.kek_id,
            wrapped: sealed.key.wrapped,
        };
        let replaced = self.store.put_palm(&row, &key).await?;
        Ok((id, replaced))
    }

    /// Decrypt a stored palm's reference templates.
    pub async fn open_palm(&self, p: &PalmRow) -> Result<Vec<Vec<u8>>, ServiceError> {
        let k = self
            .store
            .get_data_key(&p.id)
            .await?
            .ok_or_else(|| ServiceError::Corrupt(p.id.clone(), "data key missing".into()))?;
        let plain = self.keys.open(
            &p.ciphertext,
            &WrappedKey {
                kek_id: k.kek_id,
                wrapped: k.wrapped,
            },
            &p.id,
        )?;
        unpack_templates(&plain)
            .ok_or_else(|| ServiceError::Corrupt(p.id.clone(), "bad template pack".into()))
    }

    /// Load every palm from the database into the in-memory gallery (decrypting in memory), after
    /// bringing stored phone numbers to the current key ([`crate::ops::persons::rekey_phones`]:
    /// the data migration of phones stored in clear before). Returns the number of palms loaded.
    /// A process whose gallery lives elsewhere (matcher shards) loads nothing and returns 0.
    pub async fn rebuild_index(&self) -> Result<usize, ServiceError> {
        crate::ops::persons::rekey_phones(&self.store, &self.keys).await?;
        let Some(bio) = self.gallery.embedded() else {
            return Ok(0);
        };
        let palms = self.store.list_palms().await?;
        for p in &palms {
            let refs = self.open_palm(p).await?;
            bio.add(&p.id, &refs)?;
        }
        self.metrics
            .set_gauge("palmsig_gallery_palms", bio.len() as f64);
        Ok(palms.len())
    }
}

/// Re-wrap every data key in `store` under the keyring's active KEK (the records themselves are
/// untouched), then re-hash phone numbers under it. Returns how many keys were re-wrapped.
pub async fn rewrap_all(store: &DynStore, keys: &Keyring) -> Result<usize, ServiceError> {
    let mut n = 0;
    for k in store.list_data_keys().await? {
        if k.kek_id == keys.active_id() {
            continue;
        }
        let w = keys.rewrap(
            &WrappedKey {
                kek_id: k.kek_id.clone(),
                wrapped: k.wrapped.clone(),
            },
            &k.id,
        )?;
        if store
            .update_data_key(
                &DataKeyRow {
                    id: k.id.clone(),
                    kek_id: w.kek_id,
                    wrapped: w.wrapped,
                },
                &k.kek_id,
            )
            .await?
        {
            n += 1;
        }
    }
    crate::ops::persons::rekey_phones(store, keys).await?;
    Ok(n)
}

/// A new random id with a type prefix, e.g. `palm_3f9c…` (128 bits).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn extract_limiter_bounds_concurrency() {
        let l = ExtractLimiter::new(2);
        assert_eq!((l.size(), l.available()), (2, 2));
        let a = l.acquire(Duration::from_millis(10)).await.unwrap();
        let _b = l.acquire(Duration::from_millis(10)).await.unwrap();
        assert_eq!(l.available(), 0);
        assert_eq!(
            l.acquire(Duration::from_millis(20)).await.unwrap_err(),
            Busy
        );
        drop(a);
        assert!(l.acquire(Duration::from_millis(20)).await.is_ok());
        assert_eq!(ExtractLimiter::new(0).size(), 1, "never zero slots");
        assert_eq!(ApiError::from(Busy).status.as_u16(), 503);
    }
}
