//! Fast in-process tests of the pages (`oneshot` on the whole app, SQLite in a temp dir, the
//! label test double as engine): every page renders, values are escaped, bad input gets a
//! visible message, cross-site posts are refused, and the whole kiosk → hover → portal →
//! delete flow works through the forms. The real engine in a real browser: `tests/browser.rs`.
use crate::biometrics::LabelBiometrics;
use crate::clock::SystemClock;
use crate::crypto::{Kek, Keyring};
use crate::otp::DevOutbox;
use crate::payments::SimulatedProcessor;
use crate::state::{AppState, Config};
use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use std::collections::HashMap;
use std::sync::Arc;
use tower::ServiceExt;

const ADMIN: &str = "admin-token-for-page-tests";

struct Browser {
    app: Router,
    outbox: Arc<DevOutbox>,
    cookies: HashMap<String, String>,
    /// The last page shown (its forms' one-time tokens are what a post sends).
    last: String,
    _dir: tempfile::TempDir,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    csp: bool,
    html: String,
}

impl Browser {
    async fn new() -> Browser {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("p.db").display());
        let store = crate::store::connect(&url).await.unwrap();
        let outbox = Arc::new(DevOutbox::new());
        let mut config = Config::new(ADMIN);
        config.dev_outbox = true;
        let st = AppState::new(
            store,
            Keyring::new(Kek::generate("k1")),
            Arc::new(LabelBiometrics::new()),
            Arc::new(SystemClock),
            outbox.clone(),
            Arc::new(SimulatedProcessor),
            config,
        );
        Browser {
            app: crate::app(st),
            outbox,
            cookies: HashMap::new(),
            last: String::new(),
            _dir: dir,
        }
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        form: &[(&str, &str)],
        origin: Option<&str>,
    ) -> Page {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "palmsig.test");
        if !self.cookies.is_empty() {
            let c: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.header(header::COOKIE, c.join("; "));
        }
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        let body = if form.is_empty() {
            Body::empty()
        } else {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
            Body::from(serde_urlencoded::to_string(form).unwrap())
        };
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        for c in resp.headers().get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string());
        let csp = resp.headers().contains_key(header::CONTENT_SECURITY_POLICY);
        let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
            .await
            .unwrap();
        let html = String::from_utf8_lossy(&bytes).into_owned();
        if status == StatusCode::OK {
            self.last = html.clone();
        }
        Page {
            status,
            location,
            csp,
            html,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, &[], None).await
    }

    /// A same-origin post of the form with `action="{path}"` of the last page (or of the page
    /// that form is on), with its one-time token; follows the redirect like a browser.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let token = match token_of(&self.last, path) {
            Some(t) => t,
            None => {
                self.get(super::forms::landing(path)).await;
                token_of(&self.last, path)
                    .unwrap_or_else(|| panic!("no form posts to {path}: {}", self.last))
            }
        };
        let mut fields = form.to_vec();
        fields.push(("form_token", &token));
        self.post_raw(path, &fields).await
    }

    /// A same-origin post of exactly these fields; follows redirects like a browser.
    async fn post_raw(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let mut p = self
            .send(Method::POST, path, form, Some("http://palmsig.test"))
            .await;
        while let (&StatusCode::SEE_OTHER, Some(to)) = (&p.status, &p.location) {
            let to = to.clone();
            p = self.get(&to).await;
        }
        p
    }
}

/// The one-time token of the first form of `html` that posts to `action`.
fn token_of(html: &str, action: &str) -> Option<String> {
    let at = html.find(&format!(r#"<form method="post" action="{action}""#))?;
    let rest = &html[at..];
    let end = rest.find("</form>")?;
    let v = rest[..end].split(r#"name="form_token" value=""#).nth(1)?;
    Some(v.split('"').next()?.to_string())
}

/// Text of the element with `id` (up to the next `<`), for assertions.
fn text_of(html: &str, id: &str) -> String {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in page"));
    let rest = &html[start..];
    let gt = rest.find('>').unwrap();
    rest[gt + 1..].split('<').next().unwrap().to_string()
}

fn alert(html: &str) -> Option<String> {
    html.contains(r#"role="alert""#)
        .then(|| text_of(html, "banner"))
}

#[tokio::test]
async fn every_page_renders_with_a_security_policy() {
    let mut b = Browser::new().await;
    for path in ["/", "/account", "/console", "/scanner", "/console/devices"] {
        let p = b.get(path).await;
        assert_eq!(p.status, StatusCode::OK, "{path}");
        assert!(p.csp, "{path} has no CSP");
        assert!(p.html.starts_with("<!doctype html>"), "{path}");
        assert!(p.html.contains("<main id=\"main\""), "{path}");
        // Every input that a person types into has a label.
        for (i, _) in p.html.match_indices("<input id=\"") {
            let id = p.html[i + 11..].split('"').next().unwrap();
            assert!(
                p.html.contains(&format!("for=\"{id}\"")),
                "{path}: #{id} unlabelled"
            );
        }
    }
    for (path, ct) in [
        ("/assets/style.css", "text/css"),
        ("/assets/app.js", "text/javascript"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let resp = b
            .app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with(ct));
    }
}

#[tokio::test]
async fn bad_input_gets_a_visible_message() {
    let mut b = Browser::new().await;
    let p = b.post("/account/code", &[("phone", "12345")]).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        alert(&p.html).unwrap().contains("international form"),
        "{}",
        p.html
    );
    let p = b
        .post(
            "/console/login",
            &[("kind", "operator"), ("admin_token", "nope")],
        )
        .await;
    assert!(alert(&p.html).unwrap().contains("not the operator token"));
    let p = b
        .post(
            "/console/login",
            &[
                ("kind", "tenant"),
                ("client_id", "x"),
                ("client_secret", "y"),
            ],
        )
        .await;
    assert!(alert(&p.html).unwrap().contains("wrong secret"));
    let p = b
        .post("/scanner/activate", &[("activation_code", "123")])
        .await;
    assert!(alert(&p.html).unwrap().contains("12 digits"));
    let p = b
        .post("/scanner/activate", &[("activation_code", "123412341234")])
        .await;
    assert!(
        alert(&p.html).unwrap().contains("activation code"),
        "{:?}",
        alert(&p.html)
    );
    // Operator: a blank tenant name is refused by the API, and the page says so.
    b.post(
        "/console/login",
        &[("kind", "operator"), ("admin_token", ADMIN)],
    )
    .await;
    let p = b
        .post("/console/tenants", &[("op", "create"), ("name", "   ")])
        .await;
    assert!(
        alert(&p.html).unwrap().contains("1 to 200 characters"),
        "{:?}",
        alert(&p.html)
    );
}

#[tokio::test]
async fn values_are_escaped() {
    let mut b = Browser::new().await;
    let p = b
        .post(
            "/console/login",
            &[("kind", "operator"), ("admin_token", ADMIN)],
        )
        .await;
    assert!(p.html.contains("Tenants"));
    // The System tab names the score calibration in use (the default: built-in tables).
    let sys = b.get("/console/system").await;
    assert!(
        sys.html.contains("Score calibration</dt><dd>built-in</dd>"),
        "{}",
        sys.html
    );
    let evil = r#"<script>alert("x")</script>"#;
    let p = b
        .post("/console/tenants", &[("op", "create"), ("name", evil)])
        .await;
    assert!(p
        .html
        .contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(!p.html.contains(evil));
    // A tampered history cursor is shown as the first page, not reflected.
    let p = b.get("/account?cursor=%22%3E%3Cb%3E").await;
    assert!(!p.html.contains("\"><b>"));
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let mut b = Browser::new().await;
    let p = b
        .send(
            Method::POST,
            "/account/code",
            &[("phone", "+41791234567")],
            Some("http://evil.example"),
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(
        b.outbox.latest("+41791234567").is_none(),
        "no code may be sent"
    );
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

/// The value of the hidden input `name` in the first form that has one.
fn hidden(html: &str, name: &str) -> String {
    html.split(&format!(r#"name="{name}" value=""#))
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no hidden {name}"))
        .to_string()
}

/// The operator makes a tenant and its API client; the tenant signs in, adds a site and a device;
/// the simulator activates with the code. Returns the page after the activation.
async fn activated_scanner(b: &mut Browser) -> Page {
    b.post(
        "/console/login",
        &[("kind", "operator"), ("admin_token", ADMIN)],
    )
    .await;
    b.post(
        "/console/tenants",
        &[("op", "create"), ("name", "Corner Shop")],
    )
    .await;
    let tid = hidden(&b.last, "tenant_id");
    let p = b
        .post("/console/tenants", &[("op", "client"), ("tenant_id", &tid)])
        .await;
    let (cid, secret) = (
        text_of(&p.html, "new-client-id"),
        text_of(&p.html, "new-client-secret"),
    );
    b.post("/console/logout", &[]).await;
    let p = b
        .post(
            "/console/login",
            &[
                ("kind", "tenant"),
                ("client_id", &cid),
                ("client_secret", &secret),
            ],
        )
        .await;
    assert!(p.html.contains("Add a site first"), "{}", p.html);
    b.post("/console/sites", &[("name", "Till 1")]).await;
    let p = b.get("/console/devices").await;
    let site = p
        .html
        .split("<option value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let p = b
        .post("/console/devices", &[("site_id", &site), ("name", "Sim")])
        .await;
    let code = text_of(&p.html, "activation-code");
    b.post("/scanner/activate", &[("activation_code", &code)])
        .await
}

/// Capture fields of an upload whose label the test engine reads.
fn upload(op: &str, label: &str) -> Vec<(&'static str, String)> {
    vec![
        ("op", op.to_string()),
        ("source", "upload".into()),
        ("upload_hand", "right".into()),
        ("visible_b64", b64(label)),
    ]
}

/// Kiosk enrolment of `palm:alice` for `phone` with a card and the payment purpose.
async fn enrol(b: &mut Browser, phone: &str) -> Page {
    b.post("/scanner/kiosk", &[("op", "phone"), ("phone", phone)])
        .await;
    let otp = b.outbox.latest(phone).unwrap();
    b.post("/scanner/kiosk", &[("op", "code"), ("code", &otp)])
        .await;
    b.post(
        "/scanner/kiosk",
        &[
            ("op", "card"),
            ("number", "4242 4242 4242 4242"),
            ("exp_month", "12"),
            ("exp_year", "2031"),
        ],
    )
    .await;
    b.post("/scanner/kiosk", &[("op", "consent"), ("payment", "on")])
        .await;
    for _ in 0..2 {
        let p = b
            .post(
                "/scanner/kiosk",
                &as_pairs(&upload("capture", "palm:alice")),
            )
            .await;
        assert!(p.html.contains("Photo accepted"), "{:?}", alert(&p.html));
    }
    b.post("/scanner/kiosk", &[("op", "complete")]).await
}

fn pay(label: &str) -> Vec<(&'static str, String)> {
    let mut v = upload("x", label);
    v.retain(|(k, _)| *k != "op");
    v.extend([
        ("purpose", "payment".to_string()),
        ("amount", "12.50".into()),
        ("currency", "eur".into()),
    ]);
    v
}

async fn sign_in(b: &mut Browser, phone: &str) -> Page {
    b.post("/account/code", &[("phone", phone)]).await;
    let otp = b.outbox.latest(phone).unwrap();
    b.post("/account/login", &[("phone", phone), ("code", &otp)])
        .await
}

#[tokio::test]
async fn kiosk_hover_portal_delete_through_the_forms() {
    let mut b = Browser::new().await;
    let p = activated_scanner(&mut b).await;
    assert!(
        p.html.contains("id=\"device-name\""),
        "{:?}",
        alert(&p.html)
    );
    let phone = "+41791112233";
    b.post("/scanner/kiosk", &[("op", "phone"), ("phone", phone)])
        .await;
    let otp = b.outbox.latest(phone).unwrap();
    let p = b
        .post("/scanner/kiosk", &[("op", "code"), ("code", &otp)])
        .await;
    assert!(p.html.contains("Phone confirmed"));
    let p = b
        .post(
            "/scanner/kiosk",
            &[
                ("op", "card"),
                ("number", "4242 4242 4242 4241"),
                ("exp_month", "12"),
                ("exp_year", "2031"),
            ],
        )
        .await;
    assert!(
        alert(&p.html).is_some(),
        "a bad card number is refused visibly"
    );
    b.post(
        "/scanner/kiosk",
        &[
            ("op", "card"),
            ("number", "4242 4242 4242 4242"),
            ("exp_month", "12"),
            ("exp_year", "2031"),
        ],
    )
    .await;
    b.post("/scanner/kiosk", &[("op", "consent"), ("payment", "on")])
        .await;
    let p = b
        .post(
            "/scanner/kiosk",
            &as_pairs(&upload("capture", "palm:reject-blurred")),
        )
        .await;
    assert!(
        alert(&p.html).unwrap().contains("blurred"),
        "quality reason shown"
    );
    for _ in 0..2 {
        let p = b
            .post(
                "/scanner/kiosk",
                &as_pairs(&upload("capture", "palm:alice")),
            )
            .await;
        assert!(p.html.contains("Photo accepted"), "{:?}", alert(&p.html));
    }
    let p = b.post("/scanner/kiosk", &[("op", "complete")]).await;
    assert!(p.html.contains("id=\"enrolled\""), "{:?}", alert(&p.html));
    assert!(
        p.html.contains("The palm may now be used to: pay."),
        "{}",
        p.html
    );
    // Hover to pay: authorized, masked phone shown.
    let p = b
        .post("/scanner/hover", &as_pairs(&pay("palm:alice")))
        .await;
    assert!(p.html.contains("data-outcome=\"authorized\""), "{}", p.html);
    assert_eq!(text_of(&p.html, "result-phone"), "+41 ••• ••• 33");
    // The person signs in to the portal and sees the payment in plain words.
    let p = sign_in(&mut b, phone).await;
    assert_eq!(text_of(&p.html, "me-phone"), phone);
    assert!(
        p.html
            .contains(r#"<td data-label="Purpose">Pay</td><td data-label="Outcome">Payment authorized · 12.50 EUR · visa •••• 4242"#),
        "{}",
        p.html
    );
    // Deleting needs the confirmation (a post without its "yes" deletes nothing); then the
    // next hover is refused.
    b.get("/account/delete?what=palms").await;
    let p = b.post("/account/delete", &[("what", "palms")]).await;
    assert!(alert(&p.html).unwrap().contains("not confirmed"));
    let p = b.get("/account/delete?what=palms").await;
    assert!(p.html.contains("id=\"confirm-yes\""));
    let p = b
        .post("/account/delete", &[("what", "palms"), ("confirm", "yes")])
        .await;
    assert!(p.html.contains("Palm data deleted (1 hand)"), "{}", p.html);
    let p = b
        .post("/scanner/hover", &as_pairs(&pay("palm:alice")))
        .await;
    assert!(p.html.contains("data-outcome=\"no_match\""), "{}", p.html);
}

/// The `<h2>` text of the payments in the portal history.
fn payments_in_history(html: &str) -> usize {
    html.matches("Payment authorized · 12.50 EUR").count()
}

#[tokio::test]
async fn reload_back_and_double_submit_never_repeat_a_payment() {
    let mut b = Browser::new().await;
    activated_scanner(&mut b).await;
    enrol(&mut b, "+41791112244").await;
    b.get("/scanner").await;
    let token = token_of(&b.last, "/scanner/hover").unwrap();
    let mut fields = pay("palm:alice");
    fields.push(("form_token", token));
    let first = b
        .send(
            Method::POST,
            "/scanner/hover",
            &as_pairs(&fields),
            Some("http://palmsig.test"),
        )
        .await;
    // Post/redirect/get: the post answers with a redirect to the kept result.
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let result_url = first.location.unwrap();
    assert!(result_url.starts_with("/scanner?r="), "{result_url}");
    // Reload (twice), then the same form again (back button or double click).
    for _ in 0..2 {
        let p = b.get(&result_url).await;
        assert!(p.html.contains("data-outcome=\"authorized\""));
    }
    let again = b
        .send(
            Method::POST,
            "/scanner/hover",
            &as_pairs(&fields),
            Some("http://palmsig.test"),
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location.as_deref(), Some(result_url.as_str()));
    let p = sign_in(&mut b, "+41791112244").await;
    assert_eq!(payments_in_history(&p.html), 1, "{}", p.html);
    // A fresh form pays again: the token stops repeats, not payments.
    b.post("/scanner/hover", &as_pairs(&pay("palm:alice")))
        .await;
    let p = b.get("/account").await;
    assert_eq!(payments_in_history(&p.html), 2);
}

#[tokio::test]
async fn a_post_without_a_fresh_token_does_nothing() {
    let mut b = Browser::new().await;
    b.post(
        "/console/login",
        &[("kind", "operator"), ("admin_token", ADMIN)],
    )
    .await;
    // No token, a made-up token, a token of another browser.
    let other = {
        let mut o = Browser::new().await;
        o.get("/console").await;
        token_of(&o.last, "/console/login").unwrap()
    };
    for t in [None, Some("ft_madeup"), Some(other.as_str())] {
        let mut f = vec![("op", "create"), ("name", "Ghost Shop")];
        if let Some(t) = t {
            f.push(("form_token", t));
        }
        let p = b.post_raw("/console/tenants", &f).await;
        assert!(
            alert(&p.html).unwrap().contains("nothing was done"),
            "{t:?}"
        );
    }
    let p = b.get("/console/tenants").await;
    assert!(!p.html.contains("Ghost Shop"));
}

#[tokio::test]
async fn a_device_registration_runs_once_per_form() {
    let mut b = Browser::new().await;
    activated_scanner(&mut b).await;
    let p = b.get("/console/devices").await;
    let site = hidden_option(&p.html);
    let token = token_of(&p.html, "/console/devices").unwrap();
    let f = [
        ("site_id", site.as_str()),
        ("name", "Door 2"),
        ("form_token", token.as_str()),
    ];
    let one = b.post_raw("/console/devices", &f).await;
    let code = text_of(&one.html, "activation-code");
    let two = b.post_raw("/console/devices", &f).await;
    assert_eq!(
        text_of(&two.html, "activation-code"),
        code,
        "the same result"
    );
    let p = b.get("/console/devices").await;
    assert_eq!(
        p.html
            .matches(r#"<td data-label="Name">Door 2</td>"#)
            .count(),
        1,
        "{}",
        p.html
    );
}

fn hidden_option(html: &str) -> String {
    html.split("<option value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn consent_is_never_preselected_and_at_least_one_is_needed() {
    let mut b = Browser::new().await;
    activated_scanner(&mut b).await;
    let phone = "+41791112255";
    b.post("/scanner/kiosk", &[("op", "phone"), ("phone", phone)])
        .await;
    let otp = b.outbox.latest(phone).unwrap();
    b.post("/scanner/kiosk", &[("op", "code"), ("code", &otp)])
        .await;
    let p = b
        .post("/scanner/kiosk", &[("op", "card"), ("skip", "1")])
        .await;
    let consent = p
        .html
        .split("name=\"op\" value=\"consent\"")
        .nth(1)
        .unwrap();
    assert!(!consent.contains("checked"), "a purpose is pre-selected");
    for means in ["card you add", "badge", "loyalty number", "over 18"] {
        assert!(consent.contains(means), "no plain words: {means}");
    }
    let p = b.post("/scanner/kiosk", &[("op", "consent")]).await;
    assert!(alert(&p.html).unwrap().contains("at least one"));
    assert!(p
        .html
        .contains(r#"id="k-payment" name="payment" value="on" aria-describedby="banner k-payment-means" aria-invalid="true""#), "{}", p.html);
    // Still at the consent step: no photo can be taken and nothing completes.
    let p = b.post("/scanner/kiosk", &[("op", "complete")]).await;
    assert!(alert(&p.html).unwrap().contains("not the current one"));
    let p = b
        .post("/scanner/kiosk", &[("op", "consent"), ("entry", "on")])
        .await;
    assert!(p.html.contains("Consent saved"), "{:?}", alert(&p.html));
}

#[tokio::test]
async fn destructive_actions_are_confirmed_first() {
    let mut b = Browser::new().await;
    let p = activated_scanner(&mut b).await;
    // Forget is a link to a confirmation, last on the page; without "yes" nothing happens.
    assert!(p
        .html
        .contains(r#"<a href="/scanner/forget" id="forget-device">"#));
    b.get("/scanner/forget").await;
    let p = b.post("/scanner/forget", &[]).await;
    assert!(alert(&p.html).unwrap().contains("not confirmed"));
    assert!(p.html.contains("id=\"device-name\""));
    let p = b.get("/scanner/forget").await;
    assert!(p.html.contains("id=\"confirm-yes\""));
    let p = b.post("/scanner/forget", &[("confirm", "yes")]).await;
    assert!(p.html.contains("was forgotten"), "{}", p.html);
    assert!(p.html.contains("id=\"activation-code\""));
    // Revoking a device in the console, likewise.
    let p = b.get("/console/devices").await;
    let href = p
        .html
        .split(r#"<a href="/console/devices/revoke?id="#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    b.get(&format!("/console/devices/revoke?id={href}")).await;
    let p = b.post("/console/devices/revoke", &[("id", &href)]).await;
    assert!(alert(&p.html).unwrap().contains("not confirmed"));
    let p = b.get(&format!("/console/devices/revoke?id={href}")).await;
    assert!(p.html.contains("Revoke the device “Sim”?"), "{}", p.html);
    let p = b
        .post(
            "/console/devices/revoke",
            &[("id", &href), ("confirm", "yes")],
        )
        .await;
    assert!(p.html.contains("Device revoked"), "{:?}", alert(&p.html));
    assert!(p.html.contains(r#"<span class="tag warn">revoked</span>"#));
}

#[tokio::test]
async fn errors_mark_the_field_and_the_title_and_results_are_announced() {
    let mut b = Browser::new().await;
    let p = b.post("/account/code", &[("phone", "12345")]).await;
    assert!(p.html.contains("<title>Error – My palm · palmsig</title>"));
    assert!(p.html.contains(
        r#"id="phone" name="phone" type="tel" autocomplete="tel" placeholder="+41 79 123 45 67" required aria-invalid="true" aria-describedby="banner">"#
    ), "{}", p.html);
    let p = activated_scanner(&mut b).await;
    assert!(p.html.contains(r#"role="status" id="banner""#));
    assert!(
        p.html
            .contains("<title>Scanner activated: “Sim” at Till 1. – Scanner"),
        "{}",
        p.html
    );
    let p = b
        .post("/scanner/hover", &as_pairs(&pay("palm:nobody")))
        .await;
    assert!(
        p.html.contains("<title>Palm not recognised – Scanner"),
        "{}",
        p.html
    );
    assert!(p
        .html
        .contains(r#"id="result" role="status" tabindex="-1""#));
}

#[tokio::test]
async fn plain_words_names_and_a_first_run_hint_on_the_scanner() {
    let mut b = Browser::new().await;
    let p = activated_scanner(&mut b).await;
    assert!(p.html.contains("Scanner activated: “Sim” at Till 1."));
    let bar = p.html.split("<nav class=\"tabs\"").next().unwrap();
    assert!(bar.contains(
        r#"<strong id="device-name">Sim</strong> at <strong id="site-name">Till 1</strong>"#
    ));
    assert!(
        !bar.contains("dev_") && !bar.contains("site_"),
        "ids in the header"
    );
    assert!(p.html.contains("id=\"first-run\""), "no first-run hint");
    // The capture settings are folded away, after the primary action.
    let hover = p.html.find("id=\"hover-button\"").unwrap();
    let details = p.html.find("<details class=\"capture\"").unwrap();
    assert!(hover < details);
    let p = b
        .post("/scanner/hover", &as_pairs(&pay("palm:nobody")))
        .await;
    let result = p.html.split("id=\"result\"").nth(1).unwrap();
    assert!(result.contains("Palm not recognised"));
    assert!(result.contains(r#"<a href="/scanner?mode=kiosk">enrolment kiosk</a>"#));
    assert!(!result.contains(">no_match<"), "a raw code is shown");
    enrol(&mut b, "+41791112266").await;
    let p = b.get("/scanner").await;
    assert!(!p.html.contains("id=\"first-run\""));
    // A refused capture gives the reason in plain words.
    let p = b
        .post(
            "/scanner/hover",
            &as_pairs(&pay("palm:reject-hand_too_far")),
        )
        .await;
    assert_eq!(
        text_of(&p.html, "result-reason"),
        "The hand is too far away. Move it closer."
    );
}

#[tokio::test]
async fn counters_show_only_the_hands_being_enrolled() {
    let mut b = Browser::new().await;
    activated_scanner(&mut b).await;
    let phone = "+41791112277";
    b.post("/scanner/kiosk", &[("op", "phone"), ("phone", phone)])
        .await;
    let otp = b.outbox.latest(phone).unwrap();
    b.post("/scanner/kiosk", &[("op", "code"), ("code", &otp)])
        .await;
    b.post("/scanner/kiosk", &[("op", "card"), ("skip", "1")])
        .await;
    let p = b
        .post("/scanner/kiosk", &[("op", "consent"), ("loyalty", "on")])
        .await;
    assert!(text_of(&p.html, "capture-counts").is_empty() || p.html.contains("No photo yet"));
    let mut p = p;
    for _ in 0..3 {
        p = b
            .post(
                "/scanner/kiosk",
                &as_pairs(&upload("capture", "palm:carol")),
            )
            .await;
    }
    let counts = p.html.split("id=\"capture-counts\"").nth(1).unwrap();
    let counts = counts.split("</ul>").next().unwrap();
    assert!(
        counts.contains("right hand: <strong data-hand=\"right\">3</strong> photos (enough)"),
        "{counts}"
    );
    assert!(!counts.contains("left"), "{counts}");
    assert!(!counts.contains("of 2 needed"), "{counts}");
}

#[tokio::test]
async fn expiry_year_a_wrong_secret_and_a_different_number() {
    let mut b = Browser::new().await;
    // A wrong console secret keeps the client id and marks the secret.
    let p = b
        .post(
            "/console/login",
            &[
                ("kind", "tenant"),
                ("client_id", "cli_typed_by_hand"),
                ("client_secret", "wrong"),
            ],
        )
        .await;
    assert!(
        p.html.contains(r#"value="cli_typed_by_hand""#),
        "{}",
        p.html
    );
    assert!(p.html.contains(r#"id="client-secret" name="client_secret" type="password" autocomplete="current-password" required aria-invalid="true""#));
    // The code step offers another number.
    let p = b.post("/account/code", &[("phone", "+41791112288")]).await;
    assert!(p
        .html
        .contains(r#"<a href="/account" id="different-number">Use a different number</a>"#));
    // A two-digit expiry year gets a clear message at the kiosk.
    activated_scanner(&mut b).await;
    let phone = "+41791112299";
    b.post("/scanner/kiosk", &[("op", "phone"), ("phone", phone)])
        .await;
    let otp = b.outbox.latest(phone).unwrap();
    b.post("/scanner/kiosk", &[("op", "code"), ("code", &otp)])
        .await;
    let p = b
        .post(
            "/scanner/kiosk",
            &[
                ("op", "card"),
                ("number", "4242 4242 4242 4242"),
                ("exp_month", "12"),
                ("exp_year", "31"),
            ],
        )
        .await;
    assert!(
        alert(&p.html).unwrap().contains("four digits"),
        "{:?}",
        alert(&p.html)
    );
    assert!(p.html.contains(r#"id="kiosk-year" name="exp_year" inputmode="numeric" maxlength="4" aria-describedby="banner kiosk-year-hint" aria-invalid="true""#), "{}", p.html);
}

#[tokio::test]
async fn pages_and_assets_are_compressed() {
    let b = Browser::new().await;
    for (path, enc) in [
        ("/account", "gzip"),
        ("/scanner", "br"),
        ("/assets/style.css", "gzip"),
        ("/assets/app.js", "br"),
    ] {
        let resp = b
            .app
            .clone()
            .oneshot(
                Request::get(path)
                    .header(header::ACCEPT_ENCODING, enc)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()
                .get(header::CONTENT_ENCODING)
                .map(|v| v.to_str().unwrap()),
            Some(enc),
            "{path}"
        );
    }
}

/// Relative luminance of `#rrggbb` (WCAG 2.2).
fn luminance(hex: &str) -> f64 {
    let c = |i: usize| {
        let v = u8::from_str_radix(&hex[i..i + 2], 16).unwrap() as f64 / 255.0;
        if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
}

fn contrast(a: &str, b: &str) -> f64 {
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// A custom property of the stylesheet (`--name: #rrggbb`).
fn css_var(css: &str, name: &str) -> String {
    css.split(&format!("--{name}: "))
        .nth(1)
        .and_then(|r| r.get(..7))
        .unwrap_or_else(|| panic!("no --{name}"))
        .to_string()
}

#[test]
fn the_focus_ring_has_3_to_1_contrast_where_it_is_drawn() {
    let css = include_str!("../../assets/style.css");
    let focus = css_var(css, "focus");
    let on_brand = css_var(css, "focus-on-brand");
    let white_bg = contrast(&focus, "#ffffff");
    let page_bg = contrast(&focus, &css_var(css, "bg"));
    let header = contrast(&on_brand, &css_var(css, "brand"));
    println!("focus {focus}: {white_bg:.2}:1 on white, {page_bg:.2}:1 on the page; {on_brand}: {header:.2}:1 on the header");
    assert!(white_bg >= 3.0 && page_bg >= 3.0 && header >= 3.0);
    assert!(css.contains(":focus-visible { outline: 3px solid var(--focus)"));
    assert!(css.contains(".top :focus-visible { outline-color: var(--focus-on-brand); }"));
    // The old ring, for the record: 1.64:1 on white.
    assert!(contrast("#ffbf47", "#ffffff") < 3.0);
}

fn as_pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}
