//! Enrolment at a kiosk: phone code, card, consents, attributes, captures per hand, then the
//! duplicate check and the sealed palms. Templates stay in memory until completion.
use super::cards::NewCard;
use super::{audit, Actor, Purpose};
use crate::biometrics::CaptureInput;
use crate::error::{ApiError, ApiResult};
use crate::params;
use crate::state::{new_id, AppState, Enrolment};
use crate::store::Device;
use base64::Engine as _;
use palmsig_core::Hand;
use serde_json::{json, Value};
use std::collections::HashMap;

/// One capture: visible and/or near-infrared image files, base64.
#[derive(Debug, serde::Deserialize)]
pub struct CaptureBody {
    /// `left` or `right` (identification: optional).
    pub hand: Option<String>,
    /// Base64 of the visible-light image file (PNG, JPEG, …).
    pub visible: Option<String>,
    /// Base64 of the near-infrared image file.
    pub nir: Option<String>,
}

/// Attributes verified at the kiosk.
#[derive(Debug, serde::Deserialize)]
pub struct Attributes {
    /// Verified by staff from an ID document at the kiosk (`YYYY-MM-DD`).
    pub birth_date: Option<String>,
    /// Badge credential number at this tenant (door controllers).
    pub badge_number: Option<String>,
    /// Loyalty id at this tenant.
    pub loyalty_id: Option<String>,
}

fn of(st: &AppState, id: &str, dev: &Device) -> ApiResult<Enrolment> {
    let mut map = st.enrolments.lock().map_err(ApiError::internal)?;
    let now = st.now();
    map.retain(|_, e| e.expires_ms > now);
    let e = map
        .get(id)
        .ok_or_else(|| ApiError::not_found("enrolment"))?;
    if e.tenant_id != dev.tenant_id {
        return Err(ApiError::forbidden(
            "wrong_tenant",
            "this enrolment belongs to another tenant",
        ));
    }
    if e.device_id != dev.id {
        return Err(ApiError::forbidden(
            "wrong_device",
            "this enrolment was started on another device",
        ));
    }
    Ok(e.clone())
}

fn save(st: &AppState, e: Enrolment) -> ApiResult<()> {
    st.enrolments
        .lock()
        .map_err(ApiError::internal)?
        .insert(e.id.clone(), e);
    Ok(())
}

fn forget(st: &AppState, id: &str) -> ApiResult<()> {
    st.enrolments.lock().map_err(ApiError::internal)?.remove(id);
    Ok(())
}

/// The verified person of an enrolment of `dev`, or 409 `phone_not_verified`.
fn verified(st: &AppState, id: &str, dev: &Device) -> ApiResult<(Enrolment, String)> {
    let e = of(st, id, dev)?;
    let pid = e
        .person_id
        .clone()
        .ok_or_else(|| ApiError::conflict("phone_not_verified", "confirm the phone code first"))?;
    Ok((e, pid))
}

/// Start an enrolment for `phone`: a code is sent to it.
pub async fn start(st: &AppState, dev: &Device, phone: &str) -> ApiResult<Enrolment> {
    let phone = super::otp::phone(phone)?;
    super::otp::send_code(st, &phone).await?;
    let e = Enrolment {
        id: new_id("enr"),
        device_id: dev.id.clone(),
        tenant_id: dev.tenant_id.clone(),
        phone,
        person_id: None,
        new_person: false,
        templates: HashMap::new(),
        expires_ms: st.now() + st.config.enrolment_ttl_ms,
    };
    audit(st, Actor::Device(dev), "enrol.start", &e.id, json!({})).await?;
    save(st, e.clone())?;
    Ok(e)
}

/// Confirm the phone code; the person is created (or found) by phone.
pub async fn verify(st: &AppState, dev: &Device, id: &str, code: &str) -> ApiResult<()> {
    let mut e = of(st, id, dev)?;
    super::otp::check_code(st, &e.phone, code).await?;
    let new_id = new_id("per");
    let person = super::persons::upsert(st, &new_id, &e.phone).await?;
    // Recorded before anything else is stored for it: if the enrolment is abandoned (or the
    // service dies), the retention job removes what it added.
    st.store
        .start_enrolment(id, &person.id, person.id == new_id, e.expires_ms)
        .await?;
    e.person_id = Some(person.id.clone());
    e.new_person = person.id == new_id;
    save(st, e)?;
    let detail = json!({"person_id": person.id});
    audit(st, Actor::Device(dev), "enrol.verify", id, detail).await?;
    Ok(())
}

/// Vault a card for the enrolling person.
pub async fn add_card(st: &AppState, dev: &Device, id: &str, card: &NewCard) -> ApiResult<Value> {
    let (_, pid) = verified(st, id, dev)?;
    super::cards::add(st, Actor::Device(dev), &pid, Some(id), card).await
}

/// Set consents of the enrolling person.
pub async fn set_consents(
    st: &AppState,
    dev: &Device,
    id: &str,
    consents: &[(Purpose, bool)],
) -> ApiResult<HashMap<String, bool>> {
    let (_, pid) = verified(st, id, dev)?;
    super::consent::set(st, Actor::Device(dev), &pid, consents).await
}

fn short(s: &str) -> bool {
    !s.trim().is_empty() && s.len() <= 64
}

fn check_birth_date(st: &AppState, b: &str) -> ApiResult<()> {
    let d = chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d")
        .map_err(|_| ApiError::unprocessable("bad_birth_date", "birth_date must be YYYY-MM-DD"))?;
    let today = chrono::DateTime::from_timestamp_millis(st.now())
        .map(|t| t.date_naive())
        .unwrap_or_default();
    if d > today {
        return Err(ApiError::unprocessable(
            "bad_birth_date",
            "birth_date is in the future",
        ));
    }
    Ok(())
}

/// Record the attributes verified at the kiosk (birth date, badge and loyalty id at the tenant).
pub async fn set_attributes(
    st: &AppState,
    dev: &Device,
    id: &str,
    req: &Attributes,
) -> ApiResult<()> {
    let (_, pid) = verified(st, id, dev)?;
    if let Some(b) = &req.birth_date {
        check_birth_date(st, b)?;
        st.store.set_birth_date(&pid, b).await?;
    }
    if let Some(n) = &req.badge_number {
        if !short(n) {
            return Err(ApiError::unprocessable(
                "bad_badge",
                "badge_number must be 1-64 characters",
            ));
        }
        st.store.set_badge(&pid, &dev.tenant_id, n).await?;
    }
    if let Some(l) = &req.loyalty_id {
        if !short(l) {
            return Err(ApiError::unprocessable(
                "bad_loyalty_id",
                "loyalty_id must be 1-64 characters",
            ));
        }
        st.store.set_loyalty(&pid, &dev.tenant_id, l).await?;
    }
    let detail = json!({"birth_date": req.birth_date.is_some(), "badge": req.badge_number.is_some(), "loyalty": req.loyalty_id.is_some()});
    audit(st, Actor::Device(dev), "person.attributes", &pid, detail).await?;
    Ok(())
}

fn parse_hand(hand: Option<&str>, default_hand: Option<Hand>) -> ApiResult<Hand> {
    match (hand, default_hand) {
        (Some("left"), _) => Ok(Hand::Left),
        (Some("right"), _) => Ok(Hand::Right),
        (None, Some(h)) => Ok(h),
        _ => Err(ApiError::unprocessable(
            "bad_hand",
            "hand must be `left` or `right`",
        )),
    }
}

fn decode_b64(s: Option<String>, what: &str) -> ApiResult<Option<Vec<u8>>> {
    s.map(|s| {
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(|_| ApiError::unprocessable("bad_image", format!("{what} is not base64")))
    })
    .transpose()
}

/// Decode the images of a capture and run the engine on a blocking thread, within the bounded
/// number of extraction slots.
pub async fn extract(
    st: &AppState,
    c: CaptureBody,
    default_hand: Option<Hand>,
) -> ApiResult<(Hand, Vec<u8>)> {
    let hand = parse_hand(c.hand.as_deref(), default_hand)?;
    let visible = decode_b64(c.visible, "visible")?;
    let nir = decode_b64(c.nir, "nir")?;
    if visible.is_none() && nir.is_none() {
        return Err(ApiError::unprocessable(
            "no_image",
            "a capture needs a visible and/or a nir image",
        ));
    }
    let slot = st
        .extract_slots
        .acquire(std::time::Duration::from_millis(st.config.extract_wait_ms))
        .await?;
    let bio = st.bio.clone();
    let t = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        bio.extract(&CaptureInput {
            hand,
            visible: visible.as_deref(),
            nir: nir.as_deref(),
        })
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((hand, t))
}

/// One capture through the quality gate; returns the hand and its number of captures so far.
pub async fn capture(
    st: &AppState,
    dev: &Device,
    id: &str,
    req: CaptureBody,
) -> ApiResult<(Hand, usize)> {
    verified(st, id, dev)?;
    let (hand, template) = extract(st, req, None).await?;
    let mut map = st.enrolments.lock().map_err(ApiError::internal)?;
    let e = map
        .get_mut(id)
        .ok_or_else(|| ApiError::not_found("enrolment"))?;
    let list = e.templates.entry(hand).or_default();
    if list.len() >= params::MAX_CAPTURES_PER_HAND {
        return Err(ApiError::conflict(
            "enough_captures",
            format!("already {} captures of this hand", list.len()),
        ));
    }
    list.push(template);
    Ok((hand, list.len()))
}

/// The captured hands, each with enough captures, or 409.
fn ready_hands(e: &Enrolment) -> ApiResult<Vec<(Hand, Vec<Vec<u8>>)>> {
    let mut hands: Vec<_> = e.templates.iter().map(|(h, t)| (*h, t.clone())).collect();
    hands.sort_by_key(|x| x.0);
    if hands.is_empty() {
        return Err(ApiError::conflict(
            "no_captures",
            "capture at least one hand first",
        ));
    }
    if let Some((h, t)) = hands
        .iter()
        .find(|(_, t)| t.len() < params::MIN_CAPTURES_PER_HAND)
    {
        return Err(ApiError::conflict(
            "not_enough_captures",
            format!(
                "{h} hand has {} captures, {} needed",
                t.len(),
                params::MIN_CAPTURES_PER_HAND
            ),
        ));
    }
    Ok(hands)
}

/// Whether any capture matches a palm of someone other than `pid` (seeing every palm committed
/// before the call, on any node).
async fn is_duplicate(st: &AppState, pid: &str, hands: &[(Hand, Vec<Vec<u8>>)]) -> ApiResult<bool> {
    for t in hands.iter().flat_map(|(_, t)| t) {
        if let Some(hit) = st.gallery.search(t, true).await? {
            if st.store.palm_owner(&hit.palm_id).await?.as_deref() != Some(pid) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Duplicate check, seal, store, add to the gallery; returns (hand, captures) per hand enrolled.
pub async fn complete(st: &AppState, dev: &Device, id: &str) -> ApiResult<Vec<(Hand, usize)>> {
    let (e, pid) = verified(st, id, dev)?;
    let hands = ready_hands(&e)?;
    let guard = st.gallery.enrol_guard().await?;
    if is_duplicate(st, &pid, &hands).await? {
        audit(st, Actor::Device(dev), "enrol.duplicate", id, json!({})).await?;
        forget(st, id)?;
        drop(guard);
        super::retention::abandon(st, id, &pid, e.new_person).await?;
        return Err(ApiError::conflict(
            "duplicate_palm",
            "this palm is already enrolled under another phone number",
        ));
    }
    let mut out = Vec::new();
    for (hand, templates) in &hands {
        let (palm_id, replaced) = st.store_palm(&pid, *hand, templates).await?;
        if let Some(old) = replaced {
            st.gallery.removed(&old).await;
        }
        st.gallery.stored(&palm_id, templates).await?;
        out.push((*hand, templates.len()));
    }
    drop(guard);
    st.store.finish_enrolment(id).await?;
    forget(st, id)?;
    let detail = json!({"person_id": pid, "hands": hands.len()});
    audit(st, Actor::Device(dev), "enrol.complete", id, detail).await?;
    Ok(out)
}
