//! Identification for a purpose: find the palm (1:N), check the owner's consent, then answer the
//! purpose (pay with the default card, open a door, show the loyalty id, prove an age), record
//! the event, audit it and queue its webhooks.
use super::enrol::{extract, CaptureBody};
use super::{audit, Actor, Outcome, Purpose, Reason};
use crate::crypto::WrappedKey;
use crate::error::{ApiError, ApiResult};
use crate::params;
use crate::payments::{Authorization, PaymentRequest};
use crate::state::{new_id, AppState};
use crate::store::{Device, EventRow};
use palmsig_core::Hand;
use serde_json::{json, Map, Value};

/// An identification request as sent by a device.
#[derive(Debug, serde::Deserialize)]
pub struct IdentifyBody {
    /// One of [`Purpose`] (checked, 422 `bad_purpose` otherwise).
    pub purpose: String,
    /// The capture.
    #[serde(flatten)]
    pub capture: CaptureBody,
    /// Payment: amount in minor units.
    pub amount: Option<i64>,
    /// Payment: ISO 4217 currency.
    pub currency: Option<String>,
    /// Entry: the door (free text, recorded).
    pub door: Option<String>,
}

/// A checked payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    /// Minor units.
    pub amount: i64,
    /// ISO 4217, upper case.
    pub currency: String,
}

/// What a purpose answered: the outcome, its reason and details for the event.
#[derive(Debug)]
struct Answer {
    outcome: Outcome,
    reason: Option<Reason>,
    detail: Map<String, Value>,
}

impl Answer {
    fn new(outcome: Outcome) -> Self {
        Self {
            outcome,
            reason: None,
            detail: Map::new(),
        }
    }
    fn with(mut self, k: &str, v: Value) -> Self {
        self.detail.insert(k.to_string(), v);
        self
    }
    fn because(mut self, r: Reason) -> Self {
        self.reason = Some(r);
        self
    }
}

/// The purpose of a request, or 422 `bad_purpose`.
pub fn parse_purpose(s: &str) -> ApiResult<Purpose> {
    s.parse().map_err(|()| {
        ApiError::unprocessable(
            "bad_purpose",
            format!("purpose must be one of {}", Purpose::list()),
        )
    })
}

/// The amount (1..=[`params::MAX_PAYMENT_MINOR`] minor units) and the ISO 4217 currency of a
/// payment, or 422.
pub fn parse_payment(amount: Option<i64>, currency: Option<&str>) -> ApiResult<Payment> {
    let amount = amount
        .filter(|a| (1..=params::MAX_PAYMENT_MINOR).contains(a))
        .ok_or_else(|| {
            ApiError::unprocessable(
                "bad_amount",
                format!(
                    "payment needs an amount of 1 to {} minor units",
                    params::MAX_PAYMENT_MINOR
                ),
            )
        })?;
    let currency = currency.and_then(crate::currency::parse).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_currency",
            "payment needs an active ISO 4217 currency code",
        )
    })?;
    Ok(Payment {
        amount,
        currency: currency.to_string(),
    })
}

/// Identify the palm of a capture for `req.purpose` at `dev`; returns the response body.
pub async fn identify(st: &AppState, dev: &Device, req: IdentifyBody) -> ApiResult<Value> {
    let purpose = parse_purpose(&req.purpose)?;
    let payment = match purpose {
        Purpose::Payment => Some(parse_payment(req.amount, req.currency.as_deref())?),
        _ => None,
    };
    let (_, probe) = extract(st, req.capture, Some(Hand::Unknown)).await?;
    let hit = st.gallery.search(&probe, false).await?;
    let now = st.now();
    let mut detail = Map::new();
    if let Some(p) = &payment {
        detail.insert("amount".into(), json!(p.amount));
        detail.insert("currency".into(), json!(p.currency));
    }
    if let Some(door) = &req.door {
        detail.insert(
            "door".into(),
            json!(door.chars().take(64).collect::<String>()),
        );
    }
    let person = match &hit {
        Some(h) => st.store.palm_owner(&h.palm_id).await?,
        None => None,
    };
    let answer = match (&hit, &person) {
        (Some(h), Some(pid)) => {
            st.store.touch_palm(&h.palm_id, now).await?;
            answer_for(st, dev, pid, purpose, payment.as_ref()).await?
        }
        _ => Answer::new(Outcome::NoMatch),
    };
    detail.extend(answer.detail);
    if let Some(r) = &answer.reason {
        detail.insert("reason".into(), json!(r.as_str()));
    }
    let ev = EventRow {
        id: new_id("evt"),
        tenant_id: dev.tenant_id.clone(),
        person_id: person.clone(),
        device_id: Some(dev.id.clone()),
        site_id: Some(dev.site_id.clone()),
        purpose: purpose.as_str().into(),
        outcome: answer.outcome.as_str().into(),
        detail: Value::Object(detail.clone()).to_string(),
        created_ms: now,
    };
    record(st, dev, &ev, purpose, answer.outcome).await?;
    let mut out = json!({"event_id": ev.id, "purpose": purpose, "outcome": answer.outcome, "matched": person.is_some()});
    for (k, v) in detail {
        out[k] = v;
    }
    Ok(out)
}

/// Store the event, audit it and queue its webhooks.
async fn record(
    st: &AppState,
    dev: &Device,
    ev: &EventRow,
    purpose: Purpose,
    outcome: Outcome,
) -> ApiResult<()> {
    st.store.insert_event(ev).await?;
    let detail = json!({"purpose": purpose, "outcome": outcome});
    audit(st, Actor::Device(dev), "identify", &ev.id, detail).await?;
    crate::webhook::dispatch(st, ev).await;
    Ok(())
}

/// The answer for a matched person: no consent, or the purpose's own answer.
async fn answer_for(
    st: &AppState,
    dev: &Device,
    pid: &str,
    purpose: Purpose,
    payment: Option<&Payment>,
) -> ApiResult<Answer> {
    if !super::consent::granted(st, pid, purpose).await? {
        return Ok(Answer::new(Outcome::NoConsent));
    }
    match (purpose, payment) {
        (Purpose::Payment, Some(p)) => pay(st, dev, pid, p).await,
        (Purpose::Payment, None) => Err(ApiError::internal("payment without amount")),
        (Purpose::Entry, _) => entry(st, dev, pid).await,
        (Purpose::Loyalty, _) => loyalty(st, dev, pid).await,
        (Purpose::Age, _) => age(st, pid).await,
    }
}

/// Charge the person's default card.
async fn pay(st: &AppState, dev: &Device, pid: &str, p: &Payment) -> ApiResult<Answer> {
    let cards = st.store.cards_of(pid).await?;
    let Some(c) = cards.into_iter().find(|c| c.is_default) else {
        return Ok(Answer::new(Outcome::Declined).because(Reason::NoCard));
    };
    let k = st
        .store
        .get_data_key(&c.token)
        .await?
        .ok_or_else(|| ApiError::internal("card key missing"))?;
    let key = WrappedKey {
        kek_id: k.kek_id,
        wrapped: k.wrapped,
    };
    let pan = st.keys.open(&c.ciphertext, &key, &c.token)?;
    let pan = std::str::from_utf8(&pan).map_err(ApiError::internal)?;
    let res = st.processor.authorize(&PaymentRequest {
        pan,
        amount: p.amount,
        currency: &p.currency,
        merchant: &dev.tenant_id,
    });
    let card = json!({"token": c.token, "brand": c.brand, "last4": c.last4});
    Ok(match res {
        Authorization::Authorized { id } => Answer::new(Outcome::Authorized)
            .with("card", card)
            .with("authorization_id", json!(id)),
        Authorization::Declined { reason } => Answer::new(Outcome::Declined)
            .with("card", card)
            .because(Reason::Processor(reason)),
    })
}

/// Open a door: the person's badge at the device's tenant.
async fn entry(st: &AppState, dev: &Device, pid: &str) -> ApiResult<Answer> {
    Ok(match st.store.get_badge(pid, &dev.tenant_id).await? {
        Some(n) => Answer::new(Outcome::Granted).with("badge_number", json!(n)),
        None => Answer::new(Outcome::Denied).because(Reason::NoBadge),
    })
}

/// The loyalty id linked at the device's tenant.
async fn loyalty(st: &AppState, dev: &Device, pid: &str) -> ApiResult<Answer> {
    let link = st
        .store
        .loyalty_of(pid)
        .await?
        .into_iter()
        .find(|(t, _)| t == &dev.tenant_id);
    Ok(match link {
        Some((_, l)) => Answer::new(Outcome::Linked).with("loyalty_id", json!(l)),
        None => Answer::new(Outcome::NotLinked),
    })
}

/// Yes/no answers to the age thresholds, never the birth date.
async fn age(st: &AppState, pid: &str) -> ApiResult<Answer> {
    let birth = st
        .store
        .get_person(pid)
        .await?
        .and_then(|p| p.birth_date)
        .and_then(|b| chrono::NaiveDate::parse_from_str(&b, "%Y-%m-%d").ok());
    let Some(b) = birth else {
        return Ok(Answer::new(Outcome::NotVerified));
    };
    let today = chrono::DateTime::from_timestamp_millis(st.now())
        .map(|t| t.date_naive())
        .unwrap_or_default();
    let mut a = Answer::new(Outcome::Verified);
    for years in params::AGE_THRESHOLDS {
        let over = b
            .checked_add_months(chrono::Months::new(12 * years))
            .is_some_and(|d| d <= today);
        a = a.with(&format!("over_{years}"), json!(over));
    }
    Ok(a)
}
