//! `palmsig serve --demo`: one demo tenant ("Demo Store") with a site, an activated device and
//! an API client, kept across restarts, plus a web scanner waiting for its activation code.
//!
//! The secrets (the client secret, the device's private key) go to a file in the data dir that
//! only its owner can read ([`CREDENTIALS_FILE`], mode 0600), never to stdout.
use crate::crypto::{hash_secret, random_digits, random_token};
use crate::state::{new_id, AppState};
use crate::store::{ApiClient, Device, Site, StoreError, Tenant};
use base64::Engine as _;
use std::path::{Path, PathBuf};

/// Name of the demo tenant (one per database, whatever the number of `serve --demo` runs).
pub const TENANT_NAME: &str = "Demo Store";
/// The demo's credentials file in the data dir (mode 0600).
pub const CREDENTIALS_FILE: &str = "demo-credentials.json";
/// Name of the device the `/scanner` page activates.
pub const SCANNER_NAME: &str = "Demo web scanner";

/// Credentials of the seeded demo objects.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct DemoCredentials {
    /// Tenant id.
    pub tenant_id: String,
    /// OAuth2 client id (also the console sign-in).
    pub client_id: String,
    /// OAuth2 client secret.
    pub client_secret: String,
    /// Site id.
    pub site_id: String,
    /// Device id.
    pub device_id: String,
    /// The device's Ed25519 private key (base64 of 32 bytes), to sign device API requests.
    pub device_key: String,
}

/// What the credentials file holds.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct DemoFile {
    #[serde(flatten)]
    credentials: DemoCredentials,
    /// The web scanner device of the last run (revoked on the next: its key lived in the
    /// memory of that run's process).
    scanner_device_id: Option<String>,
}

/// What `serve --demo` found or made.
#[derive(Debug, Clone)]
pub struct DemoSetup {
    /// The demo tenant's credentials (in [`DemoSetup::file`]).
    pub credentials: DemoCredentials,
    /// Where the credentials are (mode 0600).
    pub file: PathBuf,
    /// Whether the tenant was created by this run (false: an earlier run's is reused).
    pub created: bool,
    /// The web scanner's one-time activation code (type it on `/scanner`; 24 h, single use).
    pub scanner_code: String,
}

/// Why the demo could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The credentials file could not be written.
    #[error("demo credentials file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Create a new demo tenant with its client, site and device (every call a new one; `serve
/// --demo` uses [`prepare`], which reuses it).
pub async fn seed(st: &AppState) -> Result<DemoCredentials, StoreError> {
    let tenant = Tenant {
        id: new_id("ten"),
        name: TENANT_NAME.into(),
        created_ms: st.now(),
    };
    st.store.create_tenant(&tenant).await?;
    seed_into(st, &tenant.id).await
}

/// An API client, a site and an activated device for the tenant `tenant_id`.
async fn seed_into(st: &AppState, tenant_id: &str) -> Result<DemoCredentials, StoreError> {
    let now = st.now();
    let secret = random_token("cs");
    let client = ApiClient {
        id: new_id("cli"),
        tenant_id: tenant_id.to_string(),
        secret_hash: hash_secret(&[&secret]),
        scopes: crate::api_scopes().join(" "),
        created_ms: now,
        revoked_ms: None,
    };
    st.store.create_client(&client).await?;
    let site = Site {
        id: new_id("site"),
        tenant_id: tenant_id.to_string(),
        name: "Demo checkout".into(),
        created_ms: now,
    };
    st.store.create_site(&site).await?;
    let key = crate::signing::generate_key();
    let dev = Device {
        id: new_id("dev"),
        tenant_id: tenant_id.to_string(),
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
        Some(tenant_id),
        "demo.seed",
        tenant_id,
        serde_json::json!({"device_id": dev.id}),
    )
    .await?;
    Ok(DemoCredentials {
        tenant_id: tenant_id.to_string(),
        client_id: client.id,
        client_secret: secret,
        site_id: site.id,
        device_id: dev.id,
        device_key: base64::engine::general_purpose::STANDARD.encode(key.to_bytes()),
    })
}

/// `serve --demo`: reuse the demo tenant of an earlier run (the one the credentials file names,
/// else the one named [`TENANT_NAME`]) or create it; arm a fresh web scanner (the previous
/// run's is revoked); write the credentials file (0600) in `data_dir`.
pub async fn prepare(st: &AppState, data_dir: &Path) -> Result<DemoSetup, DemoError> {
    let file = data_dir.join(CREDENTIALS_FILE);
    let saved = read_file(&file);
    let mut created = false;
    let credentials = match &saved {
        Some(s)
            if st
                .store
                .get_tenant(&s.credentials.tenant_id)
                .await?
                .is_some() =>
        {
            s.credentials.clone()
        }
        _ => match demo_tenant(st).await? {
            // The file is gone: new credentials for the existing tenant.
            Some(t) => seed_into(st, &t.id).await?,
            None => {
                created = true;
                seed(st).await?
            }
        },
    };
    if let Some(old) = saved.as_ref().and_then(|s| s.scanner_device_id.as_deref()) {
        st.store.revoke_device(old, st.now()).await?;
    }
    let (scanner_device_id, scanner_code) = arm_scanner(st, &credentials).await?;
    write_file(
        &file,
        &DemoFile {
            credentials: credentials.clone(),
            scanner_device_id: Some(scanner_device_id),
        },
    )?;
    Ok(DemoSetup {
        credentials,
        file,
        created,
        scanner_code,
    })
}

/// The oldest tenant named [`TENANT_NAME`].
async fn demo_tenant(st: &AppState) -> Result<Option<Tenant>, StoreError> {
    let mut found = None;
    let mut after = None;
    loop {
        let page = st.store.list_tenants(after.as_ref(), 200).await?;
        let Some(last) = page.last() else {
            return Ok(found);
        };
        after = Some(crate::store::Cursor {
            created_ms: last.created_ms,
            id: last.id.clone(),
        });
        // Pages run newest first: the last match seen is the oldest.
        if let Some(t) = page.iter().rev().find(|t| t.name == TENANT_NAME) {
            found = Some(t.clone());
        }
    }
}

/// A device at the demo site waiting for the `/scanner` page: its id and activation code.
async fn arm_scanner(st: &AppState, c: &DemoCredentials) -> Result<(String, String), StoreError> {
    let code = random_digits(12);
    let now = st.now();
    let dev = Device {
        id: new_id("dev"),
        tenant_id: c.tenant_id.clone(),
        site_id: c.site_id.clone(),
        name: SCANNER_NAME.into(),
        activation_hash: Some(st.keys.mac_secret("activation", &[&code])),
        activation_expires_ms: now + crate::params::ACTIVATION_CODE_TTL_MS,
        public_key: None,
        activated_ms: None,
        last_seen_ms: None,
        version: None,
        created_ms: now,
        revoked_ms: None,
    };
    st.store.create_device(&dev).await?;
    st.audit(
        "operator",
        Some(&c.tenant_id),
        "device.create",
        &dev.id,
        serde_json::json!({"site_id": dev.site_id, "demo": "web scanner"}),
    )
    .await?;
    Ok((dev.id, code))
}

fn read_file(path: &Path) -> Option<DemoFile> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Write `f` to `path` through a new owner-only file renamed into place.
fn write_file(path: &Path, f: &DemoFile) -> Result<(), DemoError> {
    let err = |source| DemoError::Io {
        path: path.display().to_string(),
        source,
    };
    let tmp = path.with_extension("json.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let body = serde_json::to_vec_pretty(f).map_err(|e| err(e.into()))?;
    use std::io::Write;
    opts.open(&tmp)
        .and_then(|mut file| file.write_all(&body).and_then(|()| file.sync_all()))
        .map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}
