//! Tenant API (Bearer access token): sites, devices, webhooks, events, deliveries, audit.
use super::auth::tenant;
use super::{event_page, page, parse_json, PageQuery};
use crate::crypto::{random_digits, random_token};
use crate::error::{ApiError, ApiResult};
use crate::params;
use crate::state::{new_id, AppState};
use crate::store::{Device, Site, WebhookRow};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

#[derive(serde::Deserialize)]
struct NewSite {
    name: String,
}

pub(crate) async fn create_site(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("sites")?;
    let req: NewSite = parse_json(&body)?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "bad_name",
            "name must be 1-200 characters",
        ));
    }
    let s = Site {
        id: new_id("site"),
        tenant_id: ctx.tenant_id.clone(),
        name: name.to_string(),
        created_ms: st.now(),
    };
    st.store.create_site(&s).await?;
    st.audit(
        &ctx.actor(),
        Some(&ctx.tenant_id),
        "site.create",
        &s.id,
        json!({"name": s.name}),
    )
    .await?;
    Ok(super::json_status(StatusCode::CREATED, json!(s)))
}

pub(crate) async fn list_sites(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("sites")?;
    let (cur, limit) = q.parse()?;
    let items = st
        .store
        .list_sites(&ctx.tenant_id, cur.as_ref(), limit + 1)
        .await?;
    Ok(page(items, limit, |s| (s.created_ms, s.id.clone())))
}

fn device_json(d: &Device) -> Value {
    json!({
        "id": d.id, "tenant_id": d.tenant_id, "site_id": d.site_id, "name": d.name,
        "activated": d.activated_ms.is_some(), "activated_ms": d.activated_ms,
        "last_seen_ms": d.last_seen_ms, "version": d.version, "created_ms": d.created_ms,
        "revoked": d.revoked_ms.is_some(), "revoked_ms": d.revoked_ms,
    })
}

#[derive(serde::Deserialize)]
struct NewDevice {
    site_id: String,
    name: String,
}

pub(crate) async fn create_device(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("devices")?;
    let req: NewDevice = parse_json(&body)?;
    let site = st
        .store
        .get_site(&req.site_id)
        .await?
        .ok_or_else(|| ApiError::not_found("site"))?;
    ctx.own(&site.tenant_id, "site")?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "bad_name",
            "name must be 1-200 characters",
        ));
    }
    // 12 digits, grouped for typing on a kiosk; single use, expires.
    let code = random_digits(12);
    let now = st.now();
    let d = Device {
        id: new_id("dev"),
        tenant_id: ctx.tenant_id.clone(),
        site_id: site.id.clone(),
        name: name.to_string(),
        activation_hash: Some(st.keys.mac_secret("activation", &[&code])),
        activation_expires_ms: now + params::ACTIVATION_CODE_TTL_MS,
        public_key: None,
        activated_ms: None,
        last_seen_ms: None,
        version: None,
        created_ms: now,
        revoked_ms: None,
    };
    st.store.create_device(&d).await?;
    st.audit(
        &ctx.actor(),
        Some(&ctx.tenant_id),
        "device.create",
        &d.id,
        json!({"site_id": d.site_id}),
    )
    .await?;
    let mut v = device_json(&d);
    v["activation_code"] = json!(code);
    v["activation_expires_ms"] = json!(d.activation_expires_ms);
    Ok(super::json_status(StatusCode::CREATED, v))
}

pub(crate) async fn list_devices(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("devices")?;
    let (cur, limit) = q.parse()?;
    let items: Vec<Value> = st
        .store
        .list_devices(&ctx.tenant_id, cur.as_ref(), limit + 1)
        .await?
        .iter()
        .map(device_json)
        .collect();
    Ok(page(items, limit, |d| {
        (
            d["created_ms"].as_i64().unwrap_or(0),
            d["id"].as_str().unwrap_or("").to_string(),
        )
    }))
}

pub(crate) async fn get_device(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("devices")?;
    Ok(Json(device_json(&owned_device(&st, &ctx, &id).await?)))
}

/// The device `id` when it belongs to the caller's tenant (404 when unknown, 403 when another's).
async fn owned_device(st: &AppState, ctx: &super::auth::TenantCtx, id: &str) -> ApiResult<Device> {
    let d = st
        .store
        .get_device(id)
        .await?
        .ok_or_else(|| ApiError::not_found("device"))?;
    ctx.own(&d.tenant_id, "device")?;
    Ok(d)
}

/// `POST /v1/devices/{id}/revoke`: the device's signed requests are refused from now on (401
/// `device_revoked`); idempotent. A replacement scanner is a new device with a new code.
pub(crate) async fn revoke_device(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("devices")?;
    owned_device(&st, &ctx, &id).await?;
    st.store.revoke_device(&id, st.now()).await?;
    st.audit(
        &ctx.actor(),
        Some(&ctx.tenant_id),
        "device.revoke",
        &id,
        json!({}),
    )
    .await?;
    Ok(Json(device_json(&owned_device(&st, &ctx, &id).await?)))
}

/// `POST /v1/clients/{id}/revoke` (scope `clients`): a tenant revokes one of its API clients
/// (a leaked secret); its tokens stop working at once, and it gets no new ones.
pub(crate) async fn revoke_client(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("clients")?;
    let c = st
        .store
        .get_client(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("client"))?;
    ctx.own(&c.tenant_id, "client")?;
    super::admin::revoke(&st, &ctx.actor(), &c).await
}

fn webhook_json(w: &WebhookRow, secrets: usize) -> Value {
    json!({"id": w.id, "url": w.url, "active_secrets": secrets, "created_ms": w.created_ms})
}

#[derive(serde::Deserialize)]
struct NewWebhook {
    url: String,
}

pub(crate) async fn create_webhook(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("webhooks")?;
    let req: NewWebhook = parse_json(&body)?;
    crate::webhook::check_registration(&st, &req.url)
        .await
        .map_err(|e| ApiError::unprocessable("bad_url", e.to_string()))?;
    let secret = random_token("whsec");
    let id = new_id("wh");
    let w = WebhookRow {
        secrets: crate::webhook::seal_secrets(&st, &id, std::slice::from_ref(&secret)).await?,
        id,
        tenant_id: ctx.tenant_id.clone(),
        url: req.url,
        created_ms: st.now(),
    };
    st.store.create_webhook(&w).await?;
    st.audit(
        &ctx.actor(),
        Some(&ctx.tenant_id),
        "webhook.create",
        &w.id,
        json!({"url": w.url}),
    )
    .await?;
    let mut v = webhook_json(&w, 1);
    v["secret"] = json!(secret);
    Ok(super::json_status(StatusCode::CREATED, v))
}

pub(crate) async fn list_webhooks(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("webhooks")?;
    let mut items = Vec::new();
    for w in st.store.webhooks_of(&ctx.tenant_id).await? {
        let n = crate::webhook::open_secrets(&st, &w).await?.len();
        items.push(webhook_json(&w, n));
    }
    Ok(Json(json!({"data": items, "next_cursor": null})))
}

#[derive(serde::Deserialize, Default)]
struct Rotate {
    /// Drop every secret but the newest (end of a rotation).
    #[serde(default)]
    expire_old: bool,
}

/// Add a new signing secret (both old and new sign during the rotation), or with
/// `{"expire_old": true}` keep only the newest.
pub(crate) async fn rotate_webhook(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("webhooks")?;
    let req: Rotate = if body.is_empty() {
        Rotate::default()
    } else {
        parse_json(&body)?
    };
    let w = st
        .store
        .get_webhook(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook"))?;
    ctx.own(&w.tenant_id, "webhook")?;
    let mut secrets = crate::webhook::open_secrets(&st, &w).await?;
    let new_secret = if req.expire_old {
        secrets = secrets.split_off(secrets.len().saturating_sub(1));
        None
    } else {
        let s = random_token("whsec");
        secrets.push(s.clone());
        // At most two secrets sign at once: the one being retired and the new one.
        if secrets.len() > 2 {
            secrets.remove(0);
        }
        Some(s)
    };
    let sealed = crate::webhook::seal_secrets(&st, &id, &secrets).await?;
    st.store.set_webhook_secrets(&id, &sealed).await?;
    st.audit(
        &ctx.actor(),
        Some(&ctx.tenant_id),
        "webhook.rotate",
        &id,
        json!({"expire_old": req.expire_old}),
    )
    .await?;
    Ok(Json(
        json!({"id": id, "secret": new_secret, "active_secrets": secrets.len()}),
    ))
}

pub(crate) async fn deliveries(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("webhooks")?;
    let (cur, limit) = q.parse()?;
    let items = st
        .store
        .deliveries_of(&ctx.tenant_id, cur.as_ref(), limit + 1)
        .await?;
    Ok(page(items, limit, |d| (d.created_ms, d.id.clone())))
}

pub(crate) async fn events(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("events")?;
    let (cur, limit) = q.parse()?;
    let rows = st
        .store
        .events_of_tenant(&ctx.tenant_id, cur.as_ref(), limit + 1)
        .await?;
    Ok(event_page(&rows, limit))
}

pub(crate) async fn audit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> ApiResult<Json<Value>> {
    let ctx = tenant(&st, &headers).await?;
    ctx.require("audit")?;
    let (cur, limit) = q.parse()?;
    let items = st
        .store
        .list_audit(Some(&ctx.tenant_id), cur.as_ref(), limit + 1)
        .await?;
    Ok(page(items, limit, |a| (a.ts_ms, a.id.clone())))
}
