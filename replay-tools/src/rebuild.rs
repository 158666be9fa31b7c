//! `rebuild <projection>`: replays a projection from position 0 into fresh
//! tables while the live ones keep serving, then swaps them in, in one
//! transaction (`projections::rebuild`, ADR 0004). A stopped or crashed
//! rebuild goes on where it stopped when run again. A progress bar shows
//! events/s and the time left; the last line says how many and how fast.

use std::time::Instant;

use ledger::store::PgEventStore;
use projections::rebuild::{
    Ended, Progress, RebuildOptions, Rebuilt, Start, SWAP_LOCK_TIMEOUT_MAX_MS,
};
use projections::runner::BATCH_EVENTS_LIMIT;
use projections::{Balances, BoxOffice, Pools, Projection, Rebuild, Sportsbook, Statements};
use serde::Serialize;

use crate::error::Error;
use crate::{db, output, progress};

/// Connections the rebuild's pool holds: a step's (or the swap's)
/// transaction, the read of the log and the read ahead, and one to spare.
/// The rebuild lock takes a connection of its own besides.
const CONNECTIONS: u32 = 4;

/// Every projection that can be rebuilt; a new projection adds itself here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Which {
    /// Balances of every account (`account_balances`).
    Balances,
    /// Every account's statement (`account_statement`).
    Statements,
    /// Markets, their outcomes, bets and their legs (`markets`,
    /// `market_outcomes`, `bets`, `bet_legs`).
    Sportsbook,
    /// Parimutuel pools, their outcomes and entries (`pools`,
    /// `pool_outcomes`, `pool_entries`).
    Pools,
    /// Shows, their tiers, reservations and tickets (`shows`,
    /// `show_tiers`, `show_reservations`, `tickets`).
    BoxOffice,
    /// The ClickHouse facts (`postings`, `bets`, `pool_entries`,
    /// `show_tiers`, `show_reservations`, `ticket_sales`): the ClickHouse
    /// database is dropped with every table in it, created again and the
    /// sink's checkpoint set
    /// to 0, then the log is written again from position 0. Reports read
    /// partial totals until it ends (docs/analytics.md); a running sink
    /// joins in harmlessly (repeats fold). Needs --clickhouse-url.
    Clickhouse,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The projection to rebuild.
    #[arg(value_enum)]
    projection: Which,
    /// Begin at position 0, dropping what a stopped run left (by default a
    /// rebuild goes on from where the last run stopped).
    #[arg(long)]
    restart: bool,
    /// Most events applied per transaction (1 to 100000). Larger batches
    /// rebuild faster: an account touched many times in a batch is written
    /// once (1M events: balances 310k events/s at 100000, 86k at 10000;
    /// docs/benchmarks.md). Each batch is one transaction, and while it is
    /// open the live projections see no newer event (ADR 0002): about 0.3 s
    /// at 100000, so lower it when that lag matters more than the speed.
    #[arg(long, default_value_t = 100_000,
          value_parser = clap::value_parser!(u32).range(1..=BATCH_EVENTS_LIMIT as i64))]
    batch_events_max: u32,
    /// How long the swap may wait for a lock (the live checkpoint, the live
    /// tables) before it gives way to the readers and tries again
    /// (1 to 60000 ms).
    #[arg(long, default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=SWAP_LOCK_TIMEOUT_MAX_MS))]
    swap_lock_timeout_ms: u64,
    /// Stop, without swapping, once this run has applied at least N events
    /// (whole batches); run rebuild again to go on.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    stop_after_events: Option<u64>,
    /// Print one JSON document instead of the last line of text.
    #[arg(long)]
    json: bool,
    /// The ClickHouse server of `rebuild clickhouse`.
    #[arg(long, env = "CLICKHOUSE_URL")]
    clickhouse_url: Option<String>,
    /// The ClickHouse database of the facts.
    #[arg(long, env = "CLICKHOUSE_DATABASE", default_value = "betledger")]
    clickhouse_database: String,
}

/// How the run ended (`projections::rebuild::Ended`), as printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Swapped,
    SwappedRetiredKept,
    Paused,
}

/// What the run did, as printed.
#[derive(Debug, Serialize)]
struct Report {
    projection: &'static str,
    ended: Outcome,
    resumed_from: i64,
    position: i64,
    events: u64,
    seconds: f64,
    events_per_s: f64,
}

pub async fn run(database_url: &str, args: &Args) -> Result<(), Error> {
    let options = RebuildOptions {
        start: if args.restart {
            Start::Over
        } else {
            Start::Resume
        },
        batch_events_max: usize::try_from(args.batch_events_max).unwrap_or(1),
        swap_lock_timeout_ms: args.swap_lock_timeout_ms,
        stop_after_events: args.stop_after_events,
    };
    let pool = db::connect_with(database_url, CONNECTIONS).await?;
    if args.projection == Which::Clickhouse {
        return rebuild_clickhouse(&pool, args).await;
    }
    let rebuilt = match args.projection {
        Which::Clickhouse => return Ok(()),
        Which::Balances => rebuild(&pool, Balances, options).await?,
        Which::Statements => rebuild(&pool, Statements, options).await?,
        Which::Sportsbook => rebuild(&pool, Sportsbook, options).await?,
        Which::Pools => rebuild(&pool, Pools, options).await?,
        Which::BoxOffice => rebuild(&pool, BoxOffice, options).await?,
    };
    let seconds = rebuilt.elapsed.as_secs_f64();
    let report = Report {
        projection: match args.projection {
            Which::Balances => Balances.name(),
            Which::Statements => Statements.name(),
            Which::Sportsbook => Sportsbook.name(),
            Which::Pools => Pools.name(),
            Which::BoxOffice => BoxOffice.name(),
            Which::Clickhouse => projections::clickhouse::SINK_NAME,
        },
        ended: match rebuilt.ended {
            Ended::Swapped => Outcome::Swapped,
            Ended::SwappedRetiredKept => Outcome::SwappedRetiredKept,
            Ended::Paused => Outcome::Paused,
        },
        resumed_from: rebuilt.resumed_from,
        position: rebuilt.position,
        events: rebuilt.events,
        seconds,
        events_per_s: rebuilt.events as f64 / seconds.max(f64::EPSILON),
    };
    output::print(&report, args.json, |r| format!("{}\n", line(r)))
}

async fn rebuild_clickhouse(pool: &sqlx::PgPool, args: &Args) -> Result<(), Error> {
    use projections::clickhouse::sink::{set_checkpoint, SinkConfig};
    use projections::clickhouse::{Analytics, ClickHouseConfig, ClickHouseSink};
    let Some(url) = &args.clickhouse_url else {
        return Err(Error::Projection(projections::Error::Config(
            "rebuild clickhouse needs --clickhouse-url (or CLICKHOUSE_URL)".to_owned(),
        )));
    };
    let analytics = Analytics::new(&ClickHouseConfig::new(url, &args.clickhouse_database))?;
    let started = Instant::now();
    analytics.drop_database().await?;
    analytics.migrate().await?;
    set_checkpoint(pool, 0).await?;
    let config = SinkConfig {
        batch_events_max: usize::try_from(args.batch_events_max).unwrap_or(1),
        ..SinkConfig::default()
    };
    let sink = ClickHouseSink::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        analytics,
        config,
    )?;
    let bar = progress::rate_bar(0, "rebuilding");
    let (mut events, mut position) = (0u64, 0i64);
    while let projections::Step::Worked {
        events: n,
        position: at,
    } = sink.step().await?
    {
        events += u64::try_from(n).unwrap_or(0);
        position = at;
        bar.set_position(u64::try_from(at).unwrap_or(0));
    }
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let report = Report {
        projection: projections::clickhouse::SINK_NAME,
        ended: Outcome::Swapped,
        resumed_from: 0,
        position,
        events,
        seconds,
        events_per_s: events as f64 / seconds.max(f64::EPSILON),
    };
    output::print(&report, args.json, |r| {
        format!(
            "rebuilt clickhouse: {} events in {:.2} s ({:.0} events/s), from position 0, up to position {}\n",
            r.events, r.seconds, r.events_per_s, r.position
        )
    })
}

async fn rebuild<P: Projection>(
    pool: &sqlx::PgPool,
    projection: P,
    options: RebuildOptions,
) -> Result<Rebuilt, Error> {
    let rebuild = Rebuild::start(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        projection,
        options,
    )
    .await?;
    let bar = progress::rate_bar(0, "rebuilding");
    let started = Instant::now();
    let rebuilt = rebuild
        .run(|p: &Progress| {
            bar.set_length(u64::try_from(p.head).unwrap_or(0));
            bar.set_position(u64::try_from(p.position).unwrap_or(0));
            let rate = p.events as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON);
            bar.set_message(format!("{rate:.0} events/s"));
        })
        .await;
    bar.finish_and_clear();
    Ok(rebuilt?)
}

fn line(r: &Report) -> String {
    let from = if r.resumed_from == 0 {
        "from position 0".to_owned()
    } else {
        format!("resumed at position {}", r.resumed_from)
    };
    let done = format!(
        "{} events in {:.2} s ({:.0} events/s), {from}",
        r.events, r.seconds, r.events_per_s
    );
    match r.ended {
        Outcome::Paused => format!(
            "stopped rebuilding {} at position {}: {done}; run rebuild again to go on",
            r.projection, r.position
        ),
        Outcome::SwappedRetiredKept => format!(
            "rebuilt {}: {done}; swapped in at position {}; the old tables are still read, so they wait in schema retired_{} for the next rebuild to drop",
            r.projection, r.position, r.projection
        ),
        Outcome::Swapped => format!(
            "rebuilt {}: {done}; swapped in at position {}",
            r.projection, r.position
        ),
    }
}
