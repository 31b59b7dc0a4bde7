//! Envelope encryption: every sealed record (a palm's templates, a card's PAN) has its own random
//! 256-bit data key (AES-256-GCM); data keys are stored only wrapped by a key-encryption key (KEK)
//! from a key file or the environment, named by a key id. Deleting the wrapped data key
//! ("crypto-shredding") makes the record unreadable even from a backup of the ciphertext.
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use zeroize::Zeroizing;

/// Environment variable holding a KEK as `ID:BASE64KEY` (overrides the key file).
pub const KEK_ENV: &str = "PALMSIG_KEK";

/// Errors of the key material and of sealing.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// A record was wrapped by a KEK this keyring does not hold.
    #[error("unknown key-encryption key id `{0}`")]
    UnknownKek(String),
    /// Authentication failed: wrong key, tampered or truncated ciphertext.
    #[error("decryption failed (wrong key or tampered data)")]
    Decrypt,
    /// A key file or key string is malformed.
    #[error("bad key material: {0}")]
    BadKey(String),
    /// The key file could not be read or written.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// Fill a buffer from the OS RNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut b);
    b
}

/// A random URL-safe token with `prefix_` and 256 bits of entropy.
pub fn random_token(prefix: &str) -> String {
    let b: [u8; 32] = random_bytes();
    format!(
        "{prefix}_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

/// A random decimal code of `digits` digits (OTPs, activation codes), uniformly drawn.
pub fn random_digits(digits: u32) -> String {
    let modulus = 10u64.pow(digits);
    // Rejection sampling keeps the distribution uniform.
    let zone = u64::MAX - u64::MAX % modulus;
    loop {
        let v = rand::rngs::OsRng.next_u64();
        if v < zone {
            return format!("{:0width$}", v % modulus, width = digits as usize);
        }
    }
}

/// SHA-256 of the parts joined by a 0 byte, hex: how secrets (tokens, client secrets, codes) are
/// stored, never in clear.
pub fn hash_secret(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The id of a KEK created now, `kek-YYYYMMDDHHMMSS` (UTC): the one format of the first key
/// and of every rotated one.
pub fn new_kek_id() -> String {
    format!("kek-{}", chrono::Utc::now().format("%Y%m%d%H%M%S"))
}

/// One key-encryption key.
#[derive(Clone)]
pub struct Kek {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Kek {
    /// A fresh random KEK with the given id.
    pub fn generate(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            key: Zeroizing::new(random_bytes()),
        }
    }
    /// A KEK from its id and raw 32 bytes.
    pub fn from_bytes(id: impl Into<String>, key: [u8; 32]) -> Self {
        Self {
            id: id.into(),
            key: Zeroizing::new(key),
        }
    }
    /// Parse `ID:BASE64KEY` (the form of [`KEK_ENV`]).
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        let (id, b64) = s
            .split_once(':')
            .ok_or_else(|| CryptoError::BadKey("expected ID:BASE64KEY".into()))?;
        if id.is_empty() {
            return Err(CryptoError::BadKey("empty key id".into()));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| CryptoError::BadKey(format!("key is not base64: {e}")))?;
        let key: [u8; 32] = raw.try_into().map_err(|v: Vec<u8>| {
            CryptoError::BadKey(format!("key has {} bytes, need 32", v.len()))
        })?;
        Ok(Self::from_bytes(id, key))
    }
    /// The key id.
    pub fn id(&self) -> &str {
        &self.id
    }
    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(&self.key[..]).expect("32-byte key")
    }
}

/// A data key wrapped by a KEK: what the database stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Id of the KEK that wraps it.
    pub kek_id: String,
    /// nonce (12 bytes) ‖ AES-GCM ciphertext of the 32-byte data key ‖ tag.
    pub wrapped: Vec<u8>,
}

/// A sealed record: the ciphertext and its wrapped data key.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// nonce (12 bytes) ‖ ciphertext ‖ tag.
    pub ciphertext: Vec<u8>,
    /// The record's own data key, wrapped.
    pub key: WrappedKey,
}

fn gcm_seal(cipher: &Aes256Gcm, plain: &[u8], aad: &[u8]) -> Vec<u8> {
    let nonce: [u8; 12] = random_bytes();
    let ct = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .expect("AES-GCM encryption cannot fail for in-memory buffers");
    let mut out = Vec::with_capacity(12 + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn gcm_open(cipher: &Aes256Gcm, sealed: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < 12 + 16 {
        return Err(CryptoError::Decrypt);
    }
    let (nonce, ct) = sealed.split_at(12);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| CryptoError::Decrypt)
}

/// The KEKs known to a process: one active (wraps new keys), others only unwrap.
#[derive(Debug, Clone)]
pub struct Keyring {
    active: Kek,
    others: Vec<Kek>,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    active: String,
    keys: Vec<KeyFileEntry>,
}

#[derive(Serialize, Deserialize)]
struct KeyFileEntry {
    id: String,
    key: String,
}

impl Keyring {
    /// A keyring with one active key.
    pub fn new(active: Kek) -> Self {
        Self {
            active,
            others: Vec::new(),
        }
    }
    /// The active KEK's id.
    pub fn active_id(&self) -> &str {
        self.active.id()
    }
    /// Ids of all keys held.
    pub fn ids(&self) -> Vec<String> {
        std::iter::once(&self.active)
            .chain(&self.others)
            .map(|k| k.id.clone())
            .collect()
    }
    /// Make `kek` the active key, keeping the previous ones for unwrapping.
    pub fn rotate_to(&mut self, kek: Kek) {
        let old = std::mem::replace(&mut self.active, kek);
        self.others.retain(|k| k.id != old.id);
        self.others.push(old);
    }
    /// Forget every key but the active one (after all data keys were re-wrapped).
    pub fn retire_inactive(&mut self) {
        self.others.clear();
    }
    fn find(&self, id: &str) -> Result<&Kek, CryptoError> {
        std::iter::once(&self.active)
            .chain(&self.others)
            .find(|k| k.id == id)
            .ok_or_else(|| CryptoError::UnknownKek(id.to_string()))
    }

    /// Wrap a data key with the active KEK; `key_ref` (the record id) is bound as associated data
    /// so a wrapped key cannot be moved to another record.
    pub fn wrap(&self, data_key: &[u8; 32], key_ref: &str) -> WrappedKey {
        let aad = format!("{}|{key_ref}", self.active.id);
        WrappedKey {
            kek_id: self.active.id.clone(),
            wrapped: gcm_seal(&self.active.cipher(), data_key, aad.as_bytes()),
        }
    }
    /// Unwrap a data key.
    pub fn unwrap_key(
        &self,
        w: &WrappedKey,
        key_ref: &str,
    ) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
        let kek = self.find(&w.kek_id)?;
        let aad = format!("{}|{key_ref}", kek.id);
        let raw = Zeroizing::new(gcm_open(&kek.cipher(), &w.wrapped, aad.as_bytes())?);
        let mut key = Zeroizing::new([0u8; 32]);
        if raw.len() != 32 {
            return Err(CryptoError::Decrypt);
        }
        key.copy_from_slice(&raw);
        Ok(key)
    }
    /// Re-wrap a data key under the active KEK (key rotation; the record is untouched).
    pub fn rewrap(&self, w: &WrappedKey, key_ref: &str) -> Result<WrappedKey, CryptoError> {
        let k = self.unwrap_key(w, key_ref)?;
        Ok(self.wrap(&k, key_ref))
    }

    /// Seal `plain` for the record `record_id` under a fresh data key.
    pub fn seal(&self, plain: &[u8], record_id: &str) -> Sealed {
        let dk: Zeroizing<[u8; 32]> = Zeroizing::new(random_bytes());
        let cipher = Aes256Gcm::new_from_slice(&dk[..]).expect("32-byte key");
        Sealed {
            ciphertext: gcm_seal(&cipher, plain, record_id.as_bytes()),
            key: self.wrap(&dk, record_id),
        }
    }
    /// Open a sealed record.
    pub fn open(
        &self,
        ciphertext: &[u8],
        key: &WrappedKey,
        record_id: &str,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let dk = self.unwrap_key(key, record_id)?;
        let cipher = Aes256Gcm::new_from_slice(&dk[..]).expect("32-byte key");
        Ok(Zeroizing::new(gcm_open(
            &cipher,
            ciphertext,
            record_id.as_bytes(),
        )?))
    }

    /// Seal `plain` for `record_id` under the data key it already has (`key`, wrapped): a record
    /// whose content changes (webhook secrets on rotation) keeps one data-key row, so ciphertext
    /// and key never disagree.
    pub fn seal_with(
        &self,
        plain: &[u8],
        key: &WrappedKey,
        record_id: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        let dk = self.unwrap_key(key, record_id)?;
        let cipher = Aes256Gcm::new_from_slice(&dk[..]).expect("32-byte key");
        Ok(gcm_seal(&cipher, plain, record_id.as_bytes()))
    }

    /// A MAC key for `purpose`, derived from a KEK (HMAC-SHA256(KEK, "palmsig-mac/" ‖ purpose)):
    /// low-entropy secrets (6-digit codes) are stored as MACs under it, so a stolen database
    /// alone does not let anyone brute-force them as it would a plain hash.
    fn mac_key(kek: &Kek, purpose: &str) -> Zeroizing<Vec<u8>> {
        use hmac::{Hmac, Mac};
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&kek.key[..]).expect("any key length");
        m.update(b"palmsig-mac/");
        m.update(purpose.as_bytes());
        Zeroizing::new(m.finalize().into_bytes().to_vec())
    }

    fn mac_with(kek: &Kek, purpose: &str, parts: &[&str]) -> String {
        let mut msg = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                msg.push(0);
            }
            msg.extend_from_slice(p.as_bytes());
        }
        format!(
            "{}:{}",
            kek.id,
            hmac_sha256_hex(&Self::mac_key(kek, purpose), &msg)
        )
    }

    /// `KEKID:hex(HMAC-SHA256(mac key of purpose, parts joined by 0 bytes))` under the active KEK:
    /// how one-time codes are stored.
    pub fn mac_secret(&self, purpose: &str, parts: &[&str]) -> String {
        Self::mac_with(&self.active, purpose, parts)
    }

    /// The MAC of `parts` under every KEK held (active first): to look up a stored MAC that may
    /// predate a rotation.
    pub fn mac_candidates(&self, purpose: &str, parts: &[&str]) -> Vec<String> {
        std::iter::once(&self.active)
            .chain(&self.others)
            .map(|k| Self::mac_with(k, purpose, parts))
            .collect()
    }

    /// Whether `stored` (from [`Keyring::mac_secret`], under any KEK held) is the MAC of `parts`;
    /// constant time in the MAC.
    pub fn mac_verify(&self, purpose: &str, parts: &[&str], stored: &str) -> bool {
        let Some((id, _)) = stored.split_once(':') else {
            return false;
        };
        match self.find(id) {
            Ok(k) => ct_eq(
                Self::mac_with(k, purpose, parts).as_bytes(),
                stored.as_bytes(),
            ),
            Err(_) => false,
        }
    }

    /// Load the key file `path`; create it (mode 0600, its folder 0700) with a fresh key if
    /// missing. A KEK in
    /// [`KEK_ENV`] is used as the active key instead (the file's keys still unwrap).
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let mut ring = if path.exists() {
            Self::load(path)?
        } else {
            create_private_dir(path.parent())?;
            let ring = Self::new(Kek::generate(new_kek_id()));
            ring.save(path)?;
            ring
        };
        if let Ok(s) = std::env::var(KEK_ENV) {
            ring.rotate_to(Kek::parse(&s)?);
        }
        Ok(ring)
    }
    /// Load a key file.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let io = |source| CryptoError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        let kf: KeyFile = serde_json::from_str(&text)
            .map_err(|e| CryptoError::BadKey(format!("{}: {e}", path.display())))?;
        let mut keys = Vec::new();
        for e in kf.keys {
            keys.push(Kek::parse(&format!("{}:{}", e.id, e.key))?);
        }
        let pos = keys.iter().position(|k| k.id == kf.active).ok_or_else(|| {
            CryptoError::BadKey(format!("active key `{}` not in the file", kf.active))
        })?;
        let active = keys.remove(pos);
        Ok(Self {
            active,
            others: keys,
        })
    }
    /// Write the keyring to `path` (mode 0600 on Unix), atomically.
    pub fn save(&self, path: &Path) -> Result<(), CryptoError> {
        let io = |source| CryptoError::Io {
            path: path.display().to_string(),
            source,
        };
        let kf = KeyFile {
            active: self.active.id.clone(),
            keys: std::iter::once(&self.active)
                .chain(&self.others)
                .map(|k| KeyFileEntry {
                    id: k.id.clone(),
                    key: base64::engine::general_purpose::STANDARD.encode(&k.key[..]),
                })
                .collect(),
        };
        let tmp = path.with_extension("tmp");
        let text =
            serde_json::to_string_pretty(&kf).map_err(|e| CryptoError::BadKey(e.to_string()))?;
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp).map_err(io)?;
            f.write_all(text.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// Where a service's key file is, and whether it shares a folder with the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFileLocation {
    /// The key file.
    pub path: std::path::PathBuf,
    /// It sits inside the data dir: one copied folder would hold both the sealed data and the
    /// key that opens it (`serve` warns loudly).
    pub inside_data: bool,
}

/// The key file of the data dir `data`: `explicit` if given; else `DATA/keys.json` where an
/// installation from before keeps it (with `inside_data` set: move it); else, by default, a
/// folder beside the data dir, `DATA-keys/keys.json`, so copying the data dir does not copy the
/// key. [`KEK_ENV`] keeps the active key out of files altogether.
pub fn locate_key_file(data: &Path, explicit: Option<&Path>) -> KeyFileLocation {
    let legacy = data.join("keys.json");
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None if legacy.exists() => legacy,
        None => {
            let name = data
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "palmsig-data".into());
            data.with_file_name(format!("{name}-keys"))
                .join("keys.json")
        }
    };
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let inside_data = abs(&path).starts_with(abs(data));
    KeyFileLocation { path, inside_data }
}

/// Create the folder of a key file, readable by its owner only if it is new.
fn create_private_dir(dir: Option<&Path>) -> Result<(), CryptoError> {
    let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty() && !d.exists()) else {
        return Ok(());
    };
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir).map_err(|source| CryptoError::Io {
        path: dir.display().to_string(),
        source,
    })
}

/// HMAC-SHA256, hex.
pub fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    hex::encode(m.finalize().into_bytes())
}

/// SHA-256, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_file_is_kept_apart_from_the_data_by_default() {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("palmsig-data");
        let loc = locate_key_file(&data, None);
        assert_eq!(
            loc.path,
            root.path().join("palmsig-data-keys").join("keys.json")
        );
        assert!(
            !loc.inside_data,
            "a new installation keeps the key outside the data dir"
        );
        let ring = Keyring::load_or_create(&loc.path).unwrap();
        assert!(loc.path.exists() && !data.join("keys.json").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(loc.path.parent().unwrap()), 0o700);
            assert_eq!(mode(&loc.path), 0o600);
        }
        // An installation from before keeps its key file, flagged.
        std::fs::create_dir_all(&data).unwrap();
        ring.save(&data.join("keys.json")).unwrap();
        let old = locate_key_file(&data, None);
        assert_eq!((old.path, old.inside_data), (data.join("keys.json"), true));
        let explicit = root.path().join("elsewhere.json");
        let e = locate_key_file(&data, Some(&explicit));
        assert_eq!((e.path, e.inside_data), (explicit, false));
        assert!(locate_key_file(&data, Some(&data.join("k.json"))).inside_data);
    }

    use super::*;

    #[test]
    fn seal_open_roundtrip_and_binding() {
        let ring = Keyring::new(Kek::generate("k1"));
        let s = ring.seal(b"template bytes", "palm_1");
        assert!(!s.ciphertext.windows(8).any(|w| w == b"template"));
        assert_eq!(
            &ring.open(&s.ciphertext, &s.key, "palm_1").unwrap()[..],
            b"template bytes"
        );
        // Bound to its record id.
        assert!(matches!(
            ring.open(&s.ciphertext, &s.key, "palm_2"),
            Err(CryptoError::Decrypt)
        ));
        // Tampering detected.
        let mut bad = s.ciphertext.clone();
        bad[20] ^= 1;
        assert!(ring.open(&bad, &s.key, "palm_1").is_err());
        // Another KEK with the same id cannot unwrap.
        let other = Keyring::new(Kek::generate("k1"));
        assert!(other.open(&s.ciphertext, &s.key, "palm_1").is_err());
        // Truncated input is an error, not a panic.
        assert!(ring.open(&[1, 2, 3], &s.key, "palm_1").is_err());
    }

    #[test]
    fn rotation_rewraps_without_touching_ciphertext() {
        let mut ring = Keyring::new(Kek::generate("k1"));
        let s = ring.seal(b"abc", "r");
        ring.rotate_to(Kek::generate("k2"));
        let w2 = ring.rewrap(&s.key, "r").unwrap();
        assert_eq!(w2.kek_id, "k2");
        ring.retire_inactive();
        assert!(matches!(
            ring.open(&s.ciphertext, &s.key, "r"),
            Err(CryptoError::UnknownKek(_))
        ));
        assert_eq!(&ring.open(&s.ciphertext, &w2, "r").unwrap()[..], b"abc");
    }

    #[test]
    fn key_file_roundtrip_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("keys.json");
        let ring = Keyring::load_or_create(&p).unwrap();
        let again = Keyring::load_or_create(&p).unwrap();
        assert_eq!(ring.active_id(), again.active_id());
        let s = ring.seal(b"x", "id");
        assert_eq!(&again.open(&s.ciphertext, &s.key, "id").unwrap()[..], b"x");
        assert!(Kek::parse("nocolon").is_err());
        assert!(Kek::parse("id:AAAA").is_err());
        assert!(Kek::parse(":AAAA").is_err());
        std::fs::write(&p, "{").unwrap();
        assert!(Keyring::load(&p).is_err());
    }

    #[test]
    fn macs_are_keyed_and_survive_rotation() {
        let mut ring = Keyring::new(Kek::generate("k1"));
        let m = ring.mac_secret("otp", &["+41790000000", "123456"]);
        assert!(m.starts_with("k1:"));
        assert!(ring.mac_verify("otp", &["+41790000000", "123456"], &m));
        assert!(!ring.mac_verify("otp", &["+41790000000", "123457"], &m));
        assert!(!ring.mac_verify("activation", &["+41790000000", "123456"], &m));
        // Not the plain SHA-256 a database thief could brute-force.
        assert!(!m.contains(&hash_secret(&["otp", "+41790000000", "123456"])));
        // Another KEK with the same id gives another MAC.
        let other = Keyring::new(Kek::generate("k1"));
        assert!(!other.mac_verify("otp", &["+41790000000", "123456"], &m));
        // After a rotation the old MAC still verifies while the old KEK is held.
        ring.rotate_to(Kek::generate("k2"));
        assert!(ring.mac_verify("otp", &["+41790000000", "123456"], &m));
        assert!(ring
            .mac_candidates("otp", &["+41790000000", "123456"])
            .contains(&m));
        assert!(!ring.mac_verify("otp", &["x"], "garbage"));
    }

    #[test]
    fn seal_with_keeps_the_data_key() {
        let ring = Keyring::new(Kek::generate("k1"));
        let s = ring.seal(b"v1", "wh_1");
        let c2 = ring.seal_with(b"v2", &s.key, "wh_1").unwrap();
        assert_eq!(&ring.open(&c2, &s.key, "wh_1").unwrap()[..], b"v2");
        assert!(
            ring.seal_with(b"v2", &s.key, "wh_2").is_err(),
            "key bound to its record"
        );
    }

    #[test]
    fn digits_are_uniform_width() {
        for _ in 0..100 {
            let c = random_digits(6);
            assert_eq!(c.len(), 6);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
