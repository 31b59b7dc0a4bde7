//! Two API nodes and matcher shards on the real PostgreSQL (127.0.0.1:5432) and NATS JetStream
//! (127.0.0.1:4222): each test gets its own database and its own cluster name (subjects and
//! stream). API nodes are two `app()`s with their own state; replicas are tasks with their own
//! NATS connection and pool, killed by aborting everything they own.
#[path = "../../palmsig-service/tests/common/mod.rs"]
mod common;

use axum::http::{Method, StatusCode};
use common::{b64, test_config, DeviceCreds, Kind, TestApp, T0};
use palmsig_cluster::gallery::{Deadlines, NatsGallery};
use palmsig_cluster::matcher::{self, MatcherConfig, Started};
use palmsig_cluster::{relay, shard_of, Topology};
use palmsig_service::biometrics::{Biometrics, LabelBiometrics};
use palmsig_service::clock::ManualClock;
use palmsig_service::crypto::{Kek, Keyring};
use palmsig_service::otp::DevOutbox;
use palmsig_service::payments::SimulatedProcessor;
use palmsig_service::state::AppState;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

const NATS: &str = "nats://127.0.0.1:4222";

struct Cluster {
    db: common::Db,
    topo: Topology,
    keys: Keyring,
    replicas: HashMap<(u32, String), JoinHandle<()>>,
    relays: Vec<JoinHandle<()>>,
}

impl Cluster {
    async fn new(shards: u32) -> Cluster {
        let db = common::Db::new(Kind::Postgres).await.expect("PostgreSQL");
        // The service's migrations make `palms` before any node or matcher installs the outbox.
        drop(db.store().await);
        let name = format!("t{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        Cluster {
            db,
            topo: Topology::new(&name, shards).unwrap(),
            keys: Keyring::new(Kek::generate("k1")),
            replicas: HashMap::new(),
            relays: Vec::new(),
        }
    }

    /// Start replica `r` of `shard`; returns once it serves.
    async fn replica(&mut self, shard: u32, r: &str) -> Started {
        let cfg = MatcherConfig {
            database_url: self.db.url.clone(),
            nats_url: NATS.into(),
            topology: self.topo.clone(),
            shard,
            replica: r.into(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let keys = self.keys.clone();
        let h = tokio::spawn(async move {
            let bio: Arc<dyn Biometrics> = Arc::new(LabelBiometrics::new());
            if let Err(e) = matcher::run(cfg, bio, keys, Some(tx)).await {
                eprintln!("matcher stopped: {e}");
            }
        });
        self.replicas.insert((shard, r.into()), h);
        tokio::time::timeout(Duration::from_secs(20), rx)
            .await
            .expect("replica started in time")
            .expect("replica started")
    }

    /// Kill a replica: its task and everything it owns (connection, subscriptions) go at once.
    async fn kill(&mut self, shard: u32, r: &str) {
        let h = self.replicas.remove(&(shard, r.to_string())).unwrap();
        h.abort();
        let _ = h.await;
    }

    /// A new API node (own state, own gallery client, own relay) on the shared database.
    async fn node(&mut self) -> TestApp {
        let bio: Arc<dyn Biometrics> = Arc::new(LabelBiometrics::new());
        let pool = sqlx::PgPool::connect(&self.db.url).await.unwrap();
        let deadlines = Deadlines {
            attempt: Duration::from_millis(300),
            total: Duration::from_millis(1500),
        };
        let gallery = NatsGallery::connect(NATS, pool, bio.clone(), self.topo.clone(), deadlines)
            .await
            .unwrap();
        let js = async_nats::jetstream::new(gallery.client().clone());
        self.relays.push(tokio::spawn(relay::run(
            self.db.url.clone(),
            js,
            self.topo.clone(),
        )));
        let clock = ManualClock::new(T0);
        let outbox = Arc::new(DevOutbox::new());
        let state = AppState::new(
            self.db.store().await,
            self.keys.clone(),
            bio,
            Arc::new(clock.clone()),
            outbox.clone(),
            Arc::new(SimulatedProcessor),
            test_config(),
        )
        .with_gallery(Arc::new(gallery));
        assert_eq!(
            state.rebuild_index().await.unwrap(),
            0,
            "API nodes hold no gallery"
        );
        let router = palmsig_service::app(state.clone());
        TestApp {
            state,
            router,
            clock,
            outbox,
        }
    }

    async fn down(mut self) {
        for (_, h) in self.replicas.drain() {
            h.abort();
        }
        for h in self.relays.drain(..) {
            h.abort();
        }
        if let Ok(c) = async_nats::connect(NATS).await {
            let _ = async_nats::jetstream::new(c)
                .delete_stream(self.topo.stream())
                .await;
        }
        self.db.cleanup().await;
    }
}

fn capture(label: &str) -> Value {
    json!({"hand": "right", "visible": b64(format!("palm:{label}").as_bytes())})
}

async fn identify(app: &TestApp, dev: &DeviceCreds, label: &str) -> (StatusCode, Value) {
    let mut body = capture(label);
    body["purpose"] = json!("entry");
    let (s, _, v) = app
        .device(dev, Method::POST, "/v1/device/identify", body, &[])
        .await;
    (s, v)
}

/// An enrolment up to (not including) completion; returns its id.
async fn prepare(app: &TestApp, dev: &DeviceCreds, phone: &str, label: &str) -> String {
    let steps = |id: &str| {
        vec![
            (
                format!("/v1/device/enrolments/{id}/card"),
                json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2030}),
            ),
            (
                format!("/v1/device/enrolments/{id}/consents"),
                json!({"payment": true, "entry": true, "loyalty": true, "age": true}),
            ),
            (
                format!("/v1/device/enrolments/{id}/captures"),
                capture(label),
            ),
            (
                format!("/v1/device/enrolments/{id}/captures"),
                capture(label),
            ),
        ]
    };
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
    assert!(s.is_success(), "{v}");
    for (path, body) in steps(&id) {
        let (s, _, v) = app.device(dev, Method::POST, &path, body, &[]).await;
        assert!(s.is_success(), "{path}: {v}");
    }
    id
}

async fn complete(app: &TestApp, dev: &DeviceCreds, id: &str) -> (StatusCode, Value) {
    let path = format!("/v1/device/enrolments/{id}/complete");
    let (s, _, v) = app.device(dev, Method::POST, &path, json!({}), &[]).await;
    (s, v)
}

async fn enrol(app: &TestApp, dev: &DeviceCreds, phone: &str, label: &str) {
    let id = prepare(app, dev, phone, label).await;
    let (s, v) = complete(app, dev, &id).await;
    assert!(s.is_success(), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn enrol_on_a_identify_on_b_delete_on_b_gone_on_a() {
    let mut c = Cluster::new(2).await;
    for s in 0..2 {
        for r in ["r1", "r2"] {
            c.replica(s, r).await;
        }
    }
    let (a, b) = (c.node().await, c.node().await);
    let t = a.tenant("Shop").await;
    // Enrolled on A; right after each enrolment returns, B identifies it.
    let n = enrol_on_both_shards(&a, &t.device, "+417900000", "hand-").await;
    let labels: Vec<String> = (0..n).map(|i| format!("hand-{i}")).collect();
    for l in &labels {
        let (s, v) = identify(&b, &t.device, l).await;
        assert_eq!(
            (s, &v["matched"]),
            (StatusCode::OK, &json!(true)),
            "{l}: {v}"
        );
    }
    let (s, v) = identify(&b, &t.device, "stranger").await;
    assert_eq!((s, &v["matched"]), (StatusCode::OK, &json!(false)), "{v}");

    // Idempotency holds across nodes: a payment retried on the other node is replayed.
    let key = [("idempotency-key", "pay-1".to_string())];
    let mut pay = capture(&labels[0]);
    pay["purpose"] = json!("payment");
    pay["amount"] = json!(450);
    pay["currency"] = json!("CHF");
    let (s, h1, r1) = a
        .device(
            &t.device,
            Method::POST,
            "/v1/device/identify",
            pay.clone(),
            &key,
        )
        .await;
    assert_eq!(
        (s, &r1["outcome"]),
        (StatusCode::OK, &json!("authorized")),
        "{r1}"
    );
    assert!(h1.get("idempotent-replayed").is_none());
    let (s, h2, r2) = b
        .device(&t.device, Method::POST, "/v1/device/identify", pay, &key)
        .await;
    assert_eq!((s, &r1), (StatusCode::OK, &r2));
    assert_eq!(h2.get("idempotent-replayed").unwrap(), "true");

    // Delete on B: by the time the call returns, the owning shard has dropped the palm, so A's
    // next identification (and the shards themselves) no longer find it.
    let cookie = b.login("+41790000003").await;
    let t0 = Instant::now();
    let (s, v) = b
        .call(Method::DELETE, "/v1/me/palms", &[("cookie", cookie)], None)
        .await;
    let delete_ms = t0.elapsed().as_secs_f64() * 1e3;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        a.state.gallery.search(b"hand-3", false).await.unwrap(),
        None
    );
    let (s, v) = identify(&a, &t.device, "hand-3").await;
    assert_eq!((s, &v["matched"]), (StatusCode::OK, &json!(false)), "{v}");
    let (_, v) = identify(&a, &t.device, "hand-2").await;
    assert_eq!(v["matched"], true, "the others stay: {v}");
    eprintln!("delete-to-gone on every shard: {delete_ms:.1} ms (DELETE call, includes the sync)");
    assert!(delete_ms < 1000.0, "deletion bound: {delete_ms} ms");

    // The stream carries ids only: no template (the labels) in any message.
    let js = async_nats::jetstream::new(async_nats::connect(NATS).await.unwrap());
    let mut stream = js.get_stream(c.topo.stream()).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    assert!(last as usize > n, "{n} upserts + deleted palms: {last}");
    for seq in 1..=last {
        let m = stream.get_raw_message(seq).await.unwrap();
        let text = String::from_utf8(m.payload.to_vec()).unwrap();
        assert!(!text.contains("hand-"), "template in the stream: {text}");
        assert!(text.contains("\"palm\":\"palm_"), "{text}");
    }
    drop((a, b));
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn same_palm_on_two_nodes_at_once_exactly_one_enrols() {
    let mut c = Cluster::new(2).await;
    for s in 0..2 {
        c.replica(s, "r1").await;
    }
    let (a, b) = (c.node().await, c.node().await);
    let t = a.tenant("Shop").await;
    let dev_b = b.new_device(&t.token, &t.site_id).await;
    for round in 0..4 {
        let label = format!("twin-{round}");
        let ea = prepare(&a, &t.device, &format!("+4179100000{round}"), &label).await;
        let eb = prepare(&b, &dev_b, &format!("+4179200000{round}"), &label).await;
        let ((sa, va), (sb, vb)) =
            tokio::join!(complete(&a, &t.device, &ea), complete(&b, &dev_b, &eb));
        let ok = [sa, sb].iter().filter(|s| s.is_success()).count();
        assert_eq!(ok, 1, "round {round}: {sa} {va} / {sb} {vb}");
        let loser = if sa.is_success() { vb } else { va };
        assert_eq!(loser["error"]["code"], "duplicate_palm", "{loser}");
    }
    drop((a, b));
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replica_killed_during_a_burst_costs_nothing() {
    let mut c = Cluster::new(2).await;
    for s in 0..2 {
        for r in ["r1", "r2"] {
            c.replica(s, r).await;
        }
    }
    let (a, b) = (Arc::new(c.node().await), Arc::new(c.node().await));
    let t = a.tenant("Shop").await;
    let labels: Vec<String> = (0..4).map(|i| format!("burst-{i}")).collect();
    for (i, l) in labels.iter().enumerate() {
        enrol(&a, &t.device, &format!("+4179300000{i}"), l).await;
    }
    let dev = Arc::new(t.device);
    let per_worker = 40;
    let mut workers = Vec::new();
    for w in 0..6 {
        let (node, dev, labels) = (
            if w % 2 == 0 { a.clone() } else { b.clone() },
            dev.clone(),
            labels.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut bad = Vec::new();
            for i in 0..per_worker {
                let l = &labels[(w + i) % labels.len()];
                let (s, v) = identify(&node, &dev, l).await;
                if s != StatusCode::OK || v["matched"] != true {
                    bad.push(format!("{s} {v}"));
                }
            }
            bad
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.kill(0, "r1").await;
    c.kill(1, "r2").await;
    let mut bad = Vec::new();
    for w in workers {
        bad.extend(w.await.unwrap());
    }
    assert!(
        bad.is_empty(),
        "{} of {} failed: {:?}",
        bad.len(),
        6 * per_worker,
        &bad[..bad.len().min(3)]
    );
    drop((a, b));
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shard_without_replica_is_503_and_a_restart_catches_up() {
    let mut c = Cluster::new(2).await;
    for s in 0..2 {
        c.replica(s, "r1").await;
    }
    let a = c.node().await;
    let t = a.tenant("Shop").await;
    enrol_on_both_shards(&a, &t.device, "+417940000", "p-").await;
    let palms = a.state.store.list_palms().await.unwrap();
    let on1 = palms
        .iter()
        .find(|p| shard_of(&p.id, 2) == 1)
        .expect("a palm on shard 1");
    c.kill(1, "r1").await;
    // Every identification needs every shard: 503, never a false no-match.
    for l in ["p-0", "p-1", "nobody"] {
        let (s, v) = identify(&a, &t.device, l).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_eq!(v["error"]["code"], "gallery_unavailable");
    }
    // An enrolment cannot check duplicates either.
    let id = prepare(&a, &t.device, "+41794999999", "late").await;
    let (s, v) = complete(&a, &t.device, &id).await;
    assert_eq!(
        (s, &v["error"]["code"]),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            &json!("gallery_unavailable")
        )
    );
    // A palm of the dead shard is deleted meanwhile; the restarted replica loads the rest.
    assert!(a.state.store.delete_palm(&on1.id).await.unwrap());
    let started = c.replica(1, "r2").await;
    let live = palms.iter().filter(|p| shard_of(&p.id, 2) == 1).count() - 1;
    assert_eq!(started.palms, live);
    let found = matched_count(&a, &t.device, palms.len()).await;
    assert_eq!(found, palms.len() - 1, "all but the deleted palm");
    drop(a);
    c.down().await;
}

/// How many of the palms `p-0..p-{n}` identify (every answer must be 200).
async fn matched_count(a: &TestApp, dev: &DeviceCreds, n: usize) -> usize {
    let mut found = 0;
    for i in 0..n {
        let (s, v) = identify(a, dev, &format!("p-{i}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        found += usize::from(v["matched"] == true);
    }
    found
}

/// Enrol palms `{label}0`, `{label}1`, … (phones `{phone}00`, …) until both of 2 shards hold
/// one and there are at least 4; returns how many.
async fn enrol_on_both_shards(app: &TestApp, dev: &DeviceCreds, phone: &str, label: &str) -> usize {
    let mut n = 0;
    loop {
        enrol(app, dev, &format!("{phone}{n:02}"), &format!("{label}{n}")).await;
        n += 1;
        let palms = app.state.store.list_palms().await.unwrap();
        let on = |s| palms.iter().any(|p| shard_of(&p.id, 2) == s);
        if n >= 4 && on(0) && on(1) {
            return n;
        }
        assert!(n < 40, "palm ids do not spread over shards");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_shard_function_agrees_with_rust() {
    let c = Cluster::new(1).await;
    let pool = sqlx::PgPool::connect(&c.db.url).await.unwrap();
    palmsig_cluster::schema::install(&pool).await.unwrap();
    for i in 0..300 {
        let id = format!("palm_{:032x}", (i as u128) * 0x9e37_79b9_7f4a_7c15);
        for n in [1u32, 2, 3, 7, 64] {
            let (s,): (i32,) = sqlx::query_as("SELECT palmsig_shard_of($1, $2)")
                .bind(&id)
                .bind(n as i32)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(s as u32, shard_of(&id, n), "{id} of {n}");
        }
    }
    pool.close().await;
    c.down().await;
}
