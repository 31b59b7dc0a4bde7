//! Storage: one [`Store`] trait, two real backends built from the same code and the same
//! migrations — [`SqliteStore`] (embedded default, a file under `--data DIR`) and [`PgStore`]
//! (`--database-url postgres://…`). The database is the system of record; palm templates and
//! card numbers are only ever stored sealed (see [`crate::crypto`]).
mod sql;

pub use sql::{PgStore, SqliteStore};

use async_trait::async_trait;
use std::sync::Arc;

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Applying the migrations failed.
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A uniqueness rule was violated (e.g. a phone number already registered).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Deleted rows could not be scrubbed from the database files yet (SQLite readers kept the
    /// WAL busy); the rows are deleted, the scrub runs again at the next deletion.
    #[error("scrubbing deleted data: the WAL is still in use by readers")]
    ScrubBusy,
    /// A URL or option that names no supported backend.
    #[error("unsupported database url `{0}` (expected sqlite:… or postgres://…)")]
    BadUrl(String),
}

/// A shared store.
pub type DynStore = Arc<dyn Store>;

/// Keyset pagination position: items strictly older than `(created_ms, id)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Creation time of the last item of the previous page.
    pub created_ms: i64,
    /// Id of the last item of the previous page.
    pub id: String,
}

/// A tenant (retailer, office, venue).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Tenant {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Creation time (ms).
    pub created_ms: i64,
}

/// An OAuth2 client of a tenant (client-credentials grant).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiClient {
    /// The `client_id`.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// SHA-256 of the client secret.
    pub secret_hash: String,
    /// Space-separated scopes this client may be granted.
    pub scopes: String,
    /// Creation time (ms).
    pub created_ms: i64,
    /// When the client was revoked (its tokens were deleted then); `None` while active.
    pub revoked_ms: Option<i64>,
}

/// An issued access token (stored hashed).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccessToken {
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Client it was issued to.
    pub client_id: String,
    /// Tenant of that client.
    pub tenant_id: String,
    /// Granted scopes, space-separated.
    pub scopes: String,
    /// Expiry (ms).
    pub expires_ms: i64,
}

/// A site (store, office, gate) of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Site {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Creation time (ms).
    pub created_ms: i64,
}

/// A scanner or kiosk.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Device {
    /// Id.
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// Site it is installed at.
    pub site_id: String,
    /// Name.
    pub name: String,
    /// SHA-256 of the one-time activation code; cleared once used.
    pub activation_hash: Option<String>,
    /// Expiry of the activation code (ms).
    pub activation_expires_ms: i64,
    /// Ed25519 public key (32 bytes) once activated.
    pub public_key: Option<Vec<u8>>,
    /// Activation time (ms).
    pub activated_ms: Option<i64>,
    /// Last heartbeat or signed request (ms).
    pub last_seen_ms: Option<i64>,
    /// Software version reported by the last heartbeat.
    pub version: Option<String>,
    /// Creation time (ms).
    pub created_ms: i64,
    /// When the tenant revoked the device (its signed requests are refused); `None` while active.
    pub revoked_ms: Option<i64>,
}

/// A person, known by phone number only (never stored in clear).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Person {
    /// Id.
    pub id: String,
    /// Keyed hash of the E.164 phone number (`KEKID:hex`, see [`crate::ops::persons`]); a row
    /// from before this scheme holds the number itself until it is re-keyed.
    pub phone_hash: String,
    /// The phone number sealed under the person's data key (id = person id).
    pub phone_ct: Option<Vec<u8>>,
    /// Verified birth date (`YYYY-MM-DD`), if any.
    pub birth_date: Option<String>,
    /// Creation time (ms).
    pub created_ms: i64,
}

/// A pending one-time code for a phone.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Otp {
    /// Keyed hash of the E.164 phone number.
    pub phone_key: String,
    /// SHA-256 of phone and code.
    pub code_hash: String,
    /// Expiry (ms).
    pub expires_ms: i64,
    /// Wrong tries so far.
    pub attempts: i64,
}

/// A wrapped data key (crypto-shredding deletes this row).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DataKeyRow {
    /// Id of the record it seals (palm id or card token).
    pub id: String,
    /// KEK id.
    pub kek_id: String,
    /// Wrapped key.
    pub wrapped: Vec<u8>,
}

/// One enrolled hand of a person: sealed reference templates.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PalmRow {
    /// Id (also the associated data of its encryption).
    pub id: String,
    /// Owner.
    pub person_id: String,
    /// `left` or `right`.
    pub hand: String,
    /// Sealed reference templates.
    pub ciphertext: Vec<u8>,
    /// Creation time (ms).
    pub created_ms: i64,
    /// Last successful identification (ms); drives retention.
    pub last_used_ms: i64,
}

/// A vaulted card.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CardRow {
    /// Public token.
    pub token: String,
    /// Owner.
    pub person_id: String,
    /// Brand.
    pub brand: String,
    /// Last 4 digits.
    pub last4: String,
    /// Expiry month.
    pub exp_month: i64,
    /// Expiry year.
    pub exp_year: i64,
    /// Sealed PAN.
    pub ciphertext: Vec<u8>,
    /// Default card of the person.
    pub is_default: bool,
    /// Creation time (ms).
    pub created_ms: i64,
    /// The enrolment that added it while that enrolment is not complete (removed with it if it
    /// expires).
    pub enrolment_id: Option<String>,
}

/// An outcome of an identification (usage history and tenant log).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct EventRow {
    /// Id.
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Person, if identified.
    pub person_id: Option<String>,
    /// Device.
    pub device_id: Option<String>,
    /// Site.
    pub site_id: Option<String>,
    /// `payment`, `entry`, `loyalty`, `age`.
    pub purpose: String,
    /// e.g. `authorized`, `declined`, `granted`, `no_match`.
    pub outcome: String,
    /// JSON details (never a PAN, never an image).
    pub detail: String,
    /// Time (ms).
    pub created_ms: i64,
}

/// A stored idempotent response.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdemRow {
    /// Scope (the caller, e.g. a device id).
    pub scope: String,
    /// The `Idempotency-Key`.
    pub key: String,
    /// SHA-256 of method, path and body of the first request.
    pub request_hash: String,
    /// HTTP status of the stored response; `None` while in flight.
    pub status: Option<i64>,
    /// Body of the stored response.
    pub body: Option<String>,
    /// Time (ms).
    pub created_ms: i64,
}

/// A webhook endpoint of a tenant.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WebhookRow {
    /// Id.
    pub id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Target URL.
    pub url: String,
    /// The signing secrets valid now (several during rotation): a JSON array sealed under the
    /// webhook's own data key (id = webhook id), base64. Open with
    /// [`crate::webhook::open_secrets`].
    pub secrets: String,
    /// Creation time (ms).
    pub created_ms: i64,
}

/// One webhook delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct DeliveryRow {
    /// Id.
    pub id: String,
    /// Webhook.
    pub webhook_id: String,
    /// Tenant.
    pub tenant_id: String,
    /// Event delivered.
    pub event_id: String,
    /// Attempt number, from 1.
    pub attempt: i64,
    /// HTTP status received.
    pub status_code: Option<i64>,
    /// 2xx received.
    pub ok: bool,
    /// Transport error, if any.
    pub error: Option<String>,
    /// Time (ms).
    pub created_ms: i64,
}

/// A webhook delivery still to be made (the durable outbox).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    /// Id.
    pub id: String,
    /// Webhook to deliver to.
    pub webhook_id: String,
    /// Its tenant.
    pub tenant_id: String,
    /// Event delivered.
    pub event_id: String,
    /// The JSON payload, as signed and sent.
    pub body: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When the next attempt is due (ms); pushed ahead while a worker holds the row.
    pub next_attempt_ms: i64,
    /// Time queued (ms).
    pub created_ms: i64,
}

/// An audit record.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AuditRow {
    /// Id.
    pub id: String,
    /// Time (ms).
    pub ts_ms: i64,
    /// Who: `operator`, `client:ID`, `device:ID`, `person:ID`, `system`.
    pub actor: String,
    /// Tenant concerned, if any.
    pub tenant_id: Option<String>,
    /// What, e.g. `device.activate`.
    pub action: String,
    /// On what (an id).
    pub subject: String,
    /// JSON details (no secrets).
    pub detail: String,
}

/// Outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdemClaim {
    /// The key was free: the caller now owns it and must finish or release it.
    Claimed,
    /// The key exists (finished or in flight).
    Existing(IdemRow),
}

/// The storage operations of the service. Both backends implement it with the same SQL.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Backend name (`sqlite`, `postgres`).
    fn backend(&self) -> &'static str;
    /// A trivial query (readiness).
    async fn ping(&self) -> Result<(), StoreError>;
    /// After a deletion: make the deleted rows unrecoverable from the database's own files
    /// (SQLite: checkpoint and truncate the WAL; PostgreSQL: see `PgStore`).
    async fn scrub(&self) -> Result<(), StoreError>;

    /// Insert a tenant.
    async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError>;
    /// A tenant by id.
    async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError>;
    /// Tenants, newest first.
    async fn list_tenants(
        &self,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Tenant>, StoreError>;

    /// Insert an API client.
    async fn create_client(&self, c: &ApiClient) -> Result<(), StoreError>;
    /// An API client by id.
    async fn get_client(&self, id: &str) -> Result<Option<ApiClient>, StoreError>;
    /// Revoke an API client and delete its access tokens, in one transaction (idempotent: the
    /// first revocation time is kept); `false` if unknown.
    async fn revoke_client(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Store an access token (hashed).
    async fn insert_token(&self, t: &AccessToken) -> Result<(), StoreError>;
    /// An access token by hash.
    async fn get_token(&self, token_hash: &str) -> Result<Option<AccessToken>, StoreError>;

    /// Insert a site.
    async fn create_site(&self, s: &Site) -> Result<(), StoreError>;
    /// A site by id.
    async fn get_site(&self, id: &str) -> Result<Option<Site>, StoreError>;
    /// Sites of a tenant, newest first.
    async fn list_sites(
        &self,
        tenant_id: &str,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Site>, StoreError>;

    /// Insert a device.
    async fn create_device(&self, d: &Device) -> Result<(), StoreError>;
    /// A device by id.
    async fn get_device(&self, id: &str) -> Result<Option<Device>, StoreError>;
    /// Devices of a tenant, newest first.
    async fn list_devices(
        &self,
        tenant_id: &str,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<Device>, StoreError>;
    /// Atomically consume an unexpired activation code and set the device key; the activated
    /// device, or `None` if the code is unknown, used or expired.
    async fn activate_device(
        &self,
        activation_hash: &str,
        public_key: &[u8],
        now_ms: i64,
    ) -> Result<Option<Device>, StoreError>;
    /// Whether an unexpired, unused activation code has this hash (nothing is consumed).
    async fn activation_pending(
        &self,
        activation_hash: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Record a heartbeat / sighting.
    async fn touch_device(
        &self,
        id: &str,
        version: Option<&str>,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Remember a request nonce; `false` if it was already seen (replay).
    async fn insert_nonce(
        &self,
        device_id: &str,
        nonce: &str,
        ts_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Revoke a device (idempotent: the first revocation time is kept); `false` if unknown.
    async fn revoke_device(&self, id: &str, now_ms: i64) -> Result<bool, StoreError>;
    /// Forget nonces older than `before_ms`.
    async fn purge_nonces(&self, before_ms: i64) -> Result<u64, StoreError>;

    /// The person with this phone hash, creating them (with the sealed phone and its data key,
    /// in one transaction) if new; race-free on the unique hash.
    async fn upsert_person(
        &self,
        id_if_new: &str,
        phone_hash: &str,
        phone_ct: &[u8],
        key: &DataKeyRow,
        now_ms: i64,
    ) -> Result<Person, StoreError>;
    /// A person by id.
    async fn get_person(&self, id: &str) -> Result<Option<Person>, StoreError>;
    /// A person by phone hash.
    async fn get_person_by_phone(&self, phone_hash: &str) -> Result<Option<Person>, StoreError>;
    /// Persons whose phone is in clear (no `phone_ct`) or hashed under another key than the one
    /// whose hashes start with `hash_prefix`.
    async fn persons_to_rekey(&self, hash_prefix: &str) -> Result<Vec<Person>, StoreError>;
    /// Replace a person's phone hash and sealed phone.
    async fn set_person_phone(
        &self,
        id: &str,
        phone_hash: &str,
        phone_ct: &[u8],
    ) -> Result<(), StoreError>;
    /// Set the verified birth date.
    async fn set_birth_date(&self, person_id: &str, birth_date: &str) -> Result<(), StoreError>;
    /// Delete a person and everything of theirs (palms, cards with their keys, consents, links,
    /// sessions); their events stay in tenants' logs with the person removed.
    async fn delete_person(&self, id: &str) -> Result<bool, StoreError>;
    /// Number of persons.
    async fn count_persons(&self) -> Result<i64, StoreError>;

    /// Replace the pending OTP of a phone.
    async fn put_otp(&self, o: &Otp) -> Result<(), StoreError>;
    /// The pending OTP of a phone (by its key).
    async fn get_otp(&self, phone_key: &str) -> Result<Option<Otp>, StoreError>;
    /// Count a wrong try.
    async fn bump_otp(&self, phone_key: &str) -> Result<(), StoreError>;
    /// Remove the OTP of a phone.
    async fn delete_otp(&self, phone_key: &str) -> Result<(), StoreError>;
    /// Count one `kind` event (e.g. a code sent) for `phone_key` in its fixed window of
    /// `window_ms` (a new window starts with the first event after the last one ended); returns
    /// the count in the current window, this event included.
    async fn bump_limit(
        &self,
        phone_key: &str,
        kind: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<i64, StoreError>;
    /// The count of `kind` events for `phone_key` in the window current at `now_ms`.
    async fn limit_count(
        &self,
        phone_key: &str,
        kind: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<i64, StoreError>;

    /// Insert (or replace the same hand of the same person) a palm with its wrapped data key,
    /// in one transaction; returns the id of the palm it replaced (its key is shredded).
    async fn put_palm(&self, p: &PalmRow, key: &DataKeyRow) -> Result<Option<String>, StoreError>;
    /// All palms (index rebuild at start).
    async fn list_palms(&self) -> Result<Vec<PalmRow>, StoreError>;
    /// Owner (person id) of a palm.
    async fn palm_owner(&self, palm_id: &str) -> Result<Option<String>, StoreError>;
    /// Palms of a person.
    async fn palms_of(&self, person_id: &str) -> Result<Vec<PalmRow>, StoreError>;
    /// Ids of palms not used since `before_ms` (retention).
    async fn palms_unused_since(&self, before_ms: i64) -> Result<Vec<String>, StoreError>;
    /// Mark a palm as used now.
    async fn touch_palm(&self, id: &str, now_ms: i64) -> Result<(), StoreError>;
    /// Delete a palm and shred its data key, in one transaction.
    async fn delete_palm(&self, id: &str) -> Result<bool, StoreError>;

    /// Insert or replace a wrapped data key (records sealed outside `put_palm`/`put_card`,
    /// e.g. webhook secrets).
    async fn put_data_key(&self, k: &DataKeyRow) -> Result<(), StoreError>;
    /// A wrapped data key by record id.
    async fn get_data_key(&self, id: &str) -> Result<Option<DataKeyRow>, StoreError>;
    /// All wrapped data keys (rotation).
    async fn list_data_keys(&self) -> Result<Vec<DataKeyRow>, StoreError>;
    /// Replace a wrapped data key (rotation); `expected_kek` guards against concurrent rotation.
    async fn update_data_key(&self, k: &DataKeyRow, expected_kek: &str)
        -> Result<bool, StoreError>;

    /// Insert a card with its wrapped key; becomes default if the person has none.
    async fn put_card(&self, c: &CardRow, key: &DataKeyRow) -> Result<(), StoreError>;
    /// Record an enrolment whose phone was verified (what it stores is removed if it expires).
    async fn start_enrolment(
        &self,
        id: &str,
        person_id: &str,
        new_person: bool,
        expires_ms: i64,
    ) -> Result<(), StoreError>;
    /// A completed enrolment: its cards are the person's for good.
    async fn finish_enrolment(&self, id: &str) -> Result<(), StoreError>;
    /// Enrolments expired at `now_ms`: (id, person id, whether it created the person).
    async fn expired_enrolments(
        &self,
        now_ms: i64,
    ) -> Result<Vec<(String, String, bool)>, StoreError>;
    /// Remove an abandoned enrolment and the cards it added (keys shredded), in one transaction.
    async fn drop_enrolment(&self, id: &str) -> Result<(), StoreError>;
    /// Cards of a person, oldest first.
    async fn cards_of(&self, person_id: &str) -> Result<Vec<CardRow>, StoreError>;
    /// Delete a card of a person (and shred its key); promotes another card to default.
    async fn delete_card(&self, person_id: &str, token: &str) -> Result<bool, StoreError>;
    /// Make a card the person's default.
    async fn set_default_card(&self, person_id: &str, token: &str) -> Result<bool, StoreError>;

    /// Grant or withdraw consent for a purpose.
    async fn set_consent(
        &self,
        person_id: &str,
        purpose: &str,
        granted: bool,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Consents of a person: (purpose, granted).
    async fn consents_of(&self, person_id: &str) -> Result<Vec<(String, bool)>, StoreError>;
    /// Link (or relink) a loyalty id at a tenant.
    async fn set_loyalty(
        &self,
        person_id: &str,
        tenant_id: &str,
        loyalty_id: &str,
    ) -> Result<(), StoreError>;
    /// Remove a loyalty link.
    async fn delete_loyalty(&self, person_id: &str, tenant_id: &str) -> Result<bool, StoreError>;
    /// Loyalty links of a person: (tenant, loyalty id).
    async fn loyalty_of(&self, person_id: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Set the badge credential number of a person at a tenant.
    async fn set_badge(
        &self,
        person_id: &str,
        tenant_id: &str,
        number: &str,
    ) -> Result<(), StoreError>;
    /// Badge number of a person at a tenant.
    async fn get_badge(
        &self,
        person_id: &str,
        tenant_id: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Insert an event.
    async fn insert_event(&self, e: &EventRow) -> Result<(), StoreError>;
    /// An event by id.
    async fn get_event(&self, id: &str) -> Result<Option<EventRow>, StoreError>;
    /// Events of a tenant, newest first.
    async fn events_of_tenant(
        &self,
        tenant_id: &str,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError>;
    /// Events of a person, newest first.
    async fn events_of_person(
        &self,
        person_id: &str,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError>;

    /// Claim an idempotency key, or return the existing record.
    async fn idem_claim(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
        now_ms: i64,
    ) -> Result<IdemClaim, StoreError>;
    /// Store the response of a claimed key.
    async fn idem_finish(
        &self,
        scope: &str,
        key: &str,
        status: i64,
        body: &str,
    ) -> Result<(), StoreError>;
    /// Release a claimed key without a response (the request failed before any effect).
    async fn idem_release(&self, scope: &str, key: &str) -> Result<(), StoreError>;

    /// Insert a webhook endpoint.
    async fn create_webhook(&self, w: &WebhookRow) -> Result<(), StoreError>;
    /// A webhook by id.
    async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRow>, StoreError>;
    /// Webhooks of a tenant.
    async fn webhooks_of(&self, tenant_id: &str) -> Result<Vec<WebhookRow>, StoreError>;
    /// Replace a webhook's secrets (rotation).
    async fn set_webhook_secrets(&self, id: &str, secrets: &str) -> Result<(), StoreError>;
    /// Log a delivery attempt.
    async fn insert_delivery(&self, d: &DeliveryRow) -> Result<(), StoreError>;
    /// Queue a delivery in the outbox.
    async fn enqueue_delivery(&self, o: &OutboxRow) -> Result<(), StoreError>;
    /// Claim up to `limit` deliveries due at `now_ms`: each claimed row's next attempt is pushed
    /// to `lease_until_ms`, so a concurrent worker (or a crashed one's successor, after the
    /// lease) does not send it twice.
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError>;
    /// After a failed attempt: record it and schedule the next.
    async fn retry_delivery(
        &self,
        id: &str,
        attempts: i64,
        next_attempt_ms: i64,
    ) -> Result<(), StoreError>;
    /// Remove a delivery from the outbox (delivered, or out of attempts).
    async fn finish_delivery(&self, id: &str) -> Result<(), StoreError>;
    /// Deliveries waiting in the outbox.
    async fn pending_deliveries(&self) -> Result<i64, StoreError>;
    /// Delivery log of a tenant, newest first.
    async fn deliveries_of(
        &self,
        tenant_id: &str,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<DeliveryRow>, StoreError>;

    /// Append to the audit log.
    async fn insert_audit(&self, a: &AuditRow) -> Result<(), StoreError>;
    /// Audit log (of one tenant or all), newest first.
    async fn list_audit(
        &self,
        tenant_id: Option<&str>,
        after: Option<&Cursor>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError>;

    /// Create a portal session.
    async fn insert_session(
        &self,
        token_hash: &str,
        person_id: &str,
        expires_ms: i64,
    ) -> Result<(), StoreError>;
    /// The person of an unexpired session.
    async fn session_person(
        &self,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<String>, StoreError>;
    /// End a session.
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
}

/// Open the store named by `url`: `sqlite:PATH` / `sqlite://PATH` or `postgres://…`;
/// migrations are applied.
pub async fn connect(url: &str) -> Result<DynStore, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(url).await?))
    } else if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        Ok(Arc::new(
            SqliteStore::open(std::path::Path::new(path)).await?,
        ))
    } else {
        Err(StoreError::BadUrl(url.to_string()))
    }
}
