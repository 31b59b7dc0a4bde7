//! `/scanner`: a scanner simulator that is a real registered device. It is activated with the
//! one-time code the console shows; its Ed25519 key stays in server memory (keyed by the
//! browser's scanner cookie) and signs every device API request. Captures come from the
//! synthetic hand generator (rendered on the server from seed, identity, hand, session and
//! capture number), from an uploaded visible/NIR pair, or from the browser camera. Two modes:
//! hover (identify for a purpose) and the enrolment kiosk (phone, code, card, consent, captures).
use super::html::{esc, layout, money, parse_amount, Banner, Section};
use super::{
    cookie, dev_code_html, field, form, page_response, redirect, session_cookie, Auth, PageError,
    PageResult, Web,
};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use palmsig_core::Hand;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt::Write;

const COOKIE: &str = "palmsig_scanner";
/// Frame size of synthetic captures (the scanner's 4:3 sensor).
const SYNTH_W: usize = 640;
const SYNTH_H: usize = 480;

/// The simulated device: its id and private key (memory only).
#[derive(Clone)]
pub(crate) struct SimDevice {
    pub(crate) device_id: String,
    pub(crate) key: SigningKey,
    site_id: String,
}

impl std::fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDevice")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// Where the kiosk enrolment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Phone,
    Code,
    Card,
    Consent,
    Captures,
}

#[derive(Debug, Clone)]
struct Kiosk {
    step: Step,
    enrolment_id: String,
    phone: String,
    captures: HashMap<&'static str, usize>,
}

/// A browser's simulator: the device and the kiosk progress.
#[derive(Debug, Clone)]
pub(crate) struct ScannerSession {
    device: SimDevice,
    kiosk: Option<Kiosk>,
}

pub(super) fn routes() -> Router<Web> {
    Router::new()
        .route("/scanner", get(index))
        .route("/scanner/activate", post(activate))
        .route("/scanner/forget", post(forget))
        .route("/scanner/hover", post(hover))
        .route("/scanner/kiosk", post(kiosk))
}

fn session(w: &Web, h: &HeaderMap) -> Option<(String, ScannerSession)> {
    let id = cookie(h, COOKIE)?;
    let s = w.scanners.get(&id, w.st.now())?;
    Some((id, s))
}

#[derive(serde::Deserialize)]
pub(super) struct ModeQuery {
    mode: Option<String>,
}

async fn index(State(w): State<Web>, headers: HeaderMap, Query(q): Query<ModeQuery>) -> PageResult {
    match session(&w, &headers) {
        None => Ok(activation_page(Banner::None)),
        Some((_, s)) if q.mode.as_deref() == Some("kiosk") => {
            Ok(kiosk_page(&w, &s, Banner::None, "", &HashMap::new()))
        }
        Some((_, s)) => Ok(hover_page(&s, &HashMap::new(), Banner::None, "")),
    }
}

fn activation_page(banner: Banner) -> Response {
    let body = format!(
        r#"{}<section class="panel" aria-labelledby="act-h"><h2 id="act-h">Activate this scanner</h2>
<p>The simulator is a real device of a store. Register a device in the <a href="/console/devices">console</a>, then type its one-time activation code here. The device key is generated on the server and kept in memory only.</p>
<form method="post" action="/scanner/activate" class="stack"><label for="activation-code">Activation code</label>
<input id="activation-code" name="activation_code" inputmode="numeric" autocomplete="off" required>
<button type="submit">Activate</button></form></section>"#,
        banner.html()
    );
    page_response(StatusCode::OK, layout("Scanner", Section::Scanner, &body))
}

async fn activate(State(w): State<Web>, body: Bytes) -> PageResult {
    let code = form(&body)
        .map(|f| field(&f, "activation_code").to_string())
        .unwrap_or_default();
    if code.chars().filter(|c| c.is_ascii_digit()).count() != 12 {
        return Ok(activation_page(Banner::Err(
            "The activation code has 12 digits.".into(),
        )));
    }
    let key = crate::signing::generate_key();
    let pk = base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes());
    let r = w
        .api(
            Method::POST,
            "/v1/devices/activate",
            Auth::None,
            Some(&json!({"activation_code": code, "public_key": pk, "version": "web-simulator/1"})),
        )
        .await?;
    if !r.ok() {
        return Ok(activation_page(Banner::Err(r.message())));
    }
    let device = SimDevice {
        device_id: r.body["device_id"].as_str().unwrap_or("").to_string(),
        key,
        site_id: r.body["site_id"].as_str().unwrap_or("").to_string(),
    };
    // First signed call: the console shows the device online with its version.
    let hb = w
        .api(
            Method::POST,
            "/v1/device/heartbeat",
            Auth::Device(&device),
            Some(&json!({"version": "web-simulator/1"})),
        )
        .await?;
    if !hb.ok() {
        return Err(PageError::Internal(hb.message()));
    }
    let id = crate::crypto::random_token("scn");
    w.scanners.put(
        &id,
        ScannerSession {
            device,
            kiosk: None,
        },
        w.st.now(),
    );
    Ok(redirect(
        "/scanner",
        &[session_cookie(&w.st, COOKIE, &id, "/scanner")],
    ))
}

async fn forget(State(w): State<Web>, headers: HeaderMap) -> PageResult {
    if let Some((id, _)) = session(&w, &headers) {
        w.scanners.remove(&id);
    }
    Ok(redirect(
        "/scanner",
        &[session_cookie(&w.st, COOKIE, "", "/scanner")],
    ))
}

fn device_bar(s: &ScannerSession, kiosk: bool) -> String {
    let (a, b) = if kiosk {
        ("", r#" aria-current="page""#)
    } else {
        (r#" aria-current="page""#, "")
    };
    format!(
        r#"<div class="who"><p>Device <code id="device-id">{}</code> · site <code>{}</code></p>
<form method="post" action="/scanner/forget"><button class="secondary" type="submit">Forget device</button></form></div>
<nav class="tabs" aria-label="Scanner modes"><a href="/scanner"{a}>Hover</a><a href="/scanner?mode=kiosk"{b}>Enrolment kiosk</a></nav>"#,
        esc(&s.device.device_id),
        esc(&s.device.site_id)
    )
}

/// Previous value of a form field (to keep the form filled after a submit), escaped.
fn prev<'a>(f: &'a HashMap<String, String>, name: &str, default: &'a str) -> String {
    esc(f.get(name).map(|s| s.as_str()).unwrap_or(default))
}

fn sel(f: &HashMap<String, String>, name: &str, value: &str, default: &str) -> &'static str {
    if f.get(name).map(|s| s.as_str()).unwrap_or(default) == value {
        " selected"
    } else {
        ""
    }
}

/// The capture source fields shared by hover and kiosk forms.
fn capture_fields(f: &HashMap<String, String>) -> String {
    let src = f.get("source").map(|s| s.as_str()).unwrap_or("synthetic");
    let chk = |v: &str| if src == v { " checked" } else { "" };
    format!(
        r#"<fieldset class="capture"><legend>Palm</legend>
<div class="radios" role="radiogroup" aria-label="Capture source">
<div class="check"><input type="radio" id="src-synth" name="source" value="synthetic"{c1}><label for="src-synth">Synthetic person</label></div>
<div class="check"><input type="radio" id="src-upload" name="source" value="upload"{c2}><label for="src-upload">Upload images</label></div>
<div class="check"><input type="radio" id="src-camera" name="source" value="camera"{c3}><label for="src-camera">Camera</label></div>
</div>
<div class="grid" data-source="synthetic">
<div><label for="syn-seed">Population seed</label><input id="syn-seed" name="seed" type="number" min="0" value="{seed}" required></div>
<div><label for="syn-id">Person number</label><input id="syn-id" name="identity" type="number" min="1" max="100000" value="{ident}" required></div>
<div><label for="syn-hand">Hand</label><select id="syn-hand" name="hand"><option value="right"{hr}>right</option><option value="left"{hl}>left</option></select></div>
<div><label for="syn-session">Visit (session)</label><input id="syn-session" name="session" type="number" min="1" max="9" value="{session}" required></div>
<div><label for="syn-capture">Capture number</label><input id="syn-capture" name="capture" type="number" min="0" max="999" value="{capture}" required></div>
<div><label for="syn-difficulty">Conditions</label><select id="syn-difficulty" name="difficulty"><option value="easy"{de}>easy</option><option value="realistic"{dr}>realistic</option><option value="hard"{dh}>hard</option></select></div>
</div>
<div class="grid" data-source="upload">
<div><label for="up-visible">Visible-light image</label><input id="up-visible" type="file" accept="image/*" data-b64="visible_b64"></div>
<div><label for="up-nir">Near-infrared image (optional)</label><input id="up-nir" type="file" accept="image/*" data-b64="nir_b64"></div>
</div>
<div class="camera" data-source="camera">
<p class="hint">A visible-light photo of your open palm, fingers spread, on a dark background. It is sent once and never stored.</p>
<video id="cam-video" playsinline muted aria-label="Camera preview"></video>
<canvas id="cam-canvas" hidden></canvas>
<p class="row"><button type="button" class="secondary" id="cam-start">Start camera</button><button type="button" class="secondary" id="cam-snap" disabled>Take photo</button></p>
<p id="cam-status" role="status"></p>
</div>
<div data-source="upload camera"><label for="up-hand">Hand shown</label><select id="up-hand" name="upload_hand"><option value="right">right</option><option value="left">left</option></select></div>
<input type="hidden" name="visible_b64" id="visible_b64"><input type="hidden" name="nir_b64" id="nir_b64">
</fieldset>"#,
        c1 = chk("synthetic"),
        c2 = chk("upload"),
        c3 = chk("camera"),
        seed = prev(f, "seed", "7"),
        ident = prev(f, "identity", "1"),
        hr = sel(f, "hand", "right", "right"),
        hl = sel(f, "hand", "left", "right"),
        session = prev(f, "session", "1"),
        capture = prev(f, "capture", "0"),
        de = sel(f, "difficulty", "easy", "realistic"),
        dr = sel(f, "difficulty", "realistic", "realistic"),
        dh = sel(f, "difficulty", "hard", "realistic"),
    )
}

fn hover_page(
    s: &ScannerSession,
    f: &HashMap<String, String>,
    banner: Banner,
    result: &str,
) -> Response {
    let purpose = f.get("purpose").map(|s| s.as_str()).unwrap_or("payment");
    let mut opts = String::new();
    for (v, l) in [
        ("payment", "Pay"),
        ("entry", "Enter (door)"),
        ("loyalty", "Loyalty"),
        ("age", "Prove age"),
    ] {
        let _ = write!(
            opts,
            r#"<option value="{v}"{}>{l}</option>"#,
            if v == purpose { " selected" } else { "" }
        );
    }
    let body = format!(
        r#"{bar}{banner}{result}<section class="panel" aria-labelledby="hover-h"><h2 id="hover-h">Hover a palm</h2>
<form method="post" action="/scanner/hover" class="stack" data-capture>
<div class="grid">
<div><label for="purpose">Purpose</label><select id="purpose" name="purpose">{opts}</select></div>
<div data-purpose="payment"><label for="amount">Amount</label><input id="amount" name="amount" inputmode="decimal" value="{amount}"></div>
<div data-purpose="payment"><label for="currency">Currency</label><input id="currency" name="currency" maxlength="3" value="{currency}"></div>
<div data-purpose="entry"><label for="door">Door</label><input id="door" name="door" maxlength="64" value="{door}"></div>
</div>
{fields}
<button type="submit" class="big" id="hover-button">Hover</button>
</form></section>"#,
        bar = device_bar(s, false),
        banner = banner.html(),
        amount = prev(f, "amount", "12.50"),
        currency = prev(f, "currency", "EUR"),
        door = prev(f, "door", "Main entrance"),
        fields = capture_fields(f),
    );
    page_response(StatusCode::OK, layout("Scanner", Section::Scanner, &body))
}

/// A capture from the form: the JSON fields of the device API and a preview image (data URL).
struct Capture {
    hand: Hand,
    visible: Vec<u8>,
    nir: Option<Vec<u8>>,
    label: String,
}

impl Capture {
    fn json(&self) -> Value {
        let b = |x: &[u8]| base64::engine::general_purpose::STANDARD.encode(x);
        let mut v = json!({"hand": self.hand.as_str(), "visible": b(&self.visible)});
        if let Some(n) = &self.nir {
            v["nir"] = json!(b(n));
        }
        v
    }
    fn preview(&self) -> String {
        format!(
            r#"<figure class="preview"><img src="data:image/png;base64,{}" alt="The visible-light capture that was sent" width="320" height="240"><figcaption>{}</figcaption></figure>"#,
            base64::engine::general_purpose::STANDARD.encode(&self.visible),
            esc(&self.label)
        )
    }
}

fn png(img: &palmsig_core::GrayImage) -> Result<Vec<u8>, String> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_slice(),
            img.width() as u32,
            img.height() as u32,
            image::ExtendedColorType::L8,
        )
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Read the capture fields; `Err` is a message for the person at the scanner.
async fn capture_from(f: &HashMap<String, String>) -> Result<Capture, String> {
    let hand_of = |s: &str| match s {
        "left" => Ok(Hand::Left),
        "right" => Ok(Hand::Right),
        _ => Err("Choose the left or the right hand.".to_string()),
    };
    match field(f, "source") {
        "upload" | "camera" => {
            let b64 = |name: &str| -> Result<Option<Vec<u8>>, String> {
                let s = field(f, name);
                if s.is_empty() {
                    return Ok(None);
                }
                base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map(Some)
                    .map_err(|_| "The image could not be read.".to_string())
            };
            let visible = b64("visible_b64")?.ok_or_else(|| {
                if field(f, "source") == "camera" {
                    "Take a photo with the camera first.".to_string()
                } else {
                    "Choose a visible-light image to upload.".to_string()
                }
            })?;
            Ok(Capture {
                hand: hand_of(field(f, "upload_hand"))?,
                visible,
                nir: b64("nir_b64")?,
                label: format!("{} image", field(f, "source")),
            })
        }
        _ => {
            let num = |name: &str, lo: u64, hi: u64| -> Result<u64, String> {
                field(f, name)
                    .parse::<u64>()
                    .ok()
                    .filter(|v| (lo..=hi).contains(v))
                    .ok_or_else(|| format!("{name} must be a whole number from {lo} to {hi}."))
            };
            let seed = num("seed", 0, u64::MAX)?;
            let subject = num("identity", 1, 100_000)? as u32;
            let session = num("session", 1, 9)? as u32;
            let index = num("capture", 0, 999)? as u32;
            let hand = hand_of(field(f, "hand"))?;
            let difficulty = match field(f, "difficulty") {
                "easy" => palmsig_synth::Difficulty::Easy,
                "hard" => palmsig_synth::Difficulty::Hard,
                _ => palmsig_synth::Difficulty::Realistic,
            };
            let label = format!(
                "synthetic person {subject} (seed {seed}), {} hand, visit {session}, capture {index}, {} conditions",
                hand.as_str(),
                difficulty.as_str()
            );
            // Rendering takes tens of milliseconds of CPU: off the async workers.
            let (v, n) =
                tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, Vec<u8>), String> {
                    let id = palmsig_synth::Identity::new(seed, subject, hand)
                        .map_err(|e| e.to_string())?;
                    let spec = palmsig_synth::CaptureSpec::sample(&id, difficulty, session, index);
                    let r = palmsig_synth::render_capture(&id, &spec, SYNTH_W, SYNTH_H)
                        .map_err(|e| e.to_string())?;
                    Ok((png(&r.visible)?, png(&r.nir)?))
                })
                .await
                .map_err(|e| e.to_string())??;
            Ok(Capture {
                hand,
                visible: v,
                nir: Some(n),
                label,
            })
        }
    }
}

/// The person's phone, masked, from the event an identification wrote.
async fn masked_phone(w: &Web, event_id: &str) -> Option<String> {
    let ev = w.st.store.get_event(event_id).await.ok()??;
    let p =
        w.st.store
            .get_person(ev.person_id.as_deref()?)
            .await
            .ok()??;
    let phone = crate::ops::persons::phone_of(&w.st, &p).await.ok()?;
    Some(super::html::mask_phone(&phone))
}

/// The decision in words, and whether it is a "yes".
fn decision(r: &Value) -> (String, bool) {
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let amount = match (r["amount"].as_i64(), r["currency"].as_str()) {
        (Some(a), Some(c)) => money(a, c),
        _ => String::new(),
    };
    match s("outcome").as_str() {
        "authorized" => (
            format!(
                "Payment authorized: {amount} with {} •••• {}",
                esc(r["card"]["brand"].as_str().unwrap_or("card")),
                esc(r["card"]["last4"].as_str().unwrap_or(""))
            ),
            true,
        ),
        "declined" => (format!("Payment declined: {}", esc(&s("reason"))), false),
        "granted" => (
            format!("Door opens (badge {})", esc(&s("badge_number"))),
            true,
        ),
        "denied" => (format!("Entry denied: {}", esc(&s("reason"))), false),
        "linked" => (format!("Loyalty card {}", esc(&s("loyalty_id"))), true),
        "not_linked" => ("No loyalty card linked at this store".into(), false),
        "verified" => (
            format!(
                "Age verified: over 18 {}, over 21 {}",
                if r["over_18"] == true { "yes" } else { "no" },
                if r["over_21"] == true { "yes" } else { "no" }
            ),
            r["over_18"] == true,
        ),
        "not_verified" => ("Age not verified for this person".into(), false),
        "no_consent" => (
            format!("Recognised, but no consent for {}", esc(&s("purpose"))),
            false,
        ),
        "no_match" => ("Palm not recognised".into(), false),
        o => (esc(o), false),
    }
}

async fn hover(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let Some((_, s)) = session(&w, &headers) else {
        return Ok(activation_page(Banner::Err(
            "Activate the scanner first.".into(),
        )));
    };
    let Some(f) = form(&body) else {
        return Ok(hover_page(
            &s,
            &HashMap::new(),
            Banner::Err("The form could not be read.".into()),
            "",
        ));
    };
    let purpose = field(&f, "purpose");
    let mut req = json!({"purpose": purpose});
    if purpose == "payment" {
        let Some(a) = parse_amount(field(&f, "amount")) else {
            return Ok(hover_page(
                &s,
                &f,
                Banner::Err("The amount must be a positive number like 12.50.".into()),
                "",
            ));
        };
        req["amount"] = json!(a);
        req["currency"] = json!(field(&f, "currency").to_ascii_uppercase());
    }
    if purpose == "entry" && !field(&f, "door").is_empty() {
        req["door"] = json!(field(&f, "door"));
    }
    let cap = match capture_from(&f).await {
        Ok(c) => c,
        Err(m) => return Ok(hover_page(&s, &f, Banner::Err(m), "")),
    };
    if let Value::Object(m) = cap.json() {
        for (k, v) in m {
            req[k] = v;
        }
    }
    let r = w
        .api(
            Method::POST,
            "/v1/device/identify",
            Auth::Device(&s.device),
            Some(&req),
        )
        .await?;
    let latency = format!("{:.0} ms", r.ms);
    let result = if r.ok() {
        let (text, yes) = decision(&r.body);
        let phone = match r.body["event_id"].as_str() {
            Some(e) if r.body["matched"] == true => masked_phone(&w, e).await,
            _ => None,
        };
        format!(
            r#"<section class="panel result {cls}" aria-labelledby="result-h" id="result" data-outcome="{outcome}"><h2 id="result-h">{text}</h2>
<dl class="facts"><dt>Person</dt><dd id="result-phone">{phone}</dd><dt>Outcome</dt><dd><code>{outcome}</code></dd><dt>Server time</dt><dd id="result-latency">{latency}</dd><dt>Event</dt><dd><code>{event}</code></dd></dl>{preview}</section>"#,
            cls = if yes { "yes" } else { "no" },
            outcome = esc(r.body["outcome"].as_str().unwrap_or("")),
            phone = phone.map(|p| esc(&p)).unwrap_or_else(|| "—".into()),
            event = esc(r.body["event_id"].as_str().unwrap_or("")),
            preview = cap.preview(),
        )
    } else {
        // A refused capture (422 with the quality reason) or a refused request.
        format!(
            r#"<section class="panel result no" aria-labelledby="result-h" id="result" data-outcome="refused" data-reason="{code}"><h2 id="result-h">Capture refused</h2>
<dl class="facts"><dt>Reason</dt><dd id="result-reason"><code>{code}</code> {msg}</dd><dt>Server time</dt><dd id="result-latency">{latency}</dd></dl>{preview}</section>"#,
            code = esc(r.code()),
            msg = esc(&r.message()),
            preview = cap.preview(),
        )
    };
    Ok(hover_page(&s, &f, Banner::None, &result))
}

// ---------------------------------------------------------------- kiosk

/// The kiosk page; `f` refills the capture fields (the capture number moves on after a success).
fn kiosk_page(
    w: &Web,
    s: &ScannerSession,
    banner: Banner,
    extra: &str,
    f: &HashMap<String, String>,
) -> Response {
    let k = s.kiosk.as_ref();
    let step = k.map(|k| k.step).unwrap_or(Step::Phone);
    let steps = [
        (Step::Phone, "Phone"),
        (Step::Code, "Code"),
        (Step::Card, "Card"),
        (Step::Consent, "Consent"),
        (Step::Captures, "Palm"),
    ];
    let mut progress = String::from(r#"<ol class="steps" aria-label="Enrolment steps">"#);
    for (st, label) in steps {
        let cur = if st == step {
            r#" aria-current="step""#
        } else {
            ""
        };
        let _ = write!(progress, "<li{cur}>{label}</li>");
    }
    progress.push_str("</ol>");
    let content = match (step, k) {
        (Step::Phone, _) | (_, None) => r#"<form method="post" action="/scanner/kiosk" class="stack"><input type="hidden" name="op" value="phone">
<label for="kiosk-phone">Phone number (international form)</label><input id="kiosk-phone" name="phone" type="tel" autocomplete="tel" placeholder="+41 79 123 45 67" required>
<button type="submit">Send code</button></form>"#
            .to_string(),
        (Step::Code, Some(k)) => format!(
            r#"<p>A code was sent to <strong>{p}</strong>.</p>{dev}<form method="post" action="/scanner/kiosk" class="stack"><input type="hidden" name="op" value="code">
<label for="kiosk-code">One-time code</label><input id="kiosk-code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">Confirm</button></form>"#,
            p = esc(&k.phone),
            dev = dev_code_html(&w.st, &k.phone)
        ),
        (Step::Card, Some(_)) => r#"<form method="post" action="/scanner/kiosk" class="grid"><input type="hidden" name="op" value="card">
<div><label for="kiosk-card">Card number</label><input id="kiosk-card" name="number" inputmode="numeric" autocomplete="cc-number"></div>
<div><label for="kiosk-month">Expiry month</label><input id="kiosk-month" name="exp_month" type="number" min="1" max="12"></div>
<div><label for="kiosk-year">Expiry year</label><input id="kiosk-year" name="exp_year" type="number" min="2000" max="2100"></div>
<div class="end row"><button type="submit">Add card</button><button type="submit" name="skip" value="1" class="secondary">No card</button></div></form>"#
            .to_string(),
        (Step::Consent, Some(_)) => r#"<form method="post" action="/scanner/kiosk" class="stack"><input type="hidden" name="op" value="consent">
<fieldset><legend>The palm may be used to</legend>
<div class="check"><input type="checkbox" id="k-payment" name="payment" value="on" checked><label for="k-payment">Pay</label></div>
<div class="check"><input type="checkbox" id="k-entry" name="entry" value="on"><label for="k-entry">Open doors</label></div>
<div class="check"><input type="checkbox" id="k-loyalty" name="loyalty" value="on"><label for="k-loyalty">Show the loyalty card</label></div>
<div class="check"><input type="checkbox" id="k-age" name="age" value="on"><label for="k-age">Prove age (over 18 / 21 only)</label></div></fieldset>
<fieldset><legend>Checked by staff (optional)</legend><div class="grid">
<div><label for="k-birth">Birth date from an ID document</label><input id="k-birth" name="birth_date" type="date"></div>
<div><label for="k-badge">Badge number at this store</label><input id="k-badge" name="badge_number" maxlength="64"></div>
<div><label for="k-loyalty-id">Loyalty number at this store</label><input id="k-loyalty-id" name="loyalty_id" maxlength="64"></div></div></fieldset>
<button type="submit">Continue</button></form>"#
            .to_string(),
        (Step::Captures, Some(k)) => {
            let mut counts = String::new();
            for h in ["right", "left"] {
                let n = k.captures.get(h).copied().unwrap_or(0);
                let _ = write!(counts, r#"<li>{h} hand: <strong data-hand="{h}">{n}</strong> of {} needed</li>"#, crate::params::MIN_CAPTURES_PER_HAND);
            }
            format!(
                r#"<ul class="counts">{counts}</ul>
<form method="post" action="/scanner/kiosk" class="stack" data-capture><input type="hidden" name="op" value="capture">{fields}<button type="submit" id="capture-button">Capture</button></form>
<form method="post" action="/scanner/kiosk"><input type="hidden" name="op" value="complete"><button type="submit" class="big" id="complete-button">Finish enrolment</button></form>"#,
                fields = capture_fields(f)
            )
        }
    };
    let cancel = if k.is_some() {
        r#"<form method="post" action="/scanner/kiosk"><input type="hidden" name="op" value="cancel"><button type="submit" class="link">Start over</button></form>"#
    } else {
        ""
    };
    let body = format!(
        r#"{bar}{banner}{extra}<section class="panel" aria-labelledby="kiosk-h"><h2 id="kiosk-h">Enrol a palm</h2>{progress}{content}{cancel}</section>"#,
        bar = device_bar(s, true),
        banner = banner.html(),
    );
    page_response(StatusCode::OK, layout("Scanner", Section::Scanner, &body))
}

async fn kiosk(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let Some((sid, mut s)) = session(&w, &headers) else {
        return Ok(activation_page(Banner::Err(
            "Activate the scanner first.".into(),
        )));
    };
    let Some(f) = form(&body) else {
        return Ok(kiosk_page(
            &w,
            &s,
            Banner::Err("The form could not be read.".into()),
            "",
            &HashMap::new(),
        ));
    };
    let dev = s.device.clone();
    let op = field(&f, "op");
    let mut refill = f.clone();
    let mut extra = String::new();
    let banner = match (op, s.kiosk.clone()) {
        ("cancel", _) => {
            s.kiosk = None;
            Banner::Ok("Enrolment cancelled; nothing was kept.".into())
        }
        ("phone", _) => {
            let r = w
                .api(
                    Method::POST,
                    "/v1/device/enrolments",
                    Auth::Device(&dev),
                    Some(&json!({"phone": field(&f, "phone")})),
                )
                .await?;
            if r.ok() {
                s.kiosk = Some(Kiosk {
                    step: Step::Code,
                    enrolment_id: r.body["enrolment_id"].as_str().unwrap_or("").to_string(),
                    phone: crate::otp::normalize_e164(field(&f, "phone")).unwrap_or_default(),
                    captures: HashMap::new(),
                });
                Banner::None
            } else {
                Banner::Err(r.message())
            }
        }
        (_, None) => Banner::Err("Start with the phone number.".into()),
        ("code", Some(mut k)) => {
            let path = format!("/v1/device/enrolments/{}/verify", k.enrolment_id);
            let r = w
                .api(
                    Method::POST,
                    &path,
                    Auth::Device(&dev),
                    Some(&json!({"code": field(&f, "code")})),
                )
                .await?;
            if r.ok() {
                k.step = Step::Card;
                s.kiosk = Some(k);
                Banner::Ok("Phone confirmed.".into())
            } else {
                Banner::Err(r.message())
            }
        }
        ("card", Some(mut k)) => {
            if field(&f, "skip") == "1" {
                k.step = Step::Consent;
                s.kiosk = Some(k);
                Banner::Ok("No card: palm payments will be declined until one is added.".into())
            } else {
                match (
                    field(&f, "exp_month").parse::<u32>(),
                    field(&f, "exp_year").parse::<i32>(),
                ) {
                    (Ok(m), Ok(y)) => {
                        let number: String = field(&f, "number")
                            .chars()
                            .filter(|c| !c.is_whitespace() && *c != '-')
                            .collect();
                        let path = format!("/v1/device/enrolments/{}/card", k.enrolment_id);
                        let r = w
                            .api(
                                Method::POST,
                                &path,
                                Auth::Device(&dev),
                                Some(&json!({"number": number, "exp_month": m, "exp_year": y})),
                            )
                            .await?;
                        if r.ok() {
                            k.step = Step::Consent;
                            let msg = format!(
                                "Card {} •••• {} added.",
                                r.body["brand"].as_str().unwrap_or("card"),
                                r.body["last4"].as_str().unwrap_or("")
                            );
                            s.kiosk = Some(k);
                            Banner::Ok(msg)
                        } else {
                            Banner::Err(r.message())
                        }
                    }
                    _ => Banner::Err("Expiry month and year must be numbers.".into()),
                }
            }
        }
        ("consent", Some(mut k)) => {
            let mut c = serde_json::Map::new();
            for p in ["payment", "entry", "loyalty", "age"] {
                c.insert(p.into(), json!(f.contains_key(p)));
            }
            let path = format!("/v1/device/enrolments/{}/consents", k.enrolment_id);
            let r = w
                .api(
                    Method::POST,
                    &path,
                    Auth::Device(&dev),
                    Some(&Value::Object(c)),
                )
                .await?;
            if !r.ok() {
                Banner::Err(r.message())
            } else {
                let mut attrs = serde_json::Map::new();
                for a in ["birth_date", "badge_number", "loyalty_id"] {
                    if !field(&f, a).is_empty() {
                        attrs.insert(a.into(), json!(field(&f, a)));
                    }
                }
                let r2 = if attrs.is_empty() {
                    None
                } else {
                    let path = format!("/v1/device/enrolments/{}/attributes", k.enrolment_id);
                    Some(
                        w.api(
                            Method::POST,
                            &path,
                            Auth::Device(&dev),
                            Some(&Value::Object(attrs)),
                        )
                        .await?,
                    )
                };
                match r2 {
                    Some(r2) if !r2.ok() => Banner::Err(r2.message()),
                    _ => {
                        k.step = Step::Captures;
                        s.kiosk = Some(k);
                        Banner::Ok("Consents saved. Now hover the palm a few times.".into())
                    }
                }
            }
        }
        ("capture", Some(mut k)) if k.step == Step::Captures => match capture_from(&f).await {
            Err(m) => Banner::Err(m),
            Ok(cap) => {
                let path = format!("/v1/device/enrolments/{}/captures", k.enrolment_id);
                let r = w
                    .api(Method::POST, &path, Auth::Device(&dev), Some(&cap.json()))
                    .await?;
                extra = format!(
                    r#"<section class="panel" aria-label="Last capture">{}</section>"#,
                    cap.preview()
                );
                if r.ok() {
                    let hand = if cap.hand == Hand::Left {
                        "left"
                    } else {
                        "right"
                    };
                    let n = r.body["captures"].as_u64().unwrap_or(0) as usize;
                    k.captures.insert(hand, n);
                    s.kiosk = Some(k);
                    if let Ok(c) = field(&f, "capture").parse::<u32>() {
                        refill.insert("capture".into(), (c + 1).to_string());
                    }
                    Banner::Ok(format!("Capture accepted ({hand} hand, {n} so far)."))
                } else {
                    Banner::Err(format!("Capture refused: {} ({}).", r.message(), r.code()))
                }
            }
        },
        ("complete", Some(k)) if k.step == Step::Captures => {
            let path = format!("/v1/device/enrolments/{}/complete", k.enrolment_id);
            let r = w.api(Method::POST, &path, Auth::Device(&dev), None).await?;
            if r.ok() {
                s.kiosk = None;
                let hands: Vec<String> = r.body["enrolled"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|h| {
                        format!(
                            "{} hand ({} captures)",
                            h["hand"].as_str().unwrap_or(""),
                            h["captures"]
                        )
                    })
                    .collect();
                extra = format!(
                    r#"<section class="panel result yes" id="enrolled" aria-labelledby="done-h"><h2 id="done-h">Enrolled: {}</h2><p>{}. The person can now hover to pay and manage the data at <a href="/account">My palm</a>.</p></section>"#,
                    esc(&super::html::mask_phone(&k.phone)),
                    esc(&hands.join(", "))
                );
                Banner::Ok("Enrolment complete.".into())
            } else {
                if r.code() == "duplicate_palm" {
                    s.kiosk = None;
                }
                Banner::Err(r.message())
            }
        }
        _ => Banner::Err("That step is not the current one.".into()),
    };
    w.scanners.update(&sid, s.clone());
    Ok(kiosk_page(&w, &s, banner, &extra, &refill))
}
