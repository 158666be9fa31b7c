//! Given these market events, when this command, then these events (or
//! this error).

use chrono::{TimeZone, Utc};

use super::*;
use crate::{Rejection, SettlementId};

fn id() -> MarketId {
    MarketId::parse("ars-che").expect("id")
}

fn pricing() -> Pricing {
    Pricing {
        prior_bp: vec![4_000, 3_000, 3_000],
        prior_weight: 100_000,
        margin_bp: 500,
    }
}

fn open() -> MarketCommand {
    MarketCommand::Open {
        market: id(),
        name: "Arsenal v Chelsea".into(),
        starts_at: Utc
            .with_ymd_and_hms(2026, 5, 1, 15, 0, 0)
            .single()
            .expect("time"),
        currency: Currency::parse("EUR").expect("EUR"),
        outcomes: vec!["home".into(), "draw".into(), "away".into()],
        pricing: pricing(),
        liability_limit: 1_000_000,
        stake_min: 100,
        stake_max: 100_000,
    }
}

fn with_open(change: impl FnOnce(&mut MarketCommand)) -> MarketCommand {
    let mut command = open();
    change(&mut command);
    command
}

fn given(commands: &[MarketCommand]) -> MarketState {
    commands
        .iter()
        .fold(MarketState::default(), |state, command| {
            let events = decide_market(&state, command).expect("given commands are accepted");
            events.iter().fold(state, |s, e| s.evolve(e))
        })
}

fn rejection(state: &MarketState, command: &MarketCommand) -> Rejection {
    decide_market(state, command).expect_err("command must be rejected")
}

fn winners(w: &[u16]) -> MarketResult {
    MarketResult::Winners {
        winners: w.to_vec(),
    }
}

fn start(settlement_id: SettlementId, result: MarketResult) -> MarketCommand {
    MarketCommand::StartSettlement {
        settlement_id,
        result,
    }
}

fn status(state: &MarketState) -> &MarketStatus {
    &state.market.as_ref().expect("opened").status
}

#[test]
fn opening_records_the_pricing_and_the_opening_odds() {
    let events = decide_market(&MarketState::default(), &open()).expect("opened");
    let [MarketEvent::MarketOpened(opened)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(opened.odds, pricing().odds(&[0, 0, 0]).expect("odds"));
    let state = given(&[open()]);
    let market = state.market.as_ref().expect("opened");
    assert_eq!(market.status, MarketStatus::Open);
    assert_eq!(market.staked, vec![0, 0, 0]);
    assert_eq!(market.liability(0), 0);
    assert_eq!(rejection(&state, &open()), Rejection::MarketExists);
}

#[test]
fn bad_opening_parameters_are_refused() {
    let bad = [
        with_open(|c| {
            if let MarketCommand::Open { name, .. } = c {
                name.clear();
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open { name, .. } = c {
                *name = "x".repeat(201);
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open { outcomes, .. } = c {
                outcomes.truncate(1);
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open { outcomes, .. } = c {
                outcomes[2] = "home".into();
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open { outcomes, .. } = c {
                outcomes[1] = String::new();
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open { pricing, .. } = c {
                pricing.prior_bp = vec![5_000, 5_000];
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open { pricing, .. } = c {
                pricing.margin_bp = 9_000;
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open {
                liability_limit, ..
            } = c
            {
                *liability_limit = -1;
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open { stake_min, .. } = c {
                *stake_min = 0;
            }
        }),
        with_open(|c| {
            if let MarketCommand::Open { stake_max, .. } = c {
                *stake_max = 99;
            }
        }),
    ];
    for command in bad {
        assert_eq!(
            rejection(&MarketState::default(), &command).code(),
            "invalid_market",
            "{command:?}"
        );
    }
}

#[test]
fn commands_on_a_market_never_opened_are_refused() {
    for command in [
        MarketCommand::Suspend,
        MarketCommand::Close,
        start(SettlementId::generate(), winners(&[0])),
    ] {
        assert_eq!(
            rejection(&MarketState::default(), &command),
            Rejection::MarketNotFound
        );
    }
}

#[test]
fn the_lifecycle_allows_only_its_own_steps() {
    let state = given(&[open()]);
    assert_eq!(
        rejection(&state, &MarketCommand::Resume),
        Rejection::InvalidMarketState {
            status: "open".into()
        }
    );
    let suspended = given(&[open(), MarketCommand::Suspend]);
    assert_eq!(status(&suspended), &MarketStatus::Suspended);
    assert_eq!(
        rejection(&suspended, &MarketCommand::Suspend).code(),
        "invalid_market_state"
    );
    let resumed = given(&[open(), MarketCommand::Suspend, MarketCommand::Resume]);
    assert_eq!(status(&resumed), &MarketStatus::Open);
    let closed = given(&[open(), MarketCommand::Suspend, MarketCommand::Close]);
    assert_eq!(status(&closed), &MarketStatus::Closed);
    for command in [
        MarketCommand::Suspend,
        MarketCommand::Resume,
        MarketCommand::Close,
    ] {
        assert_eq!(
            rejection(&closed, &command),
            Rejection::InvalidMarketState {
                status: "closed".into()
            }
        );
    }
}

#[test]
fn settling_needs_a_closed_market_and_happens_once() {
    let s1 = SettlementId::generate();
    assert_eq!(
        rejection(&given(&[open()]), &start(s1, winners(&[0]))),
        Rejection::MarketNotClosed
    );
    let closed = given(&[open(), MarketCommand::Close]);
    for bad in [winners(&[]), winners(&[3]), winners(&[1, 1])] {
        assert_eq!(rejection(&closed, &start(s1, bad)).code(), "invalid_market");
    }
    let events = decide_market(&closed, &start(s1, winners(&[0, 2]))).expect("started");
    let [MarketEvent::SettlementStarted(started)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(started.replaces, None);
    assert_eq!(events[0].payload()["replaces"], serde_json::Value::Null);
    let settling = given(&[open(), MarketCommand::Close, start(s1, winners(&[0, 2]))]);
    assert_eq!(
        rejection(
            &settling,
            &start(SettlementId::generate(), MarketResult::Void)
        ),
        Rejection::MarketAlreadySettled
    );
}

#[test]
fn a_settlement_records_its_progress_and_resumes_after_it() {
    let s1 = SettlementId::generate();
    let progress = |through_version, bets_settled| MarketCommand::RecordProgress {
        settlement_id: s1,
        through_version,
        bets_settled,
    };
    let state = given(&[
        open(),
        MarketCommand::Close,
        start(s1, winners(&[1])),
        progress(10, 4),
        progress(20, 9),
    ]);
    let MarketStatus::Settling {
        through_version,
        bets_settled,
        ..
    } = status(&state)
    else {
        panic!("{:?}", status(&state));
    };
    assert_eq!((*through_version, *bets_settled), (20, 9));
    assert_eq!(rejection(&state, &progress(20, 9)).code(), "invalid_market");
    assert_eq!(rejection(&state, &progress(15, 9)).code(), "invalid_market");
    let other = MarketCommand::RecordProgress {
        settlement_id: SettlementId::generate(),
        through_version: 30,
        bets_settled: 10,
    };
    assert_eq!(rejection(&state, &other), Rejection::SettlementNotFound);
    assert_eq!(
        rejection(
            &state,
            &MarketCommand::FinishSettlement {
                settlement_id: SettlementId::generate()
            }
        ),
        Rejection::SettlementNotFound
    );
    let events = decide_market(
        &state,
        &MarketCommand::FinishSettlement { settlement_id: s1 },
    )
    .expect("finished");
    assert_eq!(
        events,
        vec![MarketEvent::MarketSettled(MarketSettled {
            market: id(),
            settlement_id: s1,
            bets_settled: 9
        })]
    );
    let settled = events.iter().fold(state, |s, e| s.evolve(e));
    assert_eq!(
        status(&settled),
        &MarketStatus::Settled {
            settlement_id: s1,
            result: winners(&[1])
        }
    );
}

#[test]
fn a_resettlement_replaces_the_current_settlement_with_lineage() {
    let (s1, s2) = (SettlementId::generate(), SettlementId::generate());
    let resettle = |settlement_id, result| MarketCommand::Resettle {
        settlement_id,
        result,
    };
    assert_eq!(
        rejection(
            &given(&[open(), MarketCommand::Close]),
            &resettle(s2, winners(&[0]))
        ),
        Rejection::SettlementNotFound
    );
    let settling = given(&[open(), MarketCommand::Close, start(s1, winners(&[0, 1]))]);
    assert_eq!(
        rejection(&settling, &resettle(s2, winners(&[0]))),
        Rejection::InvalidMarketState {
            status: "settling".into()
        }
    );
    let settled = given(&[
        open(),
        MarketCommand::Close,
        start(s1, winners(&[0, 1])),
        MarketCommand::FinishSettlement { settlement_id: s1 },
    ]);
    // The same winners in another order are the same result.
    assert_eq!(
        rejection(&settled, &resettle(s2, winners(&[1, 0]))),
        Rejection::SettlementUnchanged
    );
    assert_eq!(
        rejection(&settled, &resettle(s1, winners(&[2]))).code(),
        "invalid_market"
    );
    assert_eq!(
        rejection(&settled, &start(s2, winners(&[2]))),
        Rejection::MarketAlreadySettled
    );
    let events = decide_market(&settled, &resettle(s2, MarketResult::Void)).expect("resettled");
    assert_eq!(
        events,
        vec![MarketEvent::SettlementStarted(SettlementStarted {
            market: id(),
            settlement_id: s2,
            result: MarketResult::Void,
            replaces: Some(s1),
        })]
    );
    let state = events.iter().fold(settled, |s, e| s.evolve(e));
    let market = state.market.as_ref().expect("opened");
    assert_eq!(
        market.settlements,
        vec![(s1, winners(&[0, 1])), (s2, MarketResult::Void)]
    );
}

#[test]
fn market_events_survive_a_round_trip_through_their_stored_form() {
    let s1 = SettlementId::generate();
    let mut state = MarketState::default();
    let mut all = Vec::new();
    for command in [
        open(),
        MarketCommand::Suspend,
        MarketCommand::Resume,
        MarketCommand::Close,
        start(s1, winners(&[0])),
        MarketCommand::RecordProgress {
            settlement_id: s1,
            through_version: 9,
            bets_settled: 3,
        },
        MarketCommand::FinishSettlement { settlement_id: s1 },
    ] {
        for event in decide_market(&state, &command).expect("accepted") {
            state = state.evolve(&event);
            all.push(event);
        }
    }
    for event in &all {
        let stored =
            MarketEvent::from_stored(event.event_type(), event.schema_version(), &event.payload());
        assert_eq!(stored.ok().as_ref(), Some(event));
        let text = event.payload().to_string();
        let json = MarketEvent::from_json(event.event_type(), 1, &text);
        assert_eq!(json.ok().as_ref(), Some(event));
    }
    assert_eq!(replay(&all), state);
    let payload = all[0].payload();
    assert!(matches!(
        MarketEvent::from_stored(MarketEvent::MARKET_OPENED, 2, &payload),
        Err(crate::Error::FutureSchemaVersion { .. })
    ));
    assert!(matches!(
        MarketEvent::from_stored("hold_placed", 1, &payload),
        Err(crate::Error::UnknownEventType { .. })
    ));
    let mut extra = payload.clone();
    extra["surprise"] = 1.into();
    assert!(MarketEvent::from_stored(MarketEvent::MARKET_OPENED, 1, &extra).is_err());
}
