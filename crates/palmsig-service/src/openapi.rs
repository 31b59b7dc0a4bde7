//! The OpenAPI 3.1 document served at `/openapi.json`.
use serde_json::{json, Map, Value};

/// (method, path, summary, security scheme or "" for none).
const OPS: &[(&str, &str, &str, &str)] = &[
    ("get", "/healthz", "Liveness", ""),
    ("get", "/readyz", "Readiness (database reachable)", ""),
    ("get", "/metrics", "Prometheus metrics", ""),
    ("post", "/v1/admin/tenants", "Create a tenant", "operator"),
    (
        "get",
        "/v1/admin/tenants",
        "List tenants (paginated)",
        "operator",
    ),
    (
        "post",
        "/v1/admin/tenants/{id}/clients",
        "Create an API client (client credentials) for a tenant",
        "operator",
    ),
    (
        "get",
        "/v1/admin/audit",
        "Global audit log (paginated)",
        "operator",
    ),
    (
        "post",
        "/v1/admin/retention/run",
        "Run the retention job now",
        "operator",
    ),
    (
        "post",
        "/v1/oauth/token",
        "OAuth2 client-credentials token",
        "",
    ),
    ("post", "/v1/sites", "Create a site (scope sites)", "bearer"),
    ("get", "/v1/sites", "List sites (paginated)", "bearer"),
    (
        "post",
        "/v1/devices",
        "Create a device; returns a one-time activation code (scope devices)",
        "bearer",
    ),
    (
        "get",
        "/v1/devices",
        "List devices with health: last seen, version (paginated)",
        "bearer",
    ),
    ("get", "/v1/devices/{id}", "One device", "bearer"),
    (
        "post",
        "/v1/webhooks",
        "Create a webhook endpoint; returns its signing secret (scope webhooks)",
        "bearer",
    ),
    ("get", "/v1/webhooks", "List webhook endpoints", "bearer"),
    (
        "post",
        "/v1/webhooks/{id}/rotate",
        "Add a signing secret, or expire the old ones",
        "bearer",
    ),
    (
        "get",
        "/v1/webhooks/deliveries",
        "Webhook delivery log (paginated)",
        "bearer",
    ),
    (
        "get",
        "/v1/events",
        "The tenant's identification events (paginated, scope events)",
        "bearer",
    ),
    (
        "get",
        "/v1/audit",
        "The tenant's audit log (paginated, scope audit)",
        "bearer",
    ),
    (
        "post",
        "/v1/devices/activate",
        "Activate a device with its one-time code and Ed25519 public key",
        "",
    ),
    (
        "post",
        "/v1/device/heartbeat",
        "Device heartbeat (version)",
        "device",
    ),
    (
        "post",
        "/v1/device/enrolments",
        "Start an enrolment: phone number; a code is sent",
        "device",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/verify",
        "Confirm the phone code",
        "device",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/card",
        "Add a card (PAN validated, vaulted)",
        "device",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/consents",
        "Consent per purpose",
        "device",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/attributes",
        "Staff-verified birth date, badge number, loyalty id",
        "device",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/captures",
        "One capture of a hand through the quality gate (422 with reason)",
        "device",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/complete",
        "Duplicate check, seal and store the palm(s)",
        "device",
    ),
    (
        "post",
        "/v1/device/identify",
        "Identify a palm for payment, entry, loyalty or age (Idempotency-Key)",
        "device",
    ),
    ("post", "/v1/portal/otp", "Send a login code to a phone", ""),
    (
        "post",
        "/v1/portal/session",
        "Log in with phone and code (sets the session cookie)",
        "",
    ),
    ("delete", "/v1/portal/session", "Log out", "cookie"),
    (
        "get",
        "/v1/me",
        "The person: palms, cards (token, brand, last 4), consents, loyalty",
        "cookie",
    ),
    ("delete", "/v1/me", "Delete the account", "cookie"),
    (
        "get",
        "/v1/me/history",
        "Usage history (paginated)",
        "cookie",
    ),
    ("post", "/v1/me/cards", "Add a card", "cookie"),
    (
        "delete",
        "/v1/me/cards/{token}",
        "Remove a card (its key is shredded)",
        "cookie",
    ),
    (
        "post",
        "/v1/me/cards/{token}/default",
        "Make a card the default",
        "cookie",
    ),
    (
        "put",
        "/v1/me/consents",
        "Set consents per purpose",
        "cookie",
    ),
    (
        "put",
        "/v1/me/loyalty/{tenant_id}",
        "Link a loyalty id at a tenant",
        "cookie",
    ),
    ("delete", "/v1/me/loyalty/{tenant_id}", "Unlink", "cookie"),
    (
        "delete",
        "/v1/me/palms",
        "Delete palm data now (template destroyed, index updated, key shredded)",
        "cookie",
    ),
    (
        "get",
        "/v1/dev/outbox",
        "Dev outbox of one-time codes (local development only)",
        "",
    ),
];

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (method, path, summary, auth) in OPS {
        let mut op = json!({
            "summary": summary,
            "responses": {
                "200": {"description": "OK"},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if !auth.is_empty() {
            op["security"] = json!([{ *auth: [] }]);
        }
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        if !params.is_empty() {
            op["parameters"] = json!(params);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "palmsig service", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "operator": {"type": "http", "scheme": "bearer"},
                "bearer": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/v1/oauth/token", "scopes": {
                    "sites": "sites", "devices": "devices", "webhooks": "webhooks", "events": "events", "audit": "audit"}}}},
                "device": {"type": "apiKey", "in": "header", "name": "x-palmsig-signature",
                    "description": "Ed25519 over METHOD\\nPATH\\nTIMESTAMP_MS\\nNONCE\\nhex(sha256(body)) with x-palmsig-device, x-palmsig-timestamp, x-palmsig-nonce"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "palmsig_session"}
            },
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
                    "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
            }
        }
    })
}
