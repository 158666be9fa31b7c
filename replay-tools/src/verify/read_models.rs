//! The read models compared with the replay, row by row, inside the
//! audit's snapshot: `account_balances` account by account at the balances
//! projection's checkpoint, `account_statement` line by line up to the
//! statements projection's. Each table is read through a cursor, a page at
//! a time, in the order the replay makes its rows, and merged with them, so
//! memory does not grow with the tables.

use std::cmp::Ordering;
use std::collections::VecDeque;

use serde::Serialize;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use super::replay::{AccountKey, ExpectedBalance, Line, Replay};
use crate::error::Error;

/// Rows fetched from a cursor at once; the `FETCH` statements say it too.
const CURSOR_PAGE_ROWS: usize = 10_000;

/// How one read model compared with the replay.
#[derive(Debug, Clone, Serialize)]
pub struct Compared {
    pub projection: &'static str,
    pub table: &'static str,
    /// The projection's checkpoint in the snapshot: the replay is compared
    /// as of this position.
    pub position: i64,
    /// Rows equal to the replay's.
    pub matched: u64,
    /// Rows missing, extra or different.
    pub differing: u64,
    /// The first difference, in the replay's order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
}

impl Compared {
    pub(super) fn new(projection: &'static str, table: &'static str, position: i64) -> Self {
        Self {
            projection,
            table,
            position,
            matched: 0,
            differing: 0,
            first: None,
        }
    }

    fn record(&mut self, difference: Option<String>) {
        match difference {
            None => self.matched += 1,
            Some(difference) => {
                self.differing += 1;
                self.first.get_or_insert(difference);
            }
        }
    }

    /// The line naming the first difference, when there is one.
    pub fn problem(&self) -> Option<String> {
        let first = self.first.as_ref()?;
        let more = match self.differing {
            0 | 1 => String::new(),
            n => format!(" ({n} rows differ)"),
        };
        Some(format!(
            "{} ({}) at position {}: {first}{more}",
            self.table, self.projection, self.position
        ))
    }
}

/// A cursor's rows, fetched a page at a time.
struct Cursor<T> {
    fetch: &'static str,
    parse: fn(&PgRow) -> Result<T, sqlx::Error>,
    page: VecDeque<T>,
    done: bool,
}

impl<T> Cursor<T> {
    fn new(fetch: &'static str, parse: fn(&PgRow) -> Result<T, sqlx::Error>) -> Self {
        Self {
            fetch,
            parse,
            page: VecDeque::new(),
            done: false,
        }
    }

    async fn peek(&mut self, conn: &mut PgConnection) -> Result<Option<&T>, Error> {
        if self.page.is_empty() && !self.done {
            let rows = sqlx::query(self.fetch).fetch_all(&mut *conn).await?;
            self.done = rows.len() < CURSOR_PAGE_ROWS;
            for row in &rows {
                self.page.push_back((self.parse)(row)?);
            }
        }
        Ok(self.page.front())
    }

    fn pop(&mut self) -> Option<T> {
        self.page.pop_front()
    }
}

/// A row of `account_balances`, as the replay keeps one.
struct ActualBalance {
    key: AccountKey,
    row: ExpectedBalance,
}

fn parse_balance(row: &PgRow) -> Result<ActualBalance, sqlx::Error> {
    let sum = |column: &str| row.try_get::<i64, _>(column).map(i128::from);
    Ok(ActualBalance {
        key: (row.try_get("account_id")?, row.try_get("currency")?),
        row: ExpectedBalance {
            totals: ledger::book::Totals {
                posted_debits: sum("posted_debits")?,
                posted_credits: sum("posted_credits")?,
                pending_debits: sum("pending_debits")?,
                pending_credits: sum("pending_credits")?,
            },
            credit_limit: row.try_get("credit_limit")?,
            version: row.try_get("version")?,
            last_position: row.try_get("last_position")?,
        },
    })
}

/// `account_balances` against the replay of every event up to `position`
/// (the replay must be exactly there).
pub async fn compare_balances(
    conn: &mut PgConnection,
    replay: &Replay,
    position: i64,
) -> Result<Compared, Error> {
    sqlx::raw_sql(include_str!("balances_open.sql"))
        .execute(&mut *conn)
        .await?;
    let mut actual = Cursor::new(include_str!("balances_fetch.sql"), parse_balance);
    let mut compared = Compared::new(
        projections::accounts::BALANCES,
        "account_balances",
        position,
    );
    let mut expected = replay.balances().peekable();
    loop {
        let next_actual = actual.peek(conn).await?.map(|a| a.key.clone());
        let order = match (expected.peek(), &next_actual) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some((key, _)), Some(actual_key)) => (*key).cmp(actual_key),
        };
        match order {
            Ordering::Less => {
                if let Some((key, row)) = expected.next() {
                    compared.record(Some(format!(
                        "{}: missing from the read model (the replay has posted balance {}, last changed at position {})",
                        account(key),
                        row.totals.posted(),
                        row.last_position
                    )));
                }
            }
            Ordering::Greater => {
                if let Some(extra) = actual.pop() {
                    compared.record(Some(format!(
                        "{}: in the read model, not in the replay",
                        account(&extra.key)
                    )));
                }
            }
            Ordering::Equal => {
                if let (Some((key, row)), Some(found)) = (expected.next(), actual.pop()) {
                    compared.record(
                        balance_difference(row, &found.row)
                            .map(|d| format!("{}: {d}", account(key))),
                    );
                }
            }
        }
    }
    Ok(compared)
}

fn account((id, currency): &AccountKey) -> String {
    format!("account {id} {currency}")
}

/// The first field in which the read model's row differs from the replay's.
fn balance_difference(expected: &ExpectedBalance, actual: &ExpectedBalance) -> Option<String> {
    let (e, a) = (&expected.totals, &actual.totals);
    let sums = [
        ("posted_debits", e.posted_debits, a.posted_debits),
        ("posted_credits", e.posted_credits, a.posted_credits),
        ("pending_debits", e.pending_debits, a.pending_debits),
        ("pending_credits", e.pending_credits, a.pending_credits),
        (
            "credit_limit",
            expected.credit_limit.into(),
            actual.credit_limit.into(),
        ),
        (
            "last_position",
            expected.last_position.into(),
            actual.last_position.into(),
        ),
    ];
    if let Some((column, replay, read_model)) = sums.iter().find(|(_, e, a)| e != a) {
        return Some(format!("read model {column} {read_model}, replay {replay}"));
    }
    (expected.version != actual.version).then(|| {
        format!(
            "read model version {}, replay {}",
            show(actual.version),
            show(expected.version)
        )
    })
}

fn show<T: std::fmt::Display>(value: Option<T>) -> String {
    value.map_or_else(|| "null".to_owned(), |v| v.to_string())
}

fn parse_line(row: &PgRow) -> Result<Line, sqlx::Error> {
    Ok(Line {
        account_id: row.try_get("account_id")?,
        position: row.try_get("position")?,
        line: row.try_get("line")?,
        currency: row.try_get("currency")?,
        event_type: row.try_get("event_type")?,
        transfer_id: row.try_get("transfer_id")?,
        hold_id: row.try_get("hold_id")?,
        code: row.try_get("code")?,
        phase: row.try_get("phase")?,
        amount: row.try_get("amount")?,
        counterparty: row.try_get("counterparty")?,
        description: row.try_get("description")?,
        recorded_at: row.try_get("recorded_at")?,
    })
}

/// `account_statement` against the lines the replay makes, fed in
/// position order as the walk goes.
pub struct StatementCheck {
    actual: Cursor<Line>,
    compared: Compared,
}

impl StatementCheck {
    pub async fn open(conn: &mut PgConnection, position: i64) -> Result<Self, Error> {
        sqlx::raw_sql(include_str!("statement_open.sql"))
            .execute(&mut *conn)
            .await?;
        Ok(Self {
            actual: Cursor::new(include_str!("statement_fetch.sql"), parse_line),
            compared: Compared::new(
                projections::accounts::STATEMENTS,
                "account_statement",
                position,
            ),
        })
    }

    /// Checks the next line the replay makes (at or below the position).
    pub async fn expect(&mut self, conn: &mut PgConnection, line: Line) -> Result<(), Error> {
        let key = (line.position, line.line, line.account_id.as_str());
        // Lines of the read model before this one are lines the replay
        // does not make; a bound on the loop would only hide them.
        loop {
            let order = match self.actual.peek(conn).await? {
                Some(found) => (found.position, found.line, found.account_id.as_str()).cmp(&key),
                None => break,
            };
            match order {
                Ordering::Less => {
                    if let Some(extra) = self.actual.pop() {
                        self.compared.record(Some(format!(
                            "account {} at position {}: a line the replay does not make",
                            extra.account_id, extra.position
                        )));
                    }
                }
                Ordering::Equal => {
                    if let Some(found) = self.actual.pop() {
                        self.compared.record(line_difference(&line, &found));
                    }
                    return Ok(());
                }
                Ordering::Greater => break,
            }
        }
        self.compared.record(Some(format!(
            "account {} at position {}: no line in the read model (the replay has {} {} {})",
            line.account_id, line.position, line.event_type, line.amount, line.currency
        )));
        Ok(())
    }

    /// Lines left in the read model are lines the replay does not make.
    pub async fn finish(mut self, conn: &mut PgConnection) -> Result<Compared, Error> {
        while self.actual.peek(conn).await?.is_some() {
            if let Some(extra) = self.actual.pop() {
                self.compared.record(Some(format!(
                    "account {} at position {}: a line the replay does not make",
                    extra.account_id, extra.position
                )));
            }
        }
        Ok(self.compared)
    }
}

/// The first field in which the read model's line differs from the
/// replay's, named by its account and position.
fn line_difference(expected: &Line, actual: &Line) -> Option<String> {
    if expected == actual {
        return None;
    }
    let fields = [
        (
            "currency",
            expected.currency.clone(),
            actual.currency.clone(),
        ),
        (
            "event_type",
            expected.event_type.clone(),
            actual.event_type.clone(),
        ),
        (
            "transfer_id",
            expected.transfer_id.to_string(),
            actual.transfer_id.to_string(),
        ),
        ("hold_id", show(expected.hold_id), show(actual.hold_id)),
        ("code", expected.code.clone(), actual.code.clone()),
        ("phase", expected.phase.clone(), actual.phase.clone()),
        (
            "amount",
            expected.amount.to_string(),
            actual.amount.to_string(),
        ),
        (
            "counterparty",
            expected.counterparty.clone(),
            actual.counterparty.clone(),
        ),
        (
            "description",
            show(expected.description.as_deref()),
            show(actual.description.as_deref()),
        ),
        (
            "recorded_at",
            expected.recorded_at.to_rfc3339(),
            actual.recorded_at.to_rfc3339(),
        ),
    ];
    let (column, replay, read_model) = fields.iter().find(|(_, e, a)| e != a)?;
    Some(format!(
        "account {} at position {}: read model {column} {read_model}, replay {replay}",
        expected.account_id, expected.position
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;
    use ledger::book::Totals;
    use uuid::Uuid;

    fn row(posted_credits: i128, version: Option<i64>) -> ExpectedBalance {
        ExpectedBalance {
            totals: Totals {
                posted_credits,
                ..Totals::default()
            },
            credit_limit: 0,
            version,
            last_position: 7,
        }
    }

    #[test]
    fn a_balance_difference_names_the_column_and_both_values() {
        assert_eq!(
            balance_difference(&row(700, Some(2)), &row(700, Some(2))),
            None
        );
        assert_eq!(
            balance_difference(&row(700, Some(2)), &row(500, Some(2))),
            Some("read model posted_credits 500, replay 700".to_owned())
        );
        assert_eq!(
            balance_difference(&row(700, Some(2)), &row(700, None)),
            Some("read model version null, replay 2".to_owned())
        );
    }

    #[test]
    fn a_line_difference_names_the_account_position_and_column() {
        let line = Line {
            account_id: "alice".into(),
            position: 7,
            line: 0,
            currency: "EUR".into(),
            event_type: "funds_deposited".into(),
            transfer_id: Uuid::nil(),
            hold_id: None,
            code: "deposit".into(),
            phase: "posted".into(),
            amount: 700,
            counterparty: "cash".into(),
            description: None,
            recorded_at: DateTime::UNIX_EPOCH,
        };
        assert_eq!(line_difference(&line, &line.clone()), None);
        let changed = Line {
            amount: 500,
            ..line.clone()
        };
        assert_eq!(
            line_difference(&line, &changed),
            Some("account alice at position 7: read model amount 500, replay 700".to_owned())
        );
    }

    #[test]
    fn the_problem_counts_every_difference_and_names_the_first() {
        let mut compared = Compared::new("balances", "account_balances", 9);
        compared.record(None);
        assert_eq!(compared.problem(), None);
        compared.record(Some("account a EUR: x".into()));
        compared.record(Some("account b EUR: y".into()));
        assert_eq!(
            compared.problem(),
            Some(
                "account_balances (balances) at position 9: account a EUR: x (2 rows differ)"
                    .to_owned()
            )
        );
    }
}
