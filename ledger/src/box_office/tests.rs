//! Given these events, when this command, then these events (or this
//! rejection).

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::pricing::{PriceStep, RefundRule};
use super::*;
use crate::wallet::{self, WalletCommand, WalletEvent, WalletState};
use crate::{AccountId, Amount, CreditLimit, Currency, Rejection, ReservationId, TransferId};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, 0)
        .single()
        .expect("a time")
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn show_id() -> ShowId {
    ShowId::parse("circus").expect("an id")
}

fn schedule(capacity: u32) -> ShowCommand {
    ShowCommand::Schedule {
        show: show_id(),
        name: "Circus".into(),
        starts_at: t0() + Duration::days(10),
        currency: eur(),
        tiers: vec![TierSpec {
            name: "stalls".into(),
            capacity,
            base_price: 1_000,
            steps: vec![
                PriceStep {
                    at_sold_bp: 5_000,
                    raise_bp: 1_000,
                },
                PriceStep {
                    at_sold_bp: 8_000,
                    raise_bp: 2_500,
                },
            ],
        }],
        seats_per_customer_max: 4,
        reservation_ttl_s: 600,
        refund_rule: RefundRule::default(),
    }
}

fn given_show(capacity: u32) -> ShowState {
    let events = decide_show(&ShowState::default(), &schedule(capacity)).expect("scheduled");
    replay(&events)
}

fn wallet_with(account: &str, money: i64) -> WalletState {
    let open = WalletCommand::Open {
        account: AccountId::parse(account).expect("an id"),
        currency: eur(),
        credit_limit: CreditLimit::new(0).expect("a limit"),
    };
    let mut state = WalletState::default();
    for command in [
        open,
        WalletCommand::Deposit {
            transfer_id: TransferId::generate(),
            amount: Amount::new(money).expect("money"),
            currency: None,
            description: None,
            payment_ref: None,
        },
    ] {
        for e in wallet::decide(&state, &command).expect("accepted") {
            state = state.evolve(&e);
        }
    }
    state
}

fn reserve(account: &str, seats: u32) -> Reserve {
    Reserve {
        reservation_id: ReservationId::generate(),
        account: AccountId::parse(account).expect("an id"),
        tier: 0,
        seats,
        now: t0(),
    }
}

fn apply(wallet: WalletState, show: ShowState, d: &Decision) -> (WalletState, ShowState) {
    (
        d.wallet.iter().fold(wallet, WalletState::evolve),
        d.show.iter().fold(show, ShowState::evolve),
    )
}

#[test]
fn a_reservation_holds_seats_and_money_at_the_price_in_force() {
    let (w, s) = (wallet_with("alice", 10_000), given_show(10));
    let d = decide_reserve(&w, &s, &reserve("alice", 2)).expect("reserved");
    let WalletEvent::SeatsHeld(held) = &d.wallet[0] else {
        panic!("{:?}", d.wallet)
    };
    assert_eq!(held.transfer.amount.get(), 2_000);
    assert_eq!(held.transfer.credit, AccountId::box_office_revenue());
    let (w, s) = apply(w, s, &d);
    let show = s.show.as_ref().expect("show");
    assert_eq!(show.tiers[0].reserved, 2);
    assert_eq!(show.money_held, 2_000);
    assert_eq!(w.wallet.as_ref().map(|w| w.available()), Some(8_000));
}

#[test]
fn the_price_rises_in_steps_with_occupancy() {
    let mut s = given_show(10);
    let mut prices = Vec::new();
    for i in 0..10 {
        let account = format!("c{i}");
        let w = wallet_with(&account, 10_000);
        let d = decide_reserve(&w, &s, &reserve(&account, 1)).expect("reserved");
        let ShowEvent::SeatsReserved(e) = &d.show[0] else {
            panic!()
        };
        prices.push(e.unit_price);
        s = apply(w, s, &d).1;
    }
    assert_eq!(
        prices,
        [1_000, 1_000, 1_000, 1_000, 1_000, 1_100, 1_100, 1_100, 1_250, 1_250]
    );
}

#[test]
fn refusals_have_their_codes() {
    let (w, s) = (wallet_with("alice", 10_000), given_show(3));
    let code = |r: Result<Decision, Rejection>| r.map(|_| ()).map_err(|r| r.code());
    assert_eq!(
        code(decide_reserve(&w, &s, &reserve("alice", 5))),
        Err("too_many_seats")
    );
    assert_eq!(
        code(decide_reserve(&w, &s, &reserve("alice", 0))),
        Err("too_many_seats")
    );
    let mut other_tier = reserve("alice", 1);
    other_tier.tier = 3;
    assert_eq!(
        code(decide_reserve(&w, &s, &other_tier)),
        Err("tier_not_found")
    );
    let poor = wallet_with("bob", 10);
    assert_eq!(
        code(decide_reserve(&poor, &s, &reserve("bob", 1))),
        Err("insufficient_funds")
    );
    let d = decide_reserve(&w, &s, &reserve("alice", 3)).expect("reserved");
    let (_, full) = apply(w, s.clone(), &d);
    let carol = wallet_with("carol", 10_000);
    assert_eq!(
        code(decide_reserve(&carol, &full, &reserve("carol", 1))),
        Err("sold_out")
    );
    let mut late = reserve("carol", 1);
    late.now = t0() + Duration::days(11);
    assert_eq!(code(decide_reserve(&carol, &s, &late)), Err("show_started"));
    let cancelled = decide_show(&s, &ShowCommand::Cancel).expect("cancelled");
    let cancelled = cancelled.iter().fold(s, ShowState::evolve);
    assert_eq!(
        code(decide_reserve(&carol, &cancelled, &reserve("carol", 1))),
        Err("show_cancelled")
    );
}

#[test]
fn confirm_before_expiry_issues_tickets_and_after_it_is_refused() {
    let (w, s) = (wallet_with("alice", 10_000), given_show(10));
    let r = reserve("alice", 2);
    let (w, s) = apply(
        w.clone(),
        s.clone(),
        &decide_reserve(&w, &s, &r).expect("ok"),
    );
    let late = t0() + Duration::seconds(600);
    assert_eq!(
        decide_confirm(&w, &s, r.reservation_id, late).map(|_| ()),
        Err(Rejection::ReservationExpired)
    );
    let d = decide_confirm(&w, &s, r.reservation_id, t0() + Duration::seconds(599)).expect("ok");
    let (w, s) = apply(w, s, &d);
    let show = s.show.as_ref().expect("show");
    assert_eq!((show.tiers[0].reserved, show.tiers[0].sold), (0, 2));
    assert_eq!((show.money_held, show.money_taken), (0, 2_000));
    assert_eq!(show.tickets.len(), 2);
    let wallet = w.wallet.as_ref().expect("wallet");
    assert_eq!(wallet.balance.posted(), 8_000);
    assert_eq!(
        decide_expire(&w, &s, r.reservation_id, late).map(|_| ()),
        Err(Rejection::ReservationNotOpen {
            status: "confirmed".into()
        })
    );
}

#[test]
fn expiry_releases_seats_and_money_and_then_confirm_is_expired() {
    let (w, s) = (wallet_with("alice", 10_000), given_show(10));
    let r = reserve("alice", 2);
    let (w, s) = apply(
        w.clone(),
        s.clone(),
        &decide_reserve(&w, &s, &r).expect("ok"),
    );
    let early = t0() + Duration::seconds(10);
    assert!(decide_expire(&w, &s, r.reservation_id, early).is_err());
    let show = s.show.as_ref().expect("show");
    assert!(due_reservations(show, early, 10).is_empty());
    let late = t0() + Duration::seconds(600);
    assert_eq!(due_reservations(show, late, 10).len(), 1);
    let (w, s) = apply(
        w.clone(),
        s.clone(),
        &decide_expire(&w, &s, r.reservation_id, late).expect("ok"),
    );
    let show = s.show.as_ref().expect("show");
    assert_eq!((show.tiers[0].reserved, show.money_held), (0, 0));
    assert_eq!(w.wallet.as_ref().map(|w| w.available()), Some(10_000));
    assert_eq!(
        decide_confirm(&w, &s, r.reservation_id, early).map(|_| ()),
        Err(Rejection::ReservationExpired)
    );
}

#[test]
fn a_ticket_given_back_is_refunded_per_the_rule_once() {
    let (w, s) = (wallet_with("alice", 10_000), given_show(10));
    let r = reserve("alice", 2);
    let (w, s) = apply(
        w.clone(),
        s.clone(),
        &decide_reserve(&w, &s, &r).expect("ok"),
    );
    let (w, s) = apply(
        w.clone(),
        s.clone(),
        &decide_confirm(&w, &s, r.reservation_id, t0()).expect("ok"),
    );
    let (t1, t2) = (
        ticket_id(r.reservation_id, 0),
        ticket_id(r.reservation_id, 1),
    );
    // Ten days ahead: a full refund; within the last day: half.
    let d = decide_cancel_ticket(&w, &s, t1, t0()).expect("ok");
    let (w, s) = apply(w, s, &d);
    let late = t0() + Duration::days(9) + Duration::hours(12);
    let d = decide_cancel_ticket(&w, &s, t2, late).expect("ok");
    let (w, s) = apply(w, s, &d);
    let show = s.show.as_ref().expect("show");
    assert_eq!((show.tiers[0].sold, show.money_taken), (0, 500));
    assert_eq!(w.wallet.as_ref().map(|w| w.balance.posted()), Some(9_500));
    assert_eq!(
        decide_cancel_ticket(&w, &s, t1, t0()).map(|_| ()),
        Err(Rejection::TicketAlreadyCancelled)
    );
}

#[test]
fn cancellation_chunks_release_and_refund_everything_once() {
    let (mut w, mut s) = (wallet_with("alice", 100_000), given_show(10));
    let open = reserve("alice", 1);
    let d = decide_reserve(&w, &s, &open).expect("ok");
    (w, s) = apply(w, s, &d);
    let sold = reserve("alice", 3);
    let d = decide_reserve(&w, &s, &sold).expect("ok");
    (w, s) = apply(w, s, &d);
    let d = decide_confirm(&w, &s, sold.reservation_id, t0()).expect("ok");
    (w, s) = apply(w, s, &d);
    s = decide_show(&s, &ShowCommand::Cancel)
        .expect("ok")
        .iter()
        .fold(s, ShowState::evolve);
    let mut chunks = 0;
    loop {
        let chunk = cancellation_chunk(s.show.as_ref().expect("show"), 2);
        let events = decide_cancellation(&s, &chunk).expect("ok");
        s = events.iter().fold(s, ShowState::evolve);
        if chunk.is_empty() {
            break;
        }
        // Recording the same chunk again is refused: nothing twice.
        assert!(decide_cancellation(&s, &chunk).is_err());
        for (_, command) in chunk.wallet_commands() {
            let events = wallet::decide(&w, &WalletCommand::Seats(command)).expect("ok");
            w = events.iter().fold(w, WalletState::evolve);
        }
        chunks += 1;
    }
    assert_eq!(chunks, 2);
    let show = s.show.as_ref().expect("show");
    assert_eq!(show.status, ShowStatus::Cancelled);
    assert_eq!((show.reservations_released, show.tickets_refunded), (1, 3));
    assert_eq!((show.money_held, show.money_taken), (0, 0));
    let wallet = w.wallet.as_ref().expect("wallet");
    assert_eq!(
        (wallet.balance.posted(), wallet.available()),
        (100_000, 100_000)
    );
}

#[test]
fn schedules_out_of_bounds_are_refused() {
    let mut bad = schedule(0);
    assert_eq!(
        decide_show(&ShowState::default(), &bad).map_err(|r| r.code()),
        Err("invalid_show")
    );
    if let ShowCommand::Schedule { tiers, .. } = &mut bad {
        tiers[0].capacity = 10;
        tiers[0].steps.reverse();
    }
    assert_eq!(
        decide_show(&ShowState::default(), &bad).map_err(|r| r.code()),
        Err("invalid_show")
    );
    let s = given_show(10);
    assert_eq!(
        decide_show(&s, &schedule(10)).map_err(|r| r.code()),
        Err("show_exists")
    );
}
