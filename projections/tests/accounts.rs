//! The `accounts` projection on the real Postgres: given wallet events made
//! by the real domain and store, the read model equals the audit book, and
//! it stays equal however the runner is stopped, restarted or replayed.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Wallets;
use common::{wait_projected, Projector};
use ledger::store::{AppendOutcome, EventStore, NewEvent, PgEventStore, StreamHead};
use ledger::{AccountId, StreamId};
use projections::{wait_for_position, Error, ProjectionsConfig, Step, CHECKPOINTS_CHANNEL};
use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};

/// Bounds every drive-to-idle loop, so a runner that never idles fails the
/// test instead of hanging it.
const STEPS_MAX: usize = 100_000;

fn runner(pool: &PgPool, batch_events_max: usize) -> Projector {
    let config = ProjectionsConfig {
        batch_events_max,
        poll_interval_ms: 20,
        ..Default::default()
    };
    Projector::new(pool, config)
}

/// Steps until idle; returns the number of events applied.
async fn drive_to_idle(runner: &Projector) -> usize {
    let mut applied = 0;
    for _ in 0..STEPS_MAX {
        match runner.step().await.expect("step") {
            Step::Worked { events, .. } => applied += events,
            Step::Idle => return applied,
        }
    }
    panic!("runner not idle after {STEPS_MAX} steps");
}

async fn checkpoint(pool: &PgPool) -> i64 {
    common::checkpoint(pool).await
}

async fn snapshot(pool: &PgPool) -> serde_json::Value {
    common::snapshot(pool).await
}

/// Empties the read models and the checkpoint, as a rebuild from 0 would
/// start. (The tests run as a superuser; the application's role cannot.)
async fn clear_read_models(pool: &PgPool) {
    sqlx::query("TRUNCATE account_balances, account_statement, projection_checkpoints")
        .execute(pool)
        .await
        .expect("truncate");
}

/// The read model equals the audit book account by account, each balance
/// equals what its statement adds up to, and every currency sums to zero.
async fn assert_matches_book(pool: &PgPool, wallets: &Wallets) {
    let rows = sqlx::query(
        "SELECT account_id, currency, credit_limit, posted_debits, posted_credits,
                pending_debits, pending_credits, balance, available, version
         FROM account_balances",
    )
    .fetch_all(pool)
    .await
    .expect("balances");
    let mut by_key: HashMap<(String, String), &sqlx::postgres::PgRow> = rows
        .iter()
        .map(|r| ((r.get("account_id"), r.get("currency")), r))
        .collect();
    let mut checked = 0;
    for ((account, currency), totals) in wallets.book.accounts() {
        let key = (account.to_string(), currency.to_string());
        let row = by_key
            .remove(&key)
            .unwrap_or_else(|| panic!("no read-model row for {key:?}"));
        let get = |column: &str| i128::from(row.get::<i64, _>(column));
        assert_eq!(get("posted_debits"), totals.posted_debits, "{key:?}");
        assert_eq!(get("posted_credits"), totals.posted_credits, "{key:?}");
        assert_eq!(get("pending_debits"), totals.pending_debits, "{key:?}");
        assert_eq!(get("pending_credits"), totals.pending_credits, "{key:?}");
        assert_eq!(get("balance"), totals.posted(), "{key:?}");
        let version: Option<i64> = row.get("version");
        if account.is_system() {
            assert_eq!(get("credit_limit"), 0, "{key:?}");
            assert_eq!(version, None, "{key:?}");
        } else {
            let limit = wallets.credit_limit(account.as_str());
            assert_eq!(get("credit_limit"), i128::from(limit), "{key:?}");
            assert_eq!(version, Some(wallets.version(account.as_str())), "{key:?}");
        }
        assert_eq!(
            get("available"),
            totals.posted() - totals.pending_debits + get("credit_limit"),
            "{key:?}"
        );
        checked += 1;
    }
    // Rows the book lacks can only be wallets opened without a transfer yet.
    for (key, row) in by_key {
        for column in [
            "posted_debits",
            "posted_credits",
            "pending_debits",
            "pending_credits",
        ] {
            assert_eq!(row.get::<i64, _>(column), 0, "{key:?} {column}");
        }
    }
    assert!(checked > 0, "the book is empty");
    assert!(wallets.book.is_balanced());

    let unbalanced: Vec<(String, i64, i64)> = sqlx::query(
        "SELECT currency, sum(balance)::int8, sum(pending_credits - pending_debits)::int8
         FROM account_balances GROUP BY currency
         HAVING sum(balance) <> 0 OR sum(pending_credits - pending_debits) <> 0",
    )
    .fetch_all(pool)
    .await
    .expect("sums")
    .iter()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .collect();
    assert_eq!(unbalanced, vec![], "Σ balances per currency must be 0");

    let disagreeing: Vec<String> = sqlx::query(
        "WITH s AS (
             SELECT account_id, currency,
                    coalesce(sum(amount) FILTER (WHERE phase IN ('posted', 'pending_posted')), 0)
                        AS balance,
                    coalesce(sum(amount) FILTER (WHERE amount < 0 AND phase = 'pending'), 0)
                    - coalesce(sum(amount) FILTER (WHERE amount < 0
                                                   AND phase IN ('pending_posted', 'pending_voided')), 0)
                        AS pending_debits_negated
             FROM account_statement GROUP BY account_id, currency)
         SELECT b.account_id FROM account_balances b
         LEFT JOIN s USING (account_id, currency)
         WHERE coalesce(s.balance, 0) <> b.balance
            OR coalesce(-s.pending_debits_negated, 0) <> b.pending_debits",
    )
    .fetch_all(pool)
    .await
    .expect("statement sums")
    .iter()
    .map(|r| r.get(0))
    .collect();
    assert_eq!(disagreeing, Vec::<String>::new(), "statements must add up");
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn read_model_equals_the_audit_book(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    wallets.open("bob", "EUR", 500);
    wallets.open("carol", "BRL", 0);
    wallets.flush().await;
    wallets.deposit("alice", 10_000);
    wallets.deposit("carol", 7_000);
    wallets.withdraw("bob", 400); // on credit
    wallets.flush().await;
    let stake = wallets.place_hold("alice", 2_500);
    let refunded = wallets.place_hold("alice", 1_000);
    wallets.place_hold("carol", 3_000); // never resolved
    wallets.flush().await;
    // An event of a type the projection does not know sits in the log.
    wallets
        .append_raw(
            "market-1",
            vec![NewEvent::new(
                "market_opened",
                1,
                serde_json::json!({ "id": 1 }),
            )],
        )
        .await;
    wallets.post_hold("alice", stake);
    wallets.void_hold("alice", refunded);
    wallets.withdraw("alice", 6_000);
    wallets.deposit("bob", 1_000);
    wallets.flush().await;
    wallets.withdraw("carol", 4_000);
    let last = wallets.flush().await;

    // A small batch, so openings, holds and their resolutions fall into
    // different batches.
    let applied = drive_to_idle(&runner(&pool, 3)).await;

    assert_eq!(applied, 15, "every event is read, the unknown one too");
    assert_eq!(checkpoint(&pool).await, last);
    assert_matches_book(&pool, &wallets).await;
    let carol: (i64, i64, i64) = sqlx::query(
        "SELECT balance, pending_debits, available FROM account_balances
         WHERE account_id = 'carol'",
    )
    .fetch_one(&pool)
    .await
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .expect("carol");
    assert_eq!(carol, (3_000, 3_000, 0), "carol's open bet is held");
    let alice_statement: Vec<(String, i64)> = sqlx::query(
        "SELECT phase, amount FROM account_statement WHERE account_id = 'alice' ORDER BY position",
    )
    .fetch_all(&pool)
    .await
    .expect("statement")
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect();
    assert_eq!(
        alice_statement,
        [
            ("posted", 10_000),
            ("pending", -2_500),
            ("pending", -1_000),
            ("pending_posted", -2_500),
            ("pending_voided", -1_000),
            ("posted", -6_000),
        ]
        .map(|(p, a)| (p.to_owned(), a))
    );
    let house: (String, i64, Option<String>) = sqlx::query(
        "SELECT counterparty, amount, description FROM account_statement
         WHERE account_id = 'house' AND phase = 'pending' ORDER BY position LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .map(|r| (r.get(0), r.get(1), r.get(2)))
    .expect("house");
    assert_eq!(house, ("alice".into(), 2_500, Some("bet stake".into())));
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn restart_anywhere_applies_every_event_once(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    // Long enough that four rounds of an eighth each, plus what a fast
    // runner applies between two looks at its checkpoint, still stop short
    // of the end (3,025 events did not, on a fast machine).
    let last = wallets.busy_log(25, 60).await;
    assert!(last >= 9_000, "several thousand events, got {last}");

    // Abort the runner several times mid-stream, wherever it is: between
    // steps, inside a transaction, during a read.
    let mut progress = 0;
    for round in 0..4 {
        let task_pool = pool.clone();
        let task = tokio::spawn(async move {
            runner(&task_pool, 37 + round)
                .run(std::future::pending())
                .await;
        });
        let target = progress + last / 8;
        let started = Instant::now();
        loop {
            let at = checkpoint(&pool).await;
            if at >= target || started.elapsed() > Duration::from_secs(30) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1 + round as u64)).await;
        }
        task.abort();
        let _ = task.await;
        let at = checkpoint(&pool).await;
        assert!(
            at > progress,
            "round {round} made progress: {at} > {progress}"
        );
        progress = at;
    }
    assert!(
        progress < last,
        "aborted before the end ({progress} of {last})"
    );

    drive_to_idle(&runner(&pool, 50)).await;
    assert_eq!(checkpoint(&pool).await, last);
    let restarted = snapshot(&pool).await;
    assert_matches_book(&pool, &wallets).await;

    // A fresh replay from 0 in other batches makes the very same rows.
    clear_read_models(&pool).await;
    drive_to_idle(&runner(&pool, 1000)).await;
    assert_eq!(snapshot(&pool).await, restarted);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn stepping_again_changes_nothing(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    let last = wallets.busy_log(5, 4).await;
    let runner = runner(&pool, 10);
    drive_to_idle(&runner).await;
    let applied = snapshot(&pool).await;

    assert_eq!(runner.step().await.expect("step"), Step::Idle);
    assert_eq!(drive_to_idle(&runner).await, 0);
    assert_eq!(snapshot(&pool).await, applied);

    // Even when the checkpoint is lost, to 0 or to the middle of a batch, a
    // replay in other batch sizes changes no row: every row remembers the
    // last event that changed it.
    for (reset_to, batch) in [(0, 7), (last / 2 + 3, 13), (last - 1, 1)] {
        sqlx::query("UPDATE projection_checkpoints SET position = $1")
            .bind(reset_to)
            .execute(&pool)
            .await
            .expect("reset");
        let replayed = drive_to_idle(&self::runner(&pool, batch)).await;
        assert!(replayed > 0);
        assert_eq!(
            snapshot(&pool).await,
            applied,
            "after a reset to {reset_to}"
        );
    }
    assert_matches_book(&pool, &wallets).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn concurrent_runners_take_turns(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.busy_log(10, 10).await;
    let (a, b) = (runner(&pool, 20), runner(&pool, 33));
    let (applied_a, applied_b) = tokio::join!(drive_to_idle(&a), drive_to_idle(&b));
    assert_eq!(
        i64::try_from(applied_a + applied_b).expect("count"),
        sqlx::query("SELECT count(*) FROM events")
            .fetch_one(&pool)
            .await
            .expect("count")
            .get::<i64, _>(0),
        "each event is applied by exactly one runner"
    );
    assert_matches_book(&pool, &wallets).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_wallet_event_that_cannot_be_decoded_stops_the_projection(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    wallets.deposit("alice", 100);
    let good = wallets.flush().await;
    wallets
        .append_raw(
            "account-mallory",
            vec![NewEvent::new(
                "funds_deposited",
                1,
                serde_json::json!({ "transfer": "not a transfer" }),
            )],
        )
        .await;

    let failed = runner(&pool, 100).step().await;

    assert!(
        matches!(&failed, Err(Error::Event { event_type, .. }) if event_type == "funds_deposited"),
        "{failed:?}"
    );
    assert_eq!(checkpoint(&pool).await, 0, "the whole batch rolled back");
    // A batch that ends before the bad event still goes through; the next
    // one stops at it again.
    let runner = runner(&pool, 2);
    assert_eq!(
        runner.step().await.expect("good batch"),
        Step::Worked {
            events: 2,
            position: good
        }
    );
    assert!(matches!(runner.step().await, Err(Error::Event { .. })));
    assert_eq!(checkpoint(&pool).await, good);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_step_announces_its_checkpoint(pool: PgPool) {
    let mut listener = PgListener::connect_with(&pool).await.expect("listener");
    listener.listen(CHECKPOINTS_CHANNEL).await.expect("listen");
    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    wallets.deposit("alice", 100);
    let last = wallets.flush().await;

    let step = runner(&pool, 100).step().await.expect("step");

    assert_eq!(
        step,
        Step::Worked {
            events: 2,
            position: last
        }
    );
    let notification = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("notified in time")
        .expect("notification");
    assert_eq!(notification.payload(), last.to_string());
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn an_idle_runner_wakes_on_new_events_and_stops_on_shutdown(pool: PgPool) {
    // A poll interval far longer than the test: only NOTIFY can wake it.
    let config = ProjectionsConfig {
        poll_interval_ms: 60_000,
        ..Default::default()
    };
    let runner = Projector::new(&pool, config);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    // Let it go idle (it creates its checkpoint on the first step).
    wait_for_checkpoint_row(&pool).await;

    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    wallets.deposit("alice", 100);
    let last = wallets.flush().await;

    wait_projected(&pool, last, Duration::from_secs(10))
        .await
        .expect("woken by NOTIFY well before the poll interval");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
}

async fn wait_for_checkpoint_row(pool: &PgPool) {
    for _ in 0..500 {
        // Both runners make their checkpoint on their first step.
        let exists: bool = sqlx::query(
            "SELECT count(*) = 2 FROM projection_checkpoints WHERE name IN ('balances', 'statements')",
        )
        .fetch_one(pool)
        .await
        .expect("exists")
        .get(0);
        if exists {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the runner never made its checkpoint");
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn wait_for_position_returns_when_reached_and_errs_when_behind(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    wallets.deposit("alice", 100);
    let last = wallets.flush().await;

    // Nothing projected yet: behind, after the timeout and not much later.
    let started = Instant::now();
    let behind = wait_for_position(
        &pool,
        projections::accounts::BALANCES,
        last,
        Duration::from_millis(150),
    )
    .await;
    let waited = started.elapsed();
    assert!(
        matches!(&behind, Err(Error::Behind { wanted, reached: 0, .. }) if *wanted == last),
        "{behind:?}"
    );
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(waited < Duration::from_secs(2), "{waited:?}");

    // Reached while waiting: a runner catches up concurrently.
    let runner = runner(&pool, 1);
    let (waited, applied) = tokio::join!(
        wait_projected(&pool, last, Duration::from_secs(10)),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drive_to_idle(&runner).await
        }
    );
    waited.expect("reached");
    assert_eq!(applied, 2);

    // Already reached: returns at once.
    let started = Instant::now();
    wait_projected(&pool, last, Duration::from_secs(10))
        .await
        .expect("reached");
    assert!(started.elapsed() < Duration::from_secs(1));
    // A position never written is still behind.
    assert!(matches!(
        wait_for_position(
            &pool,
            projections::accounts::BALANCES,
            last + 1,
            Duration::from_millis(20)
        )
        .await,
        Err(Error::Behind { .. })
    ));
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_hold_voided_that_was_never_placed_stops_the_projection(pool: PgPool) {
    use ledger::wallet::{HoldChanged, WalletEvent};
    use ledger::{Amount, Currency, HoldId, Transfer, TransferCode, TransferId};

    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    wallets.deposit("alice", 100);
    let good = wallets.flush().await;
    // Written past the domain, which would refuse it: the log is corrupt.
    let hold_id = HoldId::generate();
    let voided = WalletEvent::HoldVoided(HoldChanged {
        hold_id,
        transfer: Transfer {
            id: TransferId::from_uuid(hold_id.as_uuid()),
            debit: AccountId::parse("alice").expect("id"),
            credit: AccountId::house(),
            amount: Amount::new(40).expect("amount"),
            currency: Currency::parse("EUR").expect("currency"),
            code: TransferCode::Hold,
        },
        description: None,
    });
    let store = PgEventStore::new(pool.clone());
    let appended = store
        .append(
            StreamId::account(&AccountId::parse("alice").expect("id")),
            StreamHead {
                version: 2,
                hash: None,
            },
            vec![NewEvent::new(
                voided.event_type(),
                voided.schema_version(),
                voided.payload(),
            )],
            "corrupt-1".into(),
        )
        .await
        .expect("append");
    let AppendOutcome::Committed { last_positions, .. } = appended else {
        panic!("conflict");
    };
    let corrupt = last_positions[0].expect("position");
    assert!(corrupt > good);
    common::visible(&store, corrupt).await;
    let runner = runner(&pool, 100);

    let failed = runner.step().await;

    assert!(matches!(failed, Err(Error::Invariant(_))), "{failed:?}");
    assert_eq!(checkpoint(&pool).await, 0);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn spawn_runs_the_projections_until_shutdown(pool: PgPool) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    // Every runner holds up to four connections (see `spawn`): give them a
    // pool of the binary's default size, as `serve` does, rather than the
    // test's small one, which the test's own appends also draw from.
    let runners_pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(24)
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("connect");
    let handle = projections::spawn(
        PgEventStore::new(runners_pool),
        ProjectionsConfig::default(),
        async {
            let _ = stopped.await;
        },
    )
    .expect("spawn");
    let mut wallets = Wallets::new(&pool);
    wallets.open("alice", "EUR", 0);
    wallets.deposit("alice", 100);
    let last = wallets.flush().await;

    wait_projected(&pool, last, Duration::from_secs(10))
        .await
        .expect("projected");
    assert!(!handle.is_finished(), "runs until shutdown");
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("stops on shutdown")
        .expect("no panic");
    assert_matches_book(&pool, &wallets).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn spawn_refuses_an_invalid_config(pool: PgPool) {
    let config = ProjectionsConfig {
        batch_events_max: 0,
        ..Default::default()
    };
    let spawned = projections::spawn(PgEventStore::new(pool), config, std::future::pending());
    assert!(matches!(spawned, Err(Error::Config(_))));
}

/// Replay speed, for the record rather than as a gate (machines differ):
/// `cargo nextest run -p projections --run-ignored only --no-capture`.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
#[ignore = "a measurement, not a check"]
async fn replay_throughput(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    let last = wallets.busy_log(200, 40).await;
    let events: i64 = sqlx::query("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count")
        .get(0);

    for batch in [1_000, 5_000] {
        clear_read_models(&pool).await;
        let started = Instant::now();
        drive_to_idle(&runner(&pool, batch)).await;
        let seconds = started.elapsed().as_secs_f64();
        assert_eq!(checkpoint(&pool).await, last);
        println!(
            "batch {batch}: {events} events in {seconds:.2} s = {:.0} events/s",
            events as f64 / seconds
        );
    }
    assert_matches_book(&pool, &wallets).await;
}
