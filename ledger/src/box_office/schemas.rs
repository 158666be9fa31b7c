//! The JSON Schema of every show event type at the version this build
//! writes, generated into `schemas/events/` beside the wallet's and the
//! markets' (`ledger/tests/event_schemas.rs` keeps them fresh).

use schemars::JsonSchema;

use super::event::{
    ShowCancellationFinished, ShowCancellationProgressed, ShowCancelled, ShowEvent,
    ShowPricingChanged, ShowRefundRuleChanged, ShowReservationConfirmed, ShowReservationExpired,
    ShowScheduled, ShowSeatsReserved, ShowTicketCancelled,
};
use crate::wallet::schemas::{event_schema, EventSchema};

/// The schema of every show event type at its current version.
pub fn all() -> Vec<EventSchema> {
    vec![
        schema::<ShowScheduled>(
            ShowEvent::SCHEDULED,
            "A show put on sale: its tiers (capacity, base price, pricing steps by \
             occupancy), the per-customer seat limit, the reservation time and the refund rule.",
        ),
        schema::<ShowPricingChanged>(
            ShowEvent::PRICING_CHANGED,
            "A tier's pricing steps replaced; reservations already made keep their price.",
        ),
        schema::<ShowRefundRuleChanged>(
            ShowEvent::REFUND_RULE_CHANGED,
            "The show's refund rule replaced, for tickets given back from now on.",
        ),
        schema::<ShowSeatsReserved>(
            ShowEvent::SEATS_RESERVED,
            "Seats held for a customer until `expires_at` at `unit_price`, the price in force; \
             the wallet's `seats_held` holds the money in the same commit.",
        ),
        schema::<ShowReservationConfirmed>(
            ShowEvent::RESERVATION_CONFIRMED,
            "A reservation confirmed: its seats sold, one ticket per seat.",
        ),
        schema::<ShowReservationExpired>(
            ShowEvent::RESERVATION_EXPIRED,
            "A reservation not confirmed in time: its seats back on sale.",
        ),
        schema::<ShowTicketCancelled>(
            ShowEvent::TICKET_CANCELLED,
            "A ticket given back by its customer before the show: its seat back on sale, \
             `refund` paid per the refund rule.",
        ),
        schema::<ShowCancelled>(
            ShowEvent::CANCELLED,
            "The show cancelled by the operator: nothing more is sold; the cancellation \
             process releases every reservation and refunds every ticket.",
        ),
        schema::<ShowCancellationProgressed>(
            ShowEvent::CANCELLATION_PROGRESSED,
            "A chunk of a cancellation done, committed with the wallets' events: these \
             reservations released, these tickets refunded in full.",
        ),
        schema::<ShowCancellationFinished>(
            ShowEvent::CANCELLATION_FINISHED,
            "A cancellation complete: every reservation released, every ticket refunded.",
        ),
    ]
}

fn schema<T: JsonSchema>(event_type: &'static str, description: &str) -> EventSchema {
    let version = ShowEvent::current_version(event_type).unwrap_or(0);
    event_schema::<T>(event_type, version, description)
}
