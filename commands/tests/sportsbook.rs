//! Markets and bets over HTTP, against the real Postgres: the stake's hold
//! and the market's liability commit together, so neither funds nor the
//! liability limit can be overrun by concurrent bets.

mod common;

use common::{spawn_app, App};
use sqlx::PgPool;

/// Opens a two-outcome market with an even prior of `weight` and no margin,
/// so the first odds are 2.0000 on both outcomes.
async fn open_market(app: &App, id: &str, liability_limit: i64, stake_max: i64) {
    let body = serde_json::json!({
        "id": id,
        "name": "Final: Home v Away",
        "starts_at": "2026-12-20T20:00:00Z",
        "currency": "EUR",
        "outcomes": ["home", "away"],
        "prior_weight": 1_000_000,
        "margin_bp": 0,
        "liability_limit": liability_limit,
        "stake_min": 1,
        "stake_max": stake_max,
    });
    let (status, reply) = app
        .post("/v1/markets", &format!("open-{id}"), &body.to_string())
        .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["market"]["outcomes"][0]["odds"], "2.0000");
}

fn bet(market: &str, outcome: u16, odds: &str, stake: i64, policy: &str) -> String {
    serde_json::json!({
        "stake": stake,
        "legs": [{ "market": market, "outcome": outcome, "odds": odds }],
        "odds_policy": policy,
    })
    .to_string()
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_bet_holds_its_stake_and_moves_the_odds(pool: PgPool) {
    let app = spawn_app(pool).await;
    app.open("ana", 0).await;
    app.post("/v1/accounts/ana/deposits", "d", r#"{"amount":10000}"#)
        .await;
    open_market(&app, "final", 1_000_000, 100_000).await;

    let (status, placed) = app
        .post(
            "/v1/accounts/ana/bets",
            "b1",
            &bet("final", 0, "2.0", 1000, "exact"),
        )
        .await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["bet"]["odds"], "2.0000");
    assert_eq!(placed["bet"]["payout_if_wins"], 2000);
    assert_eq!(placed["bet"]["status"], "open");
    assert_eq!(placed["account"]["available"], 9000);
    assert_eq!(placed["account"]["balance"], 10000);

    // The money moved the odds: a second bet at the old odds is refused
    // under `exact`, with the odds now, and taken under `accept_any`.
    let (status, refused) = app
        .post(
            "/v1/accounts/ana/bets",
            "b2",
            &bet("final", 0, "2.0", 1000, "exact"),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["code"], "odds_changed");
    let current = refused["current_odds"].as_str().expect("current odds");
    assert!(current < "2.0000", "{refused}");
    let (_, market) = app.get(&app.api, "/v1/markets/final").await;
    assert_eq!(market["market"]["outcomes"][0]["odds"], current);
    let (status, taken) = app
        .post(
            "/v1/accounts/ana/bets",
            "b3",
            &bet("final", 0, "2.0", 1000, "accept_any"),
        )
        .await;
    assert_eq!(status, 201, "{taken}");
    assert_eq!(taken["bet"]["odds"], current);

    // A repeat of the key answers the first bet again, placing nothing.
    let (status, again) = app
        .post(
            "/v1/accounts/ana/bets",
            "b1",
            &bet("final", 0, "2.0", 1000, "exact"),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(again["bet"]["id"], placed["bet"]["id"]);
    let (_, shown) = app.get(&app.api, "/v1/accounts/ana").await;
    assert_eq!(shown["account"]["available"], 8000);

    for (key, body, code) in [
        (
            "r1",
            bet("nowhere", 0, "2.0", 10, "accept_any"),
            "market_not_found",
        ),
        (
            "r2",
            bet("final", 0, "2.0", 0, "accept_any"),
            "invalid_amount",
        ),
        (
            "r3",
            bet("final", 0, "2.0", 200_000, "accept_any"),
            "stake_out_of_range",
        ),
        (
            "r4",
            bet("final", 7, "2.0", 10, "accept_any"),
            "invalid_bet",
        ),
        (
            "r5",
            bet("final", 0, "2.0", 9_000, "accept_any"),
            "insufficient_funds",
        ),
    ] {
        let (status, reply) = app.post("/v1/accounts/ana/bets", key, &body).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (422, Some(code)),
            "{reply}"
        );
    }
    let (status, reply) = app
        .post(
            "/v1/accounts/ana/bets",
            "r6",
            &bet("final", 0, "two", 10, "exact"),
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("invalid_request"))
    );

    let (status, _) = app.post("/v1/markets/final/suspend", "s1", "").await;
    assert_eq!(status, 200);
    let (status, reply) = app
        .post(
            "/v1/accounts/ana/bets",
            "r7",
            &bet("final", 0, "2.0", 10, "accept_any"),
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (422, Some("market_not_open"))
    );
}

/// 1,000 bets at once from one account whose money covers exactly 10.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn concurrent_bets_from_one_account_take_exactly_its_money(pool: PgPool) {
    let app = spawn_app(pool.clone()).await;
    app.open("bob", 0).await;
    app.post("/v1/accounts/bob/deposits", "d", r#"{"amount":1000}"#)
        .await;
    open_market(&app, "derby", i64::MAX / 4, 1_000).await;
    let tries = (0..1000).map(|i| {
        let body = bet("derby", (i % 2) as u16, "2.0", 100, "accept_any");
        let key = format!("bet-{i}");
        let app = &app;
        async move { app.post("/v1/accounts/bob/bets", &key, &body).await }
    });
    let answers = futures::future::join_all(tries).await;
    let placed = answers.iter().filter(|(s, _)| *s == 201).count();
    let broke = answers
        .iter()
        .filter(|(s, b)| *s == 422 && b["code"] == "insufficient_funds")
        .count();
    assert_eq!(
        (placed, broke),
        (10, 990),
        "other answers: {:?}",
        answers.iter().find(|(s, _)| *s != 201 && *s != 422)
    );
    let (_, shown) = app.get(&app.api, "/v1/accounts/bob").await;
    assert_eq!(shown["account"]["available"], 0);
    assert_eq!(shown["account"]["balance"], 1000);
    let (_, market) = app.get(&app.api, "/v1/markets/derby").await;
    assert_eq!(market["market"]["bets"], 10);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'bet_placed'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(stored, 10);
}

/// 1,000 bets at once from 100 accounts on one outcome: the accepted ones
/// never take the house past its liability limit, and they fill it to
/// within one more bet.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn concurrent_bets_never_exceed_the_liability_limit(pool: PgPool) {
    let app = spawn_app(pool).await;
    for a in 0..100 {
        let id = format!("p{a}");
        app.open(&id, 0).await;
        app.post(
            &format!("/v1/accounts/{id}/deposits"),
            &format!("d{a}"),
            r#"{"amount":100000}"#,
        )
        .await;
    }
    let limit = 50_000;
    open_market(&app, "cup", limit, 10_000).await;
    let stake = 1_000;
    let tries = (0..1000).map(|i| {
        let path = format!("/v1/accounts/p{}/bets", i % 100);
        let body = bet("cup", 0, "2.0", stake, "accept_any");
        let key = format!("bet-{i}");
        let app = &app;
        async move { app.post(&path, &key, &body).await }
    });
    let answers = futures::future::join_all(tries).await;
    let placed: Vec<&serde_json::Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 422 && b["code"] == "liability_exceeded")
        .count();
    assert_eq!(
        placed.len() + refused,
        1000,
        "other answers: {:?}",
        answers.iter().find(|(s, _)| *s != 201 && *s != 422)
    );
    assert!(refused > 0, "the limit was never reached");
    // The liability of the accepted set: what the house pays if "home"
    // wins, less the stakes it keeps.
    let payouts: i64 = placed
        .iter()
        .map(|b| b["bet"]["payout_if_wins"].as_i64().expect("payout"))
        .sum();
    let liability = payouts - stake * placed.len() as i64;
    let (_, market) = app.get(&app.api, "/v1/markets/cup").await;
    assert_eq!(market["market"]["outcomes"][0]["liability"], liability);
    assert!(liability <= limit, "{liability} > {limit}");
    // One more bet at the odds now would not fit: the limit is reached to
    // within one bet's liability.
    let odds = market["market"]["outcomes"][0]["odds"]
        .as_str()
        .expect("odds")
        .replace('.', "")
        .parse::<i64>()
        .expect("odds digits");
    let next = stake * odds / 10_000 - stake;
    assert!(
        liability + next > limit,
        "room left for another bet: {liability} + {next}"
    );
}
