//! Every tunable threshold of the service, with why it has its value.

/// Largest request body accepted (bytes). Two 8-bit PNG captures of a scanner (≈ 1–2 MB each after
/// base64) fit; anything larger is refused with 413 before it is buffered.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Lifetime of an OAuth2 access token (seconds). Short, as usual for client credentials: clients
/// simply ask again.
pub const ACCESS_TOKEN_TTL_S: i64 = 3600;

/// Allowed clock difference between a device's signed timestamp and the server (ms). Devices sync
/// time by NTP; 5 minutes is the customary tolerance (as for AWS SigV4 and Stripe webhooks).
pub const SIGNATURE_MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// Nonces are remembered for twice the skew window, after which the timestamp check alone rejects
/// a replay.
pub const NONCE_RETENTION_MS: i64 = 2 * SIGNATURE_MAX_SKEW_MS;

/// Lifetime of a one-time activation code of a device (ms): a day for an installer to use it.
pub const ACTIVATION_CODE_TTL_MS: i64 = 24 * 3600 * 1000;

/// Lifetime of a phone one-time code (ms) and the number of wrong tries before it is burnt.
pub const OTP_TTL_MS: i64 = 10 * 60 * 1000;
/// Wrong tries allowed for one OTP: 5 tries on 10^6 codes keeps guessing odds at 5e-6.
pub const OTP_MAX_ATTEMPTS: i64 = 5;
/// The window of the per-phone limits below (ms): an hour.
pub const OTP_LIMIT_WINDOW_MS: i64 = 3600 * 1000;
/// Codes sent to one phone per window, by devices and the portal together (SMS pumping, and
/// each code is a fresh chance to guess).
pub const OTP_SENDS_PER_WINDOW: i64 = 5;
/// Wrong codes tried for one phone per window, over all its codes: a new code does not reset
/// it, so the guessing odds stay at 5 in 10^6 per hour whoever asks for codes.
pub const OTP_FAILURES_PER_WINDOW: i64 = OTP_MAX_ATTEMPTS;

/// Lifetime of a person's portal session (ms).
pub const PORTAL_SESSION_TTL_MS: i64 = 12 * 3600 * 1000;

/// Lifetime of an enrolment in progress at a device (ms): abandoned kiosks do not keep templates.
pub const ENROLMENT_TTL_MS: i64 = 15 * 60 * 1000;

/// Captures accepted per hand in one enrolment; the reference set of a palm is capped for speed.
pub const MAX_CAPTURES_PER_HAND: usize = 5;
/// Captures needed per hand before an enrolment can complete: several, as the product enrols.
pub const MIN_CAPTURES_PER_HAND: usize = 2;

/// Palm data unused for this long is deleted by the retention job (ms): two years, as the issue asks.
pub const DEFAULT_RETENTION_MS: i64 = 2 * 365 * 24 * 3600 * 1000;

/// Per-client rate limit: bucket size and refill per second. Generous for a kiosk or an API
/// integration, small enough to stop a runaway client.
pub const RATE_LIMIT_BURST: f64 = 200.0;
/// Refill of the rate-limit bucket, requests per second.
pub const RATE_LIMIT_PER_S: f64 = 50.0;

/// Default and largest page size of list endpoints.
pub const PAGE_DEFAULT: i64 = 50;
/// Largest page size of list endpoints.
pub const PAGE_MAX: i64 = 500;

/// Webhook delivery: attempts and the first back-off (doubled after each failure).
pub const WEBHOOK_MAX_ATTEMPTS: u32 = 6;
/// First webhook retry delay (ms); 1 s, 2 s, 4 s, … up to about a minute in all.
pub const WEBHOOK_BACKOFF_MS: u64 = 1000;
/// Timeout of one webhook call (ms).
pub const WEBHOOK_TIMEOUT_MS: u64 = 5000;

/// Age thresholds of the `age` purpose, in years.
pub const AGE_THRESHOLDS: [u32; 2] = [18, 21];

/// How long a capture waits for an extraction slot before it is answered 503 `busy`: long
/// enough to ride out a burst at a kiosk, short enough that a device retries rather than hangs.
pub const EXTRACT_WAIT_MS: u64 = 5_000;

/// Largest payment amount accepted, in minor units: 100 000 000 (1 000 000.00 in a two-decimal
/// currency). Far above any till or vending payment a palm is presented for, far below the
/// `i64` values that overflow a processor's arithmetic.
pub const MAX_PAYMENT_MINOR: i64 = 100_000_000;
