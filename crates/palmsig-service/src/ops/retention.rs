//! The retention job: palm data unused for longer than the configured period is deleted.
use super::{audit, Actor};
use crate::state::{AppState, ServiceError};

/// Delete palm data unused for longer than the configured period; returns the palm ids deleted.
pub async fn run(st: &AppState) -> Result<Vec<String>, ServiceError> {
    let cutoff = st.now() - st.config.retention_ms;
    let ids = st.store.palms_unused_since(cutoff).await?;
    for id in &ids {
        super::deletion::palm(st, id).await?;
        let detail = serde_json::json!({"cutoff_ms": cutoff});
        audit(st, Actor::System, "retention.delete", id, detail).await?;
    }
    if !ids.is_empty() {
        st.store.scrub().await?;
    }
    Ok(ids)
}

/// The background jobs of a running service: webhook deliveries due (every second, so retries
/// and deliveries queued before a restart go out), and hourly the retention job and the purge
/// of old request nonces.
pub fn spawn_housekeeping(st: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let webhooks = crate::webhook::spawn_worker(st.clone(), std::time::Duration::from_secs(1));
    let hourly = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = run(&st).await {
                tracing::error!(error = %e, "retention job failed");
            }
            let before = st.now() - crate::params::NONCE_RETENTION_MS;
            if let Err(e) = st.store.purge_nonces(before).await {
                tracing::error!(error = %e, "nonce purge failed");
            }
        }
    });
    vec![webhooks, hourly]
}
