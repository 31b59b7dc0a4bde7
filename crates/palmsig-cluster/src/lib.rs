//! Many machines on existing engines: PostgreSQL is the system of record, NATS JetStream carries
//! the gallery's change stream and the matcher requests.
//!
//! - [`schema`]: a trigger writes an outbox row (op + palm id, never a template) in the same
//!   transaction as every insert, replace and delete of a palm;
//! - [`relay`]: one leader (PostgreSQL advisory lock) publishes outbox rows in order to a
//!   JetStream stream, one subject per shard, deduplicated by message id;
//! - [`matcher`]: a shard replica loads its palms from PostgreSQL (decrypting in memory only),
//!   follows its subject from the snapshot's stream position, and answers searches in a queue
//!   group per shard;
//! - [`gallery`]: the API node's [`palmsig_service::gallery::Gallery`]: scatter to every
//!   shard with a deadline, gather the best candidates, decide at the whole gallery's size.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod gallery;
pub mod matcher;
pub mod relay;
pub mod schema;
mod wire;

use sha2::{Digest, Sha256};
use std::time::Duration;

/// Errors of the cluster machinery.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// NATS or JetStream.
    #[error("nats: {0}")]
    Nats(String),
    /// PostgreSQL.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// Keys, engine or a stored record.
    #[error(transparent)]
    Service(#[from] palmsig_service::state::ServiceError),
    /// A setting that cannot work.
    #[error("config: {0}")]
    Config(String),
}

/// Any NATS error as [`ClusterError::Nats`].
pub(crate) fn nats<E: std::fmt::Display>(e: E) -> ClusterError {
    ClusterError::Nats(e.to_string())
}

/// The shape of a cluster, shared by every API node and matcher: its name (the NATS subject
/// prefix, so several clusters or tests can share one NATS) and its number of shards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Subject prefix, `[a-z0-9_]+`.
    pub name: String,
    /// Number of shards (>= 1).
    pub shards: u32,
}

impl Topology {
    /// A checked topology.
    pub fn new(name: &str, shards: u32) -> Result<Self, ClusterError> {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(ClusterError::Config(format!(
                "cluster name `{name}`: use a-z, 0-9 and _"
            )));
        }
        if shards == 0 || shards > 4096 {
            return Err(ClusterError::Config("shards must be 1..=4096".into()));
        }
        Ok(Self {
            name: name.to_string(),
            shards,
        })
    }
    /// The JetStream stream of the gallery's changes.
    pub fn stream(&self) -> String {
        format!("{}_GALLERY", self.name.to_ascii_uppercase())
    }
    /// Subject of the changes of `shard`.
    pub fn change_subject(&self, shard: u32) -> String {
        format!("{}.gallery.{}.{shard}", self.name, self.shards)
    }
    /// Subject (and queue group) of the searches of `shard`.
    pub fn match_subject(&self, shard: u32) -> String {
        format!("{}.match.{}.{shard}", self.name, self.shards)
    }
    /// The shard owning `palm_id`.
    pub fn shard_of(&self, palm_id: &str) -> u32 {
        shard_of(palm_id, self.shards)
    }
}

/// The shard of `palm_id` among `shards`: the first 4 bytes of SHA-256(id), big endian, modulo
/// `shards` (the same as the SQL function `palmsig_shard_of` of [`schema`]).
pub fn shard_of(palm_id: &str, shards: u32) -> u32 {
    let d = Sha256::digest(palm_id.as_bytes());
    u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % shards.max(1)
}

/// Connect to NATS, retrying the first connection, and reconnecting for ever afterwards.
pub async fn connect_nats(url: &str, name: &str) -> Result<async_nats::Client, ClusterError> {
    async_nats::ConnectOptions::new()
        .name(name)
        .retry_on_initial_connect()
        .connection_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(nats)
}

/// The gallery's change stream (created if missing): file storage, a 2-minute deduplication
/// window on `Nats-Msg-Id`, and a week of history (a matcher replays only what follows its
/// snapshot, so history need only outlast one snapshot load).
pub async fn ensure_stream(
    js: &async_nats::jetstream::Context,
    topo: &Topology,
) -> Result<async_nats::jetstream::stream::Stream, ClusterError> {
    use async_nats::jetstream::stream::{Config, StorageType};
    js.get_or_create_stream(Config {
        name: topo.stream(),
        subjects: vec![format!("{}.gallery.>", topo.name)],
        storage: StorageType::File,
        duplicate_window: Duration::from_secs(120),
        max_age: Duration::from_secs(7 * 24 * 3600),
        ..Default::default()
    })
    .await
    .map_err(nats)
}

/// Start what an API node runs (`palmsig serve --nats`): the scatter-gather gallery on a
/// PostgreSQL pool of its own, and the outbox relay (a task for the life of the process; one
/// node leads at a time). `bio` is the node's engine: extraction and the decision threshold.
pub async fn start_api_node(
    database_url: &str,
    nats_url: &str,
    bio: std::sync::Arc<dyn palmsig_service::biometrics::Biometrics>,
    topo: Topology,
) -> Result<gallery::NatsGallery, ClusterError> {
    let pool = sqlx::PgPool::connect(database_url).await?;
    let g = gallery::NatsGallery::connect(nats_url, pool, bio, topo.clone(), Default::default())
        .await?;
    let js = async_nats::jetstream::new(g.client().clone());
    tokio::spawn(relay::run(database_url.to_string(), js, topo));
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(shard_of("palm_a", 1), 0);
        let mut counts = [0usize; 4];
        for i in 0..4000 {
            counts[shard_of(&format!("palm_{i:032x}"), 4) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (800..1200).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn topology_names() {
        let t = Topology::new("palmsig", 2).unwrap();
        assert_eq!(t.stream(), "PALMSIG_GALLERY");
        assert_eq!(t.change_subject(1), "palmsig.gallery.2.1");
        assert_eq!(t.match_subject(0), "palmsig.match.2.0");
        assert!(Topology::new("a.b", 2).is_err());
        assert!(Topology::new("x", 0).is_err());
    }
}
