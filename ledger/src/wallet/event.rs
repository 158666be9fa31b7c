//! The wallet's events: past-tense facts with stable type strings and a
//! schema version per type, kept apart from the Rust names. Each type is
//! written at its current version; older stored versions are upcast on the
//! way in (`upcast.rs`), never rewritten.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::upcast;
use crate::{AccountId, CreditLimit, Currency, Error, HoldId, PaymentRef, Phase, Transfer};

/// A player's wallet opened, in one currency and with a credit limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountOpened {
    pub account: AccountId,
    pub currency: Currency,
    pub credit_limit: CreditLimit,
}

/// A posted transfer in or out of a wallet (deposit or withdrawal).
/// Version 2 added `payment_ref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = payment_ref_is_required)]
pub struct FundsMoved {
    pub transfer: Transfer,
    /// The payment gateway's id of this movement, or null when the ledger has none.
    // The payment side reconciles the `cash` account by it. `None`: the
    // client sent none, or the event was stored at version 1, before the
    // ledger kept them (the upcaster says null; reconcile by transfer id).
    // Always written, null included: `deserialize_with` stops serde from
    // reading a missing key as `None`, so a version 1 payload that skipped
    // its upcaster is an error, not a silent version 2.
    #[serde(deserialize_with = "Option::deserialize")]
    #[schemars(with = "Option<PaymentRef>")]
    pub payment_ref: Option<PaymentRef>,
    /// The client's free text, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = super::DESCRIPTION_LEN_MAX))]
    pub description: Option<String>,
}

/// Lists `payment_ref` as required (present, possibly null), as the reader
/// has it; schemars leaves an `Option` out of `required`, and its own
/// `required` attribute would also forbid null.
fn payment_ref_is_required(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Array(required)) = schema.get_mut("required") {
        required.push("payment_ref".into());
    }
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

    /// Every wallet event type.
    pub const TYPES: [&'static str; 6] = [
        Self::ACCOUNT_OPENED,
        Self::FUNDS_DEPOSITED,
        Self::FUNDS_WITHDRAWN,
        Self::HOLD_PLACED,
        Self::HOLD_POSTED,
        Self::HOLD_VOIDED,
    ];

    /// The stable type string stored with the event.
    pub fn event_type(&self) -> &'static str {
        self.kind().event_type()
    }

    /// The schema version this event is written with: its type's current.
    pub fn schema_version(&self) -> i32 {
        self.kind().current_version()
    }

    /// The schema version this build writes for `event_type`, or `None` when
    /// it is not a wallet event type.
    pub fn current_version(event_type: &str) -> Option<i32> {
        Kind::of(event_type).map(Kind::current_version)
    }

    fn kind(&self) -> Kind {
        match self {
            Self::AccountOpened(_) => Kind::AccountOpened,
            Self::FundsDeposited(_) => Kind::FundsDeposited,
            Self::FundsWithdrawn(_) => Kind::FundsWithdrawn,
            Self::HoldPlaced(_) => Kind::HoldPlaced,
            Self::HoldPosted(_) => Kind::HoldPosted,
            Self::HoldVoided(_) => Kind::HoldVoided,
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

    /// Reads a stored event back, upcasting an older schema version to the
    /// current shape first. Only the decoded event changes: the stored
    /// payload, which the hash chain covers, is left as it is.
    pub fn from_stored(
        event_type: &str,
        schema_version: i32,
        payload: &serde_json::Value,
    ) -> Result<Self, Error> {
        let kind = Kind::of(event_type).ok_or_else(|| unknown(event_type, schema_version))?;
        if schema_version == kind.current_version() {
            return kind
                .parse(payload)
                .map_err(|source| decode_error(event_type, schema_version, source));
        }
        kind.parse_older(schema_version, payload.clone())
    }

    /// Reads an event from its payload's JSON text, without building a
    /// `serde_json::Value` first (the fast path of replays). An older
    /// version takes the slow path: it is upcast as a `Value`.
    pub fn from_json(event_type: &str, schema_version: i32, json: &str) -> Result<Self, Error> {
        let kind = Kind::of(event_type).ok_or_else(|| unknown(event_type, schema_version))?;
        let decode = |source| decode_error(event_type, schema_version, source);
        if schema_version != kind.current_version() {
            let payload = serde_json::from_str(json).map_err(decode)?;
            return kind.parse_older(schema_version, payload);
        }
        let mut deserializer = serde_json::Deserializer::from_str(json);
        kind.parse(&mut deserializer)
            .and_then(|event| deserializer.end().map(|()| event))
            .map_err(decode)
    }
}

/// Which event a stored type string names.
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
    fn of(event_type: &str) -> Option<Self> {
        Some(match event_type {
            WalletEvent::ACCOUNT_OPENED => Self::AccountOpened,
            WalletEvent::FUNDS_DEPOSITED => Self::FundsDeposited,
            WalletEvent::FUNDS_WITHDRAWN => Self::FundsWithdrawn,
            WalletEvent::HOLD_PLACED => Self::HoldPlaced,
            WalletEvent::HOLD_POSTED => Self::HoldPosted,
            WalletEvent::HOLD_VOIDED => Self::HoldVoided,
            _ => return None,
        })
    }

    fn event_type(self) -> &'static str {
        match self {
            Self::AccountOpened => WalletEvent::ACCOUNT_OPENED,
            Self::FundsDeposited => WalletEvent::FUNDS_DEPOSITED,
            Self::FundsWithdrawn => WalletEvent::FUNDS_WITHDRAWN,
            Self::HoldPlaced => WalletEvent::HOLD_PLACED,
            Self::HoldPosted => WalletEvent::HOLD_POSTED,
            Self::HoldVoided => WalletEvent::HOLD_VOIDED,
        }
    }

    /// The version this build writes. Raising one needs an upcaster from
    /// the version before (`upcast.rs`) and a new schema file; the old
    /// schema file stays.
    fn current_version(self) -> i32 {
        match self {
            Self::AccountOpened => 1,
            Self::FundsDeposited => 2,
            Self::FundsWithdrawn => 2,
            Self::HoldPlaced => 1,
            Self::HoldPosted => 1,
            Self::HoldVoided => 1,
        }
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

    /// Upcasts a payload stored at another version, then parses it.
    fn parse_older(
        self,
        schema_version: i32,
        payload: serde_json::Value,
    ) -> Result<WalletEvent, Error> {
        let event_type = self.event_type();
        let current =
            upcast::to_version(event_type, schema_version, self.current_version(), payload)?;
        self.parse(current)
            .map_err(|source| decode_error(event_type, schema_version, source))
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
