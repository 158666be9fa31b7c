//! The JSON Schema of every market event type at the version this build
//! writes, generated from the payload types into `schemas/events/` beside
//! the wallet's (`ledger/tests/event_schemas.rs` keeps them fresh).

use schemars::JsonSchema;

use super::event::{
    BetAccepted, BetCashedOutOfMarket, MarketChanged, MarketEvent, MarketOpened, MarketSettled,
    OddsChanged, SettlementProgressed, SettlementStarted,
};
use crate::wallet::schemas::{event_schema, EventSchema};

/// The schema of every market event type at its current version.
pub fn all() -> Vec<EventSchema> {
    vec![
        schema::<MarketOpened>(
            MarketEvent::MARKET_OPENED,
            "A sportsbook market opened: its outcomes, pricing (prior, prior weight, margin), \
             liability limit per outcome, stake range and opening odds.",
        ),
        schema::<MarketChanged>(
            MarketEvent::MARKET_SUSPENDED,
            "A market suspended: no bets until it is resumed.",
        ),
        schema::<MarketChanged>(
            MarketEvent::MARKET_RESUMED,
            "A suspended market open for bets again.",
        ),
        schema::<MarketChanged>(
            MarketEvent::MARKET_CLOSED,
            "A market closed to bets, waiting for its result.",
        ),
        schema::<BetAccepted>(
            MarketEvent::BET_ACCEPTED,
            "A bet, or one leg of an accumulator, taken on an outcome at the market's current \
             odds. `stake` and `payout_if_wins` are the whole bet's; the market's liability for \
             the outcome grows by `payout_if_wins` (less the stake, for a single).",
        ),
        schema::<OddsChanged>(
            MarketEvent::ODDS_CHANGED,
            "The market's odds, moved by the money staked (docs/sportsbook.md).",
        ),
        schema::<SettlementStarted>(
            MarketEvent::SETTLEMENT_STARTED,
            "A settlement of the market began with this result; `replaces` is the settlement \
             it corrects, null for the first.",
        ),
        schema::<SettlementProgressed>(
            MarketEvent::SETTLEMENT_PROGRESSED,
            "A running settlement has settled every bet up to the market stream's \
             `through_version`: where it resumes after a crash.",
        ),
        schema::<MarketSettled>(
            MarketEvent::MARKET_SETTLED,
            "A settlement finished: every bet on the market is settled by it.",
        ),
        schema::<BetCashedOutOfMarket>(
            MarketEvent::BET_CASHED_OUT,
            "A bet on this market was cashed out: its liability is released (the money staked \
             still counts for the odds).",
        ),
    ]
}

fn schema<T: JsonSchema>(event_type: &'static str, description: &str) -> EventSchema {
    // Every name passed here is a market event type; were one not, its file
    // would be `.v0.json`, which the schema test refuses.
    let version = MarketEvent::current_version(event_type).unwrap_or(0);
    event_schema::<T>(event_type, version, description)
}
