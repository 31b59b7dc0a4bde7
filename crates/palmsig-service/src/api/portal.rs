//! Person self-service: phone code login (session cookie), usage history, cards, consents,
//! loyalty links, deleting palm data, deleting the account; the dev outbox.
use super::auth::{person, session_token};
use super::device::parse_consents;
use super::{event_page, json_status, parse_json, PageQuery};
use crate::error::{ApiError, ApiResult};
use crate::ops::{self, Actor, SESSION_COOKIE};
use crate::params;
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(serde::Deserialize)]
struct Phone {
    phone: String,
}

/// `POST /v1/portal/otp {phone}`: always 202, whether or not the phone is enrolled.
pub(crate) async fn send_otp(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let req: Phone = parse_json(&body)?;
    ops::portal::request_code(&st, &req.phone).await?;
    Ok(json_status(StatusCode::ACCEPTED, json!({"sent": true})))
}

#[derive(serde::Deserialize)]
struct Login {
    phone: String,
    code: String,
}

/// The `Set-Cookie` value ending the portal session.
const CLEAR_COOKIE: &str = "palmsig_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0";

/// `POST /v1/portal/session {phone, code}` → session cookie.
pub(crate) async fn login(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let req: Login = parse_json(&body)?;
    let s = ops::portal::sign_in(&st, &req.phone, &req.code).await?;
    let secure = if st.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
        s.token,
        params::PORTAL_SESSION_TTL_MS / 1000
    );
    let mut r = Json(json!({"person_id": s.person_id})).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(r)
}

fn signed_out() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, HeaderValue::from_static(CLEAR_COOKIE));
    r
}

/// `DELETE /v1/portal/session`.
pub(crate) async fn logout(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(t) = session_token(&headers) {
        ops::portal::sign_out(&st, &t).await?;
    }
    Ok(signed_out())
}

/// `GET /v1/me`.
pub(crate) async fn me(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    Ok(Json(ops::portal::me(&st, &pid).await?))
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
    let req: ops::cards::NewCard = parse_json(&body)?;
    let card = ops::cards::add(&st, Actor::Person(&pid), &pid, None, &req).await?;
    Ok(json_status(StatusCode::CREATED, card))
}

/// `DELETE /v1/me/cards/{token}` (the card's key is shredded).
pub(crate) async fn remove_card(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<Response> {
    let pid = person(&st, &headers).await?;
    ops::cards::remove(&st, &pid, &token).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/me/cards/{token}/default`.
pub(crate) async fn default_card(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    let cards = ops::cards::make_default(&st, &pid, &token).await?;
    Ok(Json(json!({ "cards": cards })))
}

/// `PUT /v1/me/consents {"payment": true, …}`.
pub(crate) async fn set_consents(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    let consents = parse_consents(&body)?;
    let all = ops::consent::set(&st, Actor::Person(&pid), &pid, &consents).await?;
    Ok(Json(json!({ "consents": all })))
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
    ops::portal::link_loyalty(&st, &pid, &tenant_id, &req.loyalty_id).await?;
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
    ops::portal::unlink_loyalty(&st, &pid, &tenant_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /v1/me/palms`: templates destroyed, gallery updated, data keys shredded — now.
pub(crate) async fn delete_palms(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let pid = person(&st, &headers).await?;
    let n = ops::deletion::my_palms(&st, &pid).await?;
    Ok(Json(json!({ "deleted_palms": n })))
}

/// `DELETE /v1/me`: palm data as above, then the person, cards (keys shredded), consents, links,
/// sessions; the person's events stay in tenants' logs without the person.
pub(crate) async fn delete_account(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let pid = person(&st, &headers).await?;
    ops::deletion::my_account(&st, &pid).await?;
    Ok(signed_out())
}

/// `GET /v1/dev/outbox` (only with the dev outbox enabled, and only for the operator: the codes
/// log anyone in).
pub(crate) async fn outbox(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    super::auth::operator(&st, &headers)?;
    if !st.config.dev_outbox {
        return Err(ApiError::not_found("route"));
    }
    let msgs = st
        .sender
        .outbox()
        .ok_or_else(|| ApiError::not_found("outbox"))?;
    Ok(Json(json!({"data": msgs})))
}
