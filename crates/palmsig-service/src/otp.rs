//! Delivery of one-time codes to a phone, behind [`OtpSender`]. The default, [`LogOnlySender`],
//! logs that a code was sent (never the code); [`DevOutbox`] keeps the codes in memory so a local
//! trial (`serve --dev`, loopback only) and tests can show them; a production deployment plugs an
//! SMS gateway in here.
use std::net::SocketAddr;
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

/// The default sender: records the fact that a code was sent, with the phone masked, and never
/// the code, so neither logs nor pages can be used to take over an account.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogOnlySender;

impl OtpSender for LogOnlySender {
    fn send(&self, phone: &str, _code: &str) -> Result<(), String> {
        tracing::info!(phone = %mask_phone(phone), "one-time code issued (no SMS gateway configured)");
        Ok(())
    }
}

/// `+41791234567` → `+41*******67`: enough for an operator to correlate, not to identify.
pub fn mask_phone(phone: &str) -> String {
    phone
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < 3 || i + 2 >= phone.chars().count() {
                c
            } else {
                '*'
            }
        })
        .collect()
}

/// Why the dev outbox is refused at startup.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DevModeError {
    /// `--dev` on an address reachable from other machines would hand every one-time code to them.
    #[error("--dev exposes one-time codes and is only allowed on a loopback address, not {0}")]
    NotLoopback(SocketAddr),
    /// The listen address did not resolve to anything.
    #[error("--dev: the listen address resolves to no address")]
    NoAddress,
}

/// Refuse the dev outbox unless every address the service listens on is loopback.
pub fn check_dev_listen(addrs: &[SocketAddr]) -> Result<(), DevModeError> {
    if addrs.is_empty() {
        return Err(DevModeError::NoAddress);
    }
    match addrs.iter().find(|a| !a.ip().is_loopback()) {
        Some(a) => Err(DevModeError::NotLoopback(*a)),
        None => Ok(()),
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
    fn log_only_sender_keeps_no_code() {
        let s = LogOnlySender;
        s.send("+41791234567", "123456").unwrap();
        assert!(s.outbox().is_none(), "no outbox to read codes from");
        assert_eq!(mask_phone("+41791234567"), "+41*******67");
    }

    #[test]
    fn dev_mode_only_on_loopback() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(
            check_dev_listen(&[a("127.0.0.1:8080"), a("[::1]:8080")]),
            Ok(())
        );
        assert_eq!(
            check_dev_listen(&[a("0.0.0.0:8080")]),
            Err(DevModeError::NotLoopback(a("0.0.0.0:8080")))
        );
        assert_eq!(
            check_dev_listen(&[a("127.0.0.1:1"), a("192.168.1.5:1")]),
            Err(DevModeError::NotLoopback(a("192.168.1.5:1")))
        );
        assert_eq!(check_dev_listen(&[]), Err(DevModeError::NoAddress));
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
