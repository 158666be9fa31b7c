//! Wallet events stored before any event type had a version 2
//! (`fixtures/wallet_v1.ndjson`), loaded as they are: they keep hashing to
//! what was stored, the wallets replay from them through the upcasters, and
//! new commands chain version 2 events after them.
//!
//! The fixture was written once by the code of the time, through the real
//! store (`testkit::Wallets`, then `testkit::dump_rows`), and is frozen: a
//! later version gets a fixture of its own.
//!
//! The fixture holds, in four batches: `alice` (EUR, limit 5000) deposits
//! 10000 "first deposit", withdraws 12000, places holds of 500 "stake"
//! (posted), 300 (voided) and 200 "open stake" (left pending); `bob` (BRL,
//! no limit) deposits 2500 and 1000 "bonus", withdraws 700 "payout";
//! `carol` (EUR) is only opened.

use ledger::store::{EventStore, PgEventStore, RecordedEvent, READ_EVENTS_MAX};
use ledger::testkit::{dump_rows, load_rows, Wallets, WALLET_V1_FIXTURE};
use ledger::wallet::{
    decide, replay, Description, HoldStatus, Wallet, WalletCommand, WalletEvent, WalletState,
};
use ledger::{AccountId, Amount, HoldId, PaymentRef, StreamId, TransferId};
use sqlx::PgPool;

fn deposit(amount: i64, description: Option<&str>) -> WalletCommand {
    WalletCommand::Deposit {
        transfer_id: TransferId::generate(),
        amount: Amount::new(amount).expect("amount"),
        currency: None,
        description: description.map(|d| Description::parse(d).expect("description")),
        payment_ref: None,
    }
}

fn withdraw(amount: i64, description: Option<&str>) -> WalletCommand {
    WalletCommand::Withdraw {
        transfer_id: TransferId::generate(),
        amount: Amount::new(amount).expect("amount"),
        currency: None,
        description: description.map(|d| Description::parse(d).expect("description")),
        payment_ref: None,
    }
}

async fn stream(store: &PgEventStore, account: &str) -> Vec<RecordedEvent> {
    let id = StreamId::account(&AccountId::parse(account).expect("id"));
    store
        .read_stream(&id, 0, READ_EVENTS_MAX)
        .await
        .expect("read")
}

async fn wallet(store: &PgEventStore, account: &str) -> Wallet {
    let events: Vec<WalletEvent> = stream(store, account)
        .await
        .iter()
        .map(|r| {
            WalletEvent::from_stored(&r.event_type, r.schema_version, &r.payload)
                .unwrap_or_else(|e| panic!("{account} v{}: {e}", r.stream_version))
        })
        .collect();
    replay(&events).wallet.expect("open")
}

fn pending_hold(wallet: &Wallet) -> HoldId {
    let pending: Vec<HoldId> = wallet
        .holds
        .iter()
        .filter(|(_, h)| h.status == HoldStatus::Pending)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(pending.len(), 1, "{pending:?}");
    pending[0]
}

/// The events' every column, hashes included, as each was stored.
fn assert_chains(events: &[RecordedEvent]) {
    for pair in events.windows(2) {
        assert_eq!(pair[1].prev_hash.as_deref(), Some(pair[0].hash.as_slice()));
    }
    for e in events {
        assert_eq!(
            e.computed_hash().as_slice(),
            e.hash.as_slice(),
            "{} v{}",
            e.stream_id,
            e.stream_version
        );
    }
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn the_fixture_loads_as_it_was_stored(pool: PgPool) {
    let last = load_rows(&pool, WALLET_V1_FIXTURE).await;
    assert_eq!(last, 13);
    assert_eq!(dump_rows(&pool).await, WALLET_V1_FIXTURE);
    let store = PgEventStore::new(pool.clone());
    for account in ["alice", "bob", "carol"] {
        let events = stream(&store, account).await;
        assert!(events.iter().all(|e| e.schema_version == 1));
        assert_chains(&events);
    }
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn the_v1_wallets_replay(pool: PgPool) {
    load_rows(&pool, WALLET_V1_FIXTURE).await;
    let store = PgEventStore::new(pool.clone());

    let alice = wallet(&store, "alice").await;
    assert_eq!(alice.currency.as_str(), "EUR");
    assert_eq!(alice.credit_limit.get(), 5_000);
    assert_eq!(alice.balance.posted(), 10_000 - 12_000 - 500);
    assert_eq!(alice.balance.pending_debits, 200);
    assert_eq!(alice.available(), -2_500 - 200 + 5_000);
    let statuses = |status| alice.holds.values().filter(|h| h.status == status).count();
    assert_eq!(
        [HoldStatus::Posted, HoldStatus::Voided, HoldStatus::Pending].map(statuses),
        [1, 1, 1]
    );

    let bob = wallet(&store, "bob").await;
    assert_eq!(bob.currency.as_str(), "BRL");
    assert_eq!(bob.balance.posted(), 2_500 + 1_000 - 700);

    let carol = wallet(&store, "carol").await;
    assert_eq!(carol.balance.posted(), 0);
    assert!(carol.holds.is_empty());

    // Descriptions survive the read, present or absent.
    let descriptions: Vec<Option<String>> = stream(&store, "bob")
        .await
        .iter()
        .filter_map(|r| {
            match WalletEvent::from_stored(&r.event_type, r.schema_version, &r.payload) {
                Ok(WalletEvent::FundsDeposited(m) | WalletEvent::FundsWithdrawn(m)) => {
                    Some(m.description)
                }
                _ => None,
            }
        })
        .collect();
    assert_eq!(
        descriptions,
        [None, Some("bonus".into()), Some("payout".into())]
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn new_commands_chain_after_the_v1_events(pool: PgPool) {
    load_rows(&pool, WALLET_V1_FIXTURE).await;
    let store = PgEventStore::new(pool.clone());
    let open_stake = pending_hold(&wallet(&store, "alice").await);

    let mut w = Wallets::new(&pool);
    for account in ["alice", "bob", "carol"] {
        w.resume(account).await;
    }
    let mut with_ref = deposit(700, Some("second deposit"));
    if let WalletCommand::Deposit { payment_ref, .. } = &mut with_ref {
        *payment_ref = Some(PaymentRef::parse("pi_3Nq9XyZ").expect("reference"));
    }
    w.run("alice", with_ref);
    w.post_hold("alice", open_stake);
    w.run("bob", withdraw(800, None));
    w.run("carol", deposit(50, None));
    w.flush().await;
    assert!(w.book.is_balanced());

    let events = stream(&store, "alice").await;
    assert_eq!(events.len(), 10);
    assert_chains(&events);
    let versions: Vec<(&str, i32)> = events
        .iter()
        .map(|e| (e.event_type.as_str(), e.schema_version))
        .collect();
    assert_eq!(
        versions[1..3],
        [("funds_deposited", 1), ("funds_withdrawn", 1)],
        "stored v1 rows stay v1"
    );
    assert_eq!(
        versions[8..],
        [("funds_deposited", 2), ("hold_posted", 1)],
        "new rows are written at each type's current version"
    );
    let refs: Vec<Option<PaymentRef>> = events
        .iter()
        .filter_map(|r| {
            match WalletEvent::from_stored(&r.event_type, r.schema_version, &r.payload) {
                Ok(WalletEvent::FundsDeposited(m) | WalletEvent::FundsWithdrawn(m)) => {
                    Some(m.payment_ref)
                }
                _ => None,
            }
        })
        .collect();
    assert_eq!(
        refs,
        [
            None,
            None,
            Some(PaymentRef::parse("pi_3Nq9XyZ").expect("reference"))
        ]
    );
    let alice = wallet(&store, "alice").await;
    assert_eq!(alice.balance.posted(), -2_500 + 700 - 200);
    assert_eq!(alice.balance.pending_debits, 0);
    assert_eq!(wallet(&store, "bob").await.balance.posted(), 2_800 - 800);
    assert_eq!(wallet(&store, "carol").await.balance.posted(), 50);

    // A resolved hold stays resolved across the versions.
    let state = WalletState {
        wallet: Some(wallet(&store, "alice").await),
    };
    assert_eq!(
        decide(
            &state,
            &WalletCommand::VoidHold {
                hold_id: open_stake
            }
        )
        .map_err(|r| r.code()),
        Err("hold_already_resolved")
    );
}
