//! The accounts' half of the query root, over the `accounts` read models:
//! one account with its statement (and its bets, from `sportsbook`), and
//! every account, as Relay cursor connections.

use std::time::Duration;

use async_graphql::connection::{Connection, CursorType, Edge, OpaqueCursor};
use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::sportsbook::{Bet, BetStatus};
use crate::QueryError;

/// Items on a page when `first` is not given.
pub const PAGE_ITEMS_DEFAULT: i32 = 20;
/// Most items on one page; a larger `first` is cut to it.
pub const PAGE_ITEMS_MAX: i32 = 100;
/// Longest account id accepted, in bytes (the read model's own bound).
const ACCOUNT_ID_BYTES_MAX: usize = 200;
/// Longest cursor accepted, in bytes: ours are far shorter.
const CURSOR_BYTES_MAX: usize = 600;

/// What the resolvers read from: the schema's data.
pub(crate) struct ReadModels {
    pub pool: PgPool,
    pub at_least_timeout: Duration,
}

/// The accounts' half of the query root.
#[derive(Default)]
pub struct AccountsQuery;

#[Object]
impl AccountsQuery {
    /// One account's balances in one currency, or null if the read model has
    /// no such account (yet: pass `atLeast` to read your own writes).
    async fn account(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A player's wallet (`alice`) or a system account (`house`, `cash`).")]
        id: String,
        #[graphql(
            desc = "Three capital letters. Needed only for accounts with balances in several \
                    currencies, which only system accounts have."
        )]
        currency: Option<String>,
        #[graphql(
            desc = "Read your writes: the global position a command returned. The query \
                    waits (bounded) until the read model has applied it, and fails with \
                    code `projection_behind` if it has not in time."
        )]
        at_least: Option<i64>,
    ) -> async_graphql::Result<Option<Account>> {
        async {
            let models = read_models(ctx)?;
            let id = parse_account_id(&id)?;
            let currency = currency.as_deref().map(parse_currency).transpose()?;
            // Bets come from the sportsbook projection: a client that placed
            // a bet and asks for it must wait for that one too.
            if ctx.look_ahead().field("bets").exists() {
                wait_at_least(models, at_least, &ACCOUNTS_AND_BETS).await?;
            } else if ctx.look_ahead().field("poolEntries").exists() {
                // Entries come from the pools projection, likewise.
                wait_at_least(models, at_least, &ACCOUNTS_AND_POOLS).await?;
            } else if ctx.look_ahead().field("tickets").exists() {
                // Tickets come from the box office projection, likewise.
                wait_at_least(models, at_least, &ACCOUNTS_AND_TICKETS).await?;
            } else {
                wait_at_least(models, at_least, &projections::accounts::ALL).await?;
            }
            find_account(&models.pool, id, currency.as_ref()).await
        }
        .await
        .map_err(QueryError::into_graphql)
    }

    /// Every account's balances, one node per account and currency, ordered
    /// by account id, then currency.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn accounts(
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
    ) -> async_graphql::Result<Connection<OpaqueCursor<(String, String)>, Account>> {
        async {
            let models = read_models(ctx)?;
            let first = page_items(first)?;
            let after = after.as_deref().map(decode_cursor).transpose()?;
            wait_at_least(models, at_least, &projections::accounts::ALL).await?;
            accounts_page(&models.pool, first, after).await
        }
        .await
        .map_err(QueryError::into_graphql)
    }
}

/// One account's sums in one currency, in minor units. Money, positions
/// and versions are 64-bit: `Int` here goes past the 32 bits that the
/// GraphQL spec gives it, so clients must read them as 64-bit integers.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
#[graphql(complex)]
pub struct Account {
    /// A player's wallet (`alice`) or a system account (`house`, `cash`).
    pub id: String,
    /// The ISO-4217 code of the currency of these sums.
    pub currency: String,
    /// How far below zero the balance may go (0 for system accounts).
    pub credit_limit: i64,
    /// Sum of posted debits.
    pub posted_debits: i64,
    /// Sum of posted credits.
    pub posted_credits: i64,
    /// Sum of debits reserved by holds not yet posted or voided.
    pub pending_debits: i64,
    /// Sum of credits reserved by holds not yet posted or voided.
    pub pending_credits: i64,
    /// Posted credits minus posted debits.
    pub balance: i64,
    /// What may still be debited: balance − pending debits + credit limit.
    pub available: i64,
    /// The wallet's stream version after the last event applied (compare
    /// with a command's response); null for system accounts.
    pub version: Option<i64>,
    /// The global position of the last event that changed this account.
    pub last_position: i64,
}

#[ComplexObject]
impl Account {
    /// This account's entries in this currency, newest first: `after` pages
    /// on to older entries. New entries appear on the first page only, so
    /// paging on is stable while money moves.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn statement(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items on this page: 20 when omitted, at most 100 (more is cut to 100).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<OpaqueCursor<(i64, i16)>, StatementEntry>> {
        async {
            let models = read_models(ctx)?;
            let first = page_items(first)?;
            let after = after.as_deref().map(decode_cursor).transpose()?;
            statement_page(&models.pool, self, first, after).await
        }
        .await
        .map_err(QueryError::into_graphql)
    }

    /// This account's sportsbook bets in this currency, newest first (by
    /// when they were placed), with their legs: `after` pages on to older
    /// bets. A bet whose status changes while a client pages by status
    /// moves to the pages of its new status.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn bets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only bets in this status; all when omitted.")] status: Option<BetStatus>,
        #[graphql(desc = "Items on this page: 20 when omitted, at most 100 (more is cut to 100).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<OpaqueCursor<i64>, Bet>> {
        async {
            let models = read_models(ctx)?;
            let first = page_items(first)?;
            let after = after.as_deref().map(decode_cursor).transpose()?;
            crate::sportsbook::bets_page(&models.pool, self, status, first, after).await
        }
        .await
        .map_err(QueryError::into_graphql)
    }

    /// This account's parimutuel pool entries in this currency, newest
    /// first: `after` pages on to older ones.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn pool_entries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items on this page: 20 when omitted, at most 100 (more is cut to 100).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<OpaqueCursor<i64>, crate::pools::PoolEntry>> {
        async {
            let models = read_models(ctx)?;
            let first = page_items(first)?;
            let after = after.as_deref().map(decode_cursor).transpose()?;
            crate::pools::entries_page(&models.pool, self, first, after).await
        }
        .await
        .map_err(QueryError::into_graphql)
    }

    /// This account's show tickets in this currency, newest first: `after`
    /// pages on to older ones.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items on this page: 20 when omitted, at most 100 (more is cut to 100).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<Connection<crate::box_office::TicketCursor, crate::box_office::Ticket>>
    {
        async {
            let models = read_models(ctx)?;
            let first = page_items(first)?;
            let after = after.as_deref().map(decode_cursor).transpose()?;
            crate::box_office::tickets_page(&models.pool, self, first, after).await
        }
        .await
        .map_err(QueryError::into_graphql)
    }
}

/// One account's side of one money movement.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct StatementEntry {
    /// The global position of the event. An event that moves two transfers
    /// (a winning bet's stake and payout) has two entries at one position,
    /// in the order of its transfers; `transferId` tells them apart.
    pub position: i64,
    /// The event that moved the money, e.g. `funds_deposited`, `hold_placed`.
    pub event_type: String,
    pub transfer_id: String,
    /// Set for the phases of a hold.
    pub hold_id: Option<String>,
    /// Why the money moved: `deposit`, `withdrawal`, `hold`, ...
    pub code: String,
    pub phase: StatementPhase,
    /// Minor units from this account's view: credits positive, debits
    /// negative. Whether it moved depends on `phase`.
    pub amount: i64,
    /// The account on the other side of the transfer.
    pub counterparty: String,
    pub description: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// What an entry did with its amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum StatementPhase {
    /// Moved now.
    Posted,
    /// Reserved by a hold: counts against `available`, not `balance`.
    Pending,
    /// A hold turned into a posted transfer: moved now.
    PendingPosted,
    /// A hold released: nothing moved.
    PendingVoided,
}

impl StatementPhase {
    fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "posted" => Self::Posted,
            "pending" => Self::Pending,
            "pending_posted" => Self::PendingPosted,
            "pending_voided" => Self::PendingVoided,
            _ => return None,
        })
    }
}

/// The complexity of a page: its items times what each costs, plus the
/// connection itself.
pub(crate) fn page_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let items = first.unwrap_or(PAGE_ITEMS_DEFAULT).clamp(0, PAGE_ITEMS_MAX);
    usize::try_from(items)
        .unwrap_or(0)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

pub(crate) fn page_items(first: Option<i32>) -> Result<i64, QueryError> {
    match first {
        None => Ok(PAGE_ITEMS_DEFAULT.into()),
        Some(n) if n < 0 => Err(QueryError::invalid("first", "must not be negative")),
        Some(n) => Ok(n.min(PAGE_ITEMS_MAX).into()),
    }
}

pub(crate) fn decode_cursor<T>(cursor: &str) -> Result<T, QueryError>
where
    T: CursorType,
{
    if cursor.len() > CURSOR_BYTES_MAX {
        return Err(QueryError::invalid(
            "after",
            "is not a cursor of this connection",
        ));
    }
    T::decode_cursor(cursor)
        .map_err(|_| QueryError::invalid("after", "is not a cursor of this connection"))
}

/// The cursor of pages ordered by a time, then an id (shows, pools,
/// markets): the last item's time in microseconds since the epoch
/// (Postgres' own precision) and its id.
pub(crate) type TimeIdCursor = OpaqueCursor<(i64, String)>;

/// The (time, id) a page of a [`TimeIdCursor`] connection starts after.
pub(crate) fn decode_time_id_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), QueryError> {
    let OpaqueCursor((micros, id)) = decode_cursor::<TimeIdCursor>(cursor)?;
    DateTime::from_timestamp_micros(micros)
        .map(|time| (time, id))
        .ok_or_else(|| QueryError::invalid("after", "is not a cursor of this connection"))
}

/// Before every (time, id): the first year Postgres and chrono share, and
/// the empty id.
pub(crate) fn before_every_time_id() -> (DateTime<Utc>, String) {
    (
        DateTime::<Utc>::from_timestamp(-62_135_596_800, 0).unwrap_or_default(),
        String::new(),
    )
}

pub(crate) fn read_models<'a>(ctx: &Context<'a>) -> Result<&'a ReadModels, QueryError> {
    ctx.data::<ReadModels>()
        .map_err(|e| QueryError::Internal(e.message.into()))
}

fn parse_account_id(id: &str) -> Result<&str, QueryError> {
    if id.is_empty() || id.len() > ACCOUNT_ID_BYTES_MAX {
        return Err(QueryError::invalid(
            "id",
            format!("must be 1 to {ACCOUNT_ID_BYTES_MAX} bytes"),
        ));
    }
    Ok(id)
}

fn parse_currency(code: &str) -> Result<ledger::Currency, QueryError> {
    ledger::Currency::parse(code).map_err(|r| QueryError::invalid("currency", r.to_string()))
}

/// What `account` waits for when it is asked for bets too.
const ACCOUNTS_AND_POOLS: [&str; 3] = [
    projections::accounts::BALANCES,
    projections::accounts::STATEMENTS,
    projections::pools::POOLS,
];

const ACCOUNTS_AND_TICKETS: [&str; 3] = [
    projections::accounts::BALANCES,
    projections::accounts::STATEMENTS,
    projections::box_office::BOX_OFFICE,
];

const ACCOUNTS_AND_BETS: [&str; 3] = [
    projections::accounts::BALANCES,
    projections::accounts::STATEMENTS,
    projections::sportsbook::SPORTSBOOK,
];

/// Read-your-writes: waits, bounded, for each projection of `names` to
/// reach `at_least`.
pub(crate) async fn wait_at_least(
    models: &ReadModels,
    at_least: Option<i64>,
    names: &[&str],
) -> Result<(), QueryError> {
    match at_least {
        None | Some(0) => Ok(()),
        Some(p) if p < 0 => Err(QueryError::invalid("atLeast", "must not be negative")),
        Some(position) => {
            // One deadline for all: the wait is bounded as a whole.
            let deadline = tokio::time::Instant::now() + models.at_least_timeout;
            for projection in names {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                projections::wait_for_position(&models.pool, projection, position, left).await?;
            }
            Ok(())
        }
    }
}

async fn find_account(
    pool: &PgPool,
    id: &str,
    currency: Option<&ledger::Currency>,
) -> Result<Option<Account>, QueryError> {
    let rows = match currency {
        Some(currency) => {
            sqlx::query(include_str!("accounts/account.sql"))
                .bind(id)
                .bind(currency.as_str())
                .fetch_all(pool)
                .await?
        }
        None => {
            sqlx::query(include_str!("accounts/account_any_currency.sql"))
                .bind(id)
                .fetch_all(pool)
                .await?
        }
    };
    match rows.as_slice() {
        [] => Ok(None),
        [row] => Ok(Some(account(row)?)),
        _ => Err(QueryError::CurrencyRequired {
            account: id.to_owned(),
        }),
    }
}

async fn accounts_page(
    pool: &PgPool,
    first: i64,
    after: Option<OpaqueCursor<(String, String)>>,
) -> Result<Connection<OpaqueCursor<(String, String)>, Account>, QueryError> {
    let has_previous = after.is_some();
    let (after_id, after_currency) = after.map(|c| c.0).unwrap_or_default();
    // One more row than asked for tells whether there is a next page.
    let rows = sqlx::query(include_str!("accounts/accounts_page.sql"))
        .bind(after_id)
        .bind(after_currency)
        .bind(first + 1)
        .fetch_all(pool)
        .await?;
    let accounts = rows.iter().map(account).collect::<Result<Vec<_>, _>>()?;
    let (page, has_next) = split_page(accounts, first);
    let mut connection = Connection::new(has_previous, has_next);
    connection.edges = page
        .into_iter()
        .map(|a| Edge::new(OpaqueCursor((a.id.clone(), a.currency.clone())), a))
        .collect();
    Ok(connection)
}

async fn statement_page(
    pool: &PgPool,
    account: &Account,
    first: i64,
    after: Option<OpaqueCursor<(i64, i16)>>,
) -> Result<Connection<OpaqueCursor<(i64, i16)>, StatementEntry>, QueryError> {
    let has_previous = after.is_some();
    let (before_position, before_line) = after.map_or((i64::MAX, 0), |c| c.0);
    let rows = sqlx::query(include_str!("accounts/statement_page.sql"))
        .bind(&account.id)
        .bind(&account.currency)
        .bind(before_position)
        .bind(before_line)
        .bind(first + 1)
        .fetch_all(pool)
        .await?;
    let entries = rows
        .iter()
        .map(|row| Ok((row.try_get::<i16, _>("line")?, statement_entry(row)?)))
        .collect::<Result<Vec<_>, QueryError>>()?;
    let (page, has_next) = split_page(entries, first);
    let mut connection = Connection::new(has_previous, has_next);
    connection.edges = page
        .into_iter()
        .map(|(line, e)| Edge::new(OpaqueCursor((e.position, line)), e))
        .collect();
    Ok(connection)
}

/// Cuts the extra row fetched beyond `first`; says whether there was one.
pub(crate) fn split_page<T>(mut items: Vec<T>, first: i64) -> (Vec<T>, bool) {
    let first = usize::try_from(first).unwrap_or(0);
    let has_next = items.len() > first;
    items.truncate(first);
    (items, has_next)
}

fn account(row: &PgRow) -> Result<Account, QueryError> {
    Ok(Account {
        id: row.try_get("account_id")?,
        currency: row.try_get("currency")?,
        credit_limit: row.try_get("credit_limit")?,
        posted_debits: row.try_get("posted_debits")?,
        posted_credits: row.try_get("posted_credits")?,
        pending_debits: row.try_get("pending_debits")?,
        pending_credits: row.try_get("pending_credits")?,
        balance: row.try_get("balance")?,
        available: row.try_get("available")?,
        version: row.try_get("version")?,
        last_position: row.try_get("last_position")?,
    })
}

fn statement_entry(row: &PgRow) -> Result<StatementEntry, QueryError> {
    let phase: String = row.try_get("phase")?;
    let phase = StatementPhase::parse(&phase)
        .ok_or_else(|| QueryError::Internal(format!("unknown statement phase {phase:?}").into()))?;
    Ok(StatementEntry {
        position: row.try_get("position")?,
        event_type: row.try_get("event_type")?,
        transfer_id: row.try_get::<Uuid, _>("transfer_id")?.to_string(),
        hold_id: row
            .try_get::<Option<Uuid>, _>("hold_id")?
            .map(|h| h.to_string()),
        code: row.try_get("code")?,
        phase,
        amount: row.try_get("amount")?,
        counterparty: row.try_get("counterparty")?,
        description: row.try_get("description")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded() {
        assert_eq!(page_items(None).ok(), Some(20));
        assert_eq!(page_items(Some(0)).ok(), Some(0));
        assert_eq!(page_items(Some(500)).ok(), Some(100));
        assert!(matches!(
            page_items(Some(-1)),
            Err(QueryError::InvalidArgument {
                argument: "first",
                ..
            })
        ));
        assert_eq!(page_complexity(Some(500), 10), 1001);
        assert_eq!(page_complexity(None, 1), 21);
    }

    #[test]
    fn the_extra_row_means_a_next_page() {
        assert_eq!(split_page(vec![1, 2, 3], 2), (vec![1, 2], true));
        assert_eq!(split_page(vec![1, 2], 2), (vec![1, 2], false));
        assert_eq!(split_page(vec![1], 0), (vec![], true));
    }

    #[test]
    fn foreign_or_oversized_cursors_are_refused() {
        for bad in ["", "not base64!", &"A".repeat(CURSOR_BYTES_MAX + 1)] {
            assert!(
                matches!(
                    decode_cursor::<OpaqueCursor<i64>>(bad),
                    Err(QueryError::InvalidArgument {
                        argument: "after",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        let cursor = OpaqueCursor(42_i64).encode_cursor();
        assert_eq!(
            decode_cursor::<OpaqueCursor<i64>>(&cursor)
                .ok()
                .map(|c| c.0),
            Some(42)
        );
    }
}
