//! `bench replay`: how fast the balances projection rebuilds from the
//! event log. Fills a fresh database with realistic wallet events (decided
//! by `ledger::wallet::decide`, appended through the store's own
//! `append_batch`, so versions, hashes and the gap-safe lock are the real
//! ones), then times `projections::Runner` stepping the balances projection
//! (or the statements one) from position 0 until it is idle, once per batch
//! size asked for, into emptied read models each time.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StreamAppend, StreamHead,
    BATCH_EVENTS_MAX, BATCH_STREAMS_MAX, MIGRATOR,
};
use ledger::wallet::{decide, Description, WalletCommand, WalletState};
use ledger::{AccountId, Amount, CreditLimit, Currency, HoldId, StreamId, TransferId};
use projections::{Balances, Projection, ProjectionsConfig, Runner, Statements, Step};
use sqlx::PgPool;

use crate::db;
use crate::report::{Output, Record, ReplayReport};

/// Most events one run writes.
pub const EVENTS_MAX: u64 = 50_000_000;
/// Most replays (batch sizes) over one log.
const REPLAYS_MAX: usize = 8;
/// Connections the run uses: the runner holds two while it steps.
const POOL_CONNECTIONS: u32 = 4;
/// Largest amount of one generated operation, in minor units.
const AMOUNT_MAX: i64 = 10_000;
/// Each wallet's first deposit, in minor units.
const INITIAL_DEPOSIT: i64 = 1_000_000;

pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/betledger_replay";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProjectionKind {
    /// Balances of every account (`account_balances`).
    Balances,
    /// Every account's statement (`account_statement`).
    Statements,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// A database for the run; it is dropped and created.
    #[arg(long, env = "BENCH_REPLAY_URL", default_value = DEFAULT_URL)]
    pub database_url: String,
    #[command(flatten)]
    pub log: LogShape,
    /// The projection to replay.
    #[arg(long, value_enum, default_value = "balances")]
    pub projection: ProjectionKind,
    /// Most events the projection applies per transaction; one replay per
    /// value, comma-separated (the server's PROJECTION_BATCH_EVENTS_MAX is
    /// 1000; 100000 is the runner's limit).
    #[arg(long, value_delimiter = ',', default_value = "1000,100000")]
    pub batch_events_max: Vec<usize>,
    /// Skip the read-only pass (read_all alone) that shows what reading
    /// costs apart from applying.
    #[arg(long)]
    pub no_read_only_pass: bool,
    /// Keep the database afterwards (it is dropped otherwise).
    #[arg(long)]
    pub keep: bool,
    /// Longest the whole run (fill and replay) may take, in seconds.
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=7200))]
    pub timeout_s: u64,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1..=REPLAYS_MAX).contains(&args.batch_events_max.len()),
        "--batch-events-max takes 1 to {REPLAYS_MAX} batch sizes"
    );
    let options = db::options(&args.database_url)?;
    db::recreate(&options).await?;
    let pool = db::pool(&options, POOL_CONNECTIONS).await?;
    let outcome = tokio::time::timeout(
        Duration::from_secs(args.timeout_s),
        measure(&args, pool.clone()),
    )
    .await
    .with_context(|| format!("the replay run took over {} s", args.timeout_s));
    pool.close().await;
    if !args.keep {
        drop_database(&options).await;
    }
    for report in outcome?? {
        args.output.emit(&Record::Replay(report))?;
    }
    Ok(())
}

pub async fn drop_database(options: &sqlx::postgres::PgConnectOptions) {
    // Recreating leaves an empty database, which costs nothing to keep;
    // the events are what takes the disk.
    if let Err(error) = db::recreate(options).await {
        eprintln!("bench replay: could not empty the database: {error:#}");
    }
}

async fn measure(args: &ReplayArgs, pool: PgPool) -> anyhow::Result<Vec<ReplayReport>> {
    let settings = db::settings(&pool).await?;
    db::check_durable(&settings)?;
    MIGRATOR
        .run(&pool)
        .await
        .context("migrating the replay database")?;
    let store = PgEventStore::new(pool.clone());

    eprintln!(
        "bench replay: writing {} events over {} wallets, {} per transaction",
        args.log.events, args.log.accounts, args.log.append_events
    );
    let started = Instant::now();
    let written = fill(&store, &args.log).await?;
    let fill_s = started.elapsed().as_secs_f64();
    eprintln!(
        "  wrote {written} events in {fill_s:.1} s ({:.0} events/s); vacuuming",
        written as f64 / fill_s
    );
    // A log that has been live for a while has been vacuumed (visibility
    // map, hint bits); a replay should not pay for the bulk load's first
    // read.
    sqlx::query("VACUUM ANALYZE events, commands")
        .execute(&pool)
        .await
        .context("vacuuming the events")?;

    let read_only_events_per_s = if args.no_read_only_pass {
        None
    } else {
        Some(read_only_pass(&store, written).await?)
    };

    let mut reports = Vec::new();
    for &batch_events_max in &args.batch_events_max {
        empty_read_models(&pool).await?;
        let config = ProjectionsConfig {
            batch_events_max,
            ..ProjectionsConfig::default()
        };
        eprintln!(
            "  replaying the {:?} projection from position 0, batches of {batch_events_max}",
            args.projection
        );
        let started = Instant::now();
        let (replayed, steps) = match args.projection {
            ProjectionKind::Balances => {
                replay_one(&store, &pool, Balances, config, written).await?
            }
            ProjectionKind::Statements => {
                replay_one(&store, &pool, Statements, config, written).await?
            }
        };
        let replay_s = started.elapsed().as_secs_f64();
        check_replayed(&pool, args.projection).await?;
        let report = ReplayReport {
            label: args.output.label_or("replay"),
            unix_time_s: crate::report::unix_time_s(),
            projection: format!("{:?}", args.projection).to_lowercase(),
            events: replayed,
            accounts: args.log.accounts,
            fill_s,
            fill_events_per_s: written as f64 / fill_s,
            batch_events_max,
            steps,
            replay_s,
            events_per_s: replayed as f64 / replay_s,
            read_only_events_per_s,
        };
        print_report(&report);
        reports.push(report);
    }
    Ok(reports)
}

async fn replay_one<P: Projection>(
    store: &PgEventStore,
    pool: &PgPool,
    projection: P,
    config: ProjectionsConfig,
    expected: u64,
) -> anyhow::Result<(u64, u64)> {
    let runner = Runner::new(store.clone(), pool.clone(), projection, config)
        .context("configuring the projection runner")?;
    step_to_idle(&runner, expected).await
}

/// Empties the read models and checkpoints, so that the next replay starts
/// from position 0. Only in the harness's own throwaway database.
async fn empty_read_models(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("TRUNCATE projection_checkpoints, account_balances, account_statement")
        .execute(pool)
        .await
        .context("emptying the read models")?;
    Ok(())
}

/// Steps the runner until idle; returns the events passed and the steps.
async fn step_to_idle<S: EventStore + Clone + 'static, P: Projection>(
    runner: &Runner<S, P>,
    expected: u64,
) -> anyhow::Result<(u64, u64)> {
    let mut events = 0u64;
    // Every step but the last passes at least one event.
    let steps_max = expected + 2;
    for step in 0..steps_max {
        match runner.step().await.context("a projection step failed")? {
            Step::Worked { events: n, .. } => events += n as u64,
            Step::Idle => return Ok((events, step)),
        }
    }
    anyhow::bail!("the projection did not go idle after {steps_max} steps")
}

/// Reads the whole log as the projections read it (`read_log`, pages of
/// `READ_EVENTS_MAX`), without applying anything.
async fn read_only_pass(store: &PgEventStore, expected: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let (mut after, mut read) = (0i64, 0u64);
    for _ in 0..expected + 1 {
        let events = store
            .read_log(after, ledger::store::READ_EVENTS_MAX)
            .await?;
        let Some(last) = events.last() else {
            break;
        };
        after = last.global_position;
        read += events.len() as u64;
    }
    let per_s = read as f64 / started.elapsed().as_secs_f64();
    eprintln!("  read-only pass: {read} events at {per_s:.0} events/s");
    Ok(per_s)
}

/// The projection reached the end of the log, and its balances add up to
/// zero in every currency: the ledger identity, checked after the replay as
/// the writer's decisions kept it before.
async fn check_replayed(pool: &PgPool, projection: ProjectionKind) -> anyhow::Result<()> {
    let name = match projection {
        ProjectionKind::Balances => projections::accounts::BALANCES,
        ProjectionKind::Statements => projections::accounts::STATEMENTS,
    };
    let (checkpoint, last): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT position FROM projection_checkpoints WHERE name = $1), \
                (SELECT coalesce(max(global_position), 0) FROM events)",
    )
    .bind(name)
    .fetch_one(pool)
    .await
    .context("reading the checkpoint")?;
    anyhow::ensure!(
        checkpoint == last,
        "the projection stopped at {checkpoint}, the log ends at {last}"
    );
    if projection == ProjectionKind::Statements {
        return Ok(());
    }
    let unbalanced: Vec<(String,)> = sqlx::query_as(
        "SELECT currency FROM account_balances GROUP BY currency \
         HAVING sum(balance) <> 0 OR sum(pending_credits - pending_debits) <> 0",
    )
    .fetch_all(pool)
    .await
    .context("summing the balances")?;
    anyhow::ensure!(
        unbalanced.is_empty(),
        "the replayed balances do not sum to zero in {unbalanced:?}"
    );
    Ok(())
}

/// A wallet as the generator knows it: its state and head, and the hold it
/// may resolve next.
struct Wallet {
    account: AccountId,
    stream: StreamId,
    state: WalletState,
    head: StreamHead,
    pending_hold: Option<HoldId>,
}

/// The log `fill` writes; the same flags for every benchmark that fills one.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct LogShape {
    /// Events in the log (at least; `fill` completes its last batch).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=EVENTS_MAX))]
    pub events: u64,
    /// Wallets the events are spread over.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=BATCH_STREAMS_MAX as i64))]
    pub accounts: u32,
    /// Events per append transaction while filling the log.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=BATCH_EVENTS_MAX as u64))]
    pub append_events: u64,
}

/// Writes at least `args.events` events of the wallet mix, decided by the
/// real domain; returns how many it wrote.
pub async fn fill(store: &PgEventStore, args: &LogShape) -> anyhow::Result<u64> {
    let mut wallets: Vec<Wallet> = (0..args.accounts)
        .map(|i| {
            let account = AccountId::parse(&format!("replay-{i}"))?;
            Ok(Wallet {
                stream: StreamId::account(&account),
                account,
                state: WalletState::default(),
                head: StreamHead::EMPTY,
                pending_hold: None,
            })
        })
        .collect::<Result<_, ledger::Rejection>>()
        .map_err(|r| anyhow::anyhow!("{r}"))?;
    let mut generator = Generator {
        rng: fastrand::Rng::with_seed(3),
        command_seq: 0,
        currency: Currency::parse("EUR").map_err(|r| anyhow::anyhow!("{r}"))?,
        description: Description::parse("bench replay").map_err(|r| anyhow::anyhow!("{r}"))?,
    };
    let streams_per_batch = (args.append_events as usize).clamp(1, wallets.len());
    let per_stream = (args.append_events as usize / streams_per_batch).max(1);
    let mut written = 0u64;
    let mut cursor = 0usize;
    // Every batch writes at least one event unless all its commands are
    // refused, which the amounts make rare; the bound is generous.
    let batches_max = 10 * (args.events / per_stream as u64 + 1) + wallets.len() as u64;
    for _ in 0..batches_max {
        if written >= args.events {
            return Ok(written);
        }
        let chosen: Vec<usize> = (0..streams_per_batch)
            .map(|k| (cursor + k) % wallets.len())
            .collect();
        cursor = (cursor + streams_per_batch) % wallets.len();
        let mut batch = Vec::with_capacity(chosen.len());
        let mut decided: HashMap<usize, WalletState> = HashMap::new();
        for &i in &chosen {
            let (append, state, pending_hold) = generator.stream_append(&wallets[i], per_stream)?;
            decided.insert(i, state);
            wallets[i].pending_hold = pending_hold;
            batch.push(append);
        }
        let events_in_batch: u64 = batch
            .iter()
            .flat_map(|s| &s.commands)
            .map(|c| c.events.len() as u64)
            .sum();
        let outcomes = store
            .append_batch(batch)
            .await
            .context("appending a batch")?;
        for (&i, outcome) in chosen.iter().zip(outcomes) {
            let AppendOutcome::Committed { head, .. } = outcome else {
                anyhow::bail!(
                    "stream {} conflicted: something else writes to the replay database",
                    wallets[i].stream
                );
            };
            wallets[i].head = head;
            if let Some(state) = decided.remove(&i) {
                wallets[i].state = state;
            }
        }
        written += events_in_batch;
    }
    Ok(written)
}

struct Generator {
    rng: fastrand::Rng,
    command_seq: u64,
    currency: Currency,
    description: Description,
}

impl Generator {
    /// `count` commands for one wallet, decided in order; the first ones
    /// open it and make its first deposit. Returns the append, and the
    /// state and pending hold the wallet has once it commits.
    fn stream_append(
        &mut self,
        wallet: &Wallet,
        count: usize,
    ) -> anyhow::Result<(StreamAppend, WalletState, Option<HoldId>)> {
        let mut state = wallet.state.clone();
        let mut pending_hold = wallet.pending_hold;
        let mut commands = Vec::with_capacity(count);
        for _ in 0..count {
            let command = self.next_command(&wallet.account, &state, &mut pending_hold)?;
            // Refused commands are recorded without events, as the writer
            // records them.
            let events = decide(&state, &command).unwrap_or_default();
            for event in &events {
                state = state.evolve(event);
            }
            if let Some(ledger::wallet::WalletEvent::HoldPlaced(placed)) = events.first() {
                pending_hold = Some(placed.hold_id);
            }
            self.command_seq += 1;
            commands.push(CommandAppend {
                command_id: format!("replay-{}", self.command_seq),
                request_hash: vec![0; 32],
                outcome: serde_json::json!({ "status": if events.is_empty() { 422 } else { 200 } }),
                events: events
                    .iter()
                    .map(|e| {
                        NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload())
                    })
                    .collect(),
            });
        }
        let append = StreamAppend {
            stream_id: wallet.stream.clone(),
            expected: wallet.head,
            commands,
        };
        Ok((append, state, pending_hold))
    }

    /// The wallet mix of `bench http`: deposits and withdrawals (40 % each),
    /// holds placed (10 %), holds resolved, posted or voided (10 %).
    fn next_command(
        &mut self,
        account: &AccountId,
        state: &WalletState,
        pending_hold: &mut Option<HoldId>,
    ) -> anyhow::Result<WalletCommand> {
        let bad = |r: ledger::Rejection| anyhow::anyhow!("{r}");
        let Some(wallet) = &state.wallet else {
            return Ok(WalletCommand::Open {
                account: account.clone(),
                currency: self.currency,
                credit_limit: CreditLimit::ZERO,
            });
        };
        if wallet.balance.posted_credits == 0 {
            return Ok(WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(INITIAL_DEPOSIT).map_err(bad)?,
                currency: None,
                description: Some(self.description.clone()),
                payment_ref: None,
            });
        }
        let amount = Amount::new(self.rng.i64(1..=AMOUNT_MAX)).map_err(bad)?;
        let description = Some(self.description.clone());
        let draw = self.rng.u32(0..100);
        Ok(match (draw, pending_hold.take()) {
            (90.., Some(hold_id)) if draw.is_multiple_of(2) => WalletCommand::PostHold { hold_id },
            (90.., Some(hold_id)) => WalletCommand::VoidHold { hold_id },
            (0..40, hold) => {
                *pending_hold = hold;
                WalletCommand::Deposit {
                    transfer_id: TransferId::generate(),
                    amount,
                    currency: None,
                    description,
                    payment_ref: None,
                }
            }
            (40..80, hold) => {
                *pending_hold = hold;
                WalletCommand::Withdraw {
                    transfer_id: TransferId::generate(),
                    amount,
                    currency: None,
                    description,
                    payment_ref: None,
                }
            }
            (_, hold) => {
                *pending_hold = hold;
                WalletCommand::PlaceHold {
                    hold_id: HoldId::generate(),
                    amount,
                    currency: None,
                    description,
                }
            }
        })
    }
}

fn print_report(r: &ReplayReport) {
    println!(
        "bench replay [{}]: the {} projection",
        r.label, r.projection
    );
    println!(
        "  fill          {} events in {:.1} s ({:.0} events/s)",
        r.events, r.fill_s, r.fill_events_per_s
    );
    if let Some(read) = r.read_only_events_per_s {
        println!("  read only     {read:.0} events/s (read_log pages, nothing applied)");
    }
    println!(
        "  replay        {:.0} events/s: {} events in {:.2} s, {} steps of at most {} events",
        r.events_per_s, r.events, r.replay_s, r.steps, r.batch_events_max
    );
}
