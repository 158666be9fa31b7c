//! The box office for `bench clickhouse`: shows of three tiers, each on
//! sale for a while, reservations of 1 to 3 seats confirmed (9 in 10) or
//! left to expire, and a ticket given back from 1 in 5 confirmed
//! reservations; all decided by `ledger::box_office` against the shows'
//! and the wallets' states, as the writer would.
//!
//! Reservation `i` is made at `i` × (30 days / reservations) at one of
//! the `WINDOW` shows then on sale: shows go on sale in turn and each
//! starts a day after its last sale. What follows a reservation (its
//! confirmation or expiry, a ticket given back hours later) waits in an
//! agenda and is logged when its time comes.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use ledger::box_office::pricing::{PriceStep, RefundRule};
use ledger::box_office::{
    decide_cancel_ticket, decide_confirm, decide_expire, decide_reserve, decide_show, ticket_id,
    Decision, Reserve, ShowCommand, ShowState, TierSpec,
};
use ledger::{Rejection, ReservationId, ShowId, StreamId, TicketId};

use super::{eur, rejected, start, Agenda, Log, Source, Stream, Wallets, ACCOUNTS, DAYS};

/// Shows on sale at once.
const WINDOW: u64 = 20;
/// How long a reservation holds its seats.
const TTL_S: u32 = 600;
/// A ticket given back until this long before its show is refunded in
/// full, later by half.
const FULL_REFUND_S: i64 = 30 * 3_600;

/// What follows a reservation.
enum Next {
    Confirm {
        show: usize,
        account: usize,
        reservation: ReservationId,
        seats: u32,
    },
    Expire {
        show: usize,
        account: usize,
        reservation: ReservationId,
    },
    GiveBack {
        show: usize,
        account: usize,
        ticket: TicketId,
    },
}

pub(super) struct Shows {
    /// Scheduled when first picked.
    shows: Vec<Option<Stream<ShowState>>>,
    reservations: u64,
    /// The next reservation to make.
    next: u64,
    window: u64,
    millis_per_reservation: i64,
    agenda: Agenda<Next>,
    rng: fastrand::Rng,
    pub reserved: u64,
    pub refused: u64,
    pub confirmed: u64,
    pub expired: u64,
    pub given_back: u64,
}

impl Shows {
    pub fn new(shows: u64, reservations: u64) -> anyhow::Result<Self> {
        let count = usize::try_from(shows)?;
        Ok(Self {
            shows: (0..count).map(|_| None).collect(),
            reservations,
            next: 0,
            window: WINDOW.min(shows),
            millis_per_reservation: DAYS * 86_400_000 / i64::try_from(reservations)?.max(1),
            agenda: Agenda::new(),
            rng: fastrand::Rng::with_seed(11),
            reserved: 0,
            refused: 0,
            confirmed: 0,
            expired: 0,
            given_back: 0,
        })
    }

    /// Shows scheduled: each is picked by some reservation, save by
    /// chance at a small scale.
    pub fn scheduled(&self) -> usize {
        self.shows.iter().filter(|s| s.is_some()).count()
    }

    fn at(&self, reservation: u64) -> DateTime<Utc> {
        let step = i64::try_from(reservation).unwrap_or(i64::MAX);
        start() + Duration::milliseconds(step.saturating_mul(self.millis_per_reservation))
    }

    /// Shows that go on sale in turn: the first of the window at
    /// reservation `i`.
    fn turns(&self) -> u64 {
        self.shows.len() as u64 - self.window + 1
    }

    fn pick(&mut self, reservation: u64) -> usize {
        let first =
            u128::from(reservation) * u128::from(self.turns()) / u128::from(self.reservations);
        let first = u64::try_from(first).unwrap_or(0);
        usize::try_from(first + self.rng.u64(0..self.window)).unwrap_or(0)
    }

    /// A day after the last reservation that can pick show `s`.
    fn starts_at(&self, s: usize) -> DateTime<Utc> {
        let last = (s as u64 + 1) * self.reservations;
        self.at(last.div_ceil(self.turns())) + Duration::days(1)
    }

    fn schedule(&mut self, s: usize, now: DateTime<Utc>, log: &mut Log) -> anyhow::Result<()> {
        if self.shows[s].is_some() {
            return Ok(());
        }
        let class = (s % 4) as i64;
        let tier = |name: &str, capacity, base_price, steps| TierSpec {
            name: name.to_owned(),
            capacity,
            base_price,
            steps,
        };
        let step = |at_sold_bp, raise_bp| PriceStep {
            at_sold_bp,
            raise_bp,
        };
        let show = ShowId::parse(&format!("show{s}")).map_err(rejected)?;
        let command = ShowCommand::Schedule {
            show: show.clone(),
            name: format!("Show {s}"),
            starts_at: self.starts_at(s),
            currency: eur()?,
            tiers: vec![
                tier(
                    "stalls",
                    800,
                    1_500 + 1_000 * class,
                    vec![step(5_000, 2_000), step(8_000, 5_000)],
                ),
                tier("circle", 500, 1_000 + 700 * class, vec![step(7_000, 2_500)]),
                tier("balcony", 300, 600 + 400 * class, Vec::new()),
            ],
            seats_per_customer_max: 10,
            reservation_ttl_s: TTL_S,
            refund_rule: RefundRule {
                full_refund_until_s_before: FULL_REFUND_S,
                late_refund_bp: 5_000,
            },
        };
        let mut stream = Stream {
            id: StreamId::show(&show),
            state: ShowState::default(),
            version: 0,
        };
        let events = decide_show(&stream.state, &command).map_err(rejected)?;
        for event in events {
            stream.state = std::mem::take(&mut stream.state).evolve(&event);
            stream.version += 1;
            let kind = (event.event_type(), event.schema_version());
            log.push(&stream.id, stream.version, kind, &event.payload(), now)?;
        }
        self.shows[s] = Some(stream);
        Ok(())
    }

    fn show(&self, s: usize) -> anyhow::Result<&Stream<ShowState>> {
        self.shows[s]
            .as_ref()
            .with_context(|| format!("show {s} is not scheduled"))
    }

    /// Logs a decision: the show's events, then the wallet's.
    fn decided(
        &mut self,
        s: usize,
        account: usize,
        decision: Decision,
        at: DateTime<Utc>,
        wallets: &mut Wallets,
        log: &mut Log,
    ) -> anyhow::Result<()> {
        let stream = self.shows[s]
            .as_mut()
            .with_context(|| format!("show {s} is not scheduled"))?;
        for event in decision.show {
            stream.state = std::mem::take(&mut stream.state).evolve(&event);
            stream.version += 1;
            let kind = (event.event_type(), event.schema_version());
            log.push(&stream.id, stream.version, kind, &event.payload(), at)?;
        }
        wallets.record(account, decision.wallet, at, log)
    }

    fn reserve(
        &mut self,
        now: DateTime<Utc>,
        wallets: &mut Wallets,
        log: &mut Log,
    ) -> anyhow::Result<()> {
        let s = self.pick(self.next);
        self.schedule(s, now, log)?;
        let account = self.rng.usize(0..ACCOUNTS);
        let seats = self.rng.u32(1..=3);
        // Half the seats in the stalls, 3 in 10 in the circle, 2 in the balcony.
        let first_tier = match self.rng.u32(0..10) {
            0..=4 => 0,
            5..=7 => 1,
            _ => 2,
        };
        let dearest = self.show(s)?.state.show.as_ref().map_or(0, |show| {
            show.tiers
                .iter()
                .map(|t| t.current_price())
                .max()
                .unwrap_or(0)
        });
        wallets.fund(account, dearest * i64::from(seats), now, log)?;
        for k in 0..3u16 {
            let command = Reserve {
                reservation_id: ReservationId::generate(),
                account: wallets.id(account).clone(),
                tier: (first_tier + k) % 3,
                seats,
                now,
            };
            let decided = decide_reserve(wallets.state(account), &self.show(s)?.state, &command);
            match decided {
                Ok(decision) => {
                    self.decided(s, account, decision, now, wallets, log)?;
                    self.reserved += 1;
                    let reservation = command.reservation_id;
                    if self.rng.u32(0..10) == 0 {
                        let expires_at = now + Duration::seconds(i64::from(TTL_S));
                        let next = Next::Expire {
                            show: s,
                            account,
                            reservation,
                        };
                        self.agenda.put(expires_at, next);
                    } else {
                        let at = now + Duration::seconds(self.rng.i64(5..=300));
                        let next = Next::Confirm {
                            show: s,
                            account,
                            reservation,
                            seats,
                        };
                        self.agenda.put(at, next);
                    }
                    return Ok(());
                }
                Err(Rejection::SoldOut { .. }) => continue,
                Err(Rejection::TooManySeats { .. }) => break,
                Err(other) => return Err(rejected(other)),
            }
        }
        self.refused += 1;
        Ok(())
    }

    fn follow(
        &mut self,
        at: DateTime<Utc>,
        next: Next,
        wallets: &mut Wallets,
        log: &mut Log,
    ) -> anyhow::Result<()> {
        match next {
            Next::Confirm {
                show,
                account,
                reservation,
                seats,
            } => {
                let state = &self.show(show)?.state;
                let decision = decide_confirm(wallets.state(account), state, reservation, at)
                    .map_err(rejected)?;
                self.decided(show, account, decision, at, wallets, log)?;
                self.confirmed += 1;
                if self.rng.u32(0..5) == 0 {
                    let ticket = ticket_id(reservation, self.rng.u32(0..seats));
                    let later = at + Duration::seconds(self.rng.i64(3_600..=72_000));
                    let next = Next::GiveBack {
                        show,
                        account,
                        ticket,
                    };
                    self.agenda.put(later, next);
                }
            }
            Next::Expire {
                show,
                account,
                reservation,
            } => {
                let state = &self.show(show)?.state;
                let decision = decide_expire(wallets.state(account), state, reservation, at)
                    .map_err(rejected)?;
                self.decided(show, account, decision, at, wallets, log)?;
                self.expired += 1;
            }
            Next::GiveBack {
                show,
                account,
                ticket,
            } => {
                let state = &self.show(show)?.state;
                let decision = decide_cancel_ticket(wallets.state(account), state, ticket, at)
                    .map_err(rejected)?;
                self.decided(show, account, decision, at, wallets, log)?;
                self.given_back += 1;
            }
        }
        Ok(())
    }
}

impl Source for Shows {
    fn step(&mut self, wallets: &mut Wallets, log: &mut Log) -> anyhow::Result<bool> {
        if self.next < self.reservations {
            let now = self.at(self.next);
            while let Some((at, next)) = self.agenda.take(Some(now)) {
                self.follow(at, next, wallets, log)?;
            }
            self.reserve(now, wallets, log)?;
            self.next += 1;
            return Ok(true);
        }
        match self.agenda.take(None) {
            Some((at, next)) => {
                self.follow(at, next, wallets, log)?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
