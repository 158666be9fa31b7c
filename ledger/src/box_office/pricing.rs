//! A tier's price as data: steps that raise the base price once the tier's
//! occupancy (seats held or sold, over capacity) reaches a threshold, and
//! the refund rule a ticket given back is paid by. Integer arithmetic only.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Rejection;

/// Basis points in one whole.
pub const BP: u32 = 10_000;
/// Most steps in a tier's pricing rule.
pub const PRICE_STEPS_MAX: usize = 10;
/// Largest raise one step may give: ten times the base price.
pub const RAISE_BP_MAX: u32 = 100_000;

/// At `at_sold_bp` of the tier taken (basis points of capacity), the price
/// is the base price × (1 + `raise_bp` / 10,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceStep {
    #[schemars(range(min = 1, max = 10_000))]
    pub at_sold_bp: u32,
    #[schemars(range(max = 100_000))]
    pub raise_bp: u32,
}

/// Refuses steps that are not in strictly rising thresholds within range.
pub fn validate_steps(steps: &[PriceStep]) -> Result<(), Rejection> {
    let invalid = |why: String| Err(Rejection::InvalidShow(why));
    if steps.len() > PRICE_STEPS_MAX {
        return invalid(format!("at most {PRICE_STEPS_MAX} price steps per tier"));
    }
    for (i, step) in steps.iter().enumerate() {
        if step.at_sold_bp == 0 || step.at_sold_bp > BP {
            return invalid(format!("step {i}: at_sold_bp must be 1 to {BP}"));
        }
        if step.raise_bp > RAISE_BP_MAX {
            return invalid(format!("step {i}: raise_bp must be at most {RAISE_BP_MAX}"));
        }
        if i > 0 && steps[i - 1].at_sold_bp >= step.at_sold_bp {
            return invalid(format!("step {i}: thresholds must rise strictly"));
        }
    }
    Ok(())
}

/// The unit price in force with `taken` of `capacity` seats held or sold:
/// the last step reached raises the base, rounded down to the minor unit.
/// `None` only if it left `i64` (validation bounds make that impossible).
pub fn unit_price(base_price: i64, steps: &[PriceStep], taken: u32, capacity: u32) -> Option<i64> {
    let occupancy_bp = u64::from(taken) * u64::from(BP) / u64::from(capacity.max(1));
    let raise = steps
        .iter()
        .take_while(|s| u64::from(s.at_sold_bp) <= occupancy_bp)
        .last()
        .map_or(0, |s| s.raise_bp);
    let price = i128::from(base_price) * i128::from(BP + raise) / i128::from(BP);
    i64::try_from(price).ok()
}

/// What a ticket given back returns: its full price until
/// `full_refund_until_s_before` seconds before the show, then
/// `late_refund_bp` of it (rounded down; the remainder stays with the box
/// office).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRule {
    #[schemars(range(min = 0))]
    pub full_refund_until_s_before: i64,
    #[schemars(range(max = 10_000))]
    pub late_refund_bp: u32,
}

impl Default for RefundRule {
    /// Full refund until a day before, half after.
    fn default() -> Self {
        Self {
            full_refund_until_s_before: 86_400,
            late_refund_bp: 5_000,
        }
    }
}

impl RefundRule {
    pub fn validate(&self) -> Result<(), Rejection> {
        if self.full_refund_until_s_before < 0 || self.full_refund_until_s_before > 366 * 86_400 {
            return Err(Rejection::InvalidShow(
                "full_refund_until_s_before must be 0 to a year in seconds".into(),
            ));
        }
        if self.late_refund_bp > BP {
            return Err(Rejection::InvalidShow(format!(
                "late_refund_bp must be at most {BP}"
            )));
        }
        Ok(())
    }

    /// The refund of a ticket bought at `price`, given back at `now`.
    pub fn refund(&self, price: i64, starts_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
        let full_until = starts_at - Duration::seconds(self.full_refund_until_s_before);
        if now < full_until {
            return price;
        }
        let late = i128::from(price) * i128::from(self.late_refund_bp) / i128::from(BP);
        // At most `price`, which is an i64.
        i64::try_from(late).unwrap_or(price)
    }
}
