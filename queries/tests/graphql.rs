//! The GraphQL server over HTTP on port 0, against read models built by the
//! real projection runner from events made by the real domain and store.

mod common;

use std::time::{Duration, Instant};

use common::{drive, runner, App, Wallets};
use projections::{Balances, Statements};
use queries::QueriesConfig;
use serde_json::{json, Value};
use sqlx::PgPool;

/// Drives both account projections to idle, as `serve` would.
async fn project(pool: &PgPool) {
    drive(&runner(pool, Balances)).await;
    drive(&runner(pool, Statements)).await;
}

const ACCOUNT: &str = r#"
query ($id: String!, $currency: String, $atLeast: Int, $first: Int, $after: String) {
  account(id: $id, currency: $currency, atLeast: $atLeast) {
    id currency creditLimit postedDebits postedCredits pendingDebits pendingCredits
    balance available version lastPosition
    statement(first: $first, after: $after) {
      edges { cursor node { position eventType transferId holdId code phase amount
                            counterparty description recordedAt } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }
}"#;

const ACCOUNTS: &str = r#"
query ($first: Int, $after: String, $atLeast: Int) {
  accounts(first: $first, after: $after, atLeast: $atLeast) {
    edges { cursor node { id currency balance version } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}"#;

/// Alice in EUR with a deposit, a withdrawal and two holds (one posted, one
/// still pending); Bob in BRL on credit.
async fn alice_and_bob(wallets: &mut Wallets) -> i64 {
    wallets.open("alice", "EUR", 0);
    wallets.open("bob", "BRL", 1_000);
    wallets.flush().await;
    wallets.deposit("alice", 10_000);
    wallets.withdraw("bob", 700);
    wallets.flush().await;
    wallets.withdraw("alice", 1_500);
    let won = wallets.place_hold("alice", 2_000);
    wallets.place_hold("alice", 500);
    wallets.flush().await;
    wallets.post_hold("alice", won);
    wallets.flush().await
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn an_account_and_its_statement_page_by_page(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    let last = alice_and_bob(&mut wallets).await;
    project(&pool).await;
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    let mut positions = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    let account = loop {
        let data = app
            .data(
                ACCOUNT,
                json!({ "id": "alice", "first": 2, "after": after }),
            )
            .await;
        let account = data["account"].clone();
        let statement = &account["statement"];
        let edges = statement["edges"].as_array().expect("edges");
        positions.extend(
            edges
                .iter()
                .map(|e| e["node"]["position"].as_i64().expect("i64")),
        );
        assert_eq!(statement["pageInfo"]["hasPreviousPage"], pages > 0);
        pages += 1;
        if statement["pageInfo"]["hasNextPage"] == false {
            break account;
        }
        assert_eq!(edges.len(), 2, "full pages until the last");
        after = statement["pageInfo"]["endCursor"].clone();
        assert!(pages < 10, "pagination does not end");
    };

    assert_eq!(account["id"], "alice");
    assert_eq!(account["currency"], "EUR");
    assert_eq!(account["creditLimit"], 0);
    assert_eq!(account["balance"], 10_000 - 1_500 - 2_000);
    assert_eq!(account["pendingDebits"], 500);
    assert_eq!(account["available"], 10_000 - 1_500 - 2_000 - 500);
    assert_eq!(account["version"], wallets.version("alice"));
    assert_eq!(account["lastPosition"], last);
    // Five entries (deposit, withdrawal, two holds, one hold posted), newest
    // first, each once, over three pages.
    assert_eq!(pages, 3);
    assert_eq!(positions.len(), 5);
    let mut newest_first = positions.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    newest_first.dedup();
    assert_eq!(positions, newest_first);
    assert_eq!(positions[0], last);

    let first_page = app
        .data(ACCOUNT, json!({ "id": "alice", "first": 1 }))
        .await;
    let newest = &first_page["account"]["statement"]["edges"][0]["node"];
    assert_eq!(newest["eventType"], "hold_posted");
    assert_eq!(newest["phase"], "PENDING_POSTED");
    assert_eq!(newest["amount"], -2_000);
    assert_eq!(newest["counterparty"], "house");
    assert_eq!(newest["code"], "hold");
    assert!(newest["holdId"].is_string());
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn accounts_page_through_every_account_in_order(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    alice_and_bob(&mut wallets).await;
    project(&pool).await;
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    let mut seen = Vec::new();
    let mut after = Value::Null;
    for page in 0.. {
        let data = app
            .data(ACCOUNTS, json!({ "first": 2, "after": after }))
            .await;
        let connection = &data["accounts"];
        for edge in connection["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            seen.push(format!(
                "{}/{}",
                node["id"].as_str().expect("id"),
                node["currency"].as_str().expect("currency")
            ));
        }
        if connection["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
        assert!(page < 10, "pagination does not end");
    }

    // Wallets and the system accounts they moved money with, each
    // currency of `cash` on its own.
    assert_eq!(
        seen,
        ["alice/EUR", "bob/BRL", "cash/BRL", "cash/EUR", "house/EUR"]
    );
    let everything = app.data(ACCOUNTS, json!({})).await;
    let balances: i64 = everything["accounts"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["balance"].as_i64().expect("balance"))
        .sum();
    assert_eq!(balances, 0, "double entry: every balance sums to zero");
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_system_account_in_several_currencies_needs_a_currency(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    alice_and_bob(&mut wallets).await;
    project(&pool).await;
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    let (code, body) = app.error_code(ACCOUNT, json!({ "id": "cash" })).await;
    assert_eq!(code, "currency_required", "{body:#}");

    let brl = app
        .data(ACCOUNT, json!({ "id": "cash", "currency": "BRL" }))
        .await;
    assert_eq!(brl["account"]["balance"], 700);
    assert_eq!(brl["account"]["version"], Value::Null, "not a stream");
    let missing = app.data(ACCOUNT, json!({ "id": "nobody" })).await;
    assert_eq!(missing["account"], Value::Null);
    let (code, _) = app
        .error_code(ACCOUNT, json!({ "id": "cash", "currency": "brl" }))
        .await;
    assert_eq!(code, "invalid_argument");
    let (code, _) = app
        .error_code(ACCOUNT, json!({ "id": "alice", "after": "garbage" }))
        .await;
    assert_eq!(code, "invalid_argument");
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn at_least_in_the_future_fails_as_projection_behind(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    let last = alice_and_bob(&mut wallets).await;
    project(&pool).await;
    let config = QueriesConfig {
        at_least_timeout_ms: 200,
        ..Default::default()
    };
    let app = App::spawn(&pool, config).await;

    for query in [ACCOUNT, ACCOUNTS] {
        let started = Instant::now();
        let (code, body) = app
            .error_code(query, json!({ "id": "alice", "atLeast": last + 1_000 }))
            .await;
        let waited = started.elapsed();
        assert_eq!(code, "projection_behind", "{body:#}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains("behind")),
            "{body:#}"
        );
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
    }
    // A position already reached answers at once.
    let data = app
        .data(ACCOUNT, json!({ "id": "alice", "atLeast": last }))
        .await;
    assert_eq!(data["account"]["lastPosition"], last);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn at_least_waits_for_the_runner_to_catch_up(pool: PgPool) {
    let app = App::spawn(&pool, QueriesConfig::default()).await;
    let mut wallets = Wallets::new(&pool);
    let last = alice_and_bob(&mut wallets).await;

    // Nothing is projected yet: without atLeast the account is not there.
    let before = app.data(ACCOUNT, json!({ "id": "alice" })).await;
    assert_eq!(before["account"], Value::Null);

    let (data, ()) = tokio::join!(
        app.data(ACCOUNT, json!({ "id": "alice", "atLeast": last })),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            project(&pool).await;
        }
    );
    assert_eq!(data["account"]["balance"], 6_500);
    assert_eq!(data["account"]["lastPosition"], last);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn pages_are_capped_and_nested_pages_are_too_complex(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    for n in 1..=120 {
        wallets.deposit("alice", n);
    }
    wallets.flush().await;
    project(&pool).await;
    let app = App::spawn(&pool, QueriesConfig::default()).await;

    let data = app
        .data(
            "{ account(id: \"alice\") { statement(first: 500) { edges { node { position } } \
             pageInfo { hasNextPage } } } }",
            json!({}),
        )
        .await;
    let statement = &data["account"]["statement"];
    assert_eq!(statement["edges"].as_array().expect("edges").len(), 100);
    assert_eq!(statement["pageInfo"]["hasNextPage"], true);

    let body = app
        .query(
            "{ accounts(first: 100) { edges { node { statement(first: 100) { \
             edges { node { position amount } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body:#}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("too complex")),
        "{body:#}"
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn graphiql_is_served_and_bad_bodies_are_refused(pool: PgPool) {
    let config = QueriesConfig {
        request_bytes_max: 1024,
        ..Default::default()
    };
    let app = App::spawn(&pool, config).await;

    let page = app.client.get(&app.url).send().await.expect("get");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("graphiql"));

    let not_json = app
        .client
        .post(&app.url)
        .body("{")
        .send()
        .await
        .expect("post");
    assert_eq!(not_json.status(), 400);
    let huge = json!({ "query": format!("{{ accounts {{ edges {{ cursor }} }} }} #{}", "x".repeat(2048)) });
    let too_large = app
        .client
        .post(&app.url)
        .json(&huge)
        .send()
        .await
        .expect("post");
    assert_eq!(too_large.status(), 413);
}

/// `schemas/graphql/schema.graphql` is what `sdl()` prints. Run with
/// `UPDATE_SCHEMAS=1` to write it after changing the schema.
#[test]
fn the_committed_sdl_is_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../schemas/graphql/schema.graphql"
    );
    let sdl = queries::sdl();
    if std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1") {
        std::fs::write(path, &sdl).expect("write the SDL");
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == sdl,
        "{path} is stale: run `UPDATE_SCHEMAS=1 cargo nextest run -p queries` \
         (or `betledger schema`) and commit the result"
    );
}
