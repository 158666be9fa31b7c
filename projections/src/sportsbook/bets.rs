//! The `bets` and `bet_legs` rows: loaded for the bets a batch touches,
//! changed in memory by the wallets' bet events (pure, `apply`), and
//! written back whole, each row guarded by its position.
//!
//! What a bet returned follows its money: its `bet_settled`'s payout, plus
//! Σ `bet_paid` − Σ `bet_payout_reversed`, plus the stake when
//! `bet_voided` left it with the player. A re-settlement reverses the old return and pays the new
//! one, so the sum is always what the player holds from the bet now.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger::sportsbook::settle::LegResult;
use ledger::wallet::{BetPlaced, WalletEvent};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::markets::{expect_written, odds_i64};
use super::{checked, invariant, At};
use crate::Error;

/// Where a bet is in its life, as stored in `bets.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Open,
    Settled,
    /// Every leg void: the stake stayed with the player.
    Voided,
    CashedOut,
}

impl Status {
    pub fn as_str(self) -> &'static str {
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

/// A bet's row, and its legs' rows in the order placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BetRow {
    pub account_id: String,
    pub currency: String,
    pub stake: i64,
    pub odds: i64,
    pub payout_if_wins: i64,
    pub status: Status,
    /// What the player got back in total; `None` while open.
    pub returned: Option<i64>,
    pub settlement_id: Option<Uuid>,
    pub placed_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub placed_position: i64,
    /// The last event applied to the bet or one of its legs.
    pub position: i64,
    pub legs: Vec<LegRow>,
    pub dirty: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LegRow {
    pub market_id: String,
    pub outcome: i16,
    pub odds: i64,
    pub result: Option<LegResult>,
    pub settlement_id: Option<Uuid>,
    pub position: i64,
    pub dirty: bool,
}

/// The bets of one batch, by id.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Bets {
    pub rows: BTreeMap<Uuid, BetRow>,
}

/// The bet a wallet event is about, if it is a bet event.
pub(super) fn bet_id(event: &WalletEvent) -> Option<Uuid> {
    let id = match event {
        WalletEvent::BetPlaced(e) => e.bet_id,
        WalletEvent::BetLegSettled(e) => e.bet_id,
        WalletEvent::BetSettled(e) => e.bet_id,
        WalletEvent::BetVoided(e) => e.bet_id,
        WalletEvent::BetPaid(e) => e.bet_id,
        WalletEvent::BetPayoutReversed(e) => e.bet_id,
        WalletEvent::CashOutOffered(e) => e.bet_id,
        WalletEvent::BetCashedOut(e) => e.bet_id,
        WalletEvent::AccountOpened(_)
        | WalletEvent::FundsDeposited(_)
        | WalletEvent::FundsWithdrawn(_)
        | WalletEvent::HoldPlaced(_)
        | WalletEvent::HoldPosted(_)
        | WalletEvent::HoldVoided(_)
        | WalletEvent::SeatsHeld(_)
        | WalletEvent::SeatsPurchased(_)
        | WalletEvent::SeatsReleased(_)
        | WalletEvent::TicketRefunded(_) => return None,
        WalletEvent::PoolEntered(_)
        | WalletEvent::PoolPaid(_)
        | WalletEvent::PoolRefunded(_)
        | WalletEvent::PoolRakeTaken(_) => return None,
    };
    Some(id.as_uuid())
}

impl Bets {
    /// Applies one wallet event. Events at or before the bet's position were
    /// applied already (a replay) and change nothing; events that are not
    /// about a bet are ignored.
    pub fn apply(&mut self, at: At, event: &WalletEvent) -> Result<(), Error> {
        let Some(id) = bet_id(event) else {
            return Ok(());
        };
        if let WalletEvent::BetPlaced(e) = event {
            return match self.rows.get(&id) {
                Some(row) if row.position >= at.position => Ok(()),
                Some(_) => Err(invariant(format!(
                    "bet {id} placed again at position {}",
                    at.position
                ))),
                None => {
                    self.rows.insert(id, placed(at, e)?);
                    Ok(())
                }
            };
        }
        let Some(row) = self.rows.get_mut(&id) else {
            return Err(invariant(format!(
                "{} at position {} is about bet {id}, which was never placed",
                event.event_type(),
                at.position
            )));
        };
        if row.position >= at.position {
            return Ok(());
        }
        if change(row, at, event)? {
            row.position = at.position;
            row.dirty = true;
        }
        Ok(())
    }

    /// Loads the rows of `ids` that exist.
    pub async fn load(tx: &mut Transaction<'_, Postgres>, ids: &[Uuid]) -> Result<Self, Error> {
        let mut bets = Self::default();
        if ids.is_empty() {
            return Ok(bets);
        }
        let rows = sqlx::query(include_str!("load_bets.sql"))
            .bind(ids)
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            let (id, bet) = bet_row(row)?;
            bets.rows.insert(id, bet);
        }
        let rows = sqlx::query(include_str!("load_legs.sql"))
            .bind(ids)
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            let id: Uuid = row.try_get("bet_id")?;
            let leg: i16 = row.try_get("leg")?;
            let bet = bets
                .rows
                .get_mut(&id)
                .ok_or_else(|| invariant(format!("leg {leg} of bet {id} has no bet")))?;
            if usize::try_from(leg).ok() != Some(bet.legs.len()) {
                return Err(invariant(format!(
                    "bet {id} has leg {leg} where {} was expected",
                    bet.legs.len()
                )));
            }
            let result: Option<String> = row.try_get("result")?;
            bet.legs.push(LegRow {
                market_id: row.try_get("market_id")?,
                outcome: row.try_get("outcome")?,
                odds: row.try_get("odds")?,
                result: result.as_deref().map(parse_result).transpose()?,
                settlement_id: row.try_get("settlement_id")?,
                position: row.try_get("position")?,
                dirty: false,
            });
        }
        Ok(bets)
    }

    /// Writes the rows that changed, each only over an older one.
    pub async fn write(self, tx: &mut Transaction<'_, Postgres>) -> Result<(), Error> {
        let mut b = BetColumns::default();
        let mut l = LegColumns::default();
        for (id, row) in self.rows {
            if !row.dirty {
                continue;
            }
            for (index, leg) in row.legs.iter().enumerate() {
                if leg.dirty {
                    l.push(id, index, leg)?;
                }
            }
            b.push(id, row)?;
        }
        let sent = b.bet_id.len();
        if sent > 0 {
            let written = sqlx::query(include_str!("write_bets.sql"))
                .bind(b.bet_id)
                .bind(b.account_id)
                .bind(b.currency)
                .bind(b.stake)
                .bind(b.odds)
                .bind(b.payout_if_wins)
                .bind(b.legs)
                .bind(b.status)
                .bind(b.returned)
                .bind(b.settlement_id)
                .bind(b.placed_at)
                .bind(b.settled_at)
                .bind(b.placed_position)
                .bind(b.position)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            expect_written("bets", sent, written)?;
        }
        let sent = l.bet_id.len();
        if sent > 0 {
            let written = sqlx::query(include_str!("write_legs.sql"))
                .bind(l.bet_id)
                .bind(l.leg)
                .bind(l.market_id)
                .bind(l.outcome)
                .bind(l.odds)
                .bind(l.result)
                .bind(l.settlement_id)
                .bind(l.position)
                .execute(&mut **tx)
                .await?
                .rows_affected();
            expect_written("bet legs", sent, written)?;
        }
        Ok(())
    }
}

fn placed(at: At, e: &BetPlaced) -> Result<BetRow, Error> {
    let legs = e
        .legs
        .iter()
        .map(|leg| {
            Ok(LegRow {
                market_id: leg.market.as_str().to_owned(),
                outcome: i16::try_from(leg.outcome).map_err(|_| {
                    invariant(format!("bet {} backs outcome {}", e.bet_id, leg.outcome))
                })?,
                odds: odds_i64(leg.odds.0)?,
                result: None,
                settlement_id: None,
                position: at.position,
                dirty: true,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    if legs.is_empty() || legs.len() > LEGS_MAX {
        return Err(invariant(format!(
            "bet {} has {} legs",
            e.bet_id,
            legs.len()
        )));
    }
    Ok(BetRow {
        // The stake's hold goes from the player's wallet to the house.
        account_id: e.transfer.debit.as_str().to_owned(),
        currency: e.transfer.currency.to_string(),
        stake: e.transfer.amount.get(),
        odds: odds_i64(e.odds.0)?,
        payout_if_wins: e.payout_if_wins,
        status: Status::Open,
        returned: None,
        settlement_id: None,
        placed_at: at.recorded_at,
        settled_at: None,
        placed_position: at.position,
        position: at.position,
        legs,
        dirty: true,
    })
}

/// Most legs a bet has (the read model's bound, as the domain's).
const LEGS_MAX: usize = 10;

/// What one event after `bet_placed` changes; `false` when nothing.
fn change(row: &mut BetRow, at: At, event: &WalletEvent) -> Result<bool, Error> {
    match event {
        WalletEvent::BetLegSettled(e) => {
            set_leg(
                row,
                at,
                e.market.as_str(),
                e.settlement_id.as_uuid(),
                e.result,
            )?;
            if matches!(row.status, Status::Settled | Status::Voided) {
                // A leg of a settled bet settled again (a re-settlement):
                // the bet is now as its legs say. The money follows in
                // `bet_payout_reversed` and `bet_paid`.
                row.status = if all_void(row) {
                    Status::Voided
                } else {
                    Status::Settled
                };
                row.settlement_id = Some(e.settlement_id.as_uuid());
                row.settled_at = Some(at.recorded_at);
            }
        }
        WalletEvent::BetSettled(e) => {
            set_leg(
                row,
                at,
                e.market.as_str(),
                e.settlement_id.as_uuid(),
                e.result,
            )?;
            // Paid in the same event since version 2; by the `bet_paid`
            // that followed before.
            let paid = e.payout.as_ref().map_or(0, |p| p.amount.get());
            settle(row, at, Status::Settled, e.settlement_id.as_uuid(), paid)?;
        }
        WalletEvent::BetVoided(e) => {
            set_leg(
                row,
                at,
                e.market.as_str(),
                e.settlement_id.as_uuid(),
                e.result,
            )?;
            // The hold was voided: the player kept the stake.
            let stake = row.stake;
            settle(row, at, Status::Voided, e.settlement_id.as_uuid(), stake)?;
        }
        WalletEvent::BetCashedOut(_) => {
            // The `bet_paid` that follows brings the amount.
            row.status = Status::CashedOut;
            row.returned = Some(0);
            row.settled_at = Some(at.recorded_at);
        }
        WalletEvent::BetPaid(e) => add_returned(row, at, e.transfer.amount.get())?,
        WalletEvent::BetPayoutReversed(e) => {
            let amount = e.transfer.amount.get();
            add_returned(row, at, -amount)?;
        }
        // An offer changes nothing the read model keeps.
        WalletEvent::CashOutOffered(_) => return Ok(false),
        WalletEvent::BetPlaced(_)
        | WalletEvent::AccountOpened(_)
        | WalletEvent::FundsDeposited(_)
        | WalletEvent::FundsWithdrawn(_)
        | WalletEvent::HoldPlaced(_)
        | WalletEvent::HoldPosted(_)
        | WalletEvent::HoldVoided(_)
        | WalletEvent::SeatsHeld(_)
        | WalletEvent::SeatsPurchased(_)
        | WalletEvent::SeatsReleased(_)
        | WalletEvent::TicketRefunded(_) => return Ok(false),
        WalletEvent::PoolEntered(_)
        | WalletEvent::PoolPaid(_)
        | WalletEvent::PoolRefunded(_)
        | WalletEvent::PoolRakeTaken(_) => return Ok(false),
    }
    Ok(true)
}

/// A bet's first settlement (by its last leg to settle).
fn settle(
    row: &mut BetRow,
    at: At,
    status: Status,
    settlement_id: Uuid,
    returned: i64,
) -> Result<(), Error> {
    if row.status != Status::Open {
        return Err(invariant(format!(
            "a bet already {} is settled at position {}",
            row.status.as_str(),
            at.position
        )));
    }
    row.status = status;
    row.returned = Some(returned);
    row.settlement_id = Some(settlement_id);
    row.settled_at = Some(at.recorded_at);
    Ok(())
}

fn add_returned(row: &mut BetRow, at: At, amount: i64) -> Result<(), Error> {
    let Some(before) = row.returned else {
        return Err(invariant(format!(
            "money moves at position {} for a bet that is still open",
            at.position
        )));
    };
    let after = checked(before.checked_add(amount), at, "returned")?;
    if after < 0 {
        return Err(invariant(format!(
            "a reversal at position {} takes back more than the bet returned",
            at.position
        )));
    }
    row.returned = Some(after);
    Ok(())
}

fn set_leg(
    row: &mut BetRow,
    at: At,
    market: &str,
    settlement_id: Uuid,
    result: LegResult,
) -> Result<(), Error> {
    let leg = row
        .legs
        .iter_mut()
        .find(|leg| leg.market_id == market)
        .ok_or_else(|| {
            invariant(format!(
                "a leg on market {market} is settled at position {}, but the bet has none",
                at.position
            ))
        })?;
    leg.result = Some(result);
    leg.settlement_id = Some(settlement_id);
    leg.position = at.position;
    leg.dirty = true;
    Ok(())
}

fn all_void(row: &BetRow) -> bool {
    row.legs
        .iter()
        .all(|leg| leg.result == Some(LegResult::Void))
}

fn parse_result(json: &str) -> Result<LegResult, Error> {
    serde_json::from_str(json)
        .map_err(|e| invariant(format!("a leg result {json} is unreadable: {e}")))
}

fn bet_row(row: &PgRow) -> Result<(Uuid, BetRow), Error> {
    let status: String = row.try_get("status")?;
    let status =
        Status::parse(&status).ok_or_else(|| invariant(format!("a bet has status {status:?}")))?;
    let bet = BetRow {
        account_id: row.try_get("account_id")?,
        currency: row.try_get("currency")?,
        stake: row.try_get("stake")?,
        odds: row.try_get("odds")?,
        payout_if_wins: row.try_get("payout_if_wins")?,
        status,
        returned: row.try_get("returned")?,
        settlement_id: row.try_get("settlement_id")?,
        placed_at: row.try_get("placed_at")?,
        settled_at: row.try_get("settled_at")?,
        placed_position: row.try_get("placed_position")?,
        position: row.try_get("position")?,
        legs: Vec::new(),
        dirty: false,
    };
    Ok((row.try_get("bet_id")?, bet))
}

/// Changed bets, column by column, for one `unnest` upsert.
#[derive(Default)]
struct BetColumns {
    bet_id: Vec<Uuid>,
    account_id: Vec<String>,
    currency: Vec<String>,
    stake: Vec<i64>,
    odds: Vec<i64>,
    payout_if_wins: Vec<i64>,
    legs: Vec<i16>,
    status: Vec<&'static str>,
    returned: Vec<Option<i64>>,
    settlement_id: Vec<Option<Uuid>>,
    placed_at: Vec<DateTime<Utc>>,
    settled_at: Vec<Option<DateTime<Utc>>>,
    placed_position: Vec<i64>,
    position: Vec<i64>,
}

impl BetColumns {
    fn push(&mut self, id: Uuid, row: BetRow) -> Result<(), Error> {
        self.bet_id.push(id);
        self.legs.push(
            i16::try_from(row.legs.len())
                .map_err(|_| invariant(format!("bet {id} has {} legs", row.legs.len())))?,
        );
        self.account_id.push(row.account_id);
        self.currency.push(row.currency);
        self.stake.push(row.stake);
        self.odds.push(row.odds);
        self.payout_if_wins.push(row.payout_if_wins);
        self.status.push(row.status.as_str());
        self.returned.push(row.returned);
        self.settlement_id.push(row.settlement_id);
        self.placed_at.push(row.placed_at);
        self.settled_at.push(row.settled_at);
        self.placed_position.push(row.placed_position);
        self.position.push(row.position);
        Ok(())
    }
}

/// Changed legs, column by column.
#[derive(Default)]
struct LegColumns {
    bet_id: Vec<Uuid>,
    leg: Vec<i16>,
    market_id: Vec<String>,
    outcome: Vec<i16>,
    odds: Vec<i64>,
    result: Vec<Option<String>>,
    settlement_id: Vec<Option<Uuid>>,
    position: Vec<i64>,
}

impl LegColumns {
    fn push(&mut self, id: Uuid, index: usize, row: &LegRow) -> Result<(), Error> {
        self.bet_id.push(id);
        self.leg.push(
            i16::try_from(index).map_err(|_| invariant(format!("bet {id} has leg {index}")))?,
        );
        self.market_id.push(row.market_id.clone());
        self.outcome.push(row.outcome);
        self.odds.push(row.odds);
        self.result.push(
            row.result
                .map(|r| serde_json::to_string(&r))
                .transpose()
                .map_err(|e| invariant(format!("a leg result does not serialize: {e}")))?,
        );
        self.settlement_id.push(row.settlement_id);
        self.position.push(row.position);
        Ok(())
    }
}
