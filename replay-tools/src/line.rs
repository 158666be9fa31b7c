//! One event as one line of JSON: what `export` writes, `import` reads and
//! `tail` prints.
//!
//! It carries every column of `events` except `tx_id`, which names the
//! writing transaction of one database and means nothing in another (an
//! import gets the importing transaction's id). Times are RFC 3339 in UTC
//! with exactly six decimals, the precision Postgres keeps and the hash
//! covers; hashes are lowercase hex. Serialising the same event twice gives
//! the same bytes, which the byte-exact export → import → export round trip
//! relies on.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use ledger::store::RecordedEvent;
use ledger::StreamId;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::Error;

/// A hash as stored: SHA-256.
const HASH_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventLine {
    pub global_position: i64,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub command_id: String,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub recorded_at: String,
    pub prev_hash: Option<String>,
    pub hash: String,
}

impl From<&RecordedEvent> for EventLine {
    fn from(event: &RecordedEvent) -> Self {
        Self {
            global_position: event.global_position,
            stream_id: event.stream_id.as_str().to_owned(),
            stream_version: event.stream_version,
            event_id: event.event_id,
            command_id: event.command_id.clone(),
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            payload: event.payload.clone(),
            metadata: event.metadata.clone(),
            recorded_at: event
                .recorded_at
                .to_rfc3339_opts(SecondsFormat::Micros, true),
            prev_hash: event.prev_hash.as_deref().map(hex::encode),
            hash: hex::encode(&event.hash),
        }
    }
}

impl EventLine {
    /// The event this line describes, refusing values the store could not
    /// hold. The problem is said in words, for the caller to place.
    pub fn to_recorded(&self) -> Result<RecordedEvent, String> {
        let recorded_at = DateTime::parse_from_rfc3339(&self.recorded_at)
            .map_err(|e| format!("recorded_at {:?} is not RFC 3339: {e}", self.recorded_at))?
            .with_timezone(&Utc);
        if recorded_at.timestamp_subsec_nanos() % 1_000 != 0 {
            // Postgres would round it, and the stored time would no longer
            // be the hashed one.
            return Err(format!(
                "recorded_at {:?} is finer than microseconds",
                self.recorded_at
            ));
        }
        let prev_hash = self
            .prev_hash
            .as_deref()
            .map(|h| parse_hash(h, "prev_hash"))
            .transpose()?;
        Ok(RecordedEvent {
            global_position: self.global_position,
            stream_id: StreamId::new(self.stream_id.clone()),
            stream_version: self.stream_version,
            event_id: self.event_id,
            command_id: self.command_id.clone(),
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            payload: self.payload.clone(),
            metadata: self.metadata.clone(),
            recorded_at,
            prev_hash,
            hash: parse_hash(&self.hash, "hash")?,
        })
    }
}

/// Writes `event` as one line. Errors are the output's (serde_json hands an
/// I/O error back as it was, so a closed pipe stays recognisable).
pub fn write(out: &mut impl Write, event: &RecordedEvent) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, &EventLine::from(event))
        .map_err(|e| Error::Write(e.into()))?;
    out.write_all(b"\n").map_err(Error::Write)
}

fn parse_hash(text: &str, field: &str) -> Result<Vec<u8>, String> {
    let bytes = hex::decode(text).map_err(|e| format!("{field} is not hex: {e}"))?;
    if bytes.len() != HASH_BYTES {
        return Err(format!(
            "{field} has {} bytes, not {HASH_BYTES}",
            bytes.len()
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> RecordedEvent {
        RecordedEvent {
            global_position: 7,
            stream_id: StreamId::new("account-alice"),
            stream_version: 2,
            event_id: Uuid::nil(),
            command_id: "c-1".into(),
            event_type: "funds_deposited".into(),
            schema_version: 1,
            payload: serde_json::json!({"b": 1, "a": [true, null]}),
            metadata: serde_json::json!({}),
            recorded_at: DateTime::from_timestamp_micros(1_700_000_000_000_100).expect("time"),
            prev_hash: Some(vec![1; 32]),
            hash: vec![2; 32],
        }
    }

    #[test]
    fn a_line_round_trips_to_the_same_event_and_bytes() {
        let line = EventLine::from(&event());
        assert_eq!(line.recorded_at, "2023-11-14T22:13:20.000100Z");
        assert_eq!(line.to_recorded(), Ok(event()));
        let text = serde_json::to_string(&line).expect("json");
        let back: EventLine = serde_json::from_str(&text).expect("parse");
        assert_eq!(serde_json::to_string(&back).expect("json"), text);
    }

    #[test]
    fn values_the_store_cannot_hold_are_refused() {
        let mut line = EventLine::from(&event());
        line.recorded_at = "2023-11-14T22:13:20.0001005Z".into();
        assert!(line.to_recorded().is_err());
        let mut line = EventLine::from(&event());
        line.hash = "abcd".into();
        assert!(line.to_recorded().is_err());
        let mut line = EventLine::from(&event());
        line.prev_hash = Some("zz".repeat(32));
        assert!(line.to_recorded().is_err());
        let unknown = serde_json::to_string(&EventLine::from(&event()))
            .expect("json")
            .replacen('{', "{\"tx_id\":5,", 1);
        assert!(serde_json::from_str::<EventLine>(&unknown).is_err());
    }
}
