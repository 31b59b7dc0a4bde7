//! Delivery of one-time codes to a phone, behind [`OtpSender`]. The default, [`DevOutbox`], keeps
//! the codes in memory so the local portal (`GET /v1/dev/outbox`) and tests can show them; a
//! production deployment plugs an SMS gateway in here.
use std::sync::Mutex;

/// Sends a one-time code to a phone number.
pub trait OtpSender: Send + Sync + std::fmt::Debug {
    /// Deliver `code` to `phone` (E.164). Errors are reported to the caller as 502.
    fn send(&self, phone: &str, code: &str) -> Result<(), String>;
    /// The dev outbox, if this sender is one (exposed locally only).
    fn outbox(&self) -> Option<Vec<OutboxMessage>> {
        None
    }
}

/// A message in the dev outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OutboxMessage {
    /// Recipient.
    pub phone: String,
    /// The code.
    pub code: String,
}

/// Keeps the last messages in memory (bounded).
#[derive(Debug, Default)]
pub struct DevOutbox {
    messages: Mutex<Vec<OutboxMessage>>,
}

/// Messages the dev outbox keeps.
const OUTBOX_KEEP: usize = 1000;

impl DevOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }
    /// The latest code sent to `phone`.
    pub fn latest(&self, phone: &str) -> Option<String> {
        let m = self.messages.lock().ok()?;
        m.iter()
            .rev()
            .find(|x| x.phone == phone)
            .map(|x| x.code.clone())
    }
}

impl OtpSender for DevOutbox {
    fn send(&self, phone: &str, code: &str) -> Result<(), String> {
        let mut m = self
            .messages
            .lock()
            .map_err(|_| "outbox poisoned".to_string())?;
        if m.len() >= OUTBOX_KEEP {
            m.remove(0);
        }
        m.push(OutboxMessage {
            phone: phone.to_string(),
            code: code.to_string(),
        });
        Ok(())
    }
    fn outbox(&self) -> Option<Vec<OutboxMessage>> {
        self.messages.lock().ok().map(|m| m.clone())
    }
}

/// Normalise a phone number to E.164 (`+` and 8–15 digits, no leading 0); spaces, dashes, dots
/// and parentheses are dropped. `None` if it is not one.
pub fn normalize_e164(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = s.strip_prefix('+')?;
    let mut digits = String::from("+");
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return None,
        }
    }
    let n = digits.len() - 1;
    ((8..=15).contains(&n) && !digits[1..].starts_with('0')).then_some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164() {
        assert_eq!(
            normalize_e164("+41 79 123 45 67").as_deref(),
            Some("+41791234567")
        );
        assert_eq!(
            normalize_e164("+1 (415) 555-0100").as_deref(),
            Some("+14155550100")
        );
        assert!(normalize_e164("0791234567").is_none());
        assert!(normalize_e164("+0791234567").is_none());
        assert!(normalize_e164("+4179x").is_none());
        assert!(normalize_e164("+1234567").is_none());
        assert!(normalize_e164("+1234567890123456").is_none());
    }

    #[test]
    fn outbox_keeps_latest() {
        let o = DevOutbox::new();
        o.send("+41791234567", "111111").unwrap();
        o.send("+41791234567", "222222").unwrap();
        assert_eq!(o.latest("+41791234567").as_deref(), Some("222222"));
        assert_eq!(o.outbox().unwrap().len(), 2);
    }
}
