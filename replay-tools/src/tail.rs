//! `tail`: follows the log live, one event per line (the export format),
//! until Ctrl-C or `--limit`.
//!
//! It reads through the store's gap-safe `read_all`, so an event whose
//! transaction commits late, below a position already printed, is never
//! skipped (ADR 0002). NOTIFY wakes it early; a poll keeps it going when a
//! notification is lost.

use std::io::{BufWriter, Write};
use std::time::Duration;

use ledger::store::{EventStore, PgEventStore, RecordedEvent, READ_EVENTS_MAX};

use crate::error::Error;
use crate::{db, line};

/// Longest poll interval accepted, in milliseconds.
const POLL_INTERVAL_MAX_MS: u64 = 60_000;

/// Most `--type` filters.
const TYPES_MAX: usize = 64;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only events of streams whose id starts with this (e.g. account-).
    #[arg(long)]
    stream_prefix: Option<String>,
    /// Only events of this type (repeat for several; default: every type).
    #[arg(long = "type", value_name = "TYPE")]
    types: Vec<String>,
    /// Start at this global position (inclusive), e.g. 1 for the whole log.
    /// Default: after the last event readable when tail starts.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    from: Option<i64>,
    /// Stop after printing this many events.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// How long to wait for a notification before reading the log anyway
    /// (1 to 60000 ms).
    #[arg(long, default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..=POLL_INTERVAL_MAX_MS))]
    poll_interval_ms: u64,
}

impl Args {
    fn wants(&self, event: &RecordedEvent) -> bool {
        let stream_matches = self
            .stream_prefix
            .as_deref()
            .is_none_or(|prefix| event.stream_id.as_str().starts_with(prefix));
        let type_matches = self.types.is_empty() || self.types.contains(&event.event_type);
        stream_matches && type_matches
    }
}

pub async fn run(database_url: &str, args: &Args) -> Result<(), Error> {
    if args.types.len() > TYPES_MAX {
        return Err(Error::InvalidArgument(format!(
            "at most {TYPES_MAX} --type filters"
        )));
    }
    let pool = db::connect(database_url).await?;
    let store = PgEventStore::new(pool.clone());
    // Subscribe before choosing the start, so that no append between the
    // two goes unannounced.
    let mut subscription = store.subscribe().await?;
    let after = match args.from {
        Some(from) => from - 1,
        None => {
            sqlx::query_scalar(include_str!("tail/readable_end.sql"))
                .fetch_one(&pool)
                .await?
        }
    };
    // Tests (and scripts) wait for this line before appending.
    eprintln!("tailing from position {}", after + 1);
    let follow = async {
        let mut after = after;
        let mut printed = 0u64;
        let mut out = BufWriter::new(std::io::stdout().lock());
        loop {
            let page = store.read_all(after, READ_EVENTS_MAX).await?;
            for event in &page {
                after = event.global_position;
                if !args.wants(event) {
                    continue;
                }
                line::write(&mut out, event)?;
                printed += 1;
                if args.limit.is_some_and(|limit| printed >= limit) {
                    return out.flush().map_err(Error::Write);
                }
            }
            // Flushed per page, not per event: a catch-up prints in bulk,
            // a live follower still sees each event as it is read.
            out.flush().map_err(Error::Write)?;
            if page.len() < usize::try_from(READ_EVENTS_MAX).unwrap_or(usize::MAX) {
                subscription
                    .wait(Duration::from_millis(args.poll_interval_ms))
                    .await;
            }
        }
    };
    let result = tokio::select! {
        result = follow => result,
        interrupted = tokio::signal::ctrl_c() => interrupted.map_err(Error::Signal),
    };
    match result {
        // `tail | head` closing the pipe is how a reader says it has enough.
        Err(error) if error.is_broken_pipe() => Ok(()),
        other => other,
    }
}
