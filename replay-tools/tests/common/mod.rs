//! What the CLI tests share: running the binary against a test's database,
//! and a second, empty database to import into.

#![allow(dead_code)] // Each test file uses its own part of this module.

use std::process::Output;

use ledger::store::PgEventStore;
use ledger::testkit::database_url;
use projections::{Balances, ProjectionsConfig, Runner, Statements, Step};
use sqlx::PgPool;

/// Runs `replay-tools ARGS` against the database at `url`.
pub fn run(url: &str, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_replay-tools"))
        .args(args)
        .env("DATABASE_URL", url)
        .output()
        .expect("run replay-tools")
}

/// Runs it and insists that it succeeds; returns standard output.
pub fn run_ok(url: &str, args: &[&str]) -> Vec<u8> {
    let output = run(url, args);
    assert!(
        output.status.success(),
        "replay-tools {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Runs it and insists that it fails; returns standard error.
pub fn run_err(url: &str, args: &[&str]) -> String {
    let output = run(url, args);
    assert!(
        !output.status.success(),
        "replay-tools {args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn json(stdout: &[u8]) -> serde_json::Value {
    serde_json::from_slice(stdout).expect("JSON output")
}

/// A migrated, empty database next to `pool`'s, named after it. Drop it
/// with [`Copy::drop`]; a test that panics leaves it behind until its next
/// run drops it first.
pub struct Copy {
    pub pool: PgPool,
    pub url: String,
    name: String,
    admin: PgPool,
}

impl Copy {
    pub async fn create(pool: &PgPool) -> Self {
        // sqlx::test names take all 63 bytes Postgres allows, so a suffix
        // would be cut off: keep the random tail and a prefix of our own.
        let test_db = pool
            .connect_options()
            .get_database()
            .expect("database name")
            .to_owned();
        let tail = &test_db[test_db.len().saturating_sub(50)..];
        let name = format!("copy_{tail}");
        let drop_sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        sqlx::query(sqlx::AssertSqlSafe(drop_sql))
            .execute(pool)
            .await
            .expect("drop old copy");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(pool)
            .await
            .expect("create copy");
        let (server, _) = database_url(pool)
            .rsplit_once('/')
            .map(|(s, d)| (s.to_owned(), d.to_owned()))
            .expect("url");
        let url = format!("{server}/{name}");
        let copy = PgPool::connect(&url).await.expect("connect to copy");
        ledger::store::MIGRATOR
            .run(&copy)
            .await
            .expect("migrate copy");
        Self {
            pool: copy,
            url,
            name,
            admin: pool.clone(),
        }
    }

    pub async fn drop(self) {
        self.pool.close().await;
        let drop_sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(drop_sql))
            .execute(&self.admin)
            .await
            .expect("drop copy");
    }
}

/// Steps both live projections until they have applied the whole log, as
/// `serve` would.
pub async fn project(pool: &PgPool) {
    let store = PgEventStore::new(pool.clone());
    let config = ProjectionsConfig::default();
    let balances =
        Runner::new(store.clone(), pool.clone(), Balances, config.clone()).expect("runner");
    let statements = Runner::new(store, pool.clone(), Statements, config).expect("runner");
    let head = log_head(pool).await;
    for _ in 0..10_000 {
        let b = balances.step().await.expect("balances");
        let s = statements.step().await.expect("statements");
        if (b, s) == (Step::Idle, Step::Idle)
            && caught_up(pool, &["balances", "statements"], head).await
        {
            return;
        }
        if (b, s) == (Step::Idle, Step::Idle) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    panic!("projections not caught up with the log");
}

/// The position of the log's last committed event.
pub async fn log_head(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT coalesce(max(global_position), 0)::int8 FROM events")
        .fetch_one(pool)
        .await
        .expect("log head")
}

/// Whether every named projection's checkpoint has reached `head`. A runner
/// that is idle may still be behind: its gap-safe reader stops below the
/// oldest transaction open anywhere in the cluster, and other tests'
/// databases share the cluster, so a test waits for the checkpoint.
pub async fn caught_up(pool: &PgPool, names: &[&str], head: i64) -> bool {
    let behind: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM unnest($1::text[]) AS n(name)
         LEFT JOIN projection_checkpoints c USING (name)
         WHERE coalesce(c.position, 0) < $2",
    )
    .bind(names)
    .bind(head)
    .fetch_one(pool)
    .await
    .expect("checkpoints");
    behind == 0
}
