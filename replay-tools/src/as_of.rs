//! `as-of`: one account as it stood at a past moment, from the events alone
//! (no read model): its balance, its open holds and its latest postings.
//!
//! A wallet is its own stream: its events up to the moment are folded with
//! the wallet's `evolve`, as the command side does. A system account
//! (`house`, `cash`, `pool:{id}`, ...) is no stream (DESIGN.md §2): its
//! balance is the sum of every transfer that touched it, so the whole log up
//! to the moment is read. Both are read in one REPEATABLE READ snapshot.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use ledger::book::{Side, Totals};
use ledger::store::{recorded_event, PgEventStore, RecordedEvent, READ_EVENTS_MAX};
use ledger::wallet::{WalletEvent, WalletState};
use ledger::{AccountId, Currency, HoldId, Phase, StreamId, Transfer};
use serde::Serialize;
use sqlx::PgConnection;

use crate::error::Error;
use crate::wallet_events::{decode, phase_name};
use crate::{db, output, progress};

/// Most postings `--postings` may ask for.
pub const POSTINGS_MAX: u32 = 1_000;

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("moment").required(true).args(["at", "position"])))]
pub struct Args {
    /// The account: a player's wallet id (e.g. alice) or a system account
    /// (house, cash, pool:{id}, ...).
    #[arg(long)]
    account: String,
    /// The moment as a time (RFC 3339, e.g. 2026-11-23T08:54:42Z): the state
    /// after the longest prefix of the log recorded at or before it.
    #[arg(long, value_parser = parse_time)]
    at: Option<DateTime<Utc>>,
    /// The moment as a global position: the state after every event up to
    /// and including it.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..))]
    position: Option<i64>,
    /// How many of the latest postings to list (0 to 1000).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=POSTINGS_MAX as i64))]
    postings: u32,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time: {e}"))
}

/// Whose balance is asked for.
enum Account {
    Wallet(AccountId),
    System(String),
}

impl Account {
    fn parse(id: &str) -> Result<Self, Error> {
        match AccountId::parse(id) {
            Ok(account) => Ok(Self::Wallet(account)),
            Err(_) if is_system(id) => Ok(Self::System(id.to_owned())),
            Err(rejection) => Err(Error::InvalidAccount(format!(
                "{rejection}; system accounts are house, cash or contain a ':'"
            ))),
        }
    }
}

/// System accounts are the two named ones and every `kind:{id}` (DESIGN.md
/// §2); `ledger::ids` builds no others, and no player id contains a ':'.
fn is_system(id: &str) -> bool {
    id == AccountId::house().as_str() || id == AccountId::cash().as_str() || id.contains(':')
}

/// The account at the moment: what `--json` prints, and the text is made of.
#[derive(Debug, Serialize)]
pub struct Report {
    pub account: String,
    pub kind: &'static str,
    /// The state is after every event up to this position, and no other.
    pub position: i64,
    /// The time asked for, when the moment was given as one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wallet: Option<WalletView>,
    /// One per currency the account has moved money in.
    pub balances: Vec<BalanceView>,
    pub open_holds: Vec<HoldView>,
    /// Newest first.
    pub postings: Vec<Posting>,
}

#[derive(Debug, Serialize)]
pub struct WalletView {
    pub currency: String,
    pub credit_limit: i64,
    pub version: i64,
}

/// Sums in minor units. Wide, because a system account sums every wallet.
#[derive(Debug, Serialize)]
pub struct BalanceView {
    pub currency: String,
    pub posted: i128,
    pub pending_debits: i128,
    pub pending_credits: i128,
    /// Posted, less pending debits, plus the credit limit (0 for system
    /// accounts), as the balances read model computes it.
    pub available: i128,
    pub posted_debits: i128,
    pub posted_credits: i128,
}

#[derive(Debug, Clone, Serialize)]
pub struct HoldView {
    pub hold_id: HoldId,
    /// Where it was placed.
    pub position: i64,
    pub recorded_at: String,
    pub currency: String,
    /// Signed from this account's view: a debit is negative.
    pub amount: i64,
    pub counterparty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One side of one transfer, as a statement shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Posting {
    pub position: i64,
    pub recorded_at: String,
    pub event_type: String,
    pub transfer_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<HoldId>,
    pub currency: String,
    /// Signed from this account's view: credit positive, debit negative.
    pub amount: i64,
    /// posted, pending, pending_posted or pending_voided.
    pub phase: &'static str,
    pub counterparty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

pub async fn run(database_url: &str, args: &Args) -> Result<(), Error> {
    let account = Account::parse(&args.account)?;
    let pool = db::connect(database_url).await?;
    let mut tx = db::snapshot(&pool).await?;
    let position = match (args.position, args.at) {
        (Some(position), _) => position,
        (None, Some(at)) => {
            sqlx::query_scalar(include_str!("as_of/position_at.sql"))
                .bind(at)
                .fetch_one(&mut *tx)
                .await?
        }
        (None, None) => {
            return Err(Error::InvalidArgument(
                "give the moment with --at or --position".into(),
            ))
        }
    };
    let postings_max = usize::try_from(args.postings).unwrap_or(0);
    let mut report = match &account {
        Account::Wallet(id) => wallet(&mut tx, id, position, postings_max).await?,
        Account::System(id) => system(&mut tx, id, position, postings_max).await?,
    };
    tx.commit().await?;
    report.at = args
        .at
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Micros, true));
    output::print(&report, args.json, text)
}

/// A wallet: its stream up to `position`, folded with `evolve`.
async fn wallet(
    conn: &mut PgConnection,
    id: &AccountId,
    position: i64,
    postings_max: usize,
) -> Result<Report, Error> {
    let stream = StreamId::account(id);
    let mut state = WalletState::default();
    let mut follow = Follow::new(id.as_str(), postings_max);
    let mut version = 0;
    loop {
        let rows = sqlx::query(include_str!("as_of/wallet_events.sql"))
            .bind(stream.as_str())
            .bind(version)
            .bind(position)
            .bind(READ_EVENTS_MAX)
            .fetch_all(&mut *conn)
            .await?;
        for row in &rows {
            let event = recorded_event(row)?;
            if let Some(wallet_event) = decode(&event)? {
                follow.apply(&event, &wallet_event);
                state = state.evolve(&wallet_event);
            }
            version = event.stream_version;
        }
        if rows.len() < usize::try_from(READ_EVENTS_MAX).unwrap_or(usize::MAX) {
            break;
        }
    }
    let Some(wallet) = state.wallet else {
        return Err(Error::NotOpen {
            account: id.to_string(),
            position,
        });
    };
    // The same money summed twice, by the aggregate and by the statement's
    // fold: they must agree, or one of them is wrong.
    let folded = follow
        .totals
        .get(&wallet.currency)
        .copied()
        .unwrap_or_default();
    if folded != Totals::from(wallet.balance) || follow.currencies_other_than(wallet.currency) {
        return Err(Error::Invariant(format!(
            "{id}: evolve gives {:?}, the postings sum to {:?}",
            wallet.balance, follow.totals
        )));
    }
    let pending = wallet
        .holds
        .values()
        .filter(|h| h.status == ledger::wallet::HoldStatus::Pending)
        .count();
    if pending != follow.holds.len() {
        return Err(Error::Invariant(format!(
            "{id}: evolve has {pending} pending holds, the postings {}",
            follow.holds.len()
        )));
    }
    let balance = BalanceView::new(wallet.currency, &folded, i128::from(wallet.available()));
    Ok(Report {
        account: id.to_string(),
        kind: "wallet",
        position,
        at: None,
        wallet: Some(WalletView {
            currency: wallet.currency.to_string(),
            credit_limit: wallet.credit_limit.get(),
            version,
        }),
        balances: vec![balance],
        open_holds: follow.open_holds(),
        postings: follow.postings.into_iter().rev().collect(),
    })
}

/// A system account: every transfer of the log up to `position` that
/// touched it.
async fn system(
    conn: &mut PgConnection,
    id: &str,
    position: i64,
    postings_max: usize,
) -> Result<Report, Error> {
    let bar = progress::bar(u64::try_from(position).unwrap_or(0), "replaying");
    let mut follow = Follow::new(id, postings_max);
    let mut after = 0;
    'pages: while after < position {
        let page = PgEventStore::read_snapshot_page(&mut *conn, after, READ_EVENTS_MAX).await?;
        let Some(last) = page.last() else { break };
        after = last.global_position;
        for event in &page {
            if event.global_position > position {
                break 'pages;
            }
            if let Some(wallet_event) = decode(event)? {
                follow.apply(event, &wallet_event);
            }
        }
        bar.set_position(u64::try_from(after.min(position)).unwrap_or(0));
    }
    bar.finish_and_clear();
    let balances = follow
        .totals
        .iter()
        .map(|(currency, totals)| {
            // System accounts have no credit limit.
            let available = totals.posted() - totals.pending_debits;
            BalanceView::new(*currency, totals, available)
        })
        .collect();
    Ok(Report {
        account: id.to_owned(),
        kind: "system",
        position,
        at: None,
        wallet: None,
        balances,
        open_holds: follow.open_holds(),
        postings: follow.postings.into_iter().rev().collect(),
    })
}

/// One account's side of the transfers, in log order: sums per currency,
/// the holds still pending, and the latest postings (a bounded window).
struct Follow<'a> {
    account: &'a str,
    postings_max: usize,
    totals: BTreeMap<Currency, Totals>,
    holds: HashMap<HoldId, HoldView>,
    postings: VecDeque<Posting>,
}

impl<'a> Follow<'a> {
    fn new(account: &'a str, postings_max: usize) -> Self {
        Self {
            account,
            postings_max,
            totals: BTreeMap::new(),
            holds: HashMap::new(),
            postings: VecDeque::with_capacity(postings_max),
        }
    }

    fn apply(&mut self, event: &RecordedEvent, wallet_event: &WalletEvent) {
        for (transfer, phase) in wallet_event.transfers() {
            self.apply_transfer(event, wallet_event, transfer, phase);
        }
    }

    fn apply_transfer(
        &mut self,
        event: &RecordedEvent,
        wallet_event: &WalletEvent,
        transfer: &Transfer,
        phase: Phase,
    ) {
        let (side, counterparty) = if transfer.debit.as_str() == self.account {
            (Side::Debit, &transfer.credit)
        } else if transfer.credit.as_str() == self.account {
            (Side::Credit, &transfer.debit)
        } else {
            return;
        };
        let amount = transfer.amount.get();
        self.totals
            .entry(transfer.currency)
            .or_default()
            .apply(side, i128::from(amount), phase);
        let signed = match side {
            Side::Debit => -amount,
            Side::Credit => amount,
        };
        let recorded_at = event
            .recorded_at
            .to_rfc3339_opts(SecondsFormat::Micros, true);
        let (hold_id, description) = match wallet_event {
            WalletEvent::FundsDeposited(e) | WalletEvent::FundsWithdrawn(e) => {
                (None, e.description.clone())
            }
            WalletEvent::HoldPlaced(e)
            | WalletEvent::HoldPosted(e)
            | WalletEvent::HoldVoided(e) => (Some(e.hold_id), e.description.clone()),
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
            // Seat holds are keyed by their reservation, not a hold id.
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
        if let Some(hold_id) = hold_id {
            if phase == Phase::PendingPlaced {
                self.holds.insert(
                    hold_id,
                    HoldView {
                        hold_id,
                        position: event.global_position,
                        recorded_at: recorded_at.clone(),
                        currency: transfer.currency.to_string(),
                        amount: signed,
                        counterparty: counterparty.to_string(),
                        description: description.clone(),
                    },
                );
            } else {
                self.holds.remove(&hold_id);
            }
        }
        if self.postings_max == 0 {
            return;
        }
        if self.postings.len() == self.postings_max {
            self.postings.pop_front();
        }
        self.postings.push_back(Posting {
            position: event.global_position,
            recorded_at,
            event_type: event.event_type.clone(),
            transfer_id: transfer.id.to_string(),
            hold_id,
            currency: transfer.currency.to_string(),
            amount: signed,
            phase: phase_name(phase),
            counterparty: counterparty.to_string(),
            description,
        });
    }

    fn currencies_other_than(&self, currency: Currency) -> bool {
        self.totals.keys().any(|c| *c != currency)
    }

    /// Oldest first.
    fn open_holds(&self) -> Vec<HoldView> {
        let mut holds: Vec<HoldView> = self.holds.values().cloned().collect();
        holds.sort_by_key(|h| h.position);
        holds
    }
}

impl BalanceView {
    fn new(currency: Currency, totals: &Totals, available: i128) -> Self {
        Self {
            currency: currency.to_string(),
            posted: totals.posted(),
            pending_debits: totals.pending_debits,
            pending_credits: totals.pending_credits,
            available,
            posted_debits: totals.posted_debits,
            posted_credits: totals.posted_credits,
        }
    }
}

/// The report as text, for a person.
fn text(report: &Report) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_text(&mut out, report);
    out
}

fn write_text(out: &mut String, r: &Report) -> std::fmt::Result {
    let at =
        r.at.as_ref()
            .map(|t| format!(": the log as recorded by {t}"))
            .unwrap_or_default();
    match &r.wallet {
        Some(w) => writeln!(
            out,
            "{}: wallet in {}, credit limit {}, version {}, as of position {}{at}",
            r.account, w.currency, w.credit_limit, w.version, r.position
        )?,
        None => writeln!(
            out,
            "{}: system account, as of position {}{at}",
            r.account, r.position
        )?,
    }
    if r.balances.is_empty() {
        writeln!(out, "balance: no transfers yet")?;
    }
    for b in &r.balances {
        writeln!(
            out,
            "balance {}: posted {}, pending debits {}, pending credits {}, available {}",
            b.currency, b.posted, b.pending_debits, b.pending_credits, b.available
        )?;
    }
    if r.open_holds.is_empty() {
        writeln!(out, "open holds: none")?;
    } else {
        writeln!(out, "open holds ({}), oldest first:", r.open_holds.len())?;
        for h in &r.open_holds {
            writeln!(
                out,
                "  {} placed at position {} ({}): {} {} with {}{}",
                h.hold_id,
                h.position,
                h.recorded_at,
                h.amount,
                h.currency,
                h.counterparty,
                quoted(h.description.as_deref())
            )?;
        }
    }
    if r.postings.is_empty() {
        writeln!(out, "postings: none")?;
    } else {
        writeln!(out, "latest postings ({}), newest first:", r.postings.len())?;
        for p in &r.postings {
            writeln!(
                out,
                "  {:>8}  {}  {:<16} {:>12} {}  {:<14}  {}{}",
                p.position,
                p.recorded_at,
                p.event_type,
                p.amount,
                p.currency,
                p.phase,
                p.counterparty,
                quoted(p.description.as_deref())
            )?;
        }
    }
    Ok(())
}

fn quoted(description: Option<&str>) -> String {
    description.map(|d| format!(" {d:?}")).unwrap_or_default()
}
