//! Settling markets, against the real Postgres: a settlement of 100,000
//! bets stopped half-way and resumed by a fresh process settles every bet
//! once and keeps the books exact; a corrected result reverses and re-pays
//! exactly.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use commands::settlement::Step;
use commands::SettlementConfig;
use common::{spawn_app, spawn_app_without_settler, App};
use ledger::book::Book;
use ledger::sportsbook::bet::{decide_bet, LegRequest, OddsPolicy, PlaceBet};
use ledger::sportsbook::market::{decide_market, MarketCommand, MarketEvent, MarketState};
use ledger::sportsbook::odds::{Pricing, ODDS_MIN};
use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StreamAppend, StreamHead,
    READ_EVENTS_MAX,
};
use ledger::wallet::{decide, WalletCommand, WalletEvent, WalletState};
use ledger::{AccountId, Amount, BetId, CreditLimit, Currency, MarketId, StreamId, TransferId};
use sqlx::PgPool;

/// A stream as the test built it: its state and where it stands.
struct Built<S> {
    state: S,
    head: StreamHead,
    events: Vec<NewEvent>,
}

impl<S: Default> Built<S> {
    fn new() -> Self {
        Self {
            state: S::default(),
            head: StreamHead::EMPTY,
            events: Vec::new(),
        }
    }
}

fn wallet_new(e: &WalletEvent) -> NewEvent {
    NewEvent::new(e.event_type(), e.schema_version(), e.payload())
}

fn market_new(e: &MarketEvent) -> NewEvent {
    NewEvent::new(e.event_type(), e.schema_version(), e.payload())
}

/// Appends what each built stream has queued as one group; moves heads on.
async fn flush(
    store: &PgEventStore,
    command_id: &str,
    streams: &mut [(&StreamId, &mut StreamHead, &mut Vec<NewEvent>)],
) {
    let group: Vec<StreamAppend> = streams
        .iter_mut()
        .filter(|(_, _, events)| !events.is_empty())
        .map(|(id, head, events)| StreamAppend {
            stream_id: (*id).clone(),
            expected: **head,
            commands: vec![CommandAppend {
                command_id: command_id.to_owned(),
                request_hash: vec![],
                outcome: serde_json::json!({}),
                events: std::mem::take(*events),
            }],
        })
        .collect();
    let ids: Vec<StreamId> = group.iter().map(|s| s.stream_id.clone()).collect();
    let outcomes = store.append_groups(vec![group]).await.expect("append");
    for (id, outcome) in ids.iter().zip(&outcomes[0]) {
        let AppendOutcome::Committed { head, .. } = outcome else {
            panic!("{id} conflicted");
        };
        if let Some((_, h, _)) = streams.iter_mut().find(|(s, _, _)| *s == id) {
            **h = *head;
        }
    }
}

/// A bet as placed: who, on what, and what it pays if it wins.
struct Placed {
    account: AccountId,
    outcome: u16,
    stake: i64,
    payout_if_wins: i64,
}

/// Opens `accounts` wallets with money for their bets and a market of three
/// outcomes, places `bets` bets round-robin (straight through the store,
/// decided by the domain, as the writer would), and closes the market.
async fn place_bets(
    store: &PgEventStore,
    market_id: &str,
    accounts: usize,
    bets: usize,
    stake: i64,
) -> Vec<Placed> {
    let currency = Currency::parse("EUR").expect("currency");
    let market = MarketId::parse(market_id).expect("market id");
    let market_stream = StreamId::market(&market);
    let mut wallets: Vec<(AccountId, StreamId, Built<WalletState>)> = Vec::new();
    for a in 0..accounts {
        let account = AccountId::parse(&format!("{market_id}-p{a}")).expect("account");
        let stream = StreamId::account(&account);
        let mut built = Built::<WalletState>::new();
        let per_account = (bets / accounts + 1) as i64;
        for command in [
            WalletCommand::Open {
                account: account.clone(),
                currency,
                credit_limit: CreditLimit::ZERO,
            },
            WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(per_account * stake).expect("amount"),
                currency: None,
                description: None,
                payment_ref: None,
            },
        ] {
            for e in decide(&built.state, &command).expect("wallet command") {
                built.state = std::mem::take(&mut built.state).evolve(&e);
                built.events.push(wallet_new(&e));
            }
        }
        wallets.push((account, stream, built));
    }
    for chunk in wallets.chunks_mut(1_000) {
        let mut streams: Vec<_> = chunk
            .iter_mut()
            .map(|(_, s, b)| (&*s, &mut b.head, &mut b.events))
            .collect();
        flush(store, "open-wallets", &mut streams).await;
    }
    let mut m = Built::<MarketState>::new();
    let open = MarketCommand::Open {
        market: market.clone(),
        name: "Final".into(),
        starts_at: chrono::Utc::now(),
        currency,
        outcomes: vec!["home".into(), "draw".into(), "away".into()],
        pricing: Pricing {
            prior_bp: vec![4_000, 2_000, 4_000],
            prior_weight: 10_000_000,
            margin_bp: 500,
        },
        liability_limit: i64::MAX / 4,
        stake_min: 1,
        stake_max: 1_000_000,
    };
    for e in decide_market(&m.state, &open).expect("open market") {
        m.state = std::mem::take(&mut m.state).evolve(&e);
        m.events.push(market_new(&e));
    }
    flush(
        store,
        "open-market",
        &mut [(&market_stream, &mut m.head, &mut m.events)],
    )
    .await;

    let mut placed = Vec::with_capacity(bets);
    let chunk_bets = 2_000;
    for start in (0..bets).step_by(chunk_bets) {
        let mut touched = vec![false; accounts];
        for i in start..(start + chunk_bets).min(bets) {
            let a = i % accounts;
            let outcome = (i % 3) as u16;
            let command = PlaceBet {
                bet_id: BetId::generate(),
                stake: Amount::new(stake).expect("stake"),
                legs: vec![LegRequest {
                    market: market.clone(),
                    outcome,
                    odds_seen: ODDS_MIN,
                }],
                policy: OddsPolicy::AcceptAny,
            };
            let (_, _, w) = &mut wallets[a];
            let decision =
                decide_bet(&w.state, &[&m.state], &command).expect("the bet is accepted");
            for e in &decision.wallet {
                w.state = std::mem::take(&mut w.state).evolve(e);
                w.events.push(wallet_new(e));
            }
            for e in decision.markets.iter().flatten() {
                m.state = std::mem::take(&mut m.state).evolve(e);
                m.events.push(market_new(e));
            }
            let payout_if_wins = w
                .state
                .wallet
                .as_ref()
                .and_then(|wallet| wallet.bets.get(&command.bet_id))
                .map(|bet| bet.payout_if_wins)
                .expect("the bet is in its wallet");
            placed.push(Placed {
                account: wallets[a].0.clone(),
                outcome,
                stake,
                payout_if_wins,
            });
            touched[a] = true;
        }
        let mut streams: Vec<_> = vec![(&market_stream, &mut m.head, &mut m.events)];
        for (a, (_, s, b)) in wallets.iter_mut().enumerate() {
            if touched[a] {
                streams.push((&*s, &mut b.head, &mut b.events));
            }
        }
        flush(store, &format!("bets-{start}"), &mut streams).await;
    }
    for e in decide_market(&m.state, &MarketCommand::Close).expect("close") {
        m.state = std::mem::take(&mut m.state).evolve(&e);
        m.events.push(market_new(&e));
    }
    flush(
        store,
        "close",
        &mut [(&market_stream, &mut m.head, &mut m.events)],
    )
    .await;
    placed
}

/// Every transfer in the log, in a book.
async fn book(store: &PgEventStore) -> Book {
    let mut book = Book::default();
    let mut after = 0;
    loop {
        let events = store.read_all(after, READ_EVENTS_MAX).await.expect("read");
        let Some(last) = events.last() else {
            return book;
        };
        after = last.global_position;
        for r in &events {
            if let Ok(e) = WalletEvent::from_stored(&r.event_type, r.schema_version, &r.payload) {
                if let Some((transfer, phase)) = e.transfer() {
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

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_settlement_stopped_half_way_resumes_and_settles_every_bet_once(pool: PgPool) {
    const BETS: usize = 100_000;
    let store = PgEventStore::new(pool.clone());
    let placed = place_bets(&store, "final", 1_000, BETS, 100).await;

    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    let (status, started) = app
        .post(
            "/v1/markets/final/settlements",
            "settle-1",
            r#"{"result":{"kind":"winners","winners":[0]}}"#,
        )
        .await;
    assert_eq!(status, 202, "{started}");
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
    let mut steps = 0;
    while second.step().await.expect("step") == Step::Worked {
        steps += 1;
        assert!(steps < 100, "the settlement does not end");
    }

    let settled = count(
        &pool,
        "SELECT count(DISTINCT payload->>'bet_id') FROM events WHERE event_type = 'bet_settled'",
    )
    .await;
    let settlements = count(
        &pool,
        "SELECT count(*) FROM events WHERE event_type = 'bet_settled'",
    )
    .await;
    assert_eq!((settled, settlements), (BETS as i64, BETS as i64));
    let winners = placed.iter().filter(|p| p.outcome == 0).count() as i64;
    let paid = count(
        &pool,
        "SELECT count(*) FROM events WHERE event_type = 'bet_paid'",
    )
    .await;
    let paid_bets = count(
        &pool,
        "SELECT count(DISTINCT payload->>'bet_id') FROM events WHERE event_type = 'bet_paid'",
    )
    .await;
    assert_eq!((paid, paid_bets), (winners, winners));

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

    let (status, first) = app
        .post(
            "/v1/markets/race/settlements",
            "s1",
            r#"{"result":{"kind":"winners","winners":[0]}}"#,
        )
        .await;
    assert_eq!(status, 202, "{first}");
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
