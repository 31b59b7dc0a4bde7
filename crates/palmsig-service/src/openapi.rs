//! The OpenAPI 3.1 document served at `/openapi.json`: every route of [`crate::app`] with its
//! summary, security, path parameters, and for the main endpoints the request and response body
//! schemas (hand-written here; a unit test checks that every route of the router is documented).
use serde_json::{json, Map, Value};

/// One documented operation: method, path, summary, security scheme ("" for none).
struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    auth: &'static str,
}

const fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    auth: &'static str,
) -> Op {
    Op {
        method,
        path,
        summary,
        auth,
    }
}

/// Bodies of the main operations: (method, path, request schema or "", success status,
/// response schema or ""). Names refer to [`schemas`].
const BODIES: &[(&str, &str, &str, u16, &str)] = &[
    ("post", "/v1/admin/tenants", "NewTenant", 201, "Tenant"),
    ("get", "/v1/admin/tenants", "", 200, "TenantPage"),
    (
        "post",
        "/v1/admin/tenants/{id}/clients",
        "NewClient",
        201,
        "ClientCredentials",
    ),
    (
        "post",
        "/v1/admin/clients/{id}/revoke",
        "",
        200,
        "ClientRevoked",
    ),
    (
        "post",
        "/v1/oauth/token",
        "TokenRequest",
        200,
        "TokenResponse",
    ),
    ("post", "/v1/sites", "NewSite", 201, "Site"),
    ("get", "/v1/sites", "", 200, "SitePage"),
    ("post", "/v1/devices", "NewDevice", 201, "NewDeviceResponse"),
    ("get", "/v1/devices", "", 200, "DevicePage"),
    ("get", "/v1/devices/{id}", "", 200, "Device"),
    ("post", "/v1/devices/{id}/revoke", "", 200, "Device"),
    ("post", "/v1/clients/{id}/revoke", "", 200, "ClientRevoked"),
    (
        "post",
        "/v1/webhooks",
        "NewWebhook",
        201,
        "NewWebhookResponse",
    ),
    ("get", "/v1/events", "", 200, "EventPage"),
    ("post", "/v1/devices/activate", "Activate", 200, "Activated"),
    (
        "post",
        "/v1/device/heartbeat",
        "Heartbeat",
        200,
        "HeartbeatResponse",
    ),
    (
        "post",
        "/v1/device/enrolments",
        "StartEnrolment",
        201,
        "EnrolmentStarted",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/verify",
        "Code",
        200,
        "EnrolmentVerified",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/card",
        "NewCard",
        201,
        "Card",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/consents",
        "Consents",
        200,
        "ConsentsResponse",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/attributes",
        "Attributes",
        200,
        "",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/captures",
        "Capture",
        200,
        "CaptureAccepted",
    ),
    (
        "post",
        "/v1/device/enrolments/{id}/complete",
        "",
        200,
        "EnrolmentComplete",
    ),
    (
        "post",
        "/v1/device/identify",
        "IdentifyRequest",
        200,
        "IdentifyResult",
    ),
    ("post", "/v1/portal/otp", "PhoneOnly", 202, ""),
    ("post", "/v1/portal/session", "Login", 200, ""),
    ("get", "/v1/me/history", "", 200, "EventPage"),
    ("post", "/v1/me/cards", "NewCard", 201, "Card"),
    ("put", "/v1/me/consents", "Consents", 200, ""),
];

fn obj(required: &[&str], props: Value) -> Value {
    json!({"type": "object", "required": required, "properties": props})
}

fn page_of(item: &str) -> Value {
    obj(
        &["data", "next_cursor"],
        json!({"data": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
               "next_cursor": {"type": ["string", "null"], "description": "pass as ?cursor= for the next page"}}),
    )
}

/// The body schemas.
fn schemas() -> Map<String, Value> {
    let s = |t: &str| json!({"type": t});
    let ms = || json!({"type": "integer", "description": "Unix time, ms"});
    let opt_s = || json!({"type": ["string", "null"]});
    let capture_props = json!({
        "hand": {"type": "string", "enum": ["left", "right"]},
        "visible": {"type": "string", "contentEncoding": "base64", "description": "visible-light image file (PNG, JPEG, BMP, TIFF)"},
        "nir": {"type": "string", "contentEncoding": "base64", "description": "near-infrared image file of the same presentation"},
    });
    let mut identify_props = capture_props.clone();
    identify_props["purpose"] =
        json!({"type": "string", "enum": ["payment", "entry", "loyalty", "age"]});
    identify_props["amount"] =
        json!({"type": "integer", "minimum": 1, "description": "payment: minor units"});
    identify_props["currency"] =
        json!({"type": "string", "pattern": "^[A-Za-z]{3}$", "description": "payment: ISO 4217"});
    identify_props["door"] =
        json!({"type": "string", "maxLength": 64, "description": "entry: door or turnstile"});
    let consents = json!({"type": "object", "additionalProperties": false, "properties": {
        "payment": s("boolean"), "entry": s("boolean"), "loyalty": s("boolean"), "age": s("boolean")}});
    let device = obj(
        &[
            "id",
            "tenant_id",
            "site_id",
            "name",
            "activated",
            "revoked",
            "created_ms",
        ],
        json!({"id": s("string"), "tenant_id": s("string"), "site_id": s("string"), "name": s("string"),
               "activated": s("boolean"), "activated_ms": {"type": ["integer", "null"]},
               "last_seen_ms": {"type": ["integer", "null"]}, "version": opt_s(),
               "revoked": s("boolean"), "revoked_ms": {"type": ["integer", "null"]}, "created_ms": ms()}),
    );
    let mut new_device = device.clone();
    new_device["properties"]["activation_code"] =
        json!({"type": "string", "description": "12 digits, single use, shown once"});
    new_device["properties"]["activation_expires_ms"] = ms();
    let card = obj(
        &["token", "brand", "last4"],
        json!({"token": s("string"), "brand": s("string"), "last4": s("string"),
               "exp_month": s("integer"), "exp_year": s("integer")}),
    );
    let event = obj(
        &["id", "type", "created_ms", "data"],
        json!({"id": s("string"), "type": {"type": "string", "description": "identification.<purpose>"},
               "created_ms": ms(),
               "data": obj(&["purpose", "outcome"], json!({"purpose": s("string"), "outcome": s("string"),
                   "device_id": opt_s(), "site_id": opt_s(), "detail": s("object")}))}),
    );
    let mut m = Map::new();
    m.insert("Error".into(), obj(&["error"], json!({"error": obj(&["code", "message"], json!({"code": s("string"), "message": s("string")}))})));
    m.insert(
        "NewTenant".into(),
        obj(
            &["name"],
            json!({"name": {"type": "string", "minLength": 1, "maxLength": 200}}),
        ),
    );
    m.insert(
        "Tenant".into(),
        obj(
            &["id", "name", "created_ms"],
            json!({"id": s("string"), "name": s("string"), "created_ms": ms()}),
        ),
    );
    m.insert("TenantPage".into(), page_of("Tenant"));
    m.insert("NewClient".into(), obj(&[], json!({"scopes": {"type": "array", "items": {"type": "string", "enum": crate::api_scopes()}}})));
    m.insert("ClientCredentials".into(), obj(&["client_id", "client_secret", "tenant_id", "scopes"], json!({
            "client_id": s("string"), "client_secret": {"type": "string", "description": "shown once"},
            "tenant_id": s("string"), "scopes": {"type": "array", "items": s("string")}})));
    m.insert(
        "ClientRevoked".into(),
        obj(
            &["client_id", "revoked"],
            json!({"client_id": s("string"), "tenant_id": s("string"),
            "revoked": s("boolean"), "revoked_ms": ms()}),
        ),
    );
    m.insert("TokenRequest".into(), obj(&["grant_type"], json!({"grant_type": {"const": "client_credentials"},
            "client_id": s("string"), "client_secret": s("string"), "scope": {"type": "string", "description": "space-separated subset"}})));
    m.insert("TokenResponse".into(), obj(&["access_token", "token_type", "expires_in", "scope"], json!({
            "access_token": s("string"), "token_type": {"const": "Bearer"}, "expires_in": s("integer"), "scope": s("string")})));
    m.insert(
        "NewSite".into(),
        obj(
            &["name"],
            json!({"name": {"type": "string", "minLength": 1, "maxLength": 200}}),
        ),
    );
    m.insert("Site".into(), obj(&["id", "tenant_id", "name", "created_ms"], json!({"id": s("string"), "tenant_id": s("string"), "name": s("string"), "created_ms": ms()})));
    m.insert("SitePage".into(), page_of("Site"));
    m.insert("NewDevice".into(), obj(&["site_id", "name"], json!({"site_id": s("string"), "name": {"type": "string", "minLength": 1, "maxLength": 200}})));
    m.insert("Device".into(), device);
    m.insert("NewDeviceResponse".into(), new_device);
    m.insert("DevicePage".into(), page_of("Device"));
    m.insert(
        "NewWebhook".into(),
        obj(
            &["url"],
            json!({"url": {"type": "string", "format": "uri"}}),
        ),
    );
    m.insert("NewWebhookResponse".into(), obj(&["id", "url", "secret"], json!({"id": s("string"), "url": s("string"),
            "active_secrets": s("integer"), "created_ms": ms(), "secret": {"type": "string", "description": "HMAC-SHA256 signing secret, shown once"}})));
    m.insert("Event".into(), event);
    m.insert("EventPage".into(), page_of("Event"));
    m.insert("Activate".into(), obj(&["activation_code", "public_key"], json!({"activation_code": s("string"),
            "public_key": {"type": "string", "contentEncoding": "base64", "description": "Ed25519 public key, 32 bytes"}, "version": s("string")})));
    m.insert(
        "Activated".into(),
        obj(
            &["device_id", "tenant_id", "site_id"],
            json!({"device_id": s("string"), "tenant_id": s("string"), "site_id": s("string")}),
        ),
    );
    m.insert(
        "Heartbeat".into(),
        obj(&[], json!({"version": {"type": "string", "maxLength": 64}})),
    );
    m.insert(
        "HeartbeatResponse".into(),
        obj(
            &["device_id", "server_time_ms"],
            json!({"device_id": s("string"), "server_time_ms": ms()}),
        ),
    );
    m.insert(
        "StartEnrolment".into(),
        obj(
            &["phone"],
            json!({"phone": {"type": "string", "description": "E.164, e.g. +41791234567"}}),
        ),
    );
    m.insert(
        "PhoneOnly".into(),
        obj(
            &["phone"],
            json!({"phone": {"type": "string", "description": "E.164"}}),
        ),
    );
    m.insert(
        "Login".into(),
        obj(
            &["phone", "code"],
            json!({"phone": s("string"), "code": s("string")}),
        ),
    );
    m.insert(
        "EnrolmentStarted".into(),
        obj(
            &["enrolment_id", "expires_ms"],
            json!({"enrolment_id": s("string"), "expires_ms": ms()}),
        ),
    );
    m.insert("Code".into(), obj(&["code"], json!({"code": {"type": "string", "description": "the one-time code sent to the phone"}})));
    m.insert(
        "EnrolmentVerified".into(),
        obj(
            &["enrolment_id", "verified"],
            json!({"enrolment_id": s("string"), "verified": s("boolean")}),
        ),
    );
    m.insert("NewCard".into(), obj(&["number", "exp_month", "exp_year"], json!({"number": {"type": "string", "description": "PAN (Luhn-checked; vaulted, never returned)"},
            "exp_month": {"type": "integer", "minimum": 1, "maximum": 12}, "exp_year": s("integer")})));
    m.insert("Card".into(), card);
    m.insert("Consents".into(), consents);
    m.insert(
        "ConsentsResponse".into(),
        obj(
            &["consents"],
            json!({"consents": {"type": "object", "additionalProperties": s("boolean")}}),
        ),
    );
    m.insert("Attributes".into(), obj(&[], json!({"birth_date": {"type": "string", "format": "date"},
            "badge_number": {"type": "string", "maxLength": 64}, "loyalty_id": {"type": "string", "maxLength": 64}})));
    m.insert("Capture".into(), obj(&["hand"], capture_props));
    m.insert(
        "CaptureAccepted".into(),
        obj(
            &["hand", "captures", "needed"],
            json!({"hand": s("string"), "captures": s("integer"), "needed": s("integer")}),
        ),
    );
    m.insert("EnrolmentComplete".into(), obj(&["enrolment_id", "enrolled"], json!({"enrolment_id": s("string"),
            "enrolled": {"type": "array", "items": obj(&["hand", "captures"], json!({"hand": s("string"), "captures": s("integer")}))}})));
    m.insert("IdentifyRequest".into(), obj(&["purpose"], identify_props));
    m.insert("IdentifyResult".into(), obj(&["event_id", "purpose", "outcome", "matched"], json!({
            "event_id": s("string"), "purpose": s("string"),
            "outcome": {"type": "string", "enum": ["no_match", "no_consent", "authorized", "declined", "granted", "denied", "linked", "not_linked", "verified", "not_verified"]},
            "matched": s("boolean"), "amount": s("integer"), "currency": s("string"),
            "card": obj(&[], json!({"token": s("string"), "brand": s("string"), "last4": s("string")})),
            "authorization_id": s("string"), "reason": s("string"), "badge_number": s("string"),
            "loyalty_id": s("string"), "over_18": s("boolean"), "over_21": s("boolean"), "door": s("string")})));
    m
}

const OPS: &[Op] = &[
    op("get", "/healthz", "Liveness", ""),
    op("get", "/readyz", "Readiness (database reachable)", ""),
    op("get", "/metrics", "Prometheus metrics", "operator"),
    op("get", "/openapi.json", "This OpenAPI document", ""),
    op("post", "/v1/admin/tenants", "Create a tenant", "operator"),
    op(
        "get",
        "/v1/admin/tenants",
        "List tenants (paginated)",
        "operator",
    ),
    op(
        "post",
        "/v1/admin/tenants/{id}/clients",
        "Create an API client (client credentials) for a tenant",
        "operator",
    ),
    op(
        "post",
        "/v1/admin/clients/{id}/revoke",
        "Revoke an API client: its tokens stop working",
        "operator",
    ),
    op(
        "get",
        "/v1/admin/audit",
        "Global audit log (paginated)",
        "operator",
    ),
    op(
        "post",
        "/v1/admin/retention/run",
        "Run the retention job now",
        "operator",
    ),
    op(
        "post",
        "/v1/oauth/token",
        "OAuth2 client-credentials token",
        "",
    ),
    op("post", "/v1/sites", "Create a site (scope sites)", "bearer"),
    op("get", "/v1/sites", "List sites (paginated)", "bearer"),
    op(
        "post",
        "/v1/devices",
        "Create a device; returns a one-time activation code (scope devices)",
        "bearer",
    ),
    op(
        "get",
        "/v1/devices",
        "List devices with health: last seen, version (paginated)",
        "bearer",
    ),
    op("get", "/v1/devices/{id}", "One device", "bearer"),
    op(
        "post",
        "/v1/devices/{id}/revoke",
        "Revoke a device: its signed requests are refused from now on (scope devices)",
        "bearer",
    ),
    op(
        "post",
        "/v1/clients/{id}/revoke",
        "Revoke one of the tenant's API clients: its tokens stop working (scope clients)",
        "bearer",
    ),
    op(
        "post",
        "/v1/webhooks",
        "Create a webhook endpoint; returns its signing secret (scope webhooks)",
        "bearer",
    ),
    op("get", "/v1/webhooks", "List webhook endpoints", "bearer"),
    op(
        "post",
        "/v1/webhooks/{id}/rotate",
        "Add a signing secret, or expire the old ones",
        "bearer",
    ),
    op(
        "get",
        "/v1/webhooks/deliveries",
        "Webhook delivery log (paginated)",
        "bearer",
    ),
    op(
        "get",
        "/v1/events",
        "The tenant's identification events (paginated, scope events)",
        "bearer",
    ),
    op(
        "get",
        "/v1/audit",
        "The tenant's audit log (paginated, scope audit)",
        "bearer",
    ),
    op(
        "post",
        "/v1/devices/activate",
        "Activate a device with its one-time code and Ed25519 public key",
        "",
    ),
    op(
        "post",
        "/v1/device/heartbeat",
        "Device heartbeat (version)",
        "device",
    ),
    op(
        "post",
        "/v1/device/enrolments",
        "Start an enrolment: phone number; a code is sent",
        "device",
    ),
    op(
        "post",
        "/v1/device/enrolments/{id}/verify",
        "Confirm the phone code",
        "device",
    ),
    op(
        "post",
        "/v1/device/enrolments/{id}/card",
        "Add a card (PAN validated, vaulted)",
        "device",
    ),
    op(
        "post",
        "/v1/device/enrolments/{id}/consents",
        "Consent per purpose",
        "device",
    ),
    op(
        "post",
        "/v1/device/enrolments/{id}/attributes",
        "Staff-verified birth date, badge number, loyalty id",
        "device",
    ),
    op(
        "post",
        "/v1/device/enrolments/{id}/captures",
        "One capture of a hand through the quality gate (422 with reason)",
        "device",
    ),
    op(
        "post",
        "/v1/device/enrolments/{id}/complete",
        "Duplicate check, seal and store the palm(s)",
        "device",
    ),
    op(
        "post",
        "/v1/device/identify",
        "Identify a palm for payment, entry, loyalty or age (Idempotency-Key)",
        "device",
    ),
    op("post", "/v1/portal/otp", "Send a login code to a phone", ""),
    op(
        "post",
        "/v1/portal/session",
        "Log in with phone and code (sets the session cookie)",
        "",
    ),
    op("delete", "/v1/portal/session", "Log out", "cookie"),
    op(
        "get",
        "/v1/me",
        "The person: palms, cards (token, brand, last 4), consents, loyalty",
        "cookie",
    ),
    op("delete", "/v1/me", "Delete the account", "cookie"),
    op(
        "get",
        "/v1/me/history",
        "Usage history (paginated)",
        "cookie",
    ),
    op("post", "/v1/me/cards", "Add a card", "cookie"),
    op(
        "delete",
        "/v1/me/cards/{token}",
        "Remove a card (its key is shredded)",
        "cookie",
    ),
    op(
        "post",
        "/v1/me/cards/{token}/default",
        "Make a card the default",
        "cookie",
    ),
    op(
        "put",
        "/v1/me/consents",
        "Set consents per purpose",
        "cookie",
    ),
    op(
        "put",
        "/v1/me/loyalty/{tenant_id}",
        "Link a loyalty id at a tenant",
        "cookie",
    ),
    op("delete", "/v1/me/loyalty/{tenant_id}", "Unlink", "cookie"),
    op(
        "delete",
        "/v1/me/palms",
        "Delete palm data now (template destroyed, index updated, key shredded)",
        "cookie",
    ),
    op(
        "get",
        "/v1/dev/outbox",
        "Dev outbox of one-time codes (`serve --dev` on loopback only)",
        "operator",
    ),
];

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for Op {
        method,
        path,
        summary,
        auth,
    } in OPS
    {
        let body = BODIES.iter().find(|b| b.0 == *method && b.1 == *path);
        let (status, resp) = body.map(|b| (b.3, b.4)).unwrap_or((200, ""));
        let mut ok = json!({"description": "OK"});
        if !resp.is_empty() {
            ok["content"] = json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{resp}")}}});
        }
        let mut op = json!({
            "summary": summary,
            "responses": {
                status.to_string(): ok,
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if let Some(req) = body.map(|b| b.2).filter(|r| !r.is_empty()) {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{req}")}}}});
        }
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
    let scopes: Map<String, Value> = crate::api_scopes()
        .into_iter()
        .map(|s| (s.to_string(), json!(s)))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {"title": "palmsig service", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "operator": {"type": "http", "scheme": "bearer"},
                "bearer": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "/v1/oauth/token", "scopes": scopes}}},
                "device": {"type": "apiKey", "in": "header", "name": "x-palmsig-signature",
                    "description": "Ed25519 over METHOD\\nPATH\\nTIMESTAMP_MS\\nNONCE\\nhex(sha256(body)) with x-palmsig-device, x-palmsig-timestamp, x-palmsig-nonce"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "palmsig_session"}
            },
            "schemas": schemas()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (method, path) of every `.route(…)` in the router's source: the router cannot list its
    /// routes, so the test reads the one place they are declared.
    fn routed() -> Vec<(String, String)> {
        let src = include_str!("api/mod.rs");
        let mut out = Vec::new();
        for chunk in src.split(".route(").skip(1) {
            // The call's text up to its closing parenthesis.
            let mut depth = 1;
            let end = chunk
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap_or(chunk.len());
            let call = &chunk[..end];
            let path = call.split('"').nth(1).unwrap_or_default().to_string();
            let rest = &call[call.find(',').unwrap_or(0)..];
            for m in ["get", "post", "put", "delete", "patch"] {
                // `get(`, `.get(`, ` get(` — a method router, not e.g. `forget(`.
                let hit = rest.match_indices(&format!("{m}(")).any(|(i, _)| {
                    i == 0
                        || !rest.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && rest.as_bytes()[i - 1] != b'_'
                });
                if hit {
                    out.push((m.to_string(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_every_operation_routed() {
        let routes = routed();
        assert!(
            routes.len() > 40,
            "parsed {} routes: {routes:?}",
            routes.len()
        );
        assert!(routes.contains(&("post".into(), "/v1/device/identify".into())));
        let doc = document();
        for (m, p) in &routes {
            assert!(
                doc["paths"][p][m].is_object(),
                "{} {p} is routed but not in /openapi.json",
                m.to_uppercase()
            );
        }
        for o in OPS {
            assert!(
                routes.iter().any(|(m, p)| m == o.method && p == o.path),
                "{} {} is documented but not routed",
                o.method,
                o.path
            );
        }
    }

    #[test]
    fn bodies_refer_to_documented_operations_and_schemas() {
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        for (m, p, req, status, resp) in BODIES {
            let op = &doc["paths"][*p][*m];
            assert!(op.is_object(), "{m} {p}");
            assert!(op["responses"][status.to_string()].is_object(), "{m} {p}");
            for name in [req, resp].into_iter().filter(|n| !n.is_empty()) {
                assert!(schemas[*name].is_object(), "{m} {p}: schema {name} missing");
            }
        }
        // Every reference anywhere in the document resolves.
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 40);
        for r in all {
            let name = r.strip_prefix("#/components/schemas/").expect("local ref");
            assert!(schemas[name].is_object(), "dangling $ref {r}");
        }
        let identify = &doc["paths"]["/v1/device/identify"]["post"];
        assert_eq!(
            identify["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/IdentifyRequest"
        );
    }
}
