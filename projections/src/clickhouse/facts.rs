//! The facts the ClickHouse projection writes, derived from a batch of
//! events without I/O: one [`Posting`] per side of every transfer, one
//! [`BetFact`] per sportsbook bet event on a wallet, one [`PoolEntryFact`]
//! per pool money event, and for the box office one [`ShowTier`] per tier
//! scheduled, one [`ShowReservation`] per reservation and one
//! [`TicketSale`] per ticket sold or refunded.
//!
//! Every fact comes from one event alone: the sink keeps no state across
//! batches (it restarts anywhere, and a checkpoint reset sends any suffix
//! of the log again), so what one event lacks, such as a ticket's tier,
//! is joined in the reports from the facts of the event that has it.

use ledger::book::Side;
use ledger::box_office::ShowEvent;
use ledger::store::LogEvent;
use ledger::wallet::{SeatsPurchased, TicketRefunded, WalletEvent};
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

/// One tier of a scheduled show (table `show_tiers`,
/// `schemas/clickhouse/0005_show_tiers.sql`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct ShowTier {
    pub position: i64,
    /// The tier's index in the show, as reservations name it.
    pub tier: u16,
    pub time: u32,
    pub show_id: String,
    pub name: String,
    pub capacity: u32,
    /// The show's currency: every ticket of the show is sold in it.
    pub currency: String,
}

/// One reservation of seats (table `show_reservations`,
/// `schemas/clickhouse/0006_show_reservations.sql`): what ties a ticket to
/// its tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct ShowReservation {
    pub position: i64,
    pub time: u32,
    pub reservation_id: String,
    pub show_id: String,
    pub tier: u16,
    pub seats: u32,
    pub unit_price: i64,
    pub account: String,
}

/// One ticket sold or refunded (table `ticket_sales`,
/// `schemas/clickhouse/0003_ticket_sales.sql`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, clickhouse::Row)]
pub struct TicketSale {
    pub position: i64,
    /// The ticket's index among the event's tickets (0 for a refund).
    pub seat: u32,
    pub time: u32,
    pub event_type: String,
    pub show_id: String,
    pub reservation_id: String,
    pub ticket_id: String,
    pub account: String,
    /// Empty for a refund that moved no money: no transfer names it.
    pub currency: String,
    /// Sold: the ticket's unit price; refunded: the money given back.
    pub price: i64,
    /// 0: sold, 1: refunded.
    pub refunded: u8,
}

/// The facts of one batch of events, in position order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Facts {
    pub postings: Vec<Posting>,
    pub bets: Vec<BetFact>,
    pub pool_entries: Vec<PoolEntryFact>,
    pub show_tiers: Vec<ShowTier>,
    pub show_reservations: Vec<ShowReservation>,
    pub ticket_sales: Vec<TicketSale>,
}

impl Facts {
    /// Derives the facts of `events`: the wallets' and the shows'; the
    /// other streams' events (markets, pools) are skipped, since their
    /// money is on the wallets' events.
    pub fn from_events(events: &[LogEvent]) -> Result<Self, Error> {
        let mut facts = Self::default();
        for recorded in events {
            if let Some(event) = decode_show(recorded)? {
                facts.push_show(recorded, &event)?;
                continue;
            }
            let Some(event) = decode(recorded)? else {
                continue;
            };
            let time = epoch_seconds(recorded)?;
            for (n, (transfer, phase)) in event.transfers().enumerate() {
                let code = transfer_code(recorded, transfer)?;
                // An event has one or two transfers: legs 0 and 1 are the
                // first's, 2 and 3 the second's.
                let first_leg = u8::try_from(2 * n).unwrap_or(u8::MAX - 1);
                for side in [Side::Debit, Side::Credit] {
                    facts.postings.push(posting(
                        recorded,
                        time,
                        transfer,
                        &code,
                        phase_name(phase),
                        (first_leg, side),
                    ));
                }
            }
            if let Some(bet) = bet_fact(recorded, time, &event)? {
                facts.bets.push(bet);
            }
            if let Some(entry) = pool_fact(recorded, time, &event) {
                facts.pool_entries.push(entry);
            }
            match &event {
                WalletEvent::SeatsPurchased(e) => {
                    facts.ticket_sales.extend(tickets_sold(recorded, time, e)?);
                }
                WalletEvent::TicketRefunded(e) => {
                    facts.ticket_sales.push(ticket_refunded(recorded, time, e));
                }
                _ => {}
            }
        }
        Ok(facts)
    }

    /// Rows in all tables, for batch bounds and logs.
    pub fn rows(&self) -> usize {
        self.postings.len()
            + self.bets.len()
            + self.pool_entries.len()
            + self.show_tiers.len()
            + self.show_reservations.len()
            + self.ticket_sales.len()
    }

    /// The facts of a show event: its tiers when scheduled, a reservation
    /// when seats are reserved; the other show events move no seats or
    /// money that the wallets' events do not already say.
    fn push_show(&mut self, recorded: &LogEvent, event: &ShowEvent) -> Result<(), Error> {
        let time = epoch_seconds(recorded)?;
        match event {
            ShowEvent::Scheduled(e) => {
                for (index, spec) in e.tiers.iter().enumerate() {
                    let tier = u16::try_from(index).map_err(|_| {
                        Error::Invariant(format!(
                            "show {} at position {} has more tiers than a u16 counts",
                            e.show, recorded.global_position
                        ))
                    })?;
                    self.show_tiers.push(ShowTier {
                        position: recorded.global_position,
                        tier,
                        time,
                        show_id: e.show.to_string(),
                        name: spec.name.clone(),
                        capacity: spec.capacity,
                        currency: e.currency.to_string(),
                    });
                }
            }
            ShowEvent::SeatsReserved(e) => self.show_reservations.push(ShowReservation {
                position: recorded.global_position,
                time,
                reservation_id: e.reservation_id.to_string(),
                show_id: e.show.to_string(),
                tier: e.tier,
                seats: e.seats,
                unit_price: e.unit_price,
                account: e.account.as_str().to_owned(),
            }),
            _ => {}
        }
        Ok(())
    }
}

/// A show event, or `None` when the event is not a show's. A show type
/// that fails to decode stops the sink, as a wallet's does in `decode`:
/// skipping it would leave tickets without their tier.
fn decode_show(recorded: &LogEvent) -> Result<Option<ShowEvent>, Error> {
    if !ShowEvent::TYPES.contains(&recorded.event_type.as_str()) {
        return Ok(None);
    }
    // `from_json` is `from_stored` for the payload's text, which the log
    // hands over unparsed: the same version check, no `Value` built.
    ShowEvent::from_json(
        &recorded.event_type,
        recorded.schema_version,
        recorded.payload.get(),
    )
    .map(Some)
    .map_err(|source| Error::Event {
        position: recorded.global_position,
        event_type: recorded.event_type.clone(),
        source,
    })
}

/// One row per ticket a confirmation issued, each at the reservation's
/// unit price. The hold was `seats × unit_price` and one ticket is issued
/// per seat, so the amount divides exactly; if it ever did not, a price
/// per ticket would lose or invent cents, so the sink stops instead.
fn tickets_sold(
    recorded: &LogEvent,
    time: u32,
    event: &SeatsPurchased,
) -> Result<Vec<TicketSale>, Error> {
    let amount = event.transfer.amount.get();
    let tickets = i64::try_from(event.tickets.len()).unwrap_or(i64::MAX);
    if tickets == 0 || amount % tickets != 0 {
        return Err(Error::Invariant(format!(
            "seats_purchased at position {}: {} tickets for {amount}, not a whole price each",
            recorded.global_position, tickets
        )));
    }
    let price = amount / tickets;
    event
        .tickets
        .iter()
        .enumerate()
        .map(|(index, ticket)| {
            Ok(TicketSale {
                position: recorded.global_position,
                seat: u32::try_from(index).map_err(|_| {
                    Error::Invariant(format!(
                        "seats_purchased at position {} has more tickets than a u32 counts",
                        recorded.global_position
                    ))
                })?,
                time,
                event_type: recorded.event_type.clone(),
                show_id: event.show.to_string(),
                reservation_id: event.reservation_id.to_string(),
                ticket_id: ticket.to_string(),
                account: event.transfer.debit.as_str().to_owned(),
                currency: event.transfer.currency.to_string(),
                price,
                refunded: 0,
            })
        })
        .collect()
}

/// One row for a ticket given back, priced at the refund paid (0 when the
/// refund rule gave nothing back and no transfer was made).
fn ticket_refunded(recorded: &LogEvent, time: u32, event: &TicketRefunded) -> TicketSale {
    // Without a transfer the wallet is still the stream's own account.
    let account = match &event.transfer {
        Some(t) => t.credit.as_str().to_owned(),
        None => recorded
            .stream_id
            .as_str()
            .strip_prefix("account-")
            .unwrap_or_default()
            .to_owned(),
    };
    TicketSale {
        position: recorded.global_position,
        seat: 0,
        time,
        event_type: recorded.event_type.clone(),
        show_id: event.show.to_string(),
        reservation_id: event.reservation_id.to_string(),
        ticket_id: event.ticket_id.to_string(),
        account,
        currency: event
            .transfer
            .as_ref()
            .map(|t| t.currency.to_string())
            .unwrap_or_default(),
        price: event.transfer.as_ref().map_or(0, |t| t.amount.get()),
        refunded: 1,
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
    (first_leg, side): (u8, Side),
) -> Posting {
    let (leg, account, counterparty, amount) = match side {
        Side::Debit => (
            first_leg,
            &transfer.debit,
            &transfer.credit,
            -transfer.amount.get(),
        ),
        Side::Credit => (
            first_leg + 1,
            &transfer.credit,
            &transfer.debit,
            transfer.amount.get(),
        ),
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
            // Since version 2 the settlement pays what the bet returned.
            payout: e.payout.as_ref().map_or(0, |p| p.amount.get()),
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

    /// A show and one customer's wallet driven by the real domain, their
    /// events numbered as the log would hold them.
    struct BoxOffice {
        show: ledger::box_office::ShowState,
        wallet: WalletState,
        log: Vec<LogEvent>,
        /// When every command is decided.
        now: chrono::DateTime<Utc>,
    }

    impl BoxOffice {
        fn account() -> AccountId {
            AccountId::parse("ann").expect("id")
        }

        fn starts_at() -> chrono::DateTime<Utc> {
            Utc.timestamp_opt(1_900_000_000, 0).single().expect("t")
        }

        fn record(&mut self, stream: StreamId, event_type: &str, version: i32, payload: String) {
            let n = self.log.len() as i64 + 1;
            self.log.push(LogEvent {
                global_position: n,
                stream_id: stream,
                stream_version: n,
                event_type: event_type.to_owned(),
                schema_version: version,
                recorded_at: Utc.timestamp_opt(1_800_000_000 + n, 0).single().expect("t"),
                payload: serde_json::value::RawValue::from_string(payload).expect("raw"),
            });
        }

        fn wallet_events(&mut self, events: Vec<WalletEvent>) {
            for event in events {
                self.wallet = std::mem::take(&mut self.wallet).evolve(&event);
                let payload = event.payload().to_string();
                let stream = StreamId::account(&Self::account());
                self.record(stream, event.event_type(), event.schema_version(), payload);
            }
        }

        fn show_events(&mut self, events: Vec<ShowEvent>) {
            for event in events {
                self.show = std::mem::take(&mut self.show).evolve(&event);
                let payload = event.payload().to_string();
                let stream = StreamId::new("show-gala");
                self.record(stream, event.event_type(), event.schema_version(), payload);
            }
        }

        fn decided(&mut self, decision: ledger::box_office::Decision) {
            self.show_events(decision.show);
            self.wallet_events(decision.wallet);
        }

        /// `ann` with 100.00 EUR, and `gala` with two tiers, `hours_before`
        /// its start; within the last day a ticket given back returns
        /// `late_refund_bp`.
        fn new(late_refund_bp: u32, hours_before: i64) -> Self {
            use ledger::box_office::pricing::RefundRule;
            use ledger::box_office::{decide_show, ShowCommand, ShowState, TierSpec};
            let mut office = Self {
                show: ShowState::default(),
                wallet: WalletState::default(),
                log: Vec::new(),
                now: Self::starts_at() - chrono::Duration::hours(hours_before),
            };
            let tier = |name: &str, capacity, base_price| TierSpec {
                name: name.into(),
                capacity,
                base_price,
                steps: Vec::new(),
            };
            let schedule = ShowCommand::Schedule {
                show: ledger::ShowId::parse("gala").expect("id"),
                name: "Gala".into(),
                starts_at: Self::starts_at(),
                currency: Currency::parse("EUR").expect("eur"),
                tiers: vec![tier("stalls", 4, 2_500), tier("circle", 50, 999)],
                seats_per_customer_max: 10,
                reservation_ttl_s: 600,
                refund_rule: RefundRule {
                    full_refund_until_s_before: 86_400,
                    late_refund_bp,
                },
            };
            let events = decide_show(&office.show, &schedule).expect("scheduled");
            office.show_events(events);
            for command in [
                WalletCommand::Open {
                    account: Self::account(),
                    currency: Currency::parse("EUR").expect("eur"),
                    credit_limit: CreditLimit::ZERO,
                },
                WalletCommand::Deposit {
                    transfer_id: TransferId::generate(),
                    amount: Amount::new(10_000).expect("amount"),
                    currency: None,
                    description: None,
                    payment_ref: None,
                },
            ] {
                let events = decide(&office.wallet, &command).expect("accepted");
                office.wallet_events(events);
            }
            office
        }

        fn reserve(&mut self, tier: u16, seats: u32) -> ledger::ReservationId {
            let reserve = ledger::box_office::Reserve {
                reservation_id: ledger::ReservationId::generate(),
                account: Self::account(),
                tier,
                seats,
                now: self.now,
            };
            let decision = ledger::box_office::decide_reserve(&self.wallet, &self.show, &reserve)
                .expect("reserved");
            self.decided(decision);
            reserve.reservation_id
        }

        fn confirm(&mut self, id: ledger::ReservationId) {
            let decision =
                ledger::box_office::decide_confirm(&self.wallet, &self.show, id, self.now)
                    .expect("confirmed");
            self.decided(decision);
        }

        fn give_back(&mut self, ticket: ledger::TicketId) {
            let decision = ledger::box_office::decide_cancel_ticket(
                &self.wallet,
                &self.show,
                ticket,
                self.now,
            )
            .expect("given back");
            self.decided(decision);
        }
    }

    #[test]
    fn a_show_gives_its_tiers_its_reservations_and_a_row_per_ticket() {
        use ledger::box_office::ticket_id;
        let mut office = BoxOffice::new(5_000, 48);
        let circle = office.reserve(1, 3);
        office.confirm(circle);
        let stalls = office.reserve(0, 1);
        office.give_back(ticket_id(circle, 2));
        let facts = Facts::from_events(&office.log).expect("facts");

        let tiers: Vec<(i64, u16, &str, u32, &str, &str)> = facts
            .show_tiers
            .iter()
            .map(|t| {
                let (name, show, currency) =
                    (t.name.as_str(), t.show_id.as_str(), t.currency.as_str());
                (t.position, t.tier, name, t.capacity, show, currency)
            })
            .collect();
        assert_eq!(
            tiers,
            [
                (1, 0, "stalls", 4, "gala", "EUR"),
                (1, 1, "circle", 50, "gala", "EUR")
            ]
        );

        let reservations: Vec<(String, u16, u32, i64, &str)> = facts
            .show_reservations
            .iter()
            .map(|r| {
                (
                    r.reservation_id.clone(),
                    r.tier,
                    r.seats,
                    r.unit_price,
                    r.account.as_str(),
                )
            })
            .collect();
        assert_eq!(
            reservations,
            [
                (circle.to_string(), 1, 3, 999, "ann"),
                (stalls.to_string(), 0, 1, 2_500, "ann")
            ]
        );

        // Three tickets sold at 9.99 each, then the third given back more
        // than a day before the show: a full refund. The open stalls
        // reservation has no ticket.
        let sales: Vec<(u32, String, i64, u8, &str, &str)> = facts
            .ticket_sales
            .iter()
            .map(|t| {
                assert_eq!(t.reservation_id, circle.to_string());
                assert_eq!(t.show_id, "gala");
                let (account, currency) = (t.account.as_str(), t.currency.as_str());
                (
                    t.seat,
                    t.ticket_id.clone(),
                    t.price,
                    t.refunded,
                    account,
                    currency,
                )
            })
            .collect();
        let ticket = |i| ticket_id(circle, i).to_string();
        assert_eq!(
            sales,
            [
                (0, ticket(0), 999, 0, "ann", "EUR"),
                (1, ticket(1), 999, 0, "ann", "EUR"),
                (2, ticket(2), 999, 0, "ann", "EUR"),
                (0, ticket(2), 999, 1, "ann", "EUR"),
            ]
        );
        let sold = &facts.ticket_sales[..3];
        assert!(sold.iter().all(|t| t.position == sold[0].position));
        assert!(sold.iter().all(|t| t.event_type == "seats_purchased"));
        assert_eq!(facts.ticket_sales[3].event_type, "ticket_refunded");

        // What the box office kept equals the tickets' prices less refunds.
        let revenue: i64 = facts
            .postings
            .iter()
            .filter(|p| p.account == "box-office:revenue")
            .filter(|p| matches!(p.phase, "posted" | "pending_posted"))
            .map(|p| p.amount)
            .sum();
        let net: i64 = facts
            .ticket_sales
            .iter()
            .map(|t| if t.refunded == 0 { t.price } else { -t.price })
            .sum();
        assert_eq!((revenue, net), (1_998, 1_998));
    }

    #[test]
    fn a_refund_that_pays_nothing_is_a_row_priced_zero() {
        use ledger::box_office::ticket_id;
        // Late, with a rule that gives nothing back late.
        let mut office = BoxOffice::new(0, 2);
        let r = office.reserve(0, 2);
        office.confirm(r);
        office.give_back(ticket_id(r, 0));
        let facts = Facts::from_events(&office.log).expect("facts");
        let refund = facts.ticket_sales.last().expect("refund row");
        assert_eq!(
            (
                refund.refunded,
                refund.price,
                refund.seat,
                refund.account.as_str()
            ),
            (1, 0, 0, "ann")
        );
        assert_eq!(refund.currency, "", "no transfer names a currency");
        assert_eq!(refund.ticket_id, ticket_id(r, 0).to_string());
        assert_eq!(facts.ticket_sales.len(), 3);
    }

    #[test]
    fn a_purchase_that_does_not_divide_into_its_tickets_stops_the_sink() {
        use ledger::wallet::SeatsPurchased;
        use ledger::{ReservationId, ShowId, TicketId, TransferCode};
        let reservation_id = ReservationId::generate();
        let event = WalletEvent::SeatsPurchased(SeatsPurchased {
            reservation_id,
            show: ShowId::parse("gala").expect("id"),
            tickets: (0..3)
                .map(|i| ledger::box_office::ticket_id(reservation_id, i))
                .collect::<Vec<TicketId>>(),
            transfer: Transfer {
                id: TransferId::from_uuid(reservation_id.as_uuid()),
                debit: BoxOffice::account(),
                credit: AccountId::box_office_revenue(),
                amount: Amount::new(1_000).expect("amount"),
                currency: Currency::parse("EUR").expect("eur"),
                code: TransferCode::Ticket,
            },
        });
        let mut office = BoxOffice::new(0, 48);
        office.log.clear();
        office.record(
            StreamId::account(&BoxOffice::account()),
            event.event_type(),
            event.schema_version(),
            event.payload().to_string(),
        );
        let refused = Facts::from_events(&office.log);
        assert!(matches!(refused, Err(Error::Invariant(_))), "{refused:?}");
    }

    #[test]
    fn a_show_event_that_does_not_decode_stops_the_sink() {
        let mut office = BoxOffice::new(0, 48);
        office.log.clear();
        office.record(StreamId::new("show-gala"), "show_scheduled", 1, "{}".into());
        let refused = Facts::from_events(&office.log);
        assert!(
            matches!(refused, Err(Error::Event { position: 1, .. })),
            "{refused:?}"
        );
    }
}
