//! The query side (DESIGN.md §6): GraphQL over the Postgres read models.
//!
//! - [`accounts`]: `account` (with its statement and bets) and
//!   `accounts`, Relay cursor connections, with `atLeast` for
//!   read-your-writes.
//! - [`sportsbook`]: `market` and `markets` (outcomes, odds, liability,
//!   result, settlement progress), and the bets of `Account.bets`.
//! - [`pools`]: `pool` and `pools` (pot, stake and payout per unit of each
//!   outcome), and the entries of `Account.poolEntries`.
//! - [`box_office`]: `show` and `shows` (each tier's seats and price in
//!   force), and the tickets of `Account.tickets`.
//! - [`reports`]: the analysts' reports over ClickHouse and the
//!   ClickHouse projection's lag.
//! - [`http`]: the axum router serving `POST /graphql` and GraphiQL.
//! - [`QueryError`]: every error a client can see, with its stable code.
//!
//! The binary calls [`router`] with a [`QueriesConfig`]; `betledger schema`
//! writes [`sdl`] to `schemas/graphql/schema.graphql`.

pub mod accounts;
pub mod box_office;
mod error;
pub mod http;
pub mod pools;
pub mod reports;
pub mod sportsbook;

use std::time::Duration;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema, SchemaBuilder};
use sqlx::PgPool;

pub use accounts::AccountsQuery;
pub use box_office::BoxOfficeQuery;
pub use error::QueryError;
pub use http::router;
pub use pools::PoolsQuery;
pub use reports::ReportsQuery;
pub use sportsbook::SportsbookQuery;

/// The query root: the accounts' fields, the sportsbook's, the pools', the
/// box office's and the reports'.
#[derive(Default, MergedObject)]
pub struct Query(
    AccountsQuery,
    SportsbookQuery,
    PoolsQuery,
    BoxOfficeQuery,
    ReportsQuery,
);

/// The GraphQL schema served by [`router`].
pub type QuerySchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// How the query side works. A plain struct: the binary maps its own
/// (clap) configuration onto it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueriesConfig {
    /// Longest wait for `atLeast` before failing with `projection_behind`
    /// (cut to `projections::wait::WAIT_TIMEOUT_MAX_MS`).
    pub at_least_timeout_ms: u64,
    /// Deepest nesting of fields a query may have.
    pub query_depth_max: usize,
    /// Most a query may cost: each field costs 1, a page costs its `first`
    /// times what each item costs.
    pub query_complexity_max: usize,
    /// Largest request body accepted; larger ones get 413.
    pub request_bytes_max: usize,
    /// The ClickHouse database the reports read; without it, `reports`
    /// fails with `analytics_unavailable`.
    pub analytics: Option<projections::clickhouse::ClickHouseConfig>,
}

impl Default for QueriesConfig {
    fn default() -> Self {
        Self {
            at_least_timeout_ms: 2_000,
            query_depth_max: 12,
            // A full statement page of every field (about 1 100), with
            // room for the account's own fields; not a page of pages.
            query_complexity_max: 2_000,
            request_bytes_max: 64 * 1024,
            analytics: None,
        }
    }
}

/// The schema, reading from `pool`.
pub fn schema(pool: PgPool, config: QueriesConfig) -> QuerySchema {
    let read_models = accounts::ReadModels {
        pool,
        at_least_timeout: Duration::from_millis(config.at_least_timeout_ms),
    };
    let analytics = match &config.analytics {
        Some(analytics) => projections::clickhouse::Analytics::new(analytics)
            .map_err(|e| projections::error_chain(&e)),
        None => Err("ClickHouse is not configured (CLICKHOUSE_URL)".to_owned()),
    };
    builder(&config)
        .data(read_models)
        .data(reports::ReportsSource(analytics))
        .finish()
}

/// The schema's SDL, as committed in `schemas/graphql/schema.graphql`.
/// Needs no database.
pub fn sdl() -> String {
    builder(&QueriesConfig::default()).finish().sdl()
}

fn builder(config: &QueriesConfig) -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .limit_depth(config.query_depth_max)
        .limit_complexity(config.query_complexity_max)
}
