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
        Page {
            status,
            location,
            csp,
            html: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, &[], None).await
    }

    /// A same-origin form post; follows one redirect like a browser.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let p = self
            .send(Method::POST, path, form, Some("http://palmsig.test"))
            .await;
        match (&p.status, &p.location) {
            (&StatusCode::SEE_OTHER, Some(to)) => {
                let to = to.clone();
                self.get(&to).await
            }
            _ => p,
        }
    }
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
    assert!(alert(&p.html).unwrap().contains("E.164"), "{}", p.html);
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
        alert(&p.html).unwrap().contains("1-200"),
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

#[tokio::test]
async fn kiosk_hover_portal_delete_through_the_forms() {
    let mut b = Browser::new().await;
    // Operator creates a tenant and an API client for it.
    b.post(
        "/console/login",
        &[("kind", "operator"), ("admin_token", ADMIN)],
    )
    .await;
    let p = b
        .post(
            "/console/tenants",
            &[("op", "create"), ("name", "Corner Shop")],
        )
        .await;
    let tid = p
        .html
        .split("<code>ten_")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let tid = format!("ten_{tid}");
    let p = b
        .post("/console/tenants", &[("op", "client"), ("tenant_id", &tid)])
        .await;
    let (cid, secret) = (
        text_of(&p.html, "new-client-id"),
        text_of(&p.html, "new-client-secret"),
    );
    b.post("/console/logout", &[]).await;
    // The tenant adds a site and a device, and reads the activation code.
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
    // The simulator activates with it, then enrols at the kiosk.
    let p = b
        .post("/scanner/activate", &[("activation_code", &code)])
        .await;
    assert!(p.html.contains("id=\"device-id\""), "{:?}", alert(&p.html));
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
    let alice = b64("palm:alice");
    let cap = |op: &'static str, v: &str| -> Vec<(&'static str, String)> {
        vec![
            ("op", op.to_string()),
            ("source", "upload".into()),
            ("upload_hand", "right".into()),
            ("visible_b64", v.to_string()),
        ]
    };
    let refs = |v: &[(&'static str, String)]| -> Vec<(&'static str, String)> { v.to_vec() };
    let blurred = cap("capture", &b64("palm:reject-blurred"));
    let p = b.post("/scanner/kiosk", &as_pairs(&refs(&blurred))).await;
    assert!(
        alert(&p.html).unwrap().contains("blurred"),
        "quality reason shown"
    );
    for _ in 0..2 {
        let p = b
            .post("/scanner/kiosk", &as_pairs(&cap("capture", &alice)))
            .await;
        assert!(p.html.contains("Capture accepted"), "{:?}", alert(&p.html));
    }
    let p = b.post("/scanner/kiosk", &[("op", "complete")]).await;
    assert!(p.html.contains("id=\"enrolled\""), "{:?}", alert(&p.html));
    // Hover to pay: authorized, masked phone shown.
    let mut pay = cap("x", &alice);
    pay.retain(|(k, _)| *k != "op");
    pay.extend([
        ("purpose", "payment".to_string()),
        ("amount", "12.50".into()),
        ("currency", "eur".into()),
    ]);
    let p = b.post("/scanner/hover", &as_pairs(&pay)).await;
    assert!(p.html.contains("data-outcome=\"authorized\""), "{}", p.html);
    assert_eq!(text_of(&p.html, "result-phone"), "+41 ••• ••• 33");
    // The person signs in to the portal and sees the payment.
    b.post("/account/code", &[("phone", phone)]).await;
    let otp = b.outbox.latest(phone).unwrap();
    let p = b
        .post("/account/login", &[("phone", phone), ("code", &otp)])
        .await;
    assert_eq!(text_of(&p.html, "me-phone"), phone);
    assert!(
        p.html.contains("authorized · 12.50 EUR · visa •••• 4242"),
        "{}",
        p.html
    );
    // Deleting needs the confirmation; then the next hover is refused.
    let p = b.post("/account/delete", &[("what", "palms")]).await;
    assert!(alert(&p.html).unwrap().contains("not confirmed"));
    let p = b.get("/account/delete?what=palms").await;
    assert!(p.html.contains("id=\"confirm-delete\""));
    let p = b
        .post("/account/delete", &[("what", "palms"), ("confirm", "yes")])
        .await;
    assert!(p.html.contains("Palm data deleted (1 hand)"), "{}", p.html);
    let p = b.post("/scanner/hover", &as_pairs(&pay)).await;
    assert!(p.html.contains("data-outcome=\"no_match\""), "{}", p.html);
}

fn as_pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}
