//! Operator API: tenants, their API clients, the global audit log, retention.
use super::auth::{operator, SCOPES};
use super::{page, parse_json, PageQuery};
use crate::crypto::{hash_secret, random_token};
use crate::error::{ApiError, ApiResult};
use crate::state::{new_id, AppState};
use crate::store::{ApiClient, Tenant};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

#[derive(serde::Deserialize)]
struct NewTenant {
    name: String,
}

pub(crate) async fn create_tenant(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    operator(&st, &headers)?;
    let req: NewTenant = parse_json(&body)?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::unprocessable(
            "bad_name",
            "name must be 1-200 characters",
        ));
    }
    let t = Tenant {
        id: new_id("ten"),
        name: name.to_string(),
        created_ms: st.now(),
    };
    st.store.create_tenant(&t).await?;
    st.audit(
        "operator",
        Some(&t.id),
        "tenant.create",
        &t.id,
        json!({"name": t.name}),
    )
    .await?;
    Ok(super::json_status(StatusCode::CREATED, json!(t)))
}

pub(crate) async fn list_tenants(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    operator(&st, &headers)?;
    let (cur, limit) = q.parse()?;
    let items = st.store.list_tenants(cur.as_ref(), limit + 1).await?;
    Ok(page(items, limit, |t| (t.created_ms, t.id.clone())))
}

#[derive(serde::Deserialize)]
struct NewClient {
    scopes: Option<Vec<String>>,
}

pub(crate) async fn create_client(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(tenant_id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    operator(&st, &headers)?;
    let req: NewClient = if body.is_empty() {
        NewClient { scopes: None }
    } else {
        parse_json(&body)?
    };
    st.store
        .get_tenant(&tenant_id)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let scopes = req
        .scopes
        .unwrap_or_else(|| SCOPES.iter().map(|s| s.to_string()).collect());
    if let Some(bad) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(ApiError::unprocessable(
            "bad_scope",
            format!("unknown scope `{bad}`; known: {}", SCOPES.join(" ")),
        ));
    }
    let (client_id, secret) = (new_id("cli"), random_token("cs"));
    st.store
        .create_client(&ApiClient {
            id: client_id.clone(),
            tenant_id: tenant_id.clone(),
            secret_hash: hash_secret(&[&secret]),
            scopes: scopes.join(" "),
            created_ms: st.now(),
            revoked_ms: None,
        })
        .await?;
    st.audit(
        "operator",
        Some(&tenant_id),
        "client.create",
        &client_id,
        json!({"scopes": scopes}),
    )
    .await?;
    Ok(super::json_status(
        StatusCode::CREATED,
        json!({"client_id": client_id, "client_secret": secret, "tenant_id": tenant_id, "scopes": scopes}),
    ))
}

/// Revoke `c` (its tokens are deleted in the same transaction) and audit it as `actor`.
pub(crate) async fn revoke(
    st: &AppState,
    actor: &str,
    c: &ApiClient,
) -> ApiResult<axum::Json<serde_json::Value>> {
    st.store.revoke_client(&c.id, st.now()).await?;
    st.audit(actor, Some(&c.tenant_id), "client.revoke", &c.id, json!({}))
        .await?;
    let revoked_ms = st.store.get_client(&c.id).await?.and_then(|c| c.revoked_ms);
    Ok(axum::Json(
        json!({"client_id": c.id, "tenant_id": c.tenant_id, "revoked": true, "revoked_ms": revoked_ms}),
    ))
}

/// `POST /v1/admin/clients/{id}/revoke`: the operator revokes a tenant's API client.
pub(crate) async fn revoke_client(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    operator(&st, &headers)?;
    let c = st
        .store
        .get_client(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("client"))?;
    revoke(&st, "operator", &c).await
}

pub(crate) async fn audit(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    operator(&st, &headers)?;
    let (cur, limit) = q.parse()?;
    let items = st.store.list_audit(None, cur.as_ref(), limit + 1).await?;
    Ok(page(items, limit, |a| (a.ts_ms, a.id.clone())))
}

pub(crate) async fn run_retention(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<axum::Json<serde_json::Value>> {
    operator(&st, &headers)?;
    let ids = crate::ops::retention::run(&st).await?;
    Ok(axum::Json(json!({"deleted_palms": ids.len()})))
}
