//! The wallet's events: past-tense facts with stable type strings and a
//! schema version kept apart from the Rust names.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{AccountId, CreditLimit, Currency, Error, HoldId, Phase, Transfer};

/// The schema version written for every wallet event today.
pub const SCHEMA_VERSION: i32 = 1;

/// A player's wallet opened, in one currency and with a credit limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountOpened {
    pub account: AccountId,
    pub currency: Currency,
    pub credit_limit: CreditLimit,
}

/// A posted transfer in or out of a wallet (deposit or withdrawal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FundsMoved {
    pub transfer: Transfer,
    /// The client's free text, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = super::DESCRIPTION_LEN_MAX))]
    pub description: Option<String>,
}

/// A hold placed, posted or voided. `hold_id` sits at the top of the payload
/// because the store indexes it to find a hold's account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldChanged {
    pub hold_id: HoldId,
    /// The pending transfer; its id is the hold's id.
    pub transfer: Transfer,
    /// The client's free text, when it gave one (only on `hold_placed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = super::DESCRIPTION_LEN_MAX))]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletEvent {
    AccountOpened(AccountOpened),
    FundsDeposited(FundsMoved),
    FundsWithdrawn(FundsMoved),
    HoldPlaced(HoldChanged),
    HoldPosted(HoldChanged),
    HoldVoided(HoldChanged),
}

impl WalletEvent {
    pub const ACCOUNT_OPENED: &'static str = "account_opened";
    pub const FUNDS_DEPOSITED: &'static str = "funds_deposited";
    pub const FUNDS_WITHDRAWN: &'static str = "funds_withdrawn";
    pub const HOLD_PLACED: &'static str = "hold_placed";
    pub const HOLD_POSTED: &'static str = "hold_posted";
    pub const HOLD_VOIDED: &'static str = "hold_voided";

    /// The stable type string stored with the event.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::AccountOpened(_) => Self::ACCOUNT_OPENED,
            Self::FundsDeposited(_) => Self::FUNDS_DEPOSITED,
            Self::FundsWithdrawn(_) => Self::FUNDS_WITHDRAWN,
            Self::HoldPlaced(_) => Self::HOLD_PLACED,
            Self::HoldPosted(_) => Self::HOLD_POSTED,
            Self::HoldVoided(_) => Self::HOLD_VOIDED,
        }
    }

    /// The transfer this event moves, and how.
    pub fn transfer(&self) -> Option<(&Transfer, Phase)> {
        match self {
            Self::AccountOpened(_) => None,
            Self::FundsDeposited(e) | Self::FundsWithdrawn(e) => Some((&e.transfer, Phase::Posted)),
            Self::HoldPlaced(e) => Some((&e.transfer, Phase::PendingPlaced)),
            Self::HoldPosted(e) => Some((&e.transfer, Phase::PendingPosted)),
            Self::HoldVoided(e) => Some((&e.transfer, Phase::PendingVoided)),
        }
    }

    pub fn payload(&self) -> serde_json::Value {
        let value = match self {
            Self::AccountOpened(e) => serde_json::to_value(e),
            Self::FundsDeposited(e) | Self::FundsWithdrawn(e) => serde_json::to_value(e),
            Self::HoldPlaced(e) | Self::HoldPosted(e) | Self::HoldVoided(e) => {
                serde_json::to_value(e)
            }
        };
        // These types hold only strings and integers, which always serialize.
        value.unwrap_or(serde_json::Value::Null)
    }

    /// Reads a stored event back. Older schema versions are upcast here when
    /// a version 2 of an event exists; stored bytes never change.
    pub fn from_stored(
        event_type: &str,
        schema_version: i32,
        payload: &serde_json::Value,
    ) -> Result<Self, Error> {
        let kind = Kind::of(event_type, schema_version)?;
        kind.parse(payload)
            .map_err(|source| decode_error(event_type, schema_version, source))
    }

    /// Reads an event from its payload's JSON text, without building a
    /// `serde_json::Value` first (the fast path of replays).
    pub fn from_json(event_type: &str, schema_version: i32, json: &str) -> Result<Self, Error> {
        let kind = Kind::of(event_type, schema_version)?;
        let mut deserializer = serde_json::Deserializer::from_str(json);
        kind.parse(&mut deserializer)
            .and_then(|event| deserializer.end().map(|()| event))
            .map_err(|source| decode_error(event_type, schema_version, source))
    }
}

/// Which event a stored type string and version name.
#[derive(Clone, Copy)]
enum Kind {
    AccountOpened,
    FundsDeposited,
    FundsWithdrawn,
    HoldPlaced,
    HoldPosted,
    HoldVoided,
}

impl Kind {
    fn of(event_type: &str, schema_version: i32) -> Result<Self, Error> {
        if schema_version != SCHEMA_VERSION {
            return Err(unknown(event_type, schema_version));
        }
        Ok(match event_type {
            WalletEvent::ACCOUNT_OPENED => Self::AccountOpened,
            WalletEvent::FUNDS_DEPOSITED => Self::FundsDeposited,
            WalletEvent::FUNDS_WITHDRAWN => Self::FundsWithdrawn,
            WalletEvent::HOLD_PLACED => Self::HoldPlaced,
            WalletEvent::HOLD_POSTED => Self::HoldPosted,
            WalletEvent::HOLD_VOIDED => Self::HoldVoided,
            _ => return Err(unknown(event_type, schema_version)),
        })
    }

    fn parse<'de, D: serde::Deserializer<'de>>(self, payload: D) -> Result<WalletEvent, D::Error> {
        Ok(match self {
            Self::AccountOpened => WalletEvent::AccountOpened(AccountOpened::deserialize(payload)?),
            Self::FundsDeposited => WalletEvent::FundsDeposited(FundsMoved::deserialize(payload)?),
            Self::FundsWithdrawn => WalletEvent::FundsWithdrawn(FundsMoved::deserialize(payload)?),
            Self::HoldPlaced => WalletEvent::HoldPlaced(HoldChanged::deserialize(payload)?),
            Self::HoldPosted => WalletEvent::HoldPosted(HoldChanged::deserialize(payload)?),
            Self::HoldVoided => WalletEvent::HoldVoided(HoldChanged::deserialize(payload)?),
        })
    }
}

fn decode_error(event_type: &str, schema_version: i32, source: serde_json::Error) -> Error {
    Error::Decode {
        event_type: event_type.to_owned(),
        schema_version,
        source,
    }
}

fn unknown(event_type: &str, schema_version: i32) -> Error {
    Error::UnknownEventType {
        event_type: event_type.to_owned(),
        schema_version,
    }
}
