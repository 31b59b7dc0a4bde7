//! Consents per purpose: a palm is only used for what its owner agreed to.
use super::{audit, Actor, Purpose};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use std::collections::HashMap;

/// Parse `{"payment": true, …}` into (purpose, granted) pairs; 422 `bad_purpose` for an unknown
/// key.
pub fn parse(req: HashMap<String, bool>) -> ApiResult<Vec<(Purpose, bool)>> {
    let mut v = Vec::with_capacity(req.len());
    for (k, g) in req {
        let p = k.parse::<Purpose>().map_err(|()| {
            ApiError::unprocessable(
                "bad_purpose",
                format!("unknown purpose `{k}`; known: {}", Purpose::list()),
            )
        })?;
        v.push((p, g));
    }
    v.sort();
    Ok(v)
}

/// Set consents of a person (audited as `actor`); returns all their consents.
pub async fn set(
    st: &AppState,
    actor: Actor<'_>,
    person_id: &str,
    consents: &[(Purpose, bool)],
) -> ApiResult<HashMap<String, bool>> {
    for (p, g) in consents {
        st.store
            .set_consent(person_id, p.as_str(), *g, st.now())
            .await?;
    }
    let detail: Vec<(&str, bool)> = consents.iter().map(|(p, g)| (p.as_str(), *g)).collect();
    audit(
        st,
        actor,
        "consent.set",
        person_id,
        serde_json::json!(detail),
    )
    .await?;
    of(st, person_id).await
}

/// All consents of a person.
pub async fn of(st: &AppState, person_id: &str) -> ApiResult<HashMap<String, bool>> {
    Ok(st.store.consents_of(person_id).await?.into_iter().collect())
}

/// Whether the person consented to `purpose`.
pub async fn granted(st: &AppState, person_id: &str, purpose: Purpose) -> ApiResult<bool> {
    Ok(st
        .store
        .consents_of(person_id)
        .await?
        .into_iter()
        .any(|(p, g)| p == purpose.as_str() && g))
}
