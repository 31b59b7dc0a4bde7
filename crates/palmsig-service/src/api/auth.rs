//! Authentication of the four kinds of callers, and the OAuth2 token endpoint.
use super::{parse_form, parse_json};
use crate::crypto::{ct_eq, hash_secret, random_token};
use crate::error::{ApiError, ApiResult};
use crate::params;
use crate::signing::{canonical, DEVICE_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::state::AppState;
use crate::store::{AccessToken, ApiClient, Device};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, Uri};
use axum::Json;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use crate::ops::SESSION_COOKIE;

/// All scopes a tenant client can hold (`clients`: revoke the tenant's API clients).
pub(crate) const SCOPES: [&str; 6] = ["sites", "devices", "webhooks", "events", "audit", "clients"];

fn rate_limit(st: &AppState, client: &str) -> ApiResult<()> {
    st.limiter
        .check(client, st.now(), st.config.rate_burst, st.config.rate_per_s)
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry later",
            )
        })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The operator (admin token).
pub(crate) fn operator(st: &AppState, headers: &HeaderMap) -> ApiResult<()> {
    let t = bearer(headers)
        .ok_or_else(|| ApiError::unauthorized("missing_token", "operator token required"))?;
    if st.config.admin_token.is_empty() || !ct_eq(t.as_bytes(), st.config.admin_token.as_bytes()) {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "not the operator token",
        ));
    }
    Ok(())
}

/// An authenticated tenant API client.
#[derive(Debug, Clone)]
pub(crate) struct TenantCtx {
    pub tenant_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl TenantCtx {
    pub(crate) fn require(&self, scope: &str) -> ApiResult<()> {
        if self.scopes.iter().any(|s| s == scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "insufficient_scope",
                format!("this token lacks the `{scope}` scope"),
            ))
        }
    }
    pub(crate) fn actor(&self) -> String {
        format!("client:{}", self.client_id)
    }
    /// A resource of another tenant: 403.
    pub(crate) fn own(&self, tenant_id: &str, what: &str) -> ApiResult<()> {
        if tenant_id == self.tenant_id {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "wrong_tenant",
                format!("this {what} belongs to another tenant"),
            ))
        }
    }
}

/// A tenant client by its Bearer access token.
pub(crate) async fn tenant(st: &AppState, headers: &HeaderMap) -> ApiResult<TenantCtx> {
    let t = bearer(headers)
        .ok_or_else(|| ApiError::unauthorized("missing_token", "Bearer access token required"))?;
    let row = st
        .store
        .get_token(&hash_secret(&[t]))
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "unknown access token"))?;
    if row.expires_ms <= st.now() {
        return Err(ApiError::unauthorized(
            "token_expired",
            "the access token has expired",
        ));
    }
    // Revocation deletes a client's tokens; this also catches one issued while it was revoked.
    let client = st.store.get_client(&row.client_id).await?;
    if client.is_none_or(|c| c.revoked_ms.is_some()) {
        return Err(ApiError::unauthorized(
            "token_revoked",
            "the API client of this token was revoked",
        ));
    }
    rate_limit(st, &row.client_id)?;
    Ok(TenantCtx {
        tenant_id: row.tenant_id,
        client_id: row.client_id,
        scopes: row.scopes.split_whitespace().map(str::to_string).collect(),
    })
}

#[derive(Debug, serde::Deserialize)]
struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: Option<String>,
}

/// The token request from a form or JSON body, with HTTP Basic credentials taking precedence.
fn token_request(headers: &HeaderMap, body: &[u8]) -> ApiResult<TokenRequest> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let mut req: TokenRequest = if is_json {
        parse_json(body)?
    } else {
        parse_form(body)?
    };
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let malformed = || ApiError::unauthorized("invalid_client", "malformed Basic credentials");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(malformed)?;
        let (id, secret) = raw.split_once(':').ok_or_else(malformed)?;
        req.client_id = Some(id.to_string());
        req.client_secret = Some(secret.to_string());
    }
    if req.grant_type.as_deref() != Some("client_credentials") {
        return Err(ApiError::bad_request(
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        ));
    }
    Ok(req)
}

/// The active client with these credentials, or 401 `invalid_client`.
async fn authenticate_client(st: &AppState, req: &TokenRequest) -> ApiResult<ApiClient> {
    let (Some(id), Some(secret)) = (&req.client_id, &req.client_secret) else {
        return Err(ApiError::unauthorized(
            "invalid_client",
            "client_id and client_secret are required",
        ));
    };
    let client = st.store.get_client(id).await?;
    let Some(client) =
        client.filter(|c| ct_eq(c.secret_hash.as_bytes(), hash_secret(&[secret]).as_bytes()))
    else {
        return Err(ApiError::unauthorized(
            "invalid_client",
            "unknown client or wrong secret",
        ));
    };
    if client.revoked_ms.is_some() {
        return Err(ApiError::unauthorized(
            "invalid_client",
            "this client was revoked",
        ));
    }
    Ok(client)
}

/// The scopes granted: those asked (each allowed to the client), or all allowed.
fn granted_scopes(client: &ApiClient, asked: Option<&str>) -> ApiResult<String> {
    let allowed: Vec<&str> = client.scopes.split_whitespace().collect();
    match asked {
        None | Some("") => Ok(allowed.join(" ")),
        Some(s) => {
            let asked: Vec<&str> = s.split_whitespace().collect();
            if let Some(bad) = asked.iter().find(|a| !allowed.contains(a)) {
                return Err(ApiError::bad_request(
                    "invalid_scope",
                    format!("scope `{bad}` is not allowed for this client"),
                ));
            }
            Ok(asked.join(" "))
        }
    }
}

/// `POST /v1/oauth/token` — OAuth2 client-credentials grant (RFC 6749 §4.4). Accepts a form or
/// JSON body; client credentials in the body or as HTTP Basic.
pub(crate) async fn token(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let req = token_request(&headers, &body)?;
    let client = authenticate_client(&st, &req).await?;
    rate_limit(&st, &client.id)?;
    let scope = granted_scopes(&client, req.scope.as_deref())?;
    let token = random_token("at");
    st.store
        .insert_token(&AccessToken {
            token_hash: hash_secret(&[&token]),
            client_id: client.id.clone(),
            tenant_id: client.tenant_id.clone(),
            scopes: scope.clone(),
            expires_ms: st.now() + params::ACCESS_TOKEN_TTL_S * 1000,
        })
        .await?;
    st.audit(
        &format!("client:{}", client.id),
        Some(&client.tenant_id),
        "token.issue",
        &client.id,
        serde_json::json!({ "scope": scope }),
    )
    .await?;
    Ok(Json(serde_json::json!({
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": params::ACCESS_TOKEN_TTL_S,
        "scope": scope,
    })))
}

/// A request signed by an activated, unrevoked device (see [`device`]), with the raw body it
/// signed. Extract it last in a handler (it consumes the body); refusals are 401 in the one error
/// shape, an over-long body 413.
#[derive(Debug)]
pub(crate) struct SignedDevice {
    /// The device.
    pub dev: Device,
    /// The body as signed.
    pub body: Bytes,
    /// The request headers (e.g. `Idempotency-Key`).
    pub headers: HeaderMap,
    /// Method.
    pub method: Method,
    /// The URI as sent (before any nesting rewrote it).
    pub uri: Uri,
}

impl axum::extract::FromRequest<AppState> for SignedDevice {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, st: &AppState) -> ApiResult<Self> {
        let uri = req
            .extensions()
            .get::<axum::extract::OriginalUri>()
            .map(|u| u.0.clone())
            .unwrap_or_else(|| req.uri().clone());
        let (method, headers) = (req.method().clone(), req.headers().clone());
        let body = Bytes::from_request(req, st).await.map_err(|r| {
            let status = r.status();
            let code = if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                "payload_too_large"
            } else {
                "bad_body"
            };
            ApiError::new(status, code, r.body_text())
        })?;
        let dev = device(st, &method, &uri, &headers, &body).await?;
        Ok(SignedDevice {
            dev,
            body,
            headers,
            method,
            uri,
        })
    }
}

/// A device request: check device, timestamp, signature, then the nonce (after the signature so
/// nobody can burn a device's nonces), and record the sighting.
pub(crate) async fn device(
    st: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Device> {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let unauth = |code: &str, msg: &str| ApiError::unauthorized(code, msg.to_string());
    let device_id = h(DEVICE_HEADER)
        .ok_or_else(|| unauth("missing_signature", "signed device request required"))?;
    let ts: i64 = h(TIMESTAMP_HEADER)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| unauth("bad_timestamp", "missing or malformed timestamp"))?;
    let nonce = h(NONCE_HEADER)
        .filter(|n| !n.is_empty() && n.len() <= 64)
        .ok_or_else(|| unauth("bad_nonce", "missing or malformed nonce"))?;
    let sig = h(SIGNATURE_HEADER)
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|b| Signature::from_slice(&b).ok())
        .ok_or_else(|| unauth("bad_signature", "missing or malformed signature"))?;
    let dev = st
        .store
        .get_device(device_id)
        .await?
        .ok_or_else(|| unauth("unknown_device", "unknown device"))?;
    let key = dev
        .public_key
        .as_deref()
        .and_then(|k| <[u8; 32]>::try_from(k).ok())
        .and_then(|k| VerifyingKey::from_bytes(&k).ok())
        .ok_or_else(|| unauth("device_not_activated", "device is not activated"))?;
    let now = st.now();
    if (now - ts).abs() > params::SIGNATURE_MAX_SKEW_MS {
        return Err(unauth(
            "stale_timestamp",
            "request timestamp is outside the allowed window",
        ));
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or(uri.path());
    key.verify(
        canonical(method.as_str(), path, ts, nonce, body).as_bytes(),
        &sig,
    )
    .map_err(|_| unauth("bad_signature", "signature does not verify"))?;
    if dev.revoked_ms.is_some() {
        return Err(unauth(
            "device_revoked",
            "this device was revoked by its tenant",
        ));
    }
    if !st.store.insert_nonce(&dev.id, nonce, ts).await? {
        return Err(unauth("replayed_nonce", "this nonce was already used"));
    }
    rate_limit(st, &dev.id)?;
    st.store.touch_device(&dev.id, None, now).await?;
    Ok(dev)
}

/// The person of a portal session cookie.
pub(crate) async fn person(st: &AppState, headers: &HeaderMap) -> ApiResult<String> {
    let token = session_token(headers)
        .ok_or_else(|| ApiError::unauthorized("no_session", "log in first"))?;
    let pid = st
        .store
        .session_person(&hash_secret(&[&token]), st.now())
        .await?
        .ok_or_else(|| ApiError::unauthorized("session_expired", "session unknown or expired"))?;
    rate_limit(st, &pid)?;
    Ok(pid)
}

pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == SESSION_COOKIE).then(|| v.to_string())
        })
}
