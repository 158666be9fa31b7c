//! The command API on wallets whose history was stored at version 1
//! (`ledger/tests/fixtures/wallet_v1.ndjson`, described in
//! `ledger/tests/wallet_v1.rs`): the writer reads them back through the
//! upcasters and appends version 2 events after them, on the same chain.

mod common;

use common::spawn_app;
use ledger::store::{EventStore, PgEventStore, READ_EVENTS_MAX};
use ledger::testkit::{load_rows, parse_rows, WALLET_V1_FIXTURE};
use ledger::StreamId;
use sqlx::PgPool;

/// The hold the fixture leaves pending on alice's wallet.
fn open_stake() -> String {
    parse_rows(WALLET_V1_FIXTURE)
        .iter()
        .find(|r| r.payload["description"] == "open stake")
        .and_then(|r| r.payload["hold_id"].as_str())
        .expect("the pending hold")
        .to_owned()
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn commands_continue_wallets_stored_at_v1(pool: PgPool) {
    load_rows(&pool, WALLET_V1_FIXTURE).await;
    let app = spawn_app(pool.clone()).await;

    let (status, shown) = app.get(&app.api, "/v1/accounts/alice").await;
    assert_eq!(status, 200, "{shown}");
    let account = &shown["account"];
    assert_eq!(
        (&account["balance"], &account["available"]),
        (&(-2_500).into(), &2_300.into())
    );
    assert_eq!(
        (&account["pending_holds"], &account["version"]),
        (&1.into(), &8.into())
    );

    let (status, deposited) = app
        .post(
            "/v1/accounts/alice/deposits",
            "d1",
            r#"{"amount":700,"payment_ref":"pi_3Nq9XyZ"}"#,
        )
        .await;
    assert_eq!(status, 200, "{deposited}");
    assert_eq!(deposited["account"]["balance"], -1_800);
    assert_eq!(deposited["account"]["version"], 9);

    let (status, posted) = app
        .post(&format!("/v1/holds/{}/post", open_stake()), "p1", "")
        .await;
    assert_eq!(status, 200, "{posted}");
    assert_eq!(posted["status"], "posted");
    assert_eq!(posted["account"]["balance"], -2_000);

    let (status, withdrawn) = app
        .post("/v1/accounts/bob/withdrawals", "w1", r#"{"amount":2800}"#)
        .await;
    assert_eq!(status, 200, "{withdrawn}");
    assert_eq!(withdrawn["account"]["balance"], 0);

    // The new events chain from the last v1 event's hash, and every event
    // of the stream still hashes to what was stored.
    let store = PgEventStore::new(pool.clone());
    let alice = store
        .read_stream(&StreamId::new("account-alice"), 0, READ_EVENTS_MAX)
        .await
        .expect("read");
    assert_eq!(alice.len(), 10);
    let deposit = &alice[8];
    assert_eq!(
        (deposit.event_type.as_str(), deposit.schema_version),
        ("funds_deposited", 2)
    );
    assert_eq!(deposit.payload["payment_ref"], "pi_3Nq9XyZ");
    let bob = store
        .read_stream(&StreamId::new("account-bob"), 4, READ_EVENTS_MAX)
        .await
        .expect("read");
    assert_eq!(bob[0].schema_version, 2);
    assert_eq!(bob[0].payload["payment_ref"], serde_json::Value::Null);
    for pair in alice.windows(2) {
        assert_eq!(pair[1].prev_hash.as_deref(), Some(pair[0].hash.as_slice()));
    }
    for e in &alice {
        assert_eq!(e.computed_hash().as_slice(), e.hash.as_slice());
    }
}
