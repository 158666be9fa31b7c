//! Aggregate states kept in memory, with the stream head they were built
//! from.
//!
//! The cache is a hint, never the truth: the writer decides against it and
//! the store's version check catches a stale entry (another node wrote);
//! readers catch up from the store before they answer.

use std::collections::HashMap;
use std::sync::Mutex;

use ledger::box_office::{Show, ShowEvent, ShowState};
use ledger::pool::{Pool, PoolEvent, PoolState};
use ledger::sportsbook::market::{Market, MarketEvent, MarketState};
use ledger::store::{PgEventStore, StreamEvent, StreamHead, READ_EVENTS_MAX};
use ledger::wallet::{Wallet, WalletEvent, WalletState};
use ledger::StreamId;

/// How `StreamId::market` names a market's stream.
const MARKET_STREAM_PREFIX: &str = "market-";
/// How `StreamId::show` names a show's stream.
const SHOW_STREAM_PREFIX: &str = "show-";
/// How `StreamId::pool` names a pool's stream.
const POOL_STREAM_PREFIX: &str = "pool-";

/// The state of one stream, of whichever aggregate the stream holds.
#[derive(Debug, Clone)]
pub enum Aggregate {
    Wallet(WalletState),
    Market(MarketState),
    Show(ShowState),
    Pool(PoolState),
}

impl Aggregate {
    /// The state of a stream with no events yet, by the stream's kind.
    pub fn empty(stream: &StreamId) -> Self {
        if stream.as_str().starts_with(MARKET_STREAM_PREFIX) {
            Self::Market(MarketState::default())
        } else if stream.as_str().starts_with(SHOW_STREAM_PREFIX) {
            Self::Show(ShowState::default())
        } else if stream.as_str().starts_with(POOL_STREAM_PREFIX) {
            Self::Pool(PoolState::default())
        } else {
            Self::Wallet(WalletState::default())
        }
    }

    /// Folds a stored event in, parsing its payload straight into the
    /// aggregate's event type.
    pub fn evolve_stored(self, stored: &StreamEvent) -> Result<Self, ledger::Error> {
        let (event_type, version, json) = (
            &stored.event_type,
            stored.schema_version,
            stored.payload.get(),
        );
        Ok(match self {
            Self::Wallet(state) => {
                Self::Wallet(state.evolve(&WalletEvent::from_json(event_type, version, json)?))
            }
            Self::Market(state) => {
                Self::Market(state.evolve(&MarketEvent::from_json(event_type, version, json)?))
            }
            Self::Show(state) => {
                Self::Show(state.evolve(&ShowEvent::from_json(event_type, version, json)?))
            }
            Self::Pool(state) => {
                Self::Pool(state.evolve(&PoolEvent::from_json(event_type, version, json)?))
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct Cached {
    pub state: Aggregate,
    pub head: StreamHead,
}

impl Cached {
    pub fn empty(stream: &StreamId) -> Self {
        Self {
            state: Aggregate::empty(stream),
            head: StreamHead::EMPTY,
        }
    }

    /// Folds one stored event in and moves the head to it.
    pub fn fold(&mut self, stored: &StreamEvent) -> Result<(), ledger::Error> {
        let state = std::mem::replace(&mut self.state, Aggregate::empty(&stored.stream_id));
        self.state = state.evolve_stored(stored)?;
        self.head = StreamHead {
            version: stored.stream_version,
            hash: stored.hash.as_slice().try_into().ok(),
        };
        Ok(())
    }

    /// The wallet, when the stream is an opened wallet.
    pub fn wallet(&self) -> Option<&Wallet> {
        match &self.state {
            Aggregate::Wallet(state) => state.wallet.as_ref(),
            Aggregate::Market(_) | Aggregate::Show(_) | Aggregate::Pool(_) => None,
        }
    }

    /// The market, when the stream is an opened market.
    pub fn market(&self) -> Option<&Market> {
        match &self.state {
            Aggregate::Market(state) => state.market.as_ref(),
            Aggregate::Wallet(_) | Aggregate::Show(_) | Aggregate::Pool(_) => None,
        }
    }

    /// The show, when the stream is a scheduled show.
    pub fn show(&self) -> Option<&Show> {
        match &self.state {
            Aggregate::Show(state) => state.show.as_ref(),
            Aggregate::Wallet(_) | Aggregate::Market(_) | Aggregate::Pool(_) => None,
        }
    }

    /// The pool, when the stream is a created pool.
    pub fn pool(&self) -> Option<&Pool> {
        match &self.state {
            Aggregate::Pool(state) => state.pool.as_ref(),
            Aggregate::Wallet(_) | Aggregate::Market(_) | Aggregate::Show(_) => None,
        }
    }
}

/// Cold streams one query of [`read_cold_many`] reads.
const COLD_STREAMS_AT_ONCE: usize = 500;
/// Such queries in flight at once.
const COLD_READS_IN_FLIGHT: usize = 2;

pub struct StateCache {
    entries: Mutex<HashMap<StreamId, Cached>>,
    streams_max: usize,
}

impl StateCache {
    pub fn new(streams_max: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            streams_max: streams_max.max(1),
        }
    }

    pub fn get(&self, stream: &StreamId) -> Option<Cached> {
        self.lock().get(stream).cloned()
    }

    /// Keeps `entry` unless the cache already holds a newer one.
    pub fn put(&self, stream: StreamId, entry: Cached) {
        let mut entries = self.lock();
        if entries
            .get(&stream)
            .is_some_and(|old| old.head.version > entry.head.version)
        {
            return;
        }
        if entries.len() >= self.streams_max && !entries.contains_key(&stream) {
            // Dropping a tenth at a time keeps eviction rare and O(1)
            // amortised; an evicted wallet is simply read again.
            let evict: Vec<StreamId> = entries
                .keys()
                .take(self.streams_max / 10 + 1)
                .cloned()
                .collect();
            for key in evict {
                entries.remove(&key);
            }
        }
        entries.insert(stream, entry);
    }

    /// Reads `streams` into the cache, a few hundred to a query, as a node
    /// that wrote them holds them; returns how many it holds now. A node
    /// warms itself so its first commands on those streams (a settlement
    /// after a restart, say) do not each wait on a cold read.
    pub async fn warm(
        &self,
        store: &PgEventStore,
        streams: Vec<StreamId>,
    ) -> Result<usize, ledger::Error> {
        let read = read_cold_many(store, &streams).await?;
        let warmed = read.len();
        for (stream, cached) in read {
            self.put(stream, cached);
        }
        Ok(warmed)
    }

    pub fn forget(&self, stream: &StreamId) {
        self.lock().remove(stream);
    }

    /// The cached state caught up with everything committed to the stream.
    pub async fn current(
        &self,
        store: &PgEventStore,
        stream: &StreamId,
    ) -> Result<Cached, ledger::Error> {
        let cached = self.get(stream).unwrap_or_else(|| Cached::empty(stream));
        let fresh = catch_up(store, stream, cached.clone()).await?;
        if fresh.head.version > cached.head.version {
            self.put(stream.clone(), fresh.clone());
        }
        Ok(fresh)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<StreamId, Cached>> {
        // A panic while holding the lock cannot leave a half-written entry
        // (inserts are single operations), so a poisoned map is still valid.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Folds the stream's events after `from.head` into `from`. A long stream
/// comes in pages; the next page is fetched while this one is folded, so
/// Postgres and the process work at once instead of taking turns.
pub async fn catch_up(
    store: &PgEventStore,
    stream: &StreamId,
    mut from: Cached,
) -> Result<Cached, ledger::Error> {
    let mut page = store
        .read_stream_events(stream, from.head.version, READ_EVENTS_MAX)
        .await?;
    loop {
        let next = match page.last() {
            Some(last) if page.len() as i64 == READ_EVENTS_MAX => {
                let (store, stream, after) = (store.clone(), stream.clone(), last.stream_version);
                Some(tokio::spawn(async move {
                    store
                        .read_stream_events(&stream, after, READ_EVENTS_MAX)
                        .await
                }))
            }
            _ => None,
        };
        for stored in &page {
            from.fold(stored)?;
        }
        let Some(next) = next else {
            return Ok(from);
        };
        // The task only fails to join if it panicked or the runtime is
        // shutting down: the read failed either way.
        page = next.await.map_err(|e| {
            ledger::Error::Database(sqlx::Error::Io(std::io::Error::other(format!(
                "reading {stream} stopped: {e}"
            ))))
        })??;
    }
}

/// The states of `streams`, none of them cached, read from the store in one
/// query; a stream the query may have cut short is read on from where it
/// stopped. Owned arguments, so a caller can run it as a task of its own.
async fn read_cold(
    store: PgEventStore,
    streams: Vec<StreamId>,
) -> Result<Vec<(StreamId, Cached)>, ledger::Error> {
    let after: Vec<(StreamId, i64)> = streams.iter().map(|s| (s.clone(), 0)).collect();
    let events = store.read_streams(&after, READ_EVENTS_MAX).await?;
    let cut_short = events.len() as i64 >= READ_EVENTS_MAX;
    let mut folded: HashMap<StreamId, Cached> = streams
        .iter()
        .map(|s| (s.clone(), Cached::empty(s)))
        .collect();
    for stored in &events {
        if let Some(cached) = folded.get_mut(&stored.stream_id) {
            cached.fold(stored)?;
        }
    }
    let mut read = Vec::with_capacity(streams.len());
    for stream in streams {
        let Some(mut cached) = folded.remove(&stream) else {
            continue;
        };
        if cut_short {
            cached = catch_up(&store, &stream, cached).await?;
        }
        read.push((stream, cached));
    }
    Ok(read)
}

/// [`read_cold`] over any number of streams: a few hundred to a query, two
/// queries in flight, so Postgres answers one while the other is folded.
pub async fn read_cold_many(
    store: &PgEventStore,
    streams: &[StreamId],
) -> Result<Vec<(StreamId, Cached)>, ledger::Error> {
    let mut read = Vec::with_capacity(streams.len());
    let mut parts = streams.chunks(COLD_STREAMS_AT_ONCE);
    let mut in_flight = std::collections::VecDeque::new();
    loop {
        while in_flight.len() < COLD_READS_IN_FLIGHT {
            let Some(part) = parts.next() else {
                break;
            };
            in_flight.push_back(tokio::spawn(read_cold(store.clone(), part.to_vec())));
        }
        let Some(next) = in_flight.pop_front() else {
            return Ok(read);
        };
        // The task only fails to join if it panicked or the runtime is
        // shutting down: the read failed either way.
        let part = next.await.map_err(|e| {
            ledger::Error::Database(sqlx::Error::Io(std::io::Error::other(format!(
                "a cold read stopped: {e}"
            ))))
        })??;
        read.extend(part);
    }
}
