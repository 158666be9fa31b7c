//! `replay-tools verify` on a real log: passes on an honest one, names the
//! event whose stored bytes were changed behind the trigger's back.

use ledger::store::{AppendOutcome, EventStore, NewEvent, PgEventStore, StreamHead};
use ledger::testkit::{database_url, load_rows, Wallets, WALLET_V1_FIXTURE};
use ledger::wallet::{decide, WalletCommand, WalletState};
use ledger::{AccountId, Amount, CreditLimit, Currency, StreamId, TransferId};
use sqlx::PgPool;

fn verify(pool: &PgPool) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_replay-tools"))
        .arg("verify")
        .env("DATABASE_URL", database_url(pool))
        .output()
        .expect("run replay-tools")
}

async fn wallet_with_deposits(store: &PgEventStore, id: &str, deposits: i64) {
    let account = AccountId::parse(id).expect("id");
    let stream = StreamId::account(&account);
    let mut state = WalletState::default();
    let mut head = StreamHead::EMPTY;
    let open = WalletCommand::Open {
        account,
        currency: Currency::parse("EUR").expect("EUR"),
        credit_limit: CreditLimit::ZERO,
    };
    let deposits = (1..=deposits).map(|n| WalletCommand::Deposit {
        transfer_id: TransferId::generate(),
        amount: Amount::new(n * 100).expect("amount"),
        currency: None,
        description: None,
        payment_ref: None,
    });
    for (i, command) in std::iter::once(open).chain(deposits).enumerate() {
        let events = decide(&state, &command).expect("accepted");
        let new = events
            .iter()
            .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.payload()))
            .collect();
        let outcome = store
            .append(stream.clone(), head, new, format!("{id}-{i}"))
            .await
            .expect("append");
        let AppendOutcome::Committed { head: next, .. } = outcome else {
            panic!("conflict")
        };
        head = next;
        state = events.iter().fold(state, |s, e| s.evolve(e));
    }
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn verify_passes_then_names_the_tampered_event(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    wallet_with_deposits(&store, "alice", 3).await;
    wallet_with_deposits(&store, "bob", 2).await;

    let clean = verify(&pool);
    let stdout = String::from_utf8_lossy(&clean.stdout);
    assert!(
        clean.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&clean.stderr)
    );
    assert!(
        stdout.contains("verified 7 events in 2 streams"),
        "{stdout}"
    );

    // The superuser can bypass the immutability trigger; the hash cannot be.
    sqlx::query("ALTER TABLE events DISABLE TRIGGER events_immutable_rows")
        .execute(&pool)
        .await
        .expect("disable");
    let position: i64 = sqlx::query_scalar(
        "UPDATE events SET payload = jsonb_set(payload, '{transfer,amount}', '1000000')
         WHERE stream_id = 'account-alice' AND stream_version = 3 RETURNING global_position",
    )
    .fetch_one(&pool)
    .await
    .expect("tamper");
    let tampered = verify(&pool);
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert!(!tampered.status.success());
    assert!(
        stderr.contains(&format!("event {position} (account-alice v3)")),
        "{stderr}"
    );
}

/// Events stored at version 1 (`ledger/tests/fixtures/wallet_v1.ndjson`)
/// verify as they are, and so do newer events appended after them.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn verify_passes_on_v1_events_and_on_newer_ones_after_them(pool: PgPool) {
    load_rows(&pool, WALLET_V1_FIXTURE).await;
    let stdout = |out: std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    // Six balances: alice, bob and carol (opened, never moved), house, and
    // cash in EUR and in BRL.
    let before = stdout(verify(&pool));
    assert!(
        before.contains("verified 13 events in 3 streams up to position 13")
            && before.contains("6 account balances"),
        "{before}"
    );

    let mut wallets = Wallets::new(&pool);
    for account in ["alice", "bob", "carol"] {
        wallets.resume(account).await;
    }
    wallets.deposit("alice", 700);
    wallets.withdraw("bob", 2_800);
    wallets.deposit("carol", 50);
    let last = wallets.flush().await;
    let after = stdout(verify(&pool));
    assert!(
        after.contains(&format!(
            "verified 16 events in 3 streams up to position {last}"
        )) && after.contains("6 account balances"),
        "{after}"
    );
}

/// A wallet event this build cannot read (here: a version from a newer
/// build) fails the audit, naming it: skipping it would leave its transfer
/// out of the books and still report them balanced.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn verify_fails_on_a_wallet_event_it_cannot_read(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    wallet_with_deposits(&store, "alice", 1).await;
    let newer = NewEvent::new(
        "funds_deposited",
        99,
        serde_json::json!({ "transfer": "in a shape to come" }),
    );
    let events = store
        .read_stream(&StreamId::new("account-alice"), 0, 100)
        .await
        .expect("read");
    let last = events.last().expect("events");
    let head = StreamHead {
        version: last.stream_version,
        hash: last.hash.as_slice().try_into().ok(),
    };
    let appended = store
        .append(
            StreamId::new("account-alice"),
            head,
            vec![newer],
            "newer-1".into(),
        )
        .await
        .expect("append");
    let AppendOutcome::Committed { last_positions, .. } = appended else {
        panic!("conflict");
    };
    let position = last_positions[0].expect("a position");

    let out = verify(&pool);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains(&format!("event {position} (account-alice v3)"))
            && stderr.contains("funds_deposited v99 was written by a newer build"),
        "{stderr}"
    );
}
