//! `palmsig bench service`: server-side latency (p50/p99) of enrolment and identification at a
//! given gallery size, through the real axum router, engine, SQLite store and crypto.
//!
//! The gallery is filled with `--gallery` distinct synthetic templates coded by the real engine
//! (`--filler texture`: random smooth textures, fast; `--filler palm`: palm-centre renders of
//! `palmsig_synth` identities, slow), each sealed and stored like an enrolment and added through
//! the `Biometrics` trait. Then `--enrolments` people enrol at a
//! signed demo device (phone code, card, consent, 2 full-hand captures, complete: duplicate check
//! against the whole gallery) and `--identifies` payments identify them from captures of another
//! session. Each request is timed from the router's entry to its response (no network).
//! Build with `--release`: debug timings are meaningless.
use anyhow::Context;
use base64::Engine as _;
use palmsig_codes::{Algorithm, Engine};
use palmsig_core::Hand;
use palmsig_service::biometrics::{Biometrics, EngineBiometrics};
use palmsig_service::clock::SystemClock;
use palmsig_service::crypto::{Kek, Keyring};
use palmsig_service::otp::DevOutbox;
use palmsig_service::payments::SimulatedProcessor;
use palmsig_service::state::{AppState, Config};
use palmsig_synth::{
    encode_png, parse_size, render_capture, render_roi, CaptureSpec, Difficulty, Identity,
};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

/// Arguments of `palmsig bench service`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Palms in the gallery before the measured requests.
    #[arg(long, default_value_t = 10_000)]
    gallery: usize,
    /// People enrolled (2 captures each) while measuring.
    #[arg(long, default_value_t = 20)]
    enrolments: usize,
    /// Identifications (payments) measured.
    #[arg(long, default_value_t = 100)]
    identifies: usize,
    /// Frame size of the measured full-hand captures, WIDTHxHEIGHT.
    #[arg(long, default_value = "512x384")]
    size: String,
    /// Synthetic data seed.
    #[arg(long, default_value_t = 5)]
    seed: u64,
    /// Filler templates: `texture` (the real engine coding random smooth textures: distinct,
    /// impostor-like, the same size and matching cost as palms; ~1 ms each) or `palm` (rendered
    /// synthetic palms; realistic but ~0.3 s of CPU each, for galleries of a few thousand).
    #[arg(long, default_value = "texture")]
    filler: String,
    /// Threads used to code the filler gallery (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn stats(v: &mut [f64]) -> Value {
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    json!({"n": v.len(), "p50": pct(v, 0.5), "p99": pct(v, 0.99), "mean": mean, "max": pct(v, 1.0)})
}

struct Bench {
    router: axum::Router,
    device_id: String,
    key: palmsig_service::signing::SigningKey,
}

impl Bench {
    /// One signed request; (status, body, milliseconds).
    async fn call(
        &self,
        path: &str,
        body: &Value,
        extra: Option<(&str, String)>,
    ) -> anyhow::Result<(u16, Value, f64)> {
        let body = body.to_string();
        let ts = chrono_now_ms();
        let h = palmsig_service::signing::sign_request(
            &self.key,
            &self.device_id,
            "POST",
            path,
            ts,
            &palmsig_service::signing::new_nonce(),
            body.as_bytes(),
        );
        let mut b = axum::http::Request::post(path).header("content-type", "application/json");
        for (k, v) in h.iter() {
            b = b.header(*k, v);
        }
        if let Some((k, v)) = extra {
            b = b.header(k, v);
        }
        let req = b.body(axum::body::Body::from(body))?;
        let t0 = Instant::now();
        let resp = self.router.clone().oneshot(req).await?;
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await?;
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            ms,
        ))
    }
}

fn chrono_now_ms() -> i64 {
    use palmsig_service::clock::Clock;
    SystemClock.now_ms()
}

/// A 128x128 smooth random texture (uniform noise, three 3x3 box blurs, stretched to 40..220):
/// coded by the engine it gives a distinct template with a palm's size and matching cost.
fn texture(seed: u64) -> anyhow::Result<palmsig_core::GrayImage> {
    const S: usize = 128;
    let mut rng = palmsig_core::Rng::new(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x51);
    let mut v: Vec<f32> = (0..S * S).map(|_| (rng.next_u64() >> 56) as f32).collect();
    let mut tmp = vec![0f32; S * S];
    for _ in 0..3 {
        for y in 0..S {
            for x in 0..S {
                let (mut acc, mut c) = (0.0, 0.0);
                for yy in y.saturating_sub(1)..=(y + 1).min(S - 1) {
                    for xx in x.saturating_sub(1)..=(x + 1).min(S - 1) {
                        acc += v[yy * S + xx];
                        c += 1.0;
                    }
                }
                tmp[y * S + x] = acc / c;
            }
        }
        std::mem::swap(&mut v, &mut tmp);
    }
    let (lo, hi) = v
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let px = v
        .iter()
        .map(|x| (40.0 + 180.0 * (x - lo) / (hi - lo).max(1.0)) as u8)
        .collect();
    Ok(palmsig_core::GrayImage::from_vec(S, S, px)?)
}

/// A full-hand capture of `subject` as a capture request body.
fn capture(seed: u64, subject: u32, session: u32, index: u32, w: usize, h: usize) -> Value {
    let b64 = |b: Vec<u8>| base64::engine::general_purpose::STANDARD.encode(b);
    let r = Identity::new(seed, subject, Hand::Right)
        .and_then(|id| {
            let spec = CaptureSpec::sample(&id, Difficulty::Easy, session, index);
            render_capture(&id, &spec, w, h)
        })
        .and_then(|r| Ok((encode_png(&r.visible)?, encode_png(&r.nir)?)));
    match r {
        Ok((v, n)) => json!({"hand": "right", "visible": b64(v), "nir": b64(n)}),
        Err(e) => json!({"hand": "right", "visible": "", "error": e.to_string()}),
    }
}

/// Run `palmsig bench service`.
pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.enrolments > 0 && args.identifies > 0,
        "--enrolments and --identifies must be at least 1"
    );
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; run `cargo run --release -p palmsig -- bench service`");
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(bench(args))
}

async fn bench(args: Args) -> anyhow::Result<()> {
    let (w, h) = parse_size(&args.size)?;
    let dir = std::env::temp_dir().join(palmsig_service::state::new_id("palmsig-bench"));
    std::fs::create_dir_all(&dir)?;
    let result = measure(&args, &dir, w, h).await;
    let _ = std::fs::remove_dir_all(&dir);
    let report = result?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

async fn measure(args: &Args, dir: &std::path::Path, w: usize, h: usize) -> anyhow::Result<Value> {
    let store =
        palmsig_service::store::connect(&format!("sqlite:{}", dir.join("bench.db").display()))
            .await
            .context("opening the bench database")?;
    let bio = Arc::new(EngineBiometrics::synthetic()?);
    let mut config = Config::new("bench-admin");
    config.rate_burst = 1e9;
    let state = AppState::new(
        store,
        Keyring::new(Kek::generate("bench")),
        bio.clone(),
        Arc::new(SystemClock),
        Arc::new(DevOutbox::new()),
        Arc::new(SimulatedProcessor),
        config,
    );

    // Filler: subjects 1_000_000.. (never the measured ones), one palm-centre capture each.
    let t0 = Instant::now();
    let engine = Engine::new(Algorithm::default());
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let n = args.gallery;
    let seed = args.seed;
    let palm_filler = match args.filler.as_str() {
        "palm" => true,
        "texture" => false,
        other => anyhow::bail!("--filler {other:?}: expected texture or palm"),
    };
    let coded: Vec<anyhow::Result<Vec<u8>>> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let engine = &engine;
                sc.spawn(move || {
                    (t..n)
                        .step_by(threads)
                        .map(|i| -> anyhow::Result<Vec<u8>> {
                            let (v, n) = if palm_filler {
                                let id = Identity::new(seed, 1_000_000 + i as u32, Hand::Right)?;
                                let spec = CaptureSpec::sample(&id, Difficulty::Easy, 1, 0);
                                let r = render_roi(&id, &spec, 128)?;
                                (r.visible, r.nir)
                            } else {
                                let k = (seed << 40) ^ (2 * i as u64);
                                (texture(k)?, texture(k + 1)?)
                            };
                            Ok(engine.encode_roi(Some(&v), Some(&n))?.to_bytes()?)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let fill_code_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    for (i, t) in coded.into_iter().enumerate() {
        let t = t.context("coding a filler palm")?;
        let p = palmsig_service::ops::persons::upsert(
            &state,
            &format!("per_fill{i}"),
            &format!("+4170{i:08}"),
        )
        .await?;
        let (palm, _) = state
            .store_palm(&p.id, Hand::Right, std::slice::from_ref(&t))
            .await?;
        bio.add(&palm, std::slice::from_ref(&t))?;
    }
    let fill_store_s = t1.elapsed().as_secs_f64();
    eprintln!(
        "gallery: {} palms (coded in {fill_code_s:.1}s on {threads} threads, sealed + stored in {fill_store_s:.1}s)",
        bio.len()
    );

    // A demo device (the bench holds its private key).
    let demo = palmsig_service::demo::seed(&state).await?;
    let raw: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(&demo.device_key)?
        .try_into()
        .map_err(|_| anyhow::anyhow!("demo key is not 32 bytes"))?;
    let key = palmsig_service::signing::SigningKey::from_bytes(&raw);
    let b = Bench {
        router: palmsig_service::app(state.clone()),
        device_id: demo.device_id.clone(),
        key,
    };
    let code_of = |phone: &str| {
        state
            .sender
            .outbox()
            .and_then(|m| m.into_iter().rev().find(|m| m.phone == phone))
            .map(|m| m.code)
            .unwrap_or_default()
    };
    let expect = |what: &str, (status, v, ms): (u16, Value, f64)| -> anyhow::Result<f64> {
        anyhow::ensure!((200..300).contains(&status), "{what}: {status} {v}");
        Ok(ms)
    };

    let (mut capture_ms, mut complete_ms, mut enrol_total_ms) =
        (Vec::new(), Vec::new(), Vec::new());
    let mut duplicates = 0;
    for s in 0..args.enrolments as u32 {
        let phone = format!("+4179{s:07}");
        let mut total = 0.0;
        let (st, e, ms) = b
            .call("/v1/device/enrolments", &json!({"phone": phone}), None)
            .await?;
        total += expect("start", (st, e.clone(), ms))?;
        let eid = e["enrolment_id"].as_str().unwrap_or_default().to_string();
        let p = |x: &str| format!("/v1/device/enrolments/{eid}/{x}");
        total += expect(
            "verify",
            b.call(&p("verify"), &json!({"code": code_of(&phone)}), None)
                .await?,
        )?;
        total += expect(
            "card",
            b.call(
                &p("card"),
                &json!({"number": "4242424242424242", "exp_month": 12, "exp_year": 2035}),
                None,
            )
            .await?,
        )?;
        total += expect(
            "consents",
            b.call(&p("consents"), &json!({"payment": true}), None)
                .await?,
        )?;
        for i in 0..2 {
            let body = capture(args.seed, s + 1, 1, i, w, h);
            let ms = expect("capture", b.call(&p("captures"), &body, None).await?)?;
            capture_ms.push(ms);
            total += ms;
        }
        let (st, v, ms) = b.call(&p("complete"), &json!({}), None).await?;
        if st == 409 && v["error"]["code"] == "duplicate_palm" {
            duplicates += 1;
        } else {
            expect("complete", (st, v, ms))?;
        }
        complete_ms.push(ms);
        enrol_total_ms.push(total + ms);
    }
    let (mut ident_ms, mut authorized, mut refused) = (Vec::new(), 0, 0);
    for k in 0..args.identifies {
        let s = (k % args.enrolments) as u32;
        let mut body = capture(args.seed, s + 1, 2, (k / args.enrolments) as u32, w, h);
        body["purpose"] = json!("payment");
        body["amount"] = json!(100 + k);
        body["currency"] = json!("EUR");
        let (st, v, ms) = b
            .call(
                "/v1/device/identify",
                &body,
                Some(("idempotency-key", format!("bench-{k}"))),
            )
            .await?;
        match st {
            200 => {
                authorized += usize::from(v["outcome"] == "authorized");
                ident_ms.push(ms);
            }
            // A capture the quality gate refuses is answered too: time it separately.
            422 => refused += 1,
            _ => anyhow::bail!("identify: {st} {v}"),
        }
    }
    palmsig_service::webhook::drain(&state).await;
    Ok(json!({
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "backend": state.store.backend(),
        "gallery_palms_before": n,
        "filler": args.filler,
        "gallery_palms_after": bio.len(),
        "capture_size": format!("{w}x{h}"),
        "fill_seconds": {"code": fill_code_s, "seal_and_store": fill_store_s},
        "enrol_capture_ms": stats(&mut capture_ms),
        "enrol_complete_ms": stats(&mut complete_ms),
        "enrol_total_ms": stats(&mut enrol_total_ms),
        "enrol_duplicates_refused": duplicates,
        "identify_payment_ms": stats(&mut ident_ms),
        "identify_authorized": authorized,
        "identify_refused_captures": refused,
    }))
}
