//! Criterion benchmarks of the wallet's pure core: `decide` and `evolve`
//! for a deposit, a withdrawal and a hold, on a fresh wallet and on one
//! with many holds (the hold map is what grows with a player's history).
//!
//!     cargo bench -p ledger --bench wallet
//!
//! Regressions here show up before they show up in `bench http`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ledger::wallet::{decide, Description, WalletCommand, WalletEvent, WalletState};
use ledger::{AccountId, Amount, CreditLimit, Currency, HoldId, TransferId};

/// Holds on the "busy" wallet: a player with a long betting history.
const HOLDS_MANY: usize = 10_000;

fn amount(minor_units: i64) -> Amount {
    Amount::new(minor_units).expect("a positive amount")
}

fn description() -> Option<Description> {
    Some(Description::parse("bench").expect("a valid description"))
}

/// Decides `command` and folds its events into `state`; panics on a
/// rejection, since the setup only builds commands that must pass.
fn apply(state: WalletState, command: &WalletCommand) -> WalletState {
    let events = decide(&state, command).expect("the setup's commands are accepted");
    events.iter().fold(state, WalletState::evolve)
}

/// An open wallet with money, and `holds` holds placed on it (half of
/// them since posted or voided, so the map holds every status).
fn wallet(holds: usize) -> WalletState {
    let account = AccountId::parse("alice").expect("a valid account id");
    let mut state = apply(
        WalletState::default(),
        &WalletCommand::Open {
            account,
            currency: Currency::parse("EUR").expect("a valid currency"),
            credit_limit: CreditLimit::ZERO,
        },
    );
    state = apply(state, &deposit(1_000_000_000));
    for i in 0..holds {
        let hold_id = HoldId::generate();
        state = apply(state, &place_hold(hold_id, 100));
        state = match i % 4 {
            0 => apply(state, &WalletCommand::PostHold { hold_id }),
            1 => apply(state, &WalletCommand::VoidHold { hold_id }),
            _ => state,
        };
    }
    state
}

fn deposit(minor_units: i64) -> WalletCommand {
    WalletCommand::Deposit {
        transfer_id: TransferId::generate(),
        amount: amount(minor_units),
        currency: None,
        description: description(),
        payment_ref: None,
    }
}

fn withdraw(minor_units: i64) -> WalletCommand {
    WalletCommand::Withdraw {
        transfer_id: TransferId::generate(),
        amount: amount(minor_units),
        currency: None,
        description: description(),
        payment_ref: None,
    }
}

fn place_hold(hold_id: HoldId, minor_units: i64) -> WalletCommand {
    WalletCommand::PlaceHold {
        hold_id,
        amount: amount(minor_units),
        currency: None,
        description: description(),
    }
}

/// The events `command` produces on `state`.
fn events_of(state: &WalletState, command: &WalletCommand) -> Vec<WalletEvent> {
    decide(state, command).expect("the setup's commands are accepted")
}

fn bench_decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for (name, holds) in [("fresh", 0), ("many_holds", HOLDS_MANY)] {
        let state = wallet(holds);
        let commands = [
            ("deposit", deposit(500)),
            ("withdraw", withdraw(500)),
            ("hold", place_hold(HoldId::generate(), 500)),
        ];
        for (op, command) in &commands {
            group.bench_function(format!("{op}/{name}"), |b| {
                b.iter(|| decide(black_box(&state), black_box(command)))
            });
        }
    }
    group.finish();
}

fn bench_evolve(c: &mut Criterion) {
    let mut group = c.benchmark_group("evolve");
    for (name, holds) in [("fresh", 0), ("many_holds", HOLDS_MANY)] {
        let state = wallet(holds);
        let events = [
            ("deposit", events_of(&state, &deposit(500))),
            ("withdraw", events_of(&state, &withdraw(500))),
            (
                "hold",
                events_of(&state, &place_hold(HoldId::generate(), 500)),
            ),
        ];
        for (op, events) in &events {
            // `evolve` takes the state by value; cloning it (a map of
            // thousands of holds) is setup, not what is measured.
            group.bench_function(format!("{op}/{name}"), |b| {
                b.iter_batched(
                    || state.clone(),
                    |s| events.iter().fold(s, WalletState::evolve),
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_decide, bench_evolve);
criterion_main!(benches);
