//! Device API: activation, heartbeats, enrolment at a kiosk, identification for a purpose.
use super::auth::SignedDevice;
use super::{json_status, parse_json};
use crate::crypto::sha256_hex;
use crate::error::{ApiError, ApiResult};
use crate::ops::{self, enrol};
use crate::params;
use crate::state::AppState;
use crate::store::{Device, IdemClaim};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(serde::Deserialize)]
struct Activate {
    activation_code: String,
    public_key: String,
    version: Option<String>,
}

/// `POST /v1/devices/activate` (unsigned: the one-time code is the credential).
pub(crate) async fn activate(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let req: Activate = parse_json(&body)?;
    let dev = ops::devices::activate(
        &st,
        &req.activation_code,
        &req.public_key,
        req.version.as_deref(),
    )
    .await?;
    Ok(json_status(
        StatusCode::OK,
        json!({"device_id": dev.id, "tenant_id": dev.tenant_id, "site_id": dev.site_id}),
    ))
}

#[derive(serde::Deserialize)]
struct Heartbeat {
    version: Option<String>,
}

/// `POST /v1/device/heartbeat`.
pub(crate) async fn heartbeat(
    State(st): State<AppState>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let req: Heartbeat = parse_json(&body)?;
    if let Some(v) = &req.version {
        if v.len() > 64 {
            return Err(ApiError::unprocessable(
                "bad_version",
                "version must be at most 64 characters",
            ));
        }
    }
    st.store
        .touch_device(&dev.id, req.version.as_deref(), st.now())
        .await?;
    Ok(Json(
        json!({"device_id": dev.id, "server_time_ms": st.now()}),
    ))
}

// ---------------------------------------------------------------- enrolment

#[derive(serde::Deserialize)]
struct StartEnrolment {
    phone: String,
}

/// `POST /v1/device/enrolments {phone}` → a code is sent to the phone.
pub(crate) async fn enrol_start(
    State(st): State<AppState>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Response> {
    let req: StartEnrolment = parse_json(&body)?;
    let e = enrol::start(&st, &dev, &req.phone).await?;
    Ok(json_status(
        StatusCode::CREATED,
        json!({"enrolment_id": e.id, "expires_ms": e.expires_ms}),
    ))
}

#[derive(serde::Deserialize)]
struct Code {
    code: String,
}

/// `POST /v1/device/enrolments/{id}/verify {code}`.
pub(crate) async fn enrol_verify(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let req: Code = parse_json(&body)?;
    enrol::verify(&st, &dev, &id, &req.code).await?;
    Ok(Json(json!({"enrolment_id": id, "verified": true})))
}

/// `POST /v1/device/enrolments/{id}/card {number, exp_month, exp_year}`.
pub(crate) async fn enrol_card(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Response> {
    let req: ops::cards::NewCard = parse_json(&body)?;
    let card = enrol::add_card(&st, &dev, &id, &req).await?;
    Ok(json_status(StatusCode::CREATED, card))
}

/// Parse `{"payment": true, …}` into (purpose, granted) pairs.
pub(crate) fn parse_consents(body: &[u8]) -> ApiResult<Vec<(ops::Purpose, bool)>> {
    ops::consent::parse(parse_json::<HashMap<String, bool>>(body)?)
}

/// `POST /v1/device/enrolments/{id}/consents {"payment": true, "entry": false, …}`.
pub(crate) async fn enrol_consents(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let consents = parse_consents(&body)?;
    let all = enrol::set_consents(&st, &dev, &id, &consents).await?;
    Ok(Json(json!({ "consents": all })))
}

/// `POST /v1/device/enrolments/{id}/attributes {birth_date?, badge_number?, loyalty_id?}`.
pub(crate) async fn enrol_attributes(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let req: enrol::Attributes = parse_json(&body)?;
    enrol::set_attributes(&st, &dev, &id, &req).await?;
    Ok(Json(json!({"ok": true})))
}

/// `POST /v1/device/enrolments/{id}/captures {hand, visible, nir}` — one capture through the
/// quality gate; refused captures give 422 with the reason.
pub(crate) async fn enrol_capture(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let req: enrol::CaptureBody = parse_json(&body)?;
    drop(body);
    let (hand, n) = enrol::capture(&st, &dev, &id, req).await?;
    Ok(Json(
        json!({"hand": hand.as_str(), "captures": n, "needed": params::MIN_CAPTURES_PER_HAND}),
    ))
}

/// `POST /v1/device/enrolments/{id}/complete` — duplicate check, seal, store, add to the gallery.
pub(crate) async fn enrol_complete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let hands = enrol::complete(&st, &dev, &id).await?;
    let out: Vec<Value> = hands
        .iter()
        .map(|(h, n)| json!({"hand": h.as_str(), "captures": n}))
        .collect();
    Ok(Json(json!({"enrolment_id": id, "enrolled": out})))
}

// ---------------------------------------------------------------- identify

/// `POST /v1/device/identify` with an optional `Idempotency-Key` (Stripe semantics: the first
/// response is stored and replayed for the same key and body; another body → 422; still in
/// flight → 409; requests refused before any effect do not keep the key).
pub(crate) async fn identify(
    State(st): State<AppState>,
    SignedDevice {
        dev,
        body,
        headers,
        method,
        uri,
    }: SignedDevice,
) -> ApiResult<Response> {
    let Some(key) = idempotency_key(&headers)? else {
        return Ok(json_status(
            StatusCode::OK,
            identify_once(&st, &dev, &body).await?,
        ));
    };
    let scope = format!("identify:{}", dev.tenant_id);
    let req_hash = sha256_hex(
        &[
            method.as_str().as_bytes(),
            b"\n",
            uri.path().as_bytes(),
            b"\n",
            &body[..],
        ]
        .concat(),
    );
    match st
        .store
        .idem_claim(&scope, &key, &req_hash, st.now())
        .await?
    {
        IdemClaim::Existing(row) if row.request_hash != req_hash => Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request",
        )),
        IdemClaim::Existing(row) => replay(row.status, row.body),
        IdemClaim::Claimed => {
            let res = identify_once(&st, &dev, &body).await;
            finish_idempotent(&st, &scope, &key, res).await
        }
    }
}

async fn identify_once(st: &AppState, dev: &Device, body: &[u8]) -> ApiResult<Value> {
    let req: ops::identify::IdentifyBody = parse_json(body)?;
    ops::identify::identify(st, dev, req).await
}

/// The `Idempotency-Key` header, if any; 400 if malformed.
fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    match headers.get("idempotency-key").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => Ok(Some(k.to_string())),
        Some(_) => Err(ApiError::bad_request(
            "bad_idempotency_key",
            "Idempotency-Key must be 1-255 visible characters",
        )),
    }
}

/// The stored response of a finished key, or 409 while the first request is in flight.
fn replay(status: Option<i64>, body: Option<String>) -> ApiResult<Response> {
    let (Some(status), Some(b)) = (status, body) else {
        return Err(ApiError::conflict(
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still being processed",
        ));
    };
    let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
    let mut r = (status, [("content-type", "application/json")], b).into_response();
    r.headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    Ok(r)
}

/// Store the response under the claimed key; a refusal before any effect releases the key.
async fn finish_idempotent(
    st: &AppState,
    scope: &str,
    key: &str,
    res: ApiResult<Value>,
) -> ApiResult<Response> {
    match res {
        Ok(v) => {
            st.store
                .idem_finish(scope, key, 200, &v.to_string())
                .await?;
            Ok(json_status(StatusCode::OK, v))
        }
        Err(e) if e.status.is_client_error() => {
            // Validation or capture refusal: nothing happened, the key may be used again.
            st.store.idem_release(scope, key).await?;
            Err(e)
        }
        Err(e) => {
            let status = i64::from(e.status.as_u16());
            st.store
                .idem_finish(scope, key, status, &e.body().to_string())
                .await?;
            Err(e)
        }
    }
}
