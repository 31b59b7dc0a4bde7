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
