//! The wallets a background process's batch touches (a settlement's chunk,
//! the box office's batch): where each stood, where the batch leaves it,
//! and the batch's events on it.

use std::collections::HashMap;

use ledger::store::{NewEvent, PgEventStore, StreamHead};
use ledger::StreamId;

use crate::cache::{read_cold_many, Cached, StateCache};
use crate::ApiError;

/// One wallet of a batch.
pub(crate) struct WalletWork {
    pub before: StreamHead,
    pub after: Cached,
    pub events: Vec<NewEvent>,
}

impl WalletWork {
    fn at(cached: Cached) -> Self {
        Self {
            before: cached.head,
            after: cached,
            events: Vec::new(),
        }
    }
}

/// The wallets on `streams`, nothing decided yet: as `known` has them (what
/// a batch in flight leaves), else as the cache has them, else read from
/// the store together, a few hundred to a query. A cached wallet is
/// trusted, as the writer trusts it: if another writer moved it, the
/// append conflicts and the next attempt reads it again.
pub(crate) async fn wallets(
    store: &PgEventStore,
    cache: &StateCache,
    streams: impl IntoIterator<Item = StreamId>,
    known: &HashMap<StreamId, Cached>,
) -> Result<HashMap<StreamId, WalletWork>, ApiError> {
    let mut wallets = HashMap::new();
    let mut missing = Vec::new();
    for stream in streams {
        if wallets.contains_key(&stream) {
            continue;
        }
        let cached = match known.get(&stream).cloned().or_else(|| cache.get(&stream)) {
            Some(cached) => cached,
            None => {
                missing.push(stream.clone());
                Cached::empty(&stream)
            }
        };
        wallets.insert(stream, WalletWork::at(cached));
    }
    for (stream, cached) in read_cold_many(store, &missing)
        .await
        .map_err(ApiError::from_store)?
    {
        if let Some(work) = wallets.get_mut(&stream) {
            *work = WalletWork::at(cached);
        }
    }
    Ok(wallets)
}
