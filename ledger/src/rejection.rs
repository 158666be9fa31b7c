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
    #[error("invalid market id: {0}")]
    InvalidMarketId(String),
    #[error("market not found")]
    MarketNotFound,
    #[error("market already exists")]
    MarketExists,
    #[error("market is not open for bets")]
    MarketNotOpen,
    /// A lifecycle command the market's current status does not allow.
    #[error("not allowed while the market is {status}")]
    InvalidMarketState { status: String },
    #[error("the market must be closed before it is settled")]
    MarketNotClosed,
    #[error("market is already settled or settling")]
    MarketAlreadySettled,
    #[error("settlement not found")]
    SettlementNotFound,
    #[error("the new result is the same as the current settlement's")]
    SettlementUnchanged,
    /// `current` is in ten-thousandths; the message shows it as decimal odds.
    #[error("the odds of leg {leg} are now {}", decimal_odds(*.current))]
    OddsChanged { leg: usize, current: u64 },
    #[error("the stake must be from {min} to {max}")]
    StakeOutOfRange { min: i64, max: i64 },
    #[error("outcome {outcome} would reach a liability of {liability}, above the limit {limit}")]
    LiabilityExceeded {
        outcome: u16,
        liability: i64,
        limit: i64,
    },
    #[error("invalid market: {0}")]
    InvalidMarket(String),
    #[error("invalid bet: {0}")]
    InvalidBet(String),
    #[error("bet not found")]
    BetNotFound,
    #[error("bet is already settled")]
    BetAlreadySettled,
    #[error("cash-out offer not found")]
    OfferNotFound,
    #[error("cash-out offer expired")]
    OfferExpired,
    #[error("cash-out is not available for this bet now")]
    CashOutUnavailable,
    #[error("invalid show id: {0}")]
    InvalidShowId(String),
    #[error("invalid show: {0}")]
    InvalidShow(String),
    #[error("show not found")]
    ShowNotFound,
    #[error("show already exists")]
    ShowExists,
    #[error("the show is cancelled")]
    ShowCancelled,
    #[error("the show has started")]
    ShowStarted,
    #[error("only {seats_left} seats are left in this tier")]
    SoldOut { seats_left: u32 },
    #[error("tier not found")]
    TierNotFound,
    #[error("at most {max} seats per customer at this show; {held} already held")]
    TooManySeats { max: u32, held: u32 },
    #[error("reservation not found")]
    ReservationNotFound,
    #[error("the reservation has expired")]
    ReservationExpired,
    #[error("the reservation is already {status}")]
    ReservationNotOpen { status: String },
    #[error("ticket not found")]
    TicketNotFound,
    #[error("ticket is already cancelled")]
    TicketAlreadyCancelled,
    #[error("invalid pool id: {0}")]
    InvalidPoolId(String),
    #[error("invalid pool: {0}")]
    InvalidPool(String),
    #[error("pool not found")]
    PoolNotFound,
    #[error("pool already exists")]
    PoolExists,
    #[error("the pool is not open for entries")]
    PoolNotOpen,
    #[error("the pool takes no more entries (at most {max})")]
    PoolFull { max: usize },
    #[error("the entry is below the pool's minimum of {min}")]
    BelowMinimumEntry { min: i64 },
    #[error("outcome {0} is not one of the pool's outcomes")]
    OutcomeNotFound(u16),
    /// A lifecycle command the pool's current status does not allow.
    #[error("not allowed while the pool is {status}")]
    InvalidPoolState { status: String },
    #[error("the pool must be closed before it is settled")]
    PoolNotClosed,
    #[error("the pool is already settled or settling")]
    PoolAlreadySettled,
    #[error("pool entry not found")]
    PoolEntryNotFound,
}

fn decimal_odds(ten_thousandths: u64) -> crate::sportsbook::odds::Odds {
    crate::sportsbook::odds::Odds(ten_thousandths)
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
            Self::InvalidMarketId(_) => "invalid_market_id",
            Self::MarketNotFound => "market_not_found",
            Self::MarketExists => "market_exists",
            Self::MarketNotOpen => "market_not_open",
            Self::InvalidMarketState { .. } => "invalid_market_state",
            Self::MarketNotClosed => "market_not_closed",
            Self::MarketAlreadySettled => "market_already_settled",
            Self::SettlementNotFound => "settlement_not_found",
            Self::SettlementUnchanged => "settlement_unchanged",
            Self::OddsChanged { .. } => "odds_changed",
            Self::StakeOutOfRange { .. } => "stake_out_of_range",
            Self::LiabilityExceeded { .. } => "liability_exceeded",
            Self::InvalidMarket(_) => "invalid_market",
            Self::InvalidBet(_) => "invalid_bet",
            Self::BetNotFound => "bet_not_found",
            Self::BetAlreadySettled => "bet_already_settled",
            Self::OfferNotFound => "offer_not_found",
            Self::OfferExpired => "offer_expired",
            Self::CashOutUnavailable => "cash_out_unavailable",
            Self::InvalidShowId(_) => "invalid_show_id",
            Self::InvalidShow(_) => "invalid_show",
            Self::ShowNotFound => "show_not_found",
            Self::ShowExists => "show_exists",
            Self::ShowCancelled => "show_cancelled",
            Self::ShowStarted => "show_started",
            Self::SoldOut { .. } => "sold_out",
            Self::TierNotFound => "tier_not_found",
            Self::TooManySeats { .. } => "too_many_seats",
            Self::ReservationNotFound => "reservation_not_found",
            Self::ReservationExpired => "reservation_expired",
            Self::ReservationNotOpen { .. } => "reservation_not_open",
            Self::TicketNotFound => "ticket_not_found",
            Self::TicketAlreadyCancelled => "ticket_already_cancelled",
            Self::InvalidPoolId(_) => "invalid_pool_id",
            Self::InvalidPool(_) => "invalid_pool",
            Self::PoolNotFound => "pool_not_found",
            Self::PoolExists => "pool_exists",
            Self::PoolNotOpen => "pool_not_open",
            Self::PoolFull { .. } => "pool_full",
            Self::BelowMinimumEntry { .. } => "below_minimum_entry",
            Self::OutcomeNotFound(_) => "outcome_not_found",
            Self::InvalidPoolState { .. } => "invalid_pool_state",
            Self::PoolNotClosed => "pool_not_closed",
            Self::PoolAlreadySettled => "pool_already_settled",
            Self::PoolEntryNotFound => "pool_entry_not_found",
        }
    }
}
