//! The JSON Schema of every wallet event type at the version this build
//! writes, generated from the payload types. `schemas/events/` holds them,
//! beside the frozen schemas of older versions; a test in
//! `ledger/tests/event_schemas.rs` fails when the files are stale.

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;

use super::event::{
    AccountOpened, BetCashedOut, BetLegSettled, BetPaid, BetPayoutReversed, BetPlaced, BetSettled,
    BetVoided, CashOutOffered, FundsMoved, HoldChanged, PoolEntered, PoolEntryPaid, WalletEvent,
};
use super::seats::{SeatsHeld, SeatsPurchased, SeatsReleased, TicketRefunded};
use crate::pool::PoolRakeTaken;

/// Where the schema files live, from the workspace root.
pub const DIR: &str = "schemas/events";

/// The file of one event type at one version, e.g. `account_opened.v1.json`.
pub fn file_name(event_type: &str, schema_version: i32) -> String {
    format!("{event_type}.v{schema_version}.json")
}

/// The schema of one event type at one version.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSchema {
    pub event_type: &'static str,
    pub schema_version: i32,
    pub schema: serde_json::Value,
}

impl EventSchema {
    pub fn file_name(&self) -> String {
        file_name(self.event_type, self.schema_version)
    }
}

/// What `payment_ref` (since version 2) means, null included.
const PAYMENT_REF: &str = "`payment_ref` is the gateway's id of the movement, which the \
     payment side reconciles the `cash` account against; null when the ledger has none: the \
     client sent none, or the event was stored at version 1, before the ledger kept them \
     (reconcile those by transfer id).";

/// The schema of every wallet event type at its current version.
pub fn all() -> Vec<EventSchema> {
    vec![
        schema::<AccountOpened>(
            WalletEvent::ACCOUNT_OPENED,
            "A player's wallet opened, in one currency, with how far below zero it may go.",
        ),
        schema::<FundsMoved>(
            WalletEvent::FUNDS_DEPOSITED,
            &format!(
                "Money arrived in a wallet from the payment gateway: a posted transfer \
                 from `cash` to the wallet, code `deposit`. {PAYMENT_REF}"
            ),
        ),
        schema::<FundsMoved>(
            WalletEvent::FUNDS_WITHDRAWN,
            &format!(
                "Money left a wallet for the payment gateway: a posted transfer from \
                 the wallet to `cash`, code `withdrawal`. {PAYMENT_REF}"
            ),
        ),
        schema::<HoldChanged>(
            WalletEvent::HOLD_PLACED,
            "A stake reserved: a pending transfer from the wallet to `house`, code \
             `hold`, that counts against what is available until it is posted or voided.",
        ),
        schema::<HoldChanged>(
            WalletEvent::HOLD_POSTED,
            "A pending hold posted: its transfer moves the money now.",
        ),
        schema::<HoldChanged>(
            WalletEvent::HOLD_VOIDED,
            "A pending hold voided: it is released and no money moves.",
        ),
        schema::<BetPlaced>(
            WalletEvent::BET_PLACED,
            "A sportsbook bet placed: its stake held by a pending transfer from the wallet to \
             `house`, code `stake`, whose id is the bet's. `odds` are the legs' combined odds \
             and `payout_if_wins` what the house pays if every leg wins.",
        ),
        schema::<BetLegSettled>(
            WalletEvent::BET_LEG_SETTLED,
            "One leg of a bet settled while other legs are open, or re-settled (`replaces`: \
             the settlement corrected, null for a first settlement). No money moves here.",
        ),
        schema::<BetSettled>(
            WalletEvent::BET_SETTLED,
            "A bet settled by its last leg, not every leg void: the stake's hold is posted to \
             `house`. `returned` is what the player gets back in total, paid in the same \
             event when above 0: `payout`, a posted transfer from `house` to the wallet, \
             code `payout`; null when the bet returned nothing. (At version 1 `payout` did \
             not exist and a `bet_paid` followed.)",
        ),
        schema::<BetVoided>(
            WalletEvent::BET_VOIDED,
            "A bet settled with every leg void: the stake's hold is voided, no money moves.",
        ),
        schema::<BetPaid>(
            WalletEvent::BET_PAID,
            "Money paid for a bet: a posted transfer from `house` to the wallet, code \
             `payout` under `settlement_id`, or `cash_out` with `settlement_id` null.",
        ),
        schema::<BetPayoutReversed>(
            WalletEvent::BET_PAYOUT_REVERSED,
            "What a bet returned under `settlement_id`, taken back because `replaced_by` \
             corrected the result: a posted transfer from the wallet to `house`, code \
             `payout_reversal`. No credit limit applies: the wallet may go below it, and the \
             operator collects the difference.",
        ),
        schema::<CashOutOffered>(
            WalletEvent::CASH_OUT_OFFERED,
            "The house offers to buy an open bet back for `amount` until `expires_at`.",
        ),
        schema::<BetCashedOut>(
            WalletEvent::BET_CASHED_OUT,
            "A cash-out offer accepted: the stake's hold is posted to `house`; the `bet_paid` \
             that follows pays `amount` (code `cash_out`).",
        ),
        schema::<SeatsHeld>(
            WalletEvent::SEATS_HELD,
            "Seats reserved at a show: `seats` × `unit_price` held by a pending transfer from \
             the wallet to `box-office:revenue`, code `ticket`, whose id is the reservation's.",
        ),
        schema::<SeatsPurchased>(
            WalletEvent::SEATS_PURCHASED,
            "A reservation confirmed: its hold is posted to `box-office:revenue` and one \
             ticket per seat is issued.",
        ),
        schema::<SeatsReleased>(
            WalletEvent::SEATS_RELEASED,
            "A reservation released before confirmation (`expired`, or `show_cancelled`): \
             its hold is voided, no money moves.",
        ),
        schema::<TicketRefunded>(
            WalletEvent::TICKET_REFUNDED,
            "A ticket given back (`customer_cancelled`, refunded per the show's refund rule) \
             or refunded because its show was cancelled (in full): a posted transfer from \
             `box-office:revenue` to the wallet, code `ticket_refund`; null when the rule \
             gives nothing back.",
        ),
        schema::<PoolEntered>(
            WalletEvent::POOL_ENTERED,
            "An entry in a parimutuel pool: its stake moved into the pool's escrow, a posted \
             transfer from the wallet to `pool:{id}`, code `pool_entry`, whose id is the entry's.",
        ),
        schema::<PoolEntryPaid>(
            WalletEvent::POOL_PAID,
            "A winning pool entry's share of the pot less the rake: a posted transfer from \
             `pool:{id}` to the wallet, code `pool_payout`.",
        ),
        schema::<PoolEntryPaid>(
            WalletEvent::POOL_REFUNDED,
            "A pool entry's stake given back in full (the pool was cancelled, or no entry \
             backed a winning outcome): a posted transfer from `pool:{id}` to the wallet, \
             code `pool_refund`.",
        ),
        schema::<PoolRakeTaken>(
            WalletEvent::POOL_RAKE_TAKEN,
            "Written on the pool's stream when its payouts finish: the operator's rake, \
             floor(pot × rake_bp / 10,000), a posted transfer from `pool:{id}` to \
             `fees:rake`, code `rake`.",
        ),
    ]
}

/// One event type's schema. The title and description are the event
/// type's, not the Rust type's: several event types share a payload type.
fn schema<T: JsonSchema>(event_type: &'static str, description: &str) -> EventSchema {
    // Every name passed here is a wallet event type; were one not, its file
    // would be `.v0.json`, which the schema test refuses.
    let version = WalletEvent::current_version(event_type).unwrap_or(0);
    event_schema::<T>(event_type, version, description)
}

/// The schema of `event_type` at `version`, from its payload type. Shared
/// by every aggregate's events (`sportsbook::market::schemas` too), so all
/// files in `schemas/events/` have one shape.
pub(crate) fn event_schema<T: JsonSchema>(
    event_type: &'static str,
    version: i32,
    description: &str,
) -> EventSchema {
    let file = file_name(event_type, version);
    // Deserialization is the contract that matters: it is what a reader of
    // the stored payload accepts.
    let mut schema = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    schema.insert(
        "$id".into(),
        format!("https://betledger.dev/schemas/events/{file}").into(),
    );
    schema.insert("title".into(), format!("{event_type} v{version}").into());
    schema.insert("description".into(), description.into());
    EventSchema {
        event_type,
        schema_version: version,
        schema: schema.to_value(),
    }
}
