//! The box office: casino shows (`show-{id}` streams) with seat tiers whose
//! price rises with occupancy, reservations that hold seats and money
//! together until confirmed or expired, tickets, refunds, and the
//! cancellation of a whole show.
//!
//! The show's stream is its seat inventory, the aggregate that contends:
//! every reservation is decided against it, so however many customers
//! reserve at once, no tier sells more seats than it has. A command that
//! moves money (`decide_reserve`, `decide_confirm`, `decide_expire`,
//! `decide_cancel_ticket`) decides the show's and the wallet's events
//! together, for the caller to append as one group. All of it is pure.

mod decide;
mod event;
pub mod pricing;
pub mod schemas;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

pub use decide::{
    cancellation_chunk, decide_cancel_ticket, decide_cancellation, decide_confirm, decide_expire,
    decide_reserve, decide_show, due_reservations, ticket_id, CancellationChunk, Decision, Reserve,
    ShowCommand, NAME_LEN_MAX, RESERVATION_TTL_S_DEFAULT, SEATS_PER_CUSTOMER_MAX, TIERS_MAX,
    TIER_CAPACITY_MAX,
};
pub use event::{
    ShowCancellationFinished, ShowCancellationProgressed, ShowCancelled, ShowEvent,
    ShowPricingChanged, ShowRefundRuleChanged, ShowReservationConfirmed, ShowReservationExpired,
    ShowScheduled, ShowSeatsReserved, ShowTicketCancelled, TierSpec,
};
use pricing::{PriceStep, RefundRule};

use crate::{AccountId, Currency, ReservationId, ShowId, TicketId};

/// A tier and how many of its seats are held (reserved, not yet
/// confirmed) and sold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tier {
    pub name: String,
    pub capacity: u32,
    pub base_price: i64,
    pub steps: Vec<PriceStep>,
    pub reserved: u32,
    pub sold: u32,
}

impl Tier {
    /// Seats held or sold: what the price's occupancy counts.
    pub fn taken(&self) -> u32 {
        self.reserved.saturating_add(self.sold)
    }

    pub fn seats_left(&self) -> u32 {
        self.capacity.saturating_sub(self.taken())
    }

    /// The price a reservation made now would pay per seat.
    pub fn current_price(&self) -> i64 {
        pricing::unit_price(self.base_price, &self.steps, self.taken(), self.capacity)
            .unwrap_or(i64::MAX)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationStatus {
    Open,
    Confirmed,
    Expired,
    /// Released by the show's cancellation.
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Confirmed => "confirmed",
            Self::Expired => "expired",
            Self::Released => "released",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketStatus {
    Valid,
    /// Given back by the customer, `refund` paid.
    Cancelled {
        refund: i64,
    },
    /// Refunded in full by the show's cancellation.
    Refunded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub account: AccountId,
    pub tier: u16,
    pub seats: u32,
    pub unit_price: i64,
    pub expires_at: DateTime<Utc>,
    pub status: ReservationStatus,
    /// Once confirmed: one ticket per seat.
    pub tickets: Vec<(TicketId, TicketStatus)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowStatus {
    OnSale,
    /// Cancelled by the operator; the cancellation process is refunding.
    Cancelling,
    Cancelled,
}

impl ShowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnSale => "on_sale",
            Self::Cancelling => "cancelling",
            Self::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Show {
    pub id: ShowId,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub currency: Currency,
    pub tiers: Vec<Tier>,
    pub seats_per_customer_max: u32,
    pub reservation_ttl_s: u32,
    pub refund_rule: RefundRule,
    pub status: ShowStatus,
    /// Every reservation ever made, in id order (ids are time-ordered), so
    /// the cancellation walks them in a stable order.
    pub reservations: BTreeMap<ReservationId, Reservation>,
    pub tickets: HashMap<TicketId, ReservationId>,
    /// Seats each customer holds or owns (open and confirmed, not given back).
    pub seats_by_account: HashMap<AccountId, u32>,
    /// Money held by open reservations, and kept by the box office
    /// (confirmed less refunded), in minor units.
    pub money_held: i64,
    pub money_taken: i64,
    pub reservations_released: u64,
    pub tickets_refunded: u64,
}

impl Show {
    pub fn tier(&self, tier: u16) -> Option<&Tier> {
        self.tiers.get(usize::from(tier))
    }

    /// When the next open reservation expires.
    pub fn next_expiry(&self) -> Option<DateTime<Utc>> {
        self.reservations
            .values()
            .filter(|r| r.status == ReservationStatus::Open)
            .map(|r| r.expires_at)
            .min()
    }
}

/// A show stream's state: nothing until it is scheduled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShowState {
    pub show: Option<Show>,
}

impl ShowState {
    /// Folds one event into the state. Events are decided facts: counts
    /// saturate rather than fail, `decide` having refused what would not fit.
    pub fn evolve(mut self, event: &ShowEvent) -> Self {
        if let ShowEvent::Scheduled(e) = event {
            self.show = Some(scheduled(e));
            return self;
        }
        if let Some(show) = self.show.as_mut() {
            apply(show, event);
        }
        self
    }
}

fn scheduled(e: &ShowScheduled) -> Show {
    Show {
        id: e.show.clone(),
        name: e.name.clone(),
        starts_at: e.starts_at,
        currency: e.currency,
        tiers: e
            .tiers
            .iter()
            .map(|t| Tier {
                name: t.name.clone(),
                capacity: t.capacity,
                base_price: t.base_price,
                steps: t.steps.clone(),
                reserved: 0,
                sold: 0,
            })
            .collect(),
        seats_per_customer_max: e.seats_per_customer_max,
        reservation_ttl_s: e.reservation_ttl_s,
        refund_rule: e.refund_rule,
        status: ShowStatus::OnSale,
        reservations: BTreeMap::new(),
        tickets: HashMap::new(),
        seats_by_account: HashMap::new(),
        money_held: 0,
        money_taken: 0,
        reservations_released: 0,
        tickets_refunded: 0,
    }
}

fn apply(show: &mut Show, event: &ShowEvent) {
    match event {
        ShowEvent::Scheduled(_) => {}
        ShowEvent::PricingChanged(e) => {
            if let Some(tier) = show.tiers.get_mut(usize::from(e.tier)) {
                tier.steps.clone_from(&e.steps);
            }
        }
        ShowEvent::RefundRuleChanged(e) => show.refund_rule = e.refund_rule,
        ShowEvent::SeatsReserved(e) => reserved(show, e),
        ShowEvent::ReservationConfirmed(e) => confirmed(show, e),
        ShowEvent::ReservationExpired(e) => {
            release(show, e.reservation_id, ReservationStatus::Expired);
        }
        ShowEvent::TicketCancelled(e) => {
            ticket_back(show, e.reservation_id, e.ticket_id, e.refund, false);
        }
        ShowEvent::Cancelled(_) => show.status = ShowStatus::Cancelling,
        ShowEvent::CancellationProgressed(e) => {
            for id in &e.reservations_released {
                release(show, *id, ReservationStatus::Released);
            }
            for ticket in &e.tickets_refunded {
                if let Some(reservation) = show.tickets.get(ticket).copied() {
                    let price = show
                        .reservations
                        .get(&reservation)
                        .map_or(0, |r| r.unit_price);
                    ticket_back(show, reservation, *ticket, price, true);
                }
            }
        }
        ShowEvent::CancellationFinished(_) => show.status = ShowStatus::Cancelled,
    }
}

fn reserved(show: &mut Show, e: &ShowSeatsReserved) {
    if let Some(tier) = show.tiers.get_mut(usize::from(e.tier)) {
        tier.reserved = tier.reserved.saturating_add(e.seats);
    }
    *show.seats_by_account.entry(e.account.clone()).or_default() += e.seats;
    show.money_held = show
        .money_held
        .saturating_add(e.unit_price.saturating_mul(i64::from(e.seats)));
    show.reservations.insert(
        e.reservation_id,
        Reservation {
            account: e.account.clone(),
            tier: e.tier,
            seats: e.seats,
            unit_price: e.unit_price,
            expires_at: e.expires_at,
            status: ReservationStatus::Open,
            tickets: Vec::new(),
        },
    );
}

fn confirmed(show: &mut Show, e: &ShowReservationConfirmed) {
    let Some(r) = show.reservations.get_mut(&e.reservation_id) else {
        return;
    };
    if r.status != ReservationStatus::Open {
        return;
    }
    r.status = ReservationStatus::Confirmed;
    r.tickets = e
        .tickets
        .iter()
        .map(|t| (*t, TicketStatus::Valid))
        .collect();
    let money = r.unit_price.saturating_mul(i64::from(r.seats));
    if let Some(tier) = show.tiers.get_mut(usize::from(r.tier)) {
        tier.reserved = tier.reserved.saturating_sub(r.seats);
        tier.sold = tier.sold.saturating_add(r.seats);
    }
    for t in &e.tickets {
        show.tickets.insert(*t, e.reservation_id);
    }
    show.money_held = show.money_held.saturating_sub(money);
    show.money_taken = show.money_taken.saturating_add(money);
}

fn release(show: &mut Show, id: ReservationId, status: ReservationStatus) {
    let Some(r) = show.reservations.get_mut(&id) else {
        return;
    };
    if r.status != ReservationStatus::Open {
        return;
    }
    r.status = status;
    if let Some(tier) = show.tiers.get_mut(usize::from(r.tier)) {
        tier.reserved = tier.reserved.saturating_sub(r.seats);
    }
    if let Some(held) = show.seats_by_account.get_mut(&r.account) {
        *held = held.saturating_sub(r.seats);
    }
    show.money_held = show
        .money_held
        .saturating_sub(r.unit_price.saturating_mul(i64::from(r.seats)));
    if status == ReservationStatus::Released {
        show.reservations_released += 1;
    }
}

fn ticket_back(show: &mut Show, id: ReservationId, ticket: TicketId, refund: i64, full: bool) {
    let Some(r) = show.reservations.get_mut(&id) else {
        return;
    };
    let Some(slot) = r
        .tickets
        .iter_mut()
        .find(|(t, s)| *t == ticket && *s == TicketStatus::Valid)
    else {
        return;
    };
    slot.1 = if full {
        TicketStatus::Refunded
    } else {
        TicketStatus::Cancelled { refund }
    };
    if let Some(tier) = show.tiers.get_mut(usize::from(r.tier)) {
        tier.sold = tier.sold.saturating_sub(1);
    }
    if let Some(held) = show.seats_by_account.get_mut(&r.account) {
        *held = held.saturating_sub(1);
    }
    show.money_taken = show.money_taken.saturating_sub(refund);
    if full {
        show.tickets_refunded += 1;
    }
}

/// Folds events into state from scratch.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a ShowEvent>) -> ShowState {
    events
        .into_iter()
        .fold(ShowState::default(), ShowState::evolve)
}

#[cfg(test)]
mod tests;
