//! The race the expiry loses to a customer's confirmation, made to happen
//! every time: the show is read before the confirmation commits, the
//! wallet after it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ledger::store::PgEventStore;
use ledger::StreamId;
use sqlx::PgPool;
use tower::ServiceExt;

use super::expire_due;
use crate::box_office::Step;
use crate::{AppState, BoxOfficeConfig, CommandsConfig};

async fn post(app: &axum::Router, path: &str, key: &str, body: &str) -> serde_json::Value {
    let request = Request::post(path)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body");
    let reply: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert!(
        status == StatusCode::OK || status == StatusCode::CREATED,
        "{path}: {status} {reply}"
    );
    reply
}

async fn expired_events(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'show_reservation_expired'")
        .fetch_one(pool)
        .await
        .expect("count")
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_confirmation_between_the_show_and_the_wallet_wins_without_an_error(pool: PgPool) {
    let state = AppState::start_writer(PgEventStore::new(pool.clone()), CommandsConfig::default());
    let app = crate::router(state.clone());
    post(
        &app,
        "/v1/accounts",
        "open-c0",
        r#"{"id":"c0","currency":"EUR","credit_limit":0}"#,
    )
    .await;
    post(
        &app,
        "/v1/accounts/c0/deposits",
        "dep-c0",
        r#"{"amount":10000}"#,
    )
    .await;
    let show = serde_json::json!({
        "id": "race",
        "name": "Le Cirque",
        "starts_at": "2099-12-31T20:00:00Z",
        "currency": "EUR",
        "tiers": [{"name": "stalls", "capacity": 10, "base_price": 2_500}],
        "seats_per_customer_max": 4,
        "reservation_ttl_s": 1,
    });
    post(&app, "/v1/shows", "show-race", &show.to_string()).await;
    let reserved = post(
        &app,
        "/v1/shows/race/reservations",
        "reserve-c0",
        r#"{"account":"c0","tier":0,"seats":1}"#,
    )
    .await;
    let reservation = reserved["reservation"]["id"].as_str().expect("id");

    let process = state.box_office(BoxOfficeConfig::default());
    let stream = StreamId::new("show-race".to_owned());
    let read_before = process
        .cache
        .current(&process.store, &stream)
        .await
        .expect("the show");
    post(
        &app,
        &format!("/v1/shows/race/reservations/{reservation}/confirm"),
        "confirm-c0",
        "{}",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    // Due by the show as it was read, posted by the wallet as the cache
    // holds it now.
    let step = expire_due(&process, &stream, &read_before)
        .await
        .expect("a lost race is not an error");
    assert_eq!(step, Some(Step::Worked));
    assert_eq!(process.step().await.expect("step"), Step::Idle);
    assert_eq!(expired_events(&pool).await, 0);
}
