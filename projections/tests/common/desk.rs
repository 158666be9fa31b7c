//! A sportsbook and box-office event maker for tests (the projections'
//! and, through `#[path]`, the queries'): it decides market commands, bets,
//! settlements, cash-outs, shows, reservations, confirmations, expiries and
//! tickets given back with the real domain, as the command side does, and
//! appends their events through the real store (`append_batch`, and
//! `append_groups` for a command on several streams). It keeps the
//! domain's own states, which the read models are compared with. It panics
//! on any failure: it is for tests only.

#![allow(dead_code)] // Each test file uses its own part.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use ledger::box_office::pricing::{PriceStep, RefundRule};
use ledger::box_office::{
    decide_cancel_ticket, decide_confirm, decide_expire, decide_reserve, decide_show, Decision,
    Reserve, Show, ShowCommand, ShowEvent, ShowState, TierSpec,
};
use ledger::sportsbook::bet::{
    current_odds, decide_bet, decide_cash_out_markets, LegRequest, OddsPolicy, PlaceBet,
};
use ledger::sportsbook::market::{
    decide_market, Market, MarketCommand, MarketEvent, MarketResult, MarketState,
};
use ledger::sportsbook::odds::{Odds, Pricing};
use ledger::sportsbook::settle::LegResult;
use ledger::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StreamAppend, StreamHead,
};
use ledger::testkit::visible;
use ledger::wallet::{
    decide, AcceptCashOut, Bet, OfferCashOut, SettleLeg, WalletCommand, WalletEvent, WalletState,
};
use ledger::{
    AccountId, Amount, BetId, CreditLimit, Currency, MarketId, OfferId, ReservationId,
    SettlementId, ShowId, StreamId, TicketId, TransferId,
};
use sqlx::PgPool;

/// Where a stream stands: the domain's state and the store's head.
struct Stream<S> {
    state: S,
    head: StreamHead,
}

impl<S: Default> Default for Stream<S> {
    fn default() -> Self {
        Self {
            state: S::default(),
            head: StreamHead::EMPTY,
        }
    }
}

/// A tier to schedule: name, capacity, base price, and the pricing steps
/// as (at_sold_bp, raise_bp).
pub type Tier<'a> = (&'a str, u32, i64, &'a [(u32, u32)]);

pub struct Desk {
    pub store: PgEventStore,
    /// The global position of the last event appended.
    pub last_position: i64,
    markets: HashMap<String, Stream<MarketState>>,
    shows: HashMap<String, Stream<ShowState>>,
    wallets: HashMap<String, Stream<WalletState>>,
    /// Accounts in the order opened.
    accounts: Vec<String>,
    commands: u64,
}

/// When every market of the tests starts: a fixed time, plus hours.
pub fn starts_at(hours: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 6, 1, 18, 0, 0)
        .single()
        .expect("time")
        + Duration::hours(hours)
}

pub fn winners(winners: &[u16]) -> MarketResult {
    MarketResult::Winners {
        winners: winners.to_vec(),
    }
}

impl Desk {
    pub fn new(pool: &PgPool) -> Self {
        Self {
            store: PgEventStore::new(pool.clone()),
            last_position: 0,
            markets: HashMap::new(),
            shows: HashMap::new(),
            wallets: HashMap::new(),
            accounts: Vec::new(),
            commands: 0,
        }
    }

    /// Opens `account` in EUR with `balance` deposited.
    pub async fn open_wallet(&mut self, account: &str, balance: i64) -> i64 {
        let id = AccountId::parse(account).expect("account id");
        let mut events = self.wallet_decide(
            account,
            &WalletCommand::Open {
                account: id,
                currency: eur(),
                credit_limit: CreditLimit::new(0).expect("limit"),
            },
        );
        events.extend(self.wallet_decide(
            account,
            &WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(balance).expect("amount"),
                currency: None,
                description: None,
                payment_ref: None,
            },
        ));
        self.accounts.push(account.to_owned());
        self.append_wallet(account, events).await
    }

    /// Opens a three-way market (home, draw, away) in EUR starting
    /// `starts_at(hours)`.
    pub async fn open_market(&mut self, market: &str, hours: i64, liability_limit: i64) -> i64 {
        self.operate(
            market,
            MarketCommand::Open {
                market: MarketId::parse(market).expect("market id"),
                name: format!("{market}: home v away"),
                starts_at: starts_at(hours),
                currency: eur(),
                outcomes: vec!["home".into(), "draw".into(), "away".into()],
                pricing: Pricing {
                    prior_bp: vec![4_000, 3_000, 3_000],
                    prior_weight: 100_000,
                    margin_bp: 500,
                },
                liability_limit,
                stake_min: 1,
                stake_max: 1_000_000,
            },
        )
        .await
    }

    /// Decides an operator's command on `market` and appends its events.
    pub async fn operate(&mut self, market: &str, command: MarketCommand) -> i64 {
        let stream = self.markets.entry(market.to_owned()).or_default();
        let events = decide_market(&stream.state, &command)
            .unwrap_or_else(|r| panic!("{market}: {command:?} rejected: {r:?}"));
        self.append_markets(vec![(market.to_owned(), events)], None)
            .await
    }

    /// Places a bet of `stake` from `account` on `legs` (market, outcome) at
    /// whatever the odds are.
    pub async fn bet(&mut self, account: &str, stake: i64, legs: &[(&str, u16)]) -> BetId {
        let cmd = PlaceBet {
            bet_id: BetId::generate(),
            stake: Amount::new(stake).expect("stake"),
            legs: legs
                .iter()
                .map(|(market, outcome)| LegRequest {
                    market: MarketId::parse(market).expect("market id"),
                    outcome: *outcome,
                    odds_seen: Odds(20_000),
                })
                .collect(),
            policy: OddsPolicy::AcceptAny,
        };
        let decision = {
            let markets: Vec<&MarketState> = legs
                .iter()
                .map(|(market, _)| &self.markets[*market].state)
                .collect();
            decide_bet(&self.wallets[account].state, &markets, &cmd)
                .unwrap_or_else(|r| panic!("{account}: bet {cmd:?} rejected: {r:?}"))
        };
        let wallet = self.wallets.get_mut(account).expect("wallet opened");
        for event in &decision.wallet {
            wallet.state = std::mem::take(&mut wallet.state).evolve(event);
        }
        let markets = legs
            .iter()
            .map(|(market, _)| (*market).to_owned())
            .zip(decision.markets)
            .collect();
        self.append_markets(markets, Some((account.to_owned(), decision.wallet)))
            .await;
        cmd.bet_id
    }

    /// Starts a settlement of `market` (closed, or settled for a
    /// re-settlement) and settles none of its bets yet.
    pub async fn start_settlement(&mut self, market: &str, result: MarketResult) -> SettlementId {
        let settlement_id = SettlementId::generate();
        let settled = self.market(market).settlements.last().map(|(id, _)| *id);
        let command = match settled {
            None => MarketCommand::StartSettlement {
                settlement_id,
                result,
            },
            Some(_) => MarketCommand::Resettle {
                settlement_id,
                result,
            },
        };
        self.operate(market, command).await;
        settlement_id
    }

    /// Settles (or re-settles) every leg on `market` of every bet under its
    /// running settlement, records the progress and finishes it.
    pub async fn settle(&mut self, market: &str, result: MarketResult) -> SettlementId {
        let replaces = self.market(market).settlements.last().map(|(id, _)| *id);
        let settlement_id = self.start_settlement(market, result.clone()).await;
        let mut settled = 0u64;
        for account in self.accounts.clone() {
            let legs: Vec<(BetId, u16)> = self
                .bets_of(&account)
                .filter_map(|(id, bet)| {
                    let leg = bet.legs.iter().find(|l| l.market.as_str() == market)?;
                    Some((*id, leg.outcome))
                })
                .collect();
            let mut events = Vec::new();
            for (bet_id, outcome) in legs {
                events.extend(self.wallet_decide(
                    &account,
                    &WalletCommand::SettleLeg(SettleLeg {
                        bet_id,
                        market: MarketId::parse(market).expect("market id"),
                        settlement_id,
                        replaces,
                        result: LegResult::of(&result, outcome),
                    }),
                ));
                settled += 1;
            }
            if !events.is_empty() {
                self.append_wallet(&account, events).await;
            }
        }
        let through_version = self.markets[market].head.version;
        self.operate(
            market,
            MarketCommand::RecordProgress {
                settlement_id,
                through_version,
                bets_settled: settled,
            },
        )
        .await;
        self.operate(market, MarketCommand::FinishSettlement { settlement_id })
            .await;
        settlement_id
    }

    /// Offers `account` a cash-out of `bet_id` at the current odds, and
    /// takes it: the wallet's events, then each leg's market's.
    pub async fn cash_out(&mut self, account: &str, bet_id: BetId) -> i64 {
        let bet = self.bet_of(account, bet_id).clone();
        let markets: Vec<&MarketState> = bet
            .legs
            .iter()
            .map(|leg| &self.markets[leg.market.as_str()].state)
            .collect();
        let current = current_odds(&markets, &bet).expect("current odds");
        let market_events = decide_cash_out_markets(&markets, bet_id, &bet).expect("cash out");
        let (offer_id, now) = (OfferId::generate(), Utc::now());
        let mut events = self.wallet_decide(
            account,
            &WalletCommand::OfferCashOut(OfferCashOut {
                bet_id,
                offer_id,
                current_odds: current,
                now,
                expires_at: now + Duration::seconds(30),
            }),
        );
        events.extend(self.wallet_decide(
            account,
            &WalletCommand::AcceptCashOut(AcceptCashOut {
                bet_id,
                offer_id,
                now,
            }),
        ));
        let markets = bet
            .legs
            .iter()
            .map(|leg| leg.market.as_str().to_owned())
            .zip(market_events)
            .collect();
        self.append_markets(markets, Some((account.to_owned(), events)))
            .await
    }

    /// Schedules `show` in EUR, starting `starts_at`, with `tiers` of
    /// (name, capacity, base price, steps as (at_sold_bp, raise_bp)),
    /// refunds in full until a day before and `late_refund_bp` after.
    pub async fn schedule_show(
        &mut self,
        show: &str,
        starts_at: DateTime<Utc>,
        tiers: &[Tier<'_>],
        late_refund_bp: u32,
    ) -> i64 {
        let command = ShowCommand::Schedule {
            show: ShowId::parse(show).expect("show id"),
            name: format!("{show} night"),
            starts_at,
            currency: eur(),
            tiers: tiers
                .iter()
                .map(|(name, capacity, base_price, steps)| TierSpec {
                    name: (*name).to_owned(),
                    capacity: *capacity,
                    base_price: *base_price,
                    steps: steps
                        .iter()
                        .map(|(at_sold_bp, raise_bp)| PriceStep {
                            at_sold_bp: *at_sold_bp,
                            raise_bp: *raise_bp,
                        })
                        .collect(),
                })
                .collect(),
            seats_per_customer_max: 10,
            reservation_ttl_s: 600,
            refund_rule: RefundRule {
                full_refund_until_s_before: 86_400,
                late_refund_bp,
            },
        };
        let stream = self.shows.entry(show.to_owned()).or_default();
        let events = decide_show(&stream.state, &command)
            .unwrap_or_else(|r| panic!("{show}: {command:?} rejected: {r:?}"));
        self.append(Vec::new(), vec![(show.to_owned(), events)], None)
            .await
    }

    /// `account` reserves `seats` seats of `tier` at the price in force.
    pub async fn reserve(
        &mut self,
        show: &str,
        account: &str,
        tier: u16,
        seats: u32,
    ) -> ReservationId {
        let command = Reserve {
            reservation_id: ReservationId::generate(),
            account: AccountId::parse(account).expect("account id"),
            tier,
            seats,
            now: Utc::now(),
        };
        let decision = decide_reserve(
            &self.wallets[account].state,
            &self.shows[show].state,
            &command,
        )
        .unwrap_or_else(|r| panic!("{show}: {command:?} rejected: {r:?}"));
        self.decided(show, account, decision).await;
        command.reservation_id
    }

    /// Confirms an open reservation now: its tickets, one per seat.
    pub async fn confirm(&mut self, show: &str, reservation_id: ReservationId) -> Vec<TicketId> {
        let account = self.reservation_account(show, reservation_id);
        let decision = decide_confirm(
            &self.wallets[&account].state,
            &self.shows[show].state,
            reservation_id,
            Utc::now(),
        )
        .unwrap_or_else(|r| panic!("{show}: confirm {reservation_id} rejected: {r:?}"));
        let tickets = match decision.show.as_slice() {
            [ShowEvent::ReservationConfirmed(e)] => e.tickets.clone(),
            other => panic!("a confirmation's show events: {other:?}"),
        };
        self.decided(show, &account, decision).await;
        tickets
    }

    /// Expires an open reservation, as the box-office process does once
    /// its time is up (decided as of then, so the test need not wait).
    pub async fn expire(&mut self, show: &str, reservation_id: ReservationId) -> i64 {
        let account = self.reservation_account(show, reservation_id);
        let due = self.show(show).reservations[&reservation_id].expires_at;
        let decision = decide_expire(
            &self.wallets[&account].state,
            &self.shows[show].state,
            reservation_id,
            due,
        )
        .unwrap_or_else(|r| panic!("{show}: expire {reservation_id} rejected: {r:?}"));
        self.decided(show, &account, decision).await
    }

    /// The ticket's customer gives it back now, refunded per the show's
    /// rule.
    pub async fn give_back(&mut self, show: &str, ticket: TicketId) -> i64 {
        let reservation_id = self.show(show).tickets[&ticket];
        let account = self.reservation_account(show, reservation_id);
        let decision = decide_cancel_ticket(
            &self.wallets[&account].state,
            &self.shows[show].state,
            ticket,
            Utc::now(),
        )
        .unwrap_or_else(|r| panic!("{show}: give back {ticket} rejected: {r:?}"));
        self.decided(show, &account, decision).await
    }

    /// The domain's state of `show`.
    pub fn show(&self, show: &str) -> &Show {
        self.shows[show]
            .state
            .show
            .as_ref()
            .expect("show scheduled")
    }

    fn reservation_account(&self, show: &str, reservation_id: ReservationId) -> String {
        self.show(show).reservations[&reservation_id]
            .account
            .as_str()
            .to_owned()
    }

    /// Appends a box-office decision: the wallet's events and the show's,
    /// one group, as the command side commits them.
    async fn decided(&mut self, show: &str, account: &str, decision: Decision) -> i64 {
        let wallet = self.wallets.get_mut(account).expect("wallet opened");
        for event in &decision.wallet {
            wallet.state = std::mem::take(&mut wallet.state).evolve(event);
        }
        self.append(
            Vec::new(),
            vec![(show.to_owned(), decision.show)],
            Some((account.to_owned(), decision.wallet)),
        )
        .await
    }

    /// The domain's state of `market`.
    pub fn market(&self, market: &str) -> &Market {
        self.markets[market]
            .state
            .market
            .as_ref()
            .expect("market opened")
    }

    /// Every market's id.
    pub fn market_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.markets.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The domain's bets of `account`.
    pub fn bets_of(&self, account: &str) -> impl Iterator<Item = (&BetId, &Bet)> {
        self.wallets[account]
            .state
            .wallet
            .as_ref()
            .expect("wallet opened")
            .bets
            .iter()
            .map(|(id, bet)| (id, &**bet))
    }

    pub fn bet_of(&self, account: &str, bet_id: BetId) -> &Bet {
        self.bets_of(account)
            .find(|(id, _)| **id == bet_id)
            .map(|(_, bet)| bet)
            .expect("bet placed")
    }

    pub fn accounts(&self) -> &[String] {
        &self.accounts
    }

    /// Decides a wallet command and folds its events into the state (they
    /// are appended by the caller).
    fn wallet_decide(&mut self, account: &str, command: &WalletCommand) -> Vec<WalletEvent> {
        let stream = self.wallets.entry(account.to_owned()).or_default();
        let events = decide(&stream.state, command)
            .unwrap_or_else(|r| panic!("{account}: {command:?} rejected: {r:?}"));
        for event in &events {
            stream.state = std::mem::take(&mut stream.state).evolve(event);
        }
        events
    }

    async fn append_wallet(&mut self, account: &str, events: Vec<WalletEvent>) -> i64 {
        self.append_markets(Vec::new(), Some((account.to_owned(), events)))
            .await
    }

    async fn append_markets(
        &mut self,
        markets: Vec<(String, Vec<MarketEvent>)>,
        wallet: Option<(String, Vec<WalletEvent>)>,
    ) -> i64 {
        self.append(markets, Vec::new(), wallet).await
    }

    /// Appends one command's events: the wallet's (already folded into its
    /// state) and each market's and show's (folded here), all streams as
    /// one group.
    async fn append(
        &mut self,
        markets: Vec<(String, Vec<MarketEvent>)>,
        shows: Vec<(String, Vec<ShowEvent>)>,
        wallet: Option<(String, Vec<WalletEvent>)>,
    ) -> i64 {
        self.commands += 1;
        let command_id = format!("desk-{}", self.commands);
        let command = |events: Vec<NewEvent>| CommandAppend {
            command_id: command_id.clone(),
            request_hash: Vec::new(),
            outcome: serde_json::Value::Null,
            events,
        };
        let mut group = Vec::new();
        let mut streams = Vec::new();
        if let Some((account, events)) = &wallet {
            group.push(StreamAppend {
                stream_id: StreamId::account(&AccountId::parse(account).expect("id")),
                expected: self.wallets[account].head,
                commands: vec![command(
                    events
                        .iter()
                        .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.payload()))
                        .collect(),
                )],
            });
            streams.push(Key::Wallet(account.clone()));
        }
        for (market, events) in &markets {
            let stream = self.markets.entry(market.clone()).or_default();
            for event in events {
                stream.state = std::mem::take(&mut stream.state).evolve(event);
            }
            group.push(StreamAppend {
                stream_id: StreamId::new(format!("market-{market}")),
                expected: stream.head,
                commands: vec![command(
                    events
                        .iter()
                        .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.payload()))
                        .collect(),
                )],
            });
            streams.push(Key::Market(market.clone()));
        }
        for (show, events) in &shows {
            let stream = self.shows.entry(show.clone()).or_default();
            for event in events {
                stream.state = std::mem::take(&mut stream.state).evolve(event);
            }
            group.push(StreamAppend {
                stream_id: StreamId::show(&ShowId::parse(show).expect("show id")),
                expected: stream.head,
                commands: vec![command(
                    events
                        .iter()
                        .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.payload()))
                        .collect(),
                )],
            });
            streams.push(Key::Show(show.clone()));
        }
        let outcomes = if group.len() == 1 {
            self.store.append_batch(group).await.expect("append")
        } else {
            let mut groups = self.store.append_groups(vec![group]).await.expect("append");
            groups.pop().expect("one group")
        };
        for (key, outcome) in streams.into_iter().zip(outcomes) {
            let AppendOutcome::Committed {
                head,
                last_positions,
            } = outcome
            else {
                panic!("{key:?}: conflict in a test append");
            };
            let last = last_positions.into_iter().flatten().max().unwrap_or(0);
            self.last_position = self.last_position.max(last);
            match key {
                Key::Wallet(account) => self.wallets.get_mut(&account).expect("wallet").head = head,
                Key::Market(market) => self.markets.get_mut(&market).expect("market").head = head,
                Key::Show(show) => self.shows.get_mut(&show).expect("show").head = head,
            }
        }
        visible(&self.store, self.last_position).await;
        self.last_position
    }
}

#[derive(Debug)]
enum Key {
    Wallet(String),
    Market(String),
    Show(String),
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}
