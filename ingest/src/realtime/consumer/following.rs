//! The consumer's side of replication (see [`crate::realtime::claims`]): noticing a peer's
//! claim on the open segment, and following a claim that does not match ours — catching up
//! to its end, taking the peer's published copy, or consuming its range again.

use super::segment::Goal;
use super::PartitionConsumer;
use crate::realtime::claims::SegmentClaim;
use crate::realtime::sealer::{SealJob, SealWork};
use cuvee_segments::MutableSegment;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a replica asks the deep store whether a peer claimed its open segment (so it
/// follows within this long, not only at its own threshold).
const CLAIM_CHECK: Duration = Duration::from_secs(2);

/// When a peer's claim was last looked for, and when a failed claim may be tried again.
pub(super) struct ClaimTimer {
    last_check: Instant,
    /// After a failed claim: when to try again, and the backoff that led there.
    retry: Option<(Instant, Duration)>,
}

impl Default for ClaimTimer {
    fn default() -> Self {
        ClaimTimer { last_check: Instant::now(), retry: None }
    }
}

impl ClaimTimer {
    /// False while a failed claim waits for its retry.
    pub fn may_claim(&self) -> bool {
        self.retry.is_none_or(|(at, _)| Instant::now() >= at)
    }

    pub fn claimed(&mut self) {
        self.retry = None;
    }
}

impl PartitionConsumer {
    /// Whether a replica has claimed segment `sequence` (checked every [`CLAIM_CHECK`]);
    /// sealing then follows its claim.
    pub(super) fn peer_claimed(&mut self, sequence: u32) -> bool {
        let Some(claims) = &self.shared.claims else { return false };
        if self.claims.last_check.elapsed() < CLAIM_CHECK {
            return false;
        }
        self.claims.last_check = Instant::now();
        // A failed look-up is not an error here: the claim at our own threshold will say.
        matches!(claims.get(self.partition, sequence), Ok(Some(_)))
    }

    /// Our segment does not match a replica's claim on it: consume up to its end if it
    /// only ends later; else take its published copy, or consume its range again.
    pub(super) fn follow(&mut self, claim: SegmentClaim) {
        let Some(open) = &mut self.open else { return };
        if claim.start_offset == open.start_offset && claim.end_offset > self.next_offset {
            open.goal = match std::mem::replace(&mut open.goal, Goal::Thresholds) {
                Goal::Reconsuming { shown, .. } => Goal::Reconsuming { claim, shown },
                _ => Goal::Claimed(claim),
            };
            return;
        }
        let shown = match &open.goal {
            Goal::Reconsuming { shown, .. } => shown.clone(),
            _ => open.segment.name().to_string(),
        };
        let sequence = open.sequence;
        let published = self.shared.claims.as_ref().map(|claims| claims.published_segment(&claim));
        if let Some(Ok(Some(bytes))) = published {
            if !self.adopt(&claim, bytes, shown) {
                return;
            }
            return self.next_segment(sequence + 1, claim.end_offset);
        }
        // Not uploaded yet (the claimant may be building it, or gone): the claimed range is
        // consumed again into a segment readers see only once it is published.
        tracing::info!(table = %self.shared.table_name, partition = self.partition, segment = %claim.segment, start = claim.start_offset, end = claim.end_offset, "consuming a replica's claimed range again");
        let segment = Arc::new(MutableSegment::new(&self.decoding.table, &claim.segment));
        if let (Some(keyed), Some(open)) = (&self.keyed, &self.open) {
            // The rows given up leave the key state; the range is keyed again as it comes.
            let (published, consuming) = keyed.segments_except(open.segment.name());
            keyed.rebuild(&published, &consuming);
            keyed.open(&segment);
        }
        let start = claim.start_offset;
        if let Some(open) = &mut self.open {
            open.segment = segment;
            open.created_ms = claim.creation_time_ms;
            open.start_offset = start;
            open.started = Instant::now();
            open.goal = Goal::Reconsuming { claim, shown };
        }
        self.seek(start);
        self.status.transitions().segments_reconsumed += 1;
    }

    /// Publishes a replica's segment as ours and waits until readers see it.
    pub(super) fn adopt(&mut self, claim: &SegmentClaim, bytes: Vec<u8>, replaces: String) -> bool {
        tracing::info!(table = %self.shared.table_name, partition = self.partition, segment = %claim.segment, "adopting a replica's published segment");
        let (done, published) = std::sync::mpsc::channel();
        let work = SealWork::Adopt { bytes, name: claim.segment.clone(), end_offset: Some(claim.end_offset) };
        self.hand_off(SealJob { work, replaces, done: Some(done) }) && published.recv().is_ok()
    }

    /// A replica's claim on segment `sequence`, about to open; `None` without a deep store.
    /// A deep store that does not answer is reported, not waited for: the claim made at
    /// this segment's seal finds any peer's claim anyway.
    pub(super) fn existing_claim(&mut self, sequence: u32) -> Option<SegmentClaim> {
        let claims = self.shared.claims.as_ref()?;
        match claims.get(self.partition, sequence) {
            Ok(claim) => claim,
            Err(e) => {
                tracing::warn!(table = %self.shared.table_name, partition = self.partition, sequence, error = %e, "cannot read a replica's claim");
                self.status.record_error(format!(
                    "reading the claim on segment {sequence} of partition {} in the deep store: {e}",
                    self.partition
                ));
                None
            }
        }
    }

    /// A claim could not be made: reported, and tried again after a growing backoff.
    pub(super) fn claim_failed(&mut self, error: String) {
        let backoff = self
            .claims
            .retry
            .map_or(Duration::from_millis(200), |(_, previous)| (previous * 2).min(Duration::from_secs(10)));
        tracing::warn!(table = %self.shared.table_name, partition = self.partition, error = %error, retry_in = ?backoff, "claim failed");
        self.status.record_error(error);
        self.claims.retry = Some((Instant::now() + backoff, backoff));
    }
}
