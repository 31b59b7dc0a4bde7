//! Payment-processor adapter. The service hands the processor the vaulted card (decrypted only
//! for this call) and gets authorized/declined; [`SimulatedProcessor`] is the default.

/// What the processor answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// Approved, with the processor's authorization id.
    Authorized {
        /// Authorization id.
        id: String,
    },
    /// Declined, with a reason code.
    Declined {
        /// e.g. `card_declined`, `insufficient_funds`.
        reason: String,
    },
}

/// A payment request.
#[derive(Debug, Clone)]
pub struct PaymentRequest<'a> {
    /// Card number (digits) from the vault.
    pub pan: &'a str,
    /// Amount in minor units (cents).
    pub amount: i64,
    /// ISO 4217 currency, upper case.
    pub currency: &'a str,
    /// Merchant (tenant) id.
    pub merchant: &'a str,
}

/// A payment processor.
pub trait PaymentProcessor: Send + Sync + std::fmt::Debug {
    /// Authorize a payment.
    fn authorize(&self, req: &PaymentRequest<'_>) -> Authorization;
}

/// Simulated processor with the usual test-card conventions: PAN `4000000000000002` is declined
/// (`card_declined`), `4000000000009995` has insufficient funds, amounts above 1 000 000 minor
/// units are declined (`amount_too_large`); anything else is authorized.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimulatedProcessor;

impl PaymentProcessor for SimulatedProcessor {
    fn authorize(&self, req: &PaymentRequest<'_>) -> Authorization {
        let reason = match req.pan {
            "4000000000000002" => Some("card_declined"),
            "4000000000009995" => Some("insufficient_funds"),
            _ if req.amount > 1_000_000 => Some("amount_too_large"),
            _ => None,
        };
        match reason {
            Some(r) => Authorization::Declined { reason: r.into() },
            None => Authorization::Authorized {
                id: crate::crypto::random_token("auth")[..21].to_string(),
            },
        }
    }
}
