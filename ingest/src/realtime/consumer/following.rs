//! The consumer's side of replication (see [`super::super::claims`]): noticing a peer's
//! claim on the consuming segment, and following a claim that does not match ours —
//! catching up to its end, taking the peer's published copy, or consuming its range again.

use super::{PartitionConsumer, SegmentClaim};
use crate::realtime::sealer::{SealJob, SealWork};
use cuvee_segments::MutableSegment;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a replica asks the deep store whether a peer claimed its consuming segment
/// (so it follows within this long, not only at its own threshold).
const CLAIM_CHECK: Duration = Duration::from_secs(2);

impl PartitionConsumer {
    /// Whether a replica has claimed the consuming segment (checked every [`CLAIM_CHECK`]);
    /// sealing then follows its claim.
    pub(super) fn peer_claimed(&mut self) -> bool {
        let Some(claims) = &self.shared.claims else { return false };
        if self.last_claim_check.elapsed() < CLAIM_CHECK {
            return false;
        }
        self.last_claim_check = Instant::now();
        // A failed look-up is not an error here: the claim at our own threshold will say.
        matches!(claims.get(self.partition, self.sequence), Ok(Some(_)))
    }

    /// Our segment does not match a replica's claim on it: consume up to its end if it
    /// only ends later; else take its published copy, or consume its range again.
    pub(super) fn follow(&mut self, claim: SegmentClaim) {
        if claim.start_offset == self.segment_start && claim.end_offset > self.next_offset {
            self.target = Some(claim);
            return;
        }
        let published = self.shared.claims.as_ref().map(|claims| claims.published_segment(&claim));
        if let Some(Ok(Some(bytes))) = published {
            let replaces = self.shown.take().unwrap_or_else(|| self.consuming.name().to_string());
            if !self.adopt(&claim, bytes, replaces) {
                return;
            }
            self.next_segment(claim.end_offset);
            return;
        }
        // Not uploaded yet (the claimant may be building it, or gone): the claimed range is
        // consumed again into a segment readers see only once it is published.
        if self.shown.is_none() {
            self.shown = Some(self.consuming.name().to_string());
        }
        self.consuming = Arc::new(MutableSegment::new(&self.table, &claim.segment));
        self.segment_created_ms = claim.creation_time_ms;
        self.segment_start = claim.start_offset;
        self.seek(claim.start_offset);
        self.status.lock().segments_reconsumed += 1;
        self.target = Some(claim);
    }

    /// Publishes a replica's segment as ours and waits until readers see it.
    pub(super) fn adopt(&mut self, claim: &SegmentClaim, bytes: Vec<u8>, replaces: String) -> bool {
        let (done, published) = std::sync::mpsc::channel();
        let work = SealWork::Adopt { bytes, name: claim.segment.clone(), end_offset: Some(claim.end_offset) };
        self.hand_off(SealJob { work, replaces, done: Some(done) }) && published.recv().is_ok()
    }

    /// A replica's claim on the segment about to start; `None` without a deep store. A
    /// deep store that does not answer is reported, not waited for: the claim made at
    /// this segment's seal finds any peer's claim anyway.
    pub(super) fn existing_claim(&mut self) -> Option<SegmentClaim> {
        let claims = self.shared.claims.as_ref()?;
        match claims.get(self.partition, self.sequence) {
            Ok(claim) => claim,
            Err(e) => {
                let error = format!(
                    "reading the claim on segment {} of partition {} in the deep store: {e}",
                    self.sequence, self.partition
                );
                eprintln!("cuvee: table {}: {error}", self.shared.table_name);
                self.status.lock().record_error(error);
                None
            }
        }
    }

    /// A claim could not be made: reported, and tried again after a growing backoff.
    pub(super) fn claim_failed(&mut self, error: String) {
        let backoff = self
            .claim_retry
            .map_or(Duration::from_millis(200), |(_, previous)| (previous * 2).min(Duration::from_secs(10)));
        eprintln!("cuvee: table {}: {error} (retrying in {backoff:?})", self.shared.table_name);
        self.status.lock().record_error(error);
        self.claim_retry = Some((Instant::now() + backoff, backoff));
    }
}
