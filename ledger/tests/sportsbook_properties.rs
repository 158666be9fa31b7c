//! Property tests of the sportsbook over random histories: deposits,
//! singles and accumulators with random odds policies, cash-outs, market
//! suspensions, settlements (dead heats and voids included) and
//! re-settlements, on a few wallets and markets. The invariants are checked
//! after every step, and the money at the end is checked against what
//! settling every bet directly with its markets' final results gives.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, TimeZone, Utc};
use ledger::book::{Book, Totals};
use ledger::sportsbook::bet::{
    current_odds, decide_bet, decide_cash_out_markets, LegRequest, OddsPolicy, PlaceBet,
};
use ledger::sportsbook::market::{
    decide_market, MarketCommand, MarketEvent, MarketResult, MarketState, MarketStatus,
};
use ledger::sportsbook::odds::{Odds, Pricing, ODDS_MAX, ODDS_MIN};
use ledger::sportsbook::settle::{self, LegResult};
use ledger::wallet::{
    decide, AcceptCashOut, BetStatus, OfferCashOut, SettleLeg, WalletCommand, WalletEvent,
    WalletState,
};
use ledger::{
    AccountId, Amount, BetId, CreditLimit, Currency, MarketId, OfferId, Rejection, SettlementId,
    TransferId,
};
use proptest::prelude::*;

const WALLETS: usize = 3;
const MARKETS: usize = 3;

#[derive(Debug, Clone)]
enum Pick {
    Void,
    Winners(Vec<u16>),
}

#[derive(Debug, Clone)]
enum Op {
    Deposit {
        wallet: usize,
        amount: i64,
    },
    Bet {
        wallet: usize,
        legs: Vec<(usize, u16)>,
        stake: i64,
        policy: usize,
        nudge: i64,
    },
    CashOut {
        wallet: usize,
        bet: usize,
        accept: bool,
        late: bool,
    },
    Suspend(usize),
    Resume(usize),
    Settle(usize, Pick),
    Resettle(usize, Pick),
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        1 => Just(Pick::Void),
        5 => proptest::collection::vec(0u16..4, 1..=3).prop_map(Pick::Winners),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let wallet = 0..WALLETS;
    let market = 0..MARKETS;
    prop_oneof![
        2 => (wallet.clone(), 1i64..5_000).prop_map(|(wallet, amount)| Op::Deposit { wallet, amount }),
        8 => (
            wallet.clone(),
            prop_oneof![
                3 => proptest::collection::vec((market.clone(), 0u16..4), 1..=1),
                2 => proptest::collection::vec((market.clone(), 0u16..4), 2..=4),
            ],
            1i64..2_000,
            0..3usize,
            -2i64..=2,
        )
            .prop_map(|(wallet, legs, stake, policy, nudge)| Op::Bet {
                wallet,
                legs,
                stake,
                policy,
                nudge
            }),
        3 => (wallet, 0..8usize, proptest::bool::weighted(0.8), proptest::bool::weighted(0.2))
            .prop_map(|(wallet, bet, accept, late)| Op::CashOut { wallet, bet, accept, late }),
        1 => market.clone().prop_map(Op::Suspend),
        1 => market.clone().prop_map(Op::Resume),
        1 => (market.clone(), pick()).prop_map(|(m, p)| Op::Settle(m, p)),
        1 => (market, pick()).prop_map(|(m, p)| Op::Resettle(m, p)),
    ]
}

/// The markets' shapes: outcomes, margin, prior weight and liability limit.
fn markets() -> impl Strategy<Value = Vec<(usize, u64, u64, i64)>> {
    proptest::collection::vec(
        (2usize..=3, 0u64..=1_000, 1_000u64..100_000, 500i64..20_000),
        MARKETS,
    )
}

struct World {
    wallets: Vec<WalletState>,
    markets: Vec<MarketState>,
    wallet_log: Vec<Vec<WalletEvent>>,
    market_log: Vec<Vec<MarketEvent>>,
    bets: Vec<Vec<BetId>>,
    book: Book,
    deposits: Vec<i64>,
    /// How often each bet's stake hold was resolved (posted or voided).
    resolutions: HashMap<BetId, usize>,
    /// Wallets that had a payout reversed: the only ones that may be below
    /// their credit limit.
    reversed: Vec<bool>,
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

fn market_id(m: usize) -> MarketId {
    MarketId::parse(&format!("m{m}")).expect("id")
}

fn result_of(pick: &Pick, outcomes: usize) -> MarketResult {
    match pick {
        Pick::Void => MarketResult::Void,
        Pick::Winners(raw) => {
            let mut winners: Vec<u16> = Vec::new();
            for w in raw {
                let w = w % outcomes as u16;
                if !winners.contains(&w) {
                    winners.push(w);
                }
            }
            MarketResult::Winners { winners }
        }
    }
}

impl World {
    fn new(limits: &[i64], shapes: &[(usize, u64, u64, i64)]) -> Self {
        let mut world = Self {
            wallets: vec![WalletState::default(); WALLETS],
            markets: vec![MarketState::default(); MARKETS],
            wallet_log: vec![Vec::new(); WALLETS],
            market_log: vec![Vec::new(); MARKETS],
            bets: vec![Vec::new(); WALLETS],
            book: Book::default(),
            deposits: vec![0; WALLETS],
            resolutions: HashMap::new(),
            reversed: vec![false; WALLETS],
        };
        for (w, limit) in limits.iter().enumerate() {
            let open = WalletCommand::Open {
                account: AccountId::parse(&format!("p{w}")).expect("id"),
                currency: eur(),
                credit_limit: CreditLimit::new(*limit).expect("limit"),
            };
            let events = decide(&world.wallets[w], &open).expect("opened");
            world.wallet_events(w, events);
        }
        for (m, &(outcomes, margin_bp, prior_weight, liability_limit)) in shapes.iter().enumerate()
        {
            let mut prior_bp = vec![10_000 / outcomes as u64; outcomes];
            prior_bp[0] += 10_000 % outcomes as u64;
            let open = MarketCommand::Open {
                market: market_id(m),
                name: format!("match {m}"),
                starts_at: Utc
                    .with_ymd_and_hms(2026, 5, 1, 15, 0, 0)
                    .single()
                    .expect("time"),
                currency: eur(),
                outcomes: (0..outcomes).map(|o| format!("outcome {o}")).collect(),
                pricing: Pricing {
                    prior_bp,
                    prior_weight,
                    margin_bp,
                },
                liability_limit,
                stake_min: 1,
                stake_max: 5_000,
            };
            let events = decide_market(&world.markets[m], &open).expect("opened");
            world.market_events(m, events);
        }
        // Money to bet with from the start, so most histories bet.
        for wallet in 0..WALLETS {
            let deposit = Op::Deposit {
                wallet,
                amount: 5_000,
            };
            world
                .step(&deposit)
                .expect("a deposit keeps the invariants");
        }
        world
    }

    fn wallet_events(&mut self, w: usize, events: Vec<WalletEvent>) {
        for event in events {
            for (transfer, phase) in event.transfers() {
                self.book.apply(transfer, phase);
            }
            match &event {
                WalletEvent::BetSettled(e) => *self.resolutions.entry(e.bet_id).or_default() += 1,
                WalletEvent::BetVoided(e) => *self.resolutions.entry(e.bet_id).or_default() += 1,
                WalletEvent::BetCashedOut(e) => *self.resolutions.entry(e.bet_id).or_default() += 1,
                WalletEvent::BetPayoutReversed(_) => self.reversed[w] = true,
                _ => {}
            }
            self.wallets[w] = std::mem::take(&mut self.wallets[w]).evolve(&event);
            self.wallet_log[w].push(event);
        }
    }

    fn market_events(&mut self, m: usize, events: Vec<MarketEvent>) {
        for event in events {
            self.markets[m] = std::mem::take(&mut self.markets[m]).evolve(&event);
            self.market_log[m].push(event);
        }
    }

    fn market(&self, m: usize) -> &ledger::sportsbook::market::Market {
        self.markets[m].market.as_ref().expect("opened")
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match op {
            Op::Deposit { wallet, amount } => {
                let command = WalletCommand::Deposit {
                    transfer_id: TransferId::generate(),
                    amount: Amount::new(*amount).expect("positive"),
                    currency: None,
                    description: None,
                    payment_ref: None,
                };
                let events = decide(&self.wallets[*wallet], &command).expect("deposit");
                self.deposits[*wallet] += amount;
                self.wallet_events(*wallet, events);
            }
            Op::Bet {
                wallet,
                legs,
                stake,
                policy,
                nudge,
            } => self.bet(*wallet, legs, *stake, *policy, *nudge)?,
            Op::CashOut {
                wallet,
                bet,
                accept,
                late,
            } => self.cash_out(*wallet, *bet, *accept, *late)?,
            Op::Suspend(m) => self.lifecycle(*m, MarketCommand::Suspend),
            Op::Resume(m) => self.lifecycle(*m, MarketCommand::Resume),
            Op::Settle(m, pick) => self.settle(*m, pick)?,
            Op::Resettle(m, pick) => self.resettle(*m, pick)?,
        }
        self.check()
    }

    fn lifecycle(&mut self, m: usize, command: MarketCommand) {
        if let Ok(events) = decide_market(&self.markets[m], &command) {
            self.market_events(m, events);
        }
    }

    fn bet(
        &mut self,
        w: usize,
        raw: &[(usize, u16)],
        stake: i64,
        policy: usize,
        nudge: i64,
    ) -> Result<(), TestCaseError> {
        let mut legs: Vec<LegRequest> = Vec::new();
        let mut indexes = Vec::new();
        for &(m, outcome) in raw {
            if indexes.contains(&m) {
                continue;
            }
            let market = self.market(m);
            let outcome = outcome % market.outcomes.len() as u16;
            let current = market.odds[usize::from(outcome)].0 as i64;
            let seen = (current + nudge * 100).clamp(ODDS_MIN.0 as i64, ODDS_MAX.0 as i64);
            legs.push(LegRequest {
                market: market_id(m),
                outcome,
                odds_seen: Odds(seen as u64),
            });
            indexes.push(m);
        }
        let cmd = PlaceBet {
            bet_id: BetId::generate(),
            stake: Amount::new(stake).expect("positive"),
            legs,
            policy: [
                OddsPolicy::Exact,
                OddsPolicy::AcceptHigher,
                OddsPolicy::AcceptAny,
            ][policy],
        };
        let views: Vec<&MarketState> = indexes.iter().map(|&m| &self.markets[m]).collect();
        match decide_bet(&self.wallets[w], &views, &cmd) {
            Ok(decision) => {
                self.bets[w].push(cmd.bet_id);
                self.wallet_events(w, decision.wallet);
                for (m, events) in indexes.iter().zip(decision.markets) {
                    self.market_events(*m, events);
                }
                // The liability limit holds right after every accepted bet.
                for &m in &indexes {
                    let market = self.market(m);
                    for o in 0..market.outcomes.len() as u16 {
                        prop_assert!(
                            market.liability(o) <= market.liability_limit,
                            "m{m} outcome {o}: {} > {}",
                            market.liability(o),
                            market.liability_limit
                        );
                    }
                }
            }
            Err(Rejection::OddsChanged { leg, current }) => {
                // The rejection carries the odds the market has now.
                let market = self.market(indexes[leg]);
                let outcome = usize::from(cmd.legs[leg].outcome);
                prop_assert_eq!(Odds(current), market.odds[outcome]);
                prop_assert!(cmd.policy != OddsPolicy::AcceptAny);
            }
            Err(_) => {}
        }
        Ok(())
    }

    fn cash_out(
        &mut self,
        w: usize,
        pick: usize,
        accept: bool,
        late: bool,
    ) -> Result<(), TestCaseError> {
        if self.bets[w].is_empty() {
            return Ok(());
        }
        let bet_id = self.bets[w][pick % self.bets[w].len()];
        let Some(bet) = self.wallets[w]
            .wallet
            .as_ref()
            .and_then(|wallet| wallet.bets.get(&bet_id))
            .cloned()
        else {
            return Ok(());
        };
        let indexes: Vec<usize> = bet
            .legs
            .iter()
            .map(|leg| leg.market.as_str()[1..].parse().expect("m{n}"))
            .collect();
        let views: Vec<&MarketState> = indexes.iter().map(|&m| &self.markets[m]).collect();
        let Ok(odds) = current_odds(&views, &bet) else {
            return Ok(());
        };
        let now = Utc
            .with_ymd_and_hms(2026, 5, 1, 14, 0, 0)
            .single()
            .expect("time");
        let offer_id = OfferId::generate();
        let offer = WalletCommand::OfferCashOut(OfferCashOut {
            bet_id,
            offer_id,
            current_odds: odds,
            now,
            expires_at: now + Duration::seconds(5),
        });
        // The markets may refuse to release the bet (a liability limit).
        let releasable = decide_cash_out_markets(&views, bet_id, &bet).is_ok();
        let Ok(events) = decide(&self.wallets[w], &offer) else {
            return Ok(());
        };
        self.wallet_events(w, events);
        if !accept || !releasable {
            return Ok(());
        }
        let at = now + Duration::seconds(if late { 6 } else { 5 });
        let command = WalletCommand::AcceptCashOut(AcceptCashOut {
            bet_id,
            offer_id,
            now: at,
        });
        match decide(&self.wallets[w], &command) {
            Ok(events) => {
                prop_assert!(!late);
                let views: Vec<&MarketState> = indexes.iter().map(|&m| &self.markets[m]).collect();
                let markets = decide_cash_out_markets(&views, bet_id, &bet).expect("open");
                self.wallet_events(w, events);
                for (m, events) in indexes.iter().zip(markets) {
                    self.market_events(*m, events);
                }
            }
            Err(rejection) => prop_assert_eq!(rejection, Rejection::OfferExpired),
        }
        Ok(())
    }

    /// Every bet with a leg on market `m`, by wallet.
    fn bets_on(&self, m: usize) -> Vec<(usize, BetId, u16)> {
        let id = market_id(m);
        let mut found = Vec::new();
        for (w, state) in self.wallets.iter().enumerate() {
            let Some(wallet) = state.wallet.as_ref() else {
                continue;
            };
            for bet_id in &self.bets[w] {
                if let Some(leg) = wallet.bets[bet_id].legs.iter().find(|l| l.market == id) {
                    found.push((w, *bet_id, leg.outcome));
                }
            }
        }
        found
    }

    fn settle(&mut self, m: usize, pick: &Pick) -> Result<(), TestCaseError> {
        if matches!(
            self.market(m).status,
            MarketStatus::Open | MarketStatus::Suspended
        ) {
            self.lifecycle(m, MarketCommand::Close);
        }
        let result = result_of(pick, self.market(m).outcomes.len());
        let settlement_id = SettlementId::generate();
        let start = MarketCommand::StartSettlement {
            settlement_id,
            result: result.clone(),
        };
        let Ok(events) = decide_market(&self.markets[m], &start) else {
            return Ok(());
        };
        self.market_events(m, events);
        self.run_settlement(m, settlement_id, None, &result)
    }

    fn resettle(&mut self, m: usize, pick: &Pick) -> Result<(), TestCaseError> {
        let MarketStatus::Settled {
            settlement_id: previous,
            ..
        } = self.market(m).status
        else {
            return Ok(());
        };
        let result = result_of(pick, self.market(m).outcomes.len());
        let settlement_id = SettlementId::generate();
        let command = MarketCommand::Resettle {
            settlement_id,
            result: result.clone(),
        };
        let Ok(events) = decide_market(&self.markets[m], &command) else {
            return Ok(());
        };
        self.market_events(m, events);
        self.run_settlement(m, settlement_id, Some(previous), &result)
    }

    /// What the settlement process does: every bet's leg on the market,
    /// then its progress, then the end. Half of the legs are sent twice,
    /// as a settlement resumed after a crash would.
    fn run_settlement(
        &mut self,
        m: usize,
        settlement_id: SettlementId,
        replaces: Option<SettlementId>,
        result: &MarketResult,
    ) -> Result<(), TestCaseError> {
        let bets = self.bets_on(m);
        for (i, (w, bet_id, outcome)) in bets.iter().enumerate() {
            let command = WalletCommand::SettleLeg(SettleLeg {
                bet_id: *bet_id,
                market: market_id(m),
                settlement_id,
                replaces,
                result: LegResult::of(result, *outcome),
            });
            let events = decide(&self.wallets[*w], &command);
            prop_assert!(events.is_ok(), "{command:?}: {events:?}");
            self.wallet_events(*w, events.unwrap_or_default());
            if i % 2 == 0 {
                prop_assert_eq!(decide(&self.wallets[*w], &command), Ok(vec![]));
            }
        }
        let through_version = self.market_log[m].len() as i64;
        for command in [
            MarketCommand::RecordProgress {
                settlement_id,
                through_version,
                bets_settled: bets.len() as u64,
            },
            MarketCommand::FinishSettlement { settlement_id },
        ] {
            let events = decide_market(&self.markets[m], &command);
            prop_assert!(events.is_ok(), "{command:?}: {events:?}");
            self.market_events(m, events.unwrap_or_default());
        }
        Ok(())
    }

    fn check(&self) -> Result<(), TestCaseError> {
        prop_assert!(
            self.book.is_balanced(),
            "Σ balances != 0: {:?}",
            self.book.totals()
        );
        for (w, state) in self.wallets.iter().enumerate() {
            let wallet = state.wallet.as_ref().expect("opened");
            prop_assert_eq!(
                Totals::from(wallet.balance),
                self.book.totals_of(&wallet.id, wallet.currency)
            );
            if !self.reversed[w] {
                prop_assert!(
                    wallet.balance.available(wallet.credit_limit.get()) >= 0,
                    "{} below its limit without a reversal",
                    wallet.id
                );
            }
        }
        prop_assert!(
            self.resolutions.values().all(|&n| n <= 1),
            "a bet's hold resolved twice"
        );
        for m in 0..MARKETS {
            let market = self.market(m);
            for o in 0..market.outcomes.len() as u16 {
                prop_assert!(market.liability(o) <= market.liability_limit);
            }
        }
        Ok(())
    }

    /// Once every market is settled: each bet returned what its markets'
    /// final results say, as if settled once, directly, with them; every
    /// wallet holds its deposits less what its bets lost; and the house
    /// holds, to the cent, the stakes it kept less what it returned.
    fn check_final(&self) -> Result<(), TestCaseError> {
        let finals: BTreeMap<MarketId, MarketResult> = (0..MARKETS)
            .filter_map(|m| match &self.market(m).status {
                MarketStatus::Settled { result, .. } => Some((market_id(m), result.clone())),
                _ => None,
            })
            .collect();
        prop_assert_eq!(finals.len(), MARKETS);
        let mut house = 0i128;
        for (w, state) in self.wallets.iter().enumerate() {
            let wallet = state.wallet.as_ref().expect("opened");
            let mut lost = 0i128;
            for bet in wallet.bets.values() {
                let kept = match bet.status {
                    BetStatus::Open => {
                        prop_assert!(false, "a bet is open after every market settled");
                        0
                    }
                    BetStatus::CashedOut { amount } => bet.stake.get() - amount,
                    BetStatus::Settled { returned, .. } => {
                        let legs: Vec<(Odds, LegResult)> = bet
                            .legs
                            .iter()
                            .map(|leg| (leg.odds, LegResult::of(&finals[&leg.market], leg.outcome)))
                            .collect();
                        prop_assert_eq!(returned, settle::returned(bet.stake.get(), &legs));
                        bet.stake.get() - returned
                    }
                };
                lost += i128::from(kept);
            }
            prop_assert_eq!(
                i128::from(wallet.balance.posted()),
                i128::from(self.deposits[w]) - lost
            );
            prop_assert_eq!(wallet.balance.pending_debits, 0);
            house += lost;
        }
        prop_assert_eq!(
            self.book.totals_of(&AccountId::house(), eur()).posted(),
            house
        );
        Ok(())
    }

    fn check_replay(&self) -> Result<(), TestCaseError> {
        for (w, log) in self.wallet_log.iter().enumerate() {
            prop_assert_eq!(&ledger::wallet::replay(log), &self.wallets[w]);
        }
        for (m, log) in self.market_log.iter().enumerate() {
            prop_assert_eq!(&ledger::sportsbook::market::replay(log), &self.markets[m]);
            for event in log {
                let back = MarketEvent::from_stored(event.event_type(), 1, &event.payload()).ok();
                prop_assert_eq!(back.as_ref(), Some(event));
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn invariants_hold_and_resettling_equals_settling_directly(
        limits in proptest::collection::vec(0i64..300, WALLETS),
        shapes in markets(),
        ops in proptest::collection::vec(op(), 1..120),
        last in proptest::collection::vec(pick(), MARKETS),
    ) {
        let mut world = World::new(&limits, &shapes);
        for op in &ops {
            world.step(op)?;
        }
        // Settle whatever is still open, then the money must add up.
        for (m, pick) in last.iter().enumerate() {
            world.settle(m, pick)?;
            world.check()?;
        }
        world.check_final()?;
        world.check_replay()?;
    }
}
