//! The account read models as the log makes them, replayed in memory:
//! every account's balance row, and each event's statement lines. Built
//! from the wallet's decoding and the ledger's `Totals`, apart from the
//! projections' batching and SQL, so that comparing the two checks them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use ledger::book::{Side, Totals};
use ledger::store::RecordedEvent;
use ledger::wallet::WalletEvent;
use ledger::{AccountId, Currency, Phase, StreamId, Transfer};
use uuid::Uuid;

use crate::wallet_events::phase_name;

/// A `(account, currency)` key, as text: ordered by bytes, as the read
/// models are read (`COLLATE "C"`).
pub type AccountKey = (String, String);

/// What `account_balances` must hold for one account and currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpectedBalance {
    pub totals: Totals,
    /// The limit its wallet was opened with; 0 for system accounts.
    pub credit_limit: i64,
    /// The wallet's stream version at its last event; `None` for system
    /// accounts, which are not streams.
    pub version: Option<i64>,
    /// The position of the last event that changed it.
    pub last_position: i64,
}

/// Every account's expected balance row, after the events applied so far.
#[derive(Debug, Default)]
pub struct Replay {
    balances: BTreeMap<AccountKey, ExpectedBalance>,
}

impl Replay {
    pub fn apply(&mut self, event: &RecordedEvent, wallet_event: &WalletEvent) {
        if let WalletEvent::AccountOpened(opened) = wallet_event {
            let row = self.row(&opened.account, opened.currency);
            row.credit_limit = opened.credit_limit.get();
            row.version = Some(event.stream_version);
            row.last_position = event.global_position;
        }
        for (transfer, phase) in wallet_event.transfers() {
            let amount = i128::from(transfer.amount.get());
            for (side, account) in [
                (Side::Debit, &transfer.debit),
                (Side::Credit, &transfer.credit),
            ] {
                let own_stream =
                    !account.is_system() && event.stream_id == StreamId::account(account);
                let row = self.row(account, transfer.currency);
                row.totals.apply(side, amount, phase);
                row.last_position = event.global_position;
                if own_stream {
                    row.version = Some(event.stream_version);
                }
            }
        }
    }

    fn row(&mut self, account: &AccountId, currency: Currency) -> &mut ExpectedBalance {
        self.balances
            .entry((account.as_str().to_owned(), currency.to_string()))
            .or_default()
    }

    pub fn balances(&self) -> impl Iterator<Item = (&AccountKey, &ExpectedBalance)> {
        self.balances.iter()
    }

    pub fn accounts(&self) -> usize {
        self.balances.len()
    }

    /// The first currency whose posted balances, or pending credits less
    /// debits, do not sum to zero over every account; `None` when all do.
    /// It sums every account afresh, so it costs one pass over them.
    pub fn unbalanced(&self) -> Option<String> {
        let mut sums: BTreeMap<&str, (i128, i128)> = BTreeMap::new();
        for ((_, currency), row) in &self.balances {
            let sum = sums.entry(currency.as_str()).or_default();
            sum.0 += row.totals.posted();
            sum.1 += row.totals.pending_credits - row.totals.pending_debits;
        }
        sums.into_iter()
            .find(|(_, (posted, pending))| *posted != 0 || *pending != 0)
            .map(|(currency, (posted, pending))| {
                format!("{currency}: posted balances sum to {posted}, pending to {pending}")
            })
    }
}

/// One line `account_statement` must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub account_id: String,
    pub position: i64,
    /// Which of the event's transfers the line is for (0 for the first).
    pub line: i16,
    pub currency: String,
    pub event_type: String,
    pub transfer_id: Uuid,
    pub hold_id: Option<Uuid>,
    pub code: String,
    pub phase: String,
    /// Signed from the account's view: credit positive, debit negative.
    pub amount: i64,
    pub counterparty: String,
    pub description: Option<String>,
    pub recorded_at: DateTime<Utc>,
}

/// The statement lines of one event, transfer by transfer, each
/// transfer's in account order (bytes): one per side, or one when both
/// sides are the same account (the line is keyed by account, position and
/// transfer; the debit's is kept).
pub fn lines(event: &RecordedEvent, wallet_event: &WalletEvent) -> Vec<Line> {
    let mut lines = Vec::new();
    for (n, (transfer, phase)) in wallet_event.transfers().enumerate() {
        // An event has one or two transfers.
        let n = i16::try_from(n).unwrap_or(i16::MAX);
        lines.extend(transfer_lines(event, wallet_event, n, transfer, phase));
    }
    lines
}

fn transfer_lines(
    event: &RecordedEvent,
    wallet_event: &WalletEvent,
    n: i16,
    transfer: &Transfer,
    phase: Phase,
) -> Vec<Line> {
    let (hold_id, description) = match wallet_event {
        WalletEvent::FundsDeposited(e) | WalletEvent::FundsWithdrawn(e) => {
            (None, e.description.clone())
        }
        WalletEvent::HoldPlaced(e) | WalletEvent::HoldPosted(e) | WalletEvent::HoldVoided(e) => {
            (Some(e.hold_id.as_uuid()), e.description.clone())
        }
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
    // The code as stored in the event (`deposit`, ...), through serde, so
    // that a code added to the ledger needs no change here.
    let code = match serde_json::to_value(transfer.code) {
        Ok(serde_json::Value::String(code)) => code,
        // The projection stops on such a code, so the comparison shows
        // this one as a difference rather than hide it.
        other => format!("{other:?}"),
    };
    let amount = transfer.amount.get();
    let line = |account: &AccountId, counterparty: &AccountId, amount: i64| Line {
        account_id: account.as_str().to_owned(),
        position: event.global_position,
        line: n,
        currency: transfer.currency.to_string(),
        event_type: event.event_type.clone(),
        transfer_id: transfer.id.as_uuid(),
        hold_id,
        code: code.clone(),
        phase: phase_name(phase).to_owned(),
        amount,
        counterparty: counterparty.as_str().to_owned(),
        description: description.clone(),
        recorded_at: event.recorded_at,
    };
    // `Amount` is at least 1, so its negation always fits.
    let mut lines = vec![line(&transfer.debit, &transfer.credit, -amount)];
    if transfer.credit != transfer.debit {
        lines.push(line(&transfer.credit, &transfer.debit, amount));
    }
    lines.sort_by(|a, b| a.account_id.cmp(&b.account_id));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger::wallet::{decide, WalletCommand, WalletState};
    use ledger::{Amount, CreditLimit, TransferId};

    /// Alice's wallet: opened with a limit, a deposit, a hold posted: the
    /// recorded events at positions 10, 20, ... (stream versions 1, 2, ...).
    fn alice() -> Vec<(RecordedEvent, WalletEvent)> {
        let account = AccountId::parse("alice").expect("id");
        let hold_id = ledger::HoldId::generate();
        let commands = [
            WalletCommand::Open {
                account: account.clone(),
                currency: Currency::parse("EUR").expect("EUR"),
                credit_limit: CreditLimit::new(300).expect("limit"),
            },
            WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(1_000).expect("amount"),
                currency: None,
                description: None,
                payment_ref: None,
            },
            WalletCommand::PlaceHold {
                hold_id,
                amount: Amount::new(200).expect("amount"),
                currency: None,
                description: None,
            },
            WalletCommand::PostHold { hold_id },
        ];
        let mut state = WalletState::default();
        let mut decided = Vec::new();
        for command in commands {
            for event in decide(&state, &command).expect("accepted") {
                state = state.evolve(&event);
                decided.push(event);
            }
        }
        let mut recorded = Vec::new();
        for (i, event) in decided.into_iter().enumerate() {
            let version = i as i64 + 1;
            let stored = RecordedEvent {
                global_position: version * 10,
                stream_id: StreamId::account(&account),
                stream_version: version,
                event_id: Uuid::nil(),
                command_id: format!("c{version}"),
                event_type: event.event_type().to_owned(),
                schema_version: event.schema_version(),
                payload: event.payload(),
                metadata: serde_json::json!({}),
                recorded_at: DateTime::UNIX_EPOCH,
                prev_hash: None,
                hash: Vec::new(),
            };
            recorded.push((stored, event));
        }
        recorded
    }

    fn key(account: &str) -> AccountKey {
        (account.to_owned(), "EUR".to_owned())
    }

    #[test]
    fn balances_follow_every_side_and_stay_balanced() {
        let mut replay = Replay::default();
        for (event, wallet_event) in alice() {
            replay.apply(&event, &wallet_event);
            assert_eq!(replay.unbalanced(), None, "after {}", event.event_type);
        }
        let rows: BTreeMap<&AccountKey, &ExpectedBalance> = replay.balances().collect();
        let alice = rows[&key("alice")];
        assert_eq!(
            (alice.totals.posted(), alice.totals.pending_debits),
            (800, 0)
        );
        assert_eq!(
            (alice.credit_limit, alice.version, alice.last_position),
            (300, Some(4), 40)
        );
        let house = rows[&key("house")];
        assert_eq!((house.totals.posted(), house.version), (200, None));
        let cash = rows[&key("cash")];
        assert_eq!((cash.totals.posted(), cash.last_position), (-1_000, 20));
        assert_eq!(replay.accounts(), 3);
    }

    #[test]
    fn money_that_appears_from_nowhere_is_named_by_currency() {
        let mut replay = Replay::default();
        let events = alice();
        let (event, wallet_event) = &events[1];
        replay.apply(event, wallet_event);
        replay
            .balances
            .entry(key("alice"))
            .or_default()
            .totals
            .posted_credits += 1;
        assert_eq!(
            replay.unbalanced(),
            Some("EUR: posted balances sum to 1, pending to 0".to_owned())
        );
    }

    #[test]
    fn each_transfer_makes_a_line_per_side_in_account_order() {
        let events = alice();
        assert_eq!(
            lines(&events[0].0, &events[0].1),
            vec![],
            "an opening moves no money"
        );
        let deposit = lines(&events[1].0, &events[1].1);
        let sides: Vec<(&str, i64, &str)> = deposit
            .iter()
            .map(|l| (l.account_id.as_str(), l.amount, l.counterparty.as_str()))
            .collect();
        assert_eq!(
            sides,
            vec![("alice", 1_000, "cash"), ("cash", -1_000, "alice")]
        );
        assert_eq!(
            (deposit[0].code.as_str(), deposit[0].phase.as_str()),
            ("deposit", "posted")
        );
        let posted = lines(&events[3].0, &events[3].1);
        assert_eq!(posted[0].phase, "pending_posted");
        assert!(posted[0].hold_id.is_some());
        assert_eq!(posted[0].position, 40);
    }
}
