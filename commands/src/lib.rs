//! The command API: wallet, market and bet commands over HTTP + JSON,
//! idempotency keys, the batching writer that group-commits them, the
//! settlement process, and the Rinha de Backend API on the same ledger.

mod batch_wallets;
mod bets;
mod body;
pub mod box_office;
mod cache;
mod config;
mod error;
mod markets;
pub mod pool_payouts;
mod pools;
mod render;
mod rinha;
pub mod settlement;
mod shows;
mod wallets;
mod writer;

use std::sync::Arc;

use axum::Router;
use ledger::store::PgEventStore;
use ledger::StreamId;

pub use box_office::{BoxOfficeConfig, BoxOfficeHandle, BoxOfficeProcess};
pub use cache::StateCache;
pub use config::CommandsConfig;
pub use error::ApiError;
pub use pool_payouts::{PoolPayer, PoolPayerHandle, PoolPayoutConfig, PoolStep};
pub use rinha::{seed_clients as seed_rinha_clients, RINHA_CLIENTS};
pub use settlement::{SettlementConfig, Settler, SettlerHandle};
pub use writer::Writer;

/// What every handler shares: the store, the writer and the state cache.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: PgEventStore,
    pub(crate) writer: Writer,
    pub(crate) cache: Arc<StateCache>,
    pub(crate) config: CommandsConfig,
    pub(crate) settler: SettlerHandle,
    pub(crate) box_office: BoxOfficeHandle,
    pub(crate) pool_payer: PoolPayerHandle,
}

impl AppState {
    /// Starts the writer's shards and the settlement process on the
    /// current runtime.
    pub fn start(store: PgEventStore, config: CommandsConfig) -> Self {
        let state = Self::start_writer(store, config);
        let settler = state.settler(state.config.settlement.clone());
        tokio::spawn(settler.run());
        let box_office = state.box_office(state.config.box_office.clone());
        tokio::spawn(box_office.run());
        tokio::spawn(state.pool_payer(PoolPayoutConfig::default()).run());
        state
    }

    /// Starts the writer only; the caller drives settlements with
    /// [`AppState::settler`] (tests stop one half-way, as a crash would).
    pub fn start_writer(store: PgEventStore, config: CommandsConfig) -> Self {
        let cache = Arc::new(StateCache::new(config.cache_streams_max));
        let writer = Writer::start(store.clone(), cache.clone(), &config);
        Self {
            store,
            writer,
            cache,
            config,
            settler: SettlerHandle::default(),
            box_office: BoxOfficeHandle::default(),
            pool_payer: PoolPayerHandle::default(),
        }
    }

    /// Reads `streams` into this node's state cache (see
    /// [`StateCache::warm`]); returns how many it holds.
    pub async fn warm_cache(&self, streams: Vec<StreamId>) -> Result<usize, ledger::Error> {
        self.cache.warm(&self.store, streams).await
    }

    /// A settlement process sharing this node's state cache, woken when a
    /// settlement starts here.
    pub fn settler(&self, config: SettlementConfig) -> Settler {
        Settler::new(
            self.store.clone(),
            self.cache.clone(),
            config,
            self.settler.clone(),
        )
    }

    /// The pools' process (closing at close time, paying out) sharing this
    /// node's state cache, woken when a pool is settled or cancelled here.
    pub fn pool_payer(&self, config: PoolPayoutConfig) -> PoolPayer {
        PoolPayer::new(
            self.store.clone(),
            self.cache.clone(),
            config,
            self.pool_payer.clone(),
        )
    }
}

impl AppState {
    /// A box-office process (expiries, cancellations) sharing this node's
    /// state cache, woken when a show is cancelled here.
    pub fn box_office(&self, config: BoxOfficeConfig) -> BoxOfficeProcess {
        BoxOfficeProcess::new(
            self.store.clone(),
            self.cache.clone(),
            config,
            self.box_office.clone(),
        )
    }
}

/// The `/v1` command API.
pub fn router(state: AppState) -> Router {
    markets::router(state.clone())
        .merge(bets::router(state.clone()))
        .merge(shows::router(state.clone()))
        .merge(pools::router(state.clone()))
        .merge(wallets::router(state))
}

/// The Rinha de Backend 2024/Q1 API (`/clientes/{id}/...`).
pub fn rinha_router(state: AppState) -> Router {
    rinha::router(state)
}
