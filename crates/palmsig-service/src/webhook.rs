//! Signed webhooks. Every event of a tenant is POSTed to each of its endpoints as JSON with the
//! header `Palmsig-Signature: t=<unix ms>,v1=<hex>[,v1=<hex>…]`, one `v1` per secret valid now
//! (several during a rotation), where `hex = HMAC-SHA256(secret, "<t>.<body>")`. Deliveries wait
//! in a durable outbox table; failed ones (transport error or non-2xx) are retried with
//! exponential back-off, across restarts; every attempt is logged.
use crate::crypto::{ct_eq, hmac_sha256_hex, WrappedKey};
use crate::egress::{self, EgressError};
use crate::state::{new_id, AppState, ServiceError};
use crate::store::{DataKeyRow, DeliveryRow, EventRow, OutboxRow, WebhookRow};
use base64::Engine as _;

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

/// Seal a webhook's signing secrets for its `secrets` column: JSON, AES-256-GCM under the
/// webhook's own data key (stored wrapped in `data_keys` under the webhook id, so key rotation
/// re-wraps it like a template's), base64. The data key is created on first use and kept on
/// secret rotation, so the row and its key never disagree.
pub async fn seal_secrets(
    st: &AppState,
    webhook_id: &str,
    secrets: &[String],
) -> Result<String, ServiceError> {
    let plain = serde_json::to_vec(secrets).unwrap_or_default();
    let ct = match st.store.get_data_key(webhook_id).await? {
        Some(k) => st.keys.seal_with(
            &plain,
            &WrappedKey {
                kek_id: k.kek_id,
                wrapped: k.wrapped,
            },
            webhook_id,
        )?,
        None => {
            let s = st.keys.seal(&plain, webhook_id);
            st.store
                .put_data_key(&DataKeyRow {
                    id: webhook_id.to_string(),
                    kek_id: s.key.kek_id,
                    wrapped: s.key.wrapped,
                })
                .await?;
            s.ciphertext
        }
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(ct))
}

/// The signing secrets of a webhook (inverse of [`seal_secrets`]).
pub async fn open_secrets(st: &AppState, w: &WebhookRow) -> Result<Vec<String>, ServiceError> {
    let corrupt = |why: &str| ServiceError::Corrupt(w.id.clone(), why.to_string());
    let k = st
        .store
        .get_data_key(&w.id)
        .await?
        .ok_or_else(|| corrupt("webhook data key missing"))?;
    let ct = base64::engine::general_purpose::STANDARD
        .decode(w.secrets.as_bytes())
        .map_err(|_| corrupt("webhook secrets are not sealed"))?;
    let plain = st.keys.open(
        &ct,
        &WrappedKey {
            kek_id: k.kek_id,
            wrapped: k.wrapped,
        },
        &w.id,
    )?;
    serde_json::from_slice(&plain).map_err(|_| corrupt("bad webhook secrets"))
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

/// How long a worker holds a claimed delivery before another may take it over (ms): longer than
/// one attempt can take.
const LEASE_MS: i64 = 4 * crate::params::WEBHOOK_TIMEOUT_MS as i64;
/// Deliveries one worker pass takes on.
const BATCH: i64 = 100;

/// Queue the deliveries of an event to all endpoints of its tenant in the database outbox, then
/// make the first attempts at once (in the background). Retries are made by [`run_due`] (the
/// service's worker, [`spawn_worker`]), also after a restart.
pub async fn dispatch(state: &AppState, event: &EventRow) {
    if let Err(e) = enqueue(state, event).await {
        tracing::error!(error = %e, "cannot queue webhook deliveries");
        return;
    }
    let st = state.clone();
    let handle = tokio::spawn(async move {
        let now = st.now();
        run_due(&st, now).await;
    });
    if let Ok(mut t) = state.webhook_tasks.lock() {
        t.retain(|h| !h.is_finished());
        t.push(handle);
    }
}

async fn enqueue(state: &AppState, event: &EventRow) -> Result<(), ServiceError> {
    let body = payload(event).to_string();
    let now = state.now();
    for hook in state.store.webhooks_of(&event.tenant_id).await? {
        let row = OutboxRow {
            id: new_id("obx"),
            webhook_id: hook.id,
            tenant_id: hook.tenant_id,
            event_id: event.id.clone(),
            body: body.clone(),
            attempts: 0,
            next_attempt_ms: now,
            created_ms: now,
        };
        state.store.enqueue_delivery(&row).await?;
    }
    Ok(())
}

/// Make every delivery due at `now_ms` (one attempt each); returns how many were attempted.
pub async fn run_due(state: &AppState, now_ms: i64) -> usize {
    let lease = state
        .now()
        .saturating_add(LEASE_MS)
        .max(now_ms.saturating_add(1));
    let due = match state.store.claim_deliveries(now_ms, lease, BATCH).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the webhook outbox");
            return 0;
        }
    };
    for o in &due {
        if let Err(e) = attempt(state, o).await {
            tracing::error!(delivery = %o.id, error = %e, "webhook delivery failed inside");
        }
    }
    due.len()
}

/// One attempt of a queued delivery: send, log, then finish or schedule the next attempt with
/// exponential back-off.
async fn attempt(state: &AppState, o: &OutboxRow) -> Result<(), ServiceError> {
    let Some(hook) = state.store.get_webhook(&o.webhook_id).await? else {
        return Ok(state.store.finish_delivery(&o.id).await?);
    };
    let n = o.attempts + 1;
    let (status, error) = match open_secrets(state, &hook).await {
        Ok(secrets) => send(state, &hook, &secrets, &o.body).await,
        Err(e) => {
            // Not deliverable unsigned: log the failure where the tenant can see it.
            tracing::error!(webhook = %hook.id, error = %e, "cannot open webhook secrets");
            (None, Some("signing secrets unreadable".to_string()))
        }
    };
    let ok = status.is_some_and(|s| (200..300).contains(&s));
    let row = DeliveryRow {
        id: new_id("dlv"),
        webhook_id: hook.id.clone(),
        tenant_id: hook.tenant_id.clone(),
        event_id: o.event_id.clone(),
        attempt: n,
        status_code: status,
        ok,
        error,
        created_ms: state.now(),
    };
    state.store.insert_delivery(&row).await?;
    if ok || n >= i64::from(state.config.webhook_max_attempts) {
        state.store.finish_delivery(&o.id).await?;
    } else {
        let backoff = state
            .config
            .webhook_backoff_ms
            .saturating_mul(1 << (n - 1).min(20));
        let next = state.now().saturating_add(backoff as i64);
        state.store.retry_delivery(&o.id, n, next).await?;
    }
    Ok(())
}

/// Whether a webhook may be registered for `url`: as [`check_target`], but a host that does not
/// resolve yet is accepted (each delivery resolves and checks it again).
pub async fn check_registration(state: &AppState, url: &str) -> Result<(), EgressError> {
    match check_target(state, url).await {
        Ok(_) | Err(EgressError::NoAddress) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether webhooks may be sent to `url` now (each delivery).
pub async fn check_target(
    state: &AppState,
    url: &str,
) -> Result<(reqwest::Url, std::net::SocketAddr), EgressError> {
    let dev = state.config.dev_webhooks;
    let url = egress::parse_url(url, dev)?;
    let addr = egress::resolve(&url, dev).await?;
    Ok((url, addr))
}

/// POST the signed body to the checked address of the hook's host, following no redirect;
/// (status, error code). Errors are fixed codes: the log is the tenant's to read, and socket or
/// resolver messages would tell them about the operator's network.
async fn send(
    state: &AppState,
    hook: &WebhookRow,
    secrets: &[String],
    body: &str,
) -> (Option<i64>, Option<String>) {
    let (url, addr) = match check_target(state, &hook.url).await {
        Ok(t) => t,
        Err(e) => return (None, Some(e.log_code().to_string())),
    };
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(
            crate::params::WEBHOOK_TIMEOUT_MS,
        ))
        .redirect(reqwest::redirect::Policy::none())
        .resolve(url.host_str().unwrap_or_default(), addr)
        .build();
    let Ok(client) = client else {
        return (None, Some("request_failed".into()));
    };
    let sig = sign(secrets, state.now(), body.as_bytes());
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header(SIGNATURE_HEADER, sig)
        .body(body.to_string())
        .send()
        .await;
    match res {
        Ok(r) => (Some(i64::from(r.status().as_u16())), None),
        Err(e) if e.is_timeout() => (None, Some("timeout".into())),
        Err(e) if e.is_connect() => (None, Some("connect_failed".into())),
        Err(_) => (None, Some("request_failed".into())),
    }
}

/// The service's delivery worker: makes due deliveries every `every` (retries, and deliveries
/// left from before a restart).
pub fn spawn_worker(state: AppState, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let now = state.now();
            while run_due(&state, now).await as i64 >= BATCH {}
        }
    })
}

/// Wait for the first attempts started by [`dispatch`] so far (graceful shutdown: what is left
/// stays queued for the next start).
pub async fn wait_in_flight(state: &AppState) {
    let handles: Vec<_> = state
        .webhook_tasks
        .lock()
        .map(|mut t| std::mem::take(&mut *t))
        .unwrap_or_default();
    for h in handles {
        let _ = h.await;
    }
}

/// Deliver everything queued now, without waiting for the schedule (tests, benchmarks): the
/// attempts in flight, then each remaining attempt after the configured back-off.
pub async fn drain(state: &AppState) {
    wait_in_flight(state).await;
    let mut delay = state.config.webhook_backoff_ms;
    while state.store.pending_deliveries().await.unwrap_or(0) > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
        if run_due(state, i64::MAX).await == 0 {
            // Held by another worker's lease: give it time.
            delay = delay.saturating_mul(2).min(1000);
        }
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
