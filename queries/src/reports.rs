//! The analysts' reports over ClickHouse (`reports`) and how far the
//! ClickHouse projection is behind the log (`analyticsLag`). Each report
//! runs its SQL file from `schemas/clickhouse/reports/` (docs/analytics.md);
//! this module only checks the arguments and shapes the result.

use async_graphql::{Context, Object, SimpleObject};
use chrono::{DateTime, Utc};
use projections::clickhouse::reports::{self, ReportName, ReportParams, ReportTable};
use projections::clickhouse::{Analytics, AnalyticsLag as Lag};

use crate::accounts::read_models;
use crate::QueryError;

/// Where the reports come from: the analytics database, or why there is
/// none (ClickHouse not configured, or its configuration refused).
#[derive(Clone)]
pub(crate) struct ReportsSource(pub(crate) Result<Analytics, String>);

/// The reports' half of the query root.
#[derive(Default)]
pub struct ReportsQuery;

#[Object]
impl ReportsQuery {
    /// The analysts' reports over ClickHouse, for events in [`from`, `to`)
    /// (UTC, whole seconds, 1970 to 2100). Each field runs one report;
    /// ask only for those you need. Fails with `analytics_unavailable`
    /// when ClickHouse is not configured or does not answer.
    async fn reports(
        &self,
        #[graphql(desc = "Start of the range (included).")] from: DateTime<Utc>,
        #[graphql(desc = "End of the range (excluded).")] to: DateTime<Utc>,
        #[graphql(desc = "Rows of `topAccounts`: 20 when omitted, 1 to 1000.")] limit: Option<i32>,
    ) -> async_graphql::Result<Reports> {
        let limit =
            match limit {
                None => None,
                Some(n) => Some(u32::try_from(n).map_err(|_| {
                    QueryError::invalid("limit", "must be 1 to 1000").into_graphql()
                })?),
            };
        // Checked once here, so that a bad range fails the field, not each report.
        ReportParams::new(ReportName::TopAccounts, from, to, limit)
            .map_err(|e| QueryError::from(e).into_graphql())?;
        Ok(Reports { from, to, limit })
    }

    /// How far the ClickHouse projection is behind the event log, and why
    /// it is stuck if it is (it retries by itself).
    async fn analytics_lag(&self, ctx: &Context<'_>) -> async_graphql::Result<AnalyticsLag> {
        async {
            let models = read_models(ctx)?;
            let lag = Lag::read(&models.pool).await?;
            Ok::<_, QueryError>(AnalyticsLag {
                position: lag.position,
                behind: lag.behind(),
                last_error: lag.last_error,
                failing_since: lag.failing_since,
                failures: lag.failures,
            })
        }
        .await
        .map_err(QueryError::into_graphql)
    }
}

/// Where the ClickHouse projection stands.
#[derive(SimpleObject)]
pub struct AnalyticsLag {
    /// The global position of the last event written to ClickHouse.
    pub position: i64,
    /// Events of the log after `position` (the newest one or two may be
    /// not yet readable, ADR 0002, so 1 or 2 can show while caught up).
    pub behind: i64,
    /// Why the last steps failed (ClickHouse down, say); null when healthy.
    pub last_error: Option<String>,
    /// When the current run of failures began; null when healthy.
    pub failing_since: Option<DateTime<Utc>>,
    /// Failed steps in a row.
    pub failures: i64,
}

/// The reports for one range.
pub struct Reports {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: Option<u32>,
}

impl Reports {
    async fn run(&self, ctx: &Context<'_>, name: ReportName) -> async_graphql::Result<Report> {
        async {
            let source = ctx
                .data::<ReportsSource>()
                .map_err(|e| QueryError::Internal(e.message.into()))?;
            let analytics = source
                .0
                .as_ref()
                .map_err(|why| QueryError::AnalyticsUnavailable(why.clone()))?;
            let params = ReportParams::new(name, self.from, self.to, self.limit)?;
            let table = reports::run(analytics, name, &params).await?;
            Ok::<_, QueryError>(Report::from(table))
        }
        .await
        .map_err(QueryError::into_graphql)
    }
}

#[Object]
impl Reports {
    /// Handle, voided stakes, payouts, GGR and hold (basis points) per UTC
    /// day and currency (`sportsbook_by_day.sql`).
    async fn sportsbook_by_day(&self, ctx: &Context<'_>) -> async_graphql::Result<Report> {
        self.run(ctx, ReportName::SportsbookByDay).await
    }

    /// The same measures per market (a bet under its first leg's market;
    /// `sportsbook_by_market.sql`).
    async fn sportsbook_by_market(&self, ctx: &Context<'_>) -> async_graphql::Result<Report> {
        self.run(ctx, ReportName::SportsbookByMarket).await
    }

    /// Deposits and withdrawals per UTC day and currency (`cash_by_day.sql`).
    async fn cash_by_day(&self, ctx: &Context<'_>) -> async_graphql::Result<Report> {
        self.run(ctx, ReportName::CashByDay).await
    }

    /// Opening, movement and closing balance of every system account
    /// (`system_accounts.sql`).
    async fn system_accounts(&self, ctx: &Context<'_>) -> async_graphql::Result<Report> {
        self.run(ctx, ReportName::SystemAccounts).await
    }

    /// Players by net result on bets, best first, `limit` rows
    /// (`top_accounts.sql`).
    async fn top_accounts(&self, ctx: &Context<'_>) -> async_graphql::Result<Report> {
        self.run(ctx, ReportName::TopAccounts).await
    }

    /// Tickets sold, refunded and net, and revenue, per show and minute
    /// (`box_office_tickets_per_minute.sql`).
    async fn box_office_tickets_per_minute(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Report> {
        self.run(ctx, ReportName::BoxOfficeTicketsPerMinute).await
    }

    /// Seats held, capacity, occupancy (basis points) and revenue per show
    /// and tier (`box_office_tiers.sql`).
    async fn box_office_tiers(&self, ctx: &Context<'_>) -> async_graphql::Result<Report> {
        self.run(ctx, ReportName::BoxOfficeTiers).await
    }

    /// Pot, rake, paid out and entries per pool (`pools.sql`; empty until
    /// the pools land).
    async fn pools(&self, ctx: &Context<'_>) -> async_graphql::Result<Report> {
        self.run(ctx, ReportName::Pools).await
    }
}

/// A report's result. Cells are text as ClickHouse prints them: integers
/// (money in minor units, 64-bit) as exact decimal digits, dates as
/// `YYYY-MM-DD`, times as `YYYY-MM-DD hh:mm:ss` (UTC).
#[derive(SimpleObject)]
pub struct Report {
    /// The report's SQL file, without `.sql`.
    pub name: String,
    pub columns: Vec<ReportColumn>,
    /// One list of cells per row, in the order of `columns`.
    pub rows: Vec<Vec<String>>,
    /// More than 10 000 rows matched and the rest were left out: narrow
    /// the range.
    pub truncated: bool,
}

#[derive(SimpleObject)]
pub struct ReportColumn {
    pub name: String,
    /// The ClickHouse type (`Int64`, `Date`, `String`, ...).
    pub r#type: String,
}

impl From<ReportTable> for Report {
    fn from(table: ReportTable) -> Self {
        Self {
            name: table.report.as_str().to_owned(),
            columns: table
                .columns
                .into_iter()
                .map(|c| ReportColumn {
                    name: c.name,
                    r#type: c.type_name,
                })
                .collect(),
            rows: table.rows,
            truncated: table.truncated,
        }
    }
}
