//! Connecting to the event store, and the one read-only snapshot that a
//! report reads whole.

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::Error;

/// Most connections a subcommand holds: a snapshot or a write transaction,
/// and for `tail` a LISTEN besides the reads.
const CONNECTIONS_MAX: u32 = 3;

pub async fn connect(database_url: &str) -> Result<PgPool, Error> {
    connect_with(database_url, CONNECTIONS_MAX).await
}

/// A pool of `connections`, for work that needs more than a report does.
pub async fn connect_with(database_url: &str, connections: u32) -> Result<PgPool, Error> {
    PgPoolOptions::new()
        .max_connections(connections)
        .connect(database_url)
        .await
        .map_err(Error::Connect)
}

/// A REPEATABLE READ, READ ONLY transaction: every query in it sees the
/// same committed log, so a report is consistent while appends go on. It
/// takes no transaction id, so it does not hold back gap-safe readers
/// (ADR 0002) however long it lasts.
pub async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(include_str!("db/snapshot.sql"))
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}
