//! `palmsig serve --demo`: seed a demo tenant with a site, an activated device and an API client.
use crate::crypto::{hash_secret, random_token};
use crate::state::{new_id, AppState};
use crate::store::{ApiClient, Device, Site, Tenant};
use base64::Engine as _;

/// Credentials of the seeded demo objects (printed by `palmsig serve --demo`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoCredentials {
    /// Tenant id.
    pub tenant_id: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// OAuth2 client secret.
    pub client_secret: String,
    /// Site id.
    pub site_id: String,
    /// Device id.
    pub device_id: String,
    /// The device's Ed25519 private key (base64 of 32 bytes) for `palmsig enroll/identify`.
    pub device_key: String,
}

/// Create the demo objects (new ones on every call).
pub async fn seed(st: &AppState) -> Result<DemoCredentials, crate::store::StoreError> {
    let now = st.now();
    let tenant = Tenant {
        id: new_id("ten"),
        name: "Demo Store".into(),
        created_ms: now,
    };
    st.store.create_tenant(&tenant).await?;
    let secret = random_token("cs");
    let client = ApiClient {
        id: new_id("cli"),
        tenant_id: tenant.id.clone(),
        secret_hash: hash_secret(&[&secret]),
        scopes: crate::api_scopes().join(" "),
        created_ms: now,
        revoked_ms: None,
    };
    st.store.create_client(&client).await?;
    let site = Site {
        id: new_id("site"),
        tenant_id: tenant.id.clone(),
        name: "Demo checkout".into(),
        created_ms: now,
    };
    st.store.create_site(&site).await?;
    let key = crate::signing::generate_key();
    let dev = Device {
        id: new_id("dev"),
        tenant_id: tenant.id.clone(),
        site_id: site.id.clone(),
        name: "Demo kiosk".into(),
        activation_hash: None,
        activation_expires_ms: now,
        public_key: Some(key.verifying_key().to_bytes().to_vec()),
        activated_ms: Some(now),
        last_seen_ms: None,
        version: None,
        created_ms: now,
        revoked_ms: None,
    };
    st.store.create_device(&dev).await?;
    st.audit(
        "operator",
        Some(&tenant.id),
        "demo.seed",
        &tenant.id,
        serde_json::json!({"device_id": dev.id}),
    )
    .await?;
    Ok(DemoCredentials {
        tenant_id: tenant.id,
        client_id: client.id,
        client_secret: secret,
        site_id: site.id,
        device_id: dev.id,
        device_key: base64::engine::general_purpose::STANDARD.encode(key.to_bytes()),
    })
}
