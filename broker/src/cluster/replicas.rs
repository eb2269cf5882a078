//! One view of a table's segments from every server's listing, when servers hold copies
//! of the same segments: an OFFLINE table's files on two servers, or replicas consuming
//! one partition (`cuvee server --replicas`).
//!
//! A sealed segment listed by several servers is one segment with several holders. A
//! consuming segment is a growing prefix of a partition's stream, and replicas consume at
//! their own pace (and name their consuming segments themselves until a claim names the
//! sealed one), so consuming segments are matched by (partition, sequence), not by name:
//!
//! - a name sealed on some servers and still consuming on others is read where it is sealed;
//! - a consuming segment whose sequence some server has already sealed is dropped (its rows
//!   are in that sealed segment);
//! - of the rest, each partition keeps only its earliest sequence: a server reading a
//!   consuming segment also reads every later segment of its partition it has (see
//!   `SegmentTable::sources_named`), so two servers given two sequences of one partition
//!   could read a range twice. Its holders are the servers consuming that sequence, the
//!   one with the most rows first (the freshest answer; the others are failover).

use cuvee_query::{RemoteKind, RemoteSegment};
use cuvee_segments::naming::parse_segment_name;
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn reconcile(table: &str, segments: Vec<RemoteSegment>) -> Vec<Arc<RemoteSegment>> {
    let mut sealed: BTreeMap<String, RemoteSegment> = BTreeMap::new();
    let mut consuming: Vec<RemoteSegment> = Vec::new();
    for segment in segments {
        if segment.is_consuming() {
            consuming.push(segment);
            continue;
        }
        match sealed.get_mut(&segment.name) {
            Some(known) => known.servers.extend(segment.servers),
            None => {
                sealed.insert(segment.name.clone(), segment);
            }
        }
    }
    // The highest sealed sequence of each partition.
    let mut sealed_up_to: BTreeMap<u32, u32> = BTreeMap::new();
    for name in sealed.keys() {
        if let Some((partition, sequence)) = parse_segment_name(table, name) {
            let highest = sealed_up_to.entry(partition).or_insert(sequence);
            *highest = (*highest).max(sequence);
        }
    }
    // Per partition: the earliest sequence not sealed anywhere, and who consumes it.
    let mut earliest: BTreeMap<u32, (u32, Vec<RemoteSegment>)> = BTreeMap::new();
    for segment in consuming {
        let RemoteKind::Consuming { partition, sequence, .. } = segment.kind else { continue };
        if sealed.contains_key(&segment.name) || sealed_up_to.get(&partition).is_some_and(|s| *s >= sequence) {
            continue;
        }
        let entry = earliest.entry(partition).or_insert((sequence, Vec::new()));
        if sequence < entry.0 {
            *entry = (sequence, Vec::new());
        }
        if sequence == entry.0 {
            entry.1.push(segment);
        }
    }
    let mut out: Vec<Arc<RemoteSegment>> = sealed.into_values().map(Arc::new).collect();
    for (_, (_, mut copies)) in earliest {
        copies.sort_by_key(|c| std::cmp::Reverse(c.num_docs()));
        let mut copies = copies.into_iter();
        let Some(mut freshest) = copies.next() else { continue };
        for other in copies {
            for server in other.servers {
                if !freshest.servers.contains(&server) {
                    freshest.servers.push(server);
                }
            }
        }
        out.push(Arc::new(freshest));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consuming(name: &str, server: &str, partition: u32, sequence: u32, num_docs: u64) -> RemoteSegment {
        RemoteSegment {
            name: name.into(),
            servers: vec![server.into()],
            kind: RemoteKind::Consuming { partition, sequence, num_docs, latest_ingestion_ms: None },
        }
    }

    fn sealed(name: &str, server: &str) -> RemoteSegment {
        let metadata = cuvee_segments::SegmentMetadata {
            name: name.into(),
            table: "t".into(),
            format_version: 1,
            num_docs: 1,
            schema: serde_json::Value::Null,
            time_column: None,
            bounds: Default::default(),
            sorted_column: None,
            columns: Vec::new(),
            sections: Vec::new(),
        };
        RemoteSegment { name: name.into(), servers: vec![server.into()], kind: RemoteKind::Sealed(Box::new(metadata)) }
    }

    fn view(segments: Vec<RemoteSegment>) -> Vec<(String, Vec<String>, bool)> {
        reconcile("t", segments).iter().map(|s| (s.name.clone(), s.servers.clone(), s.is_consuming())).collect()
    }

    #[test]
    fn replicas_of_a_partition_are_read_once() {
        // a sealed 0 and consumes 1 (named its way); b has not sealed 0 yet and consumes it.
        let got = view(vec![
            sealed("t__0__0__a", "a"),
            consuming("t__0__1__a", "a", 0, 1, 10),
            consuming("t__0__0__b", "b", 0, 0, 90),
            // partition 1: both consume sequence 3 (b is ahead), a also lists 4 it just began.
            consuming("t__1__3__a", "a", 1, 3, 40),
            consuming("t__1__4__a", "a", 1, 4, 0),
            consuming("t__1__3__b", "b", 1, 3, 70),
            sealed("t__1__2__x", "b"),
            sealed("t__1__2__x", "a"),
        ]);
        assert_eq!(
            got,
            vec![
                ("t__0__0__a".to_string(), vec!["a".to_string()], false),
                ("t__1__2__x".to_string(), vec!["b".to_string(), "a".to_string()], false),
                ("t__0__1__a".to_string(), vec!["a".to_string()], true),
                ("t__1__3__b".to_string(), vec!["b".to_string(), "a".to_string()], true),
            ]
        );
    }

    #[test]
    fn a_name_sealed_somewhere_is_read_where_it_is_sealed() {
        let got = view(vec![consuming("t__0__5__a", "b", 0, 5, 99), sealed("t__0__5__a", "a")]);
        assert_eq!(got, vec![("t__0__5__a".to_string(), vec!["a".to_string()], false)]);
    }
}
