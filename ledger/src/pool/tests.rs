//! Given these events, when this command, then these events (or this
//! rejection): the pool's rules, and the money of a whole pool's life.

use chrono::{Duration, TimeZone, Utc};

use super::*;
use crate::book::Book;
use crate::wallet::{self, WalletCommand, WalletEvent};
use crate::{Amount, CreditLimit, Currency, Rejection};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .expect("a valid time")
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("valid")
}

fn pool_id() -> PoolId {
    PoolId::parse("derby").expect("valid")
}

fn created(rake_bp: u32) -> PoolState {
    let events = decide_pool(
        &PoolState::default(),
        &PoolCommand::Create {
            pool: pool_id(),
            name: "Derby win pool".into(),
            outcomes: vec!["A".into(), "B".into(), "C".into()],
            min_entry: 100,
            rake_bp,
            closes_at: t0() + Duration::hours(1),
            currency: eur(),
        },
    )
    .expect("created");
    replay(&events)
}

fn funded(name: &str, amount: i64) -> wallet::WalletState {
    let mut state = wallet::WalletState::default();
    let commands = [
        WalletCommand::Open {
            account: AccountId::parse(name).expect("valid"),
            currency: eur(),
            credit_limit: CreditLimit::ZERO,
        },
        WalletCommand::Deposit {
            transfer_id: crate::TransferId::generate(),
            amount: Amount::new(amount).expect("positive"),
            currency: None,
            description: None,
            payment_ref: None,
        },
    ];
    for command in &commands {
        for event in wallet::decide(&state, command).expect("accepted") {
            state = state.evolve(&event);
        }
    }
    state
}

/// A pool's life with the money booked: wallets, the pool and a book of
/// every transfer, which must sum to zero.
struct World {
    pool: PoolState,
    wallets: Vec<wallet::WalletState>,
    book: Book,
}

impl World {
    fn new(rake_bp: u32, players: usize) -> Self {
        let mut book = Book::default();
        let wallets = (0..players)
            .map(|i| {
                let w = funded(&format!("p{i}"), 10_000);
                if let Some(open) = &w.wallet {
                    let deposit = crate::Transfer {
                        id: crate::TransferId::generate(),
                        debit: AccountId::cash(),
                        credit: open.id.clone(),
                        amount: Amount::new(10_000).expect("positive"),
                        currency: eur(),
                        code: crate::TransferCode::Deposit,
                    };
                    book.apply(&deposit, crate::Phase::Posted);
                }
                w
            })
            .collect();
        Self {
            pool: created(rake_bp),
            wallets,
            book,
        }
    }

    fn enter(&mut self, player: usize, outcome: u16, stake: i64) -> Result<(), Rejection> {
        let cmd = EnterPool {
            entry_id: PoolEntryId::generate(),
            pool: pool_id(),
            outcome,
            stake: Amount::new(stake)?,
            now: t0(),
        };
        let decision = decide_entry(&self.wallets[player], &self.pool, &cmd)?;
        self.apply_wallet(player, &decision.wallet);
        self.apply_pool(&decision.pool);
        Ok(())
    }

    fn apply_wallet(&mut self, player: usize, events: &[WalletEvent]) {
        for e in events {
            for (t, phase) in e.transfers() {
                self.book.apply(t, phase);
            }
            self.wallets[player] = std::mem::take(&mut self.wallets[player]).evolve(e);
        }
    }

    fn apply_pool(&mut self, events: &[PoolEvent]) {
        for e in events {
            if let PoolEvent::RakeTaken(r) = e {
                self.book.apply(&r.transfer, crate::Phase::Posted);
            }
            self.pool = std::mem::take(&mut self.pool).evolve(e);
        }
    }

    fn command(&mut self, command: PoolCommand) -> Result<(), Rejection> {
        let events = decide_pool(&self.pool, &command)?;
        self.apply_pool(&events);
        Ok(())
    }

    /// Pays every entry, `chunk` at a time, as the payout process does.
    fn pay_out(&mut self, chunk: usize) {
        let pool = self.pool.pool.clone().expect("a pool");
        let plan = pool.plan(pool.resolution().expect("resolved"));
        let mut paid = 0;
        for (start, amounts) in plan.amounts.chunks(chunk).enumerate() {
            for (k, amount) in amounts.iter().enumerate() {
                let entry = &pool.entries[start * chunk + k];
                paid += amount;
                if *amount == 0 {
                    continue;
                }
                let player: usize = entry.account.as_str()[1..].parse().expect("p{n}");
                let cmd = PayEntry {
                    pool: pool.id.clone(),
                    entry_id: entry.entry_id,
                    amount: Amount::new(*amount).expect("positive"),
                    refund: plan.refund,
                };
                let events = decide_payment(&self.wallets[player], &cmd).expect("paid");
                self.apply_wallet(player, &events);
                // Sent twice, it pays once.
                assert_eq!(decide_payment(&self.wallets[player], &cmd), Ok(vec![]));
            }
            let done = (start * chunk + amounts.len()) as u64;
            self.command(PoolCommand::RecordProgress {
                entries_done: done,
                paid,
            })
            .expect("progress");
        }
        self.command(PoolCommand::Finish).expect("finished");
    }

    fn balance(&self, account: &AccountId) -> i128 {
        self.book.totals_of(account, eur()).posted()
    }

    fn assert_balanced(&self) {
        for (currency, (posted, pending)) in self.book.totals() {
            assert_eq!((posted, pending), (0, 0), "{currency} does not sum to zero");
        }
        assert_eq!(self.balance(&AccountId::pool(&pool_id())), 0, "escrow left");
    }
}

#[test]
fn winners_share_the_pot_less_the_rake_to_the_cent() {
    let mut w = World::new(1_000, 4);
    w.enter(0, 0, 1_000).expect("entered");
    w.enter(1, 0, 2_000).expect("entered");
    w.enter(2, 1, 3_333).expect("entered");
    w.enter(3, 2, 100).expect("entered");
    // pot 6,433; rake floor(643.3) = 643; 5,790 shared 1:2 → 1,930 and 3,860.
    w.command(PoolCommand::Close).expect("closed");
    w.command(PoolCommand::Settle { winners: vec![0] })
        .expect("settling");
    w.pay_out(3);
    assert_eq!(w.balance(&AccountId::rake()), 643);
    let p = |i: usize| AccountId::parse(&format!("p{i}")).expect("valid");
    assert_eq!(w.balance(&p(0)), 10_000 - 1_000 + 1_930);
    assert_eq!(w.balance(&p(1)), 10_000 - 2_000 + 3_860);
    assert_eq!(w.balance(&p(2)), 10_000 - 3_333);
    assert_eq!(
        w.pool.pool.as_ref().map(|p| p.status.as_str()),
        Some("settled")
    );
    w.assert_balanced();
}

#[test]
fn with_no_winning_entry_everyone_is_refunded_and_no_rake_is_taken() {
    let mut w = World::new(1_500, 2);
    w.enter(0, 0, 500).expect("entered");
    w.enter(1, 1, 700).expect("entered");
    w.command(PoolCommand::Close).expect("closed");
    w.command(PoolCommand::Settle { winners: vec![2] })
        .expect("settling");
    w.pay_out(1);
    assert_eq!(w.balance(&AccountId::rake()), 0);
    for i in 0..2 {
        let id = AccountId::parse(&format!("p{i}")).expect("valid");
        assert_eq!(w.balance(&id), 10_000);
    }
    w.assert_balanced();
}

#[test]
fn a_cancelled_pool_refunds_every_entry_in_full() {
    let mut w = World::new(500, 3);
    for i in 0..3 {
        w.enter(i, 0, 250 * (i as i64 + 1)).expect("entered");
    }
    w.command(PoolCommand::Cancel).expect("cancelling");
    assert_eq!(w.enter(0, 0, 100), Err(Rejection::PoolNotOpen));
    w.pay_out(2);
    assert_eq!(
        w.pool.pool.as_ref().map(|p| p.status.as_str()),
        Some("cancelled")
    );
    for i in 0..3 {
        let id = AccountId::parse(&format!("p{i}")).expect("valid");
        assert_eq!(w.balance(&id), 10_000);
    }
    w.assert_balanced();
}

#[test]
fn settling_twice_is_rejected() {
    let mut w = World::new(0, 1);
    w.enter(0, 0, 100).expect("entered");
    assert_eq!(
        w.command(PoolCommand::Settle { winners: vec![0] }),
        Err(Rejection::PoolNotClosed)
    );
    w.command(PoolCommand::Close).expect("closed");
    w.command(PoolCommand::Settle { winners: vec![0] })
        .expect("settling");
    assert_eq!(
        w.command(PoolCommand::Settle { winners: vec![1] }),
        Err(Rejection::PoolAlreadySettled)
    );
    w.pay_out(10);
    assert_eq!(
        w.command(PoolCommand::Settle { winners: vec![0] }),
        Err(Rejection::PoolAlreadySettled)
    );
    assert_eq!(
        w.command(PoolCommand::Cancel),
        Err(Rejection::PoolAlreadySettled)
    );
    w.assert_balanced();
}

#[test]
fn entries_are_refused_for_the_documented_reasons() {
    let mut w = World::new(0, 2);
    assert_eq!(w.enter(0, 3, 100), Err(Rejection::OutcomeNotFound(3)));
    assert_eq!(
        w.enter(0, 0, 99),
        Err(Rejection::BelowMinimumEntry { min: 100 })
    );
    assert_eq!(
        w.enter(0, 0, 10_001).map_err(|r| r.code()),
        Err("insufficient_funds")
    );
    let late = EnterPool {
        entry_id: PoolEntryId::generate(),
        pool: pool_id(),
        outcome: 0,
        stake: Amount::new(100).expect("positive"),
        now: t0() + Duration::hours(1),
    };
    assert_eq!(
        decide_entry(&w.wallets[0], &w.pool, &late),
        Err(Rejection::PoolNotOpen)
    );
    let mut usd = funded("p1", 1_000);
    if let Some(open) = usd.wallet.as_mut() {
        open.currency = Currency::parse("USD").expect("valid");
    }
    w.wallets[1] = usd;
    assert_eq!(
        w.enter(1, 0, 100).map_err(|r| r.code()),
        Err("currency_mismatch")
    );
    w.command(PoolCommand::Close).expect("closed");
    assert_eq!(w.enter(0, 0, 100), Err(Rejection::PoolNotOpen));
}

#[test]
fn a_pool_is_created_only_with_valid_terms() {
    let create = |outcomes: Vec<&str>, min_entry, rake_bp| {
        decide_pool(
            &PoolState::default(),
            &PoolCommand::Create {
                pool: pool_id(),
                name: "x".into(),
                outcomes: outcomes.into_iter().map(String::from).collect(),
                min_entry,
                rake_bp,
                closes_at: t0(),
                currency: eur(),
            },
        )
        .map_err(|r| r.code())
    };
    assert_eq!(create(vec!["a"], 1, 0), Err("invalid_pool"));
    assert_eq!(create(vec!["a", "a"], 1, 0), Err("invalid_pool"));
    assert_eq!(create(vec!["a", "b"], 0, 0), Err("invalid_pool"));
    assert_eq!(create(vec!["a", "b"], 1, 10_000), Err("invalid_pool"));
    assert!(create(vec!["a", "b"], 1, 9_999).is_ok());
    assert_eq!(
        decide_pool(&created(0), &PoolCommand::Close).map(|e| e.len()),
        Ok(1)
    );
    assert_eq!(
        decide_pool(&created(0), &PoolCommand::Finish).map_err(|r| r.code()),
        Err("invalid_pool_state")
    );
}

#[test]
fn progress_never_moves_backwards() {
    let mut w = World::new(0, 1);
    w.enter(0, 0, 100).expect("entered");
    w.command(PoolCommand::Cancel).expect("cancelling");
    assert_eq!(
        w.command(PoolCommand::Finish).map_err(|r| r.code()),
        Err("invalid_pool")
    );
    w.command(PoolCommand::RecordProgress {
        entries_done: 1,
        paid: 100,
    })
    .expect("progress");
    assert_eq!(
        w.command(PoolCommand::RecordProgress {
            entries_done: 1,
            paid: 100
        })
        .map_err(|r| r.code()),
        Err("invalid_pool")
    );
}
