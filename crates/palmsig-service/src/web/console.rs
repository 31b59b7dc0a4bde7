//! `/console`: a tenant signs in with its API client credentials (an OAuth2 access token is
//! obtained and kept server-side), an operator with the admin token. Tenant tabs: sites,
//! devices (health, activation codes), API client, webhooks with the delivery log, transactions,
//! entries. Operator tabs: tenants (and their API clients), audit, system (key status, gallery
//! size, live identify latency from the metrics).
use super::html::{confirm, esc, layout, short_id, table, time, url_param, Banner, Section};
use super::{cookie, field, form, page_response, redirect, session_cookie, Auth, PageResult, Web};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::fmt::Write;

const COOKIE: &str = "palmsig_console";
/// Rows per page of the lists.
const PAGE: i64 = 25;
/// A device seen within this long is shown as online (ms).
const ONLINE_MS: i64 = 5 * 60 * 1000;

/// Who is signed in to the console.
#[derive(Debug, Clone)]
pub(crate) enum ConsoleSession {
    /// A tenant's API client (access token).
    Tenant {
        token: String,
        client_id: String,
        scopes: String,
    },
    /// The operator (admin token).
    Operator { token: String },
}

pub(super) fn routes() -> Router<Web> {
    Router::new()
        .route("/console", get(index))
        .route("/console/login", post(login))
        .route("/console/logout", post(logout))
        .route("/console/system.json", get(system_json))
        .route("/console/devices/revoke", get(confirm_revoke).post(revoke))
        .route("/console/{tab}", get(tab).post(action))
}

fn session(w: &Web, h: &HeaderMap) -> Option<(String, ConsoleSession)> {
    let id = cookie(h, COOKIE)?;
    let s = w.consoles.get(&id, w.st.now())?;
    Some((id, s))
}

/// The sign-in page; `client_id` refills the tenant form after a wrong secret.
fn signed_out(banner: Banner, client_id: &str) -> Response {
    let body = format!(
        r#"{}<div class="two">
<section class="panel" aria-labelledby="tenant-h"><h2 id="tenant-h">Store / tenant</h2>
<form method="post" action="/console/login" class="stack"><input type="hidden" name="kind" value="tenant">
<label for="client-id">API client id</label><input id="client-id" name="client_id" autocomplete="username" value="{cid}" required>
<label for="client-secret">Client secret</label><input id="client-secret" name="client_secret" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></section>
<section class="panel" aria-labelledby="op-h"><h2 id="op-h">Operator</h2>
<form method="post" action="/console/login" class="stack"><input type="hidden" name="kind" value="operator">
<label for="admin-token">Admin token</label><input id="admin-token" name="admin_token" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></section></div>"#,
        banner.html(),
        cid = esc(client_id),
    );
    page_response(StatusCode::OK, layout("Console", Section::Console, &body))
}

async fn index(State(w): State<Web>, headers: HeaderMap) -> PageResult {
    match session(&w, &headers) {
        None => Ok(signed_out(Banner::None, "")),
        Some((_, ConsoleSession::Tenant { .. })) => Ok(redirect("/console/devices", &[])),
        Some((_, ConsoleSession::Operator { .. })) => Ok(redirect("/console/tenants", &[])),
    }
}

async fn login(State(w): State<Web>, body: Bytes) -> PageResult {
    let Some(f) = form(&body) else {
        return Ok(signed_out(
            Banner::Err("The form could not be read.".into()),
            "",
        ));
    };
    let (s, to) = if field(&f, "kind") == "operator" {
        let token = field(&f, "admin_token").to_string();
        let r = w
            .api(
                Method::GET,
                "/v1/admin/tenants?limit=1",
                Auth::Bearer(&token),
                None,
            )
            .await?;
        if !r.ok() {
            return Ok(signed_out(
                Banner::Field("admin-token", "That is not the operator token.".into()),
                "",
            ));
        }
        (ConsoleSession::Operator { token }, "/console/tenants")
    } else {
        let r = w
            .api(
                Method::POST,
                "/v1/oauth/token",
                Auth::None,
                Some(&json!({"grant_type": "client_credentials", "client_id": field(&f, "client_id"), "client_secret": field(&f, "client_secret")})),
            )
            .await?;
        if !r.ok() {
            return Ok(signed_out(
                Banner::Field(
                    "client-secret",
                    "Unknown client id or wrong secret. Check both and type the secret again."
                        .into(),
                ),
                field(&f, "client_id"),
            ));
        }
        (
            ConsoleSession::Tenant {
                token: r.body["access_token"].as_str().unwrap_or("").to_string(),
                client_id: field(&f, "client_id").to_string(),
                scopes: r.body["scope"].as_str().unwrap_or("").to_string(),
            },
            "/console/devices",
        )
    };
    let id = crate::crypto::random_token("con");
    w.consoles.put(&id, s, w.st.now());
    Ok(redirect(
        to,
        &[session_cookie(&w.st, COOKIE, &id, "/console")],
    ))
}

async fn logout(State(w): State<Web>, headers: HeaderMap) -> PageResult {
    if let Some((id, _)) = session(&w, &headers) {
        w.consoles.remove(&id);
    }
    Ok(redirect(
        "/console",
        &[session_cookie(&w.st, COOKIE, "", "/console")],
    ))
}

const TENANT_TABS: [(&str, &str); 6] = [
    ("sites", "Sites"),
    ("devices", "Devices"),
    ("clients", "API client"),
    ("webhooks", "Webhooks"),
    ("transactions", "Transactions"),
    ("entries", "Entries"),
];
const OPERATOR_TABS: [(&str, &str); 3] = [
    ("tenants", "Tenants"),
    ("audit", "Audit"),
    ("system", "System"),
];

fn frame(s: &ConsoleSession, current: &str, banner: &Banner, content: &str) -> Response {
    let (tabs, who) = match s {
        ConsoleSession::Tenant { client_id, .. } => (
            &TENANT_TABS[..],
            format!("API client <code>{}</code>", esc(client_id)),
        ),
        ConsoleSession::Operator { .. } => (&OPERATOR_TABS[..], "Operator".to_string()),
    };
    let mut nav = String::new();
    for (id, label) in tabs {
        let cur = if *id == current {
            r#" aria-current="page""#
        } else {
            ""
        };
        let _ = write!(nav, r#"<a href="/console/{id}"{cur}>{label}</a>"#);
    }
    let body = format!(
        r#"<div class="who"><p>Signed in: {who}</p><form method="post" action="/console/logout"><button class="secondary" type="submit">Sign out</button></form></div>
<nav class="tabs" aria-label="Console sections">{nav}</nav>{}{content}"#,
        banner.html()
    );
    page_response(StatusCode::OK, layout("Console", Section::Console, &body))
}

#[derive(serde::Deserialize)]
pub(super) struct CursorQuery {
    cursor: Option<String>,
}

async fn tab(
    State(w): State<Web>,
    headers: HeaderMap,
    Path(tab): Path<String>,
    Query(q): Query<CursorQuery>,
) -> PageResult {
    let Some((_, s)) = session(&w, &headers) else {
        return Ok(signed_out(Banner::None, ""));
    };
    render(&w, &s, &tab, q.cursor.as_deref(), Banner::None, "").await
}

/// A tab's page; `extra` is HTML shown above the tab content (a one-time secret).
async fn render(
    w: &Web,
    s: &ConsoleSession,
    tab: &str,
    cursor: Option<&str>,
    banner: Banner,
    extra: &str,
) -> PageResult {
    let content = match s {
        ConsoleSession::Tenant {
            token,
            scopes,
            client_id,
        } => {
            let auth = Auth::Bearer(token);
            match tab {
                "sites" => sites(w, auth, cursor).await?,
                "devices" => devices(w, auth, cursor).await?,
                "clients" => client_html(client_id, scopes),
                "webhooks" => webhooks(w, token).await?,
                "transactions" => events(w, auth, cursor, "payment", "transactions").await?,
                "entries" => events(w, auth, cursor, "entry", "entries").await?,
                _ => return Ok(redirect("/console/devices", &[])),
            }
        }
        ConsoleSession::Operator { token } => match tab {
            "tenants" => tenants(w, token, cursor).await?,
            "audit" => audit(w, token, cursor).await?,
            "system" => system_html(w),
            _ => return Ok(redirect("/console/tenants", &[])),
        },
    };
    Ok(frame(s, tab, &banner, &format!("{extra}{content}")))
}

/// The list of a paged API endpoint, or the API's refusal as a banner inside the tab.
async fn list(
    w: &Web,
    auth: Auth<'_>,
    path: &str,
    cursor: Option<&str>,
) -> Result<Result<Value, String>, super::PageError> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let p = match cursor {
        Some(c) => format!("{path}{sep}limit={PAGE}&cursor={}", url_param(c)),
        None => format!("{path}{sep}limit={PAGE}"),
    };
    let r = w.api(Method::GET, &p, auth, None).await?;
    Ok(if r.ok() { Ok(r.body) } else { Err(r.message()) })
}

fn pager(tab: &str, v: &Value, paged: bool) -> String {
    let mut nav = String::new();
    if paged {
        let _ = write!(nav, r#"<a href="/console/{tab}">Newest</a>"#);
    }
    if let Some(c) = v["next_cursor"].as_str() {
        let _ = write!(
            nav,
            r#"<a href="/console/{tab}?cursor={}" rel="next">Older</a>"#,
            esc(&url_param(c))
        );
    }
    format!(r#"<nav class="pager" aria-label="Pages">{nav}</nav>"#)
}

fn refused(msg: &str) -> String {
    format!(r#"<p class="banner err" role="alert">{}</p>"#, esc(msg))
}

async fn sites(w: &Web, auth: Auth<'_>, cursor: Option<&str>) -> Result<String, super::PageError> {
    let v = match list(w, auth, "/v1/sites", cursor).await? {
        Ok(v) => v,
        Err(m) => return Ok(refused(&m)),
    };
    let rows: Vec<Vec<String>> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            vec![
                esc(s["name"].as_str().unwrap_or("")),
                short_id(s["id"].as_str().unwrap_or("")),
                time(s["created_ms"].as_i64()),
            ]
        })
        .collect();
    Ok(format!(
        r#"<section class="panel" aria-labelledby="sites-h"><h2 id="sites-h">Sites</h2>{}{}
<form method="post" action="/console/sites" class="grid"><div><label for="site-name">New site name</label><input id="site-name" name="name" maxlength="200" required></div><div class="end"><button type="submit">Add site</button></div></form></section>"#,
        table("Sites", &["Name", "Id", "Created"], &rows, "No site yet."),
        pager("sites", &v, cursor.is_some())
    ))
}

async fn devices(
    w: &Web,
    auth: Auth<'_>,
    cursor: Option<&str>,
) -> Result<String, super::PageError> {
    let token = match &auth {
        Auth::Bearer(t) => t.to_string(),
        _ => String::new(),
    };
    let v = match list(w, auth, "/v1/devices", cursor).await? {
        Ok(v) => v,
        Err(m) => return Ok(refused(&m)),
    };
    let sites = list(w, Auth::Bearer(&token), "/v1/sites", None)
        .await?
        .unwrap_or_default();
    let site_name = |id: &str| {
        sites["data"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == id)
            .and_then(|s| s["name"].as_str())
            .map(esc)
            .unwrap_or_else(|| short_id(id))
    };
    let now = w.st.now();
    let rows: Vec<Vec<String>> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| device_row(d, now, &site_name(d["site_id"].as_str().unwrap_or(""))))
        .collect();
    let mut options = String::new();
    for s in sites["data"].as_array().into_iter().flatten() {
        let _ = write!(
            options,
            r#"<option value="{}">{}</option>"#,
            esc(s["id"].as_str().unwrap_or("")),
            esc(s["name"].as_str().unwrap_or(""))
        );
    }
    let create = if options.is_empty() {
        r#"<p>Add a site first (Sites tab) to register a device.</p>"#.to_string()
    } else {
        format!(
            r#"<form method="post" action="/console/devices" class="grid"><div><label for="device-site">Site</label><select id="device-site" name="site_id">{options}</select></div>
<div><label for="device-name">Device name</label><input id="device-name" name="name" maxlength="200" required></div><div class="end"><button type="submit">Register device</button></div></form>
<p class="hint">A new device gets a one-time activation code (valid 24 h) to type on the scanner.</p>"#
        )
    };
    Ok(format!(
        r#"<section class="panel" aria-labelledby="devices-h"><h2 id="devices-h">Devices</h2>{}{}{create}</section>"#,
        table(
            "Devices and their health",
            &["Name", "Site", "Health", "Last seen", "Version", "Id", ""],
            &rows,
            "No device yet."
        ),
        pager("devices", &v, cursor.is_some())
    ))
}

/// One row of the devices table: names first, the id shortened, revoke behind a confirmation.
fn device_row(d: &Value, now: i64, site: &str) -> Vec<String> {
    let seen = d["last_seen_ms"].as_i64();
    let revoked = d["revoked"].as_bool().unwrap_or(false);
    let health = match (revoked, d["activated"].as_bool().unwrap_or(false), seen) {
        (true, _, _) => r#"<span class="tag warn">revoked</span>"#,
        (_, false, _) => r#"<span class="tag warn">not activated</span>"#,
        (_, true, Some(t)) if now - t <= ONLINE_MS => r#"<span class="tag good">online</span>"#,
        (_, true, Some(_)) => r#"<span class="tag">idle</span>"#,
        (_, true, None) => r#"<span class="tag">never seen</span>"#,
    };
    let id = d["id"].as_str().unwrap_or("");
    let name = esc(d["name"].as_str().unwrap_or(""));
    let revoke = if revoked {
        String::new()
    } else {
        format!(
            r#"<a href="/console/devices/revoke?id={}">Revoke…<span class="visually-hidden"> {name}</span></a>"#,
            esc(&url_param(id))
        )
    };
    vec![
        name.clone(),
        site.to_string(),
        health.to_string(),
        time(seen),
        esc(d["version"].as_str().unwrap_or("—")),
        short_id(id),
        revoke,
    ]
}

#[derive(serde::Deserialize)]
pub(super) struct IdQuery {
    id: Option<String>,
}

/// The confirmation step of revoking a device.
async fn confirm_revoke(
    State(w): State<Web>,
    headers: HeaderMap,
    Query(q): Query<IdQuery>,
) -> PageResult {
    let Some((_, s @ ConsoleSession::Tenant { .. })) = session(&w, &headers) else {
        return Ok(signed_out(
            Banner::Err("Sign in as a store first.".into()),
            "",
        ));
    };
    let id = q.id.unwrap_or_default();
    let ConsoleSession::Tenant { token, .. } = &s else {
        return Ok(redirect("/console", &[]));
    };
    let path = format!("/v1/devices/{}", url_param(&id));
    let r = w.api(Method::GET, &path, Auth::Bearer(token), None).await?;
    if !r.ok() {
        let b = Banner::Err("That device is not one of yours.".into());
        return render(&w, &s, "devices", None, b, "").await;
    }
    let name = r.body["name"].as_str().unwrap_or("");
    let body = confirm(
        &format!("Revoke the device “{name}”?"),
        "The scanner stops working at once: every request it signs is refused. This cannot be undone; a replacement is a new device with a new activation code. Its past payments and entries stay in the lists.",
        "/console/devices/revoke",
        &[("id", &id)],
        "Yes, revoke",
        "/console/devices",
    );
    Ok(frame(&s, "devices", &Banner::None, &body))
}

async fn revoke(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let Some((_, s)) = session(&w, &headers) else {
        return Ok(signed_out(Banner::Err("Sign in first.".into()), ""));
    };
    let ConsoleSession::Tenant { token, .. } = &s else {
        return Ok(redirect("/console", &[]));
    };
    let f = form(&body).unwrap_or_default();
    if field(&f, "confirm") != "yes" {
        let b = Banner::Err("Nothing was revoked: it was not confirmed.".into());
        return render(&w, &s, "devices", None, b, "").await;
    }
    let path = format!("/v1/devices/{}/revoke", url_param(field(&f, "id")));
    let r = w
        .api(Method::POST, &path, Auth::Bearer(token), None)
        .await?;
    let b = if r.ok() {
        Banner::Ok("Device revoked: it can no longer identify anyone.".into())
    } else {
        Banner::Err(r.message())
    };
    render(&w, &s, "devices", None, b, "").await
}

fn client_html(client_id: &str, scopes: &str) -> String {
    let mut tags = String::new();
    for s in scopes.split_whitespace() {
        let _ = write!(tags, r#"<span class="tag">{}</span> "#, esc(s));
    }
    format!(
        r#"<section class="panel" aria-labelledby="client-h"><h2 id="client-h">API client</h2>
<dl class="facts"><dt>Client id</dt><dd><code>{}</code></dd><dt>Granted scopes</dt><dd>{tags}</dd><dt>Token endpoint</dt><dd><code>POST /v1/oauth/token</code> (client credentials)</dd><dt>API reference</dt><dd><a href="/openapi.json">OpenAPI document</a></dd></dl>
<p class="hint">New API clients and secrets are issued by the operator.</p></section>"#,
        esc(client_id)
    )
}

async fn webhooks(w: &Web, token: &str) -> Result<String, super::PageError> {
    let hooks = match list(w, Auth::Bearer(token), "/v1/webhooks", None).await? {
        Ok(v) => v,
        Err(m) => return Ok(refused(&m)),
    };
    let rows: Vec<Vec<String>> = hooks["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            let id = esc(h["id"].as_str().unwrap_or(""));
            vec![
                esc(h["url"].as_str().unwrap_or("")),
                short_id(h["id"].as_str().unwrap_or("")),
                h["active_secrets"].as_i64().unwrap_or(0).to_string(),
                format!(
                    r#"<form method="post" action="/console/webhooks"><input type="hidden" name="op" value="rotate"><input type="hidden" name="id" value="{id}"><button class="secondary" type="submit">Rotate secret</button></form>"#
                ),
            ]
        })
        .collect();
    let dels = list(w, Auth::Bearer(token), "/v1/webhooks/deliveries", None)
        .await?
        .unwrap_or_default();
    let drows: Vec<Vec<String>> = dels["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            vec![
                time(d["created_ms"].as_i64()),
                short_id(d["event_id"].as_str().unwrap_or("")),
                d["attempt"].as_i64().unwrap_or(0).to_string(),
                if d["ok"].as_bool().unwrap_or(false) {
                    r#"<span class="tag good">delivered</span>"#.into()
                } else {
                    format!(
                        r#"<span class="tag warn">failed</span> {}"#,
                        esc(&d["status_code"]
                            .as_i64()
                            .map(|c| c.to_string())
                            .or_else(|| d["error"].as_str().map(str::to_string))
                            .unwrap_or_default())
                    )
                },
            ]
        })
        .collect();
    Ok(format!(
        r#"<section class="panel" aria-labelledby="hooks-h"><h2 id="hooks-h">Webhooks</h2>{}
<form method="post" action="/console/webhooks" class="grid"><input type="hidden" name="op" value="create"><div><label for="hook-url">Endpoint URL</label><input id="hook-url" name="url" type="url" placeholder="https://example.com/palmsig" required></div><div class="end"><button type="submit">Add webhook</button></div></form></section>
<section class="panel" aria-labelledby="deliveries-h"><h2 id="deliveries-h">Delivery log</h2>{}</section>"#,
        table(
            "Webhook endpoints",
            &["URL", "Id", "Active secrets", ""],
            &rows,
            "No webhook yet."
        ),
        table(
            "Latest deliveries",
            &["When", "Event", "Attempt", "Result"],
            &drows,
            "No delivery yet."
        )
    ))
}

async fn events(
    w: &Web,
    auth: Auth<'_>,
    cursor: Option<&str>,
    purpose: &str,
    tab: &str,
) -> Result<String, super::PageError> {
    let v = match list(w, auth, "/v1/events", cursor).await? {
        Ok(v) => v,
        Err(m) => return Ok(refused(&m)),
    };
    let rows: Vec<Vec<String>> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["data"]["purpose"] == purpose)
        .map(|e| {
            vec![
                time(e["created_ms"].as_i64()),
                short_id(e["data"]["device_id"].as_str().unwrap_or("—")),
                super::account::outcome_text(e),
                short_id(e["id"].as_str().unwrap_or("")),
            ]
        })
        .collect();
    let title = if purpose == "payment" {
        "Transactions"
    } else {
        "Entries"
    };
    Ok(format!(
        r#"<section class="panel" aria-labelledby="events-h"><h2 id="events-h">{title}</h2>{}{}</section>"#,
        table(
            title,
            &["When", "Device", "Outcome", "Event"],
            &rows,
            "Nothing on this page."
        ),
        pager(tab, &v, cursor.is_some())
    ))
}

async fn tenants(w: &Web, token: &str, cursor: Option<&str>) -> Result<String, super::PageError> {
    let v = match list(w, Auth::Bearer(token), "/v1/admin/tenants", cursor).await? {
        Ok(v) => v,
        Err(m) => return Ok(refused(&m)),
    };
    let rows: Vec<Vec<String>> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            let id = esc(t["id"].as_str().unwrap_or(""));
            let name = esc(t["name"].as_str().unwrap_or(""));
            vec![
                name.clone(),
                short_id(t["id"].as_str().unwrap_or("")),
                time(t["created_ms"].as_i64()),
                format!(
                    r#"<form method="post" action="/console/tenants"><input type="hidden" name="op" value="client"><input type="hidden" name="tenant_id" value="{id}"><button class="secondary" type="submit" aria-label="New API client for {name}">New API client</button></form>"#
                ),
            ]
        })
        .collect();
    Ok(format!(
        r#"<section class="panel" aria-labelledby="tenants-h"><h2 id="tenants-h">Tenants</h2>{}{}
<form method="post" action="/console/tenants" class="grid"><input type="hidden" name="op" value="create"><div><label for="tenant-name">New tenant name</label><input id="tenant-name" name="name" maxlength="200" required></div><div class="end"><button type="submit">Create tenant</button></div></form></section>"#,
        table(
            "Tenants",
            &["Name", "Id", "Created", ""],
            &rows,
            "No tenant yet."
        ),
        pager("tenants", &v, cursor.is_some())
    ))
}

async fn audit(w: &Web, token: &str, cursor: Option<&str>) -> Result<String, super::PageError> {
    let v = match list(w, Auth::Bearer(token), "/v1/admin/audit", cursor).await? {
        Ok(v) => v,
        Err(m) => return Ok(refused(&m)),
    };
    let rows: Vec<Vec<String>> = v["data"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            vec![
                time(a["ts_ms"].as_i64()),
                esc(a["actor"].as_str().unwrap_or("")),
                esc(a["action"].as_str().unwrap_or("")),
                short_id(a["subject"].as_str().unwrap_or("")),
                short_id(a["tenant_id"].as_str().unwrap_or("—")),
            ]
        })
        .collect();
    Ok(format!(
        r#"<section class="panel" aria-labelledby="audit-h"><h2 id="audit-h">Audit log</h2>{}{}</section>"#,
        table(
            "Audit events, newest first",
            &["When", "Actor", "Action", "Subject", "Tenant"],
            &rows,
            "No audit event."
        ),
        pager("audit", &v, cursor.is_some())
    ))
}

/// Latency of one route from the Prometheus histogram: (count, mean ms, p50 ms, p99 ms), the
/// quantiles as the upper bound of the bucket that holds them.
fn route_latency(metrics: &str, route: &str) -> (u64, f64, Option<f64>, Option<f64>) {
    let sel = format!("{{route=\"{route}\"");
    let mut buckets: Vec<(f64, u64)> = Vec::new();
    let (mut count, mut sum) = (0u64, 0.0f64);
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("palmsig_http_request_duration_seconds") else {
            continue;
        };
        if !rest.contains(&sel) {
            continue;
        }
        let val = line.rsplit(' ').next().unwrap_or("0");
        if rest.starts_with("_bucket") {
            if let Some(le) = rest.split("le=\"").nth(1).and_then(|s| s.split('"').next()) {
                if let (Ok(le), Ok(n)) = (le.parse::<f64>(), val.parse::<u64>()) {
                    buckets.push((le, n));
                }
            }
        } else if rest.starts_with("_count") {
            count = val.parse().unwrap_or(0);
        } else if rest.starts_with("_sum") {
            sum = val.parse().unwrap_or(0.0);
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let q = |p: f64| {
        let need = (p * count as f64).ceil() as u64;
        buckets
            .iter()
            .find(|(_, n)| *n >= need.max(1))
            .map(|(le, _)| le * 1000.0)
    };
    let mean = if count > 0 {
        sum / count as f64 * 1000.0
    } else {
        0.0
    };
    if count == 0 {
        (0, 0.0, None, None)
    } else {
        (count, mean, q(0.5), q(0.99))
    }
}

fn system_stats(w: &Web) -> Value {
    let metrics = w.st.metrics.render();
    let (n, mean, p50, p99) = route_latency(&metrics, "/v1/device/identify");
    json!({
        "gallery_palms": w.st.bio.len(),
        "backend": w.st.store.backend(),
        "active_key": w.st.keys.active_id(),
        "keys": w.st.keys.ids(),
        "calibration": w.st.config.calibration,
        "identify": {"count": n, "mean_ms": (mean * 10.0).round() / 10.0, "p50_le_ms": p50, "p99_le_ms": p99},
    })
}

fn system_html(w: &Web) -> String {
    let s = system_stats(w);
    let le = |v: &Value| {
        v.as_f64()
            .map(|x| format!("≤ {x} ms"))
            .unwrap_or_else(|| "—".into())
    };
    let keys: Vec<String> = s["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|k| k.as_str().map(esc))
        .collect();
    format!(
        r#"<section class="panel" aria-labelledby="sys-h"><h2 id="sys-h">System</h2>
<dl class="facts" id="system-stats" data-live="/console/system.json">
<dt>Storage backend</dt><dd>{}</dd>
<dt>Active key-encryption key</dt><dd><code>{}</code></dd>
<dt>Keys in the key ring</dt><dd>{}</dd>
<dt>Gallery size (palms)</dt><dd data-stat="gallery_palms">{}</dd>
<dt>Score calibration</dt><dd>{}</dd>
<dt>Identify requests</dt><dd data-stat="identify.count">{}</dd>
<dt>Identify latency, mean</dt><dd data-stat="identify.mean_ms">{} ms</dd>
<dt>Identify latency, p50</dt><dd data-stat="identify.p50_le_ms">{}</dd>
<dt>Identify latency, p99</dt><dd data-stat="identify.p99_le_ms">{}</dd>
</dl><p class="hint">Server-side time from <a href="/metrics">/metrics</a> (quantiles are histogram bucket bounds); refreshed every 2 s.</p></section>"#,
        esc(s["backend"].as_str().unwrap_or("")),
        esc(s["active_key"].as_str().unwrap_or("")),
        keys.join(", "),
        s["gallery_palms"],
        esc(s["calibration"].as_str().unwrap_or("")),
        s["identify"]["count"],
        s["identify"]["mean_ms"],
        le(&s["identify"]["p50_le_ms"]),
        le(&s["identify"]["p99_le_ms"]),
    )
}

async fn system_json(State(w): State<Web>, headers: HeaderMap) -> Response {
    match session(&w, &headers) {
        Some((_, ConsoleSession::Operator { .. })) => Json(system_stats(&w)).into_response(),
        _ => crate::error::ApiError::unauthorized("no_session", "operator sign-in required")
            .into_response(),
    }
}

/// The forms of every tab.
async fn action(
    State(w): State<Web>,
    headers: HeaderMap,
    Path(tab): Path<String>,
    body: Bytes,
) -> PageResult {
    let Some((_, s)) = session(&w, &headers) else {
        return Ok(signed_out(Banner::Err("Sign in first.".into()), ""));
    };
    let Some(f) = form(&body) else {
        return render(
            &w,
            &s,
            &tab,
            None,
            Banner::Err("The form could not be read.".into()),
            "",
        )
        .await;
    };
    let fail = |r: &super::Reply| Banner::Err(r.message());
    match (&s, tab.as_str()) {
        (ConsoleSession::Tenant { token, .. }, "sites") => {
            let r = w
                .api(
                    Method::POST,
                    "/v1/sites",
                    Auth::Bearer(token),
                    Some(&json!({"name": field(&f, "name")})),
                )
                .await?;
            let b = if r.ok() {
                Banner::Ok(format!("Site “{}” added.", field(&f, "name")))
            } else {
                Banner::Field("site-name", r.message())
            };
            render(&w, &s, "sites", None, b, "").await
        }
        (ConsoleSession::Tenant { token, .. }, "devices") => {
            let r = w
                .api(
                    Method::POST,
                    "/v1/devices",
                    Auth::Bearer(token),
                    Some(&json!({"site_id": field(&f, "site_id"), "name": field(&f, "name")})),
                )
                .await?;
            if !r.ok() {
                let b = Banner::Field("device-name", r.message());
                return render(&w, &s, "devices", None, b, "").await;
            }
            let code = r.body["activation_code"].as_str().unwrap_or("");
            let extra = format!(
                r#"<section class="panel secret" aria-labelledby="code-h"><h2 id="code-h">Activation code for “{}”</h2>
<p>Type this one-time code on the scanner (or in the <a href="/scanner">scanner simulator</a>). It is shown only now and expires in 24 hours.</p>
<p class="big"><code id="activation-code">{}</code></p></section>"#,
                esc(field(&f, "name")),
                esc(code)
            );
            render(
                &w,
                &s,
                "devices",
                None,
                Banner::Ok("Device registered.".into()),
                &extra,
            )
            .await
        }
        (ConsoleSession::Tenant { token, .. }, "webhooks") => {
            let (r, ok) = if field(&f, "op") == "rotate" {
                let path = format!("/v1/webhooks/{}/rotate", url_param(field(&f, "id")));
                (
                    w.api(Method::POST, &path, Auth::Bearer(token), None)
                        .await?,
                    "New signing secret added; the old one stays valid until you expire it.",
                )
            } else {
                (
                    w.api(
                        Method::POST,
                        "/v1/webhooks",
                        Auth::Bearer(token),
                        Some(&json!({"url": field(&f, "url")})),
                    )
                    .await?,
                    "Webhook added.",
                )
            };
            if !r.ok() {
                return render(&w, &s, "webhooks", None, fail(&r), "").await;
            }
            let extra = match r.body["secret"].as_str() {
                Some(sec) => format!(
                    r#"<section class="panel secret" aria-labelledby="sec-h"><h2 id="sec-h">Signing secret</h2><p>Shown only now: verify the <code>palmsig-signature</code> of deliveries with it.</p><p class="big"><code id="webhook-secret">{}</code></p></section>"#,
                    esc(sec)
                ),
                None => String::new(),
            };
            render(&w, &s, "webhooks", None, Banner::Ok(ok.into()), &extra).await
        }
        (ConsoleSession::Operator { token }, "tenants") => {
            if field(&f, "op") == "client" {
                let tid = field(&f, "tenant_id");
                let path = format!("/v1/admin/tenants/{}/clients", url_param(tid));
                let r = w
                    .api(Method::POST, &path, Auth::Bearer(token), None)
                    .await?;
                if !r.ok() {
                    return render(&w, &s, "tenants", None, fail(&r), "").await;
                }
                let extra = format!(
                    r#"<section class="panel secret" aria-labelledby="cli-h"><h2 id="cli-h">New API client</h2><p>The secret is shown only now. Sign in to the console as this tenant with these credentials.</p>
<dl class="facts"><dt>Client id</dt><dd><code id="new-client-id">{}</code></dd><dt>Client secret</dt><dd><code id="new-client-secret">{}</code></dd></dl></section>"#,
                    esc(r.body["client_id"].as_str().unwrap_or("")),
                    esc(r.body["client_secret"].as_str().unwrap_or(""))
                );
                return render(
                    &w,
                    &s,
                    "tenants",
                    None,
                    Banner::Ok("API client created.".into()),
                    &extra,
                )
                .await;
            }
            let r = w
                .api(
                    Method::POST,
                    "/v1/admin/tenants",
                    Auth::Bearer(token),
                    Some(&json!({"name": field(&f, "name")})),
                )
                .await?;
            let b = if r.ok() {
                Banner::Ok(format!("Tenant “{}” created.", field(&f, "name")))
            } else {
                Banner::Field("tenant-name", r.message())
            };
            render(&w, &s, "tenants", None, b, "").await
        }
        _ => {
            render(
                &w,
                &s,
                &tab,
                None,
                Banner::Err("This action is not available here.".into()),
                "",
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::route_latency;

    #[test]
    fn latency_from_histogram() {
        let m = "palmsig_http_request_duration_seconds_bucket{route=\"/v1/device/identify\",le=\"0.01\"} 1\n\
palmsig_http_request_duration_seconds_bucket{route=\"/v1/device/identify\",le=\"0.05\"} 3\n\
palmsig_http_request_duration_seconds_bucket{route=\"/v1/device/identify\",le=\"0.1\"} 4\n\
palmsig_http_request_duration_seconds_bucket{route=\"/v1/device/identify\",le=\"+Inf\"} 4\n\
palmsig_http_request_duration_seconds_sum{route=\"/v1/device/identify\"} 0.12\n\
palmsig_http_request_duration_seconds_count{route=\"/v1/device/identify\"} 4\n\
palmsig_http_request_duration_seconds_count{route=\"/v1/other\"} 9\n";
        let (n, mean, p50, p99) = route_latency(m, "/v1/device/identify");
        assert_eq!(n, 4);
        assert!((mean - 30.0).abs() < 1e-9);
        assert_eq!(p50, Some(50.0));
        assert_eq!(p99, Some(100.0));
        assert_eq!(route_latency(m, "/nothing").0, 0);
    }
}
