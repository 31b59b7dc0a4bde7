//! Defects a hostile-client audit found (issue 16), on SQLite and on PostgreSQL.
mod common;

use axum::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};

backend_tests!(
    dev_outbox_needs_operator,
    deletion_leaves_no_trace,
    control_characters_refused,
    extraction_is_bounded,
    inputs_are_bounded,
    otp_limits_per_phone,
    webhook_retries_survive_restart,
    webhook_targets_are_public,
    abandoned_enrolments_expire,
    phones_never_in_clear,
    metrics_need_the_operator,
    spec_matches_behaviour
);

/// The dev outbox lists every one-time code: even where it is enabled, only the operator reads it.
async fn dev_outbox_needs_operator(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let phone = "+41790001001";
        app.enrol(&t.device, phone, "outbox", "4242424242424242")
            .await
            .unwrap();
        let (s, v) = app.call(Method::GET, "/v1/dev/outbox", &[], None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert!(!v.to_string().contains(phone), "{v}");
        let (s, v) = app
            .call(Method::GET, "/v1/dev/outbox", &t.auth(), None)
            .await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "a tenant is not the operator: {v}"
        );
        let (s, v) = app
            .call(
                Method::GET,
                "/v1/dev/outbox",
                &[("authorization", format!("Bearer {ADMIN}"))],
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v.to_string().contains(phone), "{v}");
        drop(app);
        db
    })
    .await;
}

/// `DELETE /v1/me/palms` then `DELETE /v1/me` leave nothing of the person in the database: on
/// SQLite no copy in any file of the data dir (the WAL and free pages included), on PostgreSQL no
/// row holding the phone, the palm ciphertext or its wrapped data key.
async fn deletion_leaves_no_trace(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        // Stored as a keyed hash and sealed under the person's own data key (never in clear).
        let phone = "+41795550123";
        let pid = app
            .enrol(&t.device, phone, "erase-me", "4242424242424242")
            .await
            .unwrap();
        let palm = app.state.store.palms_of(&pid).await.unwrap().remove(0);
        let key = |id: String| {
            let store = app.state.store.clone();
            async move { store.get_data_key(&id).await.unwrap().unwrap().wrapped }
        };
        let person = app.state.store.get_person(&pid).await.unwrap().unwrap();
        let secrets: [(&str, Vec<u8>); 5] = [
            ("phone hash", person.phone_hash.as_bytes().to_vec()),
            ("sealed phone", person.phone_ct.clone().unwrap()),
            ("phone data key", key(pid.clone()).await),
            ("palm ciphertext", palm.ciphertext.clone()),
            ("wrapped data key", key(palm.id.clone()).await),
        ];
        let before = db.raw_dump().await;
        for (what, bytes) in &secrets {
            assert!(
                contains(&before, bytes),
                "{what} is stored before deletion (the scan works)"
            );
        }
        assert!(!contains(&before, phone.as_bytes()), "the phone in clear");
        let cookie = app.login(phone).await;
        let auth = [("cookie", cookie)];
        let (s, v) = app.call(Method::DELETE, "/v1/me/palms", &auth, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = app.call(Method::DELETE, "/v1/me", &auth, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
        let after = db.raw_dump().await;
        for (what, bytes) in &secrets {
            assert!(
                !contains(&after, bytes),
                "{what} still in the database files after deletion"
            );
        }
        assert!(!contains(&after, phone.as_bytes()), "the phone in clear");
        drop(app);
        db
    })
    .await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// (what, method, path, headers, JSON body or null).
type Case<'a> = (
    &'a str,
    Method,
    String,
    &'a [(&'a str, String)],
    serde_json::Value,
);

/// A NUL (or other control character) in any text reaching SQL is a typed 4xx, never a 500
/// (PostgreSQL refuses NUL in text), and nothing is stored.
async fn control_characters_refused(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let phone = "+41790002002";
        app.enrol(&t.device, phone, "nul", "4242424242424242")
            .await
            .unwrap();
        let cookie = [("cookie", app.login(phone).await)];
        let admin = [("authorization", format!("Bearer {ADMIN}"))];
        let tauth = t.auth();
        let none: [(&str, String); 0] = [];
        let form = |body: &str| {
            axum::http::Request::post("/v1/oauth/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap()
        };
        // Form bodies.
        for body in [
            "grant_type=client_credentials&client_id=a%00&client_secret=x",
            "grant_type=client_credentials&client_id=a&client_secret=x%00",
            "grant_type=client%01credentials&client_id=a&client_secret=x",
        ] {
            let (s, _, v) = app.raw(form(body)).await;
            assert!(s.is_client_error(), "token form {body}: {s} {v}");
        }
        // JSON bodies: (what, method, path, headers, body).
        let nul = "a\u{0}b";
        let cases: Vec<Case<'_>> = vec![
            (
                "token client_id",
                Method::POST,
                "/v1/oauth/token".into(),
                &none[..],
                json!({"grant_type": "client_credentials", "client_id": nul, "client_secret": "x"}),
            ),
            (
                "tenant name",
                Method::POST,
                "/v1/admin/tenants".into(),
                &admin[..],
                json!({"name": nul}),
            ),
            (
                "site name",
                Method::POST,
                "/v1/sites".into(),
                &tauth[..],
                json!({"name": nul}),
            ),
            (
                "device name",
                Method::POST,
                "/v1/devices".into(),
                &tauth[..],
                json!({"site_id": t.site_id, "name": nul}),
            ),
            (
                "device site",
                Method::POST,
                "/v1/devices".into(),
                &tauth[..],
                json!({"site_id": nul, "name": "x"}),
            ),
            (
                "webhook url",
                Method::POST,
                "/v1/webhooks".into(),
                &tauth[..],
                json!({"url": "http://127.0.0.1:9/h\u{0}ook"}),
            ),
            (
                "portal otp phone",
                Method::POST,
                "/v1/portal/otp".into(),
                &none[..],
                json!({"phone": "+4179000\u{0}2002"}),
            ),
            (
                "portal login code",
                Method::POST,
                "/v1/portal/session".into(),
                &none[..],
                json!({"phone": phone, "code": "12\u{0}456"}),
            ),
            (
                "portal login phone",
                Method::POST,
                "/v1/portal/session".into(),
                &none[..],
                json!({"phone": "\u{0}", "code": "123456"}),
            ),
            (
                "loyalty id",
                Method::PUT,
                format!("/v1/me/loyalty/{}", t.id),
                &cookie[..],
                json!({"loyalty_id": nul}),
            ),
            (
                "object key",
                Method::PUT,
                "/v1/me/consents".into(),
                &cookie[..],
                json!({"pay\u{0}ment": true}),
            ),
            (
                "card path",
                Method::DELETE,
                "/v1/me/cards/a%00b".into(),
                &cookie[..],
                json!(null),
            ),
            (
                "device path",
                Method::GET,
                "/v1/devices/a%00".into(),
                &tauth[..],
                json!(null),
            ),
            (
                "cursor query",
                Method::GET,
                "/v1/events?cursor=a%00".into(),
                &tauth[..],
                json!(null),
            ),
            (
                "loyalty path",
                Method::DELETE,
                "/v1/me/loyalty/a%1Fb".into(),
                &cookie[..],
                json!(null),
            ),
        ];
        for (what, method, path, headers, body) in cases {
            let body = (!body.is_null()).then_some(body);
            let (s, v) = app.call(method, &path, headers, body).await;
            assert!(s.is_client_error(), "{what}: {s} {v}");
            assert_eq!(v["error"]["code"], "invalid_text", "{what}: {s} {v}");
        }
        // Device-signed enrolment start.
        let (s, _, v) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/enrolments",
                json!({"phone": "+4179\u{0}0002003"}),
                &[],
            )
            .await;
        assert!(s.is_client_error(), "enrolment phone: {s} {v}");
        assert_eq!(v["error"]["code"], "invalid_text", "{v}");
        let (s, tenants) = app.admin(Method::GET, "/v1/admin/tenants", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            !tenants.to_string().contains("\\u0000"),
            "nothing stored: {tenants}"
        );
        drop(app);
        db
    })
    .await;
}

/// Captures are extracted at most `extract_concurrency` at a time; one that finds no slot within
/// the wait is answered 503 `busy` with Retry-After, and is served once a slot is free.
async fn extraction_is_bounded(kind: Kind) {
    with_db(kind, |db| async move {
        let mut config = test_config();
        config.extract_concurrency = 1;
        config.extract_wait_ms = 50;
        let app = TestApp::with(
            &db,
            std::sync::Arc::new(palmsig_service::biometrics::LabelBiometrics::new()),
            palmsig_service::crypto::Keyring::new(palmsig_service::crypto::Kek::generate("k1")),
            config,
        )
        .await;
        assert_eq!(app.state.extract_slots.size(), 1);
        let t = app.tenant("Shop").await;
        let probe = json!({"purpose": "age", "visible": b64(b"palm:busy")});
        let held = app
            .state
            .extract_slots
            .acquire(std::time::Duration::from_millis(10))
            .await
            .unwrap();
        let (s, h, v) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/identify",
                probe.clone(),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_eq!(v["error"]["code"], "busy");
        assert_eq!(h.get("retry-after").unwrap(), "1");
        drop(held);
        let (s, _, v) = app
            .device(&t.device, Method::POST, "/v1/device/identify", probe, &[])
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(app.state.extract_slots.available(), 1, "slot released");
        drop(app);
        db
    })
    .await;
}

/// Row 9: payment amounts bounded, currencies from ISO 4217, cards with a known brand and not all
/// zeros, names without control characters, JSON bodies that say they are JSON.
async fn inputs_are_bounded(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let pay = |amount: Value, currency: &str| {
            json!({"purpose": "payment", "amount": amount, "currency": currency, "visible": b64(b"palm:x")})
        };
        let max = palmsig_service::params::MAX_PAYMENT_MINOR;
        for (body, code) in [
            (pay(json!(i64::MAX), "CHF"), "bad_amount"),
            (pay(json!(max + 1), "CHF"), "bad_amount"),
            (pay(json!(0), "CHF"), "bad_amount"),
            (pay(json!(100), "XYZ"), "bad_currency"),
            (pay(json!(100), "XXX"), "bad_currency"),
        ] {
            let (s, _, v) = app
                .device(&t.device, Method::POST, "/v1/device/identify", body.clone(), &[])
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
            assert_eq!(v["error"]["code"], code, "{body}: {v}");
        }
        let (s, _, v) = app
            .device(&t.device, Method::POST, "/v1/device/identify", pay(json!(max), "chf"), &[])
            .await;
        assert_eq!(s, StatusCode::OK, "the bound itself is accepted: {v}");
        // Cards: all zeros (Luhn-valid) and unknown brands are refused.
        let phone = "+41790009009";
        let pid = app.enrol(&t.device, phone, "cards", "4242424242424242").await.unwrap();
        let cookie = [("cookie", app.login(phone).await)];
        for number in ["0000000000000000", "0000 0000 0000 0000 000", "9999999999999995"] {
            let (s, v) = app
                .call(
                    Method::POST,
                    "/v1/me/cards",
                    &cookie,
                    Some(json!({"number": number, "exp_month": 12, "exp_year": 2030})),
                )
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{number}: {v}");
            assert_eq!(v["error"]["code"], "bad_card", "{number}: {v}");
        }
        assert_eq!(app.state.store.cards_of(&pid).await.unwrap().len(), 1);
        // Names: any control character, not only NUL.
        for name in ["Shop\u{1}", "a\tb", "x\u{7f}", "\u{85}"] {
            let (s, v) = app
                .admin(Method::POST, "/v1/admin/tenants", Some(json!({"name": name})))
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {v}");
            assert_eq!(v["error"]["code"], "invalid_text");
        }
        // A JSON body without a JSON Content-Type: 415, nothing created.
        for ct in [None, Some("text/plain"), Some("application/x-www-form-urlencoded")] {
            let mut b = axum::http::Request::post("/v1/admin/tenants")
                .header("authorization", format!("Bearer {ADMIN}"));
            if let Some(ct) = ct {
                b = b.header("content-type", ct);
            }
            let body = axum::body::Body::from(json!({"name": "Sneaky"}).to_string());
            let (s, _, v) = app.raw(b.body(body).unwrap()).await;
            assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}: {v}");
            assert_eq!(v["error"]["code"], "unsupported_media_type", "{v}");
        }
        let (_, tenants) = app.admin(Method::GET, "/v1/admin/tenants", None).await;
        assert!(!tenants.to_string().contains("Sneaky"), "{tenants}");
        let b = axum::http::Request::post("/v1/admin/tenants")
            .header("authorization", format!("Bearer {ADMIN}"))
            .header("content-type", "application/json; charset=utf-8");
        let body = axum::body::Body::from(json!({"name": "Fine"}).to_string());
        let (s, _, v) = app.raw(b.body(body).unwrap()).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        drop(app);
        db
    })
    .await;
}

/// Row 7: codes sent to one phone and wrong guesses are limited per phone, across devices and
/// the portal, kept in the database (a restart does not reset them) and not reset by a new code.
async fn otp_limits_per_phone(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let other = app.new_device(&t.token, &t.site_id).await;
        let phone = "+41790007007";
        let bio = || std::sync::Arc::new(palmsig_service::biometrics::LabelBiometrics::new());
        let max = palmsig_service::params::OTP_SENDS_PER_WINDOW;
        // Codes sent: devices and the portal draw from one budget.
        for i in 0..max {
            let (s, v) = if i % 2 == 0 {
                let (s, _, v) = app
                    .device(
                        &t.device,
                        Method::POST,
                        "/v1/device/enrolments",
                        json!({"phone": phone}),
                        &[],
                    )
                    .await;
                (s, v)
            } else {
                app.call(
                    Method::POST,
                    "/v1/portal/otp",
                    &[],
                    Some(json!({"phone": phone})),
                )
                .await
            };
            assert!(s.is_success(), "code {i}: {s} {v}");
        }
        let (s, _, v) = app
            .device(
                &other,
                Method::POST,
                "/v1/device/enrolments",
                json!({"phone": phone}),
                &[],
            )
            .await;
        assert_eq!(
            s,
            StatusCode::TOO_MANY_REQUESTS,
            "another device, same phone: {v}"
        );
        assert_eq!(v["error"]["code"], "too_many_codes");
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/portal/otp",
                &[],
                Some(json!({"phone": phone})),
            )
            .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "portal: {v}");
        // Stored in the database: a restarted service keeps counting.
        let app2 = TestApp::with(&db, bio(), app.state.keys.clone(), test_config()).await;
        app2.clock.set(app.clock_now());
        let (s, v) = app2
            .call(
                Method::POST,
                "/v1/portal/otp",
                &[],
                Some(json!({"phone": phone})),
            )
            .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "after a restart: {v}");
        drop(app2);

        // Wrong guesses: counted per phone over all its codes.
        let victim = "+41790008008";
        let (s, _, e) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/enrolments",
                json!({"phone": victim}),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let enr = e["enrolment_id"].as_str().unwrap().to_string();
        let verify = format!("/v1/device/enrolments/{enr}/verify");
        let real = app.outbox.latest(victim).unwrap();
        let wrong = if real == "000000" { "111111" } else { "000000" };
        for _ in 0..palmsig_service::params::OTP_FAILURES_PER_WINDOW - 1 {
            let (s, _, v) = app
                .device(
                    &t.device,
                    Method::POST,
                    &verify,
                    json!({"code": wrong}),
                    &[],
                )
                .await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        }
        // A new code (from the portal) does not reset the count.
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/portal/otp",
                &[],
                Some(json!({"phone": victim})),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let (s, _, v) = app
            .device(
                &t.device,
                Method::POST,
                &verify,
                json!({"code": wrong}),
                &[],
            )
            .await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "last wrong guess of the window: {v}"
        );
        let fresh = app.outbox.latest(victim).unwrap();
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/portal/session",
                &[],
                Some(json!({"phone": victim, "code": fresh})),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::TOO_MANY_REQUESTS,
            "no more tries this hour, even right: {v}"
        );
        assert_eq!(v["error"]["code"], "too_many_attempts");
        // The next window allows codes and tries again.
        app.clock
            .advance(palmsig_service::params::OTP_LIMIT_WINDOW_MS);
        let (s, _, v) = app
            .device(
                &other,
                Method::POST,
                "/v1/device/enrolments",
                json!({"phone": phone}),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "a new window: {v}");
        drop(app);
        db
    })
    .await;
}

/// A webhook receiver on 127.0.0.1:0 answering the status in `status`; counts the calls.
async fn receiver(
    status: std::sync::Arc<std::sync::atomic::AtomicU16>,
) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::Ordering;
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = calls.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let (c, status) = (c.clone(), status.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), calls)
}

/// Row 6: a delivery that failed before a restart is retried by the restarted service (a new
/// app on the same database), from the outbox in the database.
async fn webhook_retries_survive_restart(kind: Kind) {
    use std::sync::atomic::{AtomicU16, Ordering};
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let status = std::sync::Arc::new(AtomicU16::new(503));
        let (url, calls) = receiver(status.clone()).await;
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/webhooks",
                &t.auth(),
                Some(json!({"url": url})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, _, v) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/identify",
                json!({"purpose": "age", "visible": b64(b"palm:nobody")}),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        palmsig_service::webhook::wait_in_flight(&app.state).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "first attempt made, and failed"
        );
        // Restart: the old service is gone with its tasks; the endpoint is back up.
        let keys = app.state.keys.clone();
        drop(app);
        status.store(200, Ordering::SeqCst);
        let bio = std::sync::Arc::new(palmsig_service::biometrics::LabelBiometrics::new());
        let app = TestApp::with(&db, bio, keys, test_config()).await;
        palmsig_service::webhook::drain(&app.state).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2, "retried after the restart");
        let (_, dl) = app
            .call(Method::GET, "/v1/webhooks/deliveries", &t.auth(), None)
            .await;
        let mut attempts: Vec<(i64, bool)> = dl["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| (d["attempt"].as_i64().unwrap(), d["ok"].as_bool().unwrap()))
            .collect();
        attempts.sort();
        assert_eq!(attempts, vec![(1, false), (2, true)], "{dl}");
        assert_eq!(app.state.store.pending_deliveries().await.unwrap(), 0);
        drop(app);
        db
    })
    .await;
}

/// Row 8: outside dev mode webhook URLs are https to public addresses, checked at registration
/// and again at delivery; the delivery log says why without the network's detail.
async fn webhook_targets_are_public(kind: Kind) {
    use std::sync::atomic::{AtomicU16, Ordering};
    with_db(kind, |db| async move {
        let mut config = test_config();
        config.dev_webhooks = false;
        let app = TestApp::with(
            &db,
            std::sync::Arc::new(palmsig_service::biometrics::LabelBiometrics::new()),
            palmsig_service::crypto::Keyring::new(palmsig_service::crypto::Kek::generate("k1")),
            config,
        )
        .await;
        let t = app.tenant("Shop").await;
        for url in [
            "http://hooks.example.com/h",
            "https://127.0.0.1/h",
            "https://[::1]/h",
            "https://localhost/h",
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/h",
            "https://192.168.0.10/h",
            "https://100.64.0.1/h",
            "https://[fd12::1]/h",
            "https://[fe80::1]/h",
            "https://[::ffff:127.0.0.1]/h",
        ] {
            let (s, v) = app
                .call(
                    Method::POST,
                    "/v1/webhooks",
                    &t.auth(),
                    Some(json!({"url": url})),
                )
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {v}");
            assert_eq!(v["error"]["code"], "bad_url", "{url}: {v}");
        }
        // A hook that points inside by the time of delivery (stored before this check, or a name
        // re-pointed since): checked again, nothing sent.
        let status = std::sync::Arc::new(AtomicU16::new(200));
        let (url, calls) = receiver(status).await;
        let id = palmsig_service::state::new_id("wh");
        let secrets = palmsig_service::webhook::seal_secrets(&app.state, &id, &["whsec_x".into()])
            .await
            .unwrap();
        let row = palmsig_service::store::WebhookRow {
            id,
            tenant_id: t.id.clone(),
            url: url.clone(),
            secrets,
            created_ms: app.clock_now(),
        };
        app.state.store.create_webhook(&row).await.unwrap();
        let (s, _, v) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/identify",
                json!({"purpose": "age", "visible": b64(b"palm:nobody")}),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        palmsig_service::webhook::drain(&app.state).await;
        assert_eq!(
            calls.load(Ordering::SeqCst),
            0,
            "an internal address was called"
        );
        let (_, dl) = app
            .call(Method::GET, "/v1/webhooks/deliveries", &t.auth(), None)
            .await;
        let items = dl["data"].as_array().unwrap();
        assert!(!items.is_empty(), "{dl}");
        for d in items {
            assert_eq!(d["ok"], false);
            assert!(d["status_code"].is_null(), "{d}");
            assert!(
                ["bad_url", "blocked_address"].contains(&d["error"].as_str().unwrap()),
                "a fixed code, no socket detail: {d}"
            );
        }
        assert!(!dl.to_string().contains("refused"), "{dl}");
        drop(app);
        db
    })
    .await;
}

/// Start an enrolment, confirm the phone and add a card, then walk away; returns its id.
async fn abandon_enrolment(app: &TestApp, dev: &DeviceCreds, phone: &str, card: &str) -> String {
    let (s, _, e) = app
        .device(
            dev,
            Method::POST,
            "/v1/device/enrolments",
            json!({"phone": phone}),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{e}");
    let id = e["enrolment_id"].as_str().unwrap().to_string();
    let code = app.outbox.latest(phone).unwrap();
    let verify = format!("/v1/device/enrolments/{id}/verify");
    let (s, _, v) = app
        .device(dev, Method::POST, &verify, json!({"code": code}), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let card_path = format!("/v1/device/enrolments/{id}/card");
    let body = json!({"number": card, "exp_month": 12, "exp_year": 2030});
    let (s, _, v) = app.device(dev, Method::POST, &card_path, body, &[]).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    id
}

/// Row 10: an enrolment abandoned after the phone check (or lost in a restart) expires after
/// the configured TTL: its cards are removed (keys shredded), and the person too if it created
/// them; a person enrolled before keeps what they had.
async fn abandoned_enrolments_expire(kind: Kind) {
    use palmsig_service::ops::retention::expire_enrolments;
    with_db(kind, |db| async move {
        let mut config = test_config();
        config.enrolment_ttl_ms = 10 * 60 * 1000;
        let keys =
            palmsig_service::crypto::Keyring::new(palmsig_service::crypto::Kek::generate("k1"));
        let bio = || std::sync::Arc::new(palmsig_service::biometrics::LabelBiometrics::new());
        let app = TestApp::with(&db, bio(), keys.clone(), config.clone()).await;
        let t = app.tenant("Shop").await;
        let (newcomer, regular) = ("+41790010010", "+41790010011");
        let kept = app
            .enrol(&t.device, regular, "regular", "4242424242424242")
            .await
            .unwrap();
        abandon_enrolment(&app, &t.device, newcomer, "5555555555554444").await;
        abandon_enrolment(&app, &t.device, regular, "378282246310005").await;
        let by_phone = palmsig_service::ops::persons::by_phone;
        let gone = by_phone(&app.state, newcomer).await.unwrap().unwrap();
        let token = app.state.store.cards_of(&gone.id).await.unwrap()[0]
            .token
            .clone();
        assert_eq!(app.state.store.cards_of(&kept).await.unwrap().len(), 2);
        // Before the TTL nothing is touched.
        app.clock.advance(config.enrolment_ttl_ms - 1);
        assert!(expire_enrolments(&app.state).await.unwrap().is_empty());
        // The service restarts (the enrolments in memory are lost), the TTL passes.
        let now = app.clock_now();
        drop(app);
        let app = TestApp::with(&db, bio(), keys, config).await;
        app.clock.set(now + 1);
        assert_eq!(expire_enrolments(&app.state).await.unwrap().len(), 2);
        let store = &app.state.store;
        assert!(
            by_phone(&app.state, newcomer).await.unwrap().is_none(),
            "person removed"
        );
        assert!(
            store.get_data_key(&token).await.unwrap().is_none(),
            "card key shredded"
        );
        let cards = store.cards_of(&kept).await.unwrap();
        assert_eq!(cards.len(), 1, "the abandoned card only");
        assert_eq!(cards[0].last4, "4242");
        assert_eq!(store.palms_of(&kept).await.unwrap().len(), 1);
        assert!(
            expire_enrolments(&app.state).await.unwrap().is_empty(),
            "done once"
        );
        drop(app);
        db
    })
    .await;
}

/// Insert a person the way a database from before sealed phones holds one (the number in clear).
async fn insert_legacy_person(db: &Db, id: &str, phone: &str) {
    use sqlx::Connection;
    let sql = "INSERT INTO persons (id, phone_hash, created_ms) VALUES ($1, $2, 1)";
    match db.kind {
        Kind::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql)
                .bind(id)
                .bind(phone)
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
        }
        Kind::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql)
                .bind(id)
                .bind(phone)
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
        }
    }
}

/// Row 12: phone numbers are stored as a keyed hash plus ciphertext, never in clear; rows from
/// before are migrated at start (and scrubbed from the files); a key rotation re-hashes them.
async fn phones_never_in_clear(kind: Kind) {
    with_db(kind, |db| async move {
        let (fresh, legacy) = ("+41796660001", "+41796660002");
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let pid = app
            .enrol(&t.device, fresh, "fresh", "4242424242424242")
            .await
            .unwrap();
        let cookie = [("cookie", app.login(fresh).await)];
        let (_, me) = app.call(Method::GET, "/v1/me", &cookie, None).await;
        assert_eq!(me["phone"], fresh, "shown to its owner");
        let p = app.state.store.get_person(&pid).await.unwrap().unwrap();
        assert!(
            p.phone_hash.starts_with("k1:") && p.phone_ct.is_some(),
            "{p:?}"
        );
        let keys = app.state.keys.clone();
        drop(app);
        // A database from before: the number in clear, migrated at the next start.
        insert_legacy_person(&db, "per_legacy", legacy).await;
        assert!(
            contains(&db.raw_dump().await, legacy.as_bytes()),
            "the scan sees it"
        );
        let bio = || std::sync::Arc::new(palmsig_service::biometrics::LabelBiometrics::new());
        let app = TestApp::with(&db, bio(), keys.clone(), test_config()).await;
        let found = palmsig_service::ops::persons::by_phone(&app.state, legacy)
            .await
            .unwrap();
        assert_eq!(found.map(|p| p.id).as_deref(), Some("per_legacy"));
        let cookie = [("cookie", app.login(legacy).await)];
        let (_, me) = app.call(Method::GET, "/v1/me", &cookie, None).await;
        assert_eq!(me["phone"], legacy);
        let dump = db.raw_dump().await;
        for phone in [fresh, legacy] {
            assert!(
                !contains(&dump, phone.as_bytes()),
                "{phone} in clear in the database"
            );
        }
        // Rotation: hashes move to the new key; lookups keep working.
        let mut ring = keys;
        ring.rotate_to(palmsig_service::crypto::Kek::generate("k2"));
        palmsig_service::state::rewrap_all(&app.state.store, &ring)
            .await
            .unwrap();
        ring.retire_inactive();
        drop(app);
        let app = TestApp::with(&db, bio(), ring, test_config()).await;
        let p = app.state.store.get_person(&pid).await.unwrap().unwrap();
        assert!(p.phone_hash.starts_with("k2:"), "{p:?}");
        assert!(palmsig_service::ops::persons::by_phone(&app.state, fresh)
            .await
            .unwrap()
            .is_some());
        drop(app);
        db
    })
    .await;
}

/// Row 12: `/metrics` is the operator's.
async fn metrics_need_the_operator(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let (s, _) = app.call(Method::GET, "/metrics", &[], None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = app.call(Method::GET, "/metrics", &t.auth(), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "a tenant is not the operator");
        let (s, v) = app.admin(Method::GET, "/metrics", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            v["raw"].as_str().unwrap().contains("palmsig_gallery_palms"),
            "{v}"
        );
        drop(app);
        db
    })
    .await;
}

/// Row 11: the cases where the OpenAPI document and the service disagreed.
async fn spec_matches_behaviour(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let doc = palmsig_service::openapi::document();
        let t = app.tenant("Shop").await;
        // Log out without a cookie: 204, documented, no security requirement.
        let (s, _) = app
            .call(Method::DELETE, "/v1/portal/session", &[], None)
            .await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let op = &doc["paths"]["/v1/portal/session"]["delete"];
        assert!(
            op["responses"]["204"].is_object() && op["security"].is_null(),
            "{op}"
        );
        // An empty phone, a blank name: refused, and the schema says so.
        let re = |p: &Value| regex::Regex::new(p.as_str().unwrap()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/portal/otp",
                &[],
                Some(json!({"phone": ""})),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_phone"))
        );
        assert!(!re(&schemas["PhoneOnly"]["properties"]["phone"]["pattern"]).is_match(""));
        let (s, _) = app
            .call(
                Method::POST,
                "/v1/sites",
                &t.auth(),
                Some(json!({"name": "   "})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!re(&schemas["NewSite"]["properties"]["name"]["pattern"]).is_match("   "));
        // Activation: an unknown code is 401 whatever the key; a bad key with a good code is
        // 422 and leaves the code usable.
        let (s, d) = app
            .call(
                Method::POST,
                "/v1/devices",
                &t.auth(),
                Some(json!({"site_id": t.site_id, "name": "K2"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        let code = d["activation_code"].as_str().unwrap();
        let activate = |code: &str, key: &str| json!({"activation_code": code, "public_key": key});
        let (s, _) = app
            .call(
                Method::POST,
                "/v1/devices/activate",
                &[],
                Some(activate("000000000000", "not base64")),
            )
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(
            !re(&schemas["Activate"]["properties"]["public_key"]["pattern"]).is_match("not base64")
        );
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/devices/activate",
                &[],
                Some(activate(code, "not base64")),
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_public_key"))
        );
        let key = palmsig_service::signing::generate_key();
        let (s, v) = app
            .call(
                Method::POST,
                "/v1/devices/activate",
                &[],
                Some(activate(code, &b64(&key.verifying_key().to_bytes()))),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "the code survived the bad key: {v}");
        // Client scopes may be null (all scopes), as documented.
        let (s, v) = app
            .admin(
                Method::POST,
                &format!("/v1/admin/tenants/{}/clients", t.id),
                Some(json!({"scopes": null})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(
            schemas["NewClient"]["properties"]["scopes"]["type"],
            json!(["array", "null"])
        );
        drop(app);
        db
    })
    .await;
}
