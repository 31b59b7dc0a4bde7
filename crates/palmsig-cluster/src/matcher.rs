//! A matcher shard replica (`palmsig matcher --shard I/N --replica R`). At start it notes the
//! change stream's last sequence, loads the palms of its shard from PostgreSQL (sealed rows,
//! decrypted in memory only), then follows its shard's subject from that sequence on: whatever
//! committed before the snapshot is in it, whatever committed after is in the stream after
//! that sequence, and re-applying a change is harmless (an upsert reads the row as it is now).
//! Only once caught up does it join its shard's queue group and answer searches.
use crate::wire::{Change, Op, Reply, FENCE_HEADER, OP_HEADER, OP_SEARCH, OP_SYNC};
use crate::{connect_nats, ensure_stream, nats, schema, ClusterError, Topology};
use async_nats::jetstream::consumer::{pull::OrderedConfig, DeliverPolicy};
use async_nats::jetstream::stream::{LastRawMessageErrorKind, Stream};
use futures_util::StreamExt;
use palmsig_service::biometrics::{unpack_templates, Biometrics};
use palmsig_service::crypto::{Keyring, WrappedKey};
use palmsig_service::state::ServiceError;
use sqlx::PgPool;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a replica runs.
#[derive(Debug, Clone)]
pub struct MatcherConfig {
    /// PostgreSQL URL.
    pub database_url: String,
    /// NATS URL.
    pub nats_url: String,
    /// The cluster.
    pub topology: Topology,
    /// This shard (`0..shards`).
    pub shard: u32,
    /// Replica name (logs, NATS connection name).
    pub replica: String,
}

/// A replica's start, reported once it answers searches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Started {
    /// Palms loaded from the snapshot.
    pub palms: usize,
    /// Time to load and decrypt the snapshot.
    pub load: Duration,
    /// Time to apply the stream from the snapshot's position to its end.
    pub catch_up: Duration,
}

/// Palms of shard `$2` of `$1`, with their wrapped data keys.
const SNAPSHOT: &str = "SELECT p.id, p.ciphertext, k.kek_id, k.wrapped FROM palms p \
     JOIN data_keys k ON k.id = p.id WHERE palmsig_shard_of(p.id, $1) = $2";
const ONE: &str = "SELECT p.id, p.ciphertext, k.kek_id, k.wrapped FROM palms p \
     JOIN data_keys k ON k.id = p.id WHERE p.id = $1";
type Row = (String, Vec<u8>, String, Vec<u8>);

struct Shard {
    bio: Arc<dyn Biometrics>,
    keys: Keyring,
    pool: PgPool,
    stream: Stream,
    subject: String,
    replica: String,
    /// Stream sequence of the last change applied.
    applied: AtomicU64,
    progress: tokio::sync::Notify,
}

/// Run a replica until an unrecoverable error; `started` hears once it serves.
pub async fn run(
    cfg: MatcherConfig,
    bio: Arc<dyn Biometrics>,
    keys: Keyring,
    started: Option<tokio::sync::oneshot::Sender<Started>>,
) -> Result<(), ClusterError> {
    let topo = &cfg.topology;
    if cfg.shard >= topo.shards {
        return Err(ClusterError::Config(format!(
            "shard {} of {}",
            cfg.shard, topo.shards
        )));
    }
    let name = format!("matcher-{}-{}-{}", topo.name, cfg.shard, cfg.replica);
    let client = connect_nats(&cfg.nats_url, &name).await?;
    let js = async_nats::jetstream::new(client.clone());
    let mut stream = ensure_stream(&js, topo).await?;
    let pool = PgPool::connect(&cfg.database_url).await?;
    schema::install(&pool).await?;
    let from = stream.info().await.map_err(nats)?.state.last_sequence;
    let shard = Arc::new(Shard {
        bio,
        keys,
        pool,
        stream,
        subject: topo.change_subject(cfg.shard),
        replica: cfg.replica.clone(),
        applied: AtomicU64::new(from),
        progress: tokio::sync::Notify::new(),
    });
    let t0 = Instant::now();
    let palms = shard.load_snapshot(topo.shards, cfg.shard).await?;
    let load = t0.elapsed();
    let consumer = shard
        .stream
        .create_consumer(OrderedConfig {
            filter_subject: shard.subject.clone(),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from + 1,
            },
            ..Default::default()
        })
        .await
        .map_err(nats)?;
    let messages = consumer.messages().await.map_err(nats)?;
    // Every task of the replica lives in these sets: dropping `run` (a crash, an abort) ends
    // them all and with them the NATS connection.
    let mut follow = tokio::task::JoinSet::new();
    follow.spawn(shard.clone().follow(messages));
    let mut answers = tokio::task::JoinSet::new();
    let t1 = Instant::now();
    shard.fence(Duration::from_secs(600)).await?;
    let catch_up = t1.elapsed();
    let subject = topo.match_subject(cfg.shard);
    let mut requests = client
        .queue_subscribe(subject.clone(), subject)
        .await
        .map_err(nats)?;
    tracing::info!(shard = cfg.shard, replica = %cfg.replica, palms, ?load, ?catch_up, "matcher serving");
    if let Some(tx) = started {
        let _ = tx.send(Started {
            palms,
            load,
            catch_up,
        });
    }
    loop {
        while answers.try_join_next().is_some() {}
        tokio::select! {
            r = follow.join_next() => {
                let e = match r {
                    Some(Ok(Err(e))) => e,
                    Some(Err(e)) => ClusterError::Nats(e.to_string()),
                    _ => ClusterError::Nats("change stream ended".into()),
                };
                return Err(e);
            }
            m = requests.next() => {
                let Some(m) = m else { return Err(ClusterError::Nats("subscription closed".into())) };
                answers.spawn(shard.clone().answer(client.clone(), m));
            }
        }
    }
}

impl Shard {
    /// Load, decrypt and add every palm of the shard; returns how many.
    async fn load_snapshot(&self, shards: u32, shard: u32) -> Result<usize, ClusterError> {
        let mut rows = sqlx::query_as::<_, Row>(SNAPSHOT)
            .bind(shards as i32)
            .bind(shard as i32)
            .fetch(&self.pool);
        let mut n = 0;
        let mut batch = Vec::with_capacity(1024);
        loop {
            let next = rows.next().await.transpose()?;
            let end = next.is_none();
            batch.extend(next);
            if batch.len() == 1024 || (end && !batch.is_empty()) {
                n += batch.len();
                let (bio, keys) = (self.bio.clone(), self.keys.clone());
                let b = std::mem::take(&mut batch);
                tokio::task::spawn_blocking(move || {
                    b.into_iter().try_for_each(|r| add_row(&*bio, &keys, r))
                })
                .await
                .map_err(|e| ClusterError::Config(e.to_string()))??;
            }
            if end {
                return Ok(n);
            }
        }
    }

    /// Apply the shard's changes as they arrive.
    async fn follow(
        self: Arc<Self>,
        mut messages: async_nats::jetstream::consumer::pull::Ordered,
    ) -> Result<(), ClusterError> {
        while let Some(m) = messages.next().await {
            let m = m.map_err(nats)?;
            let seq = m.info().map_err(nats)?.stream_sequence;
            let change = Change::decode(&m.payload)?;
            self.apply(&change).await?;
            self.applied.store(seq, Ordering::Release);
            self.progress.notify_waiters();
        }
        Err(ClusterError::Nats("change stream ended".into()))
    }

    async fn apply(&self, c: &Change) -> Result<(), ClusterError> {
        match c.op {
            Op::Delete => {
                self.bio.remove(&c.palm);
            }
            Op::Upsert => match sqlx::query_as::<_, Row>(ONE)
                .bind(&c.palm)
                .fetch_optional(&self.pool)
                .await?
            {
                Some(row) => add_row(&*self.bio, &self.keys, row)?,
                // Deleted since: its delete follows in the stream.
                None => {
                    self.bio.remove(&c.palm);
                }
            },
        }
        Ok(())
    }

    /// Wait until every change already in the stream for this shard is applied.
    async fn fence(&self, within: Duration) -> Result<(), ClusterError> {
        let target = match self
            .stream
            .get_last_raw_message_by_subject(&self.subject)
            .await
        {
            Ok(m) => m.sequence,
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => 0,
            Err(e) => return Err(nats(e)),
        };
        tokio::time::timeout(within, async {
            loop {
                let woken = self.progress.notified();
                if self.applied.load(Ordering::Acquire) >= target {
                    return;
                }
                woken.await;
            }
        })
        .await
        .map_err(|_| ClusterError::Nats(format!("not caught up within {within:?}")))
    }

    async fn answer(self: Arc<Self>, client: async_nats::Client, m: async_nats::Message) {
        let Some(reply_to) = m.reply.clone() else {
            return;
        };
        let header = |k: &str| {
            m.headers
                .as_ref()
                .and_then(|h| h.get(k))
                .map(|v| v.as_str().to_string())
        };
        let op = header(OP_HEADER).unwrap_or_else(|| OP_SEARCH.into());
        let mut reply = Reply {
            replica: self.replica.clone(),
            ..Reply::default()
        };
        let fence = op == OP_SYNC || header(FENCE_HEADER).as_deref() == Some("1");
        if fence {
            if let Err(e) = self.fence(Duration::from_secs(2)).await {
                reply.error = Some(e.to_string());
            }
        }
        if op == OP_SEARCH && reply.error.is_none() {
            let (bio, probe) = (self.bio.clone(), m.payload.clone());
            match tokio::task::spawn_blocking(move || bio.best(&probe)).await {
                Ok(Ok(b)) => {
                    reply.records = b.records;
                    reply.best = b.best.map(|h| (h.palm_id, h.score));
                }
                Ok(Err(e)) => {
                    reply.bad_probe = true;
                    reply.error = Some(e.to_string());
                }
                Err(e) => reply.error = Some(e.to_string()),
            }
        }
        if let Err(e) = client.publish(reply_to, reply.encode()).await {
            tracing::warn!(error = %e, "matcher: reply not sent");
        }
    }
}

/// Decrypt one sealed row (in memory) and add it to the gallery.
fn add_row(
    bio: &dyn Biometrics,
    keys: &Keyring,
    (id, ct, kek_id, wrapped): Row,
) -> Result<(), ClusterError> {
    let plain = keys
        .open(&ct, &WrappedKey { kek_id, wrapped }, &id)
        .map_err(ServiceError::from)?;
    let refs = unpack_templates(&plain)
        .ok_or_else(|| ServiceError::Corrupt(id.clone(), "bad template pack".into()))?;
    bio.add(&id, &refs).map_err(ServiceError::from)?;
    Ok(())
}
