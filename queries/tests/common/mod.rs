//! The wallet event maker shared with the projections tests.

#![allow(unused_imports)]

pub use ledger::testkit::{visible, Wallets};
