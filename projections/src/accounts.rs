//! The account read models, as two projections over the same decoding:
//!
//! - [`Balances`] (`balances`): every account's sums per currency, wallets
//!   and system accounts alike. Small, and rebuilt fast.
//! - [`Statements`] (`statements`): both sides of every transfer, one row
//!   per account and event. Large; it has its own checkpoint so that a
//!   rebuild of the balances never waits for it.
//!
//! A batch of events becomes column arrays in memory (pure, `Batch::from_events`)
//! and then one or two statements, whatever the batch size.

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

/// The checkpoint key of [`Balances`].
pub const BALANCES: &str = "balances";
/// The checkpoint key of [`Statements`].
pub const STATEMENTS: &str = "statements";
/// Every projection the query side reads, for read-your-writes waits.
pub const ALL: [&str; 2] = [BALANCES, STATEMENTS];

/// Keeps `account_balances` (migration `0002_read_models.sql`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Balances;

impl Projection for Balances {
    fn name(&self) -> &str {
        BALANCES
    }

    fn tables(&self) -> &'static [&'static str] {
        &["account_balances"]
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[LogEvent],
    ) -> Result<(), Error> {
        Batch::from_events(events, Rows::Balances)?
            .write_balances(tx)
            .await
    }
}

/// Keeps `account_statement` (migration `0002_read_models.sql`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Statements;

impl Projection for Statements {
    fn name(&self) -> &str {
        STATEMENTS
    }

    fn tables(&self) -> &'static [&'static str] {
        &["account_statement"]
    }

    async fn apply(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        events: &[LogEvent],
    ) -> Result<(), Error> {
        Batch::from_events(events, Rows::Statement)?
            .write_statement(tx)
            .await
    }
}

/// Which rows a batch is built for; each projection builds only its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rows {
    Balances,
    Statement,
}

/// A batch of events as the rows they change, column by column, ready to
/// be bound as arrays.
#[derive(Debug, PartialEq)]
pub(crate) struct Batch {
    opened: Opened,
    sums: Sums,
    lines: Lines,
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

/// How one account's side of one transfer-touching event changes its sums.
#[derive(Debug, Default, PartialEq)]
struct Sums {
    account_id: Vec<String>,
    currency: Vec<String>,
    position: Vec<i64>,
    version: Vec<Option<i64>>,
    posted_debits: Vec<i64>,
    posted_credits: Vec<i64>,
    pending_debits: Vec<i64>,
    pending_credits: Vec<i64>,
}

/// One account's statement line for one transfer of an event.
#[derive(Debug, Default, PartialEq)]
struct Lines {
    account_id: Vec<String>,
    currency: Vec<String>,
    position: Vec<i64>,
    /// Which of the event's transfers (0 for the first).
    line: Vec<i16>,
    event_type: Vec<String>,
    transfer_id: Vec<Uuid>,
    hold_id: Vec<Option<Uuid>>,
    code: Vec<String>,
    phase: Vec<&'static str>,
    amount: Vec<i64>,
    counterparty: Vec<String>,
    description: Vec<Option<String>>,
    recorded_at: Vec<DateTime<Utc>>,
}

impl Batch {
    /// Decodes the wallet events among `events` into the rows `rows` asks
    /// for; other events are skipped.
    pub(crate) fn from_events(events: &[LogEvent], rows: Rows) -> Result<Self, Error> {
        let mut batch = Self {
            opened: Opened::default(),
            sums: Sums::default(),
            lines: Lines::default(),
        };
        // Index of each (account, currency) in `opened`, so that a batch
        // never upserts one row twice (Postgres refuses that).
        let mut opened_at: HashMap<(String, String), usize> = HashMap::new();
        for recorded in events {
            let Some(event) = decode(recorded)? else {
                continue;
            };
            if let (Rows::Balances, WalletEvent::AccountOpened(opened)) = (rows, &event) {
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
            for (n, (transfer, phase)) in event.transfers().enumerate() {
                // An event has one or two transfers.
                let n = i16::try_from(n).unwrap_or(i16::MAX);
                for side in [Side::Debit, Side::Credit] {
                    match rows {
                        Rows::Balances => batch.sums.push(recorded, transfer, phase, side),
                        Rows::Statement => {
                            let context = PostingContext::new(recorded, &event, transfer, phase)?;
                            batch.lines.push(&context, n, side);
                        }
                    }
                }
            }
        }
        Ok(batch)
    }

    async fn write_balances(self, tx: &mut Transaction<'_, Postgres>) -> Result<(), Error> {
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
        if self.sums.account_id.is_empty() {
            return Ok(());
        }
        let fresh = self.sums.fresh(tx).await?;
        let sent = fresh.account_id.len();
        let rows = sqlx::query(include_str!("accounts/apply_balances.sql"))
            .bind(fresh.account_id)
            .bind(fresh.currency)
            .bind(fresh.posted_debits)
            .bind(fresh.posted_credits)
            .bind(fresh.pending_debits)
            .bind(fresh.pending_credits)
            .bind(fresh.version)
            .bind(fresh.last_position)
            .fetch_all(&mut **tx)
            .await?;
        if rows.len() != sent {
            return Err(Error::Invariant(format!(
                "{sent} accounts had new postings but only {} balances changed",
                rows.len()
            )));
        }
        let mut negative = 0;
        for row in &rows {
            if !row.try_get::<bool, _>("sums_valid")? {
                negative += 1;
            }
        }
        if negative > 0 {
            return Err(Error::Invariant(format!(
                "{negative} accounts would have a negative sum of debits or credits"
            )));
        }
        Ok(())
    }

    async fn write_statement(self, tx: &mut Transaction<'_, Postgres>) -> Result<(), Error> {
        if self.lines.account_id.is_empty() {
            return Ok(());
        }
        let l = self.lines;
        sqlx::query(include_str!("accounts/apply_statement.sql"))
            .bind(l.account_id)
            .bind(l.currency)
            .bind(l.position)
            .bind(l.line)
            .bind(l.event_type)
            .bind(l.transfer_id)
            .bind(l.hold_id)
            .bind(l.code)
            .bind(l.phase)
            .bind(l.amount)
            .bind(l.counterparty)
            .bind(l.description)
            .bind(l.recorded_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

/// The wallet event in `recorded`, or `None` when it is not a wallet event.
pub(crate) fn decode(recorded: &LogEvent) -> Result<Option<WalletEvent>, Error> {
    let decoded = WalletEvent::from_json(
        &recorded.event_type,
        recorded.schema_version,
        recorded.payload.get(),
    );
    match decoded {
        Ok(event) => Ok(Some(event)),
        Err(ledger::Error::UnknownEventType { .. })
            // A wallet type that fails to decode stops the projection; any
            // other type is not a wallet event and is skipped.
            if !WalletEvent::TYPES.contains(&recorded.event_type.as_str()) =>
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
            // A bet's stake is not a generic hold (its id is the bet's) and bet
            // events carry no free text; their transfers count like any other.
            WalletEvent::BetPlaced(_)
            | WalletEvent::BetLegSettled(_)
            | WalletEvent::BetSettled(_)
            | WalletEvent::BetVoided(_)
            | WalletEvent::BetPaid(_)
            | WalletEvent::BetPayoutReversed(_)
            | WalletEvent::CashOutOffered(_)
            | WalletEvent::BetCashedOut(_) => (None, None),
            // Box-office holds are keyed by their reservation, not a hold id.
            WalletEvent::SeatsHeld(_)
            | WalletEvent::SeatsPurchased(_)
            | WalletEvent::SeatsReleased(_)
            | WalletEvent::TicketRefunded(_) => (None, None),
            // Pool money carries no free text either.
            WalletEvent::PoolEntered(_)
            | WalletEvent::PoolPaid(_)
            | WalletEvent::PoolRefunded(_)
            | WalletEvent::PoolRakeTaken(_) => (None, None),
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
pub(crate) fn transfer_code(recorded: &LogEvent, transfer: &Transfer) -> Result<String, Error> {
    match serde_json::to_value(transfer.code) {
        Ok(serde_json::Value::String(code)) => Ok(code),
        _ => Err(Error::Invariant(format!(
            "transfer {} at position {} has a code that is not a string",
            transfer.id, recorded.global_position
        ))),
    }
}

/// A batch's postings summed per account, only those after the account's
/// `last_position`: what `apply_balances.sql` adds.
#[derive(Debug, Default)]
struct Fresh {
    account_id: Vec<String>,
    currency: Vec<String>,
    posted_debits: Vec<i64>,
    posted_credits: Vec<i64>,
    pending_debits: Vec<i64>,
    pending_credits: Vec<i64>,
    version: Vec<Option<i64>>,
    last_position: Vec<i64>,
}

impl Sums {
    /// Sums the postings per account, keeping only those after what each
    /// account has applied. Summing here, not in SQL, sends one row per
    /// account instead of one per posting.
    async fn fresh(self, tx: &mut Transaction<'_, Postgres>) -> Result<Fresh, Error> {
        let mut index: HashMap<(&str, &str), usize> = HashMap::new();
        let mut keys: (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
        for (account, currency) in self.account_id.iter().zip(&self.currency) {
            if !index.contains_key(&(account.as_str(), currency.as_str())) {
                index.insert((account, currency), keys.0.len());
                keys.0.push(account.clone());
                keys.1.push(currency.clone());
            }
        }
        let mut applied_up_to = vec![0i64; keys.0.len()];
        let rows = sqlx::query(include_str!("accounts/last_positions.sql"))
            .bind(&keys.0)
            .bind(&keys.1)
            .fetch_all(&mut **tx)
            .await?;
        for row in &rows {
            let key: (String, String) = (row.try_get(0)?, row.try_get(1)?);
            if let Some(&i) = index.get(&(key.0.as_str(), key.1.as_str())) {
                applied_up_to[i] = row.try_get(2)?;
            }
        }
        let n = keys.0.len();
        let mut sums = vec![Balance::default(); n];
        let mut version: Vec<Option<i64>> = vec![None; n];
        let mut last = vec![0i64; n];
        for p in 0..self.account_id.len() {
            let key = (self.account_id[p].as_str(), self.currency[p].as_str());
            let Some(&i) = index.get(&key) else { continue };
            let position = self.position[p];
            if position <= applied_up_to[i] {
                continue;
            }
            let s = &mut sums[i];
            s.posted_debits = add(s.posted_debits, self.posted_debits[p], position)?;
            s.posted_credits = add(s.posted_credits, self.posted_credits[p], position)?;
            s.pending_debits = add(s.pending_debits, self.pending_debits[p], position)?;
            s.pending_credits = add(s.pending_credits, self.pending_credits[p], position)?;
            version[i] = version[i].max(self.version[p]);
            last[i] = last[i].max(position);
        }
        let mut fresh = Fresh::default();
        for i in (0..n).filter(|&i| last[i] > 0) {
            fresh.account_id.push(keys.0[i].clone());
            fresh.currency.push(keys.1[i].clone());
            fresh.posted_debits.push(sums[i].posted_debits);
            fresh.posted_credits.push(sums[i].posted_credits);
            fresh.pending_debits.push(sums[i].pending_debits);
            fresh.pending_credits.push(sums[i].pending_credits);
            fresh.version.push(version[i]);
            fresh.last_position.push(last[i]);
        }
        Ok(fresh)
    }

    fn push(&mut self, recorded: &LogEvent, t: &Transfer, phase: Phase, side: Side) {
        let account = match side {
            Side::Debit => &t.debit,
            Side::Credit => &t.credit,
        };
        let delta = delta(side, t.amount.get(), phase);
        self.account_id.push(account.as_str().to_owned());
        self.currency.push(t.currency.to_string());
        self.position.push(recorded.global_position);
        self.version.push(wallet_version(recorded, account));
        self.posted_debits.push(delta.posted_debits);
        self.posted_credits.push(delta.posted_credits);
        self.pending_debits.push(delta.pending_debits);
        self.pending_credits.push(delta.pending_credits);
    }
}

impl Lines {
    fn push(&mut self, c: &PostingContext<'_>, line: i16, side: Side) {
        let t = c.transfer;
        let amount = t.amount.get();
        let (account, counterparty, signed) = match side {
            // `Amount` is at least 1, so its negation always fits.
            Side::Debit => (&t.debit, &t.credit, -amount),
            Side::Credit => (&t.credit, &t.debit, amount),
        };
        self.account_id.push(account.as_str().to_owned());
        self.currency.push(t.currency.to_string());
        self.position.push(c.recorded.global_position);
        self.line.push(line);
        self.event_type.push(c.recorded.event_type.clone());
        self.transfer_id.push(t.id.as_uuid());
        self.hold_id.push(c.hold_id);
        self.code.push(c.code.clone());
        self.phase.push(phase_name(c.phase));
        self.amount.push(signed);
        self.counterparty.push(counterparty.as_str().to_owned());
        self.description.push(c.description.map(str::to_owned));
        self.recorded_at.push(c.recorded.recorded_at);
    }
}

/// Adds one posting's delta to a batch sum; a sum past `i64` is refused, as
/// the balance column would refuse it.
fn add(sum: i64, delta: i64, position: i64) -> Result<i64, Error> {
    sum.checked_add(delta)
        .ok_or_else(|| Error::Invariant(format!("a balance sum overflows at position {position}")))
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

pub(crate) fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Posted => "posted",
        Phase::PendingPlaced => "pending",
        Phase::PendingPosted => "pending_posted",
        Phase::PendingVoided => "pending_voided",
    }
}

#[cfg(test)]
mod tests;
