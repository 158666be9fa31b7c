//! `bench clickhouse`: how fast the ClickHouse projection ingests, and how
//! long each report takes over a large fact table (issue 7,
//! docs/benchmarks.md "ClickHouse analytics").
//!
//! Ingest is the sink's own path after the Postgres read: wallet events
//! decided by the real domain (`ledger::wallet::decide`), turned into facts
//! by `projections::clickhouse::Facts::from_events` and written by
//! `Analytics::insert`, in batches of `--batch-events`. Generating the
//! events is not timed; reading them from Postgres is measured by `bench
//! replay` (the sink reads the log the same way). To give the sportsbook
//! reports something to read, bet facts (placed, settled, half of them
//! paid) and their postings are added straight as rows. Then every report
//! runs `--runs` times over the whole range and the median is kept.

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use ledger::store::LogEvent;
use ledger::wallet::{decide, WalletCommand, WalletEvent, WalletState};
use ledger::{AccountId, Amount, CreditLimit, Currency, StreamId, TransferId};
use projections::clickhouse::facts::{BetFact, Posting};
use projections::clickhouse::reports::{self, ReportName, ReportParams};
use projections::clickhouse::{Analytics, ClickHouseConfig, Facts};

/// Most postings one run writes.
const POSTINGS_MAX: u64 = 100_000_000;
/// Players the events are spread over.
const ACCOUNTS: usize = 10_000;
/// Markets the bets are spread over.
const MARKETS: u64 = 500;
/// The facts' times are spread over this many days from `START`.
const DAYS: i64 = 30;

#[derive(Debug, Clone, clap::Args)]
pub struct ClickHouseArgs {
    /// The ClickHouse server.
    #[arg(long, env = "CLICKHOUSE_URL", default_value = "http://127.0.0.1:8123")]
    pub clickhouse_url: String,
    /// A database for the run; it is dropped and created.
    #[arg(long, default_value = "betledger_bench")]
    pub database: String,
    /// Postings to write in all (wallet legs and bet legs), up to 100M.
    #[arg(long, default_value_t = 10_000_000)]
    pub postings: u64,
    /// Events per insert (the sink's CLICKHOUSE_BATCH_EVENTS_MAX).
    #[arg(long, default_value_t = 50_000)]
    pub batch_events: usize,
    /// Runs of each report; the median is reported.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Keep the database afterwards.
    #[arg(long)]
    pub keep: bool,
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

pub async fn run(args: ClickHouseArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (1_000..=POSTINGS_MAX).contains(&args.postings),
        "--postings must be 1000 to {POSTINGS_MAX}"
    );
    anyhow::ensure!(
        (1..=100_000).contains(&args.batch_events) && (1..=20).contains(&args.runs),
        "--batch-events must be 1 to 100000 and --runs 1 to 20"
    );
    let config = ClickHouseConfig {
        request_timeout_ms: 600_000,
        ..ClickHouseConfig::new(&args.clickhouse_url, &args.database)
    };
    let analytics = Analytics::new(&config)?;
    analytics.drop_database().await?;
    analytics.migrate().await?;

    let bets = args.postings / 20;
    // Each bet: 2 legs placed, 2 settled, 2 paid for every other bet.
    let bet_postings = bets * 5;
    let wallet_events = (args.postings.saturating_sub(bet_postings) / 2).max(1);
    let seconds_per_position = (DAYS * 86_400) as f64 / (wallet_events + bets * 3) as f64;

    let mut generator = Wallets::new()?;
    let mut position = 0i64;
    let (mut ingest, mut events_in, mut postings_in) = (Duration::ZERO, 0u64, 0u64);
    while events_in < wallet_events {
        let want = (wallet_events - events_in).min(args.batch_events as u64) as usize;
        let batch = generator.events(want, &mut position, seconds_per_position)?;
        let started = Instant::now();
        let facts = Facts::from_events(&batch)?;
        analytics.insert(&facts).await?;
        ingest += started.elapsed();
        events_in += batch.len() as u64;
        postings_in += facts.postings.len() as u64;
    }
    let ingest_s = ingest.as_secs_f64();
    println!(
        "ingest: {events_in} wallet events ({postings_in} postings) in {ingest_s:.2} s: {:.0} events/s, {:.0} postings/s",
        events_in as f64 / ingest_s.max(f64::EPSILON),
        postings_in as f64 / ingest_s.max(f64::EPSILON)
    );

    let started = Instant::now();
    let mut bet_rows = 0u64;
    let mut bet_id = 0u64;
    while bet_id < bets {
        let n = (bets - bet_id).min((args.batch_events / 3).max(1) as u64);
        let facts = bet_facts(bet_id, n, &mut position, seconds_per_position);
        bet_rows += facts.rows() as u64;
        postings_in += facts.postings.len() as u64;
        analytics.insert(&facts).await?;
        bet_id += n;
    }
    let bets_s = started.elapsed().as_secs_f64();
    println!(
        "bets: {bets} bets as {bet_rows} rows in {bets_s:.2} s ({:.0} rows/s); {postings_in} postings in all",
        bet_rows as f64 / bets_s.max(f64::EPSILON)
    );

    for report in ReportName::ALL {
        let params = ReportParams::new(
            report,
            start(),
            start() + chrono::Duration::days(DAYS + 1),
            Some(20),
        )?;
        let mut times = Vec::with_capacity(args.runs);
        let mut rows = 0;
        for _ in 0..args.runs {
            let started = Instant::now();
            let table = reports::run(&analytics, report, &params)
                .await
                .with_context(|| report.as_str().to_owned())?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            rows = table.rows.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "report {:<30} median {:>8.0} ms (min {:.0}, max {:.0}), {rows} rows",
            report.as_str(),
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    if !args.keep {
        analytics.drop_database().await?;
    }
    Ok(())
}

/// Wallets decided by the real domain: opened with a deposit, then
/// deposits and withdrawals in turn.
struct Wallets {
    accounts: Vec<(AccountId, WalletState, i64)>,
    next: usize,
    rng: fastrand::Rng,
}

impl Wallets {
    fn new() -> anyhow::Result<Self> {
        let bad = |r: ledger::Rejection| anyhow::anyhow!("{r}");
        let accounts = (0..ACCOUNTS)
            .map(|i| {
                Ok((
                    AccountId::parse(&format!("p{i}")).map_err(bad)?,
                    WalletState::default(),
                    0,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            accounts,
            next: 0,
            rng: fastrand::Rng::with_seed(7),
        })
    }

    fn events(
        &mut self,
        count: usize,
        position: &mut i64,
        seconds_per_position: f64,
    ) -> anyhow::Result<Vec<LogEvent>> {
        let bad = |r: ledger::Rejection| anyhow::anyhow!("{r}");
        let eur = Currency::parse("EUR").map_err(bad)?;
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let i = self.next;
            self.next = (self.next + 1) % self.accounts.len();
            let (account, state, version) = &mut self.accounts[i];
            let command = match &state.wallet {
                None => WalletCommand::Open {
                    account: account.clone(),
                    currency: eur,
                    credit_limit: CreditLimit::ZERO,
                },
                Some(w) if w.balance.posted() < 10_000 || self.rng.bool() => {
                    WalletCommand::Deposit {
                        transfer_id: TransferId::generate(),
                        amount: Amount::new(self.rng.i64(1_000..=50_000)).map_err(bad)?,
                        currency: None,
                        description: None,
                        payment_ref: None,
                    }
                }
                Some(_) => WalletCommand::Withdraw {
                    transfer_id: TransferId::generate(),
                    amount: Amount::new(self.rng.i64(1..=5_000)).map_err(bad)?,
                    currency: None,
                    description: None,
                    payment_ref: None,
                },
            };
            let events: Vec<WalletEvent> = decide(state, &command).map_err(bad)?;
            for event in events {
                *state = std::mem::take(state).evolve(&event);
                *version += 1;
                *position += 1;
                let text = serde_json::to_string(&event.payload())?;
                out.push(LogEvent {
                    global_position: *position,
                    stream_id: StreamId::account(account),
                    stream_version: *version,
                    event_type: event.event_type().to_owned(),
                    schema_version: event.schema_version(),
                    recorded_at: time_at(*position, seconds_per_position),
                    payload: serde_json::value::RawValue::from_string(text)?,
                });
            }
        }
        Ok(out)
    }
}

fn time_at(position: i64, seconds_per_position: f64) -> DateTime<Utc> {
    // Whole seconds, computed in integers from the rate's thousandths.
    let millis_per_position = (seconds_per_position * 1000.0) as i64;
    start() + chrono::Duration::milliseconds(position * millis_per_position)
}

/// `n` bets from `first`: placed, settled (stake to the house), and every
/// other one paid twice its stake; their bet facts and postings.
fn bet_facts(first: u64, n: u64, position: &mut i64, seconds_per_position: f64) -> Facts {
    let mut facts = Facts::default();
    for b in first..first + n {
        let account = format!("p{}", b % ACCOUNTS as u64);
        let market = format!("m{}", b % MARKETS);
        let stake = 100 + (b % 50) as i64 * 100;
        let bet_id = format!("bet-{b}");
        let mut push = |event_type: &str,
                        code: &str,
                        phase: &'static str,
                        from: &str,
                        to: &str,
                        amount: i64,
                        payout: i64| {
            *position += 1;
            let time =
                u32::try_from(time_at(*position, seconds_per_position).timestamp()).unwrap_or(0);
            for (leg, account, counterparty, signed) in
                [(0u8, from, to, -amount), (1u8, to, from, amount)]
            {
                facts.postings.push(Posting {
                    position: *position,
                    leg,
                    time,
                    event_type: event_type.to_owned(),
                    transfer_id: format!("{bet_id}-{event_type}"),
                    account: account.to_owned(),
                    counterparty: counterparty.to_owned(),
                    amount: signed,
                    currency: "EUR".to_owned(),
                    code: code.to_owned(),
                    phase,
                });
            }
            facts.bets.push(BetFact {
                position: *position,
                time,
                event_type: event_type.to_owned(),
                bet_id: bet_id.clone(),
                account: if payout > 0 {
                    to.to_owned()
                } else {
                    from.to_owned()
                },
                currency: "EUR".to_owned(),
                market: if event_type == "bet_paid" {
                    String::new()
                } else {
                    market.clone()
                },
                outcome: (b % 3) as u16,
                legs: 1,
                odds: 20_000,
                stake: if payout > 0 { 0 } else { amount },
                payout,
                code: code.to_owned(),
            });
        };
        push(
            "bet_placed",
            "stake",
            "pending",
            &account,
            "house",
            stake,
            0,
        );
        push(
            "bet_settled",
            "stake",
            "pending_posted",
            &account,
            "house",
            stake,
            0,
        );
        if b % 2 == 0 {
            push(
                "bet_paid",
                "payout",
                "posted",
                "house",
                &account,
                stake * 2,
                stake * 2,
            );
        }
    }
    facts
}
