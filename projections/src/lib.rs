//! Projections (DESIGN.md §5): workers that turn the event log into read
//! models, each with a checkpoint moved in the same transaction as its rows.
//!
//! - [`runner`]: the [`Projection`] trait and the [`Runner`] (step / run).
//! - [`accounts`]: balances and statements of every account, as two
//!   projections with checkpoints of their own.
//! - [`sportsbook`]: markets (odds, liability per outcome, settlement) and
//!   bets with their legs, as one projection.
//! - [`pools`]: parimutuel pools, their outcomes and entries.
//! - [`box_office`]: shows, their tiers (seats and the price in force),
//!   reservations and tickets.
//! - [`wait`]: read-your-writes, waiting for a checkpoint to reach a position.
//! - [`rebuild`]: a projection replayed from position 0 into fresh tables
//!   while the live ones serve, then swapped in.
//! - [`clickhouse`]: the analytics projection into ClickHouse (its own
//!   runner: insert first, then move the checkpoint) and the reports.
//!
//! The binary calls [`spawn`] with a [`ProjectionsConfig`].

pub mod accounts;
pub mod box_office;
pub mod clickhouse;
mod error;
pub mod pools;
pub mod rebuild;
pub mod runner;
pub mod sportsbook;
pub mod wait;

use std::future::Future;

use ledger::store::PgEventStore;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use accounts::{Balances, Statements};
pub use box_office::BoxOffice;
pub use error::Error;
pub use ledger::error_chain;
pub use pools::Pools;
pub use rebuild::{Rebuild, RebuildOptions};
pub use runner::{Projection, ProjectionsConfig, Runner, Step, CHECKPOINTS_CHANNEL};
pub use sportsbook::Sportsbook;
pub use wait::wait_for_position;

/// Runs every projection on `store` (whose pool also holds the read models)
/// until `shutdown` resolves.
///
/// Each projection keeps two pooled connections busy while it steps and one
/// more for its LISTEN, which the pool size must allow for. The handle
/// completes once every runner has stopped after `shutdown`, or early, after
/// logging it, if a runner panicked: the caller should treat an early end
/// as fatal.
pub fn spawn(
    store: PgEventStore,
    config: ProjectionsConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>, Error> {
    let pool = store.pool().clone();
    let balances = Runner::new(store.clone(), pool.clone(), Balances, config.clone())?;
    let statements = Runner::new(store.clone(), pool.clone(), Statements, config.clone())?;
    let sportsbook = Runner::new(store.clone(), pool.clone(), Sportsbook, config.clone())?;
    let pools = Runner::new(store.clone(), pool.clone(), Pools, config.clone())?;
    let box_office = Runner::new(store, pool, BoxOffice, config)?;

    let (stop, stopped) = watch::channel(false);
    let mut runners = JoinSet::new();
    let balances_stopped = stopped.clone();
    runners.spawn(async move {
        balances.run(signalled(balances_stopped)).await;
    });
    let statements_stopped = stopped.clone();
    runners.spawn(async move {
        statements.run(signalled(statements_stopped)).await;
    });
    let sportsbook_stopped = stopped.clone();
    runners.spawn(async move {
        sportsbook.run(signalled(sportsbook_stopped)).await;
    });
    let pools_stopped = stopped.clone();
    runners.spawn(async move {
        pools.run(signalled(pools_stopped)).await;
    });
    runners.spawn(async move {
        box_office.run(signalled(stopped)).await;
    });

    Ok(tokio::spawn(async move {
        tokio::select! {
            () = shutdown => {}
            Some(joined) = runners.join_next() => {
                if let Err(error) = joined {
                    tracing::error!(error = error_chain(&error), "projection runner ended");
                }
            }
        }
        // Every runner stops at its next await point; a step cut short rolls
        // back and is redone by the next start.
        let _ = stop.send(true);
        while let Some(joined) = runners.join_next().await {
            if let Err(error) = joined {
                tracing::error!(error = error_chain(&error), "projection runner ended");
            }
        }
    }))
}

/// Resolves when the flag turns true or its sender is gone.
async fn signalled(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
