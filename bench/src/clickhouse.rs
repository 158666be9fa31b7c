//! `bench clickhouse`: how fast the ClickHouse projection ingests, and how
//! long each report takes over large fact tables (issue 7,
//! docs/benchmarks.md "ClickHouse analytics").
//!
//! Ingest is the sink's own path after the Postgres read: events decided
//! by the real domain, turned into facts by
//! `projections::clickhouse::Facts::from_events` and written by
//! `Analytics::insert`, in batches of `--batch-events`. Generating the
//! events is not timed; reading them from Postgres is measured by `bench
//! replay` (the sink reads the log the same way). In order:
//!
//! - the box office (`shows`): shows of three tiers, reservations
//!   confirmed or expired, some tickets given back, decided by
//!   `ledger::box_office`;
//! - pools (`pools`): entries, then each pool closed, settled (a few
//!   cancelled) and paid out in chunks with its rake, decided by
//!   `ledger::pool`;
//! - deposits and withdrawals (`ledger::wallet::decide`) for the postings
//!   left of `--postings`: the ingest figure comparable across runs;
//! - bet facts (placed, settled, half of them paid) and their postings,
//!   added straight as rows, for the sportsbook reports.
//!
//! The wallets are the same 10,000 players throughout; the box office and
//! the pools open and fund them as they need (a deposit before a purchase
//! the balance would not cover). Each part spreads its events over the
//! same 30 days, so positions rise with time within a part but not across
//! parts (no report reads positions). Then every report runs `--runs`
//! times over the whole range and the median is kept, and each table's
//! rows are counted under FINAL.

mod pools;
mod shows;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeZone, Utc};
use hyper::Method;
use ledger::store::LogEvent;
use ledger::wallet::{decide, WalletCommand, WalletEvent, WalletState};
use ledger::{AccountId, Amount, CreditLimit, Currency, StreamId, TransferId};
use projections::clickhouse::facts::{BetFact, Posting};
use projections::clickhouse::reports::{self, ReportName, ReportParams};
use projections::clickhouse::{Analytics, ClickHouseConfig, Facts};

use crate::http::{Conn, Endpoint};

/// Most postings one run writes.
const POSTINGS_MAX: u64 = 100_000_000;
/// Players the events are spread over.
const ACCOUNTS: usize = 10_000;
/// Markets the bets are spread over.
const MARKETS: u64 = 500;
/// The facts' times are spread over this many days from `START`.
const DAYS: i64 = 30;
/// Postings per reservation and per pool entry: 500,000 reservations and
/// 1,000,000 entries at 10M postings.
const POSTINGS_PER_RESERVATION: u64 = 20;
const POSTINGS_PER_POOL_ENTRY: u64 = 10;
/// Reservations per show and entries per pool, on average.
const RESERVATIONS_PER_SHOW: u64 = 500;
const ENTRIES_PER_POOL: u64 = 100;
/// The tables `Analytics::insert` writes, in its order.
const TABLES: [&str; 6] = [
    "postings",
    "bets",
    "pool_entries",
    "show_tiers",
    "show_reservations",
    "ticket_sales",
];

#[derive(Debug, Clone, clap::Args)]
pub struct ClickHouseArgs {
    /// The ClickHouse server.
    #[arg(long, env = "CLICKHOUSE_URL", default_value = "http://127.0.0.1:8123")]
    pub clickhouse_url: String,
    /// A database for the run; it is dropped and created.
    #[arg(long, default_value = "betledger_bench")]
    pub database: String,
    /// Postings to write in all (wallet, box office, pool and bet legs),
    /// up to 100M; the box office and the pools are sized from it.
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

fn eur() -> anyhow::Result<Currency> {
    Currency::parse("EUR").map_err(rejected)
}

fn rejected(r: ledger::Rejection) -> anyhow::Error {
    anyhow::anyhow!("{r}")
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

    let mut log = Log::default();
    let mut wallets = Wallets::new()?;
    let mut written = Tally::default();

    let reservations = args.postings / POSTINGS_PER_RESERVATION;
    let shows = (reservations / RESERVATIONS_PER_SHOW).max(1);
    let mut box_office = shows::Shows::new(shows, reservations.max(1))?;
    let tally = drain(&mut box_office, &mut wallets, &mut log, &analytics, &args).await?;
    println!(
        "box office: {} shows, {} reservations ({} refused: tier sold out or seat limit), {} confirmed, {} expired, {} tickets given back; {}",
        box_office.scheduled(),
        box_office.reserved,
        box_office.refused,
        box_office.confirmed,
        box_office.expired,
        box_office.given_back,
        tally.line()
    );
    written.add(&tally);

    let entries = args.postings / POSTINGS_PER_POOL_ENTRY;
    let pool_count = (entries / ENTRIES_PER_POOL).max(1);
    let mut pools = pools::Pools::new(pool_count, entries.max(1))?;
    let tally = drain(&mut pools, &mut wallets, &mut log, &analytics, &args).await?;
    println!(
        "pools: {} pools, {} entries, {} settled, {} cancelled; {}",
        pools.created(),
        pools.entered,
        pools.settled,
        pools.cancelled,
        tally.line()
    );
    written.add(&tally);

    let bets = args.postings / 20;
    // Each bet: 2 legs placed, 2 settled, 2 paid for every other bet.
    let bet_postings = bets * 5;
    let wallet_events = (args
        .postings
        .saturating_sub(bet_postings + written.postings)
        / 2)
    .max(1);
    let clock = Clock::new(log.position, wallet_events + bets * 3);
    let mut tally = Tally::default();
    while tally.events < wallet_events {
        let want = (wallet_events - tally.events).min(args.batch_events as u64) as usize;
        wallets.events(want, &mut log, &clock)?;
        ingest(&analytics, &mut log, &mut tally).await?;
    }
    println!("deposits and withdrawals: {}", tally.line());
    written.add(&tally);
    println!("ingest, all of the above: {}", written.line());

    let started = Instant::now();
    let mut bet_rows = 0u64;
    let mut bet_id = 0u64;
    while bet_id < bets {
        let n = (bets - bet_id).min((args.batch_events / 3).max(1) as u64);
        let facts = bet_facts(bet_id, n, &mut log.position, &clock);
        bet_rows += facts.rows() as u64;
        written.count(&facts);
        analytics.insert(&facts).await?;
        bet_id += n;
    }
    let bets_s = started.elapsed().as_secs_f64();
    println!(
        "bets: {bets} bets as {bet_rows} rows in {bets_s:.2} s ({:.0} rows/s); {} postings in all",
        bet_rows as f64 / bets_s.max(f64::EPSILON),
        written.postings
    );

    let mut truncated = Vec::new();
    for report in ReportName::ALL {
        let params = ReportParams::new(
            report,
            start(),
            start() + chrono::Duration::days(DAYS + 1),
            Some(20),
        )?;
        let mut times = Vec::with_capacity(args.runs);
        let mut rows = 0;
        let mut cut = false;
        for _ in 0..args.runs {
            let started = Instant::now();
            let table = reports::run(&analytics, report, &params)
                .await
                .with_context(|| report.as_str().to_owned())?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            rows = table.rows.len();
            cut = table.truncated;
        }
        times.sort_by(f64::total_cmp);
        println!(
            "report {:<30} median {:>8.0} ms (min {:.0}, max {:.0}), {rows} rows{}",
            report.as_str(),
            times[times.len() / 2],
            times[0],
            times[times.len() - 1],
            if cut { " (truncated)" } else { "" }
        );
        if cut {
            truncated.push((report, reports::render(report, &params)?));
        }
    }

    // After the reports, so that counting does not warm their reads.
    let Some(mut counter) = Counter::new(&args.clickhouse_url, &args.database) else {
        for (table, rows) in TABLES.into_iter().zip(written.by_table()) {
            println!("table {table:<18} {rows:>10} rows written");
        }
        if !args.keep {
            analytics.drop_database().await?;
        }
        return Ok(());
    };
    for (report, sql) in truncated {
        let all = counter
            .count(&format!("SELECT count() FROM ({sql}\n)"))
            .await?;
        println!(
            "report {:<30} {all} rows in full; the API returns the first {}",
            report.as_str(),
            reports::REPORT_ROWS_MAX
        );
    }
    for (table, rows) in TABLES.into_iter().zip(written.by_table()) {
        let under_final = counter
            .count(&format!("SELECT count() FROM {table} FINAL"))
            .await?;
        println!("table {table:<18} {rows:>10} rows written, {under_final:>10} under FINAL");
        anyhow::ensure!(
            under_final == rows,
            "{table}: {rows} rows written but {under_final} under FINAL: two facts share a key"
        );
    }
    if !args.keep {
        analytics.drop_database().await?;
    }
    Ok(())
}

/// Generated events, numbered as the log would hold them.
#[derive(Default)]
struct Log {
    /// The last position given.
    position: i64,
    events: Vec<LogEvent>,
}

impl Log {
    fn push(
        &mut self,
        stream: &StreamId,
        version: i64,
        (event_type, schema_version): (&str, i32),
        payload: &serde_json::Value,
        at: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.position += 1;
        let text = serde_json::to_string(payload)?;
        self.events.push(LogEvent {
            global_position: self.position,
            stream_id: stream.clone(),
            stream_version: version,
            event_type: event_type.to_owned(),
            schema_version,
            recorded_at: at,
            payload: serde_json::value::RawValue::from_string(text)?,
        });
        Ok(())
    }
}

/// The times of the deposits and withdrawals and of the bets: one step
/// per position from `first`, over the 30 days.
struct Clock {
    first: i64,
    millis_per_position: i64,
}

impl Clock {
    fn new(first: i64, positions: u64) -> Self {
        let millis = (DAYS * 86_400_000) as f64 / positions.max(1) as f64;
        Self {
            first,
            // Whole milliseconds, so that every time is computed in integers.
            millis_per_position: millis as i64,
        }
    }

    fn at(&self, position: i64) -> DateTime<Utc> {
        start() + chrono::Duration::milliseconds((position - self.first) * self.millis_per_position)
    }
}

/// What the sink would be fed: events, one step at a time.
trait Source {
    /// Logs the next events; false once there are none left.
    fn step(&mut self, wallets: &mut Wallets, log: &mut Log) -> anyhow::Result<bool>;
}

/// Rows written per table, and the time `from_events` and `insert` took.
#[derive(Debug, Default)]
struct Tally {
    events: u64,
    postings: u64,
    bets: u64,
    pool_entries: u64,
    show_tiers: u64,
    show_reservations: u64,
    ticket_sales: u64,
    elapsed: Duration,
}

impl Tally {
    fn count(&mut self, facts: &Facts) {
        self.postings += facts.postings.len() as u64;
        self.bets += facts.bets.len() as u64;
        self.pool_entries += facts.pool_entries.len() as u64;
        self.show_tiers += facts.show_tiers.len() as u64;
        self.show_reservations += facts.show_reservations.len() as u64;
        self.ticket_sales += facts.ticket_sales.len() as u64;
    }

    fn add(&mut self, other: &Tally) {
        self.events += other.events;
        self.postings += other.postings;
        self.bets += other.bets;
        self.pool_entries += other.pool_entries;
        self.show_tiers += other.show_tiers;
        self.show_reservations += other.show_reservations;
        self.ticket_sales += other.ticket_sales;
        self.elapsed += other.elapsed;
    }

    /// In the order of `TABLES`.
    fn by_table(&self) -> [u64; 6] {
        [
            self.postings,
            self.bets,
            self.pool_entries,
            self.show_tiers,
            self.show_reservations,
            self.ticket_sales,
        ]
    }

    fn line(&self) -> String {
        let s = self.elapsed.as_secs_f64();
        let rows: u64 = self.by_table().iter().sum();
        let nonempty: Vec<String> = TABLES
            .iter()
            .zip(self.by_table())
            .filter(|(_, n)| *n > 0)
            .map(|(table, n)| format!("{n} {table}"))
            .collect();
        format!(
            "{} events ({}) ingested in {s:.2} s: {:.0} events/s, {:.0} rows/s",
            self.events,
            nonempty.join(", "),
            self.events as f64 / s.max(f64::EPSILON),
            rows as f64 / s.max(f64::EPSILON)
        )
    }
}

/// The sink's path for the events logged so far: facts, then insert (timed).
async fn ingest(analytics: &Analytics, log: &mut Log, tally: &mut Tally) -> anyhow::Result<()> {
    let batch = std::mem::take(&mut log.events);
    let started = Instant::now();
    let facts = Facts::from_events(&batch)?;
    analytics.insert(&facts).await?;
    tally.elapsed += started.elapsed();
    tally.events += batch.len() as u64;
    tally.count(&facts);
    Ok(())
}

/// Runs `source` to its end, ingesting every `--batch-events` events.
async fn drain(
    source: &mut impl Source,
    wallets: &mut Wallets,
    log: &mut Log,
    analytics: &Analytics,
    args: &ClickHouseArgs,
) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    while source.step(wallets, log)? {
        if log.events.len() >= args.batch_events {
            ingest(analytics, log, &mut tally).await?;
        }
    }
    if !log.events.is_empty() {
        ingest(analytics, log, &mut tally).await?;
    }
    Ok(tally)
}

/// Things due later, taken in time order, then in the order put.
struct Agenda<T> {
    due: BinaryHeap<Reverse<(DateTime<Utc>, u64)>>,
    items: HashMap<u64, T>,
    next: u64,
}

impl<T> Agenda<T> {
    fn new() -> Self {
        Self {
            due: BinaryHeap::new(),
            items: HashMap::new(),
            next: 0,
        }
    }

    fn put(&mut self, at: DateTime<Utc>, item: T) {
        self.due.push(Reverse((at, self.next)));
        self.items.insert(self.next, item);
        self.next += 1;
    }

    /// The first item due at or before `until` (any, without `until`).
    fn take(&mut self, until: Option<DateTime<Utc>>) -> Option<(DateTime<Utc>, T)> {
        let Reverse((at, id)) = *self.due.peek()?;
        if until.is_some_and(|until| at > until) {
            return None;
        }
        self.due.pop();
        Some((at, self.items.remove(&id)?))
    }
}

/// A stream's state and version, as a writer holds them.
struct Stream<S> {
    id: StreamId,
    state: S,
    version: i64,
}

/// The players' wallets, decided by the real domain: opened, funded as
/// the box office and the pools need, then deposits and withdrawals in
/// turn.
struct Wallets {
    accounts: Vec<(AccountId, Stream<WalletState>)>,
    next: usize,
    rng: fastrand::Rng,
}

impl Wallets {
    fn new() -> anyhow::Result<Self> {
        let accounts = (0..ACCOUNTS)
            .map(|i| {
                let account = AccountId::parse(&format!("p{i}")).map_err(rejected)?;
                let stream = Stream {
                    id: StreamId::account(&account),
                    state: WalletState::default(),
                    version: 0,
                };
                Ok((account, stream))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self {
            accounts,
            next: 0,
            rng: fastrand::Rng::with_seed(7),
        })
    }

    fn id(&self, i: usize) -> &AccountId {
        &self.accounts[i].0
    }

    fn state(&self, i: usize) -> &WalletState {
        &self.accounts[i].1.state
    }

    /// Folds `events` into wallet `i` and logs them at `at`.
    fn record(
        &mut self,
        i: usize,
        events: Vec<WalletEvent>,
        at: DateTime<Utc>,
        log: &mut Log,
    ) -> anyhow::Result<()> {
        let wallet = &mut self.accounts[i].1;
        for event in events {
            wallet.state = std::mem::take(&mut wallet.state).evolve(&event);
            wallet.version += 1;
            let kind = (event.event_type(), event.schema_version());
            log.push(&wallet.id, wallet.version, kind, &event.payload(), at)?;
        }
        Ok(())
    }

    fn decide(
        &mut self,
        i: usize,
        command: &WalletCommand,
        at: DateTime<Utc>,
        log: &mut Log,
    ) -> anyhow::Result<()> {
        let events = decide(self.state(i), command).map_err(rejected)?;
        self.record(i, events, at, log)
    }

    /// Wallet `i` open and able to pay `amount`: opened if it is not, and
    /// given a deposit of what it lacks and 500.00 more if it cannot.
    fn fund(
        &mut self,
        i: usize,
        amount: i64,
        at: DateTime<Utc>,
        log: &mut Log,
    ) -> anyhow::Result<()> {
        if self.state(i).wallet.is_none() {
            let open = WalletCommand::Open {
                account: self.id(i).clone(),
                currency: eur()?,
                credit_limit: CreditLimit::ZERO,
            };
            self.decide(i, &open, at, log)?;
        }
        let available = self.state(i).wallet.as_ref().map_or(0, |w| w.available());
        if available < amount {
            let deposit = WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(amount - available + 50_000).map_err(rejected)?,
                currency: None,
                description: None,
                payment_ref: None,
            };
            self.decide(i, &deposit, at, log)?;
        }
        Ok(())
    }

    /// `count` or a few more events: each wallet in turn opened with a
    /// deposit, then deposits and withdrawals.
    fn events(&mut self, count: usize, log: &mut Log, clock: &Clock) -> anyhow::Result<()> {
        let target = log.events.len() + count;
        while log.events.len() < target {
            let i = self.next;
            self.next = (self.next + 1) % self.accounts.len();
            let (account, wallet) = &self.accounts[i];
            let command = match &wallet.state.wallet {
                None => WalletCommand::Open {
                    account: account.clone(),
                    currency: eur()?,
                    credit_limit: CreditLimit::ZERO,
                },
                Some(w) if w.balance.posted() < 10_000 || self.rng.bool() => {
                    WalletCommand::Deposit {
                        transfer_id: TransferId::generate(),
                        amount: Amount::new(self.rng.i64(1_000..=50_000)).map_err(rejected)?,
                        currency: None,
                        description: None,
                        payment_ref: None,
                    }
                }
                Some(_) => WalletCommand::Withdraw {
                    transfer_id: TransferId::generate(),
                    amount: Amount::new(self.rng.i64(1..=5_000)).map_err(rejected)?,
                    currency: None,
                    description: None,
                    payment_ref: None,
                },
            };
            let at = clock.at(log.position + 1);
            self.decide(i, &command, at, log)?;
        }
        Ok(())
    }
}

/// Counts over ClickHouse's HTTP interface (each table's rows under
/// FINAL, a truncated report's rows in full); `None` for a server the
/// harness's client does not reach (not loopback).
struct Counter {
    conn: Conn,
    /// `/?database=...`: the database was checked by `Analytics::new`
    /// (letters, digits, _), so it needs no escaping.
    path: String,
}

impl Counter {
    fn new(url: &str, database: &str) -> Option<Self> {
        let endpoint = Endpoint::parse(url).ok()?;
        let conn = Conn::new(endpoint, Duration::from_secs(600)).ok()?;
        Some(Self {
            conn,
            path: format!("/?database={database}"),
        })
    }

    /// The one number `sql` answers.
    async fn count(&mut self, sql: &str) -> anyhow::Result<u64> {
        let response = self
            .conn
            .send(Method::POST, &self.path, None, Some(sql.to_owned().into()))
            .await
            .map_err(|e| anyhow::anyhow!("{sql}: {}", e.reason()))?;
        let body = String::from_utf8_lossy(&response.body);
        anyhow::ensure!(
            response.status == 200,
            "{sql}: HTTP {}: {body}",
            response.status
        );
        body.trim()
            .parse()
            .with_context(|| format!("{sql}: {body:?} is not a count"))
    }
}

/// `n` bets from `first`: placed, settled (stake to the house), and every
/// other one paid twice its stake; their bet facts and postings.
fn bet_facts(first: u64, n: u64, position: &mut i64, clock: &Clock) -> Facts {
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
            let time = u32::try_from(clock.at(*position).timestamp()).unwrap_or(0);
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
