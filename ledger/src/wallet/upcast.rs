//! Upcasters: how a wallet event's payload stored at an older schema version
//! becomes the shape of the current one, one version at a time.
//!
//! Stored bytes never change (DESIGN §4): the hash chain covers the payload
//! as written, so upcasting happens only on the way into the domain type,
//! on a copy. To raise an event type's version: change its payload type,
//! raise its `current_version` in `event.rs`, add the step from the version
//! before to [`STEPS`], and commit the new schema file beside the old one
//! (`UPDATE_SCHEMAS=1`); the old file stays, frozen.

use serde_json::{Map, Value};

use super::WalletEvent;
use crate::Error;

/// One link of the chain: turns a payload of version `from` of
/// `event_type` into one of version `from + 1`, or says why it cannot.
struct Step {
    event_type: &'static str,
    from: i32,
    apply: fn(&mut Map<String, Value>) -> Result<(), String>,
}

/// Every step, of every wallet event type.
const STEPS: &[Step] = &[
    Step {
        event_type: WalletEvent::FUNDS_DEPOSITED,
        from: 1,
        apply: no_payment_ref,
    },
    Step {
        event_type: WalletEvent::FUNDS_WITHDRAWN,
        from: 1,
        apply: no_payment_ref,
    },
    Step {
        event_type: WalletEvent::BET_SETTLED,
        from: 1,
        apply: paid_apart,
    },
];

/// `funds_deposited` and `funds_withdrawn` v1 → v2: version 1 kept no
/// payment reference, so a v1 movement has none (`null`), which tells the
/// payment side to reconcile it by transfer id.
fn no_payment_ref(fields: &mut Map<String, Value>) -> Result<(), String> {
    match fields.insert("payment_ref".into(), Value::Null) {
        None => Ok(()),
        Some(_) => Err("a version 1 payload cannot have a payment_ref".into()),
    }
}

/// `bet_settled` v1 → v2: at version 1 a `bet_paid` event paid what the bet
/// returned, right after it, so the settlement itself pays nothing
/// (`payout` null).
fn paid_apart(fields: &mut Map<String, Value>) -> Result<(), String> {
    match fields.insert("payout".into(), Value::Null) {
        None => Ok(()),
        Some(_) => Err("a version 1 payload cannot have a payout".into()),
    }
}

/// The payload of `event_type` stored at `schema_version`, in the shape of
/// the version this build writes.
pub fn to_current(event_type: &str, schema_version: i32, payload: Value) -> Result<Value, Error> {
    let current =
        WalletEvent::current_version(event_type).ok_or_else(|| Error::UnknownEventType {
            event_type: event_type.to_owned(),
            schema_version,
        })?;
    to_version(event_type, schema_version, current, payload)
}

/// Runs the steps from `schema_version` up to `target`. A version above
/// `target` was written by a newer build: an error, never a guess.
pub(super) fn to_version(
    event_type: &str,
    schema_version: i32,
    target: i32,
    mut payload: Value,
) -> Result<Value, Error> {
    if schema_version > target {
        return Err(Error::FutureSchemaVersion {
            event_type: event_type.to_owned(),
            schema_version,
            current: target,
        });
    }
    let failed = |reason: &str| Error::Decode {
        event_type: event_type.to_owned(),
        schema_version,
        source: serde::de::Error::custom(reason),
    };
    let Value::Object(fields) = &mut payload else {
        return Err(failed("the payload is not a JSON object"));
    };
    for from in schema_version..target {
        let step = STEPS
            .iter()
            .find(|s| s.event_type == event_type && s.from == from)
            .ok_or_else(|| Error::UnknownEventType {
                event_type: event_type.to_owned(),
                schema_version,
            })?;
        (step.apply)(fields).map_err(|reason| failed(&reason))?;
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(event_type: &str) -> i32 {
        WalletEvent::current_version(event_type).expect("a wallet event type")
    }

    /// Raising a version without its step, or leaving a step behind that
    /// no stored version needs, fails here rather than on a stored event.
    #[test]
    fn every_older_version_has_exactly_one_step_and_no_step_is_dead() {
        for event_type in WalletEvent::TYPES {
            for from in 1..current(event_type) {
                let steps = STEPS
                    .iter()
                    .filter(|s| s.event_type == event_type && s.from == from)
                    .count();
                assert_eq!(steps, 1, "{event_type} v{from}");
            }
        }
        for step in STEPS {
            assert!(
                WalletEvent::current_version(step.event_type).is_some_and(|c| step.from < c),
                "{} v{} is not below the current version",
                step.event_type,
                step.from
            );
        }
    }

    fn v1_deposit() -> Value {
        serde_json::json!({
            "transfer": {
                "id": "01a207b8-c8ac-70c1-9a95-30428f7d60ba",
                "debit": "cash",
                "credit": "alice",
                "amount": 10000,
                "currency": "EUR",
                "code": "deposit"
            },
            "description": "first deposit"
        })
    }

    #[test]
    fn a_v1_deposit_or_withdrawal_has_no_payment_ref() {
        for event_type in [WalletEvent::FUNDS_DEPOSITED, WalletEvent::FUNDS_WITHDRAWN] {
            let mut expected = v1_deposit();
            expected["payment_ref"] = Value::Null;
            assert_eq!(
                to_version(event_type, 1, 2, v1_deposit()).ok(),
                Some(expected)
            );
        }
    }

    #[test]
    fn a_v1_payload_that_is_not_v1_is_refused() {
        let mut with_ref = v1_deposit();
        with_ref["payment_ref"] = "pi_1".into();
        for payload in [with_ref, serde_json::json!([1, 2])] {
            let err = to_version(WalletEvent::FUNDS_DEPOSITED, 1, 2, payload.clone());
            assert!(
                matches!(
                    err,
                    Err(Error::Decode {
                        schema_version: 1,
                        ..
                    })
                ),
                "{payload}: {err:?}"
            );
        }
    }

    #[test]
    fn the_current_version_is_left_as_it_is() {
        let payload = serde_json::json!({"account": "a", "currency": "EUR", "credit_limit": 0});
        let event_type = WalletEvent::ACCOUNT_OPENED;
        assert_eq!(
            to_current(event_type, current(event_type), payload.clone()).ok(),
            Some(payload)
        );
    }

    #[test]
    fn a_version_from_a_newer_build_is_an_error_that_says_so() {
        let event_type = WalletEvent::HOLD_POSTED;
        let newer = current(event_type) + 1;
        let err = to_current(event_type, newer, serde_json::json!({}))
            .expect_err("a newer version cannot be read");
        assert!(matches!(err, Error::FutureSchemaVersion { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "hold_posted v{newer} was written by a newer build (this one reads up to v{}): \
                 upgrade before reading this log",
                current(event_type)
            )
        );
    }

    #[test]
    fn versions_below_1_and_unknown_types_are_errors() {
        for (event_type, version) in [(WalletEvent::HOLD_PLACED, 0), ("nope", 1)] {
            let err = to_current(event_type, version, serde_json::json!({}));
            assert!(
                matches!(err, Err(Error::UnknownEventType { .. })),
                "{event_type} v{version}: {err:?}"
            );
        }
    }
}
