//! The palm identity service (`palmsig serve`): people enrol a palm at a kiosk with a phone
//! number, a card and consents; devices then identify them (1:N) to pay, enter, show loyalty or
//! prove age; tenants integrate through an OAuth2-protected API and signed webhooks.
//!
//! Main types:
//! - [`store::Store`] — storage trait with two real backends, [`store::SqliteStore`] and
//!   [`store::PgStore`], sharing the same SQL and migrations;
//! - [`crypto::Keyring`] — envelope encryption (AES-256-GCM data key per record, wrapped by a KEK
//!   with a key id; rotation re-wraps); [`vault`] — card validation;
//! - [`biometrics::Biometrics`] — the engine behind a trait (the real one is
//!   `EngineBiometrics`, feature `engine`);
//! - [`state::AppState`] and [`app`] — the axum router with one error shape ([`error::ApiError`]).
//!
//! ```
//! use palmsig_service::{app, biometrics::LabelBiometrics, clock::SystemClock, crypto::{Kek, Keyring},
//!     otp::DevOutbox, payments::SimulatedProcessor, state::{AppState, Config}, store};
//! use std::sync::Arc;
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let db = store::connect(&format!("sqlite:{}", dir.path().join("palmsig.db").display())).await.unwrap();
//! let state = AppState::new(db, Keyring::new(Kek::generate("k1")), Arc::new(LabelBiometrics::new()),
//!     Arc::new(SystemClock), Arc::new(DevOutbox::new()), Arc::new(SimulatedProcessor), Config::new("admin"));
//! let router = app(state);
//! # let _ = router; });
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod api;
use state::AppState;
pub mod biometrics;
pub mod clock;
pub mod crypto;
pub mod currency;
pub mod demo;
pub mod egress;
pub mod error;
pub mod gallery;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod otp;
pub mod params;
pub mod payments;
pub mod signing;
pub mod state;
pub mod store;
pub mod text;
pub mod vault;
// Some page helpers serve only the scanner simulator.
#[cfg_attr(not(feature = "simulator"), allow(dead_code))]
mod web;
pub mod webhook;

pub use ops::SESSION_COOKIE;

/// The router of the whole service, built once: the JSON API, and the web pages, which call the
/// same API router in-process (they get it as a value: `web` does not depend on `api`).
pub fn app(state: AppState) -> axum::Router {
    let api = api::router(state.clone());
    api.clone().merge(web::router(state, api))
}

/// The scopes a tenant API client can hold.
pub fn api_scopes() -> Vec<&'static str> {
    api::SCOPES.to_vec()
}
