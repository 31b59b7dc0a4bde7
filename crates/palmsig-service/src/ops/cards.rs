//! Cards: validated, vaulted under their own data key (the PAN never leaves the vault except to
//! the payment processor), listed by token, brand and last 4 digits.
use super::{audit, Actor};
use crate::error::{ApiError, ApiResult};
use crate::state::{new_id, AppState};
use crate::store::{CardRow, DataKeyRow};
use crate::vault::{check_expiry, Pan};
use serde_json::{json, Value};

/// A card as entered.
#[derive(Debug, serde::Deserialize)]
pub struct NewCard {
    /// The PAN (spaces and dashes between groups allowed).
    pub number: String,
    /// Expiry month, 1-12.
    pub exp_month: u32,
    /// Expiry year, four digits.
    pub exp_year: i32,
}

/// The public view of a stored card.
pub fn view(c: &CardRow) -> Value {
    json!({"token": c.token, "brand": c.brand, "last4": c.last4, "exp_month": c.exp_month, "exp_year": c.exp_year, "default": c.is_default})
}

/// Validate and vault a card for a person (audited as `actor`), added by an enrolment in
/// progress or by the person; returns its public view.
pub async fn add(
    st: &AppState,
    actor: Actor<'_>,
    person_id: &str,
    enrolment: Option<&str>,
    card: &NewCard,
) -> ApiResult<Value> {
    let pan = Pan::parse(&card.number)?;
    check_expiry(card.exp_month, card.exp_year, st.now())?;
    let token = new_id("card");
    let sealed = st.keys.seal(pan.digits().as_bytes(), &token);
    let row = CardRow {
        token: token.clone(),
        person_id: person_id.to_string(),
        brand: pan.brand().to_string(),
        last4: pan.last4().to_string(),
        exp_month: i64::from(card.exp_month),
        exp_year: i64::from(card.exp_year),
        ciphertext: sealed.ciphertext,
        is_default: false,
        created_ms: st.now(),
        enrolment_id: enrolment.map(str::to_string),
    };
    let key = DataKeyRow {
        id: token.clone(),
        kek_id: sealed.key.kek_id,
        wrapped: sealed.key.wrapped,
    };
    st.store.put_card(&row, &key).await?;
    let detail = match actor {
        Actor::Person(_) => json!({}),
        _ => json!({"person_id": person_id}),
    };
    audit(st, actor, "card.add", &token, detail).await?;
    Ok(
        json!({"token": token, "brand": row.brand, "last4": row.last4, "exp_month": row.exp_month, "exp_year": row.exp_year}),
    )
}

/// The cards of a person, public view, oldest first.
pub async fn list(st: &AppState, person_id: &str) -> ApiResult<Vec<Value>> {
    Ok(st
        .store
        .cards_of(person_id)
        .await?
        .iter()
        .map(view)
        .collect())
}

/// Remove a card of the person (its key is shredded); 404 if it is not theirs.
pub async fn remove(st: &AppState, person_id: &str, token: &str) -> ApiResult<()> {
    if !st.store.delete_card(person_id, token).await? {
        return Err(ApiError::not_found("card"));
    }
    audit(
        st,
        Actor::Person(person_id),
        "card.remove",
        token,
        json!({}),
    )
    .await?;
    Ok(())
}

/// Make a card the person's default; 404 if it is not theirs. Returns the cards.
pub async fn make_default(st: &AppState, person_id: &str, token: &str) -> ApiResult<Vec<Value>> {
    if !st.store.set_default_card(person_id, token).await? {
        return Err(ApiError::not_found("card"));
    }
    audit(
        st,
        Actor::Person(person_id),
        "card.default",
        token,
        json!({}),
    )
    .await?;
    list(st, person_id).await
}
