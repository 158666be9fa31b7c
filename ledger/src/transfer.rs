//! Transfers: every money movement is one debit account, one credit account,
//! an amount of one currency and a reason code (double entry). A hold is a
//! transfer in two phases: placed as pending, later posted or voided.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{AccountId, Amount, Currency, TransferId};

/// Why money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferCode {
    Deposit,
    Withdrawal,
    Hold,
    // Plain comments, not doc comments, below: those would turn the
    // schemas' plain `enum` of codes into a `oneOf`.
    // A bet's stake held at placement: pending, wallet → `house`.
    Stake,
    // What a settled bet returns (winnings, a void's stake), `house` → wallet.
    Payout,
    // A payout taken back when its settlement is corrected: wallet → `house`.
    PayoutReversal,
    // An accepted cash-out offer paid by `house` to the wallet.
    CashOut,
    // Seats' price held at reservation: pending, wallet → `box-office:revenue`,
    // posted when the reservation is confirmed.
    Ticket,
    // A ticket's money given back: `box-office:revenue` → wallet.
    TicketRefund,
    // A pool entry's stake: wallet → the pool's escrow `pool:{id}`.
    PoolEntry,
    // A winning pool entry's share of the pot: `pool:{id}` → wallet.
    PoolPayout,
    // A pool entry's stake given back (cancelled, or no winning entry).
    PoolRefund,
    // The operator's take of a settled pool: `pool:{id}` → `fees:rake`.
    Rake,
}

/// One money movement: `amount` leaves `debit` and arrives in `credit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Transfer {
    pub id: TransferId,
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Amount,
    pub currency: Currency,
    pub code: TransferCode,
}

/// What an event does with a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Moves money now.
    Posted,
    /// Reserves money: counts against the debit account's available balance.
    PendingPlaced,
    /// Turns a pending transfer into a posted one.
    PendingPosted,
    /// Releases a pending transfer; no money moves.
    PendingVoided,
}
