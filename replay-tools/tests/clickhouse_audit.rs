//! `verify --clickhouse-url` compares the ClickHouse projection with a
//! fresh replay, account by account; a fact that the log does not hold is
//! found; `rebuild clickhouse` writes the facts anew from position 0.

mod common;

#[path = "../../projections/tests/common/desk.rs"]
mod desk;

use common::{project, run_err, run_ok};
use desk::{winners, Desk};
use ledger::store::PgEventStore;
use ledger::testkit::{database_url, Wallets};
use projections::clickhouse::sink::SinkConfig;
use projections::clickhouse::{Analytics, ClickHouseConfig, ClickHouseSink};
use projections::Step;
use sqlx::PgPool;

fn clickhouse_url() -> String {
    std::env::var("CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_owned())
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn verify_compares_clickhouse_with_a_replay_and_rebuild_restores_it(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.busy_log(8, 3).await;
    let mut desk = Desk::new(&pool);
    desk.open_wallet("alice", 50_000).await;
    desk.open_market("m1", 1, 1_000_000).await;
    desk.bet("alice", 1_000, &[("m1", 0)]).await;
    desk.bet("alice", 2_000, &[("m1", 1)]).await;
    desk.operate("m1", ledger::sportsbook::market::MarketCommand::Close)
        .await;
    desk.settle("m1", winners(&[0])).await;
    project(&pool).await;

    let database = format!(
        "bl_{}",
        pool.connect_options()
            .get_database()
            .expect("database name")
    );
    let analytics =
        Analytics::new(&ClickHouseConfig::new(clickhouse_url(), &database)).expect("config");
    analytics.drop_database().await.expect("drop");
    analytics.migrate().await.expect("migrate");
    let sink = ClickHouseSink::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        analytics.clone(),
        SinkConfig::default(),
    )
    .expect("sink");
    while let Step::Worked { .. } = sink.step().await.expect("step") {}

    let url = database_url(&pool);
    let ch = clickhouse_url();
    let args = [
        "verify",
        "--clickhouse-url",
        ch.as_str(),
        "--clickhouse-database",
        database.as_str(),
    ];
    let out = String::from_utf8(run_ok(&url, &args)).expect("utf8");
    assert!(
        out.contains("read model clickhouse (postings)") && out.contains("accounts match"),
        "{out}"
    );

    // One cent of house money the log never moved.
    let tamper = format!(
        "INSERT INTO {database}.postings (position, leg, time, event_type, transfer_id, account, \
         counterparty, amount, currency, code, phase) VALUES \
         (1, 7, now(), 'funds_deposited', 'x', 'house', 'cash', 1, 'EUR', 'deposit', 'posted')"
    );
    let response = reqwest::Client::new()
        .post(&ch)
        .body(tamper)
        .send()
        .await
        .expect("insert");
    assert!(response.status().is_success());
    let err = run_err(&url, &args);
    assert!(
        err.contains("postings (clickhouse)") && err.contains("house"),
        "{err}"
    );

    let rebuilt = String::from_utf8(run_ok(
        &url,
        &[
            "rebuild",
            "clickhouse",
            "--clickhouse-url",
            ch.as_str(),
            "--clickhouse-database",
            database.as_str(),
        ],
    ))
    .expect("utf8");
    assert!(rebuilt.starts_with("rebuilt clickhouse:"), "{rebuilt}");
    run_ok(&url, &args);
    analytics.drop_database().await.expect("drop");
}
