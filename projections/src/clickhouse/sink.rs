//! The ClickHouse projection's runner. Each [`ClickHouseSink::step`] reads
//! the checkpoint, reads the next batch of events after it (gap-safe),
//! writes their facts to ClickHouse, and only then moves the checkpoint
//! with a compare-and-set. A crash or a failure between the insert and the
//! move sends the batch again: at-least-once, made exactly-once in effect
//! by the tables' keys and the reports' FINAL (docs/analytics.md).

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ledger::store::EventStore;
use sqlx::{PgPool, Row};

use super::{Analytics, Facts};
use crate::runner::{read_batch, Step, BATCH_EVENTS_LIMIT, POLL_INTERVAL_MAX_MS};
use crate::{error_chain, Error};

/// The sink's checkpoint key (in `projection_checkpoints`) and status key.
pub const SINK_NAME: &str = "clickhouse";

/// First delay after a failed step; it doubles up to the configured cap.
const RETRY_BACKOFF_FIRST_MS: u64 = 100;

/// How the sink works. `batch_events_max` is larger than the Postgres
/// projections' default: ClickHouse wants few, large inserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkConfig {
    /// Most events per step (1 to `BATCH_EVENTS_LIMIT`), so at most twice
    /// as many posting rows per insert.
    pub batch_events_max: usize,
    /// How long an idle sink waits before it reads the log again.
    pub poll_interval_ms: u64,
    /// Longest delay between retries after failed steps.
    pub retry_backoff_max_ms: u64,
}

impl Default for SinkConfig {
    fn default() -> Self {
        Self {
            batch_events_max: 50_000,
            poll_interval_ms: 500,
            retry_backoff_max_ms: 30_000,
        }
    }
}

impl SinkConfig {
    pub fn validate(&self) -> Result<(), Error> {
        if self.batch_events_max == 0 || self.batch_events_max > BATCH_EVENTS_LIMIT {
            return Err(Error::Config(format!(
                "clickhouse batch_events_max is {}; it must be 1 to {BATCH_EVENTS_LIMIT}",
                self.batch_events_max
            )));
        }
        if self.poll_interval_ms == 0 || self.poll_interval_ms > POLL_INTERVAL_MAX_MS {
            return Err(Error::Config(format!(
                "clickhouse poll_interval_ms is {}; it must be 1 to {POLL_INTERVAL_MAX_MS}",
                self.poll_interval_ms
            )));
        }
        if self.retry_backoff_max_ms < RETRY_BACKOFF_FIRST_MS {
            return Err(Error::Config(format!(
                "clickhouse retry_backoff_max_ms is {}; it must be at least {RETRY_BACKOFF_FIRST_MS}",
                self.retry_backoff_max_ms
            )));
        }
        Ok(())
    }
}

/// The sink's position, the log's head, and its last error if failing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsLag {
    pub position: i64,
    pub head: i64,
    pub last_error: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub failures: i64,
}

impl AnalyticsLag {
    /// Reads the sink's lag from Postgres (any process can).
    pub async fn read(pool: &PgPool) -> Result<Self, Error> {
        let row = sqlx::query(include_str!("sink/lag.sql"))
            .bind(SINK_NAME)
            .fetch_one(pool)
            .await?;
        Ok(Self {
            position: row.try_get("position")?,
            head: row.try_get("head")?,
            last_error: row.try_get("last_error")?,
            failing_since: row.try_get("failing_since")?,
            failures: row.try_get("failures")?,
        })
    }

    /// Positions of the log not yet in ClickHouse.
    pub fn behind(&self) -> i64 {
        self.head.saturating_sub(self.position).max(0)
    }
}

/// Moves the `clickhouse` checkpoint through the log.
#[derive(Debug)]
pub struct ClickHouseSink<S> {
    store: S,
    pool: PgPool,
    analytics: Analytics,
    config: SinkConfig,
}

impl<S: EventStore + Clone + 'static> ClickHouseSink<S> {
    /// `pool` holds the checkpoint and the status row (the read models'
    /// database).
    pub fn new(
        store: S,
        pool: PgPool,
        analytics: Analytics,
        config: SinkConfig,
    ) -> Result<Self, Error> {
        config.validate()?;
        Ok(Self {
            store,
            pool,
            analytics,
            config,
        })
    }

    pub fn analytics(&self) -> &Analytics {
        &self.analytics
    }

    /// Writes the next batch's facts, then moves the checkpoint past it.
    pub async fn step(&self) -> Result<Step, Error> {
        let after: i64 = sqlx::query_scalar(include_str!("sink/checkpoint_read.sql"))
            .bind(SINK_NAME)
            .fetch_one(&self.pool)
            .await?;
        let events = read_batch(&self.store, self.config.batch_events_max, after).await?;
        let Some(position) = events.last().map(|e| e.global_position) else {
            return Ok(Step::Idle);
        };
        let mut previous = after;
        for event in &events {
            if event.global_position <= previous {
                return Err(Error::OutOfOrder {
                    after: previous,
                    got: event.global_position,
                });
            }
            previous = event.global_position;
        }
        let facts = Facts::from_events(&events)?;
        self.analytics.insert(&facts).await?;
        let moved = sqlx::query(include_str!("sink/checkpoint_advance.sql"))
            .bind(SINK_NAME)
            .bind(after)
            .bind(position)
            .fetch_optional(&self.pool)
            .await?;
        if moved.is_none() {
            // Someone else moved it (a reset, another sink): their position
            // stands, and this batch's rows are repeats ClickHouse folds.
            tracing::info!(
                after,
                position,
                "clickhouse checkpoint moved by someone else; not recorded"
            );
        }
        Ok(Step::Worked {
            events: events.len(),
            position,
        })
    }

    /// Steps until the visible end of the log.
    pub async fn run_to_idle(&self) -> Result<(), Error> {
        while let Step::Worked { .. } = self.step().await? {}
        Ok(())
    }

    /// Sets the checkpoint (a reset to replay from `position`).
    pub async fn set_checkpoint(&self, position: i64) -> Result<(), Error> {
        set_checkpoint(&self.pool, position).await
    }

    /// Steps forever (until `shutdown`), sleeping the poll interval when
    /// idle. A failed step is recorded in `analytics_sink_status`, logged
    /// with its cause, and retried after a doubling delay capped at
    /// `retry_backoff_max_ms`; ClickHouse being down never stops the
    /// process, and nothing else waits for this sink.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::select! {
            () = shutdown => {}
            () = self.run_forever() => {}
        }
        tracing::info!(projection = SINK_NAME, "clickhouse sink stopped");
    }

    async fn run_forever(&self) {
        let poll = Duration::from_millis(self.config.poll_interval_ms);
        let cap = Duration::from_millis(self.config.retry_backoff_max_ms);
        let first = Duration::from_millis(RETRY_BACKOFF_FIRST_MS);
        let mut backoff = first;
        // True at start, so the first good step clears a failure recorded
        // by an earlier process.
        let mut failing = true;
        let mut failed_here = false;
        // The tables are created (again, harmlessly) before the first step:
        // ClickHouse may have been down, or new and empty, when the
        // process started.
        let mut migrated = false;
        loop {
            let attempt = async {
                if !migrated {
                    migrate(&self.pool, &self.analytics).await?;
                    migrated = true;
                }
                self.step().await
            };
            let delay = match attempt.await {
                Ok(step) => {
                    backoff = first;
                    if failing {
                        failing = false;
                        self.record_ok().await;
                        if failed_here {
                            failed_here = false;
                            tracing::info!(projection = SINK_NAME, "clickhouse sink recovered");
                        }
                    }
                    match step {
                        Step::Worked { events, .. } if events == self.config.batch_events_max => {
                            Duration::ZERO
                        }
                        Step::Worked { .. } => Duration::from_millis(20).min(poll),
                        Step::Idle => poll,
                    }
                }
                Err(error) => {
                    let chain = error_chain(&error);
                    tracing::error!(
                        projection = SINK_NAME,
                        error = chain,
                        retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                        "clickhouse sink step failed; retrying"
                    );
                    failing = true;
                    failed_here = true;
                    self.record_failure(&chain).await;
                    let delay = backoff;
                    backoff = (backoff * 2).min(cap);
                    delay
                }
            };
            tokio::time::sleep(delay).await;
        }
    }

    async fn record_failure(&self, error: &str) {
        let recorded = sqlx::query(include_str!("sink/status_failed.sql"))
            .bind(SINK_NAME)
            .bind(error)
            .execute(&self.pool)
            .await;
        if let Err(e) = recorded {
            tracing::warn!(
                error = error_chain(&e),
                "cannot record the clickhouse sink's failure"
            );
        }
    }

    async fn record_ok(&self) {
        let recorded = sqlx::query(include_str!("sink/status_ok.sql"))
            .bind(SINK_NAME)
            .execute(&self.pool)
            .await;
        if let Err(e) = recorded {
            tracing::warn!(
                error = error_chain(&e),
                "cannot clear the clickhouse sink's failure"
            );
        }
    }
}

/// Migrates ClickHouse ([`Analytics::migrate`]) for a deployment whose
/// sink keeps its checkpoint in `pool`. When `ticket_sales` is of the shape
/// from before the box office was mapped, the sink has passed box-office
/// events without writing their facts (and the tables for them may be
/// new), so its checkpoint is set to 0 first: the log is sent again, and
/// the facts already there fold with their repeats (docs/analytics.md).
/// The reset comes before the table is dropped, so that a failure between
/// the two repeats both on the next try rather than lose the replay.
pub async fn migrate(pool: &PgPool, analytics: &Analytics) -> Result<(), Error> {
    if analytics.ticket_sales_outdated().await? {
        tracing::warn!(
            projection = SINK_NAME,
            "ticket_sales is of the old shape: the clickhouse sink replays the log from position 0"
        );
        set_checkpoint(pool, 0).await?;
    }
    analytics.migrate().await
}

/// Sets the sink's checkpoint to `position` (0: replay everything).
pub async fn set_checkpoint(pool: &PgPool, position: i64) -> Result<(), Error> {
    if position < 0 {
        return Err(Error::Config(format!(
            "clickhouse checkpoint {position} is negative"
        )));
    }
    sqlx::query(include_str!("sink/checkpoint_set.sql"))
        .bind(SINK_NAME)
        .bind(position)
        .execute(pool)
        .await?;
    Ok(())
}
