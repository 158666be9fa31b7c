//! Parimutuel pools (`pool-{id}` streams, issue 6): the operator creates a
//! pool on 2+ outcomes; players enter with a stake that moves from their
//! wallet into the pool's escrow account `pool:{id}`; the pool closes (by
//! command, or by itself at its close time); the operator settles it with
//! the winning outcome(s), or cancels it. Then the escrow pays out, in
//! entry order and in chunks (each chunk's wallet events with the pool's
//! progress, one append): winners share the pot less the rake by largest
//! remainder (`split`), or everyone gets their stake back when the pool is
//! cancelled or no entry backed a winner (and no rake is taken).
//!
//! All pure: `decide_pool` for the operator's and the payout process's
//! commands, `decide_entry` for an entry (wallet and pool together),
//! `decide_payment` for the wallet's side of a payout or refund.

mod decide;
mod event;
pub mod schemas;
pub mod split;

use std::collections::HashSet;

use chrono::{DateTime, Utc};

pub use decide::{
    decide_entry, decide_payment, decide_pool, payment_transfer_id, rake_transfer_id, EnterPool,
    EntryDecision, PayEntry, PoolCommand,
};
pub use event::{
    PoolChanged, PoolCreated, PoolEntryAccepted, PoolEvent, PoolPayoutsFinished,
    PoolPayoutsProgressed, PoolRakeTaken, PoolSettlementStarted,
};

use crate::{AccountId, Currency, PoolEntryId, PoolId};

/// Most outcomes of one pool.
pub const OUTCOMES_MAX: usize = 64;
/// Longest pool name and outcome name, in characters.
pub const NAME_LEN_MAX: usize = 200;
/// Most entries one pool takes. The pool's state holds every entry (the
/// payouts need them all at once), so this bounds its memory: about 100
/// bytes an entry.
pub const ENTRIES_MAX: usize = 100_000;

/// How a pool ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Settled: these outcomes won.
    Winners(Vec<u16>),
    /// Cancelled: every entry refunded.
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolStatus {
    Open,
    Closed,
    /// Settled or cancelled, paying out: the first `entries_done` entries
    /// are paid, `paid` in all.
    Paying {
        resolution: Resolution,
        entries_done: u64,
        paid: i64,
    },
    /// Every entry paid out.
    Finished {
        resolution: Resolution,
        paid: i64,
        rake: i64,
    },
}

impl PoolStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Paying {
                resolution: Resolution::Winners(_),
                ..
            } => "settling",
            Self::Paying {
                resolution: Resolution::Cancelled,
                ..
            } => "cancelling",
            Self::Finished {
                resolution: Resolution::Winners(_),
                ..
            } => "settled",
            Self::Finished {
                resolution: Resolution::Cancelled,
                ..
            } => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub entry_id: PoolEntryId,
    pub account: AccountId,
    pub outcome: u16,
    pub stake: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    pub id: PoolId,
    pub name: String,
    pub outcomes: Vec<String>,
    pub min_entry: i64,
    pub rake_bp: u32,
    pub closes_at: DateTime<Utc>,
    pub currency: Currency,
    pub status: PoolStatus,
    /// Σ stakes: what the escrow holds until the payouts start.
    pub pot: i64,
    /// Σ stakes per outcome.
    pub staked: Vec<i64>,
    /// Every entry, in the order taken: the order of payouts and of the
    /// remainder's tie rule.
    pub entries: Vec<Entry>,
    entry_ids: HashSet<PoolEntryId>,
}

/// What the escrow pays each entry (by index in `Pool::entries`) and the
/// operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub refund: bool,
    pub amounts: Vec<i64>,
    pub rake: i64,
}

impl Pool {
    pub fn has_entry(&self, entry_id: PoolEntryId) -> bool {
        self.entry_ids.contains(&entry_id)
    }

    /// How the pool ends, once it is settled or cancelled.
    pub fn resolution(&self) -> Option<&Resolution> {
        match &self.status {
            PoolStatus::Paying { resolution, .. } | PoolStatus::Finished { resolution, .. } => {
                Some(resolution)
            }
            _ => None,
        }
    }

    /// What each entry gets for a resolution. Winners share pot − rake in
    /// proportion to their stakes; when no entry backed a winner, or the
    /// pool is cancelled, everyone gets their stake back and there is no
    /// rake (the operator takes a cut only of a pool that pays winners).
    pub fn plan(&self, resolution: &Resolution) -> Plan {
        let refund_all = || Plan {
            refund: true,
            amounts: self.entries.iter().map(|e| e.stake).collect(),
            rake: 0,
        };
        let Resolution::Winners(winners) = resolution else {
            return refund_all();
        };
        let winning: Vec<usize> = (0..self.entries.len())
            .filter(|&i| winners.contains(&self.entries[i].outcome))
            .collect();
        if winning.is_empty() {
            return refund_all();
        }
        let rake = split::rake(self.pot, self.rake_bp);
        let stakes: Vec<i64> = winning.iter().map(|&i| self.entries[i].stake).collect();
        let shares = split::share(self.pot - rake, &stakes);
        let mut amounts = vec![0; self.entries.len()];
        for (i, share) in winning.into_iter().zip(shares) {
            amounts[i] = share;
        }
        Plan {
            refund: false,
            amounts,
            rake,
        }
    }

    /// What one minor unit staked on `outcome` would return if it won now
    /// (pot less rake over the outcome's stakes), as a fraction: `None`
    /// when nothing is staked on it.
    pub fn return_per_unit(&self, outcome: u16) -> Option<(i64, i64)> {
        let staked = *self.staked.get(usize::from(outcome))?;
        (staked > 0).then(|| (self.pot - split::rake(self.pot, self.rake_bp), staked))
    }
}

/// The state of a pool stream: nothing until the pool is created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolState {
    pub pool: Option<Pool>,
}

impl PoolState {
    /// Folds one event into the state. Sums saturate: `decide_entry`
    /// refuses entries whose sums would leave `i64`.
    pub fn evolve(mut self, event: &PoolEvent) -> Self {
        if let PoolEvent::PoolCreated(e) = event {
            self.pool = Some(Pool {
                id: e.pool.clone(),
                name: e.name.clone(),
                outcomes: e.outcomes.clone(),
                min_entry: e.min_entry,
                rake_bp: e.rake_bp,
                closes_at: e.closes_at,
                currency: e.currency,
                status: PoolStatus::Open,
                pot: 0,
                staked: vec![0; e.outcomes.len()],
                entries: Vec::new(),
                entry_ids: HashSet::new(),
            });
            return self;
        }
        if let Some(pool) = self.pool.as_mut() {
            apply(pool, event);
        }
        self
    }
}

fn apply(pool: &mut Pool, event: &PoolEvent) {
    match event {
        PoolEvent::PoolCreated(_) | PoolEvent::RakeTaken(_) => {}
        PoolEvent::EntryAccepted(e) => {
            let stake = e.stake.get();
            pool.pot = pool.pot.saturating_add(stake);
            if let Some(s) = pool.staked.get_mut(usize::from(e.outcome)) {
                *s = s.saturating_add(stake);
            }
            pool.entry_ids.insert(e.entry_id);
            pool.entries.push(Entry {
                entry_id: e.entry_id,
                account: e.account.clone(),
                outcome: e.outcome,
                stake,
            });
        }
        PoolEvent::PoolClosed(_) => pool.status = PoolStatus::Closed,
        PoolEvent::PoolCancelled(_) => pool.status = paying(Resolution::Cancelled),
        PoolEvent::SettlementStarted(e) => {
            pool.status = paying(Resolution::Winners(e.winners.clone()));
        }
        PoolEvent::PayoutsProgressed(e) => {
            if let PoolStatus::Paying {
                entries_done, paid, ..
            } = &mut pool.status
            {
                *entries_done = e.entries_done;
                *paid = e.paid;
            }
        }
        PoolEvent::PayoutsFinished(e) => {
            if let PoolStatus::Paying { resolution, .. } = &pool.status {
                pool.status = PoolStatus::Finished {
                    resolution: resolution.clone(),
                    paid: e.paid,
                    rake: e.rake,
                };
            }
        }
    }
}

fn paying(resolution: Resolution) -> PoolStatus {
    PoolStatus::Paying {
        resolution,
        entries_done: 0,
        paid: 0,
    }
}

/// Folds events into state from scratch.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a PoolEvent>) -> PoolState {
    events
        .into_iter()
        .fold(PoolState::default(), PoolState::evolve)
}

#[cfg(test)]
mod tests;
