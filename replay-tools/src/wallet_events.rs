//! The wallet's events as the replay tools read them from the store, and
//! the names the read models give what they mean.

use ledger::store::RecordedEvent;
use ledger::wallet::WalletEvent;
use ledger::Phase;

use crate::error::Error;
use ledger::error_chain;

/// The wallet event in `event`, or `None` when it is not a wallet event.
/// A wallet event that does not decode (a version from a newer build, a
/// payload its upcasters refuse) stops the replay: left out, its transfer
/// would be missing from balances that still sum to zero.
pub fn decode(event: &RecordedEvent) -> Result<Option<WalletEvent>, Error> {
    match WalletEvent::from_stored(&event.event_type, event.schema_version, &event.payload) {
        Ok(wallet_event) => Ok(Some(wallet_event)),
        Err(ledger::Error::UnknownEventType { .. })
            if !WalletEvent::TYPES.contains(&event.event_type.as_str()) =>
        {
            Ok(None)
        }
        Err(source) => Err(Error::Chain {
            at: format!(
                "event {} ({} v{})",
                event.global_position, event.stream_id, event.stream_version
            ),
            problem: format!("cannot be read: {}", error_chain(&source)),
        }),
    }
}

/// The names the statement read model uses for phases.
pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Posted => "posted",
        Phase::PendingPlaced => "pending",
        Phase::PendingPosted => "pending_posted",
        Phase::PendingVoided => "pending_voided",
    }
}
