-- Webhook deliveries still to be made: a durable outbox, so retries survive a restart. A row is
-- removed once delivered or out of attempts (every attempt is logged in `deliveries`). Kept in
-- lockstep with the other backend's file of the same name.

CREATE TABLE webhook_outbox (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_ms);
