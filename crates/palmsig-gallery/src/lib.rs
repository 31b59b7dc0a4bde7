//! The local encrypted gallery of `palmsig enroll` and `palmsig identify`.
//!
//! A gallery directory holds:
//! - `keys.json` — the key-encryption keys, loaded (or created, owner-only) by the caller's
//!   [`KeyFile`] (in `palmsig`: the service's envelope keyring, so `PALMSIG_KEK` applies);
//! - `index/` — a `palmsig_index::Store` (crash-safe log + snapshot) of one record per reference
//!   capture, every record sealed through the [`Envelope`] (own data key wrapped by the KEK), so
//!   no plaintext template rests on disk;
//! - `gallery.sealed` — who each record belongs to (id, hand) and the coding algorithm, sealed
//!   the same way (names are personal data too).
//!
//! Writes go index first, then metadata (atomic rename); index records the metadata does not
//! name (an enrolment interrupted between the two) are removed when the gallery is next opened.
//!
//! No async runtime, no database: this crate sits beside `palmsig-index`, under the binary.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod capture;
mod envelope;
mod error;
mod gallery;
mod meta;

pub use capture::{extract, presentations, Presentation};
pub use envelope::{Envelope, KeyFile, Sealed};
pub use error::GalleryError;
pub use gallery::{check_hand, check_name, Enrolled, Gallery, Identified, Owner};
