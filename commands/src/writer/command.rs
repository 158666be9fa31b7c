//! What the writer decides: each kind of command, the streams it reads and
//! writes, and how it is decided against their states. A command on several
//! streams (a bet) is decided against all of them at once and commits with
//! all of them or not at all.

use ledger::store::NewEvent;
use ledger::wallet::{decide as decide_wallet, WalletCommand};
use ledger::StreamId;

use crate::cache::{Aggregate, Cached};
use crate::render::{Decision, Render, Saved};

pub(crate) enum Command {
    Wallet {
        stream: StreamId,
        command: WalletCommand,
        render: Render,
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
            Self::Wallet { stream, .. } => std::slice::from_ref(stream),
        }
    }

    /// The stream whose shard decides the command: commands that contend
    /// (on one wallet, on one market) meet in one shard, in order.
    pub fn shard_key(&self) -> &StreamId {
        match self {
            Self::Wallet { stream, .. } => stream,
        }
    }

    /// Decides the command against `states` (one per stream, in the order
    /// of [`Command::streams`]) and moves them on by its events.
    pub fn decide(&self, states: &mut [Cached]) -> Decided {
        match self {
            Self::Wallet {
                command, render, ..
            } => decide_on_wallet(command, *render, states),
        }
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
        return rejected(&ledger::Rejection::AccountNotFound);
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
                .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.payload()))
                .collect();
            Decided {
                events: vec![new_events],
                saved,
            }
        }
        Err(rejection) => rejected(&rejection),
    }
}
