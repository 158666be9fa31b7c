//! Property tests on random command sequences over several wallets: the
//! ledger's invariants hold after every single step, not just at the end.

use std::collections::HashMap;

use ledger::book::{Book, Totals};
use ledger::wallet::{decide, WalletCommand, WalletEvent, WalletState};
use ledger::{AccountId, Amount, CreditLimit, Currency, HoldId, TransferId};
use proptest::prelude::*;

const ACCOUNTS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Open {
        account: usize,
        limit: i64,
        currency: usize,
    },
    Deposit {
        account: usize,
        amount: i64,
    },
    Withdraw {
        account: usize,
        amount: i64,
    },
    PlaceHold {
        account: usize,
        amount: i64,
    },
    PostHold {
        account: usize,
        hold: usize,
    },
    VoidHold {
        account: usize,
        hold: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let account = 0..ACCOUNTS;
    // Amounts are mostly small, sometimes huge, to reach the overflow checks.
    let amount = prop_oneof![9 => 1i64..1_000, 1 => (i64::MAX / 2)..=i64::MAX];
    prop_oneof![
        (account.clone(), 0i64..500, 0..2usize).prop_map(|(account, limit, currency)| Op::Open {
            account,
            limit,
            currency
        }),
        (account.clone(), amount.clone())
            .prop_map(|(account, amount)| Op::Deposit { account, amount }),
        (account.clone(), amount.clone())
            .prop_map(|(account, amount)| Op::Withdraw { account, amount }),
        (account.clone(), amount).prop_map(|(account, amount)| Op::PlaceHold { account, amount }),
        (account.clone(), 0..8usize).prop_map(|(account, hold)| Op::PostHold { account, hold }),
        (account, 0..8usize).prop_map(|(account, hold)| Op::VoidHold { account, hold }),
    ]
}

struct World {
    states: Vec<WalletState>,
    holds: Vec<Vec<HoldId>>,
    book: Book,
    resolutions: HashMap<HoldId, usize>,
}

impl World {
    fn new() -> Self {
        Self {
            states: vec![WalletState::default(); ACCOUNTS],
            holds: vec![Vec::new(); ACCOUNTS],
            book: Book::default(),
            resolutions: HashMap::new(),
        }
    }

    fn command(&mut self, op: &Op) -> (usize, WalletCommand) {
        let currencies = ["EUR", "BRL"];
        let amount = |n: i64| Amount::new(n).expect("strategy makes positive amounts");
        let pick =
            |holds: &Vec<HoldId>, i: usize| holds.get(i).copied().unwrap_or_else(HoldId::generate);
        match *op {
            Op::Open {
                account,
                limit,
                currency,
            } => (
                account,
                WalletCommand::Open {
                    account: AccountId::parse(&format!("p{account}")).expect("valid id"),
                    currency: Currency::parse(currencies[currency]).expect("valid"),
                    credit_limit: CreditLimit::new(limit).expect("non-negative"),
                },
            ),
            Op::Deposit { account, amount: n } => (
                account,
                WalletCommand::Deposit {
                    transfer_id: TransferId::generate(),
                    amount: amount(n),
                    currency: None,
                    description: None,
                    payment_ref: None,
                },
            ),
            Op::Withdraw { account, amount: n } => (
                account,
                WalletCommand::Withdraw {
                    transfer_id: TransferId::generate(),
                    amount: amount(n),
                    currency: None,
                    description: None,
                    payment_ref: None,
                },
            ),
            Op::PlaceHold { account, amount: n } => {
                let hold_id = HoldId::generate();
                self.holds[account].push(hold_id);
                (
                    account,
                    WalletCommand::PlaceHold {
                        hold_id,
                        amount: amount(n),
                        currency: None,
                        description: None,
                    },
                )
            }
            Op::PostHold { account, hold } => (
                account,
                WalletCommand::PostHold {
                    hold_id: pick(&self.holds[account], hold),
                },
            ),
            Op::VoidHold { account, hold } => (
                account,
                WalletCommand::VoidHold {
                    hold_id: pick(&self.holds[account], hold),
                },
            ),
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let (account, command) = self.command(op);
        let Ok(events) = decide(&self.states[account], &command) else {
            return Ok(());
        };
        for event in &events {
            for (transfer, phase) in event.transfers() {
                self.book.apply(transfer, phase);
            }
            if let WalletEvent::HoldPosted(e) | WalletEvent::HoldVoided(e) = event {
                *self.resolutions.entry(e.hold_id).or_default() += 1;
            }
            self.states[account] = std::mem::take(&mut self.states[account]).evolve(event);
        }
        self.check()
    }

    fn check(&self) -> Result<(), TestCaseError> {
        prop_assert!(
            self.book.is_balanced(),
            "Σ balances != 0: {:?}",
            self.book.totals()
        );
        for wallet in self.states.iter().filter_map(|s| s.wallet.as_ref()) {
            let limit = wallet.credit_limit.get();
            prop_assert!(
                wallet.balance.available(limit) >= 0,
                "{} below its limit",
                wallet.id
            );
            prop_assert!(
                i128::from(wallet.balance.posted_credits)
                    - i128::from(wallet.balance.posted_debits)
                    >= -i128::from(limit)
            );
            // The wallet's own view agrees with the book's.
            prop_assert_eq!(
                Totals::from(wallet.balance),
                self.book.totals_of(&wallet.id, wallet.currency)
            );
        }
        prop_assert!(
            self.resolutions.values().all(|&n| n <= 1),
            "a hold resolved twice"
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn invariants_hold_after_every_step(ops in proptest::collection::vec(op(), 1..120)) {
        let mut world = World::new();
        for op in &ops {
            world.step(op)?;
        }
    }

    #[test]
    fn replaying_the_events_rebuilds_the_same_state(ops in proptest::collection::vec(op(), 1..80)) {
        let mut world = World::new();
        let mut log: Vec<Vec<WalletEvent>> = vec![Vec::new(); ACCOUNTS];
        for op in &ops {
            let (account, command) = world.command(op);
            if let Ok(events) = decide(&world.states[account], &command) {
                for e in &events {
                    world.states[account] = std::mem::take(&mut world.states[account]).evolve(e);
                }
                log[account].extend(events);
            }
        }
        for (account, events) in log.iter().enumerate() {
            prop_assert_eq!(&ledger::wallet::replay(events), &world.states[account]);
        }
    }
}
