//! `replay-tools rebuild` while the system serves: the command API takes
//! wallet commands from several clients, the live projections run, and a
//! GraphQL client reads its own writes (`atLeast`) throughout. No command
//! and no query may fail, no read may go back in time across the swaps,
//! and afterwards `verify` finds the read models equal to a fresh replay.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use commands::{AppState, CommandsConfig};
use common::{json, run_ok};
use ledger::store::PgEventStore;
use ledger::testkit::{database_url, Wallets};
use projections::ProjectionsConfig;
use queries::QueriesConfig;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::watch;

/// Clients writing at once, and the wallets each writes to.
const CLIENTS: usize = 3;
const WALLETS_PER_CLIENT: usize = 3;
/// Bounds every load loop, so that a rebuild that never ends fails the
/// test rather than hanging it.
const ROUNDS_MAX: usize = 100_000;

/// A pool of `connections` of its own, as each role would have in its own
/// process.
async fn own_pool(pool: &PgPool, connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(connections)
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("connect")
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("serve") });
    format!("http://{addr}")
}

async fn post(http: &reqwest::Client, url: String, key: String, body: String) -> serde_json::Value {
    let response = http
        .post(url)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let body: serde_json::Value = response.json().await.expect("JSON body");
    assert!(status.is_success(), "a command failed: {status} {body}");
    body
}

/// The last write a client made to its first wallet: its position and the
/// wallet's version after it.
type LastWrite = Option<(i64, i64)>;

/// One client: opens its wallets, then deposits, withdraws, holds and
/// posts on them until `stop`; client 0 tells `last_write` of each write
/// to `w0-0`. Returns the commands sent.
async fn client(
    api: String,
    client: usize,
    stop: Arc<AtomicBool>,
    last_write: watch::Sender<LastWrite>,
) -> u64 {
    let http = reqwest::Client::new();
    let wallets: Vec<String> = (0..WALLETS_PER_CLIENT)
        .map(|i| format!("w{client}-{i}"))
        .collect();
    let mut sent = 0u64;
    for wallet in &wallets {
        let body = format!(r#"{{"id":"{wallet}","currency":"EUR","credit_limit":0}}"#);
        post(
            &http,
            format!("{api}/v1/accounts"),
            format!("open-{wallet}"),
            body,
        )
        .await;
        sent += 1;
    }
    for round in 0..ROUNDS_MAX {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        for wallet in &wallets {
            let key = |what: &str| format!("{wallet}-{round}-{what}");
            let account = format!("{api}/v1/accounts/{wallet}");
            post(
                &http,
                format!("{account}/deposits"),
                key("d"),
                r#"{"amount":1000}"#.into(),
            )
            .await;
            post(
                &http,
                format!("{account}/withdrawals"),
                key("w"),
                r#"{"amount":300}"#.into(),
            )
            .await;
            let hold = post(
                &http,
                format!("{account}/holds"),
                key("h"),
                r#"{"amount":200}"#.into(),
            )
            .await;
            let hold_id = hold["hold_id"].as_str().expect("hold id").to_owned();
            let posted = post(
                &http,
                format!("{api}/v1/holds/{hold_id}/post"),
                key("p"),
                String::new(),
            )
            .await;
            sent += 4;
            if client == 0 && wallet == &wallets[0] {
                let position = posted["position"].as_i64().expect("position");
                let version = posted["account"]["version"].as_i64().expect("version");
                last_write.send_replace(Some((position, version)));
            }
        }
    }
    sent
}

/// Reads the first client's first wallet through GraphQL at least at its
/// last write, until `stop`: the read model must never be behind a write
/// it acknowledged, before, during or after a swap. Returns the reads.
async fn reader(
    graphql: String,
    stop: Arc<AtomicBool>,
    last_write: watch::Receiver<LastWrite>,
) -> u64 {
    let http = reqwest::Client::new();
    let mut reads = 0;
    while !stop.load(Ordering::Relaxed) {
        let Some((position, version)) = *last_write.borrow() else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let query = format!(
            r#"{{ account(id: "w0-0", atLeast: {position}) {{ version balance statement(first: 1) {{ edges {{ node {{ position }} }} }} }} }}"#
        );
        let response: serde_json::Value = http
            .post(format!("{graphql}/graphql"))
            .json(&serde_json::json!({ "query": query }))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON");
        assert!(
            response.get("errors").is_none(),
            "a query failed: {response}"
        );
        let account = &response["data"]["account"];
        let seen = account["version"].as_i64().expect("version");
        assert!(
            seen >= version,
            "read version {seen} after writing version {version}: {response}"
        );
        let newest = account["statement"]["edges"][0]["node"]["position"]
            .as_i64()
            .expect("line");
        assert!(
            newest >= position,
            "statement at {newest} after a write at {position}"
        );
        reads += 1;
    }
    reads
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_rebuild_under_load_fails_nothing_and_equals_a_fresh_replay(pool: PgPool) {
    let url = database_url(&pool);
    // A log for the rebuilds to replay before they reach the load.
    Wallets::new(&pool).busy_log(30, 10).await;

    let state = AppState::start(
        PgEventStore::new(own_pool(&pool, 6).await),
        CommandsConfig::default(),
    );
    let api = serve(commands::router(state)).await;
    let graphql = serve(queries::router(
        own_pool(&pool, 4).await,
        QueriesConfig::default(),
    ))
    .await;
    let (stop_projections, projections_stopped) = tokio::sync::oneshot::channel::<()>();
    // Four runners (balances, statements, sportsbook, pools), each up to four
    // connections: two stepping, its LISTEN, a read ahead.
    let live = projections::spawn(
        PgEventStore::new(own_pool(&pool, 16).await),
        ProjectionsConfig {
            batch_events_max: 100,
            ..ProjectionsConfig::default()
        },
        async {
            let _ = projections_stopped.await;
        },
    )
    .expect("projections");

    let stop = Arc::new(AtomicBool::new(false));
    let (last_write, last_read) = watch::channel(None);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| tokio::spawn(client(api.clone(), c, stop.clone(), last_write.clone())))
        .collect();
    let reads = tokio::spawn(reader(graphql, stop.clone(), last_read.clone()));
    // Let the load get going before the rebuilds start.
    let mut started = last_read.clone();
    started.wait_for(Option::is_some).await.expect("load");
    let position_before = started.borrow().map_or(0, |(p, _)| p);

    let mut positions = Vec::new();
    for projection in ["balances", "statements"] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_replay-tools"))
            .args(["rebuild", projection, "--batch-events-max", "100", "--json"])
            .env("DATABASE_URL", &url)
            .output()
            .await
            .expect("run rebuild");
        assert!(
            output.status.success(),
            "rebuild {projection}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let rebuilt = json(&output.stdout);
        assert_eq!(rebuilt["ended"], "swapped", "{rebuilt}");
        positions.push(rebuilt["position"].as_i64().expect("position"));
    }
    let position_after = last_read.borrow().map_or(0, |(p, _)| p);
    assert!(
        position_after > position_before,
        "the load went on during the rebuilds ({position_before} to {position_after})"
    );

    stop.store(true, Ordering::Relaxed);
    let mut sent = 0;
    for client in clients {
        sent += client.await.expect("no command failed");
    }
    assert!(sent > 0);
    assert!(reads.await.expect("no query failed") > 0);
    let last: i64 = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(&pool)
        .await
        .expect("last");
    for projection in projections::accounts::ALL {
        projections::wait_for_position(&pool, projection, last, Duration::from_secs(30))
            .await
            .expect("the live projections go on after the swaps");
    }
    let _ = stop_projections.send(());
    live.await.expect("projections stopped");

    let report = json(&run_ok(&url, &["verify", "--json"]));
    for read_model in report["read_models"].as_array().expect("read models") {
        assert_eq!(read_model["position"], last, "{report}");
        assert_eq!(read_model["differing"], 0, "{report}");
    }
    assert!(positions.iter().all(|&p| p > 0));
}
