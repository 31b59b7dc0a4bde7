//! Defects a hostile-client audit found (issue 16), on SQLite and on PostgreSQL.
mod common;

use axum::http::{Method, StatusCode};
use common::*;

backend_tests!(dev_outbox_needs_operator, deletion_leaves_no_trace);

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

/// `DELETE /v1/me/palms` then `DELETE /v1/me` leave nothing of the person in the database: on
/// SQLite no copy in any file of the data dir (the WAL and free pages included), on PostgreSQL no
/// row holding the phone, the palm ciphertext or its wrapped data key.
async fn deletion_leaves_no_trace(kind: Kind) {
    with_db(kind, |db| async move {
        let app = TestApp::new(&db).await;
        let t = app.tenant("Shop").await;
        // Stored as E.164 text in `persons.phone` (and `otps.phone` while a code is pending).
        let phone = "+41795550123";
        let pid = app
            .enrol(&t.device, phone, "erase-me", "4242424242424242")
            .await
            .unwrap();
        let palm = app.state.store.palms_of(&pid).await.unwrap().remove(0);
        let key = app
            .state
            .store
            .get_data_key(&palm.id)
            .await
            .unwrap()
            .unwrap();
        let secrets: [(&str, Vec<u8>); 3] = [
            ("phone", phone.as_bytes().to_vec()),
            ("palm ciphertext", palm.ciphertext.clone()),
            ("wrapped data key", key.wrapped.clone()),
        ];
        let before = db.raw_dump().await;
        for (what, bytes) in &secrets {
            assert!(
                contains(&before, bytes),
                "{what} is stored before deletion (the scan works)"
            );
        }
        let cookie = app.login(phone).await;
        let auth = [("cookie", cookie)];
        let (s, v) = app.call(Method::DELETE, "/v1/me/palms", &auth, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, v) = app.call(Method::DELETE, "/v1/me", &auth, None).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
        let after = db.raw_dump().await;
        for (what, bytes) in &secrets {
            assert!(
                !contains(&after, bytes),
                "{what} still in the database files after deletion"
            );
        }
        drop(app);
        db
    })
    .await;
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
