//! The decisions on a pool: the operator's and the payout process's
//! commands (`decide_pool`), an entry over the wallet and the pool at once
//! (`decide_entry`), and the wallet's side of a payout (`decide_payment`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::event::{
    PoolChanged, PoolCreated, PoolEntryAccepted, PoolEvent, PoolPayoutsFinished,
    PoolPayoutsProgressed, PoolRakeTaken, PoolSettlementStarted,
};
use super::split::BP;
use super::{Pool, PoolState, PoolStatus, Resolution, ENTRIES_MAX, NAME_LEN_MAX, OUTCOMES_MAX};
use crate::book::Side;
use crate::wallet::decide::{covers, fits, transfer};
use crate::wallet::{PoolEntered, PoolEntryPaid, PoolEntryStatus, WalletEvent, WalletState};
use crate::{
    AccountId, Amount, Currency, Phase, PoolEntryId, PoolId, Rejection, Transfer, TransferCode,
    TransferId,
};

/// What the operator, or the pool's processes, ask of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoolCommand {
    Create {
        pool: PoolId,
        name: String,
        outcomes: Vec<String>,
        min_entry: i64,
        rake_bp: u32,
        closes_at: DateTime<Utc>,
        currency: Currency,
    },
    Close,
    Settle {
        winners: Vec<u16>,
    },
    Cancel,
    /// The payout process paid the first `entries_done` entries, `paid` in all.
    RecordProgress {
        entries_done: u64,
        paid: i64,
    },
    /// Every entry is paid: take the rake and finish.
    Finish,
}

/// An entry as a player asks for it. `now` is when it is decided: an
/// entry after the close time is refused even before the pool is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnterPool {
    pub entry_id: PoolEntryId,
    pub pool: PoolId,
    pub outcome: u16,
    pub stake: Amount,
    pub now: DateTime<Utc>,
}

/// The events of an accepted entry: the wallet's and the pool's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDecision {
    pub wallet: Vec<WalletEvent>,
    pub pool: Vec<PoolEvent>,
}

/// A payout or refund of one entry, as the payout process sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayEntry {
    pub pool: PoolId,
    pub entry_id: PoolEntryId,
    pub amount: Amount,
    pub refund: bool,
}

/// The namespace of derived pool transfer ids (a fixed, random v4 UUID).
const TRANSFER_NAMESPACE: Uuid = Uuid::from_u128(0x2c61_9d0e_7b3a_4f85_a1d2_63e9_0f4b_c817);

/// The id of an entry's payout or refund: derived, so that deciding stays
/// pure and a repeated payout derives the same id.
pub fn payment_transfer_id(entry_id: PoolEntryId, refund: bool) -> TransferId {
    let mut name = entry_id.as_uuid().as_bytes().to_vec();
    name.extend_from_slice(if refund { b"refund" } else { b"payout" });
    TransferId::from_uuid(Uuid::new_v5(&TRANSFER_NAMESPACE, &name))
}

/// The id of a pool's rake transfer (one per pool).
pub fn rake_transfer_id(pool: &PoolId) -> TransferId {
    let name = format!("rake:{pool}");
    TransferId::from_uuid(Uuid::new_v5(&TRANSFER_NAMESPACE, name.as_bytes()))
}

/// Decides an operator's or a process's command against the pool's state.
pub fn decide_pool(state: &PoolState, command: &PoolCommand) -> Result<Vec<PoolEvent>, Rejection> {
    let pool = match (&state.pool, command) {
        (None, PoolCommand::Create { .. }) => return create(command).map(|e| vec![e]),
        (Some(_), PoolCommand::Create { .. }) => return Err(Rejection::PoolExists),
        (None, _) => return Err(Rejection::PoolNotFound),
        (Some(pool), _) => pool,
    };
    let id = || PoolChanged {
        pool: pool.id.clone(),
    };
    let invalid_state = || {
        Err(Rejection::InvalidPoolState {
            status: pool.status.as_str().into(),
        })
    };
    Ok(match command {
        PoolCommand::Create { .. } => return Err(Rejection::PoolExists),
        PoolCommand::Close => match pool.status {
            PoolStatus::Open => vec![PoolEvent::PoolClosed(id())],
            _ => return invalid_state(),
        },
        PoolCommand::Settle { winners } => {
            match pool.status {
                PoolStatus::Closed => {}
                PoolStatus::Open => return Err(Rejection::PoolNotClosed),
                PoolStatus::Paying {
                    resolution: Resolution::Winners(_),
                    ..
                }
                | PoolStatus::Finished {
                    resolution: Resolution::Winners(_),
                    ..
                } => return Err(Rejection::PoolAlreadySettled),
                _ => return invalid_state(),
            }
            valid_winners(pool, winners)?;
            vec![PoolEvent::SettlementStarted(PoolSettlementStarted {
                pool: pool.id.clone(),
                winners: winners.clone(),
            })]
        }
        PoolCommand::Cancel => match pool.status {
            PoolStatus::Open | PoolStatus::Closed => vec![PoolEvent::PoolCancelled(id())],
            PoolStatus::Paying {
                resolution: Resolution::Winners(_),
                ..
            }
            | PoolStatus::Finished {
                resolution: Resolution::Winners(_),
                ..
            } => return Err(Rejection::PoolAlreadySettled),
            _ => return invalid_state(),
        },
        PoolCommand::RecordProgress { entries_done, paid } => {
            let PoolStatus::Paying {
                entries_done: done, ..
            } = pool.status
            else {
                return invalid_state();
            };
            let total = pool.entries.len() as u64;
            if *entries_done <= done || *entries_done > total || *paid < 0 {
                // A stale or repeated report would move progress backwards.
                return Err(Rejection::InvalidPool(format!(
                    "progress to {entries_done} of {total} entries is not past {done}"
                )));
            }
            vec![PoolEvent::PayoutsProgressed(PoolPayoutsProgressed {
                pool: pool.id.clone(),
                entries_done: *entries_done,
                paid: *paid,
            })]
        }
        PoolCommand::Finish => finish(pool)?,
    })
}

fn finish(pool: &Pool) -> Result<Vec<PoolEvent>, Rejection> {
    let PoolStatus::Paying {
        resolution,
        entries_done,
        paid,
    } = &pool.status
    else {
        return Err(Rejection::InvalidPoolState {
            status: pool.status.as_str().into(),
        });
    };
    if *entries_done != pool.entries.len() as u64 {
        return Err(Rejection::InvalidPool(format!(
            "{entries_done} of {} entries are paid",
            pool.entries.len()
        )));
    }
    let plan = pool.plan(resolution);
    // The ledger's identity for a pool: every unit of the pot is paid out.
    if i128::from(*paid) + i128::from(plan.rake) != i128::from(pool.pot) {
        return Err(Rejection::InvalidPool(format!(
            "paid {paid} and rake {} do not add up to the pot {}",
            plan.rake, pool.pot
        )));
    }
    let mut events = Vec::with_capacity(2);
    if plan.rake > 0 {
        events.push(PoolEvent::RakeTaken(PoolRakeTaken {
            pool: pool.id.clone(),
            transfer: Transfer {
                id: rake_transfer_id(&pool.id),
                debit: AccountId::pool(&pool.id),
                credit: AccountId::rake(),
                amount: Amount::new(plan.rake)?,
                currency: pool.currency,
                code: TransferCode::Rake,
            },
        }));
    }
    events.push(PoolEvent::PayoutsFinished(PoolPayoutsFinished {
        pool: pool.id.clone(),
        paid: *paid,
        rake: plan.rake,
    }));
    Ok(events)
}

fn valid_winners(pool: &Pool, winners: &[u16]) -> Result<(), Rejection> {
    if winners.is_empty() {
        return Err(Rejection::InvalidPool(
            "a result needs at least one winning outcome".into(),
        ));
    }
    for (i, w) in winners.iter().enumerate() {
        if usize::from(*w) >= pool.outcomes.len() {
            return Err(Rejection::OutcomeNotFound(*w));
        }
        if winners[..i].contains(w) {
            return Err(Rejection::InvalidPool(format!("winner {w} is named twice")));
        }
    }
    Ok(())
}

fn create(command: &PoolCommand) -> Result<PoolEvent, Rejection> {
    let PoolCommand::Create {
        pool,
        name,
        outcomes,
        min_entry,
        rake_bp,
        closes_at,
        currency,
    } = command
    else {
        return Err(Rejection::PoolNotFound);
    };
    let invalid = |why: String| Err(Rejection::InvalidPool(why));
    let chars = name.chars().count();
    if !(1..=NAME_LEN_MAX).contains(&chars) {
        return invalid(format!(
            "the name must be 1 to {NAME_LEN_MAX} characters, got {chars}"
        ));
    }
    if !(2..=OUTCOMES_MAX).contains(&outcomes.len()) {
        return invalid(format!(
            "a pool needs 2 to {OUTCOMES_MAX} outcomes, got {}",
            outcomes.len()
        ));
    }
    for (i, outcome) in outcomes.iter().enumerate() {
        let chars = outcome.chars().count();
        if !(1..=NAME_LEN_MAX).contains(&chars) {
            return invalid(format!(
                "outcome {i}'s name must be 1 to {NAME_LEN_MAX} characters, got {chars}"
            ));
        }
        if outcomes[..i].contains(outcome) {
            return invalid(format!("outcome {outcome:?} is named twice"));
        }
    }
    if *min_entry < 1 {
        return invalid(format!(
            "the minimum entry must be 1 or more, got {min_entry}"
        ));
    }
    if *rake_bp >= BP {
        return invalid(format!(
            "the rake must be 0 to {} basis points, got {rake_bp}",
            BP - 1
        ));
    }
    Ok(PoolEvent::PoolCreated(PoolCreated {
        pool: pool.clone(),
        name: name.clone(),
        outcomes: outcomes.clone(),
        min_entry: *min_entry,
        rake_bp: *rake_bp,
        closes_at: *closes_at,
        currency: *currency,
    }))
}

/// Decides an entry against the wallet and the pool. Checks, in order: the
/// wallet and the pool exist, the pool is open (and before its close
/// time), the outcome, the currency, the minimum, the entry limit and the
/// pot's sums, and last the funds.
pub fn decide_entry(
    wallet: &WalletState,
    pool: &PoolState,
    cmd: &EnterPool,
) -> Result<EntryDecision, Rejection> {
    let wallet = wallet.wallet.as_ref().ok_or(Rejection::AccountNotFound)?;
    let pool = pool.pool.as_ref().ok_or(Rejection::PoolNotFound)?;
    if pool.id != cmd.pool {
        return Err(Rejection::PoolNotFound);
    }
    if pool.status != PoolStatus::Open || cmd.now >= pool.closes_at {
        return Err(Rejection::PoolNotOpen);
    }
    if usize::from(cmd.outcome) >= pool.outcomes.len() {
        return Err(Rejection::OutcomeNotFound(cmd.outcome));
    }
    if wallet.currency != pool.currency {
        return Err(Rejection::CurrencyMismatch {
            account: wallet.currency.to_string(),
            requested: pool.currency.to_string(),
        });
    }
    let stake = cmd.stake.get();
    if stake < pool.min_entry {
        return Err(Rejection::BelowMinimumEntry {
            min: pool.min_entry,
        });
    }
    if pool.entries.len() >= ENTRIES_MAX {
        return Err(Rejection::PoolFull { max: ENTRIES_MAX });
    }
    if pool.pot.checked_add(stake).is_none() {
        return Err(Rejection::InvalidAmount(format!(
            "{stake} would overflow the pool's pot"
        )));
    }
    let used = pool.has_entry(cmd.entry_id)
        || wallet.pool_entries.contains_key(&cmd.entry_id)
        || wallet
            .holds
            .contains_key(&crate::HoldId::from_uuid(cmd.entry_id.as_uuid()));
    if used {
        return Err(Rejection::InvalidPool(format!(
            "entry id {} is already used",
            cmd.entry_id
        )));
    }
    covers(wallet, cmd.stake)?;
    fits(wallet.balance, Side::Debit, cmd.stake, Phase::Posted)?;
    let transfer = transfer(
        TransferId::from_uuid(cmd.entry_id.as_uuid()),
        wallet.id.clone(),
        AccountId::pool(&pool.id),
        cmd.stake,
        pool.currency,
        TransferCode::PoolEntry,
    );
    Ok(EntryDecision {
        wallet: vec![WalletEvent::PoolEntered(PoolEntered {
            pool: pool.id.clone(),
            entry_id: cmd.entry_id,
            outcome: cmd.outcome,
            transfer,
        })],
        pool: vec![PoolEvent::EntryAccepted(PoolEntryAccepted {
            pool: pool.id.clone(),
            entry_id: cmd.entry_id,
            account: wallet.id.clone(),
            outcome: cmd.outcome,
            stake: cmd.stake,
        })],
    })
}

/// The wallet's side of a payout or refund. An entry already paid out is
/// left alone (no events): a payout sent twice pays once.
pub fn decide_payment(wallet: &WalletState, cmd: &PayEntry) -> Result<Vec<WalletEvent>, Rejection> {
    let wallet = wallet.wallet.as_ref().ok_or(Rejection::AccountNotFound)?;
    match wallet.pool_entries.get(&cmd.entry_id) {
        None => return Err(Rejection::PoolEntryNotFound),
        Some(PoolEntryStatus::PaidOut) => return Ok(Vec::new()),
        Some(PoolEntryStatus::Open) => {}
    }
    fits(wallet.balance, Side::Credit, cmd.amount, Phase::Posted)?;
    let (code, event): (_, fn(PoolEntryPaid) -> WalletEvent) = if cmd.refund {
        (TransferCode::PoolRefund, WalletEvent::PoolRefunded)
    } else {
        (TransferCode::PoolPayout, WalletEvent::PoolPaid)
    };
    let transfer = transfer(
        payment_transfer_id(cmd.entry_id, cmd.refund),
        AccountId::pool(&cmd.pool),
        wallet.id.clone(),
        cmd.amount,
        wallet.currency,
        code,
    );
    Ok(vec![event(PoolEntryPaid {
        pool: cmd.pool.clone(),
        entry_id: cmd.entry_id,
        transfer,
    })])
}
