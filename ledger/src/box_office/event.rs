//! A show's events (`show-{id}` streams): past-tense facts with stable
//! type strings, all at version 1 so far, as the markets' are. Every type
//! is prefixed `show_`, so none can collide with a wallet's.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pricing::{PriceStep, RefundRule};
use crate::store::Render;
use crate::{AccountId, Currency, Error, ReservationId, ShowId, TicketId};

/// A tier as scheduled: its seats, base price and pricing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    #[schemars(range(min = 1, max = 100_000))]
    pub capacity: u32,
    #[schemars(range(min = 1))]
    pub base_price: i64,
    #[schemars(length(max = 10))]
    pub steps: Vec<PriceStep>,
}

/// A show put on sale by the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowScheduled {
    pub show: ShowId,
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub currency: Currency,
    #[schemars(length(min = 1, max = 16))]
    pub tiers: Vec<TierSpec>,
    /// Most seats one customer may hold or own at this show, all tiers.
    #[schemars(range(min = 1, max = 100))]
    pub seats_per_customer_max: u32,
    /// How long a reservation holds its seats and money unconfirmed.
    #[schemars(range(min = 1, max = 86_400))]
    pub reservation_ttl_s: u32,
    pub refund_rule: RefundRule,
}

/// A tier's pricing rule replaced; reservations already made keep their price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowPricingChanged {
    pub show: ShowId,
    pub tier: u16,
    #[schemars(length(max = 10))]
    pub steps: Vec<PriceStep>,
}

/// The refund rule replaced; it applies to tickets given back from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowRefundRuleChanged {
    pub show: ShowId,
    pub refund_rule: RefundRule,
}

/// Seats taken off sale for a customer until `expires_at`, at `unit_price`
/// (the price in force when reserved). The wallet's `seats_held` holds
/// the money in the same commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowSeatsReserved {
    pub show: ShowId,
    pub reservation_id: ReservationId,
    pub account: AccountId,
    pub tier: u16,
    #[schemars(range(min = 1))]
    pub seats: u32,
    #[schemars(range(min = 1))]
    pub unit_price: i64,
    pub expires_at: DateTime<Utc>,
}

/// A reservation confirmed: its seats sold, one ticket per seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowReservationConfirmed {
    pub show: ShowId,
    pub reservation_id: ReservationId,
    #[schemars(length(min = 1))]
    pub tickets: Vec<TicketId>,
}

/// A reservation not confirmed in time: its seats back on sale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowReservationExpired {
    pub show: ShowId,
    pub reservation_id: ReservationId,
}

/// A ticket given back by its customer: its seat back on sale, `refund`
/// paid per the refund rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowTicketCancelled {
    pub show: ShowId,
    pub reservation_id: ReservationId,
    pub ticket_id: TicketId,
    #[schemars(range(min = 0))]
    pub refund: i64,
}

/// The operator cancelled the show: nothing more is sold, and the
/// cancellation process refunds and releases everything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowCancelled {
    pub show: ShowId,
}

/// A chunk of the cancellation done, in the same commit as the wallets'
/// events: these reservations released and these tickets refunded in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowCancellationProgressed {
    pub show: ShowId,
    pub reservations_released: Vec<ReservationId>,
    pub tickets_refunded: Vec<TicketId>,
}

/// Nothing left to refund or release: the cancellation is complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShowCancellationFinished {
    pub show: ShowId,
    pub reservations_released: u64,
    pub tickets_refunded: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShowEvent {
    Scheduled(ShowScheduled),
    PricingChanged(ShowPricingChanged),
    RefundRuleChanged(ShowRefundRuleChanged),
    SeatsReserved(ShowSeatsReserved),
    ReservationConfirmed(ShowReservationConfirmed),
    ReservationExpired(ShowReservationExpired),
    TicketCancelled(ShowTicketCancelled),
    Cancelled(ShowCancelled),
    CancellationProgressed(ShowCancellationProgressed),
    CancellationFinished(ShowCancellationFinished),
}

impl ShowEvent {
    pub const SCHEDULED: &'static str = "show_scheduled";
    pub const PRICING_CHANGED: &'static str = "show_pricing_changed";
    pub const REFUND_RULE_CHANGED: &'static str = "show_refund_rule_changed";
    pub const SEATS_RESERVED: &'static str = "show_seats_reserved";
    pub const RESERVATION_CONFIRMED: &'static str = "show_reservation_confirmed";
    pub const RESERVATION_EXPIRED: &'static str = "show_reservation_expired";
    pub const TICKET_CANCELLED: &'static str = "show_ticket_cancelled";
    pub const CANCELLED: &'static str = "show_cancelled";
    pub const CANCELLATION_PROGRESSED: &'static str = "show_cancellation_progressed";
    pub const CANCELLATION_FINISHED: &'static str = "show_cancellation_finished";

    /// Every show event type.
    pub const TYPES: [&'static str; 10] = [
        Self::SCHEDULED,
        Self::PRICING_CHANGED,
        Self::REFUND_RULE_CHANGED,
        Self::SEATS_RESERVED,
        Self::RESERVATION_CONFIRMED,
        Self::RESERVATION_EXPIRED,
        Self::TICKET_CANCELLED,
        Self::CANCELLED,
        Self::CANCELLATION_PROGRESSED,
        Self::CANCELLATION_FINISHED,
    ];

    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Scheduled(_) => Self::SCHEDULED,
            Self::PricingChanged(_) => Self::PRICING_CHANGED,
            Self::RefundRuleChanged(_) => Self::REFUND_RULE_CHANGED,
            Self::SeatsReserved(_) => Self::SEATS_RESERVED,
            Self::ReservationConfirmed(_) => Self::RESERVATION_CONFIRMED,
            Self::ReservationExpired(_) => Self::RESERVATION_EXPIRED,
            Self::TicketCancelled(_) => Self::TICKET_CANCELLED,
            Self::Cancelled(_) => Self::CANCELLED,
            Self::CancellationProgressed(_) => Self::CANCELLATION_PROGRESSED,
            Self::CancellationFinished(_) => Self::CANCELLATION_FINISHED,
        }
    }

    pub fn schema_version(&self) -> i32 {
        CURRENT_VERSION
    }

    /// The schema version this build writes for `event_type`, or `None` when
    /// it is not a show event type.
    pub fn current_version(event_type: &str) -> Option<i32> {
        Self::TYPES.contains(&event_type).then_some(CURRENT_VERSION)
    }

    crate::store::payload_renderings!();

    fn render<R: Render>(&self) -> R::Out {
        match self {
            Self::Scheduled(e) => R::render(e),
            Self::PricingChanged(e) => R::render(e),
            Self::RefundRuleChanged(e) => R::render(e),
            Self::SeatsReserved(e) => R::render(e),
            Self::ReservationConfirmed(e) => R::render(e),
            Self::ReservationExpired(e) => R::render(e),
            Self::TicketCancelled(e) => R::render(e),
            Self::Cancelled(e) => R::render(e),
            Self::CancellationProgressed(e) => R::render(e),
            Self::CancellationFinished(e) => R::render(e),
        }
    }

    /// Reads a stored event back. Every show type is at version 1, so there
    /// is nothing to upcast yet; a newer version is an error.
    pub fn from_stored(
        event_type: &str,
        schema_version: i32,
        payload: &serde_json::Value,
    ) -> Result<Self, Error> {
        check_version(event_type, schema_version)?;
        parse(event_type, payload).map_err(|source| Error::Decode {
            event_type: event_type.to_owned(),
            schema_version,
            source,
        })
    }

    /// Reads an event from its payload's JSON text.
    pub fn from_json(event_type: &str, schema_version: i32, json: &str) -> Result<Self, Error> {
        check_version(event_type, schema_version)?;
        let mut deserializer = serde_json::Deserializer::from_str(json);
        parse(event_type, &mut deserializer)
            .and_then(|event| deserializer.end().map(|()| event))
            .map_err(|source| Error::Decode {
                event_type: event_type.to_owned(),
                schema_version,
                source,
            })
    }
}

const CURRENT_VERSION: i32 = 1;

fn check_version(event_type: &str, schema_version: i32) -> Result<(), Error> {
    match ShowEvent::current_version(event_type) {
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
) -> Result<ShowEvent, D::Error> {
    Ok(match event_type {
        ShowEvent::SCHEDULED => ShowEvent::Scheduled(ShowScheduled::deserialize(payload)?),
        ShowEvent::PRICING_CHANGED => {
            ShowEvent::PricingChanged(ShowPricingChanged::deserialize(payload)?)
        }
        ShowEvent::REFUND_RULE_CHANGED => {
            ShowEvent::RefundRuleChanged(ShowRefundRuleChanged::deserialize(payload)?)
        }
        ShowEvent::SEATS_RESERVED => {
            ShowEvent::SeatsReserved(ShowSeatsReserved::deserialize(payload)?)
        }
        ShowEvent::RESERVATION_CONFIRMED => {
            ShowEvent::ReservationConfirmed(ShowReservationConfirmed::deserialize(payload)?)
        }
        ShowEvent::RESERVATION_EXPIRED => {
            ShowEvent::ReservationExpired(ShowReservationExpired::deserialize(payload)?)
        }
        ShowEvent::TICKET_CANCELLED => {
            ShowEvent::TicketCancelled(ShowTicketCancelled::deserialize(payload)?)
        }
        ShowEvent::CANCELLED => ShowEvent::Cancelled(ShowCancelled::deserialize(payload)?),
        ShowEvent::CANCELLATION_PROGRESSED => {
            ShowEvent::CancellationProgressed(ShowCancellationProgressed::deserialize(payload)?)
        }
        ShowEvent::CANCELLATION_FINISHED => {
            ShowEvent::CancellationFinished(ShowCancellationFinished::deserialize(payload)?)
        }
        other => {
            return Err(serde::de::Error::custom(format!(
                "{other} is not a show event type"
            )))
        }
    })
}
