//! Decimal odds as fixed-point integers, and the pricing rule that moves
//! them with the money staked (docs/sportsbook.md has the formula).
//!
//! Nothing here uses floats: odds are ten-thousandths (`Odds(25_000)` is
//! 2.5000), probabilities and margins are basis points, and the arithmetic
//! is done in `u128`, which the largest inputs cannot overflow.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// Ten-thousandths per unit of decimal odds.
pub const ODDS_SCALE: u64 = 10_000;
/// Basis points per whole.
pub const BP: u64 = 10_000;
/// The shortest odds a market offers: 1.0100. Pricing never goes below it.
pub const ODDS_MIN: Odds = Odds(10_100);
/// The longest odds a market offers: 1,000.0000.
pub const ODDS_MAX: Odds = Odds(10_000_000);

/// Decimal odds in ten-thousandths: the payout per unit staked, stake
/// included. 2.5000 pays 2.50 for 1.00. Events store the bare integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Odds(pub u64);

impl JsonSchema for Odds {
    fn schema_name() -> Cow<'static, str> {
        "Odds".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "Decimal odds in ten-thousandths (25000 is 2.5000): the payout per unit staked, stake included.",
            "type": "integer",
            "format": "uint64",
            "minimum": 10000
        })
    }
}

impl fmt::Display for Odds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:04}", self.0 / ODDS_SCALE, self.0 % ODDS_SCALE)
    }
}

/// What prices one market: the operator's prior (basis points per
/// outcome, summing to 10,000), how much virtual money the prior weighs,
/// and the margin (basis points over a fair book).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pricing {
    pub prior_bp: Vec<u64>,
    pub prior_weight: u64,
    pub margin_bp: u64,
}

/// Why a pricing cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    #[error("a market needs 2 to 64 outcomes, got {0}")]
    Outcomes(usize),
    #[error(
        "the prior must give every outcome more than 0 and sum to 10000 basis points, sums to {0}"
    )]
    Prior(u64),
    #[error("the prior weight must be at least 1 minor unit")]
    Weight,
    #[error("the margin must be 0 to 5000 basis points, got {0}")]
    Margin(u64),
    #[error("{stakes} stakes given for {outcomes} outcomes")]
    Stakes { stakes: usize, outcomes: usize },
}

/// Most outcomes of one market.
pub const OUTCOMES_MAX: usize = 64;
/// Largest margin: 50 %.
pub const MARGIN_MAX_BP: u64 = 5_000;

impl Pricing {
    pub fn validate(&self) -> Result<(), PricingError> {
        let n = self.prior_bp.len();
        if !(2..=OUTCOMES_MAX).contains(&n) {
            return Err(PricingError::Outcomes(n));
        }
        let sum: u64 = self.prior_bp.iter().sum();
        if sum != BP || self.prior_bp.contains(&0) {
            return Err(PricingError::Prior(sum));
        }
        if self.prior_weight == 0 {
            return Err(PricingError::Weight);
        }
        if self.margin_bp > MARGIN_MAX_BP {
            return Err(PricingError::Margin(self.margin_bp));
        }
        Ok(())
    }

    /// The odds of every outcome given the money staked on each (minor
    /// units). Outcome i's probability is its money plus its share of the
    /// prior weight over all the money plus the weight; the margin scales
    /// every probability up; the odds are its inverse, rounded down to the
    /// ten-thousandth (rounding never pays more than the formula), within
    /// [`ODDS_MIN`, `ODDS_MAX`].
    pub fn odds(&self, staked: &[u64]) -> Result<Vec<Odds>, PricingError> {
        self.validate()?;
        if staked.len() != self.prior_bp.len() {
            return Err(PricingError::Stakes {
                stakes: staked.len(),
                outcomes: self.prior_bp.len(),
            });
        }
        let bp = u128::from(BP);
        let weight = u128::from(self.prior_weight);
        let total: u128 = staked.iter().map(|&s| u128::from(s)).sum::<u128>() + weight;
        let with_margin = bp + u128::from(self.margin_bp);
        Ok(staked
            .iter()
            .zip(&self.prior_bp)
            .map(|(&stake, &prior)| {
                // p_i = (stake·BP + weight·prior) / (total·BP), so
                // odds = 1 / (p_i · (BP + margin) / BP), in ten-thousandths.
                let share = u128::from(stake) * bp + weight * u128::from(prior);
                let numerator = total * bp * bp * u128::from(ODDS_SCALE);
                let denominator = share * with_margin;
                let raw = numerator / denominator.max(1);
                let odds = u64::try_from(raw).unwrap_or(u64::MAX);
                Odds(odds.clamp(ODDS_MIN.0, ODDS_MAX.0))
            })
            .collect())
    }
}

/// The book's implied probability of a set of odds, in parts per
/// `ODDS_SCALE²` (1.0 = 10⁸): Σ 1/oᵢ. A book with margin m sums to 1 + m.
pub fn overround(odds: &[Odds]) -> u128 {
    let scale = u128::from(ODDS_SCALE);
    odds.iter()
        .map(|o| scale * scale * scale / u128::from(o.0.max(1)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn even(margin_bp: u64) -> Pricing {
        Pricing {
            prior_bp: vec![5_000, 5_000],
            prior_weight: 100_000,
            margin_bp,
        }
    }

    #[test]
    fn a_fair_even_market_with_no_money_pays_two() {
        assert_eq!(even(0).odds(&[0, 0]), Ok(vec![Odds(20_000), Odds(20_000)]));
        assert_eq!(Odds(20_000).to_string(), "2.0000");
    }

    #[test]
    fn a_margin_of_five_percent_shortens_both_sides() {
        // 1 / (0.5 · 1.05) = 1.90476…, rounded down.
        assert_eq!(
            even(500).odds(&[0, 0]),
            Ok(vec![Odds(19_047), Odds(19_047)])
        );
    }

    #[test]
    fn money_on_one_side_shortens_it_and_lengthens_the_other() {
        let odds = even(500).odds(&[100_000, 0]).expect("odds");
        // p = (100000 + 50000) / 200000 = 0.75 → 1 / (0.75 · 1.05) = 1.2698…
        assert_eq!(odds, vec![Odds(12_698), Odds(38_095)]);
    }

    #[test]
    fn bad_pricings_are_refused() {
        let mut p = even(0);
        p.prior_bp = vec![6_000, 5_000];
        assert_eq!(p.odds(&[0, 0]), Err(PricingError::Prior(11_000)));
        assert_eq!(
            even(0).odds(&[0]),
            Err(PricingError::Stakes {
                stakes: 1,
                outcomes: 2
            })
        );
        assert_eq!(even(9_000).validate(), Err(PricingError::Margin(9_000)));
        p = even(0);
        p.prior_bp = vec![10_000];
        assert_eq!(p.validate(), Err(PricingError::Outcomes(1)));
    }

    fn market() -> impl Strategy<Value = (Pricing, Vec<u64>)> {
        (2usize..12)
            .prop_flat_map(|n| {
                (
                    proptest::collection::vec(1u64..1_000, n),
                    1u64..10_000_000,
                    0u64..=2_000,
                    proptest::collection::vec(0u64..10_000_000_000, n),
                )
            })
            .prop_map(|(weights, prior_weight, margin_bp, staked)| {
                // Basis points from random weights, the rounding remainder
                // on the first outcome, every outcome above 0.
                let total: u64 = weights.iter().sum();
                let mut prior_bp: Vec<u64> = weights
                    .iter()
                    .map(|w| (w * (BP - weights.len() as u64) / total) + 1)
                    .collect();
                let short = BP - prior_bp.iter().sum::<u64>();
                prior_bp[0] += short;
                (
                    Pricing {
                        prior_bp,
                        prior_weight,
                        margin_bp,
                    },
                    staked,
                )
            })
    }

    proptest! {
        /// Σ 1/oᵢ = 1 + margin, up to the rounding down of each odds
        /// (which only adds) and the clamp to the odds range.
        #[test]
        fn implied_probabilities_sum_to_one_plus_the_margin((pricing, staked) in market()) {
            let odds = pricing.odds(&staked).expect("odds");
            prop_assume!(odds.iter().all(|o| *o > ODDS_MIN && *o < ODDS_MAX));
            let scale = u128::from(ODDS_SCALE) * u128::from(ODDS_SCALE);
            let target = scale * u128::from(BP + pricing.margin_bp) / u128::from(BP);
            let sum = overround(&odds);
            prop_assert!(sum + odds.len() as u128 >= target, "sum {sum} below {target}");
            // Each odds is at most one ten-thousandth short of exact, which
            // adds at most 1/(o·(o−0.0001)) < 1/o² to its probability.
            let slack: u128 = odds.iter().map(|o| scale * scale / (u128::from(o.0) * u128::from(o.0)) + 1).sum();
            prop_assert!(sum <= target + slack, "sum {sum} above {target} + {slack}");
        }

        /// More money on an outcome never lengthens its odds.
        #[test]
        fn more_money_never_lengthens_the_odds(
            (pricing, staked) in market(),
            pick in any::<proptest::sample::Index>(),
            more in 1u64..1_000_000_000,
        ) {
            let i = pick.index(staked.len());
            let before = pricing.odds(&staked).expect("odds")[i];
            let mut after_stakes = staked.clone();
            after_stakes[i] += more;
            let after = pricing.odds(&after_stakes).expect("odds")[i];
            prop_assert!(after <= before, "{after} after {before}");
        }

        /// Odds stay within the market's range, however the money lies.
        #[test]
        fn odds_stay_in_range((pricing, staked) in market()) {
            for odds in pricing.odds(&staked).expect("odds") {
                prop_assert!((ODDS_MIN..=ODDS_MAX).contains(&odds));
            }
        }
    }
}
