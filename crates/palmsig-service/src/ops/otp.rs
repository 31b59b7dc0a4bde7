//! One-time codes sent to a phone: the portal sign-in and the kiosk's phone check share them,
//! and share per-phone limits kept in the database (codes sent, wrong guesses), so neither more
//! devices, a restart nor a new code gives a guesser more tries.
use crate::crypto::random_digits;
use crate::error::{ApiError, ApiResult};
use crate::otp::normalize_e164;
use crate::params;
use crate::state::AppState;
use crate::store::Otp;
use axum::http::StatusCode;

/// Limit kinds of `otp_limits`.
const SENT: &str = "sent";
const FAILED: &str = "failed";

/// A phone number in E.164 form, or 422 `bad_phone`.
pub fn phone(s: &str) -> ApiResult<String> {
    normalize_e164(s).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_phone",
            "phone must be in E.164 form, e.g. +41791234567",
        )
    })
}

/// The key of a phone's limits: a keyed hash, never the number.
fn limit_key(st: &AppState, phone: &str) -> String {
    st.keys.mac_secret("otp-limit", &[phone])
}

/// The key of a phone's pending code: a keyed hash, never the number.
pub fn otp_key(st: &AppState, phone: &str) -> String {
    st.keys.mac_secret("otp-phone", &[phone])
}

fn too_many(code: &str, what: &str) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        code,
        format!("{what} for this phone; retry in an hour"),
    )
}

/// Send a fresh one-time code to `phone` (replacing a pending one); 429 `too_many_codes` past
/// [`params::OTP_SENDS_PER_WINDOW`] codes to this phone in the window.
pub async fn send_code(st: &AppState, phone: &str) -> ApiResult<()> {
    let key = limit_key(st, phone);
    let window = params::OTP_LIMIT_WINDOW_MS;
    let sent = st.store.bump_limit(&key, SENT, st.now(), window).await?;
    if sent > params::OTP_SENDS_PER_WINDOW {
        return Err(too_many("too_many_codes", "too many codes"));
    }
    let code = random_digits(6);
    st.store
        .put_otp(&Otp {
            phone_key: otp_key(st, phone),
            code_hash: st.keys.mac_secret("otp", &[phone, &code]),
            expires_ms: st.now() + params::OTP_TTL_MS,
            attempts: 0,
        })
        .await?;
    st.sender
        .send(phone, &code)
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "otp_send_failed", e))
}

/// Check a one-time code (burnt on success, counted on failure, per code and per phone); 429
/// `too_many_attempts` once the phone's wrong guesses of the window are used up, whatever the
/// code.
pub async fn check_code(st: &AppState, phone: &str, code: &str) -> ApiResult<()> {
    let bad = || ApiError::unauthorized("invalid_code", "code wrong or expired");
    let (key, window, now) = (limit_key(st, phone), params::OTP_LIMIT_WINDOW_MS, st.now());
    let pending = otp_key(st, phone);
    if st.store.limit_count(&key, FAILED, now, window).await? >= params::OTP_FAILURES_PER_WINDOW {
        st.store.delete_otp(&pending).await?;
        return Err(too_many("too_many_attempts", "too many wrong codes"));
    }
    let otp = st.store.get_otp(&pending).await?.ok_or_else(bad)?;
    if otp.expires_ms <= now || otp.attempts >= params::OTP_MAX_ATTEMPTS {
        st.store.delete_otp(&pending).await?;
        return Err(bad());
    }
    if !st
        .keys
        .mac_verify("otp", &[phone, code.trim()], &otp.code_hash)
    {
        st.store.bump_otp(&pending).await?;
        st.store.bump_limit(&key, FAILED, now, window).await?;
        return Err(bad());
    }
    st.store.delete_otp(&pending).await?;
    Ok(())
}
