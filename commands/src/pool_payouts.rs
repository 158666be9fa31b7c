//! The pools' process: closes open pools at their close time, and pays
//! out settled or cancelled pools in chunks. Each chunk's wallet events
//! (`pool_paid` / `pool_refunded`) and the pool's `pool_payouts_progressed`
//! are one append (ADR 0005), so after a crash the next run starts after
//! the last recorded chunk and no entry is paid twice; the wallet's
//! decision also leaves an entry already paid alone. The last step takes
//! the rake and records `pool_payouts_finished`.
//!
//! Payouts are a pure function of the pool's entries and result
//! (`Pool::plan`), so a resumed run computes the very same amounts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger::pool::{decide_payment, decide_pool, PayEntry, PoolCommand, PoolStatus};
use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StreamAppend, StreamHead,
};
use ledger::wallet::WalletState;
use ledger::{error_chain, Amount, StreamId};
use sqlx::Row;
use tokio::sync::Notify;

use crate::cache::{Aggregate, Cached, StateCache};
use crate::ApiError;

/// Most pools one search (due or paying) returns.
const POOLS_FOUND_MAX: i64 = 1_000;
/// Largest chunk: its wallets, its pool and one event an entry stay well
/// inside one append's limits.
pub const CHUNK_ENTRIES_MAX: usize = 5_000;

#[derive(Debug, Clone)]
pub struct PoolPayoutConfig {
    /// Most entries paid in one append (with their pool's progress), 1 to
    /// [`CHUNK_ENTRIES_MAX`].
    pub chunk_entries_max: usize,
    /// How often the process looks for work when not woken.
    pub poll_interval_ms: u64,
}

impl Default for PoolPayoutConfig {
    fn default() -> Self {
        Self {
            chunk_entries_max: 2_000,
            poll_interval_ms: 1_000,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolStep {
    /// Closed a pool, paid a chunk, finished a pool, or went round a conflict.
    Worked,
    Idle,
}

/// Wakes the process when a pool is settled or cancelled (a hint: it polls).
#[derive(Clone, Default)]
pub struct PoolPayerHandle {
    notify: Arc<Notify>,
}

impl PoolPayerHandle {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

pub struct PoolPayer {
    store: PgEventStore,
    cache: Arc<StateCache>,
    config: PoolPayoutConfig,
    handle: PoolPayerHandle,
    /// The chunk size now: halved after a conflict, back after a commit.
    chunk: AtomicUsize,
    /// Stop after this many more appends (tests: a crash half-way).
    appends_left: AtomicUsize,
}

/// One stream's part of an append: where it stood, where it ends, events.
struct Work {
    before: StreamHead,
    after: Cached,
    events: Vec<NewEvent>,
}

fn unavailable<E>(_: E) -> ApiError {
    ApiError::Unavailable
}

impl PoolPayer {
    pub fn new(
        store: PgEventStore,
        cache: Arc<StateCache>,
        config: PoolPayoutConfig,
        handle: PoolPayerHandle,
    ) -> Self {
        let chunk = config.chunk_entries_max.clamp(1, CHUNK_ENTRIES_MAX);
        Self {
            store,
            cache,
            config,
            handle,
            chunk: chunk.into(),
            appends_left: usize::MAX.into(),
        }
    }

    /// Makes every step after `appends` more appends fail, as a process
    /// killed half-way would (for tests of resuming).
    pub fn crash_after(self, appends: usize) -> Self {
        self.appends_left.store(appends, Ordering::Relaxed);
        self
    }

    /// Runs until the task is dropped: steps while there is work, then
    /// waits for a wake-up or the poll interval.
    pub async fn run(self) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        loop {
            match self.step().await {
                Ok(PoolStep::Worked) => continue,
                Ok(PoolStep::Idle) => {}
                Err(err) => tracing::error!(error = %error_chain(&err), "pool step failed"),
            }
            let _ = tokio::time::timeout(poll, self.handle.notify.notified()).await;
        }
    }

    /// Closes one pool past its close time, or pays one chunk of one pool.
    pub async fn step(&self) -> Result<PoolStep, ApiError> {
        let due = self
            .streams(include_str!("pool_payouts/due.sql"), true)
            .await?;
        for stream in due {
            let cached = self
                .cache
                .current(&self.store, &stream)
                .await
                .map_err(unavailable)?;
            let open = cached
                .pool()
                .is_some_and(|p| p.status == PoolStatus::Open && p.closes_at <= Utc::now());
            if open {
                let id = format!("pool-close:{stream}");
                return self
                    .append(cached, stream, PoolCommand::Close, Vec::new(), id)
                    .await;
            }
        }
        let paying = self
            .streams(include_str!("pool_payouts/paying.sql"), false)
            .await?;
        for stream in paying {
            let cached = self
                .cache
                .current(&self.store, &stream)
                .await
                .map_err(unavailable)?;
            if matches!(
                cached.pool().map(|p| &p.status),
                Some(PoolStatus::Paying { .. })
            ) {
                return self.pay_chunk(cached, stream).await;
            }
        }
        Ok(PoolStep::Idle)
    }

    async fn streams(&self, sql: &'static str, with_now: bool) -> Result<Vec<StreamId>, ApiError> {
        let mut query = sqlx::query(sql);
        if with_now {
            query = query.bind(Utc::now());
        }
        let rows = query
            .bind(POOLS_FOUND_MAX)
            .fetch_all(self.store.pool())
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|row| row.try_get::<String, _>(0).map(StreamId::new))
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::internal(ledger::Error::from(e)))
    }

    async fn pay_chunk(&self, cached: Cached, stream: StreamId) -> Result<PoolStep, ApiError> {
        let Some(pool) = cached.pool() else {
            return Ok(PoolStep::Idle);
        };
        let PoolStatus::Paying {
            resolution,
            entries_done,
            paid,
        } = &pool.status
        else {
            return Ok(PoolStep::Idle);
        };
        let start = usize::try_from(*entries_done).unwrap_or(usize::MAX);
        if start >= pool.entries.len() {
            let id = format!("pool-finish:{stream}");
            return self
                .append(cached, stream, PoolCommand::Finish, Vec::new(), id)
                .await;
        }
        let plan = pool.plan(resolution);
        let end = (start + self.chunk.load(Ordering::Relaxed).max(1)).min(pool.entries.len());
        let mut wallets: HashMap<StreamId, Work> = HashMap::new();
        let mut paid_now: i64 = 0;
        for (entry, amount) in pool.entries[start..end]
            .iter()
            .zip(&plan.amounts[start..end])
        {
            paid_now += amount;
            // A losing entry gets nothing: its stake stays in the pot.
            if *amount == 0 {
                continue;
            }
            let wallet_stream = StreamId::account(&entry.account);
            if !wallets.contains_key(&wallet_stream) {
                // A cached wallet is trusted, as the writer trusts it: if
                // another writer moved it, the append conflicts and the
                // next attempt reads it again.
                let current = match self.cache.get(&wallet_stream) {
                    Some(c) => c,
                    None => self
                        .cache
                        .current(&self.store, &wallet_stream)
                        .await
                        .map_err(unavailable)?,
                };
                let work = Work {
                    before: current.head,
                    after: current,
                    events: Vec::new(),
                };
                wallets.insert(wallet_stream.clone(), work);
            }
            let Some(work) = wallets.get_mut(&wallet_stream) else {
                continue;
            };
            let Aggregate::Wallet(state) = &mut work.after.state else {
                continue;
            };
            let command = PayEntry {
                pool: pool.id.clone(),
                entry_id: entry.entry_id,
                amount: Amount::new(*amount)?,
                refund: plan.refund,
            };
            let events = decide_payment(state, &command).map_err(|rejection| {
                // An entry its wallet cannot be paid would stall the pool;
                // it is a bug, so say which and stop here.
                ApiError::internal(std::io::Error::other(format!(
                    "entry {} of pool {} cannot be paid on {wallet_stream}: {rejection}",
                    entry.entry_id, pool.id
                )))
            })?;
            for event in &events {
                *state = std::mem::take::<WalletState>(state).evolve(event);
                work.events.push(NewEvent::new(
                    event.event_type(),
                    event.schema_version(),
                    event.canonical_payload(),
                ));
            }
            work.after.head.version += events.len() as i64;
        }
        let command = PoolCommand::RecordProgress {
            entries_done: end as u64,
            paid: paid + paid_now,
        };
        let id = format!("pool-pay:{stream}:{end}");
        let wallets = wallets.into_iter().collect();
        self.append(cached, stream, command, wallets, id).await
    }

    /// Appends the pool's command and the wallets' events as one group.
    async fn append(
        &self,
        cached: Cached,
        stream: StreamId,
        command: PoolCommand,
        wallets: Vec<(StreamId, Work)>,
        command_id: String,
    ) -> Result<PoolStep, ApiError> {
        let left = self.appends_left.load(Ordering::Relaxed);
        if left == 0 {
            return Err(ApiError::Unavailable);
        }
        self.appends_left.store(left - 1, Ordering::Relaxed);
        let Aggregate::Pool(state) = &cached.state else {
            return Ok(PoolStep::Idle);
        };
        let events = decide_pool(state, &command).map_err(|rejection| {
            ApiError::internal(std::io::Error::other(format!(
                "{stream} refused its process's {command:?}: {rejection}"
            )))
        })?;
        let mut after = cached.clone();
        if let Aggregate::Pool(state) = &mut after.state {
            for event in &events {
                *state = std::mem::take(state).evolve(event);
            }
        }
        after.head.version += events.len() as i64;
        let outcome = serde_json::json!({ "pool_process": command_id });
        let command_append = |events: Vec<NewEvent>| CommandAppend {
            command_id: command_id.clone(),
            request_hash: Vec::new(),
            outcome: outcome.clone(),
            events,
        };
        let pool_events = events
            .iter()
            .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload()))
            .collect();
        let mut group = vec![StreamAppend {
            stream_id: stream.clone(),
            expected: cached.head,
            commands: vec![command_append(pool_events)],
        }];
        let mut afters = vec![(stream, after)];
        for (wallet, work) in wallets {
            if work.events.is_empty() {
                continue;
            }
            group.push(StreamAppend {
                stream_id: wallet.clone(),
                expected: work.before,
                commands: vec![command_append(work.events)],
            });
            afters.push((wallet, work.after));
        }
        let outcomes = self
            .store
            .append_groups(vec![group])
            .await
            .map_err(unavailable)?;
        let committed = outcomes.first().is_some_and(|group| {
            group
                .iter()
                .all(|o| matches!(o, AppendOutcome::Committed { .. }))
        });
        if !committed {
            // Someone else wrote one of the streams: read them again next
            // step, with a smaller chunk so a busy wallet stops only a few.
            for (stream, _) in &afters {
                self.cache.forget(stream);
            }
            let chunk = self.chunk.load(Ordering::Relaxed);
            self.chunk.store((chunk / 2).max(1), Ordering::Relaxed);
            return Ok(PoolStep::Worked);
        }
        for ((stream, mut after), outcome) in afters.into_iter().zip(&outcomes[0]) {
            if let AppendOutcome::Committed { head, .. } = outcome {
                after.head = *head;
                self.cache.put(stream, after);
            }
        }
        self.chunk.store(
            self.config.chunk_entries_max.clamp(1, CHUNK_ENTRIES_MAX),
            Ordering::Relaxed,
        );
        Ok(PoolStep::Worked)
    }
}
