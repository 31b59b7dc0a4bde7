//! The SQL of both backends. The method bodies are written once (in `store_impl!`) and
//! instantiated for `sqlx::Sqlite` and `sqlx::Postgres`: placeholders are `$N` (both accept
//! them), upserts use `ON CONFLICT`, booleans are `TRUE`/`FALSE`, times are BIGINT ms.
use super::*;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

/// The SQLite backend (a file).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: sqlx::SqlitePool,
}

impl SqliteStore {
    /// Open (creating if missing) the database file at `path` and apply the migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
            }
        }
        create_private(path).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Deleted rows are overwritten with zeros (pages and freelist), not just unlinked:
            // deleting palm data or an account must leave nothing to recover from the file.
            .pragma("secure_delete", "ON")
            // Writers queue on the file lock rather than failing under concurrent enrolments.
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// Copy the WAL into the database (where `secure_delete` has zeroed the deleted rows) and
    /// truncate it to zero bytes, so the pre-deletion page images it held are gone too.
    /// Readers normally finish within the busy timeout; a few tries cover the rest.
    async fn scrub_deleted(&self) -> Result<(), StoreError> {
        for _ in 0..3 {
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.pool)
                .await?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(StoreError::ScrubBusy)
    }
}

/// The PostgreSQL backend.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: sqlx::PgPool,
}

impl PgStore {
    /// Connect to `url` and apply the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }
    /// Close the pool (tests drop their database afterwards).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Nothing to do at once: the DELETEs already made the rows unreachable to every query. The
    /// old tuple versions stay in the table's pages until (auto)VACUUM reclaims them, and in WAL
    /// segments until they are recycled; purging those physically is the operator's job
    /// (autovacuum, encrypted storage, WAL retention), documented in SECURITY notes.
    async fn scrub_deleted(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The "no cursor" position: newer than everything.
fn cur(after: Option<&Cursor>) -> (i64, &str) {
    match after {
        Some(c) => (c.created_ms, c.id.as_str()),
        None => (i64::MAX, ""),
    }
}

/// Keyset condition on `created_ms`/`id`, parameters `$2` and `$3`.
const PAGE: &str = "(created_ms < $2 OR (created_ms = $2 AND id < $3))";

macro_rules! store_impl {
    ($ty:ident, $name:literal) => {
        #[async_trait]
        impl Store for $ty {
            fn backend(&self) -> &'static str {
                $name
            }
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }
            async fn scrub(&self) -> Result<(), StoreError> {
                self.scrub_deleted().await
            }

            async fn create_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO tenants (id, name, created_ms) VALUES ($1, $2, $3)")
                    .bind(&t.id)
                    .bind(&t.name)
                    .bind(t.created_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn get_tenant(&self, id: &str) -> Result<Option<Tenant>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM tenants WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn list_tenants(&self, after: Option<&Cursor>, limit: i64) -> Result<Vec<Tenant>, StoreError> {
                let (ms, id) = cur(after);
                let q = format!("SELECT * FROM tenants WHERE $1 = $1 AND {PAGE} ORDER BY created_ms DESC, id DESC LIMIT $4");
                Ok(sqlx::query_as(&q).bind(0i64).bind(ms).bind(id).bind(limit).fetch_all(&self.pool).await?)
            }

            async fn create_client(&self, c: &ApiClient) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO api_clients (id, tenant_id, secret_hash, scopes, created_ms) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&c.id)
                    .bind(&c.tenant_id)
                    .bind(&c.secret_hash)
                    .bind(&c.scopes)
                    .bind(c.created_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn get_client(&self, id: &str) -> Result<Option<ApiClient>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM api_clients WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn revoke_client(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("UPDATE api_clients SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1")
                    .bind(id)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query("DELETE FROM access_tokens WHERE client_id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(n == 1)
            }
            async fn insert_token(&self, t: &AccessToken) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO access_tokens (token_hash, client_id, tenant_id, scopes, expires_ms) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&t.token_hash)
                    .bind(&t.client_id)
                    .bind(&t.tenant_id)
                    .bind(&t.scopes)
                    .bind(t.expires_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn get_token(&self, token_hash: &str) -> Result<Option<AccessToken>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM access_tokens WHERE token_hash = $1").bind(token_hash).fetch_optional(&self.pool).await?)
            }

            async fn create_site(&self, s: &Site) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO sites (id, tenant_id, name, created_ms) VALUES ($1, $2, $3, $4)")
                    .bind(&s.id)
                    .bind(&s.tenant_id)
                    .bind(&s.name)
                    .bind(s.created_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn get_site(&self, id: &str) -> Result<Option<Site>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM sites WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn list_sites(&self, tenant_id: &str, after: Option<&Cursor>, limit: i64) -> Result<Vec<Site>, StoreError> {
                let (ms, id) = cur(after);
                let q = format!("SELECT * FROM sites WHERE tenant_id = $1 AND {PAGE} ORDER BY created_ms DESC, id DESC LIMIT $4");
                Ok(sqlx::query_as(&q).bind(tenant_id).bind(ms).bind(id).bind(limit).fetch_all(&self.pool).await?)
            }

            async fn create_device(&self, d: &Device) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO devices (id, tenant_id, site_id, name, activation_hash, activation_expires_ms, public_key, \
                     activated_ms, last_seen_ms, version, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&d.id)
                .bind(&d.tenant_id)
                .bind(&d.site_id)
                .bind(&d.name)
                .bind(&d.activation_hash)
                .bind(d.activation_expires_ms)
                .bind(&d.public_key)
                .bind(d.activated_ms)
                .bind(d.last_seen_ms)
                .bind(&d.version)
                .bind(d.created_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn get_device(&self, id: &str) -> Result<Option<Device>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM devices WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn list_devices(&self, tenant_id: &str, after: Option<&Cursor>, limit: i64) -> Result<Vec<Device>, StoreError> {
                let (ms, id) = cur(after);
                let q = format!("SELECT * FROM devices WHERE tenant_id = $1 AND {PAGE} ORDER BY created_ms DESC, id DESC LIMIT $4");
                Ok(sqlx::query_as(&q).bind(tenant_id).bind(ms).bind(id).bind(limit).fetch_all(&self.pool).await?)
            }
            async fn activate_device(&self, activation_hash: &str, public_key: &[u8], now_ms: i64) -> Result<Option<Device>, StoreError> {
                Ok(sqlx::query_as(
                    "UPDATE devices SET public_key = $2, activated_ms = $3, last_seen_ms = $3, activation_hash = NULL \
                     WHERE activation_hash = $1 AND activated_ms IS NULL AND activation_expires_ms > $3 RETURNING *",
                )
                .bind(activation_hash)
                .bind(public_key)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?)
            }
            async fn activation_pending(&self, activation_hash: &str, now_ms: i64) -> Result<bool, StoreError> {
                let r: Option<(String,)> = sqlx::query_as(
                    "SELECT id FROM devices WHERE activation_hash = $1 AND activated_ms IS NULL AND activation_expires_ms > $2",
                )
                .bind(activation_hash)
                .bind(now_ms)
                .fetch_optional(&self.pool)
                .await?;
                Ok(r.is_some())
            }
            async fn touch_device(&self, id: &str, version: Option<&str>, now_ms: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE devices SET last_seen_ms = $2, version = COALESCE($3, version) WHERE id = $1")
                    .bind(id)
                    .bind(now_ms)
                    .bind(version)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn insert_nonce(&self, device_id: &str, nonce: &str, ts_ms: i64) -> Result<bool, StoreError> {
                let r = sqlx::query("INSERT INTO nonces (device_id, nonce, ts_ms) VALUES ($1, $2, $3) ON CONFLICT (device_id, nonce) DO NOTHING")
                    .bind(device_id)
                    .bind(nonce)
                    .bind(ts_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() == 1)
            }
            async fn revoke_device(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
                let n = sqlx::query("UPDATE devices SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1")
                    .bind(id)
                    .bind(now_ms)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }
            async fn purge_nonces(&self, before_ms: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM nonces WHERE ts_ms < $1").bind(before_ms).execute(&self.pool).await?.rows_affected())
            }

            async fn upsert_person(&self, id_if_new: &str, phone_hash: &str, phone_ct: &[u8], key: &DataKeyRow, now_ms: i64) -> Result<Person, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("INSERT INTO persons (id, phone_hash, phone_ct, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (phone_hash) DO NOTHING")
                    .bind(id_if_new)
                    .bind(phone_hash)
                    .bind(phone_ct)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    sqlx::query("INSERT INTO data_keys (id, kek_id, wrapped) VALUES ($1, $2, $3)")
                        .bind(&key.id)
                        .bind(&key.kek_id)
                        .bind(&key.wrapped)
                        .execute(&mut *tx)
                        .await?;
                }
                let p = sqlx::query_as("SELECT * FROM persons WHERE phone_hash = $1").bind(phone_hash).fetch_one(&mut *tx).await?;
                tx.commit().await?;
                Ok(p)
            }
            async fn get_person(&self, id: &str) -> Result<Option<Person>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM persons WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn get_person_by_phone(&self, phone_hash: &str) -> Result<Option<Person>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM persons WHERE phone_hash = $1").bind(phone_hash).fetch_optional(&self.pool).await?)
            }
            async fn persons_to_rekey(&self, hash_prefix: &str) -> Result<Vec<Person>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM persons WHERE phone_ct IS NULL OR substr(phone_hash, 1, CAST($2 AS INTEGER)) <> $1 ORDER BY id",
                )
                .bind(hash_prefix)
                .bind(hash_prefix.len() as i64)
                .fetch_all(&self.pool)
                .await?)
            }
            async fn set_person_phone(&self, id: &str, phone_hash: &str, phone_ct: &[u8]) -> Result<(), StoreError> {
                sqlx::query("UPDATE persons SET phone_hash = $2, phone_ct = $3 WHERE id = $1")
                    .bind(id)
                    .bind(phone_hash)
                    .bind(phone_ct)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn set_birth_date(&self, person_id: &str, birth_date: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE persons SET birth_date = $2 WHERE id = $1").bind(person_id).bind(birth_date).execute(&self.pool).await?;
                Ok(())
            }
            async fn delete_person(&self, id: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM data_keys WHERE id = $1 OR id IN (SELECT id FROM palms WHERE person_id = $1) OR id IN (SELECT token FROM cards WHERE person_id = $1)")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE events SET person_id = NULL WHERE person_id = $1").bind(id).execute(&mut *tx).await?;
                let n = sqlx::query("DELETE FROM persons WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
                Ok(n == 1)
            }
            async fn count_persons(&self) -> Result<i64, StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM persons").fetch_one(&self.pool).await?;
                Ok(n)
            }

            async fn put_otp(&self, o: &Otp) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO otps (phone_key, code_hash, expires_ms, attempts) VALUES ($1, $2, $3, $4) ON CONFLICT (phone_key) DO UPDATE \
                     SET code_hash = excluded.code_hash, expires_ms = excluded.expires_ms, attempts = excluded.attempts",
                )
                .bind(&o.phone_key)
                .bind(&o.code_hash)
                .bind(o.expires_ms)
                .bind(o.attempts)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn get_otp(&self, phone_key: &str) -> Result<Option<Otp>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM otps WHERE phone_key = $1").bind(phone_key).fetch_optional(&self.pool).await?)
            }
            async fn bump_otp(&self, phone_key: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE otps SET attempts = attempts + 1 WHERE phone_key = $1").bind(phone_key).execute(&self.pool).await?;
                Ok(())
            }
            async fn delete_otp(&self, phone_key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM otps WHERE phone_key = $1").bind(phone_key).execute(&self.pool).await?;
                Ok(())
            }

            async fn bump_limit(&self, phone_key: &str, kind: &str, now_ms: i64, window_ms: i64) -> Result<i64, StoreError> {
                // Both backends evaluate every SET expression on the row as it was.
                let (n,): (i64,) = sqlx::query_as(
                    "INSERT INTO otp_limits (phone_key, kind, window_start_ms, count) VALUES ($1, $2, $3, 1) \
                     ON CONFLICT (phone_key, kind) DO UPDATE SET \
                     count = CASE WHEN otp_limits.window_start_ms <= $3 - $4 THEN 1 ELSE otp_limits.count + 1 END, \
                     window_start_ms = CASE WHEN otp_limits.window_start_ms <= $3 - $4 THEN $3 ELSE otp_limits.window_start_ms END \
                     RETURNING count",
                )
                .bind(phone_key)
                .bind(kind)
                .bind(now_ms)
                .bind(window_ms)
                .fetch_one(&self.pool)
                .await?;
                Ok(n)
            }
            async fn limit_count(&self, phone_key: &str, kind: &str, now_ms: i64, window_ms: i64) -> Result<i64, StoreError> {
                let r: Option<(i64,)> = sqlx::query_as(
                    "SELECT count FROM otp_limits WHERE phone_key = $1 AND kind = $2 AND window_start_ms > $3 - $4",
                )
                .bind(phone_key)
                .bind(kind)
                .bind(now_ms)
                .bind(window_ms)
                .fetch_optional(&self.pool)
                .await?;
                Ok(r.map_or(0, |r| r.0))
            }

            async fn put_palm(&self, p: &PalmRow, key: &DataKeyRow) -> Result<Option<String>, StoreError> {
                let mut tx = self.pool.begin().await?;
                let old: Option<(String,)> = sqlx::query_as("DELETE FROM palms WHERE person_id = $1 AND hand = $2 RETURNING id")
                    .bind(&p.person_id)
                    .bind(&p.hand)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some((old_id,)) = &old {
                    sqlx::query("DELETE FROM data_keys WHERE id = $1").bind(old_id).execute(&mut *tx).await?;
                }
                sqlx::query("INSERT INTO data_keys (id, kek_id, wrapped) VALUES ($1, $2, $3)")
                    .bind(&key.id)
                    .bind(&key.kek_id)
                    .bind(&key.wrapped)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO palms (id, person_id, hand, ciphertext, created_ms, last_used_ms) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(&p.id)
                    .bind(&p.person_id)
                    .bind(&p.hand)
                    .bind(&p.ciphertext)
                    .bind(p.created_ms)
                    .bind(p.last_used_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(old.map(|o| o.0))
            }
            async fn list_palms(&self) -> Result<Vec<PalmRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM palms ORDER BY created_ms, id").fetch_all(&self.pool).await?)
            }
            async fn palm_owner(&self, palm_id: &str) -> Result<Option<String>, StoreError> {
                let r: Option<(String,)> = sqlx::query_as("SELECT person_id FROM palms WHERE id = $1").bind(palm_id).fetch_optional(&self.pool).await?;
                Ok(r.map(|r| r.0))
            }
            async fn palms_of(&self, person_id: &str) -> Result<Vec<PalmRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM palms WHERE person_id = $1 ORDER BY hand").bind(person_id).fetch_all(&self.pool).await?)
            }
            async fn palms_unused_since(&self, before_ms: i64) -> Result<Vec<String>, StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM palms WHERE last_used_ms < $1 ORDER BY id")
                    .bind(before_ms)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(|r| r.0).collect())
            }
            async fn touch_palm(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE palms SET last_used_ms = $2 WHERE id = $1").bind(id).bind(now_ms).execute(&self.pool).await?;
                Ok(())
            }
            async fn delete_palm(&self, id: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("DELETE FROM palms WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
                sqlx::query("DELETE FROM data_keys WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(n == 1)
            }

            async fn put_data_key(&self, k: &DataKeyRow) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO data_keys (id, kek_id, wrapped) VALUES ($1, $2, $3) \
                     ON CONFLICT (id) DO UPDATE SET kek_id = excluded.kek_id, wrapped = excluded.wrapped",
                )
                .bind(&k.id)
                .bind(&k.kek_id)
                .bind(&k.wrapped)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn get_data_key(&self, id: &str) -> Result<Option<DataKeyRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM data_keys WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn list_data_keys(&self) -> Result<Vec<DataKeyRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM data_keys ORDER BY id").fetch_all(&self.pool).await?)
            }
            async fn update_data_key(&self, k: &DataKeyRow, expected_kek: &str) -> Result<bool, StoreError> {
                let n = sqlx::query("UPDATE data_keys SET kek_id = $2, wrapped = $3 WHERE id = $1 AND kek_id = $4")
                    .bind(&k.id)
                    .bind(&k.kek_id)
                    .bind(&k.wrapped)
                    .bind(expected_kek)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }

            async fn put_card(&self, c: &CardRow, key: &DataKeyRow) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("INSERT INTO data_keys (id, kek_id, wrapped) VALUES ($1, $2, $3)")
                    .bind(&key.id)
                    .bind(&key.kek_id)
                    .bind(&key.wrapped)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO cards (token, person_id, brand, last4, exp_month, exp_year, ciphertext, is_default, created_ms, enrolment_id) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, NOT EXISTS (SELECT 1 FROM cards WHERE person_id = $2 AND is_default), $8, $9",
                )
                .bind(&c.token)
                .bind(&c.person_id)
                .bind(&c.brand)
                .bind(&c.last4)
                .bind(c.exp_month)
                .bind(c.exp_year)
                .bind(&c.ciphertext)
                .bind(c.created_ms)
                .bind(&c.enrolment_id)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }
            async fn start_enrolment(&self, id: &str, person_id: &str, new_person: bool, expires_ms: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO pending_enrolments (id, person_id, new_person, expires_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
                )
                .bind(id)
                .bind(person_id)
                .bind(new_person)
                .bind(expires_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn finish_enrolment(&self, id: &str) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE cards SET enrolment_id = NULL WHERE enrolment_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM pending_enrolments WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn expired_enrolments(&self, now_ms: i64) -> Result<Vec<(String, String, bool)>, StoreError> {
                Ok(sqlx::query_as("SELECT id, person_id, new_person FROM pending_enrolments WHERE expires_ms <= $1 ORDER BY expires_ms, id")
                    .bind(now_ms)
                    .fetch_all(&self.pool)
                    .await?)
            }
            async fn drop_enrolment(&self, id: &str) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("DELETE FROM data_keys WHERE id IN (SELECT token FROM cards WHERE enrolment_id = $1)").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM cards WHERE enrolment_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM pending_enrolments WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn cards_of(&self, person_id: &str) -> Result<Vec<CardRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM cards WHERE person_id = $1 ORDER BY created_ms, token").bind(person_id).fetch_all(&self.pool).await?)
            }
            async fn delete_card(&self, person_id: &str, token: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                let n = sqlx::query("DELETE FROM cards WHERE person_id = $1 AND token = $2")
                    .bind(person_id)
                    .bind(token)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if n == 1 {
                    sqlx::query("DELETE FROM data_keys WHERE id = $1").bind(token).execute(&mut *tx).await?;
                    sqlx::query(
                        "UPDATE cards SET is_default = TRUE WHERE token = (SELECT token FROM cards WHERE person_id = $1 ORDER BY created_ms, token LIMIT 1) \
                         AND NOT EXISTS (SELECT 1 FROM cards WHERE person_id = $1 AND is_default)",
                    )
                    .bind(person_id)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(n == 1)
            }
            async fn set_default_card(&self, person_id: &str, token: &str) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query("UPDATE cards SET is_default = (token = $2) WHERE person_id = $1").bind(person_id).bind(token).execute(&mut *tx).await?;
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM cards WHERE person_id = $1 AND is_default")
                    .bind(person_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if n == 1 {
                    tx.commit().await?;
                    Ok(true)
                } else {
                    tx.rollback().await?;
                    Ok(false)
                }
            }

            async fn set_consent(&self, person_id: &str, purpose: &str, granted: bool, now_ms: i64) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO consents (person_id, purpose, granted, updated_ms) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (person_id, purpose) DO UPDATE SET granted = excluded.granted, updated_ms = excluded.updated_ms",
                )
                .bind(person_id)
                .bind(purpose)
                .bind(granted)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn consents_of(&self, person_id: &str) -> Result<Vec<(String, bool)>, StoreError> {
                Ok(sqlx::query_as("SELECT purpose, granted FROM consents WHERE person_id = $1 ORDER BY purpose").bind(person_id).fetch_all(&self.pool).await?)
            }
            async fn set_loyalty(&self, person_id: &str, tenant_id: &str, loyalty_id: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO loyalty_links (person_id, tenant_id, loyalty_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (person_id, tenant_id) DO UPDATE SET loyalty_id = excluded.loyalty_id",
                )
                .bind(person_id)
                .bind(tenant_id)
                .bind(loyalty_id)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn delete_loyalty(&self, person_id: &str, tenant_id: &str) -> Result<bool, StoreError> {
                let n = sqlx::query("DELETE FROM loyalty_links WHERE person_id = $1 AND tenant_id = $2")
                    .bind(person_id)
                    .bind(tenant_id)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(n == 1)
            }
            async fn loyalty_of(&self, person_id: &str) -> Result<Vec<(String, String)>, StoreError> {
                Ok(sqlx::query_as("SELECT tenant_id, loyalty_id FROM loyalty_links WHERE person_id = $1 ORDER BY tenant_id")
                    .bind(person_id)
                    .fetch_all(&self.pool)
                    .await?)
            }
            async fn set_badge(&self, person_id: &str, tenant_id: &str, number: &str) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO badges (person_id, tenant_id, number) VALUES ($1, $2, $3) \
                     ON CONFLICT (person_id, tenant_id) DO UPDATE SET number = excluded.number",
                )
                .bind(person_id)
                .bind(tenant_id)
                .bind(number)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn get_badge(&self, person_id: &str, tenant_id: &str) -> Result<Option<String>, StoreError> {
                let r: Option<(String,)> = sqlx::query_as("SELECT number FROM badges WHERE person_id = $1 AND tenant_id = $2")
                    .bind(person_id)
                    .bind(tenant_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(r.map(|r| r.0))
            }

            async fn insert_event(&self, e: &EventRow) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO events (id, tenant_id, person_id, device_id, site_id, purpose, outcome, detail, created_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&e.id)
                .bind(&e.tenant_id)
                .bind(&e.person_id)
                .bind(&e.device_id)
                .bind(&e.site_id)
                .bind(&e.purpose)
                .bind(&e.outcome)
                .bind(&e.detail)
                .bind(e.created_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn get_event(&self, id: &str) -> Result<Option<EventRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM events WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn events_of_tenant(&self, tenant_id: &str, after: Option<&Cursor>, limit: i64) -> Result<Vec<EventRow>, StoreError> {
                let (ms, id) = cur(after);
                let q = format!("SELECT * FROM events WHERE tenant_id = $1 AND {PAGE} ORDER BY created_ms DESC, id DESC LIMIT $4");
                Ok(sqlx::query_as(&q).bind(tenant_id).bind(ms).bind(id).bind(limit).fetch_all(&self.pool).await?)
            }
            async fn events_of_person(&self, person_id: &str, after: Option<&Cursor>, limit: i64) -> Result<Vec<EventRow>, StoreError> {
                let (ms, id) = cur(after);
                let q = format!("SELECT * FROM events WHERE person_id = $1 AND {PAGE} ORDER BY created_ms DESC, id DESC LIMIT $4");
                Ok(sqlx::query_as(&q).bind(person_id).bind(ms).bind(id).bind(limit).fetch_all(&self.pool).await?)
            }

            async fn idem_claim(&self, scope: &str, key: &str, request_hash: &str, now_ms: i64) -> Result<IdemClaim, StoreError> {
                let n = sqlx::query(
                    "INSERT INTO idempotency (scope, key, request_hash, created_ms) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING",
                )
                .bind(scope)
                .bind(key)
                .bind(request_hash)
                .bind(now_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n == 1 {
                    return Ok(IdemClaim::Claimed);
                }
                let row: IdemRow = sqlx::query_as("SELECT * FROM idempotency WHERE scope = $1 AND key = $2")
                    .bind(scope)
                    .bind(key)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(IdemClaim::Existing(row))
            }
            async fn idem_finish(&self, scope: &str, key: &str, status: i64, body: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE idempotency SET status = $3, body = $4 WHERE scope = $1 AND key = $2")
                    .bind(scope)
                    .bind(key)
                    .bind(status)
                    .bind(body)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn idem_release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND status IS NULL")
                    .bind(scope)
                    .bind(key)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn create_webhook(&self, w: &WebhookRow) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO webhooks (id, tenant_id, url, secrets, created_ms) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&w.id)
                    .bind(&w.tenant_id)
                    .bind(&w.url)
                    .bind(&w.secrets)
                    .bind(w.created_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn get_webhook(&self, id: &str) -> Result<Option<WebhookRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM webhooks WHERE id = $1").bind(id).fetch_optional(&self.pool).await?)
            }
            async fn webhooks_of(&self, tenant_id: &str) -> Result<Vec<WebhookRow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM webhooks WHERE tenant_id = $1 ORDER BY created_ms, id").bind(tenant_id).fetch_all(&self.pool).await?)
            }
            async fn set_webhook_secrets(&self, id: &str, secrets: &str) -> Result<(), StoreError> {
                sqlx::query("UPDATE webhooks SET secrets = $2 WHERE id = $1").bind(id).bind(secrets).execute(&self.pool).await?;
                Ok(())
            }
            async fn insert_delivery(&self, d: &DeliveryRow) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO deliveries (id, webhook_id, tenant_id, event_id, attempt, status_code, ok, error, created_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(&d.id)
                .bind(&d.webhook_id)
                .bind(&d.tenant_id)
                .bind(&d.event_id)
                .bind(d.attempt)
                .bind(d.status_code)
                .bind(d.ok)
                .bind(&d.error)
                .bind(d.created_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn enqueue_delivery(&self, o: &OutboxRow) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO webhook_outbox (id, webhook_id, tenant_id, event_id, body, attempts, next_attempt_ms, created_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&o.id)
                .bind(&o.webhook_id)
                .bind(&o.tenant_id)
                .bind(&o.event_id)
                .bind(&o.body)
                .bind(o.attempts)
                .bind(o.next_attempt_ms)
                .bind(o.created_ms)
                .execute(&self.pool)
                .await?;
                Ok(())
            }
            async fn claim_deliveries(&self, now_ms: i64, lease_until_ms: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
                let due: Vec<OutboxRow> = sqlx::query_as(
                    "SELECT * FROM webhook_outbox WHERE next_attempt_ms <= $1 ORDER BY next_attempt_ms, id LIMIT $2",
                )
                .bind(now_ms)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                let mut claimed = Vec::with_capacity(due.len());
                for mut o in due {
                    let n = sqlx::query("UPDATE webhook_outbox SET next_attempt_ms = $2 WHERE id = $1 AND next_attempt_ms = $3")
                        .bind(&o.id)
                        .bind(lease_until_ms)
                        .bind(o.next_attempt_ms)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    if n == 1 {
                        o.next_attempt_ms = lease_until_ms;
                        claimed.push(o);
                    }
                }
                Ok(claimed)
            }
            async fn retry_delivery(&self, id: &str, attempts: i64, next_attempt_ms: i64) -> Result<(), StoreError> {
                sqlx::query("UPDATE webhook_outbox SET attempts = $2, next_attempt_ms = $3 WHERE id = $1")
                    .bind(id)
                    .bind(attempts)
                    .bind(next_attempt_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn finish_delivery(&self, id: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM webhook_outbox WHERE id = $1").bind(id).execute(&self.pool).await?;
                Ok(())
            }
            async fn pending_deliveries(&self) -> Result<i64, StoreError> {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhook_outbox").fetch_one(&self.pool).await?;
                Ok(n)
            }
            async fn deliveries_of(&self, tenant_id: &str, after: Option<&Cursor>, limit: i64) -> Result<Vec<DeliveryRow>, StoreError> {
                let (ms, id) = cur(after);
                let q = format!("SELECT * FROM deliveries WHERE tenant_id = $1 AND {PAGE} ORDER BY created_ms DESC, id DESC LIMIT $4");
                Ok(sqlx::query_as(&q).bind(tenant_id).bind(ms).bind(id).bind(limit).fetch_all(&self.pool).await?)
            }

            async fn insert_audit(&self, a: &AuditRow) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO audit (id, ts_ms, actor, tenant_id, action, subject, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&a.id)
                    .bind(a.ts_ms)
                    .bind(&a.actor)
                    .bind(&a.tenant_id)
                    .bind(&a.action)
                    .bind(&a.subject)
                    .bind(&a.detail)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn list_audit(&self, tenant_id: Option<&str>, after: Option<&Cursor>, limit: i64) -> Result<Vec<AuditRow>, StoreError> {
                let (ms, id) = cur(after);
                let q = "SELECT * FROM audit WHERE ($1 = '' OR tenant_id = $1) AND (ts_ms < $2 OR (ts_ms = $2 AND id < $3)) \
                         ORDER BY ts_ms DESC, id DESC LIMIT $4";
                Ok(sqlx::query_as(q).bind(tenant_id.unwrap_or("")).bind(ms).bind(id).bind(limit).fetch_all(&self.pool).await?)
            }

            async fn insert_session(&self, token_hash: &str, person_id: &str, expires_ms: i64) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO portal_sessions (token_hash, person_id, expires_ms) VALUES ($1, $2, $3)")
                    .bind(token_hash)
                    .bind(person_id)
                    .bind(expires_ms)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
            async fn session_person(&self, token_hash: &str, now_ms: i64) -> Result<Option<String>, StoreError> {
                let r: Option<(String,)> = sqlx::query_as("SELECT person_id FROM portal_sessions WHERE token_hash = $1 AND expires_ms > $2")
                    .bind(token_hash)
                    .bind(now_ms)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(r.map(|r| r.0))
            }
            async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM portal_sessions WHERE token_hash = $1").bind(token_hash).execute(&self.pool).await?;
                Ok(())
            }
        }
    };
}

/// Create the database file readable by its owner only, before SQLite does (SQLite gives the
/// `-wal` and `-shm` files the database file's permissions). It holds sealed templates and card
/// data: ciphertext, but nobody else's business. An existing file is left as it is.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    match opts.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

store_impl!(SqliteStore, "sqlite");
store_impl!(PgStore, "postgres");

#[cfg(test)]
mod tests {
    #[cfg(unix)]
    #[tokio::test]
    async fn sqlite_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join("palmsig.db");
        let _store = super::SqliteStore::open(&path).await.unwrap();
        for entry in std::fs::read_dir(path.parent().unwrap()).unwrap() {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{:?} is {mode:o}", entry.file_name());
        }
    }

    #[test]
    fn migrations_are_in_lockstep() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let names = |d: &str| {
            let mut v: Vec<String> = std::fs::read_dir(dir.join(d))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let (pg, lite) = (names("postgres"), names("sqlite"));
        assert_eq!(pg, lite, "both backends must have the same migration files");
        for f in &pg {
            let strip = |s: String| s.lines().skip(3).collect::<Vec<_>>().join("\n");
            let a = strip(std::fs::read_to_string(dir.join("postgres").join(f)).unwrap())
                .replace("BYTEA", "BLOB");
            let b = strip(std::fs::read_to_string(dir.join("sqlite").join(f)).unwrap());
            assert_eq!(a, b, "{f}: the schemas may differ only in BYTEA/BLOB");
        }
    }
}
