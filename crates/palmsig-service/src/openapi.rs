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
    ("delete", "/v1/portal/session", "", 204, ""),
    ("delete", "/v1/me", "", 204, ""),
    ("delete", "/v1/me/cards/{token}", "", 204, ""),
    ("delete", "/v1/me/loyalty/{tenant_id}", "", 204, ""),
];

/// E.164 as the API accepts it: `+`, 8 to 15 digits (the first not 0), spaces, dots, dashes and
/// parentheses between them.
pub const PHONE_PATTERN: &str = r"^ *\+[ ().-]*[1-9]([ ().-]*[0-9]){7,14}[ ().-]* *$";
/// A name: at least one character that is not a space (and, like every text, no control
/// character).
pub const NAME_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
/// A 32-byte key in canonical padded base64.
pub const KEY32_PATTERN: &str = r"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$";
/// Any text field: no control character (refused with 422 `invalid_text`).
pub const TEXT_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";

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
    let name =
        || json!({"type": "string", "minLength": 1, "maxLength": 200, "pattern": NAME_PATTERN});
    let phone = || json!({"type": "string", "pattern": PHONE_PATTERN, "description": "E.164, e.g. +41791234567"});
    let capture_props = json!({
        "hand": {"type": "string", "enum": ["left", "right"]},
        "visible": {"type": "string", "contentEncoding": "base64", "description": "visible-light image file (PNG, JPEG, BMP, TIFF)"},
        "nir": {"type": "string", "contentEncoding": "base64", "description": "near-infrared image file of the same presentation"},
    });
    let mut identify_props = capture_props.clone();
    identify_props["purpose"] =
        json!({"type": "string", "enum": ["payment", "entry", "loyalty", "age"]});
    identify_props["amount"] = json!({"type": "integer", "minimum": 1,
        "maximum": crate::params::MAX_PAYMENT_MINOR, "description": "payment: minor units"});
    identify_props["currency"] = json!({"type": "string", "enum": crate::currency::CODES.as_slice(),
        "description": "payment: an active ISO 4217 code (any case)"});
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
    m.insert("NewTenant".into(), obj(&["name"], json!({"name": name()})));
    m.insert(
        "Tenant".into(),
        obj(
            &["id", "name", "created_ms"],
            json!({"id": s("string"), "name": s("string"), "created_ms": ms()}),
        ),
    );
    m.insert("TenantPage".into(), page_of("Tenant"));
    m.insert("NewClient".into(), obj(&[], json!({"scopes": {"type": ["array", "null"], "items": {"type": "string", "enum": crate::api_scopes()},
            "description": "default (absent or null): every scope"}})));
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
    m.insert("NewSite".into(), obj(&["name"], json!({"name": name()})));
    m.insert("Site".into(), obj(&["id", "tenant_id", "name", "created_ms"], json!({"id": s("string"), "tenant_id": s("string"), "name": s("string"), "created_ms": ms()})));
    m.insert("SitePage".into(), page_of("Site"));
    m.insert(
        "NewDevice".into(),
        obj(
            &["site_id", "name"],
            json!({"site_id": s("string"), "name": name()}),
        ),
    );
    m.insert("Device".into(), device);
    m.insert("NewDeviceResponse".into(), new_device);
    m.insert("DevicePage".into(), page_of("Device"));
    m.insert(
        "NewWebhook".into(),
        obj(
            &["url"],
            json!({"url": {"type": "string", "format": "uri", "pattern": "^https://",
                "description": "https (dev mode also takes http); its host must not be, or resolve to, a loopback, private, link-local, shared or reserved address (checked again at each delivery)"}}),
        ),
    );
    m.insert("NewWebhookResponse".into(), obj(&["id", "url", "secret"], json!({"id": s("string"), "url": s("string"),
            "active_secrets": s("integer"), "created_ms": ms(), "secret": {"type": "string", "description": "HMAC-SHA256 signing secret, shown once"}})));
    m.insert("Event".into(), event);
    m.insert("EventPage".into(), page_of("Event"));
    m.insert(
        "Activate".into(),
        obj(
            &["activation_code", "public_key"],
            json!({"activation_code": s("string"),
            "public_key": {"type": "string", "pattern": KEY32_PATTERN, "contentEncoding": "base64",
                "description": "Ed25519 public key (32 bytes, a valid curve point), base64"},
            "version": {"type": "string", "maxLength": 64}}),
        ),
    );
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
        obj(&["phone"], json!({ "phone": phone() })),
    );
    m.insert(
        "PhoneOnly".into(),
        obj(&["phone"], json!({ "phone": phone() })),
    );
    m.insert(
        "Login".into(),
        obj(
            &["phone", "code"],
            json!({"phone": phone(), "code": s("string")}),
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
    // Without a session cookie there is nothing to end: 204 all the same.
    op("delete", "/v1/portal/session", "Log out", ""),
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

/// The error answers an operation can give (the one error shape), by what it does: every code
/// the service sends is documented.
fn error_responses(method: &str, path: &str, auth: &str, has_body: bool) -> Map<String, Value> {
    let mut codes: Vec<(&str, &str)> = vec![
        ("400", "Malformed request (JSON, query, header)"),
        ("404", "Unknown route or resource"),
        ("405", "Method not allowed"),
        (
            "422",
            "Refused input (typed `code`), e.g. `invalid_text` for a control character",
        ),
        ("500", "Internal error (details are logged, not returned)"),
    ];
    if has_body || method != "get" {
        codes.push(("413", "Body too large"));
        codes.push(("415", "Body not sent as application/json"));
    }
    let signs_in = [
        "/v1/oauth/token",
        "/v1/portal/session",
        "/v1/devices/activate",
    ];
    if !auth.is_empty() || signs_in.contains(&path) || path.starts_with("/v1/device/") {
        codes.push(("401", "Not authenticated"));
    }
    if matches!(auth, "bearer" | "device") || path.starts_with("/v1/device/") {
        codes.push((
            "403",
            "Authenticated, but not allowed (scope, tenant, device)",
        ));
    }
    if !auth.is_empty() || path.starts_with("/v1/portal/") || path.starts_with("/v1/device") {
        codes.push(("429", "Rate or per-phone limit reached (Retry-After)"));
    }
    if path.starts_with("/v1/device/") || path == "/v1/devices/activate" {
        codes.push((
            "409",
            "Conflict with the state (enrolment step, idempotency key)",
        ));
    }
    if path == "/readyz" || path.ends_with("/captures") || path == "/v1/device/identify" {
        codes.push((
            "503",
            "Not ready, or all extraction slots busy (Retry-After)",
        ));
    }
    if path == "/v1/device/enrolments" || path == "/v1/portal/otp" {
        codes.push(("502", "The one-time code could not be sent"));
    }
    let error = json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
    codes
        .into_iter()
        .map(|(c, d)| (c.to_string(), json!({"description": d, "content": error})))
        .collect()
}

/// Every free text field of a request schema gets [`TEXT_PATTERN`]: the service refuses control
/// characters in any string (fields with a pattern, an enum, a constant or a format of their
/// own are left as they are).
fn no_control_chars(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let free = m.get("type") == Some(&json!("string"))
                && !["pattern", "enum", "const", "format"]
                    .iter()
                    .any(|k| m.contains_key(*k));
            if free {
                m.insert("pattern".into(), json!(TEXT_PATTERN));
            }
            m.values_mut().for_each(no_control_chars);
        }
        Value::Array(a) => a.iter_mut().for_each(no_control_chars),
        _ => {}
    }
}

/// Unknown members of a request object are ignored, but, like every text, refused if a key or a
/// string in them holds a control character: documented as such.
fn text_extras(v: &mut Value) {
    let Some(m) = v.as_object_mut() else { return };
    if m.get("type") == Some(&json!("object")) && !m.contains_key("additionalProperties") {
        m.insert(
            "propertyNames".into(),
            json!({"type": "string", "pattern": TEXT_PATTERN}),
        );
        m.insert(
            "additionalProperties".into(),
            json!({"$ref": "#/components/schemas/JsonText"}),
        );
    }
}

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
        let has_body = body.is_some_and(|b| !b.2.is_empty());
        let mut ok = json!({"description": if status == 204 { "No content" } else { "OK" }});
        if !resp.is_empty() {
            ok["content"] = json!({"application/json": {"schema": {"$ref": format!("#/components/schemas/{resp}")}}});
        } else if *path == "/metrics" {
            ok["content"] = json!({"text/plain": {"schema": {"type": "string"}}});
        }
        let mut responses = error_responses(method, path, auth, has_body);
        responses.insert(status.to_string(), ok);
        let mut op = json!({"summary": summary, "responses": responses});
        if let Some(req) = body.map(|b| b.2).filter(|r| !r.is_empty()) {
            // The client scopes default to all: that body may be left out.
            let required = *path != "/v1/admin/tenants/{id}/clients";
            op["requestBody"] = json!({"required": required, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{req}")}}}});
        }
        if !auth.is_empty() {
            op["security"] = json!([{ *auth: [] }]);
        }
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "pattern": TEXT_PATTERN}}))
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
    let mut schemas = schemas();
    for (_, _, req, ..) in BODIES.iter().filter(|b| !b.2.is_empty()) {
        if let Some(v) = schemas.get_mut(*req) {
            no_control_chars(v);
            text_extras(v);
        }
    }
    // Any JSON value whose strings and keys hold no control character.
    let text = json!({"type": "string", "pattern": TEXT_PATTERN});
    schemas.insert("JsonText".into(), json!({"anyOf": [
        {"type": ["null", "boolean", "number"]}, text,
        {"type": "array", "items": {"$ref": "#/components/schemas/JsonText"}},
        {"type": "object", "propertyNames": text, "additionalProperties": {"$ref": "#/components/schemas/JsonText"}}]}));
    let schemas = Value::Object(schemas);
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
            "schemas": schemas
        }
    })
}

#[cfg(test)]
mod tests {
    /// The documented constraints and the service's checks agree on sample inputs (issue 16
    /// row 11): what the schema allows is accepted, what it refuses is refused.
    #[test]
    fn patterns_match_the_checks() {
        let re = |p: &str| regex::Regex::new(p).unwrap();
        let phone = re(PHONE_PATTERN);
        for p in [
            "+41791234567",
            "+1 (415) 555-0100",
            " +44 20 7946 0958 ",
            "",
            " ",
            "+0791234567",
            "+4179",
            "0791234567",
            "+4179x1234567",
            "+1234567890123456",
        ] {
            assert_eq!(
                phone.is_match(p),
                crate::otp::normalize_e164(p).is_some(),
                "{p:?}"
            );
        }
        let name = re(NAME_PATTERN);
        for n in ["Shop", " Café ", "", "   ", "\t", "a\u{0}b", "x\u{85}"] {
            let ok = !n.trim().is_empty() && crate::text::check_str("name", n).is_ok();
            assert_eq!(name.is_match(n), ok, "{n:?}");
        }
        let key = re(KEY32_PATTERN);
        use base64::Engine as _;
        let good = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
        for k in [
            good.as_str(),
            "",
            "not base64",
            "AAAA",
            &good[..43],
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=",
        ] {
            let decodes = base64::engine::general_purpose::STANDARD
                .decode(k)
                .is_ok_and(|b| b.len() == 32);
            assert_eq!(key.is_match(k), decodes, "{k:?}");
        }
        let text = re(TEXT_PATTERN);
        assert!(
            text.is_match("fine, Zürich") && !text.is_match("a\u{0}") && !text.is_match("\u{9f}")
        );
    }

    /// Responses without a body (204) are documented as such; every operation lists its codes.
    #[test]
    fn no_content_and_error_codes_documented() {
        let doc = document();
        for (m, p) in [
            ("delete", "/v1/portal/session"),
            ("delete", "/v1/me"),
            ("delete", "/v1/me/cards/{token}"),
            ("delete", "/v1/me/loyalty/{tenant_id}"),
        ] {
            let r = &doc["paths"][p][m]["responses"];
            assert!(
                r["204"].is_object() && r["204"]["content"].is_null(),
                "{m} {p}: {r}"
            );
        }
        for (p, ops) in doc["paths"].as_object().unwrap() {
            for (m, op) in ops.as_object().unwrap() {
                let r = op["responses"].as_object().unwrap();
                assert!(r.contains_key("400") && r.contains_key("500"), "{m} {p}");
                if m != "get" {
                    assert!(r.contains_key("415"), "{m} {p}: a body must be JSON");
                }
            }
        }
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["PhoneOnly"]["properties"]["phone"]["pattern"],
            PHONE_PATTERN
        );
        assert_eq!(
            schemas["Login"]["properties"]["code"]["pattern"],
            TEXT_PATTERN
        );
        assert_eq!(
            schemas["NewSite"]["properties"]["name"]["pattern"],
            NAME_PATTERN
        );
    }

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
