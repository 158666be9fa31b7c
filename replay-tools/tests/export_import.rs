//! `export` and `import`: a log goes out and comes back byte for byte, and
//! a file that does not verify, or a store that is not empty, is refused
//! with nothing written.

mod common;

use common::{run_err, run_ok, Copy};
use ledger::store::NewEvent;
use ledger::testkit::{database_url, Wallets};
use sqlx::PgPool;

/// A log with every wallet event, interleaved streams, two currencies, and
/// an event of another kind with metadata and awkward JSON.
async fn some_log(pool: &PgPool) -> Wallets {
    let mut wallets = Wallets::new(pool);
    wallets.busy_log(4, 2).await;
    let mut odd = NewEvent::new(
        "note_taken",
        3,
        serde_json::json!({"text": "ça va? \"quoted\"\n", "ratio": 0.1, "big": 12345678901234_i64,
                           "nested": {"z": [1, {"b": null, "a": true}], "a": -1.5e-7}}),
    );
    odd.metadata = serde_json::json!({"actor": "ops", "correlation_id": "c-1"});
    wallets.append_raw("notes-1", vec![odd]).await;
    wallets
}

async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn export_then_import_then_export_is_byte_exact(pool: PgPool) {
    let wallets = some_log(&pool).await;
    let last = wallets.last_position;
    let source = database_url(&pool);
    let exported = run_ok(&source, &["export"]);
    let lines = exported
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(
        i64::try_from(lines).expect("lines"),
        event_count(&pool).await
    );

    let file = std::env::temp_dir().join(format!("replay-tools-{}.ndjson", std::process::id()));
    std::fs::write(&file, &exported).expect("write export");
    let copy = Copy::create(&pool).await;
    let imported = run_ok(
        &copy.url,
        &[
            "import",
            file.to_str().expect("path"),
            "--batch-events-max",
            "7",
        ],
    );
    let imported = String::from_utf8_lossy(&imported);
    assert!(
        imported.contains(&format!("up to position {last}")),
        "{imported}"
    );

    let again = run_ok(&copy.url, &["export"]);
    assert!(
        exported == again,
        "the second export differs from the first"
    );
    run_ok(&copy.url, &["verify"]);

    // The copy goes on from where the source stopped.
    let mut more = Wallets::new(&copy.pool);
    more.open("newcomer", "EUR", 0);
    assert!(more.flush().await > last);

    // A range is the same lines as the whole export.
    let whole = String::from_utf8(exported).expect("utf-8");
    let middle: Vec<&str> = whole
        .lines()
        .filter(|l| {
            let p = serde_json::from_str::<serde_json::Value>(l).expect("line")["global_position"]
                .as_i64()
                .expect("position");
            (3..=9).contains(&p)
        })
        .collect();
    let range = run_ok(&source, &["export", "--from", "3", "--to", "9"]);
    assert_eq!(
        String::from_utf8(range).expect("utf-8"),
        middle.join("\n") + "\n"
    );

    std::fs::remove_file(&file).ok();
    copy.drop().await;
    drop(wallets);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn import_refuses_a_tampered_file_and_writes_nothing(pool: PgPool) {
    some_log(&pool).await;
    let exported = String::from_utf8(run_ok(&database_url(&pool), &["export"])).expect("utf-8");
    let mut lines: Vec<serde_json::Value> = exported
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    // The fifth event is a deposit (busy_log: opens first, then deposits):
    // give it more money without fixing the hash.
    let tampered = 5;
    assert_eq!(lines[tampered - 1]["event_type"], "funds_deposited");
    lines[tampered - 1]["payload"]["transfer"]["amount"] = serde_json::json!(1_000_000);
    let position = lines[tampered - 1]["global_position"].clone();
    let stream = lines[tampered - 1]["stream_id"]
        .as_str()
        .expect("stream")
        .to_owned();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let file = std::env::temp_dir().join(format!("replay-tools-t-{}.ndjson", std::process::id()));
    std::fs::write(&file, text).expect("write");

    let copy = Copy::create(&pool).await;
    let stderr = run_err(&copy.url, &["import", file.to_str().expect("path")]);
    assert!(
        stderr.contains(&format!("line {tampered}, event {position} ({stream} v2)")),
        "{stderr}"
    );
    assert!(stderr.contains("does not match its hash"), "{stderr}");
    assert_eq!(event_count(&copy.pool).await, 0);

    // A line that is not an event at all is named too.
    std::fs::write(
        &file,
        format!("{}\nnot json\n", exported.lines().next().expect("line")),
    )
    .expect("write");
    let stderr = run_err(&copy.url, &["import", file.to_str().expect("path")]);
    assert!(stderr.contains("line 2: not an exported event"), "{stderr}");
    assert_eq!(event_count(&copy.pool).await, 0);

    // Nothing was written, so the sequence was not moved either.
    let mut fresh = Wallets::new(&copy.pool);
    fresh.open("first", "EUR", 0);
    assert_eq!(fresh.flush().await, 1);

    std::fs::remove_file(&file).ok();
    copy.drop().await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn import_refuses_a_store_that_has_events(pool: PgPool) {
    some_log(&pool).await;
    let url = database_url(&pool);
    let before = event_count(&pool).await;
    let file = std::env::temp_dir().join(format!("replay-tools-n-{}.ndjson", std::process::id()));
    std::fs::write(&file, run_ok(&url, &["export"])).expect("write");
    let stderr = run_err(&url, &["import", file.to_str().expect("path")]);
    assert!(
        stderr.contains("import writes only into an empty store"),
        "{stderr}"
    );
    assert_eq!(event_count(&pool).await, before);
    std::fs::remove_file(&file).ok();
}
