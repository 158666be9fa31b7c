//! The hash chains of a log read in position order: each stream's versions
//! contiguous from 1, each event linked to the one before it in its stream
//! and hashing to what was stored. `verify` walks the store with it,
//! `import` a file.

use std::collections::HashMap;

use ledger::store::RecordedEvent;

/// What a verified log holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub events: u64,
    pub streams: usize,
    pub last_position: i64,
}

/// What the events read so far promise about the next one. Memory grows
/// with the number of streams (a version and a hash each), not of events.
#[derive(Debug, Default)]
pub struct Chain {
    heads: HashMap<String, (i64, Vec<u8>)>,
    last_position: i64,
    events: u64,
}

impl Chain {
    /// Accepts `event` if it may follow the events accepted so far;
    /// otherwise says why not and remembers nothing of it.
    pub fn check(&mut self, event: &RecordedEvent) -> Result<(), String> {
        if event.global_position <= self.last_position {
            return Err(format!(
                "position {} does not follow position {}",
                event.global_position, self.last_position
            ));
        }
        let head = self.heads.get(event.stream_id.as_str());
        let expected_version = head.map_or(1, |(version, _)| version + 1);
        if event.stream_version != expected_version {
            return Err(format!("expected version {expected_version} in its stream"));
        }
        if event.prev_hash.as_deref() != head.map(|(_, hash)| hash.as_slice()) {
            return Err("prev_hash does not match the previous event's hash".to_owned());
        }
        if event.computed_hash().as_slice() != event.hash.as_slice() {
            return Err("content does not match its hash (tampered?)".to_owned());
        }
        self.heads.insert(
            event.stream_id.as_str().to_owned(),
            (event.stream_version, event.hash.clone()),
        );
        self.last_position = event.global_position;
        self.events += 1;
        Ok(())
    }

    pub fn verified(&self) -> Verified {
        Verified {
            events: self.events,
            streams: self.heads.len(),
            last_position: self.last_position,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use ledger::store::{event_hash, EventContent};
    use ledger::StreamId;
    use uuid::Uuid;

    /// A stream of `n` correctly chained events at positions 10, 20, ...
    fn stream(id: &str, n: i64) -> Vec<RecordedEvent> {
        let mut prev: Option<Vec<u8>> = None;
        (1..=n)
            .map(|version| {
                let payload = serde_json::json!({"n": version});
                let metadata = serde_json::json!({});
                let recorded_at = DateTime::UNIX_EPOCH;
                let hash = event_hash(
                    prev.as_deref(),
                    &EventContent {
                        stream_id: id,
                        stream_version: version,
                        event_id: Uuid::from_u128(version as u128),
                        command_id: "c",
                        event_type: "t",
                        schema_version: 1,
                        payload: &payload,
                        metadata: &metadata,
                        recorded_at,
                    },
                );
                let event = RecordedEvent {
                    global_position: version * 10,
                    stream_id: StreamId::new(id),
                    stream_version: version,
                    event_id: Uuid::from_u128(version as u128),
                    command_id: "c".into(),
                    event_type: "t".into(),
                    schema_version: 1,
                    payload,
                    metadata,
                    recorded_at,
                    prev_hash: prev.clone(),
                    hash: hash.to_vec(),
                };
                prev = Some(hash.to_vec());
                event
            })
            .collect()
    }

    fn check_all(events: &[RecordedEvent]) -> Result<Verified, (usize, String)> {
        let mut chain = Chain::default();
        for (i, event) in events.iter().enumerate() {
            chain.check(event).map_err(|p| (i, p))?;
        }
        Ok(chain.verified())
    }

    #[test]
    fn an_honest_stream_verifies() {
        assert_eq!(
            check_all(&stream("s", 3)),
            Ok(Verified {
                events: 3,
                streams: 1,
                last_position: 30
            })
        );
    }

    #[test]
    fn a_missing_event_is_named_by_the_one_after_it() {
        let mut events = stream("s", 3);
        events.remove(1);
        let (at, problem) = check_all(&events).expect_err("gap");
        assert_eq!(at, 1);
        assert!(problem.contains("expected version 2"), "{problem}");
    }

    #[test]
    fn a_stream_that_does_not_start_at_version_1_is_refused() {
        let events = stream("s", 3);
        let (at, problem) = check_all(&events[1..]).expect_err("slice");
        assert_eq!(at, 0);
        assert!(problem.contains("expected version 1"), "{problem}");
    }

    #[test]
    fn positions_must_increase() {
        let mut events = stream("s", 2);
        events[1].global_position = 10;
        let (at, problem) = check_all(&events).expect_err("order");
        assert_eq!(at, 1);
        assert!(problem.contains("does not follow"), "{problem}");
    }

    #[test]
    fn a_changed_payload_or_a_relinked_chain_is_refused() {
        let mut events = stream("s", 3);
        events[2].payload = serde_json::json!({"n": 99});
        let (at, problem) = check_all(&events).expect_err("tampered");
        assert_eq!(at, 2);
        assert!(problem.contains("does not match its hash"), "{problem}");

        let mut events = stream("s", 3);
        events[2].prev_hash = Some(vec![0; 32]);
        let (at, problem) = check_all(&events).expect_err("relinked");
        assert_eq!(at, 2);
        assert!(problem.contains("prev_hash"), "{problem}");
    }
}
