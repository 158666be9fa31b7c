//! Commands on a wallet and the decision that turns them into events.

use super::bet::{self, AcceptCashOut, OfferCashOut, SettleLeg};
use super::event::{AccountOpened, FundsMoved, HoldChanged, WalletEvent};
use super::seats::{self, SeatsCommand};
use super::{HoldStatus, Wallet, WalletState};
use crate::book::{Balance, Side};
use crate::{
    AccountId, Amount, BetId, CreditLimit, Currency, HoldId, PaymentRef, Phase, Rejection,
    Transfer, TransferCode, TransferId,
};

/// Longest free-text description a transfer may carry, in characters.
pub const DESCRIPTION_LEN_MAX: usize = 140;

/// A transfer's free-text description: 1 to 140 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

impl Description {
    pub fn parse(text: &str) -> Result<Self, Rejection> {
        let chars = text.chars().count();
        if chars == 0 || chars > DESCRIPTION_LEN_MAX {
            return Err(Rejection::InvalidDescription(format!(
                "must be 1 to {DESCRIPTION_LEN_MAX} characters, got {chars}"
            )));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a client asks of a wallet. Ids of new transfers and holds are chosen
/// before deciding, so that `decide` stays pure and replayable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletCommand {
    Open {
        account: AccountId,
        currency: Currency,
        credit_limit: CreditLimit,
    },
    Deposit {
        transfer_id: TransferId,
        amount: Amount,
        currency: Option<Currency>,
        description: Option<Description>,
        payment_ref: Option<PaymentRef>,
    },
    Withdraw {
        transfer_id: TransferId,
        amount: Amount,
        currency: Option<Currency>,
        description: Option<Description>,
        payment_ref: Option<PaymentRef>,
    },
    PlaceHold {
        hold_id: HoldId,
        amount: Amount,
        currency: Option<Currency>,
        description: Option<Description>,
    },
    PostHold {
        hold_id: HoldId,
    },
    VoidHold {
        hold_id: HoldId,
    },
    /// One leg of a bet settled (or re-settled) by its market's settlement.
    /// Placing a bet is `sportsbook::bet::decide_bet`: it needs the markets.
    SettleLeg(SettleLeg),
    OfferCashOut(OfferCashOut),
    AcceptCashOut(AcceptCashOut),
    /// The wallet's side of a box-office command (`box_office` decides the
    /// show's side and sends this one).
    Seats(SeatsCommand),
}

/// Decides a command against the wallet's state.
pub fn decide(state: &WalletState, command: &WalletCommand) -> Result<Vec<WalletEvent>, Rejection> {
    let wallet = match (&state.wallet, command) {
        (
            None,
            WalletCommand::Open {
                account,
                currency,
                credit_limit,
            },
        ) => {
            return Ok(vec![WalletEvent::AccountOpened(AccountOpened {
                account: account.clone(),
                currency: *currency,
                credit_limit: *credit_limit,
            })]);
        }
        (Some(_), WalletCommand::Open { .. }) => return Err(Rejection::AccountExists),
        (None, _) => return Err(Rejection::AccountNotFound),
        (Some(wallet), _) => wallet,
    };
    let event = match command {
        WalletCommand::Open { .. } => return Err(Rejection::AccountExists),
        WalletCommand::SettleLeg(cmd) => return bet::settle_leg(wallet, cmd),
        WalletCommand::OfferCashOut(cmd) => return bet::offer_cash_out(wallet, cmd),
        WalletCommand::AcceptCashOut(cmd) => return bet::accept_cash_out(wallet, cmd),
        WalletCommand::Seats(cmd) => seats::decide(wallet, cmd)?,
        WalletCommand::Deposit {
            transfer_id,
            amount,
            currency,
            description,
            payment_ref,
        } => {
            let currency = same_currency(wallet, *currency)?;
            let transfer = transfer(
                *transfer_id,
                AccountId::cash(),
                wallet.id.clone(),
                *amount,
                currency,
                TransferCode::Deposit,
            );
            fits(wallet.balance, Side::Credit, *amount, Phase::Posted)?;
            WalletEvent::FundsDeposited(FundsMoved {
                transfer,
                payment_ref: payment_ref.clone(),
                description: text(description),
            })
        }
        WalletCommand::Withdraw {
            transfer_id,
            amount,
            currency,
            description,
            payment_ref,
        } => {
            let currency = same_currency(wallet, *currency)?;
            covers(wallet, *amount)?;
            let transfer = transfer(
                *transfer_id,
                wallet.id.clone(),
                AccountId::cash(),
                *amount,
                currency,
                TransferCode::Withdrawal,
            );
            fits(wallet.balance, Side::Debit, *amount, Phase::Posted)?;
            WalletEvent::FundsWithdrawn(FundsMoved {
                transfer,
                payment_ref: payment_ref.clone(),
                description: text(description),
            })
        }
        WalletCommand::PlaceHold {
            hold_id,
            amount,
            currency,
            description,
        } => {
            let currency = same_currency(wallet, *currency)?;
            // A bet's stake transfer takes the bet's UUID: a hold must not
            // reuse it.
            let bet_id = BetId::from_uuid(hold_id.as_uuid());
            let reservation = crate::ReservationId::from_uuid(hold_id.as_uuid());
            if wallet.holds.contains_key(hold_id)
                || wallet.bets.contains_key(&bet_id)
                || wallet.seat_holds.contains_key(&reservation)
            {
                return Err(Rejection::HoldAlreadyResolved("placed".into()));
            }
            covers(wallet, *amount)?;
            let transfer = transfer(
                TransferId::from_uuid(hold_id.as_uuid()),
                wallet.id.clone(),
                AccountId::house(),
                *amount,
                currency,
                TransferCode::Hold,
            );
            fits(wallet.balance, Side::Debit, *amount, Phase::PendingPlaced)?;
            WalletEvent::HoldPlaced(HoldChanged {
                hold_id: *hold_id,
                transfer,
                description: text(description),
            })
        }
        WalletCommand::PostHold { hold_id } => {
            let transfer = pending_hold(wallet, *hold_id)?;
            WalletEvent::HoldPosted(HoldChanged {
                hold_id: *hold_id,
                transfer,
                description: None,
            })
        }
        WalletCommand::VoidHold { hold_id } => {
            let transfer = pending_hold(wallet, *hold_id)?;
            WalletEvent::HoldVoided(HoldChanged {
                hold_id: *hold_id,
                transfer,
                description: None,
            })
        }
    };
    Ok(vec![event])
}

pub(crate) fn transfer(
    id: TransferId,
    debit: AccountId,
    credit: AccountId,
    amount: Amount,
    currency: Currency,
    code: TransferCode,
) -> Transfer {
    Transfer {
        id,
        debit,
        credit,
        amount,
        currency,
        code,
    }
}

fn text(description: &Option<Description>) -> Option<String> {
    description.as_ref().map(|d| d.as_str().to_owned())
}

fn same_currency(wallet: &Wallet, requested: Option<Currency>) -> Result<Currency, Rejection> {
    match requested {
        Some(c) if c != wallet.currency => Err(Rejection::CurrencyMismatch {
            account: wallet.currency.to_string(),
            requested: c.to_string(),
        }),
        _ => Ok(wallet.currency),
    }
}

/// The limit rule: after the debit, `balance - pending >= -limit`.
pub(crate) fn covers(wallet: &Wallet, amount: Amount) -> Result<(), Rejection> {
    let available = wallet.balance.available(wallet.credit_limit.get());
    if available < i128::from(amount.get()) {
        return Err(Rejection::InsufficientFunds {
            available: wallet.available(),
            amount: amount.get(),
        });
    }
    Ok(())
}

/// Refuses a transfer that would push one of the wallet's sums out of
/// `i64`; returns the balance after it, for a decision of several events.
pub(crate) fn fits(
    mut balance: Balance,
    side: Side,
    amount: Amount,
    phase: Phase,
) -> Result<Balance, Rejection> {
    balance.apply(side, amount.get(), phase).map_err(|_| {
        Rejection::InvalidAmount(format!(
            "{} would overflow the account's totals",
            amount.get()
        ))
    })?;
    Ok(balance)
}

fn pending_hold(wallet: &Wallet, hold_id: HoldId) -> Result<Transfer, Rejection> {
    let hold = wallet.holds.get(&hold_id).ok_or(Rejection::HoldNotFound)?;
    match hold.status {
        HoldStatus::Pending => Ok(hold.transfer.clone()),
        resolved => Err(Rejection::HoldAlreadyResolved(resolved.as_str().into())),
    }
}
