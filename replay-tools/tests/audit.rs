//! The audit tests of `verify` and `rebuild` on a real Postgres: a damaged
//! read model is named by `verify` and repaired by `rebuild`; a rebuild
//! stopped or killed goes on where it stopped; and a rebuild run while the
//! command API takes load leaves read models equal to a fresh replay, with
//! no command and no query failing.

mod common;

use std::time::Duration;

use common::{json, project, run, run_err, run_ok};
use ledger::testkit::{database_url, Wallets};
use sqlx::PgPool;

fn verify_ok(url: &str) -> String {
    String::from_utf8(run_ok(url, &["verify"])).expect("utf-8")
}

async fn exec(pool: &PgPool, sql: &'static str) {
    sqlx::query(sql).execute(pool).await.expect(sql);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn verify_names_the_damaged_account_and_rebuild_repairs_it(pool: PgPool) {
    let url = database_url(&pool);
    let mut wallets = Wallets::new(&pool);
    let last = wallets.busy_log(6, 3).await;
    project(&pool).await;
    let clean = verify_ok(&url);
    assert!(
        clean.contains(&format!("read model balances (account_balances) at position {last}: 10 accounts match the replay")),
        "6 wallets, cash and house in BRL and EUR: {clean}"
    );
    assert!(
        clean.contains(&format!(
            "read model statements (account_statement) at position {last}:"
        )),
        "{clean}"
    );

    // A balance row deleted.
    exec(
        &pool,
        "DELETE FROM account_balances WHERE account_id = 'player-2'",
    )
    .await;
    let stderr = run_err(&url, &["verify"]);
    assert!(
        stderr.contains(&format!("account_balances (balances) at position {last}: account player-2 EUR: missing from the read model")),
        "{stderr}"
    );
    let rebuilt = json(&run_ok(&url, &["rebuild", "balances", "--json"]));
    assert_eq!(rebuilt["ended"], "swapped");
    assert_eq!(rebuilt["position"], last);
    verify_ok(&url);

    // A sum changed.
    exec(&pool, "UPDATE account_balances SET posted_credits = posted_credits + 5 WHERE account_id = 'player-4'").await;
    let stderr = run_err(&url, &["verify"]);
    assert!(
        stderr.contains("account player-4 EUR: read model posted_credits"),
        "{stderr}"
    );
    run_ok(&url, &["rebuild", "balances"]);

    // A statement line deleted, another changed.
    let position: i64 = sqlx::query_scalar(
        "DELETE FROM account_statement WHERE account_id = 'player-1'
           AND position = (SELECT min(position) FROM account_statement WHERE account_id = 'player-1')
         RETURNING position",
    )
    .fetch_one(&pool)
    .await
    .expect("delete a line");
    exec(&pool, "UPDATE account_statement SET description = 'edited' WHERE account_id = 'player-5' AND code = 'deposit'").await;
    let stderr = run_err(&url, &["verify"]);
    assert!(
        stderr.contains(&format!(
            "account player-1 at position {position}: no line in the read model"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("rows differ"),
        "every difference is counted: {stderr}"
    );
    let text = String::from_utf8(run_ok(&url, &["rebuild", "statements"])).expect("utf-8");
    assert!(
        text.starts_with("rebuilt statements: ")
            && text.contains(&format!("swapped in at position {last}")),
        "{text}"
    );
    let clean = verify_ok(&url);
    assert!(clean.contains("events/s"), "{clean}");
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn verify_compares_each_read_model_at_its_own_checkpoint(pool: PgPool) {
    let url = database_url(&pool);
    let mut wallets = Wallets::new(&pool);
    wallets.busy_log(3, 2).await;
    project(&pool).await;
    // The log goes on; the projections have not seen it yet.
    wallets.deposit("player-0", 999);
    let last = wallets.flush().await;
    let report = json(&run_ok(&url, &["verify", "--json", "--every", "5"]));
    assert_eq!(report["last_position"], last);
    assert_eq!(report["read_models"][0]["position"], last - 1);
    assert_eq!(report["read_models"][0]["differing"], 0);
    assert_eq!(report["every"], 5);
    assert!(report["sum_checks"].as_u64().expect("checks") >= (last as u64 - 1) / 5 - 1);

    // A read model ahead of its own checkpoint is caught as well.
    exec(
        &pool,
        "UPDATE projection_checkpoints SET position = position - 1 WHERE name = 'statements'",
    )
    .await;
    let stderr = run_err(&url, &["verify"]);
    assert!(
        stderr.contains("a line the replay does not make"),
        "{stderr}"
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_stopped_rebuild_goes_on_and_restart_begins_again(pool: PgPool) {
    let url = database_url(&pool);
    let last = Wallets::new(&pool).busy_log(5, 4).await;
    project(&pool).await;
    let stopped = json(&run_ok(
        &url,
        &[
            "rebuild",
            "statements",
            "--batch-events-max",
            "10",
            "--stop-after-events",
            "25",
            "--json",
        ],
    ));
    assert_eq!(stopped["ended"], "paused");
    assert_eq!(stopped["events"], 30);
    let at = stopped["position"].as_i64().expect("position");
    assert!(at > 0 && at < last);
    verify_ok(&url);

    let text = String::from_utf8(run_ok(
        &url,
        &[
            "rebuild",
            "statements",
            "--stop-after-events",
            "1",
            "--batch-events-max",
            "3",
        ],
    ))
    .expect("utf-8");
    assert!(
        text.starts_with("stopped rebuilding statements at position ")
            && text.contains(": 3 events in ")
            && text.contains(&format!("resumed at position {at}")),
        "{text}"
    );
    let over = json(&run_ok(
        &url,
        &["rebuild", "statements", "--restart", "--json"],
    ));
    assert_eq!(
        (over["ended"].as_str(), over["resumed_from"].as_i64()),
        (Some("swapped"), Some(0))
    );
    verify_ok(&url);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_killed_rebuild_goes_on_where_it_stopped(pool: PgPool) {
    let url = database_url(&pool);
    let last = Wallets::new(&pool).busy_log(20, 12).await;
    project(&pool).await;
    // One event per transaction: slow enough to be killed half way.
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_replay-tools"))
        .args(["rebuild", "balances", "--batch-events-max", "1"])
        .env("DATABASE_URL", &url)
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start rebuild");
    let mut at = None;
    for _ in 0..3_000 {
        let position: Option<i64> = sqlx::query_scalar(
            "SELECT position FROM projection_checkpoints WHERE name = 'balances@rebuild'",
        )
        .fetch_optional(&pool)
        .await
        .expect("checkpoint");
        if position.is_some_and(|p| p > 50) {
            at = position;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().await.expect("kill");
    let at = at.expect("the rebuild got going");
    assert!(at < last, "killed before the end");

    let resumed = json(&run_ok(&url, &["rebuild", "balances", "--json"]));
    assert_eq!(resumed["ended"], "swapped");
    assert!(resumed["resumed_from"].as_i64().expect("from") >= at);
    assert_eq!(resumed["position"], last);
    verify_ok(&url);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn rebuild_is_refused_for_an_unknown_projection(pool: PgPool) {
    let url = database_url(&pool);
    let output = run(&url, &["rebuild", "bets"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("possible values: balances, statements, sportsbook"));
}
