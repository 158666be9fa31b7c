//! The pure half of the projection: events in, rows out. Given rows (none,
//! or as a batch left them), when a batch of events is applied, then these
//! rows.

use chrono::{TimeZone, Utc};
use ledger::sportsbook::market::{
    BetAccepted, BetCashedOutOfMarket, MarketChanged, MarketEvent, MarketOpened, MarketResult,
    MarketSettled, OddsChanged, SettlementProgressed, SettlementStarted,
};
use ledger::sportsbook::odds::Odds;
use ledger::sportsbook::settle::LegResult;
use ledger::store::LogEvent;
use ledger::wallet::{
    BetCashedOut, BetLegPlaced, BetLegSettled, BetPaid, BetPayoutReversed, BetPlaced, BetSettled,
    BetVoided, CashOutOffered, WalletEvent,
};
use ledger::{
    AccountId, Amount, BetId, Currency, MarketId, OfferId, SettlementId, StreamId, Transfer,
    TransferCode, TransferId,
};

use super::bets::Status;
use super::*;

/// A log of events on their streams, numbered as the store would.
#[derive(Default)]
struct Log {
    events: Vec<LogEvent>,
    versions: std::collections::HashMap<String, i64>,
}

impl Log {
    fn market(&mut self, event: MarketEvent) -> &mut Self {
        let stream = format!("market-{}", markets::market_id(&event));
        self.push(
            &stream,
            event.event_type(),
            event.schema_version(),
            event.payload(),
        )
    }

    fn wallet(&mut self, account: &str, event: WalletEvent) -> &mut Self {
        let stream = format!("account-{account}");
        self.push(
            &stream,
            event.event_type(),
            event.schema_version(),
            event.payload(),
        )
    }

    fn push(
        &mut self,
        stream: &str,
        event_type: &str,
        schema_version: i32,
        payload: serde_json::Value,
    ) -> &mut Self {
        let version = self.versions.entry(stream.to_owned()).or_insert(0);
        *version += 1;
        let position = i64::try_from(self.events.len()).expect("fits") + 1;
        self.events.push(LogEvent {
            global_position: position,
            stream_id: StreamId::new(stream),
            stream_version: *version,
            event_type: event_type.to_owned(),
            schema_version,
            recorded_at: Utc
                .timestamp_opt(1_700_000_000 + position, 0)
                .single()
                .expect("time"),
            payload: serde_json::value::RawValue::from_string(payload.to_string())
                .expect("valid JSON"),
        });
        self
    }
}

/// Applies `events` to `markets` and `bets` as a step would.
fn apply(markets: &mut Markets, bets: &mut Bets, events: &[LogEvent]) -> Result<(), Error> {
    let decoded = decode_all(events)?;
    apply_all(markets, bets, &decoded)
}

/// The rows as a later step would load them: the same, nothing to write.
fn as_loaded(markets: &mut Markets, bets: &mut Bets) {
    for row in markets.rows.values_mut() {
        row.dirty = false;
        row.outcomes.iter_mut().for_each(|o| o.dirty = false);
    }
    for row in bets.rows.values_mut() {
        row.dirty = false;
        row.legs.iter_mut().for_each(|l| l.dirty = false);
    }
}

fn id(market: &str) -> MarketId {
    MarketId::parse(market).expect("market id")
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("currency")
}

fn amount(n: i64) -> Amount {
    Amount::new(n).expect("amount")
}

fn opened(market: &str) -> MarketEvent {
    MarketEvent::MarketOpened(MarketOpened {
        market: id(market),
        name: format!("{market}: home v away"),
        starts_at: Utc.timestamp_opt(1_800_000_000, 0).single().expect("time"),
        currency: eur(),
        outcomes: vec!["home".into(), "draw".into(), "away".into()],
        prior_bp: vec![4_000, 3_000, 3_000],
        prior_weight: 100_000,
        margin_bp: 500,
        liability_limit: 1_000_000,
        stake_min: 100,
        stake_max: 100_000,
        odds: vec![Odds(23_809), Odds(31_746), Odds(31_746)],
    })
}

fn accepted(
    market: &str,
    bet: BetId,
    outcome: u16,
    stake: i64,
    payout: i64,
    legs: u8,
) -> MarketEvent {
    MarketEvent::BetAccepted(BetAccepted {
        market: id(market),
        bet_id: bet,
        account: AccountId::parse("alice").expect("account"),
        outcome,
        stake: amount(stake),
        odds: Odds(20_000),
        payout_if_wins: payout,
        legs,
    })
}

fn changed(market: &str, make: fn(MarketChanged) -> MarketEvent) -> MarketEvent {
    make(MarketChanged { market: id(market) })
}

fn winners(winners: &[u16]) -> MarketResult {
    MarketResult::Winners {
        winners: winners.to_vec(),
    }
}

fn started(
    market: &str,
    settlement: SettlementId,
    result: MarketResult,
    replaces: Option<SettlementId>,
) -> MarketEvent {
    MarketEvent::SettlementStarted(SettlementStarted {
        market: id(market),
        settlement_id: settlement,
        result,
        replaces,
    })
}

/// A transfer between alice and the house.
fn transfer(debit: &str, credit: &str, n: i64, code: TransferCode) -> Transfer {
    let account = |a: &str| {
        if a == "house" {
            AccountId::house()
        } else {
            AccountId::parse(a).expect("account")
        }
    };
    Transfer {
        id: TransferId::generate(),
        debit: account(debit),
        credit: account(credit),
        amount: amount(n),
        currency: eur(),
        code,
    }
}

fn placed(
    bet: BetId,
    stake: i64,
    legs: &[(&str, u16, u64)],
    odds: u64,
    payout: i64,
) -> WalletEvent {
    WalletEvent::BetPlaced(BetPlaced {
        bet_id: bet,
        transfer: Transfer {
            id: TransferId::from_uuid(bet.as_uuid()),
            ..transfer("alice", "house", stake, TransferCode::Stake)
        },
        legs: legs
            .iter()
            .map(|(market, outcome, odds)| BetLegPlaced {
                market: id(market),
                outcome: *outcome,
                odds: Odds(*odds),
            })
            .collect(),
        odds: Odds(odds),
        payout_if_wins: payout,
    })
}

/// Alice's bet of 1,000 on m1 won: the stake goes to the house. `payout` is
/// what the settlement pays back itself (version 2); `None` when a
/// `bet_paid` after it pays, as at version 1, or when nothing is paid yet.
fn won(bet: BetId, settlement: SettlementId, returned: i64, payout: Option<i64>) -> WalletEvent {
    WalletEvent::BetSettled(BetSettled {
        bet_id: bet,
        market: id("m1"),
        settlement_id: settlement,
        result: LegResult::WON,
        transfer: transfer("alice", "house", 1_000, TransferCode::Stake),
        returned,
        payout: payout.map(|n| transfer("house", "alice", n, TransferCode::Payout)),
    })
}

fn paid(bet: BetId, settlement: Option<SettlementId>, n: i64, code: TransferCode) -> WalletEvent {
    WalletEvent::BetPaid(BetPaid {
        bet_id: bet,
        settlement_id: settlement,
        transfer: transfer("house", "alice", n, code),
    })
}

#[test]
fn bets_move_the_money_and_liability_of_each_outcome() {
    let (single, acca) = (BetId::generate(), BetId::generate());
    let mut log = Log::default();
    log.market(opened("m1"))
        // A single on home: 1 000 to win 2 000.
        .market(accepted("m1", single, 0, 1_000, 2_000, 1))
        .market(MarketEvent::OddsChanged(OddsChanged {
            market: id("m1"),
            odds: vec![Odds(22_000), Odds(31_746), Odds(33_000)],
        }))
        // An accumulator leg on away: its stake is not the market's to keep.
        .market(accepted("m1", acca, 2, 500, 4_000, 2));
    let (mut markets, mut bets) = (Markets::default(), Bets::default());

    apply(&mut markets, &mut bets, &log.events).expect("applies");

    let m = &markets.rows["m1"];
    assert_eq!((m.status, m.bets, m.stakes_total), ("open", 2, 1_000));
    assert_eq!((m.version, m.position), (4, 4));
    let o = &m.outcomes;
    assert_eq!(
        o.iter().map(|o| o.odds).collect::<Vec<_>>(),
        [22_000, 31_746, 33_000]
    );
    assert_eq!(
        o.iter().map(|o| o.staked).collect::<Vec<_>>(),
        [1_000, 0, 500]
    );
    assert_eq!(
        o.iter().map(|o| o.payouts_if_wins).collect::<Vec<_>>(),
        [2_000, 0, 4_000]
    );
    // Liability = what the house pays if it wins − the single stakes kept.
    assert_eq!(
        o.iter().map(|o| o.liability).collect::<Vec<_>>(),
        [1_000, -1_000, 3_000]
    );
    // Each outcome remembers the last event that changed it.
    assert_eq!(o.iter().map(|o| o.position).collect::<Vec<_>>(), [3, 2, 4]);
    assert!(bets.rows.is_empty(), "market events make no bet rows");
}

#[test]
fn a_cash_out_takes_the_liability_back_but_not_the_money() {
    let bet = BetId::generate();
    let mut log = Log::default();
    log.market(opened("m1"))
        .market(accepted("m1", bet, 1, 1_000, 3_000, 1))
        .market(MarketEvent::BetCashedOut(BetCashedOutOfMarket {
            market: id("m1"),
            bet_id: bet,
            outcome: 1,
            stake: amount(1_000),
            payout_if_wins: 3_000,
            legs: 1,
        }));
    let (mut markets, mut bets) = (Markets::default(), Bets::default());

    apply(&mut markets, &mut bets, &log.events).expect("applies");

    let m = &markets.rows["m1"];
    assert_eq!((m.bets, m.stakes_total), (1, 0));
    let o = &m.outcomes[1];
    assert_eq!((o.staked, o.payouts_if_wins, o.liability), (1_000, 0, 0));
    assert!(m.outcomes.iter().all(|o| o.liability == 0));
}

#[test]
fn a_settlement_runs_and_a_resettlement_records_what_it_replaces() {
    let (first, second) = (SettlementId::generate(), SettlementId::generate());
    let mut log = Log::default();
    log.market(opened("m1"))
        .market(changed("m1", MarketEvent::MarketSuspended))
        .market(changed("m1", MarketEvent::MarketResumed))
        .market(changed("m1", MarketEvent::MarketClosed))
        .market(started("m1", first, winners(&[0]), None));
    let (mut markets, mut bets) = (Markets::default(), Bets::default());
    apply(&mut markets, &mut bets, &log.events).expect("applies");
    let m = &markets.rows["m1"];
    assert_eq!(m.status, "settling");
    assert_eq!(m.settlement_id, Some(first.as_uuid()));
    assert_eq!(
        m.result.as_deref(),
        Some(r#"{"kind":"winners","winners":[0]}"#)
    );

    let from = log.events.len();
    log.market(MarketEvent::SettlementProgressed(SettlementProgressed {
        market: id("m1"),
        settlement_id: first,
        through_version: 3,
        bets_settled: 7,
    }))
    .market(MarketEvent::MarketSettled(MarketSettled {
        market: id("m1"),
        settlement_id: first,
        bets_settled: 9,
    }))
    .market(started("m1", second, MarketResult::Void, Some(first)));
    as_loaded(&mut markets, &mut bets);
    apply(&mut markets, &mut bets, &log.events[from..]).expect("applies");

    let m = &markets.rows["m1"];
    assert_eq!(m.status, "settling");
    assert_eq!(m.settlement_id, Some(second.as_uuid()));
    assert_eq!(m.replaces, Some(first.as_uuid()));
    assert_eq!(m.result.as_deref(), Some(r#"{"kind":"void"}"#));
    assert_eq!(m.bets_settled, 0, "a new settlement starts from none");
    assert!(m.dirty);
    assert!(m.outcomes.iter().all(|o| !o.dirty), "no outcome changed");
}

#[test]
fn events_applied_already_change_nothing() {
    let (bet, settlement) = (BetId::generate(), SettlementId::generate());
    let mut log = Log::default();
    log.market(opened("m1"))
        .wallet(
            "alice",
            placed(bet, 1_000, &[("m1", 0, 20_000)], 20_000, 2_000),
        )
        .market(accepted("m1", bet, 0, 1_000, 2_000, 1))
        .market(changed("m1", MarketEvent::MarketClosed))
        .market(started("m1", settlement, winners(&[0]), None))
        .wallet("alice", won(bet, settlement, 2_000, None))
        .wallet(
            "alice",
            paid(bet, Some(settlement), 2_000, TransferCode::Payout),
        );
    let (mut markets, mut bets) = (Markets::default(), Bets::default());
    apply(&mut markets, &mut bets, &log.events).expect("applies");
    as_loaded(&mut markets, &mut bets);
    let (markets_before, bets_before) = (format!("{markets:?}"), format!("{bets:?}"));

    // The whole log again, and any part of it: a replay after a crash.
    apply(&mut markets, &mut bets, &log.events).expect("applies");
    apply(&mut markets, &mut bets, &log.events[3..5]).expect("applies");

    assert_eq!(format!("{markets:?}"), markets_before);
    assert_eq!(format!("{bets:?}"), bets_before);
}

#[test]
fn a_winning_single_is_paid_by_its_settlement() {
    let (bet, settlement) = (BetId::generate(), SettlementId::generate());
    let mut log = Log::default();
    log.wallet(
        "alice",
        placed(bet, 1_000, &[("m1", 2, 25_000)], 25_000, 2_500),
    )
    .wallet("alice", won(bet, settlement, 2_500, Some(2_500)));
    let (mut markets, mut bets) = (Markets::default(), Bets::default());
    apply(&mut markets, &mut bets, &log.events).expect("applies");
    let b = &bets.rows[&bet.as_uuid()];
    assert_eq!(
        (b.status, b.returned, b.position),
        (Status::Settled, Some(2_500), 2)
    );
    assert_eq!(b.settlement_id, Some(settlement.as_uuid()));
}

/// A settlement stored at version 1: the `bet_paid` after it pays.
#[test]
fn a_single_settles_and_is_paid() {
    let (bet, settlement) = (BetId::generate(), SettlementId::generate());
    let mut log = Log::default();
    log.wallet(
        "alice",
        placed(bet, 1_000, &[("m1", 2, 25_000)], 25_000, 2_500),
    )
    .wallet("alice", won(bet, settlement, 2_500, None));
    let (mut markets, mut bets) = (Markets::default(), Bets::default());
    apply(&mut markets, &mut bets, &log.events).expect("applies");
    let b = &bets.rows[&bet.as_uuid()];
    assert_eq!(
        (b.account_id.as_str(), b.currency.as_str()),
        ("alice", "EUR")
    );
    assert_eq!((b.stake, b.odds, b.payout_if_wins), (1_000, 25_000, 2_500));
    assert_eq!((b.status, b.returned), (Status::Settled, Some(0)));
    assert_eq!(b.settlement_id, Some(settlement.as_uuid()));
    assert_eq!((b.placed_position, b.position), (1, 2));
    assert_eq!(b.legs[0].result, Some(LegResult::WON));

    let from = log.events.len();
    log.wallet(
        "alice",
        paid(bet, Some(settlement), 2_500, TransferCode::Payout),
    );
    as_loaded(&mut markets, &mut bets);
    apply(&mut markets, &mut bets, &log.events[from..]).expect("applies");

    let b = &bets.rows[&bet.as_uuid()];
    assert_eq!(
        (b.status, b.returned, b.position),
        (Status::Settled, Some(2_500), 3)
    );
    assert!(b.dirty && !b.legs[0].dirty, "only the bet changed");
}

#[test]
fn an_accumulator_settles_with_its_last_leg() {
    let (bet, s1, s2) = (
        BetId::generate(),
        SettlementId::generate(),
        SettlementId::generate(),
    );
    let mut log = Log::default();
    log.wallet(
        "alice",
        placed(
            bet,
            1_000,
            &[("m1", 0, 20_000), ("m2", 1, 30_000)],
            60_000,
            6_000,
        ),
    )
    .wallet(
        "alice",
        WalletEvent::BetLegSettled(BetLegSettled {
            bet_id: bet,
            market: id("m2"),
            settlement_id: s2,
            replaces: None,
            result: LegResult::Void,
        }),
    );
    let (mut markets, mut bets) = (Markets::default(), Bets::default());
    apply(&mut markets, &mut bets, &log.events).expect("applies");
    let b = &bets.rows[&bet.as_uuid()];
    assert_eq!(
        (b.status, b.returned, b.settlement_id),
        (Status::Open, None, None)
    );
    assert_eq!(b.legs[1].result, Some(LegResult::Void));
    assert_eq!(b.legs[1].settlement_id, Some(s2.as_uuid()));

    log.wallet("alice", won(bet, s1, 2_000, None))
        .wallet("alice", paid(bet, Some(s1), 2_000, TransferCode::Payout));
    apply(&mut markets, &mut bets, &log.events[2..]).expect("applies");

    let b = &bets.rows[&bet.as_uuid()];
    assert_eq!((b.status, b.returned), (Status::Settled, Some(2_000)));
    assert_eq!(b.settlement_id, Some(s1.as_uuid()));
    assert_eq!(
        b.legs.iter().map(|l| l.result).collect::<Vec<_>>(),
        [Some(LegResult::WON), Some(LegResult::Void)]
    );
}

#[test]
fn a_resettlement_reverses_and_repays_what_the_bet_returned() {
    let (bet, first, second) = (
        BetId::generate(),
        SettlementId::generate(),
        SettlementId::generate(),
    );
    let mut log = Log::default();
    log.wallet(
        "alice",
        placed(bet, 1_000, &[("m1", 0, 20_000)], 20_000, 2_000),
    )
    // Voided first: the player keeps the stake.
    .wallet(
        "alice",
        WalletEvent::BetVoided(BetVoided {
            bet_id: bet,
            market: id("m1"),
            settlement_id: first,
            result: LegResult::Void,
            transfer: transfer("alice", "house", 1_000, TransferCode::Stake),
        }),
    );
    let (mut markets, mut bets) = (Markets::default(), Bets::default());
    apply(&mut markets, &mut bets, &log.events).expect("applies");
    let b = &bets.rows[&bet.as_uuid()];
    assert_eq!((b.status, b.returned), (Status::Voided, Some(1_000)));

    // Corrected to a win: the stake is taken back and the payout paid.
    log.wallet(
        "alice",
        WalletEvent::BetLegSettled(BetLegSettled {
            bet_id: bet,
            market: id("m1"),
            settlement_id: second,
            replaces: Some(first),
            result: LegResult::WON,
        }),
    )
    .wallet(
        "alice",
        WalletEvent::BetPayoutReversed(BetPayoutReversed {
            bet_id: bet,
            settlement_id: first,
            replaced_by: second,
            transfer: transfer("alice", "house", 1_000, TransferCode::PayoutReversal),
        }),
    )
    .wallet(
        "alice",
        paid(bet, Some(second), 2_000, TransferCode::Payout),
    );
    apply(&mut markets, &mut bets, &log.events[2..]).expect("applies");

    let b = &bets.rows[&bet.as_uuid()];
    assert_eq!((b.status, b.returned), (Status::Settled, Some(2_000)));
    assert_eq!(b.settlement_id, Some(second.as_uuid()));
    assert_eq!(b.legs[0].settlement_id, Some(second.as_uuid()));
    assert_eq!(b.settled_at, Some(log.events[2].recorded_at));
}

#[test]
fn a_cashed_out_bet_returns_the_amount_paid() {
    let (bet, offer) = (BetId::generate(), OfferId::generate());
    let mut log = Log::default();
    log.wallet(
        "alice",
        placed(bet, 1_000, &[("m1", 0, 20_000)], 20_000, 2_000),
    )
    .wallet(
        "alice",
        WalletEvent::CashOutOffered(CashOutOffered {
            bet_id: bet,
            offer_id: offer,
            amount: amount(1_400),
            expires_at: Utc.timestamp_opt(1_900_000_000, 0).single().expect("time"),
        }),
    );
    let (mut markets, mut bets) = (Markets::default(), Bets::default());
    apply(&mut markets, &mut bets, &log.events).expect("applies");
    assert_eq!(
        bets.rows[&bet.as_uuid()].position,
        1,
        "an offer changes nothing kept"
    );

    log.wallet(
        "alice",
        WalletEvent::BetCashedOut(BetCashedOut {
            bet_id: bet,
            offer_id: offer,
            transfer: transfer("alice", "house", 1_000, TransferCode::Stake),
            amount: amount(1_400),
        }),
    )
    .wallet("alice", paid(bet, None, 1_400, TransferCode::CashOut));
    apply(&mut markets, &mut bets, &log.events[2..]).expect("applies");

    let b = &bets.rows[&bet.as_uuid()];
    assert_eq!(
        (b.status, b.returned, b.settlement_id),
        (Status::CashedOut, Some(1_400), None)
    );
    assert!(b.settled_at.is_some());
}

#[test]
fn events_about_what_was_never_opened_or_placed_are_refused() {
    let mut log = Log::default();
    log.market(changed("nowhere", MarketEvent::MarketClosed));
    let mut bet_log = Log::default();
    bet_log.wallet(
        "alice",
        paid(BetId::generate(), None, 5, TransferCode::CashOut),
    );

    for events in [&log.events, &bet_log.events] {
        let result = apply(&mut Markets::default(), &mut Bets::default(), events);
        assert!(matches!(result, Err(Error::Invariant(_))), "{result:?}");
    }
}

#[test]
fn undecodable_events_stop_the_projection_and_others_are_skipped() {
    let mut log = Log::default();
    log.push(
        "market-m1",
        MarketEvent::MARKET_OPENED,
        1,
        serde_json::json!({ "market": "m1" }),
    );
    let result = decode_all(&log.events);
    assert!(
        matches!(result, Err(Error::Event { position: 1, .. })),
        "{result:?}"
    );

    let mut other = Log::default();
    other
        .push(
            "account-alice",
            WalletEvent::HOLD_PLACED,
            1,
            serde_json::json!({}),
        )
        .push("show-1", "seat_sold", 1, serde_json::json!({}));
    assert_eq!(decode_all(&other.events).expect("skips").len(), 0);
}
