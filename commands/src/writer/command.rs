//! What the writer decides: each kind of command, the streams it reads and
//! writes, and how it is decided against their states. A command on several
//! streams (a bet) is decided against all of them at once and commits with
//! all of them or not at all.

use ledger::pool::{decide_entry, decide_pool, EnterPool, Pool, PoolCommand, PoolEvent};
use ledger::sportsbook::bet::{decide_bet, decide_cash_out_markets, PlaceBet};
use ledger::sportsbook::market::{decide_market, Market, MarketCommand, MarketEvent, MarketState};
use ledger::store::{CanonicalJson, NewEvent};
use ledger::wallet::{
    decide as decide_wallet, AcceptCashOut, Bet, Wallet, WalletCommand, WalletEvent, WalletState,
};
use ledger::{BetId, PoolEntryId, Rejection, StreamId};

use crate::cache::{Aggregate, Cached};
pub(crate) use box_office::{SeatsRender, SeatsRequest, ShowRender, Subject};
use ledger::box_office::ShowCommand;

mod box_office;
use crate::render::{Decision, Render, Saved};

/// Builds the saved answer of a market command.
pub(crate) type MarketRender = fn(Result<(&Market, i64), &Rejection>) -> Saved;
/// A decided bet command: the wallet after it (and its version) and the
/// bet, or why it was refused.
pub(crate) type BetDecided<'a> = Result<(&'a Wallet, i64, BetId, &'a Bet), &'a Rejection>;
/// Builds the saved answer of a bet command (placing one, cashing one out).
pub(crate) type BetRender = fn(BetDecided<'_>) -> Saved;
/// Builds the saved answer of a pool command: the pool after it and its
/// version, or why it was refused.
pub(crate) type PoolRender = fn(Result<(&Pool, i64), &Rejection>) -> Saved;
/// A decided pool entry: the wallet (and its version), the pool, the entry.
pub(crate) type EntryDecided<'a> = Result<(&'a Wallet, i64, &'a Pool, PoolEntryId), &'a Rejection>;
/// Builds the saved answer of a pool entry.
pub(crate) type EntryRender = fn(EntryDecided<'_>) -> Saved;

pub(crate) enum Command {
    Wallet {
        stream: StreamId,
        command: WalletCommand,
        render: Render,
    },
    Market {
        stream: StreamId,
        command: MarketCommand,
        render: MarketRender,
    },
    /// `streams`: the wallet, then each leg's market.
    Bet {
        streams: Vec<StreamId>,
        command: PlaceBet,
        render: BetRender,
    },
    /// `streams`: the wallet, then each of the bet's legs' markets.
    CashOut {
        streams: Vec<StreamId>,
        command: AcceptCashOut,
        render: BetRender,
    },
    /// An operator's command on a show.
    Show {
        stream: StreamId,
        command: ShowCommand,
        render: ShowRender,
    },
    /// `streams`: the show, then the customer's wallet (box_office.rs).
    Seats {
        streams: Vec<StreamId>,
        command: SeatsRequest,
        render: SeatsRender,
    },
    /// An operator's command on a pool.
    Pool {
        stream: StreamId,
        command: PoolCommand,
        render: PoolRender,
    },
    /// `streams`: the wallet, then the pool.
    PoolEntry {
        streams: [StreamId; 2],
        command: EnterPool,
        render: EntryRender,
    },
}

/// What deciding one command produced: its events on each of its streams
/// (in the order of [`Command::streams`]) and its saved answer.
pub(crate) struct Decided {
    pub events: Vec<Vec<NewEvent>>,
    pub saved: Saved,
}

impl Command {
    /// The streams the command reads and may write. The first one records
    /// the command.
    pub fn streams(&self) -> &[StreamId] {
        match self {
            Self::Wallet { stream, .. }
            | Self::Market { stream, .. }
            | Self::Show { stream, .. }
            | Self::Pool { stream, .. } => std::slice::from_ref(stream),
            Self::Bet { streams, .. }
            | Self::CashOut { streams, .. }
            | Self::Seats { streams, .. } => streams,
            Self::PoolEntry { streams, .. } => streams,
        }
    }

    /// The stream whose shard decides the command: commands that contend
    /// (on one wallet, on one market) meet in one shard, in order.
    /// A bet goes to its first market's shard: a hot market's bets are
    /// then decided in order in one place instead of conflicting (ADR 0005).
    pub fn shard_key(&self) -> &StreamId {
        match self {
            Self::Wallet { stream, .. }
            | Self::Market { stream, .. }
            | Self::Show { stream, .. }
            | Self::Pool { stream, .. } => stream,
            // A pool's entries meet in its shard, as a market's bets do.
            Self::PoolEntry { streams, .. } => &streams[1],
            Self::Bet { streams, .. } | Self::CashOut { streams, .. } => {
                streams.get(1).unwrap_or(&streams[0])
            }
            // The show comes first: a hot show's reservations meet in its
            // shard and are decided in order, like bets on a hot market.
            Self::Seats { streams, .. } => &streams[0],
        }
    }

    /// Decides the command against `states` (one per stream, in the order
    /// of [`Command::streams`]) and moves them on by its events.
    pub fn decide(&self, states: &mut [Cached]) -> Decided {
        match self {
            Self::Wallet {
                command, render, ..
            } => decide_on_wallet(command, *render, states),
            Self::Market {
                command, render, ..
            } => decide_on_market(command, *render, states),
            Self::Bet {
                command, render, ..
            } => decide_on_bet(command, *render, states),
            Self::CashOut {
                command, render, ..
            } => decide_on_cash_out(command, *render, states),
            Self::Show {
                command, render, ..
            } => box_office::decide_on_show(command, *render, states),
            Self::Seats {
                command, render, ..
            } => box_office::decide_on_seats(command, *render, states),
            Self::Pool {
                command, render, ..
            } => decide_on_pool(command, *render, states),
            Self::PoolEntry {
                command, render, ..
            } => decide_on_entry(command, *render, states),
        }
    }
}

pub(super) fn new_events<'a, E: 'a>(
    events: impl IntoIterator<Item = &'a E>,
    describe: impl Fn(&E) -> (&'static str, i32, CanonicalJson),
) -> Vec<NewEvent> {
    events
        .into_iter()
        .map(|e| {
            let (event_type, version, payload) = describe(e);
            NewEvent::new(event_type, version, payload)
        })
        .collect()
}

pub(super) fn wallet_new_events(events: &[WalletEvent]) -> Vec<NewEvent> {
    new_events(events, |e| {
        (e.event_type(), e.schema_version(), e.canonical_payload())
    })
}

fn market_new_events(events: &[MarketEvent]) -> Vec<NewEvent> {
    new_events(events, |e| {
        (e.event_type(), e.schema_version(), e.canonical_payload())
    })
}

pub(super) fn nothing(streams: usize, saved: Saved) -> Decided {
    Decided {
        events: vec![Vec::new(); streams],
        saved,
    }
}

fn decide_on_market(
    command: &MarketCommand,
    render: MarketRender,
    states: &mut [Cached],
) -> Decided {
    let streams = states.len();
    let Some(Cached {
        state: Aggregate::Market(state),
        head,
    }) = states.first_mut()
    else {
        return nothing(streams, render(Err(&Rejection::MarketNotFound)));
    };
    match decide_market(state, command) {
        Ok(events) => {
            for event in &events {
                *state = std::mem::take(state).evolve(event);
            }
            head.version += events.len() as i64;
            let saved = match state.market.as_ref() {
                Some(market) => render(Ok((market, head.version))),
                None => render(Err(&Rejection::MarketNotFound)),
            };
            Decided {
                events: vec![market_new_events(&events)],
                saved,
            }
        }
        Err(rejection) => nothing(streams, render(Err(&rejection))),
    }
}

/// The wallet and the markets among `states` (the wallet first), or the
/// rejection that says which is missing.
fn split_bet_states(states: &mut [Cached]) -> Result<(&mut Cached, Vec<&mut Cached>), Rejection> {
    let (wallet, markets) = states.split_first_mut().ok_or(Rejection::AccountNotFound)?;
    if !matches!(wallet.state, Aggregate::Wallet(_)) {
        return Err(Rejection::AccountNotFound);
    }
    if markets
        .iter()
        .any(|m| !matches!(m.state, Aggregate::Market(_)))
    {
        return Err(Rejection::MarketNotFound);
    }
    Ok((wallet, markets.iter_mut().collect()))
}

fn market_states<'a>(markets: &'a [&mut Cached]) -> Vec<&'a MarketState> {
    markets
        .iter()
        .filter_map(|m| match &m.state {
            Aggregate::Market(state) => Some(state),
            Aggregate::Wallet(_) | Aggregate::Show(_) | Aggregate::Pool(_) => None,
        })
        .collect()
}

fn wallet_state(wallet: &Cached) -> Option<&WalletState> {
    match &wallet.state {
        Aggregate::Wallet(state) => Some(state),
        Aggregate::Market(_) | Aggregate::Show(_) | Aggregate::Pool(_) => None,
    }
}

/// Moves the wallet and the markets on by their events and builds the
/// decision's events per stream (the wallet first).
fn apply_bet_events(
    wallet: &mut Cached,
    markets: &mut [&mut Cached],
    wallet_events: &[WalletEvent],
    market_events: &[Vec<MarketEvent>],
) -> Vec<Vec<NewEvent>> {
    if let Aggregate::Wallet(state) = &mut wallet.state {
        for event in wallet_events {
            *state = std::mem::take(state).evolve(event);
        }
    }
    wallet.head.version += wallet_events.len() as i64;
    let mut events = vec![wallet_new_events(wallet_events)];
    for (market, evs) in markets.iter_mut().zip(market_events) {
        if let Aggregate::Market(state) = &mut market.state {
            for event in evs {
                *state = std::mem::take(state).evolve(event);
            }
        }
        market.head.version += evs.len() as i64;
        events.push(market_new_events(evs));
    }
    events
}

fn bet_answer(wallet: &Cached, bet_id: BetId, render: BetRender) -> Saved {
    let found = wallet_state(wallet)
        .and_then(|s| s.wallet.as_ref())
        .and_then(|w| w.bets.get(&bet_id).map(|bet| (w, bet)));
    match found {
        Some((w, bet)) => render(Ok((w, wallet.head.version, bet_id, bet))),
        None => render(Err(&Rejection::BetNotFound)),
    }
}

fn decide_on_bet(command: &PlaceBet, render: BetRender, states: &mut [Cached]) -> Decided {
    let streams = states.len();
    let (wallet, mut markets) = match split_bet_states(states) {
        Ok(split) => split,
        Err(rejection) => return nothing(streams, render(Err(&rejection))),
    };
    let decision = match wallet_state(wallet) {
        Some(state) => decide_bet(state, &market_states(&markets), command),
        None => Err(Rejection::AccountNotFound),
    };
    match decision {
        Ok(decision) => {
            let events =
                apply_bet_events(wallet, &mut markets, &decision.wallet, &decision.markets);
            Decided {
                events,
                saved: bet_answer(wallet, command.bet_id, render),
            }
        }
        Err(rejection) => nothing(streams, render(Err(&rejection))),
    }
}

fn decide_on_cash_out(
    command: &AcceptCashOut,
    render: BetRender,
    states: &mut [Cached],
) -> Decided {
    let streams = states.len();
    let (wallet, mut markets) = match split_bet_states(states) {
        Ok(split) => split,
        Err(rejection) => return nothing(streams, render(Err(&rejection))),
    };
    let decided = (|| {
        let state = wallet_state(wallet).ok_or(Rejection::AccountNotFound)?;
        let open = state.wallet.as_ref().ok_or(Rejection::AccountNotFound)?;
        let bet = open
            .bets
            .get(&command.bet_id)
            .ok_or(Rejection::BetNotFound)?;
        let market_events = decide_cash_out_markets(&market_states(&markets), command.bet_id, bet)?;
        let wallet_events = decide_wallet(state, &WalletCommand::AcceptCashOut(command.clone()))?;
        Ok::<_, Rejection>((wallet_events, market_events))
    })();
    match decided {
        Ok((wallet_events, market_events)) => {
            let events = apply_bet_events(wallet, &mut markets, &wallet_events, &market_events);
            Decided {
                events,
                saved: bet_answer(wallet, command.bet_id, render),
            }
        }
        Err(rejection) => nothing(streams, render(Err(&rejection))),
    }
}

fn decide_on_wallet(command: &WalletCommand, render: Render, states: &mut [Cached]) -> Decided {
    let streams = states.len();
    let rejected = |rejection: &ledger::Rejection| Decided {
        events: vec![Vec::new(); streams],
        saved: render(&Decision::Rejected(rejection)),
    };
    let Some(Cached {
        state: Aggregate::Wallet(state),
        head,
    }) = states.first_mut()
    else {
        return rejected(&Rejection::AccountNotFound);
    };
    match decide_wallet(state, command) {
        Ok(events) => {
            for event in &events {
                *state = std::mem::take(state).evolve(event);
            }
            head.version += events.len() as i64;
            let saved = match state.wallet.as_ref() {
                Some(wallet) => render(&Decision::Accepted {
                    wallet,
                    version: head.version,
                    events: &events,
                }),
                None => Saved::rejected(&ledger::Rejection::AccountNotFound),
            };
            let new_events = events
                .iter()
                .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.canonical_payload()))
                .collect();
            Decided {
                events: vec![new_events],
                saved,
            }
        }
        Err(rejection) => rejected(&rejection),
    }
}

fn pool_new_events(events: &[PoolEvent]) -> Vec<NewEvent> {
    new_events(events, |e| {
        (e.event_type(), e.schema_version(), e.canonical_payload())
    })
}

fn decide_on_pool(command: &PoolCommand, render: PoolRender, states: &mut [Cached]) -> Decided {
    let streams = states.len();
    let Some(Cached {
        state: Aggregate::Pool(state),
        head,
    }) = states.first_mut()
    else {
        return nothing(streams, render(Err(&Rejection::PoolNotFound)));
    };
    match decide_pool(state, command) {
        Ok(events) => {
            for event in &events {
                *state = std::mem::take(state).evolve(event);
            }
            head.version += events.len() as i64;
            let saved = match state.pool.as_ref() {
                Some(pool) => render(Ok((pool, head.version))),
                None => render(Err(&Rejection::PoolNotFound)),
            };
            Decided {
                events: vec![pool_new_events(&events)],
                saved,
            }
        }
        Err(rejection) => nothing(streams, render(Err(&rejection))),
    }
}

fn decide_on_entry(command: &EnterPool, render: EntryRender, states: &mut [Cached]) -> Decided {
    let streams = states.len();
    let [wallet, pool] = states else {
        return nothing(streams, render(Err(&Rejection::PoolNotFound)));
    };
    let (Aggregate::Wallet(wallet_state), Aggregate::Pool(pool_state)) =
        (&mut wallet.state, &mut pool.state)
    else {
        return nothing(streams, render(Err(&Rejection::PoolNotFound)));
    };
    match decide_entry(wallet_state, pool_state, command) {
        Ok(decision) => {
            for event in &decision.wallet {
                *wallet_state = std::mem::take(wallet_state).evolve(event);
            }
            for event in &decision.pool {
                *pool_state = std::mem::take(pool_state).evolve(event);
            }
            wallet.head.version += decision.wallet.len() as i64;
            pool.head.version += decision.pool.len() as i64;
            let saved = match (wallet_state.wallet.as_ref(), pool_state.pool.as_ref()) {
                (Some(w), Some(p)) => render(Ok((w, wallet.head.version, p, command.entry_id))),
                _ => render(Err(&Rejection::PoolNotFound)),
            };
            Decided {
                events: vec![
                    wallet_new_events(&decision.wallet),
                    pool_new_events(&decision.pool),
                ],
                saved,
            }
        }
        Err(rejection) => nothing(streams, render(Err(&rejection))),
    }
}
