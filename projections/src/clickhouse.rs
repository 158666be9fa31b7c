//! The ClickHouse analytics projection (docs/analytics.md): facts derived
//! from the event log, written to ClickHouse in batches, and the reports
//! analysts run over them.
//!
//! - [`facts`]: events → rows of `postings`, `bets`, `pool_entries` and
//!   the box office's `show_tiers`, `show_reservations` and `ticket_sales`
//!   (pure).
//! - [`sink`]: the runner that moves the `clickhouse` checkpoint: insert
//!   into ClickHouse first, then move the checkpoint in Postgres, so
//!   delivery is at-least-once and the tables' keys make it exactly-once
//!   in effect.
//! - [`reports`]: the SQL files of `schemas/clickhouse/reports/`, their
//!   parameters and their results.
//!
//! The sink does not hold a Postgres transaction while ClickHouse works: a
//! transaction that locks a row takes a transaction id, and a slow
//! ClickHouse would then hold back every gap-safe reader of the log
//! (ADR 0002), the Postgres projections included.

pub mod facts;
pub mod reports;
pub mod sink;

use std::future::Future;
use std::time::Duration;

use crate::Error;

pub use facts::Facts;
pub use reports::{ReportName, ReportParams, ReportTable};
pub use sink::{AnalyticsLag, ClickHouseSink, SINK_NAME};

/// The DDL of every table, in order; each statement is idempotent
/// (`CREATE ... IF NOT EXISTS`).
const SCHEMA: [(&str, &str); 6] = [
    (
        "0001_postings.sql",
        include_str!("../../schemas/clickhouse/0001_postings.sql"),
    ),
    (
        "0002_bets.sql",
        include_str!("../../schemas/clickhouse/0002_bets.sql"),
    ),
    (
        "0003_ticket_sales.sql",
        include_str!("../../schemas/clickhouse/0003_ticket_sales.sql"),
    ),
    (
        "0004_pool_entries.sql",
        include_str!("../../schemas/clickhouse/0004_pool_entries.sql"),
    ),
    (
        "0005_show_tiers.sql",
        include_str!("../../schemas/clickhouse/0005_show_tiers.sql"),
    ),
    (
        "0006_show_reservations.sql",
        include_str!("../../schemas/clickhouse/0006_show_reservations.sql"),
    ),
];

/// Longest database name accepted; ClickHouse names are file names.
const DATABASE_NAME_MAX: usize = 128;

/// Where ClickHouse is and how long a request may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickHouseConfig {
    /// HTTP URL of the server, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// The database holding the tables; created by [`Analytics::migrate`].
    pub database: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Longest a single request (an insert, a report) may take.
    pub request_timeout_ms: u64,
}

impl ClickHouseConfig {
    pub fn new(url: impl Into<String>, database: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            database: database.into(),
            user: None,
            password: None,
            request_timeout_ms: 30_000,
        }
    }
}

/// What `system.columns` says of `ticket_sales`: how many columns it has
/// (0: no such table) and whether one is `reservation_id`.
#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct TicketSalesShape {
    columns: u64,
    with_reservation_id: u64,
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct AccountSums {
    account: String,
    currency: String,
    posted: i64,
    pending: i64,
}

/// A handle on the analytics database. Cheap to clone.
#[derive(Clone)]
pub struct Analytics {
    client: clickhouse::Client,
    /// The same server without a database, for `CREATE DATABASE`.
    server: clickhouse::Client,
    database: String,
    timeout: Duration,
}

impl std::fmt::Debug for Analytics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analytics")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

impl Analytics {
    /// Refuses a database name that would need quoting: it is spliced into
    /// `CREATE DATABASE` (DDL takes no bound parameters).
    pub fn new(config: &ClickHouseConfig) -> Result<Self, Error> {
        let name = &config.database;
        let valid = !name.is_empty()
            && name.len() <= DATABASE_NAME_MAX
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(Error::Config(format!(
                "ClickHouse database name {name:?} must be 1 to {DATABASE_NAME_MAX} ASCII letters, digits or _, not starting with a digit"
            )));
        }
        if config.request_timeout_ms == 0 {
            return Err(Error::Config(
                "ClickHouse request_timeout_ms must be at least 1".to_owned(),
            ));
        }
        // Validation off: it asks for RowBinaryWithNamesAndTypes and
        // metadata that ClickHouse 18.16 cannot serve; plain RowBinary
        // works on every version, and the tests check the rows' shape.
        let mut server = clickhouse::Client::default()
            .with_url(config.url.clone())
            .with_validation(false);
        if let Some(user) = &config.user {
            server = server.with_user(user.clone());
        }
        if let Some(password) = &config.password {
            server = server.with_password(password.clone());
        }
        Ok(Self {
            client: server.clone().with_database(name.clone()),
            server,
            database: name.clone(),
            timeout: Duration::from_millis(config.request_timeout_ms),
        })
    }

    pub fn database(&self) -> &str {
        &self.database
    }

    pub(crate) fn client(&self) -> &clickhouse::Client {
        &self.client
    }

    /// Creates the database and every table unless they exist. A
    /// `ticket_sales` of the shape from before the box office was mapped
    /// (no `reservation_id`) is dropped first and made again: nothing ever
    /// wrote it, so no fact is lost, and `CREATE ... IF NOT EXISTS` alone
    /// would keep the old shape and every insert would fail. The facts of
    /// box-office events the sink has already passed are then missing;
    /// [`sink::migrate`] also sends the log again for them.
    pub async fn migrate(&self) -> Result<(), Error> {
        let create = format!("CREATE DATABASE IF NOT EXISTS {}", self.database);
        self.bounded("create database", self.server.query_raw(&create).execute())
            .await?;
        if self.ticket_sales_outdated().await? {
            tracing::warn!(
                database = %self.database,
                "dropping ticket_sales of the shape without reservation_id; it is created anew"
            );
            self.bounded(
                "drop old ticket_sales",
                self.client
                    .query_raw("DROP TABLE IF EXISTS ticket_sales")
                    .execute(),
            )
            .await?;
        }
        for (file, ddl) in SCHEMA {
            self.bounded(file, self.client.query_raw(ddl).execute())
                .await?;
        }
        Ok(())
    }

    /// True when `ticket_sales` exists in the shape from before the box
    /// office was mapped: without the `reservation_id` column.
    pub async fn ticket_sales_outdated(&self) -> Result<bool, Error> {
        let shape: TicketSalesShape = self
            .bounded(
                "ticket_sales shape",
                self.server
                    .query(
                        "SELECT toUInt64(count()) AS columns, \
                         toUInt64(countIf(name = 'reservation_id')) AS with_reservation_id \
                         FROM system.columns WHERE database = ? AND table = 'ticket_sales'",
                    )
                    .bind(self.database.as_str())
                    .fetch_one(),
            )
            .await?;
        Ok(shape.columns > 0 && shape.with_reservation_id == 0)
    }

    /// Drops the database with every fact in it (tests, and a reset before
    /// the projection is replayed from position 0).
    pub async fn drop_database(&self) -> Result<(), Error> {
        let drop = format!("DROP DATABASE IF EXISTS {}", self.database);
        self.bounded("drop database", self.server.query_raw(&drop).execute())
            .await
    }

    /// Answers `SELECT 1`.
    pub async fn ping(&self) -> Result<(), Error> {
        self.bounded("ping", self.server.query_raw("SELECT 1").execute())
            .await
    }

    /// Writes a batch's facts, table by table. A failure part-way leaves
    /// some rows written: the batch is sent again whole, and the tables'
    /// keys fold the repeats.
    pub async fn insert(&self, facts: &Facts) -> Result<(), Error> {
        self.insert_rows("postings", &facts.postings).await?;
        self.insert_rows("bets", &facts.bets).await?;
        self.insert_rows("pool_entries", &facts.pool_entries)
            .await?;
        // The dimensions before the tickets that reports join to them, so
        // that a reader never sees a ticket of this batch without its tier.
        self.insert_rows("show_tiers", &facts.show_tiers).await?;
        self.insert_rows("show_reservations", &facts.show_reservations)
            .await?;
        self.insert_rows("ticket_sales", &facts.ticket_sales).await
    }

    async fn insert_rows<T>(&self, table: &'static str, rows: &[T]) -> Result<(), Error>
    where
        T: clickhouse::RowOwned + clickhouse::RowWrite,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let client = &self.client;
        self.bounded(table, async move {
            let mut insert = client.insert::<T>(table).await?;
            for row in rows {
                insert.write(row).await?;
            }
            insert.end().await
        })
        .await
    }

    /// Every account's sums over the legs up to `position`: (account,
    /// currency, posted credits − debits, pending credits − debits), as
    /// `ledger::book::Totals` keeps them. For `replay-tools verify`.
    pub async fn account_sums(
        &self,
        position: i64,
    ) -> Result<Vec<(String, String, i64, i64)>, Error> {
        let rows: Vec<AccountSums> = self
            .bounded(
                "account sums",
                self.client
                    .query(include_str!("clickhouse/account_sums.sql"))
                    .bind(position)
                    .fetch_all(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.account, r.currency, r.posted, r.pending))
            .collect())
    }

    /// Runs a ClickHouse request, bounded by the request timeout.
    pub(crate) async fn bounded<T>(
        &self,
        what: &str,
        request: impl Future<Output = clickhouse::error::Result<T>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout(self.timeout, request).await {
            Ok(result) => result.map_err(|source| Error::ClickHouse {
                what: what.to_owned(),
                source,
            }),
            Err(_elapsed) => Err(Error::ClickHouseTimeout {
                what: what.to_owned(),
                timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            }),
        }
    }
}
