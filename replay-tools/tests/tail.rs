//! `tail`: follows the log live through its filters, and stops at --limit.

use std::process::Stdio;
use std::time::Duration;

use ledger::testkit::{database_url, Wallets};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Starts `replay-tools tail ARGS` and returns once it has said where it
/// starts, so that events appended after that are its to print.
async fn start_tail(url: &str, args: &[&str]) -> tokio::process::Child {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_replay-tools"))
        .arg("tail")
        .args(args)
        .env("DATABASE_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start tail");
    let stderr = child.stderr.take().expect("stderr");
    let mut first = String::new();
    tokio::time::timeout(
        Duration::from_secs(30),
        BufReader::new(stderr).read_line(&mut first),
    )
    .await
    .expect("tail started in time")
    .expect("read stderr");
    assert!(first.starts_with("tailing from position"), "{first}");
    child
}

async fn lines_of(child: tokio::process::Child) -> Vec<serde_json::Value> {
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("tail stopped at its limit")
        .expect("tail output");
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn amount(event: &serde_json::Value) -> i64 {
    event["payload"]["transfer"]["amount"]
        .as_i64()
        .expect("amount")
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn tail_prints_new_events_through_its_filters_up_to_the_limit(pool: PgPool) {
    let url = database_url(&pool);
    let mut wallets = Wallets::new(&pool);
    wallets.open("bob", "EUR", 0);
    wallets.deposit("bob", 100);
    wallets.flush().await;

    let tail = start_tail(
        &url,
        &[
            "--stream-prefix",
            "account-bob",
            "--type",
            "funds_deposited",
            "--limit",
            "2",
        ],
    )
    .await;
    wallets.open("alice", "EUR", 0);
    wallets.deposit("alice", 999);
    wallets.deposit("bob", 200);
    wallets.flush().await;
    wallets.withdraw("bob", 50);
    wallets.deposit("bob", 300);
    wallets.deposit("bob", 400);
    wallets.flush().await;

    let events = lines_of(tail).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events
        .iter()
        .all(|e| e["stream_id"] == "account-bob" && e["event_type"] == "funds_deposited"));
    assert_eq!(
        events.iter().map(amount).collect::<Vec<_>>(),
        vec![200, 300]
    );
    assert_eq!(events[0]["hash"].as_str().expect("hash").len(), 64);

    // From the start of the log, the deposit made before the first tail.
    let from_start = start_tail(
        &url,
        &[
            "--from",
            "1",
            "--stream-prefix",
            "account-bob",
            "--type",
            "funds_deposited",
            "--limit",
            "1",
        ],
    )
    .await;
    let events = lines_of(from_start).await;
    assert_eq!(events.iter().map(amount).collect::<Vec<_>>(), vec![100]);
}
