//! The pure half of the projection: events in, rows out.

use chrono::Utc;
use ledger::store::LogEvent;
use ledger::wallet::{AccountOpened, FundsMoved, HoldChanged, WalletEvent};
use ledger::{
    AccountId, Amount, CreditLimit, Currency, HoldId, StreamId, Transfer, TransferCode, TransferId,
};

use super::*;

fn recorded(position: i64, stream: &str, version: i64, event: &WalletEvent) -> LogEvent {
    raw(
        position,
        stream,
        version,
        event.event_type(),
        event.payload(),
    )
}

fn raw(
    position: i64,
    stream: &str,
    version: i64,
    event_type: &str,
    payload: serde_json::Value,
) -> LogEvent {
    LogEvent {
        global_position: position,
        stream_id: StreamId::new(stream),
        stream_version: version,
        event_type: event_type.to_owned(),
        // Other streams' types are not the ledger's to version; say 1.
        schema_version: WalletEvent::current_version(event_type).unwrap_or(1),
        recorded_at: Utc::now(),
        payload: serde_json::value::RawValue::from_string(payload.to_string()).expect("valid JSON"),
    }
}

fn alice() -> AccountId {
    AccountId::parse("alice").expect("id")
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("currency")
}

fn opened() -> WalletEvent {
    WalletEvent::AccountOpened(AccountOpened {
        account: alice(),
        currency: eur(),
        credit_limit: CreditLimit::new(300).expect("limit"),
    })
}

fn transfer(debit: AccountId, credit: AccountId, amount: i64, code: TransferCode) -> Transfer {
    Transfer {
        id: TransferId::generate(),
        debit,
        credit,
        amount: Amount::new(amount).expect("amount"),
        currency: eur(),
        code,
    }
}

#[test]
fn opening_and_deposit_become_a_wallet_row_and_two_postings() {
    let deposit = WalletEvent::FundsDeposited(FundsMoved {
        transfer: transfer(AccountId::cash(), alice(), 500, TransferCode::Deposit),
        description: Some("top-up".into()),
        payment_ref: None,
    });
    let events = [
        recorded(7, "account-alice", 1, &opened()),
        recorded(9, "account-alice", 2, &deposit),
    ];

    let batch = Batch::from_events(&events, Rows::Balances).expect("decodes");

    assert_eq!(batch.opened.account_id, vec!["alice"]);
    assert_eq!(batch.opened.credit_limit, vec![300]);
    assert_eq!(batch.opened.version, vec![1]);
    assert_eq!(batch.opened.position, vec![7]);
    let p = &batch.sums;
    assert_eq!(p.account_id, vec!["cash", "alice"]);
    assert_eq!(
        p.version,
        vec![None, Some(2)],
        "system accounts have no version"
    );
    assert_eq!(p.posted_debits, vec![500, 0]);
    assert_eq!(p.posted_credits, vec![0, 500]);
    assert!(batch.lines.account_id.is_empty(), "balances build no lines");

    let l = Batch::from_events(&events, Rows::Statement)
        .expect("decodes")
        .lines;
    assert_eq!(l.account_id, vec!["cash", "alice"]);
    assert_eq!(l.counterparty, vec!["alice", "cash"]);
    assert_eq!(l.amount, vec![-500, 500]);
    assert_eq!(l.phase, vec!["posted", "posted"]);
    assert_eq!(l.code, vec!["deposit", "deposit"]);
    assert_eq!(
        l.description,
        vec![Some("top-up".into()), Some("top-up".into())]
    );
}

#[test]
fn each_hold_phase_moves_the_right_sums() {
    let hold_id = HoldId::generate();
    let t = transfer(alice(), AccountId::house(), 40, TransferCode::Hold);
    let hold = |make: fn(HoldChanged) -> WalletEvent| {
        make(HoldChanged {
            hold_id,
            transfer: t.clone(),
            description: None,
        })
    };
    let events = [
        recorded(1, "account-alice", 2, &hold(WalletEvent::HoldPlaced)),
        recorded(2, "account-alice", 3, &hold(WalletEvent::HoldPosted)),
        recorded(3, "account-alice", 4, &hold(WalletEvent::HoldVoided)),
    ];

    let p = Batch::from_events(&events, Rows::Balances)
        .expect("decodes")
        .sums;
    let l = Batch::from_events(&events, Rows::Statement)
        .expect("decodes")
        .lines;

    // Rows alternate debit (alice), credit (house).
    assert_eq!(
        l.phase,
        vec![
            "pending",
            "pending",
            "pending_posted",
            "pending_posted",
            "pending_voided",
            "pending_voided"
        ]
    );
    assert_eq!(p.pending_debits, vec![40, 0, -40, 0, -40, 0]);
    assert_eq!(p.pending_credits, vec![0, 40, 0, -40, 0, -40]);
    assert_eq!(p.posted_debits, vec![0, 0, 40, 0, 0, 0]);
    assert_eq!(p.posted_credits, vec![0, 0, 0, 40, 0, 0]);
    assert_eq!(l.amount, vec![-40, 40, -40, 40, -40, 40]);
    assert!(l.hold_id.iter().all(|h| *h == Some(hold_id.as_uuid())));
}

#[test]
fn events_of_other_types_are_skipped() {
    let events = [raw(
        1,
        "market-1",
        1,
        "market_opened",
        serde_json::json!({ "x": 1 }),
    )];

    for rows in [Rows::Balances, Rows::Statement] {
        let batch = Batch::from_events(&events, rows).expect("skips");
        assert!(batch.opened.account_id.is_empty() && batch.sums.account_id.is_empty());
        assert!(batch.lines.account_id.is_empty());
    }
}

#[test]
fn a_wallet_event_that_does_not_decode_is_an_error() {
    let bad_payload = raw(5, "account-alice", 2, "hold_placed", serde_json::json!({}));
    let mut unknown_version = recorded(6, "account-alice", 1, &opened());
    unknown_version.schema_version = 99;

    for event in [bad_payload, unknown_version] {
        let result = Batch::from_events(std::slice::from_ref(&event), Rows::Balances);
        assert!(
            matches!(&result, Err(Error::Event { position, .. }) if *position == event.global_position),
            "{result:?}"
        );
    }
}

#[test]
fn a_wallet_opened_twice_in_a_batch_is_one_row() {
    let events = [
        recorded(1, "account-alice", 1, &opened()),
        recorded(2, "account-alice", 1, &opened()),
    ];

    let batch = Batch::from_events(&events, Rows::Balances).expect("decodes");

    assert_eq!(batch.opened.position, vec![2], "the later one wins");
}
