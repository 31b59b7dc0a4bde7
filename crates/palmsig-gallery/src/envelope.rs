//! The encryption the gallery seals with, supplied by the caller, and the byte framing of a
//! sealed blob.
use std::path::Path;
use std::sync::Arc;

/// A sealed blob: its key-encryption key's id, its own data key wrapped by that KEK, and the
/// ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// Id of the KEK that wraps the data key.
    pub kek_id: String,
    /// The data key, wrapped.
    pub wrapped: Vec<u8>,
    /// The sealed bytes.
    pub ciphertext: Vec<u8>,
}

/// Envelope encryption: every blob under a fresh data key, bound to its associated data.
pub trait Envelope: Send + Sync {
    /// Seal `plain`, bound to `aad`.
    fn seal(&self, plain: &[u8], aad: &str) -> Sealed;
    /// Open a blob [`Envelope::seal`] made with the same `aad`; an error (its message) means a
    /// key this envelope does not hold, or tampering.
    fn open(&self, sealed: &Sealed, aad: &str) -> Result<Vec<u8>, String>;
}

/// Where a gallery's keys come from: the key file in the gallery directory.
pub trait KeyFile {
    /// Load the key file at `path`, creating it (owner-only) with a fresh key if missing.
    fn load_or_create(&self, path: &Path) -> Result<Arc<dyn Envelope>, String>;
}

/// `u16 kek id length | kek id | u16 wrapped length | wrapped data key | ciphertext`.
pub(crate) fn to_bytes(s: &Sealed) -> Vec<u8> {
    let id = s.kek_id.as_bytes();
    let mut out = Vec::with_capacity(4 + id.len() + s.wrapped.len() + s.ciphertext.len());
    out.extend_from_slice(&(id.len() as u16).to_le_bytes());
    out.extend_from_slice(id);
    out.extend_from_slice(&(s.wrapped.len() as u16).to_le_bytes());
    out.extend_from_slice(&s.wrapped);
    out.extend_from_slice(&s.ciphertext);
    out
}

/// The inverse of [`to_bytes`]; `None` for a truncated or malformed frame.
pub(crate) fn from_bytes(mut b: &[u8]) -> Option<Sealed> {
    let mut take = || -> Option<Vec<u8>> {
        let n = u16::from_le_bytes([*b.first()?, *b.get(1)?]) as usize;
        let v = b.get(2..2 + n)?.to_vec();
        b = &b[2 + n..];
        Some(v)
    };
    let kek_id = String::from_utf8(take()?).ok()?;
    let wrapped = take()?;
    Some(Sealed {
        kek_id,
        wrapped,
        ciphertext: b.to_vec(),
    })
}

/// Seal to framed bytes.
pub(crate) fn seal(keys: &dyn Envelope, plain: &[u8], aad: &str) -> Vec<u8> {
    to_bytes(&keys.seal(plain, aad))
}

/// Open framed bytes.
pub(crate) fn open(keys: &dyn Envelope, sealed: &[u8], aad: &str) -> Result<Vec<u8>, String> {
    let s = from_bytes(sealed).ok_or("truncated or malformed sealed record")?;
    keys.open(&s, aad)
}

/// The index's [`palmsig_index::Sealer`] over the gallery's envelope, for index records.
pub(crate) struct IndexSealer(pub(crate) Arc<dyn Envelope>);

impl IndexSealer {
    /// Associated data of sealed index records (a record cannot pass for metadata).
    pub(crate) const AAD: &'static str = "palmsig-gallery/index";
}

impl palmsig_index::Sealer for IndexSealer {
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        seal(self.0.as_ref(), plain, Self::AAD)
    }
    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        open(self.0.as_ref(), sealed, Self::AAD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_roundtrips_and_refuses_truncation() {
        let s = Sealed {
            kek_id: "kek-20260101000000".into(),
            wrapped: vec![7; 60],
            ciphertext: vec![1, 2, 3],
        };
        let b = to_bytes(&s);
        assert_eq!(from_bytes(&b), Some(s.clone()));
        let header = 2 + s.kek_id.len() + 2 + s.wrapped.len();
        for n in 0..header {
            assert_eq!(from_bytes(&b[..n]), None, "truncated to {n}");
        }
    }
}
