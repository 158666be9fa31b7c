//! The box office's commands in the writer: the operator's on a show, and
//! the customer's on a show and a wallet together (reserve, confirm, give
//! a ticket back), decided against both and committed as one group.

use chrono::{DateTime, Utc};
use ledger::box_office::{
    decide_cancel_ticket, decide_confirm, decide_reserve, decide_show, Decision, Reserve, Show,
    ShowCommand, ShowEvent,
};
use ledger::store::NewEvent;
use ledger::{Rejection, ReservationId, TicketId};

use super::{new_events, nothing, wallet_new_events, Decided};
use crate::cache::{Aggregate, Cached};
use crate::render::Saved;

/// Builds the saved answer of an operator's show command.
pub(crate) type ShowRender = fn(Result<(&Show, i64), &Rejection>) -> Saved;

/// What a customer's command is about, for its answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject {
    Reservation(ReservationId),
    Ticket(TicketId),
}

/// Builds the saved answer of a customer's command: the show after it (and
/// its version) and what the command was about.
pub(crate) type SeatsRender = fn(Result<(&Show, i64, Subject), &Rejection>) -> Saved;

/// A customer's command, with the time it is decided at (chosen when it
/// arrived, so a retry after a conflict decides at the same time).
#[derive(Debug, Clone)]
pub(crate) enum SeatsRequest {
    Reserve(Reserve),
    Confirm {
        reservation_id: ReservationId,
        now: DateTime<Utc>,
    },
    CancelTicket {
        ticket_id: TicketId,
        now: DateTime<Utc>,
    },
}

fn show_new_events(events: &[ShowEvent]) -> Vec<NewEvent> {
    new_events(events, |e| {
        (e.event_type(), e.schema_version(), e.canonical_payload())
    })
}

fn evolve_show(cached: &mut Cached, events: &[ShowEvent]) {
    if let Aggregate::Show(state) = &mut cached.state {
        for event in events {
            *state = std::mem::take(state).evolve(event);
        }
    }
    cached.head.version += events.len() as i64;
}

pub(super) fn decide_on_show(
    command: &ShowCommand,
    render: ShowRender,
    states: &mut [Cached],
) -> Decided {
    let streams = states.len();
    let Some(cached) = states.first_mut() else {
        return nothing(streams, render(Err(&Rejection::ShowNotFound)));
    };
    let Aggregate::Show(state) = &cached.state else {
        return nothing(streams, render(Err(&Rejection::ShowNotFound)));
    };
    match decide_show(state, command) {
        Ok(events) => {
            evolve_show(cached, &events);
            let saved = match cached.show() {
                Some(show) => render(Ok((show, cached.head.version))),
                None => render(Err(&Rejection::ShowNotFound)),
            };
            Decided {
                events: vec![show_new_events(&events)],
                saved,
            }
        }
        Err(rejection) => nothing(streams, render(Err(&rejection))),
    }
}

pub(super) fn decide_on_seats(
    command: &SeatsRequest,
    render: SeatsRender,
    states: &mut [Cached],
) -> Decided {
    let streams = states.len();
    let [show, wallet] = states else {
        return nothing(streams, render(Err(&Rejection::ShowNotFound)));
    };
    let (Aggregate::Show(show_state), Aggregate::Wallet(wallet_state)) =
        (&show.state, &wallet.state)
    else {
        return nothing(streams, render(Err(&Rejection::ShowNotFound)));
    };
    let (decided, subject) = match command {
        SeatsRequest::Reserve(reserve) => (
            decide_reserve(wallet_state, show_state, reserve),
            Subject::Reservation(reserve.reservation_id),
        ),
        SeatsRequest::Confirm {
            reservation_id,
            now,
        } => (
            decide_confirm(wallet_state, show_state, *reservation_id, *now),
            Subject::Reservation(*reservation_id),
        ),
        SeatsRequest::CancelTicket { ticket_id, now } => (
            decide_cancel_ticket(wallet_state, show_state, *ticket_id, *now),
            Subject::Ticket(*ticket_id),
        ),
    };
    match decided {
        Ok(Decision {
            wallet: wallet_events,
            show: show_events,
        }) => {
            evolve_show(show, &show_events);
            if let Aggregate::Wallet(state) = &mut wallet.state {
                for event in &wallet_events {
                    *state = std::mem::take(state).evolve(event);
                }
            }
            wallet.head.version += wallet_events.len() as i64;
            let saved = match show.show() {
                Some(s) => render(Ok((s, show.head.version, subject))),
                None => render(Err(&Rejection::ShowNotFound)),
            };
            Decided {
                events: vec![
                    show_new_events(&show_events),
                    wallet_new_events(&wallet_events),
                ],
                saved,
            }
        }
        Err(rejection) => nothing(streams, render(Err(&rejection))),
    }
}
