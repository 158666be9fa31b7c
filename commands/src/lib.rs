//! The command API: wallet commands over HTTP + JSON, idempotency keys, the
//! batching writer that group-commits them, and the Rinha de Backend API on
//! the same ledger.

mod body;
mod cache;
mod config;
mod error;
mod render;
mod rinha;
mod wallets;
mod writer;

use std::sync::Arc;

use axum::Router;
use ledger::store::PgEventStore;

pub use cache::StateCache;
pub use config::CommandsConfig;
pub use error::ApiError;
pub use rinha::{seed_clients as seed_rinha_clients, RINHA_CLIENTS};
pub use writer::Writer;

/// What every handler shares: the store, the writer and the state cache.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: PgEventStore,
    pub(crate) writer: Writer,
    pub(crate) cache: Arc<StateCache>,
    pub(crate) config: CommandsConfig,
}

impl AppState {
    /// Starts the writer's shards on the current runtime.
    pub fn start(store: PgEventStore, config: CommandsConfig) -> Self {
        let cache = Arc::new(StateCache::new(config.cache_streams_max));
        let writer = Writer::start(store.clone(), cache.clone(), &config);
        Self {
            store,
            writer,
            cache,
            config,
        }
    }
}

/// The `/v1` command API.
pub fn router(state: AppState) -> Router {
    wallets::router(state)
}

/// The Rinha de Backend 2024/Q1 API (`/clientes/{id}/...`).
pub fn rinha_router(state: AppState) -> Router {
    rinha::router(state)
}
