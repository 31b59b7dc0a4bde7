//! Deletion: palm data (gallery entry, sealed templates, data keys) and whole accounts, scrubbed
//! from the database files.
use super::{audit, Actor};
use crate::error::ApiResult;
use crate::state::{AppState, ServiceError};
use serde_json::json;

/// Delete one palm: template and data key destroyed, then the gallery entry removed (a match
/// in between finds no palm row: no match).
pub async fn palm(st: &AppState, palm_id: &str) -> Result<bool, ServiceError> {
    let deleted = st.store.delete_palm(palm_id).await?;
    st.gallery.removed(palm_id).await;
    st.metrics
        .set_gauge("palmsig_gallery_palms", st.bio.len() as f64);
    Ok(deleted)
}

/// Delete all palm data of a person, scrubbed from the database files; returns the palm ids.
pub async fn palms_of(st: &AppState, person_id: &str) -> Result<Vec<String>, ServiceError> {
    let mut ids = Vec::new();
    for p in st.store.palms_of(person_id).await? {
        if palm(st, &p.id).await? {
            ids.push(p.id);
        }
    }
    st.store.scrub().await?;
    Ok(ids)
}

/// Delete a person: palm data, then the person with cards (keys shredded), consents, links and
/// sessions, scrubbed from the database files. Returns the palm ids removed.
pub async fn person(st: &AppState, person_id: &str) -> Result<Vec<String>, ServiceError> {
    let ids = palms_of(st, person_id).await?;
    st.store.delete_person(person_id).await?;
    st.store.scrub().await?;
    Ok(ids)
}

/// The person deletes their palm data (`DELETE /v1/me/palms`); returns how many palms.
pub async fn my_palms(st: &AppState, pid: &str) -> ApiResult<usize> {
    let ids = palms_of(st, pid).await?;
    let detail = json!({"palms": ids.len()});
    audit(st, Actor::Person(pid), "palm.delete", pid, detail).await?;
    Ok(ids.len())
}

/// The person deletes their account (`DELETE /v1/me`); their events stay in tenants' logs
/// without the person.
pub async fn my_account(st: &AppState, pid: &str) -> ApiResult<()> {
    let ids = person(st, pid).await?;
    let detail = json!({"palms": ids.len()});
    audit(st, Actor::Person(pid), "person.delete", pid, detail).await?;
    Ok(())
}
