//! Parimutuel pools for `bench clickhouse`: entries of 1.00 to 50.00 on
//! one of a pool's 2 to 7 outcomes, then the pool closed, settled on one
//! winning outcome (1 in 50 cancelled instead) and paid out in chunks
//! with its rake, as the payout process does (`commands/src/pool_payouts.rs`);
//! all decided by `ledger::pool` against the pools' and the wallets'
//! states.
//!
//! Entry `i` is made at `i` × (30 days / entries) in one of the `WINDOW`
//! pools then open: pools open in turn, each closes just after the last
//! entry that can pick it and is settled five minutes later.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use ledger::pool::{
    decide_entry, decide_payment, decide_pool, EnterPool, PayEntry, PoolCommand, PoolEvent,
    PoolState,
};
use ledger::{Amount, PoolEntryId, PoolId, StreamId};

use super::{eur, rejected, start, Agenda, Log, Source, Stream, Wallets, ACCOUNTS, DAYS};

/// Pools open at once.
const WINDOW: u64 = 20;
/// Entries paid per step of the payout, as `POOL_PAYOUT_CHUNK` would.
const PAYOUT_CHUNK: usize = 500;

/// A pool and, for each of its entries in order, the wallet that made it.
struct Pool {
    stream: Stream<PoolState>,
    id: PoolId,
    outcomes: u16,
    entrants: Vec<usize>,
}

pub(super) struct Pools {
    /// Created when first picked; emptied once paid out.
    pools: Vec<Option<Pool>>,
    created: Vec<bool>,
    entries: u64,
    /// The next entry to make.
    next: u64,
    window: u64,
    millis_per_entry: i64,
    /// Pools to settle.
    agenda: Agenda<usize>,
    rng: fastrand::Rng,
    pub entered: u64,
    pub settled: u64,
    pub cancelled: u64,
}

impl Pools {
    pub fn new(pools: u64, entries: u64) -> anyhow::Result<Self> {
        let count = usize::try_from(pools)?;
        Ok(Self {
            pools: (0..count).map(|_| None).collect(),
            created: vec![false; count],
            entries,
            next: 0,
            window: WINDOW.min(pools),
            millis_per_entry: DAYS * 86_400_000 / i64::try_from(entries)?.max(1),
            agenda: Agenda::new(),
            rng: fastrand::Rng::with_seed(13),
            entered: 0,
            settled: 0,
            cancelled: 0,
        })
    }

    /// Pools created: each is picked by some entry, save by chance at a
    /// small scale.
    pub fn created(&self) -> usize {
        self.created.iter().filter(|c| **c).count()
    }

    fn at(&self, entry: u64) -> DateTime<Utc> {
        let step = i64::try_from(entry).unwrap_or(i64::MAX);
        start() + Duration::milliseconds(step.saturating_mul(self.millis_per_entry))
    }

    /// Pools that open in turn: the first of the window at entry `i`.
    fn turns(&self) -> u64 {
        self.pools.len() as u64 - self.window + 1
    }

    fn pick(&mut self, entry: u64) -> usize {
        let first = u128::from(entry) * u128::from(self.turns()) / u128::from(self.entries);
        let first = u64::try_from(first).unwrap_or(0);
        usize::try_from(first + self.rng.u64(0..self.window)).unwrap_or(0)
    }

    /// A minute after the last entry that can pick pool `p`.
    fn closes_at(&self, p: usize) -> DateTime<Utc> {
        let last = (p as u64 + 1) * self.entries;
        self.at(last.div_ceil(self.turns())) + Duration::minutes(1)
    }

    fn create(&mut self, p: usize, now: DateTime<Utc>, log: &mut Log) -> anyhow::Result<()> {
        if self.created[p] {
            return Ok(());
        }
        let outcomes = 2 + (p % 6) as u16;
        let id = PoolId::parse(&format!("pool{p}")).map_err(rejected)?;
        let closes_at = self.closes_at(p);
        let command = PoolCommand::Create {
            pool: id.clone(),
            name: format!("Pool {p}"),
            outcomes: (0..outcomes).map(|o| format!("outcome {o}")).collect(),
            min_entry: 100,
            rake_bp: 1_000 + 500 * (p % 3) as u32,
            closes_at,
            currency: eur()?,
        };
        let mut pool = Pool {
            stream: Stream {
                id: StreamId::pool(&id),
                state: PoolState::default(),
                version: 0,
            },
            id,
            outcomes,
            entrants: Vec::new(),
        };
        decide(&mut pool.stream, &command, now, log)?;
        self.pools[p] = Some(pool);
        self.created[p] = true;
        self.agenda.put(closes_at + Duration::minutes(5), p);
        Ok(())
    }

    fn enter(
        &mut self,
        now: DateTime<Utc>,
        wallets: &mut Wallets,
        log: &mut Log,
    ) -> anyhow::Result<()> {
        let p = self.pick(self.next);
        self.create(p, now, log)?;
        let account = self.rng.usize(0..ACCOUNTS);
        let stake = self.rng.i64(1..=50) * 100;
        wallets.fund(account, stake, now, log)?;
        let outcome = {
            let pool = self.pools[p].as_ref().context("an open pool")?;
            self.rng.u16(0..pool.outcomes)
        };
        let pool = self.pools[p].as_mut().context("an open pool")?;
        let command = EnterPool {
            entry_id: PoolEntryId::generate(),
            pool: pool.id.clone(),
            outcome,
            stake: Amount::new(stake).map_err(rejected)?,
            now,
        };
        let decision =
            decide_entry(wallets.state(account), &pool.stream.state, &command).map_err(rejected)?;
        record(&mut pool.stream, decision.pool, now, log)?;
        wallets.record(account, decision.wallet, now, log)?;
        pool.entrants.push(account);
        self.entered += 1;
        Ok(())
    }

    /// Closes pool `p`, settles or cancels it, and pays every entry.
    fn settle(
        &mut self,
        p: usize,
        at: DateTime<Utc>,
        wallets: &mut Wallets,
        log: &mut Log,
    ) -> anyhow::Result<()> {
        let cancel = self.rng.u32(0..50) == 0;
        let Some(mut pool) = self.pools[p].take() else {
            return Ok(());
        };
        decide(&mut pool.stream, &PoolCommand::Close, at, log)?;
        let resolve = if cancel {
            self.cancelled += 1;
            PoolCommand::Cancel
        } else {
            self.settled += 1;
            PoolCommand::Settle {
                winners: vec![self.rng.u16(0..pool.outcomes)],
            }
        };
        decide(&mut pool.stream, &resolve, at, log)?;
        let state = pool.stream.state.pool.as_ref().context("a created pool")?;
        let resolution = state.resolution().context("a settled pool")?;
        let plan = state.plan(resolution);
        // Each entry with its wallet and what it gets, in entry order.
        let payees: Vec<(PoolEntryId, usize, i64)> = state
            .entries
            .iter()
            .zip(&pool.entrants)
            .zip(&plan.amounts)
            .map(|((entry, account), amount)| (entry.entry_id, *account, *amount))
            .collect();
        let (mut paid, mut done) = (0i64, 0u64);
        for chunk in payees.chunks(PAYOUT_CHUNK) {
            for &(entry_id, account, amount) in chunk {
                paid += amount;
                // A losing entry gets nothing: its stake stays in the pot.
                if amount == 0 {
                    continue;
                }
                let command = PayEntry {
                    pool: pool.id.clone(),
                    entry_id,
                    amount: Amount::new(amount).map_err(rejected)?,
                    refund: plan.refund,
                };
                let events = decide_payment(wallets.state(account), &command).map_err(rejected)?;
                wallets.record(account, events, at, log)?;
            }
            done += chunk.len() as u64;
            let progress = PoolCommand::RecordProgress {
                entries_done: done,
                paid,
            };
            decide(&mut pool.stream, &progress, at, log)?;
        }
        decide(&mut pool.stream, &PoolCommand::Finish, at, log)
    }
}

/// Decides `command` on the pool and logs its events.
fn decide(
    stream: &mut Stream<PoolState>,
    command: &PoolCommand,
    at: DateTime<Utc>,
    log: &mut Log,
) -> anyhow::Result<()> {
    let events = decide_pool(&stream.state, command).map_err(rejected)?;
    record(stream, events, at, log)
}

fn record(
    stream: &mut Stream<PoolState>,
    events: Vec<PoolEvent>,
    at: DateTime<Utc>,
    log: &mut Log,
) -> anyhow::Result<()> {
    for event in events {
        stream.state = std::mem::take(&mut stream.state).evolve(&event);
        stream.version += 1;
        let kind = (event.event_type(), event.schema_version());
        log.push(&stream.id, stream.version, kind, &event.payload(), at)?;
    }
    Ok(())
}

impl Source for Pools {
    fn step(&mut self, wallets: &mut Wallets, log: &mut Log) -> anyhow::Result<bool> {
        if self.next < self.entries {
            let now = self.at(self.next);
            while let Some((at, p)) = self.agenda.take(Some(now)) {
                self.settle(p, at, wallets, log)?;
            }
            self.enter(now, wallets, log)?;
            self.next += 1;
            return Ok(true);
        }
        match self.agenda.take(None) {
            Some((at, p)) => {
                self.settle(p, at, wallets, log)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
