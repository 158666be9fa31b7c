//! The sportsbook read models (migration `0006_sportsbook_read_models.sql`),
//! as one projection, `sportsbook`, with a checkpoint of its own:
//!
//! - `markets` and `market_outcomes` ([`markets`]), from the market
//!   streams: status, result and settlement progress, and per outcome the
//!   odds, the money on it and the house's liability, kept current as bets
//!   are accepted and cashed out;
//! - `bets` and `bet_legs` ([`bets`]), from the wallets' bet events: what
//!   each bet is on, its status as it settles, and what it returned.
//!
//! A step loads the rows its batch touches, changes them in memory event
//! by event (pure, and where the arithmetic is checked), and writes back
//! the changed ones with one `unnest` upsert per table. Unlike the
//! balances, a market's or a bet's row is not a sum that any batch can add
//! to: the whole row follows from its events in order, so it is computed
//! whole. Events at or before a row's position were applied already and
//! change nothing, which makes a replay harmless.
//!
//! The balances and statements follow the bets' money on their own,
//! through `WalletEvent::transfer()`; this projection never moves money.

mod bets;
mod markets;

use chrono::{DateTime, Utc};
use ledger::sportsbook::market::MarketEvent;
use ledger::store::LogEvent;
use ledger::wallet::WalletEvent;
use sqlx::{Postgres, Transaction};

use crate::runner::Projection;
use crate::Error;
pub(crate) use bets::Bets;
pub(crate) use markets::Markets;

/// The checkpoint key of [`Sportsbook`].
pub const SPORTSBOOK: &str = "sportsbook";

/// The wallet's bet event types: the ones this projection decodes from the
/// wallets' streams. Any other wallet event is skipped undecoded.
const BET_EVENT_TYPES: [&str; 8] = [
    WalletEvent::BET_PLACED,
    WalletEvent::BET_LEG_SETTLED,
    WalletEvent::BET_SETTLED,
    WalletEvent::BET_VOIDED,
    WalletEvent::BET_PAID,
    WalletEvent::BET_PAYOUT_REVERSED,
    WalletEvent::CASH_OUT_OFFERED,
    WalletEvent::BET_CASHED_OUT,
];

/// Keeps `markets`, `market_outcomes`, `bets` and `bet_legs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sportsbook;

impl Projection for Sportsbook {
    fn name(&self) -> &str {
        SPORTSBOOK
    }

    fn tables(&self) -> &'static [&'static str] {
        &["markets", "market_outcomes", "bets", "bet_legs"]
    }

    /// Wallet traffic without bets passes it by; in a storm of bets its
    /// steps take more each, which is cheaper per bet.
    fn sparse(&self) -> bool {
        true
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[LogEvent],
    ) -> Result<(), Error> {
        let events = decode_all(events)?;
        if events.is_empty() {
            return Ok(());
        }
        let (market_ids, bet_ids) = touched(&events);
        let mut markets = Markets::load(tx, &market_ids).await?;
        let mut bets = Bets::load(tx, &bet_ids).await?;
        apply_all(&mut markets, &mut bets, &events)?;
        markets.write(tx).await?;
        bets.write(tx).await
    }
}

/// Where an event is in the log, and when it was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At {
    pub position: i64,
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
}

/// An event this projection reads, decoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decoded {
    Market(MarketEvent),
    Wallet(WalletEvent),
}

/// The market and bet events among `events`, with where each is; every
/// other event is skipped.
pub(crate) fn decode_all(events: &[LogEvent]) -> Result<Vec<(At, Decoded)>, Error> {
    let mut decoded = Vec::new();
    for recorded in events {
        let event_type = recorded.event_type.as_str();
        let json = recorded.payload.get();
        let version = recorded.schema_version;
        let event = if MarketEvent::TYPES.contains(&event_type) {
            MarketEvent::from_json(event_type, version, json).map(Decoded::Market)
        } else if BET_EVENT_TYPES.contains(&event_type) {
            WalletEvent::from_json(event_type, version, json).map(Decoded::Wallet)
        } else {
            continue;
        };
        let event = event.map_err(|source| Error::Event {
            position: recorded.global_position,
            event_type: recorded.event_type.clone(),
            source,
        })?;
        let at = At {
            position: recorded.global_position,
            version: recorded.stream_version,
            recorded_at: recorded.recorded_at,
        };
        decoded.push((at, event));
    }
    Ok(decoded)
}

/// The markets and bets a batch changes, each once, in a stable order.
fn touched(events: &[(At, Decoded)]) -> (Vec<String>, Vec<uuid::Uuid>) {
    let mut markets = std::collections::BTreeSet::new();
    let mut bets = std::collections::BTreeSet::new();
    for (_, event) in events {
        match event {
            Decoded::Market(e) => {
                markets.insert(markets::market_id(e).to_owned());
            }
            Decoded::Wallet(e) => {
                if let Some(bet_id) = bets::bet_id(e) {
                    bets.insert(bet_id);
                }
            }
        }
    }
    (markets.into_iter().collect(), bets.into_iter().collect())
}

/// Applies the batch, in log order, to the rows loaded for it.
pub(crate) fn apply_all(
    markets: &mut Markets,
    bets: &mut Bets,
    events: &[(At, Decoded)],
) -> Result<(), Error> {
    for (at, event) in events {
        match event {
            Decoded::Market(e) => markets.apply(*at, e)?,
            Decoded::Wallet(e) => bets.apply(*at, e)?,
        }
    }
    Ok(())
}

fn invariant(problem: String) -> Error {
    Error::Invariant(problem)
}

/// A checked sum's result, or the invariant it breaks: the domain keeps
/// every sum within `i64`, so an overflow here means a log it never wrote.
fn checked(sum: Option<i64>, at: At, what: &str) -> Result<i64, Error> {
    sum.ok_or_else(|| {
        invariant(format!(
            "{what} leaves its range at position {}",
            at.position
        ))
    })
}

#[cfg(test)]
mod tests;
