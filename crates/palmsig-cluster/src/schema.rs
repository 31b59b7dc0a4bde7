//! The cluster's part of the PostgreSQL schema, installed idempotently by every API node and
//! matcher at start (after the service's own migrations made `palms`):
//!
//! - `palmsig_gallery_outbox (seq, op, palm_id)`: written by a trigger on `palms` in the same
//!   transaction as the insert, replace (insert + delete) or delete, so no change can commit
//!   without its row, nor a row exist for a change that rolled back. Ids only: no template.
//! - `palmsig_shard_of(id, n)`: the shard of a palm, as [`crate::shard_of`] computes it.
//! - `palmsig_cluster(id)`: a random id of this database, part of every stream message id, so a
//!   re-created database never collides with an old one in the deduplication window.
use crate::ClusterError;
use sqlx::PgPool;

/// Serialises concurrent installs (two nodes starting at once).
const INSTALL_LOCK: i64 = 0x7061_6c6d_5f69_6e73;

const DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS palmsig_gallery_outbox (
        seq BIGSERIAL PRIMARY KEY,
        op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
        palm_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS palmsig_cluster (
        one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
        id TEXT NOT NULL)",
    "INSERT INTO palmsig_cluster (id) VALUES (md5(random()::text || clock_timestamp()::text))
        ON CONFLICT DO NOTHING",
    "CREATE OR REPLACE FUNCTION palmsig_shard_of(id TEXT, n INTEGER) RETURNS INTEGER
        LANGUAGE sql IMMUTABLE STRICT AS $$
        SELECT (((get_byte(d, 0)::bigint << 24) | (get_byte(d, 1) << 16)
                | (get_byte(d, 2) << 8) | get_byte(d, 3)) % n)::integer
        FROM (SELECT sha256(convert_to(id, 'UTF8')) AS d) h $$",
    "CREATE OR REPLACE FUNCTION palmsig_gallery_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO palmsig_gallery_outbox (op, palm_id) VALUES ('delete', OLD.id);
            ELSE
                INSERT INTO palmsig_gallery_outbox (op, palm_id) VALUES ('upsert', NEW.id);
            END IF;
            PERFORM pg_notify('palmsig_gallery', '');
            RETURN NULL;
        END $$",
];

const TRIGGER: &str = "CREATE TRIGGER palmsig_gallery_change
    AFTER INSERT OR DELETE OR UPDATE OF ciphertext ON palms
    FOR EACH ROW EXECUTE FUNCTION palmsig_gallery_change()";

/// Install (or confirm) the outbox, its trigger and the shard function.
pub async fn install(pool: &PgPool) -> Result<(), ClusterError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(INSTALL_LOCK)
        .execute(&mut *tx)
        .await?;
    for stmt in DDL {
        sqlx::query(stmt).execute(&mut *tx).await?;
    }
    let has: Option<(i32,)> =
        sqlx::query_as("SELECT 1 FROM pg_trigger WHERE tgname = 'palmsig_gallery_change'")
            .fetch_optional(&mut *tx)
            .await?;
    if has.is_none() {
        sqlx::query(TRIGGER).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// This database's cluster id (see the module docs).
pub async fn cluster_id(pool: &PgPool) -> Result<String, ClusterError> {
    let (id,): (String,) = sqlx::query_as("SELECT id FROM palmsig_cluster")
        .fetch_one(pool)
        .await?;
    Ok(id)
}

/// The highest outbox sequence committed now (0 if the outbox is empty).
pub async fn outbox_head(pool: &PgPool) -> Result<i64, ClusterError> {
    let (n,): (i64,) = sqlx::query_as("SELECT coalesce(max(seq), 0) FROM palmsig_gallery_outbox")
        .fetch_one(pool)
        .await?;
    Ok(n)
}

/// Whether every outbox row up to `seq` has been published (the relay deletes them then).
pub async fn relayed_up_to(pool: &PgPool, seq: i64) -> Result<bool, ClusterError> {
    let (pending,): (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM palmsig_gallery_outbox WHERE seq <= $1)")
            .bind(seq)
            .fetch_one(pool)
            .await?;
    Ok(!pending)
}
