//! Web pages served by `palmsig serve`: the person portal (`/account`), the tenant and operator
//! console (`/console`) and a scanner simulator with an enrolment kiosk (`/scanner`).
//!
//! Server-rendered HTML (every value escaped by `html::esc`), one small vanilla-JS file and one
//! stylesheet, all compiled into the binary. The pages are a thin client of the JSON API: each
//! action is a real API request run in-process through the same router
//! (`tower::ServiceExt::oneshot`), so they get exactly the authentication, validation, audit and
//! metrics a third-party integration gets. The simulator is a real device row: activated with a
//! one-time code, it signs its requests with an Ed25519 key held only in server memory. Images
//! (synthetic, uploaded or from the camera) exist only in memory for the request.
//!
//! Every post follows post/redirect/get with a one-time form token ([`forms`]): the page an
//! action produced is kept and shown at a `…?r=<id>` address, so reload, back and double submit
//! never run an action twice. Form errors are such result pages too (status 200 with a
//! `role="alert"` message linked to the field): browsers log every 4xx document as a console
//! error, and the page *is* the answer to the form. Codes are shown in plain words ([`words`]).
//! Pages and assets are compressed (gzip or brotli, as the browser accepts).
mod account;
mod console;
mod forms;
mod html;
#[cfg(feature = "simulator")]
mod scanner;
#[cfg(all(test, feature = "simulator"))]
mod tests;
mod words;

use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use html::{esc, layout, Section};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// Largest form post of the pages (two base64 images of an upload fit, as for the JSON API).
const MAX_FORM_BYTES: usize = crate::params::MAX_BODY_BYTES;
/// In-memory sessions kept per kind (console sign-ins, simulated scanners); the oldest is
/// dropped beyond this.
const MAX_SESSIONS: usize = 10_000;
/// Lifetime of a console or scanner session (ms).
const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;

/// Server-side sessions of one kind, keyed by a random cookie value.
#[derive(Debug)]
pub(crate) struct Sessions<T> {
    map: Mutex<HashMap<String, (i64, T)>>,
}

impl<T: Clone> Sessions<T> {
    fn new() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
    pub(crate) fn get(&self, id: &str, now: i64) -> Option<T> {
        let m = self.map.lock().ok()?;
        m.get(id).filter(|(exp, _)| *exp > now).map(|x| x.1.clone())
    }
    pub(crate) fn put(&self, id: &str, v: T, now: i64) {
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, (exp, _)| *exp > now);
            if m.len() >= MAX_SESSIONS {
                if let Some(oldest) = m.iter().min_by_key(|(_, (e, _))| *e).map(|x| x.0.clone()) {
                    m.remove(&oldest);
                }
            }
            m.insert(id.to_string(), (now + SESSION_TTL_MS, v));
        }
    }
    /// Replace the value of an existing session, keeping its expiry.
    pub(crate) fn update(&self, id: &str, v: T) {
        if let Ok(mut m) = self.map.lock() {
            if let Some(e) = m.get_mut(id) {
                e.1 = v;
            }
        }
    }
    pub(crate) fn remove(&self, id: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(id);
        }
    }
}

/// State of the web pages: the service state plus the sessions only the pages have.
#[derive(Debug, Clone)]
pub(crate) struct Web {
    pub(crate) st: AppState,
    /// The JSON API router the pages call (the one [`crate::app`] serves).
    api: Router,
    pub(crate) consoles: Arc<Sessions<console::ConsoleSession>>,
    #[cfg(feature = "simulator")]
    pub(crate) scanners: Arc<Sessions<scanner::ScannerSession>>,
    /// One-time form tokens and kept result pages.
    forms: Arc<forms::Forms>,
}

/// How an in-process API request authenticates.
pub(crate) enum Auth<'a> {
    None,
    Bearer(&'a str),
    /// The browser's `Cookie` header, forwarded (portal session).
    Cookie(Option<&'a str>),
    /// Signed as the simulated device.
    #[cfg(feature = "simulator")]
    Device(&'a scanner::SimDevice),
}

/// The answer of an in-process API request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
    /// Server-side time of the request (ms).
    pub(crate) ms: f64,
}

impl Reply {
    pub(crate) fn ok(&self) -> bool {
        self.status.is_success()
    }
    /// The error code of the one error shape (`""` if none).
    pub(crate) fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    /// The message of an error reply for a person: the plain words of its code, else the
    /// API's own message.
    pub(crate) fn message(&self) -> String {
        if let Some(w) = words::words(self.code()) {
            return w.to_string();
        }
        self.body["error"]["message"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| format!("request failed ({})", self.status))
    }
}

/// Errors of the pages themselves (the API's refusals are shown as banners, not errors).
#[derive(Debug, thiserror::Error)]
pub(crate) enum PageError {
    /// Something inside failed; details go to the log, not the page.
    #[error("internal error: {0}")]
    Internal(String),
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "web page failed");
        let body = layout(
            "Something went wrong",
            Section::Home,
            r#"<p class="banner err" role="alert">The server could not show this page. Try again; if it keeps happening, tell the operator.</p>"#,
        );
        page_response(StatusCode::INTERNAL_SERVER_ERROR, body)
    }
}

pub(crate) type PageResult = Result<Response, PageError>;

impl Web {
    /// Run one request against the JSON API.
    pub(crate) async fn api(
        &self,
        method: Method,
        path: &str,
        auth: Auth<'_>,
        body: Option<&Value>,
    ) -> Result<Reply, PageError> {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let mut req = Request::builder().method(method.clone()).uri(path);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        match auth {
            Auth::None => {}
            Auth::Bearer(t) => req = req.header(header::AUTHORIZATION, format!("Bearer {t}")),
            Auth::Cookie(Some(c)) => req = req.header(header::COOKIE, c),
            Auth::Cookie(None) => {}
            #[cfg(feature = "simulator")]
            Auth::Device(d) => {
                let nonce = crate::signing::new_nonce();
                for (k, v) in crate::signing::sign_request(
                    &d.key,
                    &d.device_id,
                    method.as_str(),
                    path,
                    self.st.now(),
                    &nonce,
                    &bytes,
                ) {
                    req = req.header(k, v);
                }
                if method == Method::POST && path == "/v1/device/identify" {
                    // A fresh key per hover: retries of the page are new presentations.
                    req = req.header("idempotency-key", crate::signing::new_nonce());
                }
            }
        }
        let req = req
            .body(Body::from(bytes))
            .map_err(|e| PageError::Internal(e.to_string()))?;
        let router = self.api.clone();
        let t0 = std::time::Instant::now();
        let resp = router
            .oneshot(req)
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?;
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        let (parts, body) = resp.into_parts();
        let raw = axum::body::to_bytes(body, 16 * 1024 * 1024)
            .await
            .map_err(|e| PageError::Internal(e.to_string()))?;
        let body = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).unwrap_or(Value::Null)
        };
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
            ms,
        })
    }
}

/// The router of the pages and their assets; `api` is the JSON API router they call.
pub(crate) fn router(st: AppState, api: Router) -> Router {
    let web = Web {
        st,
        api,
        consoles: Arc::new(Sessions::new()),
        #[cfg(feature = "simulator")]
        scanners: Arc::new(Sessions::new()),
        forms: Arc::new(forms::Forms::default()),
    };
    let pages = Router::new()
        .route("/", get(home))
        .route("/assets/style.css", get(style))
        .route("/assets/app.js", get(script))
        .route("/assets/favicon.svg", get(favicon))
        .merge(account::routes())
        .merge(console::routes());
    #[cfg(feature = "simulator")]
    let pages = pages.merge(scanner::routes());
    pages
        .layer(axum::middleware::from_fn_with_state(
            web.clone(),
            forms::prg,
        ))
        .layer(axum::middleware::from_fn(guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(web)
}

/// Cross-site form posts are refused (the cookies are `SameSite=Strict` too), and every page
/// gets a strict content security policy: no inline script, images only from here or `data:`.
async fn guard(req: Request, next: Next) -> Response {
    if req.method() == Method::POST && !same_origin(req.headers()) {
        return page_response(
            StatusCode::FORBIDDEN,
            layout(
                "Refused",
                Section::Home,
                r#"<p class="banner err" role="alert">This form was sent from another site and was refused.</p>"#,
            ),
        );
    }
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

/// `Origin` (when the browser sends one) names this host.
fn same_origin(h: &HeaderMap) -> bool {
    let Some(origin) = h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let o = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((o, host), (Some(o), Some(h)) if o == h)
}

/// An HTML response.
pub(crate) fn page_response(status: StatusCode, html: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// 303 to `to`, with optional `Set-Cookie` headers.
pub(crate) fn redirect(to: &str, cookies: &[String]) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

/// A cookie value by name.
pub(crate) fn cookie(h: &HeaderMap, name: &str) -> Option<String> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// A `Set-Cookie` value for a session cookie of the pages.
pub(crate) fn session_cookie(st: &AppState, name: &str, value: &str, path: &str) -> String {
    let secure = if st.config.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let age = if value.is_empty() {
        0
    } else {
        SESSION_TTL_MS / 1000
    };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path={path}; Max-Age={age}{secure}")
}

/// The fields of an `application/x-www-form-urlencoded` body (`None` if it is not one).
pub(crate) fn form(body: &[u8]) -> Option<HashMap<String, String>> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()
        .map(|v| v.into_iter().collect())
}

/// A field of a form, trimmed (`""` if absent).
pub(crate) fn field<'a>(f: &'a HashMap<String, String>, name: &str) -> &'a str {
    f.get(name).map(|s| s.trim()).unwrap_or("")
}

/// The last code the dev outbox sent to `phone` (only where the dev outbox is enabled), shown on
/// the pages so a local trial needs no SMS gateway.
pub(crate) fn dev_code(st: &AppState, phone: &str) -> Option<String> {
    if !st.config.dev_outbox {
        return None;
    }
    let phone = crate::otp::normalize_e164(phone)?;
    st.sender
        .outbox()?
        .into_iter()
        .rev()
        .find(|m| m.phone == phone)
        .map(|m| m.code)
}

/// The dev-outbox hint box.
pub(crate) fn dev_code_html(st: &AppState, phone: &str) -> String {
    match dev_code(st, phone) {
        Some(c) => format!(
            r#"<p class="dev" role="note">Dev outbox (local only): the code sent to {} is <code id="dev-code">{}</code>.</p>"#,
            esc(phone),
            esc(&c)
        ),
        None => String::new(),
    }
}

async fn home(State(_w): State<Web>) -> Response {
    let body = r#"<p class="lead">Hover a palm to pay, enter, show a loyalty card or prove an age. Three pages:</p>
<ul class="cards">
<li><a href="/account"><strong>My palm</strong></a><span>Sign in with your phone: see where your palm was used, manage cards, consents and loyalty links, delete your palm data.</span></li>
<li><a href="/console"><strong>Console</strong></a><span>For stores and operators: sites, devices, API clients, webhooks, transactions, entries; tenants, audit, keys and live latency.</span></li>
<li><a href="/scanner"><strong>Scanner simulator</strong></a><span>A real registered device in your browser: enrol at a kiosk, then hover a synthetic, uploaded or camera palm.</span></li>
</ul>"#;
    page_response(StatusCode::OK, layout("palmsig", Section::Home, body))
}

fn asset(ct: &'static str, body: &'static [u8]) -> Response {
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_bytes!("../../assets/style.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/app.js"),
    )
}

async fn favicon() -> Response {
    asset("image/svg+xml", include_bytes!("../../assets/favicon.svg"))
}
