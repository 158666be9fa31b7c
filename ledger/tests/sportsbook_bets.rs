//! Bets across a wallet and its legs' markets, given/when/then: placing
//! (every rejection in its order), settling (won, lost, void, dead heat,
//! accumulators), re-settling, and cash-out.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ledger::sportsbook::bet::{
    current_odds, decide_bet, decide_cash_out_markets, BetDecision, LegRequest, OddsPolicy,
    PlaceBet,
};
use ledger::sportsbook::market::{decide_market, MarketCommand, MarketEvent, MarketState};
use ledger::sportsbook::odds::{Odds, Pricing};
use ledger::sportsbook::settle::LegResult;
use ledger::wallet::{
    decide, AcceptCashOut, BetStatus, OfferCashOut, SettleLeg, WalletCommand, WalletEvent,
    WalletState,
};
use ledger::{
    AccountId, Amount, BetId, CreditLimit, Currency, HoldId, MarketId, OfferId, Phase, Rejection,
    SettlementId, TransferCode, TransferId,
};

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn market_id(name: &str) -> MarketId {
    MarketId::parse(name).expect("market id")
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 14, 0, 0)
        .single()
        .expect("time")
}

/// An even two-way market with no margin: both sides open at 2.0000.
fn open_market(name: &str, liability_limit: i64) -> MarketState {
    let command = MarketCommand::Open {
        market: market_id(name),
        name: format!("{name} match"),
        starts_at: now(),
        currency: eur(),
        outcomes: vec!["home".into(), "away".into()],
        pricing: Pricing {
            prior_bp: vec![5_000, 5_000],
            prior_weight: 1_000_000,
            margin_bp: 0,
        },
        liability_limit,
        stake_min: 10,
        stake_max: 100_000,
    };
    market_after(MarketState::default(), &[command])
}

fn market_after(state: MarketState, commands: &[MarketCommand]) -> MarketState {
    commands.iter().fold(state, |state, command| {
        let events = decide_market(&state, command).expect("market command accepted");
        events.iter().fold(state, |s, e| s.evolve(e))
    })
}

fn wallet(balance: i64, limit: i64) -> WalletState {
    let mut state = WalletState::default();
    let mut commands = vec![WalletCommand::Open {
        account: AccountId::parse("alice").expect("id"),
        currency: eur(),
        credit_limit: CreditLimit::new(limit).expect("limit"),
    }];
    if balance > 0 {
        commands.push(WalletCommand::Deposit {
            transfer_id: TransferId::generate(),
            amount: Amount::new(balance).expect("amount"),
            currency: None,
            description: None,
            payment_ref: None,
        });
    }
    for command in &commands {
        for event in decide(&state, command).expect("accepted") {
            state = state.evolve(&event);
        }
    }
    state
}

fn leg(market: &str, outcome: u16, seen: u64) -> LegRequest {
    LegRequest {
        market: market_id(market),
        outcome,
        odds_seen: Odds(seen),
    }
}

fn bet(stake: i64, legs: Vec<LegRequest>, policy: OddsPolicy) -> PlaceBet {
    PlaceBet {
        bet_id: BetId::generate(),
        stake: Amount::new(stake).expect("stake"),
        legs,
        policy,
    }
}

/// Places a bet and folds its events into the wallet and the markets.
fn place(
    wallet: &mut WalletState,
    markets: &mut [&mut MarketState],
    cmd: &PlaceBet,
) -> BetDecision {
    let views: Vec<&MarketState> = markets.iter().map(|m| &**m).collect();
    let decision = decide_bet(wallet, &views, cmd).expect("bet accepted");
    apply(wallet, &decision.wallet);
    for (market, events) in markets.iter_mut().zip(&decision.markets) {
        **market = events
            .iter()
            .fold(std::mem::take(*market), |s, e| s.evolve(e));
    }
    decision
}

fn apply(wallet: &mut WalletState, events: &[WalletEvent]) {
    *wallet = events
        .iter()
        .fold(std::mem::take(wallet), |s, e| s.evolve(e));
}

fn rejected(wallet: &WalletState, markets: &[&MarketState], cmd: &PlaceBet) -> Rejection {
    decide_bet(wallet, markets, cmd).expect_err("bet must be rejected")
}

fn settle(
    bet_id: BetId,
    market: &str,
    settlement_id: SettlementId,
    result: LegResult,
) -> WalletCommand {
    WalletCommand::SettleLeg(SettleLeg {
        bet_id,
        market: market_id(market),
        settlement_id,
        replaces: None,
        result,
    })
}

fn resettle(
    bet_id: BetId,
    market: &str,
    settlement_id: SettlementId,
    replaces: SettlementId,
    result: LegResult,
) -> WalletCommand {
    WalletCommand::SettleLeg(SettleLeg {
        bet_id,
        market: market_id(market),
        settlement_id,
        replaces: Some(replaces),
        result,
    })
}

fn run(wallet: &mut WalletState, command: &WalletCommand) -> Vec<WalletEvent> {
    let events = decide(wallet, command).expect("wallet command accepted");
    apply(wallet, &events);
    events
}

fn posted(wallet: &WalletState) -> i64 {
    wallet.wallet.as_ref().expect("open").balance.posted()
}

fn available(wallet: &WalletState) -> i64 {
    wallet.wallet.as_ref().expect("open").available()
}

fn types(events: &[WalletEvent]) -> Vec<&'static str> {
    events.iter().map(WalletEvent::event_type).collect()
}

#[test]
fn a_single_holds_its_stake_and_moves_the_odds() {
    let mut w = wallet(1_000, 0);
    let mut m = open_market("m1", 1_000_000);
    let cmd = bet(100, vec![leg("m1", 0, 20_000)], OddsPolicy::Exact);
    let decision = place(&mut w, &mut [&mut m], &cmd);
    let [WalletEvent::BetPlaced(placed)] = decision.wallet.as_slice() else {
        panic!("{:?}", decision.wallet);
    };
    assert_eq!(placed.transfer.code, TransferCode::Stake);
    assert_eq!(placed.transfer.id.as_uuid(), cmd.bet_id.as_uuid());
    assert_eq!(placed.transfer.credit, AccountId::house());
    assert_eq!((placed.odds, placed.payout_if_wins), (Odds(20_000), 200));
    assert_eq!(
        decision.wallet[0].transfers().next().map(|(_, p)| p),
        Some(Phase::PendingPlaced)
    );
    let market_types: Vec<&str> = decision.markets[0]
        .iter()
        .map(MarketEvent::event_type)
        .collect();
    assert_eq!(market_types, ["bet_accepted", "odds_changed"]);
    assert_eq!((posted(&w), available(&w)), (1_000, 900));
    let market = m.market.as_ref().expect("open");
    assert_eq!(market.staked, vec![100, 0]);
    assert_eq!(market.stakes_total, 100);
    assert_eq!(market.payouts_if_wins, vec![200, 0]);
    assert_eq!((market.liability(0), market.liability(1)), (100, -100));
    assert!(market.odds[0] < Odds(20_000) && market.odds[1] > Odds(20_000));
    // The generic hold API cannot touch a bet's stake.
    let post = WalletCommand::PostHold {
        hold_id: HoldId::from_uuid(cmd.bet_id.as_uuid()),
    };
    assert_eq!(decide(&w, &post), Err(Rejection::HoldNotFound));
    // Nor can a hold, or another bet, reuse its id.
    let hold = WalletCommand::PlaceHold {
        hold_id: HoldId::from_uuid(cmd.bet_id.as_uuid()),
        amount: Amount::new(1).expect("amount"),
        currency: None,
        description: None,
    };
    assert_eq!(
        decide(&w, &hold).map_err(|r| r.code()),
        Err("hold_already_resolved")
    );
    let again = PlaceBet {
        policy: OddsPolicy::AcceptAny,
        ..cmd
    };
    assert_eq!(rejected(&w, &[&m], &again).code(), "invalid_bet");
}

#[test]
fn malformed_bets_are_invalid() {
    let w = wallet(1_000, 0);
    let (m1, m2) = (open_market("m1", 1_000_000), open_market("m2", 1_000_000));
    let eleven: Vec<LegRequest> = (0..11).map(|i| leg(&format!("x{i}"), 0, 20_000)).collect();
    let markets: Vec<MarketState> = (0..11)
        .map(|i| open_market(&format!("x{i}"), 1_000))
        .collect();
    let views: Vec<&MarketState> = markets.iter().collect();
    assert_eq!(
        rejected(&w, &views, &bet(100, eleven, OddsPolicy::AcceptAny)).code(),
        "invalid_bet"
    );
    assert_eq!(
        rejected(&w, &[], &bet(100, vec![], OddsPolicy::AcceptAny)).code(),
        "invalid_bet"
    );
    for (legs, markets) in [
        (
            vec![leg("m1", 0, 20_000), leg("m1", 1, 20_000)],
            vec![&m1, &m1],
        ),
        (vec![leg("m1", 2, 20_000)], vec![&m1]),
        (vec![leg("m1", 0, 10_099)], vec![&m1]),
        (vec![leg("m1", 0, 10_000_001)], vec![&m1]),
        (vec![leg("m1", 0, 20_000)], vec![&m2]),
        (vec![leg("m1", 0, 20_000), leg("m2", 0, 20_000)], vec![&m1]),
    ] {
        let cmd = bet(100, legs, OddsPolicy::AcceptAny);
        assert_eq!(
            rejected(&w, &markets, &cmd).code(),
            "invalid_bet",
            "{cmd:?}"
        );
    }
}

#[test]
fn the_wallet_and_the_markets_must_exist_be_open_and_share_a_currency() {
    let m1 = open_market("m1", 1_000_000);
    let cmd = bet(100, vec![leg("m1", 0, 20_000)], OddsPolicy::AcceptAny);
    assert_eq!(
        rejected(&WalletState::default(), &[&m1], &cmd),
        Rejection::AccountNotFound
    );
    let w = wallet(1_000, 0);
    assert_eq!(
        rejected(&w, &[&MarketState::default()], &cmd),
        Rejection::MarketNotFound
    );
    for step in [MarketCommand::Suspend, MarketCommand::Close] {
        let m = market_after(m1.clone(), &[step]);
        assert_eq!(rejected(&w, &[&m], &cmd), Rejection::MarketNotOpen);
    }
    let mut usd_wallet = WalletState::default();
    let open = WalletCommand::Open {
        account: AccountId::parse("bob").expect("id"),
        currency: Currency::parse("USD").expect("USD"),
        credit_limit: CreditLimit::new(1_000).expect("limit"),
    };
    run(&mut usd_wallet, &open);
    assert_eq!(
        rejected(&usd_wallet, &[&m1], &cmd),
        Rejection::CurrencyMismatch {
            account: "USD".into(),
            requested: "EUR".into()
        }
    );
}

#[test]
fn the_stake_must_suit_every_legs_market() {
    let w = wallet(1_000_000, 0);
    let m1 = open_market("m1", 10_000_000);
    let mut m2 = open_market("m2", 10_000_000);
    if let Some(m) = m2.market.as_mut() {
        m.stake_min = 50;
        m.stake_max = 500;
    }
    let both = |stake| {
        bet(
            stake,
            vec![leg("m1", 0, 20_000), leg("m2", 0, 20_000)],
            OddsPolicy::AcceptAny,
        )
    };
    for stake in [49, 501] {
        assert_eq!(
            rejected(&w, &[&m1, &m2], &both(stake)),
            Rejection::StakeOutOfRange { min: 50, max: 500 }
        );
    }
    assert!(decide_bet(&w, &[&m1, &m2], &both(500)).is_ok());
}

#[test]
fn the_odds_policy_decides_what_a_move_may_do() {
    let mut w = wallet(100_000, 0);
    let mut m = open_market("m1", 10_000_000);
    place(
        &mut w,
        &mut [&mut m],
        &bet(50_000, vec![leg("m1", 0, 20_000)], OddsPolicy::AcceptAny),
    );
    let current = m.market.as_ref().expect("open").odds.clone();
    assert!(current[0] < Odds(20_000) && current[1] > Odds(20_000));
    let on = |outcome: u16, policy| bet(100, vec![leg("m1", outcome, 20_000)], policy);
    // Shorter now: only accept_any takes it.
    for policy in [OddsPolicy::Exact, OddsPolicy::AcceptHigher] {
        let err = rejected(&w, &[&m], &on(0, policy));
        assert_eq!(
            err,
            Rejection::OddsChanged {
                leg: 0,
                current: current[0].0
            }
        );
        assert!(err.to_string().contains(&current[0].to_string()), "{err}");
    }
    // Longer now: accept_higher takes it, exact does not.
    assert_eq!(
        rejected(&w, &[&m], &on(1, OddsPolicy::Exact)).code(),
        "odds_changed"
    );
    for (outcome, policy) in [(1, OddsPolicy::AcceptHigher), (0, OddsPolicy::AcceptAny)] {
        let decision = decide_bet(&w, &[&m], &on(outcome, policy)).expect("accepted");
        let Some(WalletEvent::BetPlaced(placed)) = decision.wallet.first() else {
            panic!("{decision:?}");
        };
        // The bet takes the current odds, never the ones seen.
        assert_eq!(placed.legs[0].odds, current[usize::from(outcome)]);
    }
}

#[test]
fn a_bet_that_would_pass_the_liability_limit_is_refused() {
    let mut w = wallet(100_000, 0);
    // At 2.0 a stake of s adds s to outcome 0's liability.
    let mut m = open_market("m1", 1_000);
    let cmd = bet(1_001, vec![leg("m1", 0, 20_000)], OddsPolicy::AcceptAny);
    assert_eq!(
        rejected(&w, &[&m], &cmd),
        Rejection::LiabilityExceeded {
            outcome: 0,
            liability: 1_001,
            limit: 1_000
        }
    );
    place(
        &mut w,
        &mut [&mut m],
        &bet(1_000, vec![leg("m1", 0, 20_000)], OddsPolicy::AcceptAny),
    );
    assert_eq!(m.market.as_ref().expect("open").liability(0), 1_000);
    assert_eq!(
        rejected(
            &w,
            &[&m],
            &bet(10, vec![leg("m1", 0, 10_100)], OddsPolicy::AcceptAny)
        )
        .code(),
        "liability_exceeded"
    );
    // Money on the other side offsets it.
    place(
        &mut w,
        &mut [&mut m],
        &bet(500, vec![leg("m1", 1, 20_000)], OddsPolicy::AcceptAny),
    );
    assert!(decide_bet(
        &w,
        &[&m],
        &bet(10, vec![leg("m1", 0, 10_100)], OddsPolicy::AcceptAny)
    )
    .is_ok());
}

#[test]
fn the_wallet_must_cover_the_stake_last() {
    let w = wallet(99, 50);
    let m = open_market("m1", 1_000_000);
    assert_eq!(
        rejected(
            &w,
            &[&m],
            &bet(150, vec![leg("m1", 0, 20_000)], OddsPolicy::AcceptAny)
        ),
        Rejection::InsufficientFunds {
            available: 149,
            amount: 150
        }
    );
    assert!(decide_bet(
        &w,
        &[&m],
        &bet(149, vec![leg("m1", 0, 20_000)], OddsPolicy::AcceptAny)
    )
    .is_ok());
}

#[test]
fn an_accumulator_multiplies_its_legs_odds_and_weighs_on_every_market() {
    let mut w = wallet(10_000, 0);
    let (mut m1, mut m2) = (open_market("m1", 1_000_000), open_market("m2", 1_000_000));
    let cmd = bet(
        100,
        vec![leg("m1", 0, 20_000), leg("m2", 1, 20_000)],
        OddsPolicy::Exact,
    );
    let decision = place(&mut w, &mut [&mut m1, &mut m2], &cmd);
    let Some(WalletEvent::BetPlaced(placed)) = decision.wallet.first() else {
        panic!("{decision:?}");
    };
    assert_eq!((placed.odds, placed.payout_if_wins), (Odds(40_000), 400));
    for (m, outcome) in [(&m1, 0), (&m2, 1)] {
        let market = m.market.as_ref().expect("open");
        assert_eq!(
            market.stakes_total, 0,
            "an accumulator's stake is not kept here"
        );
        assert_eq!(market.payouts_if_wins[outcome], 400);
        assert_eq!(market.liability(outcome as u16), 400);
        assert_eq!(market.staked[outcome], 100);
    }
}

/// A wallet with 1,000 and a single of 100 at 2.0 on m1's home side.
fn with_single() -> (WalletState, MarketState, BetId) {
    let mut w = wallet(1_000, 0);
    let mut m = open_market("m1", 1_000_000);
    let cmd = bet(100, vec![leg("m1", 0, 20_000)], OddsPolicy::Exact);
    place(&mut w, &mut [&mut m], &cmd);
    (w, m, cmd.bet_id)
}

#[test]
fn a_won_single_posts_the_hold_and_pays_stake_times_odds() {
    let (mut w, _, bet_id) = with_single();
    let s1 = SettlementId::generate();
    // Transfer ids derive from the bet and the settlement: deciding the
    // same command twice gives the same events, ids included.
    let command = settle(bet_id, "m1", s1, LegResult::WON);
    assert_eq!(decide(&w, &command), decide(&w, &command));
    let events = run(&mut w, &command);
    // One event posts the stake's hold and pays the payout.
    assert_eq!(types(&events), ["bet_settled"]);
    let transfers: Vec<_> = events[0].transfers().collect();
    assert_eq!(transfers.len(), 2, "the hold posted, then the payout");
    assert_eq!(transfers[0].1, Phase::PendingPosted);
    let (paid, phase) = transfers[1];
    assert_eq!(
        (paid.code, paid.amount.get(), phase, &paid.debit),
        (
            TransferCode::Payout,
            200,
            Phase::Posted,
            &AccountId::house()
        )
    );
    assert_eq!((posted(&w), available(&w)), (1_100, 1_100));
    // The same settlement again is a no-op; another first settlement is refused.
    assert_eq!(
        decide(&w, &settle(bet_id, "m1", s1, LegResult::Lost)),
        Ok(vec![])
    );
    assert_eq!(
        decide(
            &w,
            &settle(bet_id, "m1", SettlementId::generate(), LegResult::Lost)
        ),
        Err(Rejection::BetAlreadySettled)
    );
}

/// A wallet's bets are shared between its clones (the cache keeps one
/// while the settlement decides on another): settling the bet on a clone
/// leaves the original's bet open, and the original can still settle it.
#[test]
fn a_clone_settles_its_own_copy_of_a_bet() {
    let (original, _, bet_id) = with_single();
    let mut clone = original.clone();
    run(
        &mut clone,
        &settle(bet_id, "m1", SettlementId::generate(), LegResult::WON),
    );
    let status = |w: &WalletState| w.wallet.as_ref().expect("open").bets[&bet_id].status;
    assert!(matches!(status(&clone), BetStatus::Settled { .. }));
    assert_eq!(status(&original), BetStatus::Open);
    assert_eq!((posted(&original), available(&original)), (1_000, 900));
    let mut original = original;
    run(
        &mut original,
        &settle(bet_id, "m1", SettlementId::generate(), LegResult::Lost),
    );
    assert!(matches!(
        status(&original),
        BetStatus::Settled { returned: 0, .. }
    ));
    assert_eq!(posted(&clone), 1_100);
}

#[test]
fn a_lost_single_posts_the_hold_and_pays_nothing() {
    let (mut w, _, bet_id) = with_single();
    let events = run(
        &mut w,
        &settle(bet_id, "m1", SettlementId::generate(), LegResult::Lost),
    );
    assert_eq!(types(&events), ["bet_settled"]);
    assert_eq!((posted(&w), available(&w)), (900, 900));
    let bet = &w.wallet.as_ref().expect("open").bets[&bet_id];
    assert!(matches!(bet.status, BetStatus::Settled { returned: 0, .. }));
}

#[test]
fn a_void_single_voids_the_hold() {
    let (mut w, _, bet_id) = with_single();
    let events = run(
        &mut w,
        &settle(bet_id, "m1", SettlementId::generate(), LegResult::Void),
    );
    assert_eq!(types(&events), ["bet_voided"]);
    assert_eq!(
        events[0].transfers().next().map(|(_, p)| p),
        Some(Phase::PendingVoided)
    );
    assert_eq!((posted(&w), available(&w)), (1_000, 1_000));
}

#[test]
fn a_dead_heat_pays_the_share_on_the_winner() {
    let (mut w, _, bet_id) = with_single();
    let events = run(
        &mut w,
        &settle(
            bet_id,
            "m1",
            SettlementId::generate(),
            LegResult::dead_heat(2),
        ),
    );
    assert_eq!(types(&events), ["bet_settled"]);
    // 100 split in two, 50 at 2.0: 100 back, the other 50 lost.
    assert_eq!(posted(&w), 1_000);
}

#[test]
fn settling_refuses_unknown_bets_and_stale_lineage() {
    let (w, _, bet_id) = with_single();
    assert_eq!(
        decide(
            &w,
            &settle(
                BetId::generate(),
                "m1",
                SettlementId::generate(),
                LegResult::WON
            )
        ),
        Err(Rejection::BetNotFound)
    );
    assert_eq!(
        decide(
            &w,
            &settle(bet_id, "m9", SettlementId::generate(), LegResult::WON)
        )
        .map_err(|r| r.code()),
        Err("invalid_bet")
    );
    assert_eq!(
        decide(
            &w,
            &resettle(
                bet_id,
                "m1",
                SettlementId::generate(),
                SettlementId::generate(),
                LegResult::WON
            )
        ),
        Err(Rejection::SettlementNotFound)
    );
}

#[test]
fn an_accumulator_settles_with_its_last_leg_and_void_legs_drop_out() {
    let mut w = wallet(10_000, 0);
    let (mut m1, mut m2, mut m3) = (
        open_market("m1", 1_000_000),
        open_market("m2", 1_000_000),
        open_market("m3", 1_000_000),
    );
    let cmd = bet(
        100,
        vec![
            leg("m1", 0, 20_000),
            leg("m2", 0, 20_000),
            leg("m3", 0, 20_000),
        ],
        OddsPolicy::Exact,
    );
    place(&mut w, &mut [&mut m1, &mut m2, &mut m3], &cmd);
    let id = cmd.bet_id;
    let e1 = run(
        &mut w,
        &settle(id, "m2", SettlementId::generate(), LegResult::Void),
    );
    assert_eq!(types(&e1), ["bet_leg_settled"]);
    let e2 = run(
        &mut w,
        &settle(id, "m1", SettlementId::generate(), LegResult::WON),
    );
    assert_eq!(types(&e2), ["bet_leg_settled"]);
    assert_eq!(available(&w), 9_900);
    let e3 = run(
        &mut w,
        &settle(id, "m3", SettlementId::generate(), LegResult::WON),
    );
    assert_eq!(types(&e3), ["bet_settled"]);
    // 2.0 × (void: 1) × 2.0 = 4.0 on 100.
    assert_eq!(posted(&w), 10_000 - 100 + 400);
}

#[test]
fn an_accumulator_with_every_leg_void_returns_the_stake() {
    let mut w = wallet(10_000, 0);
    let (mut m1, mut m2) = (open_market("m1", 1_000_000), open_market("m2", 1_000_000));
    let cmd = bet(
        100,
        vec![leg("m1", 0, 20_000), leg("m2", 0, 20_000)],
        OddsPolicy::Exact,
    );
    place(&mut w, &mut [&mut m1, &mut m2], &cmd);
    run(
        &mut w,
        &settle(cmd.bet_id, "m1", SettlementId::generate(), LegResult::Void),
    );
    let events = run(
        &mut w,
        &settle(cmd.bet_id, "m2", SettlementId::generate(), LegResult::Void),
    );
    assert_eq!(types(&events), ["bet_voided"]);
    assert_eq!((posted(&w), available(&w)), (10_000, 10_000));
}

#[test]
fn a_resettlement_reverses_the_payout_even_below_the_limit_and_pays_again() {
    let (mut w, _, bet_id) = with_single();
    let (s1, s2, s3) = (
        SettlementId::generate(),
        SettlementId::generate(),
        SettlementId::generate(),
    );
    run(&mut w, &settle(bet_id, "m1", s1, LegResult::WON));
    // The player withdraws everything, winnings included.
    run(
        &mut w,
        &WalletCommand::Withdraw {
            transfer_id: TransferId::generate(),
            amount: Amount::new(1_100).expect("amount"),
            currency: None,
            description: None,
            payment_ref: None,
        },
    );
    let events = run(&mut w, &resettle(bet_id, "m1", s2, s1, LegResult::Lost));
    assert_eq!(types(&events), ["bet_leg_settled", "bet_payout_reversed"]);
    let WalletEvent::BetPayoutReversed(reversed) = &events[1] else {
        panic!("{events:?}");
    };
    assert_eq!((reversed.settlement_id, reversed.replaced_by), (s1, s2));
    assert_eq!(reversed.transfer.code, TransferCode::PayoutReversal);
    assert_eq!(reversed.transfer.amount.get(), 200);
    // Below the limit of 0: the operator collects it.
    assert_eq!(posted(&w), -200);
    // Corrected back: paid again, under the new settlement.
    let events = run(&mut w, &resettle(bet_id, "m1", s3, s2, LegResult::WON));
    assert_eq!(types(&events), ["bet_leg_settled", "bet_paid"]);
    assert_eq!(posted(&w), 0);
    // The replaced settlement is no longer the leg's.
    assert_eq!(
        decide(
            &w,
            &resettle(bet_id, "m1", SettlementId::generate(), s2, LegResult::Void)
        ),
        Err(Rejection::SettlementNotFound)
    );
}

#[test]
fn resettling_a_void_bet_takes_the_stake_back_and_settles_again() {
    let (mut w, _, bet_id) = with_single();
    let (s1, s2) = (SettlementId::generate(), SettlementId::generate());
    run(&mut w, &settle(bet_id, "m1", s1, LegResult::Void));
    let events = run(
        &mut w,
        &resettle(bet_id, "m1", s2, s1, LegResult::dead_heat(2)),
    );
    assert_eq!(
        types(&events),
        ["bet_leg_settled"],
        "a dead heat at 2.0 returns the stake, as the void did: nothing moves"
    );
    let s3 = SettlementId::generate();
    let events = run(&mut w, &resettle(bet_id, "m1", s3, s2, LegResult::Lost));
    assert_eq!(types(&events), ["bet_leg_settled", "bet_payout_reversed"]);
    // As if the bet had lost in the first place.
    assert_eq!(posted(&w), 900);
}

#[test]
fn a_cash_out_is_offered_accepted_and_releases_the_liability() {
    let (mut w, mut m, bet_id) = with_single();
    let bet = w.wallet.as_ref().expect("open").bets[&bet_id].clone();
    let odds_now = current_odds(&[&m], &bet).expect("market open");
    assert_eq!(odds_now, m.market.as_ref().expect("open").odds[0]);
    let offer_id = OfferId::generate();
    let offer = WalletCommand::OfferCashOut(OfferCashOut {
        bet_id,
        offer_id,
        current_odds: odds_now,
        now: now(),
        expires_at: now() + Duration::seconds(10),
    });
    let events = run(&mut w, &offer);
    let [WalletEvent::CashOutOffered(offered)] = events.as_slice() else {
        panic!("{events:?}");
    };
    let expected = ledger::sportsbook::settle::cash_out_offer(100, Odds(20_000), odds_now);
    assert_eq!(offered.amount.get(), expected);
    let accept = |offer_id, at| {
        WalletCommand::AcceptCashOut(AcceptCashOut {
            bet_id,
            offer_id,
            now: at,
        })
    };
    assert_eq!(
        decide(&w, &accept(OfferId::generate(), now())),
        Err(Rejection::OfferNotFound)
    );
    assert_eq!(
        decide(&w, &accept(offer_id, now() + Duration::seconds(11))),
        Err(Rejection::OfferExpired)
    );
    let events = run(&mut w, &accept(offer_id, now() + Duration::seconds(10)));
    assert_eq!(types(&events), ["bet_cashed_out", "bet_paid"]);
    let (paid, _) = events[1].transfers().next().expect("paid");
    assert_eq!(
        (paid.code, paid.amount.get()),
        (TransferCode::CashOut, expected)
    );
    assert_eq!(posted(&w), 900 + expected);
    // The markets' side releases the bet's liability.
    let market_events = decide_cash_out_markets(&[&m], bet_id, &bet).expect("open");
    m = market_events[0].iter().fold(m, |s, e| s.evolve(e));
    let market = m.market.as_ref().expect("open");
    assert_eq!((market.liability(0), market.liability(1)), (0, 0));
    // A cashed-out bet is done: no second cash-out, and settlement skips it.
    assert_eq!(
        decide(&w, &accept(offer_id, now())),
        Err(Rejection::CashOutUnavailable)
    );
    assert_eq!(decide(&w, &offer), Err(Rejection::CashOutUnavailable));
    assert_eq!(
        decide(
            &w,
            &settle(bet_id, "m1", SettlementId::generate(), LegResult::WON)
        ),
        Ok(vec![])
    );
}

#[test]
fn no_cash_out_once_settled_or_when_the_market_is_not_open() {
    let (mut w, m, bet_id) = with_single();
    let bet = w.wallet.as_ref().expect("open").bets[&bet_id].clone();
    let suspended = market_after(m, &[MarketCommand::Suspend]);
    assert_eq!(
        current_odds(&[&suspended], &bet),
        Err(Rejection::CashOutUnavailable)
    );
    assert_eq!(
        decide_cash_out_markets(&[&suspended], bet_id, &bet),
        Err(Rejection::CashOutUnavailable)
    );
    let offer = |expires_at| {
        WalletCommand::OfferCashOut(OfferCashOut {
            bet_id,
            offer_id: OfferId::generate(),
            current_odds: Odds(20_000),
            now: now(),
            expires_at,
        })
    };
    assert_eq!(decide(&w, &offer(now())), Err(Rejection::OfferExpired));
    run(
        &mut w,
        &settle(bet_id, "m1", SettlementId::generate(), LegResult::Lost),
    );
    assert_eq!(
        decide(&w, &offer(now() + Duration::seconds(5))),
        Err(Rejection::CashOutUnavailable)
    );
}

#[test]
fn bet_events_survive_a_round_trip_through_their_stored_form() {
    let (mut w, _, bet_id) = with_single();
    let (s1, s2) = (SettlementId::generate(), SettlementId::generate());
    let mut all = Vec::new();
    all.extend(run(
        &mut w,
        &WalletCommand::OfferCashOut(OfferCashOut {
            bet_id,
            offer_id: OfferId::generate(),
            current_odds: Odds(20_000),
            now: now(),
            expires_at: now() + Duration::seconds(5),
        }),
    ));
    all.extend(run(&mut w, &settle(bet_id, "m1", s1, LegResult::WON)));
    all.extend(run(
        &mut w,
        &resettle(bet_id, "m1", s2, s1, LegResult::Lost),
    ));
    assert_eq!(
        types(&all),
        [
            "cash_out_offered",
            "bet_settled",
            "bet_leg_settled",
            "bet_payout_reversed"
        ]
    );
    for event in &all {
        let back =
            WalletEvent::from_stored(event.event_type(), event.schema_version(), &event.payload());
        assert_eq!(back.ok().as_ref(), Some(event));
    }
    // Lineage is always written, null included.
    let mut missing = all[2].payload();
    missing.as_object_mut().expect("object").remove("replaces");
    assert!(WalletEvent::from_stored("bet_leg_settled", 1, &missing).is_err());

    // So is the payout (version 2); a settlement stored at version 1 had
    // none (a `bet_paid` followed), and reads back with it null.
    let settled = all[1].payload();
    assert!(settled["payout"].is_object(), "the winner is paid in it");
    let mut v1 = settled.clone();
    v1.as_object_mut().expect("object").remove("payout");
    assert!(WalletEvent::from_stored("bet_settled", 2, &v1).is_err());
    let WalletEvent::BetSettled(old) =
        WalletEvent::from_stored("bet_settled", 1, &v1).expect("a version 1 settlement")
    else {
        panic!("not a bet_settled");
    };
    assert_eq!(old.payout, None);
    assert_eq!(
        WalletEvent::BetSettled(old).transfers().count(),
        1,
        "a version 1 settlement only posts the hold"
    );
    assert!(WalletEvent::from_stored("bet_settled", 1, &settled).is_err());
}

#[test]
fn a_cash_out_that_would_push_another_outcome_past_the_limit_is_refused() {
    let mut w = wallet(10_000, 0);
    let mut m = open_market("m1", 100);
    let single = |outcome, stake| {
        bet(
            stake,
            vec![leg("m1", outcome, 20_000)],
            OddsPolicy::AcceptAny,
        )
    };
    place(&mut w, &mut [&mut m], &single(0, 100));
    let hedge = single(1, 50);
    place(&mut w, &mut [&mut m], &hedge);
    place(&mut w, &mut [&mut m], &single(0, 50));
    let market = m.market.as_ref().expect("open");
    assert!(market.liability(0) <= 100, "{}", market.liability(0));
    // Without the hedge's stake, outcome 0 would owe more than the limit.
    let bet = w.wallet.as_ref().expect("open").bets[&hedge.bet_id].clone();
    assert_eq!(
        decide_cash_out_markets(&[&m], hedge.bet_id, &bet),
        Err(Rejection::CashOutUnavailable)
    );
}
