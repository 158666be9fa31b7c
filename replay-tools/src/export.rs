//! `export`: the log as NDJSON on standard output, one event per line in
//! position order (the format is `line::EventLine`).
//!
//! Everything comes from one REPEATABLE READ snapshot, so the file is a
//! consistent cut of the log (each stream a prefix, no half of a group
//! commit) while the system keeps serving. The snapshot is read a page at
//! a time, so memory stays bounded whatever the size of the log.

use std::io::{BufWriter, Write};

use ledger::store::{PgEventStore, READ_EVENTS_MAX};

use crate::error::Error;
use crate::{db, line, progress};

/// Standard output is written through a buffer of this size, flushed at
/// the end: one write per event would cost a system call each.
const OUTPUT_BUFFER_BYTES: usize = 256 * 1024;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// First global position to export (inclusive). A file that does not
    /// start at the beginning of the log cannot be imported: its streams do
    /// not start at version 1.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(i64).range(1..))]
    from: i64,
    /// Last global position to export (inclusive). Default: the last event
    /// committed when the export starts.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..))]
    to: Option<i64>,
}

/// What was written, for the line on standard error.
#[derive(Debug, Default)]
struct Written {
    events: u64,
    first: Option<i64>,
    last: Option<i64>,
}

pub async fn run(database_url: &str, args: &Args) -> Result<(), Error> {
    if let Some(to) = args.to.filter(|&to| to < args.from) {
        return Err(Error::InvalidArgument(format!(
            "--to {to} is before --from {}",
            args.from
        )));
    }
    let pool = db::connect(database_url).await?;
    let mut tx = db::snapshot(&pool).await?;
    let log_end: i64 = sqlx::query_scalar(include_str!("export/last_position.sql"))
        .fetch_one(&mut *tx)
        .await?;
    let to = args.to.map_or(log_end, |to| to.min(log_end));
    let bar = progress::bar(span(args.from, to), "exporting");
    let mut out = BufWriter::with_capacity(OUTPUT_BUFFER_BYTES, std::io::stdout().lock());
    let mut written = Written::default();
    let mut after = args.from - 1;
    while after < to {
        let page = PgEventStore::read_snapshot_page(&mut tx, after, READ_EVENTS_MAX).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for event in page.iter().take_while(|e| e.global_position <= to) {
            line::write(&mut out, event)?;
            written.events += 1;
            written.first.get_or_insert(event.global_position);
            written.last = Some(event.global_position);
        }
        bar.set_position(span(args.from, after.min(to)));
    }
    out.flush().map_err(Error::Write)?;
    bar.finish_and_clear();
    tx.commit().await?;
    match (written.first, written.last) {
        (Some(first), Some(last)) => eprintln!(
            "exported {} events, positions {first} to {last}",
            written.events
        ),
        _ => eprintln!("exported 0 events: the log has none in that range"),
    }
    Ok(())
}

/// How many positions `from..=to` covers (0 when empty).
fn span(from: i64, to: i64) -> u64 {
    u64::try_from(to - from + 1).unwrap_or(0)
}
