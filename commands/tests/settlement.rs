//! Settling markets, against the real Postgres: a settlement of 100,000
//! bets stopped half-way and resumed by a fresh process settles every bet
//! once and keeps the books exact; a corrected result reverses and re-pays
//! exactly.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use commands::settlement::Step;
use commands::{AppState, SettlementConfig, Settler};
use common::{spawn_app, spawn_app_without_settler, App};
use ledger::book::Book;
use ledger::store::PgEventStore;
use ledger::testkit::sportsbook::place_bets;
use ledger::wallet::WalletEvent;
use ledger::{AccountId, Currency, MarketId, StreamId};
use sqlx::PgPool;

/// Every transfer in the log, in a book. Read with plain SQL after the
/// commands have answered, not through the gap-safe `read_all`: that one
/// stops below the oldest transaction open anywhere in the cluster, which
/// another test's long transaction can hold back for seconds.
async fn book(store: &PgEventStore) -> Book {
    const PAGE: i64 = 10_000;
    let mut book = Book::default();
    let mut after = 0_i64;
    loop {
        let rows: Vec<(i64, String, i32, serde_json::Value)> = sqlx::query_as(
            "SELECT global_position, event_type, schema_version, payload FROM events
             WHERE global_position > $1 ORDER BY global_position LIMIT $2",
        )
        .bind(after)
        .bind(PAGE)
        .fetch_all(store.pool())
        .await
        .expect("read");
        let Some(last) = rows.last() else {
            return book;
        };
        after = last.0;
        for (_, event_type, version, payload) in &rows {
            if let Ok(e) = WalletEvent::from_stored(event_type, *version, payload) {
                for (transfer, phase) in e.transfers() {
                    book.apply(transfer, phase);
                }
            }
        }
    }
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Bets with a `bet_settled`, and `bet_settled` events: equal when no bet
/// was settled twice.
async fn bets_settled(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(DISTINCT payload->>'bet_id'), count(*)
         FROM events WHERE event_type = 'bet_settled'",
    )
    .fetch_one(pool)
    .await
    .expect("count")
}

/// Reads the derby market and its `wallets` players' wallets into the
/// node's cache, as the node that took their bets holds them.
async fn warm_derby(state: &AppState, wallets: usize) {
    let mut streams: Vec<StreamId> = (0..wallets)
        .map(|i| StreamId::account(&AccountId::parse(&format!("derby-p{i}")).expect("id")))
        .collect();
    streams.push(StreamId::market(&MarketId::parse("derby").expect("id")));
    assert_eq!(
        state.warm_cache(streams).await.expect("warmed"),
        wallets + 1
    );
}

/// Steps the settlement process until it has nothing left to do.
async fn settle_to_idle(settler: &Settler) {
    let mut steps = 0;
    while settler.step().await.expect("step") == Step::Worked {
        steps += 1;
        assert!(steps < 100, "the settlement does not end");
    }
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_settlement_stopped_half_way_resumes_and_settles_every_bet_once(pool: PgPool) {
    const BETS: usize = 100_000;
    let store = PgEventStore::new(pool.clone());
    let placed = place_bets(&store, "final", 1_000, BETS, 100).await;

    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    let started = start_settlement(&app, "final", "settle-1").await;
    assert_eq!(started["market"]["status"], "settling");

    // The first process settles about half the bets, then stops (as a crash
    // would: nothing of it survives but what it committed).
    let config = SettlementConfig {
        chunk_bets_max: 5_000,
        ..SettlementConfig::default()
    };
    let first = state.settler(config.clone());
    for _ in 0..10 {
        assert_eq!(first.step().await.expect("step"), Step::Worked);
    }
    drop(first);
    let half = count(
        &pool,
        "SELECT count(*) FROM events WHERE event_type = 'bet_settled'",
    )
    .await;
    assert_eq!(half, 50_000);

    // A fresh node (empty cache) takes over and finishes.
    let (_, fresh) = spawn_app_without_settler(pool.clone()).await;
    let second = fresh.settler(config);
    settle_to_idle(&second).await;

    let (settled, settlements) = bets_settled(&pool).await;
    assert_eq!((settled, settlements), (BETS as i64, BETS as i64));
    // Each winner is paid once, by its own settlement.
    let winners = placed.iter().filter(|p| p.outcome == 0).count() as i64;
    let paid = count(
        &pool,
        "SELECT count(*) FROM events
         WHERE event_type = 'bet_settled' AND jsonb_typeof(payload->'payout') = 'object'",
    )
    .await;
    let paid_bets = count(
        &pool,
        "SELECT count(DISTINCT payload->'payout'->>'id') FROM events
         WHERE event_type = 'bet_settled' AND jsonb_typeof(payload->'payout') = 'object'",
    )
    .await;
    assert_eq!((paid, paid_bets), (winners, winners));
    let paid_apart = count(
        &pool,
        "SELECT count(*) FROM events WHERE event_type = 'bet_paid'",
    )
    .await;
    assert_eq!(paid_apart, 0, "no payout in an event of its own");

    let book = book(&store).await;
    assert!(book.is_balanced(), "{:?}", book.totals());
    let eur = Currency::parse("EUR").expect("currency");
    let lost: i64 = placed
        .iter()
        .filter(|p| p.outcome != 0)
        .map(|p| p.stake)
        .sum();
    let won: i64 = placed
        .iter()
        .filter(|p| p.outcome == 0)
        .map(|p| p.payout_if_wins - p.stake)
        .sum();
    assert_eq!(
        book.totals_of(&AccountId::house(), eur).posted(),
        i128::from(lost - won)
    );
    // Every player's balance is its deposit, less its stakes, plus its payouts.
    let mut expected: HashMap<AccountId, i64> = HashMap::new();
    for p in &placed {
        let paid = if p.outcome == 0 { p.payout_if_wins } else { 0 };
        *expected.entry(p.account.clone()).or_default() += paid - p.stake;
    }
    for (account, net) in expected.iter().take(50) {
        let totals = book.totals_of(account, eur);
        assert_eq!(totals.pending_debits, 0, "{account} still has stakes held");
        let deposit = totals.posted() - i128::from(*net);
        assert_eq!(
            deposit,
            i128::from((BETS / 1_000 + 1) as i64 * 100),
            "{account}"
        );
    }

    let (_, market) = app.get(&app.api, "/v1/markets/final").await;
    assert_eq!(market["market"]["status"], "settled");
    let (status, again) = app
        .post(
            "/v1/markets/final/settlements",
            "settle-2",
            r#"{"result":{"kind":"winners","winners":[1]}}"#,
        )
        .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (422, Some("market_already_settled"))
    );
}

/// Records "outcome 0 won" on `market`; the settlement process does the rest.
async fn start_settlement(app: &App, market: &str, key: &str) -> serde_json::Value {
    let (status, started) = app
        .post(
            &format!("/v1/markets/{market}/settlements"),
            key,
            r#"{"result":{"kind":"winners","winners":[0]}}"#,
        )
        .await;
    assert_eq!(status, 202, "{started}");
    started
}

async fn wait_settled(app: &App, market: &str) {
    for _ in 0..200 {
        let (_, shown) = app.get(&app.api, &format!("/v1/markets/{market}")).await;
        if shown["market"]["status"] == "settled" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{market} did not settle");
}

async fn balance(app: &App, account: &str) -> i64 {
    let (_, shown) = app.get(&app.api, &format!("/v1/accounts/{account}")).await;
    shown["account"]["balance"].as_i64().expect("balance")
}

/// Won, then corrected to lost, then to a dead heat: each correction
/// reverses what was paid and pays what the new result says, to the cent.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_corrected_result_reverses_and_pays_again_exactly(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    let body = serde_json::json!({
        "id": "race",
        "name": "Race",
        "starts_at": "2026-12-20T20:00:00Z",
        "currency": "EUR",
        "outcomes": ["a", "b"],
        "prior_weight": 1_000_000,
        "margin_bp": 0,
        "liability_limit": 10_000_000,
        "stake_max": 100_000,
    });
    let (status, _) = app.post("/v1/markets", "open", &body.to_string()).await;
    assert_eq!(status, 201);
    let mut payout = HashMap::new();
    let mut odds = HashMap::new();
    for (account, outcome) in [("ann", 0), ("ben", 1)] {
        app.open(account, 0).await;
        app.post(
            &format!("/v1/accounts/{account}/deposits"),
            &format!("d-{account}"),
            r#"{"amount":10000}"#,
        )
        .await;
        let bet = serde_json::json!({
            "stake": 1001,
            "legs": [{ "market": "race", "outcome": outcome, "odds": "1.01" }],
            "odds_policy": "accept_any",
        });
        let (status, placed) = app
            .post(
                &format!("/v1/accounts/{account}/bets"),
                &format!("b-{account}"),
                &bet.to_string(),
            )
            .await;
        assert_eq!(status, 201, "{placed}");
        payout.insert(
            account,
            placed["bet"]["payout_if_wins"].as_i64().expect("payout"),
        );
        let digits = placed["bet"]["odds"]
            .as_str()
            .expect("odds")
            .replace('.', "");
        odds.insert(account, digits.parse::<i64>().expect("odds digits"));
    }
    app.post("/v1/markets/race/close", "close", "").await;

    start_settlement(&app, "race", "s1").await;
    wait_settled(&app, "race").await;
    assert_eq!(balance(&app, "ann").await, 10_000 - 1001 + payout["ann"]);
    assert_eq!(balance(&app, "ben").await, 10_000 - 1001);

    let (status, second) = app
        .post(
            "/v1/markets/race/resettlements",
            "s2",
            r#"{"result":{"kind":"winners","winners":[1]}}"#,
        )
        .await;
    assert_eq!(status, 202, "{second}");
    let second_id = second["market"]["settlement"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    wait_settled(&app, "race").await;
    assert_eq!(balance(&app, "ann").await, 10_000 - 1001);
    assert_eq!(balance(&app, "ben").await, 10_000 - 1001 + payout["ben"]);
    let lineage: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'replaced_by' FROM events WHERE event_type = 'bet_payout_reversed'",
    )
    .fetch_all(&pool)
    .await
    .expect("lineage");
    assert_eq!(lineage, vec![second_id]);

    // A dead heat: half of each stake paid at its odds, rounded down.
    let (status, _) = app
        .post(
            "/v1/markets/race/resettlements",
            "s3",
            r#"{"result":{"kind":"winners","winners":[0,1]}}"#,
        )
        .await;
    assert_eq!(status, 202);
    wait_settled(&app, "race").await;
    for account in ["ann", "ben"] {
        let dead_heat = 1001 * odds[account] / (10_000 * 2);
        assert_eq!(
            balance(&app, account).await,
            10_000 - 1001 + dead_heat,
            "{account}"
        );
    }
    let book = book(&PgEventStore::new(pool)).await;
    assert!(book.is_balanced());
}

/// The process decides each chunk while the one before it commits, on the
/// heads that one leaves. A wallet another writer moves in between must cost
/// that chunk a retry, never a gap or a fork in the wallet's stream.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_wallet_moved_while_its_chunk_waited_is_read_again_not_forked(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    // Bets go round-robin over the wallets in market order, so with chunks
    // of 10 the second chunk holds the bets of derby-p10 to derby-p19.
    let placed = place_bets(&store, "derby", 50, 100, 100).await;
    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    start_settlement(&app, "derby", "settle-derby").await;
    let settler = state.settler(SettlementConfig {
        chunk_bets_max: 10,
        ..SettlementConfig::default()
    });
    assert_eq!(settler.step().await.expect("step"), Step::Worked);
    let progressed = "SELECT count(*) FROM events WHERE event_type = 'settlement_progressed'";
    assert_eq!(count(&pool, progressed).await, 1);

    // The second chunk is decided by now; its first wallet moves.
    let (status, reply) = app
        .post(
            "/v1/accounts/derby-p10/deposits",
            "late-deposit",
            r#"{"amount":700}"#,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(settler.step().await.expect("step"), Step::Worked);
    assert_eq!(
        count(&pool, progressed).await,
        1,
        "the chunk decided before the deposit must not commit"
    );

    settle_to_idle(&settler).await;
    let (settled, settlements) = bets_settled(&pool).await;
    assert_eq!((settled, settlements), (100, 100));
    // Every stream's versions run 1..n with no hole, and each event chains
    // on the hash of the one before it.
    let broken = count(
        &pool,
        "SELECT count(*) FROM events e
         LEFT JOIN events p ON p.stream_id = e.stream_id
                           AND p.stream_version = e.stream_version - 1
         WHERE e.stream_version > 1 AND p.hash IS DISTINCT FROM e.prev_hash",
    )
    .await;
    assert_eq!(broken, 0);
    let holes = count(
        &pool,
        "SELECT count(*) FROM (SELECT stream_id FROM events GROUP BY stream_id
                               HAVING max(stream_version) <> count(*)) s",
    )
    .await;
    assert_eq!(holes, 0);
    let book = book(&store).await;
    assert!(book.is_balanced(), "{:?}", book.totals());
    let eur = Currency::parse("EUR").expect("currency");
    let p10 = AccountId::parse("derby-p10").expect("account");
    let totals = book.totals_of(&p10, eur);
    assert_eq!(totals.pending_debits, 0, "derby-p10 still has stakes held");
    // Its first deposit (the generator's: a stake per bet and one more),
    // the late deposit, less its stakes, plus what its winners paid.
    let mine: Vec<_> = placed.iter().filter(|p| p.account == p10).collect();
    let net: i64 = mine
        .iter()
        .map(|p| if p.outcome == 0 { p.payout_if_wins } else { 0 } - p.stake)
        .sum();
    let first_deposit = (100 / 50 + 1) * 100;
    assert_eq!(totals.posted(), i128::from(first_deposit + 700 + net));
}

/// A node that warmed its cache settles from it, without reading the
/// wallets again. The cache is trusted as the writer trusts it, and checked
/// the same way: a wallet another node moved since is caught by the
/// append, read again and settled once, with the other node's deposit kept.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_warmed_cache_is_trusted_but_checked(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    place_bets(&store, "derby", 50, 100, 100).await;
    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    warm_derby(&state, 50).await;

    // Another node takes a deposit: this node's copy of derby-p10 is stale.
    let (other, _) = spawn_app_without_settler(pool.clone()).await;
    let (status, reply) = other
        .post(
            "/v1/accounts/derby-p10/deposits",
            "elsewhere",
            r#"{"amount":700}"#,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    start_settlement(&app, "derby", "settle-derby").await;
    let settler = state.settler(SettlementConfig {
        chunk_bets_max: 10,
        ..SettlementConfig::default()
    });
    settle_to_idle(&settler).await;

    assert_eq!(bets_settled(&pool).await, (100, 100));
    let book = book(&store).await;
    assert!(book.is_balanced(), "{:?}", book.totals());
    let eur = Currency::parse("EUR").expect("currency");
    let p10 = AccountId::parse("derby-p10").expect("account");
    assert_eq!(book.totals_of(&p10, eur).pending_debits, 0);
    assert_eq!(
        i128::from(balance(&app, "derby-p10").await),
        book.totals_of(&p10, eur).posted()
    );
    let deposits = count(
        &pool,
        "SELECT count(*) FROM events
         WHERE stream_id = 'account-derby-p10' AND event_type = 'funds_deposited'",
    )
    .await;
    assert_eq!(deposits, 2, "the generator's deposit and the other node's");
}

/// A warm settlement whose wallets come back every other chunk takes them
/// from what the cache holds after the chunk before last: the cache takes a
/// committed chunk in the background, while the next one is written, and
/// the chunk after waits for it. A wallet decided on its state from before
/// that chunk would conflict, halve the chunk and show as more progress.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_warm_settlement_takes_each_wallet_as_the_chunk_before_left_it(pool: PgPool) {
    let store = PgEventStore::new(pool.clone());
    // 20 wallets round-robin in chunks of 10: wallets 0-9, then 10-19, ...
    place_bets(&store, "derby", 20, 200, 100).await;
    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    warm_derby(&state, 20).await;
    start_settlement(&app, "derby", "settle-derby").await;
    let settler = state.settler(SettlementConfig {
        chunk_bets_max: 10,
        ..SettlementConfig::default()
    });
    settle_to_idle(&settler).await;

    assert_eq!(bets_settled(&pool).await, (200, 200));
    let progressed = count(
        &pool,
        "SELECT count(*) FROM events WHERE event_type = 'settlement_progressed'",
    )
    .await;
    assert_eq!(
        progressed, 20,
        "every chunk committed whole, none conflicted"
    );
    let book = book(&store).await;
    assert!(book.is_balanced(), "{:?}", book.totals());
}
