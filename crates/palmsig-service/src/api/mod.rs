//! The JSON API: [`router`] builds its axum router over an [`AppState`] (the whole service,
//! pages included, is [`crate::app`]). Handlers parse a request, call a use case of
//! [`crate::ops`] and answer.
//!
//! | prefix | who | auth |
//! |---|---|---|
//! | `/v1/admin/…` | operator | `Authorization: Bearer <admin token>` |
//! | `/v1/oauth/token` | tenant API client | client credentials (form or JSON, or HTTP Basic) |
//! | `/v1/sites`, `/v1/devices`, `/v1/webhooks`, `/v1/events`, `/v1/audit` | tenant | Bearer access token with scopes |
//! | `/v1/devices/activate` | new device | one-time activation code |
//! | `/v1/device/…` | activated device | Ed25519 request signature ([`crate::signing`]) |
//! | `/v1/portal/…`, `/v1/me/…` | person | phone OTP, then session cookie |
mod admin;
mod auth;
pub(crate) use auth::SCOPES;
mod device;
mod portal;
mod tenant;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::Cursor;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde::de::DeserializeOwned;

/// The router of the JSON API (and health, metrics, OpenAPI), with its error shaping.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(operator_and_tenant_routes())
        .merge(device_routes())
        .merge(person_routes())
        .fallback(|| async { ApiError::not_found("route") })
        .layer(axum::middleware::from_fn(require_json))
        .layer(axum::middleware::from_fn(refuse_control_chars))
        .layer(axum::middleware::from_fn(normalize_errors))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(crate::params::MAX_BODY_BYTES))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// Routes of the operator (admin token) and of tenants (OAuth2).
fn operator_and_tenant_routes() -> Router<AppState> {
    Router::new()
        // operator
        .route(
            "/v1/admin/tenants",
            post(admin::create_tenant).get(admin::list_tenants),
        )
        .route("/v1/admin/tenants/{id}/clients", post(admin::create_client))
        .route("/v1/admin/clients/{id}/revoke", post(admin::revoke_client))
        .route("/v1/admin/audit", get(admin::audit))
        .route("/v1/admin/retention/run", post(admin::run_retention))
        // tenant
        .route("/v1/oauth/token", post(auth::token))
        .route(
            "/v1/sites",
            post(tenant::create_site).get(tenant::list_sites),
        )
        .route(
            "/v1/devices",
            post(tenant::create_device).get(tenant::list_devices),
        )
        .route("/v1/devices/{id}", get(tenant::get_device))
        .route("/v1/devices/{id}/revoke", post(tenant::revoke_device))
        .route("/v1/clients/{id}/revoke", post(tenant::revoke_client))
        .route(
            "/v1/webhooks",
            post(tenant::create_webhook).get(tenant::list_webhooks),
        )
        .route("/v1/webhooks/{id}/rotate", post(tenant::rotate_webhook))
        .route("/v1/webhooks/deliveries", get(tenant::deliveries))
        .route("/v1/events", get(tenant::events))
        .route("/v1/audit", get(tenant::audit))
}

/// Routes of devices (activation code, then signed requests).
fn device_routes() -> Router<AppState> {
    Router::new()
        // devices
        .route("/v1/devices/activate", post(device::activate))
        .route("/v1/device/heartbeat", post(device::heartbeat))
        .route("/v1/device/enrolments", post(device::enrol_start))
        .route(
            "/v1/device/enrolments/{id}/verify",
            post(device::enrol_verify),
        )
        .route("/v1/device/enrolments/{id}/card", post(device::enrol_card))
        .route(
            "/v1/device/enrolments/{id}/consents",
            post(device::enrol_consents),
        )
        .route(
            "/v1/device/enrolments/{id}/attributes",
            post(device::enrol_attributes),
        )
        .route(
            "/v1/device/enrolments/{id}/captures",
            post(device::enrol_capture),
        )
        .route(
            "/v1/device/enrolments/{id}/complete",
            post(device::enrol_complete),
        )
        .route("/v1/device/identify", post(device::identify))
}

/// Routes of persons (phone code, then session cookie).
fn person_routes() -> Router<AppState> {
    Router::new()
        // persons
        .route("/v1/portal/otp", post(portal::send_otp))
        .route(
            "/v1/portal/session",
            post(portal::login).delete(portal::logout),
        )
        .route("/v1/me", get(portal::me).delete(portal::delete_account))
        .route("/v1/me/history", get(portal::history))
        .route("/v1/me/cards", post(portal::add_card))
        .route("/v1/me/cards/{token}", delete(portal::remove_card))
        .route("/v1/me/cards/{token}/default", post(portal::default_card))
        .route("/v1/me/consents", put(portal::set_consents))
        .route(
            "/v1/me/loyalty/{tenant_id}",
            put(portal::link_loyalty).delete(portal::unlink_loyalty),
        )
        .route("/v1/me/palms", delete(portal::delete_palms))
        .route("/v1/dev/outbox", get(portal::outbox))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn readyz(State(st): State<AppState>) -> ApiResult<Json<serde_json::Value>> {
    st.store
        .ping()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", e.to_string()))?;
    Ok(Json(
        serde_json::json!({"status": "ready", "backend": st.store.backend(), "gallery": st.bio.len()}),
    ))
}

/// `GET /metrics` (operator token: the counters describe the whole deployment).
async fn metrics(
    State(st): State<AppState>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    auth::operator(&st, &headers)?;
    st.metrics
        .set_gauge("palmsig_gallery_palms", st.bio.len() as f64);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.metrics.render(),
    )
        .into_response())
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

/// Request metrics (server-side latency by route).
async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let t0 = std::time::Instant::now();
    let resp = next.run(req).await;
    st.metrics.observe(
        &method,
        &route,
        resp.status().as_u16(),
        t0.elapsed().as_secs_f64(),
    );
    resp
}

/// Framework rejections (413 body too large, 405, bad query strings, …) come as plain text:
/// give them the one error shape.
async fn normalize_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !status.is_client_error() && !status.is_server_error() || is_json {
        return resp;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_body",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let msg = String::from_utf8_lossy(&text).trim().to_string();
    let msg = if msg.is_empty() {
        status.canonical_reason().unwrap_or("error").to_string()
    } else {
        msg
    };
    let mut out = ApiError::new(status, code, msg).into_response();
    for (k, v) in parts.headers.iter() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// Parse a JSON body into `T` (400 `bad_json` with serde's reason).
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let bad =
        |e: serde_json::Error| ApiError::bad_request("bad_json", format!("invalid JSON body: {e}"));
    let v: serde_json::Value = serde_json::from_slice(body).map_err(bad)?;
    crate::text::check_json(&v)?;
    serde_json::from_value(v).map_err(bad)
}

/// A form body (`application/x-www-form-urlencoded`), its text checked like JSON's.
pub(crate) fn parse_form<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    let bad = |e: serde_urlencoded::de::Error| {
        ApiError::bad_request("invalid_request", format!("bad form body: {e}"))
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(bad)?;
    crate::text::check_pairs(&pairs)?;
    serde_urlencoded::from_bytes(body).map_err(bad)
}

/// Path and query with a percent-encoded control character are refused before routing (path
/// parameters and `?cursor=` reach SQL).
async fn refuse_control_chars(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let checked = crate::text::check_uri_part("path", uri.path())
        .and_then(|()| crate::text::check_uri_part("query", uri.query().unwrap_or("")));
    match checked {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// A request body must be JSON and say so (`application/json` or `application/*+json`), else
/// 415 `unsupported_media_type` before any handler runs; the token endpoint also takes a form.
async fn require_json(req: Request, next: Next) -> Response {
    use axum::body::HttpBody as _;
    let empty = req.body().size_hint().exact() == Some(0);
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let json =
        ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"));
    let form = ct == "application/x-www-form-urlencoded" && req.uri().path() == "/v1/oauth/token";
    if empty || json || form {
        return next.run(req).await;
    }
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "request bodies must be JSON with Content-Type: application/json",
    )
    .into_response()
}

/// `?limit=&cursor=` of list endpoints.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PageQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

impl PageQuery {
    /// (cursor, limit + 1) — one more than asked to know if there is a next page.
    pub(crate) fn parse(&self) -> ApiResult<(Option<Cursor>, i64)> {
        let limit = self.limit.unwrap_or(crate::params::PAGE_DEFAULT);
        if !(1..=crate::params::PAGE_MAX).contains(&limit) {
            return Err(ApiError::bad_request(
                "bad_limit",
                format!("limit must be 1..={}", crate::params::PAGE_MAX),
            ));
        }
        let cursor = match &self.cursor {
            None => None,
            Some(c) => {
                let bad =
                    || ApiError::bad_request("bad_cursor", "cursor is not one this API returned");
                let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(c)
                    .map_err(|_| bad())?;
                let s = String::from_utf8(raw).map_err(|_| bad())?;
                let (ms, id) = s.split_once('|').ok_or_else(bad)?;
                Some(Cursor {
                    created_ms: ms.parse().map_err(|_| bad())?,
                    id: id.to_string(),
                })
            }
        };
        Ok((cursor, limit))
    }
}

/// One page of usage events (a person's history or a tenant's log) as webhook-shaped JSON,
/// keyed for the cursor by `(created_ms, id)` like every other list.
pub(crate) fn event_page(rows: &[crate::store::EventRow], limit: i64) -> Json<serde_json::Value> {
    let items: Vec<serde_json::Value> = rows.iter().map(crate::webhook::payload).collect();
    page(items, limit, |e| {
        (
            e["created_ms"].as_i64().unwrap_or(0),
            e["id"].as_str().unwrap_or("").to_string(),
        )
    })
}

/// A page of items with the cursor of the next one.
pub(crate) fn page<T: serde::Serialize>(
    mut items: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> (i64, String),
) -> Json<serde_json::Value> {
    let next = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|last| {
            let (ms, id) = key(last);
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{ms}|{id}"))
        })
    } else {
        None
    };
    Json(serde_json::json!({"data": items, "next_cursor": next}))
}

/// A JSON response with a status.
pub(crate) fn json_status(status: StatusCode, v: serde_json::Value) -> Response {
    (status, Json(v)).into_response()
}
