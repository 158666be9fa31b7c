//! Expiring reservations whose time is up: a batch of one show's due
//! reservations, each decided on the show and its wallet, appended as one
//! group. A confirmation that commits first makes the group conflict, or,
//! when it committed between reading the show and reading the wallet, the
//! wallet refuse the expiry; either way the next step finds that
//! reservation confirmed, not due.

use chrono::Utc;
use ledger::box_office::{decide_expire, due_reservations, ShowState};
use ledger::StreamId;

use super::{push_wallet_events, BoxOfficeProcess, Step};
use crate::cache::{Aggregate, Cached};
use crate::ApiError;

/// Expires the show's due reservations, up to a batch; `None` when none is
/// due.
pub(super) async fn expire_due(
    process: &BoxOfficeProcess,
    stream: &StreamId,
    cached: &Cached,
) -> Result<Option<Step>, ApiError> {
    let Some(show) = cached.show() else {
        return Ok(None);
    };
    let now = Utc::now();
    let due = due_reservations(show, now, process.batch_max());
    if due.is_empty() {
        return Ok(None);
    }
    let accounts: Vec<_> = due.iter().map(|(_, a)| a.clone()).collect();
    let mut wallets = process.wallets(&accounts).await?;
    let Aggregate::Show(start) = &cached.state else {
        return Ok(None);
    };
    let mut state: ShowState = start.clone();
    let mut show_events = Vec::with_capacity(due.len());
    for (reservation_id, account) in &due {
        let wallet_stream = StreamId::account(account);
        let Some(work) = wallets.get_mut(&wallet_stream) else {
            continue;
        };
        let Aggregate::Wallet(wallet) = &work.after.state else {
            continue;
        };
        let decision = match decide_expire(wallet, &state, *reservation_id, now) {
            Ok(decision) => decision,
            Err(rejection) => {
                // The show was read before a customer's confirmation
                // committed, the wallet after it: the wallet already shows
                // the hold posted. The next step reads the show again and
                // finds the reservation confirmed. Only a show that has not
                // moved means the two truly disagree, which is a bug.
                let show_now = process
                    .cache
                    .current(&process.store, stream)
                    .await
                    .map_err(|_| ApiError::Unavailable)?;
                if show_now.head.version > cached.head.version {
                    return Ok(Some(Step::Worked));
                }
                return Err(ApiError::internal(std::io::Error::other(format!(
                    "reservation {reservation_id} of {stream} cannot expire: {rejection}"
                ))));
            }
        };
        push_wallet_events(work, &decision.wallet);
        for event in &decision.show {
            state = std::mem::take(&mut state).evolve(event);
        }
        show_events.extend(decision.show);
    }
    let id = format!("show-expire:{stream}:{}", cached.head.version);
    process
        .append(stream, cached.clone(), &show_events, wallets, id)
        .await
        .map(Some)
}

#[cfg(test)]
mod tests;
