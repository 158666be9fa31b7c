//! A market's events: past-tense facts with stable type strings and a
//! schema version per type (all at version 1 so far), kept apart from the
//! Rust names, as the wallet's are.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::MarketResult;
use crate::sportsbook::odds::Odds;
use crate::store::Render;
use crate::{AccountId, Amount, BetId, Currency, Error, MarketId, SettlementId};

/// A market opened by the operator, with its pricing, limits and the
/// opening odds (the pricing with no money staked yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketOpened {
    pub market: MarketId,
    /// The event's name, e.g. "Arsenal v Chelsea".
    #[schemars(length(min = 1, max = super::NAME_LEN_MAX))]
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub currency: Currency,
    /// The outcomes' names; a bet names its outcome by index in this list.
    #[schemars(length(min = 2, max = 64))]
    pub outcomes: Vec<String>,
    /// The operator's probability of each outcome, in basis points.
    pub prior_bp: Vec<u64>,
    /// How much money (minor units) the prior weighs as if it were staked.
    pub prior_weight: u64,
    /// The book's margin over a fair book, in basis points.
    pub margin_bp: u64,
    /// The most the house may lose on any one outcome, in minor units.
    #[schemars(range(min = 0))]
    pub liability_limit: i64,
    #[schemars(range(min = 1))]
    pub stake_min: i64,
    #[schemars(range(min = 1))]
    pub stake_max: i64,
    pub odds: Vec<Odds>,
}

/// A market suspended, resumed or closed: only its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketChanged {
    pub market: MarketId,
}

/// A bet (or one leg of an accumulator) taken on this market.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetAccepted {
    pub market: MarketId,
    pub bet_id: BetId,
    pub account: AccountId,
    pub outcome: u16,
    /// The whole bet's stake.
    pub stake: Amount,
    /// This leg's odds, the market's current odds when the bet was taken.
    pub odds: Odds,
    /// The whole bet's potential payout: what the house pays if every leg wins.
    pub payout_if_wins: i64,
    /// How many legs the bet has (1: a single).
    #[schemars(range(min = 1, max = 10))]
    pub legs: u8,
}

/// The market's odds moved with the money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OddsChanged {
    pub market: MarketId,
    pub odds: Vec<Odds>,
}

/// A settlement began: its result is now the market's, and its bets are
/// settled in batches. `replaces` is the settlement it corrects, or null
/// for the first one (always written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = replaces_is_required)]
pub struct SettlementStarted {
    pub market: MarketId,
    pub settlement_id: SettlementId,
    pub result: MarketResult,
    // `deserialize_with` stops serde from reading a missing key as `None`:
    // the lineage is always stated, null included.
    #[serde(deserialize_with = "Option::deserialize")]
    pub replaces: Option<SettlementId>,
}

/// Lists `replaces` as required (present, possibly null), as the reader has it.
pub(crate) fn replaces_is_required(schema: &mut schemars::Schema) {
    require(schema, "replaces");
}

/// Adds `field` to a schema's `required` list: schemars leaves an `Option`
/// out of it, and its own `required` attribute would also forbid null.
pub(crate) fn require(schema: &mut schemars::Schema, field: &str) {
    if let Some(serde_json::Value::Array(required)) = schema.get_mut("required") {
        required.push(field.into());
    }
}

/// How far a settlement got: every bet placed on the market up to the
/// market stream's `through_version` is settled, `bets_settled` in all. A
/// settlement resumed after a crash starts after it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SettlementProgressed {
    pub market: MarketId,
    pub settlement_id: SettlementId,
    pub through_version: i64,
    pub bets_settled: u64,
}

/// A settlement finished: every bet on the market is settled by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketSettled {
    pub market: MarketId,
    pub settlement_id: SettlementId,
    pub bets_settled: u64,
}

/// A bet on this market was cashed out: its liability no longer counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetCashedOutOfMarket {
    pub market: MarketId,
    pub bet_id: BetId,
    pub outcome: u16,
    pub stake: Amount,
    pub payout_if_wins: i64,
    #[schemars(range(min = 1, max = 10))]
    pub legs: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketEvent {
    MarketOpened(MarketOpened),
    MarketSuspended(MarketChanged),
    MarketResumed(MarketChanged),
    MarketClosed(MarketChanged),
    BetAccepted(BetAccepted),
    OddsChanged(OddsChanged),
    SettlementStarted(SettlementStarted),
    SettlementProgressed(SettlementProgressed),
    MarketSettled(MarketSettled),
    BetCashedOut(BetCashedOutOfMarket),
}

impl MarketEvent {
    pub const MARKET_OPENED: &'static str = "market_opened";
    pub const MARKET_SUSPENDED: &'static str = "market_suspended";
    pub const MARKET_RESUMED: &'static str = "market_resumed";
    pub const MARKET_CLOSED: &'static str = "market_closed";
    pub const BET_ACCEPTED: &'static str = "bet_accepted";
    pub const ODDS_CHANGED: &'static str = "odds_changed";
    pub const SETTLEMENT_STARTED: &'static str = "settlement_started";
    pub const SETTLEMENT_PROGRESSED: &'static str = "settlement_progressed";
    pub const MARKET_SETTLED: &'static str = "market_settled";
    /// Not `bet_cashed_out`: that type string is the wallet's (the hold
    /// posted), and one type string must name one payload shape in the log.
    pub const BET_CASHED_OUT: &'static str = "market_bet_cashed_out";

    /// Every market event type.
    pub const TYPES: [&'static str; 10] = [
        Self::MARKET_OPENED,
        Self::MARKET_SUSPENDED,
        Self::MARKET_RESUMED,
        Self::MARKET_CLOSED,
        Self::BET_ACCEPTED,
        Self::ODDS_CHANGED,
        Self::SETTLEMENT_STARTED,
        Self::SETTLEMENT_PROGRESSED,
        Self::MARKET_SETTLED,
        Self::BET_CASHED_OUT,
    ];

    /// The stable type string stored with the event.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::MarketOpened(_) => Self::MARKET_OPENED,
            Self::MarketSuspended(_) => Self::MARKET_SUSPENDED,
            Self::MarketResumed(_) => Self::MARKET_RESUMED,
            Self::MarketClosed(_) => Self::MARKET_CLOSED,
            Self::BetAccepted(_) => Self::BET_ACCEPTED,
            Self::OddsChanged(_) => Self::ODDS_CHANGED,
            Self::SettlementStarted(_) => Self::SETTLEMENT_STARTED,
            Self::SettlementProgressed(_) => Self::SETTLEMENT_PROGRESSED,
            Self::MarketSettled(_) => Self::MARKET_SETTLED,
            Self::BetCashedOut(_) => Self::BET_CASHED_OUT,
        }
    }

    /// The schema version this event is written with: its type's current.
    pub fn schema_version(&self) -> i32 {
        CURRENT_VERSION
    }

    /// The schema version this build writes for `event_type`, or `None` when
    /// it is not a market event type.
    pub fn current_version(event_type: &str) -> Option<i32> {
        Self::TYPES.contains(&event_type).then_some(CURRENT_VERSION)
    }

    crate::store::payload_renderings!();

    fn render<R: Render>(&self) -> R::Out {
        match self {
            Self::MarketOpened(e) => R::render(e),
            Self::MarketSuspended(e) | Self::MarketResumed(e) | Self::MarketClosed(e) => {
                R::render(e)
            }
            Self::BetAccepted(e) => R::render(e),
            Self::OddsChanged(e) => R::render(e),
            Self::SettlementStarted(e) => R::render(e),
            Self::SettlementProgressed(e) => R::render(e),
            Self::MarketSettled(e) => R::render(e),
            Self::BetCashedOut(e) => R::render(e),
        }
    }

    /// Reads a stored event back. Every market type is at version 1, so
    /// there is nothing to upcast yet; a newer version is an error.
    pub fn from_stored(
        event_type: &str,
        schema_version: i32,
        payload: &serde_json::Value,
    ) -> Result<Self, Error> {
        check_version(event_type, schema_version)?;
        parse(event_type, payload)
            .map_err(|source| decode_error(event_type, schema_version, source))
    }

    /// Reads an event from its payload's JSON text.
    pub fn from_json(event_type: &str, schema_version: i32, json: &str) -> Result<Self, Error> {
        check_version(event_type, schema_version)?;
        let mut deserializer = serde_json::Deserializer::from_str(json);
        parse(event_type, &mut deserializer)
            .and_then(|event| deserializer.end().map(|()| event))
            .map_err(|source| decode_error(event_type, schema_version, source))
    }
}

/// The version every market event type is written at.
const CURRENT_VERSION: i32 = 1;

fn check_version(event_type: &str, schema_version: i32) -> Result<(), Error> {
    match MarketEvent::current_version(event_type) {
        Some(current) if schema_version > current => Err(Error::FutureSchemaVersion {
            event_type: event_type.to_owned(),
            schema_version,
            current,
        }),
        Some(current) if schema_version == current => Ok(()),
        _ => Err(Error::UnknownEventType {
            event_type: event_type.to_owned(),
            schema_version,
        }),
    }
}

fn parse<'de, D: serde::Deserializer<'de>>(
    event_type: &str,
    payload: D,
) -> Result<MarketEvent, D::Error> {
    Ok(match event_type {
        MarketEvent::MARKET_OPENED => {
            MarketEvent::MarketOpened(MarketOpened::deserialize(payload)?)
        }
        MarketEvent::MARKET_SUSPENDED => {
            MarketEvent::MarketSuspended(MarketChanged::deserialize(payload)?)
        }
        MarketEvent::MARKET_RESUMED => {
            MarketEvent::MarketResumed(MarketChanged::deserialize(payload)?)
        }
        MarketEvent::MARKET_CLOSED => {
            MarketEvent::MarketClosed(MarketChanged::deserialize(payload)?)
        }
        MarketEvent::BET_ACCEPTED => MarketEvent::BetAccepted(BetAccepted::deserialize(payload)?),
        MarketEvent::ODDS_CHANGED => MarketEvent::OddsChanged(OddsChanged::deserialize(payload)?),
        MarketEvent::SETTLEMENT_STARTED => {
            MarketEvent::SettlementStarted(SettlementStarted::deserialize(payload)?)
        }
        MarketEvent::SETTLEMENT_PROGRESSED => {
            MarketEvent::SettlementProgressed(SettlementProgressed::deserialize(payload)?)
        }
        MarketEvent::MARKET_SETTLED => {
            MarketEvent::MarketSettled(MarketSettled::deserialize(payload)?)
        }
        MarketEvent::BET_CASHED_OUT => {
            MarketEvent::BetCashedOut(BetCashedOutOfMarket::deserialize(payload)?)
        }
        // `check_version` lets only market types through; this is a guard.
        other => {
            return Err(serde::de::Error::custom(format!(
                "{other} is not a market event type"
            )))
        }
    })
}

fn decode_error(event_type: &str, schema_version: i32, source: serde_json::Error) -> Error {
    Error::Decode {
        event_type: event_type.to_owned(),
        schema_version,
        source,
    }
}
