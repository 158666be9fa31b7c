//! Sportsbook logs for tests and benchmarks: wallets with money, a market
//! of three outcomes and many bets on it, decided by the real domain and
//! appended through the real store in groups, as the writer would (but
//! without its queue, so that 100,000 bets take seconds, not minutes).

use crate::sportsbook::bet::{decide_bet, LegRequest, OddsPolicy, PlaceBet};
use crate::sportsbook::market::{decide_market, MarketCommand, MarketEvent, MarketState};
use crate::sportsbook::odds::{Pricing, ODDS_MIN};
use crate::store::{
    AppendOutcome, CommandAppend, EventStore, NewEvent, PgEventStore, StreamAppend, StreamHead,
};
use crate::wallet::{decide, WalletCommand, WalletEvent, WalletState};
use crate::{AccountId, Amount, BetId, CreditLimit, Currency, MarketId, StreamId, TransferId};

/// A stream as the generator built it: its state and where it stands.
struct Built<S> {
    state: S,
    head: StreamHead,
    events: Vec<NewEvent>,
}

impl<S: Default> Built<S> {
    fn new() -> Self {
        Self {
            state: S::default(),
            head: StreamHead::EMPTY,
            events: Vec::new(),
        }
    }
}

fn wallet_new(e: &WalletEvent) -> NewEvent {
    NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload())
}

fn market_new(e: &MarketEvent) -> NewEvent {
    NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload())
}

/// Appends what each built stream has queued as one group; moves heads on.
async fn flush(
    store: &PgEventStore,
    command_id: &str,
    streams: &mut [(&StreamId, &mut StreamHead, &mut Vec<NewEvent>)],
) {
    let group: Vec<StreamAppend> = streams
        .iter_mut()
        .filter(|(_, _, events)| !events.is_empty())
        .map(|(id, head, events)| StreamAppend {
            stream_id: (*id).clone(),
            expected: **head,
            commands: vec![CommandAppend {
                command_id: command_id.to_owned(),
                request_hash: vec![],
                outcome: serde_json::json!({}),
                events: std::mem::take(*events),
            }],
        })
        .collect();
    let ids: Vec<StreamId> = group.iter().map(|s| s.stream_id.clone()).collect();
    let outcomes = store.append_groups(vec![group]).await.expect("append");
    for (id, outcome) in ids.iter().zip(&outcomes[0]) {
        let AppendOutcome::Committed { head, .. } = outcome else {
            panic!("{id} conflicted");
        };
        if let Some((_, h, _)) = streams.iter_mut().find(|(s, _, _)| *s == id) {
            **h = *head;
        }
    }
}

/// A bet as placed: who, on what, and what it pays if it wins.
pub struct Placed {
    pub account: AccountId,
    pub outcome: u16,
    pub stake: i64,
    pub payout_if_wins: i64,
}

/// Opens `accounts` wallets with money for their bets and a market of three
/// outcomes, places `bets` bets round-robin (straight through the store,
/// decided by the domain, as the writer would), and closes the market.
pub async fn place_bets(
    store: &PgEventStore,
    market_id: &str,
    accounts: usize,
    bets: usize,
    stake: i64,
) -> Vec<Placed> {
    let currency = Currency::parse("EUR").expect("currency");
    let market = MarketId::parse(market_id).expect("market id");
    let market_stream = StreamId::market(&market);
    let mut wallets: Vec<(AccountId, StreamId, Built<WalletState>)> = Vec::new();
    for a in 0..accounts {
        let account = AccountId::parse(&format!("{market_id}-p{a}")).expect("account");
        let stream = StreamId::account(&account);
        let mut built = Built::<WalletState>::new();
        let per_account = (bets / accounts + 1) as i64;
        for command in [
            WalletCommand::Open {
                account: account.clone(),
                currency,
                credit_limit: CreditLimit::ZERO,
            },
            WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(per_account * stake).expect("amount"),
                currency: None,
                description: None,
                payment_ref: None,
            },
        ] {
            for e in decide(&built.state, &command).expect("wallet command") {
                built.state = std::mem::take(&mut built.state).evolve(&e);
                built.events.push(wallet_new(&e));
            }
        }
        wallets.push((account, stream, built));
    }
    // Command ids are unique in the store: each append names its market
    // and its part.
    for (i, chunk) in wallets.chunks_mut(1_000).enumerate() {
        let mut streams: Vec<_> = chunk
            .iter_mut()
            .map(|(_, s, b)| (&*s, &mut b.head, &mut b.events))
            .collect();
        flush(
            store,
            &format!("{market_id}:open-wallets-{i}"),
            &mut streams,
        )
        .await;
    }
    let mut m = Built::<MarketState>::new();
    let open = MarketCommand::Open {
        market: market.clone(),
        name: "Final".into(),
        starts_at: chrono::Utc::now(),
        currency,
        outcomes: vec!["home".into(), "draw".into(), "away".into()],
        pricing: Pricing {
            prior_bp: vec![4_000, 2_000, 4_000],
            prior_weight: 10_000_000,
            margin_bp: 500,
        },
        liability_limit: i64::MAX / 4,
        stake_min: 1,
        stake_max: 1_000_000,
    };
    for e in decide_market(&m.state, &open).expect("open market") {
        m.state = std::mem::take(&mut m.state).evolve(&e);
        m.events.push(market_new(&e));
    }
    flush(
        store,
        &format!("{market_id}:open"),
        &mut [(&market_stream, &mut m.head, &mut m.events)],
    )
    .await;

    let mut placed = Vec::with_capacity(bets);
    let chunk_bets = 2_000;
    for start in (0..bets).step_by(chunk_bets) {
        let mut touched = vec![false; accounts];
        for i in start..(start + chunk_bets).min(bets) {
            let a = i % accounts;
            let outcome = (i % 3) as u16;
            let command = PlaceBet {
                bet_id: BetId::generate(),
                stake: Amount::new(stake).expect("stake"),
                legs: vec![LegRequest {
                    market: market.clone(),
                    outcome,
                    odds_seen: ODDS_MIN,
                }],
                policy: OddsPolicy::AcceptAny,
            };
            let (_, _, w) = &mut wallets[a];
            let decision =
                decide_bet(&w.state, &[&m.state], &command).expect("the bet is accepted");
            for e in &decision.wallet {
                w.state = std::mem::take(&mut w.state).evolve(e);
                w.events.push(wallet_new(e));
            }
            for e in decision.markets.iter().flatten() {
                m.state = std::mem::take(&mut m.state).evolve(e);
                m.events.push(market_new(e));
            }
            let payout_if_wins = w
                .state
                .wallet
                .as_ref()
                .and_then(|wallet| wallet.bets.get(&command.bet_id))
                .map(|bet| bet.payout_if_wins)
                .expect("the bet is in its wallet");
            placed.push(Placed {
                account: wallets[a].0.clone(),
                outcome,
                stake,
                payout_if_wins,
            });
            touched[a] = true;
        }
        let mut streams: Vec<_> = vec![(&market_stream, &mut m.head, &mut m.events)];
        for (a, (_, s, b)) in wallets.iter_mut().enumerate() {
            if touched[a] {
                streams.push((&*s, &mut b.head, &mut b.events));
            }
        }
        flush(store, &format!("{market_id}:bets-{start}"), &mut streams).await;
    }
    for e in decide_market(&m.state, &MarketCommand::Close).expect("close") {
        m.state = std::mem::take(&mut m.state).evolve(&e);
        m.events.push(market_new(&e));
    }
    flush(
        store,
        &format!("{market_id}:close"),
        &mut [(&market_stream, &mut m.head, &mut m.events)],
    )
    .await;
    placed
}
