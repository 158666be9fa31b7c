//! `verify --clickhouse-url`: the ClickHouse projection against the replay.
//! Every account's posted and pending sums, from ClickHouse's `postings`
//! up to the sink's checkpoint in the snapshot (rows past it may be there,
//! written before the checkpoint moved, and are left out), equal the
//! replay's, to the cent.

use std::collections::BTreeMap;

use ledger::book::Book;
use projections::clickhouse::Analytics;

use super::read_models::Compared;
use crate::error::Error;

/// Compares `book` (the replay up to `position`) with ClickHouse.
pub async fn compare(analytics: &Analytics, book: &Book, position: i64) -> Result<Compared, Error> {
    let rows = analytics
        .account_sums(position)
        .await
        .map_err(Error::Projection)?;
    let mut clickhouse: BTreeMap<(String, String), (i128, i128)> = rows
        .into_iter()
        .map(|(account, currency, posted, pending)| {
            (
                (account, currency),
                (i128::from(posted), i128::from(pending)),
            )
        })
        .collect();
    let mut compared = Compared::new(projections::clickhouse::SINK_NAME, "postings", position);
    let differ = |compared: &mut Compared, problem: String| {
        compared.differing += 1;
        if compared.first.is_none() {
            compared.first = Some(problem);
        }
    };
    for ((account, currency), totals) in book.accounts() {
        let key = (account.as_str().to_owned(), currency.to_string());
        let expected = (
            totals.posted_credits - totals.posted_debits,
            totals.pending_credits - totals.pending_debits,
        );
        match clickhouse.remove(&key) {
            Some(got) if got == expected => compared.matched += 1,
            Some(got) => differ(
                &mut compared,
                format!(
                    "account {} {}: ClickHouse has posted {} pending {}, the log says {} and {}",
                    key.0, key.1, got.0, got.1, expected.0, expected.1
                ),
            ),
            None => differ(
                &mut compared,
                format!("account {} {} is missing in ClickHouse", key.0, key.1),
            ),
        }
    }
    for (key, _) in clickhouse {
        differ(
            &mut compared,
            format!(
                "account {} {} is in ClickHouse but not in the log",
                key.0, key.1
            ),
        );
    }
    Ok(compared)
}
