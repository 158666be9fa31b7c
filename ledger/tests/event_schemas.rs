//! `schemas/events/` is what the payload types describe, and what they
//! write obeys it. Run with `UPDATE_SCHEMAS=1` to rewrite the current
//! versions' files after changing an event; older versions are frozen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{Duration, TimeZone, Utc};
use ledger::sportsbook::bet::{
    current_odds, decide_bet, decide_cash_out_markets, LegRequest, OddsPolicy, PlaceBet,
};
use ledger::sportsbook::market::{
    self, decide_market, MarketCommand, MarketEvent, MarketResult, MarketState,
};
use ledger::sportsbook::odds::Pricing;
use ledger::sportsbook::settle::LegResult;
use ledger::store::CanonicalJson;
use ledger::testkit::{parse_rows, WALLET_V1_FIXTURE};
use ledger::wallet::schemas::{self, EventSchema};
use ledger::wallet::upcast;
use ledger::wallet::{
    decide, AcceptCashOut, Description, OfferCashOut, SettleLeg, WalletCommand, WalletEvent,
    WalletState,
};
use ledger::{
    AccountId, Amount, BetId, CreditLimit, Currency, HoldId, MarketId, OfferId, PaymentRef,
    ReservationId, SettlementId, TransferId,
};

/// Every event type's current schema: the wallet's and the markets'. They
/// share one directory, so one type string names one payload shape.
fn all_schemas() -> Vec<EventSchema> {
    let mut all = schemas::all();
    all.extend(market::schemas::all());
    all.extend(ledger::box_office::schemas::all());
    all.extend(ledger::pool::schemas::all());
    all
}

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
    } in all_schemas()
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
    let current: HashMap<&str, i32> = all_schemas()
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
    let current: HashMap<&str, i32> = all_schemas()
        .iter()
        .map(|s| (s.event_type, s.schema_version))
        .collect();
    let mut events = one_of_each();
    let (bets, markets) = sportsbook_events();
    events.extend(bets);
    let mut written: Vec<(&str, serde_json::Value)> = events
        .iter()
        .map(|e| (e.event_type(), agreed(e.canonical_payload(), e.payload())))
        .collect();
    written.extend(
        markets
            .iter()
            .map(|e| (e.event_type(), agreed(e.canonical_payload(), e.payload()))),
    );
    let (seat_events, shows) = box_office_events();
    written.extend(
        seat_events
            .iter()
            .map(|e| (e.event_type(), agreed(e.canonical_payload(), e.payload()))),
    );
    written.extend(
        shows
            .iter()
            .map(|e| (e.event_type(), agreed(e.canonical_payload(), e.payload()))),
    );
    written.extend(pool_events().iter().map(|(t, p)| (*t, p.clone())));
    let mut seen: Vec<&str> = written.iter().map(|(t, _)| *t).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), current.len(), "one of each type: {seen:?}");
    for (event_type, payload) in &written {
        let v = validator(event_type, current[event_type]);
        assert_valid(&v, event_type, payload);
    }
    let both: Vec<&&str> = WalletEvent::TYPES
        .iter()
        .filter(|t| MarketEvent::TYPES.contains(t))
        .collect();
    assert!(
        both.is_empty(),
        "wallet and market share type strings {both:?}"
    );
}

/// The payload as a tree, once its canonical text written directly (what
/// the store hashes and keeps) has been checked against the text made from
/// the tree: every stored hash so far was made from the tree's text.
fn agreed(direct: CanonicalJson, tree: serde_json::Value) -> serde_json::Value {
    assert_eq!(
        direct,
        CanonicalJson::from(&tree),
        "the direct text differs"
    );
    tree
}

/// One box-office event of every type (wallet and show): a show scheduled
/// and repriced, reservations confirmed, expired and released, tickets
/// given back and refunded by the show's cancellation.
fn box_office_events() -> (Vec<WalletEvent>, Vec<ledger::box_office::ShowEvent>) {
    use ledger::box_office::pricing::{PriceStep, RefundRule};
    use ledger::box_office::{
        cancellation_chunk, decide_cancel_ticket, decide_cancellation, decide_confirm,
        decide_expire, decide_reserve, decide_show, ticket_id, Decision, Reserve, ShowCommand,
        ShowState, TierSpec,
    };
    let eur = Currency::parse("EUR").expect("EUR");
    let t0 = Utc
        .with_ymd_and_hms(2026, 12, 1, 20, 0, 0)
        .single()
        .expect("time");
    let mut wallet = WalletState::default();
    let mut wallet_events = Vec::new();
    for command in [
        WalletCommand::Open {
            account: AccountId::parse("alice").expect("id"),
            currency: eur,
            credit_limit: CreditLimit::new(0).expect("limit"),
        },
        WalletCommand::Deposit {
            transfer_id: TransferId::generate(),
            amount: Amount::new(100_000).expect("amount"),
            currency: None,
            description: None,
            payment_ref: None,
        },
    ] {
        for e in decide(&wallet, &command).expect("accepted") {
            wallet = wallet.evolve(&e);
        }
    }
    let mut show = ShowState::default();
    let mut show_events = Vec::new();
    let operator = [
        ShowCommand::Schedule {
            show: ledger::ShowId::parse("circus").expect("id"),
            name: "Circus".into(),
            starts_at: t0 + Duration::days(2),
            currency: eur,
            tiers: vec![TierSpec {
                name: "stalls".into(),
                capacity: 10,
                base_price: 1_000,
                steps: vec![],
            }],
            seats_per_customer_max: 10,
            reservation_ttl_s: 600,
            refund_rule: RefundRule::default(),
        },
        ShowCommand::ChangePricing {
            tier: 0,
            steps: vec![PriceStep {
                at_sold_bp: 5_000,
                raise_bp: 1_000,
            }],
        },
        ShowCommand::ChangeRefundRule {
            refund_rule: RefundRule::default(),
        },
    ];
    for command in &operator {
        for e in decide_show(&show, command).expect("accepted") {
            show = show.evolve(&e);
            show_events.push(e);
        }
    }
    let mut apply = |d: Decision, wallet: &mut WalletState, show: &mut ShowState| {
        for e in d.wallet {
            *wallet = std::mem::take(wallet).evolve(&e);
            wallet_events.push(e);
        }
        for e in d.show {
            *show = std::mem::take(show).evolve(&e);
            show_events.push(e);
        }
    };
    let ids: Vec<ReservationId> = (0..3).map(|_| ReservationId::generate()).collect();
    for id in &ids {
        let reserve = Reserve {
            reservation_id: *id,
            account: AccountId::parse("alice").expect("id"),
            tier: 0,
            seats: 2,
            now: t0,
        };
        let d = decide_reserve(&wallet, &show, &reserve).expect("reserved");
        apply(d, &mut wallet, &mut show);
    }
    let d = decide_confirm(&wallet, &show, ids[0], t0).expect("confirmed");
    apply(d, &mut wallet, &mut show);
    let d = decide_expire(&wallet, &show, ids[1], t0 + Duration::hours(1)).expect("expired");
    apply(d, &mut wallet, &mut show);
    let d = decide_cancel_ticket(&wallet, &show, ticket_id(ids[0], 0), t0).expect("given back");
    apply(d, &mut wallet, &mut show);
    for e in decide_show(&show, &ShowCommand::Cancel).expect("cancelled") {
        show = show.evolve(&e);
        show_events.push(e);
    }
    loop {
        let chunk = cancellation_chunk(show.show.as_ref().expect("show"), 10);
        for (_, command) in chunk.wallet_commands() {
            for e in decide(&wallet, &WalletCommand::Seats(command)).expect("accepted") {
                wallet = wallet.evolve(&e);
                wallet_events.push(e);
            }
        }
        for e in decide_cancellation(&show, &chunk).expect("accepted") {
            show = show.evolve(&e);
            show_events.push(e);
        }
        if chunk.is_empty() {
            break;
        }
    }
    (wallet_events, show_events)
}

/// One pool event of every type, and the wallet's pool events, as the
/// decisions make them: a pool settled with a rake, and one cancelled.
fn pool_events() -> Vec<(&'static str, serde_json::Value)> {
    use ledger::pool::{
        decide_entry, decide_payment, decide_pool, EnterPool, PayEntry, PoolCommand, PoolState,
    };
    use ledger::{PoolEntryId, PoolId};
    let mut written = Vec::new();
    let mut wallet = WalletState::default();
    for command in [
        WalletCommand::Open {
            account: AccountId::parse("alice").expect("id"),
            currency: Currency::parse("EUR").expect("EUR"),
            credit_limit: CreditLimit::ZERO,
        },
        WalletCommand::Deposit {
            transfer_id: TransferId::generate(),
            amount: Amount::new(10_000).expect("amount"),
            currency: None,
            description: None,
            payment_ref: None,
        },
    ] {
        for e in decide(&wallet, &command).expect("accepted") {
            wallet = wallet.evolve(&e);
        }
    }
    let now = Utc
        .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .expect("time");
    for (name, cancel) in [("settled", false), ("cancelled", true)] {
        let id = PoolId::parse(name).expect("id");
        let mut pool = PoolState::default();
        type Written = Vec<(&'static str, serde_json::Value)>;
        fn run_on(written: &mut Written, pool: &mut PoolState, command: PoolCommand) {
            for e in decide_pool(pool, &command).expect("accepted") {
                written.push((e.event_type(), agreed(e.canonical_payload(), e.payload())));
                *pool = std::mem::take(pool).evolve(&e);
            }
        }
        run_on(
            &mut written,
            &mut pool,
            PoolCommand::Create {
                pool: id.clone(),
                name: "Derby".into(),
                outcomes: vec!["A".into(), "B".into()],
                min_entry: 1,
                rake_bp: 1_000,
                closes_at: now + Duration::hours(1),
                currency: Currency::parse("EUR").expect("EUR"),
            },
        );
        let entry_id = PoolEntryId::generate();
        let entry = EnterPool {
            entry_id,
            pool: id.clone(),
            outcome: 0,
            stake: Amount::new(1_000).expect("amount"),
            now,
        };
        let decided = decide_entry(&wallet, &pool, &entry).expect("entered");
        for e in &decided.wallet {
            written.push((e.event_type(), agreed(e.canonical_payload(), e.payload())));
            wallet = std::mem::take(&mut wallet).evolve(e);
        }
        for e in &decided.pool {
            written.push((e.event_type(), agreed(e.canonical_payload(), e.payload())));
            pool = std::mem::take(&mut pool).evolve(e);
        }
        if cancel {
            run_on(&mut written, &mut pool, PoolCommand::Cancel);
        } else {
            run_on(&mut written, &mut pool, PoolCommand::Close);
            run_on(
                &mut written,
                &mut pool,
                PoolCommand::Settle { winners: vec![0] },
            );
        }
        let amount = if cancel { 1_000 } else { 900 };
        let pay = PayEntry {
            pool: id.clone(),
            entry_id,
            amount: Amount::new(amount).expect("amount"),
            refund: cancel,
        };
        for e in decide_payment(&wallet, &pay).expect("paid") {
            written.push((e.event_type(), agreed(e.canonical_payload(), e.payload())));
            wallet = std::mem::take(&mut wallet).evolve(&e);
        }
        run_on(
            &mut written,
            &mut pool,
            PoolCommand::RecordProgress {
                entries_done: 1,
                paid: amount,
            },
        );
        run_on(&mut written, &mut pool, PoolCommand::Finish);
    }
    written
}

/// One sportsbook event of every type (wallet and market), as the
/// decisions make them: bets placed, cashed out, settled, voided and
/// re-settled on two markets.
fn sportsbook_events() -> (Vec<WalletEvent>, Vec<MarketEvent>) {
    let mut wallet_events = Vec::new();
    let mut market_events = Vec::new();
    let mut w = WalletState::default();
    let on_wallet = |w: &mut WalletState, log: &mut Vec<WalletEvent>, command: &WalletCommand| {
        for event in decide(w, command).expect("wallet command accepted") {
            *w = std::mem::take(w).evolve(&event);
            log.push(event);
        }
    };
    on_wallet(
        &mut w,
        &mut wallet_events,
        &WalletCommand::Open {
            account: AccountId::parse("alice").expect("id"),
            currency: Currency::parse("EUR").expect("EUR"),
            credit_limit: CreditLimit::ZERO,
        },
    );
    on_wallet(
        &mut w,
        &mut wallet_events,
        &WalletCommand::Deposit {
            transfer_id: TransferId::generate(),
            amount: Amount::new(10_000).expect("amount"),
            currency: None,
            description: None,
            payment_ref: None,
        },
    );
    let now = Utc
        .with_ymd_and_hms(2026, 5, 1, 14, 0, 0)
        .single()
        .expect("time");
    let open = |name: &str| MarketCommand::Open {
        market: MarketId::parse(name).expect("id"),
        name: "Arsenal v Chelsea".into(),
        starts_at: now,
        currency: Currency::parse("EUR").expect("EUR"),
        outcomes: vec!["home".into(), "away".into()],
        pricing: Pricing {
            prior_bp: vec![5_000, 5_000],
            prior_weight: 10_000,
            margin_bp: 500,
        },
        liability_limit: 1_000_000,
        stake_min: 1,
        stake_max: 10_000,
    };
    let on_market = |m: &mut MarketState, log: &mut Vec<MarketEvent>, events: Vec<MarketEvent>| {
        for event in events {
            *m = std::mem::take(m).evolve(&event);
            log.push(event);
        }
    };
    let mut ms = [MarketState::default(), MarketState::default()];
    for (i, command) in [
        (0, open("m1")),
        (1, open("m2")),
        (0, MarketCommand::Suspend),
        (0, MarketCommand::Resume),
    ] {
        let m = &mut ms[i];
        let events = decide_market(m, &command).expect("accepted");
        on_market(m, &mut market_events, events);
    }
    let mut bets = Vec::new();
    for (market, outcome) in [("m1", 0), ("m1", 1), ("m1", 0), ("m2", 0)] {
        let cmd = PlaceBet {
            bet_id: BetId::generate(),
            stake: Amount::new(100).expect("stake"),
            legs: vec![LegRequest {
                market: MarketId::parse(market).expect("id"),
                outcome,
                odds_seen: ledger::sportsbook::odds::ODDS_MIN,
            }],
            policy: OddsPolicy::AcceptAny,
        };
        let m = &mut ms[usize::from(market == "m2")];
        let decision = decide_bet(&w, &[&*m], &cmd).expect("bet accepted");
        for event in &decision.wallet {
            w = std::mem::take(&mut w).evolve(event);
        }
        wallet_events.extend(decision.wallet);
        for events in decision.markets {
            on_market(m, &mut market_events, events);
        }
        bets.push(cmd.bet_id);
    }
    let bet = w.wallet.as_ref().expect("open").bets[&bets[0]].clone();
    let offer_id = OfferId::generate();
    let offer = WalletCommand::OfferCashOut(OfferCashOut {
        bet_id: bets[0],
        offer_id,
        current_odds: current_odds(&[&ms[0]], &bet).expect("open"),
        now,
        expires_at: now + Duration::seconds(10),
    });
    on_wallet(&mut w, &mut wallet_events, &offer);
    let accept = WalletCommand::AcceptCashOut(AcceptCashOut {
        bet_id: bets[0],
        offer_id,
        now,
    });
    on_wallet(&mut w, &mut wallet_events, &accept);
    for events in decide_cash_out_markets(&[&ms[0]], bets[0], &bet).expect("open") {
        on_market(&mut ms[0], &mut market_events, events);
    }
    let (s1, s2, v1) = (
        SettlementId::generate(),
        SettlementId::generate(),
        SettlementId::generate(),
    );
    let home = MarketResult::Winners { winners: vec![0] };
    for (i, command) in [
        (0, MarketCommand::Close),
        (
            0,
            MarketCommand::StartSettlement {
                settlement_id: s1,
                result: home.clone(),
            },
        ),
        (
            0,
            MarketCommand::RecordProgress {
                settlement_id: s1,
                through_version: 20,
                bets_settled: 2,
            },
        ),
        (0, MarketCommand::FinishSettlement { settlement_id: s1 }),
        (
            0,
            MarketCommand::Resettle {
                settlement_id: s2,
                result: MarketResult::Void,
            },
        ),
        (1, MarketCommand::Close),
        (
            1,
            MarketCommand::StartSettlement {
                settlement_id: v1,
                result: MarketResult::Void,
            },
        ),
    ] {
        let m = &mut ms[i];
        let events = decide_market(m, &command).expect("accepted");
        on_market(m, &mut market_events, events);
    }
    let settle = |bet_id, market: &str, settlement_id, replaces: Option<SettlementId>, outcome| {
        let result = if replaces.is_some() || market == "m2" {
            LegResult::Void
        } else {
            LegResult::of(&home, outcome)
        };
        WalletCommand::SettleLeg(SettleLeg {
            bet_id,
            market: MarketId::parse(market).expect("id"),
            settlement_id,
            replaces,
            result,
        })
    };
    on_wallet(
        &mut w,
        &mut wallet_events,
        &settle(bets[1], "m1", s1, None, 1),
    );
    on_wallet(
        &mut w,
        &mut wallet_events,
        &settle(bets[2], "m1", s1, None, 0),
    );
    on_wallet(
        &mut w,
        &mut wallet_events,
        &settle(bets[2], "m1", s2, Some(s1), 0),
    );
    on_wallet(
        &mut w,
        &mut wallet_events,
        &settle(bets[3], "m2", v1, None, 0),
    );
    (wallet_events, market_events)
}

/// The schemas refuse what the types refuse: the negative space.
#[test]
fn the_schemas_refuse_payloads_the_reader_refuses() {
    let current: HashMap<&str, i32> = all_schemas()
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
