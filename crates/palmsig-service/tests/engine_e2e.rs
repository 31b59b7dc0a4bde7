//! The end-to-end flow with the REAL engine on synthetic captures (palmsig_synth full-hand
//! renders, PNG-encoded in memory), on SQLite and PostgreSQL.
#![cfg(feature = "engine")]
mod common;

use axum::http::{Method, StatusCode};
use common::*;
use palmsig_core::{GrayImage, Hand};
use palmsig_service::biometrics::EngineBiometrics;
use palmsig_service::crypto::{Kek, Keyring};
use palmsig_synth::{render_capture, CaptureSpec, Difficulty, Identity};
use serde_json::{json, Value};
use std::sync::Arc;

backend_tests!(synthetic_palms_end_to_end);

const PAN: &str = "5555555555554444";

fn png(img: &GrayImage) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_slice(),
            img.width() as u32,
            img.height() as u32,
            image::ExtendedColorType::L8,
        )
        .unwrap();
    out
}

/// A capture of subject `s` (right hand): (JSON body, visible PNG, raw visible pixels).
fn capture(s: u32, session: u32, index: u32) -> (Value, Vec<u8>, Vec<u8>) {
    let id = Identity::new(77, s, Hand::Right).unwrap();
    let spec = CaptureSpec::sample(&id, Difficulty::Easy, session, index);
    let r = render_capture(&id, &spec, 512, 384).unwrap();
    let (v, n) = (png(&r.visible), png(&r.nir));
    (
        json!({"hand": "right", "visible": b64(&v), "nir": b64(&n)}),
        v,
        r.visible.as_slice().to_vec(),
    )
}

fn phone(s: u32) -> String {
    format!("+4176{s:07}")
}

async fn synthetic_palms_end_to_end(kind: Kind) {
    with_db(kind, |db| async move {
        let bio = Arc::new(EngineBiometrics::synthetic().unwrap());
        let app = TestApp::with(&db, bio, Keyring::new(Kek::generate("k1")), test_config()).await;
        let t = app.tenant("Shop").await;
        let mut secrets: Vec<Vec<u8>> = Vec::new();
        for s in 1..=3 {
            let caps: Vec<(Value, Vec<u8>, Vec<u8>)> = (0..2).map(|i| capture(s, 1, i)).collect();
            for (_, png, raw) in &caps {
                secrets.push(png[png.len() / 2..png.len() / 2 + 48].to_vec());
                secrets.push(raw[raw.len() / 2..raw.len() / 2 + 48].to_vec());
            }
            let bodies: Vec<Value> = caps.into_iter().map(|c| c.0).collect();
            app.enrol_with(&t.device, &phone(s), &bodies, PAN)
                .await
                .unwrap_or_else(|e| panic!("enrol subject {s}: {e:?}"));
        }
        assert_eq!(app.state.bio.len(), 3);

        // Identify subject 2 from a capture of another session and pay; retry with the same key.
        let (probe, _, _) = capture(2, 2, 0);
        let mut pay = probe.clone();
        pay["purpose"] = json!("payment");
        pay["amount"] = json!(4200);
        pay["currency"] = json!("EUR");
        let key = [("idempotency-key", "synthetic-1".to_string())];
        let (s, _, r1) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/identify",
                pay.clone(),
                &key,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r1}");
        assert_eq!(r1["outcome"], "authorized", "{r1}");
        assert_eq!(r1["card"]["last4"], "4444");
        let (_, h, r2) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/identify",
                pay.clone(),
                &key,
            )
            .await;
        assert_eq!(r1, r2);
        assert_eq!(h.get("idempotent-replayed").unwrap(), "true");
        let cookie = [("cookie", app.login(&phone(2)).await)];
        let (_, hist) = app.call(Method::GET, "/v1/me/history", &cookie, None).await;
        assert_eq!(hist["data"][0]["id"], r1["event_id"]);

        // Someone never enrolled: nobody.
        let (mut stranger, _, _) = capture(9, 1, 0);
        stranger["purpose"] = json!("entry");
        let (_, _, r) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/identify",
                stranger,
                &[],
            )
            .await;
        assert_eq!(r["outcome"], "no_match", "{r}");

        // The same palm under another phone is refused.
        let dup: Vec<Value> = (2..4).map(|i| capture(1, 1, i).0).collect();
        let e = app
            .enrol_with(&t.device, "+41769999999", &dup, PAN)
            .await
            .unwrap_err();
        assert_eq!(
            (e.0, e.1["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("duplicate_palm")),
            "{e:?}"
        );

        // Malformed and unusable images: 422 with the decode / quality reason.
        let (_, _, en) = app
            .device(
                &t.device,
                Method::POST,
                "/v1/device/enrolments",
                json!({"phone": "+41768888888"}),
                &[],
            )
            .await;
        let eid = en["enrolment_id"].as_str().unwrap().to_string();
        let code = app.outbox.latest("+41768888888").unwrap();
        app.device(
            &t.device,
            Method::POST,
            &format!("/v1/device/enrolments/{eid}/verify"),
            json!({"code": code}),
            &[],
        )
        .await;
        let path = format!("/v1/device/enrolments/{eid}/captures");
        let (s, _, e) = app
            .device(
                &t.device,
                Method::POST,
                &path,
                json!({"hand": "left", "visible": b64(b"\x89PNG\r\n\x1a\n truncated")}),
                &[],
            )
            .await;
        assert_eq!(
            (s, e["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_image")),
            "{e}"
        );
        let black = png(&GrayImage::new(512, 384));
        let (s, _, e) = app
            .device(
                &t.device,
                Method::POST,
                &path,
                json!({"hand": "left", "visible": b64(&black), "nir": b64(&black)}),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let reason = e["error"]["code"].as_str().unwrap();
        assert!(
            reason != "bad_image" && !reason.is_empty(),
            "a quality reason, got {reason}"
        );

        // Delete subject 2's palm data: identification then finds nobody.
        let (s, _) = app
            .call(Method::DELETE, "/v1/me/palms", &cookie, None)
            .await;
        assert_eq!(s, StatusCode::OK);
        pay["amount"] = json!(100);
        let (_, _, r) = app
            .device(&t.device, Method::POST, "/v1/device/identify", pay, &[])
            .await;
        assert_eq!(r["outcome"], "no_match", "{r}");
        assert_eq!(app.state.bio.len(), 2);

        // A restart decrypts the gallery from the database and still identifies subject 3.
        let keys = app.state.keys.clone();
        drop(app);
        let bio2 = Arc::new(EngineBiometrics::synthetic().unwrap());
        let app2 = TestApp::with(&db, bio2, keys, test_config()).await;
        assert_eq!(app2.state.bio.len(), 2);
        let (mut p3, _, _) = capture(3, 2, 1);
        p3["purpose"] = json!("loyalty");
        let (_, _, r) = app2
            .device(&t.device, Method::POST, "/v1/device/identify", p3, &[])
            .await;
        assert_eq!(r["matched"], true, "{r}");
        drop(app2);

        // At rest: no image bytes (PNG or pixels), no PAN.
        let raw = db.raw_dump().await;
        let find = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        assert!(!find(PAN.as_bytes()), "PAN in clear");
        for s in &secrets {
            assert!(!find(s), "image bytes at rest");
        }
        db
    })
    .await;
}
