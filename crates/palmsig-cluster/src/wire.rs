//! What travels over NATS: change events (ids only) and the matcher's request/reply.
use crate::ClusterError;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Header naming the request: [`OP_SEARCH`] (body: the probe template) or [`OP_SYNC`].
pub const OP_HEADER: &str = "Palmsig-Op";
/// Search the probe in the body.
pub const OP_SEARCH: &str = "search";
/// Answer once every change already in the stream for this shard is applied (no body).
pub const OP_SYNC: &str = "sync";
/// Header: `1` = apply every change already in the stream before searching.
pub const FENCE_HEADER: &str = "Palmsig-Fence";

/// A change of the gallery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// The palm was stored (read its sealed row).
    Upsert,
    /// The palm was deleted.
    Delete,
}

impl std::str::FromStr for Op {
    type Err = ClusterError;
    fn from_str(s: &str) -> Result<Self, ClusterError> {
        match s {
            "upsert" => Ok(Op::Upsert),
            "delete" => Ok(Op::Delete),
            _ => Err(ClusterError::Config(format!("unknown outbox op `{s}`"))),
        }
    }
}

/// One message of the change stream: the outbox row (never a template).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Outbox sequence.
    pub seq: i64,
    /// What happened.
    pub op: Op,
    /// To which palm.
    pub palm: String,
}

impl Change {
    /// JSON bytes.
    pub fn encode(&self) -> Bytes {
        serde_json::to_vec(self).unwrap_or_default().into()
    }
    /// From JSON bytes.
    pub fn decode(b: &[u8]) -> Result<Self, ClusterError> {
        serde_json::from_slice(b).map_err(|e| ClusterError::Nats(format!("bad change: {e}")))
    }
}

/// A shard replica's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Reply {
    /// Records (reference templates) in the shard.
    pub records: usize,
    /// Best candidate: palm id and score.
    pub best: Option<(String, f32)>,
    /// Which replica answered.
    pub replica: String,
    /// Set when the replica could not answer (bad probe, fence not reached).
    pub error: Option<String>,
    /// The error is the probe's (not a template): no other replica would do better.
    #[serde(default)]
    pub bad_probe: bool,
}

impl Reply {
    /// JSON bytes.
    pub fn encode(&self) -> Bytes {
        serde_json::to_vec(self).unwrap_or_default().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_roundtrip_has_no_payload_but_ids() {
        let c = Change {
            seq: 7,
            op: Op::Delete,
            palm: "palm_x".into(),
        };
        let b = c.encode();
        assert_eq!(&b[..], br#"{"seq":7,"op":"delete","palm":"palm_x"}"#);
        assert_eq!(Change::decode(&b).unwrap(), c);
        assert!(Change::decode(b"{}").is_err());
        assert!("replace".parse::<Op>().is_err());
    }
}
