//! Card vault: PAN validation (digits, length, Luhn, expiry) and brand detection. The PAN itself
//! is sealed under its own data key (see [`crate::crypto`]) and never leaves the vault except to
//! the payment-processor adapter; everything else sees a token, the brand and the last 4 digits.
use chrono::Datelike;

/// Why a card is refused (HTTP 422 `bad_card`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// Not 12–19 digits (spaces and dashes allowed between groups).
    #[error("card number must be 12 to 19 digits")]
    BadLength,
    /// Contains something other than digits, spaces or dashes.
    #[error("card number may contain only digits, spaces and dashes")]
    NotDigits,
    /// The Luhn check digit is wrong.
    #[error("card number fails the Luhn check")]
    Luhn,
    /// Month not 1..=12 or year implausible.
    #[error("expiry month must be 1-12 and year four digits")]
    BadExpiry,
    /// Expired before the current month.
    #[error("card has expired")]
    Expired,
    /// All digits zero (passes Luhn, names no account).
    #[error("card number is all zeros")]
    AllZeros,
    /// No card brand this vault knows issues numbers with this prefix.
    #[error(
        "card number has no known brand (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay)"
    )]
    UnknownBrand,
}

/// A validated card number (digits only). Its `Debug` never shows the number.
#[derive(Clone, PartialEq, Eq)]
pub struct Pan(String);

impl std::fmt::Debug for Pan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pan(****{})", self.last4())
    }
}

impl Pan {
    /// Validate a PAN as typed (groups separated by spaces or dashes are fine).
    pub fn parse(s: &str) -> Result<Self, CardError> {
        let mut digits = String::with_capacity(19);
        for c in s.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                _ => return Err(CardError::NotDigits),
            }
        }
        if !(12..=19).contains(&digits.len()) {
            return Err(CardError::BadLength);
        }
        if digits.bytes().all(|b| b == b'0') {
            return Err(CardError::AllZeros);
        }
        if !luhn_ok(&digits) {
            return Err(CardError::Luhn);
        }
        let pan = Self(digits);
        if pan.brand() == "unknown" {
            return Err(CardError::UnknownBrand);
        }
        Ok(pan)
    }
    /// The digits (only for sealing and for the processor adapter).
    pub fn digits(&self) -> &str {
        &self.0
    }
    /// The last four digits.
    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }
    /// The card brand from its issuer prefix (`unknown` never passes [`Pan::parse`]).
    pub fn brand(&self) -> &'static str {
        let d = &self.0;
        let p2: u32 = d[..2].parse().unwrap_or(0);
        let p3: u32 = d[..3].parse().unwrap_or(0);
        let p4: u32 = d[..4].parse().unwrap_or(0);
        if d.starts_with('4') {
            "visa"
        } else if (51..=55).contains(&p2) || (2221..=2720).contains(&p4) {
            "mastercard"
        } else if p2 == 34 || p2 == 37 {
            "amex"
        } else if p4 == 6011 || p2 == 65 || (644..=649).contains(&p3) {
            "discover"
        } else if (3528..=3589).contains(&p4) {
            "jcb"
        } else if (300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39 {
            "diners"
        } else if p2 == 62 {
            "unionpay"
        } else {
            "unknown"
        }
    }
}

/// The Luhn (mod 10) check over a digit string.
pub fn luhn_ok(digits: &str) -> bool {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut v = u32::from(b - b'0');
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    matches!(sum % 10, 0)
}

/// Check an expiry (month, four-digit year) against `now_ms`: valid through the end of the month.
pub fn check_expiry(month: u32, year: i32, now_ms: i64) -> Result<(), CardError> {
    if !(1..=12).contains(&month) || !(2000..=2100).contains(&year) {
        return Err(CardError::BadExpiry);
    }
    let now = chrono::DateTime::from_timestamp_millis(now_ms).ok_or(CardError::BadExpiry)?;
    if (year, month) < (now.year(), now.month()) {
        return Err(CardError::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_and_brands() {
        assert_eq!(Pan::parse("4242 4242 4242 4242").unwrap().brand(), "visa");
        assert_eq!(
            Pan::parse("5555-5555-5555-4444").unwrap().brand(),
            "mastercard"
        );
        assert_eq!(
            Pan::parse("2223003122003222").unwrap().brand(),
            "mastercard"
        );
        assert_eq!(Pan::parse("378282246310005").unwrap().brand(), "amex");
        assert_eq!(Pan::parse("6011111111111117").unwrap().brand(), "discover");
        assert_eq!(Pan::parse("4242424242424241"), Err(CardError::Luhn));
        assert_eq!(Pan::parse("4242x"), Err(CardError::NotDigits));
        assert_eq!(Pan::parse("42424"), Err(CardError::BadLength));
        assert_eq!(Pan::parse("").unwrap_err(), CardError::BadLength);
        // Luhn-valid, but no account: all zeros, or a prefix no brand issues.
        assert_eq!(Pan::parse("0000 0000 0000 0000"), Err(CardError::AllZeros));
        assert_eq!(Pan::parse("9999999999999995"), Err(CardError::UnknownBrand));
        assert_eq!(Pan::parse("3530111333300000").unwrap().brand(), "jcb");
        let p = Pan::parse("4242424242424242").unwrap();
        assert_eq!(p.last4(), "4242");
        assert!(!format!("{p:?}").contains("42424242"));
    }

    #[test]
    fn expiry() {
        // 2026-11-25
        let now = 1_795_000_000_000;
        assert!(check_expiry(11, 2026, now).is_ok());
        assert!(check_expiry(12, 2030, now).is_ok());
        assert_eq!(check_expiry(10, 2026, now), Err(CardError::Expired));
        assert_eq!(check_expiry(13, 2027, now), Err(CardError::BadExpiry));
        assert_eq!(check_expiry(0, 2027, now), Err(CardError::BadExpiry));
        assert_eq!(check_expiry(1, 27, now), Err(CardError::BadExpiry));
    }
}
