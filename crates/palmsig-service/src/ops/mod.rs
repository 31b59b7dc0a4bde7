//! The use cases of the service as typed functions over the store, the keys and the biometric
//! engine: enrol, identify for a purpose, consent, cards, one-time-code sign-in, deletion,
//! retention. The JSON API handlers (`api/`) parse a request, call one of these and answer; the
//! web pages reach them through the same API router. Errors are the one [`ApiError`] shape.
//!
//! [`ApiError`]: crate::error::ApiError
pub mod cards;
pub mod consent;
pub mod deletion;
pub mod devices;
pub mod enrol;
pub mod identify;
pub mod otp;
pub mod persons;
pub mod portal;
pub mod purpose;
pub mod retention;

pub use portal::SESSION_COOKIE;
pub use purpose::{Outcome, Purpose, Reason};

use crate::state::AppState;
use crate::store::{Device, StoreError};

/// Who acts, as the audit log names them.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// An activated device (acts for its tenant).
    Device(&'a Device),
    /// A person signed in to the portal (person id).
    Person(&'a str),
    /// The service itself (retention, expiry).
    System,
}

impl Actor<'_> {
    /// `device:ID`, `person:ID`, `system`.
    pub fn name(&self) -> String {
        match self {
            Actor::Device(d) => format!("device:{}", d.id),
            Actor::Person(p) => format!("person:{p}"),
            Actor::System => "system".into(),
        }
    }
    /// The tenant the action is recorded under, if any.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            Actor::Device(d) => Some(&d.tenant_id),
            _ => None,
        }
    }
}

/// Append an audit record for `actor` (under the actor's tenant).
pub async fn audit(
    st: &AppState,
    actor: Actor<'_>,
    action: &str,
    subject: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    st.audit(&actor.name(), actor.tenant(), action, subject, detail)
        .await
}
