//! The operator's commands on a market and the decision that turns them
//! into events. Bets are decided in `sportsbook::bet`.

use chrono::{DateTime, Utc};

use super::event::{
    MarketChanged, MarketEvent, MarketOpened, MarketSettled, SettlementProgressed,
    SettlementStarted,
};
use super::{Market, MarketResult, MarketState, MarketStatus};
use crate::sportsbook::odds::{Pricing, OUTCOMES_MAX};
use crate::{Currency, MarketId, Rejection, SettlementId};

/// Longest market name, in characters.
pub const NAME_LEN_MAX: usize = 200;
/// Longest outcome name, in characters.
pub const OUTCOME_NAME_LEN_MAX: usize = 100;

/// What the operator (or the settlement process) asks of a market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarketCommand {
    Open {
        market: MarketId,
        name: String,
        starts_at: DateTime<Utc>,
        currency: Currency,
        outcomes: Vec<String>,
        pricing: Pricing,
        liability_limit: i64,
        stake_min: i64,
        stake_max: i64,
    },
    Suspend,
    Resume,
    Close,
    /// The first settlement of a closed market.
    StartSettlement {
        settlement_id: SettlementId,
        result: MarketResult,
    },
    /// A corrected result for a settled market: a new settlement that
    /// replaces the current one.
    Resettle {
        settlement_id: SettlementId,
        result: MarketResult,
    },
    /// The running settlement has settled every bet up to the market
    /// stream's `through_version`, `bets_settled` in all.
    RecordProgress {
        settlement_id: SettlementId,
        through_version: i64,
        bets_settled: u64,
    },
    FinishSettlement {
        settlement_id: SettlementId,
    },
}

/// Decides an operator's command against the market's state.
pub fn decide_market(
    state: &MarketState,
    command: &MarketCommand,
) -> Result<Vec<MarketEvent>, Rejection> {
    let market = match (&state.market, command) {
        (None, MarketCommand::Open { .. }) => return open(command).map(|e| vec![e]),
        (Some(_), MarketCommand::Open { .. }) => return Err(Rejection::MarketExists),
        (None, _) => return Err(Rejection::MarketNotFound),
        (Some(market), _) => market,
    };
    let id = || MarketChanged {
        market: market.id.clone(),
    };
    let event = match command {
        MarketCommand::Open { .. } => return Err(Rejection::MarketExists),
        MarketCommand::Suspend => {
            in_status(market, matches!(market.status, MarketStatus::Open))?;
            MarketEvent::MarketSuspended(id())
        }
        MarketCommand::Resume => {
            in_status(market, matches!(market.status, MarketStatus::Suspended))?;
            MarketEvent::MarketResumed(id())
        }
        MarketCommand::Close => {
            let open = matches!(market.status, MarketStatus::Open | MarketStatus::Suspended);
            in_status(market, open)?;
            MarketEvent::MarketClosed(id())
        }
        MarketCommand::StartSettlement {
            settlement_id,
            result,
        } => {
            match market.status {
                MarketStatus::Closed => {}
                MarketStatus::Open | MarketStatus::Suspended => {
                    return Err(Rejection::MarketNotClosed)
                }
                MarketStatus::Settling { .. } | MarketStatus::Settled { .. } => {
                    return Err(Rejection::MarketAlreadySettled)
                }
            }
            result.validate(market.outcomes.len())?;
            started(market, *settlement_id, result, None)?
        }
        MarketCommand::Resettle {
            settlement_id,
            result,
        } => {
            let current = match &market.status {
                MarketStatus::Settled {
                    settlement_id,
                    result,
                } => (*settlement_id, result),
                settling @ MarketStatus::Settling { .. } => {
                    return Err(Rejection::InvalidMarketState {
                        status: settling.as_str().into(),
                    })
                }
                _ => return Err(Rejection::SettlementNotFound),
            };
            result.validate(market.outcomes.len())?;
            if result.same_as(current.1) {
                return Err(Rejection::SettlementUnchanged);
            }
            started(market, *settlement_id, result, Some(current.0))?
        }
        MarketCommand::RecordProgress {
            settlement_id,
            through_version,
            bets_settled,
        } => {
            let recorded = settling(market, *settlement_id)?;
            if *through_version <= recorded {
                // A repeated or stale report: the settlement is already
                // past it, so recording it would move progress backwards.
                return Err(Rejection::InvalidMarket(format!(
                    "progress through version {through_version} is not past {recorded}"
                )));
            }
            MarketEvent::SettlementProgressed(SettlementProgressed {
                market: market.id.clone(),
                settlement_id: *settlement_id,
                through_version: *through_version,
                bets_settled: *bets_settled,
            })
        }
        MarketCommand::FinishSettlement { settlement_id } => {
            settling(market, *settlement_id)?;
            let bets_settled = match market.status {
                MarketStatus::Settling { bets_settled, .. } => bets_settled,
                _ => 0,
            };
            MarketEvent::MarketSettled(MarketSettled {
                market: market.id.clone(),
                settlement_id: *settlement_id,
                bets_settled,
            })
        }
    };
    Ok(vec![event])
}

fn in_status(market: &Market, allowed: bool) -> Result<(), Rejection> {
    if allowed {
        return Ok(());
    }
    Err(Rejection::InvalidMarketState {
        status: market.status.as_str().into(),
    })
}

/// The running settlement's recorded progress, if `settlement_id` is the
/// one running.
fn settling(market: &Market, settlement_id: SettlementId) -> Result<i64, Rejection> {
    match &market.status {
        MarketStatus::Settling {
            settlement_id: running,
            through_version,
            ..
        } if *running == settlement_id => Ok(*through_version),
        _ => Err(Rejection::SettlementNotFound),
    }
}

fn started(
    market: &Market,
    settlement_id: SettlementId,
    result: &MarketResult,
    replaces: Option<SettlementId>,
) -> Result<MarketEvent, Rejection> {
    // Lineage names settlements by id, so one id names one settlement.
    if market
        .settlements
        .iter()
        .any(|(id, _)| *id == settlement_id)
    {
        return Err(Rejection::InvalidMarket(format!(
            "settlement {settlement_id} was already used on this market"
        )));
    }
    Ok(MarketEvent::SettlementStarted(SettlementStarted {
        market: market.id.clone(),
        settlement_id,
        result: result.clone(),
        replaces,
    }))
}

fn open(command: &MarketCommand) -> Result<MarketEvent, Rejection> {
    let MarketCommand::Open {
        market,
        name,
        starts_at,
        currency,
        outcomes,
        pricing,
        liability_limit,
        stake_min,
        stake_max,
    } = command
    else {
        return Err(Rejection::MarketNotFound);
    };
    let invalid = |why: String| Err(Rejection::InvalidMarket(why));
    let name_chars = name.chars().count();
    if !(1..=NAME_LEN_MAX).contains(&name_chars) {
        return invalid(format!(
            "the name must be 1 to {NAME_LEN_MAX} characters, got {name_chars}"
        ));
    }
    if !(2..=OUTCOMES_MAX).contains(&outcomes.len()) {
        return invalid(format!(
            "a market needs 2 to {OUTCOMES_MAX} outcomes, got {}",
            outcomes.len()
        ));
    }
    for (i, outcome) in outcomes.iter().enumerate() {
        let chars = outcome.chars().count();
        if !(1..=OUTCOME_NAME_LEN_MAX).contains(&chars) {
            return invalid(format!(
                "outcome {i}'s name must be 1 to {OUTCOME_NAME_LEN_MAX} characters, got {chars}"
            ));
        }
        if outcomes[..i].contains(outcome) {
            return invalid(format!("outcome {outcome:?} is named twice"));
        }
    }
    if pricing.prior_bp.len() != outcomes.len() {
        return invalid(format!(
            "the prior has {} outcomes, the market {}",
            pricing.prior_bp.len(),
            outcomes.len()
        ));
    }
    let odds = pricing
        .odds(&vec![0; outcomes.len()])
        .map_err(|e| Rejection::InvalidMarket(e.to_string()))?;
    if *liability_limit < 0 {
        return invalid(format!(
            "the liability limit must be 0 or more, got {liability_limit}"
        ));
    }
    if *stake_min < 1 || stake_max < stake_min {
        return invalid(format!(
            "the stake range must be 1 <= min <= max, got {stake_min} to {stake_max}"
        ));
    }
    Ok(MarketEvent::MarketOpened(MarketOpened {
        market: market.clone(),
        name: name.clone(),
        starts_at: *starts_at,
        currency: *currency,
        outcomes: outcomes.clone(),
        prior_bp: pricing.prior_bp.clone(),
        prior_weight: pricing.prior_weight,
        margin_bp: pricing.margin_bp,
        liability_limit: *liability_limit,
        stake_min: *stake_min,
        stake_max: *stake_max,
        odds,
    }))
}
