//! The market aggregate (`market-{id}` streams): a sportsbook market's
//! lifecycle (open, suspended, closed, settling, settled), the money staked
//! on each outcome, the odds that move with it, and the house's liability
//! per outcome, which every accepted bet is checked against.
//!
//! `decide_market` handles the operator's commands; bets reach a market
//! through `sportsbook::bet::decide_bet`, which decides the wallet's and the
//! markets' events together. Both are pure.

mod decide;
mod event;
pub mod schemas;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use decide::{decide_market, MarketCommand, NAME_LEN_MAX, OUTCOME_NAME_LEN_MAX};
pub(crate) use event::require as event_require;
pub use event::{
    BetAccepted, BetCashedOutOfMarket, MarketChanged, MarketEvent, MarketOpened, MarketSettled,
    OddsChanged, SettlementProgressed, SettlementStarted,
};

use super::odds::{Odds, Pricing};
use crate::{Currency, MarketId, SettlementId};

/// What a market's settlement says happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MarketResult {
    /// These outcomes won: one, or several tied (a dead heat).
    Winners { winners: Vec<u16> },
    /// The market is void as a whole: every bet on it is void.
    Void,
}

impl MarketResult {
    /// Whether two results say the same, whatever the order of tied winners.
    pub fn same_as(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Void, Self::Void) => true,
            (Self::Winners { winners: a }, Self::Winners { winners: b }) => {
                let (mut a, mut b) = (a.clone(), b.clone());
                a.sort_unstable();
                b.sort_unstable();
                a == b
            }
            _ => false,
        }
    }

    /// Refuses winners that are not 1+ distinct outcomes of the market.
    fn validate(&self, outcomes: usize) -> Result<(), crate::Rejection> {
        let Self::Winners { winners } = self else {
            return Ok(());
        };
        let invalid = |why: String| Err(crate::Rejection::InvalidMarket(why));
        if winners.is_empty() {
            return invalid("a result needs at least one winner, or is void".into());
        }
        for (i, w) in winners.iter().enumerate() {
            if usize::from(*w) >= outcomes {
                return invalid(format!("winner {w} is not one of the {outcomes} outcomes"));
            }
            if winners[..i].contains(w) {
                return invalid(format!("winner {w} is named twice"));
            }
        }
        Ok(())
    }
}

/// Where a market is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketStatus {
    Open,
    Suspended,
    Closed,
    /// A settlement is running: bets are settled in batches, each recorded
    /// as progress (`through_version`: the market stream's version up to
    /// which every bet is settled).
    Settling {
        settlement_id: SettlementId,
        result: MarketResult,
        replaces: Option<SettlementId>,
        through_version: i64,
        bets_settled: u64,
    },
    Settled {
        settlement_id: SettlementId,
        result: MarketResult,
    },
}

impl MarketStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Suspended => "suspended",
            Self::Closed => "closed",
            Self::Settling { .. } => "settling",
            Self::Settled { .. } => "settled",
        }
    }
}

/// An opened market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Market {
    pub id: MarketId,
    pub name: String,
    pub starts_at: DateTime<Utc>,
    pub currency: Currency,
    pub outcomes: Vec<String>,
    pub pricing: Pricing,
    pub liability_limit: i64,
    pub stake_min: i64,
    pub stake_max: i64,
    pub status: MarketStatus,
    /// Money on each outcome, from singles and accumulator legs alike: what
    /// moves the odds.
    pub staked: Vec<u64>,
    /// Σ stakes of single bets, which offset what the house pays out. An
    /// accumulator's stake is left out: whether the house keeps it when one
    /// of this market's outcomes wins depends on the bet's other legs, and
    /// leaving it out only overstates the liability, the safe side.
    pub stakes_total: i64,
    /// Σ potential payouts of the bets (singles and accumulator legs) that
    /// pay if this outcome wins. An accumulator counts in full on every leg:
    /// the worst case is that all its other legs win.
    pub payouts_if_wins: Vec<i64>,
    pub odds: Vec<Odds>,
    pub bets: u64,
    /// Every settlement started, oldest first; the last is the current one.
    pub settlements: Vec<(SettlementId, MarketResult)>,
}

impl Market {
    /// The house's worst-case loss if `outcome` wins: what it would pay out
    /// less the single stakes it keeps. Negative when the house wins
    /// whatever happens.
    pub fn liability(&self, outcome: u16) -> i64 {
        let paid = self
            .payouts_if_wins
            .get(usize::from(outcome))
            .copied()
            .unwrap_or(0);
        let wide = i128::from(paid) - i128::from(self.stakes_total);
        i64::try_from(wide).unwrap_or(if wide < 0 { i64::MIN } else { i64::MAX })
    }
}

/// The state of a market stream: nothing until the market is opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarketState {
    pub market: Option<Market>,
}

impl MarketState {
    /// Folds one event into the state. Sums saturate rather than wrap:
    /// `decide_bet` refuses bets whose sums would leave `i64`.
    pub fn evolve(mut self, event: &MarketEvent) -> Self {
        if let MarketEvent::MarketOpened(e) = event {
            self.market = Some(opened(e));
            return self;
        }
        if let Some(market) = self.market.as_mut() {
            apply(market, event);
        }
        self
    }
}

fn opened(e: &MarketOpened) -> Market {
    let n = e.outcomes.len();
    Market {
        id: e.market.clone(),
        name: e.name.clone(),
        starts_at: e.starts_at,
        currency: e.currency,
        outcomes: e.outcomes.clone(),
        pricing: Pricing {
            prior_bp: e.prior_bp.clone(),
            prior_weight: e.prior_weight,
            margin_bp: e.margin_bp,
        },
        liability_limit: e.liability_limit,
        stake_min: e.stake_min,
        stake_max: e.stake_max,
        status: MarketStatus::Open,
        staked: vec![0; n],
        stakes_total: 0,
        payouts_if_wins: vec![0; n],
        odds: e.odds.clone(),
        bets: 0,
        settlements: Vec::new(),
    }
}

fn apply(market: &mut Market, event: &MarketEvent) {
    match event {
        MarketEvent::MarketOpened(_) => {}
        MarketEvent::MarketSuspended(_) => market.status = MarketStatus::Suspended,
        MarketEvent::MarketResumed(_) => market.status = MarketStatus::Open,
        MarketEvent::MarketClosed(_) => market.status = MarketStatus::Closed,
        MarketEvent::BetAccepted(e) => {
            let o = usize::from(e.outcome);
            let stake = e.stake.get();
            if let Some(staked) = market.staked.get_mut(o) {
                *staked = staked.saturating_add(stake.unsigned_abs());
            }
            if e.legs == 1 {
                market.stakes_total = market.stakes_total.saturating_add(stake);
            }
            if let Some(paid) = market.payouts_if_wins.get_mut(o) {
                *paid = paid.saturating_add(e.payout_if_wins);
            }
            market.bets += 1;
        }
        MarketEvent::OddsChanged(e) => market.odds = e.odds.clone(),
        MarketEvent::SettlementStarted(e) => {
            market.status = MarketStatus::Settling {
                settlement_id: e.settlement_id,
                result: e.result.clone(),
                replaces: e.replaces,
                through_version: 0,
                bets_settled: 0,
            };
            market.settlements.push((e.settlement_id, e.result.clone()));
        }
        MarketEvent::SettlementProgressed(e) => {
            if let MarketStatus::Settling {
                through_version,
                bets_settled,
                ..
            } = &mut market.status
            {
                *through_version = e.through_version;
                *bets_settled = e.bets_settled;
            }
        }
        MarketEvent::MarketSettled(e) => {
            if let MarketStatus::Settling { result, .. } = &market.status {
                market.status = MarketStatus::Settled {
                    settlement_id: e.settlement_id,
                    result: result.clone(),
                };
            }
        }
        MarketEvent::BetCashedOut(e) => {
            // Undoes the bet's `bet_accepted` for the liability; the money
            // staked still counts for the odds, which never move back.
            if let Some(paid) = market.payouts_if_wins.get_mut(usize::from(e.outcome)) {
                *paid = paid.saturating_sub(e.payout_if_wins);
            }
            if e.legs == 1 {
                market.stakes_total = market.stakes_total.saturating_sub(e.stake.get());
            }
        }
    }
}

/// Folds events into state from scratch.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a MarketEvent>) -> MarketState {
    events
        .into_iter()
        .fold(MarketState::default(), MarketState::evolve)
}

#[cfg(test)]
mod tests;
