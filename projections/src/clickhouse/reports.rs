//! The analysts' reports: one SQL file each in `schemas/clickhouse/reports/`
//! (runnable in `clickhouse-client` as they are), with the placeholders
//! `{from:DateTime}`, `{to:DateTime}` and `{limit:UInt32}`. Current
//! ClickHouse binds those itself (`--param_from=...`); ClickHouse 18.16 has
//! no query parameters, so [`render`] replaces them with literals made from
//! parsed, typed values here (never from the caller's text), and refuses
//! any other placeholder.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::Deserialize;

use super::Analytics;
use crate::Error;

/// Most rows a report returns; more are cut off and the result says so.
pub const REPORT_ROWS_MAX: usize = 10_000;

/// Most rows `top_accounts` may be asked for.
pub const REPORT_LIMIT_MAX: u32 = 1_000;

/// Rows `top_accounts` returns when not told.
pub const REPORT_LIMIT_DEFAULT: u32 = 20;

/// The end of the times a report accepts: 2100-01-01T00:00:00Z. ClickHouse
/// 18.16 turns literals near the end of `DateTime` (2106) into 1970.
pub const REPORT_TIME_END_SECONDS: i64 = 4_102_444_800;

/// Every report, by the name of its SQL file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportName {
    SportsbookByDay,
    SportsbookByMarket,
    CashByDay,
    SystemAccounts,
    TopAccounts,
    BoxOfficeTicketsPerMinute,
    BoxOfficeTiers,
    Pools,
}

impl ReportName {
    pub const ALL: [Self; 8] = [
        Self::SportsbookByDay,
        Self::SportsbookByMarket,
        Self::CashByDay,
        Self::SystemAccounts,
        Self::TopAccounts,
        Self::BoxOfficeTicketsPerMinute,
        Self::BoxOfficeTiers,
        Self::Pools,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SportsbookByDay => "sportsbook_by_day",
            Self::SportsbookByMarket => "sportsbook_by_market",
            Self::CashByDay => "cash_by_day",
            Self::SystemAccounts => "system_accounts",
            Self::TopAccounts => "top_accounts",
            Self::BoxOfficeTicketsPerMinute => "box_office_tickets_per_minute",
            Self::BoxOfficeTiers => "box_office_tiers",
            Self::Pools => "pools",
        }
    }

    /// The report called `name`, or an error listing the names there are.
    pub fn parse(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == name)
            .ok_or_else(|| Error::ReportParams {
                report: name.to_owned(),
                problem: format!(
                    "no such report; the reports are {}",
                    Self::ALL.map(Self::as_str).join(", ")
                ),
            })
    }

    /// The report's SQL file, as analysts run it.
    pub fn sql(self) -> &'static str {
        match self {
            Self::SportsbookByDay => {
                include_str!("../../../schemas/clickhouse/reports/sportsbook_by_day.sql")
            }
            Self::SportsbookByMarket => {
                include_str!("../../../schemas/clickhouse/reports/sportsbook_by_market.sql")
            }
            Self::CashByDay => include_str!("../../../schemas/clickhouse/reports/cash_by_day.sql"),
            Self::SystemAccounts => {
                include_str!("../../../schemas/clickhouse/reports/system_accounts.sql")
            }
            Self::TopAccounts => {
                include_str!("../../../schemas/clickhouse/reports/top_accounts.sql")
            }
            Self::BoxOfficeTicketsPerMinute => include_str!(
                "../../../schemas/clickhouse/reports/box_office_tickets_per_minute.sql"
            ),
            Self::BoxOfficeTiers => {
                include_str!("../../../schemas/clickhouse/reports/box_office_tiers.sql")
            }
            Self::Pools => include_str!("../../../schemas/clickhouse/reports/pools.sql"),
        }
    }

    /// The first line of the SQL file's comment: what the report shows.
    pub fn title(self) -> &'static str {
        self.sql()
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("-- "))
            .unwrap_or("")
    }
}

/// A report's parameters, checked: `from < to`, both whole seconds from
/// 1970-01-01 to 2100-01-01 (UTC); `limit` 1 to
/// [`REPORT_LIMIT_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportParams {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: u32,
}

impl ReportParams {
    pub fn new(
        report: ReportName,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: Option<u32>,
    ) -> Result<Self, Error> {
        let problem = |problem: String| Error::ReportParams {
            report: report.as_str().to_owned(),
            problem,
        };
        let in_range = |t: DateTime<Utc>| {
            t.timestamp_subsec_nanos() == 0
                && (0..=REPORT_TIME_END_SECONDS).contains(&t.timestamp())
        };
        if !in_range(from) || !in_range(to) {
            return Err(problem(
                "from and to must be whole seconds from 1970-01-01 to 2100-01-01 (UTC)".to_owned(),
            ));
        }
        if from >= to {
            return Err(problem(format!(
                "from ({}) must be before to ({})",
                from.to_rfc3339_opts(SecondsFormat::Secs, true),
                to.to_rfc3339_opts(SecondsFormat::Secs, true)
            )));
        }
        let limit = limit.unwrap_or(REPORT_LIMIT_DEFAULT);
        if limit == 0 || limit > REPORT_LIMIT_MAX {
            return Err(problem(format!(
                "limit is {limit}; it must be 1 to {REPORT_LIMIT_MAX}"
            )));
        }
        Ok(Self { from, to, limit })
    }

    /// From 1970 to 2100: every fact there is.
    pub fn everything(report: ReportName) -> Result<Self, Error> {
        let from = Utc.timestamp_opt(0, 0).single();
        let to = Utc.timestamp_opt(REPORT_TIME_END_SECONDS, 0).single();
        match (from, to) {
            (Some(from), Some(to)) => Self::new(report, from, to, Some(REPORT_LIMIT_MAX)),
            _ => Err(Error::Invariant("epoch bounds out of range".to_owned())),
        }
    }
}

/// The SQL that runs: the report's file with its placeholders replaced by
/// literals. A placeholder this code does not know is an error (a report
/// file and its code disagree), caught by the tests for every report.
pub fn render(report: ReportName, params: &ReportParams) -> Result<String, Error> {
    let datetime =
        |t: DateTime<Utc>| format!("toDateTime('{}', 'UTC')", t.format("%Y-%m-%d %H:%M:%S"));
    let mut sql = String::with_capacity(report.sql().len() + 256);
    let mut rest = report.sql();
    while let Some(start) = rest.find('{') {
        sql.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after.find('}').unwrap_or(after.len().saturating_sub(1));
        let placeholder = &after[..=end.min(after.len().saturating_sub(1))];
        let literal = match placeholder {
            "{from:DateTime}" => datetime(params.from),
            "{to:DateTime}" => datetime(params.to),
            "{limit:UInt32}" => params.limit.to_string(),
            // The comments name placeholders without their type; they stay.
            "{from}" | "{to}" | "{limit}" => placeholder.to_owned(),
            other => {
                return Err(Error::Invariant(format!(
                    "report {} has an unknown placeholder {other}",
                    report.as_str()
                )))
            }
        };
        sql.push_str(&literal);
        rest = &after[placeholder.len()..];
    }
    sql.push_str(rest);
    Ok(sql)
}

/// A report's result: its columns (name and ClickHouse type) and rows, each
/// cell as ClickHouse prints it in JSON (64-bit integers as exact decimal
/// text, dates as `YYYY-MM-DD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportTable {
    pub report: ReportName,
    pub columns: Vec<ReportColumn>,
    pub rows: Vec<Vec<String>>,
    /// More rows than [`REPORT_ROWS_MAX`] matched; the rest were dropped.
    pub truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReportColumn {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
}

impl ReportTable {
    /// The column called `name`, as i64 per row (for tests and totals).
    pub fn column_i64(&self, name: &str) -> Result<Vec<i64>, Error> {
        let i = self
            .columns
            .iter()
            .position(|c| c.name == name)
            .ok_or_else(|| Error::Invariant(format!("report has no column {name}")))?;
        self.rows
            .iter()
            .map(|row| {
                row.get(i)
                    .and_then(|cell| cell.parse::<i64>().ok())
                    .ok_or_else(|| Error::Invariant(format!("column {name} is not an integer")))
            })
            .collect()
    }

    /// The sum of an integer column, in i128 so that no sum overflows.
    pub fn total(&self, name: &str) -> Result<i128, Error> {
        Ok(self.column_i64(name)?.into_iter().map(i128::from).sum())
    }
}

/// ClickHouse's `JSONCompact` output.
#[derive(Deserialize)]
struct JsonCompact {
    meta: Vec<ReportColumn>,
    data: Vec<Vec<serde_json::Value>>,
}

/// Runs `report` over the analytics database.
pub async fn run(
    analytics: &Analytics,
    report: ReportName,
    params: &ReportParams,
) -> Result<ReportTable, Error> {
    let sql = render(report, params)?;
    let rows_max = (REPORT_ROWS_MAX + 1).to_string();
    let bytes = analytics
        .bounded(report.as_str(), async {
            // `break` stops reading at the bound instead of failing; the
            // result is then marked truncated below. Both settings exist on
            // 18.16 and on current versions.
            analytics
                .client()
                .query_raw(&sql)
                .with_setting("max_result_rows", rows_max.as_str())
                .with_setting("result_overflow_mode", "break")
                .fetch_bytes("JSONCompact")?
                .collect()
                .await
        })
        .await?;
    let parsed: JsonCompact = serde_json::from_slice(&bytes).map_err(|e| {
        Error::Invariant(format!(
            "report {} returned JSON that does not parse: {e}",
            report.as_str()
        ))
    })?;
    let truncated = parsed.data.len() > REPORT_ROWS_MAX;
    let rows = parsed
        .data
        .into_iter()
        .take(REPORT_ROWS_MAX)
        .map(|row| row.into_iter().map(cell).collect())
        .collect();
    Ok(ReportTable {
        report,
        columns: parsed.meta,
        rows,
        truncated,
    })
}

fn cell(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("test time")
    }

    #[test]
    fn every_report_renders_without_placeholders_left() {
        for report in ReportName::ALL {
            let params = ReportParams::new(
                report,
                at("2026-11-01T00:00:00Z"),
                at("2026-12-01T00:00:00Z"),
                Some(5),
            )
            .expect("params");
            let sql = render(report, &params).expect("render");
            assert!(!sql.contains(":DateTime}"), "{}", report.as_str());
            assert!(!sql.contains(":UInt32}"), "{}", report.as_str());
            assert!(sql.contains("toDateTime('2026-11-01 00:00:00', 'UTC')"));
            assert!(!report.title().is_empty());
            assert_eq!(ReportName::parse(report.as_str()).expect("name"), report);
        }
    }

    #[test]
    fn bad_params_are_refused() {
        let r = ReportName::TopAccounts;
        let (a, b) = (at("2026-11-01T00:00:00Z"), at("2026-11-02T00:00:00Z"));
        for bad in [
            ReportParams::new(r, b, a, None),
            ReportParams::new(r, a, a, None),
            ReportParams::new(r, a, b, Some(0)),
            ReportParams::new(r, a, b, Some(REPORT_LIMIT_MAX + 1)),
            ReportParams::new(r, at("1969-12-31T00:00:00Z"), b, None),
            ReportParams::new(r, at("2026-11-01T00:00:00.5Z"), b, None),
        ] {
            assert!(matches!(bad, Err(Error::ReportParams { .. })), "{bad:?}");
        }
        assert!(matches!(
            ReportName::parse("nope"),
            Err(Error::ReportParams { .. })
        ));
    }
}
