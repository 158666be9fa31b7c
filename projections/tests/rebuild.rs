//! Rebuilding a projection into fresh tables and swapping them in, on the
//! real Postgres: the result is a fresh replay whatever the live tables
//! held, a stopped rebuild goes on where it stopped, and a rebuild under
//! load loses nothing while the live runner and readers go on.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{snapshot, wait_projected, Projector, Wallets};
use ledger::store::PgEventStore;
use projections::rebuild::{Ended, Rebuilt, Start};
use projections::{
    Balances, Error, Projection, ProjectionsConfig, Rebuild, RebuildOptions, Runner, Statements,
    Step,
};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};

const STEPS_MAX: usize = 100_000;

fn projector(pool: &PgPool) -> Projector {
    Projector::new(
        pool,
        ProjectionsConfig {
            batch_events_max: 100,
            poll_interval_ms: 20,
            ..Default::default()
        },
    )
}

async fn drive_to_idle(projector: &Projector) {
    for _ in 0..STEPS_MAX {
        if projector.step().await.expect("step") == Step::Idle {
            return;
        }
    }
    panic!("not idle after {STEPS_MAX} steps");
}

fn options(start: Start, batch_events_max: usize) -> RebuildOptions {
    RebuildOptions {
        start,
        batch_events_max,
        ..RebuildOptions::default()
    }
}

/// A pool of `connections` of its own on the test's database, as another
/// process would have.
async fn own_pool(pool: &PgPool, connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(connections)
        .connect_with((*pool.connect_options()).clone())
        .await
        .expect("connect")
}

/// A rebuild with a pool of its own, as `replay-tools rebuild` has: the
/// swap reads the log while it holds the lock live runners wait on, so it
/// must not wait for one of their connections.
async fn start<P: Projection>(
    pool: &PgPool,
    projection: P,
    options: RebuildOptions,
) -> Result<Rebuild<PgEventStore, P>, Error> {
    let own = own_pool(pool, 4).await;
    Rebuild::start(PgEventStore::new(own.clone()), own, projection, options).await
}

async fn rebuild<P: Projection>(pool: &PgPool, projection: P, options: RebuildOptions) -> Rebuilt {
    start(pool, projection, options)
        .await
        .expect("start the rebuild")
        .run(|_| {})
        .await
        .expect("rebuild")
}

/// What a rebuild must leave as it found it: index names, owners and grants
/// of the read models, and no schema or checkpoint of its own.
async fn catalog(pool: &PgPool) -> serde_json::Value {
    sqlx::query(
        "SELECT json_build_object(
             'indexes', (SELECT json_agg(tablename || ' ' || indexname ORDER BY tablename, indexname)
                         FROM pg_indexes WHERE schemaname = 'public'
                           AND tablename IN ('account_balances', 'account_statement')),
             'owners', (SELECT json_agg(tablename || ' ' || tableowner ORDER BY tablename)
                        FROM pg_tables WHERE schemaname = 'public'
                          AND tablename IN ('account_balances', 'account_statement')),
             'grants', (SELECT json_agg(table_name || ' ' || grantee || ' ' || privilege_type
                                        ORDER BY table_name, grantee, privilege_type)
                        FROM information_schema.role_table_grants
                        WHERE table_schema = 'public'
                          AND table_name IN ('account_balances', 'account_statement')),
             'schemas', (SELECT json_agg(nspname ORDER BY nspname) FROM pg_namespace
                         WHERE nspname LIKE 'rebuild\\_%' OR nspname LIKE 'retired\\_%'),
             'checkpoints', (SELECT json_agg(name ORDER BY name) FROM projection_checkpoints),
             'collations', (SELECT json_agg(table_name || '.' || column_name || ' '
                                            || coalesce(collation_name, 'default')
                                            ORDER BY table_name, column_name)
                            FROM information_schema.columns
                            WHERE table_schema = 'public' AND data_type = 'text'
                              AND table_name IN ('account_balances', 'account_statement')))",
    )
    .fetch_one(pool)
    .await
    .expect("catalog")
    .get(0)
}

/// The read models as a replay from 0 into emptied tables makes them.
async fn fresh_replay(pool: &PgPool) -> serde_json::Value {
    sqlx::query("TRUNCATE account_balances, account_statement, projection_checkpoints")
        .execute(pool)
        .await
        .expect("truncate");
    drive_to_idle(&projector(pool)).await;
    snapshot(pool).await
}

async fn checkpoint_of(pool: &PgPool, name: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT position FROM projection_checkpoints WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .expect("checkpoint")
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_rebuild_replaces_a_damaged_read_model_with_a_fresh_replay(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    let last = wallets.busy_log(8, 5).await;
    let live = projector(&pool);
    drive_to_idle(&live).await;
    let before = snapshot(&pool).await;
    // An index beside the primary key, as an operator may add one: the
    // copy's index must come back under this name.
    sqlx::query("CREATE INDEX statement_by_code ON account_statement (code, position)")
        .execute(&pool)
        .await
        .expect("an index of the operator's");
    let catalog_before = catalog(&pool).await;
    assert!(
        catalog_before["indexes"]
            .to_string()
            .contains("account_statement statement_by_code"),
        "{catalog_before}"
    );
    // The keys compare byte by byte (migration 0012); the swapped-in copies
    // must keep that, which the catalog comparison below checks.
    let collations = catalog_before["collations"].to_string();
    for key in [
        "account_balances.account_id C",
        "account_statement.account_id C",
    ] {
        assert!(collations.contains(key), "{key} in {collations}");
    }

    sqlx::query("DELETE FROM account_balances WHERE account_id = 'player-3'")
        .execute(&pool)
        .await
        .expect("delete a balance");
    sqlx::query(
        "UPDATE account_statement SET amount = amount + 1
         WHERE position = (SELECT min(position) FROM account_statement)",
    )
    .execute(&pool)
    .await
    .expect("change a line");
    assert_ne!(snapshot(&pool).await, before);

    let balances = rebuild(&pool, Balances, options(Start::Resume, 7)).await;
    assert_eq!(balances.ended, Ended::Swapped);
    assert_eq!((balances.resumed_from, balances.position), (0, last));
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(balances.events, u64::try_from(events).expect("count"));
    let statements = rebuild(&pool, Statements, options(Start::Resume, 11)).await;
    assert_eq!(statements.ended, Ended::Swapped);

    assert_eq!(snapshot(&pool).await, before);
    assert_eq!(catalog(&pool).await, catalog_before);
    let app_may: (bool, bool) = sqlx::query_as(
        "SELECT has_table_privilege('betledger_app', 'account_balances', 'SELECT, INSERT, UPDATE'),
                has_table_privilege('betledger_app', 'account_balances', 'DELETE')",
    )
    .fetch_one(&pool)
    .await
    .expect("privileges");
    assert_eq!(
        app_may,
        (true, false),
        "the app role keeps exactly its grants"
    );

    // The live runners go on in the swapped-in tables, through the very
    // statements they prepared against the old ones.
    wallets.deposit("player-3", 4_321);
    wallets.flush().await;
    drive_to_idle(&live).await;
    let after = snapshot(&pool).await;
    assert_eq!(fresh_replay(&pool).await, after);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_stopped_rebuild_goes_on_where_it_stopped(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.busy_log(6, 6).await;
    let live = projector(&pool);
    drive_to_idle(&live).await;
    let before = snapshot(&pool).await;

    let stopped = rebuild(
        &pool,
        Balances,
        RebuildOptions {
            stop_after_events: Some(25),
            ..options(Start::Resume, 10)
        },
    )
    .await;
    assert_eq!(stopped.ended, Ended::Paused);
    assert_eq!(stopped.events, 30, "whole batches of 10, at least 25");
    assert_eq!(
        checkpoint_of(&pool, "balances@rebuild").await,
        Some(stopped.position)
    );
    assert_eq!(
        snapshot(&pool).await,
        before,
        "the live tables are untouched"
    );

    // The log grows while the rebuild is stopped.
    wallets.deposit("player-1", 777);
    wallets.withdraw("player-2", 55);
    let last = wallets.flush().await;
    drive_to_idle(&live).await;

    let resumed = rebuild(&pool, Balances, options(Start::Resume, 10)).await;
    assert_eq!(resumed.ended, Ended::Swapped);
    assert_eq!(resumed.resumed_from, stopped.position);
    assert_eq!(resumed.position, last);
    assert_eq!(checkpoint_of(&pool, "balances@rebuild").await, None);
    let after = snapshot(&pool).await;
    assert_eq!(fresh_replay(&pool).await, after);

    // Starting over drops what a stopped run left.
    let stopped = rebuild(
        &pool,
        Statements,
        RebuildOptions {
            stop_after_events: Some(1),
            ..options(Start::Resume, 10)
        },
    )
    .await;
    assert!(stopped.position > 0);
    let over = rebuild(&pool, Statements, options(Start::Over, 10)).await;
    assert_eq!((over.ended, over.resumed_from), (Ended::Swapped, 0));
    assert_eq!(snapshot(&pool).await, after);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn one_rebuild_of_a_projection_at_a_time(pool: PgPool) {
    Wallets::new(&pool).busy_log(2, 1).await;
    let first = start(&pool, Balances, RebuildOptions::default())
        .await
        .expect("first");
    match start(&pool, Balances, RebuildOptions::default()).await {
        Err(Error::Rebuild { problem, .. }) => {
            assert!(problem.contains("another rebuild"), "{problem}")
        }
        other => panic!("a second rebuild started: {:?}", other.map(|_| ())),
    }
    // Another projection's rebuild is independent.
    let statements = start(&pool, Statements, RebuildOptions::default())
        .await
        .expect("statements");
    assert_eq!(
        statements.run(|_| {}).await.expect("run").ended,
        Ended::Swapped
    );
    assert_eq!(first.run(|_| {}).await.expect("run").ended, Ended::Swapped);
    // The lock went with the first rebuild's end.
    rebuild(&pool, Balances, RebuildOptions::default()).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_rebuild_does_not_swap_in_tables_of_another_shape(pool: PgPool) {
    Wallets::new(&pool).busy_log(4, 3).await;
    let stopped = rebuild(
        &pool,
        Balances,
        RebuildOptions {
            stop_after_events: Some(1),
            ..options(Start::Resume, 5)
        },
    )
    .await;
    assert_eq!(stopped.ended, Ended::Paused);

    // A migration lands while the rebuild is stopped.
    sqlx::query("ALTER TABLE account_balances ADD COLUMN note text")
        .execute(&pool)
        .await
        .expect("alter");
    match start(&pool, Balances, RebuildOptions::default()).await {
        Err(Error::Rebuild { problem, .. }) => {
            assert!(
                problem.contains("changed since the rebuild began"),
                "{problem}"
            )
        }
        other => panic!("resumed a stale rebuild: {:?}", other.map(|_| ())),
    }
    let over = rebuild(&pool, Balances, options(Start::Over, 5)).await;
    assert_eq!(over.ended, Ended::Swapped);
    let note: Option<String> = sqlx::query_scalar("SELECT note FROM account_balances LIMIT 1")
        .fetch_one(&pool)
        .await
        .expect("the new column is there");
    assert_eq!(note, None);
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_view_on_a_projection_table_blocks_its_rebuild(pool: PgPool) {
    sqlx::query("CREATE VIEW rich AS SELECT account_id FROM account_balances WHERE balance > 0")
        .execute(&pool)
        .await
        .expect("view");
    match start(&pool, Balances, RebuildOptions::default()).await {
        Err(Error::Rebuild { problem, .. }) => {
            assert!(problem.contains("view or rule rich"), "{problem}")
        }
        other => panic!(
            "a rebuild would have dropped the view: {:?}",
            other.map(|_| ())
        ),
    }
}

/// Appends wallet commands on its own wallets until `stop`; returns the
/// commands it appended. Each flush panics on any failure.
async fn load(pool: PgPool, name: String, stop: Arc<AtomicBool>) -> u64 {
    let mut wallets = Wallets::named(&pool, &name);
    let accounts: Vec<String> = (0..4).map(|i| format!("{name}-{i}")).collect();
    for account in &accounts {
        wallets.open(account, "EUR", 1_000);
    }
    wallets.flush().await;
    let mut commands = accounts.len() as u64;
    // Bounded, in case the rebuild never ends: the test fails instead.
    for round in 0..10_000i64 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        for account in &accounts {
            wallets.deposit(account, 100 + round % 7);
            let hold = wallets.place_hold(account, 50);
            if round % 2 == 0 {
                wallets.post_hold(account, hold);
            } else {
                wallets.void_hold(account, hold);
            }
            wallets.withdraw(account, 20);
            commands += 4;
        }
        wallets.flush().await;
    }
    commands
}

/// Reads the live balances until `stop`, through the pool's cached
/// statements; every read must see the books balance. Returns the reads.
async fn read_balances(pool: PgPool, stop: Arc<AtomicBool>) -> u64 {
    let mut reads = 0;
    while !stop.load(Ordering::Relaxed) {
        let unbalanced: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT currency FROM account_balances GROUP BY currency
                                   HAVING sum(balance) <> 0) u",
        )
        .fetch_one(&pool)
        .await
        .expect("read the live balances");
        assert_eq!(unbalanced, 0, "a reader saw the books unbalanced");
        reads += 1;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    reads
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_rebuild_under_load_loses_nothing(pool: PgPool) {
    Wallets::new(&pool).busy_log(10, 8).await;
    // Each part has a pool of its own, as each would be its own process.
    let live = Arc::new(projector(&own_pool(&pool, 10).await));
    let (stop_live, live_stopped) = tokio::sync::oneshot::channel::<()>();
    let live_task = {
        let live = live.clone();
        tokio::spawn(async move {
            live.run(async {
                let _ = live_stopped.await;
            })
            .await
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = (0..3)
        .map(|t| tokio::spawn(load(pool.clone(), format!("load{t}"), stop.clone())))
        .collect();
    let reader = tokio::spawn(read_balances(own_pool(&pool, 1).await, stop.clone()));

    let head_before: i64 = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(&pool)
        .await
        .expect("head");
    let balances = rebuild(&pool, Balances, options(Start::Resume, 50)).await;
    let statements = rebuild(&pool, Statements, options(Start::Resume, 50)).await;
    assert_eq!(
        (balances.ended, statements.ended),
        (Ended::Swapped, Ended::Swapped)
    );
    assert!(
        statements.position > head_before,
        "the load wrote during the rebuilds ({} > {head_before})",
        statements.position
    );

    stop.store(true, Ordering::Relaxed);
    let mut commands = 0;
    for load in loads {
        commands += load.await.expect("no command failed");
    }
    assert!(reader.await.expect("every read succeeded") > 0);
    assert!(commands > 0);
    let last: i64 = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(&pool)
        .await
        .expect("last");
    let deadline = Instant::now() + Duration::from_secs(30);
    wait_projected(&pool, last, deadline - Instant::now())
        .await
        .expect("the live runners go on after the swaps");
    let _ = stop_live.send(());
    live_task.await.expect("live runners");

    let live_rows = snapshot(&pool).await;
    assert_eq!(fresh_replay(&pool).await, live_rows);
    assert_eq!(
        catalog(&pool).await["schemas"],
        serde_json::Value::Null,
        "nothing left behind"
    );
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_runner_of_the_rebuilt_projection_is_a_plain_runner(pool: PgPool) {
    // The rebuild leaves no trace a later plain replay would trip on.
    Wallets::new(&pool).busy_log(3, 2).await;
    rebuild(&pool, Balances, RebuildOptions::default()).await;
    let runner = Runner::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        Balances,
        ProjectionsConfig::default(),
    )
    .expect("runner");
    assert_eq!(runner.step().await.expect("step"), Step::Idle);
}
