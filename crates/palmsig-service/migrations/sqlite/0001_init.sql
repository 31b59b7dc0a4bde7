-- palmsig service schema. Kept in lockstep with ../postgres/0001_init.sql: the two files differ only
-- in the binary column type (BLOB here, BYTEA there); a unit test enforces it.
-- Times are Unix milliseconds (BIGINT); ids are opaque text.

CREATE TABLE tenants (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE api_clients (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);

CREATE TABLE sites (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX sites_tenant ON sites(tenant_id, created_ms);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    site_id TEXT NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    activation_hash TEXT UNIQUE,
    activation_expires_ms BIGINT NOT NULL,
    public_key BLOB,
    activated_ms BIGINT,
    last_seen_ms BIGINT,
    version TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX devices_tenant ON devices(tenant_id, created_ms);

CREATE TABLE nonces (
    device_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    ts_ms BIGINT NOT NULL,
    PRIMARY KEY (device_id, nonce)
);
CREATE INDEX nonces_ts ON nonces(ts_ms);

CREATE TABLE persons (
    id TEXT PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE,
    birth_date TEXT,
    created_ms BIGINT NOT NULL
);

CREATE TABLE otps (
    phone TEXT PRIMARY KEY,
    code_hash TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    attempts BIGINT NOT NULL
);

CREATE TABLE data_keys (
    id TEXT PRIMARY KEY,
    kek_id TEXT NOT NULL,
    wrapped BLOB NOT NULL
);

CREATE TABLE palms (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    hand TEXT NOT NULL,
    ciphertext BLOB NOT NULL,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT NOT NULL,
    UNIQUE (person_id, hand)
);
CREATE INDEX palms_last_used ON palms(last_used_ms);

CREATE TABLE cards (
    token TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    brand TEXT NOT NULL,
    last4 TEXT NOT NULL,
    exp_month BIGINT NOT NULL,
    exp_year BIGINT NOT NULL,
    ciphertext BLOB NOT NULL,
    is_default BOOLEAN NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX cards_person ON cards(person_id);

CREATE TABLE consents (
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    updated_ms BIGINT NOT NULL,
    PRIMARY KEY (person_id, purpose)
);

CREATE TABLE loyalty_links (
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    loyalty_id TEXT NOT NULL,
    PRIMARY KEY (person_id, tenant_id)
);

CREATE TABLE badges (
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    number TEXT NOT NULL,
    PRIMARY KEY (person_id, tenant_id)
);

CREATE TABLE events (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    person_id TEXT,
    device_id TEXT,
    site_id TEXT,
    purpose TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX events_tenant ON events(tenant_id, created_ms);
CREATE INDEX events_person ON events(person_id, created_ms);

CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT,
    body TEXT,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secrets TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    attempt BIGINT NOT NULL,
    status_code BIGINT,
    ok BOOLEAN NOT NULL,
    error TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX deliveries_tenant ON deliveries(tenant_id, created_ms);

CREATE TABLE audit (
    id TEXT PRIMARY KEY,
    ts_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    tenant_id TEXT,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_ts ON audit(ts_ms);

CREATE TABLE portal_sessions (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES persons(id) ON DELETE CASCADE,
    expires_ms BIGINT NOT NULL
);
