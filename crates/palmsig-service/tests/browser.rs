//! The web pages in a real browser: starts the service on 127.0.0.1:0 (SQLite in a temp dir, the
//! real engine, the dev outbox) and runs `node web-tests/e2e.mjs <base-url> <shots>`,
//! which drives headless Debian chromium through kiosk enrolment → hover to pay → reload, back
//! and double click pay once → keyboard-only portal sign-in and hover → a 390x844 phone run →
//! delete palm data → refused hover, running axe-core on every page state (0 violations
//! allowed) and saving a screenshot of each page (into the build's temp dir, or into
//! `$PALMSIG_SCREENSHOTS`, e.g. `docs/screenshots` for the README's set).
//!
//! Chromium, node or `web-tests/node_modules` (playwright-core, axe-core) missing → this test
//! FAILS (`scripts/test.sh` installs them), unless `PALMSIG_SKIP_BROWSER=1` asks to skip it.
#![cfg(feature = "engine")]

use palmsig_service::biometrics::EngineBiometrics;
use palmsig_service::clock::SystemClock;
use palmsig_service::crypto::{random_token, Kek, Keyring};
use palmsig_service::otp::DevOutbox;
use palmsig_service::payments::SimulatedProcessor;
use palmsig_service::state::{AppState, Config};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The whole browser run may take this long before it is killed.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(240);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_in_headless_chromium() {
    if std::env::var("PALMSIG_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("browser test skipped (PALMSIG_SKIP_BROWSER=1)");
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let how = "run scripts/test.sh (installs them) or set PALMSIG_SKIP_BROWSER=1 to skip";
    assert!(
        std::path::Path::new(&chromium).exists(),
        "chromium not found at {chromium}: {how}"
    );
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "node not found: {how}"
    );
    for module in ["playwright-core", "axe-core"] {
        assert!(
            root.join("web-tests/node_modules").join(module).is_dir(),
            "web-tests/node_modules/{module} missing (npm ci --prefix web-tests): {how}"
        );
    }

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("palmsig.db").display());
    let store = palmsig_service::store::connect(&url).await.unwrap();
    let admin = random_token("adm");
    let mut config = Config::new(admin.clone());
    config.dev_outbox = true;
    let state = AppState::new(
        store,
        Keyring::new(Kek::generate("k1")),
        Arc::new(EngineBiometrics::synthetic().unwrap()),
        Arc::new(SystemClock),
        Arc::new(DevOutbox::new()),
        Arc::new(SimulatedProcessor),
        config,
    );
    state.rebuild_index().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        axum::serve(listener, palmsig_service::app(state))
            .await
            .unwrap();
    });

    // Screenshots go to the build's temp dir so a test run leaves the checkout clean; the README's
    // set in docs/screenshots is refreshed with PALMSIG_SCREENSHOTS=docs/screenshots.
    let shots = match std::env::var_os("PALMSIG_SCREENSHOTS") {
        Some(d) => root.join(d),
        None => std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots"),
    };
    std::fs::create_dir_all(&shots).unwrap();
    let _ = std::fs::remove_file(shots.join("failure.png"));
    let run = tokio::process::Command::new("node")
        .arg(root.join("web-tests/e2e.mjs"))
        .arg(&base)
        .arg(&shots)
        .env("PALMSIG_ADMIN_TOKEN", &admin)
        .env("CHROMIUM", &chromium)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(BROWSER_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("browser run took longer than {BROWSER_TIMEOUT:?}"))
        .expect("starting node");
    server.abort();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "browser e2e failed ({}); see the output above and {}",
        out.status,
        shots.join("failure.png").display()
    );
}
