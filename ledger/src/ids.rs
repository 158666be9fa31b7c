//! Identifiers. Player account ids are chosen by clients and validated here;
//! system accounts (`house`, `cash`, ...) are built only by this module, so a
//! client can never open or debit one by name.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Rejection;

/// Longest account id a client may choose.
pub const ACCOUNT_ID_LEN_MAX: usize = 64;

/// Names a player may not take, because system accounts use them.
const RESERVED: [&str; 5] = ["house", "cash", "pool", "box-office", "fees"];

/// An account on the ledger: a player's wallet or a system account.
///
/// Player ids are 1–64 characters of `[A-Za-z0-9_.-]`; system ids contain a
/// `:` or are one of the reserved names, which player ids cannot.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    /// Parses a client-chosen id for a player account.
    pub fn parse(id: &str) -> Result<Self, Rejection> {
        let valid_chars = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if id.is_empty() || id.len() > ACCOUNT_ID_LEN_MAX || !valid_chars {
            return Err(Rejection::InvalidAccountId(format!(
                "{id:?} must be 1 to {ACCOUNT_ID_LEN_MAX} characters of A-Z, a-z, 0-9, '_', '-', '.'"
            )));
        }
        if RESERVED.contains(&id) {
            return Err(Rejection::InvalidAccountId(format!(
                "{id:?} is reserved for a system account"
            )));
        }
        Ok(Self(id.to_owned()))
    }

    /// The house's bankroll: the counterparty of stakes and winnings.
    pub fn house() -> Self {
        Self("house".into())
    }

    /// Payment-gateway clearing: the counterparty of deposits and withdrawals.
    pub fn cash() -> Self {
        Self("cash".into())
    }

    /// The box office's takings: ticket money is held towards it, posted to
    /// it on purchase, and refunds leave it.
    pub fn box_office_revenue() -> Self {
        Self("box-office:revenue".into())
    }

    /// A parimutuel pool's escrow: entries are paid into it and payouts,
    /// refunds and the rake out of it, so it is 0 once the pool is done.
    pub fn pool(pool: &PoolId) -> Self {
        Self(format!("pool:{pool}"))
    }

    /// The operator's take of the pools.
    pub fn rake() -> Self {
        Self("fees:rake".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_system(&self) -> bool {
        self.0.contains(':') || RESERVED.contains(&self.0.as_str())
    }
}

impl JsonSchema for AccountId {
    fn schema_name() -> Cow<'static, str> {
        "AccountId".into()
    }

    // Player ids and system ids (`house`, `cash`, `pool:{id}`, ...) share
    // this type, so the pattern admits both.
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An account: a player's wallet (1 to 64 of A-Z, a-z, 0-9, '_', '-', '.') or a system account (house, cash, or an id with a ':').",
            "type": "string",
            "pattern": "^[A-Za-z0-9_.:-]+$"
        })
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest payment reference the ledger keeps, in characters.
pub const PAYMENT_REF_LEN_MAX: usize = 64;

/// The payment gateway's own id of a deposit or withdrawal (its payment or
/// payout id): what the payment side matches the ledger's `cash` movements
/// against. 1 to 64 visible ASCII characters, which every gateway's ids
/// fit (ISO 20022 end-to-end ids are at most 35).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PaymentRef(String);

impl PaymentRef {
    pub fn parse(reference: &str) -> Result<Self, Rejection> {
        let visible = reference.bytes().all(|b| b.is_ascii_graphic());
        if reference.is_empty() || reference.len() > PAYMENT_REF_LEN_MAX || !visible {
            return Err(Rejection::InvalidPaymentRef(format!(
                "{reference:?} must be 1 to {PAYMENT_REF_LEN_MAX} visible ASCII characters"
            )));
        }
        Ok(Self(reference.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PaymentRef {
    type Error = Rejection;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PaymentRef> for String {
    fn from(value: PaymentRef) -> Self {
        value.0
    }
}

impl JsonSchema for PaymentRef {
    fn schema_name() -> Cow<'static, str> {
        "PaymentRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "The payment gateway's id of the movement: 1 to 64 visible ASCII characters.",
            "type": "string",
            "pattern": "^[!-~]{1,64}$"
        })
    }
}

/// Longest market id an operator may choose.
pub const MARKET_ID_LEN_MAX: usize = 64;

/// A sportsbook market, named by the operator (e.g. `epl-2026-ars-che-1x2`):
/// 1–64 characters of `[A-Za-z0-9_.-]`, so it is safe in a stream id and a
/// URL path without escaping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MarketId(String);

impl MarketId {
    pub fn parse(id: &str) -> Result<Self, Rejection> {
        let valid_chars = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if id.is_empty() || id.len() > MARKET_ID_LEN_MAX || !valid_chars {
            return Err(Rejection::InvalidMarketId(format!(
                "{id:?} must be 1 to {MARKET_ID_LEN_MAX} characters of A-Z, a-z, 0-9, '_', '-', '.'"
            )));
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for MarketId {
    type Error = Rejection;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MarketId> for String {
    fn from(value: MarketId) -> Self {
        value.0
    }
}

impl JsonSchema for MarketId {
    fn schema_name() -> Cow<'static, str> {
        "MarketId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A market, named by the operator: 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.'.",
            "type": "string",
            "pattern": "^[A-Za-z0-9_.-]{1,64}$"
        })
    }
}

impl std::fmt::Display for MarketId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest show id an operator may choose.
pub const SHOW_ID_LEN_MAX: usize = 64;

/// A casino show, named by the operator (e.g. `circus-2026-12-31`): 1–64
/// characters of `[A-Za-z0-9_.-]`, safe in a stream id and a URL path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShowId(String);

impl ShowId {
    pub fn parse(id: &str) -> Result<Self, Rejection> {
        let valid_chars = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if id.is_empty() || id.len() > SHOW_ID_LEN_MAX || !valid_chars {
            return Err(Rejection::InvalidShowId(format!(
                "{id:?} must be 1 to {SHOW_ID_LEN_MAX} characters of A-Z, a-z, 0-9, '_', '-', '.'"
            )));
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ShowId {
    type Error = Rejection;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<ShowId> for String {
    fn from(value: ShowId) -> Self {
        value.0
    }
}

impl JsonSchema for ShowId {
    fn schema_name() -> Cow<'static, str> {
        "ShowId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A show, named by the operator: 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.'.",
            "type": "string",
            "pattern": "^[A-Za-z0-9_.-]{1,64}$"
        })
    }
}

impl std::fmt::Display for ShowId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest pool id an operator may choose.
pub const POOL_ID_LEN_MAX: usize = 64;

/// A parimutuel pool, named by the operator: 1–64 characters of
/// `[A-Za-z0-9_.-]`, safe in a stream id, an account id and a URL path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PoolId(String);

impl PoolId {
    pub fn parse(id: &str) -> Result<Self, Rejection> {
        let valid_chars = id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if id.is_empty() || id.len() > POOL_ID_LEN_MAX || !valid_chars {
            return Err(Rejection::InvalidPoolId(format!(
                "{id:?} must be 1 to {POOL_ID_LEN_MAX} characters of A-Z, a-z, 0-9, '_', '-', '.'"
            )));
        }
        Ok(Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PoolId {
    type Error = Rejection;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<PoolId> for String {
    fn from(value: PoolId) -> Self {
        value.0
    }
}

impl JsonSchema for PoolId {
    fn schema_name() -> Cow<'static, str> {
        "PoolId".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A parimutuel pool, named by the operator: 1 to 64 of A-Z, a-z, 0-9, '_', '-', '.'.",
            "type": "string",
            "pattern": "^[A-Za-z0-9_.-]{1,64}$"
        })
    }
}

impl std::fmt::Display for PoolId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of an event stream, e.g. `account-alice`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamId(String);

impl StreamId {
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The stream of a player's wallet.
    pub fn account(account: &AccountId) -> Self {
        Self(format!("account-{account}"))
    }

    /// The stream of a sportsbook market.
    pub fn market(market: &MarketId) -> Self {
        Self(format!("market-{market}"))
    }

    /// The stream of a show: its seat inventory.
    pub fn show(show: &ShowId) -> Self {
        Self(format!("show-{show}"))
    }

    /// The stream of a parimutuel pool.
    pub fn pool(pool: &PoolId) -> Self {
        Self(format!("pool-{pool}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $schema_doc:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "description": $schema_doc,
                    "type": "string",
                    "format": "uuid"
                })
            }
        }
    };
}

uuid_id!(
    /// Identifies one transfer (one money movement) on the ledger.
    TransferId,
    "Identifies one transfer (one money movement) on the ledger."
);
uuid_id!(
    /// Identifies a hold: a pending transfer later posted or voided.
    HoldId,
    "Identifies a hold: a pending transfer later posted or voided."
);

uuid_id!(
    /// Identifies a sportsbook bet. Its stake's hold is the transfer with
    /// the same UUID.
    BetId,
    "Identifies a sportsbook bet; its stake's hold is the transfer with the same UUID."
);
uuid_id!(
    /// Identifies one settlement of a market (a re-settlement has its own).
    SettlementId,
    "Identifies one settlement of a market; a re-settlement has its own."
);
uuid_id!(
    /// Identifies a cash-out offer made on a bet.
    OfferId,
    "Identifies a cash-out offer made on a bet."
);
uuid_id!(
    /// Identifies a reservation of seats at a show. The money's hold is the
    /// transfer with the same UUID.
    ReservationId,
    "Identifies a reservation of seats at a show; its money's hold is the transfer with the same UUID."
);
uuid_id!(
    /// Identifies one seat's ticket, issued when its reservation is
    /// confirmed (derived from the reservation and the seat's index).
    TicketId,
    "Identifies one seat's ticket, derived from its reservation and the seat's index."
);
uuid_id!(
    /// Identifies one entry in a parimutuel pool. Its stake's transfer has
    /// the same UUID.
    PoolEntryId,
    "Identifies one entry in a parimutuel pool; its stake's transfer has the same UUID."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn player_ids_are_validated() {
        assert!(AccountId::parse("alice-01_x.y").is_ok());
        for bad in ["", "house", "cash", "a b", "pool:1", "é", &"x".repeat(65)] {
            assert_eq!(
                AccountId::parse(bad).map_err(|r| r.code()),
                Err("invalid_account_id"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn payment_references_are_validated() {
        for good in ["pi_3Nq9", "E2E-0001/2026", &"x".repeat(64)] {
            assert!(PaymentRef::parse(good).is_ok(), "{good:?}");
        }
        for bad in ["", "a b", "tab\t", "é", &"x".repeat(65)] {
            assert_eq!(
                PaymentRef::parse(bad).map_err(|r| r.code()),
                Err("invalid_payment_ref"),
                "{bad:?}"
            );
        }
        assert!(serde_json::from_str::<PaymentRef>("\"a b\"").is_err());
    }

    #[test]
    fn market_ids_are_validated() {
        let id = MarketId::parse("epl-2026.ars_che").expect("valid");
        assert_eq!(StreamId::market(&id).as_str(), "market-epl-2026.ars_che");
        for bad in ["", "a b", "a:b", "é", &"x".repeat(65)] {
            assert_eq!(
                MarketId::parse(bad).map_err(|r| r.code()),
                Err("invalid_market_id"),
                "{bad:?}"
            );
        }
        assert!(serde_json::from_str::<MarketId>("\"a b\"").is_err());
    }

    #[test]
    fn pool_ids_are_validated() {
        let id = PoolId::parse("derby-2026.win").expect("valid");
        assert_eq!(StreamId::pool(&id).as_str(), "pool-derby-2026.win");
        assert_eq!(AccountId::pool(&id).as_str(), "pool:derby-2026.win");
        for bad in ["", "a b", "a:b", "é", &"x".repeat(65)] {
            assert_eq!(
                PoolId::parse(bad).map_err(|r| r.code()),
                Err("invalid_pool_id"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn system_accounts_are_recognised() {
        assert!(AccountId::rake().is_system());
        assert!(AccountId::house().is_system());
        assert!(AccountId::cash().is_system());
        assert!(!AccountId::parse("alice")
            .map(|a| a.is_system())
            .unwrap_or(true));
    }
}
