//! The sportsbook's pure core (issue 5): fixed-point odds that move with
//! the money (`odds`), markets as aggregates (`market`), placing bets
//! across a wallet and its legs' markets (`bet`), and the money of
//! settlement and cash-out (`settle`). The wallet side of a bet (its hold,
//! settlement and payouts) lives in `wallet`.

pub mod bet;
pub mod market;
pub mod odds;
pub mod settle;
