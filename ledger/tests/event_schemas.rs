//! `schemas/events/` is what the payload types describe, and what they
//! write obeys it. Run with `UPDATE_SCHEMAS=1` to rewrite the current
//! versions' files after changing an event; older versions are frozen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ledger::testkit::{parse_rows, WALLET_V1_FIXTURE};
use ledger::wallet::schemas::{self, EventSchema};
use ledger::wallet::upcast;
use ledger::wallet::{decide, Description, WalletCommand, WalletEvent, WalletState};
use ledger::{AccountId, Amount, CreditLimit, Currency, HoldId, PaymentRef, TransferId};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(schemas::DIR)
}

fn pretty(schema: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema serializes");
    text.push('\n');
    text
}

fn read_schema(event_type: &str, schema_version: i32) -> serde_json::Value {
    let path = dir().join(schemas::file_name(event_type, schema_version));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn validator(event_type: &str, schema_version: i32) -> jsonschema::Validator {
    let schema = read_schema(event_type, schema_version);
    // Formats (`uuid`) are only annotations unless asked for; the reader
    // refuses a transfer id that is not a UUID, so the check does too.
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{event_type} v{schema_version} is not a valid schema: {e}"))
}

fn assert_valid(validator: &jsonschema::Validator, what: &str, payload: &serde_json::Value) {
    let errors: Vec<String> = validator
        .iter_errors(payload)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {payload} is invalid: {errors:?}"
    );
}

#[test]
fn the_committed_schemas_of_current_versions_are_fresh() {
    let update = std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for EventSchema {
        event_type,
        schema_version,
        schema,
    } in schemas::all()
    {
        let path = dir().join(schemas::file_name(event_type, schema_version));
        let generated = pretty(&schema);
        if update {
            std::fs::create_dir_all(dir()).expect("create schemas/events");
            std::fs::write(&path, &generated).expect("write a schema");
            continue;
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(generated.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale: {stale:?}; run `UPDATE_SCHEMAS=1 cargo nextest run -p ledger --test event_schemas` \
         and commit the result"
    );
}

/// Every version ever written keeps its file, and no file names a version
/// this build does not know: old ones are frozen, not deleted.
#[test]
fn every_version_up_to_the_current_one_has_a_schema_file() {
    let current: HashMap<&str, i32> = schemas::all()
        .iter()
        .map(|s| (s.event_type, s.schema_version))
        .collect();
    for (event_type, version) in &current {
        for v in 1..=*version {
            let path = dir().join(schemas::file_name(event_type, v));
            assert!(path.is_file(), "{} is missing", path.display());
            // Each must at least be a schema a validator accepts.
            validator(event_type, v);
        }
    }
    for entry in std::fs::read_dir(dir()).expect("schemas/events") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        let Some(stem) = name.strip_suffix(".json") else {
            continue;
        };
        let (event_type, version) = stem
            .rsplit_once(".v")
            .and_then(|(t, v)| Some((t, v.parse::<i32>().ok()?)))
            .unwrap_or_else(|| panic!("{name} is not <event_type>.v<version>.json"));
        let known = current.get(event_type).copied();
        assert!(
            known.is_some_and(|c| (1..=c).contains(&version)),
            "{name}: no such event type or version (current: {known:?})"
        );
    }
}

/// One event of every type, as `decide` makes them.
fn one_of_each() -> Vec<WalletEvent> {
    let commands = |hold_id| {
        vec![
            WalletCommand::Open {
                account: AccountId::parse("alice").expect("id"),
                currency: Currency::parse("EUR").expect("EUR"),
                credit_limit: CreditLimit::new(500).expect("limit"),
            },
            WalletCommand::Deposit {
                transfer_id: TransferId::generate(),
                amount: Amount::new(1_000).expect("amount"),
                currency: None,
                description: Some(Description::parse("first deposit").expect("text")),
                payment_ref: Some(PaymentRef::parse("pi_3Nq9XyZ").expect("reference")),
            },
            WalletCommand::Withdraw {
                transfer_id: TransferId::generate(),
                amount: Amount::new(300).expect("amount"),
                currency: None,
                description: None,
                payment_ref: None,
            },
            WalletCommand::PlaceHold {
                hold_id,
                amount: Amount::new(100).expect("amount"),
                currency: None,
                description: Some(Description::parse("stake").expect("text")),
            },
        ]
    };
    let (posted, voided) = (HoldId::generate(), HoldId::generate());
    let mut all = commands(posted);
    all.push(WalletCommand::PlaceHold {
        hold_id: voided,
        amount: Amount::new(50).expect("amount"),
        currency: None,
        description: None,
    });
    all.push(WalletCommand::PostHold { hold_id: posted });
    all.push(WalletCommand::VoidHold { hold_id: voided });
    let mut state = WalletState::default();
    let mut events = Vec::new();
    for command in &all {
        for event in decide(&state, command).expect("accepted") {
            state = state.evolve(&event);
            events.push(event);
        }
    }
    events
}

#[test]
fn what_the_current_code_writes_obeys_the_current_schemas() {
    let current: HashMap<&str, i32> = schemas::all()
        .iter()
        .map(|s| (s.event_type, s.schema_version))
        .collect();
    let events = one_of_each();
    let mut seen: Vec<&str> = events.iter().map(WalletEvent::event_type).collect();
    seen.dedup();
    assert_eq!(seen.len(), current.len(), "one of each type: {seen:?}");
    for event in &events {
        let version = current[event.event_type()];
        let v = validator(event.event_type(), version);
        assert_valid(&v, event.event_type(), &event.payload());
    }
}

/// The schemas refuse what the types refuse: the negative space.
#[test]
fn the_schemas_refuse_payloads_the_reader_refuses() {
    let current: HashMap<&str, i32> = schemas::all()
        .iter()
        .map(|s| (s.event_type, s.schema_version))
        .collect();
    let deposit = one_of_each()
        .into_iter()
        .find(|e| e.event_type() == WalletEvent::FUNDS_DEPOSITED)
        .expect("a deposit")
        .payload();
    let v = validator(
        WalletEvent::FUNDS_DEPOSITED,
        current[WalletEvent::FUNDS_DEPOSITED],
    );
    let broken = |pointer: &str, value: serde_json::Value| {
        let mut payload = deposit.clone();
        *payload.pointer_mut(pointer).expect(pointer) = value;
        payload
    };
    let mut extra = deposit.clone();
    extra["surprise"] = 1.into();
    let mut no_payment_ref = deposit.clone();
    no_payment_ref
        .as_object_mut()
        .expect("an object")
        .remove("payment_ref");
    for bad in [
        broken("/transfer/amount", 0.into()),
        broken("/transfer/amount", "10".into()),
        broken("/transfer/currency", "eur".into()),
        broken("/transfer/code", "refund".into()),
        broken("/transfer/id", "not-a-uuid".into()),
        broken("/description", "".into()),
        broken("/payment_ref", "two words".into()),
        broken("/payment_ref", "x".repeat(65).into()),
        no_payment_ref,
        extra,
    ] {
        assert!(!v.is_valid(&bad), "the schema accepts {bad}");
    }
}

/// Stored payloads obey the schema of the version they were stored with,
/// frozen or current.
#[test]
fn stored_v1_events_obey_the_v1_schemas() {
    let rows = parse_rows(WALLET_V1_FIXTURE);
    assert_eq!(rows.len(), 13);
    for row in &rows {
        let v = validator(&row.event_type, row.schema_version);
        let what = format!("{} v{}", row.stream_id, row.stream_version);
        assert_valid(&v, &what, &row.payload);
    }
}

/// What the upcasters make of stored v1 events obeys the current schemas,
/// and reads as the current types.
#[test]
fn upcast_v1_events_obey_the_current_schemas() {
    for row in parse_rows(WALLET_V1_FIXTURE) {
        let current = WalletEvent::current_version(&row.event_type).expect("a wallet event");
        let what = format!("{} v{} upcast", row.stream_id, row.stream_version);
        let payload = upcast::to_current(&row.event_type, row.schema_version, row.payload.clone())
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_valid(&validator(&row.event_type, current), &what, &payload);
        let event = WalletEvent::from_stored(&row.event_type, current, &payload)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(
            WalletEvent::from_stored(&row.event_type, row.schema_version, &row.payload).ok(),
            Some(event)
        );
    }
}
