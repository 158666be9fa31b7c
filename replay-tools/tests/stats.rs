//! `stats`: counts per type, streams, positions, sizes, projection lag.

mod common;

use common::{json, run_ok};
use ledger::testkit::{database_url, Wallets};
use sqlx::PgPool;

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn stats_counts_the_log_and_each_projections_lag(pool: PgPool) {
    let url = database_url(&pool);
    let empty = json(&run_ok(&url, &["stats", "--json"]));
    assert_eq!(empty["events"], 0);
    assert_eq!(empty["max_position"], serde_json::Value::Null);

    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    wallets.open("bob", "EUR", 0);
    wallets.deposit("alice", 100);
    wallets.deposit("alice", 200);
    wallets.deposit("bob", 300);
    wallets.place_hold("alice", 50);
    let last = wallets.flush().await;
    sqlx::query("INSERT INTO projection_checkpoints (name, position) VALUES ('balances', 2), ('statements', $1)")
        .bind(last)
        .execute(&pool)
        .await
        .expect("checkpoints");

    let stats = json(&run_ok(&url, &["stats", "--json"]));
    assert_eq!(stats["events"], 6);
    assert_eq!(stats["streams"], 2);
    assert_eq!(stats["max_position"], last);
    assert_eq!(
        stats["min_position"],
        last - 5,
        "one batch: contiguous positions"
    );
    let types: Vec<(String, i64)> = stats["event_types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| {
            (
                t["event_type"].as_str().expect("type").to_owned(),
                t["events"].as_i64().expect("n"),
            )
        })
        .collect();
    let expected = [
        ("account_opened", 2),
        ("funds_deposited", 3),
        ("hold_placed", 1),
    ];
    assert_eq!(types, expected.map(|(t, n)| (t.to_owned(), n)).to_vec());
    assert!(stats["events_bytes"].as_i64().expect("bytes") > 0);
    assert!(stats["commands_bytes"].as_i64().expect("bytes") > 0);
    let lags: Vec<(String, i64)> = stats["projections"]
        .as_array()
        .expect("projections")
        .iter()
        .map(|p| {
            (
                p["name"].as_str().expect("name").to_owned(),
                p["lag_positions"].as_i64().expect("lag"),
            )
        })
        .collect();
    assert_eq!(
        lags,
        vec![
            ("balances".to_owned(), last - 2),
            ("statements".to_owned(), 0)
        ]
    );

    let text = String::from_utf8(run_ok(&url, &["stats"])).expect("utf-8");
    assert!(
        text.contains(&format!(
            "events: 6 in 2 streams, positions {} to {last}",
            last - 5
        )),
        "{text}"
    );
}
