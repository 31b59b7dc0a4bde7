//! Devices: activation with a one-time code and the device's own public key.
use super::{audit, Actor};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::Device;
use base64::Engine as _;

fn invalid_code() -> ApiError {
    ApiError::unauthorized(
        "invalid_activation_code",
        "activation code unknown, used or expired",
    )
}

/// An Ed25519 public key: base64 of 32 bytes that are a point of the curve.
fn public_key(b64: &str) -> ApiResult<[u8; 32]> {
    base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .filter(|k| ed25519_dalek::VerifyingKey::from_bytes(k).is_ok())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "bad_public_key",
                "public_key must be a base64 Ed25519 public key (32 bytes)",
            )
        })
}

/// Activate the device of a one-time code with its public key. The code is checked first (401
/// for an unknown one, whatever the key), then the key (422, the code stays usable), then the
/// code is consumed.
pub async fn activate(
    st: &AppState,
    code: &str,
    key_b64: &str,
    version: Option<&str>,
) -> ApiResult<Device> {
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    let now = st.now();
    // The code was stored as a MAC under the KEK active then: try each KEK held.
    let mut mac = None;
    for m in st.keys.mac_candidates("activation", &[&code]) {
        if st.store.activation_pending(&m, now).await? {
            mac = Some(m);
            break;
        }
    }
    let mac = mac.ok_or_else(invalid_code)?;
    let pk = public_key(key_b64)?;
    let dev = st
        .store
        .activate_device(&mac, &pk, now)
        .await?
        .ok_or_else(invalid_code)?;
    if let Some(v) = version {
        st.store.touch_device(&dev.id, Some(v), now).await?;
    }
    audit(
        st,
        Actor::Device(&dev),
        "device.activate",
        &dev.id,
        serde_json::json!({}),
    )
    .await?;
    Ok(dev)
}
