//! A pool's events: past-tense facts with stable type strings and a schema
//! version per type (all at version 1 so far), kept apart from the Rust
//! names, as the markets' are.
//!
//! `pool_rake_taken` carries a transfer (escrow → `fees:rake`), so it is
//! also a wallet-family event (`WalletEvent::PoolRakeTaken`): the readers of
//! money (balances, statements, `verify`) decode transfers by type, not by
//! stream, and see the rake without knowing pools.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::store::Render;
use crate::{AccountId, Amount, Currency, Error, PoolEntryId, PoolId, Transfer};

/// A pool created by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolCreated {
    pub pool: PoolId,
    #[schemars(length(min = 1, max = super::NAME_LEN_MAX))]
    pub name: String,
    /// The outcomes' names; an entry names its outcome by index here.
    #[schemars(length(min = 2, max = super::OUTCOMES_MAX))]
    pub outcomes: Vec<String>,
    /// The smallest stake an entry may have, in minor units.
    #[schemars(range(min = 1))]
    pub min_entry: i64,
    /// The operator's take of the pot, in basis points (below 10,000).
    #[schemars(range(max = 9_999))]
    pub rake_bp: u32,
    /// When the pool stops taking entries (it closes by itself then).
    pub closes_at: DateTime<Utc>,
    pub currency: Currency,
}

/// An entry taken: its stake is in the pool's escrow (the wallet's
/// `pool_entered` moved it, in the same append).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolEntryAccepted {
    pub pool: PoolId,
    pub entry_id: PoolEntryId,
    pub account: AccountId,
    pub outcome: u16,
    pub stake: Amount,
}

/// A pool closed or cancelled: only its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolChanged {
    pub pool: PoolId,
}

/// The operator's result: these outcomes won (several: a dead heat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolSettlementStarted {
    pub pool: PoolId,
    #[schemars(length(min = 1))]
    pub winners: Vec<u16>,
}

/// How far the payouts (or refunds) got: the first `entries_done` entries,
/// in entry order, are paid, `paid` in all. A resumed run starts after them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolPayoutsProgressed {
    pub pool: PoolId,
    pub entries_done: u64,
    #[schemars(range(min = 0))]
    pub paid: i64,
}

/// The rake moved out of the escrow: `pool:{id}` → `fees:rake`, code `rake`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolRakeTaken {
    pub pool: PoolId,
    pub transfer: Transfer,
}

/// Every entry is paid or refunded: `paid` to the players, `rake` to the
/// operator, which sum to the pot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolPayoutsFinished {
    pub pool: PoolId,
    #[schemars(range(min = 0))]
    pub paid: i64,
    #[schemars(range(min = 0))]
    pub rake: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolEvent {
    PoolCreated(PoolCreated),
    EntryAccepted(PoolEntryAccepted),
    PoolClosed(PoolChanged),
    PoolCancelled(PoolChanged),
    SettlementStarted(PoolSettlementStarted),
    PayoutsProgressed(PoolPayoutsProgressed),
    RakeTaken(PoolRakeTaken),
    PayoutsFinished(PoolPayoutsFinished),
}

impl PoolEvent {
    pub const POOL_CREATED: &'static str = "pool_created";
    pub const ENTRY_ACCEPTED: &'static str = "pool_entry_accepted";
    pub const POOL_CLOSED: &'static str = "pool_closed";
    pub const POOL_CANCELLED: &'static str = "pool_cancelled";
    pub const SETTLEMENT_STARTED: &'static str = "pool_settlement_started";
    pub const PAYOUTS_PROGRESSED: &'static str = "pool_payouts_progressed";
    pub const RAKE_TAKEN: &'static str = "pool_rake_taken";
    pub const PAYOUTS_FINISHED: &'static str = "pool_payouts_finished";

    /// Every pool event type.
    pub const TYPES: [&'static str; 8] = [
        Self::POOL_CREATED,
        Self::ENTRY_ACCEPTED,
        Self::POOL_CLOSED,
        Self::POOL_CANCELLED,
        Self::SETTLEMENT_STARTED,
        Self::PAYOUTS_PROGRESSED,
        Self::RAKE_TAKEN,
        Self::PAYOUTS_FINISHED,
    ];

    pub fn event_type(&self) -> &'static str {
        match self {
            Self::PoolCreated(_) => Self::POOL_CREATED,
            Self::EntryAccepted(_) => Self::ENTRY_ACCEPTED,
            Self::PoolClosed(_) => Self::POOL_CLOSED,
            Self::PoolCancelled(_) => Self::POOL_CANCELLED,
            Self::SettlementStarted(_) => Self::SETTLEMENT_STARTED,
            Self::PayoutsProgressed(_) => Self::PAYOUTS_PROGRESSED,
            Self::RakeTaken(_) => Self::RAKE_TAKEN,
            Self::PayoutsFinished(_) => Self::PAYOUTS_FINISHED,
        }
    }

    pub fn schema_version(&self) -> i32 {
        CURRENT_VERSION
    }

    /// The schema version this build writes for `event_type`, or `None` when
    /// it is not a pool event type.
    pub fn current_version(event_type: &str) -> Option<i32> {
        Self::TYPES.contains(&event_type).then_some(CURRENT_VERSION)
    }

    crate::store::payload_renderings!();

    fn render<R: Render>(&self) -> R::Out {
        match self {
            Self::PoolCreated(e) => R::render(e),
            Self::EntryAccepted(e) => R::render(e),
            Self::PoolClosed(e) | Self::PoolCancelled(e) => R::render(e),
            Self::SettlementStarted(e) => R::render(e),
            Self::PayoutsProgressed(e) => R::render(e),
            Self::RakeTaken(e) => R::render(e),
            Self::PayoutsFinished(e) => R::render(e),
        }
    }

    /// Reads a stored event back. Every pool type is at version 1, so there
    /// is nothing to upcast yet; a newer version is an error.
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

const CURRENT_VERSION: i32 = 1;

fn check_version(event_type: &str, schema_version: i32) -> Result<(), Error> {
    match PoolEvent::current_version(event_type) {
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
) -> Result<PoolEvent, D::Error> {
    Ok(match event_type {
        PoolEvent::POOL_CREATED => PoolEvent::PoolCreated(PoolCreated::deserialize(payload)?),
        PoolEvent::ENTRY_ACCEPTED => {
            PoolEvent::EntryAccepted(PoolEntryAccepted::deserialize(payload)?)
        }
        PoolEvent::POOL_CLOSED => PoolEvent::PoolClosed(PoolChanged::deserialize(payload)?),
        PoolEvent::POOL_CANCELLED => PoolEvent::PoolCancelled(PoolChanged::deserialize(payload)?),
        PoolEvent::SETTLEMENT_STARTED => {
            PoolEvent::SettlementStarted(PoolSettlementStarted::deserialize(payload)?)
        }
        PoolEvent::PAYOUTS_PROGRESSED => {
            PoolEvent::PayoutsProgressed(PoolPayoutsProgressed::deserialize(payload)?)
        }
        PoolEvent::RAKE_TAKEN => PoolEvent::RakeTaken(PoolRakeTaken::deserialize(payload)?),
        PoolEvent::PAYOUTS_FINISHED => {
            PoolEvent::PayoutsFinished(PoolPayoutsFinished::deserialize(payload)?)
        }
        other => {
            return Err(serde::de::Error::custom(format!(
                "{other} is not a pool event type"
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
