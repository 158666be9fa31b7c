//! The money of a bet, as pure functions: combined odds of an accumulator,
//! what a settled bet returns (won, lost, void, dead heat), and what a
//! cash-out offers. docs/sportsbook.md states the same rules in prose.
//!
//! No floats: odds are ten-thousandths, the arithmetic is `u128`, and every
//! division rounds down, so the house never pays more than the rule; what
//! rounding leaves over stays with the house (it never leaves its account).

use std::num::NonZeroU16;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::market::MarketResult;
use super::odds::{Odds, BP, ODDS_SCALE};

/// The longest combined odds an accumulator may have: 1,000,000.0000. Ten
/// legs at the longest single odds would overflow any payout; the cap keeps
/// an accumulator's payout, and the liability it adds, bounded.
pub const ACCUMULATOR_ODDS_MAX: Odds = Odds(10_000_000_000);

/// What the house keeps of a bet's fair value when it buys the bet back
/// early: 5 %.
pub const CASH_OUT_MARGIN_BP: u64 = 500;

/// What one leg of a bet came to under a market's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LegResult {
    /// The leg's outcome won, tied with `dead_heat` winners in all (1: no
    /// tie). A dead heat pays the winner's share of the stake at full odds.
    Won {
        dead_heat: NonZeroU16,
    },
    Lost,
    /// The leg drops out: it neither wins nor loses (factor 1).
    Void,
}

impl LegResult {
    /// A win with no tie.
    pub const WON: Self = Self::Won {
        dead_heat: NonZeroU16::MIN,
    };

    /// A win shared by `n` tied winners (0 is read as 1: there is always
    /// at least the winner itself).
    pub fn dead_heat(n: u16) -> Self {
        Self::Won {
            dead_heat: NonZeroU16::new(n).unwrap_or(NonZeroU16::MIN),
        }
    }

    /// What `result` means for a bet on `outcome`.
    pub fn of(result: &MarketResult, outcome: u16) -> Self {
        match result {
            MarketResult::Void => Self::Void,
            MarketResult::Winners { winners } if winners.contains(&outcome) => {
                // A market has at most 64 outcomes, so the count fits.
                Self::dead_heat(u16::try_from(winners.len()).unwrap_or(u16::MAX))
            }
            MarketResult::Winners { .. } => Self::Lost,
        }
    }
}

/// Legs' odds multiplied in order, each step rounded down to the
/// ten-thousandth, capped at [`ACCUMULATOR_ODDS_MAX`]. A single's combined
/// odds are its own.
pub fn combined_odds(legs: impl IntoIterator<Item = Odds>) -> Odds {
    let scale = u128::from(ODDS_SCALE);
    let cap = u128::from(ACCUMULATOR_ODDS_MAX.0);
    let combined = legs.into_iter().fold(scale, |acc, odds| {
        // Capping at each step keeps `acc` below 2^34, so the product
        // with the next odds (below 2^64) cannot overflow u128.
        (acc * u128::from(odds.0) / scale).min(cap)
    });
    // Capped at ACCUMULATOR_ODDS_MAX, which fits a u64.
    Odds(u64::try_from(combined).unwrap_or(ACCUMULATOR_ODDS_MAX.0))
}

/// `floor(stake × odds)`, in `u128`; `None` when it does not fit an `i64`.
pub fn payout(stake: i64, odds: Odds) -> Option<i64> {
    let stake = u128::try_from(stake).ok()?;
    i64::try_from(stake * u128::from(odds.0) / u128::from(ODDS_SCALE)).ok()
}

/// What a settled bet gives back to the player in total, stake included.
///
/// - Any leg lost: 0.
/// - Every leg void: the stake.
/// - Otherwise the won legs' odds multiply (void legs drop out, factor 1),
///   stepwise and capped as in [`combined_odds`], and a dead heat of `n`
///   tied winners divides the leg's share by `n`: the stake is split
///   equally among the tied outcomes, the share on the bet's outcome is
///   paid at full odds and the rest is lost. The result is rounded down
///   once, at the end: `floor(stake × acc / (10⁴ × Π n))`.
pub fn returned(stake: i64, legs: &[(Odds, LegResult)]) -> i64 {
    if legs.iter().any(|(_, r)| *r == LegResult::Lost) {
        return 0;
    }
    if legs.iter().all(|(_, r)| *r == LegResult::Void) {
        return stake;
    }
    let won = legs.iter().filter_map(|(odds, result)| match result {
        LegResult::Won { dead_heat } => Some((*odds, *dead_heat)),
        _ => None,
    });
    let acc = combined_odds(won.clone().map(|(odds, _)| odds));
    // At most 10 legs of at most 64 tied winners: 64^10 = 2^60, times 10^4
    // stays far inside u128, as does stake (< 2^63) × acc (< 2^34).
    let ties: u128 = won.map(|(_, n)| u128::from(n.get())).product();
    let stake = u128::try_from(stake).unwrap_or(0);
    let paid = stake * u128::from(acc.0) / (u128::from(ODDS_SCALE) * ties);
    // Never above stake × the capped odds, which placement checked fits.
    i64::try_from(paid).unwrap_or(i64::MAX)
}

/// What the house offers to buy a bet back for now:
/// `floor(stake × bet_odds / current_odds × (1 − margin))`, with the bet's
/// combined odds at placement and the combined odds its legs have now. All
/// in one `u128` expression, multiplying before dividing, so only the final
/// division rounds. Never more than the bet would pay if it won, which is
/// what its liability allows for. 0 when there is nothing to offer.
pub fn cash_out_offer(stake: i64, bet_odds: Odds, current_odds: Odds) -> i64 {
    let (Ok(stake_wide), true) = (u128::try_from(stake), current_odds.0 > 0) else {
        return 0;
    };
    let offer = stake_wide * u128::from(bet_odds.0) * u128::from(BP - CASH_OUT_MARGIN_BP)
        / (u128::from(current_odds.0) * u128::from(BP));
    let ceiling = payout(stake, bet_odds).unwrap_or(i64::MAX);
    i64::try_from(offer).unwrap_or(i64::MAX).min(ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_pays_stake_times_odds_rounded_down() {
        assert_eq!(returned(1_000, &[(Odds(25_000), LegResult::WON)]), 2_500);
        assert_eq!(returned(333, &[(Odds(19_047), LegResult::WON)]), 634);
        assert_eq!(returned(1_000, &[(Odds(25_000), LegResult::Lost)]), 0);
        assert_eq!(returned(1_000, &[(Odds(25_000), LegResult::Void)]), 1_000);
    }

    #[test]
    fn a_dead_heat_pays_the_winners_share_at_full_odds() {
        // 1000 split over 2 winners: 500 at 3.0 = 1500.
        assert_eq!(
            returned(1_000, &[(Odds(30_000), LegResult::dead_heat(2))]),
            1_500
        );
        // 1000 / 3 at 2.0 = 666.66…, rounded down.
        assert_eq!(
            returned(1_000, &[(Odds(20_000), LegResult::dead_heat(3))]),
            666
        );
    }

    #[test]
    fn accumulator_odds_multiply_and_void_legs_drop_out() {
        let legs = [
            (Odds(20_000), LegResult::WON),
            (Odds(15_000), LegResult::Void),
            (Odds(30_000), LegResult::WON),
        ];
        assert_eq!(returned(100, &legs), 600);
        assert_eq!(combined_odds(legs.iter().map(|(o, _)| *o)), Odds(90_000));
        let lost = [
            (Odds(20_000), LegResult::WON),
            (Odds(30_000), LegResult::Lost),
        ];
        assert_eq!(returned(100, &lost), 0);
        let void = [
            (Odds(20_000), LegResult::Void),
            (Odds(30_000), LegResult::Void),
        ];
        assert_eq!(returned(100, &void), 100);
    }

    #[test]
    fn combined_odds_round_each_step_and_stop_at_the_cap() {
        // 1.0101 × 1.0101 = 1.02030201 → 1.0203.
        assert_eq!(combined_odds([Odds(10_101), Odds(10_101)]), Odds(10_203));
        assert_eq!(combined_odds([Odds(10_000_000); 10]), ACCUMULATOR_ODDS_MAX);
        assert_eq!(
            returned(100, &[(Odds(10_000_000), LegResult::WON); 10]),
            100 * 1_000_000
        );
    }

    #[test]
    fn leg_results_follow_the_market_result() {
        let winners = MarketResult::Winners {
            winners: vec![0, 2],
        };
        assert_eq!(LegResult::of(&winners, 0), LegResult::dead_heat(2));
        assert_eq!(LegResult::of(&winners, 1), LegResult::Lost);
        assert_eq!(LegResult::of(&MarketResult::Void, 1), LegResult::Void);
        assert_eq!(
            serde_json::to_value(LegResult::dead_heat(2)).ok(),
            Some(serde_json::json!({"kind": "won", "dead_heat": 2}))
        );
        assert!(serde_json::from_str::<LegResult>(r#"{"kind":"won","dead_heat":0}"#).is_err());
    }

    #[test]
    fn a_cash_out_offer_follows_the_odds_less_the_margin() {
        // Backed at 3.0, now 2.0: fair value 1000 × 3 / 2 = 1500, less 5 %.
        assert_eq!(cash_out_offer(1_000, Odds(30_000), Odds(20_000)), 1_425);
        // Longer now than when backed: worth less than the stake.
        assert_eq!(cash_out_offer(1_000, Odds(20_000), Odds(40_000)), 475);
        // Never more than the bet would pay if it won.
        assert_eq!(cash_out_offer(1_000, Odds(30_000), Odds(10_000)), 2_850);
        assert_eq!(cash_out_offer(1_000, Odds(30_000), Odds(1)), 3_000);
        assert_eq!(cash_out_offer(1, Odds(10_100), ACCUMULATOR_ODDS_MAX), 0);
        assert_eq!(cash_out_offer(1_000, Odds(30_000), Odds(0)), 0);
    }
}
