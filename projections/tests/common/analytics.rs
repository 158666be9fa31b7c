//! ClickHouse for the analytics tests: a database of the test's own on the
//! shared server (`CLICKHOUSE_URL`, default `http://127.0.0.1:8123`), named
//! after the test's Postgres database so that tests run in parallel; and
//! the sink over the test's store.

#![allow(dead_code)] // Each test file uses its own part.

use ledger::store::PgEventStore;
use projections::clickhouse::sink::SinkConfig;
use projections::clickhouse::{Analytics, ClickHouseConfig, ClickHouseSink};
use sqlx::PgPool;

pub fn clickhouse_url() -> String {
    std::env::var("CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_owned())
}

/// `bl_` and the test's Postgres database name (`_sqlx_test_N`).
pub fn database_for(pool: &PgPool) -> String {
    let name = pool
        .connect_options()
        .get_database()
        .expect("database name")
        .to_owned();
    format!("bl_{name}")
}

/// A fresh, migrated analytics database for the test on `url`.
pub async fn analytics_at(pool: &PgPool, url: &str) -> Analytics {
    let config = ClickHouseConfig {
        request_timeout_ms: 10_000,
        ..ClickHouseConfig::new(url, database_for(pool))
    };
    let analytics = Analytics::new(&config).expect("config");
    analytics.drop_database().await.expect("drop old database");
    analytics.migrate().await.expect("migrate");
    analytics
}

pub async fn analytics(pool: &PgPool) -> Analytics {
    analytics_at(pool, &clickhouse_url()).await
}

pub fn sink(
    pool: &PgPool,
    analytics: Analytics,
    batch_events_max: usize,
) -> ClickHouseSink<PgEventStore> {
    let config = SinkConfig {
        batch_events_max,
        poll_interval_ms: 50,
        retry_backoff_max_ms: 400,
    };
    ClickHouseSink::new(
        PgEventStore::new(pool.clone()),
        pool.clone(),
        analytics,
        config,
    )
    .expect("sink")
}
