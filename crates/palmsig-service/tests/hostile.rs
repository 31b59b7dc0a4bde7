//! Defects a hostile-client audit found (issue 16), on SQLite and on PostgreSQL.
mod common;

use axum::http::{Method, StatusCode};
use common::*;

backend_tests!(dev_outbox_needs_operator);

/// The dev outbox lists every one-time code: even where it is enabled, only the operator reads it.
async fn dev_outbox_needs_operator(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        let phone = "+41790001001";
        app.enrol(&t.device, phone, "outbox", "4242424242424242")
            .await
            .unwrap();
        let (s, v) = app.call(Method::GET, "/v1/dev/outbox", &[], None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
        assert!(!v.to_string().contains(phone), "{v}");
        let (s, v) = app
            .call(Method::GET, "/v1/dev/outbox", &t.auth(), None)
            .await;
        assert_eq!(
            s,
            StatusCode::UNAUTHORIZED,
            "a tenant is not the operator: {v}"
        );
        let (s, v) = app
            .call(
                Method::GET,
                "/v1/dev/outbox",
                &[("authorization", format!("Bearer {ADMIN}"))],
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v.to_string().contains(phone), "{v}");
        drop(app);
        db
    })
    .await;
}
