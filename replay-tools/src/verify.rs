//! `verify`: the log is what it claims to be, and the read models are what
//! it makes. From one REPEATABLE READ snapshot it
//! - walks every stream's hash chain (each event chains to its predecessor
//!   and hashes to what was stored);
//! - replays the transfers in memory and checks that all balances sum to
//!   zero in every currency, at the end and, with `--every N`, at every
//!   N-th position;
//! - compares the replay with `account_balances` account by account and
//!   with `account_statement` line by line, each at its projection's
//!   checkpoint in the snapshot (projections may lag the log).
//!
//! It stops at the first broken chain, naming the event; read-model
//! differences are counted to the end and the first of each is named.

mod clickhouse;
mod read_models;
mod replay;

use std::fmt::Write as _;
use std::time::Instant;

use ledger::book::Book;
use ledger::store::{PgEventStore, RecordedEvent, READ_EVENTS_MAX};
use projections::clickhouse::{Analytics, ClickHouseConfig};
use serde::Serialize;
use sqlx::PgConnection;

use crate::chain::Chain;
use crate::error::Error;
use crate::wallet_events::decode;
use crate::{db, output, progress};
use read_models::{Compared, StatementCheck};
use replay::Replay;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also check that the balances sum to zero at every N-th position
    /// (after the last event at or below each multiple of N). Each check
    /// sums every account, so a small N over many accounts is slow.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..))]
    every: Option<i64>,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// Also compare the ClickHouse projection (every account's sums, up to
    /// its checkpoint) with the replay, on this ClickHouse server; skipped
    /// when the sink has never run against this database.
    #[arg(long, env = "CLICKHOUSE_URL")]
    clickhouse_url: Option<String>,
    /// The ClickHouse database of the facts.
    #[arg(long, env = "CLICKHOUSE_DATABASE", default_value = "betledger")]
    clickhouse_database: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub events: u64,
    pub streams: usize,
    pub last_position: i64,
    /// Accounts (per currency) the replay holds.
    pub accounts: usize,
    pub every: Option<i64>,
    /// Positions at which the sums were checked besides the end.
    pub sum_checks: u64,
    pub read_models: Vec<Compared>,
    pub seconds: f64,
    pub events_per_s: f64,
}

pub async fn run(database_url: &str, args: &Args) -> Result<(), Error> {
    let started = Instant::now();
    let pool = db::connect(database_url).await?;
    let analytics = match &args.clickhouse_url {
        Some(url) => Some(Analytics::new(&ClickHouseConfig::new(
            url,
            &args.clickhouse_database,
        ))?),
        None => None,
    };
    let mut tx = db::snapshot(&pool).await?;
    let mut report = walk(&mut tx, args.every, analytics.as_ref()).await?;
    tx.commit().await?;
    report.seconds = started.elapsed().as_secs_f64();
    report.events_per_s = report.events as f64 / report.seconds.max(f64::EPSILON);
    let problems: Vec<String> = report
        .read_models
        .iter()
        .filter_map(Compared::problem)
        .collect();
    if !problems.is_empty() {
        return Err(Error::Diverged(problems.join("; ")));
    }
    output::print(&report, args.json, text)
}

/// The whole audit inside the snapshot `conn` holds.
async fn walk(
    conn: &mut PgConnection,
    every: Option<i64>,
    analytics: Option<&Analytics>,
) -> Result<Report, Error> {
    let end: i64 = sqlx::query_scalar(include_str!("verify/last_position.sql"))
        .fetch_one(&mut *conn)
        .await?;
    let balances_at = checkpoint(conn, projections::accounts::BALANCES, end).await?;
    let statements_at = checkpoint(conn, projections::accounts::STATEMENTS, end).await?;
    // The replay as of the ClickHouse sink's checkpoint (-1: not compared).
    // A database whose sink never ran (no checkpoint row) has nothing in
    // ClickHouse to compare: CLICKHOUSE_URL set for other databases of the
    // same machine must not fail their audit.
    let sink_ran: bool = sqlx::query_scalar(include_str!("verify/sink_ran.sql"))
        .bind(projections::clickhouse::SINK_NAME)
        .fetch_one(&mut *conn)
        .await?;
    let analytics = analytics.filter(|_| sink_ran);
    let clickhouse_at = match analytics {
        Some(_) => checkpoint(conn, projections::clickhouse::SINK_NAME, end).await?,
        None => -1,
    };
    let mut clickhouse_book = Book::default();
    let mut statement = StatementCheck::open(conn, statements_at).await?;
    let mut balances: Option<Compared> = None;
    let mut chain = Chain::default();
    let mut replay = Replay::default();
    let mut sums = Sums::new(every);
    let bar = progress::bar(u64::try_from(end).unwrap_or(0), "verifying");
    let mut after = 0;
    loop {
        let page = PgEventStore::read_snapshot_page(conn, after, READ_EVENTS_MAX).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for event in &page {
            if balances.is_none() && event.global_position > balances_at {
                balances = Some(read_models::compare_balances(conn, &replay, balances_at).await?);
            }
            sums.before(event.global_position, &replay)?;
            chain
                .check(event)
                .map_err(|problem| chain_error(event, problem))?;
            let Some(wallet_event) = decode(event)? else {
                continue;
            };
            replay.apply(event, &wallet_event);
            if event.global_position <= clickhouse_at {
                for (transfer, phase) in wallet_event.transfers() {
                    clickhouse_book.apply(transfer, phase);
                }
            }
            if event.global_position <= statements_at {
                for line in replay::lines(event, &wallet_event) {
                    statement.expect(conn, line).await?;
                }
            }
        }
        bar.set_position(u64::try_from(after).unwrap_or(0));
    }
    bar.finish_and_clear();
    let balances = match balances {
        Some(compared) => compared,
        None => read_models::compare_balances(conn, &replay, balances_at).await?,
    };
    let statement = statement.finish(conn).await?;
    if let Some(unbalanced) = replay.unbalanced() {
        return Err(Error::Unbalanced(format!(
            "at the end of the log: {unbalanced}"
        )));
    }
    let mut read_models = vec![balances, statement];
    if let Some(analytics) = analytics {
        read_models.push(clickhouse::compare(analytics, &clickhouse_book, clickhouse_at).await?);
    }
    let verified = chain.verified();
    Ok(Report {
        events: verified.events,
        streams: verified.streams,
        last_position: verified.last_position,
        accounts: replay.accounts(),
        every,
        sum_checks: sums.checks,
        read_models,
        ..Report::default()
    })
}

/// A projection's checkpoint in the snapshot. It cannot be past the end of
/// the log: the events it applied had committed before it moved.
async fn checkpoint(conn: &mut PgConnection, projection: &str, end: i64) -> Result<i64, Error> {
    let position: i64 = sqlx::query_scalar(include_str!("verify/checkpoint.sql"))
        .bind(projection)
        .fetch_one(&mut *conn)
        .await?;
    if position > end {
        return Err(Error::Invariant(format!(
            "projection {projection} is at position {position}, past the end of the log ({end})"
        )));
    }
    Ok(position)
}

fn chain_error(event: &RecordedEvent, problem: String) -> Error {
    Error::Chain {
        at: format!(
            "event {} ({} v{})",
            event.global_position, event.stream_id, event.stream_version
        ),
        problem,
    }
}

/// The checks of `--every N`: before the first event past each multiple of
/// N, the replay holds exactly the events at or below it.
struct Sums {
    every: Option<i64>,
    /// The next multiple of N to check at.
    next: i64,
    checks: u64,
}

impl Sums {
    fn new(every: Option<i64>) -> Self {
        Self {
            every,
            next: every.unwrap_or(i64::MAX),
            checks: 0,
        }
    }

    fn before(&mut self, position: i64, replay: &Replay) -> Result<(), Error> {
        let Some(every) = self.every else {
            return Ok(());
        };
        if position <= self.next {
            return Ok(());
        }
        if let Some(unbalanced) = replay.unbalanced() {
            return Err(Error::Unbalanced(format!(
                "at position {}: {unbalanced}",
                self.next
            )));
        }
        self.checks += 1;
        // A hole in the positions may skip several multiples: the replay is
        // the same at each of them, so one check covers them all.
        self.next = (position + every - 1) / every * every;
        Ok(())
    }
}

fn text(report: &Report) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_text(&mut out, report);
    out
}

fn write_text(out: &mut String, r: &Report) -> std::fmt::Result {
    write!(
        out,
        "verified {} events in {} streams up to position {}: every hash chain holds; {} account balances sum to 0 in every currency",
        r.events, r.streams, r.last_position, r.accounts
    )?;
    match r.every {
        Some(every) => writeln!(
            out,
            ", at the end and at {} positions (every {every})",
            r.sum_checks
        )?,
        None => writeln!(out)?,
    }
    for m in &r.read_models {
        let what = if m.projection != projections::accounts::STATEMENTS {
            "accounts"
        } else {
            "lines"
        };
        writeln!(
            out,
            "read model {} ({}) at position {}: {} {what} match the replay",
            m.projection, m.table, m.position, m.matched
        )?;
    }
    writeln!(
        out,
        "in {:.2} s ({:.0} events/s)",
        r.seconds, r.events_per_s
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_n_checks_once_per_multiple_passed() {
        let replay = Replay::default();
        let mut sums = Sums::new(Some(10));
        for position in [1, 5, 10, 11, 12, 35, 36, 40, 41] {
            sums.before(position, &replay)
                .map_err(|e| e.to_string())
                .ok();
        }
        // Before 11 (for 10), before 35 (for 20 and 30 at once), before 41
        // (for 40).
        assert_eq!(sums.checks, 3);
        let mut none = Sums::new(None);
        none.before(1_000, &replay).map_err(|e| e.to_string()).ok();
        assert_eq!(none.checks, 0);
    }
}
