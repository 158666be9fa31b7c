//! Connecting to the event store, and the one read-only snapshot that a
//! report reads whole.

use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::Error;

/// Most connections a subcommand holds: a snapshot or a write transaction,
/// and for `tail` a LISTEN besides the reads.
const CONNECTIONS_MAX: u32 = 3;

pub async fn connect(database_url: &str) -> Result<PgPool, Error> {
    PgPoolOptions::new()
        .max_connections(CONNECTIONS_MAX)
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
