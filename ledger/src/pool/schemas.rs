//! The JSON Schema of every pool event type at the version this build
//! writes, beside the wallet's and the markets' in `schemas/events/`.
//! `pool_rake_taken` is listed with the wallet's, which also decode it.

use schemars::JsonSchema;

use super::event::{
    PoolChanged, PoolCreated, PoolEntryAccepted, PoolEvent, PoolPayoutsFinished,
    PoolPayoutsProgressed, PoolSettlementStarted,
};
use crate::wallet::schemas::{event_schema, EventSchema};

/// The schema of every pool event type at its current version, but
/// `pool_rake_taken` (see the module's doc).
pub fn all() -> Vec<EventSchema> {
    vec![
        schema::<PoolCreated>(
            PoolEvent::POOL_CREATED,
            "A parimutuel pool created by the operator: its outcomes, minimum entry, rake in \
             basis points (below 10,000), close time and currency.",
        ),
        schema::<PoolEntryAccepted>(
            PoolEvent::ENTRY_ACCEPTED,
            "An entry taken on an outcome; its stake moved into the pool's escrow by the \
             wallet's `pool_entered` in the same append.",
        ),
        schema::<PoolChanged>(
            PoolEvent::POOL_CLOSED,
            "The pool stopped taking entries (by command, or at its close time).",
        ),
        schema::<PoolChanged>(
            PoolEvent::POOL_CANCELLED,
            "The pool is cancelled: every entry is refunded in full, in chunks.",
        ),
        schema::<PoolSettlementStarted>(
            PoolEvent::SETTLEMENT_STARTED,
            "The pool's result: these outcomes won. Its payouts run in chunks.",
        ),
        schema::<PoolPayoutsProgressed>(
            PoolEvent::PAYOUTS_PROGRESSED,
            "The first `entries_done` entries (in entry order) are paid or refunded, `paid` \
             in all: where the payouts resume after a crash.",
        ),
        schema::<PoolPayoutsFinished>(
            PoolEvent::PAYOUTS_FINISHED,
            "Every entry is paid out: `paid` to the players and `rake` to the operator, which \
             sum to the pot.",
        ),
    ]
}

fn schema<T: JsonSchema>(event_type: &'static str, description: &str) -> EventSchema {
    let version = PoolEvent::current_version(event_type).unwrap_or(0);
    event_schema::<T>(event_type, version, description)
}
