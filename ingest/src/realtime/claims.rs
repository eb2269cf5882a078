//! Replicas consuming one partition agree on its segments through the deep store — no
//! controller, no consensus of our own, only the object store's conditional create.
//!
//! ```text
//! <deep store>/tables/<table>/claims/<partition>/start.json        {"offset": 0}
//! <deep store>/tables/<table>/claims/<partition>/<sequence>.json   SegmentClaim
//! ```
//!
//! A replica that decides to seal segment `k` of partition `p` (a flush threshold, a force
//! commit) first tries to create claim `p/k` naming its segment and offsets `[start, end)`.
//! The first create wins; every replica then publishes exactly the claimed segment, so
//! every message lands in one published segment whichever replica's copy is read:
//!
//! - the claim is ours, or has our offsets: build ours under the claimed name and publish it
//!   first-wins (the deep store keeps the first upload; a later replica writes that copy);
//! - it starts where we started and ends later: keep consuming up to its end (catch up);
//! - anything else (we went past its end; we started elsewhere): take the peer's segment from
//!   the deep store when it is there, or consume its range again and build it ourselves.
//!
//! The claim is made before the build, so a claimant that dies before uploading leaves a
//! claim that any replica (the claimant itself, restarted) can fulfil from Kafka. A replica
//! starting a segment for which a claim already exists follows it at once (a restarted or
//! lagging replica takes published segments from the deep store instead of consuming them).
//! `start.json` makes replicas begin a partition at the same offset (`auto.offset.reset`
//! = largest would otherwise give each its own start).

use crate::error::IngestError;
use cuvee_segments::Mirror;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Segment `k` of a partition, as the replica that claimed it will publish it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentClaim {
    pub segment: String,
    pub start_offset: i64,
    pub end_offset: i64,
    pub creation_time_ms: i64,
    /// Who claimed it (for operators: whose upload a replica waits for).
    pub claimed_by: String,
}

impl SegmentClaim {
    pub fn same_offsets(&self, other: &SegmentClaim) -> bool {
        self.start_offset == other.start_offset && self.end_offset == other.end_offset
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct PartitionStart {
    offset: i64,
}

pub struct Claims {
    deep: Arc<dyn Mirror>,
    table: String,
    who: String,
}

impl Claims {
    pub fn new(deep: Arc<dyn Mirror>, table: &str) -> Claims {
        let who = match deep.manifest_file().strip_prefix("manifests/").and_then(|f| f.strip_suffix(".json")) {
            Some(owner) => owner.to_string(),
            None => format!("process {}", std::process::id()),
        };
        Claims { deep, table: table.to_string(), who }
    }

    pub fn who(&self) -> &str {
        &self.who
    }

    /// Claims segment `sequence` of `partition` for `ours` (its `claimed_by` is set here);
    /// returns the claim that holds — ours, or the one a replica made first.
    pub fn claim(&self, partition: u32, sequence: u32, ours: &SegmentClaim) -> Result<SegmentClaim, IngestError> {
        let ours = SegmentClaim { claimed_by: self.who.clone(), ..ours.clone() };
        let file = claim_file(partition, sequence);
        let bytes = serde_json::to_vec(&ours).map_err(|e| self.invalid(&file, e.to_string()))?;
        if self.deep.put_if_absent(&self.table, &file, bytes)? {
            return Ok(ours);
        }
        self.get(partition, sequence)?.ok_or_else(|| self.invalid(&file, "exists but cannot be read back".into()))
    }

    fn invalid(&self, file: &str, reason: String) -> IngestError {
        IngestError::Claim { table: self.table.clone(), file: file.to_string(), reason }
    }

    /// The claim of segment `sequence` of `partition`, if a replica made one.
    pub fn get(&self, partition: u32, sequence: u32) -> Result<Option<SegmentClaim>, IngestError> {
        let file = claim_file(partition, sequence);
        let Some(bytes) = self.deep.get(&self.table, &file)? else { return Ok(None) };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| self.invalid(&file, format!("not valid: {e}")))
    }

    /// Where the partition's consumption begins: `proposed`, unless a replica said first.
    pub fn partition_start(&self, partition: u32, proposed: i64) -> Result<i64, IngestError> {
        let file = format!("claims/{partition}/start.json");
        let bytes =
            serde_json::to_vec(&PartitionStart { offset: proposed }).map_err(|e| self.invalid(&file, e.to_string()))?;
        if self.deep.put_if_absent(&self.table, &file, bytes)? {
            return Ok(proposed);
        }
        let bytes = self
            .deep
            .get(&self.table, &file)?
            .ok_or_else(|| self.invalid(&file, "exists but cannot be read back".into()))?;
        let start: PartitionStart =
            serde_json::from_slice(&bytes).map_err(|e| self.invalid(&file, format!("not valid: {e}")))?;
        Ok(start.offset)
    }

    /// A published segment's bytes, if the claimant has uploaded it.
    pub fn published_segment(&self, claim: &SegmentClaim) -> Result<Option<Vec<u8>>, IngestError> {
        Ok(self.deep.get_segment(&self.table, &claim.segment)?)
    }
}

fn claim_file(partition: u32, sequence: u32) -> String {
    format!("claims/{partition}/{sequence}.json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use cuvee_deep_store::{DeepStore, DeepStoreSettings};

    fn open(url: &str, owner: &str) -> DeepStore {
        DeepStore::open_with(url, DeepStoreSettings { owner: Some(owner.to_string()), options: Vec::new() }).unwrap()
    }

    fn claim(segment: &str, start: i64, end: i64) -> SegmentClaim {
        SegmentClaim {
            segment: segment.into(),
            start_offset: start,
            end_offset: end,
            creation_time_ms: 1,
            claimed_by: String::new(),
        }
    }

    #[test]
    fn the_first_claim_holds_for_everyone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/deep", dir.path().display());
        let a = Claims::new(Arc::new(open(&url, "server-0")), "t");
        let b = Claims::new(Arc::new(open(&url, "server-1")), "t");
        assert_eq!(b.get(0, 0).unwrap(), None);
        let won = a.claim(0, 0, &claim("t__0__0__a", 0, 100)).unwrap();
        assert_eq!(won.claimed_by, "server-0");
        let lost = b.claim(0, 0, &claim("t__0__0__b", 0, 120)).unwrap();
        assert_eq!(lost, won, "the loser is told the winner's claim");
        assert_eq!(b.claim(0, 1, &claim("t__0__1__b", 100, 200)).unwrap().claimed_by, "server-1");
        assert_eq!(a.partition_start(3, 40).unwrap(), 40);
        assert_eq!(b.partition_start(3, 55).unwrap(), 40, "replicas begin where the first said");
        assert_eq!(b.published_segment(&won).unwrap(), None);
    }
}
