//! The box office's GraphQL over HTTP on port 0: a show with each tier's
//! seats and price in force, the shows page, and an account's tickets
//! paged newest first, as the real projection built them from show events
//! the real domain decided or evolved.

mod common;

use chrono::{TimeZone, Utc};
use common::{drive, runner, App, Wallets};
use ledger::box_office::pricing::{PriceStep, RefundRule};
use ledger::box_office::{
    decide_show, ticket_id, ShowCommand, ShowEvent, ShowReservationConfirmed, ShowSeatsReserved,
    ShowState, TierSpec,
};
use ledger::store::NewEvent;
use ledger::{AccountId, Currency, ReservationId, ShowId};
use projections::{Balances, BoxOffice, Statements};
use queries::QueriesConfig;
use serde_json::json;
use sqlx::PgPool;

const SHOW: &str = r#"
query ($id: ID!) {
  show(id: $id) {
    id name currency status seatsPerCustomerMax reservationTtlS version
    tiers { index name capacity sold reserved seatsLeft currentPrice }
  }
}"#;

const TICKETS: &str = r#"
query ($id: String!, $first: Int, $after: String) {
  account(id: $id) {
    tickets(first: $first, after: $after) {
      edges { node { id show tier price status refund } }
      pageInfo { hasNextPage endCursor }
    }
  }
}"#;

fn tier(name: &str, capacity: u32, base_price: i64, steps: Vec<PriceStep>) -> TierSpec {
    TierSpec {
        name: name.into(),
        capacity,
        base_price,
        steps,
    }
}

/// `ann` reserves `seats` of `tier` at the price in force, as the domain
/// would decide it (the wallet's side is not needed by this read model).
fn reserve(state: &ShowState, tier: u16, seats: u32) -> (ReservationId, ShowEvent) {
    let show = state.show.as_ref().expect("scheduled");
    let id = ReservationId::generate();
    let event = ShowEvent::SeatsReserved(ShowSeatsReserved {
        show: show.id.clone(),
        reservation_id: id,
        account: AccountId::parse("ann").expect("id"),
        tier,
        seats,
        unit_price: show.tier(tier).expect("tier").current_price(),
        expires_at: Utc
            .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
            .single()
            .expect("t"),
    });
    (id, event)
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_show_its_tiers_and_an_accounts_tickets(pool: PgPool) {
    let mut wallets = Wallets::new(&pool);
    wallets.open("ann", "EUR", 0);
    wallets.deposit("ann", 10_000);
    wallets.flush().await;

    let id = ShowId::parse("gala").expect("id");
    let mut state = ShowState::default();
    let mut events = Vec::new();
    let run = |state: &mut ShowState, events: &mut Vec<ShowEvent>, e: Vec<ShowEvent>| {
        for e in e {
            *state = std::mem::take(state).evolve(&e);
            events.push(e);
        }
    };
    let scheduled = decide_show(
        &state,
        &ShowCommand::Schedule {
            show: id.clone(),
            name: "Gala".into(),
            starts_at: Utc
                .with_ymd_and_hms(2031, 1, 1, 20, 0, 0)
                .single()
                .expect("t"),
            currency: Currency::parse("EUR").expect("EUR"),
            tiers: vec![
                tier(
                    "stalls",
                    4,
                    1_000,
                    vec![PriceStep {
                        at_sold_bp: 5_000,
                        raise_bp: 2_500,
                    }],
                ),
                tier("circle", 10, 499, vec![]),
            ],
            seats_per_customer_max: 6,
            reservation_ttl_s: 300,
            refund_rule: RefundRule::default(),
        },
    )
    .expect("scheduled");
    run(&mut state, &mut events, scheduled);
    let (stalls, reserved) = reserve(&state, 0, 2);
    run(&mut state, &mut events, vec![reserved]);
    let confirmed = ShowEvent::ReservationConfirmed(ShowReservationConfirmed {
        show: id.clone(),
        reservation_id: stalls,
        tickets: vec![ticket_id(stalls, 0), ticket_id(stalls, 1)],
    });
    run(&mut state, &mut events, vec![confirmed]);
    // Half the stalls taken: the step raises the next seat by 25%.
    let (_, reserved) = reserve(&state, 0, 1);
    run(&mut state, &mut events, vec![reserved]);
    let (_, circle) = reserve(&state, 1, 1);
    run(&mut state, &mut events, vec![circle]);
    let new_events: Vec<NewEvent> = events
        .iter()
        .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.payload()))
        .collect();
    wallets.append_raw("show-gala", new_events).await;

    let app = App::spawn(&pool, QueriesConfig::default()).await;
    drive(&runner(&pool, Balances)).await;
    drive(&runner(&pool, Statements)).await;
    drive(&runner(&pool, BoxOffice)).await;
    let show = app.data(SHOW, json!({ "id": "gala" })).await;
    let show = &show["show"];
    assert_eq!(show["status"], "ON_SALE");
    assert_eq!(show["version"], 5);
    assert_eq!(
        show["tiers"],
        json!([
            { "index": 0, "name": "stalls", "capacity": 4, "sold": 2, "reserved": 1,
              "seatsLeft": 1, "currentPrice": 1_250 },
            { "index": 1, "name": "circle", "capacity": 10, "sold": 0, "reserved": 1,
              "seatsLeft": 9, "currentPrice": 499 },
        ])
    );
    // The projection prices tiers as the domain does.
    let domain = state.show.as_ref().expect("show");
    assert_eq!(
        show["tiers"][0]["currentPrice"],
        domain.tier(0).expect("tier").current_price()
    );
    assert_eq!(
        app.data(SHOW, json!({ "id": "nope" })).await["show"],
        json!(null)
    );
    let (code, _) = app.error_code(SHOW, json!({ "id": "bad id!" })).await;
    assert_eq!(code, "invalid_argument");

    let page = app.data(TICKETS, json!({ "id": "ann", "first": 1 })).await;
    let page = &page["account"]["tickets"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let first = &page["edges"][0]["node"];
    assert_eq!(
        (
            first["show"].clone(),
            first["price"].clone(),
            first["status"].clone()
        ),
        (json!("gala"), json!(1_000), json!("ISSUED"))
    );
    let rest = app
        .data(
            TICKETS,
            json!({ "id": "ann", "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    let rest = &rest["account"]["tickets"];
    assert_eq!(rest["pageInfo"]["hasNextPage"], false);
    let second = &rest["edges"][0]["node"];
    assert_eq!(rest["edges"].as_array().expect("edges").len(), 1);
    assert_ne!(second["id"], first["id"]);

    let shows = app
        .data(
            "{ shows(first: 10) { edges { node { id status tiers { seatsLeft } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(shows["shows"]["edges"][0]["node"]["id"], "gala");
}
