//! Person self-service: phone code login (session cookie), usage history, cards, consents,
//! loyalty links, deleting palm data, deleting the account; the dev outbox.
use super::auth::{person, session_token, SESSION_COOKIE};
use super::device::{check_code, parse_consents, send_code, vault_card, NewCard};
use super::{event_page, json_status, parse_json, PageQuery};
use crate::crypto::{hash_secret, random_token};
use crate::error::{ApiError, ApiResult};
use crate::otp::normalize_e164;
use crate::params;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(serde::Deserialize)]
struct Phone {
    phone: String,
}

fn phone(s: &str) -> ApiResult<String> {
    normalize_e164(s).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_phone",
            "phone must be in E.164 form, e.g. +41791234567",
        )
    })
}

/// `POST /v1/portal/otp {phone}`: always 202, whether or not the phone is enrolled.
pub(crate) async fn send_otp(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let req: Phone = parse_json(&body)?;
    let p = phone(&req.phone)?;
    // Per-phone rate limit against SMS pumping.
    st.limiter
        .check(&format!("otp:{p}"), st.now(), 5.0, 1.0 / 60.0)
        .map_err(|_| {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many codes for this phone; retry later",
            )
        })?;
    send_code(&st, &p).await?;
    Ok(json_status(StatusCode::ACCEPTED, json!({"sent": true})))
}

#[derive(serde::Deserialize)]
struct Login {
    phone: String,
    code: String,
}

/// `POST /v1/portal/session {phone, code}` → session cookie.
pub(crate) async fn login(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let req: Login = parse_json(&body)?;
    let p = phone(&req.phone)?;
    check_code(&st, &p, &req.code).await?;
    let person = st
        .store
        .get_person_by_phone(&p)
        .await?
        .ok_or_else(|| ApiError::not_found("person with this phone"))?;
    let token = random_token("ses");
    st.store
        .insert_session(
            &hash_secret(&[&token]),
            &person.id,
            st.now() + params::PORTAL_SESSION_TTL_MS,
        )
        .await?;
    st.audit(
        &format!("person:{}", person.id),
        None,
        "portal.login",
        &person.id,
        json!({}),
    )
    .await?;
    let secure = if st.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        params::PORTAL_SESSION_TTL_MS / 1000
    );
    let mut r = Json(json!({"person_id": person.id})).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(r)
}

/// `DELETE /v1/portal/session`.
pub(crate) async fn logout(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(t) = session_token(&headers) {
        st.store.delete_session(&hash_secret(&[&t])).await?;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("palmsig_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(r)
}

async fn cards_json(st: &AppState, pid: &str) -> ApiResult<Vec<Value>> {
    Ok(st
        .store
        .cards_of(pid)
        .await?
        .iter()
        .map(|c| {
            json!({"token": c.token, "brand": c.brand, "last4": c.last4, "exp_month": c.exp_month, "exp_year": c.exp_year, "default": c.is_default})
        })
        .collect())
}

/// `GET /v1/me`.
pub(crate) async fn me(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    let p = st
        .store
        .get_person(&pid)
        .await?
        .ok_or_else(|| ApiError::not_found("person"))?;
    let palms: Vec<Value> = st
        .store
        .palms_of(&pid)
        .await?
        .iter()
        .map(|p| json!({"hand": p.hand, "enrolled_ms": p.created_ms, "last_used_ms": p.last_used_ms}))
        .collect();
    let consents: HashMap<String, bool> = st.store.consents_of(&pid).await?.into_iter().collect();
    let loyalty: Vec<Value> = st
        .store
        .loyalty_of(&pid)
        .await?
        .into_iter()
        .map(|(t, l)| json!({"tenant_id": t, "loyalty_id": l}))
        .collect();
    Ok(Json(json!({
        "id": p.id, "phone": p.phone, "age_verified": p.birth_date.is_some(), "created_ms": p.created_ms,
        "palms": palms, "cards": cards_json(&st, &pid).await?, "consents": consents, "loyalty": loyalty,
    })))
}

/// `GET /v1/me/history`.
pub(crate) async fn history(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    let (cur, limit) = q.parse()?;
    let rows = st
        .store
        .events_of_person(&pid, cur.as_ref(), limit + 1)
        .await?;
    Ok(event_page(&rows, limit))
}

/// `POST /v1/me/cards`.
pub(crate) async fn add_card(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let pid = person(&st, &headers).await?;
    let req: NewCard = parse_json(&body)?;
    let card = vault_card(&st, &pid, &req).await?;
    st.audit(
        &format!("person:{pid}"),
        None,
        "card.add",
        card["token"].as_str().unwrap_or(""),
        json!({}),
    )
    .await?;
    Ok(json_status(StatusCode::CREATED, card))
}

/// `DELETE /v1/me/cards/{token}` (the card's key is shredded).
pub(crate) async fn remove_card(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let pid = person(&st, &headers).await?;
    if !st.store.delete_card(&pid, &token).await? {
        return Err(ApiError::not_found("card"));
    }
    st.audit(
        &format!("person:{pid}"),
        None,
        "card.remove",
        &token,
        json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/me/cards/{token}/default`.
pub(crate) async fn default_card(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    if !st.store.set_default_card(&pid, &token).await? {
        return Err(ApiError::not_found("card"));
    }
    st.audit(
        &format!("person:{pid}"),
        None,
        "card.default",
        &token,
        json!({}),
    )
    .await?;
    Ok(Json(json!({"cards": cards_json(&st, &pid).await?})))
}

/// `PUT /v1/me/consents {"payment": true, …}`.
pub(crate) async fn set_consents(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    let consents = parse_consents(&body)?;
    for (p, g) in &consents {
        st.store.set_consent(&pid, p, *g, st.now()).await?;
    }
    st.audit(
        &format!("person:{pid}"),
        None,
        "consent.set",
        &pid,
        json!(consents),
    )
    .await?;
    Ok(Json(
        json!({"consents": st.store.consents_of(&pid).await?.into_iter().collect::<HashMap<_, _>>()}),
    ))
}

#[derive(serde::Deserialize)]
struct Loyalty {
    loyalty_id: String,
}

/// `PUT /v1/me/loyalty/{tenant_id} {loyalty_id}`.
pub(crate) async fn link_loyalty(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(tenant_id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    let req: Loyalty = parse_json(&body)?;
    if req.loyalty_id.trim().is_empty() || req.loyalty_id.len() > 64 {
        return Err(ApiError::unprocessable(
            "bad_loyalty_id",
            "loyalty_id must be 1-64 characters",
        ));
    }
    st.store
        .get_tenant(&tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    st.store
        .set_loyalty(&pid, &tenant_id, &req.loyalty_id)
        .await?;
    st.audit(
        &format!("person:{pid}"),
        Some(&tenant_id),
        "loyalty.link",
        &pid,
        json!({}),
    )
    .await?;
    Ok(Json(
        json!({"tenant_id": tenant_id, "loyalty_id": req.loyalty_id}),
    ))
}

/// `DELETE /v1/me/loyalty/{tenant_id}`.
pub(crate) async fn unlink_loyalty(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(tenant_id): Path<String>,
) -> ApiResult<Response> {
    let pid = person(&st, &headers).await?;
    if !st.store.delete_loyalty(&pid, &tenant_id).await? {
        return Err(ApiError::not_found("loyalty link"));
    }
    st.audit(
        &format!("person:{pid}"),
        Some(&tenant_id),
        "loyalty.unlink",
        &pid,
        json!({}),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v1/me/palms`: templates destroyed, gallery updated, data keys shredded — now.
pub(crate) async fn delete_palms(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    let ids = st.delete_palms_of(&pid).await?;
    st.audit(
        &format!("person:{pid}"),
        None,
        "palm.delete",
        &pid,
        json!({"palms": ids.len()}),
    )
    .await?;
    Ok(Json(json!({"deleted_palms": ids.len()})))
}

/// `DELETE /v1/me`: palm data as above, then the person, cards (keys shredded), consents, links,
/// sessions; the person's events stay in tenants' logs without the person.
pub(crate) async fn delete_account(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let pid = person(&st, &headers).await?;
    let ids = st.delete_person(&pid).await?;
    st.audit(
        &format!("person:{pid}"),
        None,
        "person.delete",
        &pid,
        json!({"palms": ids.len()}),
    )
    .await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("palmsig_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    Ok(r)
}

/// `GET /v1/dev/outbox` (only with the dev outbox enabled, and only for the operator: the codes
/// log anyone in).
pub(crate) async fn outbox(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    if !st.config.dev_outbox {
        return Err(ApiError::not_found("route"));
    }
    super::auth::operator(&st, &headers)?;
    let msgs = st
        .sender
        .outbox()
        .ok_or_else(|| ApiError::not_found("outbox"))?;
    Ok(Json(json!({"data": msgs})))
}
