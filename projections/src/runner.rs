//! The projection runner: moves one projection's checkpoint through the
//! event log, a bounded batch at a time.
//!
//! Each [`Runner::step`] is one Postgres transaction: lock the checkpoint,
//! read the next events after it (gap-safe, see `ledger::store`), apply
//! them, move the checkpoint, commit. The read models and the checkpoint
//! commit together, so every event takes effect exactly once however often
//! the runner crashes, is aborted or restarts.

use std::future::Future;
use std::time::{Duration, Instant};

use ledger::store::{EventStore, LogEvent, READ_EVENTS_MAX};
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Postgres, Row, Transaction};

use crate::{error_chain, Error};

/// The channel a checkpoint move is announced on; the payload is the new
/// position. Waiters must re-read the checkpoint: the channel is shared by
/// every projection, and a notification is a hint, never the truth.
pub const CHECKPOINTS_CHANNEL: &str = "betledger_checkpoints";

/// Longest poll interval accepted, in milliseconds.
pub const POLL_INTERVAL_MAX_MS: u64 = 60_000;

/// First delay after a failed step, in milliseconds; it doubles on each
/// failure in a row, up to `retry_backoff_max_ms`.
const RETRY_BACKOFF_FIRST_MS: u64 = 100;

/// First delay before reading again when a wake-up found no readable event.
const HINT_RETRY_FIRST_MS: u64 = 5;

/// After a step that applied fewer events than a whole batch, the runner
/// lets this long pass before it steps again, so that under a steady stream
/// of small appends each step takes several of them: a step has a fixed cost
/// of about six statements, paid by every projection. A sparse projection
/// waits `ProjectionsConfig::sparse_step_spacing_ms` instead.
const STEP_SPACING_MS: u64 = 2;

/// Most steps in a row before the runner takes in its queued wake-ups.
const ROUND_STEPS_MAX: usize = 64;

/// Most queued notifications taken in at one wake-up; more only cost one
/// more idle step each.
const WAKE_NOTIFICATIONS_MAX: usize = 10_000;

/// A read model kept up to date from the event log.
pub trait Projection: Send + Sync {
    /// The stable name of the projection: the key of its checkpoint.
    fn name(&self) -> &str;

    /// Every table `apply` writes, by the unqualified name its SQL uses. A
    /// rebuild (`crate::rebuild`) makes fresh copies of exactly these in a
    /// schema of its own, which it puts first on the search path, and swaps
    /// them in at the end: a table left out of this list would be written
    /// in place, live, by the rebuild.
    fn tables(&self) -> &'static [&'static str];

    /// Whether the projection's events are a small share of the log (a
    /// pool's, a show's), so that most of its steps under wallet traffic
    /// skip everything they read. Its runner spaces its steps by
    /// `ProjectionsConfig::sparse_step_spacing_ms`: fewer steps that each
    /// take more of the log, for a little more lag.
    fn sparse(&self) -> bool {
        false
    }

    /// Applies `events` inside the runner's transaction. The events are in
    /// position order and all after the checkpoint. Events the projection
    /// does not care about are skipped, not refused. Every row changed must
    /// remember the position of the event that changed it and refuse older
    /// ones, so a replay over applied events changes nothing.
    fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[LogEvent],
    ) -> impl Future<Output = Result<(), Error>> + Send;
}

/// The largest `batch_events_max` accepted: a batch lives in memory whole.
pub const BATCH_EVENTS_LIMIT: usize = 100_000;

/// Locks the projection's checkpoint for the step's transaction; `None`
/// when it has no row yet.
pub(crate) async fn lock_checkpoint(
    tx: &mut Transaction<'_, Postgres>,
    name: &str,
) -> Result<Option<i64>, Error> {
    let row = sqlx::query(include_str!("runner/checkpoint_lock.sql"))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Up to `batch_events_max` events after `after`, read page by page; a
/// short page means the readable end of the log.
pub(crate) async fn read_batch<S: EventStore>(
    store: &S,
    batch_events_max: usize,
    after: i64,
) -> Result<Vec<LogEvent>, Error> {
    let mut events: Vec<LogEvent> = Vec::new();
    let mut from = after;
    while events.len() < batch_events_max {
        let page_max = usize::try_from(READ_EVENTS_MAX).unwrap_or(usize::MAX);
        let wanted = (batch_events_max - events.len()).min(page_max);
        let page = store
            .read_log(from, i64::try_from(wanted).unwrap_or(READ_EVENTS_MAX))
            .await?;
        let short = page.len() < wanted;
        if let Some(last) = page.last() {
            from = last.global_position;
        }
        events.extend(page);
        if short {
            break;
        }
    }
    Ok(events)
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Passed `events` events (those the projection skips included); the
    /// checkpoint is now `position`.
    Worked { events: usize, position: i64 },
    /// No event after the checkpoint was ready.
    Idle,
}

/// How the projection runners work. A plain struct: the binary maps its own
/// (clap) configuration onto it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionsConfig {
    /// Most events applied in one transaction (1 to `BATCH_EVENTS_LIMIT`).
    /// Larger batches replay faster: an account touched many times in a
    /// batch is written once. The log is read in pages of at most
    /// `READ_EVENTS_MAX` to fill a batch.
    pub batch_events_max: usize,
    /// How long an idle runner waits for a NOTIFY before it reads the log
    /// anyway. NOTIFY is only a hint; this poll keeps the runner correct
    /// when a notification is lost.
    pub poll_interval_ms: u64,
    /// Longest delay between retries after failed steps.
    pub retry_backoff_max_ms: u64,
    /// How long a sparse projection's runner ([`Projection::sparse`]) lets
    /// pass after catching up before it steps again (0 to the poll
    /// interval). The dense ones (balances, statements) wait 2 ms.
    pub sparse_step_spacing_ms: u64,
}

impl Default for ProjectionsConfig {
    fn default() -> Self {
        Self {
            batch_events_max: 10_000,
            poll_interval_ms: 500,
            retry_backoff_max_ms: 10_000,
            sparse_step_spacing_ms: 10,
        }
    }
}

impl ProjectionsConfig {
    /// Refuses values outside the ranges the runner is built for.
    pub fn validate(&self) -> Result<(), Error> {
        if self.batch_events_max == 0 || self.batch_events_max > BATCH_EVENTS_LIMIT {
            return Err(Error::Config(format!(
                "batch_events_max is {}; it must be 1 to {BATCH_EVENTS_LIMIT}",
                self.batch_events_max
            )));
        }
        if self.poll_interval_ms == 0 || self.poll_interval_ms > POLL_INTERVAL_MAX_MS {
            return Err(Error::Config(format!(
                "poll_interval_ms is {}; it must be 1 to {POLL_INTERVAL_MAX_MS}",
                self.poll_interval_ms
            )));
        }
        if self.sparse_step_spacing_ms > self.poll_interval_ms {
            return Err(Error::Config(format!(
                "sparse_step_spacing_ms is {}; it must be 0 to the poll interval ({})",
                self.sparse_step_spacing_ms, self.poll_interval_ms
            )));
        }
        if self.retry_backoff_max_ms < RETRY_BACKOFF_FIRST_MS {
            return Err(Error::Config(format!(
                "retry_backoff_max_ms is {}; it must be at least {RETRY_BACKOFF_FIRST_MS}",
                self.retry_backoff_max_ms
            )));
        }
        Ok(())
    }
}

/// Where a runner writes its rows and its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// The live read model: the tables the session's search path finds,
    /// and the checkpoint named after the projection.
    Live,
    /// A rebuild's fresh copy: the same SQL, with `schema` (which holds a
    /// copy of each of the projection's tables) first on the search path,
    /// and a checkpoint of its own.
    Shadow { schema: String, checkpoint: String },
}

/// Runs one projection: reads events from `store` and writes read models
/// (and the checkpoint) through `pool`.
#[derive(Debug)]
pub struct Runner<S, P> {
    store: S,
    pool: PgPool,
    projection: P,
    config: ProjectionsConfig,
    target: Target,
    /// The next batch, being read while the current one is applied.
    prefetch: tokio::sync::Mutex<Option<Prefetch>>,
}

/// A batch read ahead, after `after`. Used only if the checkpoint is still
/// there when the next step locks it; otherwise dropped.
#[derive(Debug)]
struct Prefetch {
    after: i64,
    read: tokio::task::JoinHandle<Result<Vec<LogEvent>, Error>>,
}

impl<S: EventStore + Clone + 'static, P: Projection> Runner<S, P> {
    pub fn new(
        store: S,
        pool: PgPool,
        projection: P,
        config: ProjectionsConfig,
    ) -> Result<Self, Error> {
        Self::with_target(store, pool, projection, config, Target::Live)
    }

    pub(crate) fn with_target(
        store: S,
        pool: PgPool,
        projection: P,
        config: ProjectionsConfig,
        target: Target,
    ) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            store,
            pool,
            projection,
            config,
            target,
            prefetch: tokio::sync::Mutex::new(None),
        })
    }

    pub fn name(&self) -> &str {
        self.projection.name()
    }

    pub(crate) fn projection(&self) -> &P {
        &self.projection
    }

    pub(crate) fn config(&self) -> &ProjectionsConfig {
        &self.config
    }

    /// The pause after a step that caught up, before the next.
    fn step_spacing(&self) -> Duration {
        Duration::from_millis(if self.projection.sparse() {
            self.config.sparse_step_spacing_ms
        } else {
            STEP_SPACING_MS
        })
    }

    /// The key of the checkpoint this runner moves.
    pub(crate) fn checkpoint_name(&self) -> &str {
        match &self.target {
            Target::Live => self.projection.name(),
            Target::Shadow { checkpoint, .. } => checkpoint,
        }
    }

    /// Applies the next batch of events, if any, in one transaction.
    pub async fn step(&self) -> Result<Step, Error> {
        let mut tx = self.begin().await?;
        let step = self.step_in(&mut tx).await?;
        tx.commit().await?;
        Ok(step)
    }

    /// A transaction set up for steps of this runner: [`Self::step_in`] may
    /// run in it any number of times, with other work of the caller's.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>, Error> {
        let mut tx = self.pool.begin().await?;
        // A read model is derived: if the server crashes before this commit
        // reaches disk, the checkpoint goes back with the rows and the batch
        // is applied again from the durable log. So the step does not wait
        // for its own WAL flush, and leaves the flushes to the command
        // writer, whose acknowledgements depend on them (ADR 0003).
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        if let Target::Shadow { schema, .. } = &self.target {
            // The projection's SQL names its tables unqualified, so the
            // copies in `schema` are the ones it writes; everything else
            // (the checkpoints above all) is found where it always is.
            sqlx::query(include_str!("runner/search_path_first.sql"))
                .bind(schema)
                .execute(&mut *tx)
                .await?;
        }
        Ok(tx)
    }

    /// One step inside `tx` (from [`Self::begin`]): lock the checkpoint,
    /// apply the next batch, move the checkpoint. The caller commits.
    pub(crate) async fn step_in(&self, tx: &mut Transaction<'_, Postgres>) -> Result<Step, Error> {
        let name = self.checkpoint_name();
        let after = match lock_checkpoint(tx, name).await? {
            Some(after) => after,
            None => {
                // The projection's first step (or its row was removed by
                // hand): start before the first event.
                sqlx::query(include_str!("runner/checkpoint_create.sql"))
                    .bind(name)
                    .execute(&mut **tx)
                    .await?;
                lock_checkpoint(tx, name).await?.unwrap_or(0)
            }
        };
        let events = match self.take_prefetch(after).await {
            Some(events) => events?,
            None => read_batch(&self.store, self.config.batch_events_max, after).await?,
        };
        let Some(position) = events.last().map(|e| e.global_position) else {
            return Ok(Step::Idle);
        };
        check_order(after, &events)?;
        if events.len() == self.config.batch_events_max {
            // A full batch: the log likely goes on (a replay or a catch-up),
            // so read the next batch while this one is applied and committed.
            self.start_prefetch(position).await;
        }
        self.projection.apply(tx, &events).await?;
        let moved = sqlx::query(include_str!("runner/checkpoint_move.sql"))
            .bind(name)
            .bind(position)
            .fetch_optional(&mut **tx)
            .await?;
        if moved.is_none() {
            // We hold the row lock, so only a write outside the runners
            // (a manual reset, say) can get here.
            return Err(Error::CheckpointMoved {
                projection: name.to_owned(),
                position,
            });
        }
        Ok(Step::Worked {
            events: events.len(),
            position,
        })
    }

    async fn start_prefetch(&self, after: i64) {
        let store = self.store.clone();
        let batch_events_max = self.config.batch_events_max;
        let read = tokio::spawn(async move { read_batch(&store, batch_events_max, after).await });
        if let Some(stale) = self.prefetch.lock().await.replace(Prefetch { after, read }) {
            stale.read.abort();
        }
    }

    /// The prefetched batch, if it was read from where the checkpoint is.
    async fn take_prefetch(&self, after: i64) -> Option<Result<Vec<LogEvent>, Error>> {
        let prefetch = self.prefetch.lock().await.take()?;
        if prefetch.after != after {
            prefetch.read.abort();
            return None;
        }
        // A read that panicked or was cancelled is simply read again.
        prefetch.read.await.ok()
    }

    /// Steps until idle, then sleeps until new events are announced (or the
    /// poll interval passes), forever; returns when `shutdown` resolves. A
    /// failed step is logged with its whole error chain and retried after a
    /// bounded, growing delay. Stopping mid-step is safe: the step's
    /// transaction rolls back and the next runner redoes it.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::select! {
            () = shutdown => {}
            () = self.run_forever() => {}
        }
        tracing::info!(projection = self.name(), "projection runner stopped");
    }

    async fn run_forever(&self) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        let mut backoff = Backoff::new(self.config.retry_backoff_max_ms);
        let mut wake = Wake::default();
        // After a wake-up, the announced events may not be readable yet: the
        // gap-safe read holds back events newer than the oldest transaction
        // still running anywhere in the cluster. Until they show up, read
        // again after short, doubling delays instead of a whole poll interval.
        let mut hint_retry: Option<Duration> = None;
        loop {
            // Listen before stepping, so that an append made while the steps
            // run leaves a notification queued rather than lost.
            wake.ensure(&self.pool, self.name()).await;
            let timeout = match self.drain(&mut backoff).await {
                // More events wait: only take in the queued wake-ups (a
                // listener that is never read makes Postgres keep every
                // notification for it) and go on.
                Round::Busy => {
                    hint_retry = None;
                    Duration::ZERO
                }
                Round::Worked => {
                    // The log was read to its visible end: more is likely
                    // coming (or held back by the horizon). Look again
                    // shortly, sooner if an append is announced.
                    tokio::time::sleep(self.step_spacing()).await;
                    hint_retry = Some(Duration::from_millis(HINT_RETRY_FIRST_MS).min(poll));
                    Duration::from_millis(HINT_RETRY_FIRST_MS).min(poll)
                }
                Round::Idle => match hint_retry {
                    Some(delay) => {
                        hint_retry = Some(delay * 2).filter(|next| *next < poll);
                        delay
                    }
                    None => poll,
                },
            };
            let notified = wake.wait(timeout).await;
            if notified && hint_retry.is_none() {
                hint_retry = Some(Duration::from_millis(HINT_RETRY_FIRST_MS).min(poll));
            }
        }
    }

    /// Steps until the visible end of the log, at most `ROUND_STEPS_MAX`
    /// times, retrying failed steps after a growing delay.
    async fn drain(&self, backoff: &mut Backoff) -> Round {
        let mut worked = false;
        for _ in 0..ROUND_STEPS_MAX {
            match self.step().await {
                Ok(Step::Worked { events, position }) => {
                    backoff.reset();
                    worked = true;
                    tracing::debug!(projection = self.name(), events, position, "applied");
                    if events < self.config.batch_events_max {
                        // A partial batch reached the visible end of the log;
                        // one more step now would find nothing.
                        return Round::Worked;
                    }
                }
                Ok(Step::Idle) if worked => return Round::Worked,
                Ok(Step::Idle) => return Round::Idle,
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::error!(
                        projection = self.name(),
                        error = error_chain(&error),
                        retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "projection step failed; retrying"
                    );
                    tokio::time::sleep(delay).await;
                }
            }
        }
        Round::Busy
    }
}

/// How a round of steps ended.
enum Round {
    /// It reached its bound of steps; more events may wait.
    Busy,
    /// It applied events up to the visible end of the log.
    Worked,
    /// It found no event.
    Idle,
}

/// The events must follow the checkpoint in strictly increasing positions;
/// anything else would apply an event twice or skip one.
fn check_order(after: i64, events: &[LogEvent]) -> Result<(), Error> {
    let mut previous = after;
    for event in events {
        if event.global_position <= previous {
            return Err(Error::OutOfOrder {
                after: previous,
                got: event.global_position,
            });
        }
        previous = event.global_position;
    }
    Ok(())
}

/// The channel the event store's trigger notifies at each append
/// (`events_notify` in `0001_event_store.sql`).
const EVENTS_CHANNEL: &str = "betledger_events";

/// The idle runner's wake-up: a LISTEN on new events when it can have one,
/// else a plain sleep. Either way it wakes at least every poll interval.
///
/// It listens itself rather than through `EventStore::subscribe`, because
/// `ledger::store::Subscription::wait` drains queued notifications with
/// `PgListener::try_recv`, which blocks until the *next* notification: the
/// first wake-up would hang the runner until another append.
#[derive(Default)]
struct Wake {
    listener: Option<PgListener>,
    /// Whether the last attempt to listen failed, so that a broken LISTEN
    /// is logged once, not at every poll.
    failing: bool,
}

impl Wake {
    async fn ensure(&mut self, pool: &PgPool, projection: &str) {
        if self.listener.is_some() {
            return;
        }
        match listen(pool).await {
            Ok(listener) => {
                if self.failing {
                    tracing::info!(projection, "listening for new events again");
                }
                self.listener = Some(listener);
                self.failing = false;
            }
            Err(error) => {
                if !self.failing {
                    tracing::warn!(
                        projection,
                        error = error_chain(&error),
                        "cannot listen for new events; polling only"
                    );
                }
                self.failing = true;
            }
        }
    }

    /// Waits for a notification or `timeout`; returns whether notified.
    async fn wait(&mut self, timeout: Duration) -> bool {
        let started = Instant::now();
        let Some(listener) = self.listener.as_mut() else {
            tokio::time::sleep(timeout).await;
            return false;
        };
        match tokio::time::timeout(timeout, listener.recv()).await {
            Ok(Ok(_notification)) => {
                // One wake-up covers every append so far: take in the ones
                // already queued without waiting (a zero timeout still polls
                // `recv` once, and `recv` is cancel-safe).
                for _ in 0..WAKE_NOTIFICATIONS_MAX {
                    let queued = tokio::time::timeout(Duration::ZERO, listener.recv()).await;
                    if !matches!(queued, Ok(Ok(_))) {
                        break;
                    }
                }
                true
            }
            Err(_elapsed) => false,
            Ok(Err(error)) => {
                // The listener failed rather than timed out: drop it (the
                // next round listens again) and finish the interval, so a
                // broken connection cannot turn this into a busy loop.
                tracing::warn!(error = error_chain(&error), "lost the LISTEN connection");
                self.listener = None;
                tokio::time::sleep(timeout.saturating_sub(started.elapsed())).await;
                false
            }
        }
    }
}

async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(EVENTS_CHANNEL).await?;
    Ok(listener)
}

/// Delays between retries of failed steps: doubling, bounded.
struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    fn new(max_ms: u64) -> Self {
        Self {
            next: Duration::from_millis(RETRY_BACKOFF_FIRST_MS),
            max: Duration::from_millis(max_ms.max(RETRY_BACKOFF_FIRST_MS)),
        }
    }

    fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    fn reset(&mut self) {
        self.next = Duration::from_millis(RETRY_BACKOFF_FIRST_MS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound_and_resets() {
        let mut backoff = Backoff::new(500);
        let delays: Vec<u128> = (0..5).map(|_| backoff.next_delay().as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 500, 500]);
        backoff.reset();
        assert_eq!(backoff.next_delay().as_millis(), 100);
    }

    #[test]
    fn config_out_of_range_is_refused() {
        assert!(ProjectionsConfig::default().validate().is_ok());
        for bad in [
            ProjectionsConfig {
                batch_events_max: 0,
                ..Default::default()
            },
            ProjectionsConfig {
                batch_events_max: BATCH_EVENTS_LIMIT + 1,
                ..Default::default()
            },
            ProjectionsConfig {
                poll_interval_ms: 0,
                ..Default::default()
            },
            ProjectionsConfig {
                retry_backoff_max_ms: 1,
                ..Default::default()
            },
            ProjectionsConfig {
                poll_interval_ms: 100,
                sparse_step_spacing_ms: 101,
                ..Default::default()
            },
        ] {
            assert!(
                matches!(bad.validate(), Err(Error::Config(_))),
                "{bad:?} accepted"
            );
        }
    }
}
