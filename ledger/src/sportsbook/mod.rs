//! The sportsbook's pure core (issue 5, in steps). Today: fixed-point odds
//! and the rule that moves them with the money (`odds`).

pub mod odds;
