//! What a palm is used for, what came of it, and why: the words events, webhooks, the audit log
//! and consents share, as enums (their `snake_case` names are the stored and wire form).
use serde::{Deserialize, Serialize};

/// A purpose a person consents to and a device identifies for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Pay with the default card.
    Payment,
    /// Open a door (badge at the tenant).
    Entry,
    /// Show the loyalty id linked at the tenant.
    Loyalty,
    /// Prove an age threshold (yes/no answers only).
    Age,
}

impl Purpose {
    /// Every purpose, in display order.
    pub const ALL: [Purpose; 4] = [
        Purpose::Payment,
        Purpose::Entry,
        Purpose::Loyalty,
        Purpose::Age,
    ];
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Payment => "payment",
            Purpose::Entry => "entry",
            Purpose::Loyalty => "loyalty",
            Purpose::Age => "age",
        }
    }
    /// `payment, entry, loyalty, age` (for error messages).
    pub fn list() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }
}

impl std::str::FromStr for Purpose {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|p| p.as_str() == s).ok_or(())
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of an identification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No enrolled palm matched.
    NoMatch,
    /// Matched, but the person has not consented to this purpose.
    NoConsent,
    /// Payment authorized.
    Authorized,
    /// Payment declined (see the reason).
    Declined,
    /// Entry granted.
    Granted,
    /// Entry denied.
    Denied,
    /// Loyalty id found.
    Linked,
    /// No loyalty id at this tenant.
    NotLinked,
    /// Age answered.
    Verified,
    /// No verified birth date.
    NotVerified,
}

impl Outcome {
    /// Every outcome (the OpenAPI enum).
    pub const ALL: [Outcome; 10] = [
        Outcome::NoMatch,
        Outcome::NoConsent,
        Outcome::Authorized,
        Outcome::Declined,
        Outcome::Granted,
        Outcome::Denied,
        Outcome::Linked,
        Outcome::NotLinked,
        Outcome::Verified,
        Outcome::NotVerified,
    ];
    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NoMatch => "no_match",
            Outcome::NoConsent => "no_consent",
            Outcome::Authorized => "authorized",
            Outcome::Declined => "declined",
            Outcome::Granted => "granted",
            Outcome::Denied => "denied",
            Outcome::Linked => "linked",
            Outcome::NotLinked => "not_linked",
            Outcome::Verified => "verified",
            Outcome::NotVerified => "not_verified",
        }
    }
}

/// Why an identification was declined or denied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Payment: the person has no default card.
    NoCard,
    /// Entry: no badge at this tenant.
    NoBadge,
    /// Payment: the processor's decline code (e.g. `insufficient_funds`).
    Processor(String),
}

impl Reason {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Reason::NoCard => "no_card",
            Reason::NoBadge => "no_badge",
            Reason::Processor(r) => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(p.as_str().parse::<Purpose>(), Ok(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        for o in Outcome::ALL {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert!("Payment".parse::<Purpose>().is_err());
        assert_eq!(Purpose::list(), "payment, entry, loyalty, age");
    }
}
