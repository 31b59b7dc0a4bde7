//! `/scanner`: a scanner simulator that is a real registered device. It is activated with the
//! one-time code the console shows; its Ed25519 key stays in server memory (keyed by the
//! browser's scanner cookie) and signs every device API request. Captures come from the
//! synthetic hand generator (rendered on the server from seed, identity, hand, session and
//! capture number), from an uploaded visible/NIR pair, or from the browser camera. Two modes:
//! hover (identify for a purpose) and the enrolment kiosk (phone, code, card, consent, captures).
use super::html::{confirm, esc, expiry, layout, money, parse_amount, short_id, Banner, Section};
use super::words::{say, words, PURPOSES};
use super::{
    cookie, dev_code_html, field, form, page_response, session_cookie, Auth, PageError, PageResult,
    Web,
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
    /// The names the console gave the device and its site (shown instead of ids).
    name: String,
    site_name: String,
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
    /// A card was added at the card step.
    card: bool,
    /// The purposes the person chose (at least one before the palm step).
    purposes: Vec<&'static str>,
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
        .route("/scanner/forget", get(confirm_forget).post(forget))
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
        Some((_, s)) => Ok(hover_page(&w, &s, &HashMap::new(), Banner::None, "")),
    }
}

fn activation_page(banner: Banner) -> Response {
    let body = format!(
        r#"{}<section class="panel" aria-labelledby="act-h"><h2 id="act-h">Activate this scanner</h2>
<p>The simulator is a real device of a store. Register a device in the <a href="/console/devices">console</a>, then type its one-time activation code here. The device key is generated on the server and kept in memory only.</p>
<form method="post" action="/scanner/activate" class="stack"><label for="activation-code">Activation code</label>
<input id="activation-code" name="activation_code" inputmode="numeric" autocomplete="off" aria-describedby="activation-hint" required>
<p class="hint" id="activation-hint">12 digits, shown once in the console when the device is registered.</p>
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
        return Ok(activation_page(Banner::Field(
            "activation-code",
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
        return Ok(activation_page(Banner::Field(
            "activation-code",
            r.message(),
        )));
    }
    let device_id = r.body["device_id"].as_str().unwrap_or("").to_string();
    let site_id = r.body["site_id"].as_str().unwrap_or("");
    let name = match w.st.store.get_device(&device_id).await {
        Ok(Some(d)) => d.name,
        _ => "Scanner".into(),
    };
    let site_name = match w.st.store.get_site(site_id).await {
        Ok(Some(s)) => s.name,
        _ => "its site".into(),
    };
    let device = SimDevice {
        device_id,
        key,
        name,
        site_name,
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
    let s = ScannerSession {
        device,
        kiosk: None,
    };
    w.scanners.put(&id, s.clone(), w.st.now());
    let msg = format!(
        "Scanner activated: “{}” at {}.",
        s.device.name, s.device.site_name
    );
    let mut page = hover_page(&w, &s, &HashMap::new(), Banner::Ok(msg), "");
    if let Ok(v) = session_cookie(&w.st, COOKIE, &id, "/scanner").parse() {
        page.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    Ok(page)
}

async fn confirm_forget(State(w): State<Web>, headers: HeaderMap) -> PageResult {
    let Some((_, s)) = session(&w, &headers) else {
        return Ok(activation_page(Banner::None));
    };
    let body = confirm(
        &format!("Forget the scanner “{}”?", s.device.name),
        "This browser stops being this scanner now: its key is dropped and cannot be recovered. To use it again, register a new device in the console and activate it with the new code. Enrolled palms are not affected.",
        "/scanner/forget",
        &[],
        "Yes, forget this scanner",
        "/scanner",
    );
    Ok(page_response(
        StatusCode::OK,
        layout("Scanner", Section::Scanner, &body),
    ))
}

async fn forget(State(w): State<Web>, headers: HeaderMap, body: Bytes) -> PageResult {
    let Some((id, s)) = session(&w, &headers) else {
        return Ok(activation_page(Banner::None));
    };
    let f = form(&body).unwrap_or_default();
    if field(&f, "confirm") != "yes" {
        return Ok(hover_page(
            &w,
            &s,
            &HashMap::new(),
            Banner::Err("Nothing was forgotten: it was not confirmed.".into()),
            "",
        ));
    }
    w.scanners.remove(&id);
    let mut page = activation_page(Banner::Ok(format!(
        "The scanner “{}” was forgotten by this browser.",
        s.device.name
    )));
    if let Ok(v) = session_cookie(&w.st, COOKIE, "", "/scanner").parse() {
        page.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    Ok(page)
}

/// The device and site names and the two modes.
fn device_bar(s: &ScannerSession, kiosk: bool) -> String {
    let (a, b) = if kiosk {
        ("", r#" aria-current="page""#)
    } else {
        (r#" aria-current="page""#, "")
    };
    format!(
        r#"<p class="who-line"><strong id="device-name">{}</strong> at <strong id="site-name">{}</strong></p>
<nav class="tabs" aria-label="Scanner modes"><a href="/scanner"{a}>Hover</a><a href="/scanner?mode=kiosk"{b}>Enrolment kiosk</a></nav>"#,
        esc(&s.device.name),
        esc(&s.device.site_name)
    )
}

/// The way out of being a scanner, last on the page (a destructive action, confirmed first).
fn forget_link(s: &ScannerSession) -> String {
    format!(
        r#"<p class="aside">Device id {} · <a href="/scanner/forget" id="forget-device">Forget this scanner…</a></p>"#,
        short_id(&s.device.device_id)
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

/// The capture source fields shared by hover and kiosk forms, folded away: the defaults give a
/// working synthetic capture, so a person needs them only to try another palm or source.
fn capture_fields(f: &HashMap<String, String>) -> String {
    let src = f.get("source").map(|s| s.as_str()).unwrap_or("synthetic");
    let chk = |v: &str| if src == v { " checked" } else { "" };
    format!(
        r#"<details class="capture" id="capture-settings"><summary>Palm to present: <span id="capture-summary">{summary}</span></summary>
<fieldset><legend>Where the palm picture comes from</legend>
<div class="radios">
<div class="check"><input type="radio" id="src-synth" name="source" value="synthetic"{c1}><label for="src-synth">Synthetic person</label></div>
<div class="check"><input type="radio" id="src-upload" name="source" value="upload"{c2}><label for="src-upload">Upload images</label></div>
<div class="check"><input type="radio" id="src-camera" name="source" value="camera"{c3}><label for="src-camera">Camera</label></div>
</div></fieldset>
<div class="grid" data-source="synthetic">
<p class="hint wide">A synthetic person is drawn by the server from these numbers: the same numbers always give the same palm, so no real person's data is needed.</p>
<div><label for="syn-id">Person number</label><input id="syn-id" name="identity" type="number" min="1" max="100000" value="{ident}" aria-describedby="syn-id-hint" required><span class="hint" id="syn-id-hint">Which synthetic person (1 to 100000).</span></div>
<div><label for="syn-hand">Hand</label><select id="syn-hand" name="hand"><option value="right"{hr}>right</option><option value="left"{hl}>left</option></select></div>
<div><label for="syn-session">Visit number</label><input id="syn-session" name="session" type="number" min="1" max="9" value="{session}" aria-describedby="syn-session-hint" required><span class="hint" id="syn-session-hint">A new visit is another day: other light and pose (1 to 9).</span></div>
<div><label for="syn-capture">Photo number</label><input id="syn-capture" name="capture" type="number" min="0" max="999" value="{capture}" aria-describedby="syn-capture-hint" required><span class="hint" id="syn-capture-hint">Another photo in the same visit (0 to 999).</span></div>
<div><label for="syn-difficulty">Conditions</label><select id="syn-difficulty" name="difficulty"><option value="easy"{de}>easy</option><option value="realistic"{dr}>realistic</option><option value="hard"{dh}>hard</option></select></div>
<div><label for="syn-seed">Population number</label><input id="syn-seed" name="seed" type="number" min="0" value="{seed}" aria-describedby="syn-seed-hint" required><span class="hint" id="syn-seed-hint">Another number draws a different set of people.</span></div>
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
</details>"#,
        summary = esc(&capture_summary(f)),
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

/// One line for the folded capture settings: what will be presented.
fn capture_summary(f: &HashMap<String, String>) -> String {
    let get = |k: &str, d: &'static str| f.get(k).map(|s| s.as_str()).unwrap_or(d).to_string();
    match get("source", "synthetic").as_str() {
        "upload" => "uploaded images".into(),
        "camera" => "camera photo".into(),
        _ => format!(
            "synthetic person {}, {} hand, visit {}, photo {}",
            get("identity", "1"),
            get("hand", "right"),
            get("session", "1"),
            get("capture", "0")
        ),
    }
}

fn hover_page(
    w: &Web,
    s: &ScannerSession,
    f: &HashMap<String, String>,
    banner: Banner,
    result: &str,
) -> Response {
    let purpose = f.get("purpose").map(|s| s.as_str()).unwrap_or("payment");
    let mut opts = String::new();
    for v in ["payment", "entry", "loyalty", "age"] {
        let _ = write!(
            opts,
            r#"<option value="{v}"{}>{}</option>"#,
            if v == purpose { " selected" } else { "" },
            say(v)
        );
    }
    // Before anyone is enrolled a hover can only fail: say where to start.
    let first_run = if w.st.bio.is_empty() {
        r#"<p class="hint first-run" id="first-run">No palm is enrolled yet. Start at the <a href="/scanner?mode=kiosk">enrolment kiosk</a>, then come back here to hover.</p>"#
    } else {
        ""
    };
    let body = format!(
        r#"{bar}{banner}<section class="panel" aria-labelledby="hover-h"><h2 id="hover-h">Hover a palm</h2>{first_run}
<form method="post" action="/scanner/hover" class="stack wide" data-capture>
<div class="grid tight">
<div><label for="purpose">Purpose</label><select id="purpose" name="purpose">{opts}</select></div>
<div data-purpose="payment"><label for="amount">Amount</label><input id="amount" name="amount" inputmode="decimal" value="{amount}"></div>
<div data-purpose="payment"><label for="currency">Currency</label><input id="currency" name="currency" maxlength="3" value="{currency}"></div>
<div data-purpose="entry"><label for="door">Door</label><input id="door" name="door" maxlength="64" value="{door}"></div>
</div>
<button type="submit" class="big" id="hover-button">Hover</button>
{fields}
</form></section>{result}{forget}"#,
        bar = device_bar(s, false),
        banner = banner.html(),
        amount = prev(f, "amount", "12.50"),
        currency = prev(f, "currency", "EUR"),
        door = prev(f, "door", "Main entrance"),
        fields = capture_fields(f),
        forget = forget_link(s),
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
                "synthetic person {subject} (population {seed}), {} hand, visit {session}, photo {index}, {} conditions",
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

/// The decision in plain words (escaped), and whether it is a "yes".
fn decision(r: &Value) -> (String, bool) {
    let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
    let outcome = s("outcome");
    let head = esc(say(&outcome));
    let reason = esc(say(&s("reason")));
    match outcome.as_str() {
        "authorized" => (
            format!(
                "{head}: {} with {} •••• {}",
                match (r["amount"].as_i64(), r["currency"].as_str()) {
                    (Some(a), Some(c)) => money(a, c),
                    _ => String::new(),
                },
                esc(r["card"]["brand"].as_str().unwrap_or("card")),
                esc(r["card"]["last4"].as_str().unwrap_or(""))
            ),
            true,
        ),
        "declined" | "denied" => (format!("{head}: {reason}"), false),
        "granted" => (format!("{head} (badge {})", esc(&s("badge_number"))), true),
        "linked" => (format!("{head}: {}", esc(&s("loyalty_id"))), true),
        "verified" => (
            format!(
                "{head}: over 18 {}, over 21 {}",
                if r["over_18"] == true { "yes" } else { "no" },
                if r["over_21"] == true { "yes" } else { "no" }
            ),
            r["over_18"] == true,
        ),
        "no_consent" => (
            format!("{head} ({})", esc(&say(&s("purpose")).to_lowercase())),
            false,
        ),
        _ => (head, false),
    }
}

/// What to do next after a "no", in plain words (HTML).
fn next_step(outcome: &str) -> &'static str {
    match outcome {
        "no_match" => {
            r#"<p class="hint" id="result-next">Not enrolled yet? Enrol the palm at the <a href="/scanner?mode=kiosk">enrolment kiosk</a> first. Enrolled already? Hover again, holding the hand flat and still.</p>"#
        }
        "no_consent" => {
            r#"<p class="hint" id="result-next">The person can allow this use at <a href="/account">My palm</a>.</p>"#
        }
        "declined" | "not_linked" => {
            r#"<p class="hint" id="result-next">The person can add a card or a loyalty link at <a href="/account">My palm</a>.</p>"#
        }
        _ => "",
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
            &w,
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
                &w,
                &s,
                &f,
                Banner::Field(
                    "amount",
                    "The amount must be a positive number like 12.50.".into(),
                ),
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
        Err(m) => return Ok(hover_page(&w, &s, &f, Banner::Err(m), "")),
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
    let result = hover_result(&w, &r, &cap).await;
    Ok(hover_page(&w, &s, &f, Banner::None, &result))
}

/// The result panel of a hover: the decision in plain words, who (masked), what to do next.
async fn hover_result(w: &Web, r: &super::Reply, cap: &Capture) -> String {
    let latency = format!("{:.0} ms", r.ms);
    if !r.ok() {
        // A refused capture (422 with the quality reason) or a refused request.
        let msg = words(r.code())
            .map(str::to_string)
            .unwrap_or_else(|| r.message());
        return format!(
            r#"<section class="panel result no" aria-labelledby="result-h" id="result" role="status" tabindex="-1" data-outcome="refused" data-reason="{code}" data-title="Capture refused"><h2 id="result-h">Capture refused</h2>
<p id="result-reason">{msg}</p><dl class="facts"><dt>Server time</dt><dd id="result-latency">{latency}</dd></dl>{preview}</section>"#,
            code = esc(r.code()),
            msg = esc(&msg),
            preview = cap.preview(),
        );
    }
    let (text, yes) = decision(&r.body);
    let outcome = r.body["outcome"].as_str().unwrap_or("");
    let phone = match r.body["event_id"].as_str() {
        Some(e) if r.body["matched"] == true => masked_phone(w, e).await,
        _ => None,
    };
    format!(
        r#"<section class="panel result {cls}" aria-labelledby="result-h" id="result" role="status" tabindex="-1" data-outcome="{outcome}" data-title="{text}"><h2 id="result-h">{text}</h2>{next}
<dl class="facts"><dt>Person</dt><dd id="result-phone">{phone}</dd><dt>Server time</dt><dd id="result-latency">{latency}</dd><dt>Event</dt><dd>{event}</dd></dl>{preview}</section>"#,
        cls = if yes { "yes" } else { "no" },
        outcome = esc(outcome),
        next = next_step(outcome),
        phone = phone.map(|p| esc(&p)).unwrap_or_else(|| "—".into()),
        event = short_id(r.body["event_id"].as_str().unwrap_or("")),
        preview = cap.preview(),
    )
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
    let content = match (step, k) {
        (Step::Phone, _) | (_, None) => phone_step(),
        (Step::Code, Some(k)) => code_step(w, k),
        (Step::Card, Some(_)) => card_step(w),
        (Step::Consent, Some(_)) => consent_step(),
        (Step::Captures, Some(k)) => captures_step(k, f),
    };
    let cancel = if k.is_some() {
        r#"<form method="post" action="/scanner/kiosk"><input type="hidden" name="op" value="cancel"><button type="submit" class="link" id="kiosk-cancel">Start over (nothing is kept)</button></form>"#
    } else {
        ""
    };
    let body = format!(
        r#"{bar}{banner}{extra}<section class="panel" aria-labelledby="kiosk-h"><h2 id="kiosk-h">Enrol a palm</h2>{progress}{content}{cancel}</section>{forget}"#,
        bar = device_bar(s, true),
        banner = banner.html(),
        progress = progress(step),
        forget = forget_link(s),
    );
    page_response(StatusCode::OK, layout("Scanner", Section::Scanner, &body))
}

fn progress(step: Step) -> String {
    let steps = [
        (Step::Phone, "Phone"),
        (Step::Code, "Code"),
        (Step::Card, "Card"),
        (Step::Consent, "Consent"),
        (Step::Captures, "Palm"),
    ];
    let mut out = String::from(r#"<ol class="steps" aria-label="Enrolment steps">"#);
    for (st, label) in steps {
        let cur = if st == step {
            r#" aria-current="step""#
        } else {
            ""
        };
        let _ = write!(out, "<li{cur}>{label}</li>");
    }
    out.push_str("</ol>");
    out
}

fn phone_step() -> String {
    r#"<form method="post" action="/scanner/kiosk" class="stack"><input type="hidden" name="op" value="phone">
<label for="kiosk-phone">Phone number (international form)</label><input id="kiosk-phone" name="phone" type="tel" autocomplete="tel" placeholder="+41 79 123 45 67" aria-describedby="kiosk-phone-hint" required>
<p class="hint" id="kiosk-phone-hint">A one-time code is sent to it. The number signs the person in to My palm later.</p>
<button type="submit">Send code</button></form>"#
        .to_string()
}

fn code_step(w: &Web, k: &Kiosk) -> String {
    format!(
        r#"<p>A code was sent to <strong>{p}</strong>.</p>{dev}<form method="post" action="/scanner/kiosk" class="stack"><input type="hidden" name="op" value="code">
<label for="kiosk-code">One-time code</label><input id="kiosk-code" name="code" inputmode="numeric" autocomplete="one-time-code" required>
<button type="submit">Confirm</button></form>"#,
        p = esc(&k.phone),
        dev = dev_code_html(&w.st, &k.phone)
    )
}

fn card_step(w: &Web) -> String {
    format!(
        r#"<form method="post" action="/scanner/kiosk" class="grid"><input type="hidden" name="op" value="card">
<div><label for="kiosk-card">Card number</label><input id="kiosk-card" name="number" inputmode="numeric" autocomplete="cc-number"></div>
<div><label for="kiosk-month">Expiry month</label><input id="kiosk-month" name="exp_month" inputmode="numeric" maxlength="2" aria-describedby="kiosk-month-hint"><span class="hint" id="kiosk-month-hint">1 to 12</span></div>
<div><label for="kiosk-year">Expiry year</label><input id="kiosk-year" name="exp_year" inputmode="numeric" maxlength="4" aria-describedby="kiosk-year-hint"><span class="hint" id="kiosk-year-hint">Four digits, e.g. {y}</span></div>
<div class="end row"><button type="submit">Add card</button><button type="submit" name="skip" value="1" class="secondary">No card</button></div></form>"#,
        y = year_now(w) + 3
    )
}

fn consent_step() -> String {
    let mut boxes = String::new();
    for (p, label, means) in PURPOSES {
        let _ = write!(
            boxes,
            r#"<div class="check"><input type="checkbox" id="k-{p}" name="{p}" value="on" aria-describedby="k-{p}-means"><label for="k-{p}">{label}</label></div><p class="hint means" id="k-{p}-means">{}</p>"#,
            esc(means)
        );
    }
    format!(
        r#"<form method="post" action="/scanner/kiosk" class="stack"><input type="hidden" name="op" value="consent">
<fieldset><legend>The person allows the palm to be used to (choose at least one)</legend>{boxes}
<p class="hint">Nothing is chosen for the person. Each use can be changed or withdrawn at any time at My palm.</p></fieldset>
<fieldset><legend>Checked by staff (optional)</legend><div class="grid">
<div><label for="k-birth">Birth date from an ID document</label><input id="k-birth" name="birth_date" type="date"></div>
<div><label for="k-badge">Badge number at this store</label><input id="k-badge" name="badge_number" maxlength="64"></div>
<div><label for="k-loyalty-id">Loyalty number at this store</label><input id="k-loyalty-id" name="loyalty_id" maxlength="64"></div></div></fieldset>
<button type="submit">Continue</button></form>"#
    )
}

/// Counters only for the hands being enrolled: a second hand is optional.
fn captures_step(k: &Kiosk, f: &HashMap<String, String>) -> String {
    let need = crate::params::MIN_CAPTURES_PER_HAND;
    let mut counts = String::new();
    for h in ["right", "left"] {
        let n = k.captures.get(h).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let state = if n >= need {
            "enough".to_string()
        } else {
            format!("{} more needed", need - n)
        };
        let _ = write!(
            counts,
            r#"<li>{h} hand: <strong data-hand="{h}">{n}</strong> photo{} ({state})</li>"#,
            if n == 1 { "" } else { "s" }
        );
    }
    if counts.is_empty() {
        let _ = write!(
            counts,
            "<li>No photo yet: {need} photos of one hand are needed (a second hand is optional).</li>"
        );
    }
    format!(
        r#"<ul class="counts" id="capture-counts">{counts}</ul>
<form method="post" action="/scanner/kiosk" class="stack wide" data-capture><input type="hidden" name="op" value="capture"><button type="submit" class="big" id="capture-button">Take a photo of the palm</button>{fields}</form>
<form method="post" action="/scanner/kiosk"><input type="hidden" name="op" value="complete"><button type="submit" id="complete-button">Finish enrolment</button></form>"#,
        fields = capture_fields(f)
    )
}

fn year_now(w: &Web) -> i32 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_millis(w.st.now())
        .map(|t| t.year())
        .unwrap_or(2026)
}

/// One step of the kiosk: the banner to show and any extra HTML (a preview, the result).
struct Answer {
    banner: Banner,
    extra: String,
}

impl From<Banner> for Answer {
    fn from(banner: Banner) -> Self {
        Answer {
            banner,
            extra: String::new(),
        }
    }
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
    let mut refill = f.clone();
    let answer = match (field(&f, "op"), s.kiosk.take()) {
        ("cancel", _) => Banner::Ok("Enrolment cancelled; nothing was kept.".into()).into(),
        ("phone", _) => start(&w, &dev, &f, &mut s.kiosk).await?,
        (_, None) => Banner::Err("Start with the phone number.".into()).into(),
        (op, Some(mut k)) => {
            let a = match (op, k.step) {
                ("code", Step::Code) => verify(&w, &dev, &f, &mut k).await?,
                ("card", Step::Card) => card(&w, &dev, &f, &mut k).await?,
                ("consent", Step::Consent) => consent(&w, &dev, &f, &mut k).await?,
                ("capture", Step::Captures) => capture(&w, &dev, &f, &mut k, &mut refill).await?,
                ("complete", Step::Captures) => return complete(&w, sid, s, k).await,
                _ => Banner::Err("That step is not the current one.".into()).into(),
            };
            s.kiosk = Some(k);
            a
        }
    };
    w.scanners.update(&sid, s.clone());
    Ok(kiosk_page(&w, &s, answer.banner, &answer.extra, &refill))
}

async fn start(
    w: &Web,
    dev: &SimDevice,
    f: &HashMap<String, String>,
    kiosk: &mut Option<Kiosk>,
) -> Result<Answer, PageError> {
    let r = w
        .api(
            Method::POST,
            "/v1/device/enrolments",
            Auth::Device(dev),
            Some(&json!({"phone": field(f, "phone")})),
        )
        .await?;
    if !r.ok() {
        return Ok(Banner::Field("kiosk-phone", r.message()).into());
    }
    *kiosk = Some(Kiosk {
        step: Step::Code,
        enrolment_id: r.body["enrolment_id"].as_str().unwrap_or("").to_string(),
        phone: crate::otp::normalize_e164(field(f, "phone")).unwrap_or_default(),
        card: false,
        purposes: Vec::new(),
        captures: HashMap::new(),
    });
    Ok(Banner::None.into())
}

async fn verify(
    w: &Web,
    dev: &SimDevice,
    f: &HashMap<String, String>,
    k: &mut Kiosk,
) -> Result<Answer, PageError> {
    let path = format!("/v1/device/enrolments/{}/verify", k.enrolment_id);
    let r = w
        .api(
            Method::POST,
            &path,
            Auth::Device(dev),
            Some(&json!({"code": field(f, "code")})),
        )
        .await?;
    if !r.ok() {
        return Ok(Banner::Field("kiosk-code", r.message()).into());
    }
    k.step = Step::Card;
    Ok(Banner::Ok("Phone confirmed.".into()).into())
}

async fn card(
    w: &Web,
    dev: &SimDevice,
    f: &HashMap<String, String>,
    k: &mut Kiosk,
) -> Result<Answer, PageError> {
    if field(f, "skip") == "1" {
        k.step = Step::Consent;
        return Ok(Banner::Ok(
            "No card: palm payments will be declined until one is added at My palm.".into(),
        )
        .into());
    }
    let (m, y) = match expiry(
        field(f, "exp_month"),
        field(f, "exp_year"),
        year_now(w),
        ("kiosk-month", "kiosk-year"),
    ) {
        Ok(v) => v,
        Err(b) => return Ok(b.into()),
    };
    let path = format!("/v1/device/enrolments/{}/card", k.enrolment_id);
    let r = w
        .api(
            Method::POST,
            &path,
            Auth::Device(dev),
            Some(
                &json!({"number": card_digits(field(f, "number")), "exp_month": m, "exp_year": y}),
            ),
        )
        .await?;
    if !r.ok() {
        return Ok(Banner::Field("kiosk-card", r.message()).into());
    }
    k.step = Step::Consent;
    k.card = true;
    Ok(Banner::Ok(format!(
        "Card {} •••• {} added.",
        r.body["brand"].as_str().unwrap_or("card"),
        r.body["last4"].as_str().unwrap_or("")
    ))
    .into())
}

/// The digits of a card number as typed (spaces and dashes dropped).
pub(super) fn card_digits(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect()
}

async fn consent(
    w: &Web,
    dev: &SimDevice,
    f: &HashMap<String, String>,
    k: &mut Kiosk,
) -> Result<Answer, PageError> {
    let chosen: Vec<&'static str> = PURPOSES
        .iter()
        .map(|p| p.0)
        .filter(|p| f.contains_key(*p))
        .collect();
    if chosen.is_empty() {
        return Ok(Banner::Field(
            "k-payment",
            "Choose at least one use the person allows: a palm is never stored without a purpose."
                .into(),
        )
        .into());
    }
    let c: serde_json::Map<String, Value> = PURPOSES
        .iter()
        .map(|p| (p.0.to_string(), json!(chosen.contains(&p.0))))
        .collect();
    let path = format!("/v1/device/enrolments/{}/consents", k.enrolment_id);
    let r = w
        .api(
            Method::POST,
            &path,
            Auth::Device(dev),
            Some(&Value::Object(c)),
        )
        .await?;
    if !r.ok() {
        return Ok(Banner::Err(r.message()).into());
    }
    let attrs: serde_json::Map<String, Value> = ["birth_date", "badge_number", "loyalty_id"]
        .iter()
        .filter(|a| !field(f, a).is_empty())
        .map(|a| (a.to_string(), json!(field(f, a))))
        .collect();
    if !attrs.is_empty() {
        let path = format!("/v1/device/enrolments/{}/attributes", k.enrolment_id);
        let r = w
            .api(
                Method::POST,
                &path,
                Auth::Device(dev),
                Some(&Value::Object(attrs)),
            )
            .await?;
        if !r.ok() {
            return Ok(Banner::Err(r.message()).into());
        }
    }
    k.purposes = chosen;
    k.step = Step::Captures;
    Ok(Banner::Ok("Consent saved. Now take a few photos of the palm.".into()).into())
}

async fn capture(
    w: &Web,
    dev: &SimDevice,
    f: &HashMap<String, String>,
    k: &mut Kiosk,
    refill: &mut HashMap<String, String>,
) -> Result<Answer, PageError> {
    let cap = match capture_from(f).await {
        Ok(c) => c,
        Err(m) => return Ok(Banner::Err(m).into()),
    };
    let path = format!("/v1/device/enrolments/{}/captures", k.enrolment_id);
    let r = w
        .api(Method::POST, &path, Auth::Device(dev), Some(&cap.json()))
        .await?;
    let extra = format!(
        r#"<section class="panel" aria-label="Last photo">{}</section>"#,
        cap.preview()
    );
    let banner = if r.ok() {
        let hand = if cap.hand == Hand::Left {
            "left"
        } else {
            "right"
        };
        let n = r.body["captures"].as_u64().unwrap_or(0) as usize;
        k.captures.insert(hand, n);
        if let Ok(c) = field(f, "capture").parse::<u32>() {
            refill.insert("capture".into(), (c + 1).to_string());
        }
        Banner::Ok(format!("Photo accepted ({hand} hand, {n} so far)."))
    } else {
        Banner::Err(format!("Photo refused: {}", r.message()))
    };
    Ok(Answer { banner, extra })
}

/// Finish: only with at least one purpose chosen; the answer says what the palm may now do.
async fn complete(w: &Web, sid: String, mut s: ScannerSession, k: Kiosk) -> PageResult {
    if k.purposes.is_empty() {
        s.kiosk = Some(Kiosk {
            step: Step::Consent,
            ..k
        });
        w.scanners.update(&sid, s.clone());
        let b = Banner::Err("Choose at least one use the person allows first.".into());
        return Ok(kiosk_page(w, &s, b, "", &HashMap::new()));
    }
    let path = format!("/v1/device/enrolments/{}/complete", k.enrolment_id);
    let r = w
        .api(Method::POST, &path, Auth::Device(&s.device), None)
        .await?;
    if !r.ok() {
        if r.code() != "duplicate_palm" {
            s.kiosk = Some(k);
        }
        w.scanners.update(&sid, s.clone());
        return Ok(kiosk_page(
            w,
            &s,
            Banner::Err(r.message()),
            "",
            &HashMap::new(),
        ));
    }
    w.scanners.update(&sid, s.clone());
    let extra = enrolled_html(&k, &r.body);
    Ok(kiosk_page(
        w,
        &s,
        Banner::Ok("Enrolment complete.".into()),
        &extra,
        &HashMap::new(),
    ))
}

fn enrolled_html(k: &Kiosk, body: &Value) -> String {
    let hands: Vec<String> = body["enrolled"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            format!(
                "{} hand ({} photos)",
                h["hand"].as_str().unwrap_or(""),
                h["captures"]
            )
        })
        .collect();
    let uses: Vec<String> = PURPOSES
        .iter()
        .filter(|p| k.purposes.contains(&p.0))
        .map(|p| p.1.to_lowercase())
        .collect();
    let card_note = if k.purposes.contains(&"payment") && !k.card {
        " Payments are declined until a card is added at My palm."
    } else {
        ""
    };
    format!(
        r#"<section class="panel result yes" id="enrolled" role="status" tabindex="-1" aria-labelledby="done-h" data-title="Enrolled"><h2 id="done-h">Enrolled: {}</h2><p>{}. The palm may now be used to: {}.{card_note} The person sees and changes this at <a href="/account">My palm</a>.</p></section>"#,
        esc(&super::html::mask_phone(&k.phone)),
        esc(&hands.join(", ")),
        esc(&uses.join(", ")),
    )
}
