//! Server-side latency of enrolment and identification at a given gallery size (a benchmark,
//! not a test). The gallery is filled with `N` distinct synthetic palms (ROI renders coded by the
//! real engine, sealed and stored in SQLite like an enrolment); then enrolments (captures +
//! complete) and payments are driven through the axum router in-process, timing each request.
//!
//! `cargo run --release -p palmsig-service --example latency -- 10000 [enrolments] [identifies]`
use axum::body::Body;
use axum::http::Request;
use palmsig_codes::{Algorithm, Engine};
use palmsig_core::{GrayImage, Hand};
use palmsig_service::biometrics::{Biometrics, EngineBiometrics};
use palmsig_service::clock::SystemClock;
use palmsig_service::crypto::{Kek, Keyring};
use palmsig_service::otp::DevOutbox;
use palmsig_service::payments::SimulatedProcessor;
use palmsig_service::state::{AppState, Config};
use palmsig_synth::{render_capture, render_roi, CaptureSpec, Difficulty, Identity};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

fn png(img: &GrayImage) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_slice(),
            img.width() as u32,
            img.height() as u32,
            image::ExtendedColorType::L8,
        )
        .unwrap();
    out
}

/// A smooth random 128x128 texture (3 box-blur passes over uniform noise).
fn texture(seed: u64) -> GrayImage {
    let mut rng = palmsig_core::Rng::new(seed ^ 0x7e57);
    let (w, h) = (128usize, 128usize);
    let mut v: Vec<f32> = (0..w * h).map(|_| (rng.next_u64() % 256) as f32).collect();
    for _ in 0..3 {
        let src = v.clone();
        for y in 0..h {
            for x in 0..w {
                let mut acc = 0.0;
                let mut c = 0.0;
                for dy in -1i32..=1 {
                    for dx in -1i32..=1 {
                        let (xx, yy) = (x as i32 + dx, y as i32 + dy);
                        if xx >= 0 && yy >= 0 && (xx as usize) < w && (yy as usize) < h {
                            acc += src[yy as usize * w + xx as usize];
                            c += 1.0;
                        }
                    }
                }
                v[y * w + x] = acc / c;
            }
        }
    }
    let (lo, hi) = v
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let data = v
        .iter()
        .map(|x| (40.0 + 180.0 * (x - lo) / (hi - lo).max(1.0)) as u8)
        .collect();
    GrayImage::from_vec(w, h, data).unwrap()
}

fn b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn capture(s: u32, session: u32, index: u32) -> Value {
    let id = Identity::new(5, s, Hand::Right).unwrap();
    let r = render_capture(
        &id,
        &CaptureSpec::sample(&id, Difficulty::Easy, session, index),
        512,
        384,
    )
    .unwrap();
    json!({"hand": "right", "visible": b64(&png(&r.visible)), "nir": b64(&png(&r.nir))})
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

struct Dev {
    id: String,
    key: ed25519_dalek::SigningKey,
}

async fn call(
    app: &axum::Router,
    dev: &Dev,
    path: &str,
    body: &Value,
    extra: Option<(&str, String)>,
) -> (u16, Value, f64) {
    let body = body.to_string();
    let ts = chrono::Utc::now().timestamp_millis();
    let h = palmsig_service::signing::sign_request(
        &dev.key,
        &dev.id,
        "POST",
        path,
        ts,
        &palmsig_service::signing::new_nonce(),
        body.as_bytes(),
    );
    let mut b = Request::post(path).header("content-type", "application/json");
    for (k, v) in h.iter() {
        b = b.header(*k, v);
    }
    if let Some((k, v)) = extra {
        b = b.header(k, v);
    }
    let t0 = Instant::now();
    let resp = app
        .clone()
        .oneshot(b.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ms,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let n = args.first().copied().unwrap_or(10_000);
    let n_enrol = args.get(1).copied().unwrap_or(20);
    let n_ident = args.get(2).copied().unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let store = palmsig_service::store::connect(&format!(
        "sqlite:{}",
        dir.path().join("bench.db").display()
    ))
    .await
    .unwrap();
    let bio = Arc::new(EngineBiometrics::new(Algorithm::CompCode).unwrap());
    let mut config = Config::new("bench-admin");
    config.rate_burst = 1e9;
    let state = AppState::new(
        store,
        Keyring::new(Kek::generate("k1")),
        bio.clone(),
        Arc::new(SystemClock),
        Arc::new(DevOutbox::new()),
        Arc::new(SimulatedProcessor),
        config,
    );

    // PALMSIG_BENCH_FILLER=synth renders real synthetic palms (slow: ~0.15 s CPU each in the dev
    // profile); the default codes random smooth textures, distinct "impostor" templates that cost
    // the index and matcher the same as palms.
    let synth_filler = std::env::var("PALMSIG_BENCH_FILLER").as_deref() == Ok("synth");
    // Fill the gallery: subjects 100_000.. (distinct from the measured ones), one reference each.
    let t0 = Instant::now();
    let engine = Engine::new(Algorithm::CompCode);
    let templates: Vec<Vec<u8>> = std::thread::scope(|sc| {
        let workers = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(2);
        let hs: Vec<_> = (0..workers)
            .map(|w| {
                let engine = &engine;
                sc.spawn(move || {
                    (0..n as u32)
                        .filter(|i| i % workers == w)
                        .map(|i| {
                            if synth_filler {
                                let id = Identity::new(5, 100_000 + i, Hand::Right).unwrap();
                                let r = render_roi(
                                    &id,
                                    &CaptureSpec::sample(&id, Difficulty::Easy, 1, 0),
                                    128,
                                )
                                .unwrap();
                                engine
                                    .encode_roi(Some(&r.visible), Some(&r.nir))
                                    .unwrap()
                                    .to_bytes()
                                    .unwrap()
                            } else {
                                let (v, n) = (texture(2 * i as u64), texture(2 * i as u64 + 1));
                                engine
                                    .encode_roi(Some(&v), Some(&n))
                                    .unwrap()
                                    .to_bytes()
                                    .unwrap()
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "filler: {}",
        if synth_filler {
            "synthetic palms"
        } else {
            "random textures"
        }
    );
    eprintln!(
        "coded {n} gallery templates in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    let t1 = Instant::now();
    for (i, t) in templates.iter().enumerate() {
        let p = state
            .store
            .upsert_person(&format!("per_g{i}"), &format!("+4170{i:08}"), 0)
            .await
            .unwrap();
        let (palm, _) = state
            .store_palm(&p.id, Hand::Right, std::slice::from_ref(t))
            .await
            .unwrap();
        bio.add(&palm, std::slice::from_ref(t)).unwrap();
    }
    eprintln!(
        "sealed + stored {n} palms in {:.1}s; gallery = {}",
        t1.elapsed().as_secs_f64(),
        bio.len()
    );

    let demo = palmsig_service::demo::seed(&state).await.unwrap();
    use base64::Engine as _;
    let key: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(&demo.device_key)
        .unwrap()
        .try_into()
        .unwrap();
    let dev = Dev {
        id: demo.device_id.clone(),
        key: ed25519_dalek::SigningKey::from_bytes(&key),
    };
    let app = palmsig_service::app(state.clone());
    let outbox_code = |phone: &str| {
        state
            .sender
            .outbox()
            .unwrap()
            .iter()
            .rev()
            .find(|m| m.phone == phone)
            .map(|m| m.code.clone())
            .unwrap()
    };

    let (mut cap_ms, mut complete_ms, mut ident_ms) = (Vec::new(), Vec::new(), Vec::new());
    for s in 0..n_enrol as u32 {
        let phone = format!("+4179{s:07}");
        let (_, e, _) = call(
            &app,
            &dev,
            "/v1/device/enrolments",
            &json!({"phone": phone}),
            None,
        )
        .await;
        let eid = e["enrolment_id"].as_str().unwrap().to_string();
        call(
            &app,
            &dev,
            &format!("/v1/device/enrolments/{eid}/verify"),
            &json!({"code": outbox_code(&phone)}),
            None,
        )
        .await;
        call(
            &app,
            &dev,
            &format!("/v1/device/enrolments/{eid}/card"),
            &json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2035}),
            None,
        )
        .await;
        call(
            &app,
            &dev,
            &format!("/v1/device/enrolments/{eid}/consents"),
            &json!({"payment": true}),
            None,
        )
        .await;
        for i in 0..2 {
            let (st, v, ms) = call(
                &app,
                &dev,
                &format!("/v1/device/enrolments/{eid}/captures"),
                &capture(s, 1, i),
                None,
            )
            .await;
            assert_eq!(st, 200, "{v}");
            cap_ms.push(ms);
        }
        let (st, v, ms) = call(
            &app,
            &dev,
            &format!("/v1/device/enrolments/{eid}/complete"),
            &json!({}),
            None,
        )
        .await;
        assert_eq!(st, 200, "{v}");
        complete_ms.push(ms);
    }
    let mut correct = 0;
    for k in 0..n_ident {
        let s = (k % n_enrol) as u32;
        let mut body = capture(s, 2, k as u32 / n_enrol as u32);
        body["purpose"] = json!("payment");
        body["amount"] = json!(100 + k);
        body["currency"] = json!("EUR");
        let (st, v, ms) = call(
            &app,
            &dev,
            "/v1/device/identify",
            &body,
            Some(("idempotency-key", format!("bench-{k}"))),
        )
        .await;
        assert_eq!(st, 200, "{v}");
        if v["outcome"] == "authorized" {
            correct += 1;
        }
        ident_ms.push(ms);
    }
    let report = json!({
        "gallery_palms": bio.len(),
        "backend": "sqlite",
        "enrol_capture_ms": {"n": cap_ms.len(), "p50": pct(&mut cap_ms, 0.5), "p99": pct(&mut cap_ms, 0.99)},
        "enrol_complete_ms": {"n": complete_ms.len(), "p50": pct(&mut complete_ms, 0.5), "p99": pct(&mut complete_ms, 0.99)},
        "identify_payment_ms": {"n": ident_ms.len(), "p50": pct(&mut ident_ms, 0.5), "p99": pct(&mut ident_ms, 0.99), "authorized": correct},
    });
    println!("{}", serde_json::to_string_pretty(&report).unwrap());
}
