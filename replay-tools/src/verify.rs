//! `verify`: the log is what it claims to be. Every event chains to its
//! predecessor in its stream and hashes to what was stored, and replaying
//! the transfers gives balances that sum to zero in every currency.

use std::collections::HashMap;
use std::fmt;

use ledger::book::Book;
use ledger::store::{PgEventStore, READ_EVENTS_MAX};
use ledger::wallet::WalletEvent;
use ledger::StreamId;
use sqlx::postgres::PgPoolOptions;

use crate::error::{error_chain, Error};

pub struct Report {
    events: u64,
    streams: usize,
    accounts: usize,
    last_position: i64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "verified {} events in {} streams up to position {}: every hash chain holds; {} account balances sum to 0 in every currency",
            self.events, self.streams, self.last_position, self.accounts
        )
    }
}

pub async fn run(database_url: &str) -> Result<Report, Error> {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(database_url)
        .await
        .map_err(Error::Connect)?;
    // One snapshot for the whole walk: consistent, and not held back by
    // transactions still running elsewhere in the cluster.
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let mut heads: HashMap<StreamId, (i64, Vec<u8>)> = HashMap::new();
    let mut book = Book::default();
    let mut report = Report {
        events: 0,
        streams: 0,
        accounts: 0,
        last_position: 0,
    };
    loop {
        let events =
            PgEventStore::read_snapshot_page(&mut tx, report.last_position, READ_EVENTS_MAX)
                .await?;
        if events.is_empty() {
            break;
        }
        for event in &events {
            let at = || {
                format!(
                    "event {} ({} v{})",
                    event.global_position, event.stream_id, event.stream_version
                )
            };
            let (expected_version, expected_prev) = match heads.get(&event.stream_id) {
                Some((version, hash)) => (version + 1, Some(hash.clone())),
                None => (1, None),
            };
            if event.stream_version != expected_version {
                return Err(Error::Chain {
                    at: at(),
                    problem: format!("expected version {expected_version} in its stream"),
                });
            }
            if event.prev_hash != expected_prev {
                return Err(Error::Chain {
                    at: at(),
                    problem: "prev_hash does not match the previous event's hash".to_owned(),
                });
            }
            if event.computed_hash().as_slice() != event.hash.as_slice() {
                return Err(Error::Chain {
                    at: at(),
                    problem: "content does not match its hash (tampered?)".to_owned(),
                });
            }
            heads.insert(
                event.stream_id.clone(),
                (event.stream_version, event.hash.clone()),
            );
            // A wallet event that does not read (a version from a newer
            // build, a payload its upcasters refuse) fails the audit: left
            // out, its transfer would be missing from balances that still
            // sum to zero. Events of other types move no wallet money.
            if WalletEvent::current_version(&event.event_type).is_some() {
                let wallet_event = WalletEvent::from_stored(
                    &event.event_type,
                    event.schema_version,
                    &event.payload,
                )
                .map_err(|source| Error::Chain {
                    at: at(),
                    problem: format!("cannot be read: {}", error_chain(&source)),
                })?;
                if let Some((transfer, phase)) = wallet_event.transfer() {
                    book.apply(transfer, phase);
                }
            }
            report.events += 1;
            report.last_position = event.global_position;
        }
    }
    if !book.is_balanced() {
        return Err(Error::Unbalanced(format!("{:?}", book.totals())));
    }
    report.streams = heads.len();
    report.accounts = book.accounts().count();
    Ok(report)
}
