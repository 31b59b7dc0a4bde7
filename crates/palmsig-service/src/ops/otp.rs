//! One-time codes sent to a phone: the portal sign-in and the kiosk's phone check share them.
use crate::crypto::random_digits;
use crate::error::{ApiError, ApiResult};
use crate::otp::normalize_e164;
use crate::params;
use crate::state::AppState;
use crate::store::Otp;
use axum::http::StatusCode;

/// A phone number in E.164 form, or 422 `bad_phone`.
pub fn phone(s: &str) -> ApiResult<String> {
    normalize_e164(s).ok_or_else(|| {
        ApiError::unprocessable(
            "bad_phone",
            "phone must be in E.164 form, e.g. +41791234567",
        )
    })
}

/// Send a fresh one-time code to `phone` (replacing a pending one).
pub async fn send_code(st: &AppState, phone: &str) -> ApiResult<()> {
    let code = random_digits(6);
    st.store
        .put_otp(&Otp {
            phone: phone.to_string(),
            code_hash: st.keys.mac_secret("otp", &[phone, &code]),
            expires_ms: st.now() + params::OTP_TTL_MS,
            attempts: 0,
        })
        .await?;
    st.sender
        .send(phone, &code)
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, "otp_send_failed", e))
}

/// Check a one-time code (burnt on success, counted on failure).
pub async fn check_code(st: &AppState, phone: &str, code: &str) -> ApiResult<()> {
    let bad = || ApiError::unauthorized("invalid_code", "code wrong or expired");
    let otp = st.store.get_otp(phone).await?.ok_or_else(bad)?;
    if otp.expires_ms <= st.now() || otp.attempts >= params::OTP_MAX_ATTEMPTS {
        st.store.delete_otp(phone).await?;
        return Err(bad());
    }
    if !st
        .keys
        .mac_verify("otp", &[phone, code.trim()], &otp.code_hash)
    {
        st.store.bump_otp(phone).await?;
        return Err(bad());
    }
    st.store.delete_otp(phone).await?;
    Ok(())
}
