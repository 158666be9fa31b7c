//! Property tests of the box office over random histories on one show and
//! a few wallets: reservations (sizes, tiers, customers), confirmations,
//! expiries, tickets given back, and a cancellation in chunks. After every
//! step: no tier has more seats held or sold than it has, the money the
//! show says is held and taken matches the wallets' and the box office's
//! accounts, and all balances sum to zero.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ledger::book::Book;
use ledger::box_office::pricing::{PriceStep, RefundRule};
use ledger::box_office::{
    cancellation_chunk, decide_cancel_ticket, decide_cancellation, decide_confirm, decide_expire,
    decide_reserve, decide_show, due_reservations, Decision, ReservationStatus, Reserve,
    ShowCommand, ShowState, TicketStatus, TierSpec,
};
use ledger::wallet::{decide, WalletCommand, WalletEvent, WalletState};
use ledger::{AccountId, Amount, CreditLimit, Currency, ReservationId, ShowId, TransferId};
use proptest::prelude::*;

const WALLETS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        wallet: usize,
        tier: u16,
        seats: u32,
    },
    Confirm {
        pick: usize,
    },
    Wait {
        seconds: i64,
    },
    Expire,
    GiveBack {
        pick: usize,
    },
    Cancel {
        chunk: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..WALLETS, 0u16..3, 0u32..5).prop_map(|(wallet, tier, seats)| Op::Reserve { wallet, tier, seats }),
        3 => any::<usize>().prop_map(|pick| Op::Confirm { pick }),
        1 => (1i64..400).prop_map(|seconds| Op::Wait { seconds }),
        1 => Just(Op::Expire),
        1 => any::<usize>().prop_map(|pick| Op::GiveBack { pick }),
        1 => (1usize..4).prop_map(|chunk| Op::Cancel { chunk }),
    ]
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, 0)
        .single()
        .expect("a time")
}

struct World {
    show: ShowState,
    wallets: Vec<WalletState>,
    book: Book,
    now: DateTime<Utc>,
    reservations: Vec<(ReservationId, usize)>,
}

impl World {
    fn new(capacities: &[u32]) -> Self {
        let tiers = capacities
            .iter()
            .enumerate()
            .map(|(i, &capacity)| TierSpec {
                name: format!("t{i}"),
                capacity,
                base_price: 999 + i as i64,
                steps: vec![PriceStep {
                    at_sold_bp: 3_333,
                    raise_bp: 1_234,
                }],
            })
            .collect();
        let schedule = ShowCommand::Schedule {
            show: ShowId::parse("s").expect("id"),
            name: "show".into(),
            starts_at: start() + Duration::hours(30),
            currency: eur(),
            tiers,
            seats_per_customer_max: 6,
            reservation_ttl_s: 600,
            refund_rule: RefundRule {
                full_refund_until_s_before: 86_400,
                late_refund_bp: 3_333,
            },
        };
        let show = decide_show(&ShowState::default(), &schedule)
            .expect("scheduled")
            .iter()
            .fold(ShowState::default(), ShowState::evolve);
        let mut world = Self {
            show,
            wallets: Vec::new(),
            book: Book::default(),
            now: start(),
            reservations: Vec::new(),
        };
        for i in 0..WALLETS {
            let mut w = WalletState::default();
            let open = WalletCommand::Open {
                account: AccountId::parse(&format!("w{i}")).expect("id"),
                currency: eur(),
                credit_limit: CreditLimit::new(0).expect("limit"),
            };
            let deposit = WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(6_000).expect("amount"),
                currency: None,
                description: None,
                payment_ref: None,
            };
            for c in [open, deposit] {
                let events = decide(&w, &c).expect("accepted");
                w = world.fold(w, &events);
            }
            world.wallets.push(w);
        }
        world
    }

    fn fold(&mut self, w: WalletState, events: &[WalletEvent]) -> WalletState {
        for e in events {
            for (t, phase) in e.transfers() {
                self.book.apply(t, phase);
            }
        }
        events.iter().fold(w, WalletState::evolve)
    }

    fn accept(&mut self, wallet: usize, decision: Result<Decision, ledger::Rejection>) {
        if let Ok(d) = decision {
            let w = std::mem::take(&mut self.wallets[wallet]);
            self.wallets[wallet] = self.fold(w, &d.wallet);
            self.show = d
                .show
                .iter()
                .fold(std::mem::take(&mut self.show), ShowState::evolve);
        }
    }

    fn wallet_of(&self, id: &AccountId) -> usize {
        self.wallets
            .iter()
            .position(|w| w.wallet.as_ref().is_some_and(|w| &w.id == id))
            .unwrap_or(0)
    }

    fn step(&mut self, op: &Op) {
        match op {
            Op::Reserve {
                wallet,
                tier,
                seats,
            } => {
                let command = Reserve {
                    reservation_id: ReservationId::generate(),
                    account: AccountId::parse(&format!("w{wallet}")).expect("id"),
                    tier: *tier,
                    seats: *seats,
                    now: self.now,
                };
                let d = decide_reserve(&self.wallets[*wallet], &self.show, &command);
                if d.is_ok() {
                    self.reservations.push((command.reservation_id, *wallet));
                }
                self.accept(*wallet, d);
            }
            Op::Confirm { pick } => {
                if self.reservations.is_empty() {
                    return;
                }
                let (id, wallet) = self.reservations[pick % self.reservations.len()];
                let d = decide_confirm(&self.wallets[wallet], &self.show, id, self.now);
                self.accept(wallet, d);
            }
            Op::Wait { seconds } => self.now += Duration::seconds(*seconds),
            Op::Expire => {
                let Some(show) = self.show.show.as_ref() else {
                    return;
                };
                for (id, account) in due_reservations(show, self.now, 100) {
                    let wallet = self.wallet_of(&account);
                    let d = decide_expire(&self.wallets[wallet], &self.show, id, self.now);
                    assert!(d.is_ok(), "a due reservation expires: {d:?}");
                    self.accept(wallet, d);
                }
            }
            Op::GiveBack { pick } => {
                let Some(show) = self.show.show.as_ref() else {
                    return;
                };
                let mut tickets: Vec<_> = show.tickets.iter().map(|(t, r)| (*t, *r)).collect();
                if tickets.is_empty() {
                    return;
                }
                tickets.sort();
                let (ticket, reservation) = tickets[pick % tickets.len()];
                let account = show.reservations[&reservation].account.clone();
                let wallet = self.wallet_of(&account);
                let d = decide_cancel_ticket(&self.wallets[wallet], &self.show, ticket, self.now);
                self.accept(wallet, d);
            }
            Op::Cancel { chunk } => {
                if let Ok(events) = decide_show(&self.show, &ShowCommand::Cancel) {
                    self.show = events
                        .iter()
                        .fold(std::mem::take(&mut self.show), ShowState::evolve);
                }
                loop {
                    let Some(show) = self.show.show.as_ref() else {
                        return;
                    };
                    let c = cancellation_chunk(show, *chunk);
                    let Ok(events) = decide_cancellation(&self.show, &c) else {
                        return;
                    };
                    for (account, command) in c.wallet_commands() {
                        let wallet = self.wallet_of(&account);
                        let events = decide(&self.wallets[wallet], &WalletCommand::Seats(command))
                            .expect("the wallet follows its show");
                        let w = std::mem::take(&mut self.wallets[wallet]);
                        self.wallets[wallet] = self.fold(w, &events);
                    }
                    self.show = events
                        .iter()
                        .fold(std::mem::take(&mut self.show), ShowState::evolve);
                    if c.is_empty() {
                        return;
                    }
                }
            }
        }
    }

    fn check(&self) {
        let show = self.show.show.as_ref().expect("show");
        for tier in &show.tiers {
            assert!(tier.reserved + tier.sold <= tier.capacity, "{tier:?}");
        }
        // Seats and money counted from the reservations agree with the
        // show's running totals and the ledger's accounts.
        let (mut held, mut taken) = (0i64, 0i64);
        let mut per_tier = vec![(0u32, 0u32); show.tiers.len()];
        for r in show.reservations.values() {
            match r.status {
                ReservationStatus::Open => {
                    held += r.unit_price * i64::from(r.seats);
                    per_tier[usize::from(r.tier)].0 += r.seats;
                }
                ReservationStatus::Confirmed => {
                    for (_, s) in &r.tickets {
                        match s {
                            TicketStatus::Valid => {
                                taken += r.unit_price;
                                per_tier[usize::from(r.tier)].1 += 1;
                            }
                            TicketStatus::Cancelled { refund } => taken += r.unit_price - refund,
                            TicketStatus::Refunded => {}
                        }
                    }
                }
                ReservationStatus::Expired | ReservationStatus::Released => {}
            }
        }
        for (tier, (reserved, sold)) in show.tiers.iter().zip(per_tier) {
            assert_eq!((tier.reserved, tier.sold), (reserved, sold));
        }
        assert_eq!((show.money_held, show.money_taken), (held, taken));
        let revenue = self.book.totals_of(&AccountId::box_office_revenue(), eur());
        assert_eq!(revenue.pending_credits, i128::from(held));
        assert_eq!(
            revenue.posted_credits - revenue.posted_debits,
            i128::from(taken)
        );
        let pending: i64 = self
            .wallets
            .iter()
            .filter_map(|w| w.wallet.as_ref())
            .map(|w| w.balance.pending_debits)
            .sum();
        assert_eq!(pending, held);
        for w in self.wallets.iter().filter_map(|w| w.wallet.as_ref()) {
            assert!(w.available() >= 0);
        }
        assert!(self.book.is_balanced());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn seats_never_oversell_and_money_matches_seats(
        capacities in prop::collection::vec(1u32..12, 1..4),
        ops in prop::collection::vec(op(), 1..80),
    ) {
        let mut world = World::new(&capacities);
        world.check();
        for op in &ops {
            world.step(op);
            world.check();
        }
    }
}
