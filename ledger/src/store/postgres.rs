//! The Postgres backend of the event store (DESIGN.md §4).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgListener, PgRow};
use sqlx::{PgPool, Postgres, Row};
use uuid::Uuid;

use super::{
    canonical_json, event_hash_canonical, AppendOutcome, Envelope, EventStore, Hash, LogEvent,
    RecordedEvent, StoredCommand, StreamAppend, StreamEvent, StreamHead, BATCH_EVENTS_MAX,
    BATCH_STREAMS_MAX, READ_EVENTS_MAX,
};
use crate::{Error, StreamId};

/// The schema of the event store and of the read models, embedded.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../schemas/postgres");

/// How often one batch is retried without the streams that conflicted.
const APPEND_ATTEMPTS_MAX: usize = 3;

const NOTIFY_CHANNEL: &str = "betledger_events";

#[derive(Debug, Clone)]
pub struct PgEventStore {
    pool: PgPool,
}

impl PgEventStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates or updates the schema.
    pub async fn migrate(&self) -> Result<(), Error> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The stream of the account that placed a hold, from the events alone.
    pub async fn find_hold_stream(&self, hold_id: &str) -> Result<Option<StreamId>, Error> {
        let row = sqlx::query(include_str!("find_hold_stream.sql"))
            .bind(hold_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
            .map(StreamId::new))
    }

    /// The events of many streams, each after its own version, ordered by
    /// stream then version, at most `limit` in all: a result of `limit`
    /// events may stop inside a stream, whose reader goes on from there.
    pub async fn read_streams(
        &self,
        after: &[(StreamId, i64)],
        limit: i64,
    ) -> Result<Vec<StreamEvent>, Error> {
        let ids: Vec<&str> = after.iter().map(|(s, _)| s.as_str()).collect();
        let versions: Vec<i64> = after.iter().map(|(_, v)| *v).collect();
        let rows = sqlx::query(include_str!("read_streams.sql"))
            .bind(ids)
            .bind(versions)
            .bind(limit.clamp(0, READ_EVENTS_MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stream_event).collect()
    }

    /// The events of one stream after `after_version`, oldest first, as an
    /// aggregate folds them.
    pub async fn read_stream_events(
        &self,
        stream: &StreamId,
        after_version: i64,
        limit: i64,
    ) -> Result<Vec<StreamEvent>, Error> {
        let rows = sqlx::query(include_str!("read_stream_events.sql"))
            .bind(stream.as_str())
            .bind(after_version)
            .bind(limit.clamp(0, READ_EVENTS_MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(stream_event).collect()
    }

    /// The newest events of the given types in a stream, newest first.
    pub async fn read_stream_latest(
        &self,
        stream: &StreamId,
        event_types: &[&str],
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let types: Vec<String> = event_types.iter().map(|t| (*t).to_owned()).collect();
        let rows = sqlx::query(include_str!("read_stream_latest.sql"))
            .bind(stream.as_str())
            .bind(types)
            .bind(limit.clamp(0, READ_EVENTS_MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(recorded_event).collect()
    }

    /// A page of every event visible to `conn`'s snapshot, in position
    /// order. An audit opens one REPEATABLE READ transaction and pages
    /// through it: it sees each stream as a prefix and every transfer whole,
    /// and is not held back by other transactions as `read_all` is.
    pub async fn read_snapshot_page(
        conn: &mut sqlx::PgConnection,
        after_position: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        // Planned afresh at each call, as `read_log` is (see there).
        let rows = sqlx::query(include_str!("read_committed_page.sql"))
            .persistent(false)
            .bind(after_position)
            .bind(limit.clamp(0, READ_EVENTS_MAX))
            .fetch_all(conn)
            .await?;
        rows.iter().map(recorded_event).collect()
    }

    /// Builds every row of `groups` (see [`PreparedGroups`]) without
    /// sending anything; [`Self::append_prepared`] sends them.
    pub fn prepare_groups(groups: Vec<Vec<StreamAppend>>) -> Result<PreparedGroups, Error> {
        check_batch(&groups.iter().flatten().collect::<Vec<_>>())?;
        // Postgres keeps microseconds; truncating first keeps the hash stable.
        let now = Utc::now();
        let recorded_at = DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let group_lens = groups.iter().map(Vec::len).collect();
        let streams = groups
            .into_iter()
            .enumerate()
            .flat_map(|(g, streams)| streams.into_iter().map(move |s| (g, s)))
            .map(|(g, s)| prepare(s, g, recorded_at))
            .collect();
        Ok(PreparedGroups {
            streams,
            group_lens,
            recorded_at,
        })
    }

    /// Appends a prepared batch, as [`EventStore::append_groups`] does.
    pub async fn append_prepared(
        &self,
        batch: PreparedGroups,
    ) -> Result<Vec<Vec<AppendOutcome>>, Error> {
        let prepared = &batch.streams;
        let recorded_at = batch.recorded_at;
        let mut outcomes = vec![AppendOutcome::Conflict; prepared.len()];
        let mut active: Vec<usize> = (0..prepared.len()).collect();
        for _ in 0..APPEND_ATTEMPTS_MAX {
            if active.is_empty() {
                break;
            }
            match self.try_append(prepared, &active, recorded_at).await? {
                Attempt::Committed(positions) => {
                    for &i in &active {
                        let p = &prepared[i];
                        let last_positions = p
                            .last_event
                            .iter()
                            .map(|last| {
                                last.and_then(|e| positions.get(&(i, p.events[e].version)).copied())
                            })
                            .collect();
                        outcomes[i] = AppendOutcome::Committed {
                            head: p.head,
                            last_positions,
                        };
                    }
                    break;
                }
                Attempt::Conflicted(streams) => {
                    // A stream that conflicts takes its whole group with it.
                    let groups: HashSet<usize> =
                        streams.iter().map(|&i| prepared[i].group).collect();
                    active.retain(|&i| !groups.contains(&prepared[i].group));
                }
            }
        }
        let mut outcomes = outcomes.into_iter();
        Ok(batch
            .group_lens
            .iter()
            .map(|&n| outcomes.by_ref().take(n).collect())
            .collect())
    }

    async fn try_append(
        &self,
        batch: &[Prepared],
        active: &[usize],
        recorded_at: DateTime<Utc>,
    ) -> Result<Attempt, Error> {
        let mut conn = self.pool.acquire().await?;
        let result = try_append_on(&mut conn, batch, active, recorded_at).await;
        if result.is_err() {
            // The session may still hold the append lock or an open
            // transaction; closing it releases both.
            drop(conn.detach());
        }
        result
    }
}

/// One stream of a batch with its rows built: versions, hashes, times.
struct Prepared {
    append: StreamAppend,
    /// The group this stream commits or conflicts with.
    group: usize,
    events: Vec<EventRow>,
    /// For each command, the index in `events` of its last event.
    last_event: Vec<Option<usize>>,
    head: StreamHead,
}

/// An event row ready to bind. Payload and metadata are their canonical
/// JSON text, made once: the same bytes are hashed and sent to Postgres.
struct EventRow {
    version: i64,
    event_id: Uuid,
    /// Where the event is in its stream's append: command, then event.
    command: usize,
    event: usize,
    payload: String,
    metadata: String,
    prev_hash: Option<Hash>,
    hash: Hash,
}

/// A batch of groups with every row built (versions, canonical payloads,
/// hashes) but nothing sent yet. The heads each stream will have once it
/// commits are known now, so a caller can decide what comes next on those
/// streams while this batch is in flight (the settlement process does).
pub struct PreparedGroups {
    streams: Vec<Prepared>,
    /// How many streams each group has, in order.
    group_lens: Vec<usize>,
    recorded_at: DateTime<Utc>,
}

impl PreparedGroups {
    /// Each stream of the batch with the head it will have if it commits.
    pub fn heads(&self) -> impl Iterator<Item = (&StreamId, StreamHead)> {
        self.streams.iter().map(|p| (&p.append.stream_id, p.head))
    }
}

fn prepare(append: StreamAppend, group: usize, recorded_at: DateTime<Utc>) -> Prepared {
    let mut head = append.expected;
    let mut events = Vec::new();
    let mut last_event = Vec::with_capacity(append.commands.len());
    for (c, command) in append.commands.iter().enumerate() {
        for (e, event) in command.events.iter().enumerate() {
            let version = head.version + 1;
            let payload = event.payload.as_str().to_owned();
            let metadata = canonical_text(&event.metadata);
            let hash = event_hash_canonical(
                head.hash.as_ref().map(|h| h.as_slice()),
                &Envelope {
                    stream_id: append.stream_id.as_str(),
                    stream_version: version,
                    event_id: event.event_id,
                    command_id: &command.command_id,
                    event_type: &event.event_type,
                    schema_version: event.schema_version,
                    recorded_at,
                },
                payload.as_bytes(),
                metadata.as_bytes(),
            );
            events.push(EventRow {
                version,
                event_id: event.event_id,
                command: c,
                event: e,
                payload,
                metadata,
                prev_hash: head.hash,
                hash,
            });
            head = StreamHead {
                version,
                hash: Some(hash),
            };
        }
        last_event.push(
            events
                .len()
                .checked_sub(1)
                .filter(|_| !command.events.is_empty()),
        );
    }
    Prepared {
        append,
        group,
        events,
        last_event,
        head,
    }
}

/// Canonical JSON is ASCII-safe UTF-8 by construction (serde_json writes it).
fn canonical_text(value: &serde_json::Value) -> String {
    String::from_utf8(canonical_json(value)).unwrap_or_else(|e| {
        // Unreachable: serde_json only writes UTF-8. Keep the bytes rather
        // than panic; Postgres would refuse them and the batch fails cleanly.
        String::from_utf8_lossy(e.as_bytes()).into_owned()
    })
}

enum Attempt {
    Committed(HashMap<(usize, i64), i64>),
    Conflicted(HashSet<usize>),
}

/// SQLSTATE that `events_append` raises when streams conflict; DETAIL holds
/// their ids as a JSON array.
const CONFLICT_SQLSTATE: &str = "BL409";

/// One attempt at a batch: a single `events_append` statement, which is its
/// own transaction (autocommit), so the whole group commit is one round trip.
async fn try_append_on(
    conn: &mut PoolConnection<Postgres>,
    batch: &[Prepared],
    active: &[usize],
    recorded_at: DateTime<Utc>,
) -> Result<Attempt, Error> {
    let index: HashMap<&str, usize> = active
        .iter()
        .map(|&i| (batch[i].append.stream_id.as_str(), i))
        .collect();
    let mut events = EventColumns::default();
    let mut readers: (Vec<String>, Vec<i64>) = (Vec::new(), Vec::new());
    let mut commands = CommandColumns::default();
    // A command on several streams of a group is recorded once, by the
    // first stream that lists it.
    let mut recorded: HashSet<(usize, &str)> = HashSet::new();
    for &i in active {
        let p = &batch[i];
        let stream = p.append.stream_id.as_str();
        for e in &p.events {
            events.push(stream, &p.append, e, recorded_at);
        }
        if p.events.is_empty() {
            // Rejected commands only: nothing to conflict on but the version
            // they were decided against, which the function checks.
            readers.0.push(stream.to_owned());
            readers.1.push(p.append.expected.version);
        }
        for command in &p.append.commands {
            if !recorded.insert((p.group, command.command_id.as_str())) {
                continue;
            }
            commands.id.push(command.command_id.clone());
            commands.stream.push(stream.to_owned());
            commands.hash.push(command.request_hash.clone());
            commands.outcome.push(command.outcome.to_string());
        }
    }
    let result = sqlx::query(include_str!("append.sql"))
        .bind(events.stream_id)
        .bind(events.version)
        .bind(events.event_id)
        .bind(events.command_id)
        .bind(events.event_type)
        .bind(events.schema_version)
        .bind(events.payload)
        .bind(events.metadata)
        .bind(events.recorded_at)
        .bind(events.prev_hash)
        .bind(events.hash)
        .bind(commands.id)
        .bind(commands.stream)
        .bind(commands.hash)
        .bind(commands.outcome)
        .bind(readers.0)
        .bind(readers.1)
        .fetch_all(&mut **conn)
        .await;
    let rows = match result {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some(CONFLICT_SQLSTATE) => {
            let detail = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .and_then(|pg| pg.detail())
                .unwrap_or("[]");
            let streams: Vec<String> = serde_json::from_str(detail).unwrap_or_default();
            let conflicted: HashSet<usize> = streams
                .iter()
                .filter_map(|s| index.get(s.as_str()).copied())
                .collect();
            if conflicted.is_empty() {
                // Unreadable detail: treat the whole attempt as conflicted
                // rather than guess which stream it was.
                return Ok(Attempt::Conflicted(active.iter().copied().collect()));
            }
            return Ok(Attempt::Conflicted(conflicted));
        }
        Err(other) => return Err(other.into()),
    };
    let mut positions = HashMap::new();
    for row in &rows {
        let stream: String = row.try_get(0)?;
        if let Some(&i) = index.get(stream.as_str()) {
            positions.insert((i, row.try_get::<i64, _>(1)?), row.try_get::<i64, _>(2)?);
        }
    }
    Ok(Attempt::Committed(positions))
}

#[derive(Default)]
struct CommandColumns {
    id: Vec<String>,
    stream: Vec<String>,
    hash: Vec<Vec<u8>>,
    /// JSON text; Postgres parses it into the jsonb column.
    outcome: Vec<String>,
}

#[derive(Default)]
struct EventColumns {
    stream_id: Vec<String>,
    version: Vec<i64>,
    event_id: Vec<Uuid>,
    command_id: Vec<String>,
    event_type: Vec<String>,
    schema_version: Vec<i32>,
    payload: Vec<String>,
    metadata: Vec<String>,
    recorded_at: Vec<DateTime<Utc>>,
    prev_hash: Vec<Option<Vec<u8>>>,
    hash: Vec<Vec<u8>>,
}

impl EventColumns {
    fn push(
        &mut self,
        stream_id: &str,
        append: &StreamAppend,
        e: &EventRow,
        recorded_at: DateTime<Utc>,
    ) {
        let command = &append.commands[e.command];
        let event = &command.events[e.event];
        self.stream_id.push(stream_id.to_owned());
        self.version.push(e.version);
        self.event_id.push(e.event_id);
        self.command_id.push(command.command_id.clone());
        self.event_type.push(event.event_type.clone());
        self.schema_version.push(event.schema_version);
        self.payload.push(e.payload.clone());
        self.metadata.push(e.metadata.clone());
        self.recorded_at.push(recorded_at);
        self.prev_hash.push(e.prev_hash.map(|h| h.to_vec()));
        self.hash.push(e.hash.to_vec());
    }
}

/// A row of `events` selected by column name, as every read of whole
/// events (here and in the replay tools) selects it.
pub fn recorded_event(row: &PgRow) -> Result<RecordedEvent, Error> {
    Ok(RecordedEvent {
        global_position: row.try_get("global_position")?,
        stream_id: StreamId::new(row.try_get::<String, _>("stream_id")?),
        stream_version: row.try_get("stream_version")?,
        event_id: row.try_get("event_id")?,
        command_id: row.try_get("command_id")?,
        event_type: row.try_get("event_type")?,
        schema_version: row.try_get("schema_version")?,
        payload: row.try_get("payload")?,
        metadata: row.try_get("metadata")?,
        recorded_at: row.try_get("recorded_at")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

fn log_event(row: &PgRow) -> Result<LogEvent, Error> {
    let payload: sqlx::types::Json<Box<serde_json::value::RawValue>> = row.try_get(6)?;
    Ok(LogEvent {
        global_position: row.try_get(0)?,
        stream_id: StreamId::new(row.try_get::<String, _>(1)?),
        stream_version: row.try_get(2)?,
        event_type: row.try_get(3)?,
        schema_version: row.try_get(4)?,
        recorded_at: row.try_get(5)?,
        payload: payload.0,
    })
}

fn stream_event(row: &PgRow) -> Result<StreamEvent, Error> {
    let payload: sqlx::types::Json<Box<serde_json::value::RawValue>> = row.try_get(4)?;
    Ok(StreamEvent {
        stream_id: StreamId::new(row.try_get::<String, _>(0)?),
        stream_version: row.try_get(1)?,
        event_type: row.try_get(2)?,
        schema_version: row.try_get(3)?,
        payload: payload.0,
        hash: row.try_get(5)?,
    })
}

fn check_batch(batch: &[&StreamAppend]) -> Result<(), Error> {
    let events: usize = batch
        .iter()
        .flat_map(|s| &s.commands)
        .map(|c| c.events.len())
        .sum();
    if batch.len() > BATCH_STREAMS_MAX {
        return Err(Error::BatchTooLarge {
            count: batch.len(),
            limit: BATCH_STREAMS_MAX,
        });
    }
    if events > BATCH_EVENTS_MAX {
        return Err(Error::BatchTooLarge {
            count: events,
            limit: BATCH_EVENTS_MAX,
        });
    }
    let mut seen = HashSet::new();
    if let Some(dup) = batch.iter().find(|s| !seen.insert(s.stream_id.as_str())) {
        return Err(Error::DuplicateStream(dup.stream_id.to_string()));
    }
    Ok(())
}

impl EventStore for PgEventStore {
    async fn append_groups(
        &self,
        groups: Vec<Vec<StreamAppend>>,
    ) -> Result<Vec<Vec<AppendOutcome>>, Error> {
        self.append_prepared(Self::prepare_groups(groups)?).await
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        after_version: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, Error> {
        let rows = sqlx::query(include_str!("read_stream.sql"))
            .bind(stream.as_str())
            .bind(after_version)
            .bind(limit.clamp(0, READ_EVENTS_MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(recorded_event).collect()
    }

    async fn read_all(&self, after_position: i64, limit: i64) -> Result<Vec<RecordedEvent>, Error> {
        // Planned afresh at each call, as `read_log` is (see there).
        let rows = sqlx::query(include_str!("read_all.sql"))
            .persistent(false)
            .bind(after_position)
            .bind(limit.clamp(0, READ_EVENTS_MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(recorded_event).collect()
    }

    async fn read_log(&self, after_position: i64, limit: i64) -> Result<Vec<LogEvent>, Error> {
        // Planned afresh at each call, not cached per connection: a plan
        // cached while the log was nearly empty is a sequential scan and a
        // sort, and without a new ANALYZE (autovacuum off) the connection
        // keeps it forever, reading the whole log at every projection step.
        // Planning this query costs far less than one such scan.
        let rows = sqlx::query(include_str!("read_log.sql"))
            .persistent(false)
            .bind(after_position)
            .bind(limit.clamp(0, READ_EVENTS_MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(log_event).collect()
    }

    async fn find_commands(
        &self,
        command_ids: &[String],
    ) -> Result<HashMap<String, StoredCommand>, Error> {
        if command_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query(include_str!("find_commands.sql"))
            .bind(command_ids)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let command = StoredCommand {
                    command_id: r.try_get("command_id")?,
                    stream_id: StreamId::new(r.try_get::<String, _>("stream_id")?),
                    request_hash: r.try_get("request_hash")?,
                    outcome: r.try_get("outcome")?,
                    last_position: r.try_get("last_position")?,
                };
                Ok((command.command_id.clone(), command))
            })
            .collect()
    }

    async fn subscribe(&self) -> Result<Subscription, Error> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(NOTIFY_CHANNEL).await?;
        Ok(Subscription { listener })
    }
}

/// Wakes a reader when events were appended.
pub struct Subscription {
    listener: PgListener,
}

impl Subscription {
    /// Waits until events may have been appended or `timeout` passes.
    /// Returns whether a notification arrived; false is not "no events".
    pub async fn wait(&mut self, timeout: Duration) -> bool {
        match tokio::time::timeout(timeout, self.listener.recv()).await {
            Ok(Ok(_)) => {
                // Drain what is already buffered (without waiting for more):
                // one wake-up is enough.
                while self.listener.next_buffered().is_some() {}
                true
            }
            // A lost connection reconnects on the next call; meanwhile the
            // caller's poll keeps it correct.
            Ok(Err(_)) | Err(_) => false,
        }
    }
}
