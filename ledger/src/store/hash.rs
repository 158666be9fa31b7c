//! The per-stream hash chain: each event's hash is SHA-256 of the previous
//! event's hash in its stream followed by the event's canonical bytes.
//!
//! Canonical bytes are JSON with object keys sorted and no whitespace, built
//! here rather than by serde_json, so the bytes do not depend on how Postgres
//! or a feature flag orders jsonb keys.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub type Hash = [u8; 32];

/// The parts of an event the hash covers. The global position is not among
/// them: it is drawn by the database after the hash is computed.
pub struct EventContent<'a> {
    pub stream_id: &'a str,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub command_id: &'a str,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub payload: &'a serde_json::Value,
    pub metadata: &'a serde_json::Value,
    pub recorded_at: DateTime<Utc>,
}

pub fn event_hash(prev: Option<&[u8]>, content: &EventContent<'_>) -> Hash {
    let payload = canonical_json(content.payload);
    let metadata = canonical_json(content.metadata);
    event_hash_canonical(prev, &Envelope::of(content), &payload, &metadata)
}

/// What the hash covers besides the payload and the metadata.
pub struct Envelope<'a> {
    pub stream_id: &'a str,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub command_id: &'a str,
    pub event_type: &'a str,
    pub schema_version: i32,
    pub recorded_at: DateTime<Utc>,
}

impl<'a> Envelope<'a> {
    pub fn of(content: &EventContent<'a>) -> Self {
        Self {
            stream_id: content.stream_id,
            stream_version: content.stream_version,
            event_id: content.event_id,
            command_id: content.command_id,
            event_type: content.event_type,
            schema_version: content.schema_version,
            recorded_at: content.recorded_at,
        }
    }
}

/// [`event_hash`] for a caller that already holds the canonical bytes of the
/// payload and metadata (the writer stores those same bytes, so it makes
/// them once).
pub fn event_hash_canonical(
    prev: Option<&[u8]>,
    envelope: &Envelope<'_>,
    payload: &[u8],
    metadata: &[u8],
) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(prev.unwrap_or_default());
    hasher.update(envelope_bytes(envelope, payload, metadata));
    hasher.finalize().into()
}

/// The canonical bytes of the envelope the hash covers: its keys in sorted
/// order, written directly so the payload is not copied into another tree.
fn envelope_bytes(content: &Envelope<'_>, payload: &[u8], metadata: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(192 + payload.len() + metadata.len());
    out.extend_from_slice(b"{\"command_id\":");
    write_str(content.command_id, &mut out);
    out.extend_from_slice(b",\"event_id\":");
    write_str(&content.event_id.to_string(), &mut out);
    out.extend_from_slice(b",\"event_type\":");
    write_str(content.event_type, &mut out);
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(metadata);
    out.extend_from_slice(b",\"payload\":");
    out.extend_from_slice(payload);
    out.extend_from_slice(b",\"recorded_at_us\":");
    out.extend_from_slice(
        content
            .recorded_at
            .timestamp_micros()
            .to_string()
            .as_bytes(),
    );
    out.extend_from_slice(b",\"schema_version\":");
    out.extend_from_slice(content.schema_version.to_string().as_bytes());
    out.extend_from_slice(b",\"stream_id\":");
    write_str(content.stream_id, &mut out);
    out.extend_from_slice(b",\"stream_version\":");
    out.extend_from_slice(content.stream_version.to_string().as_bytes());
    out.push(b'}');
    out
}

/// JSON with sorted keys and no insignificant whitespace.
pub fn canonical_json(value: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(key, out);
                out.push(b':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_str(value: &str, out: &mut Vec<u8>) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn write_scalar(value: &serde_json::Value, out: &mut Vec<u8>) {
    // Writing a scalar Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_order_does_not_change_the_bytes() {
        let a: serde_json::Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,"x"],"c":null}}"#).expect("json");
        let b: serde_json::Value =
            serde_json::from_str(r#"{ "a": {"c": null, "d": [1, "x"]}, "b": 1 }"#).expect("json");
        assert_eq!(canonical_json(&a), canonical_json(&b));
        assert_eq!(
            canonical_json(&a),
            br#"{"a":{"c":null,"d":[1,"x"]},"b":1}"#.to_vec()
        );
    }

    /// Every stored hash was made from this envelope, built as a JSON tree;
    /// the direct writer must give the same bytes or old chains break.
    #[test]
    fn the_envelope_bytes_are_those_of_the_json_tree() {
        let payload = serde_json::json!({"b": "x\"y", "a": {"n": -5, "u": "\u{e9}"}});
        let metadata = serde_json::json!({"actor": "ops"});
        let content = EventContent {
            stream_id: "account-p\u{e9}",
            stream_version: 42,
            event_id: Uuid::now_v7(),
            command_id: "key:a\\b",
            event_type: "funds_deposited",
            schema_version: 3,
            payload: &payload,
            metadata: &metadata,
            recorded_at: DateTime::from_timestamp_micros(1_763_900_000_123_456).expect("time"),
        };
        let tree = serde_json::json!({
            "stream_id": content.stream_id,
            "stream_version": content.stream_version,
            "event_id": content.event_id.to_string(),
            "command_id": content.command_id,
            "event_type": content.event_type,
            "schema_version": content.schema_version,
            "payload": content.payload,
            "metadata": content.metadata,
            "recorded_at_us": content.recorded_at.timestamp_micros(),
        });
        let direct = envelope_bytes(
            &Envelope::of(&content),
            &canonical_json(&payload),
            &canonical_json(&metadata),
        );
        assert_eq!(
            String::from_utf8(direct).expect("utf8"),
            String::from_utf8(canonical_json(&tree)).expect("utf8")
        );
    }

    #[test]
    fn the_hash_covers_the_previous_hash_and_the_payload() {
        let payload = serde_json::json!({"amount": 5});
        let meta = serde_json::json!({});
        let content = |payload| EventContent {
            stream_id: "s",
            stream_version: 1,
            event_id: Uuid::nil(),
            command_id: "c",
            event_type: "t",
            schema_version: 1,
            payload,
            metadata: &meta,
            recorded_at: DateTime::UNIX_EPOCH,
        };
        let other = serde_json::json!({"amount": 6});
        let h1 = event_hash(None, &content(&payload));
        assert_ne!(h1, event_hash(Some(&[0u8; 32]), &content(&payload)));
        assert_ne!(h1, event_hash(None, &content(&other)));
        assert_eq!(h1, event_hash(None, &content(&payload)));
    }
}
