//! The sportsbook's half of the query root, over the `sportsbook` read
//! models (migration `0006_sportsbook_read_models.sql`): markets with
//! their outcomes, odds, liability, result and settlement progress, and
//! each account's bets with their legs (`Account.bets`, resolved here).
//!
//! A page's outcomes or legs are read in one query for the whole page, not
//! one per market or bet.

use std::collections::HashMap;

use async_graphql::connection::{Connection, Edge, OpaqueCursor};
use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use ledger::sportsbook::market::MarketResult as DomainResult;
use ledger::sportsbook::odds::Odds;
use ledger::sportsbook::settle::LegResult as DomainLegResult;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::accounts::{
    decode_time_id_cursor, page_complexity, page_items, read_models, split_page, wait_at_least,
    Account, TimeIdCursor,
};
use crate::QueryError;

/// What `market` and `markets` wait for with `atLeast`.
const SPORTSBOOK: [&str; 1] = [projections::sportsbook::SPORTSBOOK];

/// The cursor of `markets`: the last market's start (microseconds since
/// the epoch, which is Postgres' own precision) and id.
type MarketCursor = TimeIdCursor;

/// The sportsbook's half of the query root.
#[derive(Default)]
pub struct SportsbookQuery;

#[Object]
impl SportsbookQuery {
    /// One market with its outcomes, or null if the read model has no such
    /// market (yet: pass `atLeast` to read your own writes).
    async fn market(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The market's id, as the operator opened it (`epl-2025-ars-che`).")]
        id: ID,
        #[graphql(
            desc = "Read your writes: the global position a command returned. The query \
                    waits (bounded) until the read model has applied it, and fails with \
                    code `projection_behind` if it has not in time."
        )]
        at_least: Option<i64>,
    ) -> async_graphql::Result<Option<Market>> {
        async {
            let models = read_models(ctx)?;
            let id = ledger::MarketId::parse(&id)
                .map_err(|r| QueryError::invalid("id", r.to_string()))?;
            wait_at_least(models, at_least, &SPORTSBOOK).await?;
            find_market(&models.pool, id.as_str()).await
        }
        .await
        .map_err(QueryError::into_graphql)
    }

    /// Markets in the order they start (then by id), of one status or of
    /// all. A market whose status changes while a client pages moves to
    /// the pages of its new status.
    #[graphql(complexity = "page_complexity(first, child_complexity)")]
    async fn markets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only markets in this status; all when omitted.")] status: Option<
            MarketStatus,
        >,
        #[graphql(desc = "Items on this page: 20 when omitted, at most 100 (more is cut to 100).")]
        first: Option<i32>,
        #[graphql(desc = "The `endCursor` of the previous page.")] after: Option<String>,
        #[graphql(
            desc = "Read your writes: the global position a command returned. The query \
                    waits (bounded) until the read model has applied it, and fails with \
                    code `projection_behind` if it has not in time."
        )]
        at_least: Option<i64>,
    ) -> async_graphql::Result<Connection<MarketCursor, Market>> {
        async {
            let models = read_models(ctx)?;
            let first = page_items(first)?;
            let after = after.as_deref().map(decode_time_id_cursor).transpose()?;
            wait_at_least(models, at_least, &SPORTSBOOK).await?;
            markets_page(&models.pool, status, first, after).await
        }
        .await
        .map_err(QueryError::into_graphql)
    }
}

/// A market: its status, its outcomes with their odds and the house's
/// liability on each, and its settlement. Money is in minor units of the
/// market's currency, 64-bit (see `Account`).
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Market {
    pub id: ID,
    /// The event's name, e.g. "Arsenal v Chelsea".
    pub name: String,
    pub starts_at: DateTime<Utc>,
    /// The ISO-4217 code of the currency bets on this market are in.
    pub currency: String,
    pub status: MarketStatus,
    /// The most the house may lose on any one outcome; a bet that would
    /// take an outcome's liability past it is refused.
    pub liability_limit: i64,
    pub stake_min: i64,
    pub stake_max: i64,
    /// The book's margin over a fair book, in basis points.
    pub margin_bp: i64,
    /// Bets taken (an accumulator counts on each of its markets).
    pub bets: i64,
    /// The stakes of the single bets standing: what the house keeps
    /// whichever outcome wins.
    pub stakes_total: i64,
    /// The outcomes, in the market's order: a bet names one by `index`.
    pub outcomes: Vec<Outcome>,
    /// The result in force (being settled or settled); null before.
    pub result: Option<MarketResult>,
    /// The settlement in force, with its progress; null before the first.
    pub settlement: Option<Settlement>,
    /// The market stream's version after the last event applied.
    pub version: i64,
    /// The global position of the last event that changed this market.
    pub last_position: i64,
}

/// Where a market is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum MarketStatus {
    /// Taking bets.
    Open,
    /// Not taking bets for now.
    Suspended,
    /// Not taking bets any more; waiting for its result.
    Closed,
    /// Its result is known and its bets are being settled.
    Settling,
    /// Every bet is settled.
    Settled,
}

impl MarketStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Suspended => "suspended",
            Self::Closed => "closed",
            Self::Settling => "settling",
            Self::Settled => "settled",
        }
    }

    fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "open" => Self::Open,
            "suspended" => Self::Suspended,
            "closed" => Self::Closed,
            "settling" => Self::Settling,
            "settled" => Self::Settled,
            _ => return None,
        })
    }
}

/// One outcome of a market.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Outcome {
    /// Its place in the market's list, from 0: what a bet names.
    pub index: i32,
    pub name: String,
    /// The current decimal odds, stake included, to four places ("2.5000").
    pub odds: String,
    /// The same odds in ten-thousandths (25000), exact.
    pub odds_ten_thousandths: i64,
    /// Money staked on this outcome by every bet, accumulator legs too.
    pub staked: i64,
    /// What the house pays out if this outcome wins.
    pub payouts_if_wins: i64,
    /// The house's worst-case loss if this outcome wins: `payoutsIfWins`
    /// less the market's `stakesTotal`. Negative when the house wins
    /// either way.
    pub liability: i64,
}

/// What a market's settlement says happened.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct MarketResult {
    pub kind: MarketResultKind,
    /// The winning outcomes' indexes: one, or several in a dead heat;
    /// empty when the market is void.
    pub winners: Vec<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum MarketResultKind {
    /// These outcomes won.
    Winners,
    /// The market is void as a whole: every bet on it is void.
    Void,
}

/// A settlement of a market, running or finished.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Settlement {
    pub id: ID,
    /// The settlement this one corrects (a re-settlement); null for the
    /// first.
    pub replaces: Option<ID>,
    /// Bets settled so far, as the settlement last recorded its progress.
    pub bets_settled: i64,
    /// Whether every bet on the market is settled by it.
    pub finished: bool,
}

/// A bet and what became of it. Money in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct Bet {
    pub id: ID,
    /// The player's wallet.
    pub account_id: String,
    pub currency: String,
    pub stake: i64,
    /// The bet's decimal odds, its legs' multiplied ("2.5000").
    pub odds: String,
    /// The same odds in ten-thousandths, exact.
    pub odds_ten_thousandths: i64,
    /// What the player gets back if every leg wins, stake included.
    pub payout_if_wins: i64,
    pub status: BetStatus,
    /// What the player got back in total: payouts less their reversals,
    /// the stake of a voided bet, the amount of a cash-out. Null while
    /// open.
    pub returned: Option<i64>,
    /// The settlement that last settled (or re-settled) the bet.
    pub settlement_id: Option<ID>,
    pub placed_at: DateTime<Utc>,
    /// When it was settled, re-settled or cashed out; null while open.
    pub settled_at: Option<DateTime<Utc>>,
    /// One for a single, 2 to 10 for an accumulator, in the order placed.
    pub legs: Vec<BetLeg>,
    /// The global position of the bet's `bet_placed`.
    pub placed_position: i64,
    /// The global position of the last event that changed the bet.
    pub last_position: i64,
}

/// Where a bet is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum BetStatus {
    /// Its stake is held; some leg has no result yet.
    Open,
    /// Every leg has a result and the stake went to the house; `returned`
    /// was paid (0 for a lost bet).
    Settled,
    /// Every leg is void: the stake stayed with the player.
    Voided,
    /// Sold back to the house before it settled.
    CashedOut,
}

impl BetStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Settled => "settled",
            Self::Voided => "voided",
            Self::CashedOut => "cashed_out",
        }
    }

    fn parse(stored: &str) -> Option<Self> {
        Some(match stored {
            "open" => Self::Open,
            "settled" => Self::Settled,
            "voided" => Self::Voided,
            "cashed_out" => Self::CashedOut,
            _ => return None,
        })
    }
}

/// One leg of a bet: a market and the outcome backed on it.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct BetLeg {
    /// Its place in the bet, from 0.
    pub leg: i32,
    pub market_id: ID,
    /// The outcome's index in the market.
    pub outcome: i32,
    /// The leg's odds when the bet was placed ("2.5000").
    pub odds: String,
    pub odds_ten_thousandths: i64,
    /// Null until the leg's market settles.
    pub result: Option<LegResult>,
    /// The settlement that decided `result`.
    pub settlement_id: Option<ID>,
}

/// What a leg's market result means for the leg.
#[derive(Debug, Clone, PartialEq, Eq, SimpleObject)]
pub struct LegResult {
    pub kind: LegResultKind,
    /// For a won leg, how many outcomes tied (1: no dead heat); the stake
    /// is split among them and the share on this one paid at full odds.
    /// Null otherwise.
    pub dead_heat: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum LegResultKind {
    Won,
    Lost,
    /// The leg drops out: its odds count as 1.
    Void,
}

/// `Account.bets`: the account's bets in its currency, newest first.
pub(crate) async fn bets_page(
    pool: &PgPool,
    account: &Account,
    status: Option<BetStatus>,
    first: i64,
    after: Option<OpaqueCursor<i64>>,
) -> Result<Connection<OpaqueCursor<i64>, Bet>, QueryError> {
    let has_previous = after.is_some();
    let before_position = after.map_or(i64::MAX, |c| c.0);
    // One statement per shape rather than `status = $3 OR $3 IS NULL`, so
    // that each keeps to its index whatever plan Postgres caches.
    let query = match status {
        None => sqlx::query(include_str!("sportsbook/bets_page.sql"))
            .bind(&account.id)
            .bind(&account.currency),
        Some(status) => sqlx::query(include_str!("sportsbook/bets_by_status_page.sql"))
            .bind(&account.id)
            .bind(&account.currency)
            .bind(status.as_str()),
    };
    let rows = query
        .bind(before_position)
        .bind(first + 1)
        .fetch_all(pool)
        .await?;
    let (rows, has_next) = split_page(rows, first);
    let ids = rows
        .iter()
        .map(|r| r.try_get("bet_id"))
        .collect::<Result<Vec<Uuid>, _>>()?;
    let mut legs = legs_of(pool, &ids).await?;
    let mut connection = Connection::new(has_previous, has_next);
    for (row, id) in rows.iter().zip(ids) {
        let bet = bet(row, legs.remove(&id).unwrap_or_default())?;
        connection
            .edges
            .push(Edge::new(OpaqueCursor(bet.placed_position), bet));
    }
    Ok(connection)
}

async fn find_market(pool: &PgPool, id: &str) -> Result<Option<Market>, QueryError> {
    let Some(row) = sqlx::query(include_str!("sportsbook/market.sql"))
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Ok(None);
    };
    let mut outcomes = outcomes_of(pool, &[id.to_owned()]).await?;
    Ok(Some(market(&row, outcomes.remove(id).unwrap_or_default())?))
}

async fn markets_page(
    pool: &PgPool,
    status: Option<MarketStatus>,
    first: i64,
    after: Option<(DateTime<Utc>, String)>,
) -> Result<Connection<MarketCursor, Market>, QueryError> {
    let has_previous = after.is_some();
    let (after_start, after_id) = after.unzip();
    // As for bets: one statement per shape, each on its index.
    let query = match status {
        None => sqlx::query(include_str!("sportsbook/markets_page.sql")),
        Some(status) => {
            sqlx::query(include_str!("sportsbook/markets_by_status_page.sql")).bind(status.as_str())
        }
    };
    let rows = query
        .bind(after_start)
        .bind(after_id)
        .bind(first + 1)
        .fetch_all(pool)
        .await?;
    let (rows, has_next) = split_page(rows, first);
    let ids = rows
        .iter()
        .map(|r| r.try_get("market_id"))
        .collect::<Result<Vec<String>, _>>()?;
    let mut outcomes = outcomes_of(pool, &ids).await?;
    let mut connection = Connection::new(has_previous, has_next);
    for (row, id) in rows.iter().zip(&ids) {
        let market = market(row, outcomes.remove(id).unwrap_or_default())?;
        let cursor = OpaqueCursor((market.starts_at.timestamp_micros(), id.clone()));
        connection.edges.push(Edge::new(cursor, market));
    }
    Ok(connection)
}

/// The outcomes of `ids`, by market, each in the market's order.
async fn outcomes_of(
    pool: &PgPool,
    ids: &[String],
) -> Result<HashMap<String, Vec<Outcome>>, QueryError> {
    let mut by_market: HashMap<String, Vec<Outcome>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_market);
    }
    let rows = sqlx::query(include_str!("sportsbook/outcomes.sql"))
        .bind(ids)
        .fetch_all(pool)
        .await?;
    for row in &rows {
        let odds: i64 = row.try_get("odds")?;
        let outcome = Outcome {
            index: row.try_get::<i16, _>("outcome")?.into(),
            name: row.try_get("name")?,
            odds: decimal_odds(odds)?,
            odds_ten_thousandths: odds,
            staked: row.try_get("staked")?,
            payouts_if_wins: row.try_get("payouts_if_wins")?,
            liability: row.try_get("liability")?,
        };
        by_market
            .entry(row.try_get("market_id")?)
            .or_default()
            .push(outcome);
    }
    Ok(by_market)
}

/// The legs of `ids`, by bet, each in the bet's order.
async fn legs_of(pool: &PgPool, ids: &[Uuid]) -> Result<HashMap<Uuid, Vec<BetLeg>>, QueryError> {
    let mut by_bet: HashMap<Uuid, Vec<BetLeg>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_bet);
    }
    let rows = sqlx::query(include_str!("sportsbook/legs.sql"))
        .bind(ids)
        .fetch_all(pool)
        .await?;
    for row in &rows {
        let odds: i64 = row.try_get("odds")?;
        let result: Option<String> = row.try_get("result")?;
        let leg = BetLeg {
            leg: row.try_get::<i16, _>("leg")?.into(),
            market_id: ID(row.try_get("market_id")?),
            outcome: row.try_get::<i16, _>("outcome")?.into(),
            odds: decimal_odds(odds)?,
            odds_ten_thousandths: odds,
            result: result.as_deref().map(leg_result).transpose()?,
            settlement_id: row.try_get::<Option<Uuid>, _>("settlement_id")?.map(id),
        };
        by_bet.entry(row.try_get("bet_id")?).or_default().push(leg);
    }
    Ok(by_bet)
}

fn market(row: &PgRow, outcomes: Vec<Outcome>) -> Result<Market, QueryError> {
    let status: String = row.try_get("status")?;
    let status = MarketStatus::parse(&status)
        .ok_or_else(|| internal(format!("unknown market status {status:?}")))?;
    let result: Option<String> = row.try_get("result")?;
    let settlement = row
        .try_get::<Option<Uuid>, _>("settlement_id")?
        .map(|settlement_id| -> Result<Settlement, QueryError> {
            Ok(Settlement {
                id: id(settlement_id),
                replaces: row.try_get::<Option<Uuid>, _>("replaces")?.map(id),
                bets_settled: row.try_get("bets_settled")?,
                finished: status == MarketStatus::Settled,
            })
        })
        .transpose()?;
    Ok(Market {
        id: ID(row.try_get("market_id")?),
        name: row.try_get("name")?,
        starts_at: row.try_get("starts_at")?,
        currency: row.try_get("currency")?,
        status,
        liability_limit: row.try_get("liability_limit")?,
        stake_min: row.try_get("stake_min")?,
        stake_max: row.try_get("stake_max")?,
        margin_bp: row.try_get("margin_bp")?,
        bets: row.try_get("bets")?,
        stakes_total: row.try_get("stakes_total")?,
        outcomes,
        result: result.as_deref().map(market_result).transpose()?,
        settlement,
        version: row.try_get("version")?,
        last_position: row.try_get("position")?,
    })
}

fn bet(row: &PgRow, legs: Vec<BetLeg>) -> Result<Bet, QueryError> {
    let status: String = row.try_get("status")?;
    let status = BetStatus::parse(&status)
        .ok_or_else(|| internal(format!("unknown bet status {status:?}")))?;
    let odds: i64 = row.try_get("odds")?;
    Ok(Bet {
        id: id(row.try_get("bet_id")?),
        account_id: row.try_get("account_id")?,
        currency: row.try_get("currency")?,
        stake: row.try_get("stake")?,
        odds: decimal_odds(odds)?,
        odds_ten_thousandths: odds,
        payout_if_wins: row.try_get("payout_if_wins")?,
        status,
        returned: row.try_get("returned")?,
        settlement_id: row.try_get::<Option<Uuid>, _>("settlement_id")?.map(id),
        placed_at: row.try_get("placed_at")?,
        settled_at: row.try_get("settled_at")?,
        legs,
        placed_position: row.try_get("placed_position")?,
        last_position: row.try_get("position")?,
    })
}

/// Odds in ten-thousandths as the decimal the domain prints ("2.5000").
fn decimal_odds(ten_thousandths: i64) -> Result<String, QueryError> {
    u64::try_from(ten_thousandths)
        .map(|o| Odds(o).to_string())
        .map_err(|_| internal(format!("negative odds {ten_thousandths}")))
}

/// A stored market result, read by the domain's own type so that the two
/// cannot disagree on its shape.
fn market_result(json: &str) -> Result<MarketResult, QueryError> {
    let result: DomainResult =
        serde_json::from_str(json).map_err(|e| internal(format!("market result {json}: {e}")))?;
    Ok(match result {
        DomainResult::Winners { winners } => MarketResult {
            kind: MarketResultKind::Winners,
            winners: winners.into_iter().map(i32::from).collect(),
        },
        DomainResult::Void => MarketResult {
            kind: MarketResultKind::Void,
            winners: Vec::new(),
        },
    })
}

fn leg_result(json: &str) -> Result<LegResult, QueryError> {
    let result: DomainLegResult =
        serde_json::from_str(json).map_err(|e| internal(format!("leg result {json}: {e}")))?;
    Ok(match result {
        DomainLegResult::Won { dead_heat } => LegResult {
            kind: LegResultKind::Won,
            dead_heat: Some(i32::from(dead_heat.get())),
        },
        DomainLegResult::Lost => LegResult {
            kind: LegResultKind::Lost,
            dead_heat: None,
        },
        DomainLegResult::Void => LegResult {
            kind: LegResultKind::Void,
            dead_heat: None,
        },
    })
}

/// A `markets` cursor's start back as a timestamp.
fn id(uuid: Uuid) -> ID {
    ID(uuid.to_string())
}

fn internal(problem: String) -> QueryError {
    QueryError::Internal(problem.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odds_print_as_four_place_decimals() {
        assert_eq!(decimal_odds(25_000).ok().as_deref(), Some("2.5000"));
        assert_eq!(decimal_odds(10_100).ok().as_deref(), Some("1.0100"));
        assert_eq!(
            decimal_odds(10_000_000_000).ok().as_deref(),
            Some("1000000.0000")
        );
        assert!(decimal_odds(-1).is_err());
    }

    #[test]
    fn stored_results_read_as_the_domain_writes_them() {
        let dead_heat = market_result(r#"{"kind":"winners","winners":[2,0]}"#).ok();
        assert_eq!(
            dead_heat,
            Some(MarketResult {
                kind: MarketResultKind::Winners,
                winners: vec![2, 0]
            })
        );
        assert_eq!(
            leg_result(r#"{"kind":"won","dead_heat":2}"#).ok(),
            Some(LegResult {
                kind: LegResultKind::Won,
                dead_heat: Some(2)
            })
        );
        assert!(leg_result(r#"{"kind":"maybe"}"#).is_err());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            MarketStatus::Open,
            MarketStatus::Suspended,
            MarketStatus::Closed,
            MarketStatus::Settling,
            MarketStatus::Settled,
        ] {
            assert_eq!(MarketStatus::parse(s.as_str()), Some(s));
        }
        for s in [
            BetStatus::Open,
            BetStatus::Settled,
            BetStatus::Voided,
            BetStatus::CashedOut,
        ] {
            assert_eq!(BetStatus::parse(s.as_str()), Some(s));
        }
    }
}
