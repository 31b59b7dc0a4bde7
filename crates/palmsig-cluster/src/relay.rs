//! The outbox relay: publishes `palmsig_gallery_outbox` rows, in sequence order, to the shard
//! subjects of the change stream, then deletes them. Every API node runs one; a PostgreSQL
//! advisory lock held on the relay's own connection makes exactly one of them the leader (its
//! death releases the lock and another takes over). A row published but not yet deleted when
//! the leader dies is published again with the same `Nats-Msg-Id` and dropped by JetStream's
//! deduplication window.
use crate::wire::Change;
use crate::{ensure_stream, nats, ClusterError, Topology};
use async_nats::jetstream::{self, message::PublishMessage};
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection};
use std::time::Duration;

const LEADER_LOCK: i64 = 0x7061_6c6d_5f72_6c79;
const BATCH: i64 = 512;

/// Run the relay for ever (leader election, publishing, reconnecting after errors).
pub async fn run(database_url: String, js: jetstream::Context, topo: Topology) {
    loop {
        if let Err(e) = lead(&database_url, &js, &topo).await {
            tracing::warn!(error = %e, "gallery relay: restarting");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Become the leader, then publish until an error.
async fn lead(url: &str, js: &jetstream::Context, topo: &Topology) -> Result<(), ClusterError> {
    let mut conn = PgConnection::connect(url).await?;
    loop {
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(LEADER_LOCK)
            .fetch_one(&mut conn)
            .await?;
        if got {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tracing::info!("gallery relay: leading");
    ensure_stream(js, topo).await?;
    let (cluster,): (String,) = sqlx::query_as("SELECT id FROM palmsig_cluster")
        .fetch_one(&mut conn)
        .await?;
    let mut listener = PgListener::connect(url).await?;
    listener.listen("palmsig_gallery").await?;
    loop {
        if publish_batch(&mut conn, js, topo, &cluster).await? < BATCH as usize {
            // Woken by the trigger's NOTIFY; the timeout covers a lost notification.
            let _ = tokio::time::timeout(Duration::from_millis(250), listener.recv()).await;
        }
    }
}

/// Publish up to [`BATCH`] rows and delete them once JetStream acknowledged them all.
async fn publish_batch(
    conn: &mut PgConnection,
    js: &jetstream::Context,
    topo: &Topology,
    cluster: &str,
) -> Result<usize, ClusterError> {
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT seq, op, palm_id FROM palmsig_gallery_outbox ORDER BY seq LIMIT $1")
            .bind(BATCH)
            .fetch_all(&mut *conn)
            .await?;
    let Some(last) = rows.last().map(|r| r.0) else {
        return Ok(0);
    };
    let mut acks = Vec::with_capacity(rows.len());
    for (seq, op, palm) in &rows {
        let change = Change {
            seq: *seq,
            op: op.parse()?,
            palm: palm.clone(),
        };
        let msg = PublishMessage::build()
            .message_id(format!("{cluster}-{seq}"))
            .payload(change.encode());
        acks.push(
            js.send_publish(topo.change_subject(topo.shard_of(palm)), msg)
                .await
                .map_err(nats)?,
        );
    }
    for a in acks {
        a.await.map_err(nats)?;
    }
    sqlx::query("DELETE FROM palmsig_gallery_outbox WHERE seq <= $1")
        .bind(last)
        .execute(&mut *conn)
        .await?;
    Ok(rows.len())
}
