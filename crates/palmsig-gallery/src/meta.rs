//! `gallery.sealed`'s content: who owns each index record, and the coding algorithm.
use palmsig_core::Hand;
use serde_json::json;
use std::collections::BTreeMap;

/// Owner of one index record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The enrolled id.
    pub id: String,
    /// The hand.
    pub hand: Hand,
}

#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) algorithm: String,
    pub(crate) next_record: u64,
    pub(crate) records: BTreeMap<u64, Owner>,
}

impl Meta {
    const VERSION: u64 = 1;
    /// Associated data of the sealed metadata (it cannot pass for an index record).
    pub(crate) const AAD: &'static str = "palmsig-gallery/meta";

    pub(crate) fn new(algorithm: &str) -> Meta {
        Meta {
            algorithm: algorithm.to_string(),
            next_record: 1,
            records: BTreeMap::new(),
        }
    }

    pub(crate) fn to_json(&self) -> serde_json::Value {
        let records: Vec<serde_json::Value> = self
            .records
            .iter()
            .map(|(r, o)| json!([r, o.id, o.hand.as_str()]))
            .collect();
        json!({"version": Self::VERSION, "algorithm": self.algorithm,
            "next_record": self.next_record, "records": records})
    }

    pub(crate) fn from_json(v: &serde_json::Value) -> Option<Meta> {
        if v["version"].as_u64()? != Self::VERSION {
            return None;
        }
        let mut records = BTreeMap::new();
        for r in v["records"].as_array()? {
            let hand: Hand = r[2].as_str()?.parse().ok()?;
            let owner = Owner {
                id: r[1].as_str()?.to_string(),
                hand,
            };
            records.insert(r[0].as_u64()?, owner);
        }
        let next_record = v["next_record"].as_u64()?;
        if records.keys().any(|r| *r >= next_record) {
            return None;
        }
        Some(Meta {
            algorithm: v["algorithm"].as_str()?.to_string(),
            next_record,
            records,
        })
    }
}
