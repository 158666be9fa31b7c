//! `as-of`: an account at a past position or time, from the events alone,
//! for a wallet (its stream) and for system accounts (the whole log).

mod common;

use std::time::Duration;

use common::{json, run_err, run_ok};
use ledger::testkit::{database_url, Wallets};
use sqlx::PgPool;

fn as_of(url: &str, account: &str, moment: &[&str]) -> serde_json::Value {
    let mut args = vec!["as-of", "--account", account, "--json"];
    args.extend_from_slice(moment);
    json(&run_ok(url, &args))
}

/// The balance in `currency`: (posted, pending debits, pending credits, available).
fn balance(report: &serde_json::Value, currency: &str) -> (i64, i64, i64, i64) {
    let b = report["balances"]
        .as_array()
        .expect("balances")
        .iter()
        .find(|b| b["currency"] == currency)
        .unwrap_or_else(|| panic!("no {currency} balance in {report}"));
    let n = |field: &str| b[field].as_i64().expect("number");
    (
        n("posted"),
        n("pending_debits"),
        n("pending_credits"),
        n("available"),
    )
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn as_of_a_position_or_a_time_gives_the_balance_then(pool: PgPool) {
    let url = database_url(&pool);
    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 5_000);
    wallets.deposit("alice", 1_000);
    wallets.open("bob", "BRL", 0);
    wallets.deposit("bob", 300);
    let before = wallets.flush().await;
    // recorded_at is the writer's clock at the append: a time strictly
    // between the two appends names the first one.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let between = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(Duration::from_millis(20)).await;
    wallets.deposit("alice", 500);
    let hold = wallets.place_hold("alice", 200);
    wallets.deposit("bob", 50);
    let after = wallets.flush().await;

    let before_s = before.to_string();
    for moment in [
        ["--position", before_s.as_str()],
        ["--at", between.as_str()],
    ] {
        let alice = as_of(&url, "alice", &moment);
        assert_eq!(alice["position"], before, "{moment:?}");
        assert_eq!(balance(&alice, "EUR"), (1_000, 0, 0, 6_000), "{moment:?}");
        assert_eq!(alice["open_holds"].as_array().expect("holds").len(), 0);
        assert_eq!(alice["postings"].as_array().expect("postings").len(), 1);

        let cash = as_of(&url, "cash", &moment);
        assert_eq!(balance(&cash, "EUR"), (-1_000, 0, 0, -1_000), "{moment:?}");
        assert_eq!(balance(&cash, "BRL"), (-300, 0, 0, -300), "{moment:?}");
    }

    let alice = as_of(&url, "alice", &["--position", &after.to_string()]);
    assert_eq!(balance(&alice, "EUR"), (1_500, 200, 0, 6_300));
    assert_eq!(alice["wallet"]["credit_limit"], 5_000);
    assert_eq!(alice["wallet"]["version"], 4);
    let holds = alice["open_holds"].as_array().expect("holds");
    assert_eq!(holds.len(), 1);
    assert_eq!(holds[0]["hold_id"], hold.to_string());
    assert_eq!(holds[0]["amount"], -200);
    let postings: Vec<(String, i64)> = alice["postings"]
        .as_array()
        .expect("postings")
        .iter()
        .map(|p| {
            (
                p["event_type"].as_str().expect("type").to_owned(),
                p["amount"].as_i64().expect("amount"),
            )
        })
        .collect();
    let expected = [
        ("hold_placed", -200),
        ("funds_deposited", 500),
        ("funds_deposited", 1_000),
    ];
    assert_eq!(
        postings,
        expected.map(|(t, a)| (t.to_owned(), a)).to_vec(),
        "newest first"
    );
    let latest = as_of(
        &url,
        "alice",
        &["--position", &after.to_string(), "--postings", "1"],
    );
    assert_eq!(latest["postings"].as_array().expect("postings").len(), 1);

    let cash = as_of(&url, "cash", &["--position", &after.to_string()]);
    assert_eq!(balance(&cash, "EUR"), (-1_500, 0, 0, -1_500));
    assert_eq!(balance(&cash, "BRL"), (-350, 0, 0, -350));
    let house = as_of(&url, "house", &["--position", &after.to_string()]);
    assert_eq!(balance(&house, "EUR"), (0, 0, 200, 0));
    assert_eq!(house["open_holds"][0]["amount"], 200);

    let text = String::from_utf8(run_ok(
        &url,
        &[
            "as-of",
            "--account",
            "alice",
            "--position",
            &after.to_string(),
        ],
    ))
    .expect("utf-8");
    assert!(
        text.starts_with("alice: wallet in EUR, credit limit 5000, version 4"),
        "{text}"
    );
    assert!(
        text.contains("posted 1500, pending debits 200, pending credits 0, available 6300"),
        "{text}"
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn as_of_refuses_what_did_not_exist_then(pool: PgPool) {
    let url = database_url(&pool);
    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    let opened = wallets.flush().await;

    let stderr = run_err(
        &url,
        &[
            "as-of",
            "--account",
            "alice",
            "--position",
            &(opened - 1).to_string(),
        ],
    );
    assert!(
        stderr.contains(&format!(
            "account alice was not open at position {}",
            opened - 1
        )),
        "{stderr}"
    );
    let stderr = run_err(&url, &["as-of", "--account", "no such", "--position", "1"]);
    assert!(stderr.contains("invalid account id"), "{stderr}");
    let stderr = run_err(&url, &["as-of", "--account", "alice"]);
    assert!(
        stderr.contains("--at <AT>|--position <POSITION>"),
        "{stderr}"
    );

    // Before any transfer, a system account is simply empty.
    let cash = as_of(&url, "cash", &["--position", &opened.to_string()]);
    assert_eq!(cash["balances"].as_array().expect("balances").len(), 0);
}
