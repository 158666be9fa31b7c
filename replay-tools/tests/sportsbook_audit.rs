//! Bets move money through the same transfers as the rest of the ledger:
//! after singles, an accumulator, a settlement, a re-settlement and a
//! cash-out over the real command API, the balances and statements read
//! models sum to zero and `verify` finds them equal to a fresh replay.

mod common;

use std::time::Duration;

use commands::{AppState, CommandsConfig};
use common::{project, run_ok};
use ledger::store::PgEventStore;
use ledger::testkit::database_url;
use sqlx::PgPool;

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("http://{addr}")
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn post(&self, path: &str, key: &str, body: serde_json::Value) -> serde_json::Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.expect("json");
        assert!((200..300).contains(&status), "{path}: {status} {body}");
        body
    }

    async fn get(&self, path: &str) -> serde_json::Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }

    async fn wait_settled(&self, market: &str) {
        for _ in 0..200 {
            if self.get(&format!("/v1/markets/{market}")).await["market"]["status"] == "settled" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{market} did not settle");
    }
}

fn market(id: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "name": id, "starts_at": "2026-12-20T20:00:00Z", "currency": "EUR",
        "outcomes": ["home", "draw", "away"], "prior_weight": 100_000, "margin_bp": 500,
        "liability_limit": 10_000_000, "stake_max": 100_000,
    })
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn bets_settlements_and_cash_outs_keep_the_read_models_exact(pool: PgPool) {
    let state = AppState::start(PgEventStore::new(pool.clone()), CommandsConfig::default());
    let api = Api {
        base: serve(commands::router(state)).await,
        http: reqwest::Client::new(),
    };
    for m in ["m1", "m2"] {
        api.post("/v1/markets", &format!("open-{m}"), market(m))
            .await;
    }
    for (i, player) in ["ada", "bo", "cy"].iter().enumerate() {
        api.post(
            "/v1/accounts",
            &format!("open-{player}"),
            serde_json::json!({ "id": player, "currency": "EUR" }),
        )
        .await;
        api.post(
            &format!("/v1/accounts/{player}/deposits"),
            &format!("dep-{player}"),
            serde_json::json!({ "amount": 50_000 }),
        )
        .await;
        for (m, outcome) in [("m1", i % 3), ("m2", (i + 1) % 3)] {
            api.post(
                &format!("/v1/accounts/{player}/bets"),
                &format!("bet-{player}-{m}"),
                serde_json::json!({
                    "stake": 1_000 + 7 * i,
                    "legs": [{ "market": m, "outcome": outcome, "odds": "1.01" }],
                    "odds_policy": "accept_any",
                }),
            )
            .await;
        }
    }
    let accumulator = api
        .post(
            "/v1/accounts/ada/bets",
            "acc",
            serde_json::json!({
                "stake": 500,
                "legs": [
                    { "market": "m1", "outcome": 0, "odds": "1.01" },
                    { "market": "m2", "outcome": 1, "odds": "1.01" },
                ],
                "odds_policy": "accept_any",
            }),
        )
        .await;
    assert_eq!(accumulator["bet"]["legs"].as_array().map(Vec::len), Some(2));
    // Cash out bo's bet on m2 before the market closes.
    let bo_bets: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'bet_id' FROM events WHERE stream_id = 'account-bo' AND event_type = 'bet_placed' ORDER BY stream_version",
    )
    .fetch_all(&pool)
    .await
    .expect("bo's bets");
    let offer = api
        .post(
            &format!("/v1/accounts/bo/bets/{}/cash-out-offers", bo_bets[1]),
            "offer",
            serde_json::json!({}),
        )
        .await;
    let offer_id = offer["offer"]["offer_id"].as_str().expect("offer id");
    let cashed = api
        .post(
            &format!("/v1/accounts/bo/bets/{}/cash-out", bo_bets[1]),
            "cash-out",
            serde_json::json!({ "offer_id": offer_id }),
        )
        .await;
    assert_eq!(cashed["bet"]["status"], "cashed_out");

    for m in ["m1", "m2"] {
        api.post(
            &format!("/v1/markets/{m}/close"),
            &format!("close-{m}"),
            serde_json::json!({}),
        )
        .await;
    }
    api.post(
        "/v1/markets/m1/settlements",
        "settle-m1",
        serde_json::json!({ "result": { "kind": "winners", "winners": [0] } }),
    )
    .await;
    api.wait_settled("m1").await;
    api.post(
        "/v1/markets/m2/settlements",
        "settle-m2",
        serde_json::json!({ "result": { "kind": "void" } }),
    )
    .await;
    api.wait_settled("m2").await;
    api.post(
        "/v1/markets/m1/resettlements",
        "resettle-m1",
        serde_json::json!({ "result": { "kind": "winners", "winners": [1, 2] } }),
    )
    .await;
    api.wait_settled("m1").await;

    project(&pool).await;
    let (posted, pending): (i64, i64) = sqlx::query_as(
        "SELECT sum(posted_credits - posted_debits)::int8, sum(pending_credits - pending_debits)::int8 FROM account_balances",
    )
    .fetch_one(&pool)
    .await
    .expect("sums");
    assert_eq!((posted, pending), (0, 0));
    let holds: i64 = sqlx::query_scalar(
        "SELECT sum(pending_debits)::int8 FROM account_balances WHERE account_id IN ('ada', 'bo', 'cy')",
    )
    .fetch_one(&pool)
    .await
    .expect("pending");
    assert_eq!(holds, 0, "every stake was settled, voided or cashed out");
    let report = String::from_utf8(run_ok(&database_url(&pool), &["verify"])).expect("utf-8");
    assert!(report.contains("match the replay"), "{report}");
}
