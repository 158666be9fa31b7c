//! Domain rejections: why a command was refused, each with a stable code that
//! clients can rely on (the API maps them to 422 problem documents).

/// A command the domain refuses. Codes never change once published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("available balance {available} is below the amount {amount}")]
    InsufficientFunds { available: i64, amount: i64 },
    #[error("account not found")]
    AccountNotFound,
    #[error("account already exists")]
    AccountExists,
    #[error("invalid amount: {0}")]
    InvalidAmount(String),
    #[error("currency {requested} does not match the account's currency {account}")]
    CurrencyMismatch { account: String, requested: String },
    #[error("hold not found")]
    HoldNotFound,
    #[error("hold is already {0}")]
    HoldAlreadyResolved(String),
    #[error("invalid currency: {0}")]
    InvalidCurrency(String),
    #[error("invalid account id: {0}")]
    InvalidAccountId(String),
    #[error("invalid credit limit: {0}")]
    InvalidCreditLimit(String),
    #[error("invalid description: {0}")]
    InvalidDescription(String),
    #[error("invalid payment reference: {0}")]
    InvalidPaymentRef(String),
}

impl Rejection {
    /// The stable, machine-readable code of this rejection.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InsufficientFunds { .. } => "insufficient_funds",
            Self::AccountNotFound => "account_not_found",
            Self::AccountExists => "account_exists",
            Self::InvalidAmount(_) => "invalid_amount",
            Self::CurrencyMismatch { .. } => "currency_mismatch",
            Self::HoldNotFound => "hold_not_found",
            Self::HoldAlreadyResolved(_) => "hold_already_resolved",
            Self::InvalidCurrency(_) => "invalid_currency",
            Self::InvalidAccountId(_) => "invalid_account_id",
            Self::InvalidCreditLimit(_) => "invalid_credit_limit",
            Self::InvalidDescription(_) => "invalid_description",
            Self::InvalidPaymentRef(_) => "invalid_payment_ref",
        }
    }
}
