//! The wallet aggregate: one player account, its balance and its holds.
//! `decide` turns a command into events or a rejection; `evolve` folds
//! events into state. Both are pure.

pub mod bet;
pub(crate) mod decide;
mod event;
pub mod schemas;
pub mod seats;
pub mod upcast;

use std::collections::HashMap;
use std::sync::Arc;

pub use bet::{AcceptCashOut, Bet, BetLeg, BetStatus, CashOutOffer, OfferCashOut, SettleLeg};
pub use decide::{decide, Description, WalletCommand, DESCRIPTION_LEN_MAX};
pub use event::{
    AccountOpened, BetCashedOut, BetLegPlaced, BetLegSettled, BetPaid, BetPayoutReversed,
    BetPlaced, BetSettled, BetVoided, CashOutOffered, FundsMoved, HoldChanged, PoolEntered,
    PoolEntryPaid, WalletEvent,
};
pub use seats::{
    RefundReason, ReleaseReason, SeatHold, SeatsCommand, SeatsHeld, SeatsPurchased, SeatsReleased,
    TicketRefunded,
};

use crate::book::{Balance, Side};
use crate::{
    AccountId, BetId, CreditLimit, Currency, HoldId, PoolEntryId, ReservationId, Transfer,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldStatus {
    Pending,
    Posted,
    Voided,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Posted => "posted",
            Self::Voided => "voided",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub transfer: Transfer,
    pub status: HoldStatus,
}

/// An open wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wallet {
    pub id: AccountId,
    pub currency: Currency,
    pub credit_limit: CreditLimit,
    pub balance: Balance,
    pub holds: HashMap<HoldId, Hold>,
    /// Sportsbook bets, kept apart from `holds`: only settlement and
    /// cash-out resolve a bet's stake. Shared, because a wallet's state is
    /// cloned whole whenever it is decided on (the cache keeps the one it
    /// had), and a bet changes far less often than its wallet: a clone
    /// copies pointers, and the one bet that changes is copied on write.
    pub bets: HashMap<BetId, Arc<Bet>>,
    /// Box-office reservations, kept apart from `holds` for the same reason.
    pub seat_holds: HashMap<ReservationId, SeatHold>,
    /// Parimutuel pool entries and whether their escrow has paid them out.
    pub pool_entries: HashMap<PoolEntryId, PoolEntryStatus>,
}

/// A pool entry as its wallet sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolEntryStatus {
    /// The stake is in the pool's escrow.
    Open,
    /// The pool paid the entry its share (or refunded it): done.
    PaidOut,
}

impl Wallet {
    /// What may still be debited, clamped into `i64` (it is never negative
    /// for a wallet whose invariant holds).
    pub fn available(&self) -> i64 {
        let wide = self.balance.available(self.credit_limit.get());
        i64::try_from(wide).unwrap_or(if wide < 0 { i64::MIN } else { i64::MAX })
    }
}

/// The state of a wallet stream: nothing until the account is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalletState {
    pub wallet: Option<Wallet>,
}

impl WalletState {
    /// Folds one event into the state. Events are facts already decided, so a
    /// transfer that would overflow here is ignored rather than half-applied;
    /// `decide` refuses such transfers before they become events.
    pub fn evolve(mut self, event: &WalletEvent) -> Self {
        match event {
            WalletEvent::AccountOpened(e) => {
                self.wallet = Some(Wallet {
                    id: e.account.clone(),
                    currency: e.currency,
                    credit_limit: e.credit_limit,
                    balance: Balance::default(),
                    holds: HashMap::new(),
                    bets: HashMap::new(),
                    seat_holds: HashMap::new(),
                    pool_entries: HashMap::new(),
                });
            }
            other => {
                if let Some(wallet) = self.wallet.as_mut() {
                    apply_to_wallet(wallet, other);
                }
            }
        }
        self
    }
}

fn apply_to_wallet(wallet: &mut Wallet, event: &WalletEvent) {
    for (transfer, phase) in event.transfers() {
        let side = if transfer.debit == wallet.id {
            Side::Debit
        } else {
            Side::Credit
        };
        let _ = wallet.balance.apply(side, transfer.amount.get(), phase);
    }
    match event {
        WalletEvent::HoldPlaced(e) => {
            wallet.holds.insert(
                e.hold_id,
                Hold {
                    transfer: e.transfer.clone(),
                    status: HoldStatus::Pending,
                },
            );
        }
        WalletEvent::HoldPosted(e) => set_hold_status(wallet, e.hold_id, HoldStatus::Posted),
        WalletEvent::HoldVoided(e) => set_hold_status(wallet, e.hold_id, HoldStatus::Voided),
        WalletEvent::SeatsHeld(_)
        | WalletEvent::SeatsPurchased(_)
        | WalletEvent::SeatsReleased(_)
        | WalletEvent::TicketRefunded(_) => seats::evolve(wallet, event),
        WalletEvent::PoolEntered(e) => {
            wallet
                .pool_entries
                .insert(e.entry_id, PoolEntryStatus::Open);
        }
        WalletEvent::PoolPaid(e) | WalletEvent::PoolRefunded(e) => {
            wallet
                .pool_entries
                .insert(e.entry_id, PoolEntryStatus::PaidOut);
        }
        _ => bet::evolve(wallet, event),
    }
}

fn set_hold_status(wallet: &mut Wallet, hold_id: HoldId, status: HoldStatus) {
    if let Some(hold) = wallet.holds.get_mut(&hold_id) {
        hold.status = status;
    }
}

/// Folds events into state from scratch.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a WalletEvent>) -> WalletState {
    events
        .into_iter()
        .fold(WalletState::default(), WalletState::evolve)
}

#[cfg(test)]
mod tests;
