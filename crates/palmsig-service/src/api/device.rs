//! Device API: activation, heartbeats, enrolment at a kiosk, identification for a purpose.
use super::auth::SignedDevice;
use super::{json_status, parse_json};
use crate::biometrics::CaptureInput;
use crate::crypto::{random_digits, sha256_hex};
use crate::error::{ApiError, ApiResult};
use crate::otp::normalize_e164;
use crate::params;
use crate::payments::{Authorization, PaymentRequest};
use crate::state::{new_id, AppState, Enrolment};
use crate::store::{CardRow, DataKeyRow, Device, EventRow, IdemClaim, Otp};
use crate::vault::{check_expiry, Pan};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use palmsig_core::Hand;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Purposes a palm can be used for.
pub(crate) const PURPOSES: [&str; 4] = ["payment", "entry", "loyalty", "age"];

#[derive(serde::Deserialize)]
struct Activate {
    activation_code: String,
    public_key: String,
    version: Option<String>,
}

/// `POST /v1/devices/activate` (unsigned: the one-time code is the credential).
pub(crate) async fn activate(State(st): State<AppState>, body: Bytes) -> ApiResult<Response> {
    let req: Activate = parse_json(&body)?;
    let pk = base64::engine::general_purpose::STANDARD
        .decode(req.public_key.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .filter(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_ok())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "bad_public_key",
                "public_key must be a base64 Ed25519 public key (32 bytes)",
            )
        })?;
    let code: String = req
        .activation_code
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let now = st.now();
    // The code was stored as a MAC under the KEK active then: try each KEK held.
    let mut activated = None;
    for mac in st.keys.mac_candidates("activation", &[&code]) {
        activated = st.store.activate_device(&mac, &pk, now).await?;
        if activated.is_some() {
            break;
        }
    }
    let dev = activated.ok_or_else(|| {
        ApiError::unauthorized(
            "invalid_activation_code",
            "activation code unknown, used or expired",
        )
    })?;
    if let Some(v) = req.version.as_deref() {
        st.store.touch_device(&dev.id, Some(v), now).await?;
    }
    st.audit(
        &format!("device:{}", dev.id),
        Some(&dev.tenant_id),
        "device.activate",
        &dev.id,
        json!({}),
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

fn enrolment_of(st: &AppState, id: &str, dev: &Device) -> ApiResult<Enrolment> {
    let mut map = st.enrolments.lock().map_err(ApiError::internal)?;
    let now = st.now();
    map.retain(|_, e| e.expires_ms > now);
    let e = map
        .get(id)
        .ok_or_else(|| ApiError::not_found("enrolment"))?;
    if e.tenant_id != dev.tenant_id {
        return Err(ApiError::forbidden(
            "wrong_tenant",
            "this enrolment belongs to another tenant",
        ));
    }
    if e.device_id != dev.id {
        return Err(ApiError::forbidden(
            "wrong_device",
            "this enrolment was started on another device",
        ));
    }
    Ok(e.clone())
}

fn save_enrolment(st: &AppState, e: Enrolment) -> ApiResult<()> {
    st.enrolments
        .lock()
        .map_err(ApiError::internal)?
        .insert(e.id.clone(), e);
    Ok(())
}

fn verified(e: &Enrolment) -> ApiResult<String> {
    e.person_id
        .clone()
        .ok_or_else(|| ApiError::conflict("phone_not_verified", "confirm the phone code first"))
}

/// Send a fresh one-time code to `phone` (shared with the portal).
pub(crate) async fn send_code(st: &AppState, phone: &str) -> ApiResult<()> {
    let code = random_digits(6);
    st.store
        .put_otp(&Otp {
            phone: phone.to_string(),
            code_hash: st.keys.mac_secret("otp", &[phone, &code]),
            expires_ms: st.now() + params::OTP_TTL_MS,
            attempts: 0,
        })
        .await?;
    st.sender
        .send(phone, &code)
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "otp_send_failed", e))
}

/// Check a one-time code (burnt on success, counted on failure).
pub(crate) async fn check_code(st: &AppState, phone: &str, code: &str) -> ApiResult<()> {
    let bad = || ApiError::unauthorized("invalid_code", "code wrong or expired");
    let otp = st.store.get_otp(phone).await?.ok_or_else(bad)?;
    if otp.expires_ms <= st.now() || otp.attempts >= params::OTP_MAX_ATTEMPTS {
        st.store.delete_otp(phone).await?;
        return Err(bad());
    }
    if !st
        .keys
        .mac_verify("otp", &[phone, code.trim()], &otp.code_hash)
    {
        st.store.bump_otp(phone).await?;
        return Err(bad());
    }
    st.store.delete_otp(phone).await?;
    Ok(())
}

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
    let phone = normalize_e164(&req.phone).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_phone",
            "phone must be in E.164 form, e.g. +41791234567",
        )
    })?;
    send_code(&st, &phone).await?;
    let e = Enrolment {
        id: new_id("enr"),
        device_id: dev.id.clone(),
        tenant_id: dev.tenant_id.clone(),
        phone,
        person_id: None,
        templates: HashMap::new(),
        expires_ms: st.now() + params::ENROLMENT_TTL_MS,
    };
    st.audit(
        &format!("device:{}", dev.id),
        Some(&dev.tenant_id),
        "enrol.start",
        &e.id,
        json!({}),
    )
    .await?;
    let out = json!({"enrolment_id": e.id, "expires_ms": e.expires_ms});
    save_enrolment(&st, e)?;
    Ok(json_status(StatusCode::CREATED, out))
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
    let mut e = enrolment_of(&st, &id, &dev)?;
    let req: Code = parse_json(&body)?;
    check_code(&st, &e.phone, &req.code).await?;
    let person = st
        .store
        .upsert_person(&new_id("per"), &e.phone, st.now())
        .await?;
    e.person_id = Some(person.id.clone());
    save_enrolment(&st, e)?;
    st.audit(
        &format!("device:{}", dev.id),
        Some(&dev.tenant_id),
        "enrol.verify",
        &id,
        json!({"person_id": person.id}),
    )
    .await?;
    Ok(Json(json!({"enrolment_id": id, "verified": true})))
}

#[derive(serde::Deserialize)]
pub(crate) struct NewCard {
    pub number: String,
    pub exp_month: u32,
    pub exp_year: i32,
}

/// Validate and vault a card for a person; returns its public view.
pub(crate) async fn vault_card(st: &AppState, person_id: &str, card: &NewCard) -> ApiResult<Value> {
    let pan = Pan::parse(&card.number)?;
    check_expiry(card.exp_month, card.exp_year, st.now())?;
    let token = new_id("card");
    let sealed = st.keys.seal(pan.digits().as_bytes(), &token);
    let row = CardRow {
        token: token.clone(),
        person_id: person_id.to_string(),
        brand: pan.brand().to_string(),
        last4: pan.last4().to_string(),
        exp_month: i64::from(card.exp_month),
        exp_year: i64::from(card.exp_year),
        ciphertext: sealed.ciphertext,
        is_default: false,
        created_ms: st.now(),
    };
    st.store
        .put_card(
            &row,
            &DataKeyRow {
                id: token.clone(),
                kek_id: sealed.key.kek_id,
                wrapped: sealed.key.wrapped,
            },
        )
        .await?;
    Ok(
        json!({"token": token, "brand": row.brand, "last4": row.last4, "exp_month": row.exp_month, "exp_year": row.exp_year}),
    )
}

/// `POST /v1/device/enrolments/{id}/card {number, exp_month, exp_year}`.
pub(crate) async fn enrol_card(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Response> {
    let e = enrolment_of(&st, &id, &dev)?;
    let pid = verified(&e)?;
    let req: NewCard = parse_json(&body)?;
    let card = vault_card(&st, &pid, &req).await?;
    st.audit(
        &format!("device:{}", dev.id),
        Some(&dev.tenant_id),
        "card.add",
        card["token"].as_str().unwrap_or(""),
        json!({"person_id": pid}),
    )
    .await?;
    Ok(json_status(StatusCode::CREATED, card))
}

/// Parse `{"payment": true, …}` into (purpose, granted) pairs.
pub(crate) fn parse_consents(body: &[u8]) -> ApiResult<Vec<(String, bool)>> {
    let req: HashMap<String, bool> = parse_json(body)?;
    if let Some(bad) = req.keys().find(|k| !PURPOSES.contains(&k.as_str())) {
        return Err(ApiError::unprocessable(
            "bad_purpose",
            format!("unknown purpose `{bad}`; known: {}", PURPOSES.join(", ")),
        ));
    }
    let mut v: Vec<(String, bool)> = req.into_iter().collect();
    v.sort();
    Ok(v)
}

/// `POST /v1/device/enrolments/{id}/consents {"payment": true, "entry": false, …}`.
pub(crate) async fn enrol_consents(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let e = enrolment_of(&st, &id, &dev)?;
    let pid = verified(&e)?;
    let consents = parse_consents(&body)?;
    for (p, g) in &consents {
        st.store.set_consent(&pid, p, *g, st.now()).await?;
    }
    st.audit(
        &format!("device:{}", dev.id),
        Some(&dev.tenant_id),
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
struct Attributes {
    /// Verified by staff from an ID document at the kiosk (`YYYY-MM-DD`).
    birth_date: Option<String>,
    /// Badge credential number at this tenant (door controllers).
    badge_number: Option<String>,
    /// Loyalty id at this tenant.
    loyalty_id: Option<String>,
}

/// `POST /v1/device/enrolments/{id}/attributes {birth_date?, badge_number?, loyalty_id?}`.
pub(crate) async fn enrol_attributes(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let e = enrolment_of(&st, &id, &dev)?;
    let pid = verified(&e)?;
    let req: Attributes = parse_json(&body)?;
    let short = |s: &str| !s.trim().is_empty() && s.len() <= 64;
    if let Some(b) = &req.birth_date {
        let d = chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").map_err(|_| {
            ApiError::unprocessable("bad_birth_date", "birth_date must be YYYY-MM-DD")
        })?;
        let today = chrono::DateTime::from_timestamp_millis(st.now())
            .map(|t| t.date_naive())
            .unwrap_or_default();
        if d > today {
            return Err(ApiError::unprocessable(
                "bad_birth_date",
                "birth_date is in the future",
            ));
        }
        st.store.set_birth_date(&pid, b).await?;
    }
    if let Some(n) = &req.badge_number {
        if !short(n) {
            return Err(ApiError::unprocessable(
                "bad_badge",
                "badge_number must be 1-64 characters",
            ));
        }
        st.store.set_badge(&pid, &dev.tenant_id, n).await?;
    }
    if let Some(l) = &req.loyalty_id {
        if !short(l) {
            return Err(ApiError::unprocessable(
                "bad_loyalty_id",
                "loyalty_id must be 1-64 characters",
            ));
        }
        st.store.set_loyalty(&pid, &dev.tenant_id, l).await?;
    }
    st.audit(
        &format!("device:{}", dev.id),
        Some(&dev.tenant_id),
        "person.attributes",
        &pid,
        json!({"birth_date": req.birth_date.is_some(), "badge": req.badge_number.is_some(), "loyalty": req.loyalty_id.is_some()}),
    )
    .await?;
    Ok(Json(json!({"ok": true})))
}

#[derive(serde::Deserialize)]
pub(crate) struct CaptureBody {
    pub hand: Option<String>,
    /// Base64 of the visible-light image file (PNG, JPEG, …).
    pub visible: Option<String>,
    /// Base64 of the near-infrared image file.
    pub nir: Option<String>,
}

/// Decode the images of a capture body and run the engine (on a blocking thread).
pub(crate) async fn extract(
    st: &AppState,
    c: CaptureBody,
    default_hand: Option<Hand>,
) -> ApiResult<(Hand, Vec<u8>)> {
    let hand = match c.hand.as_deref() {
        Some("left") => Hand::Left,
        Some("right") => Hand::Right,
        None if default_hand.is_some() => default_hand.unwrap_or(Hand::Unknown),
        _ => {
            return Err(ApiError::unprocessable(
                "bad_hand",
                "hand must be `left` or `right`",
            ))
        }
    };
    let b64 = |s: Option<String>, what: &str| -> ApiResult<Option<Vec<u8>>> {
        s.map(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|_| ApiError::unprocessable("bad_image", format!("{what} is not base64")))
        })
        .transpose()
    };
    let visible = b64(c.visible, "visible")?;
    let nir = b64(c.nir, "nir")?;
    if visible.is_none() && nir.is_none() {
        return Err(ApiError::unprocessable(
            "no_image",
            "a capture needs a visible and/or a nir image",
        ));
    }
    let slot = st
        .extract_slots
        .acquire(std::time::Duration::from_millis(st.config.extract_wait_ms))
        .await?;
    let bio = st.bio.clone();
    let t = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        bio.extract(&CaptureInput {
            hand,
            visible: visible.as_deref(),
            nir: nir.as_deref(),
        })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((hand, t))
}

/// `POST /v1/device/enrolments/{id}/captures {hand, visible, nir}` — one capture through the
/// quality gate; refused captures give 422 with the reason.
pub(crate) async fn enrol_capture(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, body, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let e = enrolment_of(&st, &id, &dev)?;
    verified(&e)?;
    let req: CaptureBody = parse_json(&body)?;
    drop(body);
    let (hand, template) = extract(&st, req, None).await?;
    let mut map = st.enrolments.lock().map_err(ApiError::internal)?;
    let e = map
        .get_mut(&id)
        .ok_or_else(|| ApiError::not_found("enrolment"))?;
    let list = e.templates.entry(hand).or_default();
    if list.len() >= params::MAX_CAPTURES_PER_HAND {
        return Err(ApiError::conflict(
            "enough_captures",
            format!("already {} captures of this hand", list.len()),
        ));
    }
    list.push(template);
    Ok(Json(
        json!({"hand": hand.as_str(), "captures": list.len(), "needed": params::MIN_CAPTURES_PER_HAND}),
    ))
}

/// `POST /v1/device/enrolments/{id}/complete` — duplicate check, seal, store, add to the gallery.
pub(crate) async fn enrol_complete(
    State(st): State<AppState>,
    Path(id): Path<String>,
    SignedDevice { dev, .. }: SignedDevice,
) -> ApiResult<Json<Value>> {
    let e = enrolment_of(&st, &id, &dev)?;
    let pid = verified(&e)?;
    let hands: Vec<(Hand, Vec<Vec<u8>>)> = {
        let mut v: Vec<_> = e.templates.iter().map(|(h, t)| (*h, t.clone())).collect();
        v.sort_by_key(|x| x.0);
        v
    };
    if hands.is_empty() {
        return Err(ApiError::conflict(
            "no_captures",
            "capture at least one hand first",
        ));
    }
    if let Some((h, t)) = hands
        .iter()
        .find(|(_, t)| t.len() < params::MIN_CAPTURES_PER_HAND)
    {
        return Err(ApiError::conflict(
            "not_enough_captures",
            format!(
                "{h} hand has {} captures, {} needed",
                t.len(),
                params::MIN_CAPTURES_PER_HAND
            ),
        ));
    }
    let _guard = st.enrol_lock.lock().await;
    // Duplicate check: any capture matching a palm of someone else refuses the enrolment.
    for (_, templates) in &hands {
        for t in templates {
            let bio = st.bio.clone();
            let probe = t.clone();
            let hit = tokio::task::spawn_blocking(move || bio.search(&probe))
                .await
                .map_err(ApiError::internal)??;
            if let Some(hit) = hit {
                let owner = st.store.palm_owner(&hit.palm_id).await?;
                if owner.as_deref() != Some(pid.as_str()) {
                    st.audit(
                        &format!("device:{}", dev.id),
                        Some(&dev.tenant_id),
                        "enrol.duplicate",
                        &id,
                        json!({}),
                    )
                    .await?;
                    st.enrolments
                        .lock()
                        .map_err(ApiError::internal)?
                        .remove(&id);
                    return Err(ApiError::conflict(
                        "duplicate_palm",
                        "this palm is already enrolled under another phone number",
                    ));
                }
            }
        }
    }
    let mut out = Vec::new();
    for (hand, templates) in &hands {
        let (palm_id, replaced) = st.store_palm(&pid, *hand, templates).await?;
        if let Some(old) = replaced {
            st.bio.remove(&old);
        }
        st.bio.add(&palm_id, templates)?;
        out.push(json!({"hand": hand.as_str(), "captures": templates.len()}));
    }
    drop(_guard);
    st.enrolments
        .lock()
        .map_err(ApiError::internal)?
        .remove(&id);
    st.audit(
        &format!("device:{}", dev.id),
        Some(&dev.tenant_id),
        "enrol.complete",
        &id,
        json!({"person_id": pid, "hands": hands.len()}),
    )
    .await?;
    Ok(Json(json!({"enrolment_id": id, "enrolled": out})))
}

// ---------------------------------------------------------------- identify

#[derive(serde::Deserialize)]
struct IdentifyBody {
    purpose: String,
    #[serde(flatten)]
    capture: CaptureBody,
    amount: Option<i64>,
    currency: Option<String>,
    door: Option<String>,
}

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
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string));
    let key = match key {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => Some(k),
        Some(_) => {
            return Err(ApiError::bad_request(
                "bad_idempotency_key",
                "Idempotency-Key must be 1-255 visible characters",
            ))
        }
    };
    let Some(key) = key else {
        let (status, v) = identify_inner(&st, &dev, &body).await?;
        return Ok(json_status(status, v));
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
        IdemClaim::Existing(row) => {
            if row.request_hash != req_hash {
                return Err(ApiError::unprocessable(
                    "idempotency_key_reused",
                    "this Idempotency-Key was used with a different request",
                ));
            }
            match (row.status, row.body) {
                (Some(status), Some(b)) => {
                    let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
                    let mut r = (status, [("content-type", "application/json")], b).into_response();
                    r.headers_mut()
                        .insert("idempotent-replayed", HeaderValue::from_static("true"));
                    Ok(r)
                }
                _ => Err(ApiError::conflict(
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still being processed",
                )),
            }
        }
        IdemClaim::Claimed => match identify_inner(&st, &dev, &body).await {
            Ok((status, v)) => {
                st.store
                    .idem_finish(&scope, &key, i64::from(status.as_u16()), &v.to_string())
                    .await?;
                Ok(json_status(status, v))
            }
            Err(e) if e.status.is_client_error() => {
                // Validation or capture refusal: nothing happened, the key may be used again.
                st.store.idem_release(&scope, &key).await?;
                Err(e)
            }
            Err(e) => {
                st.store
                    .idem_finish(
                        &scope,
                        &key,
                        i64::from(e.status.as_u16()),
                        &e.body().to_string(),
                    )
                    .await?;
                Err(e)
            }
        },
    }
}

async fn identify_inner(
    st: &AppState,
    dev: &Device,
    body: &[u8],
) -> ApiResult<(StatusCode, Value)> {
    let req: IdentifyBody = parse_json(body)?;
    let purpose = req.purpose.as_str();
    if !PURPOSES.contains(&purpose) {
        return Err(ApiError::unprocessable(
            "bad_purpose",
            format!("purpose must be one of {}", PURPOSES.join(", ")),
        ));
    }
    let (amount, currency) = if purpose == "payment" {
        let amount = req.amount.filter(|a| *a > 0).ok_or_else(|| {
            ApiError::unprocessable(
                "bad_amount",
                "payment needs a positive amount in minor units",
            )
        })?;
        let currency = req
            .currency
            .as_deref()
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()))
            .map(|c| c.to_ascii_uppercase())
            .ok_or_else(|| {
                ApiError::unprocessable("bad_currency", "payment needs an ISO 4217 currency")
            })?;
        (amount, currency)
    } else {
        (0, String::new())
    };
    let (_, probe) = extract(st, req.capture, Some(Hand::Unknown)).await?;
    let bio = st.bio.clone();
    let hit = tokio::task::spawn_blocking(move || bio.search(&probe))
        .await
        .map_err(ApiError::internal)??;
    let now = st.now();
    let mut ev = EventRow {
        id: new_id("evt"),
        tenant_id: dev.tenant_id.clone(),
        person_id: None,
        device_id: Some(dev.id.clone()),
        site_id: Some(dev.site_id.clone()),
        purpose: purpose.to_string(),
        outcome: "no_match".into(),
        detail: "{}".into(),
        created_ms: now,
    };
    let mut detail = json!({});
    if purpose == "payment" {
        detail = json!({"amount": amount, "currency": currency});
    }
    if let Some(door) = &req.door {
        detail["door"] = json!(door.chars().take(64).collect::<String>());
    }
    let person = match &hit {
        Some(h) => st.store.palm_owner(&h.palm_id).await?,
        None => None,
    };
    if let (Some(h), Some(pid)) = (&hit, &person) {
        st.store.touch_palm(&h.palm_id, now).await?;
        ev.person_id = Some(pid.clone());
        let consented = st
            .store
            .consents_of(pid)
            .await?
            .into_iter()
            .any(|(p, g)| p == purpose && g);
        if !consented {
            ev.outcome = "no_consent".into();
        } else {
            match purpose {
                "payment" => {
                    let card = st
                        .store
                        .cards_of(pid)
                        .await?
                        .into_iter()
                        .find(|c| c.is_default);
                    match card {
                        None => {
                            ev.outcome = "declined".into();
                            detail["reason"] = json!("no_card");
                        }
                        Some(c) => {
                            let k = st
                                .store
                                .get_data_key(&c.token)
                                .await?
                                .ok_or_else(|| ApiError::internal("card key missing"))?;
                            let pan = st.keys.open(
                                &c.ciphertext,
                                &crate::crypto::WrappedKey {
                                    kek_id: k.kek_id,
                                    wrapped: k.wrapped,
                                },
                                &c.token,
                            )?;
                            let pan = std::str::from_utf8(&pan).map_err(ApiError::internal)?;
                            let res = st.processor.authorize(&PaymentRequest {
                                pan,
                                amount,
                                currency: &currency,
                                merchant: &dev.tenant_id,
                            });
                            detail["card"] =
                                json!({"token": c.token, "brand": c.brand, "last4": c.last4});
                            match res {
                                Authorization::Authorized { id } => {
                                    ev.outcome = "authorized".into();
                                    detail["authorization_id"] = json!(id);
                                }
                                Authorization::Declined { reason } => {
                                    ev.outcome = "declined".into();
                                    detail["reason"] = json!(reason);
                                }
                            }
                        }
                    }
                }
                "entry" => match st.store.get_badge(pid, &dev.tenant_id).await? {
                    Some(n) => {
                        ev.outcome = "granted".into();
                        detail["badge_number"] = json!(n);
                    }
                    None => {
                        ev.outcome = "denied".into();
                        detail["reason"] = json!("no_badge");
                    }
                },
                "loyalty" => {
                    let link = st
                        .store
                        .loyalty_of(pid)
                        .await?
                        .into_iter()
                        .find(|(t, _)| t == &dev.tenant_id);
                    match link {
                        Some((_, l)) => {
                            ev.outcome = "linked".into();
                            detail["loyalty_id"] = json!(l);
                        }
                        None => ev.outcome = "not_linked".into(),
                    }
                }
                _ => {
                    // age: yes/no answers only, never the birth date.
                    let p = st.store.get_person(pid).await?;
                    match p
                        .and_then(|p| p.birth_date)
                        .and_then(|b| chrono::NaiveDate::parse_from_str(&b, "%Y-%m-%d").ok())
                    {
                        Some(b) => {
                            ev.outcome = "verified".into();
                            let today = chrono::DateTime::from_timestamp_millis(now)
                                .map(|t| t.date_naive())
                                .unwrap_or_default();
                            for years in params::AGE_THRESHOLDS {
                                let over = b
                                    .checked_add_months(chrono::Months::new(12 * years))
                                    .is_some_and(|d| d <= today);
                                detail[format!("over_{years}")] = json!(over);
                            }
                        }
                        None => ev.outcome = "not_verified".into(),
                    }
                }
            }
        }
    }
    ev.detail = detail.to_string();
    st.store.insert_event(&ev).await?;
    st.audit(
        &format!("device:{}", dev.id),
        Some(&dev.tenant_id),
        "identify",
        &ev.id,
        json!({"purpose": purpose, "outcome": ev.outcome}),
    )
    .await?;
    crate::webhook::dispatch(st, &ev).await;
    let mut out = json!({"event_id": ev.id, "purpose": purpose, "outcome": ev.outcome, "matched": ev.person_id.is_some()});
    if let Value::Object(m) = detail {
        for (k, v) in m {
            out[k] = v;
        }
    }
    Ok((StatusCode::OK, out))
}
