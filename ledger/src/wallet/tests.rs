//! Given these events, when this command, then these events (or this error).

use super::*;
use crate::{Amount, CreditLimit, Currency, HoldId, PaymentRef, Rejection, TransferId};

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn alice() -> AccountId {
    AccountId::parse("alice").expect("alice")
}

fn amount(n: i64) -> Amount {
    Amount::new(n).expect("positive")
}

fn open(limit: i64) -> WalletCommand {
    WalletCommand::Open {
        account: alice(),
        currency: eur(),
        credit_limit: CreditLimit::new(limit).expect("limit"),
    }
}

fn deposit(n: i64) -> WalletCommand {
    WalletCommand::Deposit {
        transfer_id: TransferId::generate(),
        amount: amount(n),
        currency: None,
        description: None,
        payment_ref: None,
    }
}

fn withdraw(n: i64) -> WalletCommand {
    WalletCommand::Withdraw {
        transfer_id: TransferId::generate(),
        amount: amount(n),
        currency: None,
        description: None,
        payment_ref: None,
    }
}

fn hold(id: HoldId, n: i64) -> WalletCommand {
    WalletCommand::PlaceHold {
        hold_id: id,
        amount: amount(n),
        currency: None,
        description: None,
    }
}

/// Runs commands in order, failing the test on the first rejection.
fn given(commands: &[WalletCommand]) -> WalletState {
    commands
        .iter()
        .fold(WalletState::default(), |state, command| {
            let events = decide(&state, command).expect("given commands are accepted");
            events.iter().fold(state, |s, e| s.evolve(e))
        })
}

fn rejection(state: &WalletState, command: &WalletCommand) -> Rejection {
    decide(state, command).expect_err("command must be rejected")
}

#[test]
fn opening_twice_is_refused() {
    let state = given(&[open(0)]);
    assert_eq!(rejection(&state, &open(0)), Rejection::AccountExists);
}

#[test]
fn commands_on_an_unopened_account_are_refused() {
    for command in [
        deposit(1),
        withdraw(1),
        WalletCommand::PostHold {
            hold_id: HoldId::generate(),
        },
    ] {
        assert_eq!(
            rejection(&WalletState::default(), &command),
            Rejection::AccountNotFound
        );
    }
}

#[test]
fn a_deposit_credits_the_wallet_from_cash() {
    let state = given(&[open(0)]);
    let events = decide(&state, &deposit(500)).expect("accepted");
    let [WalletEvent::FundsDeposited(moved)] = events.as_slice() else {
        panic!("expected one deposit, got {events:?}");
    };
    assert_eq!(moved.transfer.debit, AccountId::cash());
    assert_eq!(moved.transfer.credit, alice());
    assert_eq!(moved.transfer.amount, amount(500));
}

#[test]
fn a_withdrawal_may_use_the_credit_limit_but_not_more() {
    let state = given(&[open(100), deposit(50)]);
    assert!(decide(&state, &withdraw(150)).is_ok());
    assert_eq!(
        rejection(&state, &withdraw(151)),
        Rejection::InsufficientFunds {
            available: 150,
            amount: 151
        }
    );
}

#[test]
fn a_currency_other_than_the_accounts_is_refused() {
    let state = given(&[open(0), deposit(10)]);
    let usd = Currency::parse("USD").expect("USD");
    let command = WalletCommand::Deposit {
        transfer_id: TransferId::generate(),
        amount: amount(1),
        currency: Some(usd),
        description: None,
        payment_ref: None,
    };
    assert_eq!(
        rejection(&state, &command),
        Rejection::CurrencyMismatch {
            account: "EUR".into(),
            requested: "USD".into()
        }
    );
}

#[test]
fn a_pending_hold_reduces_what_is_available() {
    let id = HoldId::generate();
    let state = given(&[open(0), deposit(100), hold(id, 70)]);
    let wallet = state.wallet.as_ref().expect("open");
    assert_eq!(wallet.available(), 30);
    assert_eq!(wallet.balance.posted(), 100);
    assert_eq!(
        rejection(&state, &withdraw(31)),
        Rejection::InsufficientFunds {
            available: 30,
            amount: 31
        }
    );
}

#[test]
fn posting_a_hold_moves_the_money_and_voiding_releases_it() {
    let (a, b) = (HoldId::generate(), HoldId::generate());
    let state = given(&[
        open(0),
        deposit(100),
        hold(a, 30),
        hold(b, 20),
        WalletCommand::PostHold { hold_id: a },
        WalletCommand::VoidHold { hold_id: b },
    ]);
    let wallet = state.wallet.as_ref().expect("open");
    assert_eq!(wallet.balance.posted(), 70);
    assert_eq!(wallet.balance.pending_debits, 0);
    assert_eq!(wallet.available(), 70);
}

#[test]
fn a_hold_resolves_only_once() {
    let id = HoldId::generate();
    let state = given(&[
        open(0),
        deposit(100),
        hold(id, 30),
        WalletCommand::PostHold { hold_id: id },
    ]);
    assert_eq!(
        rejection(&state, &WalletCommand::VoidHold { hold_id: id }),
        Rejection::HoldAlreadyResolved("posted".into())
    );
    assert_eq!(
        rejection(&state, &WalletCommand::PostHold { hold_id: id }),
        Rejection::HoldAlreadyResolved("posted".into())
    );
    assert_eq!(
        rejection(
            &state,
            &WalletCommand::PostHold {
                hold_id: HoldId::generate()
            }
        ),
        Rejection::HoldNotFound
    );
}

#[test]
fn a_deposit_that_would_overflow_is_refused() {
    let state = given(&[open(0), deposit(i64::MAX)]);
    assert_eq!(rejection(&state, &deposit(1)).code(), "invalid_amount");
}

fn with_payment_ref(command: WalletCommand, reference: &str) -> WalletCommand {
    let reference = Some(PaymentRef::parse(reference).expect("reference"));
    match command {
        WalletCommand::Deposit {
            transfer_id,
            amount,
            currency,
            description,
            ..
        } => WalletCommand::Deposit {
            transfer_id,
            amount,
            currency,
            description,
            payment_ref: reference,
        },
        WalletCommand::Withdraw {
            transfer_id,
            amount,
            currency,
            description,
            ..
        } => WalletCommand::Withdraw {
            transfer_id,
            amount,
            currency,
            description,
            payment_ref: reference,
        },
        other => other,
    }
}

#[test]
fn deposits_and_withdrawals_carry_the_payment_reference() {
    let state = given(&[open(0), deposit(100)]);
    for command in [
        with_payment_ref(deposit(5), "pi_3Nq9"),
        with_payment_ref(withdraw(5), "po_77"),
    ] {
        let events = decide(&state, &command).expect("accepted");
        let [WalletEvent::FundsDeposited(moved) | WalletEvent::FundsWithdrawn(moved)] =
            events.as_slice()
        else {
            panic!("expected one movement, got {events:?}");
        };
        assert!(moved.payment_ref.is_some());
        assert_eq!(events[0].schema_version(), 2);
    }
}

#[test]
fn events_survive_a_round_trip_through_their_stored_form() {
    let id = HoldId::generate();
    let state = given(&[open(5), deposit(100)]);
    for command in [
        deposit(3),
        with_payment_ref(deposit(3), "pi_1"),
        withdraw(4),
        hold(id, 5),
    ] {
        for event in decide(&state, &command).expect("accepted") {
            let back = WalletEvent::from_stored(
                event.event_type(),
                event.schema_version(),
                &event.payload(),
            );
            assert_eq!(back.ok(), Some(event));
        }
    }
}

/// A deposit as version 1 stored it: no `payment_ref`.
const V1_DEPOSIT: &str = r#"{"description":"first deposit","transfer":{"amount":10000,"code":"deposit","credit":"alice","currency":"EUR","debit":"cash","id":"01a207b8-c8ac-70c1-9a95-30428f7d60ba"}}"#;

#[test]
fn a_v1_deposit_reads_as_one_without_a_payment_reference() {
    let payload: serde_json::Value = serde_json::from_str(V1_DEPOSIT).expect("json");
    let stored = WalletEvent::from_stored(WalletEvent::FUNDS_DEPOSITED, 1, &payload);
    let Ok(WalletEvent::FundsDeposited(moved)) = &stored else {
        panic!("{stored:?}");
    };
    assert_eq!(moved.payment_ref, None);
    assert_eq!(moved.description.as_deref(), Some("first deposit"));
    assert_eq!(moved.transfer.amount, amount(10_000));
    // The replay path reads the text, and must agree.
    let json = WalletEvent::from_json(WalletEvent::FUNDS_DEPOSITED, 1, V1_DEPOSIT);
    assert_eq!(json.ok(), stored.ok());
}

#[test]
fn a_v1_payload_is_not_a_v2_one_nor_the_other_way_round() {
    // Without the upcaster a v1 deposit lacks `payment_ref`: refused at v2.
    assert!(matches!(
        WalletEvent::from_json(WalletEvent::FUNDS_DEPOSITED, 2, V1_DEPOSIT),
        Err(crate::Error::Decode {
            schema_version: 2,
            ..
        })
    ));
    let payload: serde_json::Value = serde_json::from_str(V1_DEPOSIT).expect("json");
    let mut v2 = payload.clone();
    v2["payment_ref"] = "pi_1".into();
    assert!(WalletEvent::from_stored(WalletEvent::FUNDS_DEPOSITED, 1, &v2).is_err());
    assert!(WalletEvent::from_stored(WalletEvent::FUNDS_DEPOSITED, 2, &v2).is_ok());
}

#[test]
fn a_version_newer_than_this_build_is_refused_on_both_paths() {
    for event_type in WalletEvent::TYPES {
        let newer = WalletEvent::current_version(event_type).expect("current") + 1;
        let stored = WalletEvent::from_stored(event_type, newer, &serde_json::json!({}));
        let json = WalletEvent::from_json(event_type, newer, "{}");
        for result in [stored, json] {
            assert!(
                matches!(result, Err(crate::Error::FutureSchemaVersion { .. })),
                "{event_type} v{newer}: {result:?}"
            );
        }
    }
}

#[test]
fn unknown_types_and_versions_are_errors_not_panics() {
    let payload = serde_json::json!({});
    assert!(WalletEvent::from_stored("nope", 1, &payload).is_err());
    assert!(WalletEvent::from_stored("account_opened", 99, &payload).is_err());
    assert!(WalletEvent::from_stored("account_opened", 1, &payload).is_err());
    assert!(WalletEvent::from_json("account_opened", 1, "{").is_err());
    assert!(WalletEvent::from_json(
        "account_opened",
        1,
        r#"{"account":"a","currency":"EUR","credit_limit":0} x"#
    )
    .is_err());
}
