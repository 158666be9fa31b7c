//! Sharing a pot: the rake off the top, the rest among the winning
//! entries in proportion to their stakes, to the minor unit.
//!
//! Each winner first gets the floor of its exact share; the minor units
//! that flooring leaves over (fewer than the number of winners) go one
//! each to the winners with the largest remainders (the largest-remainder
//! method). Ties in remainder go to the earlier entry. So Σ payouts + rake
//! = pot exactly, and each payout is its exact share rounded down or up.

/// A basis point is a ten-thousandth.
pub const BP: u32 = 10_000;

/// The operator's take: floor(pot × rake_bp / 10,000). `rake_bp` is below
/// 10,000, so the rake is below the pot.
pub fn rake(pot: i64, rake_bp: u32) -> i64 {
    let wide = i128::from(pot) * i128::from(rake_bp) / i128::from(BP);
    // `rake_bp < BP` keeps it below `pot`, which fits.
    i64::try_from(wide).unwrap_or(pot)
}

/// `amount` shared among `stakes` in proportion, by largest remainder
/// (ties: the lower index, the earlier entry). Empty when `stakes` is, or
/// when they sum to zero or less; every stake is expected to be positive.
pub fn share(amount: i64, stakes: &[i64]) -> Vec<i64> {
    let total: i128 = stakes.iter().map(|s| i128::from(*s)).sum();
    if stakes.is_empty() || total <= 0 || amount < 0 {
        return Vec::new();
    }
    let amount = i128::from(amount);
    let mut shares = Vec::with_capacity(stakes.len());
    let mut remainders = Vec::with_capacity(stakes.len());
    let mut given: i128 = 0;
    for (i, stake) in stakes.iter().enumerate() {
        let exact = amount * i128::from(*stake);
        let floor = exact / total;
        given += floor;
        // Each floor is at most `amount`, which came from an i64.
        shares.push(i64::try_from(floor).unwrap_or(0));
        remainders.push((exact % total, i));
    }
    let left = usize::try_from(amount - given).unwrap_or(0);
    if left > 0 {
        // Largest remainder first, then the earlier entry.
        remainders.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, i) in remainders.iter().take(left) {
            shares[i] += 1;
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn leftover_units_go_to_the_largest_remainders_then_the_earlier_entry() {
        // 100 over 3 equal stakes: 33.33 each, the one unit left to entry 0.
        assert_eq!(share(100, &[1, 1, 1]), vec![34, 33, 33]);
        // 10 over 1:2:3 → 1.67, 3.33, 5: the remainder 2/3 wins the unit.
        assert_eq!(share(10, &[1, 2, 3]), vec![2, 3, 5]);
        assert_eq!(share(0, &[5, 5]), vec![0, 0]);
        assert!(share(10, &[]).is_empty());
    }

    #[test]
    fn the_rake_rounds_down() {
        assert_eq!(rake(999, 1_000), 99);
        assert_eq!(rake(1_000, 0), 0);
        assert_eq!(rake(1_000, 9_999), 999);
        assert_eq!(
            rake(i64::MAX, 9_999),
            (i128::from(i64::MAX) * 9_999 / 10_000) as i64
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// For random pools of 1 to 10,000 entries: Σ payouts + rake = pot,
        /// no payout is negative, and each winner is within one minor unit
        /// of its exact share (compared as i128 rationals).
        #[test]
        fn a_pot_is_shared_exactly(
            stakes in prop::collection::vec(1i64..=1_000_000_000, 1..=10_000),
            winner_bits in prop::collection::vec(any::<bool>(), 10_000),
            rake_bp in 0u32..BP,
        ) {
            let pot: i64 = stakes.iter().sum();
            let winners: Vec<i64> = stakes
                .iter()
                .zip(&winner_bits)
                .filter(|(_, w)| **w)
                .map(|(s, _)| *s)
                .collect();
            let taken = rake(pot, rake_bp);
            prop_assert!((0..=pot).contains(&taken));
            let payouts = share(pot - taken, &winners);
            if winners.is_empty() {
                prop_assert!(payouts.is_empty());
                return Ok(());
            }
            let paid: i128 = payouts.iter().map(|p| i128::from(*p)).sum();
            prop_assert_eq!(paid + i128::from(taken), i128::from(pot));
            let total: i128 = winners.iter().map(|s| i128::from(*s)).sum();
            let pot_less_rake = i128::from(pot - taken);
            for (payout, stake) in payouts.iter().zip(&winners) {
                prop_assert!(*payout >= 0);
                // |payout − pot_less_rake × stake / total| < 1, scaled by total.
                let diff = i128::from(*payout) * total - pot_less_rake * i128::from(*stake);
                prop_assert!(diff.abs() < total, "payout {} off its exact share", payout);
            }
        }
    }
}
