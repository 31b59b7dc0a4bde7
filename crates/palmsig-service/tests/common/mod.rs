//! Shared harness: every backend test runs on SQLite and on PostgreSQL (a fresh database per test,
//! dropped afterwards). PostgreSQL unreachable → the test FAILS, unless `PALMSIG_SKIP_PG=1`.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use ed25519_dalek::SigningKey;
use palmsig_service::biometrics::{Biometrics, LabelBiometrics};
use palmsig_service::clock::ManualClock;
use palmsig_service::crypto::{Kek, Keyring};
use palmsig_service::otp::DevOutbox;
use palmsig_service::payments::SimulatedProcessor;
use palmsig_service::state::{AppState, Config};
use palmsig_service::store::{self, DynStore, PgStore};
use serde_json::{json, Value};
use sqlx::Connection;
use std::sync::Arc;
use tower::ServiceExt;

pub const ADMIN: &str = "admin-token-for-tests";
/// 2026-11-25T00:00:00Z
pub const T0: i64 = 1_795_564_800_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A database for one test.
pub struct Db {
    pub kind: Kind,
    pub url: String,
    pub dir: tempfile::TempDir,
    pg_admin: Option<(String, String)>,
}

fn pg_admin_url() -> String {
    std::env::var("PALMSIG_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl Db {
    /// A fresh database, or `None` if PostgreSQL is skipped on purpose.
    pub async fn new(kind: Kind) -> Option<Db> {
        let dir = tempfile::tempdir().unwrap();
        match kind {
            Kind::Sqlite => {
                let url = format!(
                    "sqlite:{}",
                    dir.path().join("data").join("palmsig.db").display()
                );
                Some(Db {
                    kind,
                    url,
                    dir,
                    pg_admin: None,
                })
            }
            Kind::Postgres => {
                let admin = pg_admin_url();
                let mut conn = match sqlx::PgConnection::connect(&admin).await {
                    Ok(c) => c,
                    Err(e) => {
                        if std::env::var("PALMSIG_SKIP_PG").as_deref() == Ok("1") {
                            eprintln!("PostgreSQL skipped (PALMSIG_SKIP_PG=1): {e}");
                            return None;
                        }
                        panic!("PostgreSQL not reachable at {admin}: {e}. Start it, or set PALMSIG_SKIP_PG=1 to skip the PostgreSQL suite.");
                    }
                };
                let name = format!("palmsig_t_{}", uuid::Uuid::new_v4().simple());
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .unwrap();
                conn.close().await.ok();
                let base = admin
                    .rsplit_once('/')
                    .map(|x| x.0)
                    .unwrap_or(&admin)
                    .to_string();
                let url = format!("{base}/{name}");
                Some(Db {
                    kind,
                    url,
                    dir,
                    pg_admin: Some((admin, name)),
                })
            }
        }
    }

    pub async fn store(&self) -> DynStore {
        store::connect(&self.url).await.unwrap()
    }

    /// Drop the PostgreSQL database (the pools must be closed or dropped; FORCE ends stragglers).
    pub async fn cleanup(self) {
        if let Some((admin, name)) = &self.pg_admin {
            if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        }
    }

    /// Raw bytes of everything the database holds, for the secret scan: the SQLite files, or a
    /// textual dump of every bytea/text column in PostgreSQL.
    pub async fn raw_dump(&self) -> Vec<u8> {
        match self.kind {
            Kind::Sqlite => {
                let mut out = Vec::new();
                for e in walk(self.dir.path()) {
                    out.extend(std::fs::read(e).unwrap_or_default());
                }
                out
            }
            Kind::Postgres => {
                let pg = PgStore::connect(&self.url).await.unwrap();
                let _ = &pg;
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                let tables: Vec<(String,)> =
                    sqlx::query_as("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'").fetch_all(&mut conn).await.unwrap();
                let mut out = Vec::new();
                for (t,) in tables {
                    // Every row as text (bytea rendered as hex by row_to_json) plus raw bytea columns.
                    let rows: Vec<(String,)> =
                        sqlx::query_as(&format!("SELECT row_to_json(x)::text FROM \"{t}\" x"))
                            .fetch_all(&mut conn)
                            .await
                            .unwrap();
                    for (r,) in rows {
                        out.extend_from_slice(r.as_bytes());
                        out.push(b'\n');
                    }
                    let cols: Vec<(String,)> = sqlx::query_as(
                        "SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 AND data_type = 'bytea'",
                    )
                    .bind(&t)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                    for (c,) in cols {
                        let vals: Vec<(Option<Vec<u8>>,)> =
                            sqlx::query_as(&format!("SELECT \"{c}\" FROM \"{t}\""))
                                .fetch_all(&mut conn)
                                .await
                                .unwrap();
                        for (v,) in vals {
                            out.extend(v.unwrap_or_default());
                        }
                    }
                }
                conn.close().await.ok();
                pg.close().await;
                out
            }
        }
    }
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                v.extend(walk(&p));
            } else {
                v.push(p);
            }
        }
    }
    v
}

/// Run `f` on a fresh database of `kind`.
pub async fn with_db<F, Fut>(kind: Kind, f: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: std::future::Future<Output = Db>,
{
    let Some(db) = Db::new(kind).await else {
        return;
    };
    let db = f(db).await;
    db.cleanup().await;
}

/// Instantiate async test fns `name(Kind)` once per backend.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Kind::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Kind::Postgres).await;
                }
            )*
        }
    };
}

/// A service under test.
pub struct TestApp {
    pub state: AppState,
    pub router: axum::Router,
    pub clock: ManualClock,
    pub outbox: Arc<DevOutbox>,
}

pub fn test_config() -> Config {
    let mut c = Config::new(ADMIN);
    c.dev_outbox = true;
    // The webhook receivers of the tests listen on 127.0.0.1.
    c.dev_webhooks = true;
    c.webhook_backoff_ms = 20;
    c.webhook_max_attempts = 4;
    // One kiosk runs 100 enrolments at once in the concurrency test.
    c.rate_burst = 10_000.0;
    c
}

impl TestApp {
    pub async fn new(db: &Db) -> TestApp {
        Self::with(
            db,
            Arc::new(LabelBiometrics::new()),
            Keyring::new(Kek::generate("k1")),
            test_config(),
        )
        .await
    }

    pub async fn with(db: &Db, bio: Arc<dyn Biometrics>, keys: Keyring, config: Config) -> TestApp {
        let clock = ManualClock::new(T0);
        let outbox = Arc::new(DevOutbox::new());
        let state = AppState::new(
            db.store().await,
            keys,
            bio,
            Arc::new(clock.clone()),
            outbox.clone(),
            Arc::new(SimulatedProcessor),
            config,
        );
        state.rebuild_index().await.unwrap();
        let router = palmsig_service::app(state.clone());
        TestApp {
            state,
            router,
            clock,
            outbox,
        }
    }

    pub async fn raw(&self, req: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&bytes)}))
        };
        (status, headers, v)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            b = b.header(*k, v);
        }
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (s, _, v) = self.raw(b.body(body).unwrap()).await;
        (s, v)
    }

    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call(
            method,
            path,
            &[("authorization", format!("Bearer {ADMIN}"))],
            body,
        )
        .await
    }

    /// A tenant with an API client, a token, a site and an activated device.
    pub async fn tenant(&self, name: &str) -> Tenant {
        let (s, t) = self
            .admin(
                Method::POST,
                "/v1/admin/tenants",
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{t}");
        let tenant_id = t["id"].as_str().unwrap().to_string();
        let (s, c) = self
            .admin(
                Method::POST,
                &format!("/v1/admin/tenants/{tenant_id}/clients"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let (client_id, secret) = (
            c["client_id"].as_str().unwrap().to_string(),
            c["client_secret"].as_str().unwrap().to_string(),
        );
        let form =
            format!("grant_type=client_credentials&client_id={client_id}&client_secret={secret}");
        let (s, _, tok) = self
            .raw(
                Request::post("/v1/oauth/token")
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(Body::from(form))
                    .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{tok}");
        let token = tok["access_token"].as_str().unwrap().to_string();
        let auth = [("authorization", format!("Bearer {token}"))];
        let (s, site) = self
            .call(
                Method::POST,
                "/v1/sites",
                &auth,
                Some(json!({"name": "Main"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{site}");
        let site_id = site["id"].as_str().unwrap().to_string();
        let dev = self.new_device(&token, &site_id).await;
        Tenant {
            id: tenant_id,
            client_id,
            secret,
            token,
            site_id,
            device: dev,
        }
    }

    pub async fn new_device(&self, token: &str, site_id: &str) -> DeviceCreds {
        let auth = [("authorization", format!("Bearer {token}"))];
        let (s, d) = self
            .call(
                Method::POST,
                "/v1/devices",
                &auth,
                Some(json!({"site_id": site_id, "name": "Kiosk"})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        let code = d["activation_code"].as_str().unwrap().to_string();
        let key = palmsig_service::signing::generate_key();
        use base64::Engine as _;
        let pk = base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes());
        let (s, a) = self
            .call(
                Method::POST,
                "/v1/devices/activate",
                &[],
                Some(json!({"activation_code": code, "public_key": pk, "version": "1.0"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{a}");
        DeviceCreds {
            id: a["device_id"].as_str().unwrap().to_string(),
            key,
            activation_code: code,
        }
    }

    /// A signed device request.
    pub async fn device(
        &self,
        dev: &DeviceCreds,
        method: Method,
        path: &str,
        body: Value,
        extra: &[(&str, String)],
    ) -> (StatusCode, HeaderMap, Value) {
        let body = body.to_string();
        let nonce = palmsig_service::signing::new_nonce();
        let hdrs = palmsig_service::signing::sign_request(
            &dev.key,
            &dev.id,
            method.as_str(),
            path,
            self.clock_now(),
            &nonce,
            body.as_bytes(),
        );
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        for (k, v) in hdrs.iter() {
            b = b.header(*k, v);
        }
        for (k, v) in extra {
            b = b.header(*k, v);
        }
        self.raw(b.body(Body::from(body)).unwrap()).await
    }

    pub fn clock_now(&self) -> i64 {
        use palmsig_service::clock::Clock;
        self.clock.now_ms()
    }

    /// Full enrolment at a device with label captures (LabelBiometrics): returns the person id.
    pub async fn enrol(
        &self,
        dev: &DeviceCreds,
        phone: &str,
        label: &str,
        card: &str,
    ) -> Result<String, (StatusCode, Value)> {
        let caps: Vec<Value> = (0..2)
            .map(|_| json!({"hand": "right", "visible": b64(format!("palm:{label}").as_bytes())}))
            .collect();
        self.enrol_with(dev, phone, &caps, card).await
    }

    pub async fn enrol_with(
        &self,
        dev: &DeviceCreds,
        phone: &str,
        captures: &[Value],
        card: &str,
    ) -> Result<String, (StatusCode, Value)> {
        let ok = |s: StatusCode, v: Value| if s.is_success() { Ok(v) } else { Err((s, v)) };
        let (s, _, e) = self
            .device(
                dev,
                Method::POST,
                "/v1/device/enrolments",
                json!({"phone": phone}),
                &[],
            )
            .await;
        let e = ok(s, e)?;
        let id = e["enrolment_id"].as_str().unwrap().to_string();
        let code = self.outbox.latest(phone).expect("code sent");
        let (s, _, v) = self
            .device(
                dev,
                Method::POST,
                &format!("/v1/device/enrolments/{id}/verify"),
                json!({"code": code}),
                &[],
            )
            .await;
        ok(s, v)?;
        let (s, _, v) = self
            .device(
                dev,
                Method::POST,
                &format!("/v1/device/enrolments/{id}/card"),
                json!({"number": card, "exp_month": 12, "exp_year": 2030}),
                &[],
            )
            .await;
        ok(s, v)?;
        let (s, _, v) = self
            .device(
                dev,
                Method::POST,
                &format!("/v1/device/enrolments/{id}/consents"),
                json!({"payment": true, "entry": true, "loyalty": true, "age": true}),
                &[],
            )
            .await;
        ok(s, v)?;
        for c in captures {
            let (s, _, v) = self
                .device(
                    dev,
                    Method::POST,
                    &format!("/v1/device/enrolments/{id}/captures"),
                    c.clone(),
                    &[],
                )
                .await;
            ok(s, v)?;
        }
        let (s, _, v) = self
            .device(
                dev,
                Method::POST,
                &format!("/v1/device/enrolments/{id}/complete"),
                json!({}),
                &[],
            )
            .await;
        ok(s, v)?;
        let person = palmsig_service::ops::persons::by_phone(&self.state, phone)
            .await
            .unwrap()
            .unwrap();
        Ok(person.id)
    }

    /// Log a person in to the portal; returns the cookie header value.
    pub async fn login(&self, phone: &str) -> String {
        let (s, v) = self
            .call(
                Method::POST,
                "/v1/portal/otp",
                &[],
                Some(json!({"phone": phone})),
            )
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        let code = self.outbox.latest(phone).unwrap();
        let (s, h, v) = self
            .raw(
                Request::post("/v1/portal/session")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        json!({"phone": phone, "code": code}).to_string(),
                    ))
                    .unwrap(),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let c = h.get("set-cookie").unwrap().to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"));
        c.split(';').next().unwrap().to_string()
    }
}

pub struct Tenant {
    pub id: String,
    pub client_id: String,
    pub secret: String,
    pub token: String,
    pub site_id: String,
    pub device: DeviceCreds,
}

impl Tenant {
    pub fn auth(&self) -> [(&'static str, String); 1] {
        [("authorization", format!("Bearer {}", self.token))]
    }
}

pub struct DeviceCreds {
    pub id: String,
    pub key: SigningKey,
    pub activation_code: String,
}

pub fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}
