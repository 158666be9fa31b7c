//! The pools' part of the query root, over the `pools` read models
//! (migration `0008_pools.sql`): `pool(id)` and `pools(first, after)` with
//! the pot, the money and entries on each outcome and what a unit staked
//! on it would return now, and each account's entries
//! (`Account.poolEntries`, resolved here).

use std::collections::HashMap;

use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ledger::pool::split;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::accounts::{
    before_every_time_id, decode_time_id_cursor, page_complexity, page_items, read_models,
    split_page, wait_at_least, Account, TimeIdCursor,
};
use crate::QueryError;

/// What `pool` and `pools` wait for with `atLeast`.
const POOLS: [&str; 1] = [projections::pools::POOLS];

/// The cursor of `pools`: the last pool's close time (microseconds since
/// the epoch) and id.
type PoolCursor = TimeIdCursor;

/// Decimals of `payoutPerUnit`.
const PER_UNIT_DECIMALS: u32 = 4;

#[derive(Default)]
pub struct PoolsQuery;

#[Object]
impl PoolsQuery {
    /// One parimutuel pool with its outcomes, or null if the read model has
    /// no such pool (yet: pass `atLeast` to read your own writes).
    async fn pool(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The pool's id, as the operator created it.")] id: ID,
        #[graphql(
            desc = "Read your writes: the global position a command returned. The query \
                    waits (bounded) until the read model has applied it, and fails with \
                    code `projection_behind` if it has not in time."
        )]
        at_least: Option<i64>,
    ) -> async_graphql::Result<Option<Pool>> {
        async {
            let models = read_models(ctx)?;
            let id =
                ledger::PoolId::parse(&id).map_err(|r| QueryError::invalid("id", r.to_string()))?;
            wait_at_least(models, at_least, &POOLS).await?;
            let row = sqlx::query(include_str!("pools/pool.sql"))
                .bind(id.as_str())
                .fetch_optional(&models.pool)
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let mut pools = with_outcomes(&models.pool, vec![row]).await?;
            Ok(pools.pop())
        }
        .await
        .map_err(QueryError::into_graphql)
    }

    /// Pools in the order they close (then by id).
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn pools(
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
    ) -> async_graphql::Result<Connection<PoolCursor, Pool>> {
        async {
            let models = read_models(ctx)?;
            let first = page_items(first)?;
            let after = after.as_deref().map(decode_time_id_cursor).transpose()?;
            let has_previous = after.is_some();
            let (closes_at, id) = after.unwrap_or_else(before_every_time_id);
            wait_at_least(models, at_least, &POOLS).await?;
            let rows = sqlx::query(include_str!("pools/pools_page.sql"))
                .bind(closes_at)
                .bind(id)
                .bind(first + 1)
                .fetch_all(&models.pool)
                .await?;
            let (rows, has_next) = split_page(rows, first);
            let mut connection = Connection::new(has_previous, has_next);
            for pool in with_outcomes(&models.pool, rows).await? {
                let cursor = OpaqueCursor((pool.closes_at.timestamp_micros(), pool.id.to_string()));
                connection.edges.push(Edge::new(cursor, pool));
            }
            Ok(connection)
        }
        .await
        .map_err(QueryError::into_graphql)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum PoolStatus {
    /// Taking entries.
    Open,
    /// No more entries; waiting for the result.
    Closed,
    /// Settled, paying the winners out.
    Settling,
    /// Every entry paid: winners their shares, or everyone their stake
    /// back when no entry backed a winner.
    Settled,
    /// Cancelled, refunding every entry.
    Cancelling,
    /// Cancelled, every entry refunded in full.
    Cancelled,
}

/// A parimutuel pool. Money is in minor units of its currency, 64-bit.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Pool {
    pub id: ID,
    pub name: String,
    pub currency: String,
    pub status: PoolStatus,
    /// The smallest stake an entry may have.
    pub min_entry: i64,
    /// The operator's take, in basis points of the pot.
    pub rake_bp: i32,
    /// When the pool stops taking entries.
    pub closes_at: DateTime<Utc>,
    /// Σ stakes: what the escrow `pool:{id}` holds until the payouts.
    pub pot: i64,
    /// Entries taken.
    pub entries: i64,
    /// The rake: floor(pot × rakeBp / 10000); what was taken once settled
    /// (0 when cancelled or no entry backed a winner).
    pub rake: i64,
    /// The winning outcomes once settled; null before, and when cancelled.
    pub winners: Option<Vec<i32>>,
    /// Entries paid out so far (in entry order), and what they got.
    pub entries_paid: i64,
    pub paid: i64,
    pub outcomes: Vec<PoolOutcome>,
    /// The pool stream's version after the last event applied.
    pub version: i64,
}

/// One outcome of a pool.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct PoolOutcome {
    /// Its index: an entry names its outcome by it.
    pub index: i32,
    pub name: String,
    /// Σ stakes on it.
    pub staked: i64,
    pub entries: i64,
    /// What one unit staked on this outcome would return (stake included)
    /// if it won alone now: (pot − rake) / staked, as a decimal string
    /// with 4 decimals rounded down ("2.8950"); null while nothing is
    /// staked on it. It moves with every entry until the pool closes.
    pub payout_per_unit: Option<String>,
}

/// A player's entry in a pool.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct PoolEntry {
    pub id: ID,
    pub pool: ID,
    pub outcome: i32,
    pub stake: i64,
    pub status: PoolEntryStatus,
    /// What the escrow paid it: its share, its stake back, or 0.
    pub returned: i64,
    pub entered_at: DateTime<Utc>,
    /// The global position of the entry: the order of entries.
    pub entered_position: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum PoolEntryStatus {
    /// The stake is in the escrow; the pool has no result yet.
    Open,
    /// Paid its share of the pot.
    Paid,
    /// Given its stake back (cancelled, or no entry backed a winner).
    Refunded,
    /// The pool is settled and this entry's outcome did not win.
    Lost,
}

fn pool_status(text: &str) -> Result<PoolStatus, QueryError> {
    Ok(match text {
        "open" => PoolStatus::Open,
        "closed" => PoolStatus::Closed,
        "settling" => PoolStatus::Settling,
        "settled" => PoolStatus::Settled,
        "cancelling" => PoolStatus::Cancelling,
        "cancelled" => PoolStatus::Cancelled,
        other => {
            return Err(QueryError::Internal(
                format!("pool status {other:?}").into(),
            ))
        }
    })
}

/// The pools of `rows` with their outcomes, read in one query.
async fn with_outcomes(pool: &PgPool, rows: Vec<PgRow>) -> Result<Vec<Pool>, QueryError> {
    let ids = rows
        .iter()
        .map(|r| r.try_get("pool_id"))
        .collect::<Result<Vec<String>, _>>()?;
    let mut outcomes: HashMap<String, Vec<(i32, String, i64, i64)>> = HashMap::new();
    for row in sqlx::query(include_str!("pools/outcomes.sql"))
        .bind(&ids)
        .fetch_all(pool)
        .await?
    {
        let outcome: i16 = row.try_get("outcome")?;
        outcomes.entry(row.try_get("pool_id")?).or_default().push((
            i32::from(outcome),
            row.try_get("name")?,
            row.try_get("staked")?,
            row.try_get("entries")?,
        ));
    }
    rows.iter()
        .zip(ids)
        .map(|(row, id)| {
            let pot: i64 = row.try_get("pot")?;
            let rake_bp: i32 = row.try_get("rake_bp")?;
            let status = pool_status(&row.try_get::<String, _>("status")?)?;
            let finished = matches!(
                status,
                PoolStatus::Settling
                    | PoolStatus::Settled
                    | PoolStatus::Cancelling
                    | PoolStatus::Cancelled
            );
            let rake_now = split::rake(pot, u32::try_from(rake_bp).unwrap_or(0));
            let rake = if finished && status != PoolStatus::Settling {
                row.try_get("rake")?
            } else {
                rake_now
            };
            let winners: Option<Vec<i16>> = row.try_get("winners")?;
            let outcomes = outcomes
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .map(|(index, name, staked, entries)| PoolOutcome {
                    index,
                    name,
                    staked,
                    entries,
                    payout_per_unit: per_unit(pot - rake_now, staked),
                })
                .collect();
            Ok(Pool {
                id: ID(id),
                name: row.try_get("name")?,
                currency: row.try_get("currency")?,
                status,
                min_entry: row.try_get("min_entry")?,
                rake_bp,
                closes_at: row.try_get("closes_at")?,
                pot,
                entries: row.try_get("entries")?,
                rake,
                winners: winners.map(|w| w.into_iter().map(i32::from).collect()),
                entries_paid: row.try_get("entries_paid")?,
                paid: row.try_get("paid")?,
                outcomes,
                version: row.try_get("version")?,
            })
        })
        .collect()
}

/// `shared / staked` as a decimal string of 4 decimals, rounded down.
fn per_unit(shared: i64, staked: i64) -> Option<String> {
    if staked <= 0 || shared < 0 {
        return None;
    }
    let scale = 10_i128.pow(PER_UNIT_DECIMALS);
    let scaled = i128::from(shared) * scale / i128::from(staked);
    Some(format!(
        "{}.{:0width$}",
        scaled / scale,
        scaled % scale,
        width = PER_UNIT_DECIMALS as usize
    ))
}

/// `Account.poolEntries`: the account's entries in its currency, newest first.
pub(crate) async fn entries_page(
    pool: &PgPool,
    account: &Account,
    first: i64,
    after: Option<OpaqueCursor<i64>>,
) -> Result<Connection<OpaqueCursor<i64>, PoolEntry>, QueryError> {
    let has_previous = after.is_some();
    let rows = sqlx::query(include_str!("pools/entries_page.sql"))
        .bind(&account.id)
        .bind(&account.currency)
        .bind(after.map_or(i64::MAX, |c| c.0))
        .bind(first + 1)
        .fetch_all(pool)
        .await?;
    let (rows, has_next) = split_page(rows, first);
    let mut connection = Connection::new(has_previous, has_next);
    for row in &rows {
        let status: String = row.try_get("status")?;
        let pool_status: String = row.try_get("pool_status")?;
        let status = match (status.as_str(), pool_status.as_str()) {
            ("paid", _) => PoolEntryStatus::Paid,
            ("refunded", _) => PoolEntryStatus::Refunded,
            (_, "settled") => PoolEntryStatus::Lost,
            _ => PoolEntryStatus::Open,
        };
        let outcome: i16 = row.try_get("outcome")?;
        let entry = PoolEntry {
            id: ID(row.try_get::<Uuid, _>("entry_id")?.to_string()),
            pool: ID(row.try_get("pool_id")?),
            outcome: i32::from(outcome),
            stake: row.try_get("stake")?,
            status,
            returned: row.try_get("returned")?,
            entered_at: row.try_get("entered_at")?,
            entered_position: row.try_get("entered_position")?,
        };
        connection
            .edges
            .push(Edge::new(OpaqueCursor(entry.entered_position), entry));
    }
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use super::per_unit;

    #[test]
    fn a_unit_returns_its_share_rounded_down_to_four_decimals() {
        assert_eq!(per_unit(5_790, 3_000).as_deref(), Some("1.9300"));
        assert_eq!(per_unit(10, 3).as_deref(), Some("3.3333"));
        assert_eq!(per_unit(10, 0), None);
    }
}
