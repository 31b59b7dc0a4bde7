//! Device request signing. A device signs every request with its Ed25519 key over
//!
//! ```text
//! METHOD \n PATH_AND_QUERY \n TIMESTAMP_MS \n NONCE \n hex(SHA-256(body))
//! ```
//!
//! and sends the headers [`DEVICE_HEADER`], [`TIMESTAMP_HEADER`], [`NONCE_HEADER`] and
//! [`SIGNATURE_HEADER`] (base64). The server rejects unknown devices, timestamps off by more than
//! [`crate::params::SIGNATURE_MAX_SKEW_MS`], bad signatures, and nonces it has seen.
use base64::Engine as _;
use ed25519_dalek::Signer;
/// A device's Ed25519 private key (re-exported so clients need not depend on `ed25519-dalek`).
pub use ed25519_dalek::SigningKey;

/// Device id header.
pub const DEVICE_HEADER: &str = "x-palmsig-device";
/// Timestamp header (Unix ms).
pub const TIMESTAMP_HEADER: &str = "x-palmsig-timestamp";
/// Nonce header (unique per request, ≤ 64 chars).
pub const NONCE_HEADER: &str = "x-palmsig-nonce";
/// Signature header (base64 of the 64-byte Ed25519 signature).
pub const SIGNATURE_HEADER: &str = "x-palmsig-signature";

/// The signed message.
pub fn canonical(
    method: &str,
    path_and_query: &str,
    ts_ms: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        method.to_ascii_uppercase(),
        path_and_query,
        ts_ms,
        nonce,
        crate::crypto::sha256_hex(body)
    )
}

/// The four headers of a signed request, as (name, value) pairs.
pub fn sign_request(
    key: &SigningKey,
    device_id: &str,
    method: &str,
    path_and_query: &str,
    ts_ms: i64,
    nonce: &str,
    body: &[u8],
) -> [(&'static str, String); 4] {
    let sig = key.sign(canonical(method, path_and_query, ts_ms, nonce, body).as_bytes());
    [
        (DEVICE_HEADER, device_id.to_string()),
        (TIMESTAMP_HEADER, ts_ms.to_string()),
        (NONCE_HEADER, nonce.to_string()),
        (
            SIGNATURE_HEADER,
            base64::engine::general_purpose::STANDARD.encode(sig.to_bytes()),
        ),
    ]
}

/// A fresh random device key.
pub fn generate_key() -> SigningKey {
    SigningKey::from_bytes(&crate::crypto::random_bytes())
}

/// A fresh random nonce.
pub fn new_nonce() -> String {
    hex::encode(crate::crypto::random_bytes::<16>())
}
