//! The event store: the append-only log every state is derived from.
//!
//! [`EventStore`] is what a backend must offer; [`PgEventStore`] is the
//! Postgres backend (see `docs/adr/0001-event-store-on-postgres.md`).

mod canonical;
mod hash;
mod postgres;

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use canonical::CanonicalJson;
pub(crate) use canonical::{payload_renderings, Canonical, Render, Tree};
pub use hash::{canonical_json, event_hash, event_hash_canonical, Envelope, EventContent, Hash};
pub use postgres::{recorded_event, PgEventStore, PreparedGroups, Subscription, MIGRATOR};

use crate::{Error, StreamId};

/// Most streams one append batch may touch.
pub const BATCH_STREAMS_MAX: usize = 10_000;
/// Most events one append batch may write.
pub const BATCH_EVENTS_MAX: usize = 50_000;
/// Most events one read may return.
pub const READ_EVENTS_MAX: i64 = 10_000;

/// Where a stream stands: its last version (0 when empty) and that event's
/// hash, which the next event chains from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamHead {
    pub version: i64,
    pub hash: Option<Hash>,
}

impl StreamHead {
    pub const EMPTY: Self = Self {
        version: 0,
        hash: None,
    };
}

/// An event to append; the store gives it a version, position and hash.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    /// The bytes the hash covers and the store keeps.
    pub payload: CanonicalJson,
    pub metadata: serde_json::Value,
}

impl NewEvent {
    /// `payload` is a JSON tree or, cheaper, text already canonical (the
    /// domain events' `canonical_payload`).
    pub fn new(
        event_type: impl Into<String>,
        schema_version: i32,
        payload: impl Into<CanonicalJson>,
    ) -> Self {
        Self {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version,
            payload: payload.into(),
            metadata: serde_json::Value::Object(Default::default()),
        }
    }
}

/// One command's part of an append: its events (none if it was rejected) and
/// the outcome to return when the same command id comes again.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandAppend {
    pub command_id: String,
    pub request_hash: Vec<u8>,
    pub outcome: serde_json::Value,
    pub events: Vec<NewEvent>,
}

/// Everything one stream appends in a batch, decided against `expected`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    pub stream_id: StreamId,
    pub expected: StreamHead,
    pub commands: Vec<CommandAppend>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendOutcome {
    /// Committed. `last_positions[i]` is the global position of the last
    /// event of command `i`, or `None` when it appended none.
    Committed {
        head: StreamHead,
        last_positions: Vec<Option<i64>>,
    },
    /// The stream moved past `expected`, or one of the command ids was
    /// already recorded: nothing of this stream was written.
    Conflict,
}

/// An event as an aggregate folds it: where it is in its stream, its type,
/// its payload's JSON text and its hash. No metadata and no JSON tree, so a
/// cold stream costs one parse of each payload, straight into its type.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub stream_id: StreamId,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Box<serde_json::value::RawValue>,
    pub hash: Vec<u8>,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub global_position: i64,
    pub stream_id: StreamId,
    pub stream_version: i64,
    pub event_id: Uuid,
    pub command_id: String,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: serde_json::Value,
    pub metadata: serde_json::Value,
    pub recorded_at: DateTime<Utc>,
    pub prev_hash: Option<Vec<u8>>,
    pub hash: Vec<u8>,
}

impl RecordedEvent {
    /// Recomputes this event's hash from its content and `prev_hash`.
    pub fn computed_hash(&self) -> Hash {
        event_hash(
            self.prev_hash.as_deref(),
            &EventContent {
                stream_id: self.stream_id.as_str(),
                stream_version: self.stream_version,
                event_id: self.event_id,
                command_id: &self.command_id,
                event_type: &self.event_type,
                schema_version: self.schema_version,
                payload: &self.payload,
                metadata: &self.metadata,
                recorded_at: self.recorded_at,
            },
        )
    }
}

/// An event as projections read it: what they need and no more. Reading
/// the hashes, ids and metadata of every event costs a replay several times
/// its decoding, so projections read this instead of [`RecordedEvent`].
#[derive(Debug, Clone)]
pub struct LogEvent {
    pub global_position: i64,
    pub stream_id: StreamId,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub recorded_at: DateTime<Utc>,
    /// The payload's JSON text, decoded by whoever knows its type.
    pub payload: Box<serde_json::value::RawValue>,
}

impl LogEvent {
    /// The slim view of a full event.
    pub fn from_recorded(event: &RecordedEvent) -> Result<Self, Error> {
        let text = serde_json::to_string(&event.payload).map_err(|source| Error::Decode {
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            source,
        })?;
        let payload =
            serde_json::value::RawValue::from_string(text).map_err(|source| Error::Decode {
                event_type: event.event_type.clone(),
                schema_version: event.schema_version,
                source,
            })?;
        Ok(Self {
            global_position: event.global_position,
            stream_id: event.stream_id.clone(),
            stream_version: event.stream_version,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            recorded_at: event.recorded_at,
            payload,
        })
    }
}

/// A command already recorded: what was answered, and where its events are.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCommand {
    pub command_id: String,
    pub stream_id: StreamId,
    pub request_hash: Vec<u8>,
    pub outcome: serde_json::Value,
    pub last_position: Option<i64>,
}

/// What a backend of the event store must offer.
pub trait EventStore: Send + Sync {
    /// Appends groups of streams in one transaction. The streams of a group
    /// commit together or not at all: a conflict on one of them drops its
    /// whole group, never another group. A command that writes several
    /// streams (a bet: the wallet and each market it is on) is one group,
    /// and is recorded once, by the first of its streams that lists it.
    /// The outcomes come back in the shape of `groups`.
    fn append_groups(
        &self,
        groups: Vec<Vec<StreamAppend>>,
    ) -> impl Future<Output = Result<Vec<Vec<AppendOutcome>>, Error>> + Send;

    /// Appends many streams in one transaction. Each stream commits whole or
    /// not at all; a conflict on one stream never fails the others.
    fn append_batch(
        &self,
        batch: Vec<StreamAppend>,
    ) -> impl Future<Output = Result<Vec<AppendOutcome>, Error>> + Send {
        async move {
            let groups = batch.into_iter().map(|s| vec![s]).collect();
            let outcomes = self.append_groups(groups).await?;
            Ok(outcomes.into_iter().flatten().collect())
        }
    }

    /// The events of one stream after `after_version`, oldest first.
    fn read_stream(
        &self,
        stream: &StreamId,
        after_version: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;

    /// Events of the whole log after `after_position`, in position order,
    /// never skipping one that commits later (gap-safe).
    fn read_all(
        &self,
        after_position: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, Error>> + Send;

    /// What `read_all` returns, in the slim form projections read. The
    /// default builds it from `read_all`; a backend may read less.
    fn read_log(
        &self,
        after_position: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<LogEvent>, Error>> + Send {
        async move {
            let events = self.read_all(after_position, limit).await?;
            events.iter().map(LogEvent::from_recorded).collect()
        }
    }

    /// The recorded commands among `command_ids`.
    fn find_commands(
        &self,
        command_ids: &[String],
    ) -> impl Future<Output = Result<HashMap<String, StoredCommand>, Error>> + Send;

    /// A wake-up signal for new events (a hint only; readers also poll).
    fn subscribe(&self) -> impl Future<Output = Result<Subscription, Error>> + Send;

    /// Appends one command's events to one stream.
    fn append(
        &self,
        stream: StreamId,
        expected: StreamHead,
        events: Vec<NewEvent>,
        command_id: String,
    ) -> impl Future<Output = Result<AppendOutcome, Error>> + Send {
        async move {
            let command = CommandAppend {
                command_id,
                request_hash: Vec::new(),
                outcome: serde_json::Value::Null,
                events,
            };
            let batch = vec![StreamAppend {
                stream_id: stream,
                expected,
                commands: vec![command],
            }];
            let mut outcomes = self.append_batch(batch).await?;
            Ok(outcomes.pop().unwrap_or(AppendOutcome::Conflict))
        }
    }
}
