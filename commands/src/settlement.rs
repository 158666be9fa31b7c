//! The settlement process: settles a market's bets after the operator
//! recorded its result (`settlement_started`), in chunks, and records how
//! far it got on the market's stream (`settlement_progressed`) in the same
//! append as the chunk's wallet events (ADR 0005). A crash between chunks
//! loses nothing and repeats nothing: the next run starts after the last
//! recorded chunk. Re-settlements run the same way, with each leg's
//! settlement naming the one it replaces. Each chunk is decided while the
//! one before it commits (see `Settler::ahead`), and the cache takes a
//! committed chunk while the next one is written (`Settler::caching`).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use ledger::sportsbook::market::{MarketCommand, MarketResult, MarketStatus};
use ledger::sportsbook::settle::LegResult;
use ledger::store::{
    AppendOutcome, CommandAppend, NewEvent, PgEventStore, PreparedGroups, StreamAppend,
};
use ledger::wallet::{decide as decide_wallet, SettleLeg, WalletCommand, WalletState};
use ledger::{error_chain, AccountId, BetId, MarketId, SettlementId, StreamId};
use sqlx::Row;
use tokio::sync::Notify;

use crate::batch_wallets::{self, WalletWork};
use crate::cache::{Aggregate, Cached, StateCache};
use crate::ApiError;

/// Most markets one search for running settlements returns.
const RUNNING_MARKETS_MAX: i64 = 1_000;
/// Largest chunk: its wallets, its market and up to three events a bet
/// stay well inside one append's limits (`BATCH_STREAMS_MAX`,
/// `BATCH_EVENTS_MAX`).
pub const CHUNK_BETS_MAX: usize = 5_000;

/// The settlement process's settings.
#[derive(Debug, Clone)]
pub struct SettlementConfig {
    /// Most bets settled in one append (with their market's progress), 1 to
    /// [`CHUNK_BETS_MAX`].
    pub chunk_bets_max: usize,
    /// How often the process looks for running settlements when not woken.
    pub poll_interval_ms: u64,
}

impl Default for SettlementConfig {
    fn default() -> Self {
        Self {
            chunk_bets_max: 2_000,
            poll_interval_ms: 1_000,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Settled a chunk, finished a settlement, or went round a conflict.
    Worked,
    /// No settlement is running.
    Idle,
}

/// Wakes the process when a settlement starts (a hint: it also polls).
#[derive(Clone, Default)]
pub struct SettlerHandle {
    notify: Arc<Notify>,
}

impl SettlerHandle {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

/// A bet to settle, as its market recorded it.
struct BetOnMarket {
    bet_id: BetId,
    account: AccountId,
    outcome: u16,
}

/// The market's settlement as it stands.
#[derive(Clone)]
struct Running {
    market: MarketId,
    stream: StreamId,
    cached: Cached,
    settlement_id: SettlementId,
    result: MarketResult,
    replaces: Option<SettlementId>,
    through_version: i64,
    bets_settled: u64,
}

/// A chunk decided and built, nothing of it sent yet.
struct Decided {
    batch: PreparedGroups,
    /// The market and each wallet as the chunk leaves them, heads included:
    /// what the chunk after it is decided on, and what is cached once it
    /// commits.
    afters: HashMap<StreamId, Cached>,
    /// The settlement after this chunk, or `None` when the chunk finishes it.
    next: Option<Running>,
}

pub struct Settler {
    store: PgEventStore,
    cache: Arc<StateCache>,
    config: SettlementConfig,
    handle: SettlerHandle,
    /// The chunk size now: halved after a conflict, back to the maximum
    /// after a commit.
    chunk: std::sync::atomic::AtomicUsize,
    /// The chunk decided while the last one was committing, sent by the next
    /// step. Deciding on the heads the chunk in flight will leave lets the
    /// process decide while Postgres writes, instead of taking turns; it is
    /// sent only after that chunk committed, and dropped if it did not.
    ahead: tokio::sync::Mutex<Option<Decided>>,
    /// The cache taking what the last committed chunk left (2,000 wallets
    /// put, their old states dropped: a tenth of a step). It runs while the
    /// next chunk is sent and written, and everything that reads the cache
    /// here waits for it first ([`Settler::cached`]).
    caching: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Settler {
    pub fn new(
        store: PgEventStore,
        cache: Arc<StateCache>,
        config: SettlementConfig,
        handle: SettlerHandle,
    ) -> Self {
        let chunk = config.chunk_bets_max.clamp(1, CHUNK_BETS_MAX);
        Self {
            store,
            cache,
            config,
            handle,
            chunk: chunk.into(),
            ahead: tokio::sync::Mutex::new(None),
            caching: std::sync::Mutex::new(None),
        }
    }

    /// Runs until the task is dropped: a step at a time while there is
    /// work, then waits for a wake-up or the poll interval.
    pub async fn run(self) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        loop {
            match self.step().await {
                Ok(Step::Worked) => continue,
                Ok(Step::Idle) => {}
                Err(err) => {
                    tracing::error!(error = %error_chain(&err), "settlement step failed");
                }
            }
            let _ = tokio::time::timeout(poll, self.handle.notify.notified()).await;
        }
    }

    /// Commits one chunk of the first running settlement (or finishes it),
    /// and decides the chunk after it while it commits.
    pub async fn step(&self) -> Result<Step, ApiError> {
        let mut ahead = self.ahead.lock().await;
        let decided = match ahead.take() {
            Some(decided) => decided,
            None => {
                // The search reads the market from the cache.
                self.cached().await;
                match self.first_running().await? {
                    Some(running) => self.decide(running, &HashMap::new()).await?,
                    None => return Ok(Step::Idle),
                }
            }
        };
        let Decided {
            batch,
            afters,
            next,
        } = decided;
        let (sent, following) = tokio::join!(self.store.append_prepared(batch), async {
            match next {
                Some(running) => Some(self.decide(running, &afters).await),
                None => None,
            }
        });
        let outcomes = sent.map_err(|_| ApiError::Unavailable)?;
        self.committed(afters, &outcomes).await;
        match following {
            Some(Ok(decided)) if committed(&outcomes) => *ahead = Some(decided),
            Some(Err(err)) => {
                // The chunk in flight is settled; the next step decides the
                // one after it again, from the store.
                tracing::warn!(error = %error_chain(&err), "deciding the next settlement chunk failed");
            }
            _ => {}
        }
        Ok(Step::Worked)
    }

    /// The first running settlement, read from the store.
    async fn first_running(&self) -> Result<Option<Running>, ApiError> {
        let rows = sqlx::query(include_str!("settlement/running.sql"))
            .bind(RUNNING_MARKETS_MAX)
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| ApiError::internal(ledger::Error::from(e)))?;
        for row in rows {
            let stream = StreamId::new(
                row.try_get::<String, _>(0)
                    .map_err(|e| ApiError::internal(ledger::Error::from(e)))?,
            );
            if let Some(running) = self.running(&stream).await? {
                return Ok(Some(running));
            }
        }
        Ok(None)
    }

    async fn running(&self, stream: &StreamId) -> Result<Option<Running>, ApiError> {
        let cached = self
            .cache
            .current(&self.store, stream)
            .await
            .map_err(|_| ApiError::Unavailable)?;
        let Some(market) = cached.market() else {
            return Ok(None);
        };
        let MarketStatus::Settling {
            settlement_id,
            result,
            replaces,
            through_version,
            bets_settled,
        } = &market.status
        else {
            return Ok(None);
        };
        Ok(Some(Running {
            market: market.id.clone(),
            stream: stream.clone(),
            settlement_id: *settlement_id,
            result: result.clone(),
            replaces: *replaces,
            through_version: *through_version,
            bets_settled: *bets_settled,
            cached,
        }))
    }

    /// The next bets after `through_version`, up to the chunk size, and the
    /// version of the last one (`None` when there are no more).
    async fn next_bets(
        &self,
        running: &Running,
        chunk: usize,
    ) -> Result<(Vec<BetOnMarket>, Option<i64>), ApiError> {
        let rows = sqlx::query(include_str!("settlement/bets.sql"))
            .bind(running.stream.as_str())
            .bind(running.through_version)
            .bind(i64::try_from(chunk).unwrap_or(i64::MAX))
            .fetch_all(self.store.pool())
            .await
            .map_err(|_| ApiError::Unavailable)?;
        let mut bets = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in &rows {
            let bet = || -> Result<(i64, BetOnMarket), sqlx::Error> {
                let account: String = row.try_get("account")?;
                let outcome: i32 = row.try_get("outcome")?;
                Ok((
                    row.try_get("stream_version")?,
                    BetOnMarket {
                        bet_id: BetId::from_uuid(row.try_get("bet_id")?),
                        account: AccountId::parse(&account)
                            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                        outcome: u16::try_from(outcome)
                            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                    },
                ))
            };
            let (version, bet) = bet().map_err(|e| ApiError::internal(ledger::Error::from(e)))?;
            last = Some(version);
            bets.push(bet);
        }
        Ok((bets, last))
    }

    /// Decides the chunk after `running`'s progress. Wallets in `base` (the
    /// chunk in flight) are taken as it leaves them; others come from the
    /// cache or the store.
    async fn decide(
        &self,
        running: Running,
        base: &HashMap<StreamId, Cached>,
    ) -> Result<Decided, ApiError> {
        use std::sync::atomic::Ordering;
        let chunk = self.chunk.load(Ordering::Relaxed).max(1);
        let (bets, last) = self.cached_then(self.next_bets(&running, chunk)).await?;
        let Some(through_version) = last else {
            let command = MarketCommand::FinishSettlement {
                settlement_id: running.settlement_id,
            };
            let id = format!("settle-finish:{}", running.settlement_id);
            return self.build(running, command, Vec::new(), id, None);
        };
        let mut decided = batch_wallets::wallets(
            &self.store,
            &self.cache,
            bets.iter().map(|bet| StreamId::account(&bet.account)),
            base,
        )
        .await?;
        let settled = bets.len() as u64;
        for bet in &bets {
            let stream = StreamId::account(&bet.account);
            let Some(WalletWork { after, events, .. }) = decided.get_mut(&stream) else {
                continue;
            };
            let Aggregate::Wallet(state) = &mut after.state else {
                continue;
            };
            let command = WalletCommand::SettleLeg(SettleLeg {
                bet_id: bet.bet_id,
                market: running.market.clone(),
                settlement_id: running.settlement_id,
                replaces: running.replaces,
                result: LegResult::of(&running.result, bet.outcome),
            });
            match decide_wallet(state, &command) {
                Ok(new) => {
                    for event in &new {
                        *state = std::mem::take::<WalletState>(state).evolve(event);
                        events.push(NewEvent::new(
                            event.event_type(),
                            event.schema_version(),
                            event.canonical_payload(),
                        ));
                    }
                }
                Err(rejection) => {
                    // A bet its wallet cannot settle would stall the
                    // market; it is a bug, so say which and stop here.
                    return Err(ApiError::internal(std::io::Error::other(format!(
                        "bet {} of market {} cannot be settled on {stream}: {rejection}",
                        bet.bet_id, running.market
                    ))));
                }
            }
        }
        let bets_settled = running.bets_settled + settled;
        let command = MarketCommand::RecordProgress {
            settlement_id: running.settlement_id,
            through_version,
            bets_settled,
        };
        let id = format!("settle:{}:{through_version}", running.settlement_id);
        let progress = Some((through_version, bets_settled));
        self.build(
            running,
            command,
            decided.into_iter().collect(),
            id,
            progress,
        )
    }

    /// The market's command and the wallets' events as one group, built;
    /// `progress` is where the settlement stands after it, `None` when the
    /// group finishes it.
    fn build(
        &self,
        running: Running,
        command: MarketCommand,
        wallets: Vec<(StreamId, WalletWork)>,
        command_id: String,
        progress: Option<(i64, u64)>,
    ) -> Result<Decided, ApiError> {
        let Aggregate::Market(market_state) = &running.cached.state else {
            return Err(ApiError::internal(std::io::Error::other(format!(
                "{} is not a market's stream",
                running.stream
            ))));
        };
        let market_events = match ledger::sportsbook::market::decide_market(market_state, &command)
        {
            Ok(events) => events,
            Err(rejection) => {
                return Err(ApiError::internal(std::io::Error::other(format!(
                    "market {} refused its settlement's progress: {rejection}",
                    running.market
                ))))
            }
        };
        let mut market_after = running.cached.clone();
        if let Aggregate::Market(state) = &mut market_after.state {
            for event in &market_events {
                *state = std::mem::take(state).evolve(event);
            }
        }
        let outcome = serde_json::json!({ "settlement": running.settlement_id.to_string() });
        let command_append = |events: Vec<NewEvent>| CommandAppend {
            command_id: command_id.clone(),
            request_hash: Vec::new(),
            outcome: outcome.clone(),
            events,
        };
        let mut group = vec![StreamAppend {
            stream_id: running.stream.clone(),
            expected: running.cached.head,
            commands: vec![command_append(
                market_events
                    .iter()
                    .map(|e| {
                        NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload())
                    })
                    .collect(),
            )],
        }];
        let mut afters = HashMap::with_capacity(wallets.len() + 1);
        afters.insert(running.stream.clone(), market_after);
        for (stream, work) in wallets {
            if work.events.is_empty() {
                continue;
            }
            group.push(StreamAppend {
                stream_id: stream.clone(),
                expected: work.before,
                commands: vec![command_append(work.events)],
            });
            afters.insert(stream, work.after);
        }
        let batch = PgEventStore::prepare_groups(vec![group]).map_err(ApiError::internal)?;
        for (stream, head) in batch.heads() {
            if let Some(after) = afters.get_mut(stream) {
                after.head = head;
            }
        }
        let next = progress.map(|(through_version, bets_settled)| Running {
            cached: afters
                .get(&running.stream)
                .cloned()
                .unwrap_or_else(|| running.cached.clone()),
            through_version,
            bets_settled,
            ..running
        });
        Ok(Decided {
            batch,
            afters,
            next,
        })
    }

    /// Caches what a chunk left when it committed; when it did not (another
    /// writer moved one of its streams), forgets its streams so the next
    /// step reads them again, with a smaller chunk so a busy wallet stops
    /// only a few.
    async fn committed(&self, afters: HashMap<StreamId, Cached>, outcomes: &[Vec<AppendOutcome>]) {
        use std::sync::atomic::Ordering;
        if !committed(outcomes) {
            // Puts still running must not bring back what is forgotten.
            self.cached().await;
            for stream in afters.keys() {
                self.cache.forget(stream);
            }
            let chunk = self.chunk.load(Ordering::Relaxed);
            self.chunk.store((chunk / 2).max(1), Ordering::Relaxed);
            return;
        }
        let mut caching = self.caching.lock().unwrap_or_else(PoisonError::into_inner);
        let before = caching.take();
        let cache = Arc::clone(&self.cache);
        *caching = Some(tokio::spawn(async move {
            if let Some(before) = before {
                let _ = before.await;
            }
            let _ = tokio::task::spawn_blocking(move || {
                for (stream, after) in afters {
                    cache.put(stream, after);
                }
            })
            .await;
        }));
        drop(caching);
        self.chunk.store(
            self.config.chunk_bets_max.clamp(1, CHUNK_BETS_MAX),
            Ordering::Relaxed,
        );
    }

    /// Waits for the cache puts of the last committed chunk.
    async fn cached(&self) {
        self.cached_then(async {}).await;
    }

    /// Runs `next` alongside the cache puts of the last committed chunk,
    /// and returns once both are done: `next` must not read the cache (a
    /// query of the store may), and what follows may.
    async fn cached_then<T>(&self, next: impl std::future::Future<Output = T>) -> T {
        let caching = self
            .caching
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let (_, out) = tokio::join!(
            async {
                if let Some(caching) = caching {
                    // A put that failed leaves an entry stale, which only
                    // makes the next append conflict and read it again.
                    let _ = caching.await;
                }
            },
            next
        );
        out
    }
}

/// Whether the one group of a chunk committed.
fn committed(outcomes: &[Vec<AppendOutcome>]) -> bool {
    outcomes.first().is_some_and(|group| {
        group
            .iter()
            .all(|o| matches!(o, AppendOutcome::Committed { .. }))
    })
}
