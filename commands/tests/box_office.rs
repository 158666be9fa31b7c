//! The box office against the real Postgres, over HTTP: a thousand
//! customers racing for ten seats, reservations expiring by themselves,
//! confirmations racing expiries, and a show's cancellation stopped
//! half-way and resumed.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use commands::box_office::Step;
use commands::BoxOfficeConfig;
use common::{spawn_app, spawn_app_without_settler, App};
use futures::stream::{self, StreamExt};
use ledger::book::Book;
use ledger::wallet::WalletEvent;
use ledger::{AccountId, Currency};
use sqlx::PgPool;

const PRICE: i64 = 2_500;

/// Makes each reservation's idempotency key unique within a test.
static NEXT_KEY: AtomicUsize = AtomicUsize::new(0);
const DEPOSIT: i64 = 10_000;

/// Every transfer in the log, in a book. Read with plain SQL after the
/// commands have answered, not through the gap-safe `read_all`: that one
/// stops below the oldest transaction open anywhere in the cluster, which
/// another database's long transaction can hold back for seconds.
async fn book(pool: &PgPool) -> Book {
    let rows: Vec<(String, i32, serde_json::Value)> = sqlx::query_as(
        "SELECT event_type, schema_version, payload FROM events ORDER BY global_position",
    )
    .fetch_all(pool)
    .await
    .expect("read");
    let mut book = Book::default();
    for (event_type, version, payload) in &rows {
        if let Ok(e) = WalletEvent::from_stored(event_type, *version, payload) {
            for (transfer, phase) in e.transfers() {
                book.apply(transfer, phase);
            }
        }
    }
    book
}

fn eur() -> Currency {
    Currency::parse("EUR").expect("EUR")
}

async fn count(pool: &PgPool, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(pool)
        .await
        .expect("count")
}

/// Opens `n` funded wallets `c0`… concurrently.
async fn customers(app: &App, n: usize) {
    stream::iter(0..n)
        .for_each_concurrent(64, |i| async move {
            let id = format!("c{i}");
            app.open(&id, 0).await;
            let (status, body) = app
                .post(
                    &format!("/v1/accounts/{id}/deposits"),
                    &format!("dep-{id}"),
                    &format!(r#"{{"amount":{DEPOSIT}}}"#),
                )
                .await;
            assert_eq!(status, 200, "{body}");
        })
        .await;
}

async fn schedule(app: &App, id: &str, capacity: u32, ttl_s: u32) {
    let body = serde_json::json!({
        "id": id,
        "name": "Le Cirque",
        "starts_at": "2099-12-31T20:00:00Z",
        "currency": "EUR",
        "tiers": [{"name": "stalls", "capacity": capacity, "base_price": PRICE}],
        "seats_per_customer_max": 4,
        "reservation_ttl_s": ttl_s,
    });
    let (status, reply) = app
        .post("/v1/shows", &format!("show-{id}"), &body.to_string())
        .await;
    assert_eq!(status, 201, "{reply}");
}

async fn reserve(app: &App, show: &str, customer: usize, seats: u32) -> (u16, serde_json::Value) {
    app.post(
        &format!("/v1/shows/{show}/reservations"),
        &format!(
            "reserve-{show}-{customer}-{}",
            NEXT_KEY.fetch_add(1, Ordering::Relaxed)
        ),
        &format!(r#"{{"account":"c{customer}","tier":0,"seats":{seats}}}"#),
    )
    .await
}

async fn confirm(app: &App, show: &str, reservation: &str) -> (u16, serde_json::Value) {
    app.post(
        &format!("/v1/shows/{show}/reservations/{reservation}/confirm"),
        &format!("confirm-{reservation}"),
        "{}",
    )
    .await
}

async fn show(app: &App, id: &str) -> serde_json::Value {
    let (status, body) = app.get(&app.api, &format!("/v1/shows/{id}")).await;
    assert_eq!(status, 200, "{body}");
    body["show"].clone()
}

/// Σ balances is zero, and every customer's wallet is where its seats say.
async fn assert_books(pool: &PgPool, customers: usize, held: &HashMap<String, i64>) -> Book {
    let book = book(pool).await;
    assert!(book.is_balanced(), "{:?}", book.totals());
    for i in 0..customers {
        let id = format!("c{i}");
        let totals = book.totals_of(&AccountId::parse(&id).expect("id"), eur());
        let spent = held.get(&id).copied().unwrap_or(0);
        assert_eq!(
            totals.posted_credits - totals.posted_debits - totals.pending_debits,
            i128::from(DEPOSIT - spent),
            "{id}"
        );
    }
    book
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_thousand_customers_for_ten_seats_get_exactly_ten(pool: PgPool) {
    const CUSTOMERS: usize = 1_000;
    let app = spawn_app(pool.clone()).await;
    customers(&app, CUSTOMERS).await;
    schedule(&app, "hot", 30, 600).await;
    // Twenty seats go first, so ten are left when the crowd arrives.
    for i in 0..5 {
        let (status, body) = reserve(&app, "hot", i, 4).await;
        assert_eq!(status, 201, "{body}");
    }
    let first = show(&app, "hot").await;
    assert_eq!(first["tiers"][0]["seats_left"], 10);

    let outcomes: Vec<(u16, serde_json::Value)> = stream::iter(5..5 + CUSTOMERS)
        .map(|i| {
            let app = &app;
            async move { reserve(app, "hot", i, 1).await }
        })
        .buffer_unordered(CUSTOMERS)
        .collect()
        .await;
    let mut held = HashMap::new();
    for i in 0..5 {
        held.insert(format!("c{i}"), 4 * PRICE);
    }
    let mut sold_out = 0;
    for (status, body) in &outcomes {
        match status {
            201 => {
                let r = &body["reservation"];
                assert_eq!(r["unit_price"], PRICE);
                let account = r["account"].as_str().expect("account").to_owned();
                held.insert(account, PRICE);
            }
            422 => {
                assert_eq!(body["code"], "sold_out", "{body}");
                sold_out += 1;
            }
            other => panic!("{other}: {body}"),
        }
    }
    // The crowd is c5…c1004; c1000… have no wallet and are refused too,
    // unless the seats were gone first (sold_out is checked before funds).
    assert_eq!(held.len(), 5 + 10);
    assert_eq!(sold_out, CUSTOMERS - 10);
    let after = show(&app, "hot").await;
    assert_eq!(after["tiers"][0]["seats_left"], 0);
    assert_eq!(after["tiers"][0]["reserved"], 30);
    assert_eq!(after["money_held"], 30 * PRICE);
    assert_eq!(count(&pool, "show_seats_reserved").await, 15);
    let book = assert_books(&pool, CUSTOMERS, &held).await;
    let revenue = book.totals_of(&AccountId::box_office_revenue(), eur());
    assert_eq!(revenue.pending_credits, i128::from(30 * PRICE));
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn reservations_expire_by_themselves_releasing_seats_and_money(pool: PgPool) {
    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    customers(&app, 3).await;
    schedule(&app, "short", 10, 1).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let (status, body) = reserve(&app, "short", i, 2).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["reservation"]["id"].as_str().expect("id").to_owned());
    }
    assert_eq!(show(&app, "short").await["tiers"][0]["seats_left"], 4);
    let process = state.box_office(BoxOfficeConfig::default());
    assert_eq!(process.step().await.expect("step"), Step::Idle);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(process.step().await.expect("step"), Step::Worked);
    assert_eq!(process.step().await.expect("step"), Step::Idle);

    let after = show(&app, "short").await;
    assert_eq!(after["tiers"][0]["seats_left"], 10);
    assert_eq!(after["money_held"], 0);
    assert_eq!(count(&pool, "seats_released").await, 3);
    let (status, body) = confirm(&app, "short", &ids[0]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("reservation_expired"))
    );
    assert_books(&pool, 3, &HashMap::new()).await;

    // The process, spawned by the app as the settler is, does it alone.
    let app = spawn_app(pool.clone()).await;
    let (status, body) = reserve(&app, "short", 0, 1).await;
    assert_eq!(status, 201, "{body}");
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(show(&app, "short").await["tiers"][0]["seats_left"], 10);
}

/// Live shows are read a page at a time: a reservation at the last show of
/// the last page expires as one at the first would.
#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn reservations_expire_at_every_live_show_however_many(pool: PgPool) {
    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    customers(&app, 1).await;
    for i in 0..5 {
        schedule(&app, &format!("page{i}"), 10, 1).await;
    }
    let (status, body) = reserve(&app, "page4", 0, 2).await;
    assert_eq!(status, 201, "{body}");
    let process = state.box_office(BoxOfficeConfig {
        live_shows_page: 2,
        ..BoxOfficeConfig::default()
    });
    assert_eq!(process.step().await.expect("step"), Step::Idle);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(process.step().await.expect("step"), Step::Worked);
    assert_eq!(process.step().await.expect("step"), Step::Idle);
    assert_eq!(show(&app, "page4").await["tiers"][0]["seats_left"], 10);
    assert_eq!(count(&pool, "seats_released").await, 1);
    assert_books(&pool, 1, &HashMap::new()).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_confirm_racing_the_expiry_has_one_winner(pool: PgPool) {
    const CUSTOMERS: usize = 40;
    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    customers(&app, CUSTOMERS).await;
    schedule(&app, "race", 100, 2).await;
    let mut ids = Vec::new();
    for i in 0..CUSTOMERS {
        let (status, body) = reserve(&app, "race", i, 1).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["reservation"]["id"].as_str().expect("id").to_owned());
    }
    // Start confirming just before the reservations fall due, while the
    // process expires whatever is due as fast as it can.
    tokio::time::sleep(Duration::from_millis(1_900)).await;
    let process = state.box_office(BoxOfficeConfig {
        batch_items_max: 3,
        ..BoxOfficeConfig::default()
    });
    let expiring = async {
        for _ in 0..400 {
            let _ = process.step().await.expect("step");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    let confirming = stream::iter(ids.iter())
        .map(|id| {
            let app = &app;
            async move { (id.clone(), confirm(app, "race", id).await) }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>();
    let ((), answers) = tokio::join!(expiring, confirming);
    while process.step().await.expect("step") == Step::Worked {}

    let mut held = HashMap::new();
    let mut won = 0;
    for (id, (status, body)) in &answers {
        let confirmed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type = 'show_reservation_confirmed' \
             AND payload->>'reservation_id' = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("count");
        let expired: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE event_type = 'show_reservation_expired' \
             AND payload->>'reservation_id' = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .expect("count");
        assert_eq!(confirmed + expired, 1, "{id}: exactly one outcome");
        match status {
            200 => {
                assert_eq!(confirmed, 1);
                won += 1;
                let account = body["reservation"]["account"].as_str().expect("account");
                held.insert(account.to_owned(), PRICE);
            }
            422 => {
                assert_eq!(body["code"], "reservation_expired", "{body}");
                assert_eq!(expired, 1);
            }
            other => panic!("{other}: {body}"),
        }
    }
    let after = show(&app, "race").await;
    assert_eq!(after["tiers"][0]["sold"], won);
    assert_eq!(after["tiers"][0]["reserved"], 0);
    assert_books(&pool, CUSTOMERS, &held).await;
}

#[sqlx::test(migrator = "ledger::store::MIGRATOR")]
async fn a_cancellation_stopped_half_way_resumes_and_refunds_every_ticket_once(pool: PgPool) {
    const CUSTOMERS: usize = 60;
    let (app, state) = spawn_app_without_settler(pool.clone()).await;
    customers(&app, CUSTOMERS).await;
    schedule(&app, "gala", 200, 600).await;
    for i in 0..CUSTOMERS {
        let (status, body) = reserve(&app, "gala", i, 2).await;
        assert_eq!(status, 201, "{body}");
        // Two in three customers confirm; the rest leave theirs open.
        if i % 3 != 0 {
            let id = body["reservation"]["id"].as_str().expect("id").to_owned();
            let (status, body) = confirm(&app, "gala", &id).await;
            assert_eq!(status, 200, "{body}");
        }
    }
    let (status, body) = app.post("/v1/shows/gala/cancel", "cancel-gala", "{}").await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["show"]["status"], "cancelling");
    let (status, body) = reserve(&app, "gala", 0, 1).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("show_cancelled"))
    );

    // The first process does three chunks of 10, then stops (as a crash
    // would: nothing of it survives but what it committed).
    let config = BoxOfficeConfig {
        batch_items_max: 10,
        ..BoxOfficeConfig::default()
    };
    let first = state.box_office(config.clone());
    for _ in 0..3 {
        assert_eq!(first.step().await.expect("step"), Step::Worked);
    }
    drop(first);
    assert_eq!(count(&pool, "show_cancellation_progressed").await, 3);
    assert_eq!(show(&app, "gala").await["status"], "cancelling");

    let second = state.box_office(config);
    let mut steps = 0;
    while second.step().await.expect("step") == Step::Worked {
        steps += 1;
        assert!(steps < 100, "the cancellation ends");
    }
    let after = show(&app, "gala").await;
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["tickets_refunded"], 80);
    assert_eq!(after["reservations_released"], 20);
    assert_eq!(
        (after["money_held"].as_i64(), after["money_taken"].as_i64()),
        (Some(0), Some(0))
    );
    let refunds_per_ticket: Vec<i64> = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE event_type = 'ticket_refunded' \
         GROUP BY payload->>'ticket_id'",
    )
    .fetch_all(&pool)
    .await
    .expect("refunds");
    assert_eq!(refunds_per_ticket.len(), 80);
    assert!(refunds_per_ticket.iter().all(|&n| n == 1));
    let book = assert_books(&pool, CUSTOMERS, &HashMap::new()).await;
    let revenue = book.totals_of(&AccountId::box_office_revenue(), eur());
    assert_eq!(revenue.posted_credits - revenue.posted_debits, 0);
    assert_eq!(revenue.pending_credits, 0);
}
