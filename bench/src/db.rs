//! The harness's own databases: dropped and created afresh for each run,
//! never one that it did not name for itself.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

/// Longest wait for a connection, in seconds.
const CONNECT_TIMEOUT_S: u64 = 10;

/// Parts of a database name that mark it as the harness's to drop.
const DISPOSABLE_MARKS: [&str; 3] = ["bench", "baseline", "replay"];

/// The database a URL names, checked to be one the harness may drop and
/// create: a plain identifier containing "bench", "baseline" or "replay".
pub fn disposable_name(options: &PgConnectOptions) -> anyhow::Result<String> {
    let name = options
        .get_database()
        .context("the database URL names no database")?;
    let plain = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    anyhow::ensure!(
        plain && DISPOSABLE_MARKS.iter().any(|m| name.contains(m)),
        "refusing to drop and create database {name:?}: the harness only recreates \
         databases of lowercase letters, digits and '_' whose name contains one of {DISPOSABLE_MARKS:?}"
    );
    Ok(name.to_owned())
}

pub fn options(url: &str) -> anyhow::Result<PgConnectOptions> {
    PgConnectOptions::from_str(url).with_context(|| format!("{url:?} is not a Postgres URL"))
}

/// Drops (closing its sessions) and creates the database `options` names.
pub async fn recreate(options: &PgConnectOptions) -> anyhow::Result<()> {
    let name = disposable_name(options)?;
    let admin = options.clone().database("postgres");
    let mut conn = tokio::time::timeout(
        Duration::from_secs(CONNECT_TIMEOUT_S),
        PgConnection::connect_with(&admin),
    )
    .await
    .context("connecting to Postgres timed out")?
    .context("connecting to the `postgres` database")?;
    // The name was checked to be a plain identifier, so quoting it is safe.
    let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop))
        .execute(&mut conn)
        .await
        .with_context(|| format!("dropping database {name}"))?;
    let create = format!("CREATE DATABASE \"{name}\"");
    sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&mut conn)
        .await
        .with_context(|| format!("creating database {name}"))?;
    conn.close().await.ok();
    Ok(())
}

pub async fn pool(options: &PgConnectOptions, connections: u32) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(Duration::from_secs(CONNECT_TIMEOUT_S))
        .connect_with(options.clone())
        .await
        .context("connecting to Postgres")
}

/// The settings that decide whether a commit is durable, and the ones that
/// size the server, as the server reports them.
pub async fn settings(pool: &PgPool) -> anyhow::Result<Vec<(String, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, setting || coalesce(' ' || unit, '') FROM pg_settings \
         WHERE name IN ('fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', \
                        'max_connections', 'shared_buffers', 'commit_delay', 'server_version') \
         ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .context("reading pg_settings")?;
    Ok(rows)
}

/// Refuses to measure anything with durability turned off: such numbers
/// are not numbers for a ledger.
pub fn check_durable(settings: &[(String, String)]) -> anyhow::Result<()> {
    for name in ["fsync", "synchronous_commit"] {
        let value = settings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str());
        anyhow::ensure!(
            value == Some("on"),
            "{name} is {value:?}, not on: the benchmark measures durable commits only"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_harness_databases_may_be_recreated() {
        let name = |url: &str| options(url).ok().and_then(|o| disposable_name(&o).ok());
        assert_eq!(
            name("postgres://postgres@127.0.0.1:5432/betledger_bench"),
            Some("betledger_bench".into())
        );
        assert_eq!(
            name("postgres://postgres@127.0.0.1/betledger_replay"),
            Some("betledger_replay".into())
        );
        for bad in [
            "postgres://postgres@127.0.0.1:5432/betledger",
            "postgres://postgres@127.0.0.1:5432/betledger_test",
            "postgres://postgres@127.0.0.1:5432/Bench\"; drop",
        ] {
            assert_eq!(name(bad), None, "{bad:?} accepted");
        }
    }

    #[test]
    fn durability_must_be_on() {
        let on = |fsync: &str| {
            vec![
                ("fsync".to_owned(), fsync.to_owned()),
                ("synchronous_commit".to_owned(), "on".to_owned()),
            ]
        };
        assert!(check_durable(&on("on")).is_ok());
        assert!(check_durable(&on("off")).is_err());
        assert!(check_durable(&[]).is_err());
    }
}
