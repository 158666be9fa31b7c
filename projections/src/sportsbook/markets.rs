//! The `markets` and `market_outcomes` rows: loaded for the markets a
//! batch touches, changed in memory by the market events (pure, `apply`),
//! and written back whole, each row guarded by its position.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger::sportsbook::market::{BetAccepted, BetCashedOutOfMarket, MarketEvent, MarketOpened};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::{checked, invariant, At};
use crate::Error;

/// A market's row, and its outcomes' rows in outcome order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MarketRow {
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub currency: String,
    pub status: &'static str,
    pub liability_limit: i64,
    pub stake_min: i64,
    pub stake_max: i64,
    pub margin_bp: i64,
    pub bets: i64,
    pub stakes_total: i64,
    pub settlement_id: Option<Uuid>,
    pub replaces: Option<Uuid>,
    /// The result as its JSON text (`{"kind":"winners","winners":[0]}`).
    pub result: Option<String>,
    pub bets_settled: i64,
    pub version: i64,
    pub position: i64,
    pub outcomes: Vec<OutcomeRow>,
    /// Changed since it was loaded: to be written.
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutcomeRow {
    pub name: String,
    pub odds: i64,
    pub staked: i64,
    pub payouts_if_wins: i64,
    pub liability: i64,
    pub position: i64,
    pub dirty: bool,
}

/// The statuses a market row can have, as stored.
const STATUSES: [&str; 5] = ["open", "suspended", "closed", "settling", "settled"];

/// The markets of one batch, by id.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Markets {
    pub rows: BTreeMap<String, MarketRow>,
}

impl Markets {
    /// Applies one market event. An event at or before the row's position
    /// was applied already (a replay) and changes nothing.
    pub fn apply(&mut self, at: At, event: &MarketEvent) -> Result<(), Error> {
        let id = market_id(event);
        if let MarketEvent::MarketOpened(e) = event {
            return match self.rows.get(id) {
                Some(row) if row.position >= at.position => Ok(()),
                Some(_) => Err(invariant(format!(
                    "market {id} opened again at position {}",
                    at.position
                ))),
                None => {
                    self.rows.insert(id.to_owned(), opened(at, e)?);
                    Ok(())
                }
            };
        }
        let Some(row) = self.rows.get_mut(id) else {
            return Err(invariant(format!(
                "{} at position {} is on market {id}, which was never opened",
                event.event_type(),
                at.position
            )));
        };
        if row.position >= at.position {
            return Ok(());
        }
        change(row, at, event)?;
        row.version = at.version;
        row.position = at.position;
        row.dirty = true;
        Ok(())
    }

    /// Loads the rows of `ids` that exist.
    pub async fn load(tx: &mut Transaction<'_, Postgres>, ids: &[String]) -> Result<Self, Error> {
        let mut markets = Self::default();
        if ids.is_empty() {
            return Ok(markets);
        }
        let rows = sqlx::query(include_str!("load_markets.sql"))
            .bind(ids)
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            let (id, market) = market_row(row)?;
            markets.rows.insert(id, market);
        }
        let rows = sqlx::query(include_str!("load_outcomes.sql"))
            .bind(ids)
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            let id: String = row.try_get("market_id")?;
            let outcome: i16 = row.try_get("outcome")?;
            let market = markets.rows.get_mut(&id).ok_or_else(|| {
                invariant(format!("outcome {outcome} of market {id} has no market"))
            })?;
            // Loaded in outcome order, they must come 0, 1, 2, ...
            if usize::try_from(outcome).ok() != Some(market.outcomes.len()) {
                return Err(invariant(format!(
                    "market {id} has outcome {outcome} where {} was expected",
                    market.outcomes.len()
                )));
            }
            market.outcomes.push(OutcomeRow {
                name: row.try_get("name")?,
                odds: row.try_get("odds")?,
                staked: row.try_get("staked")?,
                payouts_if_wins: row.try_get("payouts_if_wins")?,
                liability: row.try_get("liability")?,
                position: row.try_get("position")?,
                dirty: false,
            });
        }
        Ok(markets)
    }

    /// Writes the rows that changed, each only over an older one.
    pub async fn write(self, tx: &mut Transaction<'_, Postgres>) -> Result<(), Error> {
        let mut m = MarketColumns::default();
        let mut o = OutcomeColumns::default();
        for (id, row) in self.rows {
            if !row.dirty {
                continue;
            }
            for (index, outcome) in row.outcomes.iter().enumerate() {
                if outcome.dirty {
                    o.push(&id, index, outcome)?;
                }
            }
            m.push(id, row);
        }
        let sent = m.market_id.len();
        if sent > 0 {
            let written = sqlx::query(include_str!("write_markets.sql"))
                .bind(m.market_id)
                .bind(m.name)
                .bind(m.starts_at)
                .bind(m.currency)
                .bind(m.status)
                .bind(m.liability_limit)
                .bind(m.stake_min)
                .bind(m.stake_max)
                .bind(m.margin_bp)
                .bind(m.bets)
                .bind(m.stakes_total)
                .bind(m.settlement_id)
                .bind(m.replaces)
                .bind(m.result)
                .bind(m.bets_settled)
                .bind(m.version)
                .bind(m.position)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            expect_written("markets", sent, written)?;
        }
        let sent = o.market_id.len();
        if sent > 0 {
            let written = sqlx::query(include_str!("write_outcomes.sql"))
                .bind(o.market_id)
                .bind(o.outcome)
                .bind(o.name)
                .bind(o.odds)
                .bind(o.staked)
                .bind(o.payouts_if_wins)
                .bind(o.liability)
                .bind(o.position)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            expect_written("market outcomes", sent, written)?;
        }
        Ok(())
    }
}

/// Every row sent was newer than the one it replaces (it was changed from
/// what was loaded in this transaction), so every one must have landed.
pub(super) fn expect_written(what: &str, sent: usize, written: u64) -> Result<(), Error> {
    if u64::try_from(sent).ok() == Some(written) {
        Ok(())
    } else {
        Err(invariant(format!(
            "{sent} {what} rows changed but {written} were written"
        )))
    }
}

pub(super) fn market_id(event: &MarketEvent) -> &str {
    match event {
        MarketEvent::MarketOpened(e) => e.market.as_str(),
        MarketEvent::MarketSuspended(e)
        | MarketEvent::MarketResumed(e)
        | MarketEvent::MarketClosed(e) => e.market.as_str(),
        MarketEvent::BetAccepted(e) => e.market.as_str(),
        MarketEvent::OddsChanged(e) => e.market.as_str(),
        MarketEvent::SettlementStarted(e) => e.market.as_str(),
        MarketEvent::SettlementProgressed(e) => e.market.as_str(),
        MarketEvent::MarketSettled(e) => e.market.as_str(),
        MarketEvent::BetCashedOut(e) => e.market.as_str(),
    }
}

fn opened(at: At, e: &MarketOpened) -> Result<MarketRow, Error> {
    if e.odds.len() != e.outcomes.len() {
        return Err(invariant(format!(
            "market {} opened with {} outcomes and {} odds",
            e.market,
            e.outcomes.len(),
            e.odds.len()
        )));
    }
    let outcomes = e
        .outcomes
        .iter()
        .zip(&e.odds)
        .map(|(name, odds)| {
            Ok(OutcomeRow {
                name: name.clone(),
                odds: odds_i64(odds.0)?,
                staked: 0,
                payouts_if_wins: 0,
                liability: 0,
                position: at.position,
                dirty: true,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(MarketRow {
        name: e.name.clone(),
        starts_at: e.starts_at,
        currency: e.currency.to_string(),
        status: "open",
        liability_limit: e.liability_limit,
        stake_min: e.stake_min,
        stake_max: e.stake_max,
        margin_bp: i64::try_from(e.margin_bp)
            .map_err(|_| invariant(format!("market {} has margin {}", e.market, e.margin_bp)))?,
        bets: 0,
        stakes_total: 0,
        settlement_id: None,
        replaces: None,
        result: None,
        bets_settled: 0,
        version: at.version,
        position: at.position,
        outcomes,
        dirty: true,
    })
}

/// What one event after `market_opened` changes.
fn change(row: &mut MarketRow, at: At, event: &MarketEvent) -> Result<(), Error> {
    match event {
        MarketEvent::MarketOpened(_) => {}
        MarketEvent::MarketSuspended(_) => row.status = "suspended",
        MarketEvent::MarketResumed(_) => row.status = "open",
        MarketEvent::MarketClosed(_) => row.status = "closed",
        MarketEvent::BetAccepted(e) => accepted(row, at, e)?,
        MarketEvent::OddsChanged(e) => {
            if e.odds.len() != row.outcomes.len() {
                return Err(invariant(format!(
                    "odds_changed at position {} has {} odds for {} outcomes",
                    at.position,
                    e.odds.len(),
                    row.outcomes.len()
                )));
            }
            for (outcome, odds) in row.outcomes.iter_mut().zip(&e.odds) {
                let odds = odds_i64(odds.0)?;
                if outcome.odds != odds {
                    outcome.odds = odds;
                    outcome.position = at.position;
                    outcome.dirty = true;
                }
            }
        }
        MarketEvent::SettlementStarted(e) => {
            row.status = "settling";
            row.settlement_id = Some(e.settlement_id.as_uuid());
            row.replaces = e.replaces.map(|r| r.as_uuid());
            row.result = Some(
                serde_json::to_string(&e.result)
                    .map_err(|e| invariant(format!("a market result does not serialize: {e}")))?,
            );
            row.bets_settled = 0;
        }
        MarketEvent::SettlementProgressed(e) => {
            same_settlement(row, at, e.settlement_id.as_uuid())?;
            row.bets_settled = count(e.bets_settled)?;
        }
        MarketEvent::MarketSettled(e) => {
            same_settlement(row, at, e.settlement_id.as_uuid())?;
            row.status = "settled";
            row.bets_settled = count(e.bets_settled)?;
        }
        MarketEvent::BetCashedOut(e) => cashed_out(row, at, e)?,
    }
    Ok(())
}

/// A bet adds its stake to the money on its outcome (which moves the odds,
/// recorded apart in `odds_changed`), and its potential payout to what the
/// house pays if that outcome wins; a single's stake also offsets every
/// outcome's liability.
fn accepted(row: &mut MarketRow, at: At, e: &BetAccepted) -> Result<(), Error> {
    let o = outcome_index(row, at, e.outcome)?;
    let stake = e.stake.get();
    let outcome = &mut row.outcomes[o];
    outcome.staked = checked(outcome.staked.checked_add(stake), at, "staked")?;
    outcome.payouts_if_wins = checked(
        outcome.payouts_if_wins.checked_add(e.payout_if_wins),
        at,
        "payouts_if_wins",
    )?;
    outcome.position = at.position;
    outcome.dirty = true;
    if e.legs == 1 {
        row.stakes_total = checked(row.stakes_total.checked_add(stake), at, "stakes_total")?;
    }
    row.bets = checked(row.bets.checked_add(1), at, "bets")?;
    liabilities(row, at)
}

/// A cash-out takes the bet's liability back out (but not its money on
/// the outcome: odds never move back).
fn cashed_out(row: &mut MarketRow, at: At, e: &BetCashedOutOfMarket) -> Result<(), Error> {
    let o = outcome_index(row, at, e.outcome)?;
    let outcome = &mut row.outcomes[o];
    outcome.payouts_if_wins = checked(
        outcome.payouts_if_wins.checked_sub(e.payout_if_wins),
        at,
        "payouts_if_wins",
    )?;
    outcome.position = at.position;
    outcome.dirty = true;
    if e.legs == 1 {
        row.stakes_total = checked(
            row.stakes_total.checked_sub(e.stake.get()),
            at,
            "stakes_total",
        )?;
    }
    if outcome_negative(row) {
        return Err(invariant(format!(
            "a cash-out at position {} takes more out of market {} than bets put in",
            at.position, e.market
        )));
    }
    liabilities(row, at)
}

fn outcome_negative(row: &MarketRow) -> bool {
    row.stakes_total < 0 || row.outcomes.iter().any(|o| o.payouts_if_wins < 0)
}

/// Recomputes every outcome's liability (a single's stake changes them
/// all), marking those that moved.
fn liabilities(row: &mut MarketRow, at: At) -> Result<(), Error> {
    for outcome in &mut row.outcomes {
        let liability = checked(
            outcome.payouts_if_wins.checked_sub(row.stakes_total),
            at,
            "liability",
        )?;
        if outcome.liability != liability {
            outcome.liability = liability;
            outcome.position = at.position;
            outcome.dirty = true;
        }
    }
    Ok(())
}

fn outcome_index(row: &MarketRow, at: At, outcome: u16) -> Result<usize, Error> {
    let o = usize::from(outcome);
    if o < row.outcomes.len() {
        Ok(o)
    } else {
        Err(invariant(format!(
            "the event at position {} names outcome {outcome} of a market with {}",
            at.position,
            row.outcomes.len()
        )))
    }
}

fn same_settlement(row: &MarketRow, at: At, settlement_id: Uuid) -> Result<(), Error> {
    if row.settlement_id == Some(settlement_id) {
        Ok(())
    } else {
        Err(invariant(format!(
            "the event at position {} is about settlement {settlement_id}, not the market's {:?}",
            at.position, row.settlement_id
        )))
    }
}

fn count(n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| invariant(format!("a count of {n} does not fit")))
}

pub(super) fn odds_i64(odds: u64) -> Result<i64, Error> {
    i64::try_from(odds).map_err(|_| invariant(format!("odds of {odds} do not fit")))
}

fn market_row(row: &PgRow) -> Result<(String, MarketRow), Error> {
    let status: String = row.try_get("status")?;
    let status = STATUSES
        .into_iter()
        .find(|s| *s == status)
        .ok_or_else(|| invariant(format!("a market has status {status:?}")))?;
    let market = MarketRow {
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
        settlement_id: row.try_get("settlement_id")?,
        replaces: row.try_get("replaces")?,
        result: row.try_get("result")?,
        bets_settled: row.try_get("bets_settled")?,
        version: row.try_get("version")?,
        position: row.try_get("position")?,
        outcomes: Vec::new(),
        dirty: false,
    };
    Ok((row.try_get("market_id")?, market))
}

/// Changed markets, column by column, for one `unnest` upsert.
#[derive(Default)]
struct MarketColumns {
    market_id: Vec<String>,
    name: Vec<String>,
    starts_at: Vec<DateTime<Utc>>,
    currency: Vec<String>,
    status: Vec<&'static str>,
    liability_limit: Vec<i64>,
    stake_min: Vec<i64>,
    stake_max: Vec<i64>,
    margin_bp: Vec<i64>,
    bets: Vec<i64>,
    stakes_total: Vec<i64>,
    settlement_id: Vec<Option<Uuid>>,
    replaces: Vec<Option<Uuid>>,
    result: Vec<Option<String>>,
    bets_settled: Vec<i64>,
    version: Vec<i64>,
    position: Vec<i64>,
}

impl MarketColumns {
    fn push(&mut self, id: String, row: MarketRow) {
        self.market_id.push(id);
        self.name.push(row.name);
        self.starts_at.push(row.starts_at);
        self.currency.push(row.currency);
        self.status.push(row.status);
        self.liability_limit.push(row.liability_limit);
        self.stake_min.push(row.stake_min);
        self.stake_max.push(row.stake_max);
        self.margin_bp.push(row.margin_bp);
        self.bets.push(row.bets);
        self.stakes_total.push(row.stakes_total);
        self.settlement_id.push(row.settlement_id);
        self.replaces.push(row.replaces);
        self.result.push(row.result);
        self.bets_settled.push(row.bets_settled);
        self.version.push(row.version);
        self.position.push(row.position);
    }
}

/// Changed outcomes, column by column.
#[derive(Default)]
struct OutcomeColumns {
    market_id: Vec<String>,
    outcome: Vec<i16>,
    name: Vec<String>,
    odds: Vec<i64>,
    staked: Vec<i64>,
    payouts_if_wins: Vec<i64>,
    liability: Vec<i64>,
    position: Vec<i64>,
}

impl OutcomeColumns {
    fn push(&mut self, id: &str, index: usize, row: &OutcomeRow) -> Result<(), Error> {
        self.market_id.push(id.to_owned());
        self.outcome.push(
            i16::try_from(index)
                .map_err(|_| invariant(format!("market {id} has outcome {index}")))?,
        );
        self.name.push(row.name.clone());
        self.odds.push(row.odds);
        self.staked.push(row.staked);
        self.payouts_if_wins.push(row.payouts_if_wins);
        self.liability.push(row.liability);
        self.position.push(row.position);
        Ok(())
    }
}
