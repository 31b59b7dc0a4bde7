//! The person's own side: sign in with a phone code, see and manage what is theirs.
use super::{audit, Actor};
use crate::crypto::{hash_secret, random_token};
use crate::error::{ApiError, ApiResult};
use crate::params;
use crate::state::AppState;
use serde_json::{json, Value};

/// Name of the portal session cookie.
pub const SESSION_COOKIE: &str = "palmsig_session";

/// Send a sign-in code to `phone` (whether or not it is enrolled); returns the normalised phone.
pub async fn request_code(st: &AppState, phone: &str) -> ApiResult<String> {
    let p = super::otp::phone(phone)?;
    super::otp::send_code(st, &p).await?;
    Ok(p)
}

/// A new portal session.
#[derive(Debug)]
pub struct Session {
    /// The person.
    pub person_id: String,
    /// The cookie value (stored hashed only).
    pub token: String,
}

/// Sign in with a phone code; 404 if no person has this phone.
pub async fn sign_in(st: &AppState, phone: &str, code: &str) -> ApiResult<Session> {
    let p = super::otp::phone(phone)?;
    super::otp::check_code(st, &p, code).await?;
    let person = super::persons::by_phone(st, &p)
        .await?
        .ok_or_else(|| ApiError::not_found("person with this phone"))?;
    let token = random_token("ses");
    let expires = st.now() + params::PORTAL_SESSION_TTL_MS;
    st.store
        .insert_session(&hash_secret(&[&token]), &person.id, expires)
        .await?;
    audit(
        st,
        Actor::Person(&person.id),
        "portal.login",
        &person.id,
        json!({}),
    )
    .await?;
    Ok(Session {
        person_id: person.id,
        token,
    })
}

/// End the session of a cookie value (unknown ones are ignored).
pub async fn sign_out(st: &AppState, token: &str) -> ApiResult<()> {
    st.store.delete_session(&hash_secret(&[token])).await?;
    Ok(())
}

/// Everything the portal shows a person about themselves.
pub async fn me(st: &AppState, pid: &str) -> ApiResult<Value> {
    let p = st
        .store
        .get_person(pid)
        .await?
        .ok_or_else(|| ApiError::not_found("person"))?;
    let palms: Vec<Value> = st
        .store
        .palms_of(pid)
        .await?
        .iter()
        .map(|p| json!({"hand": p.hand, "enrolled_ms": p.created_ms, "last_used_ms": p.last_used_ms}))
        .collect();
    let loyalty: Vec<Value> = st
        .store
        .loyalty_of(pid)
        .await?
        .into_iter()
        .map(|(t, l)| json!({"tenant_id": t, "loyalty_id": l}))
        .collect();
    let phone = super::persons::phone_of(st, &p).await?;
    Ok(json!({
        "id": p.id, "phone": phone, "age_verified": p.birth_date.is_some(), "created_ms": p.created_ms,
        "palms": palms, "cards": super::cards::list(st, pid).await?,
        "consents": super::consent::of(st, pid).await?, "loyalty": loyalty,
    }))
}

/// Link (or relink) a loyalty id at a tenant.
pub async fn link_loyalty(
    st: &AppState,
    pid: &str,
    tenant_id: &str,
    loyalty_id: &str,
) -> ApiResult<()> {
    if loyalty_id.trim().is_empty() || loyalty_id.len() > 64 {
        return Err(ApiError::unprocessable(
            "bad_loyalty_id",
            "loyalty_id must be 1-64 characters",
        ));
    }
    st.store
        .get_tenant(tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    st.store.set_loyalty(pid, tenant_id, loyalty_id).await?;
    let actor = format!("person:{pid}");
    st.audit(&actor, Some(tenant_id), "loyalty.link", pid, json!({}))
        .await?;
    Ok(())
}

/// Remove a loyalty link; 404 if there is none.
pub async fn unlink_loyalty(st: &AppState, pid: &str, tenant_id: &str) -> ApiResult<()> {
    if !st.store.delete_loyalty(pid, tenant_id).await? {
        return Err(ApiError::not_found("loyalty link"));
    }
    let actor = format!("person:{pid}");
    st.audit(&actor, Some(tenant_id), "loyalty.unlink", pid, json!({}))
        .await?;
    Ok(())
}
