//! `bench settlement`: how fast a market's bets are settled. Fills a fresh
//! database with wallets and one closed market holding N bets (the real
//! domain and store, as `ledger::testkit::sportsbook` writes them), starts
//! the market's settlement, and times the real settlement process
//! (`commands::Settler`) stepping until it is idle. The baseline of the
//! same run is the time the same bets took to place, straight through the
//! store in groups of 2,000: settling should cost about what placing did.

use std::time::{Duration, Instant};

use anyhow::Context;
use commands::settlement::Step;
use commands::{AppState, CommandsConfig, SettlementConfig};
use ledger::sportsbook::market::{decide_market, MarketCommand, MarketEvent, MarketResult};
use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StreamAppend, StreamHead,
    MIGRATOR, READ_EVENTS_MAX,
};
use ledger::testkit::sportsbook::place_bets;
use ledger::{MarketId, SettlementId, StreamId};
use sqlx::PgPool;

use crate::replay::drop_database;
use crate::report::PhaseCpu;
use crate::report::{Output, Record, SettlementReport};
use crate::{cpu, db};

/// Connections: the settlement's wallet reads and appends, and the harness.
const POOL_CONNECTIONS: u32 = 20;
/// The settlement rate issue 5 asks for.
const TARGET_BETS_PER_S: f64 = 50_000.0;
const MARKET: &str = "bench-final";

#[derive(Debug, Clone, clap::Args)]
pub struct SettlementArgs {
    /// A database for the run; it is dropped and created.
    #[arg(
        long,
        env = "BENCH_SETTLEMENT_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/betledger_settlement_bench"
    )]
    pub database_url: String,
    /// Bets on the market (1 to 1,000,000).
    #[arg(long, default_value_t = 100_000,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub bets: u64,
    /// Wallets the bets come from, round-robin (1 to 100,000).
    #[arg(long, default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub accounts: u64,
    /// The settlement's chunk size (`SETTLEMENT_CHUNK_BETS_MAX`).
    #[arg(long, default_value_t = 2_000,
          value_parser = clap::value_parser!(u64).range(1..=5_000))]
    pub chunk_bets_max: u64,
    /// Settle with the market and the wallets already in the settler's
    /// state cache, as in the node that took the bets; without it the
    /// settlement starts cold, as after a restart.
    #[arg(long)]
    pub warm: bool,
    /// Keep the database afterwards (it is dropped otherwise).
    #[arg(long)]
    pub keep: bool,
    /// Longest the whole run may take, in seconds.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=7200))]
    pub timeout_s: u64,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(args: SettlementArgs) -> anyhow::Result<()> {
    let options = db::options(&args.database_url)?;
    db::recreate(&options).await?;
    let pool = db::pool(&options, POOL_CONNECTIONS).await?;
    let outcome = tokio::time::timeout(
        Duration::from_secs(args.timeout_s),
        measure(&args, pool.clone()),
    )
    .await
    .with_context(|| format!("the settlement run took over {} s", args.timeout_s));
    pool.close().await;
    if !args.keep {
        drop_database(&options).await;
    }
    let report = outcome??;
    println!(
        "bench settlement: {} bets from {} wallets, chunks of {}, cache {}",
        report.bets,
        report.accounts,
        report.chunk_bets_max,
        if report.warm { "warm" } else { "cold" }
    );
    println!(
        "  placing (baseline): {:.1} s, {:.0} bets/s",
        report.place_s, report.place_bets_per_s
    );
    println!(
        "  settling:           {:.1} s, {:.0} bets/s ({:.2}x placing; target {:.0}: {})",
        report.settle_s,
        report.settle_bets_per_s,
        report.settle_bets_per_s / report.place_bets_per_s.max(1.0),
        TARGET_BETS_PER_S,
        if report.settle_bets_per_s >= TARGET_BETS_PER_S {
            "met"
        } else {
            "missed"
        }
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for (phase, cpu) in [
        ("placing", &report.place_cpu),
        ("settling", &report.settle_cpu),
    ] {
        if let Some(line) = cpu.line(report.bets, cores) {
            println!("  {phase} CPU: {line}");
        }
    }
    args.output.emit(&Record::Settlement(report))
}

async fn measure(args: &SettlementArgs, pool: PgPool) -> anyhow::Result<SettlementReport> {
    let settings = db::settings(&pool).await?;
    db::check_durable(&settings)?;
    MIGRATOR.run(&pool).await.context("migrating")?;
    let store = PgEventStore::new(pool.clone());
    let bets = usize::try_from(args.bets)?;
    let accounts = usize::try_from(args.accounts)?;
    eprintln!("bench settlement: placing {bets} bets from {accounts} wallets");
    let started = Instant::now();
    let cpu_before = CpuTicks::take();
    let placed = place_bets(&store, MARKET, accounts, bets, 100).await;
    let place_s = started.elapsed().as_secs_f64();
    let place_cpu = cpu_before.until(&CpuTicks::take());
    sqlx::query("VACUUM ANALYZE events, commands")
        .execute(&pool)
        .await
        .context("vacuuming")?;

    start_settlement(&store).await?;
    let state = AppState::start_writer(store.clone(), CommandsConfig::default());
    let settler = state.settler(SettlementConfig {
        chunk_bets_max: usize::try_from(args.chunk_bets_max)?,
        ..SettlementConfig::default()
    });
    if args.warm {
        let mut streams: Vec<StreamId> = placed
            .iter()
            .map(|p| StreamId::account(&p.account))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        streams.push(StreamId::market(
            &MarketId::parse(MARKET).map_err(|e| anyhow::anyhow!("{e}"))?,
        ));
        let warmed = state.warm_cache(streams).await?;
        eprintln!("  warmed the cache: {warmed} streams");
    }
    eprintln!("  settling");
    let started = Instant::now();
    let cpu_before = CpuTicks::take();
    // Bounded: every step settles a chunk or halves it after a conflict.
    let steps_max = 4 * bets + 100;
    let mut steps = 0;
    while settler.step().await.map_err(|e| anyhow::anyhow!("{e}"))? == Step::Worked {
        steps += 1;
        anyhow::ensure!(steps <= steps_max, "the settlement does not end");
    }
    let settle_s = started.elapsed().as_secs_f64();
    let settle_cpu = cpu_before.until(&CpuTicks::take());
    let settled: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'bet_settled'")
            .fetch_one(&pool)
            .await
            .context("counting settled bets")?;
    anyhow::ensure!(
        settled == i64::try_from(bets)?,
        "{settled} bets settled of {bets}"
    );
    let unix_time_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(SettlementReport {
        label: args.output.label_or("settlement"),
        unix_time_s,
        bets: args.bets,
        accounts: args.accounts,
        chunk_bets_max: args.chunk_bets_max,
        warm: args.warm,
        place_s,
        place_bets_per_s: bets as f64 / place_s.max(1e-9),
        settle_s,
        settle_bets_per_s: bets as f64 / settle_s.max(1e-9),
        place_cpu,
        settle_cpu,
    })
}

/// CPU time of this process and of Postgres at one moment.
struct CpuTicks {
    own: Option<u64>,
    postgres: Option<u64>,
}

impl CpuTicks {
    fn take() -> Self {
        Self {
            own: cpu::own_ticks(),
            postgres: cpu::postgres_ticks(),
        }
    }

    fn until(&self, later: &Self) -> PhaseCpu {
        let delta = |a: Option<u64>, b: Option<u64>| Some(cpu::ticks_to_s(b?.saturating_sub(a?)));
        PhaseCpu {
            process_s: delta(self.own, later.own),
            postgres_s: delta(self.postgres, later.postgres),
        }
    }
}

/// Records the market's result ("home" wins), as the operator's command
/// would: decided against the market's stream, appended at its head.
async fn start_settlement(store: &PgEventStore) -> anyhow::Result<()> {
    let market = MarketId::parse(MARKET).map_err(|e| anyhow::anyhow!("{e}"))?;
    let stream = StreamId::market(&market);
    let mut state = ledger::sportsbook::market::MarketState::default();
    let mut head = StreamHead::EMPTY;
    let mut after = 0;
    loop {
        let events = store.read_stream(&stream, after, READ_EVENTS_MAX).await?;
        let Some(last) = events.last() else {
            break;
        };
        after = last.stream_version;
        for r in &events {
            let event = MarketEvent::from_stored(&r.event_type, r.schema_version, &r.payload)?;
            state = state.evolve(&event);
            head = StreamHead {
                version: r.stream_version,
                hash: r.hash.as_slice().try_into().ok(),
            };
        }
    }
    let command = MarketCommand::StartSettlement {
        settlement_id: SettlementId::generate(),
        result: MarketResult::Winners { winners: vec![0] },
    };
    let events = decide_market(&state, &command).map_err(|e| anyhow::anyhow!("{e}"))?;
    let append = StreamAppend {
        stream_id: stream,
        expected: head,
        commands: vec![CommandAppend {
            command_id: "bench-settle".into(),
            request_hash: Vec::new(),
            outcome: serde_json::json!({}),
            events: events
                .iter()
                .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload()))
                .collect(),
        }],
    };
    let outcome = store.append_batch(vec![append]).await?;
    anyhow::ensure!(
        matches!(outcome.first(), Some(AppendOutcome::Committed { .. })),
        "the settlement did not start"
    );
    Ok(())
}
