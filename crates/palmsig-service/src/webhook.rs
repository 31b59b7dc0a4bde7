//! Signed webhooks. Every event of a tenant is POSTed to each of its endpoints as JSON with the
//! header `Palmsig-Signature: t=<unix ms>,v1=<hex>[,v1=<hex>…]`, one `v1` per secret valid now
//! (several during a rotation), where `hex = HMAC-SHA256(secret, "<t>.<body>")`. Failed deliveries
//! (transport error or non-2xx) are retried with exponential back-off; every attempt is logged.
use crate::crypto::{ct_eq, hmac_sha256_hex};
use crate::state::{new_id, AppState};
use crate::store::{DeliveryRow, EventRow, WebhookRow};

/// Name of the signature header.
pub const SIGNATURE_HEADER: &str = "palmsig-signature";

/// The signature header value for `body` at time `t_ms` under `secrets`.
pub fn sign(secrets: &[String], t_ms: i64, body: &[u8]) -> String {
    let mut msg = format!("{t_ms}.").into_bytes();
    msg.extend_from_slice(body);
    let mut out = format!("t={t_ms}");
    for s in secrets {
        out.push_str(",v1=");
        out.push_str(&hmac_sha256_hex(s.as_bytes(), &msg));
    }
    out
}

/// Why a received webhook is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Header malformed.
    #[error("malformed signature header")]
    Malformed,
    /// Timestamp outside the tolerance.
    #[error("timestamp outside tolerance")]
    Stale,
    /// No signature matches the secret.
    #[error("no valid signature")]
    NoMatch,
}

/// Receiver side: check a header against one secret (what a tenant's endpoint does).
pub fn verify(
    header: &str,
    secret: &str,
    body: &[u8],
    now_ms: i64,
    tolerance_ms: i64,
) -> Result<(), VerifyError> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.push(v),
            _ => return Err(VerifyError::Malformed),
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if (now_ms - t).abs() > tolerance_ms {
        return Err(VerifyError::Stale);
    }
    let expected = sign(&[secret.to_string()], t, body);
    let expected = expected.rsplit_once("v1=").map(|x| x.1).unwrap_or_default();
    if sigs
        .iter()
        .any(|s| ct_eq(s.as_bytes(), expected.as_bytes()))
    {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// The JSON payload of an event.
pub fn payload(e: &EventRow) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "type": format!("identification.{}", e.purpose),
        "created_ms": e.created_ms,
        "data": {
            "purpose": e.purpose,
            "outcome": e.outcome,
            "device_id": e.device_id,
            "site_id": e.site_id,
            "detail": serde_json::from_str::<serde_json::Value>(&e.detail).unwrap_or_default(),
        }
    })
}

/// Queue the deliveries of an event to all endpoints of its tenant (background tasks).
pub async fn dispatch(state: &AppState, event: &EventRow) {
    let hooks = match state.store.webhooks_of(&event.tenant_id).await {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "cannot list webhooks");
            return;
        }
    };
    let body = payload(event).to_string();
    for hook in hooks {
        let st = state.clone();
        let body = body.clone();
        let event_id = event.id.clone();
        let handle = tokio::spawn(async move { deliver(st, hook, event_id, body).await });
        if let Ok(mut t) = state.webhook_tasks.lock() {
            t.retain(|h| !h.is_finished());
            t.push(handle);
        }
    }
}

async fn deliver(state: AppState, hook: WebhookRow, event_id: String, body: String) {
    let secrets: Vec<String> = serde_json::from_str(&hook.secrets).unwrap_or_default();
    let mut delay = state.config.webhook_backoff_ms;
    for attempt in 1..=state.config.webhook_max_attempts {
        let t = state.now();
        let sig = sign(&secrets, t, body.as_bytes());
        let res = state
            .http
            .post(&hook.url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, sig)
            .body(body.clone())
            .send()
            .await;
        let (status, error) = match res {
            Ok(r) => (Some(i64::from(r.status().as_u16())), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let row = DeliveryRow {
            id: new_id("dlv"),
            webhook_id: hook.id.clone(),
            tenant_id: hook.tenant_id.clone(),
            event_id: event_id.clone(),
            attempt: i64::from(attempt),
            status_code: status,
            ok,
            error,
            created_ms: state.now(),
        };
        if let Err(e) = state.store.insert_delivery(&row).await {
            tracing::error!(error = %e, "cannot log webhook delivery");
        }
        if ok {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        delay = delay.saturating_mul(2);
    }
}

/// Wait for all webhook deliveries started so far (tests, graceful shutdown).
pub async fn drain(state: &AppState) {
    let handles: Vec<_> = state
        .webhook_tasks
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default();
    for h in handles {
        let _ = h.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_rotation() {
        let body = br#"{"a":1}"#;
        let h = sign(&["old".into(), "new".into()], 1000, body);
        assert!(verify(&h, "old", body, 1000, 300_000).is_ok());
        assert!(verify(&h, "new", body, 1000, 300_000).is_ok());
        assert_eq!(
            verify(&h, "other", body, 1000, 300_000),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&h, "new", b"{}", 1000, 300_000),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&h, "new", body, 1_000_000, 300_000),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify("garbage", "new", body, 1000, 300_000),
            Err(VerifyError::Malformed)
        );
    }
}
