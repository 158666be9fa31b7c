//! The box office's decisions: the operator's commands on a show, and the
//! commands that move a customer's money with the show's seats (decided on
//! both states at once, appended by the caller as one group).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::event::{
    ShowCancellationFinished, ShowCancellationProgressed, ShowCancelled, ShowEvent,
    ShowPricingChanged, ShowRefundRuleChanged, ShowReservationConfirmed, ShowReservationExpired,
    ShowScheduled, ShowSeatsReserved, ShowTicketCancelled, TierSpec,
};
use super::pricing::{validate_steps, PriceStep, RefundRule};
use super::{Reservation, ReservationStatus, Show, ShowState, ShowStatus, TicketStatus};
use crate::wallet::{
    decide as decide_wallet, RefundReason, ReleaseReason, SeatsCommand, WalletCommand, WalletEvent,
    WalletState,
};
use crate::{AccountId, Currency, Rejection, ReservationId, ShowId, TicketId};

/// Longest show name, in characters.
pub const NAME_LEN_MAX: usize = 200;
/// Longest tier name, in characters.
pub const TIER_NAME_LEN_MAX: usize = 64;
/// Most tiers a show may have.
pub const TIERS_MAX: usize = 16;
/// Most seats in one tier.
pub const TIER_CAPACITY_MAX: u32 = 100_000;
/// The highest per-customer seat limit an operator may set.
pub const SEATS_PER_CUSTOMER_MAX: u32 = 100;
/// How long a reservation holds, unless the show says otherwise.
pub const RESERVATION_TTL_S_DEFAULT: u32 = 600;
/// The longest reservation time an operator may set.
pub const RESERVATION_TTL_S_MAX: u32 = 86_400;
/// The highest base price, in minor units: with the largest raise and
/// seat count the total stays far inside `i64`.
pub const BASE_PRICE_MAX: i64 = 1_000_000_000_000;

/// The operator's commands on a show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowCommand {
    Schedule {
        show: ShowId,
        name: String,
        starts_at: DateTime<Utc>,
        currency: Currency,
        tiers: Vec<TierSpec>,
        seats_per_customer_max: u32,
        reservation_ttl_s: u32,
        refund_rule: RefundRule,
    },
    ChangePricing {
        tier: u16,
        steps: Vec<PriceStep>,
    },
    ChangeRefundRule {
        refund_rule: RefundRule,
    },
    Cancel,
}

/// A command's events on the customer's wallet and on the show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub wallet: Vec<WalletEvent>,
    pub show: Vec<ShowEvent>,
}

/// A customer asks for `seats` seats in `tier`. `now` and the id are
/// chosen before deciding, so deciding stays pure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reserve {
    pub reservation_id: ReservationId,
    pub account: AccountId,
    pub tier: u16,
    pub seats: u32,
    pub now: DateTime<Utc>,
}

pub fn decide_show(state: &ShowState, command: &ShowCommand) -> Result<Vec<ShowEvent>, Rejection> {
    let show = match (&state.show, command) {
        (None, ShowCommand::Schedule { .. }) => return schedule(command).map(|e| vec![e]),
        (Some(_), ShowCommand::Schedule { .. }) => return Err(Rejection::ShowExists),
        (None, _) => return Err(Rejection::ShowNotFound),
        (Some(show), _) => show,
    };
    if show.status != ShowStatus::OnSale {
        return Err(Rejection::ShowCancelled);
    }
    let event = match command {
        ShowCommand::Schedule { .. } => return Err(Rejection::ShowExists),
        ShowCommand::ChangePricing { tier, steps } => {
            show.tier(*tier).ok_or(Rejection::TierNotFound)?;
            validate_steps(steps)?;
            ShowEvent::PricingChanged(ShowPricingChanged {
                show: show.id.clone(),
                tier: *tier,
                steps: steps.clone(),
            })
        }
        ShowCommand::ChangeRefundRule { refund_rule } => {
            refund_rule.validate()?;
            ShowEvent::RefundRuleChanged(ShowRefundRuleChanged {
                show: show.id.clone(),
                refund_rule: *refund_rule,
            })
        }
        ShowCommand::Cancel => ShowEvent::Cancelled(ShowCancelled {
            show: show.id.clone(),
        }),
    };
    Ok(vec![event])
}

fn schedule(command: &ShowCommand) -> Result<ShowEvent, Rejection> {
    let ShowCommand::Schedule {
        show,
        name,
        starts_at,
        currency,
        tiers,
        seats_per_customer_max,
        reservation_ttl_s,
        refund_rule,
    } = command
    else {
        return Err(Rejection::ShowNotFound);
    };
    let invalid = |why: String| Err(Rejection::InvalidShow(why));
    let name_len = name.chars().count();
    if name_len == 0 || name_len > NAME_LEN_MAX {
        return invalid(format!("name must be 1 to {NAME_LEN_MAX} characters"));
    }
    if tiers.is_empty() || tiers.len() > TIERS_MAX {
        return invalid(format!("a show has 1 to {TIERS_MAX} tiers"));
    }
    for (i, tier) in tiers.iter().enumerate() {
        let len = tier.name.chars().count();
        if len == 0 || len > TIER_NAME_LEN_MAX {
            return invalid(format!(
                "tier {i}: name must be 1 to {TIER_NAME_LEN_MAX} characters"
            ));
        }
        if tiers[..i].iter().any(|t| t.name == tier.name) {
            return invalid(format!("tier {i}: name {:?} is used twice", tier.name));
        }
        if tier.capacity == 0 || tier.capacity > TIER_CAPACITY_MAX {
            return invalid(format!(
                "tier {i}: capacity must be 1 to {TIER_CAPACITY_MAX}"
            ));
        }
        if tier.base_price <= 0 || tier.base_price > BASE_PRICE_MAX {
            return invalid(format!(
                "tier {i}: base_price must be 1 to {BASE_PRICE_MAX}"
            ));
        }
        validate_steps(&tier.steps)?;
    }
    if *seats_per_customer_max == 0 || *seats_per_customer_max > SEATS_PER_CUSTOMER_MAX {
        return invalid(format!(
            "seats_per_customer_max must be 1 to {SEATS_PER_CUSTOMER_MAX}"
        ));
    }
    if *reservation_ttl_s == 0 || *reservation_ttl_s > RESERVATION_TTL_S_MAX {
        return invalid(format!(
            "reservation_ttl_s must be 1 to {RESERVATION_TTL_S_MAX}"
        ));
    }
    refund_rule.validate()?;
    Ok(ShowEvent::Scheduled(ShowScheduled {
        show: show.clone(),
        name: name.clone(),
        starts_at: *starts_at,
        currency: *currency,
        tiers: tiers.clone(),
        seats_per_customer_max: *seats_per_customer_max,
        reservation_ttl_s: *reservation_ttl_s,
        refund_rule: *refund_rule,
    }))
}

fn open_show(state: &ShowState) -> Result<&Show, Rejection> {
    let show = state.show.as_ref().ok_or(Rejection::ShowNotFound)?;
    if show.status != ShowStatus::OnSale {
        return Err(Rejection::ShowCancelled);
    }
    Ok(show)
}

/// The wallet's event for `command`, refusing a wallet that is not
/// `account`'s (a caller that loaded the wrong stream).
fn on_wallet(
    wallet: &WalletState,
    account: &AccountId,
    command: SeatsCommand,
) -> Result<Vec<WalletEvent>, Rejection> {
    match &wallet.wallet {
        Some(w) if &w.id == account => decide_wallet(wallet, &WalletCommand::Seats(command)),
        _ => Err(Rejection::AccountNotFound),
    }
}

/// Holds seats and their price together: the show's inventory is checked
/// first (so a sold-out show answers `sold_out` whatever the wallet), then
/// the wallet's funds.
pub fn decide_reserve(
    wallet: &WalletState,
    state: &ShowState,
    command: &Reserve,
) -> Result<Decision, Rejection> {
    let show = open_show(state)?;
    if command.now >= show.starts_at {
        return Err(Rejection::ShowStarted);
    }
    let tier = show.tier(command.tier).ok_or(Rejection::TierNotFound)?;
    let held = show
        .seats_by_account
        .get(&command.account)
        .copied()
        .unwrap_or(0);
    if command.seats == 0 || held.saturating_add(command.seats) > show.seats_per_customer_max {
        return Err(Rejection::TooManySeats {
            max: show.seats_per_customer_max,
            held,
        });
    }
    if command.seats > tier.seats_left() {
        return Err(Rejection::SoldOut {
            seats_left: tier.seats_left(),
        });
    }
    if wallet
        .wallet
        .as_ref()
        .is_some_and(|w| w.currency != show.currency)
    {
        return Err(Rejection::CurrencyMismatch {
            account: wallet
                .wallet
                .as_ref()
                .map_or_else(String::new, |w| w.currency.to_string()),
            requested: show.currency.to_string(),
        });
    }
    let unit_price = tier.current_price();
    let wallet_events = on_wallet(
        wallet,
        &command.account,
        SeatsCommand::Hold {
            reservation_id: command.reservation_id,
            show: show.id.clone(),
            seats: command.seats,
            unit_price,
        },
    )?;
    let expires_at = command.now + Duration::seconds(i64::from(show.reservation_ttl_s));
    Ok(Decision {
        wallet: wallet_events,
        show: vec![ShowEvent::SeatsReserved(ShowSeatsReserved {
            show: show.id.clone(),
            reservation_id: command.reservation_id,
            account: command.account.clone(),
            tier: command.tier,
            seats: command.seats,
            unit_price,
            expires_at,
        })],
    })
}

fn reservation(show: &Show, id: ReservationId) -> Result<&Reservation, Rejection> {
    show.reservations
        .get(&id)
        .ok_or(Rejection::ReservationNotFound)
}

fn still_open(r: &Reservation) -> Result<(), Rejection> {
    match r.status {
        ReservationStatus::Open => Ok(()),
        ReservationStatus::Expired => Err(Rejection::ReservationExpired),
        other => Err(Rejection::ReservationNotOpen {
            status: other.as_str().into(),
        }),
    }
}

/// Confirms an open reservation before it expires: the hold posted, one
/// ticket per seat. Racing the expiry process, the show's version decides:
/// whichever commits second decides again and finds the other's outcome.
pub fn decide_confirm(
    wallet: &WalletState,
    state: &ShowState,
    reservation_id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Decision, Rejection> {
    let show = state.show.as_ref().ok_or(Rejection::ShowNotFound)?;
    let r = reservation(show, reservation_id)?;
    still_open(r)?;
    if show.status != ShowStatus::OnSale {
        return Err(Rejection::ShowCancelled);
    }
    if now >= r.expires_at {
        return Err(Rejection::ReservationExpired);
    }
    let tickets: Vec<TicketId> = (0..r.seats).map(|i| ticket_id(reservation_id, i)).collect();
    let wallet_events = on_wallet(
        wallet,
        &r.account,
        SeatsCommand::Purchase {
            reservation_id,
            tickets: tickets.clone(),
        },
    )?;
    Ok(Decision {
        wallet: wallet_events,
        show: vec![ShowEvent::ReservationConfirmed(ShowReservationConfirmed {
            show: show.id.clone(),
            reservation_id,
            tickets,
        })],
    })
}

/// Expires an open reservation whose time is up: seats back on sale, the
/// hold voided.
pub fn decide_expire(
    wallet: &WalletState,
    state: &ShowState,
    reservation_id: ReservationId,
    now: DateTime<Utc>,
) -> Result<Decision, Rejection> {
    let show = state.show.as_ref().ok_or(Rejection::ShowNotFound)?;
    let r = reservation(show, reservation_id)?;
    still_open(r)?;
    if now < r.expires_at {
        return Err(Rejection::ReservationNotOpen {
            status: "not yet expired".into(),
        });
    }
    let wallet_events = on_wallet(
        wallet,
        &r.account,
        SeatsCommand::Release {
            reservation_id,
            reason: ReleaseReason::Expired,
        },
    )?;
    Ok(Decision {
        wallet: wallet_events,
        show: vec![ShowEvent::ReservationExpired(ShowReservationExpired {
            show: show.id.clone(),
            reservation_id,
        })],
    })
}

/// A customer gives a ticket back before the show: refunded per the
/// show's refund rule, its seat back on sale.
pub fn decide_cancel_ticket(
    wallet: &WalletState,
    state: &ShowState,
    ticket: TicketId,
    now: DateTime<Utc>,
) -> Result<Decision, Rejection> {
    let show = open_show(state)?;
    let reservation_id = *show.tickets.get(&ticket).ok_or(Rejection::TicketNotFound)?;
    let r = reservation(show, reservation_id)?;
    match r.tickets.iter().find(|(t, _)| *t == ticket) {
        Some((_, TicketStatus::Valid)) => {}
        Some(_) => return Err(Rejection::TicketAlreadyCancelled),
        None => return Err(Rejection::TicketNotFound),
    }
    if now >= show.starts_at {
        return Err(Rejection::ShowStarted);
    }
    let refund = show.refund_rule.refund(r.unit_price, show.starts_at, now);
    let wallet_events = on_wallet(
        wallet,
        &r.account,
        SeatsCommand::Refund {
            reservation_id,
            ticket_id: ticket,
            amount: refund,
            reason: RefundReason::CustomerCancelled,
        },
    )?;
    Ok(Decision {
        wallet: wallet_events,
        show: vec![ShowEvent::TicketCancelled(ShowTicketCancelled {
            show: show.id.clone(),
            reservation_id,
            ticket_id: ticket,
            refund,
        })],
    })
}

/// Open reservations whose time is up at `now`, soonest first, at most
/// `max`.
pub fn due_reservations(
    show: &Show,
    now: DateTime<Utc>,
    max: usize,
) -> Vec<(ReservationId, AccountId)> {
    let mut due: Vec<(DateTime<Utc>, ReservationId, AccountId)> = show
        .reservations
        .iter()
        .filter(|(_, r)| r.status == ReservationStatus::Open && r.expires_at <= now)
        .map(|(id, r)| (r.expires_at, *id, r.account.clone()))
        .collect();
    due.sort_unstable_by_key(|(at, id, _)| (*at, *id));
    due.into_iter()
        .take(max)
        .map(|(_, id, account)| (id, account))
        .collect()
}

/// The next part of a show's cancellation: open reservations to release
/// and valid tickets to refund in full (with their price), at most `max`
/// items, in reservation order. Empty when nothing is left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancellationChunk {
    pub reservations: Vec<(ReservationId, AccountId)>,
    pub tickets: Vec<(ReservationId, TicketId, AccountId, i64)>,
}

impl CancellationChunk {
    pub fn is_empty(&self) -> bool {
        self.reservations.is_empty() && self.tickets.is_empty()
    }

    pub fn len(&self) -> usize {
        self.reservations.len() + self.tickets.len()
    }

    /// The wallet commands of this chunk, with the account of each.
    pub fn wallet_commands(&self) -> Vec<(AccountId, SeatsCommand)> {
        let released = self.reservations.iter().map(|(id, account)| {
            let command = SeatsCommand::Release {
                reservation_id: *id,
                reason: ReleaseReason::ShowCancelled,
            };
            (account.clone(), command)
        });
        let refunded = self.tickets.iter().map(|(id, ticket, account, price)| {
            let command = SeatsCommand::Refund {
                reservation_id: *id,
                ticket_id: *ticket,
                amount: *price,
                reason: RefundReason::ShowCancelled,
            };
            (account.clone(), command)
        });
        released.chain(refunded).collect()
    }
}

pub fn cancellation_chunk(show: &Show, max: usize) -> CancellationChunk {
    let mut chunk = CancellationChunk::default();
    for (id, r) in &show.reservations {
        if chunk.len() >= max {
            break;
        }
        match r.status {
            ReservationStatus::Open => chunk.reservations.push((*id, r.account.clone())),
            ReservationStatus::Confirmed => {
                for (ticket, status) in &r.tickets {
                    if chunk.len() >= max {
                        break;
                    }
                    if *status == TicketStatus::Valid {
                        chunk
                            .tickets
                            .push((*id, *ticket, r.account.clone(), r.unit_price));
                    }
                }
            }
            ReservationStatus::Expired | ReservationStatus::Released => {}
        }
    }
    chunk
}

/// The show's side of one cancellation chunk (`progressed`), or, for an
/// empty chunk, the end of the cancellation. Refuses items that are not
/// (or no longer) outstanding, so a chunk recorded twice cannot refund
/// twice.
pub fn decide_cancellation(
    state: &ShowState,
    chunk: &CancellationChunk,
) -> Result<Vec<ShowEvent>, Rejection> {
    let show = state.show.as_ref().ok_or(Rejection::ShowNotFound)?;
    if show.status != ShowStatus::Cancelling {
        return Err(Rejection::ReservationNotOpen {
            status: format!("show {}", show.status.as_str()),
        });
    }
    if chunk.is_empty() {
        return Ok(vec![ShowEvent::CancellationFinished(
            ShowCancellationFinished {
                show: show.id.clone(),
                reservations_released: show.reservations_released,
                tickets_refunded: show.tickets_refunded,
            },
        )]);
    }
    for (id, _) in &chunk.reservations {
        still_open(reservation(show, *id)?)?;
    }
    for (id, ticket, _, _) in &chunk.tickets {
        let r = reservation(show, *id)?;
        if !r
            .tickets
            .iter()
            .any(|(t, s)| t == ticket && *s == TicketStatus::Valid)
        {
            return Err(Rejection::TicketAlreadyCancelled);
        }
    }
    Ok(vec![ShowEvent::CancellationProgressed(
        ShowCancellationProgressed {
            show: show.id.clone(),
            reservations_released: chunk.reservations.iter().map(|(id, _)| *id).collect(),
            tickets_refunded: chunk.tickets.iter().map(|(_, t, _, _)| *t).collect(),
        },
    )])
}

/// The namespace of ticket ids (a fixed, random v4 UUID).
const TICKET_NAMESPACE: Uuid = Uuid::from_u128(0x8d41_3c7e_95b2_4f06_b7e8_1a2c_4d6f_9e03);

/// Seat `index`'s ticket of a reservation: derived, so confirming stays
/// pure and a repeated confirmation names the same tickets.
pub fn ticket_id(reservation: ReservationId, index: u32) -> TicketId {
    let mut name = Vec::with_capacity(20);
    name.extend_from_slice(reservation.as_uuid().as_bytes());
    name.extend_from_slice(&index.to_be_bytes());
    TicketId::from_uuid(Uuid::new_v5(&TICKET_NAMESPACE, &name))
}
