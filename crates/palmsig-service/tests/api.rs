//! The HTTP API end to end, on SQLite and on PostgreSQL (same test bodies).
mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::*;
use palmsig_service::biometrics::LabelBiometrics;
use palmsig_service::crypto::{Kek, Keyring};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

backend_tests!(
    end_to_end_flow,
    refusals,
    concurrent_enrolments,
    retention_and_key_rotation,
    pagination_and_health,
    portal_self_service,
    revocation,
    secrets_at_rest
);

/// (signature header, body) of the webhooks received.
type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// A webhook receiver on 127.0.0.1:0 that fails the first delivery (to exercise retries).
async fn webhook_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let g = got.clone();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let g = g.clone();
                let calls = calls.clone();
                async move {
                    let n = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n == 0 {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let sig = headers
                        .get("palmsig-signature")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    g.lock().unwrap().push((sig, body.to_vec()));
                    StatusCode::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

const PAN: &str = "4242424242424242";
const MARK: &str = "IMGBYTES-5f0c1e";

async fn end_to_end_flow(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let (url, received) = webhook_receiver().await;
        let (s, wh) = app.call(Method::POST, "/v1/webhooks", &t.auth(), Some(json!({"url": url}))).await;
        assert_eq!(s, StatusCode::CREATED, "{wh}");
        let secret = wh["secret"].as_str().unwrap().to_string();

        // Enrol.
        let phone = "+41791234567";
        let pid = app.enrol(&t.device, phone, MARK, PAN).await.unwrap();
        let (s, _, _) = app
            .device(&t.device, Method::POST, "/v1/device/heartbeat", json!({"version": "2.1.0"}), &[])
            .await;
        assert_eq!(s, StatusCode::OK);
        let (_, d) = app.call(Method::GET, &format!("/v1/devices/{}", t.device.id), &t.auth(), None).await;
        assert_eq!(d["version"], "2.1.0");
        assert_eq!(d["last_seen_ms"], json!(T0));

        // Identify and pay, then retry with the same Idempotency-Key.
        let probe = json!({"purpose": "payment", "amount": 1250, "currency": "chf", "visible": b64(format!("palm:{MARK}").as_bytes())});
        let key = [("idempotency-key", "order-1".to_string())];
        let (s, h1, r1) = app.device(&t.device, Method::POST, "/v1/device/identify", probe.clone(), &key).await;
        assert_eq!(s, StatusCode::OK, "{r1}");
        assert_eq!(r1["outcome"], "authorized");
        assert_eq!(r1["card"]["last4"], "4242");
        assert_eq!(r1["currency"], "CHF");
        assert!(h1.get("idempotent-replayed").is_none());
        let (s, h2, r2) = app.device(&t.device, Method::POST, "/v1/device/identify", probe.clone(), &key).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r1, r2, "same key, same result");
        assert_eq!(h2.get("idempotent-replayed").unwrap(), "true");
        // Same key, other body: refused.
        let mut other = probe.clone();
        other["amount"] = json!(999);
        let (s, _, e) = app.device(&t.device, Method::POST, "/v1/device/identify", other, &key).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["error"]["code"], "idempotency_key_reused");

        // Other purposes.
        let (_, _, r) = app.device(&t.device, Method::POST, "/v1/device/identify", json!({"purpose": "entry", "door": "D1", "visible": b64(format!("palm:{MARK}").as_bytes())}), &[]).await;
        assert_eq!(r["outcome"], "denied", "{r}");
        assert_eq!(r["reason"], "no_badge");
        let (_, _, r) = app.device(&t.device, Method::POST, "/v1/device/identify", json!({"purpose": "age", "visible": b64(format!("palm:{MARK}").as_bytes())}), &[]).await;
        assert_eq!(r["outcome"], "not_verified", "{r}");
        assert!(r.get("over_18").is_none());

        // History shows the payment exactly once.
        let cookie = app.login(phone).await;
        let (s, hist) = app.call(Method::GET, "/v1/me/history", &[("cookie", cookie.clone())], None).await;
        assert_eq!(s, StatusCode::OK, "{hist}");
        let evs = hist["data"].as_array().unwrap();
        let pays: Vec<&Value> = evs.iter().filter(|e| e["data"]["purpose"] == "payment").collect();
        assert_eq!(pays.len(), 1, "{hist}");
        assert_eq!(pays[0]["id"], r1["event_id"]);
        assert_eq!(pays[0]["data"]["outcome"], "authorized");
        // Tenant log has it too.
        let (_, tev) = app.call(Method::GET, "/v1/events", &t.auth(), None).await;
        assert_eq!(tev["data"].as_array().unwrap().len(), 3);

        // Webhook received with a valid signature (after a failed first try and a retry).
        palmsig_service::webhook::drain(&app.state).await;
        let got = received.lock().unwrap().clone();
        assert_eq!(got.len(), 3, "one delivery per event");
        let pay_hook = got
            .iter()
            .find(|(_, b)| serde_json::from_slice::<Value>(b).unwrap()["id"] == r1["event_id"])
            .expect("payment webhook");
        palmsig_service::webhook::verify(&pay_hook.0, &secret, &pay_hook.1, app.clock_now(), 300_000).expect("valid signature");
        assert!(palmsig_service::webhook::verify(&pay_hook.0, "whsec_wrong", &pay_hook.1, app.clock_now(), 300_000).is_err());
        let (_, dl) = app.call(Method::GET, "/v1/webhooks/deliveries", &t.auth(), None).await;
        let dl = dl["data"].as_array().unwrap();
        assert_eq!(dl.len(), 4, "one failed attempt + 3 successes: {dl:?}");
        assert_eq!(dl.iter().filter(|d| d["ok"] == json!(false)).count(), 1);

        // Delete palm data → identification finds nobody; key shredded.
        let palms = app.state.store.palms_of(&pid).await.unwrap();
        assert_eq!(palms.len(), 1);
        let (s, del) = app.call(Method::DELETE, "/v1/me/palms", &[("cookie", cookie.clone())], None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(del["deleted_palms"], 1);
        assert!(app.state.store.get_data_key(&palms[0].id).await.unwrap().is_none(), "data key shredded");
        assert!(app.state.store.palms_of(&pid).await.unwrap().is_empty());
        let (s, _, r) = app
            .device(&t.device, Method::POST, "/v1/device/identify", json!({"purpose": "payment", "amount": 5, "currency": "CHF", "visible": b64(format!("palm:{MARK}").as_bytes())}), &[])
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(r["outcome"], "no_match");
        assert_eq!(r["matched"], false);
        // A restarted service (index rebuilt from the database) does not find them either.
        let app2 = TestApp::with(&db, Arc::new(LabelBiometrics::new()), app.state.keys.clone(), test_config()).await;
        assert_eq!(app2.state.bio.len(), 0);

        // Audit shows every step.
        let (_, audit) = app.admin(Method::GET, "/v1/admin/audit?limit=500", None).await;
        let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
        for step in [
            "tenant.create", "client.create", "token.issue", "site.create", "device.create", "device.activate", "webhook.create",
            "enrol.start", "enrol.verify", "card.add", "consent.set", "enrol.complete", "identify", "portal.login", "palm.delete",
        ] {
            assert!(actions.contains(&step), "audit lacks {step}: {actions:?}");
        }
        // The tenant's audit view holds only its own entries.
        let (_, ta) = app.call(Method::GET, "/v1/audit?limit=500", &t.auth(), None).await;
        assert!(ta["data"].as_array().unwrap().iter().all(|a| a["tenant_id"] == json!(t.id)));

        // Nothing in clear at rest: no PAN, no image bytes, no plaintext template.
        drop(app2);
        drop(app);
        let raw = db.raw_dump().await;
        assert!(!raw.is_empty());
        let find = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        assert!(!find(PAN.as_bytes()), "PAN in clear at rest");
        assert!(!find(secret.as_bytes()), "webhook secret in clear at rest");
        assert!(!find(MARK.as_bytes()), "capture/template bytes in clear at rest");
        assert!(find(b"4242"), "sanity: last4 is stored");
        db
    })
    .await;
}

async fn refusals(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("A").await;
        let t2 = app.tenant("B").await;
        let path = "/v1/device/heartbeat";
        let body = json!({"version": "1"}).to_string();
        let send = |hdrs: Vec<(&'static str, String)>, body: String| {
            let mut b = Request::post(path).header("content-type", "application/json");
            for (k, v) in hdrs {
                b = b.header(k, v);
            }
            b.body(Body::from(body)).unwrap()
        };
        use palmsig_service::signing::sign_request;
        let now = app.clock_now();
        // Forged signature: signed by another key.
        let forger = palmsig_service::signing::generate_key();
        let (s, _, e) = app.raw(send(sign_request(&forger, &t.device.id, "POST", path, now, "n1", body.as_bytes()).to_vec(), body.clone())).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("bad_signature")));
        // Body changed after signing.
        let (s, _, _) = app.raw(send(sign_request(&t.device.key, &t.device.id, "POST", path, now, "n2", body.as_bytes()).to_vec(), "{}".into())).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // Replayed nonce.
        let h = sign_request(&t.device.key, &t.device.id, "POST", path, now, "n3", body.as_bytes()).to_vec();
        let (s, _, _) = app.raw(send(h.clone(), body.clone())).await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, e) = app.raw(send(h, body.clone())).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("replayed_nonce")));
        // Stale timestamp.
        let old = now - 10 * 60 * 1000;
        let (s, _, e) = app.raw(send(sign_request(&t.device.key, &t.device.id, "POST", path, old, "n4", body.as_bytes()).to_vec(), body.clone())).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("stale_timestamp")));
        // Unsigned.
        let (s, _, _) = app.raw(send(vec![], body.clone())).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        // Wrong tenant: B's token on A's device, A's site; B's device on A's enrolment.
        let (s, e) = app.call(Method::GET, &format!("/v1/devices/{}", t.device.id), &t2.auth(), None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_tenant")));
        let (s, _) = app.call(Method::POST, "/v1/devices", &t2.auth(), Some(json!({"site_id": t.site_id, "name": "x"}))).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (_, _, en) = app.device(&t.device, Method::POST, "/v1/device/enrolments", json!({"phone": "+41790000001"}), &[]).await;
        let eid = en["enrolment_id"].as_str().unwrap();
        let (s, _, e) = app.device(&t2.device, Method::POST, &format!("/v1/device/enrolments/{eid}/verify"), json!({"code": "000000"}), &[]).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_tenant")));

        // Expired token; bad token; missing token; missing scope.
        app.clock.advance(3601 * 1000);
        let (s, e) = app.call(Method::GET, "/v1/sites", &t.auth(), None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_expired")));
        app.clock.set(T0);
        let (s, _) = app.call(Method::GET, "/v1/sites", &[("authorization", "Bearer nope".into())], None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = app.call(Method::GET, "/v1/sites", &[], None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, tok) = app
            .call(Method::POST, "/v1/oauth/token", &[], Some(json!({"grant_type": "client_credentials", "client_id": t.client_id, "client_secret": t.secret, "scope": "events"})))
            .await;
        assert_eq!(s, StatusCode::OK, "{tok}");
        let narrow = [("authorization", format!("Bearer {}", tok["access_token"].as_str().unwrap()))];
        let (s, e) = app.call(Method::GET, "/v1/sites", &narrow, None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_scope")));
        let (s, _) = app
            .call(Method::POST, "/v1/oauth/token", &[], Some(json!({"grant_type": "client_credentials", "client_id": t.client_id, "client_secret": "wrong"})))
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = app.call(Method::GET, "/v1/admin/tenants", &t.auth(), None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "a tenant token is not the operator token");
        // Activation codes are single use.
        use base64::Engine as _;
        let pk = base64::engine::general_purpose::STANDARD.encode(palmsig_service::signing::generate_key().verifying_key().to_bytes());
        let (s, _) = app.call(Method::POST, "/v1/devices/activate", &[], Some(json!({"activation_code": t.device.activation_code, "public_key": pk}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        // Capture refused by the quality gate / undecodable: 422 with the reason.
        let code = app.outbox.latest("+41790000001").unwrap();
        let (s, _, _) = app.device(&t.device, Method::POST, &format!("/v1/device/enrolments/{eid}/verify"), json!({"code": code}), &[]).await;
        assert_eq!(s, StatusCode::OK);
        let cap = |img: &[u8]| json!({"hand": "left", "visible": b64(img)});
        let (s, _, e) = app.device(&t.device, Method::POST, &format!("/v1/device/enrolments/{eid}/captures"), cap(b"palm:reject-blurred"), &[]).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("blurred")));
        let (s, _, e) = app.device(&t.device, Method::POST, &format!("/v1/device/enrolments/{eid}/captures"), cap(b"\x89PNG\r\n garbage"), &[]).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_image")));
        let (s, _, e) = app.device(&t.device, Method::POST, &format!("/v1/device/enrolments/{eid}/captures"), json!({"hand": "left", "visible": "***"}), &[]).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_image")));
        // Bad cards: 422.
        for (num, m, y) in [("4242424242424241", 12, 2030), ("4242", 12, 2030), ("4242424242424242", 13, 2030), ("4242424242424242", 1, 2020)] {
            let (s, _, e) = app
                .device(&t.device, Method::POST, &format!("/v1/device/enrolments/{eid}/card"), json!({"number": num, "exp_month": m, "exp_year": y}), &[])
                .await;
            assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_card")), "{num} {m}/{y}");
        }
        // Oversized body: 413 in the one error shape.
        let big = vec![b'x'; palmsig_service::params::MAX_BODY_BYTES + 1];
        let (s, _, e) = app.raw(Request::post("/v1/device/identify").header("content-type", "application/json").body(Body::from(big)).unwrap()).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large")));
        // Malformed JSON, unknown route, wrong method: the one error shape.
        let (s, e) = app.call(Method::POST, "/v1/sites", &t.auth(), Some(json!("x"))).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::BAD_REQUEST, Some("bad_json")));
        let (s, e) = app.call(Method::GET, "/v1/nothing", &[], None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let (s, e) = app.call(Method::PATCH, "/v1/sites", &[], None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
        // Bad phone, bad OTP (then burnt after too many tries).
        let (s, _, e) = app.device(&t.device, Method::POST, "/v1/device/enrolments", json!({"phone": "0791234567"}), &[]).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_phone")));
        db
    })
    .await;
}

async fn concurrent_enrolments(kind: Kind) {
    with_db(kind, |db| async move {
        let app = Arc::new(TestApp::new(&db).await);
        let t = Arc::new(app.tenant("Stadium").await);
        let mut tasks = Vec::new();
        for i in 0..100 {
            let (app, t) = (app.clone(), t.clone());
            tasks.push(tokio::spawn(async move {
                app.enrol(
                    &t.device,
                    &format!("+4179{i:07}"),
                    &format!("person-{i}"),
                    PAN,
                )
                .await
            }));
        }
        for task in tasks {
            task.await.unwrap().expect("enrolment succeeds");
        }
        assert_eq!(
            app.state.store.count_persons().await.unwrap(),
            100,
            "none lost, none duplicated"
        );
        assert_eq!(app.state.bio.len(), 100);
        assert_eq!(app.state.store.list_palms().await.unwrap().len(), 100);
        // The same palm under another phone is refused, concurrently or not.
        let mut dup = Vec::new();
        for i in 0..4 {
            let (app, t) = (app.clone(), t.clone());
            dup.push(tokio::spawn(async move {
                app.enrol(&t.device, &format!("+4178{i:07}"), "newcomer", PAN)
                    .await
            }));
        }
        let results: Vec<_> = futures_join(dup).await;
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "exactly one of four enrolments of the same palm wins"
        );
        for r in results.iter().filter_map(|r| r.as_ref().err()) {
            assert_eq!(r.0, StatusCode::CONFLICT);
            assert_eq!(r.1["error"]["code"], "duplicate_palm");
        }
        assert_eq!(app.state.bio.len(), 101);
        // A restart rebuilds the same gallery from the database.
        let app2 = TestApp::with(
            &db,
            Arc::new(LabelBiometrics::new()),
            app.state.keys.clone(),
            test_config(),
        )
        .await;
        assert_eq!(app2.state.bio.len(), 101);
        drop(app2);
        drop(app);
        db
    })
    .await;
}

async fn futures_join<T: Send + 'static>(v: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = Vec::new();
    for h in v {
        out.push(h.await.unwrap());
    }
    out
}

async fn retention_and_key_rotation(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Office").await;
        app.enrol(&t.device, "+41790000010", "old-user", PAN).await.unwrap();
        app.enrol(&t.device, "+41790000011", "active-user", PAN).await.unwrap();
        let id = |l: &str| json!({"purpose": "entry", "visible": b64(format!("palm:{l}").as_bytes())});
        // One year later the active user is seen; the other is not.
        app.clock.advance(365 * 24 * 3600 * 1000);
        let (_, _, r) = app.device(&t.device, Method::POST, "/v1/device/identify", id("active-user"), &[]).await;
        assert_eq!(r["matched"], true);
        // Two years and a day after enrolment: only the unused palm goes.
        app.clock.advance(366 * 24 * 3600 * 1000);
        let (s, v) = app.admin(Method::POST, "/v1/admin/retention/run", None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["deleted_palms"], 1);
        let (_, _, r) = app.device(&t.device, Method::POST, "/v1/device/identify", id("old-user"), &[]).await;
        assert_eq!(r["matched"], false, "{r}");
        let (_, _, r) = app.device(&t.device, Method::POST, "/v1/device/identify", id("active-user"), &[]).await;
        assert_eq!(r["matched"], true);
        let (_, audit) = app.admin(Method::GET, "/v1/admin/audit?limit=500", None).await;
        assert!(audit["data"].as_array().unwrap().iter().any(|a| a["action"] == "retention.delete"));

        // Key rotation: re-wrap every data key under k2, then a service that only knows k2 works.
        let mut ring = app.state.keys.clone();
        ring.rotate_to(Kek::generate("k2"));
        let n = palmsig_service::state::rewrap_all(&app.state.store, &ring).await.unwrap();
        assert_eq!(n, 5, "one palm + two cards + two sealed phones");
        assert!(app.state.store.list_data_keys().await.unwrap().iter().all(|k| k.kek_id == "k2"));
        ring.retire_inactive();
        drop(app);
        let app2 = TestApp::with(&db, Arc::new(LabelBiometrics::new()), ring.clone(), test_config()).await;
        assert_eq!(app2.state.bio.len(), 1);
        let (_, _, r) = app2
            .device(&t.device, Method::POST, "/v1/device/identify", json!({"purpose": "payment", "amount": 100, "currency": "EUR", "visible": b64(b"palm:active-user")}), &[])
            .await;
        assert_eq!(r["outcome"], "authorized", "card opened with the new KEK: {r}");
        // The old KEK alone can no longer open anything.
        drop(app2);
        let old_only = Keyring::new(Kek::generate("k1"));
        let st = db.store().await;
        assert!(palmsig_service::state::AppState::new(
            st,
            old_only,
            Arc::new(LabelBiometrics::new()),
            Arc::new(palmsig_service::clock::SystemClock),
            Arc::new(palmsig_service::otp::DevOutbox::new()),
            Arc::new(palmsig_service::payments::SimulatedProcessor),
            test_config()
        )
        .rebuild_index()
        .await
        .is_err());
        db
    })
    .await;
}

async fn pagination_and_health(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Chain").await;
        for i in 0..6 {
            app.clock.advance(i % 2); // some equal timestamps, to test the id tie-break
            let (s, _) = app
                .call(
                    Method::POST,
                    "/v1/sites",
                    &t.auth(),
                    Some(json!({"name": format!("S{i}")})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED);
        }
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/sites?limit=3&cursor={c}"),
                None => "/v1/sites?limit=3".into(),
            };
            let (s, p) = app.call(Method::GET, &path, &t.auth(), None).await;
            assert_eq!(s, StatusCode::OK, "{p}");
            for x in p["data"].as_array().unwrap() {
                seen.push(x["id"].as_str().unwrap().to_string());
            }
            match p["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen.len(), 7, "6 + the harness' site, each once");
        let mut dedup = seen.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), 7);
        let (s, e) = app
            .call(Method::GET, "/v1/sites?cursor=%%%", &t.auth(), None)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
        let (s, _) = app
            .call(Method::GET, "/v1/sites?limit=0", &t.auth(), None)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);

        let (s, _) = app.call(Method::GET, "/healthz", &[], None).await;
        assert_eq!(s, StatusCode::OK);
        let (s, r) = app.call(Method::GET, "/readyz", &[], None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            r["backend"],
            if kind == Kind::Sqlite {
                "sqlite"
            } else {
                "postgres"
            }
        );
        let (s, o) = app.call(Method::GET, "/openapi.json", &[], None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(o["paths"]["/v1/device/identify"]["post"].is_object());
        let resp = tower::ServiceExt::oneshot(
            app.router.clone(),
            Request::get("/metrics")
                .header("authorization", format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
        let text = String::from_utf8(
            axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        assert!(
            text.contains(
                "palmsig_http_requests_total{method=\"POST\",route=\"/v1/sites\",status=\"201\"} 7"
            ),
            "{text}"
        );
        assert!(text.contains(
            "palmsig_http_request_duration_seconds_bucket{route=\"/v1/sites\",le=\"+Inf\"}"
        ));

        // Rate limit: a client past its bucket gets 429 with Retry-After.
        let mut cfg = test_config();
        cfg.rate_burst = 3.0;
        cfg.rate_per_s = 0.001;
        let small = TestApp::with(
            &db,
            Arc::new(LabelBiometrics::new()),
            app.state.keys.clone(),
            cfg,
        )
        .await;
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(
                small
                    .call(Method::GET, "/v1/sites", &t.auth(), None)
                    .await
                    .0,
            );
        }
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
                .count(),
            2,
            "{statuses:?}"
        );
        drop(small);
        drop(app);
        db
    })
    .await;
}

async fn portal_self_service(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Gym").await;
        let phone = "+14155550100";
        let pid = app.enrol(&t.device, phone, "gym-member", PAN).await.unwrap();
        let cookie = [("cookie", app.login(phone).await)];
        // Cards: add a second, make it default, pay with it, remove it.
        let (s, c2) = app.call(Method::POST, "/v1/me/cards", &cookie, Some(json!({"number": "5555 5555 5555 4444", "exp_month": 1, "exp_year": 2031}))).await;
        assert_eq!(s, StatusCode::CREATED, "{c2}");
        assert_eq!(c2["brand"], "mastercard");
        let tok = c2["token"].as_str().unwrap();
        let (s, _) = app.call(Method::POST, &format!("/v1/me/cards/{tok}/default"), &cookie, None).await;
        assert_eq!(s, StatusCode::OK);
        let pay = json!({"purpose": "payment", "amount": 700, "currency": "USD", "visible": b64(b"palm:gym-member")});
        let (_, _, r) = app.device(&t.device, Method::POST, "/v1/device/identify", pay.clone(), &[]).await;
        assert_eq!(r["card"]["last4"], "4444", "{r}");
        let (s, _) = app.call(Method::DELETE, &format!("/v1/me/cards/{tok}"), &cookie, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert!(app.state.store.get_data_key(tok).await.unwrap().is_none());
        let (_, me) = app.call(Method::GET, "/v1/me", &cookie, None).await;
        let cards = me["cards"].as_array().unwrap();
        assert_eq!(cards.len(), 1);
        assert_eq!(cards[0]["default"], true, "the remaining card became default");
        assert!(!me.to_string().contains(PAN));
        // Loyalty, consent withdrawal.
        let (s, _) = app.call(Method::PUT, &format!("/v1/me/loyalty/{}", t.id), &cookie, Some(json!({"loyalty_id": "GYM-42"}))).await;
        assert_eq!(s, StatusCode::OK);
        let (_, _, r) = app.device(&t.device, Method::POST, "/v1/device/identify", json!({"purpose": "loyalty", "visible": b64(b"palm:gym-member")}), &[]).await;
        assert_eq!((r["outcome"].as_str(), r["loyalty_id"].as_str()), (Some("linked"), Some("GYM-42")));
        let (s, _) = app.call(Method::PUT, "/v1/me/consents", &cookie, Some(json!({"payment": false}))).await;
        assert_eq!(s, StatusCode::OK);
        let (_, _, r) = app.device(&t.device, Method::POST, "/v1/device/identify", pay, &[]).await;
        assert_eq!(r["outcome"], "no_consent");
        let (s, _) = app.call(Method::PUT, "/v1/me/consents", &cookie, Some(json!({"shopping": true}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        // Wrong code does not log in; a session cookie of nobody is refused.
        let (s, _) = app.call(Method::POST, "/v1/portal/session", &[], Some(json!({"phone": phone, "code": "000000"}))).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _) = app.call(Method::GET, "/v1/me", &[("cookie", "palmsig_session=forged".into())], None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // Delete the account: everything goes; history stays anonymous in the tenant log.
        let (s, _) = app.call(Method::DELETE, "/v1/me", &cookie, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        assert!(app.state.store.get_person(&pid).await.unwrap().is_none());
        assert!(app.state.store.list_data_keys().await.unwrap().is_empty(), "all keys shredded");
        assert_eq!(app.state.bio.len(), 0);
        let (s, _) = app.call(Method::GET, "/v1/me", &cookie, None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (_, tev) = app.call(Method::GET, "/v1/events", &t.auth(), None).await;
        assert_eq!(tev["data"].as_array().unwrap().len(), 3, "pay, loyalty, refused pay");
        assert!(app.state.store.events_of_person(&pid, None, 10).await.unwrap().is_empty(), "history detached from the person");
        drop(app);
        db
    })
    .await;
}

async fn beat(app: &TestApp, d: &DeviceCreds) -> (StatusCode, axum::http::HeaderMap, Value) {
    app.device(d, Method::POST, "/v1/device/heartbeat", json!({}), &[])
        .await
}

async fn token(app: &TestApp, id: &str, secret: &str) -> (StatusCode, Value) {
    app.call(
        Method::POST,
        "/v1/oauth/token",
        &[],
        Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret})),
    )
    .await
}

async fn revocation(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Venue").await;
        let t2 = app.tenant("Rival").await;
        let spare = app.new_device(&t.token, &t.site_id).await;
        assert_eq!(beat(&app, &t.device).await.0, StatusCode::OK);

        // Devices: another tenant cannot revoke; the owner can; the revoked device is refused
        // on every signed route, the others keep working.
        let path = format!("/v1/devices/{}/revoke", t.device.id);
        let (s, e) = app.call(Method::POST, &path, &t2.auth(), None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_tenant")));
        let (s, d) = app.call(Method::POST, &path, &t.auth(), None).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        assert_eq!((d["revoked"].as_bool(), d["revoked_ms"].as_i64()), (Some(true), Some(T0)));
        let (s, _, e) = beat(&app, &t.device).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("device_revoked")));
        let (s, _, e) = app
            .device(&t.device, Method::POST, "/v1/device/identify", json!({"purpose": "entry", "visible": b64(b"palm:x")}), &[])
            .await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("device_revoked")));
        let (s, _, e) = app.device(&t.device, Method::POST, "/v1/device/enrolments", json!({"phone": "+41790000099"}), &[]).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("device_revoked")));
        assert!(app.outbox.latest("+41790000099").is_none(), "no code sent for a revoked device");
        assert_eq!(beat(&app, &spare).await.0, StatusCode::OK);
        assert_eq!(beat(&app, &t2.device).await.0, StatusCode::OK);
        // Revoking again keeps the first time; the listing shows it.
        app.clock.advance(1000);
        let (_, d) = app.call(Method::POST, &path, &t.auth(), None).await;
        assert_eq!(d["revoked_ms"].as_i64(), Some(T0));
        let (_, list) = app.call(Method::GET, "/v1/devices", &t.auth(), None).await;
        let revoked: Vec<&Value> = list["data"].as_array().unwrap().iter().filter(|d| d["revoked"] == true).collect();
        assert_eq!(revoked.len(), 1);
        let (s, _) = app.call(Method::POST, "/v1/devices/dev_nope/revoke", &t.auth(), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);

        // API clients: a second client of the tenant revokes the first; the first one's tokens
        // stop working at once and it gets no new ones; the second keeps working.
        let (s, c2) = app.admin(Method::POST, &format!("/v1/admin/tenants/{}/clients", t.id), None).await;
        assert_eq!(s, StatusCode::CREATED);
        let (s, tok) = token(&app, c2["client_id"].as_str().unwrap(), c2["client_secret"].as_str().unwrap()).await;
        assert_eq!(s, StatusCode::OK);
        let auth2 = [("authorization", format!("Bearer {}", tok["access_token"].as_str().unwrap()))];
        // A token without the `clients` scope may not revoke.
        let (_, narrow) = app
            .call(Method::POST, "/v1/oauth/token", &[], Some(json!({"grant_type": "client_credentials", "client_id": t.client_id, "client_secret": t.secret, "scope": "events"})))
            .await;
        let narrow = [("authorization", format!("Bearer {}", narrow["access_token"].as_str().unwrap()))];
        let cpath = format!("/v1/clients/{}/revoke", c2["client_id"].as_str().unwrap());
        let (s, e) = app.call(Method::POST, &cpath, &narrow, None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("insufficient_scope")));
        let (s, e) = app.call(Method::POST, &cpath, &t2.auth(), None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::FORBIDDEN, Some("wrong_tenant")));
        assert_eq!(app.call(Method::GET, "/v1/sites", &t.auth(), None).await.0, StatusCode::OK);
        let (s, r) = app.call(Method::POST, &format!("/v1/clients/{}/revoke", t.client_id), &auth2, None).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["revoked"], true);
        for auth in [t.auth(), narrow.clone()] {
            let (s, _) = app.call(Method::GET, "/v1/sites", &auth, None).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "every token of the revoked client");
        }
        let (s, e) = token(&app, &t.client_id, &t.secret).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_client")));
        assert_eq!(app.call(Method::GET, "/v1/sites", &auth2, None).await.0, StatusCode::OK);
        // A token that slipped in for a revoked client (issued concurrently) is refused too.
        let late = "at_late_token_for_test";
        app.state
            .store
            .insert_token(&palmsig_service::store::AccessToken {
                token_hash: palmsig_service::crypto::hash_secret(&[late]),
                client_id: t.client_id.clone(),
                tenant_id: t.id.clone(),
                scopes: "sites".into(),
                expires_ms: T0 + 3_600_000,
            })
            .await
            .unwrap();
        let (s, e) = app.call(Method::GET, "/v1/sites", &[("authorization", format!("Bearer {late}"))], None).await;
        assert_eq!((s, e["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("token_revoked")));
        // The operator can revoke too.
        let (s, _) = app.admin(Method::POST, &format!("/v1/admin/clients/{}/revoke", c2["client_id"].as_str().unwrap()), None).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(app.call(Method::GET, "/v1/sites", &auth2, None).await.0, StatusCode::UNAUTHORIZED);
        let (s, _) = app.admin(Method::POST, "/v1/admin/clients/cli_nope/revoke", None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // Other tenants are untouched; the audit log has both kinds of revocation.
        assert_eq!(app.call(Method::GET, "/v1/sites", &t2.auth(), None).await.0, StatusCode::OK);
        let (_, audit) = app.admin(Method::GET, "/v1/admin/audit?limit=500", None).await;
        let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
        assert!(actions.contains(&"device.revoke") && actions.contains(&"client.revoke"), "{actions:?}");
        drop(app);
        db
    })
    .await;
}

/// Webhook secrets are sealed with the keyring (and follow key rotation); one-time codes are
/// stored as keyed MACs, not plain hashes.
async fn secrets_at_rest(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Hooks").await;
        let (s, wh) = app
            .call(
                Method::POST,
                "/v1/webhooks",
                &t.auth(),
                Some(json!({"url": "http://127.0.0.1:9/hook"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{wh}");
        let (id, first) = (
            wh["id"].as_str().unwrap().to_string(),
            wh["secret"].as_str().unwrap().to_string(),
        );
        let (s, r) = app
            .call(
                Method::POST,
                &format!("/v1/webhooks/{id}/rotate"),
                &t.auth(),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let second = r["secret"].as_str().unwrap().to_string();
        assert_eq!(r["active_secrets"], 2);
        let (_, list) = app.call(Method::GET, "/v1/webhooks", &t.auth(), None).await;
        assert_eq!(list["data"][0]["active_secrets"], 2);
        let row = app.state.store.get_webhook(&id).await.unwrap().unwrap();
        assert_eq!(
            palmsig_service::webhook::open_secrets(&app.state, &row)
                .await
                .unwrap(),
            vec![first.clone(), second.clone()]
        );
        assert!(
            app.state.store.get_data_key(&id).await.unwrap().is_some(),
            "envelope: own data key"
        );

        // A pending enrolment code: stored as HMAC under the KEK, verifiable only with it.
        let phone = "+41790000077";
        let (s, _, _) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/enrolments",
                json!({"phone": phone}),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
        let code = app.outbox.latest(phone).unwrap();
        let pending = palmsig_service::ops::otp::otp_key(&app.state, phone);
        let otp = app.state.store.get_otp(&pending).await.unwrap().unwrap();
        assert!(otp.code_hash.starts_with("k1:"), "{}", otp.code_hash);
        assert!(app
            .state
            .keys
            .mac_verify("otp", &[phone, &code], &otp.code_hash));
        let plain_hash = palmsig_service::crypto::hash_secret(&["otp", phone, &code]);

        let raw = db.raw_dump().await;
        let find = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        assert!(
            find(id.as_bytes()),
            "sanity: the webhook row is in the dump"
        );
        assert!(!find(phone.as_bytes()), "a phone in clear at rest");
        assert!(
            !find(first.as_bytes()) && !find(second.as_bytes()),
            "webhook secret in clear at rest"
        );
        assert!(
            !find(plain_hash.as_bytes()),
            "OTP stored as a plain SHA-256"
        );

        // Key rotation re-wraps the webhook's data key too; secrets still open under the new KEK.
        let mut ring = app.state.keys.clone();
        ring.rotate_to(Kek::generate("k2"));
        let n = palmsig_service::state::rewrap_all(&app.state.store, &ring)
            .await
            .unwrap();
        assert_eq!(n, 1, "the webhook's data key");
        ring.retire_inactive();
        drop(app);
        let app2 = TestApp::with(&db, Arc::new(LabelBiometrics::new()), ring, test_config()).await;
        let (s, r) = app2
            .call(
                Method::POST,
                &format!("/v1/webhooks/{id}/rotate"),
                &t.auth(),
                Some(json!({"expire_old": true})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(r["active_secrets"], 1);
        let row = app2.state.store.get_webhook(&id).await.unwrap().unwrap();
        assert_eq!(
            palmsig_service::webhook::open_secrets(&app2.state, &row)
                .await
                .unwrap(),
            vec![second]
        );
        // New codes are MACed under the new KEK.
        let (s, _, e) = app2
            .device(
                &t.device,
                Method::POST,
                "/v1/device/enrolments",
                json!({"phone": "+41790000078"}),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{e}");
        let pending = palmsig_service::ops::otp::otp_key(&app2.state, "+41790000078");
        let otp = app2.state.store.get_otp(&pending).await.unwrap().unwrap();
        assert!(otp.code_hash.starts_with("k2:"));
        drop(app2);
        db
    })
    .await;
}
