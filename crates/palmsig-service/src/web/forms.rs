//! Post/redirect/get with one-time form tokens, for every form of the pages at once.
//!
//! Every `<form method="post">` a page sends gets a hidden one-time token, bound to the browser
//! (a random `palmsig_browser` cookie). A post runs its action only when its token is fresh;
//! the page the action produced is kept for a while and the browser is sent there with a 303
//! (`…?r=<id>`). So a reload shows the kept page again, and a second post of the same form (back
//! button, double click, resubmit) is sent to the first post's result: a payment, an enrolment
//! step or a registration never runs twice. A post whose token is unknown or expired runs nothing.
use super::html::{layout, Section};
use super::{cookie, page_response, redirect, session_cookie, Web};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// The hidden field that carries the token.
pub(crate) const TOKEN_FIELD: &str = "form_token";
/// The cookie that binds tokens and kept results to one browser.
const BROWSER_COOKIE: &str = "palmsig_browser";
/// A form may be sent this long after it was shown (ms).
const TOKEN_TTL_MS: i64 = 4 * 3600 * 1000;
/// A result page can be shown again (reload) this long (ms).
const RESULT_TTL_MS: i64 = 30 * 60 * 1000;
/// Bounds of the two in-memory tables (the oldest entries go first).
const MAX_TOKENS: usize = 50_000;
const MAX_RESULTS: usize = 2_000;
/// A second post of a form still running waits this long for the first one's result.
const WAIT_FOR_FIRST: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Eq)]
enum TokenState {
    /// Shown in a form, not sent yet.
    Issued,
    /// Its action is running now.
    Running,
    /// Its action ran; the result is at this location.
    Done(String),
}

#[derive(Debug)]
struct Token {
    owner: String,
    expires: i64,
    state: TokenState,
}

/// A kept result page (HTML without tokens; fresh ones are added when it is shown).
#[derive(Debug)]
struct Kept {
    owner: String,
    expires: i64,
    status: StatusCode,
    html: String,
}

/// What a post may do with its token.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    Run,
    Wait,
    Done(String),
    Invalid,
}

/// The tokens and kept results of all browsers.
#[derive(Debug, Default)]
pub(crate) struct Forms {
    tokens: Mutex<HashMap<String, Token>>,
    results: Mutex<HashMap<String, Kept>>,
    changed: tokio::sync::Notify,
}

/// Drop the expired entries, then the one expiring first while the table is full.
fn prune<T>(m: &mut HashMap<String, T>, now: i64, max: usize, exp: impl Fn(&T) -> i64) {
    m.retain(|_, v| exp(v) > now);
    while m.len() >= max {
        let Some(k) = m.iter().min_by_key(|(_, v)| exp(v)).map(|x| x.0.clone()) else {
            break;
        };
        m.remove(&k);
    }
}

impl Forms {
    fn issue(&self, owner: &str, now: i64) -> String {
        let t = crate::crypto::random_token("ft");
        if let Ok(mut m) = self.tokens.lock() {
            prune(&mut m, now, MAX_TOKENS, |t| t.expires);
            m.insert(
                t.clone(),
                Token {
                    owner: owner.to_string(),
                    expires: now + TOKEN_TTL_MS,
                    state: TokenState::Issued,
                },
            );
        }
        t
    }

    fn claim(&self, token: &str, owner: &str, now: i64) -> Claim {
        let Ok(mut m) = self.tokens.lock() else {
            return Claim::Invalid;
        };
        match m.get_mut(token) {
            Some(t) if t.owner == owner && t.expires > now => match &t.state {
                TokenState::Issued => {
                    t.state = TokenState::Running;
                    Claim::Run
                }
                TokenState::Running => Claim::Wait,
                TokenState::Done(to) => Claim::Done(to.clone()),
            },
            _ => Claim::Invalid,
        }
    }

    fn state(&self, token: &str) -> Option<TokenState> {
        self.tokens.lock().ok()?.get(token).map(|t| t.state.clone())
    }

    fn finish(&self, token: &str, location: &str) {
        if let Ok(mut m) = self.tokens.lock() {
            if let Some(t) = m.get_mut(token) {
                t.state = TokenState::Done(location.to_string());
            }
        }
        self.changed.notify_waiters();
    }

    fn keep(&self, owner: &str, status: StatusCode, html: String, now: i64) -> String {
        let id = crate::crypto::random_token("res");
        if let Ok(mut m) = self.results.lock() {
            prune(&mut m, now, MAX_RESULTS, |k| k.expires);
            m.insert(
                id.clone(),
                Kept {
                    owner: owner.to_string(),
                    expires: now + RESULT_TTL_MS,
                    status,
                    html,
                },
            );
        }
        id
    }

    fn kept(&self, id: &str, owner: &str, now: i64) -> Option<(StatusCode, String)> {
        let m = self.results.lock().ok()?;
        m.get(id)
            .filter(|k| k.owner == owner && k.expires > now)
            .map(|k| (k.status, k.html.clone()))
    }
}

/// The page a form's result is shown at: the page the form belongs to.
pub(super) fn landing(path: &str) -> &'static str {
    match path {
        "/scanner/kiosk" => "/scanner?mode=kiosk",
        p if p.starts_with("/scanner") => "/scanner",
        p if p.starts_with("/account") => "/account",
        "/console/sites" => "/console/sites",
        "/console/tenants" => "/console/tenants",
        "/console/webhooks" => "/console/webhooks",
        p if p.starts_with("/console/devices") => "/console/devices",
        _ => "/console",
    }
}

fn with_result(landing: &str, id: &str) -> String {
    let sep = if landing.contains('?') { '&' } else { '?' };
    format!("{landing}{sep}r={id}")
}

/// The `r` parameter of a query string.
fn result_id(query: Option<&str>) -> Option<String> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query?)
        .ok()?
        .into_iter()
        .find_map(|(k, v)| (k == "r").then_some(v))
}

/// The middleware: tokens into every page, one run per token for every post.
pub(crate) async fn prg(State(w): State<Web>, req: Request, next: Next) -> Response {
    let now = w.st.now();
    let (owner, new_owner) = match cookie(req.headers(), BROWSER_COOKIE) {
        Some(o) if o.len() >= 16 => (o, false),
        _ => (crate::crypto::random_token("brw"), true),
    };
    let mut resp = if req.method() == Method::POST {
        post(&w, &owner, req, next, now).await
    } else {
        match result_id(req.uri().query()).and_then(|id| w.forms.kept(&id, &owner, now)) {
            Some((status, html)) => page_response(status, html),
            None => next.run(req).await,
        }
    };
    let html = is_html(&resp);
    if html {
        resp = add_tokens(&w, &owner, resp, now).await;
    }
    // Set when new, renewed with every page: the cookie outlives the tokens of a page in use.
    if new_owner || html {
        let c = session_cookie(&w.st, BROWSER_COOKIE, &owner, "/");
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn is_html(r: &Response) -> bool {
    r.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"))
}

async fn post(w: &Web, owner: &str, req: Request, next: Next, now: i64) -> Response {
    let path = req.uri().path().to_string();
    let to = landing(&path);
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, super::MAX_FORM_BYTES).await else {
        return page_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            layout(
                "Too large",
                Section::Home,
                r#"<p class="banner err" role="alert" id="banner">The form was too large to send. Use smaller images.</p>"#,
            ),
        );
    };
    let token = super::form(&bytes)
        .and_then(|f| f.get(TOKEN_FIELD).cloned())
        .unwrap_or_default();
    match w.forms.claim(&token, owner, now) {
        Claim::Done(loc) => return redirect(&loc, &[]),
        Claim::Invalid => {
            let html = layout(
                "Nothing was done",
                section_of(&path),
                &format!(
                    r#"<div class="banner err" role="alert" id="banner" data-title="Nothing was done">This form was already sent, or it was shown too long ago, so nothing was done. <a href="{to}">Open the page again</a> and fill in the form anew.</div>"#
                ),
            );
            let id = w.forms.keep(owner, StatusCode::OK, html, now);
            return redirect(&with_result(to, &id), &[]);
        }
        Claim::Wait => return wait_for_first(w, &token, to).await,
        Claim::Run => {}
    }
    // The action runs to its end in its own task even if the browser goes away half-way (a
    // second click cancels the first request): its result is what the second post is sent to.
    let task = {
        let (w, owner, token) = (w.clone(), owner.to_string(), token.clone());
        tokio::spawn(async move {
            let resp = next
                .run(Request::from_parts(parts, Body::from(bytes)))
                .await;
            let (loc, out) = if resp.status().is_redirection() {
                let loc = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(to)
                    .to_string();
                (loc, resp)
            } else {
                keep_and_redirect(&w, &owner, resp, to, now).await
            };
            w.forms.finish(&token, &loc);
            out
        })
    };
    match task.await {
        Ok(resp) => resp,
        Err(e) => {
            w.forms.finish(&token, to);
            super::PageError::Internal(e.to_string()).into_response()
        }
    }
}

/// Keep the page an action produced and send the browser there (its cookies go along).
async fn keep_and_redirect(
    w: &Web,
    owner: &str,
    resp: Response,
    to: &str,
    now: i64,
) -> (String, Response) {
    let (parts, body) = resp.into_parts();
    let html = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let html = String::from_utf8_lossy(&html).into_owned();
    let id = w.forms.keep(owner, parts.status, html, now);
    let loc = with_result(to, &id);
    let mut r = redirect(&loc, &[]);
    for c in parts.headers.get_all(header::SET_COOKIE) {
        r.headers_mut().append(header::SET_COOKIE, c.clone());
    }
    (loc, r)
}

/// A second post of a form whose first post still runs: wait for that result, then show it.
async fn wait_for_first(w: &Web, token: &str, to: &str) -> Response {
    let deadline = tokio::time::Instant::now() + WAIT_FOR_FIRST;
    loop {
        let changed = w.forms.changed.notified();
        if let Some(TokenState::Done(loc)) = w.forms.state(token) {
            return redirect(&loc, &[]);
        }
        if tokio::time::timeout_at(deadline, changed).await.is_err() {
            return redirect(to, &[]);
        }
    }
}

fn section_of(path: &str) -> Section {
    if path.starts_with("/scanner") {
        Section::Scanner
    } else if path.starts_with("/account") {
        Section::Account
    } else {
        Section::Console
    }
}

/// A fresh token after the opening tag of every post form of the page.
async fn add_tokens(w: &Web, owner: &str, resp: Response, now: i64) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let html = String::from_utf8_lossy(&bytes);
    let mut out = String::with_capacity(html.len() + 1024);
    let mut rest: &str = &html;
    while let Some(i) = rest.find(r#"<form method="post""#) {
        let Some(end) = rest[i..].find('>') else {
            break;
        };
        let (head, tail) = rest.split_at(i + end + 1);
        out.push_str(head);
        out.push_str(&format!(
            r#"<input type="hidden" name="{TOKEN_FIELD}" value="{}">"#,
            w.forms.issue(owner, now)
        ));
        rest = tail;
    }
    out.push_str(rest);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_runs_once_and_only_for_its_browser() {
        let f = Forms::default();
        let t = f.issue("brw_a", 0);
        assert_eq!(f.claim(&t, "brw_b", 1), Claim::Invalid);
        assert_eq!(f.claim(&t, "brw_a", 1), Claim::Run);
        assert_eq!(f.claim(&t, "brw_a", 2), Claim::Wait);
        f.finish(&t, "/scanner?r=x");
        assert_eq!(f.claim(&t, "brw_a", 3), Claim::Done("/scanner?r=x".into()));
        assert_eq!(f.claim("ft_unknown", "brw_a", 3), Claim::Invalid);
        let old = f.issue("brw_a", 0);
        assert_eq!(f.claim(&old, "brw_a", TOKEN_TTL_MS + 1), Claim::Invalid);
    }

    #[test]
    fn kept_results_are_private_and_expire() {
        let f = Forms::default();
        let id = f.keep("brw_a", StatusCode::OK, "<p>x</p>".into(), 0);
        assert!(f.kept(&id, "brw_b", 1).is_none());
        assert_eq!(f.kept(&id, "brw_a", 1).unwrap().1, "<p>x</p>");
        assert!(f.kept(&id, "brw_a", RESULT_TTL_MS + 1).is_none());
    }

    #[test]
    fn results_land_on_the_page_of_their_form() {
        assert_eq!(landing("/scanner/kiosk"), "/scanner?mode=kiosk");
        assert_eq!(landing("/scanner/hover"), "/scanner");
        assert_eq!(landing("/account/cards/remove"), "/account");
        assert_eq!(landing("/console/devices/revoke"), "/console/devices");
        assert_eq!(
            with_result("/scanner?mode=kiosk", "r1"),
            "/scanner?mode=kiosk&r=r1"
        );
        assert_eq!(
            result_id(Some("mode=kiosk&r=res_1")).as_deref(),
            Some("res_1")
        );
    }
}
