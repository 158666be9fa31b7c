//! `import`: loads an `export` file into an empty store, byte for byte:
//! the same positions, versions, ids, times, payloads and hashes.
//!
//! It reads the file twice. The first pass verifies it whole (every line an
//! event, positions increasing, each stream's versions contiguous from 1
//! and its hash chain intact) and writes nothing. The second pass inserts
//! it in bounded batches in one transaction, checking it again as it goes,
//! so a file changed between the passes rolls back rather than half-loads.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ledger::store::RecordedEvent;
use sqlx::PgPool;
use uuid::Uuid;

use crate::chain::{Chain, Verified};
use crate::error::Error;
use crate::line::EventLine;
use crate::{db, progress};

/// Longest line accepted, in bytes. Events are small (the command API
/// bounds request bodies far below this); the bound keeps a corrupt file
/// without newlines from being read into memory whole.
pub const LINE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Most events one INSERT may carry.
pub const BATCH_EVENTS_LIMIT: usize = 10_000;

/// Most line bytes one INSERT may carry, whatever `--batch-events-max` says.
const BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The NDJSON file `replay-tools export` wrote.
    file: PathBuf,
    /// Most events per INSERT statement (1 to 10000); every batch is part
    /// of the one transaction, so the import commits whole or not at all.
    #[arg(long, default_value_t = 1_000,
          value_parser = clap::value_parser!(u32).range(1..=BATCH_EVENTS_LIMIT as i64))]
    batch_events_max: u32,
}

pub async fn run(database_url: &str, args: &Args) -> Result<(), Error> {
    let pool = db::connect(database_url).await?;
    // Checked before the long verification too, so a wrong DATABASE_URL
    // fails at once; the check that counts is the one under the lock.
    refuse_non_empty(&pool).await?;
    let verified = verify_file(&args.file)?;
    let batch_events_max = usize::try_from(args.batch_events_max).unwrap_or(1);
    let written = load(&pool, &args.file, batch_events_max, verified).await?;
    println!(
        "imported {} events in {} streams up to position {}: every hash chain holds",
        written.events, written.streams, written.last_position
    );
    Ok(())
}

async fn refuse_non_empty(conn: impl sqlx::PgExecutor<'_>) -> Result<(), Error> {
    let last: Option<i64> = sqlx::query_scalar(include_str!("import/last_position.sql"))
        .fetch_one(conn)
        .await?;
    match last {
        Some(last_position) => Err(Error::StoreNotEmpty { last_position }),
        None => Ok(()),
    }
}

/// The first pass: the whole file checked, nothing written.
fn verify_file(path: &Path) -> Result<Verified, Error> {
    let mut lines = Lines::open(path)?;
    let bar = progress::bar(lines.len_bytes, "verifying");
    let mut chain = Chain::default();
    while let Some(event) = lines.next_event()? {
        chain
            .check(&event)
            .map_err(|problem| lines.chain_error(&event, problem))?;
        bar.set_position(lines.read_bytes);
    }
    bar.finish_and_clear();
    Ok(chain.verified())
}

/// The second pass: the file inserted in one transaction, committed only
/// if it is still what the first pass verified.
async fn load(
    pool: &PgPool,
    path: &Path,
    batch_events_max: usize,
    expected: Verified,
) -> Result<Verified, Error> {
    let mut lines = Lines::open(path)?;
    let bar = progress::bar(lines.len_bytes, "importing");
    let mut tx = pool.begin().await?;
    sqlx::query(include_str!("import/lock.sql"))
        .execute(&mut *tx)
        .await?;
    refuse_non_empty(&mut *tx).await?;
    let mut chain = Chain::default();
    let mut batch = Batch::default();
    while let Some(event) = lines.next_event()? {
        chain
            .check(&event)
            .map_err(|problem| lines.chain_error(&event, problem))?;
        batch.push(&event, lines.line_bytes);
        if batch.len() >= batch_events_max || batch.bytes >= BATCH_BYTES_MAX {
            std::mem::take(&mut batch).insert(&mut tx).await?;
            bar.set_position(lines.read_bytes);
        }
    }
    if !batch.is_empty() {
        batch.insert(&mut tx).await?;
    }
    let verified = chain.verified();
    if verified != expected {
        return Err(Error::Invariant(format!(
            "{} changed while it was imported (verified {expected:?}, then read {verified:?}); nothing was imported",
            path.display()
        )));
    }
    if verified.events > 0 {
        sqlx::query(include_str!("import/move_sequence.sql"))
            .bind(verified.last_position)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    bar.finish_and_clear();
    Ok(verified)
}

/// The lines of an export file, each bounded by `LINE_BYTES_MAX`, parsed
/// into events.
struct Lines {
    path: PathBuf,
    reader: BufReader<File>,
    buf: Vec<u8>,
    /// The number of the line last read, from 1.
    line: u64,
    /// The length of the line last read, newline included.
    line_bytes: usize,
    read_bytes: u64,
    len_bytes: u64,
}

impl Lines {
    fn open(path: &Path) -> Result<Self, Error> {
        let read_error = |source| Error::Read {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(read_error)?;
        let len_bytes = file.metadata().map_err(read_error)?.len();
        Ok(Self {
            path: path.to_owned(),
            reader: BufReader::new(file),
            buf: Vec::new(),
            line: 0,
            line_bytes: 0,
            read_bytes: 0,
            len_bytes,
        })
    }

    fn next_event(&mut self) -> Result<Option<RecordedEvent>, Error> {
        self.buf.clear();
        let bound = u64::try_from(LINE_BYTES_MAX + 1).unwrap_or(u64::MAX);
        let n = (&mut self.reader)
            .take(bound)
            .read_until(b'\n', &mut self.buf)
            .map_err(|source| Error::Read {
                path: self.path.clone(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        self.line_bytes = n;
        self.read_bytes += u64::try_from(n).unwrap_or(0);
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
        } else if n > LINE_BYTES_MAX {
            return Err(self.bad_line(format!("longer than {LINE_BYTES_MAX} bytes")));
        }
        let line: EventLine = serde_json::from_slice(&self.buf)
            .map_err(|e| self.bad_line(format!("not an exported event: {e}")))?;
        line.to_recorded().map(Some).map_err(|p| self.bad_line(p))
    }

    fn bad_line(&self, problem: String) -> Error {
        Error::BadLine {
            path: self.path.clone(),
            line: self.line,
            problem,
        }
    }

    fn chain_error(&self, event: &RecordedEvent, problem: String) -> Error {
        Error::Chain {
            at: format!(
                "{} line {}, event {} ({} v{})",
                self.path.display(),
                self.line,
                event.global_position,
                event.stream_id,
                event.stream_version
            ),
            problem: format!("{problem}; nothing was imported"),
        }
    }
}

/// Events waiting for one INSERT, as the column arrays it unnests.
#[derive(Debug, Default)]
struct Batch {
    bytes: usize,
    global_position: Vec<i64>,
    stream_id: Vec<String>,
    stream_version: Vec<i64>,
    event_id: Vec<Uuid>,
    command_id: Vec<String>,
    event_type: Vec<String>,
    schema_version: Vec<i32>,
    payload: Vec<serde_json::Value>,
    metadata: Vec<serde_json::Value>,
    recorded_at: Vec<DateTime<Utc>>,
    prev_hash: Vec<Option<Vec<u8>>>,
    hash: Vec<Vec<u8>>,
}

impl Batch {
    fn push(&mut self, e: &RecordedEvent, line_bytes: usize) {
        self.bytes += line_bytes;
        self.global_position.push(e.global_position);
        self.stream_id.push(e.stream_id.as_str().to_owned());
        self.stream_version.push(e.stream_version);
        self.event_id.push(e.event_id);
        self.command_id.push(e.command_id.clone());
        self.event_type.push(e.event_type.clone());
        self.schema_version.push(e.schema_version);
        self.payload.push(e.payload.clone());
        self.metadata.push(e.metadata.clone());
        self.recorded_at.push(e.recorded_at);
        self.prev_hash.push(e.prev_hash.clone());
        self.hash.push(e.hash.clone());
    }

    fn len(&self) -> usize {
        self.global_position.len()
    }

    fn is_empty(&self) -> bool {
        self.global_position.is_empty()
    }

    async fn insert(self, conn: &mut sqlx::PgConnection) -> Result<(), Error> {
        sqlx::query(include_str!("import/insert.sql"))
            .bind(self.global_position)
            .bind(self.stream_id)
            .bind(self.stream_version)
            .bind(self.event_id)
            .bind(self.command_id)
            .bind(self.event_type)
            .bind(self.schema_version)
            .bind(self.payload)
            .bind(self.metadata)
            .bind(self.recorded_at)
            .bind(self.prev_hash)
            .bind(self.hash)
            .execute(conn)
            .await?;
        Ok(())
    }
}
