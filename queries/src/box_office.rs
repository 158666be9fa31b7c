//! The box office's part of the query root, over the `box_office` read
//! models (migration `0011_box_office_read_models.sql`): `show(id)` and
//! `shows(first, after)` with each tier's seats and the price in force,
//! and each account's tickets (`Account.tickets`, resolved here).

use std::collections::HashMap;

use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::accounts::{
    before_every_time_id, decode_time_id_cursor, page_complexity, page_items, read_models,
    split_page, wait_at_least, Account, TimeIdCursor,
};
use crate::QueryError;

/// What `show` and `shows` wait for with `atLeast`.
const BOX_OFFICE: [&str; 1] = [projections::box_office::BOX_OFFICE];

/// The cursor of `shows`: the last show's start time (microseconds since
/// the epoch) and id.
type ShowCursor = TimeIdCursor;

/// The cursor of `Account.tickets`: the last ticket's issuing position and
/// id (one confirmation issues several tickets at one position).
pub type TicketCursor = OpaqueCursor<(i64, String)>;

#[derive(Default)]
pub struct BoxOfficeQuery;

#[Object]
impl BoxOfficeQuery {
    /// One show with its tiers, or null if the read model has no such show
    /// (yet: pass `atLeast` to read your own writes).
    async fn show(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The show's id, as the operator scheduled it.")] id: ID,
        #[graphql(
            desc = "Read your writes: the global position a command returned. The query \
                    waits (bounded) until the read model has applied it, and fails with \
                    code `projection_behind` if it has not in time."
        )]
        at_least: Option<i64>,
    ) -> async_graphql::Result<Option<Show>> {
        async {
            let models = read_models(ctx)?;
            let id =
                ledger::ShowId::parse(&id).map_err(|r| QueryError::invalid("id", r.to_string()))?;
            wait_at_least(models, at_least, &BOX_OFFICE).await?;
            let row = sqlx::query(include_str!("box_office/show.sql"))
                .bind(id.as_str())
                .fetch_optional(&models.pool)
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let mut shows = with_tiers(&models.pool, vec![row]).await?;
            Ok(shows.pop())
        }
        .await
        .map_err(QueryError::into_graphql)
    }

    /// Shows in the order they start (then by id).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn shows(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items on this page: 20 when omitted, at most 100 (more is cut to 100).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(
            desc = "Read your writes: the global position a command returned. The query \
                    waits (bounded) until the read model has applied it, and fails with \
                    code `projection_behind` if it has not in time."
        )]
        at_least: Option<i64>,
    ) -> async_graphql::Result<Connection<ShowCursor, Show>> {
        async {
            let models = read_models(ctx)?;
            let first = page_items(first)?;
            let after = after.as_deref().map(decode_time_id_cursor).transpose()?;
            let has_previous = after.is_some();
            let (starts_at, id) = after.unwrap_or_else(before_every_time_id);
            wait_at_least(models, at_least, &BOX_OFFICE).await?;
            let rows = sqlx::query(include_str!("box_office/shows_page.sql"))
                .bind(starts_at)
                .bind(id)
                .bind(first + 1)
                .fetch_all(&models.pool)
                .await?;
            let (rows, has_next) = split_page(rows, first);
            let mut connection = Connection::new(has_previous, has_next);
            for show in with_tiers(&models.pool, rows).await? {
                let cursor = OpaqueCursor((show.starts_at.timestamp_micros(), show.id.to_string()));
                connection.edges.push(Edge::new(cursor, show));
            }
            Ok(connection)
        }
        .await
        .map_err(QueryError::into_graphql)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum ShowStatus {
    /// Selling seats.
    OnSale,
    /// Cancelled by the operator; reservations and tickets being refunded.
    Cancelling,
    /// Cancelled, everything refunded.
    Cancelled,
}

/// A show. Money is in minor units of its currency, 64-bit.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Show {
    pub id: ID,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub currency: String,
    pub status: ShowStatus,
    /// Most seats one customer may hold or own at this show, all tiers.
    pub seats_per_customer_max: i32,
    /// How long a reservation holds its seats unconfirmed, in seconds.
    pub reservation_ttl_s: i32,
    pub tiers: Vec<ShowTier>,
    /// The show stream's version after the last event applied.
    pub version: i64,
}

/// One tier of a show's seats.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct ShowTier {
    /// Its index: a reservation names its tier by it.
    pub index: i32,
    pub name: String,
    pub capacity: i32,
    /// Seats sold (confirmed and not given back).
    pub sold: i32,
    /// Seats held by open reservations.
    pub reserved: i32,
    pub seats_left: i32,
    /// What a reservation made now would pay per seat: the base price
    /// raised by the last pricing step the seats taken reached.
    pub current_price: i64,
}

/// A ticket: one seat of a confirmed reservation.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Ticket {
    pub id: ID,
    pub reservation: ID,
    pub show: ID,
    pub tier: i32,
    /// What the seat cost: the price in force when it was reserved.
    pub price: i64,
    pub status: TicketStatus,
    /// What was paid back: per the refund rule when given back, the full
    /// price when the show was cancelled; 0 while issued.
    pub refund: i64,
    pub issued_at: DateTime<Utc>,
    /// The global position of the confirmation that issued it.
    pub issued_position: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum TicketStatus {
    /// Valid for the show.
    Issued,
    /// Given back, or refunded by the show's cancellation.
    Refunded,
}

fn show_status(text: &str) -> Result<ShowStatus, QueryError> {
    Ok(match text {
        "on_sale" => ShowStatus::OnSale,
        "cancelling" => ShowStatus::Cancelling,
        "cancelled" => ShowStatus::Cancelled,
        other => {
            return Err(QueryError::Internal(
                format!("show status {other:?}").into(),
            ))
        }
    })
}

/// The shows of `rows` with their tiers, read in one query.
async fn with_tiers(pool: &PgPool, rows: Vec<PgRow>) -> Result<Vec<Show>, QueryError> {
    let ids = rows
        .iter()
        .map(|r| r.try_get("show_id"))
        .collect::<Result<Vec<String>, _>>()?;
    let mut tiers: HashMap<String, Vec<ShowTier>> = HashMap::new();
    for row in sqlx::query(include_str!("box_office/tiers.sql"))
        .bind(&ids)
        .fetch_all(pool)
        .await?
    {
        let index: i16 = row.try_get("tier")?;
        tiers
            .entry(row.try_get("show_id")?)
            .or_default()
            .push(ShowTier {
                index: i32::from(index),
                name: row.try_get("name")?,
                capacity: row.try_get("capacity")?,
                sold: row.try_get("sold")?,
                reserved: row.try_get("reserved")?,
                seats_left: row.try_get("seats_left")?,
                current_price: row.try_get("current_price")?,
            });
    }
    rows.iter()
        .zip(ids)
        .map(|(row, id)| {
            Ok(Show {
                tiers: tiers.remove(&id).unwrap_or_default(),
                id: ID(id),
                name: row.try_get("name")?,
                starts_at: row.try_get("starts_at")?,
                currency: row.try_get("currency")?,
                status: show_status(&row.try_get::<String, _>("status")?)?,
                seats_per_customer_max: row.try_get("seats_per_customer_max")?,
                reservation_ttl_s: row.try_get("reservation_ttl_s")?,
                version: row.try_get("version")?,
            })
        })
        .collect()
}

/// `Account.tickets`: the account's tickets for shows in its currency,
/// newest first.
pub(crate) async fn tickets_page(
    pool: &PgPool,
    account: &Account,
    first: i64,
    after: Option<TicketCursor>,
) -> Result<Connection<TicketCursor, Ticket>, QueryError> {
    let has_previous = after.is_some();
    let (position, id) = match after {
        Some(OpaqueCursor((position, id))) => (
            position,
            Uuid::parse_str(&id)
                .map_err(|_| QueryError::invalid("after", "not a cursor of tickets"))?,
        ),
        None => (i64::MAX, Uuid::max()),
    };
    let rows = sqlx::query(include_str!("box_office/tickets_page.sql"))
        .bind(&account.id)
        .bind(&account.currency)
        .bind(position)
        .bind(id)
        .bind(first + 1)
        .fetch_all(pool)
        .await?;
    let (rows, has_next) = split_page(rows, first);
    let mut connection = Connection::new(has_previous, has_next);
    for row in &rows {
        let status = match row.try_get::<String, _>("status")?.as_str() {
            "issued" => TicketStatus::Issued,
            "refunded" => TicketStatus::Refunded,
            other => {
                return Err(QueryError::Internal(
                    format!("ticket status {other:?}").into(),
                ))
            }
        };
        let tier: i16 = row.try_get("tier")?;
        let ticket = Ticket {
            id: ID(row.try_get::<Uuid, _>("ticket_id")?.to_string()),
            reservation: ID(row.try_get::<Uuid, _>("reservation_id")?.to_string()),
            show: ID(row.try_get("show_id")?),
            tier: i32::from(tier),
            price: row.try_get("price")?,
            status,
            refund: row.try_get("refund")?,
            issued_at: row.try_get("issued_at")?,
            issued_position: row.try_get("issued_position")?,
        };
        let cursor = OpaqueCursor((ticket.issued_position, ticket.id.to_string()));
        connection.edges.push(Edge::new(cursor, ticket));
    }
    Ok(connection)
}
