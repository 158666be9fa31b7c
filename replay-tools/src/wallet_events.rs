//! The wallet's events as the replay tools read them from the store, and
//! the names the read models give what they mean.

use ledger::store::RecordedEvent;
use ledger::wallet::WalletEvent;
use ledger::Phase;

use crate::error::Error;

/// Every type the wallet writes: one of these that does not decode stops
/// the replay (money we cannot read); any other type is not money and is
/// passed over.
const WALLET_EVENT_TYPES: [&str; 6] = [
    WalletEvent::ACCOUNT_OPENED,
    WalletEvent::FUNDS_DEPOSITED,
    WalletEvent::FUNDS_WITHDRAWN,
    WalletEvent::HOLD_PLACED,
    WalletEvent::HOLD_POSTED,
    WalletEvent::HOLD_VOIDED,
];

/// The wallet event in `event`, or `None` when it is not a wallet event.
pub fn decode(event: &RecordedEvent) -> Result<Option<WalletEvent>, Error> {
    match WalletEvent::from_stored(&event.event_type, event.schema_version, &event.payload) {
        Ok(wallet_event) => Ok(Some(wallet_event)),
        Err(ledger::Error::UnknownEventType { .. })
            if !WALLET_EVENT_TYPES.contains(&event.event_type.as_str()) =>
        {
            Ok(None)
        }
        Err(source) => Err(Error::Event {
            position: event.global_position,
            event_type: event.event_type.clone(),
            source,
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
