//! The pools read models (migration `0008_pools.sql`), as one projection,
//! `pools`, with a checkpoint of its own:
//!
//! - `pools` and `pool_outcomes`, from the pool streams: status, pot,
//!   entries, the money on each outcome, and the payouts' progress, paid
//!   total and rake;
//! - `pool_entries`, from the pool streams' entries and the wallets'
//!   `pool_paid` / `pool_refunded`: each entry by account, and what it got.
//!
//! Pools change a row or two per event, so each event is one statement,
//! guarded by the row's position: an event at or before it was applied
//! already and changes nothing. The balances and statements follow the
//! money (entries, payouts, refunds, the rake) on their own, through
//! `WalletEvent::transfer()`.

use ledger::pool::PoolEvent;
use ledger::store::LogEvent;
use ledger::wallet::WalletEvent;
use sqlx::{Postgres, Transaction};

use crate::runner::Projection;
use crate::Error;

/// The checkpoint key of [`Pools`].
pub const POOLS: &str = "pools";

/// The wallets' pool event types this projection reads.
const WALLET_TYPES: [&str; 2] = [WalletEvent::POOL_PAID, WalletEvent::POOL_REFUNDED];

/// Keeps `pools`, `pool_outcomes` and `pool_entries`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pools;

impl Projection for Pools {
    fn name(&self) -> &str {
        POOLS
    }

    fn tables(&self) -> &'static [&'static str] {
        &["pools", "pool_outcomes", "pool_entries"]
    }

    /// Pools' events are a small share of the log.
    fn sparse(&self) -> bool {
        true
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[LogEvent],
    ) -> Result<(), Error> {
        for recorded in events {
            let event_type = recorded.event_type.as_str();
            let (json, version) = (recorded.payload.get(), recorded.schema_version);
            let failed = |source| Error::Event {
                position: recorded.global_position,
                event_type: recorded.event_type.clone(),
                source,
            };
            if PoolEvent::TYPES.contains(&event_type) {
                let event = PoolEvent::from_json(event_type, version, json).map_err(failed)?;
                apply_pool(tx, recorded, &event).await?;
            } else if WALLET_TYPES.contains(&event_type) {
                let event = WalletEvent::from_json(event_type, version, json).map_err(failed)?;
                apply_wallet(tx, recorded, &event).await?;
            }
        }
        Ok(())
    }
}

/// What a lifecycle event sets on the pool's row.
#[derive(Default)]
struct Status {
    status: &'static str,
    winners: Option<Vec<i16>>,
    entries_paid: Option<i64>,
    paid: Option<i64>,
    rake: Option<i64>,
}

async fn apply_pool(
    tx: &mut Transaction<'_, Postgres>,
    at: &LogEvent,
    event: &PoolEvent,
) -> Result<(), Error> {
    let (pool, status) = match event {
        PoolEvent::PoolCreated(e) => {
            sqlx::query(include_str!("pools/create_pool.sql"))
                .bind(e.pool.as_str())
                .bind(&e.name)
                .bind(e.currency.as_str())
                .bind(e.min_entry)
                .bind(i32::try_from(e.rake_bp).unwrap_or(i32::MAX))
                .bind(e.closes_at)
                .bind(at.stream_version)
                .bind(at.global_position)
                .bind(&e.outcomes)
                .execute(&mut **tx)
                .await?;
            return Ok(());
        }
        PoolEvent::EntryAccepted(e) => {
            sqlx::query(include_str!("pools/enter.sql"))
                .bind(e.entry_id.as_uuid())
                .bind(e.pool.as_str())
                .bind(e.account.as_str())
                .bind(i16::try_from(e.outcome).unwrap_or(i16::MAX))
                .bind(e.stake.get())
                .bind(at.recorded_at)
                .bind(at.global_position)
                .bind(at.stream_version)
                .execute(&mut **tx)
                .await?;
            return Ok(());
        }
        // The balances keep the rake's money; the row takes it at the finish.
        PoolEvent::RakeTaken(_) => return Ok(()),
        PoolEvent::PoolClosed(e) => (&e.pool, status("closed")),
        PoolEvent::PoolCancelled(e) => (&e.pool, status("cancelling")),
        PoolEvent::SettlementStarted(e) => (
            &e.pool,
            Status {
                winners: Some(
                    e.winners
                        .iter()
                        .map(|w| i16::try_from(*w).unwrap_or(i16::MAX))
                        .collect(),
                ),
                ..status("settling")
            },
        ),
        PoolEvent::PayoutsProgressed(e) => (
            &e.pool,
            Status {
                entries_paid: Some(i64::try_from(e.entries_done).unwrap_or(i64::MAX)),
                paid: Some(e.paid),
                ..status("progress")
            },
        ),
        PoolEvent::PayoutsFinished(e) => (
            &e.pool,
            Status {
                paid: Some(e.paid),
                rake: Some(e.rake),
                ..status("finished")
            },
        ),
    };
    sqlx::query(include_str!("pools/status.sql"))
        .bind(pool.as_str())
        .bind(status.status)
        .bind(status.winners)
        .bind(status.entries_paid)
        .bind(status.paid)
        .bind(status.rake)
        .bind(at.stream_version)
        .bind(at.global_position)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn status(status: &'static str) -> Status {
    Status {
        status,
        ..Status::default()
    }
}

async fn apply_wallet(
    tx: &mut Transaction<'_, Postgres>,
    at: &LogEvent,
    event: &WalletEvent,
) -> Result<(), Error> {
    let (e, status) = match event {
        WalletEvent::PoolPaid(e) => (e, "paid"),
        WalletEvent::PoolRefunded(e) => (e, "refunded"),
        _ => return Ok(()),
    };
    sqlx::query(include_str!("pools/paid.sql"))
        .bind(e.entry_id.as_uuid())
        .bind(status)
        .bind(e.transfer.amount.get())
        .bind(at.global_position)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
