//! Pools move money through the same transfers as the rest of the ledger:
//! after entries, a settlement with a rake, a cancellation and a pool
//! without winners over the real command API, the escrows are empty, the
//! rake sits in `fees:rake`, the balances sum to zero, `verify` finds the
//! read models equal to a fresh replay, and the pools read models (live,
//! then rebuilt) say the same.

mod common;

use std::time::Duration;

use commands::{AppState, CommandsConfig};
use common::{project, run_ok};
use ledger::store::PgEventStore;
use ledger::testkit::database_url;
use projections::{Pools, ProjectionsConfig, Runner, Step};
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

    async fn wait_for(&self, pool: &str, status: &str) {
        for _ in 0..200 {
            let shown: serde_json::Value = self
                .http
                .get(format!("{}/v1/pools/{pool}", self.base))
                .send()
                .await
                .expect("request")
                .json()
                .await
                .expect("json");
            if shown["pool"]["status"] == status {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{pool} is not {status}");
    }
}

async fn pools_rows(pool: &PgPool) -> Vec<(String, String, i64, i64, i64, i64)> {
    sqlx::query_as("SELECT pool_id, status, pot, entries, paid, rake FROM pools ORDER BY pool_id")
        .fetch_all(pool)
        .await
        .expect("pools")
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn pool_workloads_keep_the_books_and_read_models_exact(pool: PgPool) {
    let state = AppState::start(PgEventStore::new(pool.clone()), CommandsConfig::default());
    let api = Api {
        base: serve(commands::router(state)).await,
        http: reqwest::Client::new(),
    };
    for (id, rake_bp) in [("win", 1_750), ("off", 500), ("none", 500)] {
        api.post(
            "/v1/pools",
            &format!("create-{id}"),
            serde_json::json!({
                "id": id, "name": id, "outcomes": ["a", "b", "c"], "min_entry": 10,
                "rake_bp": rake_bp, "currency": "EUR", "closes_at": "2099-01-01T00:00:00Z",
            }),
        )
        .await;
    }
    for i in 0..7u16 {
        let player = format!("pl{i}");
        api.post(
            "/v1/accounts",
            &format!("open-{player}"),
            serde_json::json!({ "id": player, "currency": "EUR" }),
        )
        .await;
        api.post(
            &format!("/v1/accounts/{player}/deposits"),
            &format!("dep-{player}"),
            serde_json::json!({ "amount": 100_000 }),
        )
        .await;
        for (pool, outcome) in [("win", i % 3), ("off", i % 2), ("none", 1 + i % 2)] {
            api.post(
                &format!("/v1/pools/{pool}/entries"),
                &format!("enter-{player}-{pool}"),
                serde_json::json!({ "account": player, "outcome": outcome,
                                    "stake": 1_001 + 97 * i64::from(i) }),
            )
            .await;
        }
    }
    for pool in ["win", "none"] {
        api.post(
            &format!("/v1/pools/{pool}/close"),
            &format!("close-{pool}"),
            serde_json::json!({}),
        )
        .await;
    }
    api.post(
        "/v1/pools/win/settle",
        "settle-win",
        serde_json::json!({ "winners": [0, 2] }),
    )
    .await;
    api.post(
        "/v1/pools/none/settle",
        "settle-none",
        serde_json::json!({ "winners": [0] }),
    )
    .await;
    api.post("/v1/pools/off/cancel", "cancel-off", serde_json::json!({}))
        .await;
    api.wait_for("win", "settled").await;
    api.wait_for("none", "settled").await;
    api.wait_for("off", "cancelled").await;

    project(&pool).await;
    let (posted, pending): (i64, i64) = sqlx::query_as(
        "SELECT sum(posted_credits - posted_debits)::int8, sum(pending_credits - pending_debits)::int8 FROM account_balances",
    )
    .fetch_one(&pool)
    .await
    .expect("sums");
    assert_eq!((posted, pending), (0, 0));
    let escrows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT account_id, posted_credits - posted_debits FROM account_balances WHERE account_id LIKE 'pool:%' ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .expect("escrows");
    assert_eq!(
        escrows,
        vec![
            ("pool:none".into(), 0),
            ("pool:off".into(), 0),
            ("pool:win".into(), 0)
        ]
    );
    // pot: Σ (1,001 + 97 i) for i < 7 = 9,044; rake floor(9,044 × 17.5%) = 1,582.
    let rake: i64 = sqlx::query_scalar(
        "SELECT posted_credits - posted_debits FROM account_balances WHERE account_id = 'fees:rake'",
    )
    .fetch_one(&pool)
    .await
    .expect("rake");
    assert_eq!(rake, 1_582);
    let report = String::from_utf8(run_ok(&database_url(&pool), &["verify"])).expect("utf-8");
    assert!(report.contains("match the replay"), "{report}");

    let runner = Runner::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        Pools,
        ProjectionsConfig::default(),
    )
    .expect("runner");
    let head = common::log_head(&pool).await;
    for _ in 0..10_000 {
        if runner.step().await.expect("pools") == Step::Idle {
            if common::caught_up(&pool, &["pools"], head).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(
        common::caught_up(&pool, &["pools"], head).await,
        "pools caught up"
    );
    let live = pools_rows(&pool).await;
    assert_eq!(
        live,
        vec![
            ("none".into(), "settled".into(), 9_044, 7, 9_044, 0),
            ("off".into(), "cancelled".into(), 9_044, 7, 9_044, 0),
            (
                "win".into(),
                "settled".into(),
                9_044,
                7,
                9_044 - 1_582,
                1_582
            ),
        ]
    );
    let returned: i64 =
        sqlx::query_scalar("SELECT sum(returned)::int8 FROM pool_entries WHERE pool_id = 'win'")
            .fetch_one(&pool)
            .await
            .expect("returned");
    assert_eq!(returned, 9_044 - 1_582);
    run_ok(&database_url(&pool), &["rebuild", "pools"]);
    assert_eq!(pools_rows(&pool).await, live, "a rebuild says the same");
}
