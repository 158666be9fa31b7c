//! The ledger: pure domain logic (money, accounts, transfers, the wallet's
//! the sportsbook's and the box office's `decide`/`evolve`) and the Postgres event store
//! that records its events.
//!
//! Everything outside `store` is free of I/O, so it can be property-tested
//! and replayed anywhere; `store` depends on the domain, never the reverse.

pub mod book;
pub mod box_office;
pub mod error;
pub mod ids;
pub mod money;
pub mod pool;
pub mod rejection;
pub mod sportsbook;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod transfer;
pub mod wallet;

pub use error::{error_chain, Error};
pub use ids::{
    AccountId, BetId, HoldId, MarketId, OfferId, PaymentRef, PoolEntryId, PoolId, ReservationId,
    SettlementId, ShowId, StreamId, TicketId, TransferId,
};
pub use money::{Amount, CreditLimit, Currency};
pub use rejection::Rejection;
pub use transfer::{Phase, Transfer, TransferCode};
