//! Balances of accounts, kept by applying transfers: the pure core shared by
//! the wallet aggregate, the balances projection and the audit tools.

use std::collections::BTreeMap;

use crate::{AccountId, Currency, Phase, Transfer};

/// Debits and credits of one account, posted and pending, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Balance {
    pub posted_debits: i64,
    pub posted_credits: i64,
    pub pending_debits: i64,
    pub pending_credits: i64,
}

/// A sum left the range of `i64`: the transfer must be refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

impl Balance {
    /// Posted credits minus posted debits.
    pub fn posted(&self) -> i64 {
        self.posted_credits.saturating_sub(self.posted_debits)
    }

    /// What may still be debited: posted balance, less pending debits, plus
    /// the credit limit. Computed wide so that no input can overflow it.
    pub fn available(&self, credit_limit: i64) -> i128 {
        i128::from(self.posted_credits)
            - i128::from(self.posted_debits)
            - i128::from(self.pending_debits)
            + i128::from(credit_limit)
    }

    /// Applies this account's side of a transfer.
    pub fn apply(&mut self, side: Side, amount: i64, phase: Phase) -> Result<(), Overflow> {
        let mut next = *self;
        let (posted, pending) = match side {
            Side::Debit => (&mut next.posted_debits, &mut next.pending_debits),
            Side::Credit => (&mut next.posted_credits, &mut next.pending_credits),
        };
        match phase {
            Phase::Posted => *posted = posted.checked_add(amount).ok_or(Overflow)?,
            Phase::PendingPlaced => *pending = pending.checked_add(amount).ok_or(Overflow)?,
            Phase::PendingPosted => {
                *pending = pending.checked_sub(amount).ok_or(Overflow)?;
                *posted = posted.checked_add(amount).ok_or(Overflow)?;
            }
            Phase::PendingVoided => *pending = pending.checked_sub(amount).ok_or(Overflow)?,
        }
        *self = next;
        Ok(())
    }
}

/// Which side of a transfer an account is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Debit,
    Credit,
}

/// An account's sums in a width no realistic log can overflow. System
/// accounts sum every wallet's transfers, and they are not aggregates that a
/// decision could guard, so the audit book must not be able to overflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub posted_debits: i128,
    pub posted_credits: i128,
    pub pending_debits: i128,
    pub pending_credits: i128,
}

impl Totals {
    /// Applies one side of a transfer. Public so that tools which follow a
    /// single system account through the log (`replay-tools as-of`) sum it
    /// exactly as the book does, without keeping every other account.
    pub fn apply(&mut self, side: Side, amount: i128, phase: Phase) {
        let (posted, pending) = match side {
            Side::Debit => (&mut self.posted_debits, &mut self.pending_debits),
            Side::Credit => (&mut self.posted_credits, &mut self.pending_credits),
        };
        match phase {
            Phase::Posted => *posted += amount,
            Phase::PendingPlaced => *pending += amount,
            Phase::PendingPosted => {
                *pending -= amount;
                *posted += amount;
            }
            Phase::PendingVoided => *pending -= amount,
        }
    }

    pub fn posted(&self) -> i128 {
        self.posted_credits - self.posted_debits
    }
}

impl From<Balance> for Totals {
    fn from(b: Balance) -> Self {
        Self {
            posted_debits: b.posted_debits.into(),
            posted_credits: b.posted_credits.into(),
            pending_debits: b.pending_debits.into(),
            pending_credits: b.pending_credits.into(),
        }
    }
}

/// Every account's sums, built by applying transfers in log order.
#[derive(Debug, Clone, Default)]
pub struct Book {
    accounts: BTreeMap<(AccountId, Currency), Totals>,
}

impl Book {
    pub fn apply(&mut self, transfer: &Transfer, phase: Phase) {
        let amount = i128::from(transfer.amount.get());
        self.accounts
            .entry((transfer.debit.clone(), transfer.currency))
            .or_default()
            .apply(Side::Debit, amount, phase);
        self.accounts
            .entry((transfer.credit.clone(), transfer.currency))
            .or_default()
            .apply(Side::Credit, amount, phase);
    }

    pub fn totals_of(&self, account: &AccountId, currency: Currency) -> Totals {
        self.accounts
            .get(&(account.clone(), currency))
            .copied()
            .unwrap_or_default()
    }

    pub fn accounts(&self) -> impl Iterator<Item = (&(AccountId, Currency), &Totals)> {
        self.accounts.iter()
    }

    /// Σ posted balances and Σ pending (credits − debits) per currency. Double
    /// entry makes both exactly zero; anything else means money was invented
    /// or lost.
    pub fn totals(&self) -> BTreeMap<Currency, (i128, i128)> {
        let mut totals: BTreeMap<Currency, (i128, i128)> = BTreeMap::new();
        for ((_, currency), t) in &self.accounts {
            let entry = totals.entry(*currency).or_default();
            entry.0 += t.posted_credits - t.posted_debits;
            entry.1 += t.pending_credits - t.pending_debits;
        }
        totals
    }

    pub fn is_balanced(&self) -> bool {
        self.totals()
            .values()
            .all(|&(posted, pending)| posted == 0 && pending == 0)
    }
}
