//! The API node's gallery: every search is scattered to all shards (one NATS request per shard,
//! answered by one replica of its queue group), gathered within a deadline, and decided at the
//! threshold of the whole gallery's size, as one box decides. A shard without an answer makes
//! the search fail ([`GalleryError::Unavailable`], HTTP 503), never a "no match".
use crate::wire::{Reply, FENCE_HEADER, OP_HEADER, OP_SEARCH, OP_SYNC};
use crate::{connect_nats, schema, ClusterError, Topology};
use async_nats::{HeaderMap, RequestErrorKind};
use bytes::Bytes;
use palmsig_service::biometrics::{BioError, Biometrics, Hit};
use palmsig_service::gallery::{EnrolGuard, Gallery, GalleryError};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Serialises "duplicate check + store" across all API nodes.
const ENROL_LOCK: i64 = 0x7061_6c6d_5f65_6e72;

/// Timing of the scatter-gather.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// One request to one replica (then retried, possibly on another replica).
    pub attempt: Duration,
    /// All attempts of one shard for one search.
    pub total: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            attempt: Duration::from_millis(300),
            total: Duration::from_millis(2000),
        }
    }
}

/// [`Gallery`] over matcher shards.
#[derive(Debug)]
pub struct NatsGallery {
    client: async_nats::Client,
    pool: PgPool,
    bio: Arc<dyn Biometrics>,
    topo: Topology,
    deadlines: Deadlines,
}

impl NatsGallery {
    /// Connect to NATS; `pool` is the service's PostgreSQL (the schema is installed on it);
    /// `bio` is the API node's engine (no gallery), used for the decision threshold.
    pub async fn connect(
        nats_url: &str,
        pool: PgPool,
        bio: Arc<dyn Biometrics>,
        topo: Topology,
        deadlines: Deadlines,
    ) -> Result<Self, ClusterError> {
        schema::install(&pool).await?;
        let client = connect_nats(nats_url, &format!("api-{}", topo.name)).await?;
        Ok(Self {
            client,
            pool,
            bio,
            topo,
            deadlines,
        })
    }

    /// The NATS client (the relay publishes with it).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// One shard's answer, retried on timeouts and missing responders within the deadline.
    async fn ask(
        &self,
        shard: u32,
        op: &str,
        body: Bytes,
        fence: bool,
    ) -> Result<Reply, GalleryError> {
        let mut headers = HeaderMap::new();
        headers.insert(OP_HEADER, op);
        if fence {
            headers.insert(FENCE_HEADER, "1");
        }
        let subject = self.topo.match_subject(shard);
        let start = Instant::now();
        let mut why;
        loop {
            let req = async_nats::Request::new()
                .headers(headers.clone())
                .payload(body.clone())
                .timeout(Some(self.deadlines.attempt));
            match self.client.send_request(subject.clone(), req).await {
                Ok(m) => {
                    let r: Reply = serde_json::from_slice(&m.payload)
                        .map_err(|e| unavailable(shard, &e.to_string()))?;
                    match r.error {
                        None => return Ok(r),
                        Some(e) if r.bad_probe => return Err(BioError::BadTemplate(e).into()),
                        Some(e) => why = e,
                    }
                }
                Err(e) => {
                    why = e.to_string();
                    if e.kind() == RequestErrorKind::NoResponders {
                        // No live replica; wait a moment in case one is reconnecting.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            if start.elapsed() + self.deadlines.attempt / 2 > self.deadlines.total {
                return Err(unavailable(shard, &why));
            }
        }
    }

    /// Wait until the relay has published every change committed before now.
    async fn relayed(&self) -> Result<(), GalleryError> {
        let db = |e: ClusterError| GalleryError::Unavailable(format!("outbox: {e}"));
        let head = schema::outbox_head(&self.pool).await.map_err(db)?;
        let start = Instant::now();
        while !schema::relayed_up_to(&self.pool, head).await.map_err(db)? {
            if start.elapsed() > self.deadlines.total {
                return Err(GalleryError::Unavailable(
                    "the outbox relay is behind".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    /// Return once the shard owning `palm_id` has applied every change committed before now.
    async fn sync(&self, palm_id: &str) -> Result<(), GalleryError> {
        self.relayed().await?;
        self.ask(self.topo.shard_of(palm_id), OP_SYNC, Bytes::new(), true)
            .await
            .map(|_| ())
    }

    /// Sync, logging instead of failing: the change is committed and every shard converges on
    /// it; only the wait for it failed.
    async fn sync_logged(&self, palm_id: &str) {
        if let Err(e) = self.sync(palm_id).await {
            tracing::warn!(error = %e, palm_id, "gallery change committed, shard not confirmed yet");
        }
    }
}

fn unavailable(shard: u32, why: &str) -> GalleryError {
    GalleryError::Unavailable(format!("shard {shard}: {why}"))
}

/// The gathered answer: best candidate over all shards (ties: lowest palm id) and the total
/// record count.
fn gather(replies: Vec<Reply>) -> (Option<(String, f32)>, usize) {
    let records = replies.iter().map(|r| r.records).sum();
    let best = replies
        .into_iter()
        .filter_map(|r| r.best)
        .max_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.0.cmp(&a.0)));
    (best, records)
}

#[async_trait::async_trait]
impl Gallery for NatsGallery {
    async fn search(&self, probe: &[u8], fresh: bool) -> Result<Option<Hit>, GalleryError> {
        if fresh {
            self.relayed().await?;
        }
        let body = Bytes::copy_from_slice(probe);
        let asks = (0..self.topo.shards).map(|i| self.ask(i, OP_SEARCH, body.clone(), fresh));
        let replies = futures_util::future::try_join_all(asks).await?;
        let (best, records) = gather(replies);
        Ok(best
            .filter(|(_, score)| self.bio.accepts(*score, records))
            .map(|(palm_id, score)| Hit { palm_id, score }))
    }

    async fn enrol_guard(&self) -> Result<EnrolGuard, GalleryError> {
        let lock = async {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(ENROL_LOCK)
                .execute(&mut *tx)
                .await?;
            Ok::<_, sqlx::Error>(tx)
        };
        // Released when the guard (an open transaction) is dropped: rolled back.
        match tokio::time::timeout(Duration::from_secs(30), lock).await {
            Ok(Ok(tx)) => Ok(Box::new(tx)),
            Ok(Err(e)) => Err(GalleryError::Unavailable(format!("enrolment lock: {e}"))),
            Err(_) => Err(GalleryError::Unavailable(
                "enrolment lock: timed out".into(),
            )),
        }
    }

    async fn stored(&self, palm_id: &str, _templates: &[Vec<u8>]) -> Result<(), GalleryError> {
        self.sync_logged(palm_id).await;
        Ok(())
    }

    async fn removed(&self, palm_id: &str) {
        self.sync_logged(palm_id).await;
    }

    fn embedded(&self) -> Option<&Arc<dyn Biometrics>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(records: usize, best: Option<(&str, f32)>) -> Reply {
        Reply {
            records,
            best: best.map(|(p, s)| (p.to_string(), s)),
            ..Reply::default()
        }
    }

    #[test]
    fn gather_takes_the_best_over_shards_and_sums_records() {
        let (best, n) = gather(vec![
            r(10, Some(("palm_b", 0.4))),
            r(7, None),
            r(5, Some(("palm_c", 0.9))),
        ]);
        assert_eq!((best, n), (Some(("palm_c".to_string(), 0.9)), 22));
        let (best, _) = gather(vec![
            r(1, Some(("palm_z", 0.5))),
            r(1, Some(("palm_a", 0.5))),
        ]);
        assert_eq!(
            best.unwrap().0,
            "palm_a",
            "ties: lowest id, as one box ranks"
        );
        assert_eq!(gather(vec![]), (None, 0));
    }
}
