//! The wallet's side of box-office reservations: the seats' price held
//! towards `box-office:revenue` (the transfer's id is the reservation's),
//! posted when the reservation is confirmed, voided when it expires or its
//! show is cancelled, and tickets refunded one at a time.
//!
//! Seat holds are kept apart from `Wallet::holds`, as bets are: the generic
//! hold API must never resolve them, only the box office may.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::decide::{covers, fits, transfer};
use super::event::WalletEvent;
use super::{HoldStatus, Wallet};
use crate::book::Side;
use crate::{
    AccountId, Amount, HoldId, Phase, Rejection, ReservationId, ShowId, TicketId, Transfer,
    TransferCode, TransferId,
};

/// Seats reserved at a show: `seats` × `unit_price` held by a pending
/// transfer from the wallet to `box-office:revenue` (code `ticket`; the
/// transfer's id is the reservation's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatsHeld {
    pub reservation_id: ReservationId,
    pub show: ShowId,
    #[schemars(range(min = 1))]
    pub seats: u32,
    #[schemars(range(min = 1))]
    pub unit_price: i64,
    pub transfer: Transfer,
}

/// A reservation confirmed: its hold posted, one ticket per seat issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatsPurchased {
    pub reservation_id: ReservationId,
    pub show: ShowId,
    #[schemars(length(min = 1))]
    pub tickets: Vec<TicketId>,
    pub transfer: Transfer,
}

/// Why a reservation's hold was voided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseReason {
    Expired,
    ShowCancelled,
}

/// A reservation released before it was confirmed: its hold voided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeatsReleased {
    pub reservation_id: ReservationId,
    pub show: ShowId,
    pub reason: ReleaseReason,
    pub transfer: Transfer,
}

/// Why a ticket was refunded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    /// The customer gave the ticket back: refunded per the show's rule.
    CustomerCancelled,
    /// The operator cancelled the show: refunded in full.
    ShowCancelled,
}

/// A ticket's money given back: a posted transfer from
/// `box-office:revenue` to the wallet (code `ticket_refund`), absent when
/// the refund rule gives nothing back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = transfer_is_required)]
pub struct TicketRefunded {
    pub reservation_id: ReservationId,
    pub ticket_id: TicketId,
    pub show: ShowId,
    pub reason: RefundReason,
    #[serde(deserialize_with = "Option::deserialize")]
    pub transfer: Option<Transfer>,
}

fn transfer_is_required(schema: &mut schemars::Schema) {
    crate::sportsbook::market::event_require(schema, "transfer");
}

/// A reservation as its wallet sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatHold {
    pub show: ShowId,
    pub transfer: Transfer,
    pub status: HoldStatus,
    pub tickets: Vec<TicketId>,
    pub refunded: Vec<TicketId>,
}

/// What the box office asks of a wallet. The show decides the seats and
/// prices; the wallet decides only its money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatsCommand {
    Hold {
        reservation_id: ReservationId,
        show: ShowId,
        seats: u32,
        unit_price: i64,
    },
    Purchase {
        reservation_id: ReservationId,
        tickets: Vec<TicketId>,
    },
    Release {
        reservation_id: ReservationId,
        reason: ReleaseReason,
    },
    Refund {
        reservation_id: ReservationId,
        ticket_id: TicketId,
        /// 0 when the refund rule gives nothing back.
        amount: i64,
        reason: RefundReason,
    },
}

pub(super) fn decide(wallet: &Wallet, command: &SeatsCommand) -> Result<WalletEvent, Rejection> {
    match command {
        SeatsCommand::Hold {
            reservation_id,
            show,
            seats,
            unit_price,
        } => hold(wallet, *reservation_id, show, *seats, *unit_price),
        SeatsCommand::Purchase {
            reservation_id,
            tickets,
        } => {
            let held = pending(wallet, *reservation_id)?;
            Ok(WalletEvent::SeatsPurchased(SeatsPurchased {
                reservation_id: *reservation_id,
                show: held.show.clone(),
                tickets: tickets.clone(),
                transfer: held.transfer.clone(),
            }))
        }
        SeatsCommand::Release {
            reservation_id,
            reason,
        } => {
            let held = pending(wallet, *reservation_id)?;
            Ok(WalletEvent::SeatsReleased(SeatsReleased {
                reservation_id: *reservation_id,
                show: held.show.clone(),
                reason: *reason,
                transfer: held.transfer.clone(),
            }))
        }
        SeatsCommand::Refund {
            reservation_id,
            ticket_id,
            amount,
            reason,
        } => refund(wallet, *reservation_id, *ticket_id, *amount, *reason),
    }
}

fn hold(
    wallet: &Wallet,
    reservation_id: ReservationId,
    show: &ShowId,
    seats: u32,
    unit_price: i64,
) -> Result<WalletEvent, Rejection> {
    let total = unit_price
        .checked_mul(i64::from(seats))
        .ok_or_else(|| Rejection::InvalidAmount("the seats' price overflows".into()))?;
    let amount = Amount::new(total)?;
    // The hold's transfer takes the reservation's UUID: no other hold may
    // have it.
    if wallet.seat_holds.contains_key(&reservation_id)
        || wallet
            .holds
            .contains_key(&HoldId::from_uuid(reservation_id.as_uuid()))
    {
        return Err(Rejection::HoldAlreadyResolved("placed".into()));
    }
    covers(wallet, amount)?;
    fits(wallet.balance, Side::Debit, amount, Phase::PendingPlaced)?;
    Ok(WalletEvent::SeatsHeld(SeatsHeld {
        reservation_id,
        show: show.clone(),
        seats,
        unit_price,
        transfer: transfer(
            TransferId::from_uuid(reservation_id.as_uuid()),
            wallet.id.clone(),
            AccountId::box_office_revenue(),
            amount,
            wallet.currency,
            TransferCode::Ticket,
        ),
    }))
}

fn pending(wallet: &Wallet, reservation_id: ReservationId) -> Result<&SeatHold, Rejection> {
    let held = wallet
        .seat_holds
        .get(&reservation_id)
        .ok_or(Rejection::ReservationNotFound)?;
    match held.status {
        HoldStatus::Pending => Ok(held),
        resolved => Err(Rejection::ReservationNotOpen {
            status: resolved.as_str().into(),
        }),
    }
}

fn refund(
    wallet: &Wallet,
    reservation_id: ReservationId,
    ticket_id: TicketId,
    amount: i64,
    reason: RefundReason,
) -> Result<WalletEvent, Rejection> {
    let held = wallet
        .seat_holds
        .get(&reservation_id)
        .ok_or(Rejection::ReservationNotFound)?;
    if held.status != HoldStatus::Posted || !held.tickets.contains(&ticket_id) {
        return Err(Rejection::TicketNotFound);
    }
    // The second line of defence against paying a refund twice (the show's
    // stream is the first): the wallet remembers every ticket it refunded.
    if held.refunded.contains(&ticket_id) {
        return Err(Rejection::TicketAlreadyCancelled);
    }
    let transfer = if amount > 0 {
        let amount = Amount::new(amount)?;
        fits(wallet.balance, Side::Credit, amount, Phase::Posted)?;
        Some(transfer(
            refund_transfer_id(ticket_id),
            AccountId::box_office_revenue(),
            wallet.id.clone(),
            amount,
            wallet.currency,
            TransferCode::TicketRefund,
        ))
    } else {
        None
    };
    Ok(WalletEvent::TicketRefunded(TicketRefunded {
        reservation_id,
        ticket_id,
        show: held.show.clone(),
        reason,
        transfer,
    }))
}

/// A ticket is refunded at most once, so its refund's transfer can take an
/// id derived from the ticket's alone.
fn refund_transfer_id(ticket_id: TicketId) -> TransferId {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x2f6c_91d4_7a3e_4b58_a0c1_6d93_e4f7_1b2a);
    TransferId::from_uuid(uuid::Uuid::new_v5(
        &NAMESPACE,
        ticket_id.as_uuid().as_bytes(),
    ))
}

/// Folds a box-office event into the wallet's seat holds (the balance is
/// done by the caller, through the event's transfer).
pub(super) fn evolve(wallet: &mut Wallet, event: &WalletEvent) {
    match event {
        WalletEvent::SeatsHeld(e) => {
            wallet.seat_holds.insert(
                e.reservation_id,
                SeatHold {
                    show: e.show.clone(),
                    transfer: e.transfer.clone(),
                    status: HoldStatus::Pending,
                    tickets: Vec::new(),
                    refunded: Vec::new(),
                },
            );
        }
        WalletEvent::SeatsPurchased(e) => {
            if let Some(held) = wallet.seat_holds.get_mut(&e.reservation_id) {
                held.status = HoldStatus::Posted;
                held.tickets.clone_from(&e.tickets);
            }
        }
        WalletEvent::SeatsReleased(e) => {
            if let Some(held) = wallet.seat_holds.get_mut(&e.reservation_id) {
                held.status = HoldStatus::Voided;
            }
        }
        WalletEvent::TicketRefunded(e) => {
            if let Some(held) = wallet.seat_holds.get_mut(&e.reservation_id) {
                held.refunded.push(e.ticket_id);
            }
        }
        _ => {}
    }
}
