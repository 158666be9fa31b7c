//! Parimutuel pools over HTTP against the real Postgres: entries, close,
//! settle and cancel to the cent; concurrent entries that only some
//! wallets can cover; payouts stopped half-way and resumed pay each entry
//! once; the no-winner rule; settling twice; closing at the close time.

mod common;

use chrono::{Duration, Utc};
use commands::{PoolPayoutConfig, PoolStep};
use common::{spawn_app_without_settler, App};
use ledger::book::Book;
use ledger::store::PgEventStore;
use ledger::wallet::WalletEvent;
use ledger::{AccountId, Currency, PoolId};
use sqlx::PgPool;

/// Every transfer in the log, in a book. Read straight from the table,
/// not gap-safe: other tests' transactions on the same cluster would hold
/// the gap-safe horizon back, and every append here has returned.
async fn book(store: &PgEventStore) -> Book {
    let rows: Vec<(String, i32, serde_json::Value)> = sqlx::query_as(
        "SELECT event_type, schema_version, payload FROM events ORDER BY global_position",
    )
    .fetch_all(store.pool())
    .await
    .expect("read");
    let mut book = Book::default();
    for (event_type, version, payload) in &rows {
        if let Ok(e) = WalletEvent::from_stored(event_type, *version, payload) {
            for (transfer, phase) in e.transfers() {
                book.apply(transfer, phase);
            }
        }
    }
    book
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

async fn balance(store: &PgEventStore, account: &AccountId) -> i128 {
    book(store).await.totals_of(account, eur()).posted()
}

async fn assert_books_balance(store: &PgEventStore, pool: &str) {
    let book = book(store).await;
    for (currency, (posted, pending)) in book.totals() {
        assert_eq!((posted, pending), (0, 0), "{currency}");
    }
    let escrow = AccountId::pool(&PoolId::parse(pool).expect("id"));
    assert_eq!(book.totals_of(&escrow, eur()).posted(), 0, "escrow left");
}

async fn player(app: &App, id: &str, deposit: i64) {
    app.open(id, 0).await;
    if deposit > 0 {
        let (status, reply) = app
            .post(
                &format!("/v1/accounts/{id}/deposits"),
                &format!("dep-{id}"),
                &format!(r#"{{"amount":{deposit}}}"#),
            )
            .await;
        assert_eq!(status, 200, "{reply}");
    }
}

async fn create(app: &App, id: &str, rake_bp: u32, closes_in: Duration) {
    let body = serde_json::json!({
        "id": id, "name": "Derby win pool", "outcomes": ["A", "B", "C"],
        "min_entry": 100, "rake_bp": rake_bp, "currency": "EUR",
        "closes_at": Utc::now() + closes_in,
    });
    let (status, reply) = app
        .post("/v1/pools", &format!("create-{id}"), &body.to_string())
        .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["pool"]["status"], "open");
}

async fn enter(
    app: &App,
    pool: &str,
    account: &str,
    outcome: u16,
    stake: i64,
) -> (u16, serde_json::Value) {
    let body = format!(r#"{{"account":"{account}","outcome":{outcome},"stake":{stake}}}"#);
    let key = format!("enter-{pool}-{account}-{outcome}-{stake}");
    app.post(&format!("/v1/pools/{pool}/entries"), &key, &body)
        .await
}

async fn pay_out(state: &commands::AppState, chunk: usize) -> usize {
    let payer = state.pool_payer(PoolPayoutConfig {
        chunk_entries_max: chunk,
        ..PoolPayoutConfig::default()
    });
    let mut steps = 0;
    while payer.step().await.expect("step") == PoolStep::Worked {
        steps += 1;
        assert!(steps < 10_000, "the payouts never end");
    }
    steps
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn winners_share_the_pot_less_the_rake_to_the_cent(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    let (app, state) = spawn_app_without_settler(pool).await;
    create(&app, "derby", 1_000, Duration::hours(1)).await;
    for (name, outcome, stake) in [
        ("ann", 0, 1_000),
        ("bob", 0, 2_000),
        ("cy", 1, 3_333),
        ("di", 2, 100),
    ] {
        player(&app, name, 10_000).await;
        let (status, reply) = enter(&app, "derby", name, outcome, stake).await;
        assert_eq!(status, 201, "{reply}");
        assert_eq!(reply["entry"]["stake"], stake);
    }
    // A repeat of the key answers the same and moves nothing.
    let (status, again) = enter(&app, "derby", "ann", 0, 1_000).await;
    assert_eq!(
        (status, &again["pool"]["pot"]),
        (201, &serde_json::json!(1_000))
    );

    let (status, reply) = app
        .post("/v1/pools/derby/settle", "s0", r#"{"winners":[0]}"#)
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("pool_not_closed"))
    );
    let (status, reply) = app.post("/v1/pools/derby/close", "c1", "").await;
    assert_eq!(
        (status, reply["pool"]["status"].as_str()),
        (200, Some("closed")),
        "{reply}"
    );
    let (status, reply) = enter(&app, "derby", "ann", 1, 500).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("pool_not_open"))
    );
    let (status, reply) = app
        .post("/v1/pools/derby/settle", "s1", r#"{"winners":[0]}"#)
        .await;
    assert_eq!(
        (status, reply["pool"]["status"].as_str()),
        (202, Some("settling")),
        "{reply}"
    );
    pay_out(&state, 1).await;

    // pot 6,433; rake floor(643.3) = 643; 5,790 shared 1:2 → 1,930 and 3,860.
    let id = |s: &str| AccountId::parse(s).expect("id");
    assert_eq!(balance(&store, &AccountId::rake()).await, 643);
    assert_eq!(balance(&store, &id("ann")).await, 10_000 - 1_000 + 1_930);
    assert_eq!(balance(&store, &id("bob")).await, 10_000 - 2_000 + 3_860);
    assert_eq!(balance(&store, &id("cy")).await, 10_000 - 3_333);
    assert_eq!(balance(&store, &id("di")).await, 10_000 - 100);
    let (_, shown) = app.get(&app.api, "/v1/pools/derby").await;
    assert_eq!(shown["pool"]["status"], "settled");
    assert_eq!(
        (shown["pool"]["paid"].clone(), shown["pool"]["rake"].clone()),
        (5_790.into(), 643.into())
    );
    assert_books_balance(&store, "derby").await;

    // Settling twice is rejected, and so is a cancel after it.
    let (status, reply) = app
        .post("/v1/pools/derby/settle", "s2", r#"{"winners":[1]}"#)
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("pool_already_settled"))
    );
    let (status, reply) = app.post("/v1/pools/derby/cancel", "x1", "").await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("pool_already_settled"))
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn entries_are_refused_with_stable_codes(pool: PgPool) {
    let (app, _state) = spawn_app_without_settler(pool).await;
    create(&app, "p1", 0, Duration::hours(1)).await;
    player(&app, "ann", 1_000).await;
    for (outcome, stake, code) in [
        (3, 100, "outcome_not_found"),
        (0, 99, "below_minimum_entry"),
        (0, 1_001, "insufficient_funds"),
        (0, 0, "invalid_amount"),
    ] {
        let (status, reply) = enter(&app, "p1", "ann", outcome, stake).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (422, Some(code)),
            "{reply}"
        );
    }
    let (status, reply) = enter(&app, "nope", "ann", 0, 100).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("pool_not_found"))
    );
    let (status, reply) = app
        .post(
            "/v1/accounts",
            "open-usd",
            r#"{"id":"usd","currency":"USD","credit_limit":1000}"#,
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let (status, reply) = enter(&app, "p1", "usd", 0, 100).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("currency_mismatch"))
    );
    let bad = r#"{"id":"p2","name":"x","outcomes":["a"],"min_entry":1,"currency":"EUR","closes_at":"2030-01-01T00:00:00Z"}"#;
    let (status, reply) = app.post("/v1/pools", "bad", bad).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("invalid_pool"))
    );
    let (status, reply) = app
        .post("/v1/pools/p1/settle", "s", r#"{"winners":[9]}"#)
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("pool_not_closed"))
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn concurrent_entries_take_exactly_what_the_wallets_cover(pool: PgPool) {
    const PLAYERS: usize = 100;
    let store = PgEventStore::new(pool.clone());
    let (app, state) = spawn_app_without_settler(pool).await;
    create(&app, "hot", 500, Duration::hours(1)).await;
    // Each player can cover one entry of 300, and the even ones two.
    for i in 0..PLAYERS {
        player(&app, &format!("c{i}"), if i % 2 == 0 { 600 } else { 300 }).await;
    }
    let mut tasks = Vec::new();
    for i in 0..PLAYERS {
        for k in 0..2 {
            let app = App {
                api: app.api.clone(),
                rinha: app.rinha.clone(),
                http: app.http.clone(),
            };
            tasks.push(tokio::spawn(async move {
                // Odd players try outcome 0 twice, even ones 0 and 1: so
                // exactly the 50 even players back outcome 1.
                let outcome = if i % 2 == 0 { k } else { 0 };
                let body = format!(r#"{{"account":"c{i}","outcome":{outcome},"stake":300}}"#);
                app.post("/v1/pools/hot/entries", &format!("e{i}-{k}"), &body)
                    .await
            }));
        }
    }
    let mut accepted = 0;
    let mut refused = 0;
    for task in tasks {
        let (status, reply) = task.await.expect("task");
        match status {
            201 => accepted += 1,
            422 if reply["code"] == "insufficient_funds" => refused += 1,
            other => panic!("{other}: {reply}"),
        }
    }
    assert_eq!((accepted, refused), (150, 50));
    let (_, shown) = app.get(&app.api, "/v1/pools/hot").await;
    assert_eq!(shown["pool"]["pot"], 150 * 300);
    assert_eq!(shown["pool"]["entries"], 150);
    let escrow = AccountId::pool(&PoolId::parse("hot").expect("id"));
    assert_eq!(balance(&store, &escrow).await, 150 * 300);

    app.post("/v1/pools/hot/close", "c", "").await;
    let (status, _) = app
        .post("/v1/pools/hot/settle", "s", r#"{"winners":[1]}"#)
        .await;
    assert_eq!(status, 202);
    pay_out(&state, 7).await;
    // 50 entries on outcome 1 share 45,000 − 2,250 equally: 855 each.
    assert_eq!(balance(&store, &AccountId::rake()).await, 2_250);
    for i in (0..PLAYERS).step_by(2) {
        let id = AccountId::parse(&format!("c{i}")).expect("id");
        // Both 300s staked, 855 back.
        assert_eq!(balance(&store, &id).await, 855);
    }
    assert_books_balance(&store, "hot").await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn payouts_stopped_half_way_resume_and_pay_each_entry_once(pool: PgPool) {
    const PLAYERS: usize = 40;
    let store = PgEventStore::new(pool.clone());
    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    create(&app, "big", 1_234, Duration::hours(1)).await;
    for i in 0..PLAYERS {
        let name = format!("p{i}");
        player(&app, &name, 10_000).await;
        for k in 0..3u16 {
            let stake = 100 + (i as i64 * 37 + i64::from(k) * 11) % 900;
            let (status, reply) = enter(&app, "big", &name, k, stake).await;
            assert_eq!(status, 201, "{reply}");
        }
    }
    app.post("/v1/pools/big/close", "c", "").await;
    app.post("/v1/pools/big/settle", "s", r#"{"winners":[0,2]}"#)
        .await;
    // The first process pays three chunks of 10 entries, then dies.
    let first = state
        .pool_payer(PoolPayoutConfig {
            chunk_entries_max: 10,
            ..PoolPayoutConfig::default()
        })
        .crash_after(3);
    for _ in 0..3 {
        assert_eq!(first.step().await.expect("step"), PoolStep::Worked);
    }
    assert!(first.step().await.is_err(), "the first process is dead");
    drop(first);
    let paid_half: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'pool_paid'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert!(paid_half > 0 && paid_half < 80, "{paid_half} paid half-way");
    // A fresh process, with a cold cache, finishes the job.
    pay_out(&state, 25).await;
    let paid: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'pool_paid'")
            .fetch_one(&pool)
            .await
            .expect("count");
    let distinct: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT payload->>'entry_id') FROM events WHERE event_type = 'pool_paid'",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!((paid, distinct), (80, 80), "each winning entry paid once");
    assert_books_balance(&store, "big").await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn cancel_and_the_no_winner_rule_refund_every_entry_in_full(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    let (app, state) = spawn_app_without_settler(pool).await;
    create(&app, "off", 900, Duration::hours(1)).await;
    create(&app, "nowin", 900, Duration::hours(1)).await;
    for i in 0..5 {
        let name = format!("r{i}");
        player(&app, &name, 5_000).await;
        for (pool, outcome) in [("off", 0), ("nowin", 1 + i % 2)] {
            let (status, reply) = enter(&app, pool, &name, outcome, 1_000 + i64::from(i)).await;
            assert_eq!(status, 201, "{reply}");
        }
    }
    let (status, reply) = app.post("/v1/pools/off/cancel", "x", "").await;
    assert_eq!(
        (status, reply["pool"]["status"].as_str()),
        (202, Some("cancelling"))
    );
    app.post("/v1/pools/nowin/close", "c", "").await;
    let (status, _) = app
        .post("/v1/pools/nowin/settle", "s", r#"{"winners":[0]}"#)
        .await;
    assert_eq!(status, 202);
    pay_out(&state, 2).await;
    for i in 0..5 {
        let id = AccountId::parse(&format!("r{i}")).expect("id");
        assert_eq!(balance(&store, &id).await, 5_000, "{id} refunded in full");
    }
    assert_eq!(
        balance(&store, &AccountId::rake()).await,
        0,
        "no rake without winners"
    );
    let (_, off) = app.get(&app.api, "/v1/pools/off").await;
    assert_eq!(off["pool"]["status"], "cancelled");
    let (_, nowin) = app.get(&app.api, "/v1/pools/nowin").await;
    assert_eq!(nowin["pool"]["status"], "settled");
    assert_books_balance(&store, "off").await;
    assert_books_balance(&store, "nowin").await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_pool_closes_by_itself_at_its_close_time(pool: PgPool) {
    let (app, state) = spawn_app_without_settler(pool).await;
    create(&app, "soon", 0, Duration::milliseconds(300)).await;
    create(&app, "later", 0, Duration::hours(1)).await;
    player(&app, "ann", 1_000).await;
    let (status, _) = enter(&app, "soon", "ann", 0, 100).await;
    assert_eq!(status, 201);
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let (status, reply) = enter(&app, "soon", "ann", 1, 100).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("pool_not_open"))
    );
    assert_eq!(pay_out(&state, 10).await, 1, "one pool closed");
    let (_, soon) = app.get(&app.api, "/v1/pools/soon").await;
    assert_eq!(soon["pool"]["status"], "closed");
    let (_, later) = app.get(&app.api, "/v1/pools/later").await;
    assert_eq!(later["pool"]["status"], "open");
}
