//! The `accounts` projection: balances of every account (player wallets and
//! system accounts) per currency, and each account's statement.
//!
//! A batch of events becomes column arrays in memory (pure, `Batch::from_events`)
//! and then two statements, whatever the batch size: one upsert for opened
//! wallets and one for the postings (statement rows and balances together).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use ledger::book::{Balance, Side};
use ledger::store::LogEvent;
use ledger::wallet::WalletEvent;
use ledger::{AccountId, Phase, StreamId, Transfer};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use crate::runner::Projection;
use crate::Error;

/// The name, and checkpoint key, of this projection.
pub const NAME: &str = "accounts";

/// The wallet's event types. One of these that fails to decode stops the
/// projection; any other type is not a wallet event and is skipped.
const WALLET_EVENT_TYPES: [&str; 6] = [
    WalletEvent::ACCOUNT_OPENED,
    WalletEvent::FUNDS_DEPOSITED,
    WalletEvent::FUNDS_WITHDRAWN,
    WalletEvent::HOLD_PLACED,
    WalletEvent::HOLD_POSTED,
    WalletEvent::HOLD_VOIDED,
];

/// Keeps `account_balances` and `account_statement` (migration
/// `0002_read_models.sql`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Accounts;

impl Projection for Accounts {
    fn name(&self) -> &str {
        NAME
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[LogEvent],
    ) -> Result<(), Error> {
        let batch = Batch::from_events(events)?;
        batch.write(tx).await
    }
}

/// A batch of events as the rows they change, column by column, ready to
/// be bound as arrays.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Batch {
    opened: Opened,
    postings: Postings,
}

/// Wallets opened in the batch, at most one row per (account, currency).
#[derive(Debug, Default, PartialEq)]
struct Opened {
    account_id: Vec<String>,
    currency: Vec<String>,
    credit_limit: Vec<i64>,
    version: Vec<i64>,
    position: Vec<i64>,
}

/// One account's side of one transfer-touching event.
#[derive(Debug, Default, PartialEq)]
struct Postings {
    account_id: Vec<String>,
    currency: Vec<String>,
    position: Vec<i64>,
    event_type: Vec<String>,
    transfer_id: Vec<Uuid>,
    hold_id: Vec<Option<Uuid>>,
    code: Vec<String>,
    phase: Vec<&'static str>,
    amount: Vec<i64>,
    counterparty: Vec<String>,
    description: Vec<Option<String>>,
    recorded_at: Vec<DateTime<Utc>>,
    version: Vec<Option<i64>>,
    posted_debits: Vec<i64>,
    posted_credits: Vec<i64>,
    pending_debits: Vec<i64>,
    pending_credits: Vec<i64>,
}

impl Batch {
    /// Decodes the wallet events among `events` into rows; other events are
    /// skipped.
    pub(crate) fn from_events(events: &[LogEvent]) -> Result<Self, Error> {
        let mut batch = Self::default();
        // Index of each (account, currency) in `opened`, so that a batch
        // never upserts one row twice (Postgres refuses that).
        let mut opened_at: HashMap<(String, String), usize> = HashMap::new();
        for recorded in events {
            let Some(event) = decode(recorded)? else {
                continue;
            };
            if let WalletEvent::AccountOpened(opened) = &event {
                let key = (
                    opened.account.as_str().to_owned(),
                    opened.currency.to_string(),
                );
                let row = OpenedRow {
                    credit_limit: opened.credit_limit.get(),
                    version: recorded.stream_version,
                    position: recorded.global_position,
                };
                match opened_at.get(&key) {
                    Some(&i) => batch.opened.replace(i, row),
                    None => {
                        opened_at.insert(key.clone(), batch.opened.account_id.len());
                        batch.opened.push(key.0, key.1, row);
                    }
                }
            }
            if let Some((transfer, phase)) = event.transfer() {
                let context = PostingContext::new(recorded, &event, transfer, phase)?;
                batch.postings.push(&context, Side::Debit);
                batch.postings.push(&context, Side::Credit);
            }
        }
        Ok(batch)
    }

    async fn write(self, tx: &mut Transaction<'_, Postgres>) -> Result<(), Error> {
        // Openings first: a wallet opened and used in one batch must exist
        // with its limit and version before its postings are added.
        if !self.opened.account_id.is_empty() {
            let o = self.opened;
            sqlx::query(include_str!("accounts/open_accounts.sql"))
                .bind(o.account_id)
                .bind(o.currency)
                .bind(o.credit_limit)
                .bind(o.version)
                .bind(o.position)
                .execute(&mut **tx)
                .await?;
        }
        if self.postings.account_id.is_empty() {
            return Ok(());
        }
        let p = self.postings;
        let row = sqlx::query(include_str!("accounts/apply_postings.sql"))
            .bind(p.account_id)
            .bind(p.currency)
            .bind(p.position)
            .bind(p.event_type)
            .bind(p.transfer_id)
            .bind(p.hold_id)
            .bind(p.code)
            .bind(p.phase)
            .bind(p.amount)
            .bind(p.counterparty)
            .bind(p.description)
            .bind(p.recorded_at)
            .bind(p.version)
            .bind(p.posted_debits)
            .bind(p.posted_credits)
            .bind(p.pending_debits)
            .bind(p.pending_credits)
            .fetch_one(&mut **tx)
            .await?;
        let accounts_posted: i64 = row.try_get("accounts_posted")?;
        let balances_changed: i64 = row.try_get("balances_changed")?;
        let balances_negative: i64 = row.try_get("balances_negative")?;
        if accounts_posted != balances_changed {
            return Err(Error::Invariant(format!(
                "{accounts_posted} accounts got new statement rows but only \
                 {balances_changed} balances changed: a balance is ahead of its statement"
            )));
        }
        if balances_negative > 0 {
            return Err(Error::Invariant(format!(
                "{balances_negative} accounts would have a negative sum of debits or credits"
            )));
        }
        Ok(())
    }
}

/// The wallet event in `recorded`, or `None` when it is not a wallet event.
fn decode(recorded: &LogEvent) -> Result<Option<WalletEvent>, Error> {
    let decoded = WalletEvent::from_json(
        &recorded.event_type,
        recorded.schema_version,
        recorded.payload.get(),
    );
    match decoded {
        Ok(event) => Ok(Some(event)),
        Err(ledger::Error::UnknownEventType { .. })
            if !WALLET_EVENT_TYPES.contains(&recorded.event_type.as_str()) =>
        {
            Ok(None)
        }
        Err(source) => Err(Error::Event {
            position: recorded.global_position,
            event_type: recorded.event_type.clone(),
            source,
        }),
    }
}

struct OpenedRow {
    credit_limit: i64,
    version: i64,
    position: i64,
}

impl Opened {
    fn push(&mut self, account_id: String, currency: String, row: OpenedRow) {
        self.account_id.push(account_id);
        self.currency.push(currency);
        self.credit_limit.push(row.credit_limit);
        self.version.push(row.version);
        self.position.push(row.position);
    }

    /// A later opening of the same account in the batch wins, as it would
    /// had the two come in separate batches.
    fn replace(&mut self, i: usize, row: OpenedRow) {
        self.credit_limit[i] = row.credit_limit;
        self.version[i] = row.version;
        self.position[i] = row.position;
    }
}

/// What both sides of one transfer-touching event share.
struct PostingContext<'a> {
    recorded: &'a LogEvent,
    transfer: &'a Transfer,
    phase: Phase,
    hold_id: Option<Uuid>,
    description: Option<&'a str>,
    code: String,
}

impl<'a> PostingContext<'a> {
    fn new(
        recorded: &'a LogEvent,
        event: &'a WalletEvent,
        transfer: &'a Transfer,
        phase: Phase,
    ) -> Result<Self, Error> {
        let (hold_id, description) = match event {
            WalletEvent::FundsDeposited(e) | WalletEvent::FundsWithdrawn(e) => {
                (None, e.description.as_deref())
            }
            WalletEvent::HoldPlaced(e)
            | WalletEvent::HoldPosted(e)
            | WalletEvent::HoldVoided(e) => (Some(e.hold_id.as_uuid()), e.description.as_deref()),
            WalletEvent::AccountOpened(_) => (None, None),
        };
        Ok(Self {
            recorded,
            transfer,
            phase,
            hold_id,
            description,
            code: transfer_code(recorded, transfer)?,
        })
    }
}

/// The transfer's reason code as it is stored in events (`deposit`, ...).
/// Read through serde so that codes added to the ledger need no change here.
fn transfer_code(recorded: &LogEvent, transfer: &Transfer) -> Result<String, Error> {
    match serde_json::to_value(transfer.code) {
        Ok(serde_json::Value::String(code)) => Ok(code),
        _ => Err(Error::Invariant(format!(
            "transfer {} at position {} has a code that is not a string",
            transfer.id, recorded.global_position
        ))),
    }
}

impl Postings {
    fn push(&mut self, c: &PostingContext<'_>, side: Side) {
        let t = c.transfer;
        let amount = t.amount.get();
        let (account, counterparty, signed) = match side {
            // `Amount` is at least 1, so its negation always fits.
            Side::Debit => (&t.debit, &t.credit, -amount),
            Side::Credit => (&t.credit, &t.debit, amount),
        };
        let delta = delta(side, amount, c.phase);
        self.account_id.push(account.as_str().to_owned());
        self.currency.push(t.currency.to_string());
        self.position.push(c.recorded.global_position);
        self.event_type.push(c.recorded.event_type.clone());
        self.transfer_id.push(t.id.as_uuid());
        self.hold_id.push(c.hold_id);
        self.code.push(c.code.clone());
        self.phase.push(phase_name(c.phase));
        self.amount.push(signed);
        self.counterparty.push(counterparty.as_str().to_owned());
        self.description.push(c.description.map(str::to_owned));
        self.recorded_at.push(c.recorded.recorded_at);
        self.version.push(wallet_version(c.recorded, account));
        self.posted_debits.push(delta.posted_debits);
        self.posted_credits.push(delta.posted_credits);
        self.pending_debits.push(delta.pending_debits);
        self.pending_credits.push(delta.pending_credits);
    }
}

/// How one side of a transfer in one phase changes the account's sums:
/// the ledger's own `Balance::apply` run on zero, so the projection and the
/// domain cannot disagree on what a phase means.
fn delta(side: Side, amount: i64, phase: Phase) -> Balance {
    let mut delta = Balance::default();
    // From zero, one amount of at most i64::MAX cannot overflow either way.
    let _ = delta.apply(side, amount, phase);
    delta
}

/// The wallet's stream version, when the event is in the stream of the
/// account it moves money on; system accounts are not streams.
fn wallet_version(recorded: &LogEvent, account: &AccountId) -> Option<i64> {
    let own_stream = !account.is_system() && recorded.stream_id == StreamId::account(account);
    own_stream.then_some(recorded.stream_version)
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Posted => "posted",
        Phase::PendingPlaced => "pending",
        Phase::PendingPosted => "pending_posted",
        Phase::PendingVoided => "pending_voided",
    }
}

#[cfg(test)]
mod tests;
