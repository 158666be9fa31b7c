//! The wallet's events: past-tense facts with stable type strings and a
//! schema version per type, kept apart from the Rust names. Each type is
//! written at its current version; older stored versions are upcast on the
//! way in (`upcast.rs`), never rewritten.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use chrono::{DateTime, Utc};

use super::seats::{SeatsHeld, SeatsPurchased, SeatsReleased, TicketRefunded};
use super::upcast;
use crate::pool::PoolRakeTaken;
use crate::sportsbook::market::event_require as require;
use crate::sportsbook::odds::Odds;
use crate::sportsbook::settle::LegResult;
use crate::store::Render;
use crate::{
    AccountId, Amount, BetId, CreditLimit, Currency, Error, HoldId, MarketId, OfferId, PaymentRef,
    Phase, PoolEntryId, PoolId, SettlementId, Transfer,
};

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

/// One leg of a bet as placed: the market, the outcome backed, and the
/// odds the bet took (the market's current odds at placement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetLegPlaced {
    pub market: MarketId,
    pub outcome: u16,
    pub odds: Odds,
}

/// A sportsbook bet placed: its stake held (pending, wallet → `house`,
/// code `stake`; the transfer's id is the bet's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetPlaced {
    pub bet_id: BetId,
    pub transfer: Transfer,
    #[schemars(length(min = 1, max = 10))]
    pub legs: Vec<BetLegPlaced>,
    /// The legs' odds combined (a single's are its leg's).
    pub odds: Odds,
    /// What the house pays if every leg wins.
    pub payout_if_wins: i64,
}

/// One leg of a bet settled without completing the bet, or re-settled
/// (`replaces`: the settlement whose result it corrects; always written,
/// null for a first settlement).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = replaces_is_required)]
pub struct BetLegSettled {
    pub bet_id: BetId,
    pub market: MarketId,
    pub settlement_id: SettlementId,
    #[serde(deserialize_with = "Option::deserialize")]
    pub replaces: Option<SettlementId>,
    pub result: LegResult,
}

fn replaces_is_required(schema: &mut schemars::Schema) {
    require(schema, "replaces");
}

/// A bet settled by its last leg (`result` is that leg's), not every leg
/// void: the stake's hold is posted to the house, and `returned` is what
/// the player gets back in total, paid in the same event (`payout`) when
/// above 0. Version 2 added `payout`: at version 1 a `bet_paid` followed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = payout_is_required)]
pub struct BetSettled {
    pub bet_id: BetId,
    pub market: MarketId,
    pub settlement_id: SettlementId,
    pub result: LegResult,
    /// The stake's hold, posted.
    pub transfer: Transfer,
    #[schemars(range(min = 0))]
    pub returned: i64,
    /// `returned` paid: `house` → wallet, code `payout`; null when the bet
    /// returned nothing, or when it was stored at version 1 (a `bet_paid`
    /// followed). One event rather than two is a quarter fewer rows for a
    /// settlement to write.
    // Always written, null included, as `BetPaid::settlement_id`.
    #[serde(deserialize_with = "Option::deserialize")]
    pub payout: Option<Transfer>,
}

fn payout_is_required(schema: &mut schemars::Schema) {
    require(schema, "payout");
}

/// A bet settled with every leg void: the hold is voided, the stake never
/// moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetVoided {
    pub bet_id: BetId,
    pub market: MarketId,
    pub settlement_id: SettlementId,
    pub result: LegResult,
    pub transfer: Transfer,
}

/// Money paid to the player for a bet: `house` → wallet, code `payout`
/// (under `settlement_id`) or `cash_out` (`settlement_id` null; always
/// written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = settlement_id_is_required)]
pub struct BetPaid {
    pub bet_id: BetId,
    #[serde(deserialize_with = "Option::deserialize")]
    pub settlement_id: Option<SettlementId>,
    pub transfer: Transfer,
}

fn settlement_id_is_required(schema: &mut schemars::Schema) {
    require(schema, "settlement_id");
}

/// What a bet returned under `settlement_id`, taken back because
/// `replaced_by` corrected it: wallet → `house`, code `payout_reversal`.
/// No limit applies: the player was paid money that was not theirs, and the
/// wallet may go below its credit limit; the operator collects it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetPayoutReversed {
    pub bet_id: BetId,
    pub settlement_id: SettlementId,
    pub replaced_by: SettlementId,
    pub transfer: Transfer,
}

/// The house offers to buy an open bet back for `amount` until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CashOutOffered {
    pub bet_id: BetId,
    pub offer_id: OfferId,
    pub amount: Amount,
    pub expires_at: DateTime<Utc>,
}

/// The player accepted a cash-out offer: the stake's hold is posted to the
/// house, and the `bet_paid` that follows pays `amount` (code `cash_out`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BetCashedOut {
    pub bet_id: BetId,
    pub offer_id: OfferId,
    pub transfer: Transfer,
    pub amount: Amount,
}

/// An entry in a parimutuel pool: its stake moved into the pool's escrow
/// (posted, wallet → `pool:{id}`, code `pool_entry`; the transfer's id is
/// the entry's). Held there until the pool is settled or cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolEntered {
    pub pool: PoolId,
    pub entry_id: PoolEntryId,
    pub outcome: u16,
    pub transfer: Transfer,
}

/// Money out of a pool's escrow for one entry: its share of the pot
/// (`pool_paid`, code `pool_payout`) or its stake back (`pool_refunded`,
/// code `pool_refund`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolEntryPaid {
    pub pool: PoolId,
    pub entry_id: PoolEntryId,
    pub transfer: Transfer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletEvent {
    AccountOpened(AccountOpened),
    FundsDeposited(FundsMoved),
    FundsWithdrawn(FundsMoved),
    HoldPlaced(HoldChanged),
    HoldPosted(HoldChanged),
    HoldVoided(HoldChanged),
    BetPlaced(BetPlaced),
    BetLegSettled(BetLegSettled),
    BetSettled(BetSettled),
    BetVoided(BetVoided),
    BetPaid(BetPaid),
    BetPayoutReversed(BetPayoutReversed),
    CashOutOffered(CashOutOffered),
    BetCashedOut(BetCashedOut),
    SeatsHeld(SeatsHeld),
    SeatsPurchased(SeatsPurchased),
    SeatsReleased(SeatsReleased),
    TicketRefunded(TicketRefunded),
    PoolEntered(PoolEntered),
    PoolPaid(PoolEntryPaid),
    PoolRefunded(PoolEntryPaid),
    /// Written on the pool's stream, not a wallet's: a transfer between two
    /// system accounts, decoded here so that every reader of money sees it.
    PoolRakeTaken(PoolRakeTaken),
}

impl WalletEvent {
    pub const ACCOUNT_OPENED: &'static str = "account_opened";
    pub const FUNDS_DEPOSITED: &'static str = "funds_deposited";
    pub const FUNDS_WITHDRAWN: &'static str = "funds_withdrawn";
    pub const HOLD_PLACED: &'static str = "hold_placed";
    pub const HOLD_POSTED: &'static str = "hold_posted";
    pub const HOLD_VOIDED: &'static str = "hold_voided";
    pub const BET_PLACED: &'static str = "bet_placed";
    pub const BET_LEG_SETTLED: &'static str = "bet_leg_settled";
    pub const BET_SETTLED: &'static str = "bet_settled";
    pub const BET_VOIDED: &'static str = "bet_voided";
    pub const BET_PAID: &'static str = "bet_paid";
    pub const BET_PAYOUT_REVERSED: &'static str = "bet_payout_reversed";
    pub const CASH_OUT_OFFERED: &'static str = "cash_out_offered";
    pub const BET_CASHED_OUT: &'static str = "bet_cashed_out";
    pub const SEATS_HELD: &'static str = "seats_held";
    pub const SEATS_PURCHASED: &'static str = "seats_purchased";
    pub const SEATS_RELEASED: &'static str = "seats_released";
    pub const TICKET_REFUNDED: &'static str = "ticket_refunded";
    pub const POOL_ENTERED: &'static str = "pool_entered";
    pub const POOL_PAID: &'static str = "pool_paid";
    pub const POOL_REFUNDED: &'static str = "pool_refunded";
    pub const POOL_RAKE_TAKEN: &'static str = crate::pool::PoolEvent::RAKE_TAKEN;

    /// Every wallet event type.
    pub const TYPES: [&'static str; 22] = [
        Self::ACCOUNT_OPENED,
        Self::FUNDS_DEPOSITED,
        Self::FUNDS_WITHDRAWN,
        Self::HOLD_PLACED,
        Self::HOLD_POSTED,
        Self::HOLD_VOIDED,
        Self::BET_PLACED,
        Self::BET_LEG_SETTLED,
        Self::BET_SETTLED,
        Self::BET_VOIDED,
        Self::BET_PAID,
        Self::BET_PAYOUT_REVERSED,
        Self::CASH_OUT_OFFERED,
        Self::BET_CASHED_OUT,
        Self::SEATS_HELD,
        Self::SEATS_PURCHASED,
        Self::SEATS_RELEASED,
        Self::TICKET_REFUNDED,
        Self::POOL_ENTERED,
        Self::POOL_PAID,
        Self::POOL_REFUNDED,
        Self::POOL_RAKE_TAKEN,
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
            Self::BetPlaced(_) => Kind::BetPlaced,
            Self::BetLegSettled(_) => Kind::BetLegSettled,
            Self::BetSettled(_) => Kind::BetSettled,
            Self::BetVoided(_) => Kind::BetVoided,
            Self::BetPaid(_) => Kind::BetPaid,
            Self::BetPayoutReversed(_) => Kind::BetPayoutReversed,
            Self::CashOutOffered(_) => Kind::CashOutOffered,
            Self::BetCashedOut(_) => Kind::BetCashedOut,
            Self::SeatsHeld(_) => Kind::SeatsHeld,
            Self::SeatsPurchased(_) => Kind::SeatsPurchased,
            Self::SeatsReleased(_) => Kind::SeatsReleased,
            Self::TicketRefunded(_) => Kind::TicketRefunded,
            Self::PoolEntered(_) => Kind::PoolEntered,
            Self::PoolPaid(_) => Kind::PoolPaid,
            Self::PoolRefunded(_) => Kind::PoolRefunded,
            Self::PoolRakeTaken(_) => Kind::PoolRakeTaken,
        }
    }

    /// The transfers this event moves, and how, in the order they apply.
    /// An event's transfers are told apart by their index here (a
    /// statement's `line`, a posting's `leg`), since they share the
    /// event's position.
    pub fn transfers(&self) -> impl Iterator<Item = (&Transfer, Phase)> {
        let first = match self {
            Self::AccountOpened(_) => None,
            Self::FundsDeposited(e) | Self::FundsWithdrawn(e) => Some((&e.transfer, Phase::Posted)),
            Self::HoldPlaced(e) => Some((&e.transfer, Phase::PendingPlaced)),
            Self::HoldPosted(e) => Some((&e.transfer, Phase::PendingPosted)),
            Self::HoldVoided(e) => Some((&e.transfer, Phase::PendingVoided)),
            Self::BetPlaced(e) => Some((&e.transfer, Phase::PendingPlaced)),
            Self::BetSettled(e) => Some((&e.transfer, Phase::PendingPosted)),
            Self::BetVoided(e) => Some((&e.transfer, Phase::PendingVoided)),
            Self::BetPaid(e) => Some((&e.transfer, Phase::Posted)),
            Self::BetPayoutReversed(e) => Some((&e.transfer, Phase::Posted)),
            Self::BetCashedOut(e) => Some((&e.transfer, Phase::PendingPosted)),
            Self::BetLegSettled(_) | Self::CashOutOffered(_) => None,
            Self::SeatsHeld(e) => Some((&e.transfer, Phase::PendingPlaced)),
            Self::SeatsPurchased(e) => Some((&e.transfer, Phase::PendingPosted)),
            Self::SeatsReleased(e) => Some((&e.transfer, Phase::PendingVoided)),
            Self::TicketRefunded(e) => e.transfer.as_ref().map(|t| (t, Phase::Posted)),
            Self::PoolEntered(e) => Some((&e.transfer, Phase::Posted)),
            Self::PoolPaid(e) | Self::PoolRefunded(e) => Some((&e.transfer, Phase::Posted)),
            Self::PoolRakeTaken(e) => Some((&e.transfer, Phase::Posted)),
        };
        let second = match self {
            Self::BetSettled(e) => e.payout.as_ref().map(|t| (t, Phase::Posted)),
            _ => None,
        };
        [first, second].into_iter().flatten()
    }

    crate::store::payload_renderings!();

    fn render<R: Render>(&self) -> R::Out {
        match self {
            Self::AccountOpened(e) => R::render(e),
            Self::FundsDeposited(e) | Self::FundsWithdrawn(e) => R::render(e),
            Self::HoldPlaced(e) | Self::HoldPosted(e) | Self::HoldVoided(e) => R::render(e),
            Self::BetPlaced(e) => R::render(e),
            Self::BetLegSettled(e) => R::render(e),
            Self::BetSettled(e) => R::render(e),
            Self::BetVoided(e) => R::render(e),
            Self::BetPaid(e) => R::render(e),
            Self::BetPayoutReversed(e) => R::render(e),
            Self::CashOutOffered(e) => R::render(e),
            Self::BetCashedOut(e) => R::render(e),
            Self::SeatsHeld(e) => R::render(e),
            Self::SeatsPurchased(e) => R::render(e),
            Self::SeatsReleased(e) => R::render(e),
            Self::TicketRefunded(e) => R::render(e),
            Self::PoolEntered(e) => R::render(e),
            Self::PoolPaid(e) | Self::PoolRefunded(e) => R::render(e),
            Self::PoolRakeTaken(e) => R::render(e),
        }
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
    BetPlaced,
    BetLegSettled,
    BetSettled,
    BetVoided,
    BetPaid,
    BetPayoutReversed,
    CashOutOffered,
    BetCashedOut,
    SeatsHeld,
    SeatsPurchased,
    SeatsReleased,
    TicketRefunded,
    PoolEntered,
    PoolPaid,
    PoolRefunded,
    PoolRakeTaken,
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
            WalletEvent::BET_PLACED => Self::BetPlaced,
            WalletEvent::BET_LEG_SETTLED => Self::BetLegSettled,
            WalletEvent::BET_SETTLED => Self::BetSettled,
            WalletEvent::BET_VOIDED => Self::BetVoided,
            WalletEvent::BET_PAID => Self::BetPaid,
            WalletEvent::BET_PAYOUT_REVERSED => Self::BetPayoutReversed,
            WalletEvent::CASH_OUT_OFFERED => Self::CashOutOffered,
            WalletEvent::BET_CASHED_OUT => Self::BetCashedOut,
            WalletEvent::SEATS_HELD => Self::SeatsHeld,
            WalletEvent::SEATS_PURCHASED => Self::SeatsPurchased,
            WalletEvent::SEATS_RELEASED => Self::SeatsReleased,
            WalletEvent::TICKET_REFUNDED => Self::TicketRefunded,
            WalletEvent::POOL_ENTERED => Self::PoolEntered,
            WalletEvent::POOL_PAID => Self::PoolPaid,
            WalletEvent::POOL_REFUNDED => Self::PoolRefunded,
            WalletEvent::POOL_RAKE_TAKEN => Self::PoolRakeTaken,
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
            Self::BetPlaced => WalletEvent::BET_PLACED,
            Self::BetLegSettled => WalletEvent::BET_LEG_SETTLED,
            Self::BetSettled => WalletEvent::BET_SETTLED,
            Self::BetVoided => WalletEvent::BET_VOIDED,
            Self::BetPaid => WalletEvent::BET_PAID,
            Self::BetPayoutReversed => WalletEvent::BET_PAYOUT_REVERSED,
            Self::CashOutOffered => WalletEvent::CASH_OUT_OFFERED,
            Self::BetCashedOut => WalletEvent::BET_CASHED_OUT,
            Self::SeatsHeld => WalletEvent::SEATS_HELD,
            Self::SeatsPurchased => WalletEvent::SEATS_PURCHASED,
            Self::SeatsReleased => WalletEvent::SEATS_RELEASED,
            Self::TicketRefunded => WalletEvent::TICKET_REFUNDED,
            Self::PoolEntered => WalletEvent::POOL_ENTERED,
            Self::PoolPaid => WalletEvent::POOL_PAID,
            Self::PoolRefunded => WalletEvent::POOL_REFUNDED,
            Self::PoolRakeTaken => WalletEvent::POOL_RAKE_TAKEN,
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
            Self::BetSettled => 2,
            Self::BetPlaced
            | Self::BetLegSettled
            | Self::BetVoided
            | Self::BetPaid
            | Self::BetPayoutReversed
            | Self::CashOutOffered
            | Self::BetCashedOut => 1,
            Self::SeatsHeld | Self::SeatsPurchased | Self::SeatsReleased | Self::TicketRefunded => {
                1
            }
            Self::PoolEntered | Self::PoolPaid | Self::PoolRefunded | Self::PoolRakeTaken => 1,
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
            Self::BetPlaced => WalletEvent::BetPlaced(BetPlaced::deserialize(payload)?),
            Self::BetLegSettled => WalletEvent::BetLegSettled(BetLegSettled::deserialize(payload)?),
            Self::BetSettled => WalletEvent::BetSettled(BetSettled::deserialize(payload)?),
            Self::BetVoided => WalletEvent::BetVoided(BetVoided::deserialize(payload)?),
            Self::BetPaid => WalletEvent::BetPaid(BetPaid::deserialize(payload)?),
            Self::BetPayoutReversed => {
                WalletEvent::BetPayoutReversed(BetPayoutReversed::deserialize(payload)?)
            }
            Self::CashOutOffered => {
                WalletEvent::CashOutOffered(CashOutOffered::deserialize(payload)?)
            }
            Self::BetCashedOut => WalletEvent::BetCashedOut(BetCashedOut::deserialize(payload)?),
            Self::SeatsHeld => WalletEvent::SeatsHeld(SeatsHeld::deserialize(payload)?),
            Self::SeatsPurchased => {
                WalletEvent::SeatsPurchased(SeatsPurchased::deserialize(payload)?)
            }
            Self::SeatsReleased => WalletEvent::SeatsReleased(SeatsReleased::deserialize(payload)?),
            Self::TicketRefunded => {
                WalletEvent::TicketRefunded(TicketRefunded::deserialize(payload)?)
            }
            Self::PoolEntered => WalletEvent::PoolEntered(PoolEntered::deserialize(payload)?),
            Self::PoolPaid => WalletEvent::PoolPaid(PoolEntryPaid::deserialize(payload)?),
            Self::PoolRefunded => WalletEvent::PoolRefunded(PoolEntryPaid::deserialize(payload)?),
            Self::PoolRakeTaken => WalletEvent::PoolRakeTaken(PoolRakeTaken::deserialize(payload)?),
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
