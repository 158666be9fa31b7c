//! Placing a bet: one decision over the player's wallet and the market of
//! each leg, so the stake's hold and every market's liability are checked
//! together (the caller appends the wallet's and the markets' events in
//! one transaction, or none). Also the markets' side of a cash-out.

use serde::{Deserialize, Serialize};

use super::market::{
    BetAccepted, BetCashedOutOfMarket, Market, MarketEvent, MarketState, MarketStatus, OddsChanged,
};
use super::odds::{Odds, ODDS_MAX, ODDS_MIN};
use super::settle::{self, combined_odds};
use crate::wallet::bet::{place, Bet};
use crate::wallet::{BetLegPlaced, WalletEvent, WalletState};
use crate::{Amount, BetId, MarketId, Rejection};

/// Most legs of one bet (an accumulator of 10).
pub const LEGS_MAX: usize = 10;

/// What the player accepts when the odds moved since they saw them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OddsPolicy {
    /// Only the odds seen.
    Exact,
    /// The odds seen or longer.
    AcceptHigher,
    /// Whatever the odds are now.
    AcceptAny,
}

impl OddsPolicy {
    fn accepts(self, seen: Odds, current: Odds) -> bool {
        match self {
            Self::Exact => current == seen,
            Self::AcceptHigher => current >= seen,
            Self::AcceptAny => true,
        }
    }
}

/// One leg as the player asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegRequest {
    pub market: MarketId,
    pub outcome: u16,
    pub odds_seen: Odds,
}

/// A single (one leg) or an accumulator (2 to 10 legs on distinct markets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceBet {
    pub bet_id: BetId,
    pub stake: Amount,
    pub legs: Vec<LegRequest>,
    pub policy: OddsPolicy,
}

/// The events of an accepted bet: the wallet's, and each leg's market's
/// (in the order of the legs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetDecision {
    pub wallet: Vec<WalletEvent>,
    pub markets: Vec<Vec<MarketEvent>>,
}

/// Decides a bet against the wallet and the legs' markets (`markets[i]` is
/// leg i's). Checks, in order: the bet's shape (`invalid_bet`), the wallet
/// and markets (`account_not_found`, `market_not_found`, `market_not_open`,
/// `currency_mismatch`), the stake range, the odds policy, the liability of
/// each leg's outcome, and last the funds. The bet takes the current odds.
pub fn decide_bet(
    wallet: &WalletState,
    markets: &[&MarketState],
    cmd: &PlaceBet,
) -> Result<BetDecision, Rejection> {
    shape(cmd, markets.len())?;
    let wallet = wallet.wallet.as_ref().ok_or(Rejection::AccountNotFound)?;
    let markets = open_markets(markets, cmd, wallet.currency)?;
    stake_in_range(&markets, cmd.stake)?;
    let mut current = Vec::with_capacity(markets.len());
    for (i, (leg, market)) in cmd.legs.iter().zip(&markets).enumerate() {
        let odds = odds_of(market, leg.outcome)?;
        if !cmd.policy.accepts(leg.odds_seen, odds) {
            return Err(Rejection::OddsChanged {
                leg: i,
                current: odds.0,
            });
        }
        current.push(odds);
    }
    let odds = combined_odds(current.iter().copied());
    let payout_if_wins = settle::payout(cmd.stake.get(), odds).ok_or_else(|| {
        Rejection::InvalidBet("the potential payout does not fit in 64 bits".into())
    })?;
    let single = cmd.legs.len() == 1;
    for (leg, market) in cmd.legs.iter().zip(&markets) {
        within_liability(market, leg.outcome, cmd.stake, payout_if_wins, single)?;
    }
    let legs = cmd
        .legs
        .iter()
        .zip(&current)
        .map(|(leg, odds)| BetLegPlaced {
            market: leg.market.clone(),
            outcome: leg.outcome,
            odds: *odds,
        })
        .collect();
    let placed = place(wallet, cmd.bet_id, cmd.stake, legs, odds, payout_if_wins)?;
    let legs_count = u8::try_from(cmd.legs.len()).unwrap_or(u8::MAX);
    let mut market_events = Vec::with_capacity(markets.len());
    for ((leg, market), odds) in cmd.legs.iter().zip(&markets).zip(&current) {
        let accepted = BetAccepted {
            market: market.id.clone(),
            bet_id: cmd.bet_id,
            account: wallet.id.clone(),
            outcome: leg.outcome,
            stake: cmd.stake,
            odds: *odds,
            payout_if_wins,
            legs: legs_count,
        };
        market_events.push(accepted_events(market, accepted)?);
    }
    Ok(BetDecision {
        wallet: vec![placed],
        markets: market_events,
    })
}

/// What can be refused before reading any state.
fn shape(cmd: &PlaceBet, markets: usize) -> Result<(), Rejection> {
    let invalid = |why: String| Err(Rejection::InvalidBet(why));
    let n = cmd.legs.len();
    if !(1..=LEGS_MAX).contains(&n) {
        return invalid(format!("a bet has 1 to {LEGS_MAX} legs, got {n}"));
    }
    for (i, leg) in cmd.legs.iter().enumerate() {
        if cmd.legs[..i].iter().any(|l| l.market == leg.market) {
            return invalid(format!("two legs on market {}", leg.market));
        }
        if !(ODDS_MIN..=ODDS_MAX).contains(&leg.odds_seen) {
            return invalid(format!(
                "leg {i}: odds seen {} are outside {ODDS_MIN} to {ODDS_MAX}",
                leg.odds_seen
            ));
        }
    }
    if markets != n {
        return invalid(format!("{markets} markets given for {n} legs"));
    }
    Ok(())
}

fn open_markets<'a>(
    states: &[&'a MarketState],
    cmd: &PlaceBet,
    currency: crate::Currency,
) -> Result<Vec<&'a Market>, Rejection> {
    let mut markets = Vec::with_capacity(states.len());
    for (i, (leg, state)) in cmd.legs.iter().zip(states).enumerate() {
        let market = state.market.as_ref().ok_or(Rejection::MarketNotFound)?;
        if market.id != leg.market {
            return Err(Rejection::InvalidBet(format!(
                "leg {i} is on {}, but the market given is {}",
                leg.market, market.id
            )));
        }
        if usize::from(leg.outcome) >= market.outcomes.len() {
            return Err(Rejection::InvalidBet(format!(
                "leg {i}: outcome {} is not one of the market's {}",
                leg.outcome,
                market.outcomes.len()
            )));
        }
        if market.status != MarketStatus::Open {
            return Err(Rejection::MarketNotOpen);
        }
        if market.currency != currency {
            return Err(Rejection::CurrencyMismatch {
                account: currency.to_string(),
                requested: market.currency.to_string(),
            });
        }
        markets.push(market);
    }
    Ok(markets)
}

/// The stake must suit every leg's market: within the highest minimum and
/// the lowest maximum.
fn stake_in_range(markets: &[&Market], stake: Amount) -> Result<(), Rejection> {
    let min = markets.iter().map(|m| m.stake_min).max().unwrap_or(1);
    let max = markets
        .iter()
        .map(|m| m.stake_max)
        .min()
        .unwrap_or(i64::MAX);
    if stake.get() < min || stake.get() > max {
        return Err(Rejection::StakeOutOfRange { min, max });
    }
    Ok(())
}

fn odds_of(market: &Market, outcome: u16) -> Result<Odds, Rejection> {
    market
        .odds
        .get(usize::from(outcome))
        .copied()
        .ok_or_else(|| Rejection::InvalidMarket(format!("no odds for outcome {outcome}")))
}

/// Refuses the bet when the house's worst-case loss on the outcome would
/// pass the market's limit, or its sums would leave `i64`.
fn within_liability(
    market: &Market,
    outcome: u16,
    stake: Amount,
    payout_if_wins: i64,
    single: bool,
) -> Result<(), Rejection> {
    let paid = market
        .payouts_if_wins
        .get(usize::from(outcome))
        .copied()
        .unwrap_or(0);
    let paid = i128::from(paid) + i128::from(payout_if_wins);
    let kept = i128::from(market.stakes_total) + if single { i128::from(stake.get()) } else { 0 };
    let liability = paid - kept;
    if liability > i128::from(market.liability_limit) {
        return Err(Rejection::LiabilityExceeded {
            outcome,
            liability: i64::try_from(liability).unwrap_or(i64::MAX),
            limit: market.liability_limit,
        });
    }
    if i64::try_from(paid).is_err() || i64::try_from(kept).is_err() {
        return Err(Rejection::InvalidBet(
            "the market's sums would not fit in 64 bits".into(),
        ));
    }
    Ok(())
}

/// `bet_accepted`, then `odds_changed` when the money moved the odds.
fn accepted_events(market: &Market, accepted: BetAccepted) -> Result<Vec<MarketEvent>, Rejection> {
    let mut staked = market.staked.clone();
    if let Some(s) = staked.get_mut(usize::from(accepted.outcome)) {
        *s = s.saturating_add(accepted.stake.get().unsigned_abs());
    }
    let odds = market
        .pricing
        .odds(&staked)
        .map_err(|e| Rejection::InvalidMarket(e.to_string()))?;
    let mut events = vec![MarketEvent::BetAccepted(accepted)];
    if odds != market.odds {
        events.push(MarketEvent::OddsChanged(OddsChanged {
            market: market.id.clone(),
            odds,
        }));
    }
    Ok(events)
}

/// The bet's legs' odds now, combined as at placement: what a cash-out
/// offer compares the bet's odds with. A leg whose market is not open has
/// no current odds, so the bet cannot be cashed out.
pub fn current_odds(markets: &[&MarketState], bet: &Bet) -> Result<Odds, Rejection> {
    let markets = open_for_cash_out(markets, bet)?;
    let mut odds = Vec::with_capacity(markets.len());
    for (leg, market) in bet.legs.iter().zip(markets) {
        odds.push(odds_of(market, leg.outcome).map_err(|_| Rejection::CashOutUnavailable)?);
    }
    Ok(combined_odds(odds))
}

/// The markets' side of an accepted cash-out (`markets[i]` is leg i's):
/// each releases the bet's liability with `market_bet_cashed_out`. Decide
/// it before the wallet's `AcceptCashOut`, since it may refuse.
///
/// Releasing a single also takes its stake out of the stakes that offset
/// every other outcome's liability, which could push one of them past the
/// limit; such a cash-out is refused (`cash_out_unavailable`), so the limit
/// holds at all times, not only when bets are placed.
pub fn decide_cash_out_markets(
    markets: &[&MarketState],
    bet_id: BetId,
    bet: &Bet,
) -> Result<Vec<Vec<MarketEvent>>, Rejection> {
    let markets = open_for_cash_out(markets, bet)?;
    if let ([leg], [market]) = (bet.legs.as_slice(), markets.as_slice()) {
        let kept = i128::from(market.stakes_total) - i128::from(bet.stake.get());
        let over = market
            .payouts_if_wins
            .iter()
            .enumerate()
            .filter(|(o, _)| *o != usize::from(leg.outcome))
            .any(|(_, paid)| i128::from(*paid) - kept > i128::from(market.liability_limit));
        if over {
            return Err(Rejection::CashOutUnavailable);
        }
    }
    let legs = u8::try_from(bet.legs.len()).unwrap_or(u8::MAX);
    Ok(bet
        .legs
        .iter()
        .zip(markets)
        .map(|(leg, market)| {
            vec![MarketEvent::BetCashedOut(BetCashedOutOfMarket {
                market: market.id.clone(),
                bet_id,
                outcome: leg.outcome,
                stake: bet.stake,
                payout_if_wins: bet.payout_if_wins,
                legs,
            })]
        })
        .collect())
}

fn open_for_cash_out<'a>(
    states: &[&'a MarketState],
    bet: &Bet,
) -> Result<Vec<&'a Market>, Rejection> {
    if states.len() != bet.legs.len() {
        return Err(Rejection::InvalidBet(format!(
            "{} markets given for {} legs",
            states.len(),
            bet.legs.len()
        )));
    }
    let mut markets = Vec::with_capacity(states.len());
    for (leg, state) in bet.legs.iter().zip(states) {
        let market = state.market.as_ref().ok_or(Rejection::MarketNotFound)?;
        if market.id != leg.market {
            return Err(Rejection::InvalidBet(format!(
                "the bet's leg is on {}, but the market given is {}",
                leg.market, market.id
            )));
        }
        if market.status != MarketStatus::Open {
            return Err(Rejection::CashOutUnavailable);
        }
        markets.push(market);
    }
    Ok(markets)
}
