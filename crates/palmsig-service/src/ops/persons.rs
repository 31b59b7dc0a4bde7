//! Persons by phone number. The number is never stored in clear: a keyed hash
//! (`KEKID:hex(HMAC-SHA256)` under a key derived from the KEK, purpose `phone`) finds the person,
//! and the number sealed under the person's own data key is what the portal shows. After a KEK
//! rotation hashes are looked up under every KEK held until [`rekey_phones`] re-hashes them.
use crate::crypto::{Keyring, WrappedKey};
use crate::error::ApiResult;
use crate::state::{AppState, ServiceError};
use crate::store::{DataKeyRow, DynStore, Person};

/// The lookup hash of a phone under the active KEK.
pub fn phone_hash(keys: &Keyring, phone: &str) -> String {
    keys.mac_secret("phone", &[phone])
}

/// The person with this phone (E.164), if any.
pub async fn by_phone(st: &AppState, phone: &str) -> ApiResult<Option<Person>> {
    for h in st.keys.mac_candidates("phone", &[phone]) {
        if let Some(p) = st.store.get_person_by_phone(&h).await? {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// The person with this phone, created (id `id_if_new`) if new.
pub async fn upsert(st: &AppState, id_if_new: &str, phone: &str) -> ApiResult<Person> {
    if let Some(p) = by_phone(st, phone).await? {
        return Ok(p);
    }
    let sealed = st.keys.seal(phone.as_bytes(), id_if_new);
    let key = DataKeyRow {
        id: id_if_new.to_string(),
        kek_id: sealed.key.kek_id,
        wrapped: sealed.key.wrapped,
    };
    let hash = phone_hash(&st.keys, phone);
    Ok(st
        .store
        .upsert_person(id_if_new, &hash, &sealed.ciphertext, &key, st.now())
        .await?)
}

/// A person's phone number, decrypted.
pub async fn phone_of(st: &AppState, p: &Person) -> Result<String, ServiceError> {
    open_phone(&st.store, &st.keys, p).await
}

async fn open_phone(store: &DynStore, keys: &Keyring, p: &Person) -> Result<String, ServiceError> {
    let corrupt = |why: &str| ServiceError::Corrupt(p.id.clone(), why.to_string());
    let Some(ct) = &p.phone_ct else {
        // A row from before phones were sealed: the column still holds the number.
        return Ok(p.phone_hash.clone());
    };
    let k = store
        .get_data_key(&p.id)
        .await?
        .ok_or_else(|| corrupt("phone data key missing"))?;
    let key = WrappedKey {
        kek_id: k.kek_id,
        wrapped: k.wrapped,
    };
    let plain = keys.open(ct, &key, &p.id)?;
    String::from_utf8(plain.to_vec()).map_err(|_| corrupt("phone is not text"))
}

/// Bring every person's phone to the current scheme and key: numbers still in clear (rows from
/// before the scheme) are sealed and hashed, hashes under an older KEK re-hashed; then the old
/// values are scrubbed from the database files. Run at start and after a KEK rotation. Returns
/// how many persons were updated.
pub async fn rekey_phones(store: &DynStore, keys: &Keyring) -> Result<usize, ServiceError> {
    let prefix = format!("{}:", keys.active_id());
    let todo = store.persons_to_rekey(&prefix).await?;
    for p in &todo {
        let phone = open_phone(store, keys, p).await?;
        let ct = match &p.phone_ct {
            Some(ct) => ct.clone(),
            None => {
                let sealed = keys.seal(phone.as_bytes(), &p.id);
                store
                    .put_data_key(&DataKeyRow {
                        id: p.id.clone(),
                        kek_id: sealed.key.kek_id,
                        wrapped: sealed.key.wrapped,
                    })
                    .await?;
                sealed.ciphertext
            }
        };
        store
            .set_person_phone(&p.id, &phone_hash(keys, &phone), &ct)
            .await?;
    }
    if !todo.is_empty() {
        store.scrub().await?;
    }
    Ok(todo.len())
}
