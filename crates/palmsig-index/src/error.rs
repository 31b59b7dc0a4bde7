//! Typed errors of the index.
use thiserror::Error;

/// A template could not be encoded, decoded or coded by a [`crate::Scorer`].
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ScorerError {
    /// The stored bytes are not a template this scorer understands.
    #[error("malformed template bytes: {0}")]
    Malformed(String),
    /// The template is valid but cannot be indexed (e.g. no usable modality).
    #[error("template not indexable: {0}")]
    NotIndexable(String),
}

/// Errors of the in-memory index.
#[derive(Debug, Error)]
pub enum IndexError {
    /// `insert` of an id that is already enrolled (use `upsert` or `replace`).
    #[error("enrolment id {0} is already in the gallery")]
    DuplicateId(u64),
    /// `replace` of an id that is not enrolled.
    #[error("enrolment id {0} is not in the gallery")]
    UnknownId(u64),
    /// The scorer rejected a template.
    #[error(transparent)]
    Scorer(#[from] ScorerError),
    /// The scorer's coarse code size is out of range.
    #[error("coarse code of {0} words is out of range 1..={max}", max = crate::params::MAX_COARSE_WORDS)]
    BadCoarseSize(usize),
    /// An encoded template is larger than the index accepts.
    #[error("encoded template of {0} bytes exceeds the {max}-byte limit", max = crate::params::MAX_TEMPLATE_BYTES)]
    TemplateTooLarge(usize),
    /// A search parameter is invalid.
    #[error("invalid search parameter: {0}")]
    BadParam(String),
}

/// Errors of the persistence layer.
#[derive(Debug, Error)]
pub enum PersistError {
    /// Operating-system I/O error, with what was being done.
    #[error("{what}: {source}")]
    Io {
        /// What the store was doing.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The snapshot file is damaged (checksum, framing); acknowledged data would be lost by
    /// ignoring it, so opening fails loudly.
    #[error("snapshot {path} is corrupt: {reason}")]
    SnapshotCorrupt {
        /// Snapshot path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A record passed its checksum but could not be unsealed (wrong key or sealer).
    #[error("cannot unseal a stored record: {0}")]
    Unseal(String),
    /// The snapshot was written for another coarse-code layout and templates could not be
    /// re-coded.
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl PersistError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        PersistError::Io {
            what: what.into(),
            source,
        }
    }
}
