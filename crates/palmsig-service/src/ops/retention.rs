//! The retention job: palm data unused for longer than the configured period is deleted.
use super::{audit, Actor};
use crate::state::{AppState, ServiceError};

/// Remove what an abandoned enrolment stored: its cards (keys shredded), and the person if the
/// enrolment created them and they have no palm.
pub async fn abandon(
    st: &AppState,
    id: &str,
    person_id: &str,
    new_person: bool,
) -> Result<(), ServiceError> {
    st.store.drop_enrolment(id).await?;
    if new_person && st.store.palms_of(person_id).await?.is_empty() {
        st.store.delete_person(person_id).await?;
    }
    let detail = serde_json::json!({"person_removed": new_person});
    audit(st, Actor::System, "enrol.expire", id, detail).await?;
    Ok(())
}

/// Expire enrolments not completed in time (abandoned at the kiosk, or lost in a restart);
/// returns their ids.
pub async fn expire_enrolments(st: &AppState) -> Result<Vec<String>, ServiceError> {
    let expired = st.store.expired_enrolments(st.now()).await?;
    for (id, person_id, new_person) in &expired {
        if let Ok(mut m) = st.enrolments.lock() {
            m.remove(id);
        }
        abandon(st, id, person_id, *new_person).await?;
    }
    if !expired.is_empty() {
        st.store.scrub().await?;
    }
    Ok(expired.into_iter().map(|e| e.0).collect())
}

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
/// and deliveries queued before a restart go out), expired enrolments (every minute), and
/// hourly the retention job and the purge of old request nonces.
pub fn spawn_housekeeping(st: AppState) -> Vec<tokio::task::JoinHandle<()>> {
    let webhooks = crate::webhook::spawn_worker(st.clone(), std::time::Duration::from_secs(1));
    let s = st.clone();
    let enrolments = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            if let Err(e) = expire_enrolments(&s).await {
                tracing::error!(error = %e, "expiring enrolments failed");
            }
        }
    });
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
    vec![webhooks, enrolments, hourly]
}
