//! The palm identity service: domain, storage backends, crypto, HTTP API and web pages.
//!
//! (Being built; see the project's issues.)
#![forbid(unsafe_code)]
#![deny(missing_docs)]
