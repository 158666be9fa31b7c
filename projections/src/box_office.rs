//! The box office's read models (migration `0011_box_office_read_models.sql`),
//! as one projection, `box_office`, with a checkpoint of its own:
//!
//! - `shows`: each show as scheduled, and its status;
//! - `show_tiers`: each tier's seats sold, reserved and left, and the price
//!   a reservation made now would pay;
//! - `show_reservations` and `tickets`: who holds what, at what price, and
//!   what a ticket given back returned.
//!
//! A tier's price is the ledger's pricing rule applied to the row's seats
//! taken (`ledger::box_office::Tier::current_price`), so a tier change
//! reads its row, applies the change in Rust and writes the row back, all
//! guarded by the row's position: an event at or before it was applied
//! already and changes nothing. The money (holds, sales, refunds) reaches
//! the balances and statements through the wallets' events on its own.

use std::collections::BTreeMap;

use ledger::box_office::pricing::PriceStep;
use ledger::box_office::{ShowEvent, Tier};
use ledger::store::LogEvent;
use ledger::{ShowId, TicketId};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::runner::Projection;
use crate::Error;

/// The checkpoint key of [`BoxOffice`].
pub const BOX_OFFICE: &str = "box_office";

/// Keeps `shows`, `show_tiers`, `show_reservations` and `tickets`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BoxOffice;

impl Projection for BoxOffice {
    fn name(&self) -> &str {
        BOX_OFFICE
    }

    fn tables(&self) -> &'static [&'static str] {
        &["shows", "show_tiers", "show_reservations", "tickets"]
    }

    /// Shows' and seats' events are a small share of the log.
    fn sparse(&self) -> bool {
        true
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[LogEvent],
    ) -> Result<(), Error> {
        for recorded in events {
            let event_type = recorded.event_type.as_str();
            if !ShowEvent::TYPES.contains(&event_type) {
                continue;
            }
            let event =
                ShowEvent::from_json(event_type, recorded.schema_version, recorded.payload.get())
                    .map_err(|source| Error::Event {
                    position: recorded.global_position,
                    event_type: recorded.event_type.clone(),
                    source,
                })?;
            apply_show(tx, recorded, &event).await?;
        }
        Ok(())
    }
}

/// Seats a tier gains (or, negative, gives back) in one event.
#[derive(Default, Clone, Copy)]
struct Seats {
    reserved: i64,
    sold: i64,
}

type Changes = BTreeMap<i16, Seats>;

async fn apply_show(
    tx: &mut Transaction<'_, Postgres>,
    at: &LogEvent,
    event: &ShowEvent,
) -> Result<(), Error> {
    let mut changes = Changes::new();
    let (show, status) = match event {
        ShowEvent::Scheduled(e) => {
            schedule(tx, at, e).await?;
            return Ok(());
        }
        ShowEvent::PricingChanged(e) => {
            let steps = e.steps.clone();
            change_tier(tx, &e.show, tier_index(e.tier), at, |t| t.steps = steps).await?;
            (&e.show, None)
        }
        ShowEvent::RefundRuleChanged(e) => (&e.show, None),
        ShowEvent::SeatsReserved(e) => {
            let inserted = sqlx::query(include_str!("box_office/reserve.sql"))
                .bind(e.reservation_id.as_uuid())
                .bind(e.show.as_str())
                .bind(tier_index(e.tier))
                .bind(e.account.as_str())
                .bind(count(e.seats))
                .bind(e.unit_price)
                .bind(e.expires_at)
                .bind(at.global_position)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            if inserted == 1 {
                changes.entry(tier_index(e.tier)).or_default().reserved += i64::from(e.seats);
            }
            (&e.show, None)
        }
        ShowEvent::ReservationConfirmed(e) => {
            let tickets: Vec<Uuid> = e.tickets.iter().map(TicketId::as_uuid).collect();
            let confirmed: Option<(i16, i32)> =
                sqlx::query_as(include_str!("box_office/confirm.sql"))
                    .bind(e.reservation_id.as_uuid())
                    .bind(&tickets)
                    .bind(at.recorded_at)
                    .bind(at.global_position)
                    .fetch_optional(&mut **tx)
                    .await?;
            if let Some((tier, seats)) = confirmed {
                let c = changes.entry(tier).or_default();
                c.reserved -= i64::from(seats);
                c.sold += i64::from(seats);
            }
            (&e.show, None)
        }
        ShowEvent::ReservationExpired(e) => {
            release(
                tx,
                &[e.reservation_id.as_uuid()],
                "expired",
                at,
                &mut changes,
            )
            .await?;
            (&e.show, None)
        }
        ShowEvent::TicketCancelled(e) => {
            refund(
                tx,
                &[e.ticket_id.as_uuid()],
                Some(e.refund),
                at,
                &mut changes,
            )
            .await?;
            (&e.show, None)
        }
        ShowEvent::Cancelled(e) => (&e.show, Some("cancelling")),
        ShowEvent::CancellationProgressed(e) => {
            let released: Vec<Uuid> = e
                .reservations_released
                .iter()
                .map(|r| r.as_uuid())
                .collect();
            release(tx, &released, "released", at, &mut changes).await?;
            let refunded: Vec<Uuid> = e.tickets_refunded.iter().map(TicketId::as_uuid).collect();
            // A show's cancellation refunds a ticket's full price.
            refund(tx, &refunded, None, at, &mut changes).await?;
            (&e.show, None)
        }
        ShowEvent::CancellationFinished(e) => (&e.show, Some("cancelled")),
    };
    for (tier, seats) in changes {
        change_tier(tx, show, tier, at, |t| {
            t.reserved = shift(t.reserved, seats.reserved);
            t.sold = shift(t.sold, seats.sold);
        })
        .await?;
    }
    sqlx::query(include_str!("box_office/touch.sql"))
        .bind(show.as_str())
        .bind(status)
        .bind(at.stream_version)
        .bind(at.global_position)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

async fn schedule(
    tx: &mut Transaction<'_, Postgres>,
    at: &LogEvent,
    e: &ledger::box_office::ShowScheduled,
) -> Result<(), Error> {
    sqlx::query(include_str!("box_office/schedule.sql"))
        .bind(e.show.as_str())
        .bind(&e.name)
        .bind(e.starts_at)
        .bind(e.currency.as_str())
        .bind(count(e.seats_per_customer_max))
        .bind(count(e.reservation_ttl_s))
        .bind(at.stream_version)
        .bind(at.global_position)
        .execute(&mut **tx)
        .await?;
    for (index, spec) in e.tiers.iter().enumerate() {
        let tier = Tier {
            name: spec.name.clone(),
            capacity: spec.capacity,
            base_price: spec.base_price,
            steps: spec.steps.clone(),
            reserved: 0,
            sold: 0,
        };
        sqlx::query(include_str!("box_office/insert_tier.sql"))
            .bind(e.show.as_str())
            .bind(i16::try_from(index).unwrap_or(i16::MAX))
            .bind(&tier.name)
            .bind(count(tier.capacity))
            .bind(tier.base_price)
            .bind(Json(&tier.steps))
            .bind(count(tier.seats_left()))
            .bind(tier.current_price())
            .bind(at.global_position)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Open reservations let go (`expired` or `released`): their seats back.
async fn release(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[Uuid],
    status: &str,
    at: &LogEvent,
    changes: &mut Changes,
) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let released: Vec<(i16, i32)> = sqlx::query_as(include_str!("box_office/release.sql"))
        .bind(ids)
        .bind(status)
        .bind(at.global_position)
        .fetch_all(&mut **tx)
        .await?;
    for (tier, seats) in released {
        changes.entry(tier).or_default().reserved -= i64::from(seats);
    }
    Ok(())
}

/// Issued tickets refunded (`refund`, or their price when `None`): one
/// seat back each.
async fn refund(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[Uuid],
    refund: Option<i64>,
    at: &LogEvent,
    changes: &mut Changes,
) -> Result<(), Error> {
    if ids.is_empty() {
        return Ok(());
    }
    let refunded: Vec<(i16,)> = sqlx::query_as(include_str!("box_office/refund.sql"))
        .bind(ids)
        .bind(refund)
        .bind(at.global_position)
        .fetch_all(&mut **tx)
        .await?;
    for (tier,) in refunded {
        changes.entry(tier).or_default().sold -= 1;
    }
    Ok(())
}

/// Reads a tier, changes it, and writes it back with its seats left and
/// the price in force, unless this event was applied to it already.
async fn change_tier(
    tx: &mut Transaction<'_, Postgres>,
    show: &ShowId,
    index: i16,
    at: &LogEvent,
    change: impl FnOnce(&mut Tier),
) -> Result<(), Error> {
    type Row = (String, i32, i64, Json<Vec<PriceStep>>, i32, i32, i64);
    let row: Option<Row> = sqlx::query_as(include_str!("box_office/load_tier.sql"))
        .bind(show.as_str())
        .bind(index)
        .fetch_optional(&mut **tx)
        .await?;
    let Some((name, capacity, base_price, Json(steps), sold, reserved, position)) = row else {
        return Ok(());
    };
    if position >= at.global_position {
        return Ok(());
    }
    let mut tier = Tier {
        name,
        capacity: natural(capacity),
        base_price,
        steps,
        reserved: natural(reserved),
        sold: natural(sold),
    };
    change(&mut tier);
    sqlx::query(include_str!("box_office/write_tier.sql"))
        .bind(show.as_str())
        .bind(index)
        .bind(Json(&tier.steps))
        .bind(count(tier.sold))
        .bind(count(tier.reserved))
        .bind(count(tier.seats_left()))
        .bind(tier.current_price())
        .bind(at.global_position)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn tier_index(tier: u16) -> i16 {
    i16::try_from(tier).unwrap_or(i16::MAX)
}

/// Seats and seconds are bounded far below `i32::MAX` by the domain.
fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn natural(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

fn shift(n: u32, by: i64) -> u32 {
    u32::try_from((i64::from(n) + by).max(0)).unwrap_or(u32::MAX)
}
