//! `/account`: the person portal. Sign in with phone + one-time code (the JSON API's session
//! cookie is passed through to the browser), then history with paging, cards, loyalty links,
//! consents, and deleting palm data or the whole account, each behind a confirmation page.
use super::html::{confirm, esc, expiry, layout, money, table, time, url_param, Banner, Section};
use super::words::{say, PURPOSES};
use super::{dev_code_html, field, form, page_response, redirect, Auth, PageResult, Reply, Web};
use crate::SESSION_COOKIE;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write;

/// Rows of history per page.
const HISTORY_PAGE: i64 = 10;

pub(super) fn routes() -> Router<Web> {
    Router::new()
        .route("/account", get(show))
        .route("/account/code", post(send_code))
        .route("/account/login", post(login))
        .route("/account/logout", post(logout))
        .route("/account/cards", post(add_card))
        .route("/account/cards/default", post(default_card))
        .route("/account/cards/remove", post(remove_card))
        .route("/account/consents", post(consents))
        .route("/account/loyalty", post(link_loyalty))
        .route("/account/loyalty/remove", post(unlink_loyalty))
        .route("/account/delete", get(confirm_delete).post(delete))
}

fn browser_cookie(h: &HeaderMap) -> Option<&str> {
    h.get(header::COOKIE).and_then(|v| v.to_str().ok())
}

/// The signed-out page: step 1 (phone) or step 2 (code for `phone`).
fn sign_in(w: &Web, phone: Option<&str>, banner: Banner) -> Response {
    let mut body = banner.html();
    match phone {
        None => body.push_str(
            r#"<section class="panel"><h2>Sign in</h2>
<p>We send a one-time code to the phone number you enrolled with.</p>
<form method="post" action="/account/code" class="stack">
<label for="phone">Phone number (international form)</label>
<input id="phone" name="phone" type="tel" autocomplete="tel" placeholder="+41 79 123 45 67" required>
<button type="submit">Send code</button>
</form></section>"#,
        ),
        Some(p) => {
            let _ = write!(
                body,
                r#"<section class="panel"><h2>Enter your code</h2>
<p>A code was sent to <strong>{pe}</strong> if it is enrolled.</p>{dev}
<form method="post" action="/account/login" class="stack">
<input type="hidden" name="phone" value="{pe}">
<label for="code">One-time code</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">Sign in</button>
</form>
<div class="row"><form method="post" action="/account/code"><input type="hidden" name="phone" value="{pe}"><button class="link" type="submit">Send a new code</button></form>
<a href="/account" id="different-number">Use a different number</a></div>
</section>"#,
                pe = esc(p),
                dev = dev_code_html(&w.st, p),
            );
        }
    }
    page_response(StatusCode::OK, layout("My palm", Section::Account, &body))
}

async fn send_code(State(w): State<Web>, body: Bytes) -> PageResult {
    let Some(f) = form(&body) else {
        return Ok(sign_in(
            &w,
            None,
            Banner::Err("The form could not be read.".into()),
        ));
    };
    let phone = field(&f, "phone");
    let r = w
        .api(
            Method::POST,
            "/v1/portal/otp",
            Auth::None,
            Some(&json!({"phone": phone})),
        )
        .await?;
    if !r.ok() {
        return Ok(sign_in(&w, None, Banner::Field("phone", r.message())));
    }
    let p = crate::otp::normalize_e164(phone).unwrap_or_else(|| phone.to_string());
    Ok(sign_in(&w, Some(&p), Banner::None))
}

async fn login(State(w): State<Web>, body: Bytes) -> PageResult {
    let Some(f) = form(&body) else {
        return Ok(sign_in(
            &w,
            None,
            Banner::Err("The form could not be read.".into()),
        ));
    };
    let (phone, code) = (field(&f, "phone"), field(&f, "code"));
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(sign_in(
            &w,
            Some(phone),
            Banner::Field("code", "The code is the 6 digits we sent you.".into()),
        ));
    }
    let r = w
        .api(
            Method::POST,
            "/v1/portal/session",
            Auth::None,
            Some(&json!({"phone": phone, "code": code})),
        )
        .await?;
    if !r.ok() {
        let msg = if r.status == StatusCode::NOT_FOUND {
            "No palm is enrolled with this phone number.".to_string()
        } else {
            r.message()
        };
        return Ok(sign_in(&w, Some(phone), Banner::Field("code", msg)));
    }
    let cookies: Vec<String> = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    Ok(redirect("/account", &cookies))
}

async fn logout(State(w): State<Web>, headers: HeaderMap) -> PageResult {
    let r = w
        .api(
            Method::DELETE,
            "/v1/portal/session",
            Auth::Cookie(browser_cookie(&headers)),
            None,
        )
        .await?;
    let cookies: Vec<String> = r
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    Ok(redirect("/account", &cookies))
}

#[derive(serde::Deserialize)]
pub(super) struct HistoryQuery {
    cursor: Option<String>,
}

async fn show(
    State(w): State<Web>,
    headers: HeaderMap,
    Query(q): Query<HistoryQuery>,
) -> PageResult {
    dashboard(&w, &headers, q.cursor.as_deref(), Banner::None).await
}

/// The signed-in page (or the sign-in page if the session is gone).
async fn dashboard(
    w: &Web,
    headers: &HeaderMap,
    cursor: Option<&str>,
    banner: Banner,
) -> PageResult {
    let cookie = browser_cookie(headers);
    let me = w
        .api(Method::GET, "/v1/me", Auth::Cookie(cookie), None)
        .await?;
    if me.status == StatusCode::UNAUTHORIZED {
        return Ok(sign_in(w, None, banner));
    }
    if !me.ok() {
        return Err(super::PageError::Internal(me.message()));
    }
    let path = match cursor {
        Some(c) => format!(
            "/v1/me/history?limit={HISTORY_PAGE}&cursor={}",
            url_param(c)
        ),
        None => format!("/v1/me/history?limit={HISTORY_PAGE}"),
    };
    let hist = w
        .api(Method::GET, &path, Auth::Cookie(cookie), None)
        .await?;
    let hist = if hist.ok() {
        hist
    } else {
        // A tampered cursor: show the first page rather than an error.
        w.api(
            Method::GET,
            &format!("/v1/me/history?limit={HISTORY_PAGE}"),
            Auth::Cookie(cookie),
            None,
        )
        .await?
    };
    let names = Names::default();
    let mut body = banner.html();
    let m = &me.body;
    let _ = write!(
        body,
        r#"<div class="who"><p>Signed in as <strong id="me-phone">{}</strong></p>
<form method="post" action="/account/logout"><button class="secondary" type="submit">Sign out</button></form></div>"#,
        esc(m["phone"].as_str().unwrap_or(""))
    );
    body.push_str(&palms_html(m));
    body.push_str(&history_html(w, &names, &hist, cursor.is_some()).await);
    body.push_str(&cards_html(m));
    body.push_str(&consents_html(m));
    body.push_str(&loyalty_html(w, &names, m, &hist).await);
    body.push_str(
        r#"<section class="panel danger" aria-labelledby="danger-h"><h2 id="danger-h">Delete my data</h2>
<p>Deleting palm data destroys your palm templates and their keys at once: no scanner will recognise you any more. Deleting the account also removes your cards, consents and links.</p>
<p class="row"><a class="button danger" href="/account/delete?what=palms" id="delete-palms">Delete palm data…</a>
<a class="button danger" href="/account/delete?what=account" id="delete-account">Delete account…</a></p></section>"#,
    );
    Ok(page_response(
        StatusCode::OK,
        layout("My palm", Section::Account, &body),
    ))
}

fn palms_html(m: &Value) -> String {
    let rows: Vec<Vec<String>> = m["palms"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    vec![
                        esc(p["hand"].as_str().unwrap_or("")),
                        time(p["enrolled_ms"].as_i64()),
                        time(p["last_used_ms"].as_i64()),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        r#"<section class="panel" aria-labelledby="palms-h"><h2 id="palms-h">My palms</h2>{}</section>"#,
        table(
            "Enrolled hands",
            &["Hand", "Enrolled", "Last used"],
            &rows,
            "No palm data is stored for you."
        )
    )
}

/// Tenant names and sites (name, tenant) by id, looked up once per page.
#[derive(Default)]
struct Names {
    tenants: std::sync::Mutex<HashMap<String, String>>,
    sites: std::sync::Mutex<HashMap<String, (String, String)>>,
}

impl Names {
    async fn tenant(&self, w: &Web, id: &str) -> String {
        if let Some(n) = self.tenants.lock().ok().and_then(|c| c.get(id).cloned()) {
            return n;
        }
        let name =
            w.st.store
                .get_tenant(id)
                .await
                .ok()
                .flatten()
                .map(|t| t.name);
        let name = name.unwrap_or_else(|| id.to_string());
        if let Ok(mut c) = self.tenants.lock() {
            c.insert(id.to_string(), name.clone());
        }
        name
    }
    /// (site name, tenant id) of a site.
    async fn site(&self, w: &Web, id: &str) -> (String, String) {
        if let Some(n) = self.sites.lock().ok().and_then(|c| c.get(id).cloned()) {
            return n;
        }
        let v = match w.st.store.get_site(id).await.ok().flatten() {
            Some(s) => (s.name, s.tenant_id),
            None => (id.to_string(), String::new()),
        };
        if let Ok(mut c) = self.sites.lock() {
            c.insert(id.to_string(), v.clone());
        }
        v
    }
}

/// A human line for the outcome and details of an event (webhook shape: `data.outcome`,
/// `data.detail`) or of an identify response (flat).
pub(super) fn outcome_text(e: &Value) -> String {
    let e = if e["data"].is_object() { &e["data"] } else { e };
    let d = &e["detail"];
    let get = |k: &str| {
        e.get(k)
            .or_else(|| d.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut s = esc(say(e["outcome"].as_str().unwrap_or("")));
    if let (Some(a), Some(c)) = (get("amount").as_i64(), get("currency").as_str()) {
        let _ = write!(s, " · {}", money(a, c));
    }
    if let Some(l4) = get("card")["last4"].as_str() {
        let _ = write!(
            s,
            " · {} •••• {}",
            esc(get("card")["brand"].as_str().unwrap_or("card")),
            esc(l4)
        );
    }
    if let Some(r) = get("reason").as_str() {
        let _ = write!(s, " · {}", esc(say(r)));
    }
    if let Some(door) = get("door").as_str() {
        let _ = write!(s, " · door {}", esc(door));
    }
    s
}

async fn history_html(w: &Web, names: &Names, hist: &Reply, paged: bool) -> String {
    let mut rows = Vec::new();
    for e in hist.body["data"].as_array().into_iter().flatten() {
        let place = match e["data"]["site_id"].as_str() {
            Some(s) => {
                let (site, tenant) = names.site(w, s).await;
                format!("{} · {site}", names.tenant(w, &tenant).await)
            }
            None => "—".into(),
        };
        rows.push(vec![
            time(e["created_ms"].as_i64()),
            esc(&place),
            esc(say(e["data"]["purpose"].as_str().unwrap_or(""))),
            outcome_text(e),
        ]);
    }
    let mut nav = String::new();
    if paged {
        nav.push_str(r#"<a href="/account#history-h">Newest</a>"#);
    }
    if let Some(c) = hist.body["next_cursor"].as_str() {
        let _ = write!(
            nav,
            r#"<a href="/account?cursor={}#history-h" rel="next" id="history-older">Older</a>"#,
            esc(&url_param(c))
        );
    }
    format!(
        r#"<section class="panel" aria-labelledby="history-h"><h2 id="history-h">Where my palm was used</h2>{}<nav class="pager" aria-label="History pages">{nav}</nav></section>"#,
        table(
            "Usage history, newest first",
            &["When", "Where", "Purpose", "Outcome"],
            &rows,
            "Your palm has not been used yet."
        )
    )
}

fn cards_html(m: &Value) -> String {
    let mut rows = Vec::new();
    for c in m["cards"].as_array().into_iter().flatten() {
        let token = esc(c["token"].as_str().unwrap_or(""));
        let default = c["default"].as_bool().unwrap_or(false);
        let label = format!(
            "{} •••• {}",
            esc(c["brand"].as_str().unwrap_or("")),
            esc(c["last4"].as_str().unwrap_or(""))
        );
        let make_default = if default {
            r#"<span class="tag">default</span>"#.to_string()
        } else {
            format!(
                r#"<form method="post" action="/account/cards/default"><input type="hidden" name="token" value="{token}"><button class="secondary" type="submit" aria-label="Make {label} the default card">Make default</button></form>"#
            )
        };
        rows.push(vec![
            label.clone(),
            format!(
                "{:02}/{}",
                c["exp_month"].as_i64().unwrap_or(0),
                c["exp_year"].as_i64().unwrap_or(0)
            ),
            make_default,
            format!(
                r#"<form method="post" action="/account/cards/remove"><input type="hidden" name="token" value="{token}"><button class="secondary" type="submit" aria-label="Remove {label}">Remove</button></form>"#
            ),
        ]);
    }
    format!(
        r#"<section class="panel" aria-labelledby="cards-h"><h2 id="cards-h">Cards</h2>{}
<form method="post" action="/account/cards" class="grid" id="add-card">
<div><label for="card-number">Card number</label><input id="card-number" name="number" inputmode="numeric" autocomplete="cc-number" required></div>
<div><label for="card-month">Expiry month</label><input id="card-month" name="exp_month" inputmode="numeric" maxlength="2" aria-describedby="card-month-hint" required><span class="hint" id="card-month-hint">1 to 12</span></div>
<div><label for="card-year">Expiry year</label><input id="card-year" name="exp_year" inputmode="numeric" maxlength="4" aria-describedby="card-year-hint" required><span class="hint" id="card-year-hint">Four digits, e.g. 2031</span></div>
<div class="end"><button type="submit">Add card</button></div>
</form></section>"#,
        table(
            "Linked cards",
            &["Card", "Expires", "Default", ""],
            &rows,
            "No card linked: palm payments are declined."
        )
    )
}

fn consents_html(m: &Value) -> String {
    let mut boxes = String::new();
    for (p, label, means) in PURPOSES {
        let on = m["consents"][p].as_bool().unwrap_or(false);
        let _ = write!(
            boxes,
            r#"<div class="check"><input type="checkbox" id="consent-{p}" name="{p}" value="on" aria-describedby="consent-{p}-means"{}><label for="consent-{p}">{label}</label></div><p class="hint means" id="consent-{p}-means">{}</p>"#,
            if on { " checked" } else { "" },
            esc(means)
        );
    }
    format!(
        r#"<section class="panel" aria-labelledby="consent-h"><h2 id="consent-h">Consent per purpose</h2>
<form method="post" action="/account/consents"><fieldset><legend>My palm may be used to</legend>{boxes}<p class="hint">Untick a use to withdraw it; it stops at once. With no use ticked, scanners recognise your palm but do nothing with it.</p></fieldset><button type="submit">Save consents</button></form></section>"#
    )
}

async fn loyalty_html(w: &Web, names: &Names, m: &Value, hist: &Reply) -> String {
    let mut rows = Vec::new();
    for l in m["loyalty"].as_array().into_iter().flatten() {
        let tid = l["tenant_id"].as_str().unwrap_or("");
        let name = names.tenant(w, tid).await;
        rows.push(vec![
            esc(&name),
            esc(l["loyalty_id"].as_str().unwrap_or("")),
            format!(
                r#"<form method="post" action="/account/loyalty/remove"><input type="hidden" name="tenant_id" value="{}"><button class="secondary" type="submit" aria-label="Unlink loyalty at {}">Unlink</button></form>"#,
                esc(tid),
                esc(&name)
            ),
        ]);
    }
    // Stores offered for a new link: those where this palm was used (no directory of tenants).
    let mut seen: Vec<String> = Vec::new();
    for e in hist.body["data"].as_array().into_iter().flatten() {
        if let Some(site) = e["data"]["site_id"].as_str() {
            let (_, t) = names.site(w, site).await;
            if !t.is_empty() && !seen.contains(&t) {
                seen.push(t);
            }
        }
    }
    let mut options = String::new();
    for t in &seen {
        let _ = write!(
            options,
            r#"<option value="{}">{}</option>"#,
            esc(t),
            esc(&names.tenant(w, t).await)
        );
    }
    let store_input = if options.is_empty() {
        r#"<div><label for="loyalty-tenant">Store id</label><input id="loyalty-tenant" name="tenant_id" required></div>"#.to_string()
    } else {
        format!(
            r#"<div><label for="loyalty-tenant">Store</label><select id="loyalty-tenant" name="tenant_id">{options}</select></div>"#
        )
    };
    format!(
        r#"<section class="panel" aria-labelledby="loyalty-h"><h2 id="loyalty-h">Loyalty links</h2>{}
<form method="post" action="/account/loyalty" class="grid">{store_input}
<div><label for="loyalty-id">Loyalty number</label><input id="loyalty-id" name="loyalty_id" maxlength="64" required></div>
<div class="end"><button type="submit">Link</button></div></form></section>"#,
        table(
            "Loyalty links",
            &["Store", "Loyalty number", ""],
            &rows,
            "No loyalty card linked."
        )
    )
}

/// Run a form action against the API as the signed-in person and show the page with its result.
async fn act(
    w: &Web,
    headers: &HeaderMap,
    method: Method,
    path: &str,
    body: Option<Value>,
    ok: &str,
    bad_field: Option<&'static str>,
) -> PageResult {
    let r = w
        .api(
            method,
            path,
            Auth::Cookie(browser_cookie(headers)),
            body.as_ref(),
        )
        .await?;
    let banner = match (r.ok(), bad_field) {
        (true, _) => Banner::Ok(ok.to_string()),
        (false, Some(f)) => Banner::Field(f, r.message()),
        (false, None) => Banner::Err(r.message()),
    };
    dashboard(w, headers, None, banner).await
}

async fn bad_form(w: &Web, headers: &HeaderMap, msg: &str) -> PageResult {
    dashboard(w, headers, None, Banner::Err(msg.to_string())).await
}

async fn add_card(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let Some(f) = form(&body) else {
        return bad_form(&w, &headers, "The form could not be read.").await;
    };
    let this_year = chrono::DateTime::from_timestamp_millis(w.st.now())
        .map(|t| chrono::Datelike::year(&t))
        .unwrap_or(2026);
    let (m, y) = match expiry(
        field(&f, "exp_month"),
        field(&f, "exp_year"),
        this_year,
        ("card-month", "card-year"),
    ) {
        Ok(v) => v,
        Err(b) => return dashboard(&w, &headers, None, b).await,
    };
    let number = super::scanner::card_digits(field(&f, "number"));
    act(
        &w,
        &headers,
        Method::POST,
        "/v1/me/cards",
        Some(json!({"number": number, "exp_month": m, "exp_year": y})),
        "Card added.",
        Some("card-number"),
    )
    .await
}

async fn default_card(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let token = form(&body)
        .map(|f| field(&f, "token").to_string())
        .unwrap_or_default();
    let path = format!("/v1/me/cards/{}/default", url_param(&token));
    act(
        &w,
        &headers,
        Method::POST,
        &path,
        None,
        "Default card changed.",
        None,
    )
    .await
}

async fn remove_card(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let token = form(&body)
        .map(|f| field(&f, "token").to_string())
        .unwrap_or_default();
    let path = format!("/v1/me/cards/{}", url_param(&token));
    act(
        &w,
        &headers,
        Method::DELETE,
        &path,
        None,
        "Card removed.",
        None,
    )
    .await
}

async fn consents(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let Some(f) = form(&body) else {
        return bad_form(&w, &headers, "The form could not be read.").await;
    };
    let mut v = serde_json::Map::new();
    for (p, _, _) in PURPOSES {
        v.insert(p.to_string(), json!(f.contains_key(p)));
    }
    act(
        &w,
        &headers,
        Method::PUT,
        "/v1/me/consents",
        Some(Value::Object(v)),
        "Consents saved.",
        None,
    )
    .await
}

async fn link_loyalty(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let Some(f) = form(&body) else {
        return bad_form(&w, &headers, "The form could not be read.").await;
    };
    let tenant = field(&f, "tenant_id");
    if tenant.is_empty() {
        return bad_form(&w, &headers, "Choose a store.").await;
    }
    let path = format!("/v1/me/loyalty/{}", url_param(tenant));
    let r = w
        .api(
            Method::PUT,
            &path,
            Auth::Cookie(browser_cookie(&headers)),
            Some(&json!({"loyalty_id": field(&f, "loyalty_id")})),
        )
        .await?;
    let banner = match (r.ok(), r.status) {
        (true, _) => Banner::Ok("Loyalty card linked.".into()),
        (false, StatusCode::NOT_FOUND) => Banner::Err("No store has this id.".into()),
        _ => Banner::Err(r.message()),
    };
    dashboard(&w, &headers, None, banner).await
}

async fn unlink_loyalty(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let tenant = form(&body)
        .map(|f| field(&f, "tenant_id").to_string())
        .unwrap_or_default();
    let path = format!("/v1/me/loyalty/{}", url_param(&tenant));
    act(
        &w,
        &headers,
        Method::DELETE,
        &path,
        None,
        "Loyalty card unlinked.",
        None,
    )
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct WhatQuery {
    what: Option<String>,
}

/// The confirmation step of both deletions.
async fn confirm_delete(
    State(w): State<Web>,
    headers: HeaderMap,
    Query(q): Query<WhatQuery>,
) -> PageResult {
    let me = w
        .api(
            Method::GET,
            "/v1/me",
            Auth::Cookie(browser_cookie(&headers)),
            None,
        )
        .await?;
    if !me.ok() {
        return Ok(sign_in(&w, None, Banner::Err("Sign in first.".into())));
    }
    let (what, title, text) = match q.what.as_deref() {
        Some("account") => (
            "account",
            "Delete your account?",
            "Your palm data, cards, consents, loyalty links and sessions are deleted now. Stores keep their own records of past payments without your name. This cannot be undone.",
        ),
        _ => (
            "palms",
            "Delete your palm data?",
            "Your palm templates and their encryption keys are destroyed now. No scanner will recognise your palm any more; to use it again you enrol again at a kiosk. This cannot be undone.",
        ),
    };
    let body = confirm(
        title,
        text,
        "/account/delete",
        &[("what", what)],
        "Yes, delete",
        "/account",
    );
    Ok(page_response(
        StatusCode::OK,
        layout("My palm", Section::Account, &body),
    ))
}

async fn delete(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let f = form(&body).unwrap_or_default();
    if field(&f, "confirm") != "yes" {
        return bad_form(
            &w,
            &headers,
            "Nothing was deleted: the deletion was not confirmed.",
        )
        .await;
    }
    let cookie = browser_cookie(&headers);
    if field(&f, "what") == "account" {
        let r = w
            .api(Method::DELETE, "/v1/me", Auth::Cookie(cookie), None)
            .await?;
        if !r.ok() {
            return bad_form(&w, &headers, &r.message()).await;
        }
        let mut resp = sign_in(
            &w,
            None,
            Banner::Ok("Your account and all its data were deleted.".into()),
        );
        if let Ok(v) = super::session_cookie(&w.st, SESSION_COOKIE, "", "/").parse() {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
        return Ok(resp);
    }
    let r = w
        .api(Method::DELETE, "/v1/me/palms", Auth::Cookie(cookie), None)
        .await?;
    let banner = if r.ok() {
        let n = r.body["deleted_palms"].as_i64().unwrap_or(0);
        Banner::Ok(format!(
            "Palm data deleted ({n} hand{}). Scanners will no longer recognise you.",
            if n == 1 { "" } else { "s" }
        ))
    } else {
        Banner::Err(r.message())
    };
    dashboard(&w, &headers, None, banner).await
}
