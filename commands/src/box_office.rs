//! The box-office process, running in the command role beside the
//! settlement process: it expires reservations whose time is up and works
//! through cancelled shows. Each append is one group: the show's events
//! and the wallets' (ADR 0005), with the show's version checked, so a
//! confirmation racing an expiry has exactly one winner, and a crash
//! between chunks loses nothing and repeats nothing (the next step starts
//! from what the show's stream recorded).

mod expiry;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use ledger::box_office::{
    cancellation_chunk, decide_cancellation, Decision, ShowEvent, ShowState, ShowStatus,
};
use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StreamAppend,
};
use ledger::wallet::{decide as decide_wallet, WalletCommand, WalletEvent};
use ledger::{error_chain, AccountId, StreamId};
use sqlx::Row;
use tokio::sync::Notify;

use crate::batch_wallets::{self, WalletWork};
use crate::cache::{Aggregate, Cached, StateCache};
use crate::ApiError;

/// Largest page of live shows one search may return.
pub const LIVE_SHOWS_PAGE_MAX: usize = 10_000;
/// Largest batch: its wallets and the show stay well inside one append's
/// limits.
pub const BATCH_ITEMS_MAX: usize = 2_000;

/// The box-office process's settings.
#[derive(Debug, Clone)]
pub struct BoxOfficeConfig {
    /// Most reservations expired, or cancellation items (reservations
    /// released, tickets refunded), in one append: 1 to [`BATCH_ITEMS_MAX`].
    pub batch_items_max: usize,
    /// Longest sleep between looks when not woken and no expiry is due
    /// sooner.
    pub poll_interval_ms: u64,
    /// Live shows read in one search (1 to [`LIVE_SHOWS_PAGE_MAX`]); a step
    /// goes through every page, so this bounds memory, not coverage.
    pub live_shows_page: usize,
}

impl Default for BoxOfficeConfig {
    fn default() -> Self {
        Self {
            batch_items_max: 500,
            poll_interval_ms: 1_000,
            live_shows_page: 1_000,
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Expired some reservations, did a chunk of a cancellation, or went
    /// round a conflict.
    Worked,
    /// Nothing due.
    Idle,
}

/// Wakes the process when a show is cancelled (a hint: it also polls).
#[derive(Clone, Default)]
pub struct BoxOfficeHandle {
    notify: Arc<Notify>,
}

impl BoxOfficeHandle {
    pub fn wake(&self) {
        self.notify.notify_one();
    }
}

pub struct BoxOfficeProcess {
    store: PgEventStore,
    cache: Arc<StateCache>,
    config: BoxOfficeConfig,
    handle: BoxOfficeHandle,
}

impl BoxOfficeProcess {
    pub fn new(
        store: PgEventStore,
        cache: Arc<StateCache>,
        config: BoxOfficeConfig,
        handle: BoxOfficeHandle,
    ) -> Self {
        Self {
            store,
            cache,
            config,
            handle,
        }
    }

    fn batch_max(&self) -> usize {
        self.config.batch_items_max.clamp(1, BATCH_ITEMS_MAX)
    }

    /// Runs until the task is dropped: a step at a time while there is
    /// work, then sleeps until the next expiry, a wake-up or the poll
    /// interval, whichever is first.
    pub async fn run(self) {
        let poll = Duration::from_millis(self.config.poll_interval_ms.max(1));
        loop {
            let step = self.step().await;
            match step {
                Ok(Step::Worked) => continue,
                Ok(Step::Idle) => {}
                Err(err) => tracing::error!(error = %error_chain(&err), "box-office step failed"),
            }
            let wait = self.next_expiry_in().await.map_or(poll, |d| d.min(poll));
            let _ = tokio::time::timeout(wait, self.handle.notify.notified()).await;
        }
    }

    /// Does one batch of work on the first show that has some.
    pub async fn step(&self) -> Result<Step, ApiError> {
        let mut after: Option<StreamId> = None;
        loop {
            let page = self.live_shows(after.as_ref()).await?;
            let last_page = page.len() < self.page_size();
            for stream in &page {
                let cached = self
                    .cache
                    .current(&self.store, stream)
                    .await
                    .map_err(|_| ApiError::Unavailable)?;
                let Some(show) = cached.show() else {
                    continue;
                };
                if show.status == ShowStatus::Cancelling {
                    return self.cancel_chunk(stream.clone(), cached).await;
                }
                if let Some(step) = expiry::expire_due(self, stream, &cached).await? {
                    return Ok(step);
                }
            }
            match page.into_iter().last() {
                Some(last) if !last_page => after = Some(last),
                _ => return Ok(Step::Idle),
            }
        }
    }

    fn page_size(&self) -> usize {
        self.config.live_shows_page.clamp(1, LIVE_SHOWS_PAGE_MAX)
    }

    /// A page of live shows: the first ones after `after`, in stream order.
    async fn live_shows(&self, after: Option<&StreamId>) -> Result<Vec<StreamId>, ApiError> {
        let rows = sqlx::query(include_str!("box_office/live_shows.sql"))
            .bind(i64::try_from(self.page_size()).unwrap_or(i64::MAX))
            .bind(after.map_or("", |s| s.as_str()))
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| ApiError::internal(ledger::Error::from(e)))?;
        rows.iter()
            .map(|row| {
                row.try_get::<String, _>(0)
                    .map(StreamId::new)
                    .map_err(|e| ApiError::internal(ledger::Error::from(e)))
            })
            .collect()
    }

    /// How long until the soonest open reservation of a cached show expires.
    async fn next_expiry_in(&self) -> Option<Duration> {
        let now = Utc::now();
        let mut soonest: Option<Duration> = None;
        let mut after: Option<StreamId> = None;
        loop {
            let page = self.live_shows(after.as_ref()).await.ok()?;
            let last_page = page.len() < self.page_size();
            let in_page = page
                .iter()
                .filter_map(|s| self.cache.get(s))
                .filter_map(|c| c.show().and_then(|s| s.next_expiry()))
                .map(|at| (at - now).to_std().unwrap_or(Duration::ZERO))
                .min();
            soonest = soonest.into_iter().chain(in_page).min();
            match page.into_iter().last() {
                Some(last) if !last_page => after = Some(last),
                _ => return soonest,
            }
        }
    }

    async fn cancel_chunk(&self, stream: StreamId, cached: Cached) -> Result<Step, ApiError> {
        let Some(show) = cached.show() else {
            return Ok(Step::Idle);
        };
        let chunk = cancellation_chunk(show, self.batch_max());
        let Aggregate::Show(state) = &cached.state else {
            return Ok(Step::Idle);
        };
        let show_events = decide_cancellation(state, &chunk).map_err(|rejection| {
            ApiError::internal(std::io::Error::other(format!(
                "{stream} refused its cancellation's progress: {rejection}"
            )))
        })?;
        let commands = chunk.wallet_commands();
        let accounts: Vec<AccountId> = commands.iter().map(|(a, _)| a.clone()).collect();
        let mut wallets = self.wallets(&accounts).await?;
        for (account, command) in commands {
            let wallet_stream = StreamId::account(&account);
            let work = wallets
                .get_mut(&wallet_stream)
                .ok_or_else(|| ApiError::internal(std::io::Error::other("wallet not loaded")))?;
            let Aggregate::Wallet(wallet) = &mut work.after.state else {
                continue;
            };
            let events = decide_wallet(wallet, &WalletCommand::Seats(command)).map_err(|r| {
                // The show says the wallet holds this; a wallet that
                // disagrees is a bug, so stop and say which.
                ApiError::internal(std::io::Error::other(format!(
                    "{wallet_stream} refused the cancellation of {stream}: {r}"
                )))
            })?;
            push_wallet_events(work, &events);
        }
        let decision = Decision {
            wallet: Vec::new(),
            show: show_events,
        };
        let id = format!("show-cancel:{stream}:{}", cached.head.version);
        self.append(&stream, cached, &decision.show, wallets, id)
            .await
    }

    /// The wallets of `accounts`, nothing decided yet.
    async fn wallets(
        &self,
        accounts: &[AccountId],
    ) -> Result<HashMap<StreamId, WalletWork>, ApiError> {
        let streams = accounts.iter().map(StreamId::account);
        batch_wallets::wallets(&self.store, &self.cache, streams, &HashMap::new()).await
    }

    /// Appends the show's events and the wallets' as one group; a conflict
    /// (a customer's command, or another node, wrote one of them) drops the
    /// cached states so the next step decides again from the store.
    async fn append(
        &self,
        stream: &StreamId,
        cached: Cached,
        show_events: &[ShowEvent],
        wallets: HashMap<StreamId, WalletWork>,
        command_id: String,
    ) -> Result<Step, ApiError> {
        let mut show_after = cached.clone();
        if let Aggregate::Show(state) = &mut show_after.state {
            *state = show_events
                .iter()
                .fold(std::mem::take::<ShowState>(state), ShowState::evolve);
        }
        show_after.head.version += show_events.len() as i64;
        let command = |events: Vec<NewEvent>| CommandAppend {
            command_id: command_id.clone(),
            request_hash: Vec::new(),
            outcome: serde_json::json!({ "show": stream.as_str() }),
            events,
        };
        let mut group = vec![StreamAppend {
            stream_id: stream.clone(),
            expected: cached.head,
            commands: vec![command(
                show_events
                    .iter()
                    .map(|e| {
                        NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload())
                    })
                    .collect(),
            )],
        }];
        let mut afters = vec![(stream.clone(), show_after)];
        for (wallet_stream, work) in wallets {
            if work.events.is_empty() {
                continue;
            }
            group.push(StreamAppend {
                stream_id: wallet_stream.clone(),
                expected: work.before,
                commands: vec![command(work.events)],
            });
            afters.push((wallet_stream, work.after));
        }
        let outcomes = self
            .store
            .append_groups(vec![group])
            .await
            .map_err(|_| ApiError::Unavailable)?;
        let committed = outcomes.first().is_some_and(|group| {
            group
                .iter()
                .all(|o| matches!(o, AppendOutcome::Committed { .. }))
        });
        if !committed {
            for (s, _) in &afters {
                self.cache.forget(s);
            }
            return Ok(Step::Worked);
        }
        for ((s, mut after), outcome) in afters.into_iter().zip(&outcomes[0]) {
            if let AppendOutcome::Committed { head, .. } = outcome {
                after.head = *head;
                self.cache.put(s, after);
            }
        }
        Ok(Step::Worked)
    }
}

fn push_wallet_events(work: &mut WalletWork, events: &[WalletEvent]) {
    if let Aggregate::Wallet(state) = &mut work.after.state {
        for event in events {
            *state = std::mem::take(state).evolve(event);
            work.events.push(NewEvent::new(
                event.event_type(),
                event.schema_version(),
                event.canonical_payload(),
            ));
        }
    }
    work.after.head.version += events.len() as i64;
}
