//! The facts the ClickHouse projection writes, derived from a batch of
//! events without I/O: one [`Posting`] per side of every transfer and one
//! [`BetFact`] per sportsbook bet event on a wallet.

use ledger::book::Side;
use ledger::store::LogEvent;
use ledger::wallet::WalletEvent;
use ledger::Transfer;
use serde::Serialize;

use crate::accounts::{decode, phase_name, transfer_code};
use crate::Error;

/// One side of one transfer (table `postings`, `schemas/clickhouse/0001_postings.sql`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct Posting {
    pub position: i64,
    /// 0: the debit side, 1: the credit side.
    pub leg: u8,
    /// Seconds since the Unix epoch (ClickHouse `DateTime('UTC')`).
    pub time: u32,
    pub event_type: String,
    pub transfer_id: String,
    pub account: String,
    pub counterparty: String,
    /// Signed from `account`'s view: credit positive, debit negative.
    pub amount: i64,
    pub currency: String,
    pub code: String,
    pub phase: &'static str,
}

/// One sportsbook bet event on a wallet (table `bets`, `schemas/clickhouse/0002_bets.sql`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct BetFact {
    pub position: i64,
    pub time: u32,
    pub event_type: String,
    pub bet_id: String,
    pub account: String,
    pub currency: String,
    pub market: String,
    pub outcome: u16,
    pub legs: u8,
    pub odds: u64,
    pub stake: i64,
    pub payout: i64,
    pub code: String,
}

/// One pool money event (table `pool_entries`,
/// `schemas/clickhouse/0004_pool_entries.sql`): an entry's stake
/// (`amount`), a payout or refund (`paid`), or the pool's rake (`rake`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct PoolEntryFact {
    pub position: i64,
    pub time: u32,
    pub event_type: String,
    pub pool_id: String,
    pub outcome: u16,
    pub account: String,
    pub currency: String,
    pub amount: i64,
    pub rake: i64,
    pub paid: i64,
}

/// The facts of one batch of events, in position order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub postings: Vec<Posting>,
    pub bets: Vec<BetFact>,
    pub pool_entries: Vec<PoolEntryFact>,
}

impl Facts {
    /// Derives the facts of `events`; events that are not the wallet's are
    /// skipped (the box office's and pools' are mapped when they exist).
    pub fn from_events(events: &[LogEvent]) -> Result<Self, Error> {
        let mut facts = Self::default();
        for recorded in events {
            let Some(event) = decode(recorded)? else {
                continue;
            };
            let time = epoch_seconds(recorded)?;
            if let Some((transfer, phase)) = event.transfer() {
                let code = transfer_code(recorded, transfer)?;
                for side in [Side::Debit, Side::Credit] {
                    facts.postings.push(posting(
                        recorded,
                        time,
                        transfer,
                        &code,
                        phase_name(phase),
                        side,
                    ));
                }
            }
            if let Some(bet) = bet_fact(recorded, time, &event)? {
                facts.bets.push(bet);
            }
            if let Some(entry) = pool_fact(recorded, time, &event) {
                facts.pool_entries.push(entry);
            }
        }
        Ok(facts)
    }

    /// Rows in all tables, for batch bounds and logs.
    pub fn rows(&self) -> usize {
        self.postings.len() + self.bets.len() + self.pool_entries.len()
    }
}

/// The pool fact of a pool money event; `None` for every other event.
fn pool_fact(recorded: &LogEvent, time: u32, event: &WalletEvent) -> Option<PoolEntryFact> {
    let fact = |pool: &ledger::PoolId, outcome: u16, account: &ledger::AccountId, t: &Transfer| {
        PoolEntryFact {
            position: recorded.global_position,
            time,
            event_type: recorded.event_type.clone(),
            pool_id: pool.to_string(),
            outcome,
            account: account.as_str().to_owned(),
            currency: t.currency.to_string(),
            amount: 0,
            rake: 0,
            paid: 0,
        }
    };
    Some(match event {
        WalletEvent::PoolEntered(e) => PoolEntryFact {
            amount: e.transfer.amount.get(),
            ..fact(&e.pool, e.outcome, &e.transfer.debit, &e.transfer)
        },
        WalletEvent::PoolPaid(e) | WalletEvent::PoolRefunded(e) => PoolEntryFact {
            paid: e.transfer.amount.get(),
            ..fact(&e.pool, 0, &e.transfer.credit, &e.transfer)
        },
        WalletEvent::PoolRakeTaken(e) => PoolEntryFact {
            rake: e.transfer.amount.get(),
            ..fact(&e.pool, 0, &e.transfer.credit, &e.transfer)
        },
        _ => return None,
    })
}

fn posting(
    recorded: &LogEvent,
    time: u32,
    transfer: &Transfer,
    code: &str,
    phase: &'static str,
    side: Side,
) -> Posting {
    let (leg, account, counterparty, amount) = match side {
        Side::Debit => (0, &transfer.debit, &transfer.credit, -transfer.amount.get()),
        Side::Credit => (1, &transfer.credit, &transfer.debit, transfer.amount.get()),
    };
    Posting {
        position: recorded.global_position,
        leg,
        time,
        event_type: recorded.event_type.clone(),
        transfer_id: transfer.id.to_string(),
        account: account.as_str().to_owned(),
        counterparty: counterparty.as_str().to_owned(),
        amount,
        currency: transfer.currency.to_string(),
        code: code.to_owned(),
        phase,
    }
}

/// The bet fact of a bet event; `None` for other events and for the ones no
/// report reads (a leg settled alone, a cash-out offered).
fn bet_fact(recorded: &LogEvent, time: u32, event: &WalletEvent) -> Result<Option<BetFact>, Error> {
    let fact = |bet_id: String, transfer: &Transfer, wallet: Side| BetFact {
        position: recorded.global_position,
        time,
        event_type: recorded.event_type.clone(),
        bet_id,
        account: match wallet {
            Side::Debit => transfer.debit.as_str().to_owned(),
            Side::Credit => transfer.credit.as_str().to_owned(),
        },
        currency: transfer.currency.to_string(),
        market: String::new(),
        outcome: 0,
        legs: 0,
        odds: 0,
        stake: 0,
        payout: 0,
        code: String::new(),
    };
    let code = |transfer: &Transfer| transfer_code(recorded, transfer);
    let fact = match event {
        WalletEvent::BetPlaced(e) => {
            let first = e.legs.first();
            BetFact {
                market: first
                    .map(|l| l.market.as_str().to_owned())
                    .unwrap_or_default(),
                outcome: first.map(|l| l.outcome).unwrap_or_default(),
                legs: u8::try_from(e.legs.len()).unwrap_or(u8::MAX),
                odds: e.odds.0,
                stake: e.transfer.amount.get(),
                code: code(&e.transfer)?,
                ..fact(e.bet_id.to_string(), &e.transfer, Side::Debit)
            }
        }
        WalletEvent::BetSettled(e) => BetFact {
            market: e.market.as_str().to_owned(),
            stake: e.transfer.amount.get(),
            code: code(&e.transfer)?,
            ..fact(e.bet_id.to_string(), &e.transfer, Side::Debit)
        },
        WalletEvent::BetVoided(e) => BetFact {
            market: e.market.as_str().to_owned(),
            stake: e.transfer.amount.get(),
            code: code(&e.transfer)?,
            ..fact(e.bet_id.to_string(), &e.transfer, Side::Debit)
        },
        WalletEvent::BetCashedOut(e) => BetFact {
            stake: e.transfer.amount.get(),
            code: code(&e.transfer)?,
            ..fact(e.bet_id.to_string(), &e.transfer, Side::Debit)
        },
        WalletEvent::BetPaid(e) => BetFact {
            payout: e.transfer.amount.get(),
            code: code(&e.transfer)?,
            ..fact(e.bet_id.to_string(), &e.transfer, Side::Credit)
        },
        WalletEvent::BetPayoutReversed(e) => BetFact {
            payout: -e.transfer.amount.get(),
            code: code(&e.transfer)?,
            ..fact(e.bet_id.to_string(), &e.transfer, Side::Debit)
        },
        _ => return Ok(None),
    };
    Ok(Some(fact))
}

/// The event's time as ClickHouse `DateTime` (seconds, unsigned 32 bits):
/// a time outside it is refused rather than wrapped.
fn epoch_seconds(recorded: &LogEvent) -> Result<u32, Error> {
    u32::try_from(recorded.recorded_at.timestamp()).map_err(|_| {
        Error::Invariant(format!(
            "event at position {} was recorded at {}, outside ClickHouse's DateTime range",
            recorded.global_position, recorded.recorded_at
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use ledger::wallet::{decide, WalletCommand, WalletState};
    use ledger::{AccountId, Amount, CreditLimit, Currency, HoldId, StreamId, TransferId};

    /// Given a wallet's commands decided by the real domain, the events as
    /// the log would hold them.
    fn log(commands: Vec<WalletCommand>) -> Vec<LogEvent> {
        let account = AccountId::parse("alice").expect("id");
        let mut state = WalletState::default();
        let mut out = Vec::new();
        for command in commands {
            for event in decide(&state, &command).expect("accepted") {
                state = state.evolve(&event);
                let n = out.len() as i64 + 1;
                out.push(LogEvent {
                    global_position: n,
                    stream_id: StreamId::account(&account),
                    stream_version: n,
                    event_type: event.event_type().to_owned(),
                    schema_version: event.schema_version(),
                    recorded_at: Utc.timestamp_opt(1_800_000_000 + n, 0).single().expect("t"),
                    payload: serde_json::value::RawValue::from_string(
                        serde_json::to_string(&event.payload()).expect("json"),
                    )
                    .expect("raw"),
                });
            }
        }
        out
    }

    #[test]
    fn every_transfer_becomes_two_legs_that_sum_to_zero() {
        let amount = |n| Amount::new(n).expect("amount");
        let hold = HoldId::generate();
        let events = log(vec![
            WalletCommand::Open {
                account: AccountId::parse("alice").expect("id"),
                currency: Currency::parse("EUR").expect("eur"),
                credit_limit: CreditLimit::ZERO,
            },
            WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: amount(1_000),
                currency: None,
                description: None,
                payment_ref: None,
            },
            WalletCommand::PlaceHold {
                hold_id: hold,
                amount: amount(300),
                currency: None,
                description: None,
            },
            WalletCommand::PostHold { hold_id: hold },
            WalletCommand::Withdraw {
                transfer_id: TransferId::generate(),
                amount: amount(200),
                currency: None,
                description: None,
                payment_ref: None,
            },
        ]);
        let facts = Facts::from_events(&events).expect("facts");
        // The opening moves no money; four transfers, two legs each.
        assert_eq!(facts.postings.len(), 8);
        assert!(facts.bets.is_empty());
        for pair in facts.postings.chunks(2) {
            assert_eq!(pair[0].position, pair[1].position);
            assert_eq!((pair[0].leg, pair[1].leg), (0, 1));
            assert_eq!(pair[0].amount + pair[1].amount, 0);
            assert_eq!(pair[0].account, pair[1].counterparty);
            assert!(pair[0].amount < 0, "the debit side is negative");
        }
        let phases: Vec<&str> = facts.postings.iter().step_by(2).map(|p| p.phase).collect();
        assert_eq!(phases, ["posted", "pending", "pending_posted", "posted"]);
        // Alice's balance as ClickHouse's reports sum it: 1000 - 300 - 200.
        let balance: i64 = facts
            .postings
            .iter()
            .filter(|p| p.account == "alice" && matches!(p.phase, "posted" | "pending_posted"))
            .map(|p| p.amount)
            .sum();
        assert_eq!(balance, 500);
    }

    #[test]
    fn the_same_events_give_the_same_facts() {
        let events = log(vec![WalletCommand::Open {
            account: AccountId::parse("alice").expect("id"),
            currency: Currency::parse("EUR").expect("eur"),
            credit_limit: CreditLimit::ZERO,
        }]);
        assert_eq!(
            Facts::from_events(&events).expect("a"),
            Facts::from_events(&events).expect("b")
        );
    }

    #[test]
    fn pool_money_becomes_pool_entry_facts_that_add_up_to_the_pot() {
        use ledger::wallet::{PoolEntered, PoolEntryPaid};
        use ledger::{PoolEntryId, PoolId, TransferCode};
        let pool = PoolId::parse("derby").expect("id");
        let eur = Currency::parse("EUR").expect("eur");
        let transfer = |debit: AccountId, credit: AccountId, n: i64, code| Transfer {
            id: TransferId::generate(),
            debit,
            credit,
            amount: Amount::new(n).expect("amount"),
            currency: eur,
            code,
        };
        let (ann, escrow) = (AccountId::parse("ann").expect("id"), AccountId::pool(&pool));
        let entry_id = PoolEntryId::generate();
        let events = [
            WalletEvent::PoolEntered(PoolEntered {
                pool: pool.clone(),
                entry_id,
                outcome: 2,
                transfer: transfer(ann.clone(), escrow.clone(), 1_000, TransferCode::PoolEntry),
            }),
            WalletEvent::PoolPaid(PoolEntryPaid {
                pool: pool.clone(),
                entry_id,
                transfer: transfer(escrow.clone(), ann.clone(), 900, TransferCode::PoolPayout),
            }),
            WalletEvent::PoolRakeTaken(ledger::pool::PoolRakeTaken {
                pool: pool.clone(),
                transfer: transfer(escrow, AccountId::rake(), 100, TransferCode::Rake),
            }),
        ];
        let log: Vec<LogEvent> = events
            .iter()
            .enumerate()
            .map(|(i, event)| LogEvent {
                global_position: i as i64 + 1,
                stream_id: StreamId::account(&ann),
                stream_version: i as i64 + 1,
                event_type: event.event_type().to_owned(),
                schema_version: event.schema_version(),
                recorded_at: Utc.timestamp_opt(1_800_000_000, 0).single().expect("t"),
                payload: serde_json::value::RawValue::from_string(
                    serde_json::to_string(&event.payload()).expect("json"),
                )
                .expect("raw"),
            })
            .collect();
        let facts = Facts::from_events(&log).expect("facts");
        let rows = &facts.pool_entries;
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].amount, rows[0].outcome, rows[0].account.as_str()),
            (1_000, 2, "ann")
        );
        assert_eq!((rows[1].paid, rows[1].account.as_str()), (900, "ann"));
        assert_eq!((rows[2].rake, rows[2].account.as_str()), (100, "fees:rake"));
        let pot: i64 = rows.iter().map(|r| r.amount).sum();
        let out: i64 = rows.iter().map(|r| r.paid + r.rake).sum();
        assert_eq!(pot, out, "payouts + rake = pot");
        assert!(rows.iter().all(|r| r.pool_id == "derby"));
    }
}
